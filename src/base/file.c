/* hessnorm — whole-file reads, atomic writes, directories. */
#include "config.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <gsl/gsl_errno.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "base/file.h"

/* ------------------------------------------------------------ reading */

/* A pipe or a device has no size to check up front: past this many bytes
 * it is refused rather than read until memory runs out (/dev/zero as
 * --model); 64 MiB is 100 times the largest interchange file hessnorm
 * writes for the paper's networks. */
#define HN_READ_STREAM_MAX ((size_t)64 << 20)

/* read(2) retried on EINTR. */
static ssize_t read_retry(int fd, void *p, size_t n)
{
    ssize_t r;
    do
        r = read(fd, p, n);
    while (r < 0 && errno == EINTR);
    return r;
}

int hn_read_exact(int fd, void *p, size_t n)
{
    unsigned char *q = p;
    while (n > 0) {
        size_t chunk = n > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n;
        ssize_t r = read_retry(fd, q, chunk);
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = 0;
            return -1;
        }
        q += r;
        n -= (size_t)r;
    }
    return 0;
}

int hn_open_read(const char *path, int *fd, struct stat *st, hn_err *err)
{
    *fd = open(path, O_RDONLY);
    if (*fd < 0)
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(*fd, st) != 0) {
        int rc = hn_err_set(err, HN_EIO, "%s: cannot stat: %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
        return rc;
    }
    return HN_OK;
}

