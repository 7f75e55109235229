/* hessnorm — the claim registry: every statement and proof step of the
 * paper, evaluated exactly as printed, with corrected versions beside the
 * printed ones that fail.  Symbols are read as follows unless a claim's
 * `reading` says otherwise:
 *   L     number of Lambda's = (number of linear operators) - 1
 *   C     largest channel count, input channels and the output included
 *   k     largest conv kernel side
 *   d     d_1, the output length of the first layer ("d_i <= d_1 := d")
 *   m, n  m_1, n_1, the first layer's output height and width
 *         ("m_i <= m_1 := m, n_i <= n_1 := n"); the input itself may be larger
 *   w     largest |weight| of the conv layers;  w~ the same for FC layers
 *   q     largest ||Q^(p)|| (Lemma 2), or the theorem's own q
 *   w_T   largest ||T^(p)|| (Lemma 2)
 *   l     the pooling sits in Lambda^(l), i.e. right after T^(l)
 *   h     largest FC dimension (in or out)  (see the Lemma 5 claims)
 * The last field of a row names the fact groups its ev_* reads (FG(NAME) =
 * HN_FG_NAME of internal.h, filled by the fg_* function of facts.c named
 * there), so a reader goes claim -> hn_ev_* (eval_*.c, one file per part of
 * the paper) -> fg_*; test_audit checks that a claim evaluated on its
 * groups alone gets the value all groups give. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ the registry */

#define R_ "; symbols as in the registry header"
/* the last field: the fact groups the evaluator reads (internal.h, facts.c fg_*) */
#define FG(g) HN_FG(HN_FG_##g)
/* A statement about the cross-entropy A (the paper's setting) and its MSE
 * twin "<id>.mse" (A = I: the extension); TWIN_C for a corrected form
 * (its twin corrects the printed claim's twin). */
#define MSE_ "extension to MSE, 1/2 ||z - y||^2 with A = I; "
#define TWIN(id, loc, pr, rd, rel, ev, fg)                                                          \
    {id, loc, pr, rd, NULL, rel, 0, ev, fg, HN_SET_CE},                                             \
    {id ".mse", loc, pr, MSE_ rd, NULL, rel, 0, ev, fg, HN_SET_MSE}
#define TWIN_C(id, loc, pr, rd, corr, rel, ev, fg)                                                  \
    {id, loc, pr, rd, corr, rel, 0, ev, fg, HN_SET_CE},                                             \
    {id ".mse", loc, pr, MSE_ rd, corr ".mse", rel, 0, ev, fg, HN_SET_MSE}
