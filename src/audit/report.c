/* hessnorm — the audit's outputs: counterexamples, audit.json, report.md,
 * index.html, gnuplot figures, parameter sweeps and sharp constants. */
#include "config.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/buf.h"
#include "hessnorm/gnuplot.h"
#include "hessnorm/layers.h"
#include "hessnorm/matrices.h"
#include "hessnorm/spectra.h"
#include "base/json.h"
#include "audit/internal.h"
#include "audit/report.h"
#include "audit/families.h"

int hn_inst_save(const hn_inst *in, const char *dir, hn_err *err)
{
    char p[4400];
    int rc = hn_mkdir_p(dir, err);
    if (rc)
        return rc;
    const size_t P = in->m->n_params;
    double *th = hn_calloc(P, sizeof *th);
    if (!th)
        return hn_err_set(err, HN_ENOMEM, "out of memory");
    for (size_t j = 0; j < P; j++)
        th[j] = in->theta[j] + (in->delta ? in->delta[j] : 0.0);
    snprintf(p, sizeof p, "%s/model.json", dir);
    rc = hn_model_save(in->m, p, err);
    snprintf(p, sizeof p, "%s/weights.safetensors", dir);
    if (!rc)
        rc = hn_weights_save(in->m, th, p, err);
    snprintf(p, sizeof p, "%s/sample.safetensors", dir);
    if (!rc)
        rc = hn_samples_save(in->m, in->s, p, err);
    if (!rc && in->delta) {
        snprintf(p, sizeof p, "%s/weights_star.safetensors", dir);
        rc = hn_weights_save(in->m, in->theta, p, err);
    }
    hn_free(th);
    return rc;
}

static json_t *spec_json(const hn_netspec *ns)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:b,s:i,s:b}", "dim", ns->dim, "in_channels",
                     (int)ns->in_c, "in_h", (int)ns->in_h, "in_w", (int)ns->in_w, "conv_layers",
                     (int)ns->n_conv, "fc_layers", (int)ns->n_fc, "classes", (int)ns->K, "pooling",
                     ns->pool == 0 ? "none" : ns->pool == 1 ? "max" : "avg", "pool_replaces_relu",
                     ns->pool_replaces_relu, "pool_l", (int)(ns->pool_after + 1), "mse", ns->mse);
}

