/* hessnorm — the experiment's report, from the models' results read back:
 * the CSVs (curves, ||H_O|| quantiles, summary, Corollary 2), then
 * report.md and index.html written side by side, the figures (figures.c)
 * drawn and placed on the way.  Uses sweep.c, model_run.c's results and
 * figures.c. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hessnorm/buf.h"
#include "hessnorm/experiment.h"
#include "hessnorm/gnuplot.h"
#include "experiment/internal.h"
#include "base/lockfile.h"

/* ------------------------------------------------------------ readings */

/* Number at a dotted path ("train.accuracy"); NAN if missing or null. */
static double jnum(const json_t *j, const char *path)
{
    char key[64];
    const json_t *cur = j;
    while (cur && *path) {
        const char *dotp = strchr(path, '.');
        size_t n = dotp ? (size_t)(dotp - path) : strlen(path);
        if (n >= sizeof key)
            return NAN;
        memcpy(key, path, n);
        key[n] = 0;
        cur = json_object_get(cur, key);
        path += n + (dotp ? 1 : 0);
    }
    return cur && json_is_number(cur) ? json_number_value(cur) : NAN;
}

static const char *sweep_title(hn_sweep s)
{
    switch (s) {
    case HN_SWEEP_LAYERS: return "number of conv layers L (k = 3, C = 6), Fig. 1";
    case HN_SWEEP_KERNEL: return "kernel size k (L = 4, C = 6), Fig. 2";
    case HN_SWEEP_CHANNELS: return "number of channels C (L = 5, k = 3), Fig. 3";
    case HN_SWEEP_POOLING: return "pooling position (L = 5, C = 12, k = 3), Fig. 4";
    }
    return "";
}

/* ------------------------------------------------------------ Markdown and HTML */

/* Markdown and HTML side by side. */
typedef struct {
    hn_buf md, html;
} doc;

static void doc_text(doc *d, const char *md, const char *html)
{
    hn_buf_puts(&d->md, md);
    hn_buf_puts(&d->html, html);
}

static void doc_h(doc *d, int level, const char *t)
{
    for (int i = 0; i < level; i++)
        hn_buf_puts(&d->md, "#");
    hn_buf_printf(&d->md, " %s\n\n", t);
    hn_buf_printf(&d->html, "<h%d>", level);
    hn_buf_html(&d->html, t);
    hn_buf_printf(&d->html, "</h%d>\n", level);
}

static void doc_p(doc *d, const char *t)
{
    hn_buf_printf(&d->md, "%s\n\n", t);
    hn_buf_puts(&d->html, "<p>");
    hn_buf_html(&d->html, t);
    hn_buf_puts(&d->html, "</p>\n");
}

static void doc_img(doc *d, const char *file, const char *alt)
{
    hn_buf_printf(&d->md, "![%s](%s)\n\n", alt, file);
    hn_buf_puts(&d->html, "<p><img src=\"");
    hn_buf_html(&d->html, file);
    hn_buf_puts(&d->html, "\" alt=\"");
    hn_buf_html(&d->html, alt);
    hn_buf_puts(&d->html, "\" style=\"max-width:100%\"></p>\n");
}

static void doc_row(doc *d, const char *const *cells, size_t n, int header)
{
    hn_buf_puts(&d->md, "|");
    hn_buf_puts(&d->html, "<tr>");
    for (size_t i = 0; i < n; i++) {
        hn_buf_puts(&d->md, " ");
        for (const char *c = cells[i]; *c; c++) /* a literal | would split the cell */
            if (*c == '|')
                hn_buf_puts(&d->md, "\\|");
            else {
                char ch[2] = {*c, 0};
                hn_buf_puts(&d->md, ch);
            }
        hn_buf_puts(&d->md, " |");
        hn_buf_puts(&d->html, header ? "<th>" : "<td>");
        hn_buf_html(&d->html, cells[i]);
        hn_buf_puts(&d->html, header ? "</th>" : "</td>");
    }
    hn_buf_puts(&d->md, "\n");
    hn_buf_puts(&d->html, "</tr>\n");
    if (header) {
        hn_buf_puts(&d->md, "|");
        for (size_t i = 0; i < n; i++)
            hn_buf_puts(&d->md, "---|");
        hn_buf_puts(&d->md, "\n");
    }
}

