/* hessnorm — internal: helpers and sweep state shared by the experiment's files. */
#ifndef HN_EXPERIMENT_INTERNAL_H
#define HN_EXPERIMENT_INTERNAL_H
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/experiment.h"
#include "base/clock.h"
#include "base/progress.h"
#include "base/threads.h"

/* ------------------------------------------------------------ helpers */

/* The small helpers are static inline: every file keeps its own inlinable
 * copy, as when the experiment was one file. */

/* Sequential dot product: the same bits whichever thread computes it. */
static inline double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Paths are bounded: hn_experiment_run rejects an out_dir longer than
 * HN_DIR_MAX, and every buffer holds HN_DIR_MAX plus the longest suffix. */
#define HN_DIR_MAX 2048
#define PATH_BUF 4096

/* out = a/b.  Out of line (noinline in experiment.c): inlined into its
 * callers, GCC's -Wformat-truncation would flag every PATH_BUF path. */
void hn_exp_path_join(char *out, size_t n, const char *a, const char *b);

/* ------------------------------------------------------------ sweep state */

/* The sweep's shared state (experiment.c), read by the report. */
typedef struct {
    const hn_experiment_opts *o;
    hn_sample_set train, test;
    size_t train_total, epochs, hess_n, C_in, H, W;
    json_t *config_base;     /* the sweep-wide part of every model's config */
    double train_seconds, train_images, eval_seconds, eval_images;
} xctx;

/* One model's results, read back from its files (experiment.c), for the
 * report. */
typedef struct {
    char name[64];
    hn_arch arch;
    json_t *met;
    double *mean, *ema;
    size_t nc;
} mres;

/* ------------------------------------------------------------ report (experiment_report.c) */

const char *hn_exp_ds_title(const char *ds);
/* report.md, index.html, the CSVs and the figures of the nr models in res;
 * *drawn = 1 if a figure was drawn. */
int hn_exp_write_report(const hn_experiment_opts *o, const xctx *X, mres *res, size_t nr,
                        int *drawn, hn_err *err);

#endif
