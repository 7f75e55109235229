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
