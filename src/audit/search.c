/* hessnorm — the audit's local search: Nelder-Mead over the weights of a
 * claim's worst instance, for every inequality the draws did not break. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_multimin.h>
#include "hessnorm/alloc.h"
#include "audit/internal.h"
#include "audit/report.h"

typedef struct {
    const hn_claim *claim;
    hn_inst *in;
    double best;
    double *best_theta;
    int rc;                  /* HN_ENOMEM from an evaluation: stop the search */
    hn_err *err;
} hn_nm_ctx;

static double nm_objective(const gsl_vector *x, void *p)
{
    hn_nm_ctx *c = p;
    const size_t P = c->in->m->n_params;
    for (size_t j = 0; j < P; j++)
        c->in->theta[j] = gsl_vector_get(x, j);
    hn_facts *f;
    int frc = c->rc ? c->rc
                    : hn_facts_compute_groups(&c->in->ns, c->in->m, c->in->theta, c->in->s, 0, NULL, HN_FG_LIGHT,
                                              &f, c->err);
    if (frc == HN_ENOMEM)
        c->rc = frc;
    if (frc)
        return 1e300;
    hn_claim_value v;
    double r = 0;
    if (hn_claim_eval(c->claim, f, &v) == 0)
        r = hn_claim_ratio(&v);
    hn_facts_free(f);
    if (!(r > 0) || !isfinite(r))
        return 1e300;
    if (r > c->best) {
        c->best = r;
        memcpy(c->best_theta, c->in->theta, P * sizeof(double));
    }
    return -log(r);
}

/* Nelder-Mead over the weights, from the claim's worst instance. */
int hn_audit_local_search(const hn_claim *cl, hn_cstat *st, size_t iters, hn_err *err)
{
    if (!st->worst.m || st->worst.lk || st->worst.m->n_params > 120)
        return HN_OK;
    hn_inst work;
    int rc = hn_inst_copy(&work, &st->worst, err);
    if (rc)
        return rc;
    const size_t P = work.m->n_params;
    hn_nm_ctx c = {cl, &work, 0, hn_calloc(P, sizeof(double)), HN_OK, err};
    gsl_vector *x = gsl_vector_alloc(P), *step = gsl_vector_alloc(P);
    gsl_multimin_fminimizer *mm = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, P);
    if (!c.best_theta || !x || !step || !mm) {
        rc = hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        goto done;
    }
    double wmax = 0;
    for (size_t j = 0; j < P; j++) {
        gsl_vector_set(x, j, work.theta[j]);
        wmax = fmax(wmax, fabs(work.theta[j]));
    }
    memcpy(c.best_theta, work.theta, P * sizeof(double));
    gsl_vector_set_all(step, 0.3 * (wmax > 0 ? wmax : 1.0));
    gsl_multimin_function fn = {nm_objective, P, &c};
    if (gsl_multimin_fminimizer_set(mm, &fn, x, step) == GSL_SUCCESS)
        for (size_t it = 0; it < iters && !c.rc; it++)
            if (gsl_multimin_fminimizer_iterate(mm) != GSL_SUCCESS)
                break;
    if ((rc = c.rc) != 0)
        goto done;
    st->nm_best = c.best;
    if (c.best > 0) {
        memcpy(work.theta, c.best_theta, P * sizeof(double));
        hn_facts *f;
        if ((rc = hn_facts_compute_groups(&work.ns, work.m, work.theta, work.s, 0, NULL, HN_FG_LIGHT, &f, err)) == 0) {
            hn_claim_value v;
            if (hn_claim_eval(cl, f, &v) == 0) {
                st->nm_ratio = hn_claim_ratio(&v);
                work.family = "Nelder-Mead from the worst draw";
                rc = hn_cstat_record(st, cl, &v, &work, err);
                st->nm_done = 1;
            }
            hn_facts_free(f);
        }
    }
done:
    if (mm) gsl_multimin_fminimizer_free(mm);
    if (x) gsl_vector_free(x);
    if (step) gsl_vector_free(step);
    hn_free(c.best_theta);
    hn_inst_free(&work);
    return rc;
}

