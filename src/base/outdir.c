/* hessnorm — an output folder holding exactly one run (outdir.h). */
#define _GNU_SOURCE
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "hessnorm/file.h"
#include "hessnorm/outdir.h"
#include "base/lockfile.h"

/* the active temporary folder, for hn_outdir_signal_cleanup */
static char active_tmp[4200], active_lock[4200];
static volatile sig_atomic_t have_active;

/* Remove the tree at dirfd/name with async-signal-safe calls: openat,
 * getdents64 (a raw system call), unlinkat, close.  The folders a run
 * writes are a few levels deep; a stale tree deeper than TREE_DEPTH_MAX
 * (something else wrote there) is left below that depth.  Returns 1 when
 * anything was removed, 0 when nothing was. */
struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#define TREE_DEPTH_MAX 64 /* 64 frames of a 4 KiB buffer: 256 KiB of stack at most */

static int remove_tree_at(int dirfd, const char *name, int depth)
{
    if (depth > TREE_DEPTH_MAX)
        return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return unlinkat(dirfd, name, 0) == 0;
    char buf[4096];
    int any = 0;
    /* passes over the directory until one removes nothing (entries
     * removed while reading may shift the rest); an entry that cannot be
     * removed, or a folder too deep to empty, does not count as removed,
     * so neither can loop */
    for (int removed = 1; removed;) {
        removed = 0;
        lseek(fd, 0, SEEK_SET);
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n <= 0)
                break;
            for (long off = 0; off < n;) {
                struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
                off += d->d_reclen;
                if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
                    continue;
                if (d->d_type == DT_DIR)
                    removed |= remove_tree_at(fd, d->d_name, depth + 1);
                else if (unlinkat(fd, d->d_name, 0) == 0)
                    removed = 1;
                else if (d->d_type == DT_UNKNOWN) /* a folder on a file system without d_type */
                    removed |= remove_tree_at(fd, d->d_name, depth + 1);
            }
        }
        any |= removed;
    }
    close(fd);
    return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || any;
}

void hn_outdir_signal_cleanup(void)
{
    if (have_active) {
        have_active = 0;
        remove_tree_at(AT_FDCWD, active_tmp, 0);
        unlink(active_lock);
    }
}

/* Remove TARGET.tmp.* left by a run that was killed (SIGKILL): the caller
 * holds the lock, so no live run owns them. */
static void remove_stale(const char *target)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", target);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : target;
    if (slash)
        *slash = '\0';
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    DIR *d = opendir(slash ? (dir[0] ? dir : "/") : ".");
    if (!d)
        return;
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            remove_tree_at(dfd, e->d_name, 0);
    closedir(d);
}

int hn_outdir_begin(hn_outdir *od, const char *target, hn_err *err)
{
    memset(od, 0, sizeof *od);
    od->lock_fd = -1;
    size_t n = strlen(target);
    while (n > 1 && target[n - 1] == '/')
        n--; /* "out/" and "out" are one target */
    if (n == 0 || n >= sizeof od->target - 16)
        return hn_err_set(err, HN_EINVAL, "%s: not a usable output folder name", target);
    memcpy(od->target, target, n);
    od->target[n] = '\0';
    /* the parent must exist for the lock and the folder beside the target */
    char parent[4096];
    memcpy(parent, od->target, n + 1);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        struct stat ps;
        if (stat(parent, &ps) == 0 && !S_ISDIR(ps.st_mode))
            return hn_err_set(err, HN_EIO, "%s: cannot create directory: %s", od->target, strerror(ENOTDIR));
        int rc = hn_mkdir_p(parent, err);
        if (rc)
            return rc;
    }
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", od->target);
    int busy = 0;
    if (hn_lockfile_take(lock, 0, &od->lock_fd, &busy, err) != HN_OK)
        return busy ? hn_err_set(err, HN_EIO, "%s: another hessnorm run is writing it (its lock file is held)",
                                 od->target)
                    : HN_EIO;
    snprintf(od->lock, sizeof od->lock, "%s", lock);
    struct stat st;
    if (stat(od->target, &st) == 0 && !S_ISDIR(st.st_mode)) {
        hn_outdir_abort(od);
        return hn_err_set(err, HN_EIO, "%s: exists and is not a directory", od->target);
    }
    remove_stale(od->target);
    snprintf(od->tmp, sizeof od->tmp, "%s.tmp.XXXXXX", od->target);
    if (!mkdtemp(od->tmp)) {
        int e = errno;
        hn_outdir_abort(od);
        return hn_err_set(err, HN_EIO, "%s: cannot create a folder beside it: %s", od->target, strerror(e));
    }
    chmod(od->tmp, 0777 & ~0022); /* mkdtemp makes 0700; outputs are shared like mkdir's */
    memcpy(active_tmp, od->tmp, sizeof active_tmp);
    memcpy(active_lock, od->lock, sizeof active_lock);
    have_active = 1;
    od->active = 1;
    return HN_OK;
}

const char *hn_outdir_path(const hn_outdir *od) { return od->tmp; }

static void unlock(hn_outdir *od) { hn_lockfile_drop(od->lock, &od->lock_fd); }

int hn_outdir_commit(hn_outdir *od, hn_err *err)
{
    if (!od->active)
        return hn_err_set(err, HN_EINVAL, "output folder: nothing to commit");
    struct stat st;
    int rc = HN_OK;
    if (stat(od->target, &st) == 0) {
        /* exchange: the new output takes the name, the old one the temporary's */
        if (syscall(SYS_renameat2, AT_FDCWD, od->tmp, AT_FDCWD, od->target, 2 /* RENAME_EXCHANGE */) != 0)
            rc = hn_err_set(err, HN_EIO, "%s: cannot swap the new output into place: %s", od->target,
                            strerror(errno));
    } else if (rename(od->tmp, od->target) != 0) {
        rc = hn_err_set(err, HN_EIO, "%s: cannot move the output into place: %s", od->target, strerror(errno));
    }
    /* the temporary name now holds the previous output (or the failed new one) */
    have_active = 0;
    remove_tree_at(AT_FDCWD, od->tmp, 0);
    od->active = 0;
    unlock(od);
    return rc;
}

void hn_outdir_abort(hn_outdir *od)
{
    if (od->active) {
        have_active = 0;
        remove_tree_at(AT_FDCWD, od->tmp, 0);
        od->active = 0;
    }
    unlock(od);
}

void hn_outdir_name_target(const hn_outdir *od, hn_err *err)
{
    if (!err || !od->tmp[0])
        return;
    const size_t lt = strlen(od->tmp);
    char *p = strstr(err->msg, od->tmp);
    if (!p)
        return;
    /* the message names a file of the run by its temporary folder: name
     * the folder the user asked for instead */
    char out[sizeof err->msg];
    size_t n = 0, cap = sizeof out - 1;
    const char *parts[3] = {err->msg, od->target, p + lt};
    const size_t lens[3] = {(size_t)(p - err->msg), strlen(od->target), strlen(p + lt)};
    for (int k = 0; k < 3; k++) {
        size_t c = lens[k] < cap - n ? lens[k] : cap - n;
        memcpy(out + n, parts[k], c);
        n += c;
    }
    out[n] = '\0';
    memcpy(err->msg, out, n + 1);
}
