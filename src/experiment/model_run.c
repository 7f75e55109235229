/* hessnorm — one model of a sweep: build, train, evaluate, the curve, the
 * Hessian, Corollary 2, and its files (model, weights, sample, curve.csv,
 * hess_norms.csv, timing.json, metrics.json last); the resume check; the
 * results read back for the report.  Uses sweep.c and measure.c. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/experiment.h"
#include "hessnorm/file.h"
#include "hessnorm/buf.h"
#include "base/threads.h"
#include "linalg/vecops.h"
#include "experiment/internal.h"
#include "hessnorm/seed.h"
#include "base/json.h"
#include "base/clock.h"
#include "base/progress.h"
#include "base/lockfile.h"

/* ------------------------------------------------------------ small helpers */

static const char *pool_word(hn_pool_kind k)
{
    return k == HN_POOL_MAX ? "max" : k == HN_POOL_AVG ? "avg" : "none";
}

json_t *hn_exp_model_config(const hn_exp_ctx *X, const hn_arch *a, const char *name)
{
    json_t *c = json_deep_copy(X->config_base);
    json_object_set_new(c, "setting", json_string(name));
    json_object_set_new(c, "arch", json_pack("{s:I, s:I, s:I, s:s, s:I}", "layers", (json_int_t)a->layers,
                                             "kernel", (json_int_t)a->kernel, "channels",
                                             (json_int_t)a->channels, "pool", pool_word(a->pool),
                                             "pool_pos", (json_int_t)a->pool_pos));
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int hn_exp_write_curve_csv(const char *path, const double *mean, const double *ema, size_t nc,
                           hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "k,mean_abs_diff,ema\n");
    for (size_t i = 0; i < nc; i++)
        hn_buf_printf(&b, "%zu,%.17g,%.17g\n", i + 1, mean[i], ema[i]);
    int rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------ one model's run */

/* A model's buffers and what each stage leaves for the next ones. */
typedef struct {
    hn_exp_ctx *X;
    const hn_experiment_opts *o;
    const char *name, *dir;
    char label[160];
    hn_progress_cfg pr;
    gsl_rng *r;
    hn_model *m;
    size_t n, P;
    double *theta, *epoch_loss, *loss, *tloss, *mean, *ema, *hon, *sorted;
    long *pred, *tpred;
    size_t *order;
    hn_hodiff diff[4];
    hn_train_stats tst;
    double t_start, hess_seconds, tight_seconds;
    double Ln, Wl, acc, tl, tacc; /* train loss, max loss, accuracy; test loss, accuracy */
    hn_cor2 c2;
    hn_samples smp;  /* sample.safetensors as written (its buffers owned here) */
    json_t *tight;   /* the tightness table (tightness.c) */
    uint64_t tag;    /* FNV-1a 64 of the config: the training checkpoint's */
    char ckpt[HN_EXP_PATH_BUF];  /* dir/train_checkpoint.safetensors */
} model_run;

static void mr_free(model_run *R)
{
    if (R->r)
        gsl_rng_free(R->r);
    hn_model_free(R->m);
    hn_free(R->theta);
    hn_free(R->epoch_loss);
    hn_free(R->loss);
    hn_free(R->pred);
    hn_free(R->tloss);
    hn_free(R->tpred);
    hn_free(R->mean);
    hn_free(R->ema);
    hn_free(R->order);
    hn_free(R->hon);
    hn_free(R->sorted);
    hn_free(R->smp.x);
    hn_free(R->smp.y_class);
    hn_free(R->smp.y_vec);
    json_decref(R->tight);
}

/* The model and every buffer of its run. */
static int mr_build(model_run *R, const hn_arch *a, hn_err *err)
{
    const hn_exp_ctx *X = R->X;
    const size_t n = R->n, nte = X->test.s.n;
    int rc = hn_arch_model(a, X->C_in, X->H, X->W, 10, &R->m, err);
    if (rc)
        return rc;
    R->P = R->m->n_params;
    R->theta = hn_calloc(R->P, sizeof *R->theta);
    R->epoch_loss = hn_calloc(X->epochs + 1, sizeof *R->epoch_loss);
    R->loss = hn_calloc(n, sizeof *R->loss);
    R->pred = hn_calloc(n, sizeof *R->pred);
    R->tloss = hn_calloc(nte, sizeof *R->tloss);
    R->tpred = hn_calloc(nte, sizeof *R->tpred);
    R->mean = hn_calloc(n, sizeof *R->mean);
    R->ema = hn_calloc(n, sizeof *R->ema);
    R->order = hn_calloc(n, sizeof *R->order);
    R->hon = hn_calloc(X->hess_n, sizeof *R->hon);
    R->sorted = hn_calloc(X->hess_n, sizeof *R->sorted);
    if (!R->r || !R->theta || !R->epoch_loss || !R->loss || !R->pred || !R->tloss || !R->tpred ||
        !R->mean || !R->ema || !R->order || !R->hon || !R->sorted)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", R->name);
    hn_progress_say(&R->pr, 768, "%zu parameters, training on %zu images for %zu epoch%s", R->P, n, X->epochs,
               X->epochs == 1 ? "" : "s");
    return HN_OK;
}

/* sample.safetensors beside the model: a seeded batch of HN_EXP_SAMPLE_N
 * training images (fewer when the training set is smaller), drawn without
 * replacement and kept in training-set order, with their labels, so that
 * `hessnorm inspect` and `hessnorm audit --model` run on the saved files
 * exactly as written.  Its own stream: the other results do not change. */
#define HN_EXP_SAMPLE_N 64
static int mr_save_sample(model_run *R, hn_err *err)
{
    const hn_samples *tr = &R->X->train.s;
    const size_t n = tr->n < HN_EXP_SAMPLE_N ? tr->n : HN_EXP_SAMPLE_N, d = tr->in_size;
    char path[HN_EXP_PATH_BUF];
    hn_samples s = {.n = n, .in_size = d, .classes = tr->classes, .loss = tr->loss, .batched = 1};
    /* kept in R->smp for the tightness table (freed by mr_free) */
    size_t *all = hn_calloc(tr->n, sizeof *all), *pick = hn_calloc(n, sizeof *pick);
    s.x = hn_calloc(n * d, sizeof *s.x);
    if (tr->y_class)
        s.y_class = hn_calloc(n, sizeof *s.y_class);
    else
        s.y_vec = hn_calloc(n * tr->classes, sizeof *s.y_vec);
    int rc = HN_OK;
    if (!all || !pick || !s.x || (!s.y_class && !s.y_vec)) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory for the sample", R->name);
    } else {
        for (size_t i = 0; i < tr->n; i++)
            all[i] = i;
        gsl_rng_set(R->r, hn_seed_derive(R->o->seed, R->name, HN_EXP_STREAM_SAMPLE));
        gsl_ran_choose(R->r, pick, n, all, tr->n, sizeof *all);
        for (size_t i = 0; i < n; i++) {
            memcpy(s.x + i * d, tr->x + pick[i] * d, d * sizeof *s.x);
            if (s.y_class)
                s.y_class[i] = tr->y_class[pick[i]];
            else
                memcpy(s.y_vec + i * tr->classes, tr->y_vec + pick[i] * tr->classes,
                       tr->classes * sizeof *s.y_vec);
        }
        hn_exp_path_join(path, sizeof path, R->dir, "sample.safetensors");
        rc = hn_samples_save(R->m, &s, path, err);
    }
    hn_free(all);
    hn_free(pick);
    R->smp = s;
    return rc;
}