static int write_counterexample(const hn_claim *cl, const hn_cstat *st, const char *dir, hn_err *err)
{
    int rc = hn_inst_save(&st->cx, dir, err);
    if (rc)
        return rc;
    const hn_claim_value *v = &st->cx_v;
    json_t *o = json_object();
    json_object_set_new(o, "claim", json_string(cl->id));
    json_object_set_new(o, "location", json_string(cl->location));
    json_object_set_new(o, "printed", json_string(cl->printed));
    json_object_set_new(o, "reading", json_string(cl->reading));
    json_object_set_new(o, "relation", json_string(hn_relation_name(cl->rel)));
    json_object_set_new(o, "measured", hn_json_num(v->measured));
    json_object_set_new(o, "bound", hn_json_num(v->bound));
    json_object_set_new(o, "ratio", hn_json_num(v->bound > 0 ? v->measured / v->bound : INFINITY));
    json_object_set_new(o, "discrepancy", hn_json_num(v->discrepancy));
    json_object_set_new(o, "detail", json_string(v->detail));
    json_object_set_new(o, "family", json_string(st->cx.family ? st->cx.family : ""));
    json_object_set_new(o, "num_params", json_integer((json_int_t)st->cx.m->n_params));
    json_object_set_new(o, "network", spec_json(&st->cx.ns));
    if (st->cx.delta) {
        json_object_set_new(o, "k", json_integer((json_int_t)st->cx.lk));
        json_object_set_new(o, "R", hn_json_num(hn_vec_norm(st->cx.delta, st->cx.m->n_params)));
        json_object_set_new(o, "reproduce",
                            json_string("theta* = weights_star.safetensors, theta = weights.safetensors; "
                                        "sample.safetensors holds the k+1 samples in order; L_k is the mean "
                                        "loss of the first k (hessnorm inspect on a sample file with those "
                                        "samples), l_{k+1} the loss of the last"));
    } else {
        json_object_set_new(o, "reproduce",
                            json_string("hessnorm inspect --json --model model.json --weights "
                                        "weights.safetensors --sample sample.safetensors: the measured side "
                                        "is read off hessian_outer.norm, A_norm, F_norm or linear_layers"));
    }
    char p[4800];
    snprintf(p, sizeof p, "%s/claim.json", dir);
    rc = hn_json_save(o, p, HN_JSON_FLAGS | JSON_SORT_KEYS, 0, err);
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------ sweeps */

typedef struct {
    const char *name, *xlabel;
    size_t npts;
    double x[8];
    double measured[8];
    double bound[4][8];
    const char *bound_ids[4];
    size_t nb;
} sweep;

static double median(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : NAN;
}

/* Out of memory is returned (HN_ENOMEM, message in err) rather than
 * skipped: a skipped draw would silently change the medians. */
static int sweep_point(unsigned long seed, const hn_netspec *ns, sweep *sw, size_t pt, hn_err *err)
{
    enum { DRAWS = 5 };
    double me[DRAWS], bo[4][DRAWS];
    size_t got = 0;
    for (size_t d = 0; d < DRAWS; d++) {
        hn_model *m;
        int rc = hn_netspec_model(ns, &m, err);
        if (rc)
            return rc == HN_ENOMEM ? rc : HN_OK; /* an invalid spec: the point stays empty, as before */
        double *th = hn_calloc(m->n_params, sizeof *th);
        hn_samples *s = NULL;
        gsl_rng *r = NULL;
        if (!th || (rc = hn_samples_alloc(m, 1, &s, err)) != 0 ||
            !(r = gsl_rng_alloc(gsl_rng_mt19937))) {
            hn_free(th);
            hn_samples_free(s);
            hn_model_free(m);
            return rc ? rc : hn_err_set(err, HN_ENOMEM, "sweep %s: out of memory", sw->name);
        }
        gsl_rng_set(r, seed * 31 + pt * 1009 + d);
        hn_family_draw(r, m, 1.0, 0, th, s);
        gsl_rng_free(r);
        hn_facts *f;
        if ((rc = hn_facts_compute_ex(ns, m, th, s, 0, NULL, 1, &f, err)) == HN_ENOMEM) {
            hn_samples_free(s);
            hn_free(th);
            hn_model_free(m);
            return rc;
        }
        if (rc == 0) {
            me[got] = f->HO_norm;
            for (size_t b = 0; b < sw->nb; b++) {
                hn_claim_value v;
                const hn_claim *c = hn_claim_find(sw->bound_ids[b]);
                bo[b][got] = (c && hn_claim_eval(c, f, &v) == 0) ? v.bound : NAN;
            }
            got++;
            hn_facts_free(f);
        }
        hn_samples_free(s);
        hn_free(th);
        hn_model_free(m);
    }
    sw->measured[pt] = median(me, got);
    for (size_t b = 0; b < sw->nb; b++)
        sw->bound[b][pt] = median(bo[b], got);
    return HN_OK;
}

static void base_spec(hn_netspec *ns, size_t n_conv, size_t k, size_t C, size_t size)
{
    memset(ns, 0, sizeof *ns);
    ns->dim = 2;
    ns->in_c = 1;
    ns->in_h = ns->in_w = size;
    ns->n_conv = n_conv;
    ns->K = 3;
    ns->kpool = 2;
    size_t hw = size;
    for (size_t i = 0; i + 1 < n_conv; i++) {
        ns->ch[i] = C;
        ns->kh[i] = ns->kw[i] = k;
        hw -= k - 1;
    }
    ns->ch[n_conv - 1] = 3;
    ns->kh[n_conv - 1] = ns->kw[n_conv - 1] = hw;
}

static void fix_last(hn_netspec *ns)
{
    size_t hw = ns->in_h;
    for (size_t i = 0; i + 1 < ns->n_conv; i++) {
        hw -= ns->kh[i] - 1;
        if (ns->pool && ns->pool_after == i)
            hw /= ns->kpool;
    }
    ns->kh[ns->n_conv - 1] = ns->kw[ns->n_conv - 1] = hw;
}

/* Returns the number of sweeps, or a negative HN_E* code. */
static int run_sweeps(unsigned long seed, sweep *sw, hn_err *err)
{
    hn_netspec ns;
    int rc;
    /* depth */
    sw[0] = (sweep){"depth", "number of conv layers L+1", 0, {0}, {0}, {{0}}, {"theorem2", "lemma2.corrected"}, 2};
    for (size_t L1 = 2; L1 <= 5; L1++) {
        base_spec(&ns, L1, 2, 2, 7);
        sw[0].x[sw[0].npts] = (double)L1;
        if ((rc = sweep_point(seed, &ns, &sw[0], sw[0].npts++, err)) != 0)
            return rc;
    }
    sw[1] = (sweep){"kernel", "kernel size k", 0, {0}, {0}, {{0}}, {"theorem2", "lemma2.corrected"}, 2};
    for (size_t k = 1; k <= 4; k++) {
        base_spec(&ns, 3, k, 2, 9);
        sw[1].x[sw[1].npts] = (double)k;
        if ((rc = sweep_point(seed, &ns, &sw[1], sw[1].npts++, err)) != 0)
            return rc;
    }
    sw[2] = (sweep){"channels", "channels C", 0, {0}, {0}, {{0}}, {"theorem2", "lemma2.corrected"}, 2};
    for (size_t C = 1; C <= 4; C++) {
        base_spec(&ns, 3, 2, C, 7);
        sw[2].x[sw[2].npts] = (double)C;
        if ((rc = sweep_point(seed, &ns, &sw[2], sw[2].npts++, err)) != 0)
            return rc;
    }
    sw[3] = (sweep){"pool_max", "max-pool position l", 0, {0}, {0}, {{0}}, {"lemma3", "lemma3.corrected", "theorem2"}, 3};
    sw[4] = (sweep){"pool_avg", "avg-pool position l", 0, {0}, {0}, {{0}}, {"lemma4", "lemma4.corrected", "theorem2"}, 3};
    for (int t = 1; t <= 2; t++)
        for (size_t l = 1; l <= 3; l++) {
            base_spec(&ns, 4, 2, 2, 11);
            ns.pool = t;
            ns.pool_replaces_relu = 1;
            ns.pool_after = l - 1;
            fix_last(&ns);
            sweep *s = &sw[2 + t];
            s->x[s->npts] = (double)l;
            if ((rc = sweep_point(seed, &ns, s, s->npts++, err)) != 0)
                return rc;
        }
    return 5;
}

static int plot_sweep(const char *figdir, const sweep *sw, hn_buf *names, hn_err *err)
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
    hn_buf_printf(&g,
                  "set terminal pngcairo size 800,500\nset output @OUT@\nset logscale y\nset format y '10^{%%L}'\n"
                  "set xtics 1\nset xlabel '%s'\nset ylabel 'value (median of 5 draws)'\nset key outside right\n"
                  "set title 'measured ||H_O|| and the paper''s bounds: %s'\n"
                  "plot '%s' using 1:2 with linespoints lw 2 title 'measured ||H_O||'",
                  sw->xlabel, sw->name, data);
    for (size_t b = 0; b < sw->nb; b++)
        hn_buf_printf(&g, ", '' using 1:%zu with linespoints title '%s'", b + 3, sw->bound_ids[b]);
    hn_buf_puts(&g, "\n");
    rc = g.failed ? hn_err_set(err, HN_ENOMEM, "out of memory") : hn_gnuplot(g.s, png, err);
    hn_buf_free(&g);
    if (!rc)
        hn_buf_printf(names, "sweep_%s.png\n", sw->name);
    return rc;
}

