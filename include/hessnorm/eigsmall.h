/* hessnorm — small dense symmetric eigenproblems on raw row-major arrays
 * (no gsl_matrix, no copies, no finiteness check): the in-place dsyevd,
 * the PSD square root and the K x K spectra of the per-sample H_O routes.
 * Free of GSL headers so that files using OpenBLAS's cblas.h can include it. */
#ifndef HESSNORM_EIGSMALL_H
#define HESSNORM_EIGSMALL_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In-place eigen-decomposition of the symmetric n x n row-major a (lda = n,
 * upper triangle read) by LAPACKE_dsyevd: eigenvalues ascending into w (n);
 * vectors != 0: a receives the eigenvectors as columns, else a is
 * destroyed.  Failure: "<who>: LAPACKE_dsyevd info <info>", HN_EINVAL
 * (info < 0) or HN_ENUMERIC (info > 0). */
int hn_eig_sym_inplace(size_t n, double *a, double *w, int vectors, const char *who, hn_err *err);
/* S = V diag(sqrt(max(lam, 0))) V^T (K x K) from the eigenvectors V
 * (columns) and eigenvalues lam of a symmetric PSD matrix; negative
 * eigenvalues are rounding and count as 0. */
void hn_psd_sqrt_from_eig(size_t K, const double *V, const double *lam, double *S);
/* S = A^{1/2} of the symmetric PSD K x K A, as above, by
 * hn_eig_sym_inplace: A is overwritten with V, w (K) receives the
 * eigenvalues.  Errors as hn_eig_sym_inplace's. */
int hn_psd_sqrt(size_t K, double *A, double *w, double *S, hn_err *err);
/* Eigenvalues (ascending, K) of S G S for symmetric K x K S and G: T = S G,
 * M = T S in sequential loops, M symmetrised, dsyevd.  buf: 2 K^2 doubles. */
int hn_sym_sandwich_eigs(size_t K, const double *S, const double *G, double *buf, double *ev,
                         hn_err *err);
/* C = diag(sqrt p) (I - 1 p^T) (K x K) for a probability vector p: C^T C =
 * diag(p) - p p^T, the softmax cross-entropy Hessian. */
void hn_softmax_hess_factor(size_t K, const double *p, double *C);
/* Eigenvalues (ascending, K) of C G C^T (two dgemms, symmetrised) for a
 * symmetric K x K G; C NULL means C = I (the eigenvalues of G itself).
 * buf: 2 K^2 doubles. */
int hn_sandwich_eigs(size_t K, const double *C, const double *G, double *buf, double *ev,
                     hn_err *err);

#ifdef __cplusplus
}
#endif

#endif
