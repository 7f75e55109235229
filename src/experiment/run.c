/* hessnorm — hn_experiment_run, the sweep driver: the arguments checked,
 * the training subset drawn, the sweep-wide config, every model trained or
 * resumed (model_run.c) and read back, then the report (report.c).  The
 * top of src/experiment/. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/experiment.h"
#include "hessnorm/file.h"
#include "base/threads.h"
#include "experiment/internal.h"
#include "hessnorm/seed.h"
#include "base/clock.h"
#include "base/progress.h"

/* ------------------------------------------------------------ the sweep */

static int check_args(const hn_dataset *train, const hn_dataset *test, const hn_experiment_opts *o,
                      hn_err *err)
{
    if (!train || !test || !o || !o->out_dir || !o->dataset)
        return hn_err_set(err, HN_EINVAL, "experiment: missing argument");
    if (strlen(o->out_dir) == 0 || strlen(o->out_dir) > HN_EXP_DIR_MAX)
        return hn_err_set(err, HN_EINVAL, "--out: the directory name must have 1 to %d characters",
                          HN_EXP_DIR_MAX);
    if (train->c != test->c || train->h != test->h || train->w != test->w)
        return hn_err_set(err, HN_ESHAPE, "experiment: train images %zux%zux%zu but test images %zux%zux%zu",
                          train->c, train->h, train->w, test->c, test->h, test->w);
    if (o->preset.shuffles == 0)
        return hn_err_set(err, HN_EINVAL, "--shuffles: must be a positive integer");
    if (o->shard_n && (o->shard_i < 1 || o->shard_i > o->shard_n))
        return hn_err_set(err, HN_EINVAL, "--shard: shard %zu of %zu (expected 1..%zu)", o->shard_i,
                          o->shard_n, o->shard_n);
    if (o->preset.n_ks > 4)
        return hn_err_set(err, HN_EINVAL, "experiment: at most 4 values of k");
    if (!(o->smooth >= 0 && o->smooth < 1))
        return hn_err_set(err, HN_EINVAL, "experiment: smoothing coefficient %g outside [0, 1)", o->smooth);
    return HN_OK;
}

/* The training subset: a seeded random choice of ntr of train's images,
 * the same for every model; *pick stays NULL when all are used. */
static int pick_train(const hn_experiment_opts *o, const hn_dataset *train, size_t ntr, size_t **pick,
                      hn_err *err)
{
    if (ntr >= train->n)
        return HN_OK;
    size_t *all = hn_calloc(train->n, sizeof *all);
    *pick = hn_calloc(ntr, sizeof **pick);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!all || !*pick || !r) {
        hn_free(all);
        if (r)
            gsl_rng_free(r);
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    }
    for (size_t i = 0; i < train->n; i++)
        all[i] = i;
    gsl_rng_set(r, hn_seed_derive(o->seed, "data", HN_EXP_STREAM_DATA));
    gsl_ran_choose(r, *pick, ntr, all, train->n, sizeof *all);
    hn_free(all);
    gsl_rng_free(r);
    return HN_OK;
}

/* X->config_base: the sweep-wide part of every model's config. */
static int config_base(hn_exp_ctx *X, const hn_dataset *train, size_t ntr, hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    json_t *ks = json_array();
    for (size_t j = 0; j < o->preset.n_ks; j++)
        json_array_append_new(ks, json_integer((json_int_t)o->preset.ks[j]));
    hn_ho_opts hd;
    hn_ho_opts_default(&hd);
    X->config_base = json_pack(
        "{s:s, s:s, s:s, s:I, s:[I,I,I], s:I, s:I, s:I, s:I, s:f, s:[f,f], s:f, s:I, s:I, s:o, "
        "s:f, s:f, s:f, s:f, s:I}",
        "format", "hessnorm-experiment/1", "dataset", o->dataset, "preset", o->preset.name, "seed",
        (json_int_t)o->seed, "input", (json_int_t)train->c, (json_int_t)train->h,
        (json_int_t)train->w, "train_n", (json_int_t)ntr, "train_total", (json_int_t)train->n,
        "test_n", (json_int_t)X->test.s.n, "epochs", (json_int_t)X->epochs, "lr", 1e-3, "betas",
        0.9, 0.999, "eps", 1e-8, "batch", (json_int_t)64, "shuffles",
        (json_int_t)o->preset.shuffles, "ks", ks, "smooth", o->smooth, "R", o->R, "mem_limit",
        o->mem_limit, "lanczos_rtol", hd.rtol, "lanczos_max_iter", (json_int_t)hd.max_iter);
    if (!X->config_base)
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    json_object_set_new(X->config_base, "hess_n", json_integer((json_int_t)X->hess_n));
    return HN_OK;
}

