/* hessnorm — what a sweep's output folder is for (sweep.json), which
 * settings a shard trains, and the sweep-level report rebuilt from the
 * models finished on disk (hessnorm experiment --report-only).  Uses
 * sweep.c, model_run.c's loading and report.c. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/experiment.h"
#include "hessnorm/seed.h"
#include "base/json.h"
#include "experiment/internal.h"

/* ------------------------------------------------------------ shards */

size_t hn_experiment_shard_of(const char *key, size_t n)
{
    if (n == 0)
        return 0;
    return 1 + (size_t)(hn_seed_mix64(hn_fnv1a64(key)) % n);
}

void hn_exp_shard_key(const hn_experiment_opts *o, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s", o->dataset, o->settings ? "custom" : hn_sweep_name(o->sweep), name);
}

size_t hn_experiment_shard_count(const hn_experiment_opts *o)
{
    hn_arch tmp[32];
    const hn_arch *set = o->settings ? o->settings : tmp;
    size_t n = o->settings ? o->n_settings : hn_sweep_settings(o->sweep, o->preset.values, tmp, 32);
    if (n > 32 && !o->settings)
        n = 32;
    if (!o->shard_n)
        return n;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        char name[64], key[256];
        hn_arch_name(&set[i], name, sizeof name);
        hn_exp_shard_key(o, name, key, sizeof key);
        c += hn_experiment_shard_of(key, o->shard_n) == o->shard_i;
    }
    return c;
}

/* ------------------------------------------------------------ sweep.json */

static const char *pool_word(hn_pool_kind k)
{
    return k == HN_POOL_MAX ? "max" : k == HN_POOL_AVG ? "avg" : "none";
}

static json_t *settings_json(const hn_arch *set, size_t nset)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < nset; i++) {
        char name[64];
        hn_arch_name(&set[i], name, sizeof name);
        if (json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I, s:s, s:I}", "name", name, "layers",
                                               (json_int_t)set[i].layers, "kernel", (json_int_t)set[i].kernel,
                                               "channels", (json_int_t)set[i].channels, "pool",
                                               pool_word(set[i].pool), "pool_pos",
                                               (json_int_t)set[i].pool_pos))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int hn_exp_sweep_json(const hn_exp_ctx *X, const hn_arch *set, size_t nset, int write, hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    char path[HN_EXP_PATH_BUF];
    hn_exp_path_join(path, sizeof path, o->out_dir, "sweep.json");
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o}", "format", "hessnorm-sweep/1", "dataset",
                          o->dataset, "sweep", o->settings ? "custom" : hn_sweep_name(o->sweep), "note",
                          o->dataset_note ? o->dataset_note : "", "config", X->config_base, "settings",
                          settings_json(set, nset));
    if (!j)
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    int rc = HN_OK;
    if (!hn_exp_file_exists(path) && !write) {
        json_decref(j);
        return HN_OK;
    }
    if (!hn_exp_file_exists(path)) {
        /* shards starting together all write it; a writer's clean-up of
         * stale temporaries can remove another's: then the other's is in
         * place, and is compared below like any existing one */
        hn_err werr;
        hn_err_clear(&werr);
        rc = hn_json_save(j, path, HN_JSON_FLAGS, 1, &werr);
        if (rc && !hn_exp_file_exists(path)) {
            *err = werr;
            json_decref(j);
            return rc;
        }
        rc = HN_OK;
    }
    json_t *old = json_load_file(path, 0, NULL);
    if (!old) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: not a hessnorm sweep description; use another --out or delete it",
                        path);
    } else {
        static const char *const keys[] = {"format", "dataset", "sweep", "config", "settings"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys && !rc; k++)
            if (!json_equal(json_object_get(old, keys[k]), json_object_get(j, keys[k])))
                rc = hn_err_set(err, HN_EINVAL,
                                "%s: %s: the folder holds a sweep made with other settings (dataset, sweep, "
                                "preset, seed or options); use another --out or delete it",
                                path, keys[k]);
    }
    json_decref(old);
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------ the report from the folder */

/* The sweep of sweep.json j into o (dataset, sweep or custom settings
 * into set[], preset name and shuffles, seed, smoothing) and X. */
