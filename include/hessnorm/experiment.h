/* hessnorm — the experiments of the paper's section VI and beyond.
 *
 * For every trained model theta^ of a sweep:
 *  - per-sample losses l_i(theta^) on the training set;
 *  - the loss-difference curve: the mean over S random orders of
 *    |L_{k+1} - L_k| for k = 1..n-1 (L_k = mean of the first k losses of
 *    the order), then exponential smoothing s_1 = d_1,
 *    s_k = a s_{k-1} + (1 - a) d_k (a = 0.995);
 *  - the exact per-sample ||H_O,i|| = lambda_max(A_i^{1/2} J_i J_i^T A_i^{1/2})
 *    (J_i the K x P logit Jacobian, A_i = diag(p_i) - p_i p_i^T);
 *  - at k in a list: ||H_{O,k+1} - (1/k) sum_{i<=k} H_{O,i}|| by Lanczos on
 *    v -> J_{k+1}^T A_{k+1} J_{k+1} v - (1/k) sum J_i^T A_i J_i v, with the
 *    per-sample Jacobians stored (never a P x P matrix);
 *  - Corollary 2's right side from the measured W_l, W_x, w.
 * Sweeps reproduce Figures 1-4 and write models, CSV, figures, report.md
 * and index.html; see docs/experiments.md for every reading and choice. */
#ifndef HESSNORM_EXPERIMENT_H
#define HESSNORM_EXPERIMENT_H
#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/error.h"
#include "hessnorm/model.h"
#include "hessnorm/data.h"
#include "hessnorm/progress.h"
#include "hessnorm/lanczos.h"
#include "hessnorm/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- curves */

/* acc[k-1] += |L_{k+1} - L_k| for k = 1..n-1, where L_k is the mean of
 * loss[order[0..k-1]]; computed as |loss[order[k]] - L_k| / (k+1) (the
 * identity L_{k+1} - L_k = (l_{k+1} - L_k)/(k+1) of section III), L_k from
 * the running sum.  order NULL = identity. */
void hn_loss_diff_add(const double *loss, const size_t *order, size_t n, double *acc);
/* mean[k-1] = mean over `shuffles` random orders (gsl_ran_shuffle of the
 * index array, restarted from the identity each time, drawn from r) of
 * |L_{k+1} - L_k|, k = 1..n-1.  O(n) memory.  Errors: HN_EINVAL (n < 2,
 * shuffles = 0), HN_ENOMEM. */
int hn_loss_diff_curve(const double *loss, size_t n, size_t shuffles, gsl_rng *r, double *mean,
                       hn_err *err);
/* Exponential smoothing: out[0] = x[0], out[i] = a out[i-1] + (1-a) x[i]
 * (the authors' calculate_ema; out may alias x). */
void hn_ema(const double *x, size_t n, double a, double *out);
/* Quantile q in [0,1] of sorted[0..n-1] by linear interpolation between
 * order statistics (numpy's default). */
double hn_quantile_sorted(const double *sorted, size_t n, double q);

/* ---------------------------------------------------------------- H_O */

typedef struct {
    size_t k;
    int computed;          /* 0: skipped, see `why` */
    char why[96];
    hn_lanczos_result lz;  /* lz.norm = ||H_{O,k+1} - (1/k) sum_{i<=k} H_{O,i}|| */
    double loss_diff;      /* |L_{k+1} - L_k| in this order (NAN without losses) */
} hn_hodiff;

typedef struct {
    int threads;           /* <= 0: all */
    double mem_limit;      /* bytes for stored Jacobians + Lanczos vectors */
    size_t max_iter;       /* Lanczos cap (also capped by the operator's rank + 1) */
    double rtol;           /* Lanczos residual tolerance */
    unsigned long seed;    /* Lanczos start vector */
    hn_progress_cfg progress;
} hn_ho_opts;

/* Defaults: all threads, 8 GiB, 600 iterations, rtol 1e-10, seed 0, silent. */
void hn_ho_opts_default(hn_ho_opts *o);

/* Sample i of the analysis is s's sample order[i], i = 0..n_order-1.
 * ho_norm[i] (n_order entries) = ||H_O|| of sample order[i].  For each
 * ks[j] with ks[j] + 1 <= n_order: diff[j] for the first ks[j] + 1 samples
 * of the order (sample k+1 is order[k]), unless the stored Jacobians of
 * max(ks) + 1 samples and the Lanczos vectors would exceed mem_limit (then
 * the largest k are skipped, `why` says so).  The logit Jacobian blocks of
 * a last linear layer are stored implicitly (they are I_K (x) x^T), so the
 * storage is (k+1) (K P_body + d + K) doubles.  loss (per sample of s,
 * indexed like s, may be NULL) gives diff[j].loss_diff.  Bit-identical for
 * every thread count.  Errors: HN_EINVAL (bad order or k), HN_ENOMEM,
 * HN_ENUMERIC (an eigen-solver failed). */