int hn_exp_time_up(const hn_exp_ctx *X, const char *what, hn_err *err)
{
    const double t = hn_clock_s() - X->t0, lim = X->o->time_limit;
    if (!(lim >= 0) || t < lim || !X->worked)
        return HN_OK;
    return hn_err_set(err, HN_ESTOPPED,
                      "%s: stopped at the time limit (%.0f s, %.0f s run) %s: rerun the same command to go on",
                      X->o->out_dir, lim, t, what);
}

/* After each epoch but the last: the state, atomically, then the time limit. */
static int mr_epoch(void *ctx, const hn_train_ckpt *c, hn_err *err)
{
    model_run *R = ctx;
    hn_train_ckpt k = *c;
    k.tag = R->tag;
    int rc = hn_mkdir_p(R->dir, err);
    if (!rc)
        rc = hn_train_ckpt_save(&k, R->ckpt, err);
    if (rc)
        return rc;
    R->X->worked = 1;
    char what[HN_EXP_PATH_BUF + 64];
    snprintf(what, sizeof what, "after epoch %zu/%zu of %s (state in %s)", c->epochs_done, R->X->epochs,
             R->name, R->ckpt);
    return hn_exp_time_up(R->X, what, err);
}

/* The checkpoint of an earlier run of this model, if any (*out NULL if none). */
static int mr_resume_point(model_run *R, hn_train_ckpt **out, hn_err *err)
{
    *out = NULL;
    if (!hn_exp_file_exists(R->ckpt))
        return HN_OK;
    int rc = hn_train_ckpt_load(R->ckpt, out, err);
    if (!rc && (*out)->tag != R->tag)
        rc = hn_err_set(err, HN_EINVAL,
                        "%s: tensor \"tag\": the checkpoint was made with other settings (dataset, preset, seed "
                        "or options); use another --out or delete it",
                        R->ckpt);
    if (!rc && ((*out)->n_params != R->P || (*out)->epochs_done >= R->X->epochs))
        rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"counts\": %zu parameters after epoch %zu; the model has "
                        "%zu and %zu epochs",
                        R->ckpt, (*out)->n_params, (*out)->epochs_done, R->P, R->X->epochs);
    if (rc) {
        hn_train_ckpt_free(*out);
        *out = NULL;
    }
    return rc;
}

