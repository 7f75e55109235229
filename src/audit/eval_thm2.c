/* hessnorm — the claims of Theorem 2, Appendix D (2-D convolutions): their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Theorem 2, Appendix D (2-D) */

/* what each setting needs, for hn_cl_outside */
static const char NEED_2D_PURE[] = "a 2-D conv-only network without pooling (Theorem 2)";
static const char NEED_2D[] = "a 2-D conv network (Appendix D)";

static int is2d_conv(const hn_facts *f) { return f->dim == 2; }
double hn_cl_c2(const hn_facts *f) /* C^2 k^2 w^2 m n */
{
    return HN_SQ((double)f->C) * HN_SQ((double)f->k) * HN_SQ(f->w) * (double)f->mm * (double)f->nn;
}
double hn_cl_q2_2d(const hn_facts *f) /* q^2 = C^2 k^2 m n */
{
    return HN_SQ((double)f->C) * HN_SQ((double)f->k) * (double)f->mm * (double)f->nn;
}
double hn_cl_thm2_bound(const hn_facts *f, double xn)
{
    return sqrt(2.0) * HN_SQ(xn) * hn_cl_q2_2d(f) * (double)(f->L + 1) * pow(hn_cl_c2(f), (double)f->L);
}
int hn_ev_thm2(const hn_facts *f, hn_claim_value *v)
{
    if (!(f->dim == 2 && hn_cl_pure(f)))
        return hn_cl_outside(f, v, NEED_2D_PURE);
    v->measured = f->HO_norm;
    v->bound = hn_cl_thm2_bound(f, f->x_norm);
    return 0;
}
static size_t n_conv_ops(const hn_facts *f)
{
    size_t n = 0;
    for (size_t t = 0; t < f->n_lin; t++)
        n += f->is_conv[t];
    return n;
}
int hn_ev_D_Trow(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    v->discrepancy = f->T_row_disc;
    return 0;
}
int hn_ev_D_Tfro(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    v->discrepancy = f->T_fro_disc;
    return 0;
}
int hn_ev_D_Tstmt(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    HN_WORST_P(f, v, 0, n_conv_ops(f), f->T_norm[p_], hn_cl_c2(f));
    return 0;
}
int hn_ev_D_Tbound(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    HN_WORST_P(f, v, 0, n_conv_ops(f), HN_SQ(f->T_norm[p_]), hn_cl_c2(f));
    return 0;
}
int hn_ev_D_Qstmt(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    HN_WORST_P(f, v, 0, n_conv_ops(f), f->Q_norm[p_], hn_cl_q2_2d(f));
    return 0;
}
int hn_ev_D_Qrow(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    v->discrepancy = f->Q_row_disc;
    return 0;
}
int hn_ev_D_Qfro(const hn_facts *f, hn_claim_value *v)
{
    if (!is2d_conv(f))
        return hn_cl_outside(f, v, NEED_2D);
    HN_WORST_P(f, v, 0, n_conv_ops(f), HN_SQ(f->Q_norm[p_]), hn_cl_q2_2d(f));
    return 0;
}
