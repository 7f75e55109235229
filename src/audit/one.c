/* hessnorm — the claims on one given network: how tight each bound is on a
 * user's model (hn_audit_one, see audit.h).  Same facts and claim
 * evaluators as the audit; nothing is printed. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "audit/claims_eval.h"
#include "audit/report.h"
#include "base/threads.h"

const char *hn_na_reason_text(hn_na_reason r)
{
    switch (r) {
    case HN_NA_NONE: return "";
    case HN_NA_TYPO: return "not well-formed as printed: nothing to evaluate";
    case HN_NA_SETTING: return "the network is outside the claim's setting";
    case HN_NA_LANDSCAPE:
        return "needs the equation-(1) facts (theta, theta*, k+1 samples): not computed";
    case HN_NA_HESSIAN: return "needs the full Hessian, formed only up to 400 parameters";
    case HN_NA_UNMEASURED: return "applicable, but a quantity it needs was not measured";
    case HN_NA_LOSS:
        return "stated for the other loss (a cross-entropy claim on an MSE network or the reverse; see its "
               "twin <id>.mse / <id>)";
    }
    return "?";
}

const char *hn_claim_instance_status(const hn_claim_instance *c)
{
    return !c->applicable ? "n/a" : c->violated ? "VIOLATED" : c->undecided ? "undecided" : "holds";
}

const char *hn_claim_instance_detail(const hn_claim_instance *c)
{
    if (!c->applicable) /* not measured: the evaluator's own reason */
        return (c->na == HN_NA_UNMEASURED || c->na == HN_NA_SETTING) && c->value.detail[0] ? c->value.detail
                                                                                  : hn_na_reason_text(c->na);
    if (c->identity && !c->value.detail[0])
        return "identity: only the relative discrepancy of the two sides is measured";
    return c->value.detail;
}

/* Why c does not apply to f: probe the claim's evaluator on a copy of the
 * facts with the missing optional group marked present (the evaluators
 * only read the facts and compute; the values of this probe are dropped). */
static hn_na_reason na_reason(const hn_claim *c, const hn_facts *f, char detail[256])
{
    detail[0] = 0;
    if (c->typo)
        return HN_NA_TYPO;
    if (!hn_claim_loss_fits(c, f))
        return HN_NA_LOSS;
    hn_facts g = *f;
    hn_claim_value v;
    if (!g.have_land) {
        g.have_land = 1;
        g.lk = 1;
        if (c->eval(&g, &v) == 0)
            return HN_NA_LANDSCAPE;
        g.have_land = 0;
        g.lk = 0;
    }
    if (!g.have_H) {
        g.have_H = 1;
        if (c->eval(&g, &v) == 0)
            return HN_NA_HESSIAN;
    }
    /* the evaluator's own reason, with every optional group present (the setting is all that is left) */
    g.have_land = 1;
    g.lk = f->have_land ? f->lk : 1;
    memset(&v, 0, sizeof v);
    (void)c->eval(&g, &v);
    memcpy(detail, v.detail, sizeof v.detail);
    return HN_NA_SETTING;
}

/* The claim at the upper ends of the facts' brackets (T_hi, R_hi). */
/* Certified only at the ends of the brackets: *violated when the measured
 * side's lower end exceeds the bound's upper end, *may when its upper end
 * exceeds the bound's lower end. */
static void cross_check(const hn_claim *c, const hn_claim_value *lo, const hn_claim_value *hi, int *violated,
                        int *may)
{
    hn_claim_value cross = *hi;
    cross.bound = lo->bound; /* measured at its upper end, bound at its lower */
    *may = hn_claim_violated(c, &cross);
    cross = *lo;
    cross.bound = hi->bound; /* measured at its lower end, bound at its upper */
    *violated = hn_claim_violated(c, &cross);
}

/* The upper ends of the brackets (value_hi) and the verdict from both ends
 * (o->violated, o->undecided).  A claim over every layer p reports the
 * worst p of the lower ends, both ends at that one p (a tie between layers
 * would otherwise pair one layer's measured side with another's bound);
 * its verdict is over every p, each at its own ends: VIOLATED when some p
 * is, undecided when some p may be, holds only when none may. */