/* 1. train (from the last checkpoint when there is one), then save
 * model.json, weights.safetensors, sample.safetensors */
static int mr_train(model_run *R, hn_err *err)
{
    hn_exp_ctx *X = R->X;
    const hn_experiment_opts *o = R->o;
    char path[HN_EXP_PATH_BUF];
    hn_train_ckpt *from = NULL;
    int rc = mr_resume_point(R, &from, err);
    if (rc)
        return rc;
    gsl_rng_set(R->r, hn_seed_derive(o->seed, R->name, HN_EXP_STREAM_TRAIN));
    hn_init_uniform(R->m, R->r, R->theta);
    hn_train_opts to;
    hn_train_opts_paper(&to);
    to.epochs = X->epochs;
    to.threads = o->threads;
    to.on_epoch = mr_epoch;
    to.on_epoch_ctx = R;
    to.resume = from;
    if (from)
        hn_progress_say(&R->pr, 768, "resuming at epoch %zu/%zu from %s", from->epochs_done + 1, X->epochs,
                        R->ckpt);
    memset(&R->tst, 0, sizeof R->tst);
    rc = hn_train(R->m, R->theta, &X->train.s, &to, R->r, &R->pr, R->epoch_loss, &R->tst, err);
    const size_t e0 = from ? from->epochs_done : 0;
    hn_train_ckpt_free(from);
    if (rc)
        return rc;
    X->train_seconds += R->tst.seconds;
    X->train_images += (double)((X->epochs - e0) * R->n);
    if ((rc = hn_mkdir_p(R->dir, err)))
        return rc;
    hn_exp_path_join(path, sizeof path, R->dir, "model.json");
    if ((rc = hn_model_save(R->m, path, err)))
        return rc;
    hn_exp_path_join(path, sizeof path, R->dir, "weights.safetensors");
    if ((rc = hn_weights_save(R->m, R->theta, path, err)))
        return rc;
    return mr_save_sample(R, err);
}