static int sweep_from_json(const char *path, json_t *j, hn_experiment_opts *o, hn_exp_ctx *X,
                           hn_arch *set, size_t *nset, hn_err *err)
{
    const json_t *cfg = json_object_get(j, "config"), *st = json_object_get(j, "settings");
    const char *ds = json_string_value(json_object_get(j, "dataset"));
    const char *sw = json_string_value(json_object_get(j, "sweep"));
    const char *pr = json_string_value(json_object_get(cfg, "preset"));
    json_int_t seed, shuffles, epochs, hess_n, train_total;
    double smooth;
    if (!ds || !sw || !pr || !json_is_array(st) || json_array_size(st) == 0 || json_array_size(st) > 32 ||
        json_unpack((json_t *)cfg, "{s:I, s:I, s:I, s:I, s:I, s:F}", "seed", &seed, "shuffles", &shuffles,
                    "epochs", &epochs, "hess_n", &hess_n, "train_total", &train_total, "smooth", &smooth) ||
        strcmp(json_string_value(json_object_get(j, "format")) ? json_string_value(json_object_get(j, "format")) : "",
               "hessnorm-sweep/1"))
        return hn_err_set(err, HN_EFORMAT, "%s: not a hessnorm sweep description", path);
    hn_experiment_opts_default(o);
    o->dataset = ds;
    o->dataset_note = json_string_value(json_object_get(j, "note"));
    snprintf(o->preset.name, sizeof o->preset.name, "%s", pr);
    o->preset.shuffles = (size_t)shuffles;
    o->seed = (unsigned long)seed;
    o->smooth = smooth;
    *nset = json_array_size(st);
    for (size_t i = 0; i < *nset; i++) {
        const json_t *a = json_array_get(st, i);
        json_int_t L, k, C, pos;
        const char *pool, *name;
        if (json_unpack((json_t *)a, "{s:s, s:I, s:I, s:I, s:s, s:I}", "name", &name, "layers", &L, "kernel",
                        &k, "channels", &C, "pool", &pool, "pool_pos", &pos) || L < 1 || k < 1 || C < 1 ||
            pos < 0)
            return hn_err_set(err, HN_EFORMAT, "%s: settings[%zu]: not a setting", path, i);
        set[i] = (hn_arch){(size_t)L, (size_t)k, (size_t)C,
                           !strcmp(pool, "max") ? HN_POOL_MAX : !strcmp(pool, "avg") ? HN_POOL_AVG : HN_POOL_NONE,
                           (size_t)pos};
    }
    if (!strcmp(sw, "custom")) {
        o->settings = set;
        o->n_settings = *nset;
    } else {
        int rc = hn_sweep_parse(sw, &o->sweep, err);
        if (rc)
            return rc;
    }
    X->o = o;
    X->config_base = (json_t *)cfg;
    X->epochs = (size_t)epochs;
    X->hess_n = (size_t)hess_n;
    X->train_total = (size_t)train_total;
    return HN_OK;
}

/* res[*nr] from each setting whose metrics.json exists (its config must
 * be the sweep's); the others' names into info->missing. */
static int collect_models(const hn_exp_ctx *X, const hn_arch *set, size_t nset, hn_exp_result *res,
                          size_t *nr, hn_experiment_report_info *info, hn_err *err)
{
    char mdir[HN_EXP_PATH_BUF], dir[HN_EXP_PATH_BUF], path[HN_EXP_PATH_BUF];
    hn_exp_path_join(mdir, sizeof mdir, X->o->out_dir, "models");
    *nr = 0;
    for (size_t i = 0; i < nset; i++) {
        hn_exp_result *r = &res[*nr];
        memset(r, 0, sizeof *r);
        r->arch = set[i];
        hn_arch_name(&set[i], r->name, sizeof r->name);
        hn_exp_path_join(dir, sizeof dir, mdir, r->name);
        hn_exp_path_join(path, sizeof path, dir, "metrics.json");
        if (!hn_exp_file_exists(path)) {
            size_t len = strlen(info->missing);
            snprintf(info->missing + len, sizeof info->missing - len, "%s%s", len ? ", " : "", r->name);
            continue;
        }
        int rc = hn_exp_model_load(dir, r, err);
        json_t *cfg = rc ? NULL : hn_exp_model_config(X, &set[i], r->name);
        if (!rc && !cfg)
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
        if (!rc && !json_equal(json_object_get(r->met, "config"), cfg))
            rc = hn_err_set(err, HN_EINVAL, "%s: config: the model was made with other settings than %s/sweep.json",
                            path, X->o->out_dir);
        json_decref(cfg);
        (*nr)++; /* freed by the caller, loaded or not */
        if (rc)
            return rc;
    }
    info->complete = *nr;
    return HN_OK;
}

int hn_experiment_report(const char *out_dir, int figures, hn_experiment_report_info *info,
                         hn_err *err)
{
    memset(info, 0, sizeof *info);
    if (!out_dir || !out_dir[0] || strlen(out_dir) > HN_EXP_DIR_MAX)
        return hn_err_set(err, HN_EINVAL, "--out: the directory name must have 1 to %d characters",
                          HN_EXP_DIR_MAX);
    char path[HN_EXP_PATH_BUF];
    hn_exp_path_join(path, sizeof path, out_dir, "sweep.json");
    if (!hn_exp_file_exists(path))
        return hn_err_set(err, HN_EIO, "%s: no such file (not the --out of a hessnorm experiment)", path);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return hn_err_set(err, HN_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    hn_experiment_opts o;
    hn_exp_ctx X;
    memset(&X, 0, sizeof X);
    hn_arch set[32];
    size_t nset = 0, nr = 0;
    hn_exp_result res[32];
    int rc = sweep_from_json(path, j, &o, &X, set, &nset, err);
    if (!rc) {
        o.out_dir = out_dir;
        o.figures = figures;
        info->settings = nset;
        rc = collect_models(&X, set, nset, res, &nr, info, err);
    }
    if (!rc && nr == 0)
        rc = hn_err_set(err, HN_EINVAL, "%s: none of the %zu models is finished yet (missing: %s)", out_dir,
                        nset, info->missing);
    if (!rc) {
        X.missing = info->missing[0] ? info->missing : NULL;
        rc = hn_exp_write_report(&o, &X, res, nr, &info->figures_drawn, err);
    }
    for (size_t i = 0; i < nr; i++) {
        json_decref(res[i].met);
        hn_free(res[i].mean);
        hn_free(res[i].ema);
    }
    json_decref(j);
    return rc;
}
