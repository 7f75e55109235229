/* hessnorm — internal: a lock file beside what a run writes (flock on
 * PATH, PATH removed when the lock is dropped), so that two processes
 * never write one output at once.  Not installed. */
#ifndef HN_BASE_LOCKFILE_H
#define HN_BASE_LOCKFILE_H
#include "hessnorm/error.h"

/* Take the lock PATH (created if absent): HN_OK with *fd its descriptor.
 * wait = 0: when another process holds it, HN_EIO with *busy = 1 (err
 * untouched); wait = 1: block until it is free.  A lock file removed by
 * its holder between our open and our lock is another inode at PATH, and
 * the take starts again.  Other failures: HN_EIO naming PATH. */
int hn_lockfile_take(const char *path, int wait, int *fd, int *busy, hn_err *err);
/* Drop a lock taken by hn_lockfile_take: PATH removed while still held (a
 * process that opened it meanwhile sees another inode and starts again),
 * then *fd closed and set to -1.  Nothing for *fd < 0. */
void hn_lockfile_drop(const char *path, int *fd);

#endif