/* 2. per-sample losses, accuracies */
static int mr_evaluate(model_run *R, hn_err *err)
{
    hn_exp_ctx *X = R->X;
    const hn_samples *tr = &X->train.s, *te = &X->test.s;
    const size_t n = R->n;
    const int threads = R->o->threads;
    const double te0 = hn_clock_s();
    hn_progress_cfg pl = R->pr;
    char lab2[200];
    snprintf(lab2, sizeof lab2, "%s per-sample losses", R->label);
    pl.label = lab2;
    int rc = hn_eval_samples(R->m, R->theta, tr, threads, &pl, R->loss, R->pred, err);
    if (rc)
        return rc;
    X->eval_seconds += hn_clock_s() - te0;
    X->eval_images += (double)n;
    snprintf(lab2, sizeof lab2, "%s test set", R->label);
    if ((rc = hn_eval_samples(R->m, R->theta, te, threads, &pl, R->tloss, R->tpred, err)))
        return rc;
    double Ln = 0, Wl = 0, acc = 0, tl = 0, tacc = 0;
    for (size_t i = 0; i < n; i++) {
        Ln += R->loss[i];
        Wl = fmax(Wl, fabs(R->loss[i]));
        acc += R->pred[i] == tr->y_class[i];
    }
    Ln /= (double)n;
    acc /= (double)n;
    for (size_t i = 0; i < te->n; i++) {
        tl += R->tloss[i];
        tacc += R->tpred[i] == te->y_class[i];
    }
    tl /= (double)te->n;
    tacc /= (double)te->n;
    R->Ln = Ln;
    R->Wl = Wl;
    R->acc = acc;
    R->tl = tl;
    R->tacc = tacc;
    hn_progress_say(&R->pr, 768, "train accuracy %.4f loss %.5g, test accuracy %.4f loss %.5g", acc, Ln, tacc,
               tl);
    return HN_OK;
}

/* 3. loss-difference curve, curve.csv */
static int mr_curve(model_run *R, hn_err *err)
{
    const hn_experiment_opts *o = R->o;
    char path[HN_EXP_PATH_BUF];
    gsl_rng_set(R->r, hn_seed_derive(o->seed, R->name, HN_EXP_STREAM_CURVE));
    int rc = hn_loss_diff_curve(R->loss, R->n, o->preset.shuffles, R->r, R->mean, err);
    if (rc)
        return rc;
    hn_ema(R->mean, R->n - 1, o->smooth, R->ema);
    hn_exp_path_join(path, sizeof path, R->dir, "curve.csv");
    return hn_exp_write_curve_csv(path, R->mean, R->ema, R->n - 1, err);
}

/* 4. Hessian: per-sample ||H_O|| and ||H_{O,k+1} - mean_k H_O||, hess_norms.csv */
static int mr_hessian(model_run *R, hn_err *err)
{
    const hn_exp_ctx *X = R->X;
    const hn_experiment_opts *o = R->o;
    const double th0 = hn_clock_s();
    gsl_rng_set(R->r, hn_seed_derive(o->seed, R->name, HN_EXP_STREAM_HESS));
    for (size_t i = 0; i < R->n; i++)
        R->order[i] = i;
    gsl_ran_shuffle(R->r, R->order, R->n, sizeof *R->order);
    hn_ho_opts ho;
    hn_ho_opts_default(&ho);
    ho.threads = o->threads;
    ho.mem_limit = o->mem_limit;
    ho.seed = hn_seed_derive(o->seed, R->name, HN_EXP_STREAM_LANCZOS);
    ho.progress = R->pr;
    int rc = hn_ho_analysis(R->m, R->theta, &X->train.s, R->order, X->hess_n, R->loss, o->preset.ks,
                            o->preset.n_ks, &ho, R->hon, R->diff, err);
    if (rc)
        return rc;
    R->hess_seconds = hn_clock_s() - th0;
    hn_buf b;
    char path[HN_EXP_PATH_BUF];
    hn_buf_init(&b);
    hn_buf_puts(&b, "rank,sample,ho_norm\n");
    for (size_t i = 0; i < X->hess_n; i++)
        hn_buf_printf(&b, "%zu,%zu,%.17g\n", i, R->order[i], R->hon[i]);
    hn_exp_path_join(path, sizeof path, R->dir, "hess_norms.csv");
    rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    return rc;
}

