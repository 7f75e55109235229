/* hessnorm — the experiments of section VI: presets and the sweeps of Figures 1-4,
 * one model trained and measured, the sweep and its resume.  The measurements
 * are in experiment_measure.c, the report in experiment_report.c. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
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
#include "base/json.h"
#include "experiment/internal.h"

/* ------------------------------------------------------------ helpers */

__attribute__((noinline)) void hn_exp_path_join(char *out, size_t n, const char *a, const char *b)
{
    snprintf(out, n, "%s/%s", a, b);
}

/* ------------------------------------------------------------ presets and sweeps */

int hn_sweep_parse(const char *name, hn_sweep *out, hn_err *err)
{
    static const char *names[] = {"layers", "kernel", "channels", "pooling"};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (hn_sweep)i;
            return HN_OK;
        }
    return hn_err_set(err, HN_EINVAL,
                      "--sweep: unknown sweep '%s' (expected layers, kernel, channels or pooling)",
                      name ? name : "");
}

const char *hn_sweep_name(hn_sweep s)
{
    switch (s) {
    case HN_SWEEP_LAYERS: return "layers";
    case HN_SWEEP_KERNEL: return "kernel";
    case HN_SWEEP_CHANNELS: return "channels";
    case HN_SWEEP_POOLING: return "pooling";
    }
    return "?";
}

int hn_preset_get(const char *name, hn_preset *out, hn_err *err)
{
    memset(out, 0, sizeof *out);
    if (name && !strcmp(name, "paper")) {
        *out = (hn_preset){"paper", 0, 0, 0, 500, 0, 3, {10, 100, 1000, 0}, HN_VALUES_ALL};
    } else if (name && !strcmp(name, "quick")) {
        *out = (hn_preset){"quick", 3000, 1000, 1, 50, 200, 2, {10, 100, 0, 0}, HN_VALUES_QUICK};
    } else if (name && !strcmp(name, "tiny")) {
        *out = (hn_preset){"tiny", 0, 0, 1, 5, 0, 2, {2, 4, 0, 0}, HN_VALUES_TINY};
    } else {
        return hn_err_set(err, HN_EINVAL, "--preset: unknown preset '%s' (expected paper, quick or tiny)",
                          name ? name : "");
    }
    return HN_OK;
}

size_t hn_paper_epochs(const char *dataset)
{
    return dataset && !strcmp(dataset, "cifar10") ? 15 : 10;
}

size_t hn_sweep_settings(hn_sweep s, hn_values values, hn_arch *out, size_t cap)
{
    hn_arch tmp[16];
    size_t n = 0;
    switch (s) {
    case HN_SWEEP_LAYERS: {
        static const size_t all[] = {2, 3, 4, 5, 6, 7}, quick[] = {2, 4, 7}, tiny[] = {2, 3};
        const size_t *v = values == HN_VALUES_ALL ? all : values == HN_VALUES_QUICK ? quick : tiny;
        const size_t nv = values == HN_VALUES_ALL ? 6 : values == HN_VALUES_QUICK ? 3 : 2;
        for (size_t i = 0; i < nv; i++)
            tmp[n++] = (hn_arch){v[i], 3, 6, HN_POOL_NONE, 0};
        break;
    }
    case HN_SWEEP_KERNEL: {
        const size_t nv = values == HN_VALUES_TINY ? 2 : 4;
        for (size_t i = 0; i < nv; i++)
            tmp[n++] = (hn_arch){4, 2 + i, 6, HN_POOL_NONE, 0};
        break;
    }
    case HN_SWEEP_CHANNELS: {
        static const size_t all[] = {6, 12, 18, 24, 30, 36, 42}, quick[] = {6, 24, 42}, tiny[] = {6, 12};
        const size_t *v = values == HN_VALUES_ALL ? all : values == HN_VALUES_QUICK ? quick : tiny;
        const size_t nv = values == HN_VALUES_ALL ? 7 : values == HN_VALUES_QUICK ? 3 : 2;
        for (size_t i = 0; i < nv; i++)
            tmp[n++] = (hn_arch){5, 3, v[i], HN_POOL_NONE, 0};
        break;
    }
    case HN_SWEEP_POOLING: {
        const size_t np = values == HN_VALUES_TINY ? 1 : 4;
        for (int kind = 1; kind <= 2; kind++)
            for (size_t pos = 1; pos <= np; pos++)
                tmp[n++] = (hn_arch){5, 3, 12, (hn_pool_kind)kind, pos};
        break;
    }
    }
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = tmp[i];
    return n;
}