/* The sweep's state: the training subset and the test images as samples,
 * the number analysed for the Hessian, the config. */
static int setup(hn_exp_ctx *X, const hn_dataset *train, const hn_dataset *test, size_t **pick,
                 hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    size_t ntr = o->preset.train_n && o->preset.train_n < train->n ? o->preset.train_n : train->n;
    if (ntr < 2)
        return hn_err_set(err, HN_EINVAL, "experiment: need at least 2 training images, got %zu", ntr);
    int rc = pick_train(o, train, ntr, pick, err);
    if (rc || (rc = hn_sample_set_init(&X->train, train, *pick, ntr, err)))
        return rc;
    size_t nte = o->preset.test_n && o->preset.test_n < test->n ? o->preset.test_n : test->n;
    if ((rc = hn_sample_set_init(&X->test, test, NULL, nte, err)))
        return rc;
    X->hess_n = o->preset.hess_n && o->preset.hess_n < ntr ? o->preset.hess_n : ntr;
    return config_base(X, train, ntr, err);
}

/* Every model of the sweep (of o's shard only, with one) in
 * out_dir/models, trained or resumed, and read back into res[0..*nres-1];
 * sweep.json checked first and written last. */
static int run_models(hn_exp_ctx *X, const hn_arch *set, size_t nset, hn_exp_result *res,
                      size_t *nres, hn_experiment_summary *sum, hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    char mdir[HN_EXP_PATH_BUF], path[HN_EXP_PATH_BUF];
    *nres = 0;
    int rc = hn_mkdir_p(o->out_dir, err);
    if (rc || (rc = hn_exp_sweep_json(X, set, nset, 0, err)))
        return rc;
    hn_exp_path_join(mdir, sizeof mdir, o->out_dir, "models");
    if ((rc = hn_mkdir_p(mdir, err)))
        return rc;
    const size_t nrun = hn_experiment_shard_count(o);
    char shard[64] = "";
    if (o->shard_n)
        snprintf(shard, sizeof shard, " (shard %zu/%zu: %zu of them)", o->shard_i, o->shard_n, nrun);
    hn_progress_line(o->progress, o->progress_ctx, 600, "%s sweep on %s (%s preset): %zu models%s, %zu training / %zu test images, %zu epoch(s), "
                    "output %s",
                 o->settings ? "custom" : hn_sweep_name(o->sweep), hn_exp_ds_title(o->dataset),
                 o->preset.name, nset, shard, X->train.s.n, X->test.s.n, X->epochs, o->out_dir);
    for (size_t i = 0, mi = 0; i < nset && !rc; i++) {
        char name[64], key[256];
        hn_arch_name(&set[i], name, sizeof name);
        hn_exp_shard_key(o, name, key, sizeof key);
        if (o->shard_n && hn_experiment_shard_of(key, o->shard_n) != o->shard_i)
            continue;
        hn_exp_result *r = &res[(*nres)++];
        r->arch = set[i];
        snprintf(r->name, sizeof r->name, "%s", name);
        char dir[HN_EXP_PATH_BUF];
        hn_exp_path_join(dir, sizeof dir, mdir, r->name);
        int resumed = 0;
        if ((rc = hn_exp_model_ensure(X, mi++, nrun, &set[i], r->name, dir, &resumed, err)))
            break;
        if (resumed) {
            hn_exp_path_join(path, sizeof path, dir, "metrics.json");
            hn_progress_line(o->progress, o->progress_ctx, 600, "model %zu/%zu %s: done already (%s), skipped", mi, nrun, r->name, path);
        }
        if (sum && resumed)
            sum->resumed++;
        else if (sum)
            sum->trained++;
        rc = hn_exp_model_load(dir, r, err);
    }
    return rc ? rc : hn_exp_sweep_json(X, set, nset, 1, err);
}

/* Largest image side tried when looking for the smallest one every model
 * of the sweep accepts (the paper's sweeps need at most 16). */
#define HN_EXP_MAX_SIDE 1024

/* 1 when every model of the set builds on c x h x w images, else 0 with
 * the first failure in err. */
static int all_build(const hn_arch *set, size_t nset, size_t c, size_t h, size_t w, hn_err *err)
{
    for (size_t i = 0; i < nset; i++) {
        hn_model *m = NULL;
        int rc = hn_arch_model(&set[i], c, h, w, 10, &m, err);
        hn_model_free(m);
        if (rc == HN_ENOMEM)
            return -1;
        if (rc) /* the message names the model */
            return 0;
    }
    return 1;
}