static int bracket_ends(hn_claim_instance *o, const hn_facts *f, hn_err *err)
{
    hn_facts *g = hn_calloc(2, sizeof *g);
    if (!g)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    hn_facts *lo = g + 1;
    g[0] = *f;
    for (size_t t = 0; t < HN_MAXLIN; t++) {
        g->T_norm[t] = f->T_hi[t];
        g->R_norm[t] = f->R_hi[t];
    }
    g->pin_p = o->value.worst_p;
    if (hn_claim_eval(o->claim, g, &o->value_hi) != 0)
        o->value_hi = o->value;
    int violated, may;
    cross_check(o->claim, &o->value, &o->value_hi, &violated, &may);
    if (o->value.worst_p) {
        *lo = *f;
        for (size_t p = 1; p <= f->n_lin && p <= HN_MAXLIN; p++) {
            if (p == o->value.worst_p)
                continue;
            hn_claim_value vl, vh;
            lo->pin_p = g->pin_p = p;
            if (hn_claim_eval(o->claim, lo, &vl) != 0 || hn_claim_eval(o->claim, g, &vh) != 0)
                continue; /* p outside the claim's range of layers */
            int v_p, m_p;
            cross_check(o->claim, &vl, &vh, &v_p, &m_p);
            violated |= v_p;
            may |= m_p;
        }
    }
    o->violated = violated;
    o->undecided = may && !violated;
    hn_free(g);
    return HN_OK;
}

static int all_finite(const double *v, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            *bad = i;
            return 0;
        }
    return 1;
}

/* The arguments: a finalized model, its weights and a sample set of it. */
static int check_args(const hn_model *m, const double *theta, const hn_samples *s, hn_err *err)
{
    if (!m || !theta || !s)
        return hn_err_set(err, HN_EINVAL, "audit: %s is NULL",
                          !m ? "the model" : !theta ? "theta" : "the sample");
    if (!m->finalized || !m->n_linear)
        return hn_err_set(err, HN_EINVAL, "audit: the model is not finalized");
    const size_t in = hn_shape_size(m->input);
    if (s->n < 1 || !s->x)
        return hn_err_set(err, HN_EINVAL, "x: the sample set is empty");
    if (s->in_size != in)
        return hn_err_set(err, HN_ESHAPE, "x: sample size %zu, the model input has %zu elements",
                          s->in_size, in);
    if (s->classes != m->classes)
        return hn_err_set(err, HN_ESHAPE, "y: samples for %zu classes, the model has %zu",
                          s->classes, m->classes);
    if (s->loss != m->loss || (m->loss == HN_LOSS_CE ? !s->y_class : !s->y_vec))
        return hn_err_set(err, HN_ESHAPE, "y: the samples are for the %s loss, the model uses %s",
                          s->loss == HN_LOSS_CE ? "cross_entropy" : "mse",
                          m->loss == HN_LOSS_CE ? "cross_entropy" : "mse");
    size_t bad;
    if (!all_finite(theta, m->n_params, &bad))
        return hn_err_set(err, HN_EINVAL, "theta[%zu]: not finite", bad);
    if (!all_finite(s->x, in, &bad))
        return hn_err_set(err, HN_EINVAL, "x[%zu]: not finite", bad);
    if (m->loss == HN_LOSS_CE && (s->y_class[0] < 0 || (size_t)s->y_class[0] >= m->classes))
        return hn_err_set(err, HN_EINVAL, "y[0] = %ld is not a class index in [0, %zu)",
                          s->y_class[0], m->classes);
    if (m->loss == HN_LOSS_MSE && !all_finite(s->y_vec, m->classes, &bad))
        return hn_err_set(err, HN_EINVAL, "y[%zu]: not finite", bad);
    return HN_OK;
}

/* Every sample of s (not only the first) finite, with a valid label: the
 * equation-(1) facts read all k+1. */
static int check_all_samples(const hn_model *m, const hn_samples *s, hn_err *err)
{
    size_t bad;
    for (size_t i = 0; i < s->n; i++) {
        if (!all_finite(s->x + i * s->in_size, s->in_size, &bad))
            return hn_err_set(err, HN_EINVAL, "x[%zu][%zu]: not finite", i, bad);
        if (m->loss == HN_LOSS_CE && (s->y_class[i] < 0 || (size_t)s->y_class[i] >= m->classes))
            return hn_err_set(err, HN_EINVAL, "y[%zu] = %ld is not a class index in [0, %zu)", i,
                              s->y_class[i], m->classes);
        if (m->loss == HN_LOSS_MSE && !all_finite(s->y_vec + i * m->classes, m->classes, &bad))
            return hn_err_set(err, HN_EINVAL, "y[%zu][%zu]: not finite", i, bad);
    }
    return HN_OK;
}