void hn_experiment_opts_default(hn_experiment_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dataset = "fashion-mnist";
    o->sweep = HN_SWEEP_LAYERS;
    hn_preset_get("quick", &o->preset, NULL);
    o->out_dir = "experiment";
    o->seed = 0;
    o->threads = 0;
    o->mem_limit = 8.0 * 1024 * 1024 * 1024;
    o->R = 1.0;
    o->smooth = 0.995;
    o->figures = 1;
    o->progress_every = 5;
}

/* ------------------------------------------------------------ seeds */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The seed of stream `stream` of `setting`: a function of (seed, setting,
 * stream) only, so a model's results never depend on which models ran
 * before it.  mt19937 takes 32 bits of its seed. */
static unsigned long derive_seed(unsigned long seed, const char *setting, unsigned stream)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the setting name */
    for (const unsigned char *p = (const unsigned char *)setting; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    uint64_t x = mix64(mix64((uint64_t)seed) ^ h);
    x = mix64(x ^ (uint64_t)stream);
    return (unsigned long)((x ^ (x >> 32)) & 0xffffffffULL);
}

enum { STREAM_TRAIN = 1, STREAM_CURVE = 2, STREAM_HESS = 3, STREAM_LANCZOS = 4, STREAM_DATA = 5 };

/* ------------------------------------------------------------ one model */

static const char *pool_word(hn_pool_kind k)
{
    return k == HN_POOL_MAX ? "max" : k == HN_POOL_AVG ? "avg" : "none";
}

static json_t *model_config(const xctx *X, const hn_arch *a, const char *name)
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