static int plot_distribution(const char *figdir, const hn_claim *cl, const hn_cstat *st, hn_err *err)
{
    char data[4400], png[4400];
    snprintf(data, sizeof data, "%s/ratio_%s.dat", figdir, cl->id);
    snprintf(png, sizeof png, "%s/ratio_%s.png", figdir, cl->id);
    hn_buf d;
    hn_buf_init(&d);
    hn_buf_puts(&d, "# log10(bound/measured) per network\n");
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++)
        if (st->ratios[i] > 0 && isfinite(st->ratios[i])) {
            hn_buf_printf(&d, "%.8g\n", -log10(st->ratios[i]));
            n++;
        }
    int rc = hn_buf_save(&d, data, err);
    hn_buf_free(&d);
    if (rc || n == 0)
        return rc;
    hn_buf g;
    hn_buf_init(&g);
    hn_buf_printf(&g,
                  "set terminal pngcairo size 640,400\nset output @OUT@\nbinwidth=0.25\n"
                  "bin(x)=binwidth*floor(x/binwidth)+binwidth/2\nset style fill solid 0.6\n"
                  "set xlabel 'log10(bound / measured)   (< 0: the bound is violated)'\nset ylabel 'networks'\n"
                  "set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb 'red'\n"
                  "set title '%s (%s): %zu networks'\n"
                  "plot '%s' using (bin($1)):(1.0) smooth freq with boxes notitle\n",
                  cl->id, cl->location, n, data);
    rc = g.failed ? hn_err_set(err, HN_ENOMEM, "out of memory") : hn_gnuplot(g.s, png, err);
    hn_buf_free(&g);
    return rc;
}

