/* hessnorm — internal: the claims' evaluators, one file per part of the
 * paper (eval_*.c), and what they share; the registry (claims.c) names
 * them.  Not installed. */
#ifndef HN_AUDIT_CLAIMS_EVAL_H
#define HN_AUDIT_CLAIMS_EVAL_H
#include "audit/internal.h"

#define HN_SQ(x) ((x) * (x))

/* theta* counts as a stationary point of L_k (Assumption 1's first half,
 * the setting of assumption1 and eq1.first_order) when ||grad L_k(theta*)||
 * <= this times the mean ||grad l_i(theta*)||: the audit's trained minima
 * reach 1e-12 (audit/trained.c), and the floor this leaves in assumption1's
 * discrepancy stays below HN_EQ_RTOL. */
#define HN_STATIONARY_RTOL 1e-10

/* the network is conv-only (no FC head); conv-only and without pooling */
/* a user's network outside the paper's settings (hn_netspec.irregular) is in none of them */
static inline int hn_cl_regular(const hn_facts *f) { return !f->spec.irregular; }
static inline int hn_cl_conv_only(const hn_facts *f) { return f->n_fc == 0 && hn_cl_regular(f); }
/* the pooling-layer claims of Appendices E-F read the one pooling layer */
static inline int hn_cl_one_pool(const hn_facts *f, int type) { return f->pool == type && f->spec.n_pool <= 1; }
static inline int hn_cl_pure(const hn_facts *f) { return hn_cl_conv_only(f) && f->pool == 0; }

/* (HN_WORST_TIE, audit/internal.h: two layers' ratios that tie are won by
 * the smaller p) */
/* v = the worst p in [from, to) of MEAS / BOUND (expressions in p_), with
 * v->worst_p and detail "worst p = <p+1>" (only p = f->pin_p when set);
 * returns 1 (n/a) from the caller when the range is empty */
#define HN_WORST_P(f, v, from, to, MEAS, BOUND)                                           \
    do {                                                                               \
        double best = -1;                                                              \
        for (size_t p_ = (from); p_ < (to); p_++) {                                    \
            if ((f)->pin_p && p_ + 1 != (f)->pin_p)                                    \
                continue;                                                              \
            double me_ = (MEAS), bo_ = (BOUND);                                        \
            double r_ = bo_ > 0 ? me_ / bo_ : (me_ > 0 ? INFINITY : 0);                \
            if (r_ > best + HN_WORST_TIE * fabs(best)) {                               \
                best = r_;                                                             \
                (v)->measured = me_;                                                   \
                (v)->bound = bo_;                                                      \
                (v)->worst_p = p_ + 1;                                                 \
                snprintf((v)->detail, sizeof (v)->detail, "worst p = %zu", p_ + 1);    \
            }                                                                          \
        }                                                                              \
        if (best < 0)                                                                  \
            return 1;                                                                  \
    } while (0)

/* Outside the claim's setting: v->detail := "needs <need>; this network is
 * <what it is>: see <the claim that covers it>"; returns 1 (claims.c). */
int hn_cl_outside(const hn_facts *f, hn_claim_value *v, const char *need);

/* the claim's loss setting fits the network's loss (claims.c) */
int hn_claim_loss_fits(const hn_claim *c, const hn_facts *f);

/* helpers of one part used by another (defined where named) */
double hn_cl_prodT2(const hn_facts *f, size_t from, size_t to); /* eval_lemma2.c */
double hn_cl_thm1_bound(const hn_facts *f, double xn); /* eval_thm1.c */
double hn_cl_c2(const hn_facts *f); /* eval_thm2.c */
double hn_cl_q2_2d(const hn_facts *f); /* eval_thm2.c */
double hn_cl_thm2_bound(const hn_facts *f, double xn); /* eval_thm2.c */

/* the evaluators: fill v (measured, bound, detail) from f and return 0,
 * or return 1 when the claim does not apply to this network */
