/* hessnorm — the audit's figures: the parameter sweeps and the
 * distribution of bound / measured per claim (gnuplot; every name and
 * text in a script quoted by hn_gnuplot_quote*). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include "hessnorm/buf.h"
#include "hessnorm/gnuplot.h"
#include "audit/report.h"

/* The ranges of a sweep figure, from its data: x one half step beyond the
 * first and last point, y (log) a factor 3 beyond the smallest and largest
 * positive value drawn, so that no point sits on a clipped axis. */
static void sweep_ranges(hn_buf *g, const hn_sweep *sw)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = 0;
    for (size_t i = 0; i < sw->npts; i++) {
        x0 = fmin(x0, sw->x[i]);
        x1 = fmax(x1, sw->x[i]);
        for (size_t b = 0; b <= sw->nb; b++) {
            double y = b ? sw->bound[b - 1][i] : sw->measured[i];
            if (y > 0 && isfinite(y)) {
                y0 = fmin(y0, y);
                y1 = fmax(y1, y);
            }
        }
    }
    if (sw->npts)
        hn_buf_printf(g, "set xrange [%.17g:%.17g]\n", x0 - 0.5, x1 + 0.5);
    if (y1 > 0)
        hn_buf_printf(g, "set yrange [%.17g:%.17g]\n", y0 / 3, y1 * 3);
}

/* Every text of ours is drawn noenhanced (an id such as appB.A_norm keeps
 * its underscore); only the tic format uses enhanced text. */
static int plot_sweep(const char *figdir, const hn_sweep *sw, hn_err *err)
{
    char data[4400], png[4400];
    snprintf(data, sizeof data, "%s/sweep_%s.dat", figdir, sw->name);
    snprintf(png, sizeof png, "%s/sweep_%s.png", figdir, sw->name);
    hn_buf d;
    hn_buf_init(&d);
    hn_buf_printf(&d, "# %s  measured_HO", sw->xlabel);
    for (size_t b = 0; b < sw->nb; b++)
        hn_buf_printf(&d, "  %s", sw->bound_ids[b]);
    hn_buf_puts(&d, "\n");
    for (size_t i = 0; i < sw->npts; i++) {
        hn_buf_printf(&d, "%g %.10g", sw->x[i], sw->measured[i]);
        for (size_t b = 0; b < sw->nb; b++)
            hn_buf_printf(&d, " %.10g", sw->bound[b][i]);
        hn_buf_puts(&d, "\n");
    }
    int rc = hn_buf_save(&d, data, err);
    hn_buf_free(&d);
    if (rc)
        return rc;
    hn_buf g;
    hn_buf_init(&g);
    char title[300];
    snprintf(title, sizeof title, "measured ||H_O|| and the paper's bounds: %s", sw->name);
    hn_buf_puts(&g, "set terminal pngcairo size 800,500\nset output @OUT@\nset logscale y\nset format y '10^{%L}'\n"
                    "set xtics 1\n");
    sweep_ranges(&g, sw);
    hn_buf_puts(&g, "set xlabel ");
    hn_gnuplot_quote(&g, sw->xlabel);
    hn_buf_printf(&g, " noenhanced\nset ylabel 'value (median of %zu draw%s)' noenhanced\nset key outside right\nset title ",
                  sw->draws, sw->draws == 1 ? "" : "s");
    hn_gnuplot_quote(&g, title);
    hn_buf_puts(&g, " noenhanced\nplot ");
    hn_gnuplot_quote_file(&g, data);
    hn_buf_puts(&g, " using 1:2 with linespoints lw 2 title 'measured ||H_O||' noenhanced");
    for (size_t b = 0; b < sw->nb; b++) {
        hn_buf_printf(&g, ", '' using 1:%zu with linespoints title ", b + 3);
        hn_gnuplot_quote(&g, sw->bound_ids[b]);
        hn_buf_puts(&g, " noenhanced");
    }
    hn_buf_puts(&g, "\n");
    rc = g.failed ? hn_err_set(err, HN_ENOMEM, "out of memory") : hn_gnuplot(g.s, png, err);
    hn_buf_free(&g);
    return rc;
}

size_t hn_report_hist_count(const hn_cstat *st, size_t *zero, size_t *inf)
{
    size_t n = 0, z = 0, f = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (st->ratios[i] > 0 && isfinite(st->ratios[i]))
            n++;
        else if (isinf(st->ratios[i]))
            f++;
        else
            z++;
    }
    if (zero)
        *zero = z;
    if (inf)
        *inf = f;
    return n;
}

/* The histogram of log10(bound / measured): *drawn = 1 when there was a
 * network to draw (a ratio finite and > 0). */
static int plot_distribution(const char *figdir, const hn_claim *cl, const hn_cstat *st, unsigned char *drawn,
                             hn_err *err)
{
    char data[4400], png[4400];
    snprintf(data, sizeof data, "%s/ratio_%s.dat", figdir, cl->id);
    snprintf(png, sizeof png, "%s/ratio_%s.png", figdir, cl->id);
    hn_buf d;
    hn_buf_init(&d);
    hn_buf_puts(&d, "# log10(bound/measured) per network\n");
    for (size_t i = 0; i < st->n; i++)
        if (st->ratios[i] > 0 && isfinite(st->ratios[i]))
            hn_buf_printf(&d, "%.8g\n", -log10(st->ratios[i]));
    const size_t n = hn_report_hist_count(st, NULL, NULL);
    int rc = hn_buf_save(&d, data, err);
    hn_buf_free(&d);
    if (rc || n == 0)
        return rc;
    hn_buf g;
    hn_buf_init(&g);
    char title[300];
    if (n == st->n)
        snprintf(title, sizeof title, "%s (%s): %zu networks", cl->id, cl->location, n);
    else
        snprintf(title, sizeof title, "%s (%s): %zu of %zu networks (the others: ratio 0 or inf)", cl->id,
                 cl->location, n, st->n);
    hn_buf_puts(&g, "set terminal pngcairo size 640,400\nset output @OUT@\nbinwidth=0.25\n"
                    "bin(x)=binwidth*floor(x/binwidth)+binwidth/2\nset style fill solid 0.6\n"
                    "set xlabel 'log10(bound / measured)   (< 0: the bound is violated)' noenhanced\n"
                    "set ylabel 'networks' noenhanced\n"
                    "set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb 'red'\nset title ");
    hn_gnuplot_quote(&g, title);
    hn_buf_puts(&g, " noenhanced\nplot ");
    hn_gnuplot_quote_file(&g, data);
    hn_buf_puts(&g, " using (bin($1)):(1.0) smooth freq with boxes notitle\n");
    rc = g.failed ? hn_err_set(err, HN_ENOMEM, "out of memory") : hn_gnuplot(g.s, png, err);
    hn_buf_free(&g);
    if (!rc)
        *drawn = 1;
    return rc;
}

int hn_report_figures(hn_report *r, const char *figdir, hn_err *err)
{
    const hn_audit_studies *st = r->studies;
    int rc = HN_OK;
    for (size_t i = 0; i < st->n_sweeps && r->figs && !rc; i++)
        if (!(rc = plot_sweep(figdir, &st->sweeps[i], err)))
            r->sweep_drawn[i] = 1;
    for (size_t c = 0; c < hn_claims_count() && r->figs && !rc; c++)
        if (r->selected[c] && hn_claim_get(c)->rel != HN_REL_EQ && r->stats[c].n)
            rc = plot_distribution(figdir, hn_claim_get(c), &r->stats[c], &r->ratio_drawn[c], err);
    return rc;
}
