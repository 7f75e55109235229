/* hessnorm — what is known of each inequality's supremum: sup (measured /
 * bound) over the claim's setting, derived by hand (proofs/ has the
 * arguments at length), beside which the audit reports the best ratio its
 * search found.  Two routes: a search result above an exact or upper
 * value here is a contradiction the report flags (and test_audit checks
 * that the deterministic search reaches at least half of every exact
 * value).
 *
 * The common argument ("the chain"): H_O = J^T A J, so ||H_O|| <= ||A|| ||J||^2;
 * J = [J_p]_p with J_p = (G^(p) (x) (R^(p-1) x)^T) Q^(p), so ||J||^2 <=
 * sum_p ||G^(p)||^2 ||R^(p-1) x||^2 ||Q^(p)||^2 and every proof bounds these
 * factors.  For cross-entropy ||A|| <= 1/2 (attained at two tied logits),
 * for MSE ||A|| = 1; the paper uses sqrt(2).  ||Q^(p)||^2 = (output
 * positions of layer p) exactly (Q^T Q = positions x I), and C >= K >= 2
 * for a conv-only cross-entropy net (C counts the last conv's K output
 * channels).  The attaining constructions (audit/families.c builds them)
 * are 1x1-spatial chains with positive constant kernels, last layer
 * (+w, -w) and an input x -> 0 (tied logits), so every factor is attained
 * and every product is aligned. */
#include "config.h"
#include <math.h>
#include <string.h>
#include "hessnorm/audit.h"

#define SQ2 1.4142135623730951
#define CE_CHAIN "||H_O|| <= ||A|| ||J||^2 with ||A|| <= 1/2 for cross-entropy; "

typedef struct {
    const char *id;
    hn_sup_kind kind;
    double value;
    const char *why;
} sup_row;