/* A figure that gnuplot could not draw is reported, not fatal: the models
 * and numbers are what a long run must not lose. */
static void fig_result(doc *d, int rc, const hn_err *ferr, const char *file, const char *alt,
                       int *drawn)
{
    if (rc) {
        if (d) {
            char t[700];
            snprintf(t, sizeof t, "(figure %s not drawn: %s)", file, ferr->msg);
            doc_p(d, t);
        }
        return;
    }
    *drawn = 1;
    if (d)
        doc_img(d, file, alt);
}

static void fmt_num(char *b, size_t n, double x, const char *fmt)
{
    if (!isfinite(x))
        snprintf(b, n, "-");
    else
        snprintf(b, n, fmt, x);
}

#define NCELL 16
#define CELL 48

/* One table row of n formatted cells. */
static void doc_cells(doc *d, char (*c)[CELL], size_t n)
{
    const char *cp[NCELL];
    for (size_t k = 0; k < n; k++)
        cp[k] = c[k];
    doc_row(d, cp, n, 0);
}

static void doc_table(doc *d, const char *const *hdr, size_t n)
{
    doc_text(d, "", "<table>\n");
    doc_row(d, hdr, n, 1);
}

static void doc_table_end(doc *d) { doc_text(d, "\n", "</table>\n"); }

/* ------------------------------------------------------------ CSVs */

/* b saved as dir/file, then freed. */
static int save_buf(const char *dir, const char *file, hn_buf *b, hn_err *err)
{
    char path[HN_EXP_PATH_BUF];
    hn_exp_path_join(path, sizeof path, dir, file);
    int rc = hn_buf_save(b, path, err);
    hn_buf_free(b);
    return rc;
}

/* curves.csv: k, then per setting the mean over orders and the EMA. */
static int write_curves_csv(const char *dir, const hn_exp_result *res, size_t nr, size_t nc,
                            hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "k");
    for (size_t i = 0; i < nr; i++)
        hn_buf_printf(&b, ",%s_mean,%s_ema", res[i].name, res[i].name);
    hn_buf_puts(&b, "\n");
    for (size_t k = 0; k < nc; k++) {
        hn_buf_printf(&b, "%zu", k + 1);
        for (size_t i = 0; i < nr; i++)
            hn_buf_printf(&b, ",%.17g,%.17g", res[i].mean[k], res[i].ema[k]);
        hn_buf_puts(&b, "\n");
    }
    return save_buf(dir, "curves.csv", &b, err);
}

/* hessnorm_quantiles.csv: q, then per setting the quantile of ||H_O,i||. */
static int write_quantiles_csv(const char *dir, const hn_exp_result *res, size_t nr, hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "q");
    for (size_t i = 0; i < nr; i++)
        hn_buf_printf(&b, ",%s", res[i].name);
    hn_buf_puts(&b, "\n");
    for (int q = 0; q <= 100; q++) {
        hn_buf_printf(&b, "%.2f", q / 100.0);
        for (size_t i = 0; i < nr; i++) {
            const json_t *qa = json_object_get(json_object_get(res[i].met, "ho_norm"), "quantiles");
            hn_buf_printf(&b, ",%.17g", json_number_value(json_array_get(qa, (size_t)q)));
        }
        hn_buf_puts(&b, "\n");
    }
    return save_buf(dir, "hessnorm_quantiles.csv", &b, err);
}