/* ------------------------------------------------------------ sharp constants */

typedef struct {
    const char *what, *paper, *sharp, *evidence;
    double paper_value, sharp_value;
} sharp_row;

/* *(int *)p is set when ||A|| cannot be evaluated (out of memory): the
 * search then stops rather than report a smaller supremum. */
static double neg_A_norm(const gsl_vector *z, void *p)
{
    int *failed = p;
    size_t K = z->size;
    double zz[16] = {0}, pr[16] = {0}, g[16] = {0};
    for (size_t k = 0; k < K; k++)
        zz[k] = gsl_vector_get(z, k);
    hn_loss_eval(HN_LOSS_CE, K, zz, 0, NULL, g, pr);
    gsl_matrix *A = gsl_matrix_alloc(K, K);
    double nrm = 0;
    if (!A) {
        *failed = 1;
        return GSL_NAN;
    }
    hn_loss_hess_matrix(HN_LOSS_CE, K, pr, A->data);
    if (hn_norm2(A, &nrm, NULL) != 0)
        *failed = 1;
    gsl_matrix_free(A);
    return *failed ? GSL_NAN : -nrm;
}

/* sup over the simplex of ||diag(p) - pp^T||: Nelder-Mead over logits for
 * K = 2..8 (Gershgorin gives <= max_i 2 p_i (1 - p_i) <= 1/2; p = (1/2,1/2,0..)
 * attains it). */
static int sup_A(double *out, hn_err *err)
{
    double best = 0;
    int failed = 0;
    for (size_t K = 2; K <= 8 && !failed; K++) {
        gsl_multimin_fminimizer *mm = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, K);
        gsl_vector *x = gsl_vector_alloc(K), *st = gsl_vector_alloc(K);
        if (!mm || !x || !st) {
            failed = 1;
        } else {
            for (size_t k = 0; k < K; k++)
                gsl_vector_set(x, k, 0.3 * (double)k);
            gsl_vector_set_all(st, 1.0);
            gsl_multimin_function fn = {neg_A_norm, K, &failed};
            if (gsl_multimin_fminimizer_set(mm, &fn, x, st) == GSL_SUCCESS)
                for (int it = 0; it < 2000 && !failed; it++)
                    if (gsl_multimin_fminimizer_iterate(mm) != GSL_SUCCESS)
                        break;
            if (!failed)
                best = fmax(best, -mm->fval);
        }
        if (mm) gsl_multimin_fminimizer_free(mm);
        if (x) gsl_vector_free(x);
        if (st) gsl_vector_free(st);
    }
    *out = failed ? NAN : best;
    return failed ? hn_err_set(err, HN_ENOMEM, "sharp constants: out of memory") : HN_OK;
}

/* ------------------------------------------------------------ writers */

static const char *css =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%}"
    "th{background:#eee}.fails{background:#fcc}.typo{background:#fec}.loose{background:#eef}"
    ".holds{background:#cfc}.approximation{background:#ffd}code{font-size:90%}img{max-width:100%}";

static void fmt_ratio(char *buf, size_t n, double r)
{
    if (!isfinite(r))
        snprintf(buf, n, "inf");
    else
        snprintf(buf, n, "%.3g", r);
}