/* ------------------------------------------------------------ ascent */

/* Gradient ascent on log(measured / bound) over the weights and the input.
 *
 * The gradient is a central difference, not the derivative of the top
 * eigenvalue: every claim's bound is a different closed form in the facts
 * (max |w|, the sizes, products of layer norms, ||x||), so an analytic
 * gradient would need one derivative per evaluator (seventy of them) and
 * would still be undefined where a max switches; a central difference of
 * the claim's own log ratio is exact to O(h^2) on the smooth pieces and
 * costs 2n evaluations, which the small networks this runs on (n <= 160
 * variables) afford.  Steps are relative (h_j = 1e-5 s_j, s_j = |v_j| +
 * a floor per block), the direction is s_j^2 g_j (steepest ascent in
 * log-coordinates: weights and inputs span eight orders of magnitude),
 * and an Armijo backtracking line search accepts a step.  Deterministic;
 * at most max_evals evaluations per start. */

#define ASCENT_MAX_VARS 160
/* relative difference step: truncation O(h^2) ~ 1e-10 against rounding
 * ~ 1e-13 / h ~ 1e-8 of the eigensolvers' relative accuracy */
#define ASCENT_H 1e-5

int hn_search_log_ratio(const hn_claim *cl, hn_inst *in, const double *v, double *out, hn_err *err)
{
    const size_t P = in->m->n_params, nx = in->s->in_size;
    memcpy(in->theta, v, P * sizeof(double));
    memcpy(in->s->x, v + P, nx * sizeof(double));
    hn_facts *f;
    int rc = hn_facts_compute_groups(&in->ns, in->m, in->theta, in->s, 0, NULL, cl->facts, &f, err);
    if (rc == HN_ENOMEM)
        return rc;
    if (rc)
        return 1;
    hn_claim_value cv;
    double r = hn_claim_eval(cl, f, &cv) == 0 ? hn_claim_ratio(&cv) : 0;
    hn_facts_free(f);
    if (!(r > 0) || isnan(r))
        return 1;
    *out = log(r);
    return 0;
}

/* s_j = |v_j| + 10^-3 of the largest |v| of its block (weights, input). */
static void ascent_scales(size_t P, size_t n, const double *v, double *s)
{
    double mw = 0, mx = 0;
    for (size_t j = 0; j < P; j++)
        mw = fmax(mw, fabs(v[j]));
    for (size_t j = P; j < n; j++)
        mx = fmax(mx, fabs(v[j]));
    for (size_t j = 0; j < n; j++) {
        double fl = 1e-3 * (j < P ? mw : mx);
        s[j] = fabs(v[j]) + (fl > 0 ? fl : 1e-12);
    }
}

int hn_search_gradient(const hn_claim *cl, hn_inst *in, const double *v, double *g, size_t *evals, hn_err *err)
{
    const size_t P = in->m->n_params, n = P + in->s->in_size;
    double *w = hn_calloc(2 * n, sizeof(double)), *s = w ? w + n : NULL;
    if (!w)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    memcpy(w, v, n * sizeof(double));
    ascent_scales(P, n, v, s);
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        double h = ASCENT_H * s[j], fp, fm;
        w[j] = v[j] + h;
        rc = hn_search_log_ratio(cl, in, w, &fp, err);
        w[j] = v[j] - h;
        if (!rc)
            rc = hn_search_log_ratio(cl, in, w, &fm, err);
        w[j] = v[j];
        *evals += 2;
        if (!rc)
            g[j] = (fp - fm) / (2 * h);
    }
    hn_free(w);
    return rc;
}

typedef struct {
    double *v, *g, *s, *t;  /* point, gradient, scales, trial point */
    double f;               /* log ratio at v */
    size_t evals;
} ascent_state;