/* 5. the tightness table at theta-hat: the audit's claims on the saved sample (tightness.c) */
static int mr_tightness(model_run *R, hn_err *err)
{
    hn_progress_say(&R->pr, 768, "tightness table: the audit's claims on %zu of the saved samples, each alone",
                    R->smp.n < HN_EXP_TIGHT_N ? R->smp.n : (size_t)HN_EXP_TIGHT_N);
    const double t0 = hn_clock_s();
    int rc = hn_exp_tightness(R->m, R->theta, &R->smp, HN_EXP_TIGHT_N, &R->tight, err);
    R->tight_seconds = hn_clock_s() - t0;
    if (rc)
        hn_err_prefix(err, "tightness table");
    return rc;
}

/* 6. Corollary 2's readings */
static void mr_cor2(model_run *R)
{
    const hn_samples *tr = &R->X->train.s;
    double Wx = 0;
    for (size_t i = 0; i < R->n; i++)
        Wx = fmax(Wx, sqrt(hn_dot_seq(tr->x + i * tr->in_size, tr->x + i * tr->in_size, tr->in_size)));
    hn_cor2_setup(&R->c2, R->m, R->theta, R->Wl, Wx, R->o->R);
}

/* ------------------------------------------------------------ metrics.json */

static json_t *met_train(const model_run *R)
{
    const size_t epochs = R->X->epochs;
    json_t *el = json_array();
    for (size_t e = 0; e < epochs; e++)
        json_array_append_new(el, hn_json_num(R->epoch_loss[e]));
    json_t *jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)R->n));
    json_object_set_new(jt, "accuracy", hn_json_num(R->acc));
    json_object_set_new(jt, "loss", hn_json_num(R->Ln));
    json_object_set_new(jt, "loss_max", hn_json_num(R->Wl));
    json_object_set_new(jt, "last_epoch_loss", hn_json_num(epochs ? R->epoch_loss[epochs - 1] : NAN));
    json_object_set_new(jt, "epoch_losses", el);
    return jt;
}

static json_t *met_test(const model_run *R)
{
    json_t *jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)R->X->test.s.n));
    json_object_set_new(jt, "accuracy", hn_json_num(R->tacc));
    json_object_set_new(jt, "loss", hn_json_num(R->tl));
    return jt;
}

/* The distribution of the per-sample ||H_O||; sorts R->sorted. */
static json_t *met_ho_norm(model_run *R)
{
    const size_t hn = R->X->hess_n;
    double *sorted = R->sorted;
    memcpy(sorted, R->hon, hn * sizeof *sorted);
    qsort(sorted, hn, sizeof *sorted, cmp_double);
    double hmean = 0;
    for (size_t i = 0; i < hn; i++)
        hmean += sorted[i];
    hmean /= (double)hn;
    json_t *qa = json_array();
    for (int q = 0; q <= 100; q++)
        json_array_append_new(qa, hn_json_num(hn_quantile_sorted(sorted, hn, q / 100.0)));
    json_t *jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)hn));
    json_object_set_new(jt, "min", hn_json_num(sorted[0]));
    json_object_set_new(jt, "median", hn_json_num(hn_quantile_sorted(sorted, hn, 0.5)));
    json_object_set_new(jt, "mean", hn_json_num(hmean));
    json_object_set_new(jt, "p90", hn_json_num(hn_quantile_sorted(sorted, hn, 0.9)));
    json_object_set_new(jt, "p99", hn_json_num(hn_quantile_sorted(sorted, hn, 0.99)));
    json_object_set_new(jt, "max", hn_json_num(sorted[hn - 1]));
    json_object_set_new(jt, "quantiles", qa);
    return jt;
}