int hn_read_file(const char *path, char **buf, size_t *len, hn_err *err)
{
    int fd, rc = HN_OK;
    struct stat st;
    size_t cap, n = 0;
    char *b = NULL;

    *buf = NULL;
    if (len)
        *len = 0;
    rc = hn_open_read(path, &fd, &st, err);
    if (rc)
        return rc;
    if (S_ISDIR(st.st_mode)) {
        rc = hn_err_set(err, HN_EIO, "%s: cannot read: %s", path, strerror(EISDIR));
        goto out;
    }
    /* The size is only a hint (pipes and /proc report 0); read until EOF. */
    cap = (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX - 1)
              ? (size_t)st.st_size + 1
              : 4096;
    b = hn_malloc(cap);
    if (!b) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory reading the file", path);
        goto out;
    }
    for (;;) {
        ssize_t r;
        if (n + 1 >= cap) {
            char *nb;
            if (cap > SIZE_MAX / 2) {
                rc = hn_err_set(err, HN_ERANGE, "%s: file too large", path);
                goto out;
            }
            nb = hn_realloc(b, cap * 2);
            if (!nb) {
                rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory reading the file", path);
                goto out;
            }
            b = nb;
            cap *= 2;
        }
        r = read_retry(fd, b + n, cap - 1 - n);
        if (r < 0) {
            rc = hn_err_set(err, HN_EIO, "%s: read error: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (!S_ISREG(st.st_mode) && n > HN_READ_STREAM_MAX) {
            rc = hn_err_set(err, HN_ERANGE,
                            "%s: not a regular file, and longer than the %zu MiB read limit for "
                            "pipes and devices",
                            path, HN_READ_STREAM_MAX >> 20);
            goto out;
        }
    }
    b[n] = '\0';
    *buf = b;
    b = NULL;
    if (len)
        *len = n;
out:
    hn_free(b);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------ writing */

int hn_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        size_t chunk = len > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Make the rename itself durable; failure here does not undo the write,
 * so it is not reported. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;
    size_t n;

    if (!slash) {
        fd = open(".", O_RDONLY);
    } else {
        n = (slash == path) ? 1 : (size_t)(slash - path);
        dir = hn_malloc(n + 1);
        if (!dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
        fd = open(dir, O_RDONLY);
        hn_free(dir);
    }
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* After path is in place: remove the temporaries path.tmp.XXXXXX (the
 * exact mkstemp pattern below) that a writer killed between mkstemp and
 * rename left beside it, so that a rerun after a SIGKILL leaves the
 * folder as an uninterrupted run does.  A live writer (another process
 * writing the same file: two shards' sweep.json) holds a lock on its
 * temporary until its rename, and a locked temporary is left alone; the
 * lock of a killed writer went with it.  Best effort: nothing is
 * reported, nothing is allocated through the hook. */
static void remove_stale_temporaries(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base), dlen;
    DIR *d;
    struct dirent *de;

    if (!slash) {
        dir[0] = '.';
        dlen = 1;
    } else {
        dlen = (slash == path) ? 1 : (size_t)(slash - path);
        if (dlen >= sizeof dir)
            return;
        memcpy(dir, path, dlen);
    }
    dir[dlen] = '\0';
    if (!(d = opendir(dir)))
        return;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        int match = strlen(n) == blen + 11 && memcmp(n, base, blen) == 0 &&
                    memcmp(n + blen, ".tmp.", 5) == 0;
        for (size_t i = blen + 5; match && i < blen + 11; i++)
            match = isalnum((unsigned char)n[i]) != 0;
        if (!match)
            continue;
        int fd = openat(dirfd(d), n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat a, b;
        /* unlocked, and still the file at that name: no writer owns it */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 &&
            fstatat(dirfd(d), n, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            (void)unlinkat(dirfd(d), n, 0);
        close(fd);
    }
    closedir(d);
}

/* mkstemp on tmp (its last 6 bytes "XXXXXX"), the new file locked until
 * *lock_fd (a dup of the descriptor: the lock is the open file's, so it
 * outlives the close before the rename) is closed after the rename.  A
 * temporary that remove_stale_temporaries removed between mkstemp and the
 * lock is made again.  The write descriptor, or -1 with errno set. */
static int make_locked_temporary(char *tmp, int *lock_fd)
{
    const size_t n = strlen(tmp);
    for (int attempt = 0; attempt < 16; attempt++) {
        memcpy(tmp + n - 6, "XXXXXX", 6);
        int fd = mkstemp(tmp);
        if (fd < 0)
            return -1;
        int lk = -1;
        if (flock(fd, LOCK_EX) != 0 || (lk = dup(fd)) < 0) {
            int e = errno;
            unlink(tmp);
            close(fd);
            errno = e;
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(tmp, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            *lock_fd = lk;
            return fd;
        }
        /* removed by another writer before the lock: the name is not ours */
        close(lk);
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

int hn_write_file_atomic(const char *path, const void *buf, size_t len, hn_err *err)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp;
    int fd, e;
    const char *what;

    if (plen > SIZE_MAX - sizeof suffix)
        return hn_err_set(err, HN_EINVAL, "%s: path too long", path);
    tmp = hn_malloc(plen + sizeof suffix);
    if (!tmp)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    int lock_fd = -1;
    fd = make_locked_temporary(tmp, &lock_fd);
    if (fd < 0) {
        e = errno;
        hn_free(tmp);
        return hn_err_set(err, HN_EIO, "%s: cannot create a temporary file: %s", path,
                          strerror(e));
    }
    /* mkstemp creates 0600; a saved result should be readable like any file. */
    what = "cannot set permissions";
    if (fchmod(fd, 0644) != 0)
        goto fail;
    what = "write error";
    if (hn_write_all(fd, buf, len) != 0)
        goto fail;
    what = "fsync failed";
    if (fsync(fd) != 0)
        goto fail;
    what = "close failed";
    e = close(fd);
    fd = -1;
    if (e != 0)
        goto fail;
    what = "cannot rename the temporary file into place";
    if (rename(tmp, path) != 0)
        goto fail;
    close(lock_fd);
    hn_free(tmp);
    remove_stale_temporaries(path);
    sync_parent_dir(path);
    return HN_OK;
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    close(lock_fd);
    hn_free(tmp);
    return hn_err_set(err, HN_EIO, "%s: %s: %s", path, what, strerror(e));
}

int hn_mkdir_p(const char *path, hn_err *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return hn_err_set(err, HN_EINVAL, "%s: bad directory name", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return hn_err_set(err, HN_EIO, "%s: cannot create directory: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return hn_err_set(err, HN_EIO, "%s: not a directory", path);
    return HN_OK;
}