int hn_audit_write(const hn_audit_opts *o, hn_cstat *stats, const int *selected,
                   const hn_audit_run_info *info, hn_err *err)
{
    const size_t nc = hn_claims_count();
    char figdir[2048], cxdir[2048], p[4400];
    snprintf(figdir, sizeof figdir, "%s/figures", o->out_dir);
    snprintf(cxdir, sizeof cxdir, "%s/counterexamples", o->out_dir);
    int rc = hn_mkdir_p(figdir, err);
    if (!rc)
        rc = hn_mkdir_p(cxdir, err);
    if (rc)
        return rc;
    /* counterexamples */
    char **cxrel = hn_calloc(nc, sizeof *cxrel);
    if (!cxrel)
        return hn_err_set(err, HN_ENOMEM, "out of memory");
    for (size_t c = 0; c < nc && !rc; c++) {
        if (!selected[c] || !stats[c].cx.m)
            continue;
        snprintf(p, sizeof p, "%s/%s", cxdir, hn_claim_get(c)->id);
        rc = write_counterexample(hn_claim_get(c), &stats[c], p, err);
        char rel[300];
        snprintf(rel, sizeof rel, "counterexamples/%s", hn_claim_get(c)->id);
        if (!(cxrel[c] = hn_strdup(rel)) && !rc)
            rc = hn_err_set(err, HN_ENOMEM, "out of memory");
    }
    /* figures */
    int figs = o->figures && hn_gnuplot_available();
    sweep sw[5];
    memset(sw, 0, sizeof sw);
    size_t nsw = 0;
    hn_buf sweepnames;
    hn_buf_init(&sweepnames);
    if (!rc) {
        int n = run_sweeps(o->seed, sw, err);
        if (n < 0)
            rc = n;
        else
            nsw = (size_t)n;
        for (size_t i = 0; i < nsw && figs && !rc; i++)
            rc = plot_sweep(figdir, &sw[i], &sweepnames, err);
        for (size_t c = 0; c < nc && figs && !rc; c++)
            if (selected[c] && hn_claim_get(c)->rel != HN_REL_EQ && stats[c].n)
                rc = plot_distribution(figdir, hn_claim_get(c), &stats[c], err);
    }
    /* sharp constants */
    double supA = NAN;
    if (!rc)
        rc = sup_A(&supA, err);
    sharp_row sharp[] = {
        {"||A|| for cross-entropy, sup over the simplex", "sqrt(2) (Appendix B)", "1/2 (p = (1/2, 1/2, 0, ...))",
         "Gershgorin: row i sums to 2 p_i (1 - p_i) <= 1/2; Nelder-Mead over logits, K = 2..8", sqrt(2.0), supA},
        {"||A|| for MSE", "sqrt(2)", "1 (A = I)", "exact", sqrt(2.0), 1.0},
        {"||Q^(p)|| of a conv layer", "1-D: d (App. C); 2-D: C k sqrt(mn) (App. D)",
         "sqrt(number of output positions): Q^T Q = (positions) I",
         "Q has one 1 per row and each weight appears once per output position (test_matrices)", NAN, NAN},
        {"||Q^(p)|| of a linear layer", "h (via q)", "1", "Q^T Q = I", NAN, 1.0},
        {"||T^(p)|| of a conv layer, |W| <= w", "1-D: C sqrt(d k) w; 2-D: C k sqrt(mn) w",
         "<= sqrt(C_in C_out) k_1 k_2 w (Schur test), independent of the input size; approached by constant kernels on large inputs",
         "row sums <= C_in k_1 k_2 w, column sums <= C_out k_1 k_2 w", NAN, NAN},
        {"||max-pool matrix M||", "1", "1", "rows have one 1 each, disjoint supports: M M^T = I", 1.0, 1.0},
        {"||avg-pool matrix||, 2-D kernel k_pool", "1/k_pool", "1/k_pool", "rows have k_pool^2 entries 1/k_pool^2, disjoint", NAN, NAN},
        {"||avg-pool matrix||, 1-D kernel k_pool", "- (2-D only)", "1/sqrt(k_pool)", "rows have k_pool entries 1/k_pool", NAN, NAN},
        {"||B_i|| (window block of A^T A), 2-D", "1/k_pool", "1/k_pool^2", "B_i = (1/k_pool^4) 1 1^T with 1 in R^(k_pool^2)", NAN, NAN},
    };
    const size_t nsharp = sizeof sharp / sizeof sharp[0];

    /* audit.json */
    json_t *root = json_object();
    json_object_set_new(root, "paper",
                        json_string("ConvNets Landscape Convergence: Hessian-Based Analysis of Matricized Networks"));
    json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(root, "networks", json_integer((json_int_t)info->networks));
    json_object_set_new(root, "random_networks", json_integer((json_int_t)o->n_random));
    json_object_set_new(root, "adversarial_networks", json_integer((json_int_t)o->n_adversarial));
    json_object_set_new(root, "nelder_mead_iterations", json_integer((json_int_t)o->nm_iterations));
    json_object_set_new(root, "truncated_by_budget", json_boolean(info->truncated));
    json_object_set_new(root, "loose_ratio", json_real(HN_LOOSE_RATIO));
    json_object_set_new(root, "violation_rtol", json_real(HN_VIOLATION_RTOL));
    json_t *arr = json_array();
    for (size_t c = 0; c < nc; c++) {
        if (!selected[c])
            continue;
        const hn_claim *cl = hn_claim_get(c);
        const hn_cstat *st = &stats[c];
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string(cl->id));
        json_object_set_new(e, "location", json_string(cl->location));
        json_object_set_new(e, "printed", json_string(cl->printed));
        json_object_set_new(e, "reading", json_string(cl->reading));
        json_object_set_new(e, "relation", json_string(hn_relation_name(cl->rel)));
        json_object_set_new(e, "verdict", json_string(hn_verdict_name(st->verdict)));
        json_object_set_new(e, "samples", json_integer((json_int_t)st->n));
        json_object_set_new(e, "violations", json_integer((json_int_t)st->violations));
        json_object_set_new(e, "violation_rate", st->n ? json_real((double)st->violations / (double)st->n) : json_null());
        json_object_set_new(e, "worst_ratio", st->n ? hn_json_num(st->worst_ratio) : json_null());
        json_object_set_new(e, "median_ratio", st->n ? hn_json_num(st->median) : json_null());
        json_object_set_new(e, "looseness", st->n && st->worst_ratio > 0 ? hn_json_num(1.0 / st->worst_ratio) : json_null());
        json_object_set_new(e, "worst_discrepancy", st->n ? hn_json_num(st->worst_disc) : json_null());
        json_object_set_new(e, "worst_detail", json_string(st->worst_v.detail));
        json_object_set_new(e, "local_search_ratio", st->nm_done ? hn_json_num(st->nm_ratio) : json_null());
        json_object_set_new(e, "counterexample", cxrel[c] ? json_string(cxrel[c]) : json_null());
        json_object_set_new(e, "corrects", cl->corrects ? json_string(cl->corrects) : json_null());
        json_array_append_new(arr, e);
    }
    json_object_set_new(root, "claims", arr);
    json_t *sj = json_array();
    for (size_t i = 0; i < nsharp; i++)
        json_array_append_new(sj, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "quantity", sharp[i].what, "paper",
                                            sharp[i].paper, "sharp", sharp[i].sharp, "evidence", sharp[i].evidence,
                                            "paper_value", hn_json_num(sharp[i].paper_value), "sharp_value",
                                            hn_json_num(sharp[i].sharp_value)));
    json_object_set_new(root, "sharp_constants", sj);
    json_t *swj = json_array();
    for (size_t i = 0; i < nsw; i++) {
        json_t *pts = json_array();
        for (size_t k = 0; k < sw[i].npts; k++) {
            json_t *b = json_object();
            for (size_t j = 0; j < sw[i].nb; j++)
                json_object_set_new(b, sw[i].bound_ids[j], hn_json_num(sw[i].bound[j][k]));
            json_array_append_new(pts, json_pack("{s:f,s:o,s:o}", "x", sw[i].x[k], "measured_HO_norm",
                                                 hn_json_num(sw[i].measured[k]), "bounds", b));
        }
        json_array_append_new(swj, json_pack("{s:s,s:s,s:o}", "sweep", sw[i].name, "x", sw[i].xlabel, "points", pts));
    }
    json_object_set_new(root, "sweeps", swj);
    snprintf(p, sizeof p, "%s/audit.json", o->out_dir);
    if (!rc)
        rc = hn_json_save(root, p, HN_JSON_FLAGS | JSON_SORT_KEYS, 0, err);
    json_decref(root);

    /* report.md and index.html */
    hn_buf md, html;
    hn_buf_init(&md);
    hn_buf_init(&html);
    hn_buf_printf(&md, "# hessnorm audit\n\nEvery statement and proof step of *ConvNets Landscape Convergence: "
                       "Hessian-Based Analysis of Matricized Networks*, evaluated exactly as printed on %zu networks "
                       "(%zu random, %zu adversarial, seed %lu) plus a Nelder-Mead search of %zu iterations on every "
                       "inequality the draws did not break.%s\n\n",
                  info->networks, o->n_random, o->n_adversarial, o->seed, o->nm_iterations,
                  info->truncated ? " **The time budget cut the run short.**" : "");
    hn_buf_printf(&html, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hessnorm audit</title><style>%s</style>"
                         "</head><body><h1>hessnorm audit</h1><p>%zu networks (%zu random, %zu adversarial), seed %lu, "
                         "Nelder&ndash;Mead %zu iterations per unbroken inequality.%s</p>",
                  css, info->networks, o->n_random, o->n_adversarial, o->seed, o->nm_iterations,
                  info->truncated ? " <b>The time budget cut the run short.</b>" : "");
    hn_buf_puts(&md, "Ratios are measured / bound (for equalities: the two sides' ratio); a ratio above 1 breaks "
                     "an inequality. *loose* means every ratio stayed below 0.5: the bound holds with at least "
                     "that factor to spare.\n\n## Summary\n\n| claim | location | relation | verdict | networks | "
                     "worst ratio | median ratio | counterexample | corrects |\n|---|---|---|---|---|---|---|---|---|\n");
    hn_buf_puts(&html, "<h2>Summary</h2><p>Ratio = measured / bound; above 1 breaks an inequality. <i>loose</i>: "
                       "every ratio below 0.5.</p><table><tr><th>claim</th><th>location</th><th>relation</th>"
                       "<th>verdict</th><th>networks</th><th>worst ratio</th><th>median ratio</th>"
                       "<th>counterexample</th><th>corrects</th></tr>");
    for (size_t c = 0; c < nc; c++) {
        if (!selected[c])
            continue;
        const hn_claim *cl = hn_claim_get(c);
        const hn_cstat *st = &stats[c];
        char wr[32] = "-", mr[32] = "-";
        if (st->n) {
            fmt_ratio(wr, sizeof wr, st->worst_ratio);
            fmt_ratio(mr, sizeof mr, st->median);
            if (cl->rel == HN_REL_EQ && st->worst_disc > 0) {
                char d[40];
                snprintf(d, sizeof d, " (diff %.1e)", st->worst_disc);
                strncat(wr, d, sizeof wr - strlen(wr) - 1);
            }
        }
        hn_buf_printf(&md, "| [`%s`](#%s) | %s | %s | **%s** | %zu | %s | %s | %s | %s |\n", cl->id, cl->id,
                      cl->location, hn_relation_name(cl->rel), hn_verdict_name(st->verdict), st->n, wr, mr,
                      cxrel[c] ? cxrel[c] : "", cl->corrects ? cl->corrects : "");
        hn_buf_printf(&html, "<tr class='%s'><td><a href='#%s'><code>%s</code></a></td><td>%s</td><td>",
                      hn_verdict_name(st->verdict), cl->id, cl->id, cl->location);
        hn_buf_html(&html, hn_relation_name(cl->rel));
        hn_buf_printf(&html, "</td><td><b>%s</b></td><td>%zu</td><td>%s</td><td>%s</td><td>",
                      hn_verdict_name(st->verdict), st->n, wr, mr);
        if (cxrel[c])
            hn_buf_printf(&html, "<a href='%s/claim.json'>%s</a>", cxrel[c], cl->id);
        hn_buf_printf(&html, "</td><td>%s</td></tr>", cl->corrects ? cl->corrects : "");
    }
    hn_buf_puts(&md, "\n## Sharp constants\n\n| quantity | paper | sharp | evidence |\n|---|---|---|---|\n");
    hn_buf_puts(&html, "</table><h2>Sharp constants</h2><table><tr><th>quantity</th><th>paper</th><th>sharp</th>"
                       "<th>evidence</th></tr>");
    for (size_t i = 0; i < nsharp; i++) {
        char extra[96] = "";
        if (isfinite(sharp[i].sharp_value) && isfinite(sharp[i].paper_value))
            snprintf(extra, sizeof extra, " (measured %.6g; paper / sharp = %.3g)", sharp[i].sharp_value,
                     sharp[i].paper_value / sharp[i].sharp_value);
        hn_buf_printf(&md, "| %s | %s | %s%s | %s |\n", sharp[i].what, sharp[i].paper, sharp[i].sharp, extra,
                      sharp[i].evidence);
        hn_buf_puts(&html, "<tr><td>");
        hn_buf_html(&html, sharp[i].what);
        hn_buf_puts(&html, "</td><td>");
        hn_buf_html(&html, sharp[i].paper);
        hn_buf_puts(&html, "</td><td>");
        hn_buf_html(&html, sharp[i].sharp);
        hn_buf_html(&html, extra);
        hn_buf_puts(&html, "</td><td>");
        hn_buf_html(&html, sharp[i].evidence);
        hn_buf_puts(&html, "</td></tr>");
    }
    hn_buf_puts(&html, "</table>");
    if (figs) {
        hn_buf_puts(&md, "\n## Bounds against depth, kernel, channels and pooling position\n\n");
        hn_buf_puts(&html, "<h2>Bounds against depth, kernel, channels and pooling position</h2>");
        for (size_t i = 0; i < nsw; i++) {
            hn_buf_printf(&md, "![%s](figures/sweep_%s.png)\n\n", sw[i].name, sw[i].name);
            hn_buf_printf(&html, "<img src='figures/sweep_%s.png' alt='%s'>", sw[i].name, sw[i].name);
        }
    }
    hn_buf_puts(&md, "\n## Claims\n");
    hn_buf_puts(&html, "<h2>Claims</h2>");
    for (size_t c = 0; c < nc; c++) {
        if (!selected[c])
            continue;
        const hn_claim *cl = hn_claim_get(c);
        const hn_cstat *st = &stats[c];
        hn_buf_printf(&md, "\n### <a id=\"%s\"></a>`%s` — %s — %s\n\n- printed: `%s`\n- reading: %s\n"
                           "- relation: %s; networks: %zu; violations: %zu\n",
                      cl->id, cl->id, cl->location, hn_verdict_name(st->verdict), cl->printed,
                      cl->reading[0] ? cl->reading : "as printed", hn_relation_name(cl->rel), st->n, st->violations);
        hn_buf_printf(&html, "<h3 id='%s'><code>%s</code> &mdash; %s &mdash; %s</h3><ul><li>printed: <code>", cl->id,
                      cl->id, cl->location, hn_verdict_name(st->verdict));
        hn_buf_html(&html, cl->printed);
        hn_buf_puts(&html, "</code></li><li>reading: ");
        hn_buf_html(&html, cl->reading[0] ? cl->reading : "as printed");
        hn_buf_printf(&html, "</li><li>relation %s; networks %zu; violations %zu</li>", hn_relation_name(cl->rel),
                      st->n, st->violations);
        if (st->n) {
            hn_buf_printf(&md, "- worst ratio %.6g (%s), median %.6g, worst relative discrepancy %.3g\n",
                          st->worst_ratio, st->worst_v.detail, st->median, st->worst_disc);
            hn_buf_printf(&html, "<li>worst ratio %.6g (", st->worst_ratio);
            hn_buf_html(&html, st->worst_v.detail);
            hn_buf_printf(&html, "), median %.6g, worst relative discrepancy %.3g</li>", st->median, st->worst_disc);
        }
        if (st->nm_done) {
            hn_buf_printf(&md, "- Nelder-Mead from the worst draw reached ratio %.6g\n", st->nm_ratio);
            hn_buf_printf(&html, "<li>Nelder&ndash;Mead from the worst draw reached ratio %.6g</li>", st->nm_ratio);
        }
        if (cxrel[c]) {
            hn_buf_printf(&md, "- counterexample: [%s](%s/claim.json): measured %.6g vs bound %.6g (%s), %zu parameters, family %s\n",
                          cxrel[c], cxrel[c], st->cx_v.measured, st->cx_v.bound, st->cx_v.detail,
                          st->cx.m->n_params, st->cx.family);
            hn_buf_printf(&html, "<li>counterexample: <a href='%s/claim.json'>%s</a>: measured %.6g vs bound %.6g, "
                                 "%zu parameters, family %s</li>",
                          cxrel[c], cxrel[c], st->cx_v.measured, st->cx_v.bound, st->cx.m->n_params, st->cx.family);
        }
        if (cl->corrects) {
            hn_buf_printf(&md, "- corrects [`%s`](#%s)\n", cl->corrects, cl->corrects);
            hn_buf_printf(&html, "<li>corrects <a href='#%s'>%s</a></li>", cl->corrects, cl->corrects);
        }
        hn_buf_puts(&html, "</ul>");
        if (figs && cl->rel != HN_REL_EQ && st->n) {
            hn_buf_printf(&md, "\n![distribution](figures/ratio_%s.png)\n", cl->id);
            hn_buf_printf(&html, "<img src='figures/ratio_%s.png' alt='distribution of bound/measured'>", cl->id);
        }
    }
    hn_buf_puts(&html, "</body></html>\n");
    snprintf(p, sizeof p, "%s/report.md", o->out_dir);
    if (!rc)
        rc = hn_buf_save(&md, p, err);
    snprintf(p, sizeof p, "%s/index.html", o->out_dir);
    if (!rc)
        rc = hn_buf_save(&html, p, err);
    hn_buf_free(&md);
    hn_buf_free(&html);
    hn_buf_free(&sweepnames);
    for (size_t c = 0; c < nc; c++)
        hn_free(cxrel[c]);
    hn_free(cxrel);
    return rc;
}
