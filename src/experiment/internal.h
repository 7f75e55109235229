/* hessnorm — internal: what the experiment's files share.  Not installed.
 *
 * The files depend one way, and the sections below follow that order; a
 * file calls only the sections above its own:
 *   sweep.c      paths, dataset titles (and the public presets and sweeps)
 *   measure.c    curves, quantiles, H_O, Corollary 2 (public API only)
 *   model_run.c  one model: train, measure, save; resume check; read back
 *   figures.c    the gnuplot figures
 *   report.c     report.md, index.html and the CSVs; places the figures
 *   collect.c    sweep.json, shards, the report from the models on disk
 *   run.c        hn_experiment_run, the sweep driver
 * The last section (defined in run.c, used below it) is the progress and
 * JSON-saving helpers that base's helpers replace. */
#ifndef HN_EXPERIMENT_INTERNAL_H
#define HN_EXPERIMENT_INTERNAL_H
#include <stddef.h>
#include <sys/stat.h>
#include <jansson.h>
#include "hessnorm/experiment.h"


/* The random streams of one setting: hn_seed_derive(seed, setting name (or
 * "data"), stream) (include/hessnorm/seed.h). */
enum {
    HN_EXP_STREAM_TRAIN = 1,
    HN_EXP_STREAM_CURVE = 2,
    HN_EXP_STREAM_HESS = 3,
    HN_EXP_STREAM_LANCZOS = 4,
    HN_EXP_STREAM_DATA = 5,
    HN_EXP_STREAM_SAMPLE = 6 /* the saved sample.safetensors (model_run.c) */
};

/* ------------------------------------------------------------ sweep.c */

/* Paths are bounded: hn_experiment_run rejects an out_dir longer than
 * HN_EXP_DIR_MAX, and every buffer holds HN_EXP_DIR_MAX plus the longest
 * suffix. */
#define HN_EXP_DIR_MAX 2048
#define HN_EXP_PATH_BUF 4096

/* out = a/b.  Out of line (noinline): inlined into its callers, GCC's
 * -Wformat-truncation would flag every HN_EXP_PATH_BUF path. */
void hn_exp_path_join(char *out, size_t n, const char *a, const char *b);

/* 1 if p is a regular file. */
static inline int hn_exp_file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* "FashionMNIST" for "fashion-mnist" etc.; other names as given. */
const char *hn_exp_ds_title(const char *ds);

/* ------------------------------------------------------------ tightness.c */

/* Samples of sample.safetensors the tightness table is measured on, each
 * alone (the first ones, in the file's order): enough for a distribution,
 * few enough that the paper's largest model (P = 199,962, ~10 s a sample
 * matrix-free) adds minutes, not hours, to its run. */
#define HN_EXP_TIGHT_N 8
/* *out = {"samples", "route", "claims_listed", "violated", "undecided",
 * "not_applicable", "claims": [hn_claim_instance_json of every claim that
 * applies, or applies but was not measured]} of the claims of the audit on
 * m at theta and the first n_use samples of s. */
int hn_exp_tightness(const hn_model *m, const double *theta, const hn_samples *s, size_t n_use, json_t **out,
                     hn_err *err);

/* ------------------------------------------------------------ model_run.c */

/* The sweep's shared state: filled by hn_experiment_run, its timings
 * summed by the models, read by the report. */
typedef struct {
    const hn_experiment_opts *o;
    hn_sample_set train, test;
    size_t train_total, epochs, hess_n, C_in, H, W;
    json_t *config_base;     /* the sweep-wide part of every model's config */
    const char *missing;     /* report-only: the settings not complete ("a, b"), else NULL */
    double train_seconds, train_images, eval_seconds, eval_images;
    double t0;               /* the run's start (hn_clock_s), for o->time_limit */
    int worked;              /* an epoch or a model finished in this run */
} hn_exp_ctx;

/* HN_ESTOPPED ("... what: rerun the same command to go on") once the run
 * has passed o->time_limit and done some work (an epoch, a model: so that
 * every run gets on, whatever the limit), else HN_OK. */
int hn_exp_time_up(const hn_exp_ctx *X, const char *what, hn_err *err);

/* One model's results, read back from its files, for the report. */
typedef struct {
    char name[64];
    hn_arch arch;
    json_t *met;
    double *mean, *ema;
    size_t nc;
} hn_exp_result;

/* Model mi of nm (architecture a, setting `name`) in folder dir: trained
 * and measured unless dir/metrics.json holds a finished model of the same
 * config (*resumed = 1 then; 0 after training).  Error HN_EINVAL if it
 * holds a model of another config. */
int hn_exp_model_ensure(hn_exp_ctx *X, size_t mi, size_t nm, const hn_arch *a, const char *name,
                        const char *dir, int *resumed, hn_err *err);
/* The config model `name` (architecture a) is made with: X->config_base
 * plus "setting" and "arch" (NULL when out of memory). */
json_t *hn_exp_model_config(const hn_exp_ctx *X, const hn_arch *a, const char *name);
/* r->met and r's curve from dir/metrics.json and dir/curve.csv. */
int hn_exp_model_load(const char *dir, hn_exp_result *r, hn_err *err);
/* curve.csv: "k,mean_abs_diff,ema", k = 1..nc, numbers in %.17g. */
int hn_exp_write_curve_csv(const char *path, const double *mean, const double *ema, size_t nc,
                           hn_err *err);
/* r->mean, r->ema (allocated), r->nc from a curve.csv; HN_EFORMAT names
 * the line. */
int hn_exp_load_curve(const char *path, hn_exp_result *r, hn_err *err);

/* ------------------------------------------------------------ figures.c */

/* Legend title of the figures of pooling kind g. */
const char *hn_exp_legend_title(const hn_experiment_opts *o, hn_pool_kind g);
/* File stem of a figure group: "<dataset>_change_layers" as the authors'. */
void hn_exp_fig_stem(const hn_experiment_opts *o, hn_pool_kind g, char *b, size_t n);
/* One figure drawn into png: the curves (kind 0, curves.csv, from k0, log
 * k axis if logx) or the ||H_O|| quantiles (kind 1,
 * hessnorm_quantiles.csv) of the settings sel[0..ns-1] (indices into res),
 * column col[i] of the CSV for sel[i]. */
int hn_exp_draw_figure(const hn_experiment_opts *o, const hn_exp_result *res, const size_t *sel,
                       size_t ns, const size_t *col, int kind, size_t k0, int logx, const char *title,
                       const char *ylabel, const char *legend, const char *png, int cairo,
                       hn_err *err);

/* ------------------------------------------------------------ report.c */

/* report.md, index.html, the CSVs and the figures of the nr models in res;
 * *drawn = 1 if a figure was drawn. */
int hn_exp_write_report(const hn_experiment_opts *o, const hn_exp_ctx *X, hn_exp_result *res,
                        size_t nr, int *drawn, hn_err *err);

/* ------------------------------------------------------------ collect.c */

/* What the folder is for: out_dir/sweep.json holds the dataset, the sweep
 * (or "custom"), the data note, the sweep-wide config and every setting's
 * name and architecture.  When present its config and settings must
 * equal these (HN_EINVAL naming the file otherwise; the note of the first
 * writer is kept); written when absent and `write` (after the run's
 * models, so a failed run never leaves one). */
int hn_exp_sweep_json(const hn_exp_ctx *X, const hn_arch *set, size_t nset, int write, hn_err *err);
/* "<dataset>/<sweep or custom>/<name>": the key a setting is sharded by. */
void hn_exp_shard_key(const hn_experiment_opts *o, const char *name, char *buf, size_t n);

#endif
