/* hessnorm — status codes and one-line error messages.
 * Every library routine returns an int status (HN_OK or a negative HN_E*
 * code) and, on failure, writes a one-line reason into a caller-provided
 * hn_err (which may be NULL).  The library never prints and never exits. */
#ifndef HESSNORM_ERROR_H
#define HESSNORM_ERROR_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    HN_OK = 0,
    HN_EINVAL = -1,   /* bad argument or value (NaN, out of range, ...) */
    HN_ENOMEM = -2,   /* allocation failed */
    HN_EIO = -3,      /* read/write failure */
    HN_EFORMAT = -4,  /* malformed file (JSON, safetensors, IDX, ...) */
    HN_ESHAPE = -5,   /* shapes do not chain or do not match */
    HN_ERANGE = -6,   /* size overflow or value out of range */
    HN_ENUMERIC = -7, /* numerical failure (LAPACK info > 0, no convergence) */
    HN_ETOOBIG = -8,  /* a dense object would exceed the configured limit */
    HN_EOVERFLOW = -9, /* a result overflowed (inf) though every input is finite */
    HN_ESTOPPED = -10  /* stopped on request (a time limit): the work done is saved, rerun to go on */
};

#define HN_ERR_MSG_LEN 512
typedef struct {
    int code;
    char msg[HN_ERR_MSG_LEN];
} hn_err;

/* Static text for a status code. */
const char *hn_strerror(int code);

/* The longest message hn_err_set formats before fitting it into msg. */
#define HN_ERR_BIG 8192

/* Record code and a printf-style message in e (if e != NULL); returns code.
 * A message longer than HN_ERR_MSG_LEN - 1 keeps its reason: its first
 * field (the file name, in every message naming one) is shortened in the
 * middle with hn_path_short. */
int hn_err_set(hn_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with "prefix: " (e.g. a file name). */
void hn_err_prefix(hn_err *e, const char *prefix);

/* path into buf (n bytes, always NUL-terminated when n > 0): as it is
 * when it fits (strlen(path) < n), else its head, "..." and its tail (the
 * file's name), at most n - 1 bytes, cut at UTF-8 character boundaries
 * (never inside a multi-byte sequence); n < 8 leaves no room for the
 * three parts: the head alone.  Returns buf. */
const char *hn_path_short(char *buf, size_t n, const char *path);

/* Clear e. */
void hn_err_clear(hn_err *e);

/* Turn off GSL's abort-on-error handler (idempotent).  Every entry point
 * that may call GSL calls this; the CLI and tests call it first too. */
void hn_gsl_quiet(void);

#ifdef __cplusplus
}
#endif
#endif