static const hn_claim claims[] = {
    {"eq3", "equation (3)", "f(x) = T^(L+1) Lambda^(L) ... Lambda^(1) T^(1) x",
     "dense matrices vs the direct layers", NULL, HN_REL_EQ, 0, hn_ev_eq3, FG(SEC4), HN_SET_ANY},
    {"sec4.z_Gz", "Section IV", "z = G^(p) z^(p)", "every p; z^(p) from the direct forward pass",
     NULL, HN_REL_EQ, 0, hn_ev_zGz, FG(SEC4), HN_SET_ANY},
    {"sec4.x_Rx", "Section IV", "x^(p) = R^(p) x", "every p", NULL, HN_REL_EQ, 0, hn_ev_xRx, FG(SEC4), HN_SET_ANY},
    {"sec4.z_GTRx", "Section IV", "z = f(x) = G^(p) T^(p) R^(p-1) x", "every p", NULL,
     HN_REL_EQ, 0, hn_ev_zGTRx, FG(SEC4), HN_SET_ANY},
    {"lemma1", "Lemma 1", "H_O(theta) = Q^T F^T A F Q",
     "F = [G^(p) (x) (R^(p-1)x)^T]_p (the transpose of the printed stack F^T); compared with J^T A J from backprop",
     NULL, HN_REL_EQ, 0, hn_ev_lemma1, FG(HO) | FG(LEMMA1), HN_SET_ANY},
    {"appA.final_form", "Appendix A", "H_O = Q^T F A F^T Q",
     "F A is undefined: F is K x sum|T^(p)| and A is K x K (it only type-checks if sum|T^(p)| = K)",
     NULL, HN_REL_EQ, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"appA.vec_z", "Appendix A", "vec(z^(p)) = vec(T^(p) x^(p-1)) = (I (x) x^(p-1)) vec(T^(p))",
     "(I (x) x^(p-1)) is (n_p |x|) x n_p and cannot multiply vec T^(p) (length n_p |x|)",
     NULL, HN_REL_EQ, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"appA.vec_z.corrected", "Appendix A", "vec(z^(p)) = (I (x) x^(p-1)T) vec_r(T^(p))",
     "row-wise vec, as in Section III; also the printed dz^(p)/dT^(p) = I (x) x^(p-1)T",
     "appA.vec_z", HN_REL_EQ, 0, hn_ev_vecz, FG(APPA), HN_SET_ANY},
    {"appA.kron_split", "Appendix A", "A_1 (x) A_2 = (A_1 (x) I_{m_2})(I_{m_1} (x) A_2)",
     "the factors only conform when n_1 = m_1", NULL, HN_REL_EQ, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"appA.kron_split.corrected", "Appendix A", "A_1 (x) A_2 = (A_1 (x) I_{m_2})(I_{n_1} (x) A_2)",
     "evaluated with A_1 = G^(p), A_2 = x^(p-1)T (m_2 = 1)", "appA.kron_split",
     HN_REL_EQ, 0, hn_ev_split, FG(APPA), HN_SET_ANY},
    {"appA.dz_dW", "Appendix A", "dz/dW^(p) = (G^(p) (x) x^(p)T) Q^(p)",
     "x^(p) (the layer's output) where x^(p-1) (its input) is meant; the sizes differ in general",
     NULL, HN_REL_EQ, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"appA.dz_dW.corrected", "Appendix A", "dz/dW^(p) = (G^(p) (x) x^(p-1)T) Q^(p)",
     "compared with the columns of J = F Q for layer p", "appA.dz_dW", HN_REL_EQ, 0, hn_ev_dzdW, FG(APPA), HN_SET_ANY},
    {"appA.block", "Appendix A",
     "H_O^(kl) = Q^(k)T (G^(k)T (x) R^(k-1)x) A (G^(l) (x) x^T R^(l-1)T) Q^(l)",
     "every block (k,l) against J^T A J", NULL, HN_REL_EQ, 0, hn_ev_block, FG(BLOCKS), HN_SET_ANY},
    TWIN("lemma2", "Lemma 2", "||H_O|| <= sqrt(2) q^2 ||x||^2 (L+1) w_T^2 L",
     "w_T^2 L read as printed (w_T squared, times L); q = max ||Q^(p)||, w_T = max ||T^(p)||" R_, HN_REL_LE, hn_ev_lemma2, FG(SHAPE) | FG(NORMS) | FG(HO)),
    TWIN_C("lemma2.corrected", "Lemma 2", "||H_O|| <= sqrt(2) q^2 ||x||^2 (L+1) w_T^(2L)",
     "the exponent its proof (Appendix D) derives", "lemma2", HN_REL_LE, hn_ev_lemma2c, FG(SHAPE) | FG(NORMS) | FG(HO)),
    {"appB.submult", "Appendix B", "||H_O|| <= ||Q||^2 ||F||^2 ||A||", "", NULL,
     HN_REL_LE, 0, hn_ev_submult, FG(APPB) | FG(HO), HN_SET_ANY},
    TWIN("appB.A_norm", "Appendix B", "||A|| <= sqrt(2)", "A = diag(p) - pp^T, p = softmax(z) (the paper's A)", HN_REL_LE, hn_ev_Anorm, FG(APPB)),
    {"appB.Q_blockdiag", "Appendix B", "||Q||^2 <= max_i ||Q^(i)||^2 <= q^2",
     "Q = blockdiag(Q^(i)); q = max ||Q^(i)||", NULL,
     HN_REL_LE, 0, hn_ev_Qblock, FG(SHAPE) | FG(NORMS) | FG(APPB), HN_SET_ANY},
    {"appD.G_bound", "Appendix D", "||G^(p)||^2 <= ||T^(p+1)||^2 ... ||T^(L+1)||^2 <= w_T^(2(L-p+1))",
     "the product form (the w_T form follows); Lambda's of norm <= 1", NULL,
     HN_REL_LE, 0, hn_ev_Gbound, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appD.R_bound", "Appendix D", "||R^(p-1)||^2 <= ||T^(1)||^2 ... ||T^(p-1)||^2 <= w_T^(2(p-1))",
     "the product form", NULL, HN_REL_LE, 0, hn_ev_Rbound, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appD.kron_norm", "Appendix D", "||G^(p)T (x) R^(p-1)x|| = ||G^(p)|| ||R^(p-1)x||", "", NULL,
     HN_REL_EQ, 0, hn_ev_kronnorm, FG(APPA), HN_SET_ANY},
    {"appD.F_stack", "Appendix D", "||F||^2 <= sum_{p=1}^{L+1} ||G^(p+1)T (x) R^(p-1)x||^2",
     "G^(p+1) is undefined for p = L+1 (G^(L+2)); the next line uses G^(p)", NULL, HN_REL_LE, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"appD.F_stack.corrected", "Appendix D", "||F||^2 <= sum_{p=1}^{L+1} ||G^(p)||^2 ||R^(p-1)x||^2", "",
     "appD.F_stack", HN_REL_LE, 0, hn_ev_Fstack, FG(SHAPE) | FG(NORMS) | FG(APPB), HN_SET_ANY},
    {"appD.F_bound", "Appendix D", "||F||^2 <= ||x||^2 (L+1) w_T^(2L)", "w_T = max ||T^(p)||", NULL,
     HN_REL_LE, 0, hn_ev_Fbound, FG(SHAPE) | FG(NORMS) | FG(APPB), HN_SET_ANY},
    TWIN("appD.HO_bound", "Appendix D",
     "||H_O|| <= ||Q||^2 ||F||^2 ||A|| <= sqrt(2) ||x||^2 q^2 (L+1) w_T^(2L)",
     "the appendix headed 'Proof of Theorem 2' proves Lemma 2 here", HN_REL_LE, hn_ev_lemma2c, FG(SHAPE) | FG(NORMS) | FG(HO)),
    TWIN("theorem1", "Theorem 1", "||H_O|| <= sqrt(2) ||x||^2 d^2 (L+1) (C^2 w^2 k d)^L",
     "1-D conv nets with ReLU, no pooling, no FC head; d = d_1 (first layer's output length), as printed" R_, HN_REL_LE, hn_ev_thm1, FG(SHAPE) | FG(HO)),
    {"appC.T_bound", "Appendix C", "||T^(p)||^2 <= C^2 d k w^2", "every conv layer p", NULL, HN_REL_LE, 0,
     hn_ev_C_T, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appC.Q_bound", "Appendix C", "||Q^(l)|| <= d  (i.e. ||Q^(p)||^2 <= d^2)", "every layer", NULL,
     HN_REL_LE, 0, hn_ev_C_Q, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appC.Q_sum_index", "Appendix C",
     "sum_{i=0}^{d_{l-1}-k_l} ||pi_R^i I|| <= sum_{i=1}^{d_{l-1}-k_l} ||pi_R||",
     "an index slip: the next line of the print is '= sum_{i=0}^{d_{l-1}-k_l} 1 = d_{l-1} - k_l + 1', so the "
     "lower index 0 is meant (as printed each term is 1 and the right side would be d_l - 1 < d_l); the "
     "corrected line is checked", NULL, HN_REL_LE, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"appC.Q_sum_index.corrected", "Appendix C",
     "||Q^(l)|| <= sum_{i=0}^{d_{l-1}-k_l} ||pi_R^i I|| = d_{l-1} - k_l + 1 = d_l", "",
     "appC.Q_sum_index", HN_REL_LE, 0, hn_ev_C_Qsumc, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    TWIN("corollary1", "Corollary 1",
     "|L_{k+1} - L_k| <= 2/(k+1) W_l + 2/(k+1) R^2 sqrt(2) d^2 W_x^2 (L+1) (C^2 w^2 k d)^L",
     "theta = theta* + delta, R = ||delta||, W_l = max_i |l_i(theta*)|, W_x = max_i ||x_i||, w at theta*; "
     "rests on the Taylor step (1) and on (2)", HN_REL_APPROX, hn_ev_cor1, FG(SHAPE) | FG(LANDSCAPE)),
    TWIN("theorem2", "Theorem 2", "||H_O|| <= sqrt(2) ||x||^2 q^2 (L+1) (C^2 k^2 w^2 m n)^L, q^2 = C^2 k^2 m n",
     "2-D conv nets (ReLU between layers, or none), no pooling, no FC head; m x n = m_1 x n_1 as printed" R_, HN_REL_LE, hn_ev_thm2, FG(SHAPE) | FG(HO)),
    {"appD2.T_row", "Appendix D", "||T^(p)_{i,*}||^2 = sum_{c,k,l} |W^(p)_{c,c2,k,l}|^2",
     "every row of every conv T", NULL, HN_REL_EQ, 0, hn_ev_D_Trow, FG(SHAPE) | FG(ENTRIES), HN_SET_ANY},
    {"appD2.T_fro", "equation (4)", "||T^(p)||_F^2 = sum_{c1,i,k,l} (W^(p)_{c1,c2(i),k,l})^2",
     "", NULL, HN_REL_EQ, 0, hn_ev_D_Tfro, FG(SHAPE) | FG(ENTRIES), HN_SET_ANY},
    {"appD2.T_stmt", "Appendix D", "||T^(p)|| <= C^2 k^2 w^2 m n",
     "the statement the proof announces (not squared)", NULL, HN_REL_LE, 0, hn_ev_D_Tstmt, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appD2.T_bound", "Appendix D", "||T^(p)||^2 <= ||T^(p)||_F^2 <= C^2 k^2 w^2 m n",
     "what the proof derives", "appD2.T_stmt", HN_REL_LE, 0, hn_ev_D_Tbound, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appD2.Q_stmt", "Appendix D", "||Q^(p)|| <= C^2 k^2 m n", "not squared, as announced", NULL, HN_REL_LE,
     0, hn_ev_D_Qstmt, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appD2.Q_row", "Appendix D", "sum_{j,c1,k1,k2} (dT_ij / dW_{c1,c2,k1,k2})^2 = C_{p-1} k_p^1 k_p^2",
     "every row i of every conv T", NULL, HN_REL_EQ, 0, hn_ev_D_Qrow, FG(SHAPE) | FG(ENTRIES), HN_SET_ANY},
    {"appD2.Q_fro", "Appendix D", "||Q^(p)||^2 <= ||Q^(p)||_F^2 = C m n C k^2 <= C^2 k^2 m n", "",
     NULL, HN_REL_LE, 0, hn_ev_D_Qfro, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    TWIN("corollary2", "Corollary 2",
     "|L_{k+1} - L_k| <= 2/(k+1) W_l + 2/(k+1) R^2 sqrt(2) q^2 W_x^2 (L+1) (C^2 k^2 w^2 m n)^L",
     "as corollary1, 2-D nets", HN_REL_APPROX, hn_ev_cor2, FG(SHAPE) | FG(LANDSCAPE)),
    {"corollary.loss_term", "Corollary 1",
     "|L_{k+1} - L_k| <= 2/(k+1) W_l  (the first term alone, W_l bounding |l_i| at theta)",
     "reading W_l as a bound on the losses at theta itself: then the Hessian term is not needed", NULL,
     HN_REL_LE, 0, hn_ev_cor_loss, FG(LANDSCAPE), HN_SET_ANY},
    TWIN("lemma3", "Lemma 3",
     "||H_O|| <= sqrt(2) ||x||^2 q^2 (1/k_pool^2)^(L-l+2) (L+1) (k^2 C^2 w^2 m n)^L, q^2 = m n C^2 k^2",
     "one MaxPool2D instead of the ReLU in Lambda^(l)" R_, HN_REL_LE, hn_ev_lemma3, FG(SHAPE) | FG(HO)),
    TWIN_C("lemma3.corrected", "Lemma 3",
     "||H_O|| <= sqrt(2) ||x||^2 q^2 (1/k_pool^2)^(L-l) (L+1) (k^2 C^2 w^2 m n)^L",
     "only T^(l+1..L+1) act on the pooled size, and for p > l the proof's product skips one of them", "lemma3", HN_REL_LE, hn_ev_lemma3c, FG(SHAPE) | FG(HO)),
    TWIN_C("lemma3.sharpened", "Lemma 3",
           "||H_O|| <= sqrt(2) ||x||^2 q^2 (1/k_pool^2)^(L-l+1) (L+1) (k^2 C^2 w^2 m n)^L",
           "the proof's route with ||Q^(p)||^2 = m_p n_p (sharp) <= q^2 / k_pool^2 for p > l: every chain p "
           "carries L-l+1 factors 1/k_pool^2 (proofs/lemma3.md)",
           "lemma3", HN_REL_LE, hn_ev_lemma3s, FG(SHAPE) | FG(HO)),
    {"appE.M_norm", "Appendix E", "||M^(l)|| = 1", "max-pool selection matrix", NULL,
     HN_REL_EQ, 0, hn_ev_E_M, FG(SHAPE) | FG(POOL), HN_SET_ANY},
    {"appE.GR_product", "Appendix E", "||G^(p)|| ||R^(p-1)|| <= prod_{i=1}^{L+1} ||T^(i)|| / ||T^(p)||", "",
     NULL, HN_REL_LE, 0, hn_ev_E_GRprod, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appE.GR_bound", "Appendix E",
     "prod ||T^(i)|| / ||T^(p)|| <= (C^2 k^2 w^2 m n)^(2L) (1/k_pool^2)^(L-l+2-I{p-1<=l})",
     "applied to ||G^(p)|| ||R^(p-1)|| (not squared) as printed", NULL,
     HN_REL_LE, 0, hn_ev_E_GR, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appE.GR_bound.corrected", "Appendix E",
     "||G^(p)||^2 ||R^(p-1)||^2 <= (C^2 k^2 w^2 m n)^L (1/k_pool^2)^(L+1-l-I{p>l})", "",
     "appE.GR_bound", HN_REL_LE, 0, hn_ev_E_GRc, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appE.exponent_step", "Appendix E", "(1/k_pool^2)^(L-l+2-I{p-1<=l}) <= (1/k_pool^2)^(L-l+2)",
     "dropping the indicator raises the exponent of a number < 1", NULL, HN_REL_LE, 0, hn_ev_E_expo, FG(SHAPE), HN_SET_ANY},
    {"appE.F_bound", "Appendix E", "||F||^2 <= ||x||^2 (L+1) (k^2 C^2 w^2 m n)^L (1/k_pool^2)^(L-l+2)", "",
     NULL, HN_REL_LE, 0, hn_ev_E_F, FG(SHAPE) | FG(APPB), HN_SET_ANY},
    {"appE.F_bound.corrected", "Appendix E",
     "||F||^2 <= ||x||^2 (L+1) (k^2 C^2 w^2 m n)^L (1/k_pool^2)^(L-l)",
     "the sum over p of appE.GR_bound.corrected times ||x||^2", "appE.F_bound",
     HN_REL_LE, 0, hn_ev_E_Fc, FG(SHAPE) | FG(APPB), HN_SET_ANY},
    TWIN("appE.HO_x2", "Appendix E",
         "||H_O|| <= sqrt(2) ||x^2|| q^2 (1/k_pool^2)^(L-l+2) (L+1) (k^2 C^2 w^2 m n)^L",
         "the last line of Appendix E read literally: x^2 elementwise, ||x^2|| = (sum_i x_i^4)^(1/2) <= ||x||^2 "
         "(Lemma 3 states ||x||^2)", HN_REL_LE, hn_ev_E_HOx2, FG(SHAPE) | FG(HO)),
    TWIN("lemma4", "Lemma 4",
     "||H_O|| <= sqrt(2) ||x||^2 q^2 (1/k_pool^2)^(L-l+2) (L+1) (k^2 C^2 w^2 m n)^L, q^2 = m n C^2 k^2",
     "one AvgPool2D instead of the ReLU in Lambda^(l)" R_, HN_REL_LE, hn_ev_lemma4, FG(SHAPE) | FG(HO)),
    TWIN_C("lemma4.corrected", "Lemma 4",
     "||H_O|| <= sqrt(2) ||x||^2 q^2 (1/k_pool^2)^(L-l+1) (L+1) (k^2 C^2 w^2 m n)^L",
     "the Lemma 3 correction, plus ||avg pool||^2 = 1/k_pool^2 on every chain", "lemma4", HN_REL_LE, hn_ev_lemma4c, FG(SHAPE) | FG(HO)),
    {"appF.gram", "Appendix F", "(A_{*,i}, A_{*,j}) = 1/k_pool^4 I{i, j in the same window}",
     "the avg-pool matrix", NULL, HN_REL_EQ, 0, hn_ev_F_gram, FG(SHAPE) | FG(POOL), HN_SET_ANY},
    {"appF.block", "Appendix F", "B_i = 1/k_pool^2 1 1^T", "measured: the entries of A^T A in a window",
     NULL, HN_REL_EQ, 0, hn_ev_F_block, FG(SHAPE) | FG(POOL), HN_SET_ANY},
    {"appF.block_norm", "Appendix F", "||B_i|| = 1/k_pool^2 ||1 1^T|| = 1/k_pool",
     "measured ||A^T A|| = max_i ||B_i||", NULL, HN_REL_EQ, 0, hn_ev_F_blocknorm, FG(SHAPE) | FG(POOL), HN_SET_ANY},
    {"appF.A_norm", "Appendix F", "||A^(p)|| = max_i ||B_i|| = 1/k_pool",
     "the final value (2-D pooling); max_i ||B_i|| is ||A^T A|| = 1/k_pool^2 in truth", NULL, HN_REL_EQ, 0,
     hn_ev_F_Anorm, FG(SHAPE) | FG(POOL), HN_SET_ANY},
    {"appF.A_le_1", "Appendix F", "||A^(p)|| <= 1", "1-D and 2-D avg pooling", NULL,
     HN_REL_LE, 0, hn_ev_F_Ale1, FG(SHAPE) | FG(POOL), HN_SET_ANY},
    {"appF.F_reuse", "Appendix F",
     "||F||^2 <= ||x||^2 (L+1) (k^2 C^2 w^2 m n)^L (1/k_pool^2)^(L-l+2)",
     "'we can completely reuse the calculations of the previous proof': Appendix E's ||F||^2 bound on "
     "avg-pool networks", NULL, HN_REL_LE, 0, hn_ev_F_Freuse, FG(SHAPE) | FG(APPB), HN_SET_ANY},
    {"appF.F_reuse.corrected", "Appendix F",
     "||F||^2 <= ||x||^2 (L+1) (k^2 C^2 w^2 m n)^L (1/k_pool^2)^(L-l+1)",
     "the layers after the pooling shrink by 1/k_pool^2 (p excluded: L-l factors at worst) and the "
     "avg-pool matrix adds one more, ||A^(l)||^2 = 1/k_pool^2, on every chain",
     "appF.F_reuse", HN_REL_LE, 0, hn_ev_F_Freusec, FG(SHAPE) | FG(APPB), HN_SET_ANY},
    TWIN("lemma5", "Lemma 5",
     "||H_O|| <= sqrt(2) ||x||^2 q^2 (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L (L+1+P h^2 w~^2 / (k^2 C^2 w^2 m n))",
     "h = largest FC dimension, input of the first FC layer included (the reading under which the "
     "proof's ||T|| <= h w~ holds); L+1 conv layers, P FC layers" R_, HN_REL_LE, hn_ev_lemma5, FG(SHAPE) | FG(HO)),
    TWIN_C("lemma5.corrected", "Lemma 5",
     "||H_O|| <= sqrt(2) ||x||^2 q^2 (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L (L+1+P k^2 C^2 w^2 m n / (h^2 w~^2))",
     "the bracket inverted back", "lemma5", HN_REL_LE, hn_ev_lemma5c, FG(SHAPE) | FG(HO)),
    {"appG.T_fc", "Appendix G", "||T^(L+1+p)||^2 <= h^2 w~^2",
     "h = largest FC output size h_p (as printed: 'h_p <= h')", NULL,
     HN_REL_LE, 0, hn_ev_G_Tfc, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appG.T_fc.corrected", "Appendix G", "||T^(L+1+p)||^2 <= h_out h_in w~^2", "", "appG.T_fc", HN_REL_LE,
     0, hn_ev_G_Tfcc, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appG.GR_conv", "Appendix G", "||G^(p)||^2 ||R^(p-1)||^2 <= (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L, p <= L+1",
     "h as in lemma5", NULL, HN_REL_LE, 0, hn_ev_G_GRconv, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appG.GR_fc", "Appendix G",
     "||G^(p)||^2 ||R^(p-1)||^2 <= (h^2 w~^2)^(P-1) (k^2 C^2 w^2 m n)^(L+1), p >= L+2", "h as in lemma5",
     NULL, HN_REL_LE, 0, hn_ev_G_GRfc, FG(SHAPE) | FG(NORMS), HN_SET_ANY},
    {"appG.bracket", "Appendix G",
     "sum_p (bounds above) = (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L (L+1+P h^2 w~^2/(k^2 C^2 w^2 m n))",
     "algebra: the sum of the per-p bounds against the printed closed form", NULL,
     HN_REL_EQ, 0, hn_ev_G_br, FG(SHAPE), HN_SET_ANY},
    {"appG.bracket.corrected", "Appendix G",
     "sum_p (bounds above) = (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L (L+1+P k^2 C^2 w^2 m n/(h^2 w~^2))", "",
     "appG.bracket", HN_REL_EQ, 0, hn_ev_G_brc, FG(SHAPE), HN_SET_ANY},
    {"appG.F_bound", "Appendix G",
     "||F||^2 <= (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L (L+1+P h^2 w~^2/(k^2 C^2 w^2 m n)) (||x||^2 implied)",
     "||x||^2 is dropped in the print and restored here", NULL, HN_REL_LE, 0, hn_ev_G_F, FG(SHAPE) | FG(APPB), HN_SET_ANY},
    {"appG.HO_final", "Appendix G",
     "||H_O|| <= sqrt(2) W_x q^2 (h^2 w~^2)^P (k^2 C^2 w^2 m n)^L (L+1+P h^2 w~^2/(k^2 C^2 w^2 m n))",
     "W_x (a bound on ||x||, not squared) where the statement has ||x||^2: not consistent in the units of x",
     NULL, HN_REL_LE, 1, hn_ev_typo, 0, HN_SET_ANY},
    {"eq2", "equation (2)", "||H|| ~ ||J^T [grad^2 l] J|| = ||H_O||",
     "measured ||H|| against ||H_O||; fails when ||H|| > ||H_O|| (H_F not negligible)", NULL, HN_REL_APPROX,
     0, hn_ev_eq2, FG(HO) | FG(HESSIAN), HN_SET_ANY},
    {"sec3.loss_diff", "Section III", "L_{k+1} - L_k = 1/(k+1) (l_{k+1} - L_k)", "", NULL, HN_REL_EQ, 0,
     hn_ev_identity, FG(LANDSCAPE), HN_SET_ANY},
    {"eq1", "equation (1)",
     "|L_{k+1}(theta) - L_k(theta)| ~ 1/(k+1)|l_{k+1}(theta*) - L_k(theta*)| + 1/(k+1) ||theta - theta*||^2 "
     "||H_{k+1}(theta*) - 1/k sum_i H_i(theta*)||",
     "H_i = Hessian of l_i; used as <=; Assumption 1 (grad L_k = grad L_{k+1} = 0 at theta*) holds only in "
     "the interpolating family", NULL, HN_REL_APPROX, 0, hn_ev_eq1, FG(LANDSCAPE), HN_SET_ANY},
    {"eq1.corrected", "equation (1)",
     "|L_{k+1} - L_k| ~ 1/(k+1) (|l_{k+1} - L_k| + |(grad l_{k+1} - grad L_k)^T delta| + 1/2 ||delta||^2 "
     "||H_{k+1} - 1/k sum H_i||)  at theta*",
     "the second-order Taylor expansion with its gradient term and its 1/2", "eq1",
     HN_REL_APPROX, 0, hn_ev_eq1c, FG(LANDSCAPE), HN_SET_ANY},
    {"assumption1", "Assumption 1", "grad L_k(theta*) = grad L_{k+1}(theta*) = 0",
     "checked where theta* is a stationary point of L_k (||grad L_k(theta*)|| <= 1e-10 mean_{i<=k+1} ||grad l_i(theta*)||: "
     "the audit's trained minima); discrepancy = ||grad L_{k+1}(theta*)|| / mean_{i<=k+1} ||grad l_i(theta*)||, "
     "= ||grad l_{k+1}|| / sum ||grad l_i|| there", NULL, HN_REL_EQ, 0, hn_ev_assumption1, FG(LANDSCAPE), HN_SET_ANY},
    {"eq1.first_order", "equation (1)",
     "|grad L_{k+1}(theta*)^T delta| <= 1/(k+1) ||theta - theta*||^2 ||H_{k+1}(theta*) - 1/k sum_i H_i(theta*)||",
     "the step of (1) that Assumption 1 carries: the first-order term it drops, (grad l_{k+1} - grad L_k)^T "
     "delta / (k+1) (= grad L_{k+1}(theta*)^T delta at a minimum of L_k), at most the second-order term it keeps; "
     "checked where theta* is a stationary point of L_k, as assumption1", NULL, HN_REL_LE, 0, hn_ev_eq1_first,
     FG(LANDSCAPE), HN_SET_ANY},
};

size_t hn_claims_count(void) { return sizeof claims / sizeof claims[0]; }
const hn_claim *hn_claim_get(size_t i) { return i < hn_claims_count() ? &claims[i] : NULL; }

const hn_claim *hn_claim_find(const char *id)
{
    for (size_t i = 0; i < hn_claims_count(); i++)
        if (!strcmp(claims[i].id, id))
            return &claims[i];
    return NULL;
}

const char *hn_verdict_name(hn_verdict v)
{
    static const char *n[] = {"holds", "loose", "fails", "typo", "approximation", "untested"};
    return v <= HN_V_UNTESTED ? n[v] : "?";
}

const char *hn_relation_name(hn_relation r)
{
    return r == HN_REL_LE ? "<=" : r == HN_REL_EQ ? "=" : "~";
}

const char *hn_sup_kind_name(hn_sup_kind k)
{
    return k == HN_SUP_EXACT ? "exact" : k == HN_SUP_UPPER ? "upper bound" : "none known";
}

/* What the network of f is, and the part of the paper whose bound covers it. */
static void describe_net(const hn_facts *f, char *buf, size_t n)
{
    const char *pool = f->spec.n_pool > 1 ? "poolings" : f->pool == 0 ? "no pooling" : f->pool == 1 ? "max pooling" : "average pooling";
    char head[64] = "no FC head", skip[40] = "", npool[24] = "";
    if (f->spec.n_pool > 1)
        snprintf(npool, sizeof npool, "%zu ", f->spec.n_pool);
    if (f->n_fc)
        snprintf(head, sizeof head, "an FC head of %zu layer%s", f->n_fc, f->n_fc > 1 ? "s" : "");
    for (unsigned t = 0, w = 0; !f->spec.irregular && t < 8 * sizeof f->spec.relu_skip && w + 8 < sizeof skip; t++) /* Lambda = I after these T^(p) */
        if (f->spec.relu_skip >> t & 1u)
            w += (unsigned)snprintf(skip + w, sizeof skip - w, "%s%u", w ? "," : ", no ReLU after T^", t + 1);
    const char *see = "none of the paper's ||H_O|| bounds covers it";
    if (f->dim == 1 && hn_cl_pure(f))
        see = "see theorem1";
    else if (f->dim == 2 && hn_cl_pure(f))
        see = "see theorem2";
    else if (f->dim == 2 && hn_cl_conv_only(f) && f->pool_instead)
        see = f->pool == 1 ? "see lemma3" : "see lemma4";
    else if (f->dim == 2 && f->n_fc && !f->pool)
        see = "see lemma5";
    if (f->spec.irregular) {
        snprintf(buf, n, "%d-D, %zu conv%s, %s, %s%s: outside the paper's settings (%s)", f->dim, f->n_conv,
                 f->n_conv > 1 ? "s" : "", head, npool, pool, f->spec.irregular);
        return;
    }
    snprintf(buf, n, "%d-D, %zu conv%s, %s, %s%s: %s", f->dim, f->n_conv, f->n_conv > 1 ? "s" : "", head, pool,
             skip, see);
}

int hn_cl_outside(const hn_facts *f, hn_claim_value *v, const char *need)
{
    char net[160];
    describe_net(f, net, sizeof net);
    snprintf(v->detail, sizeof v->detail, "needs %s; this network is %s", need, net);
    return 1;
}

/* The claim's loss setting against the network's loss (hn_loss_setting). */
int hn_claim_loss_fits(const hn_claim *c, const hn_facts *f)
{
    return c->loss == HN_SET_ANY || (c->loss == HN_SET_CE) == !f->spec.mse;
}

int hn_claim_eval(const hn_claim *c, const hn_facts *f, hn_claim_value *v)
{
    memset(v, 0, sizeof *v);
    if (!hn_claim_loss_fits(c, f))
        return 1;
    const unsigned missing = c->facts & ~f->groups;
    /* outside the claim's setting says so before any missing measurement: the
     * evaluators read the shape facts (always there) for their setting first */
    if (missing && !c->typo && c->eval(f, v) == 1 && v->detail[0])
        return 1;
    memset(v, 0, sizeof *v);
    if (missing && !c->typo) {
        /* a group the claim reads was not measured (past the dense limit) */
        int g = 0;
        while (!(missing & HN_FG(g)))
            g++;
        snprintf(v->detail, sizeof v->detail,
                 "not measured on this network: needs the %s facts, formed densely only within the dense "
                 "limit (matrix-free route)", hn_fact_group_name((hn_fact_group)g));
        return 2;
    }
    int r = c->eval(f, v);
    if (r == 0 && c->rel == HN_REL_EQ && v->bound == 0 && v->measured == 0) {
        v->measured = 1.0; /* identities: the ratio of the two sides is 1 */
        v->bound = 1.0;
    }
    /* a side that is not a number (0 x infinity in a formula, a failed
     * computation) is no measurement: n/a with the reason, never a
     * violation (hn_claim_violated would count a NaN bound as 0) */
    if (r == 0 && (isnan(v->measured) || isnan(v->bound) || (c->rel == HN_REL_EQ && isnan(v->discrepancy)))) {
        snprintf(v->detail, sizeof v->detail, "not measured on this network: the %s is not a number here",
                 isnan(v->measured) ? "measured side" : c->rel == HN_REL_EQ && !isnan(v->bound) ? "discrepancy"
                                                                                              : "bound");
        return 2;
    }
    return r;
}

int hn_claim_violated(const hn_claim *c, const hn_claim_value *v)
{
    if (c->rel == HN_REL_EQ)
        return !(v->discrepancy <= HN_EQ_RTOL);
    if (v->bound > 0)
        return v->measured > v->bound * (1 + HN_VIOLATION_RTOL);
    return v->measured > 0;
}