/* summary.csv: a row per model. */
static int write_summary_csv(const char *dir, const hn_exp_result *res, size_t nr, hn_err *err)
{
    static const char *sum_keys[] = {"train.n", "test.n", "train.accuracy", "test.accuracy", "train.loss",
                                     "test.loss", "train.last_epoch_loss", "ho_norm.min",
                                     "ho_norm.median", "ho_norm.mean", "ho_norm.p90", "ho_norm.p99",
                                     "ho_norm.max", "corollary2.W_l", "corollary2.W_x", "corollary2.w",
                                     "corollary2.log10_theorem2_bound"};
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "setting,params,train_n,test_n,train_accuracy,test_accuracy,train_loss,test_loss,"
                    "last_epoch_loss,ho_min,ho_median,ho_mean,ho_p90,ho_p99,ho_max,W_l,W_x,w,"
                    "log10_theorem2_bound\n");
    for (size_t i = 0; i < nr; i++) {
        hn_buf_printf(&b, "%s,%.0f", res[i].name, jnum(res[i].met, "params"));
        for (size_t k = 0; k < sizeof sum_keys / sizeof *sum_keys; k++)
            hn_buf_printf(&b, ",%.17g", jnum(res[i].met, sum_keys[k]));
        hn_buf_puts(&b, "\n");
    }
    return save_buf(dir, "summary.csv", &b, err);
}

/* corollary2.csv: a row per model and k; empty cells for missing numbers. */
static int write_cor2_csv(const char *dir, const hn_exp_result *res, size_t nr, hn_err *err)
{
    static const char *row_keys[] = {"loss_diff_mean", "loss_diff_order", "ho_diff_norm", "lambda_max",
                                     "lambda_min", "lanczos_iterations", "lanczos_residual",
                                     "eq1_hessian_term", "log10_rhs", "rhs", "log10_rhs_alt"};
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "setting,k,computed,converged,loss_diff_mean,loss_diff_order,ho_diff_norm,"
                    "lambda_max,lambda_min,lanczos_iterations,lanczos_residual,eq1_hessian_term,"
                    "log10_rhs,rhs,log10_rhs_alt\n");
    for (size_t i = 0; i < nr; i++) {
        const json_t *rows = json_object_get(json_object_get(res[i].met, "corollary2"), "rows");
        for (size_t j = 0; j < json_array_size(rows); j++) {
            const json_t *row = json_array_get(rows, j);
            hn_buf_printf(&b, "%s,%.0f,%d,%d", res[i].name, jnum(row, "k"),
                          json_is_true(json_object_get(row, "computed")),
                          json_is_true(json_object_get(row, "converged")));
            for (size_t k = 0; k < sizeof row_keys / sizeof *row_keys; k++) {
                double v = jnum(row, row_keys[k]);
                if (isfinite(v))
                    hn_buf_printf(&b, ",%.17g", v);
                else
                    hn_buf_puts(&b, ",");
            }
            hn_buf_puts(&b, "\n");
        }
    }
    return save_buf(dir, "corollary2.csv", &b, err);
}

/* ------------------------------------------------------------ report.md and index.html */

/* What the report's sections share. */
typedef struct {
    const hn_experiment_opts *o;
    const hn_exp_ctx *X;
    const hn_exp_result *res;
    size_t nr, n_train, k0;  /* k0: where the first curve figure starts */
    int can_draw, cairo, *drawn;
    doc d;
    hn_buf hess_figs;        /* the ||H_O|| figures, space-separated */
} report;

