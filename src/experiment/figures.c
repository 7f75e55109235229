/* hessnorm — the experiment's figures: gnuplot scripts over curves.csv and
 * hessnorm_quantiles.csv, their file stems and legends.  Uses sweep.c and
 * the results of model_run.c; report.c places the figures. */
#include "config.h"
#include <stdio.h>
#include "hessnorm/buf.h"
#include "hessnorm/experiment.h"
#include "hessnorm/gnuplot.h"
#include "experiment/internal.h"

/* Legend label of a setting within its figure. */
static void setting_label(const hn_experiment_opts *o, const hn_exp_result *r, char *b, size_t n)
{
    if (o->settings) {
        snprintf(b, n, "%s", r->name);
        return;
    }
    switch (o->sweep) {
    case HN_SWEEP_LAYERS: snprintf(b, n, "%zu", r->arch.layers); break;
    case HN_SWEEP_KERNEL: snprintf(b, n, "%zu", r->arch.kernel); break;
    case HN_SWEEP_CHANNELS: snprintf(b, n, "%zu", r->arch.channels); break;
    case HN_SWEEP_POOLING: snprintf(b, n, "%zu", r->arch.pool_pos); break;
    }
}

const char *hn_exp_legend_title(const hn_experiment_opts *o, hn_pool_kind g)
{
    if (o->settings)
        return "setting";
    switch (o->sweep) {
    case HN_SWEEP_LAYERS: return "L (num of layers)";
    case HN_SWEEP_KERNEL: return "k (kernel size)";
    case HN_SWEEP_CHANNELS: return "C (num of channels)";
    case HN_SWEEP_POOLING: return g == HN_POOL_MAX ? "max-pool position" : "avg-pool position";
    }
    return "";
}

/* File stem of a figure group: "<dataset>_change_layers" as the authors'. */
void hn_exp_fig_stem(const hn_experiment_opts *o, hn_pool_kind g, char *b, size_t n)
{
    char ds[32];
    snprintf(ds, sizeof ds, "%s", o->dataset);
    for (char *p = ds; *p; p++)
        if (*p == '-')
            *p = '_';
    const char *tag = "change_layers";
    if (o->settings)
        tag = g == HN_POOL_MAX ? "settings_maxpool" : g == HN_POOL_AVG ? "settings_avgpool" : "settings";
    else if (o->sweep == HN_SWEEP_KERNEL)
        tag = "change_kers";
    else if (o->sweep == HN_SWEEP_CHANNELS)
        tag = "change_channels";
    else if (o->sweep == HN_SWEEP_POOLING)
        tag = g == HN_POOL_MAX ? "change_maxpool_pos" : "change_avgpool_pos";
    snprintf(b, n, "%s_%s", ds, tag);
}

/* One figure: curves of the settings in `sel` (indices into res), from k0;
 * logx for the from-1 view.  kind 0: curves from curves.csv, 1: ||H_O||
 * quantiles from hessnorm_quantiles.csv. */
int hn_exp_draw_figure(const hn_experiment_opts *o, const hn_exp_result *res, const size_t *sel,
                       size_t ns, const size_t *col, int kind, size_t k0, int logx, const char *title,
                       const char *ylabel, const char *legend, const char *png, int cairo,
                       hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    char csv[HN_EXP_PATH_BUF];
    hn_exp_path_join(csv, sizeof csv, o->out_dir, kind ? "hessnorm_quantiles.csv" : "curves.csv");
    hn_buf_printf(&b, "set terminal %s size 900,620 font ',12'\nset output @OUT@\n",
                  cairo ? "pngcairo" : "png");
    hn_buf_puts(&b, "set termoption noenhanced\nset datafile separator ','\nset grid\nset title ");
    hn_gnuplot_quote(&b, title);
    hn_buf_puts(&b, "\nset xlabel ");
    hn_gnuplot_quote(&b, kind ? "quantile level q (fraction of samples with smaller ||H_O,i||)" : "k (sample size)");
    hn_buf_puts(&b, "\nset ylabel ");
    hn_gnuplot_quote(&b, ylabel);
    hn_buf_puts(&b, "\nset logscale y\nset format y '%.0e'\nset key top right box title ");
    hn_gnuplot_quote(&b, legend);
    if (logx)
        hn_buf_puts(&b, "\nset logscale x\nset format x '%.0e'");
    /* x from the data: from k0 to the last k exactly (no empty decade) */
    if (!kind)
        hn_buf_printf(&b, "\nset xrange [%zu:*]\nset autoscale xfixmax", k0);
    hn_buf_puts(&b, "\nplot ");
    for (size_t i = 0; i < ns; i++) {
        char lab[64];
        setting_label(o, &res[sel[i]], lab, sizeof lab);
        if (i)
            hn_buf_puts(&b, ", \\\n     ");
        hn_gnuplot_quote_file(&b, csv);
        hn_buf_printf(&b, " skip 1 using 1:%zu with lines lw 2 title ", col[i]);
        hn_gnuplot_quote(&b, lab);
    }
    hn_buf_puts(&b, "\n");
    int rc = b.failed ? hn_err_set(err, HN_ENOMEM, "%s: out of memory", png) : hn_gnuplot(b.s, png, err);
    hn_buf_free(&b);
    return rc;
}
