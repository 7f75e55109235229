/* hessnorm — the experiment's vocabulary: the sweeps of Figures 1-4 and
 * their settings, the presets, the options' defaults, dataset titles and
 * the paths under the output folder.  The bottom of src/experiment/: it
 * calls none of the other files. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "hessnorm/experiment.h"
#include "experiment/internal.h"

/* ------------------------------------------------------------ paths and titles */

__attribute__((noinline)) void hn_exp_path_join(char *out, size_t n, const char *a, const char *b)
{
    snprintf(out, n, "%s/%s", a, b);
}

const char *hn_exp_ds_title(const char *ds)
{
    if (!strcmp(ds, "mnist"))
        return "MNIST";
    if (!strcmp(ds, "fashion-mnist"))
        return "FashionMNIST";
    if (!strcmp(ds, "cifar10"))
        return "CIFAR10";
    return ds;
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
    o->time_limit = -1;
}