/* Corollary 2 at one k against the measured differences. */
static json_t *met_cor2_row(const model_run *R, const hn_hodiff *df)
{
    const double Rr = R->o->R;
    const size_t k = df->k;
    const double lr = hn_cor2_log10_rhs(&R->c2, k, 0);
    json_t *row = json_pack("{s:I, s:b}", "k", (json_int_t)k, "computed", df->computed);
    json_object_set_new(row, "loss_diff_mean", hn_json_num(k < R->n ? R->mean[k - 1] : NAN));
    json_object_set_new(row, "loss_diff_order", hn_json_num(df->loss_diff));
    if (df->computed) {
        json_object_set_new(row, "ho_diff_norm", hn_json_num(df->lz.norm));
        json_object_set_new(row, "lambda_max", hn_json_num(df->lz.lambda_max));
        json_object_set_new(row, "lambda_min", hn_json_num(df->lz.lambda_min));
        json_object_set_new(row, "lanczos_iterations", json_integer((json_int_t)df->lz.iterations));
        json_object_set_new(row, "lanczos_residual", hn_json_num(df->lz.residual));
        json_object_set_new(row, "converged", json_boolean(df->lz.converged));
        json_object_set_new(row, "eq1_hessian_term", hn_json_num(Rr * Rr * df->lz.norm / (double)(k + 1)));
    } else {
        json_object_set_new(row, "why", json_string(df->why));
    }
    json_object_set_new(row, "log10_rhs", hn_json_num(lr));
    json_object_set_new(row, "rhs", hn_json_num(lr < 300 ? pow(10.0, lr) : NAN));
    json_object_set_new(row, "log10_rhs_alt", hn_json_num(hn_cor2_log10_rhs(&R->c2, k, 1)));
    return row;
}

static json_t *met_cor2(const model_run *R)
{
    const hn_cor2 *c2 = &R->c2;
    json_t *rows = json_array();
    for (size_t j = 0; j < R->o->preset.n_ks; j++)
        json_array_append_new(rows, met_cor2_row(R, &R->diff[j]));
    json_t *jt = json_object();
    json_object_set_new(jt, "W_l", hn_json_num(c2->W_l));
    json_object_set_new(jt, "W_x", hn_json_num(c2->W_x));
    json_object_set_new(jt, "w", hn_json_num(c2->w));
    json_object_set_new(jt, "R", hn_json_num(c2->R));
    json_object_set_new(jt, "C", json_integer((json_int_t)c2->C));
    json_object_set_new(jt, "kernel", json_integer((json_int_t)c2->kernel));
    json_object_set_new(jt, "m", json_integer((json_int_t)c2->m));
    json_object_set_new(jt, "n", json_integer((json_int_t)c2->n));
    json_object_set_new(jt, "L_paper", json_integer((json_int_t)c2->L_paper));
    json_object_set_new(jt, "log10_q2", hn_json_num(c2->log10_q2));
    json_object_set_new(jt, "log10_base", hn_json_num(c2->log10_base));
    json_object_set_new(jt, "log10_theorem2_bound", hn_json_num(c2->log10_thm2));
    json_object_set_new(jt, "log10_theorem2_bound_alt", hn_json_num(c2->log10_thm2_alt));
    json_object_set_new(jt, "rows", rows);
    return jt;
}

static json_t *met_all(model_run *R, json_t *config)
{
    json_t *met = json_object();
    json_object_set_new(met, "format", json_string("hessnorm-experiment-model/1"));
    json_object_set(met, "config", config);
    json_object_set_new(met, "setting", json_string(R->name));
    json_object_set_new(met, "params", json_integer((json_int_t)R->P));
    json_object_set_new(met, "train", met_train(R));
    json_object_set_new(met, "test", met_test(R));
    json_object_set_new(met, "ho_norm", met_ho_norm(R));
    json_object_set_new(met, "corollary2", met_cor2(R));
    json_object_set(met, "tightness", R->tight);
    return met;
}

