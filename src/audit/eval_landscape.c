/* hessnorm — the claims of equations (1) and (2), Section III, Corollaries 1 and 2: their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Equations (1), (2), corollaries */

int hn_ev_eq2(const hn_facts *f, hn_claim_value *v)
{
    if (!f->have_H)
        return 1;
    v->measured = f->H_norm;
    v->bound = f->HO_norm;
    return 0;
}
int hn_ev_identity(const hn_facts *f, hn_claim_value *v)
{
    if (!f->have_land)
        return 1;
    v->discrepancy = f->identity_disc;
    return 0;
}
int hn_ev_eq1(const hn_facts *f, hn_claim_value *v)
{
    if (!f->have_land)
        return 1;
    double k1 = (double)(f->lk + 1);
    v->measured = f->lhs;
    v->bound = f->ldiff_star / k1 + HN_SQ(f->R) * f->dH_norm / k1;
    snprintf(v->detail, sizeof v->detail, "k=%zu R=%.3g |grad term|=%.3g", f->lk, f->R, f->grad_term);
    return 0;
}
int hn_ev_eq1c(const hn_facts *f, hn_claim_value *v)
{
    if (!f->have_land)
        return 1;
    double k1 = (double)(f->lk + 1);
    v->measured = f->lhs;
    v->bound = (f->ldiff_star + f->grad_term + 0.5 * HN_SQ(f->R) * f->dH_norm) / k1;
    snprintf(v->detail, sizeof v->detail, "k=%zu R=%.3g", f->lk, f->R);
    return 0;
}
static int ev_cor(const hn_facts *f, hn_claim_value *v, int dim)
{
    if (!f->have_land || f->dim != dim || !hn_cl_pure(f))
        return 1;
    double k1 = (double)(f->lk + 1);
    double thm = dim == 1 ? hn_cl_thm1_bound(f, f->W_x) : hn_cl_thm2_bound(f, f->W_x);
    v->measured = f->lhs;
    v->bound = 2.0 / k1 * f->W_l_star + 2.0 / k1 * HN_SQ(f->R) * thm;
    snprintf(v->detail, sizeof v->detail, "k=%zu R=%.3g W_l=%.3g", f->lk, f->R, f->W_l_star);
    return 0;
}
int hn_ev_cor1(const hn_facts *f, hn_claim_value *v) { return ev_cor(f, v, 1); }
int hn_ev_cor2(const hn_facts *f, hn_claim_value *v) { return ev_cor(f, v, 2); }
int hn_ev_cor_loss(const hn_facts *f, hn_claim_value *v)
{
    if (!f->have_land)
        return 1;
    v->measured = f->lhs;
    v->bound = 2.0 / (double)(f->lk + 1) * f->W_l_theta;
    return 0;
}