/* Before anything is trained or written: every model of the sweep must
 * fit the data's images; else one line naming the data file, its image
 * size and the smallest size the sweep accepts. */
static int check_sweep_fits(const hn_dataset *train, const hn_arch *set, size_t nset,
                            const hn_experiment_opts *o, hn_err *err)
{
    if (!train)
        return hn_err_set(err, HN_EINVAL, "experiment: missing argument");
    hn_err first;
    hn_err_clear(&first);
    int ok = all_build(set, nset, train->c, train->h, train->w, &first);
    if (ok < 0)
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    if (ok)
        return HN_OK;
    const char *what = o->settings ? "custom" : hn_sweep_name(o->sweep);
    const char *src = train->source ? train->source : "the training data";
    hn_err tmp;
    for (size_t side = train->h > train->w ? train->h : train->w; side <= HN_EXP_MAX_SIDE; side++)
        if (all_build(set, nset, train->c, side, side, &tmp) == 1)
            return hn_err_set(err, HN_ESHAPE,
                              "%s: %zux%zu images; the %s sweep needs at least %zux%zu (%s)", src,
                              train->h, train->w, what, side, side, first.msg);
    return hn_err_set(err, HN_ESHAPE, "%s: %zux%zu images; the %s sweep does not fit them (%s)", src,
                      train->h, train->w, what, first.msg);
}

/* The models of o's sweep (into buf, at most 32). */
static size_t sweep_set(const hn_experiment_opts *o, hn_arch *buf, const hn_arch **set)
{
    if (o->settings) {
        *set = o->settings;
        return o->n_settings;
    }
    *set = buf;
    return hn_sweep_settings(o->sweep, o->preset.values, buf, 32);
}

int hn_experiment_check_data(const hn_dataset *train, const hn_experiment_opts *o, hn_err *err)
{
    hn_arch buf[32];
    const hn_arch *set;
    size_t nset = sweep_set(o, buf, &set);
    if (nset == 0 || nset > 32)
        return hn_err_set(err, HN_EINVAL, "experiment: %zu settings (1..32 allowed)", nset);
    return check_sweep_fits(train, set, nset, o, err);
}

int hn_experiment_run(const hn_dataset *train, const hn_dataset *test,
                      const hn_experiment_opts *o, hn_experiment_summary *sum, hn_err *err)
{
    if (sum)
        memset(sum, 0, sizeof *sum);
    int rc = check_args(train, test, o, err);
    if (rc)
        return rc;
    hn_arch buf[32];
    const hn_arch *set;
    size_t nset = sweep_set(o, buf, &set);
    if (nset == 0 || nset > 32)
        return hn_err_set(err, HN_EINVAL, "experiment: %zu settings (1..32 allowed)", nset);
    if ((rc = check_sweep_fits(train, set, nset, o, err)))
        return rc;

    const double t0 = hn_clock_s();
    hn_exp_ctx X;
    memset(&X, 0, sizeof X);
    X.o = o;
    X.t0 = hn_clock_s();
    X.train_total = train->n;
    X.C_in = train->c;
    X.H = train->h;
    X.W = train->w;
    X.epochs = o->preset.epochs ? o->preset.epochs : hn_paper_epochs(o->dataset);
    size_t *pick = NULL;
    hn_exp_result *res = hn_calloc(nset, sizeof *res);
    if (!res)
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    if ((rc = setup(&X, train, test, &pick, err)))
        goto done;
    size_t nres = 0;
    rc = run_models(&X, set, nset, res, &nres, sum, err);
    if (!rc && o->shard_n) {
        hn_progress_line(o->progress, o->progress_ctx, 600,
                         "shard %zu/%zu done: no report (hessnorm experiment --report-only --out %s "
                         "builds it once every shard is done)", o->shard_i, o->shard_n, o->out_dir);
    } else if (!rc) {
        int drawn = 0;
        hn_progress_line(o->progress, o->progress_ctx, 600, "writing the report in %s", o->out_dir);
        rc = hn_exp_write_report(o, &X, res, nset, &drawn, err);
        if (sum)
            sum->figures_drawn = drawn;
    }
    if (sum) {
        sum->models = nres;
        sum->seconds = hn_clock_s() - t0;
        sum->train_images_per_s = X.train_seconds > 0 ? X.train_images / X.train_seconds : 0;
        sum->eval_images_per_s = X.eval_seconds > 0 ? X.eval_images / X.eval_seconds : 0;
    }
done:
    for (size_t i = 0; i < nset; i++) { /* unused entries are zero */
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