/* 7. timing.json, then metrics.json: last, its presence marks the model done */
static int mr_save(model_run *R, json_t *config, hn_err *err)
{
    char path[HN_EXP_PATH_BUF];
    json_t *met = met_all(R, config);
    json_t *tj = json_object();
    json_object_set_new(tj, "threads", json_integer(hn_resolve_threads(R->o->threads)));
    json_object_set_new(tj, "train_seconds", hn_json_num(R->tst.seconds));
    json_object_set_new(tj, "train_images_per_s", hn_json_num(R->tst.images_per_s));
    json_object_set_new(tj, "hessian_seconds", hn_json_num(R->hess_seconds));
    json_object_set_new(tj, "tightness_seconds", hn_json_num(R->tight_seconds));
    json_object_set_new(tj, "total_seconds", hn_json_num(hn_clock_s() - R->t_start));
    hn_exp_path_join(path, sizeof path, R->dir, "timing.json");
    int rc = hn_json_save(tj, path, HN_JSON_FLAGS, 1, err);
    json_decref(tj);
    if (!rc) {
        hn_exp_path_join(path, sizeof path, R->dir, "metrics.json");
        rc = hn_json_save(met, path, HN_JSON_FLAGS, 1, err);
    }
    /* the model is done: its training checkpoint is not needed any more */
    if (!rc && remove(R->ckpt) != 0 && hn_exp_file_exists(R->ckpt))
        rc = hn_err_set(err, HN_EIO, "%s: cannot remove the finished model's training checkpoint", R->ckpt);
    if (!rc) {
        R->X->worked = 1;
        hn_progress_say(&R->pr, 768, "done in %.1fs", hn_clock_s() - R->t_start);
    }
    json_decref(met);
    return rc;
}

static int run_model(hn_exp_ctx *X, size_t mi, size_t nm, const hn_arch *a, const char *name,
                     const char *dir, json_t *config, hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    model_run R;
    memset(&R, 0, sizeof R);
    R.X = X;
    R.o = o;
    R.name = name;
    R.dir = dir;
    R.n = X->train.s.n;
    snprintf(R.label, sizeof R.label, "model %zu/%zu %s:", mi + 1, nm, name);
    R.pr = (hn_progress_cfg){o->progress, o->progress_ctx, o->progress_every, R.label};
    R.r = gsl_rng_alloc(gsl_rng_mt19937);
    R.t_start = hn_clock_s();
    char *cs = hn_json_dumps(config, JSON_SORT_KEYS | JSON_COMPACT);
    if (!cs) {
        gsl_rng_free(R.r);
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    }
    R.tag = hn_fnv1a64(cs);
    hn_free(cs);
    hn_exp_path_join(R.ckpt, sizeof R.ckpt, dir, "train_checkpoint.safetensors");
    int rc = mr_build(&R, a, err);
    if (!rc)
        rc = mr_train(&R, err);
    if (!rc)
        rc = mr_evaluate(&R, err);
    if (!rc)
        rc = mr_curve(&R, err);
    if (!rc)
        rc = mr_hessian(&R, err);
    if (!rc)
        rc = mr_tightness(&R, err);
    if (!rc) {
        mr_cor2(&R);
        rc = mr_save(&R, config, err);
    }
    mr_free(&R);
    return rc;
}

/* ------------------------------------------------------------ resume */