int hn_ho_analysis(const hn_model *m, const double *theta, const hn_samples *s,
                   const size_t *order, size_t n_order, const double *loss, const size_t *ks,
                   size_t n_ks, const hn_ho_opts *o, double *ho_norm, hn_hodiff *diff,
                   hn_err *err);

/* ---------------------------------------------------------------- Corollary 2 */

/* Readings of Corollary 2 for a trained section-VI network (see
 * docs/experiments.md):  W_l = max_i l_i, W_x = max_i ||x_i||_2,
 * w = max |theta| over the conv layers, m x n = input size, C = max channel
 * count (input included), kernel = max conv kernel, L = the paper's L: the
 * network z = T(L+1) ... T(1) x has L + 1 linear operators, the L conv
 * layers and the linear head (T(L+1)), so L_paper = number of conv layers;
 * the alternative reading without the head has L_paper - 1. */
typedef struct {
    double W_l, W_x, w, R;
    size_t C, kernel, m, n, L_paper;
    double log10_q2;          /* q^2 = C^2 k^2 m n */
    double log10_base;        /* C^2 k^2 w^2 m n */
    double log10_thm2;        /* sqrt(2) W_x^2 q^2 (L+1) base^L: Theorem 2's bound on ||H_O|| */
    double log10_thm2_alt;    /* the same with L_paper - 1 */
} hn_cor2;

/* Fill the model-dependent readings; W_l, W_x, R are given. */
void hn_cor2_setup(hn_cor2 *c, const hn_model *m, const double *theta, double W_l, double W_x,
                   double R);
/* log10 of (2/(k+1)) W_l + (2/(k+1)) R^2 * 10^log10_thm2 (alt: the
 * alternative L).  Computed in logarithms: finite whenever the readings are. */
double hn_cor2_log10_rhs(const hn_cor2 *c, size_t k, int alt);

/* ---------------------------------------------------------------- sweeps */

typedef enum {
    HN_SWEEP_LAYERS = 0,   /* Fig. 1: L in {2..7}, k = 3, C = 6 */
    HN_SWEEP_KERNEL,       /* Fig. 2: k in {2..5}, L = 4, C = 6 */
    HN_SWEEP_CHANNELS,     /* Fig. 3: C in {6, 12, ..., 42}, L = 5, k = 3 */
    HN_SWEEP_POOLING       /* Fig. 4: max and avg pool at pos 1..4, L = 5, C = 12, k = 3 */
} hn_sweep;

/* "layers", "kernel", "channels", "pooling"; HN_EINVAL naming --sweep. */
int hn_sweep_parse(const char *name, hn_sweep *out, hn_err *err);
const char *hn_sweep_name(hn_sweep s);

/* Which sweep values a preset trains. */
typedef enum { HN_VALUES_ALL = 0, HN_VALUES_QUICK = 1, HN_VALUES_TINY = 2 } hn_values;

typedef struct {
    char name[16];
    size_t train_n;     /* training images (seeded random subset); 0 = the whole split */
    size_t test_n;      /* test images (first ones); 0 = the whole split */
    size_t epochs;      /* 0 = the paper's (15 for CIFAR-10, else 10) */
    size_t shuffles;    /* S */
    size_t hess_n;      /* samples for the ||H_O,i|| distribution; 0 = all training samples */
    size_t n_ks, ks[4]; /* k of ||H_{O,k+1} - mean||, Corollary 2 */
    hn_values values;
} hn_preset;

/* "paper" (the exact section VI setting: whole splits, 10/15 epochs,
 * S = 500, ||H_O|| over the whole training set, k in {10, 100, 1000}),
 * "quick" (3000 training / 1000 test images, 1 epoch, S = 50, 200 samples
 * for ||H_O||, k in {10, 100}, a subset of the sweep values) and "tiny"
 * (for tests: whatever the split holds, 1 epoch, S = 5, k in {2, 4}).
 * HN_EINVAL naming --preset otherwise. */
int hn_preset_get(const char *name, hn_preset *out, hn_err *err);

/* The settings of sweep `s` for `values` (at most cap written); returns the
 * number of settings. */
size_t hn_sweep_settings(hn_sweep s, hn_values values, hn_arch *out, size_t cap);

/* 15 for "cifar10", else 10 (section VI). */
size_t hn_paper_epochs(const char *dataset);