/* The HTML head, the title and what was run. */
static void doc_intro(report *R)
{
    const hn_experiment_opts *o = R->o;
    const hn_exp_ctx *X = R->X;
    doc *d = &R->d;
    char title[256];
    snprintf(title, sizeof title, "%s: %s, preset %s", hn_exp_ds_title(o->dataset),
             o->settings ? "custom settings" : sweep_title(o->sweep), o->preset.name);
    hn_buf_puts(&d->html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    hn_buf_html(&d->html, title);
    hn_buf_puts(&d->html, "</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
                          "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #999;"
                          "padding:2px 6px;text-align:right}</style></head><body>\n");
    doc_h(d, 1, title);
    char t[1400];
    snprintf(t, sizeof t,
             "hessnorm experiment, seed %lu. Data: %s%s%s. Training: %zu images (of %zu in the split%s), "
             "%zu epoch(s), batch 64, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), cross-entropy, "
             "bias-free, init U(+-1/sqrt(fan_in)). Test: %zu images. Curves: mean over S = %zu random "
             "orders of |L_{k+1}(theta) - L_k(theta)| at the trained theta, exponential smoothing "
             "s_1 = d_1, s_k = %g s_{k-1} + %g d_k. Hessian: exact per-sample ||H_O|| on %zu "
             "training samples; ||H_{O,k+1} - (1/k) sum H_{O,i}|| by Lanczos on stored Jacobians.",
             o->seed, hn_exp_ds_title(o->dataset), o->dataset_note ? ", " : "",
             o->dataset_note ? o->dataset_note : "", R->n_train, X->train_total,
             R->n_train < X->train_total ? ", a seeded random subset" : "", X->epochs,
             (size_t)jnum(R->res[0].met, "test.n"), o->preset.shuffles, o->smooth, 1 - o->smooth,
             X->hess_n);
    doc_p(d, t);
    if (X->missing) {
        hn_buf m;
        hn_buf_init(&m);
        hn_buf_printf(&m, "Incomplete: these models are not finished yet and are left out of every table, "
                          "CSV and figure: %s (run the remaining shards, then hessnorm experiment "
                          "--report-only).", X->missing);
        doc_p(d, m.s ? m.s : "Incomplete: some models are not finished yet.");
        hn_buf_free(&m);
    }
}

/* The figures of one pooling kind g: the curves from k0 and from 1 (in the
 * document), the ||H_O|| quantiles (listed in R->hess_figs). */
static void figure_group(report *R, hn_pool_kind g, const char *ylabel)
{
    const hn_experiment_opts *o = R->o;
    const hn_exp_result *res = R->res;
    size_t sel[32], col[32], ns = 0;
    for (size_t i = 0; i < R->nr && ns < 32; i++)
        if (res[i].arch.pool == g) {
            sel[ns] = i;
            col[ns++] = 3 + 2 * i; /* ema column */
        }
    if (!ns)
        return;
    char title[256], stem[96], png[HN_EXP_PATH_BUF], file[160];
    hn_err ferr;
    hn_exp_fig_stem(o, g, stem, sizeof stem);
    /* every figure names its data set and preset (it is often seen alone) */
    snprintf(title, sizeof title, "%s, preset %s: %s", hn_exp_ds_title(o->dataset), o->preset.name,
             hn_exp_legend_title(o, g));
    for (int v = 0; v < 2; v++) {
        snprintf(file, sizeof file, "%s%s.png", stem, v ? "_from1" : "");
        hn_exp_path_join(png, sizeof png, o->out_dir, file);
        if (R->can_draw) {
            char alt[160];
            snprintf(alt, sizeof alt, "%s from k = %zu", hn_exp_legend_title(o, g), v ? (size_t)1 : R->k0);
            char tv[300];
            snprintf(tv, sizeof tv, "%s, from k = %zu%s", title, v ? (size_t)1 : R->k0, v ? " (log k)" : "");
            fig_result(&R->d, hn_exp_draw_figure(o, res, sel, ns, col, 0, v ? 1 : R->k0, v, tv, ylabel,
                                          hn_exp_legend_title(o, g), png, R->cairo, &ferr),
                       &ferr, file, alt, R->drawn);
        }
    }
    for (size_t i = 0; i < ns; i++)
        col[i] = 2 + sel[i];
    snprintf(file, sizeof file, "%s_hessnorm.png", stem);
    hn_exp_path_join(png, sizeof png, o->out_dir, file);
    if (R->can_draw) {
        char t2[300];
        snprintf(t2, sizeof t2, "%s: per-sample ||H_O,i|| (quantiles)", title);
        hn_buf_printf(&R->hess_figs, "%s%s", R->hess_figs.len ? " " : "", file);
        fig_result(NULL, hn_exp_draw_figure(o, res, sel, ns, col, 1, 0, 0, t2, "||H_O,i||", hn_exp_legend_title(o, g),
                                     png, R->cairo, &ferr),
                   &ferr, file, t2, R->drawn);
    }
}

/* "Loss-difference curves": the figures, one group per pooling kind present. */
static void doc_curves(report *R)
{
    const hn_experiment_opts *o = R->o;
    char ylabel[160];
    snprintf(ylabel, sizeof ylabel, "|L_{k+1} - L_k| (mean of %zu orders, EMA %g)",
             o->preset.shuffles, o->smooth);
    doc_h(&R->d, 2, "Loss-difference curves");
    for (int g = 0; g <= 2; g++)
        figure_group(R, (hn_pool_kind)g, ylabel);
    if (!R->can_draw)
        doc_p(&R->d, o->figures ? "(figures not drawn: gnuplot with a png terminal is not available)"
                                : "(figures not requested)");
    char t[600];
    snprintf(t, sizeof t,
             "The first figure starts at k = %zu (the authors plot from k = 10000 on 60000 images; "
             "below 20000 training images the tail starts at n/6), the second at k = 1 with a log "
             "k axis. Data behind every curve: curves.csv (k, then per setting the mean over orders "
             "and the smoothed value).",
             R->k0);
    doc_p(&R->d, t);
}

/* "Models": a row per model, then the ||H_O|| figures that were drawn. */
static void doc_models(report *R)
{
    static const char *hdr[] = {"setting", "params", "train acc", "test acc", "L_n(theta)", "test loss",
                                "last-epoch loss", "||H_O,i|| median", "mean", "max", "W_l", "W_x", "w"};
    static const struct {
        const char *key, *fmt;
    } cols[] = {{"params", "%.0f"},
                {"train.accuracy", "%.4f"},
                {"test.accuracy", "%.4f"},
                {"train.loss", "%.5g"},
                {"test.loss", "%.5g"},
                {"train.last_epoch_loss", "%.5g"},
                {"ho_norm.median", "%.4g"},
                {"ho_norm.mean", "%.4g"},
                {"ho_norm.max", "%.4g"},
                {"corollary2.W_l", "%.4g"},
                {"corollary2.W_x", "%.4g"},
                {"corollary2.w", "%.4g"}};
    doc *d = &R->d;
    doc_h(d, 2, "Models");
    doc_table(d, hdr, 13);
    for (size_t i = 0; i < R->nr; i++) {
        char c[NCELL][CELL];
        snprintf(c[0], CELL, "%.*s", CELL - 1, R->res[i].name);
        for (size_t k = 0; k < 12; k++)
            fmt_num(c[k + 1], CELL, jnum(R->res[i].met, cols[k].key), cols[k].fmt);
        doc_cells(d, c, 13);
    }
    doc_table_end(d);
    doc_p(d, "Per model: summary.csv; the exact ||H_O,i|| of every analysed sample: "
             "models/<setting>/hess_norms.csv; their quantiles: hessnorm_quantiles.csv.");
    for (char *f = R->hess_figs.s; f && *f;) {
        char *sp = strchr(f, ' ');
        if (sp)
            *sp = 0;
        char pth[HN_EXP_PATH_BUF];
        hn_exp_path_join(pth, sizeof pth, R->o->out_dir, f);
        if (hn_exp_file_exists(pth))
            doc_img(d, f, "distribution of the per-sample ||H_O,i||");
        f = sp ? sp + 1 : f + strlen(f);
    }
}

/* One row of a model's Corollary 2 table. */
static void cor2_cells(const json_t *row, char (*c)[CELL])
{
    fmt_num(c[0], CELL, jnum(row, "k"), "%.0f");
    fmt_num(c[1], CELL, jnum(row, "loss_diff_mean"), "%.4g");
    fmt_num(c[2], CELL, jnum(row, "loss_diff_order"), "%.4g");
    if (json_is_true(json_object_get(row, "computed"))) {
        fmt_num(c[3], CELL, jnum(row, "ho_diff_norm"), "%.6g");
        fmt_num(c[4], CELL, jnum(row, "lambda_max"), "%.6g");
        fmt_num(c[5], CELL, jnum(row, "lambda_min"), "%.6g");
        snprintf(c[6], CELL, "%.0f%s", jnum(row, "lanczos_iterations"),
                 json_is_true(json_object_get(row, "converged")) ? "" : " (not converged)");
        fmt_num(c[7], CELL, jnum(row, "eq1_hessian_term"), "%.4g");
    } else {
        snprintf(c[3], CELL, "skipped");
        for (int k = 4; k <= 7; k++)
            snprintf(c[k], CELL, "-");
    }
    fmt_num(c[8], CELL, jnum(row, "rhs"), "%.3e");
    fmt_num(c[9], CELL, jnum(row, "log10_rhs"), "%.2f");
    fmt_num(c[10], CELL, jnum(row, "log10_rhs_alt"), "%.2f");
}

/* One model's Corollary 2 table, then why any k was skipped. */
static void doc_cor2_model(doc *d, const hn_exp_result *r)
{
    static const char *hdr[] = {"k", "mean |dL| (S orders)", "|dL| (this order)", "||dH_O||", "lambda_max",
                                "lambda_min", "Lanczos it.", "eq. (1) term", "Cor. 2 RHS", "log10 RHS",
                                "log10 RHS (alt)"};
    char t[300];
    snprintf(t, sizeof t, "%s (R = %g, log10 Theorem-2 bound on ||H_O|| = %.2f, measured max "
                          "||H_O,i|| = %.4g)",
             r->name, jnum(r->met, "corollary2.R"), jnum(r->met, "corollary2.log10_theorem2_bound"),
             jnum(r->met, "ho_norm.max"));
    doc_h(d, 3, t);
    doc_table(d, hdr, 11);
    const json_t *rows = json_object_get(json_object_get(r->met, "corollary2"), "rows");
    for (size_t j = 0; j < json_array_size(rows); j++) {
        char c[NCELL][CELL];
        cor2_cells(json_array_get(rows, j), c);
        doc_cells(d, c, 11);
    }
    doc_table_end(d);
    for (size_t j = 0; j < json_array_size(rows); j++) {
        const json_t *why = json_object_get(json_array_get(rows, j), "why");
        if (json_is_string(why)) {
            char t2[200];
            snprintf(t2, sizeof t2, "k = %.0f skipped: %s", jnum(json_array_get(rows, j), "k"),
                     json_string_value(why));
            doc_p(d, t2);
        }
    }
}

/* ------------------------------------------------------------ tightness */

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* One claim's cells: id, location, rel, measured [upper end], bound [upper
 * end], ratio or discrepancy (sample 1), median and max over the samples, status. */