int hn_exp_model_ensure(hn_exp_ctx *X, size_t mi, size_t nm, const hn_arch *a, const char *name,
                        const char *dir, int *resumed, hn_err *err)
{
    char path[HN_EXP_PATH_BUF];
    *resumed = 0;
    /* models/NAME.lock while this process decides and trains: another run
     * on the same --out (two unsharded runs, or shards started twice)
     * waits, then finds the model done; each model is trained once */
    char lock[HN_EXP_PATH_BUF + 8];
    snprintf(lock, sizeof lock, "%s.lock", dir);
    int lfd = -1, busy = 0;
    if (hn_lockfile_take(lock, 0, &lfd, &busy, err) != HN_OK) {
        if (!busy)
            return HN_EIO;
        const hn_experiment_opts *o = X->o;
        hn_progress_line(o->progress, o->progress_ctx, 768, "model %zu/%zu %s: waiting for another run on it (%s)",
                         mi + 1, nm, name, lock);
        if (hn_lockfile_take(lock, 1, &lfd, &busy, err) != HN_OK)
            return HN_EIO;
    }
    hn_exp_path_join(path, sizeof path, dir, "metrics.json");
    json_t *cfg = hn_exp_model_config(X, a, name);
    if (!cfg) {
        hn_lockfile_drop(lock, &lfd);
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    }
    int rc = HN_OK;
    json_t *old = hn_exp_file_exists(path) ? json_load_file(path, 0, NULL) : NULL;
    if (old && json_is_object(old) && json_object_get(old, "config")) {
        if (!json_equal(json_object_get(old, "config"), cfg))
            rc = hn_err_set(err, HN_EINVAL,
                            "%s: config: the model was made with other settings (dataset, preset, seed "
                            "or options); use another --out or delete it",
                            path);
        else
            *resumed = 1;
    } else {
        json_decref(old);
        old = NULL;
        char what[320];
        snprintf(what, sizeof what, "before model %zu/%zu %s", mi + 1, nm, name);
        rc = hn_exp_time_up(X, what, err);
        if (!rc)
            rc = run_model(X, mi, nm, a, name, dir, cfg, err);
    }
    json_decref(old);
    json_decref(cfg);
    hn_lockfile_drop(lock, &lfd);
    return rc;
}

/* ------------------------------------------------------------ read back */

int hn_exp_load_curve(const char *path, hn_exp_result *r, hn_err *err)
{
    char *txt;
    size_t len;
    int rc = hn_read_file(path, &txt, &len, err);
    if (rc)
        return rc;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += txt[i] == '\n';
    r->mean = hn_calloc(lines + 1, sizeof *r->mean);
    r->ema = hn_calloc(lines + 1, sizeof *r->ema);
    if (!r->mean || !r->ema) {
        hn_free(txt);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    }
    char *p = strchr(txt, '\n');
    size_t k = 0;
    while (p && *++p) {
        char *e;
        unsigned long long kk = strtoull(p, &e, 10);
        if (e == p || *e != ',' || kk != k + 1) {
            hn_free(txt);
            return hn_err_set(err, HN_EFORMAT, "%s: line %zu: expected k = %zu", path, k + 2, k + 1);
        }
        p = e + 1;
        r->mean[k] = strtod(p, &e);
        if (e == p || *e != ',') {
            hn_free(txt);
            return hn_err_set(err, HN_EFORMAT, "%s: line %zu: bad mean_abs_diff", path, k + 2);
        }
        p = e + 1;
        r->ema[k] = strtod(p, &e);
        if (e == p) {
            hn_free(txt);
            return hn_err_set(err, HN_EFORMAT, "%s: line %zu: bad ema", path, k + 2);
        }
        k++;
        p = strchr(e, '\n');
    }
    r->nc = k;
    hn_free(txt);
    return HN_OK;
}

/* The results always come back from the files: a resumed sweep and an
 * uninterrupted one build the report from the same bytes. */
int hn_exp_model_load(const char *dir, hn_exp_result *r, hn_err *err)
{
    char path[HN_EXP_PATH_BUF];
    hn_exp_path_join(path, sizeof path, dir, "metrics.json");
    json_error_t je;
    r->met = json_load_file(path, 0, &je);
    if (!r->met)
        return hn_err_set(err, HN_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    hn_exp_path_join(path, sizeof path, dir, "curve.csv");
    return hn_exp_load_curve(path, r, err);
}
