/* hessnorm — the full Hessian, exactly, and its outer-product part. */
#ifndef HESSNORM_HESSIAN_H
#define HESSNORM_HESSIAN_H
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include "hessnorm/model.h"
#include "hessnorm/lanczos.h"

#ifdef __cplusplus
extern "C" {
#endif

/* H = d^2/dtheta^2 of the mean loss over s, assembled from P exact
 * Hessian-vector products (forward-over-reverse); symmetrised. */
int hn_hessian_full(const hn_model *m, const double *theta, const hn_samples *s,
                    gsl_matrix *H, hn_err *err);
/* H_O = mean_i J_i^T A_i J_i through backprop Jacobians. */
int hn_hessian_outer(const hn_model *m, const double *theta, const hn_samples *s,
                     gsl_matrix *HO, hn_err *err);

/* ---- fast routes on the batched kernels of fastconv.h ----
 * threads <= 0: all (omp_get_max_threads()); results are bit-identical for
 * every thread count.  Errors: HN_EINVAL (bad argument), HN_ESHAPE,
 * HN_ENOMEM, HN_ENUMERIC (LAPACK failure). */

/* Directions per batched HVP pass of hn_hessian_dense. */
#define HN_DENSE_DIRS 32

/* H (P x P) of the mean loss over s, assembled from blocks of
 * HN_DENSE_DIRS exact Hessian-vector products per batched pass
 * (hn_batch_hvp on unit vectors), then symmetrised.  Same matrix as
 * hn_hessian_full up to rounding. */
int hn_hessian_dense(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                     gsl_matrix *H, hn_err *err);
/* Eigenvalues (ascending, P of them) of that H by LAPACKE dsyevd (jobz
 * 'N', H never copied into a gsl_matrix). */
int hn_hessian_eigvals(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                       gsl_vector *eval, hn_err *err);

/* Matrix-free symmetric operators over the items idx[0..n-1] of s (idx
 * NULL: samples 0..n-1), each product exact (batched R-operator, no finite
 * differences):
 *   HN_OP_MEAN_HO  (1/n) sum_i H_O,i
 *   HN_OP_MEAN_H   (1/n) sum_i H_i            (the full loss Hessians)
 *   HN_OP_DIFF_HO  H_O,n - (1/(n-1)) sum_{i<n} H_O,i   (n >= 2; indefinite)
 *   HN_OP_DIFF_H   H_n - (1/(n-1)) sum_{i<n} H_i       (n >= 2; indefinite)
 * where item n is the last one (the paper's sample k+1 with k = n-1). */
typedef enum { HN_OP_MEAN_HO = 0, HN_OP_MEAN_H, HN_OP_DIFF_HO, HN_OP_DIFF_H } hn_mean_op;

/* Extreme eigenvalues of the operator by hn_lanczos_extreme (full
 * reorthogonalisation; stops when both extreme residuals are <= rtol *
 * norm, or the Krylov space is invariant, or after max_iter products).
 * res as hn_lanczos_extreme's. */
int hn_mean_op_extreme(const hn_model *m, const double *theta, const hn_samples *s,
                       const size_t *idx, size_t n, hn_mean_op op, size_t max_iter, double rtol,
                       unsigned long seed, int threads, hn_lanczos_result *res, hn_err *err);

/* Spectral norm ||T|| of the convolution with weights W ([co, ci, kh, kw])
 * on inputs of shape in, matrix-free: Lanczos on T^T T applied as
 * hn_conv_forward then hn_conv_backward_data (T never formed), norm =
 * sqrt(lambda_max).  Relative accuracy about rtol / 2 on the norm.  res
 * (may be NULL) receives the Lanczos record of T^T T. */
int hn_conv_norm(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, size_t max_iter,
                 double rtol, unsigned long seed, double *norm, hn_lanczos_result *res,
                 hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