/* The loss and gradient of every sample of s at theta finite: the facts
 * are built on them, and an overflow there would surface later as a
 * non-finite matrix handed to an eigensolver.  HN_EOVERFLOW naming the
 * sample and the quantity ("x: sample 2: the gradient overflows ..."). */
static int check_overflow(const hn_model *m, const double *theta, const hn_samples *s, const char *at,
                          hn_err *err)
{
    const size_t P = m->n_params;
    hn_ws *ws = NULL;
    double *g = hn_calloc(P, sizeof *g);
    int rc = g ? hn_ws_alloc(m, &ws, err) : hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    for (size_t i = 0; i < s->n && !rc; i++) {
        double loss = 0;
        memset(g, 0, P * sizeof *g);
        hn_loss_grad(m, theta, s, i, ws, 1.0, &loss, g);
        size_t bad;
        if (!isfinite(loss)) /* NaN: inf - inf inside the softmax or the squares */
            rc = hn_err_set(err, HN_EOVERFLOW, "x: sample %zu: the loss overflows (%s) at %s", i,
                            isnan(loss) ? "NaN" : "inf", at);
        else if (!all_finite(g, P, &bad))
            rc = hn_err_set(err, HN_EOVERFLOW, "x: sample %zu: the gradient overflows (entry %zu is %g) at %s", i,
                            bad, g[bad], at);
    }
    hn_ws_free(ws);
    hn_free(g);
    return rc;
}

/* Claim c on the facts f into o (its value, verdict and, matrix-free,
 * the ends of its brackets). */
int hn_claim_instance_eval(hn_claim_instance *o, const hn_claim *c, const hn_facts *f, hn_err *err)
{
    memset(o, 0, sizeof *o);
    o->claim = c;
    int er = hn_claim_eval(o->claim, f, &o->value);
    if (er == 2) { /* applicable, not measured: keep the reason (value.detail), no numbers */
        o->value.measured = o->value.bound = o->value.discrepancy = NAN;
        o->ratio = NAN;
        o->na = HN_NA_UNMEASURED;
        return HN_OK;
    }
    if (er != 0) {
        memset(&o->value, 0, sizeof o->value);
        o->na = na_reason(o->claim, f, o->value.detail); /* the setting's reason kept in value.detail */
        return HN_OK;
    }
    o->applicable = 1;
    o->matrix_free = f->matfree;
    o->value_hi = o->value;
    int rc;
    o->violated = hn_claim_violated(o->claim, &o->value);
    if (f->matfree && o->claim->rel != HN_REL_EQ && (rc = bracket_ends(o, f, err)) != 0)
        return rc;
    if (o->claim->rel == HN_REL_EQ) {
        /* both sides 0 before hn_claim_eval's convention: an identity */
        hn_claim_value raw;
        memset(&raw, 0, sizeof raw);
        o->identity = o->claim->eval(f, &raw) == 0 && raw.measured == 0 && raw.bound == 0;
    }
    const hn_claim_value *v = &o->value;
    o->ratio = hn_claim_ratio(v);
    return HN_OK;
}

/* The claims of the selection on the facts at theta (and, with k > 0, the
 * equation-(1) facts at theta* = theta, theta* + delta over the k+1
 * samples of s). */
