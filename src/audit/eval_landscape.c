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
    if (!f->have_land)
        return 1;
    if (f->dim != dim || !hn_cl_pure(f))
        return hn_cl_outside(f, v, dim == 1 ? "a 1-D conv-only network without pooling (equation (1) with Theorem 1)"
                                            : "a 2-D conv-only network without pooling (equation (1) with Theorem 2)");
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

/* ------------------------------------------------ Assumption 1 at a minimum of L_k */

/* theta* is a stationary point of L_k: ||grad L_k(theta*)|| <= HN_STATIONARY_RTOL times the mean
 * ||grad l_i(theta*)|| over the k+1 samples (over the k alone it would vanish with L_k at an exact
 * fit; every grad l_i = 0, interpolation, included). */
static int star_stationary(const hn_facts *f, hn_claim_value *v)
{
    if (!f->have_land)
        return 0;
    if (f->gLk_norm <= HN_STATIONARY_RTOL * f->gscale_k1)
        return 1;
    snprintf(v->detail, sizeof v->detail,
             "needs theta* at a stationary point of L_k (Assumption 1); here |grad L_k(theta*)| = %.3g, above "
             "%.0e x the mean |grad l_i| = %.3g", f->gLk_norm, HN_STATIONARY_RTOL, f->gscale_k1);
    return 0;
}

/* grad L_{k+1}(theta*) = 0 where grad L_k(theta*) = 0.  Discrepancy:
 * ||grad L_{k+1}(theta*)|| / (1/(k+1) sum_i ||grad l_i(theta*)||), the size
 * of the mean against the size of the terms it averages: in [0, 1], 0 when
 * they cancel (0 by convention when every grad l_i is 0, interpolation);
 * at a minimum of L_k it is ~ ||grad l_{k+1}|| / sum_i ||grad l_i||. */
int hn_ev_assumption1(const hn_facts *f, hn_claim_value *v)
{
    if (!star_stationary(f, v))
        return 1;
    v->measured = f->gLk1_norm;
    v->bound = f->gLk_norm;
    v->discrepancy = f->gscale_k1 > 0 ? f->gLk1_norm / f->gscale_k1 : 0.0;
    snprintf(v->detail, sizeof v->detail, "k=%zu |grad l_{k+1}|=%.3g |grad L_k|=%.3g |grad L_{k+1}|=%.3g mean |grad l_i|=%.3g",
             f->lk, f->gl_last_norm, f->gLk_norm, f->gLk1_norm, f->gscale_k1);
    return 0;
}

/* The first-order term of |L_{k+1} - L_k| at theta*, (grad l_{k+1} - grad L_k)^T delta / (k+1)
 * (= grad L_{k+1}(theta*)^T delta at a stationary point of L_k), against the second-order term
 * (1) keeps in its place; the detail has its ratio to the whole right side of (1). */
int hn_ev_eq1_first(const hn_facts *f, hn_claim_value *v)
{
    if (!star_stationary(f, v))
        return 1;
    double k1 = (double)(f->lk + 1), rhs = f->ldiff_star / k1 + HN_SQ(f->R) * f->dH_norm / k1;
    v->measured = f->grad_term / k1;
    v->bound = HN_SQ(f->R) * f->dH_norm / k1;
    snprintf(v->detail, sizeof v->detail, "k=%zu R=%.3g |grad l_{k+1}(theta*)|=%.3g; against the whole right side of (1): %.3g",
             f->lk, f->R, f->gl_last_norm, rhs > 0 ? v->measured / rhs : INFINITY);
    return 0;
}
