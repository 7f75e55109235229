/* hessnorm — the claims of Lemmas 3 and 4, Appendices E and F (pooling): their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Lemmas 3, 4; Appendices E, F */

/* what each setting needs, for hn_cl_outside */
static const char NEED_POOLED[] = "a 2-D conv-only network with a pooling in place of a ReLU (Appendices E-F)";
static const char NEED_AVG_2D[] = "a 2-D network with one average pooling layer (Appendix F)";

static int pooled(const hn_facts *f, int type)
{
    return f->dim == 2 && hn_cl_conv_only(f) && f->pool == type && f->pool_instead;
}
static double pool_factor(const hn_facts *f, double expo)
{
    return pow(1.0 / HN_SQ((double)f->kpool), expo);
}
static int ev_lemma34(const hn_facts *f, hn_claim_value *v, int type, double expo)
{
    if (!pooled(f, type))
        return hn_cl_outside(f, v, type == 1 ? "a 2-D conv-only network with a max pooling in place of a ReLU (Lemma 3)" : "a 2-D conv-only network with an average pooling in place of a ReLU (Lemma 4)");
    v->measured = f->HO_norm;
    v->bound = hn_cl_thm2_bound(f, f->x_norm) * pool_factor(f, expo);
    snprintf(v->detail, sizeof v->detail, "L=%zu l=%zu k_pool=%zu", f->L, f->pool_l, f->kpool);
    return 0;
}
int hn_ev_lemma3(const hn_facts *f, hn_claim_value *v)
{
    return ev_lemma34(f, v, 1, (double)f->L - (double)f->pool_l + 2);
}
int hn_ev_lemma3c(const hn_facts *f, hn_claim_value *v)
{
    return ev_lemma34(f, v, 1, (double)f->L - (double)f->pool_l);
}
int hn_ev_lemma3s(const hn_facts *f, hn_claim_value *v)
{
    return ev_lemma34(f, v, 1, (double)f->L - (double)f->pool_l + 1);
}
int hn_ev_E_HOx2(const hn_facts *f, hn_claim_value *v)
{
    /* Lemma 3's bound with ||x||^2 replaced by ||x^2|| (elementwise square) */
    if (ev_lemma34(f, v, 1, (double)f->L - (double)f->pool_l + 2))
        return 1;
    v->bound *= f->x_sq_norm / HN_SQ(f->x_norm);
    snprintf(v->detail, sizeof v->detail, "||x^2|| = %.4g, ||x||^2 = %.4g", f->x_sq_norm, HN_SQ(f->x_norm));
    return 0;
}
int hn_ev_lemma4(const hn_facts *f, hn_claim_value *v)
{
    return ev_lemma34(f, v, 2, (double)f->L - (double)f->pool_l + 2);
}
int hn_ev_lemma4c(const hn_facts *f, hn_claim_value *v)
{
    return ev_lemma34(f, v, 2, (double)f->L - (double)f->pool_l + 1);
}
int hn_ev_E_M(const hn_facts *f, hn_claim_value *v)
{
    if (!hn_cl_one_pool(f, 1))
        return hn_cl_outside(f, v, "one max pooling layer (Appendix E)");
    v->measured = f->pool_norm;
    v->bound = 1.0;
    v->discrepancy = fabs(f->pool_norm - 1.0);
    return 0;
}
int hn_ev_E_GRprod(const hn_facts *f, hn_claim_value *v)
{
    if (!(pooled(f, 1) || pooled(f, 2)))
        return hn_cl_outside(f, v, NEED_POOLED);
    HN_WORST_P(f, v, 0, f->n_lin, f->G_norm[p_] * f->R_norm[p_],
            sqrt(hn_cl_prodT2(f, 0, f->n_lin) / HN_SQ(f->T_norm[p_])));
    return 0;
}
int hn_ev_E_GR(const hn_facts *f, hn_claim_value *v)
{
    if (!(pooled(f, 1) || pooled(f, 2)))
        return hn_cl_outside(f, v, NEED_POOLED);
    /* p is 1-based in the print: I{p-1 <= l} */
    HN_WORST_P(f, v, 0, f->n_lin, f->G_norm[p_] * f->R_norm[p_],
            pow(hn_cl_c2(f), 2.0 * (double)f->L) *
                pool_factor(f, (double)f->L - (double)f->pool_l + 2 - (p_ <= f->pool_l ? 1 : 0)));
    return 0;
}
int hn_ev_E_GRc(const hn_facts *f, hn_claim_value *v)
{
    if (!(pooled(f, 1) || pooled(f, 2)))
        return hn_cl_outside(f, v, NEED_POOLED);
    /* squared, with the layers after the pooling (l+1 .. L+1, p excluded)
     * shrunk by 1/k_pool^2 each */
    HN_WORST_P(f, v, 0, f->n_lin, HN_SQ(f->G_norm[p_]) * HN_SQ(f->R_norm[p_]),
            pow(hn_cl_c2(f), (double)f->L) *
                pool_factor(f, (double)(f->L + 1 - f->pool_l) - (p_ + 1 >= f->pool_l + 1 ? 1 : 0)));
    return 0;
}
int hn_ev_E_expo(const hn_facts *f, hn_claim_value *v)
{
    if (!(pooled(f, 1) || pooled(f, 2)))
        return hn_cl_outside(f, v, NEED_POOLED);
    HN_WORST_P(f, v, 0, f->n_lin,
            pool_factor(f, (double)f->L - (double)f->pool_l + 2 - (p_ <= f->pool_l ? 1 : 0)),
            pool_factor(f, (double)f->L - (double)f->pool_l + 2));
    return 0;
}
static int ev_F_pooled(const hn_facts *f, hn_claim_value *v, int type, double expo);
int hn_ev_E_F(const hn_facts *f, hn_claim_value *v)
{
    return ev_F_pooled(f, v, 1, (double)f->L - (double)f->pool_l + 2);
}
int hn_ev_E_Fc(const hn_facts *f, hn_claim_value *v)
{
    return ev_F_pooled(f, v, 1, (double)f->L - (double)f->pool_l);
}
static int ev_F_pooled(const hn_facts *f, hn_claim_value *v, int type, double expo)
{
    if (!pooled(f, type))
        return hn_cl_outside(f, v, type == 1 ? "a 2-D conv-only network with a max pooling in place of a ReLU (Lemma 3)" : "a 2-D conv-only network with an average pooling in place of a ReLU (Lemma 4)");
    v->measured = HN_SQ(f->F_norm);
    v->bound = HN_SQ(f->x_norm) * (double)(f->L + 1) * pow(hn_cl_c2(f), (double)f->L) * pool_factor(f, expo);
    return 0;
}
int hn_ev_F_Freuse(const hn_facts *f, hn_claim_value *v)
{
    return ev_F_pooled(f, v, 2, (double)f->L - (double)f->pool_l + 2);
}
int hn_ev_F_Freusec(const hn_facts *f, hn_claim_value *v)
{
    return ev_F_pooled(f, v, 2, (double)f->L - (double)f->pool_l + 1);
}
int hn_ev_F_gram(const hn_facts *f, hn_claim_value *v)
{
    if (!(hn_cl_one_pool(f, 2) && f->dim == 2))
        return hn_cl_outside(f, v, NEED_AVG_2D);
    v->discrepancy = f->avg_gram_disc;
    return 0;
}
int hn_ev_F_block(const hn_facts *f, hn_claim_value *v)
{
    if (!(hn_cl_one_pool(f, 2) && f->dim == 2))
        return hn_cl_outside(f, v, NEED_AVG_2D);
    /* printed B_i = (1/k_pool^2) 1 1^T; measured: the entry of A^T A inside a window */
    double kp = (double)f->kpool;
    v->measured = 1.0 / pow(kp, 4);
    v->bound = 1.0 / HN_SQ(kp);
    v->discrepancy = fabs(v->measured - v->bound) / v->bound;
    snprintf(v->detail, sizeof v->detail, "window entry of A^T A (Gram check %.2g)", f->avg_gram_disc);
    return 0;
}
int hn_ev_F_blocknorm(const hn_facts *f, hn_claim_value *v)
{
    if (!(hn_cl_one_pool(f, 2) && f->dim == 2))
        return hn_cl_outside(f, v, NEED_AVG_2D);
    v->measured = f->avg_block_norm; /* ||A^T A|| = max_i ||B_i|| */
    v->bound = 1.0 / (double)f->kpool;
    v->discrepancy = fabs(v->measured - v->bound) / v->bound;
    return 0;
}
int hn_ev_F_Anorm(const hn_facts *f, hn_claim_value *v)
{
    if (!(hn_cl_one_pool(f, 2) && f->dim == 2))
        return hn_cl_outside(f, v, NEED_AVG_2D);
    v->measured = f->pool_norm;
    v->bound = 1.0 / (double)f->kpool;
    v->discrepancy = fabs(v->measured - v->bound) / v->bound;
    return 0;
}
int hn_ev_F_Ale1(const hn_facts *f, hn_claim_value *v)
{
    if (!hn_cl_one_pool(f, 2))
        return hn_cl_outside(f, v, "one average pooling layer (Appendix F)");
    v->measured = f->pool_norm;
    v->bound = 1.0;
    return 0;
}