static int one_core(const hn_model *m, const double *theta, const hn_samples *s, size_t k, const double *delta,
                    const char *claims, hn_route route, const hn_mf_theta *th, hn_claim_instance *out, size_t n_out,
                    size_t *n_written, hn_err *err)
{
    int rc;
    const size_t nc = hn_claims_count();
    unsigned char *sel = hn_calloc(nc, sizeof *sel);
    if (!sel)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    size_t n_sel;
    hn_netspec ns;
    hn_facts *f = NULL;
    if ((rc = hn_audit_one_select(claims, sel, &n_sel, err)) != 0)
        goto done;
    if (n_out < n_sel) {
        rc = hn_err_set(err, HN_EINVAL, "audit: room for %zu claims, %zu selected", n_out, n_sel);
        goto done;
    }
    if ((rc = hn_netspec_from_model(m, &ns, err)) != 0)
        goto done;
    /* only the fact groups the selected claims read (all of them for the
     * whole registry): a claim's value and its n/a probe read nothing else */
    unsigned groups = 0;
    for (size_t i = 0; i < nc; i++)
        if (sel[i])
            groups |= hn_claim_get(i)->facts;
    if ((rc = hn_facts_compute_route(&ns, m, theta, s, k, delta, groups, route, th, &f, err)) != 0) {
        /* every input was checked finite (check_args), so a matrix entry
         * that is not (the eigensolvers' check) overflowed in the facts */
        if (err && rc == HN_EINVAL && strstr(err->msg, "is not finite"))
            rc = hn_err_set(err, HN_EOVERFLOW, "a result overflows on finite input: %s", err->msg);
        goto done;
    }
    size_t w = 0;
    for (size_t i = 0; i < nc && !rc; i++)
        if (sel[i])
            rc = hn_claim_instance_eval(&out[w++], hn_claim_get(i), f, err);
    if (rc)
        goto done;
    *n_written = w;
done:
    hn_facts_free(f);
    hn_free(sel);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The ratio a claim instance is ranked by: measured / bound, or the
 * discrepancy of an equality. */
static double rank_of(const hn_claim_instance *o)
{
    return o->claim->rel == HN_REL_EQ ? o->value.discrepancy : o->ratio;
}

/* One sample's instances, what the batch fields read: rank, applicable,
 * violated, undecided. */
typedef struct {
    double q;
    unsigned char applicable, violated, undecided;
} batch_cell;

static void batch_cells(const hn_claim_instance *src, size_t n, batch_cell *cell)
{
    for (size_t c = 0; c < n; c++) {
        cell[c].applicable = (unsigned char)src[c].applicable;
        cell[c].violated = (unsigned char)(src[c].violated != 0);
        cell[c].undecided = (unsigned char)(src[c].undecided != 0);
        cell[c].q = src[c].applicable ? rank_of(&src[c]) : NAN;
    }
}

/* Samples 1..N-1 of s, each by one thread on its own copy of the claims'
 * instances (samples are independent: the same bits on any thread count),
 * into cells (N x n, sample i at cells + i*n); rcs[i] and errs[i] its
 * status.  The dense route stays on one thread: its matrices are sized for
 * one sample at a time (the CLI's memory check). */
static void batch_samples(const hn_model *m, const double *theta, const hn_samples *s, const char *claims,
                          hn_route route, const hn_mf_theta *th, size_t n, batch_cell *cells, int *rcs, hn_err *errs)
{
    const long N = (long)s->n;
    const int nt = th ? hn_resolve_threads(0) : 1;
#pragma omp parallel num_threads(nt) if (nt > 1 && N > 2)
    {
        hn_claim_instance *cur = hn_calloc(n, sizeof *cur);
#pragma omp for schedule(dynamic, 1)
        for (long i = 1; i < N; i++) {
            size_t w = n;
            if (!cur) {
                rcs[i] = hn_err_set(&errs[i], HN_ENOMEM, "audit: out of memory for the claims of sample %ld", i);
                continue;
            }
            hn_samples one = hn_samples_view(s, (size_t)i);
            rcs[i] = one_core(m, theta, &one, 0, NULL, claims, route, th, cur, n, &w, &errs[i]);
            if (!rcs[i])
                batch_cells(cur, n, cells + (size_t)i * n);
        }
        hn_free(cur);
    }
}

/* out[0..n) hold sample 0's instances: evaluate samples 1..s->n-1 the same
 * way and fill the batch fields of out, reduced in sample order. */
static int one_batch(const hn_model *m, const double *theta, const hn_samples *s, const char *claims, hn_route route,
                     const hn_mf_theta *th, hn_claim_instance *out, size_t n, hn_err *err)
{
    const size_t N = s->n;
    double *r = hn_calloc(n * N, sizeof *r);
    batch_cell *cells = hn_calloc(n * N, sizeof *cells);
    int *rcs = hn_calloc(N, sizeof *rcs);
    hn_err *errs = hn_calloc(N, sizeof *errs);
    int rc = !r || !cells || !rcs || !errs ? hn_err_set(err, HN_ENOMEM, "audit: out of memory for %zu samples", N)
                                           : HN_OK;
    if (!rc) {
        batch_cells(out, n, cells);
        batch_samples(m, theta, s, claims, route, th, n, cells, rcs, errs);
    }
    for (size_t i = 1; i < N && !rc; i++)
        if (rcs[i]) { /* the first failing sample's error, whatever the threads */
            rc = rcs[i];
            if (err)
                *err = errs[i];
        }
    for (size_t c = 0; c < n && !rc; c++) {
        out[c].batch_n = N;
        out[c].ratio_min = out[c].ratio_max = out[c].ratio_median = NAN;
    }
    for (size_t i = 0; i < N && !rc; i++)
        for (size_t c = 0; c < n; c++) {
            hn_claim_instance *o = &out[c];
            const batch_cell *x = &cells[i * n + c];
            if (!x->applicable)
                continue;
            const double q = x->q;
            if (!o->batch_applicable || q > o->ratio_max) {
                o->ratio_max = q;
                o->worst_sample = i;
            }
            if (!o->batch_applicable || q < o->ratio_min)
                o->ratio_min = q;
            r[c * N + o->batch_applicable++] = q;
            o->batch_violated += x->violated;
            o->batch_undecided += x->undecided;
        }
    for (size_t c = 0; c < n && !rc; c++)
        if (out[c].batch_applicable) {
            qsort(r + c * N, out[c].batch_applicable, sizeof *r, cmp_double);
            out[c].ratio_median = r[c * N + (out[c].batch_applicable - 1) / 2];
        }
    hn_free(r);
    hn_free(cells);
    hn_free(rcs);
    hn_free(errs);
    return rc;
}

int hn_audit_one(const hn_model *m, const double *theta, const hn_samples *s, const char *claims,
                 hn_claim_instance *out, size_t n_out, size_t *n_written, hn_err *err)
{
    return hn_audit_one_route(m, theta, s, claims, HN_ROUTE_AUTO, out, n_out, n_written, err);
}

int hn_audit_one_route(const hn_model *m, const double *theta, const hn_samples *s, const char *claims,
                       hn_route route, hn_claim_instance *out, size_t n_out, size_t *n_written, hn_err *err)
{
    hn_gsl_quiet();
    if (!out || !n_written)
        return hn_err_set(err, HN_EINVAL, "audit: %s is NULL",
                          !out ? "the output array" : "n_written");
    int rc = check_args(m, theta, s, err);
    if (rc)
        return rc;
    if (s->n > 1 && (rc = check_all_samples(m, s, err)) != 0)
        return rc;
    if ((rc = check_overflow(m, theta, s, "theta", err)) != 0)
        return rc;
    /* theta's part of the matrix-free facts, once for every sample */
    hn_mf_theta *th = NULL;
    if (hn_facts_route_matfree(m, route) && (rc = hn_facts_mf_theta(m, theta, &th, err)) != 0)
        return rc;
    /* the first sample, as a one-sample set */
    hn_samples one = hn_samples_view(s, 0);
    rc = one_core(m, theta, &one, 0, NULL, claims, route, th, out, n_out, n_written, err);
    if (!rc)
        rc = one_batch(m, theta, s, claims, route, th, out, *n_written, err);
    hn_mf_theta_free(th);
    return rc;
}

int hn_audit_one_landscape(const hn_model *m, const double *theta, const double *theta_star,
                           const hn_samples *s, const char *claims, hn_claim_instance *out, size_t n_out,
                           size_t *n_written, hn_err *err)
{
    hn_gsl_quiet();
    if (!out || !n_written || !theta_star)
        return hn_err_set(err, HN_EINVAL, "audit: %s is NULL",
                          !out ? "the output array" : !n_written ? "n_written" : "theta*");
    int rc = check_args(m, theta, s, err);
    if (rc)
        return rc;
    size_t bad;
    const size_t P = m->n_params;
    if (!all_finite(theta_star, P, &bad))
        return hn_err_set(err, HN_EINVAL, "theta*[%zu]: not finite", bad);
    if (s->n < 2)
        return hn_err_set(err, HN_EINVAL,
                          "x: the equation-(1) claims need k+1 >= 2 samples (k = n - 1); the sample set has %zu",
                          s->n);
    if ((rc = check_all_samples(m, s, err)) != 0 || (rc = check_overflow(m, theta_star, s, "theta*", err)) != 0 ||
        (rc = check_overflow(m, theta, s, "theta", err)) != 0)
        return rc;
    double *delta = hn_calloc(P, sizeof *delta);
    if (!delta)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    for (size_t j = 0; j < P; j++)
        delta[j] = theta[j] - theta_star[j];
    rc = one_core(m, theta_star, s, s->n - 1, delta, claims, HN_ROUTE_AUTO, NULL, out, n_out, n_written, err);
    hn_free(delta);
    return rc;
}