/* eval_sec4.c */
int hn_ev_eq3(const hn_facts *f, hn_claim_value *v);
int hn_ev_zGz(const hn_facts *f, hn_claim_value *v);
int hn_ev_xRx(const hn_facts *f, hn_claim_value *v);
int hn_ev_zGTRx(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma1(const hn_facts *f, hn_claim_value *v);
int hn_ev_typo(const hn_facts *f, hn_claim_value *v);
int hn_ev_vecz(const hn_facts *f, hn_claim_value *v);
int hn_ev_split(const hn_facts *f, hn_claim_value *v);
int hn_ev_dzdW(const hn_facts *f, hn_claim_value *v);
int hn_ev_block(const hn_facts *f, hn_claim_value *v);
/* eval_lemma2.c */
int hn_ev_lemma2(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma2c(const hn_facts *f, hn_claim_value *v);
int hn_ev_submult(const hn_facts *f, hn_claim_value *v);
int hn_ev_Anorm(const hn_facts *f, hn_claim_value *v);
int hn_ev_Qblock(const hn_facts *f, hn_claim_value *v);
int hn_ev_Gbound(const hn_facts *f, hn_claim_value *v);
int hn_ev_Rbound(const hn_facts *f, hn_claim_value *v);
int hn_ev_kronnorm(const hn_facts *f, hn_claim_value *v);
int hn_ev_Fstack(const hn_facts *f, hn_claim_value *v);
int hn_ev_Fbound(const hn_facts *f, hn_claim_value *v);
/* eval_thm1.c */
int hn_ev_thm1(const hn_facts *f, hn_claim_value *v);
int hn_ev_C_T(const hn_facts *f, hn_claim_value *v);
int hn_ev_C_Q(const hn_facts *f, hn_claim_value *v);
int hn_ev_C_Qsum(const hn_facts *f, hn_claim_value *v);
int hn_ev_C_Qsumc(const hn_facts *f, hn_claim_value *v);
/* eval_thm2.c */
int hn_ev_thm2(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Trow(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Tfro(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Tstmt(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Tbound(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Qstmt(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Qrow(const hn_facts *f, hn_claim_value *v);
int hn_ev_D_Qfro(const hn_facts *f, hn_claim_value *v);
/* eval_pool.c */
int hn_ev_lemma34(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma3(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma3c(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma3s(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_HOx2(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_Freuse(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_Freusec(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma4(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma4c(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_M(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_GRprod(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_GR(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_GRc(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_expo(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_F(const hn_facts *f, hn_claim_value *v);
int hn_ev_E_Fc(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_gram(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_block(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_blocknorm(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_Anorm(const hn_facts *f, hn_claim_value *v);
int hn_ev_F_Ale1(const hn_facts *f, hn_claim_value *v);
/* eval_fc.c */
int hn_ev_lemma5(const hn_facts *f, hn_claim_value *v);
int hn_ev_lemma5c(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_Tfc(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_Tfcc(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_GRconv(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_GRfc(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_bracket(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_br(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_brc(const hn_facts *f, hn_claim_value *v);
int hn_ev_G_F(const hn_facts *f, hn_claim_value *v);
/* eval_landscape.c */
int hn_ev_eq2(const hn_facts *f, hn_claim_value *v);
int hn_ev_identity(const hn_facts *f, hn_claim_value *v);
int hn_ev_eq1(const hn_facts *f, hn_claim_value *v);
int hn_ev_eq1c(const hn_facts *f, hn_claim_value *v);
int hn_ev_assumption1(const hn_facts *f, hn_claim_value *v);
int hn_ev_eq1_first(const hn_facts *f, hn_claim_value *v);
int hn_ev_cor(const hn_facts *f, hn_claim_value *v);
int hn_ev_cor1(const hn_facts *f, hn_claim_value *v);
int hn_ev_cor2(const hn_facts *f, hn_claim_value *v);
int hn_ev_cor_loss(const hn_facts *f, hn_claim_value *v);

#endif
