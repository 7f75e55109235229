/* hessnorm — the claims of Lemma 5, Appendix G (fully-connected head): their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Lemma 5, Appendix G */

/* what each setting needs, for hn_cl_outside */
static const char NEED_FC[] = "a 2-D conv network with an FC head and no pooling (Lemma 5, Appendix G)";

static int fc_head(const hn_facts *f) { return f->dim == 2 && f->n_fc > 0 && f->pool == 0 && hn_cl_regular(f); }
static double fc2(const hn_facts *f) /* h^2 w~^2, h = largest FC dimension in or out */
{
    return HN_SQ((double)f->h_all) * HN_SQ(f->wt);
}
static double lemma5_bound(const hn_facts *f, double xn, int corrected)
{
    /* conv part: T^(1..L+1) are the n_conv convs, so the paper's L = n_conv - 1 */
    double Lc = (double)f->n_conv - 1, P = (double)f->n_fc;
    const double a = fc2(f), c = hn_cl_c2(f);
    /* a^P c^L (L+1 + P a/c) (printed) or a^P c^L (L+1 + P c/a) (corrected),
     * multiplied out so that a = 0 (an FC head of zeros) or c = 0 is the
     * formula's value there, not 0 x infinity = NaN: the corrected form at
     * a = 0 is P c^(L+1) a^(P-1), finite */
    const double head = (Lc + 1) * pow(a, P) * pow(c, Lc);
    const double tail = corrected ? P * pow(a, P - 1) * pow(c, Lc + 1) : P * pow(a, P + 1) * pow(c, Lc - 1);
    return sqrt(2.0) * HN_SQ(xn) * hn_cl_q2_2d(f) * (head + tail);
}
int hn_ev_lemma5(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    v->measured = f->HO_norm;
    v->bound = lemma5_bound(f, f->x_norm, 0);
    snprintf(v->detail, sizeof v->detail, "conv factor %.3g, FC factor %.3g", hn_cl_c2(f), fc2(f));
    return 0;
}
int hn_ev_lemma5c(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    v->measured = f->HO_norm;
    v->bound = lemma5_bound(f, f->x_norm, 1);
    return 0;
}
int hn_ev_G_Tfc(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    /* reading of the print: h bounds the FC layer sizes h_p (outputs) */
    HN_WORST_P(f, v, f->n_conv, f->n_lin, HN_SQ(f->T_norm[p_]), HN_SQ((double)f->h_out) * HN_SQ(f->wt));
    return 0;
}
int hn_ev_G_Tfcc(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    HN_WORST_P(f, v, f->n_conv, f->n_lin, HN_SQ(f->T_norm[p_]),
            (double)f->rows[p_] * (double)f->cols[p_] * HN_SQ(f->wt));
    return 0;
}
int hn_ev_G_GRconv(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    HN_WORST_P(f, v, 0, f->n_conv, HN_SQ(f->G_norm[p_]) * HN_SQ(f->R_norm[p_]),
            pow(fc2(f), (double)f->n_fc) * pow(hn_cl_c2(f), (double)f->n_conv - 1));
    return 0;
}
int hn_ev_G_GRfc(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    HN_WORST_P(f, v, f->n_conv, f->n_lin, HN_SQ(f->G_norm[p_]) * HN_SQ(f->R_norm[p_]),
            pow(fc2(f), (double)f->n_fc - 1) * pow(hn_cl_c2(f), (double)f->n_conv));
    return 0;
}
static int ev_G_bracket(const hn_facts *f, hn_claim_value *v, int corrected)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    /* sum over p of the two per-p bounds, against the printed closed form */
    double Lc = (double)f->n_conv - 1, P = (double)f->n_fc;
    double sum = (Lc + 1) * pow(fc2(f), P) * pow(hn_cl_c2(f), Lc) + P * pow(fc2(f), P - 1) * pow(hn_cl_c2(f), Lc + 1);
    double br = corrected ? (Lc + 1 + P * hn_cl_c2(f) / fc2(f)) : (Lc + 1 + P * fc2(f) / hn_cl_c2(f));
    v->measured = sum;
    v->bound = pow(fc2(f), P) * pow(hn_cl_c2(f), Lc) * br;
    v->discrepancy = fabs(v->measured - v->bound) / fmax(fabs(v->measured), fabs(v->bound));
    return 0;
}
int hn_ev_G_br(const hn_facts *f, hn_claim_value *v) { return ev_G_bracket(f, v, 0); }
int hn_ev_G_brc(const hn_facts *f, hn_claim_value *v) { return ev_G_bracket(f, v, 1); }
int hn_ev_G_F(const hn_facts *f, hn_claim_value *v)
{
    if (!fc_head(f))
        return hn_cl_outside(f, v, NEED_FC);
    v->measured = HN_SQ(f->F_norm);
    v->bound = lemma5_bound(f, f->x_norm, 0) / (sqrt(2.0) * hn_cl_q2_2d(f));
    return 0;
}
