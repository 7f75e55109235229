/* hessnorm — the outer-product Hessian H_O = J^T A J = Q^T F^T A F Q, one
 * home per route: dense P x P, nonzero eigenvalues through the NK x NK
 * Gram matrix, per-sample K x K norms, and the matrix-free operator
 * v -> sum_i w_i J_i^T A_i J_i v for Lanczos.  (The batched per-sample
 * K x K spectra are hn_batch_ho_eigs in fastconv.h; the kernels of both
 * K x K routes are in eigsmall.h.) */
#ifndef HESSNORM_OUTER_H
#define HESSNORM_OUTER_H
#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/model.h"
#include "hessnorm/layers.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dense ---- */

/* HO = J^T (A J) with an explicit K x K A: AJ = A J, then HO = J^T AJ
 * (two dgemms, alpha 1, beta 0).  J and AJ are K x P (AJ: scratch), HO is
 * P x P.  J may be any factor with H_O = J^T A J, e.g. F Q (Lemma 1). */
void hn_outer_dense(const gsl_matrix *A, const gsl_matrix *J, gsl_matrix *AJ, gsl_matrix *HO);
/* One sample's term with A applied, not formed: HO += scale J^T (A J),
 * A J column by column through hn_loss_hess_apply(loss, K, p, .), then
 * one dgemm (beta 1).  J and AJ (scratch) are K x P row-major.  Returns 0
 * or HN_ENOMEM (no message: the caller names the matrix). */
int hn_outer_add(hn_loss_type loss, size_t K, size_t P, const double *p, const double *J,
                 double scale, double *AJ, gsl_matrix *HO);

/* ---- Gram (nonzero spectrum without the P x P matrix) ---- */

/* Nonzero eigenvalues of H_O = (1/N) sum_i J_i^T A_i J_i of the N samples
 * of s through the NK x NK Gram matrix S S^T, S = [A_i^{1/2} J_i / sqrt(N)]
 * (A_i from hn_loss_hess_matrix, A_i^{1/2} by hn_psd_sqrt_from_eig):
 * those with |lambda| > zero_rtol * max |lambda|, descending, at most P of
 * them, into *eigs (hn_calloc'd, NK slots; the caller frees with hn_free),
 * their number into *n.  Errors: HN_ENOMEM ("inspect: out of memory") and
 * those of hn_eig_sym_lapack. */
int hn_outer_gram_eigs(const hn_model *m, const double *theta, const hn_samples *s,
                       double zero_rtol, double **eigs, size_t *n, hn_err *err);
/* The same spectrum from the P x P matrix HO itself (dsyevd on P x P):
 * the route for a batch with N K > P, where the Gram matrix is the larger
 * (rank H_O <= min(NK, P)); equal to hn_outer_gram_eigs to rounding.
 * Same output and errors. */
int hn_outer_dense_eigs(const gsl_matrix *HO, double zero_rtol, double **eigs, size_t *n,
                        hn_err *err);

/* ---- per sample, K x K ---- */

/* G = J J^T (K x K, both triangles) of a K x P row-major J, each entry one
 * sequential dot product (hn_dot_seq). */
void hn_outer_sample_gram(size_t K, size_t P, const double *J, double *G);
/* ||J^T A J|| = lambda_max(A^{1/2} G A^{1/2}) of one sample from its
 * probabilities p and G = J J^T: A by hn_loss_hess_apply on unit vectors,
 * A^{1/2} by hn_psd_sqrt, the spectrum by hn_sym_sandwich_eigs.  buf:
 * 4 K^2 + 2 K doubles.  Returns 0 or HN_ENUMERIC (no message). */
int hn_outer_sample_norm(hn_loss_type loss, size_t K, const double *p, const double *G,
                         double *buf, double *out);

/* ---- operator ---- */

/* v -> sum_i w_i J_i^T A_i J_i v on R^(Pb + K d) over n stored Jacobians.
 * Sample i's Jacobian is [Jb_i, I_K (x) xh_i^T]: Jb_i (K x Pb) at
 * Jb + i K Pb, and, with a last linear layer of d inputs (d > 0), the head
 * block given by its input xh_i (d) at xh + i d.  A_i from p + i K through
 * hn_loss_hess_apply.  u: n K doubles of scratch.  threads: OpenMP threads
 * (the bits do not depend on it). */
typedef struct {
    hn_loss_type loss;
    size_t K, Pb, d, n;
    const double *Jb, *xh, *p, *w;
    double *u;
    int threads;
} hn_outer_op;

/* The largest K the operator takes (its per-sample tangent J_i v lives on
 * the stack of each thread). */
#define HN_OUTER_OP_MAX_K 64

/* y = the operator applied to v (an hn_matvec_fn with ctx an hn_outer_op *).
 * HN_EINVAL when K > HN_OUTER_OP_MAX_K (nothing written). */
int hn_outer_op_apply(void *op, const double *v, double *y);

#ifdef __cplusplus
}
#endif

#endif