static int write_curve_csv(const char *path, const double *mean, const double *ema, size_t nc,
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

static int run_model(xctx *X, size_t mi, size_t nm, const hn_arch *a, const char *name,
                     const char *dir, json_t *config, hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    const hn_samples *tr = &X->train.s, *te = &X->test.s;
    const size_t n = tr->n;
    char label[160], path[PATH_BUF];
    snprintf(label, sizeof label, "model %zu/%zu %s:", mi + 1, nm, name);
    hn_progress_cfg pr = {o->progress, o->progress_ctx, o->progress_every, label};
    hn_model *m = NULL;
    double *theta = NULL, *epoch_loss = NULL, *loss = NULL, *tloss = NULL, *mean = NULL, *ema = NULL;
    double *hon = NULL, *sorted = NULL;
    long *pred = NULL, *tpred = NULL;
    size_t *order = NULL;
    hn_hodiff diff[4];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    json_t *met = NULL;
    const double t_start = hn_clock_s();
    int rc = hn_arch_model(a, X->C_in, X->H, X->W, 10, &m, err);
    if (rc)
        goto done;
    const size_t P = m->n_params, nk = o->preset.n_ks;
    theta = hn_calloc(P, sizeof *theta);
    epoch_loss = hn_calloc(X->epochs + 1, sizeof *epoch_loss);
    loss = hn_calloc(n, sizeof *loss);
    pred = hn_calloc(n, sizeof *pred);
    tloss = hn_calloc(te->n, sizeof *tloss);
    tpred = hn_calloc(te->n, sizeof *tpred);
    mean = hn_calloc(n, sizeof *mean);
    ema = hn_calloc(n, sizeof *ema);
    order = hn_calloc(n, sizeof *order);
    hon = hn_calloc(X->hess_n, sizeof *hon);
    sorted = hn_calloc(X->hess_n, sizeof *sorted);
    if (!r || !theta || !epoch_loss || !loss || !pred || !tloss || !tpred || !mean || !ema ||
        !order || !hon || !sorted) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    hn_progress_say(&pr, 768, "%zu parameters, training on %zu images for %zu epoch%s", P, n, X->epochs,
               X->epochs == 1 ? "" : "s");

    /* 1. train */
    gsl_rng_set(r, derive_seed(o->seed, name, STREAM_TRAIN));
    hn_init_uniform(m, r, theta);
    hn_train_opts to;
    hn_train_opts_paper(&to);
    to.epochs = X->epochs;
    to.threads = o->threads;
    hn_train_stats tst;
    memset(&tst, 0, sizeof tst);
    if ((rc = hn_train(m, theta, tr, &to, r, &pr, epoch_loss, &tst, err)))
        goto done;
    X->train_seconds += tst.seconds;
    X->train_images += (double)(X->epochs * n);
    if ((rc = hn_mkdir_p(dir, err)))
        goto done;
    hn_exp_path_join(path, sizeof path, dir, "model.json");
    if ((rc = hn_model_save(m, path, err)))
        goto done;
    hn_exp_path_join(path, sizeof path, dir, "weights.safetensors");
    if ((rc = hn_weights_save(m, theta, path, err)))
        goto done;

    /* 2. per-sample losses, accuracies */
    const double te0 = hn_clock_s();
    hn_progress_cfg pl = pr;
    char lab2[200];
    snprintf(lab2, sizeof lab2, "%s per-sample losses", label);
    pl.label = lab2;
    if ((rc = hn_eval_samples(m, theta, tr, o->threads, &pl, loss, pred, err)))
        goto done;
    X->eval_seconds += hn_clock_s() - te0;
    X->eval_images += (double)n;
    snprintf(lab2, sizeof lab2, "%s test set", label);
    if ((rc = hn_eval_samples(m, theta, te, o->threads, &pl, tloss, tpred, err)))
        goto done;
    double Ln = 0, Wl = 0, acc = 0, tl = 0, tacc = 0;
    for (size_t i = 0; i < n; i++) {
        Ln += loss[i];
        Wl = fmax(Wl, fabs(loss[i]));
        acc += pred[i] == tr->y_class[i];
    }
    Ln /= (double)n;
    acc /= (double)n;
    for (size_t i = 0; i < te->n; i++) {
        tl += tloss[i];
        tacc += tpred[i] == te->y_class[i];
    }
    tl /= (double)te->n;
    tacc /= (double)te->n;
    hn_progress_say(&pr, 768, "train accuracy %.4f loss %.5g, test accuracy %.4f loss %.5g", acc, Ln, tacc,
               tl);

    /* 3. loss-difference curve */
    gsl_rng_set(r, derive_seed(o->seed, name, STREAM_CURVE));
    if ((rc = hn_loss_diff_curve(loss, n, o->preset.shuffles, r, mean, err)))
        goto done;
    hn_ema(mean, n - 1, o->smooth, ema);
    hn_exp_path_join(path, sizeof path, dir, "curve.csv");
    if ((rc = write_curve_csv(path, mean, ema, n - 1, err)))
        goto done;

    /* 4. Hessian: per-sample ||H_O|| and ||H_{O,k+1} - mean_k H_O|| */
    const double th0 = hn_clock_s();
    gsl_rng_set(r, derive_seed(o->seed, name, STREAM_HESS));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    gsl_ran_shuffle(r, order, n, sizeof *order);
    hn_ho_opts ho;
    hn_ho_opts_default(&ho);
    ho.threads = o->threads;
    ho.mem_limit = o->mem_limit;
    ho.seed = derive_seed(o->seed, name, STREAM_LANCZOS);
    ho.progress = pr;
    if ((rc = hn_ho_analysis(m, theta, tr, order, X->hess_n, loss, o->preset.ks, nk, &ho, hon, diff,
                             err)))
        goto done;
    const double hess_seconds = hn_clock_s() - th0;
    {
        hn_buf b;
        hn_buf_init(&b);
        hn_buf_puts(&b, "rank,sample,ho_norm\n");
        for (size_t i = 0; i < X->hess_n; i++)
            hn_buf_printf(&b, "%zu,%zu,%.17g\n", i, order[i], hon[i]);
        hn_exp_path_join(path, sizeof path, dir, "hess_norms.csv");
        rc = hn_buf_save(&b, path, err);
        hn_buf_free(&b);
        if (rc)
            goto done;
    }

    /* 5. Corollary 2 */
    double Wx = 0;
    for (size_t i = 0; i < n; i++)
        Wx = fmax(Wx, sqrt(dot(tr->x + i * tr->in_size, tr->x + i * tr->in_size, tr->in_size)));
    hn_cor2 c2;
    hn_cor2_setup(&c2, m, theta, Wl, Wx, o->R);

    /* 6. metrics.json (last: its presence marks the model done) */
    memcpy(sorted, hon, X->hess_n * sizeof *sorted);
    qsort(sorted, X->hess_n, sizeof *sorted, cmp_double);
    double hmean = 0;
    for (size_t i = 0; i < X->hess_n; i++)
        hmean += sorted[i];
    hmean /= (double)X->hess_n;
    json_t *el = json_array(), *qa = json_array(), *rows = json_array();
    for (size_t e = 0; e < X->epochs; e++)
        json_array_append_new(el, hn_json_num(epoch_loss[e]));
    for (int q = 0; q <= 100; q++)
        json_array_append_new(qa, hn_json_num(hn_quantile_sorted(sorted, X->hess_n, q / 100.0)));
    for (size_t j = 0; j < nk; j++) {
        const hn_hodiff *df = &diff[j];
        const size_t k = df->k;
        const double lr = hn_cor2_log10_rhs(&c2, k, 0);
        json_t *row = json_pack("{s:I, s:b}", "k", (json_int_t)k, "computed", df->computed);
        json_object_set_new(row, "loss_diff_mean", hn_json_num(k < n ? mean[k - 1] : NAN));
        json_object_set_new(row, "loss_diff_order", hn_json_num(df->loss_diff));
        if (df->computed) {
            json_object_set_new(row, "ho_diff_norm", hn_json_num(df->lz.norm));
            json_object_set_new(row, "lambda_max", hn_json_num(df->lz.lambda_max));
            json_object_set_new(row, "lambda_min", hn_json_num(df->lz.lambda_min));
            json_object_set_new(row, "lanczos_iterations", json_integer((json_int_t)df->lz.iterations));
            json_object_set_new(row, "lanczos_residual", hn_json_num(df->lz.residual));
            json_object_set_new(row, "converged", json_boolean(df->lz.converged));
            json_object_set_new(row, "eq1_hessian_term",
                                hn_json_num(o->R * o->R * df->lz.norm / (double)(k + 1)));
        } else {
            json_object_set_new(row, "why", json_string(df->why));
        }
        json_object_set_new(row, "log10_rhs", hn_json_num(lr));
        json_object_set_new(row, "rhs", hn_json_num(lr < 300 ? pow(10.0, lr) : NAN));
        json_object_set_new(row, "log10_rhs_alt", hn_json_num(hn_cor2_log10_rhs(&c2, k, 1)));
        json_array_append_new(rows, row);
    }
    met = json_object();
    json_object_set_new(met, "format", json_string("hessnorm-experiment-model/1"));
    json_object_set(met, "config", config);
    json_object_set_new(met, "setting", json_string(name));
    json_object_set_new(met, "params", json_integer((json_int_t)P));
    json_t *jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)n));
    json_object_set_new(jt, "accuracy", hn_json_num(acc));
    json_object_set_new(jt, "loss", hn_json_num(Ln));
    json_object_set_new(jt, "loss_max", hn_json_num(Wl));
    json_object_set_new(jt, "last_epoch_loss", hn_json_num(X->epochs ? epoch_loss[X->epochs - 1] : NAN));
    json_object_set_new(jt, "epoch_losses", el);
    json_object_set_new(met, "train", jt);
    jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)te->n));
    json_object_set_new(jt, "accuracy", hn_json_num(tacc));
    json_object_set_new(jt, "loss", hn_json_num(tl));
    json_object_set_new(met, "test", jt);
    jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)X->hess_n));
    json_object_set_new(jt, "min", hn_json_num(sorted[0]));
    json_object_set_new(jt, "median", hn_json_num(hn_quantile_sorted(sorted, X->hess_n, 0.5)));
    json_object_set_new(jt, "mean", hn_json_num(hmean));
    json_object_set_new(jt, "p90", hn_json_num(hn_quantile_sorted(sorted, X->hess_n, 0.9)));
    json_object_set_new(jt, "p99", hn_json_num(hn_quantile_sorted(sorted, X->hess_n, 0.99)));
    json_object_set_new(jt, "max", hn_json_num(sorted[X->hess_n - 1]));
    json_object_set_new(jt, "quantiles", qa);
    json_object_set_new(met, "ho_norm", jt);
    jt = json_object();
    json_object_set_new(jt, "W_l", hn_json_num(c2.W_l));
    json_object_set_new(jt, "W_x", hn_json_num(c2.W_x));
    json_object_set_new(jt, "w", hn_json_num(c2.w));
    json_object_set_new(jt, "R", hn_json_num(c2.R));
    json_object_set_new(jt, "C", json_integer((json_int_t)c2.C));
    json_object_set_new(jt, "kernel", json_integer((json_int_t)c2.kernel));
    json_object_set_new(jt, "m", json_integer((json_int_t)c2.m));
    json_object_set_new(jt, "n", json_integer((json_int_t)c2.n));
    json_object_set_new(jt, "L_paper", json_integer((json_int_t)c2.L_paper));
    json_object_set_new(jt, "log10_q2", hn_json_num(c2.log10_q2));
    json_object_set_new(jt, "log10_base", hn_json_num(c2.log10_base));
    json_object_set_new(jt, "log10_theorem2_bound", hn_json_num(c2.log10_thm2));
    json_object_set_new(jt, "log10_theorem2_bound_alt", hn_json_num(c2.log10_thm2_alt));
    json_object_set_new(jt, "rows", rows);
    json_object_set_new(met, "corollary2", jt);

    {
        json_t *tj = json_object();
        json_object_set_new(tj, "threads", json_integer(hn_resolve_threads(o->threads)));
        json_object_set_new(tj, "train_seconds", hn_json_num(tst.seconds));
        json_object_set_new(tj, "train_images_per_s", hn_json_num(tst.images_per_s));
        json_object_set_new(tj, "hessian_seconds", hn_json_num(hess_seconds));
        json_object_set_new(tj, "total_seconds", hn_json_num(hn_clock_s() - t_start));
        hn_exp_path_join(path, sizeof path, dir, "timing.json");
        rc = hn_json_save(tj, path, HN_JSON_FLAGS, 1, err);
        json_decref(tj);
        if (rc)
            goto done;
    }
    hn_exp_path_join(path, sizeof path, dir, "metrics.json");
    rc = hn_json_save(met, path, HN_JSON_FLAGS, 1, err);
    hn_progress_say(&pr, 768, "done in %.1fs", hn_clock_s() - t_start);