/* One Armijo step along s^2 g from st->v: 0 taken, 1 none found. */
static int ascent_step(const hn_claim *cl, hn_inst *in, ascent_state *a, size_t n, double *step, hn_err *err)
{
    double slope = 0, gmax = 0;
    for (size_t j = 0; j < n; j++) {
        slope += a->s[j] * a->s[j] * a->g[j] * a->g[j];
        gmax = fmax(gmax, a->s[j] * fabs(a->g[j]));
    }
    if (!(gmax > 0) || !isfinite(slope))
        return 1;
    /* the first trial moves no variable by more than half its scale */
    double t = fmin(*step * 2, 0.5 / gmax);
    for (int back = 0; back < 30; back++, t *= 0.5) {
        for (size_t j = 0; j < n; j++)
            a->t[j] = a->v[j] + t * a->s[j] * a->s[j] * a->g[j];
        double ft;
        int rc = hn_search_log_ratio(cl, in, a->t, &ft, err);
        a->evals++;
        if (rc == HN_ENOMEM)
            return rc;
        if (rc == 0 && ft >= a->f + 1e-4 * t * slope) {
            memcpy(a->v, a->t, n * sizeof(double));
            a->f = ft;
            *step = t;
            return 0;
        }
    }
    return 1;
}

/* An ascent's end is recorded only when it raised log(ratio) by more than
 * this: a gain at rounding level (1e-16 .. 2e-15 seen from the ratio
 * 1/sqrt(2) or 1 of a tight start) is the same network, not a better one,
 * and it comes or goes with the BLAS kernel's rounding, which made the
 * audit's sample counts differ by one between kernels (lemma2.corrected.mse
 * 281 / 280 with Haswell's / Cooperlake's).  1e-12 is ~1000 times the
 * rounding of a ratio of two norms and below any gain worth a sample. */
#define HN_ASCENT_MIN_GAIN 1e-12

int hn_audit_ascent(const hn_claim *cl, hn_cstat *st, const hn_inst *start, size_t max_evals, double *reached,
                    hn_err *err)
{
    *reached = 0;
    if (!start->m || start->lk || start->s->n != 1)
        return HN_OK;
    const size_t P = start->m->n_params, n = P + start->s->in_size;
    if (n > ASCENT_MAX_VARS)
        return HN_OK;
    hn_inst work;
    int rc = hn_inst_copy(&work, start, err);
    if (rc)
        return rc;
    ascent_state a = {hn_calloc(4 * n, sizeof(double)), NULL, NULL, NULL, 0, 0};
    if (!a.v) {
        hn_inst_free(&work);
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    }
    a.g = a.v + n, a.s = a.g + n, a.t = a.s + n;
    memcpy(a.v, start->theta, P * sizeof(double));
    memcpy(a.v + P, start->s->x, (n - P) * sizeof(double));
    rc = hn_search_log_ratio(cl, &work, a.v, &a.f, err);
    double f0 = a.f, step = INFINITY;
    while (rc == 0 && isfinite(a.f) && a.evals + 2 * n < max_evals) {
        if ((rc = hn_search_gradient(cl, &work, a.v, a.g, &a.evals, err)) != 0)
            break;
        ascent_scales(P, n, a.v, a.s);
        rc = ascent_step(cl, &work, &a, n, &step, err);
    }
    if (rc == HN_ENOMEM)
        goto done;
    rc = HN_OK;
    if (a.f > f0 + HN_ASCENT_MIN_GAIN) {
        memcpy(work.theta, a.v, P * sizeof(double));
        memcpy(work.s->x, a.v + P, (n - P) * sizeof(double));
        hn_facts *f;
        if ((rc = hn_facts_compute_groups(&work.ns, work.m, work.theta, work.s, 0, NULL, HN_FG_ALL, &f, err)) ==
            0) {
            hn_claim_value v;
            if (hn_claim_eval(cl, f, &v) == 0) {
                *reached = hn_claim_ratio(&v);
                work.family = "gradient ascent from the best draws";
                rc = hn_cstat_record(st, cl, &v, &work, err);
            }
            hn_facts_free(f);
        } else if (rc != HN_ENOMEM)
            rc = HN_OK;
    }
done:
    hn_free(a.v);
    hn_inst_free(&work);
    return rc;
}