static void tight_cells(const json_t *e, char (*c)[CELL])
{
    const int eq = !strcmp(jstr(e, "relation"), "=");
    const json_t *b = json_object_get(e, "batch");
    snprintf(c[0], CELL, "%s", jstr(e, "id"));
    snprintf(c[1], CELL, "%s", jstr(e, "location"));
    snprintf(c[2], CELL, "%s", jstr(e, "relation"));
    double me = jnum(e, "measured"), mu = jnum(e, "measured_upper"), bo = jnum(e, "bound"), bu = jnum(e, "bound_upper");
    if (isfinite(mu) && mu != me && isfinite(me))
        snprintf(c[3], CELL, "%.4g .. %.4g", me, mu);
    else
        fmt_num(c[3], CELL, me, "%.4g");
    if (isfinite(bu) && bu != bo && isfinite(bo))
        snprintf(c[4], CELL, "%.4g .. %.4g", bo, bu);
    else
        fmt_num(c[4], CELL, bo, "%.4g");
    fmt_num(c[5], CELL, jnum(e, eq ? "discrepancy" : "ratio"), eq ? "d %.2e" : "%.3e");
    fmt_num(c[6], CELL, jnum(b, eq ? "discrepancy_median" : "ratio_median"), "%.3e");
    fmt_num(c[7], CELL, jnum(b, eq ? "discrepancy_max" : "ratio_max"), "%.3e");
    snprintf(c[8], CELL, "%s", jstr(e, "status"));
}