done:
    json_decref(met);
    if (r)
        gsl_rng_free(r);
    hn_model_free(m);
    hn_free(theta);
    hn_free(epoch_loss);
    hn_free(loss);
    hn_free(pred);
    hn_free(tloss);
    hn_free(tpred);
    hn_free(mean);
    hn_free(ema);
    hn_free(order);
    hn_free(hon);
    hn_free(sorted);
    return rc;
}

/* ------------------------------------------------------------ resume */

/* The models' results always come back from their files: see
 * hn_experiment_run. */
static int load_curve(const char *path, mres *r, hn_err *err)
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

/* ------------------------------------------------------------ the sweep */

int hn_experiment_run(const hn_dataset *train, const hn_dataset *test,
                      const hn_experiment_opts *o, hn_experiment_summary *sum, hn_err *err)
{
    if (sum)
        memset(sum, 0, sizeof *sum);
    if (!train || !test || !o || !o->out_dir || !o->dataset)
        return hn_err_set(err, HN_EINVAL, "experiment: missing argument");
    if (strlen(o->out_dir) == 0 || strlen(o->out_dir) > HN_DIR_MAX)
        return hn_err_set(err, HN_EINVAL, "--out: the directory name must have 1 to %d characters",
                          HN_DIR_MAX);
    if (train->c != test->c || train->h != test->h || train->w != test->w)
        return hn_err_set(err, HN_ESHAPE, "experiment: train images %zux%zux%zu but test images %zux%zux%zu",
                          train->c, train->h, train->w, test->c, test->h, test->w);
    if (o->preset.shuffles == 0)
        return hn_err_set(err, HN_EINVAL, "--shuffles: must be a positive integer");
    if (o->preset.n_ks > 4)
        return hn_err_set(err, HN_EINVAL, "experiment: at most 4 values of k");
    if (!(o->smooth >= 0 && o->smooth < 1))
        return hn_err_set(err, HN_EINVAL, "experiment: smoothing coefficient %g outside [0, 1)", o->smooth);
    hn_arch sweep_set[32];
    const hn_arch *set = o->settings;
    size_t nset = o->n_settings;
    if (!set) {
        nset = hn_sweep_settings(o->sweep, o->preset.values, sweep_set, 32);
        set = sweep_set;
    }
    if (nset == 0 || nset > 32)
        return hn_err_set(err, HN_EINVAL, "experiment: %zu settings (1..32 allowed)", nset);

    const double t0 = hn_clock_s();
    xctx X;
    memset(&X, 0, sizeof X);
    X.o = o;
    X.train_total = train->n;
    X.C_in = train->c;
    X.H = train->h;
    X.W = train->w;
    X.epochs = o->preset.epochs ? o->preset.epochs : hn_paper_epochs(o->dataset);
    int rc = HN_OK;
    size_t *pick = NULL;
    mres *res = hn_calloc(nset, sizeof *res);
    if (!res)
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    /* the training subset: a seeded random choice, the same for every model */
    size_t ntr = o->preset.train_n && o->preset.train_n < train->n ? o->preset.train_n : train->n;
    if (ntr < 2) {
        rc = hn_err_set(err, HN_EINVAL, "experiment: need at least 2 training images, got %zu", ntr);
        goto done;
    }
    if (ntr < train->n) {
        size_t *all = hn_calloc(train->n, sizeof *all);
        pick = hn_calloc(ntr, sizeof *pick);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        if (!all || !pick || !r) {
            hn_free(all);
            if (r)
                gsl_rng_free(r);
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
            goto done;
        }
        for (size_t i = 0; i < train->n; i++)
            all[i] = i;
        gsl_rng_set(r, derive_seed(o->seed, "data", STREAM_DATA));
        gsl_ran_choose(r, pick, ntr, all, train->n, sizeof *all);
        hn_free(all);
        gsl_rng_free(r);
    }
    if ((rc = hn_sample_set_init(&X.train, train, pick, ntr, err)))
        goto done;
    {
        size_t nte = o->preset.test_n && o->preset.test_n < test->n ? o->preset.test_n : test->n;
        if ((rc = hn_sample_set_init(&X.test, test, NULL, nte, err)))
            goto done;
    }
    X.hess_n = o->preset.hess_n && o->preset.hess_n < ntr ? o->preset.hess_n : ntr;
    {
        json_t *ks = json_array();
        for (size_t j = 0; j < o->preset.n_ks; j++)
            json_array_append_new(ks, json_integer((json_int_t)o->preset.ks[j]));
        hn_ho_opts hd;
        hn_ho_opts_default(&hd);
        X.config_base = json_pack(
            "{s:s, s:s, s:s, s:I, s:[I,I,I], s:I, s:I, s:I, s:I, s:f, s:[f,f], s:f, s:I, s:I, s:o, "
            "s:f, s:f, s:f, s:f, s:I}",
            "format", "hessnorm-experiment/1", "dataset", o->dataset, "preset", o->preset.name, "seed",
            (json_int_t)o->seed, "input", (json_int_t)train->c, (json_int_t)train->h,
            (json_int_t)train->w, "train_n", (json_int_t)ntr, "train_total", (json_int_t)train->n,
            "test_n", (json_int_t)X.test.s.n, "epochs", (json_int_t)X.epochs, "lr", 1e-3, "betas",
            0.9, 0.999, "eps", 1e-8, "batch", (json_int_t)64, "shuffles",
            (json_int_t)o->preset.shuffles, "ks", ks, "smooth", o->smooth, "R", o->R, "mem_limit",
            o->mem_limit, "lanczos_rtol", hd.rtol, "lanczos_max_iter", (json_int_t)hd.max_iter);
        if (!X.config_base) {
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
            goto done;
        }
        json_object_set_new(X.config_base, "hess_n", json_integer((json_int_t)X.hess_n));
    }
    if ((rc = hn_mkdir_p(o->out_dir, err)))
        goto done;
    char mdir[PATH_BUF], path[PATH_BUF];
    hn_exp_path_join(mdir, sizeof mdir, o->out_dir, "models");
    if ((rc = hn_mkdir_p(mdir, err)))
        goto done;
    hn_progress_line(o->progress, o->progress_ctx, 600, "%s sweep on %s (%s preset): %zu models, %zu training / %zu test images, %zu epoch(s), "
                    "output %s",
                 o->settings ? "custom" : hn_sweep_name(o->sweep), hn_exp_ds_title(o->dataset),
                 o->preset.name, nset, ntr, X.test.s.n, X.epochs, o->out_dir);
    for (size_t i = 0; i < nset && !rc; i++) {
        mres *r = &res[i];
        r->arch = set[i];
        hn_arch_name(&set[i], r->name, sizeof r->name);
        char dir[PATH_BUF];
        hn_exp_path_join(dir, sizeof dir, mdir, r->name);
        hn_exp_path_join(path, sizeof path, dir, "metrics.json");
        json_t *cfg = model_config(&X, &set[i], r->name);
        if (!cfg) {
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
            break;
        }
        json_t *old = file_exists(path) ? json_load_file(path, 0, NULL) : NULL;
        if (old && json_is_object(old) && json_object_get(old, "config")) {
            if (!json_equal(json_object_get(old, "config"), cfg)) {
                rc = hn_err_set(err, HN_EINVAL,
                                "%s: config: the model was made with other settings (dataset, preset, seed "
                                "or options); use another --out or delete it",
                                path);
                json_decref(old);
                json_decref(cfg);
                break;
            }
            hn_progress_line(o->progress, o->progress_ctx, 600, "model %zu/%zu %s: done already (%s), skipped", i + 1, nset, r->name, path);
            if (sum)
                sum->resumed++;
        } else {
            json_decref(old);
            old = NULL;
            rc = run_model(&X, i, nset, &set[i], r->name, dir, cfg, err);
            if (!rc && sum)
                sum->trained++;
        }
        json_decref(old);
        json_decref(cfg);
        if (rc)
            break;
        /* results always come back from the files: a resumed sweep and an
         * uninterrupted one build the report from the same bytes */
        json_error_t je;
        r->met = json_load_file(path, 0, &je);
        if (!r->met) {
            rc = hn_err_set(err, HN_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
            break;
        }
        hn_exp_path_join(path, sizeof path, dir, "curve.csv");
        rc = load_curve(path, r, err);
    }
    if (!rc) {
        int drawn = 0;
        hn_progress_line(o->progress, o->progress_ctx, 600, "writing the report in %s", o->out_dir);
        rc = hn_exp_write_report(o, &X, res, nset, &drawn, err);
        if (sum)
            sum->figures_drawn = drawn;
    }
    if (sum) {
        sum->models = nset;
        sum->seconds = hn_clock_s() - t0;
        sum->train_images_per_s = X.train_seconds > 0 ? X.train_images / X.train_seconds : 0;
        sum->eval_images_per_s = X.eval_seconds > 0 ? X.eval_images / X.eval_seconds : 0;
    }
done:
    for (size_t i = 0; i < nset; i++) {
        json_decref(res[i].met);
        hn_free(res[i].mean);
        hn_free(res[i].ema);
    }
    hn_free(res);
    hn_free(pick);
    json_decref(X.config_base);
    hn_sample_set_free(&X.train);
    hn_sample_set_free(&X.test);
    return rc;
}
