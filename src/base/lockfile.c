/* hessnorm — lock files (lockfile.h). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/lockfile.h"

int hn_lockfile_take(const char *path, int wait, int *fd, int *busy, hn_err *err)
{
    *fd = -1;
    *busy = 0;
    for (int attempt = 0;; attempt++) {
        /* O_NOFOLLOW: a symbolic link planted at PATH is refused, never
         * followed to create a file elsewhere */
        int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (f < 0)
            return hn_err_set(err, HN_EIO, "%s: cannot create the lock file: %s", path, strerror(errno));
        int r;
        do
            r = flock(f, wait ? LOCK_EX : LOCK_EX | LOCK_NB);
        while (r != 0 && errno == EINTR);
        if (r != 0) {
            int e = errno;
            close(f);
            if (e == EWOULDBLOCK) {
                *busy = 1;
                return HN_EIO;
            }
            return hn_err_set(err, HN_EIO, "%s: cannot lock: %s", path, strerror(e));
        }
        struct stat a, b;
        if (fstat(f, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            *fd = f;
            return HN_OK;
        }
        close(f);
        /* each retry follows a holder's drop; a waiting take may see many */
        if (!wait && attempt == 8)
            return hn_err_set(err, HN_EIO, "%s: the lock file keeps changing", path);
    }
}

void hn_lockfile_drop(const char *path, int *fd)
{
    if (*fd >= 0) {
        unlink(path);
        close(*fd);
        *fd = -1;
    }
}
