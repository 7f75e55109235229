/* hessnorm — an output folder that holds exactly one run's files.
 *
 * hn_outdir_begin takes an exclusive lock on TARGET (the file
 * TARGET.lock beside it, flock: released by the kernel when the process
 * dies; the file is removed when the run ends) and creates a fresh TARGET.tmp.XXXXXX beside it; the run writes
 * into hn_outdir_path(); hn_outdir_commit swaps it into place (rename, or
 * renameat2 RENAME_EXCHANGE when TARGET exists: the previous complete
 * output stays intact until that one system call, also under SIGKILL) and
 * removes the previous output; hn_outdir_abort removes the temporary
 * folder.  A second run on the same TARGET while one holds the lock is
 * refused (HN_EBUSY-like HN_EIO with "TARGET: another hessnorm run is
 * writing it (TARGET.lock)").
 *
 * For a signal handler: hn_outdir_signal_cleanup() removes the active
 * temporary folder with async-signal-safe calls only (openat, getdents64,
 * unlinkat) and may be called from SIGINT / SIGTERM handlers; the caller
 * then re-raises the signal.  At most one output folder is active per
 * process. */
#ifndef HESSNORM_OUTDIR_H
#define HESSNORM_OUTDIR_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char target[4096];
    char tmp[4200];
    char lock[4200];
    int lock_fd;
    int active;
} hn_outdir;

int hn_outdir_begin(hn_outdir *od, const char *target, hn_err *err);
const char *hn_outdir_path(const hn_outdir *od);
int hn_outdir_commit(hn_outdir *od, hn_err *err);
void hn_outdir_abort(hn_outdir *od);
/* An error message naming a file of the run by the temporary folder is
 * rewritten to name the target instead (what the user asked for). */
void hn_outdir_name_target(const hn_outdir *od, hn_err *err);
void hn_outdir_signal_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