/* "How tight the paper's bounds are at theta-hat": one table a model, from
 * its metrics.json "tightness" (tightness.c). */
static void doc_tightness(report *R)
{
    doc *d = &R->d;
    static const char *hdr[] = {"claim", "location", "rel", "measured", "bound", "ratio (sample 1)",
                                "median", "max", "status"};
    doc_h(d, 2, "How tight the paper's bounds are at the trained weights");
    doc_p(d, "Every claim of hessnorm audit that applies to the trained network, evaluated at theta-hat on "
             "the first samples of its sample.safetensors, each alone (as hessnorm audit --model does). "
             "ratio = measured / bound (for '=' the relative discrepancy d of the two sides); median and max "
             "over the samples. Past the dense limit the norms are certified brackets: a value shown as "
             "'a .. b' is the claim at the lower and at the upper ends, and the status is certain (holds: "
             "the upper measured end is below the lower bound end; VIOLATED: the lower measured end is above "
             "the upper bound end) or undecided. n/a claims (another setting, the other loss, the "
             "equation-(1) facts) are left out; those that apply but could not be measured are named under "
             "the table. All rows: tightness.csv.");
    for (size_t i = 0; i < R->nr; i++) {
        const json_t *t = json_object_get(R->res[i].met, "tightness");
        char title[200];
        if (!json_is_object(t)) {
            snprintf(title, sizeof title, "%s: not measured (metrics.json from a hessnorm before the tightness "
                                          "table; delete the model's folder to re-run it)", R->res[i].name);
            doc_p(d, title);
            continue;
        }
        snprintf(title, sizeof title, "%s (%s route, %.0f samples; %.0f VIOLATED, %.0f undecided, %.0f not "
                                      "applicable)", R->res[i].name, jstr(t, "route"), jnum(t, "samples"),
                 jnum(t, "violated"), jnum(t, "undecided"), jnum(t, "not_applicable"));
        doc_h(d, 3, title);
        doc_table(d, hdr, 9);
        const json_t *cl = json_object_get(t, "claims");
        hn_buf un; /* the claims that apply but were not measured: one sentence under the table */
        hn_buf_init(&un);
        for (size_t j = 0; j < json_array_size(cl); j++) {
            const json_t *e = json_array_get(cl, j);
            if (!strcmp(jstr(e, "status"), "n/a")) {
                hn_buf_printf(&un, "%s%s", un.len ? ", " : "Apply but not measured on this route (they need dense "
                                                         "matrices; see metrics.json for each one's reason): ",
                              jstr(e, "id"));
                continue;
            }
            char c[NCELL][CELL];
            tight_cells(e, c);
            doc_cells(d, c, 9);
        }
        doc_table_end(d);
        hn_buf_puts(&un, un.len ? "." : "");
        if (un.len && !un.failed)
            doc_p(d, un.s);
        hn_buf_free(&un);
    }
}