/* Rows for the claim ids as registered; a ".mse" twin has its own row. */
static const sup_row rows[] = {
    /* Lemma 2 and Appendices B, D */
    {"lemma2", HN_SUP_EXACT, INFINITY,
     "w_T^2 L stands where the proof derives w_T^(2L): for L >= 2 the ratio grows without bound with w_T"},
    {"lemma2.mse", HN_SUP_EXACT, INFINITY, "as lemma2"},
    {"lemma2.corrected", HN_SUP_EXACT, 1 / (2 * SQ2),
     CE_CHAIN "every other step of the proof is attained by a one-channel 1x1-spatial chain with equal layer "
     "norms and last layer (+a, -a) as x -> 0 (two tied logits): (1/2)/sqrt(2)"},
    {"lemma2.corrected.mse", HN_SUP_EXACT, 1 / SQ2,
     "A = I: the same chain with K = 1 attains every step; 1/sqrt(2) is the paper's sqrt(2) against ||A|| = 1"},
    {"appD.HO_bound", HN_SUP_EXACT, 1 / (2 * SQ2), "the same bound as lemma2.corrected (same argument)"},
    {"appD.HO_bound.mse", HN_SUP_EXACT, 1 / SQ2, "as lemma2.corrected.mse"},
    {"appB.A_norm", HN_SUP_EXACT, 1 / (2 * SQ2),
     "sup ||diag(p) - pp^T|| = 1/2: Gershgorin, row i sums to 2 p_i (1 - p_i) <= 1/2; p = (1/2, 1/2, 0, ...) "
     "attains it"},
    {"appB.A_norm.mse", HN_SUP_EXACT, 1 / SQ2, "A = I: ||A|| = 1 on every network"},
    {"appB.submult", HN_SUP_EXACT, 1,
     "a single 1x1 conv from 1 to K channels on a one-pixel input: Q = I, F = x I and H_O = x^2 A (equality)"},
    {"appB.Q_blockdiag", HN_SUP_EXACT, 1,
     "||blockdiag(Q^(i))|| = max_i ||Q^(i)|| exactly and q is that maximum: equality on every network"},
    {"appD.G_bound", HN_SUP_EXACT, 1,
     "equality on positive constant 1x1-spatial chains (every Lambda = I, the rank-one factors aligned)"},
    {"appD.R_bound", HN_SUP_EXACT, 1, "as appD.G_bound"},
    {"appD.F_stack.corrected", HN_SUP_EXACT, 1,
     "F F^T = sum_p ||R^(p-1) x||^2 G^(p) G^(p)T: equality when the G^(p) share their top left singular vector "
     "(K = 1, or the chains of appD.G_bound)"},
    {"appD.F_bound", HN_SUP_EXACT, 1, "equality on the chains of appD.G_bound with equal layer norms"},
    /* Theorem 1, Appendix C */
    {"theorem1", HN_SUP_EXACT, 1 / (2 * SQ2),
     CE_CHAIN "||Q^(p)||^2 = d_p <= d <= d^2 and ||T^(p)||^2 <= ||T^(p)||_F^2 <= C^2 d k w^2; all attained "
     "with d = k = 1 by C-channel constant 1x1 convs on a one-position input (C = K = 2), last layer +w / -w, "
     "x -> 0"},
    {"theorem1.mse", HN_SUP_EXACT, 1 / SQ2, "A = I: the same construction with C = K = 1"},
    {"appC.T_bound", HN_SUP_EXACT, 1,
     "the first layer with its kernel the whole input (d_1 = 1), C_in = C_out = C and a constant kernel: "
     "T = w 1 1^T, ||T||^2 = C^2 k w^2 = C^2 d k w^2"},
    {"appC.Q_bound", HN_SUP_EXACT, 1, "||Q^(p)|| = sqrt(d_p) <= d, equal when d = 1"},
    {"appC.Q_sum_index.corrected", HN_SUP_EXACT, 1, "||Q^(l)|| = sqrt(d_l) <= d_l, equal when d_l = 1"},
    /* Theorem 2, Appendix D (2-D) */
    {"theorem2", HN_SUP_EXACT, 1 / (8 * SQ2),
     CE_CHAIN "||Q^(p)||^2 = m_p n_p <= m n = q^2 / (C^2 k^2) with C >= K >= 2, and ||T^(p)||^2 <= C^2 k^2 w^2 m n: "
     "(1/2) / (sqrt(2) * 4); attained by 2-channel constant 1x1 convs on a 2x1x1 input, last layer +w / -w, "
     "x -> 0"},
    {"theorem2.mse", HN_SUP_EXACT, 1 / SQ2, "A = I, K = 1: a one-channel 1x1 chain attains every step"},
    {"appD2.T_stmt", HN_SUP_EXACT, INFINITY,
     "||T|| (degree 1 in w) against C^2 k^2 w^2 m n (degree 2): w -> 0 breaks it"},
    {"appD2.T_bound", HN_SUP_EXACT, 1,
     "the first layer with its kernel the whole input (m = n = 1), C_in = C_out = C, a constant kernel: "
     "||T||^2 = ||T||_F^2 = C^2 k^2 w^2"},
    {"appD2.Q_stmt", HN_SUP_EXACT, 1, "||Q^(p)|| = sqrt(m_p n_p); 1 = C^2 k^2 m n at C = k = m = n = 1 (K = 1)"},
    {"appD2.Q_fro", HN_SUP_EXACT, 1, "||Q^(p)||^2 = m_p n_p = m n for the first layer; C = k = 1 (K = 1)"},
    /* Lemma 3, Appendix E */
    {"lemma3", HN_SUP_NONE, NAN,
     "the proof's route gives the exponent L-l+1 (lemma3.sharpened), one short of the printed L-l+2: only "
     "k_pool^2 / (8 sqrt(2)) follows, and no network attaining it is known"},
    {"lemma3.mse", HN_SUP_NONE, NAN, "as lemma3 (k_pool^2 / sqrt(2) with A = I)"},
    {"lemma3.corrected", HN_SUP_UPPER, 1 / (8 * SQ2),
     CE_CHAIN "and the chain as in theorem2; the exact value is lower (pooling needs k_pool^2 output positions, "
     "where ||T||^2 < ||T||_F^2) and not known"},
    {"lemma3.corrected.mse", HN_SUP_UPPER, 1 / SQ2, "as lemma3.corrected with ||A|| = 1, C = 1"},
    {"lemma3.sharpened", HN_SUP_UPPER, 1 / (8 * SQ2), "as lemma3.corrected (proofs/lemma3.md)"},
    {"lemma3.sharpened.mse", HN_SUP_UPPER, 1 / SQ2, "as lemma3.corrected.mse"},
    {"appE.GR_product", HN_SUP_EXACT, 1, "equality on constant positive chains with the pooling (||M|| = 1 attained)"},
    {"appE.GR_bound", HN_SUP_EXACT, INFINITY,
     "unsquared norms against the squared form's bound: w -> 0 or large sizes break it"},
    {"appE.GR_bound.corrected", HN_SUP_UPPER, 1,
     "each ||T^(i)||^2 <= its Frobenius bound, which needs one output position to be attained; a pooled "
     "layer has k_pool^2: the exact supremum is below 1 and not known"},
    {"appE.exponent_step", HN_SUP_EXACT, INFINITY, "the ratio is k_pool^2 whenever p - 1 <= l, unbounded in k_pool"},
    {"appE.F_bound", HN_SUP_NONE, NAN,
     "the chains p > l carry one factor 1/k_pool^2 fewer than printed: up to k_pool^2 times "
     "appE.F_bound.corrected's ratio; no exact value known"},
    {"appE.F_bound.corrected", HN_SUP_UPPER, 1, "the same argument as appE.GR_bound.corrected"},
    {"appE.HO_x2", HN_SUP_NONE, NAN,
     "||x||^2 / ||x^2|| is up to sqrt(input size) (constant x): Lemma 3's ratio times that, unbounded in the "
     "input size where Lemma 3 is tight"},
    {"appE.HO_x2.mse", HN_SUP_NONE, NAN, "as appE.HO_x2"},
    /* Lemma 4, Appendix F */
    {"lemma4", HN_SUP_UPPER, 1 / (8 * SQ2),
     CE_CHAIN "the avg-pool matrix (norm 1/k_pool) sits in every chain and ||Q^(p)||^2 = m_p n_p <= q^2 / "
     "(C^2 k^2 k_pool^2) for p > l: the printed exponent L-l+2 is proven (proofs/lemma4.md); exact value not known"},
    {"lemma4.mse", HN_SUP_UPPER, 1 / SQ2, "as lemma4 with ||A|| = 1, C = 1"},
    {"lemma4.corrected", HN_SUP_UPPER, 1 / (8 * SQ2), "weaker than lemma4 (one factor 1/k_pool^2 fewer)"},
    {"lemma4.corrected.mse", HN_SUP_UPPER, 1 / SQ2, "as lemma4.mse"},
    {"appF.A_le_1", HN_SUP_EXACT, 1 / SQ2,
     "||avg pool|| = 1/k_pool in 2-D and 1/sqrt(k_pool) in 1-D: 1/sqrt(2) at k_pool = 2 in 1-D"},
    {"appF.F_reuse", HN_SUP_NONE, NAN,
     "the chains p > l have L-l+1 factors 1/k_pool^2, one fewer than printed; no exact value known"},
    {"appF.F_reuse.corrected", HN_SUP_UPPER, 1, "as appE.F_bound.corrected"},
    /* Lemma 5, Appendix G */
    {"lemma5", HN_SUP_EXACT, INFINITY,
     "the bracket has h^2 w~^2 / (k^2 C^2 w^2 m n) where the sum over p gives its inverse: with the FC "
     "weights w~ -> 0 at fixed conv weights the ratio grows without bound"},
    {"lemma5.mse", HN_SUP_EXACT, INFINITY, "as lemma5"},
    {"lemma5.corrected", HN_SUP_EXACT, 1 / (2 * SQ2),
     CE_CHAIN "a one-channel 1x1 conv, flatten, a linear 1 -> 2 layer (+a, -a) with a / w -> 0 and x -> 0 "
     "attains (1/2)/sqrt(2)"},
    {"lemma5.corrected.mse", HN_SUP_EXACT, 1 / SQ2, "A = I, K = 1: the same construction"},
    {"appG.T_fc", HN_SUP_NONE, NAN,
     "h_out h_in / h^2 with h the largest FC output: unbounded in the flattened conv output size h_in"},
    {"appG.T_fc.corrected", HN_SUP_EXACT, 1, "a constant matrix w~ 1 1^T: ||T||^2 = h_out h_in w~^2"},
    {"appG.GR_conv", HN_SUP_EXACT, 1,
     "equality: one conv whose kernel is the whole C-channel input (C -> C, constant w), then h x h constant "
     "FC layers with h = C = K (every factor attained, every product aligned)"},
    {"appG.GR_fc", HN_SUP_EXACT, 1, "as appG.GR_conv"},
    {"appG.F_bound", HN_SUP_EXACT, INFINITY, "as lemma5: the printed bracket, w~ -> 0"},
    {"corollary.loss_term", HN_SUP_EXACT, 0.5,
     "losses are >= 0, so |l_{k+1} - L_k| <= W_l and the ratio is at most 1/2, approached when l_{k+1} = W_l and "
     "L_k -> 0"},
};

hn_supremum hn_claim_supremum(const hn_claim *c)
{
    hn_supremum s = {HN_SUP_NONE, NAN, "an identity or a typo: no supremum"};
    if (!c)
        return s;
    if (c->rel == HN_REL_EQ || c->typo)
        return s;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strcmp(rows[i].id, c->id)) {
            s.kind = rows[i].kind;
            s.value = rows[i].value;
            s.why = rows[i].why;
            return s;
        }
    s.why = c->rel == HN_REL_APPROX ? "an approximation: judged against its right-hand side, no supremum"
                                    : "not derived: the verdict rests on the best ratio found";
    return s;
}
