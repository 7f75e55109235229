/* hessnorm — internal: run an external program without a shell (argument
 * vector, explicit stdin/stdout/stderr), for the gnuplot driver.  Not
 * installed. */
#ifndef HN_BASE_SPAWN_H
#define HN_BASE_SPAWN_H
#include <stddef.h>
#include "hessnorm/error.h"

/* Bytes of the child's stderr kept (the rest is read and dropped). */
#define HN_SPAWN_ERR_CAP 4096

/* What became of a child. */
typedef struct {
    int start_errno; /* 0 when it started; else why not (ENOENT: not on PATH) */
    int exited;      /* 1: it exited with `status`; 0: `signal` ended it */
    int status;
    int signal;
    char err[HN_SPAWN_ERR_CAP]; /* the start of its stderr, NUL-terminated */
    size_t err_len;
} hn_spawn_result;

/* Run argv[0] (looked up on PATH; never through a shell) with the
 * NULL-terminated argv and the caller's environment.  Its stdin reads the
 * in_len bytes at `in` (in == NULL: /dev/null), its stdout goes to
 * /dev/null, its stderr is captured into res->err.  Waits for it (no
 * zombie; EINTR and SIGPIPE are handled, the caller's signal dispositions
 * are left alone).  HN_OK when the program ran, whatever its exit status
 * (see res); HN_EIO with res->start_errno set when it could not start;
 * HN_EIO on a pipe, poll or waitpid failure (a started child is still
 * waited for). */
int hn_spawn_run(const char *const argv[], const char *in, size_t in_len, hn_spawn_result *res,
                 hn_err *err);

/* The text from `line` up to its newline (or NUL) as one clean line into
 * b (n > 0 bytes): surrounding blanks trimmed, control bytes turned into
 * spaces, cut to fit. */
void hn_spawn_line(const char *line, char *b, size_t n);

#endif