/* tightness.csv: every listed claim of every model. */
static int write_tightness_csv(const char *dir, const hn_exp_result *res, size_t nr, hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "setting,claim,relation,measured,measured_upper,bound,bound_upper,ratio_or_discrepancy,"
                    "batch_median,batch_max,worst_sample,status\n");
    for (size_t i = 0; i < nr; i++) {
        const json_t *cl = json_object_get(json_object_get(res[i].met, "tightness"), "claims");
        for (size_t j = 0; j < json_array_size(cl); j++) {
            const json_t *e = json_array_get(cl, j), *bt = json_object_get(e, "batch");
            const int eq = !strcmp(jstr(e, "relation"), "=");
            const double v[8] = {jnum(e, "measured"), jnum(e, "measured_upper"), jnum(e, "bound"),
                                 jnum(e, "bound_upper"), jnum(e, eq ? "discrepancy" : "ratio"),
                                 jnum(bt, eq ? "discrepancy_median" : "ratio_median"),
                                 jnum(bt, eq ? "discrepancy_max" : "ratio_max"), jnum(bt, "worst_sample")};
            hn_buf_printf(&b, "%s,%s,%s", res[i].name, jstr(e, "id"),
                          eq ? "eq" : jstr(e, "relation")[0] == '~' ? "approx" : "le");
            for (int k = 0; k < 8; k++) /* not measured: an empty cell */
                if (isfinite(v[k]))
                    hn_buf_printf(&b, k == 7 ? ",%.0f" : ",%.17g", v[k]);
                else
                    hn_buf_puts(&b, ",");
            hn_buf_printf(&b, ",%s\n", jstr(e, "status"));
        }
    }
    return save_buf(dir, "tightness.csv", &b, err);
}