typedef struct {
    const char *dataset;       /* "mnist", "fashion-mnist", "cifar10": titles, default epochs */
    const char *dataset_note;  /* free text for the report (source of the data), may be NULL */
    hn_sweep sweep;
    hn_preset preset;
    const hn_arch *settings;   /* NULL: hn_sweep_settings(sweep, preset.values) */
    size_t n_settings;
    const char *out_dir;
    unsigned long seed;        /* everything random derives from (seed, setting) */
    int threads;               /* <= 0: all */
    double mem_limit;          /* bytes, see hn_ho_opts */
    double R;                  /* Corollary 2's radius (default 1) */
    double smooth;             /* EMA coefficient (default 0.995) */
    int figures;               /* 1: draw PNGs with gnuplot when available */
    hn_progress_fn progress;   /* NULL = silent */
    void *progress_ctx;
    double progress_every;     /* seconds between step messages */
    size_t shard_i, shard_n;   /* shard_n > 0: only the settings of shard shard_i (1..shard_n,
                                * hn_experiment_shard_of), and no sweep-level report
                                * (hn_experiment_report builds it from the folder) */
    double time_limit;         /* < 0 (the default): none; else, once the run has taken this
                                * many seconds, stop at the next epoch's end (its checkpoint
                                * written) or before the next model: HN_ESTOPPED */
} hn_experiment_opts;

void hn_experiment_opts_default(hn_experiment_opts *o);

typedef struct {
    size_t models, trained, resumed;
    double seconds;
    double train_images_per_s;  /* over the models trained in this run (0 if none) */
    double eval_images_per_s;   /* per-sample-loss pass, same models */
    int figures_drawn;          /* 0 if gnuplot was unavailable or figures = 0 */
} hn_experiment_summary;

/* Before any training: every model of o's sweep must fit the images of
 * train (HN_ESHAPE: "<data file>: 5x5 images; the layers sweep needs at
 * least 7x7 (...)").  hn_experiment_run checks it too. */
int hn_experiment_check_data(const hn_dataset *train, const hn_experiment_opts *o, hn_err *err);
/* Run (or resume) a sweep on the given splits and write, under out_dir:
 *   models/<setting>/model.json, weights.safetensors   (interchange format)
 *   models/<setting>/curve.csv, hess_norms.csv, timing.json
 *   models/<setting>/metrics.json   (written last: its presence = done)
 *   curves.csv, hessnorm_quantiles.csv, summary.csv, corollary2.csv,
 *   <dataset>_<sweep>*.png, report.md, index.html (not with a shard)
 *   sweep.json (what the folder is for; hn_experiment_report reads it)
 * every file atomically.  A model whose metrics.json exists with the same
 * configuration is not recomputed; one with a different configuration is
 * an error (HN_EINVAL naming the file).  While a model trains, after each
 * epoch but the last, models/<setting>/train_checkpoint.safetensors
 * (hn_train_ckpt_save, tagged with the FNV-1a 64 of the model's config)
 * holds its state: a run stopped mid-training (killed, or at
 * o->time_limit) continues from the last finished epoch, and the file is
 * removed once metrics.json is written.  The outputs other than
 * timing.json are byte-identical whether the sweep ran at once or was
 * interrupted and resumed (between models or between epochs), and for
 * every thread count. */
int hn_experiment_run(const hn_dataset *train, const hn_dataset *test,
                      const hn_experiment_opts *o, hn_experiment_summary *sum, hn_err *err);

/* ---------------------------------------------------------------- shards and the report */

/* The shard (1..n) of the setting with this key ("<dataset>/<sweep>/<setting>",
 * sweep "custom" for o->settings): 1 + (hn_seed_mix64(FNV-1a 64 of the key)
 * mod n).  It depends on the key and n only, so adding a setting moves no
 * other, and a setting has the same shard run alone or in the grid. */
size_t hn_experiment_shard_of(const char *key, size_t n);
/* How many of o's settings fall in o's shard (all of them without one). */
size_t hn_experiment_shard_count(const hn_experiment_opts *o);

typedef struct {
    size_t settings, complete;  /* of the sweep; with a finished model (metrics.json) */
    char missing[1024];         /* the others' names, ", "-separated ("" when none) */
    int figures_drawn;
} hn_experiment_report_info;

/* The sweep-level files (CSVs, figures, report.md, index.html) of out_dir
 * rebuilt from the models finished in it; its sweep.json (written by every
 * hn_experiment_run) names the dataset, sweep, data note, config and
 * settings.  Every finished model's config must be the sweep's (HN_EINVAL
 * naming its metrics.json).  With every model finished the files are
 * byte-identical to those of one run that trained them all; otherwise the
 * report names the missing ones.  Errors: HN_EIO / HN_EFORMAT (sweep.json
 * missing or broken), HN_EINVAL (no model finished). */
int hn_experiment_report(const char *out_dir, int figures, hn_experiment_report_info *info,
                         hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
