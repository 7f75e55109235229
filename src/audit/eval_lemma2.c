/* hessnorm — the claims of Lemma 2, Appendices B and D: their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Lemma 2, Appendices B, D */

static double max_T(const hn_facts *f)
{
    double w = 0;
    for (size_t t = 0; t < f->n_lin; t++)
        w = fmax(w, f->T_norm[t]);
    return w;
}
static double max_Q(const hn_facts *f)
{
    double q = 0;
    for (size_t t = 0; t < f->n_lin; t++)
        q = fmax(q, f->Q_norm[t]);
    return q;
}

int hn_ev_lemma2(const hn_facts *f, hn_claim_value *v)
{
    double wT = max_T(f), q = max_Q(f);
    v->measured = f->HO_norm;
    v->bound = sqrt(2.0) * HN_SQ(q) * HN_SQ(f->x_norm) * (double)(f->L + 1) * HN_SQ(wT) * (double)f->L;
    snprintf(v->detail, sizeof v->detail, "q=%.4g w_T=%.4g L=%zu", q, wT, f->L);
    return 0;
}
int hn_ev_lemma2c(const hn_facts *f, hn_claim_value *v)
{
    double wT = max_T(f), q = max_Q(f);
    v->measured = f->HO_norm;
    v->bound = sqrt(2.0) * HN_SQ(q) * HN_SQ(f->x_norm) * (double)(f->L + 1) * pow(wT, 2.0 * (double)f->L);
    snprintf(v->detail, sizeof v->detail, "q=%.4g w_T=%.4g L=%zu", q, wT, f->L);
    return 0;
}
/* the whole block-diagonal Q over the dense limit: its norm was not measured */
static int q_unmeasured(const hn_facts *f, hn_claim_value *v)
{
    if (!isnan(f->Qfull_norm))
        return 0;
    snprintf(v->detail, sizeof v->detail, "||Q|| not measured: the block-diagonal Q is over the dense limit");
    return 1;
}
int hn_ev_submult(const hn_facts *f, hn_claim_value *v)
{
    if (q_unmeasured(f, v))
        return 2;
    v->measured = f->HO_norm;
    v->bound = HN_SQ(f->Qfull_norm) * HN_SQ(f->F_norm) * f->A_norm;
    return 0;
}
int hn_ev_Anorm(const hn_facts *f, hn_claim_value *v)
{
    v->measured = f->A_norm;
    v->bound = sqrt(2.0);
    return 0;
}
int hn_ev_Qblock(const hn_facts *f, hn_claim_value *v)
{
    if (q_unmeasured(f, v))
        return 2;
    v->measured = HN_SQ(f->Qfull_norm);
    v->bound = HN_SQ(max_Q(f));
    return 0;
}

double hn_cl_prodT2(const hn_facts *f, size_t from, size_t to) /* 0-based [from,to) */
{
    double r = 1;
    for (size_t t = from; t < to; t++)
        r *= HN_SQ(f->T_norm[t]);
    return r;
}
int hn_ev_Gbound(const hn_facts *f, hn_claim_value *v)
{
    HN_WORST_P(f, v, 0, f->n_lin, HN_SQ(f->G_norm[p_]), hn_cl_prodT2(f, p_ + 1, f->n_lin));
    return 0;
}
int hn_ev_Rbound(const hn_facts *f, hn_claim_value *v)
{
    HN_WORST_P(f, v, 0, f->n_lin, HN_SQ(f->R_norm[p_]), hn_cl_prodT2(f, 0, p_));
    return 0;
}
int hn_ev_kronnorm(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->kron_norm_disc;
    return 0;
}
static double sum_GRx(const hn_facts *f)
{
    double s = 0;
    for (size_t t = 0; t < f->n_lin; t++)
        s += HN_SQ(f->G_norm[t]) * HN_SQ(f->Rx_norm[t]);
    return s;
}
int hn_ev_Fstack(const hn_facts *f, hn_claim_value *v)
{
    v->measured = HN_SQ(f->F_norm);
    v->bound = sum_GRx(f);
    return 0;
}
int hn_ev_Fbound(const hn_facts *f, hn_claim_value *v)
{
    v->measured = HN_SQ(f->F_norm);
    v->bound = HN_SQ(f->x_norm) * (double)(f->L + 1) * pow(max_T(f), 2.0 * (double)f->L);
    return 0;
}