/* "Corollary 2 against the measured loss difference", then the closing lines. */
static void doc_cor2(report *R)
{
    doc *d = &R->d;
    doc_h(d, 2, "Corollary 2 against the measured loss difference");
    doc_p(d, "Readings (docs/experiments.md): W_l = max_i l_i(theta), W_x = max_i ||x_i||, w = max |theta| "
             "over the conv layers, m x n = input size, C = max channels (input included), k = kernel, "
             "L = the number of conv layers (the linear head is T(L+1)); RHS(alt) drops the head "
             "(L - 1). R = the stated radius. The eq. (1) column is (1/(k+1)) R^2 ||H_{O,k+1} - (1/k) "
             "sum H_{O,i}||, the Hessian term of eq. (1) with the measured norm.");
    for (size_t i = 0; i < R->nr; i++)
        doc_cor2_model(d, &R->res[i]);
    doc_p(d, "All numbers: corollary2.csv. Models (interchange format, readable by hessnorm inspect): "
             "models/<setting>/model.json and weights.safetensors; metrics.json per model.");
    hn_buf_puts(&d->html, "</body></html>\n");
}

/* report.md and index.html, with the figures drawn on the way. */
static int write_docs(const hn_experiment_opts *o, const hn_exp_ctx *X, const hn_exp_result *res,
                      size_t nr, int *drawn, hn_err *err)
{
    report R;
    memset(&R, 0, sizeof R);
    R.o = o;
    R.X = X;
    R.res = res;
    R.nr = nr;
    R.drawn = drawn;
    R.n_train = (size_t)jnum(res[0].met, "train.n");
    R.k0 = R.n_train >= 20000 ? 10000 : (R.n_train / 6 > 1 ? R.n_train / 6 : 1);
    R.can_draw = o->figures && hn_gnuplot_available();
    R.cairo = R.can_draw && hn_gnuplot_terminal("pngcairo");
    hn_buf_init(&R.d.md);
    hn_buf_init(&R.d.html);
    hn_buf_init(&R.hess_figs);
    doc_intro(&R);
    doc_curves(&R);
    doc_models(&R);
    hn_buf_free(&R.hess_figs);
    doc_tightness(&R);
    doc_cor2(&R);
    int rc = save_buf(o->out_dir, "report.md", &R.d.md, err);
    if (!rc)
        rc = save_buf(o->out_dir, "index.html", &R.d.html, err);
    hn_buf_free(&R.d.html); /* not saved after an error */
    return rc;
}

static int write_report_files(const hn_experiment_opts *o, const hn_exp_ctx *X, hn_exp_result *res, size_t nr,
                              int *drawn, hn_err *err)
{
    const size_t nc = res[0].nc;
    for (size_t i = 1; i < nr; i++)
        if (res[i].nc != nc)
            return hn_err_set(err, HN_EINVAL, "%s: curve has %zu points, %s has %zu", res[i].name,
                              res[i].nc, res[0].name, nc);
    int rc = write_curves_csv(o->out_dir, res, nr, nc, err);
    if (!rc)
        rc = write_quantiles_csv(o->out_dir, res, nr, err);
    if (!rc)
        rc = write_summary_csv(o->out_dir, res, nr, err);
    if (!rc)
        rc = write_cor2_csv(o->out_dir, res, nr, err);
    if (!rc)
        rc = write_tightness_csv(o->out_dir, res, nr, err);
    if (!rc)
        rc = write_docs(o, X, res, nr, drawn, err);
    return rc;
}

/* Two runs that finish on one --out at once (or a --report-only beside a
 * run) write the report one after the other: OUT/report.lock, waited for. */
int hn_exp_write_report(const hn_experiment_opts *o, const hn_exp_ctx *X, hn_exp_result *res,
                        size_t nr, int *drawn, hn_err *err)
{
    char lock[HN_EXP_PATH_BUF];
    hn_exp_path_join(lock, sizeof lock, o->out_dir, "report.lock");
    int lfd = -1, busy = 0;
    if (hn_lockfile_take(lock, 1, &lfd, &busy, err) != HN_OK)
        return HN_EIO;
    int rc = write_report_files(o, X, res, nr, drawn, err);
    hn_lockfile_drop(lock, &lfd);
    return rc;
}
