/* hessnorm — the claims of Theorem 1, Appendix C (1-D convolutions): their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Theorem 1, Appendix C (1-D) */

/* what each setting needs, for hn_cl_outside */
static const char NEED_1D[] = "a 1-D conv-only network without pooling (Theorem 1, Appendix C)";

static int is1d(const hn_facts *f) { return f->dim == 1 && hn_cl_pure(f); }
double hn_cl_thm1_bound(const hn_facts *f, double xn)
{
    double C = (double)f->C, d = (double)f->d, k = (double)f->k;
    return sqrt(2.0) * HN_SQ(xn) * HN_SQ(d) * (double)(f->L + 1) * pow(HN_SQ(C) * HN_SQ(f->w) * k * d, (double)f->L);
}
int hn_ev_thm1(const hn_facts *f, hn_claim_value *v)
{
    if (!is1d(f))
        return hn_cl_outside(f, v, NEED_1D);
    v->measured = f->HO_norm;
    v->bound = hn_cl_thm1_bound(f, f->x_norm);
    return 0;
}
int hn_ev_C_T(const hn_facts *f, hn_claim_value *v)
{
    if (!is1d(f))
        return hn_cl_outside(f, v, NEED_1D);
    HN_WORST_P(f, v, 0, f->n_lin, HN_SQ(f->T_norm[p_]),
            HN_SQ((double)f->C) * (double)f->d * (double)f->k * HN_SQ(f->w));
    return 0;
}
int hn_ev_C_Q(const hn_facts *f, hn_claim_value *v)
{
    if (!is1d(f))
        return hn_cl_outside(f, v, NEED_1D);
    HN_WORST_P(f, v, 0, f->n_lin, f->Q_norm[p_], (double)f->d);
    return 0;
}
int hn_ev_C_Qsum(const hn_facts *f, hn_claim_value *v)
{
    if (!is1d(f))
        return hn_cl_outside(f, v, NEED_1D);
    /* sum_{i=0}^{d_{l-1}-k_l} 1 <= sum_{i=1}^{d_{l-1}-k_l} 1 as printed */
    HN_WORST_P(f, v, 0, f->n_lin, (double)f->out_pos[p_], (double)f->out_pos[p_] - 1.0);
    return 0;
}
int hn_ev_C_Qsumc(const hn_facts *f, hn_claim_value *v)
{
    if (!is1d(f))
        return hn_cl_outside(f, v, NEED_1D);
    /* ||Q^(l)|| <= sum_{i=0}^{d_{l-1}-k_l} ||pi^i I|| = d_l */
    HN_WORST_P(f, v, 0, f->n_lin, f->Q_norm[p_], (double)f->out_pos[p_]);
    return 0;
}
