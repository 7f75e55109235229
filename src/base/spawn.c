/* hessnorm — external programs without a shell: posix_spawnp with an
 * argument vector, stdin fed from memory, stderr captured, the child
 * always reaped.  A path handed to a child travels as one argv entry or
 * as data, never through a command line that something re-parses. */
#define _GNU_SOURCE /* pipe2 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/spawn.h"

extern char **environ;

/* fd moved above stderr (close-on-exec kept), so that no dup2 onto the
 * child's 0..2 meets a descriptor of ours when the caller runs with one
 * of 0..2 closed.  Returns the new fd or -1; fd is consumed either way. */
static int hn_spawn_above_stderr(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return d;
}

/* A close-on-exec pipe (so other children never inherit our ends). */
static int hn_spawn_pipe(int fd[2])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fd[0] = hn_spawn_above_stderr(p[0]);
    fd[1] = hn_spawn_above_stderr(p[1]);
    if (fd[0] >= 0 && fd[1] >= 0)
        return 0;
    int e = errno;
    if (fd[0] >= 0)
        close(fd[0]);
    if (fd[1] >= 0)
        close(fd[1]);
    errno = e;
    return -1;
}

static void hn_spawn_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Start the child: stdin from in_fd (-1: /dev/null), stdout to /dev/null,
 * stderr into err_fd.  0 or the errno of posix_spawnp (ENOENT when argv[0]
 * is on no PATH entry). */
static int hn_spawn_start(const char *const argv[], int in_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if (in_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (!rc)
        rc = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Keep the start of what the child wrote to stderr; drop the rest. */
static int hn_spawn_collect(int *rfd, hn_spawn_result *res)
{
    char chunk[4096];
    ssize_t r = read(*rfd, chunk, sizeof chunk);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (r <= 0) { /* end of file: the child closed stderr (or exited) */
        hn_spawn_close(rfd);
        return r < 0 ? -1 : 0;
    }
    size_t room = sizeof res->err - 1 - res->err_len, k = (size_t)r < room ? (size_t)r : room;
    memcpy(res->err + res->err_len, chunk, k);
    res->err_len += k;
    res->err[res->err_len] = '\0';
    return 0;
}

/* Write what the (non-blocking) stdin pipe takes; close it when all is
 * written or the child stopped reading (EPIPE: it exited early, which its
 * exit status will tell). */
static void hn_spawn_feed(int *wfd, const char *in, size_t len, size_t *off)
{
    if (*off < len) {
        ssize_t w = write(*wfd, in + *off, len - *off);
        if (w > 0)
            *off += (size_t)w;
        else if (w < 0 && errno != EINTR && errno != EAGAIN)
            *off = len;
    }
    if (*off >= len)
        hn_spawn_close(wfd);
}

/* Feed stdin and collect stderr at the same time (one of them alone could
 * deadlock with a child that writes much before reading all) until both
 * pipes are closed.  SIGPIPE is blocked in this thread meanwhile, and one
 * it raised is consumed, so that a child exiting early cannot kill us. */
static int hn_spawn_pump(int wfd, const char *in, size_t len, int rfd, hn_spawn_result *res)
{
    sigset_t pipe_set, old, pend;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pend);
    int was_pending = sigismember(&pend, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    size_t off = 0;
    int rc = 0;
    if (wfd >= 0 && len == 0)
        hn_spawn_close(&wfd);
    while (!rc && (rfd >= 0 || wfd >= 0)) {
        struct pollfd p[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}}; /* fd -1: skipped */
        if (poll(p, 2, -1) < 0) {
            rc = errno == EINTR ? 0 : -1;
            continue;
        }
        if (wfd >= 0 && p[1].revents)
            hn_spawn_feed(&wfd, in, len, &off);
        if (rfd >= 0 && p[0].revents)
            rc = hn_spawn_collect(&rfd, res);
    }
    int e = errno;
    hn_spawn_close(&wfd);
    hn_spawn_close(&rfd);
    if (!was_pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
        const struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

/* waitpid retried on EINTR; fills res from the status. */
static int hn_spawn_reap(pid_t pid, hn_spawn_result *res)
{
    int st;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    if (WIFEXITED(st)) {
        res->exited = 1;
        res->status = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st))
        res->signal = WTERMSIG(st);
    return 0;
}

int hn_spawn_run(const char *const argv[], const char *in, size_t in_len, hn_spawn_result *res,
                 hn_err *err)
{
    memset(res, 0, sizeof *res);
    int ip[2] = {-1, -1}, ep[2] = {-1, -1};
    if (hn_spawn_pipe(ep) != 0 || (in && hn_spawn_pipe(ip) != 0)) {
        int e = errno;
        hn_spawn_close(&ep[0]);
        hn_spawn_close(&ep[1]);
        return hn_err_set(err, HN_EIO, "%s: pipe: %s", argv[0], strerror(e));
    }
    pid_t pid;
    int rc = hn_spawn_start(argv, ip[0], ep[1], &pid);
    hn_spawn_close(&ip[0]);
    hn_spawn_close(&ep[1]);
    if (rc) {
        hn_spawn_close(&ip[1]);
        hn_spawn_close(&ep[0]);
        res->start_errno = rc;
        return hn_err_set(err, HN_EIO, "%s: %s", argv[0], rc == ENOENT ? "not found" : strerror(rc));
    }
    if (ip[1] >= 0)
        fcntl(ip[1], F_SETFL, fcntl(ip[1], F_GETFL) | O_NONBLOCK);
    int prc = hn_spawn_pump(ip[1], in, in_len, ep[0], res), pe = errno;
    if (hn_spawn_reap(pid, res) != 0)
        return hn_err_set(err, HN_EIO, "%s: waitpid: %s", argv[0], strerror(errno));
    if (prc)
        return hn_err_set(err, HN_EIO, "%s: reading its stderr: %s", argv[0], strerror(pe));
    return HN_OK;
}

void hn_spawn_line(const char *line, char *b, size_t n)
{
    while (*line == ' ' || *line == '\t' || *line == '\r')
        line++;
    size_t k = 0;
    for (; *line && *line != '\n' && k + 1 < n; line++)
        b[k++] = (unsigned char)*line < 0x20 || *line == 0x7f ? ' ' : *line;
    while (k > 0 && b[k - 1] == ' ')
        k--;
    b[k] = '\0';
}
