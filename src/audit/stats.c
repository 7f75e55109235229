/* hessnorm — the audit's statistics: recording one evaluation of a claim
 * (ratios, the worst instance, the smallest counterexample) and the
 * verdict. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include "hessnorm/alloc.h"
#include "audit/internal.h"
#include "audit/report.h"

void hn_cstats_free(hn_cstat *stats, size_t n)
{
    for (size_t c = 0; stats && c < n; c++) {
        hn_free(stats[c].ratios);
        hn_inst_free(&stats[c].cx);
        hn_inst_free(&stats[c].worst);
    }
    hn_free(stats);
}

static int push_ratio(hn_cstat *st, double r)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 64;
        double *nr = hn_realloc(st->ratios, cap * sizeof *nr);
        if (!nr)
            return -1;
        st->ratios = nr;
        st->cap = cap;
    }
    st->ratios[st->n++] = r;
    return 0;
}

double hn_claim_ratio(const hn_claim_value *v)
{
    if (v->bound > 0)
        return v->measured / v->bound;
    return v->measured > 0 ? INFINITY : 0.0;
}

/* Record one evaluation; keeps the worst instance and the smallest
 * counterexample. */
int hn_cstat_record(hn_cstat *st, const hn_claim *c, const hn_claim_value *v, const hn_inst *in, hn_err *err)
{
    double r = hn_claim_ratio(v);
    if (push_ratio(st, r))
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    int viol = hn_claim_violated(c, v);
    st->violations += viol;
    st->worst_disc = fmax(st->worst_disc, v->discrepancy);
    /* an inequality's worst instance (where Nelder-Mead starts): a tie in
     * the ratio (HN_WORST_TIE: rounding) goes to the smaller network (one
     * Nelder-Mead can search), then to the earlier one, never to rounding */
    const double tie = HN_WORST_TIE * fabs(st->worst_ratio);
    int worse = c->rel == HN_REL_EQ
                    ? (v->discrepancy > st->worst_disc_seen || !st->worst.m)
                    : (!st->worst.m || r > st->worst_ratio + tie ||
                       (r >= st->worst_ratio - tie && in->m->n_params < st->worst.m->n_params));
    if (worse) {
        st->worst_ratio = c->rel == HN_REL_EQ ? st->worst_ratio : r;
        st->worst_disc_seen = v->discrepancy;
        st->worst_v = *v;
        hn_inst_free(&st->worst);
        int rc = hn_inst_copy(&st->worst, in, err);
        if (rc)
            return rc;
    }
    if (c->rel == HN_REL_EQ)
        st->worst_ratio = fmax(st->worst_ratio, r);
    if (viol) {
        size_t P = in->m->n_params;
        /* prefer a finite ratio (a bound that is not 0), then the fewest
         * parameters, then the largest ratio */
        double rc_old = st->cx.m ? hn_claim_ratio(&st->cx_v) : 0;
        int fin = isfinite(r), fin_old = st->cx.m && isfinite(rc_old);
        int better = !st->cx.m || (fin && !fin_old) ||
                     (fin == fin_old && (P < st->cx.m->n_params ||
                                         (P == st->cx.m->n_params && r > rc_old)));
        if (better) {
            hn_inst_free(&st->cx);
            st->cx_v = *v;
            int rc = hn_inst_copy(&st->cx, in, err);
            if (rc)
                return rc;
        }
    }
    return HN_OK;
}

int hn_audit_evaluate(const hn_inst *in, const int *selected, hn_cstat *stats, hn_err *err)
{
    hn_facts *f;
    int rc = hn_facts_compute_groups(&in->ns, in->m, in->theta, in->s, in->lk, in->delta, HN_FG_ALL, &f, err);
    if (rc)
        return rc;
    for (size_t c = 0; c < hn_claims_count() && !rc; c++) {
        if (!selected[c])
            continue;
        const hn_claim *cl = hn_claim_get(c);
        hn_claim_value v;
        if (hn_claim_eval(cl, f, &v) == 0)
            rc = hn_cstat_record(&stats[c], cl, &v, in, err);
    }
    hn_facts_free(f);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void hn_cstat_finish(const hn_claim *cl, hn_cstat *st)
{
    if (st->n) {
        qsort(st->ratios, st->n, sizeof(double), cmp_double);
        st->median = st->ratios[st->n / 2];
    }
    st->sup = hn_claim_supremum(cl);
    if (cl->typo)
        st->verdict = HN_V_TYPO;
    else if (!st->n)
        st->verdict = HN_V_UNTESTED;
    else if (cl->rel == HN_REL_APPROX)
        st->verdict = HN_V_APPROX;
    else if (st->violations)
        st->verdict = HN_V_FAILS;
    else if (cl->rel == HN_REL_LE)
        st->verdict = hn_sup_verdict(&st->sup, st->worst_ratio);
    else
        st->verdict = HN_V_HOLDS;
}

hn_verdict hn_sup_verdict(const hn_supremum *sup, double found)
{
    /* the supremum decides: the exact one; a proven upper bound below the
     * cut; otherwise what the search found */
    if (sup->kind == HN_SUP_EXACT && isfinite(sup->value))
        return sup->value >= HN_LOOSE_RATIO ? HN_V_HOLDS : HN_V_LOOSE;
    if (sup->kind == HN_SUP_UPPER && sup->value < HN_LOOSE_RATIO)
        return HN_V_LOOSE;
    return found >= HN_LOOSE_RATIO ? HN_V_HOLDS : HN_V_LOOSE;
}
