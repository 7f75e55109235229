/* hessnorm — small helpers on dense gsl matrices: relative discrepancies,
 * an allocating product, and norms of symmetric and Gram matrices. */
#ifndef HESSNORM_DENSE_H
#define HESSNORM_DENSE_H
#include <stddef.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* max |a - b| / max(|a|, |b|) over the entries (the plain max difference
 * when both are 0); INFINITY when the shapes differ. */
double hn_mat_disc(const gsl_matrix *a, const gsl_matrix *b);
/* The same for two vectors of n doubles. */
double hn_vec_disc(const double *a, const double *b, size_t n);
/* op(A) op(B) in a new matrix (gsl_blas_dgemm, alpha 1, beta 0); NULL when
 * out of memory (the caller frees with gsl_matrix_free). */
gsl_matrix *hn_mat_mul(const gsl_matrix *A, CBLAS_TRANSPOSE_t ta, const gsl_matrix *B,
                       CBLAS_TRANSPOSE_t tb);
/* max |eigenvalue| of the symmetric H by hn_eig_sym_lapack; *rc = 0 or
 * its error (HN_ENOMEM: "facts: out of memory"); 0 on error. */
double hn_sym_norm(const gsl_matrix *H, hn_err *err, int *rc);
/* ||A||_2 through the smaller Gram matrix (A^T A or A A^T, by dsyrk) and
 * hn_sym_norm: the largest eigenvalue of a Gram matrix is computed to
 * relative accuracy ~ n eps, so the norm is as accurate as an SVD's, at a
 * fraction of the cost for tall 0/1 matrices.  Errors as hn_sym_norm's. */
int hn_gram_norm2(const gsl_matrix *A, double *out, hn_err *err);

#ifdef __cplusplus
}
#endif

#endif
