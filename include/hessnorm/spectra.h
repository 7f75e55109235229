/* hessnorm — spectra and norms two ways: LAPACKE and GSL. */
#ifndef HESSNORM_SPECTRA_H
#define HESSNORM_SPECTRA_H
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Symmetric eigen-decomposition, eigenvalues ascending.  evec may be NULL.
 * A is not modified.  LAPACK info codes become HN_EINVAL / HN_ENUMERIC. */
int hn_eig_sym_lapack(const gsl_matrix *A, gsl_vector *eval, gsl_matrix *evec, hn_err *err);
int hn_eig_sym_gsl(const gsl_matrix *A, gsl_vector *eval, gsl_matrix *evec, hn_err *err);
/* Singular values, descending, min(m,n) of them. */
int hn_svd_lapack(const gsl_matrix *A, gsl_vector *sv, hn_err *err);
int hn_svd_gsl(const gsl_matrix *A, gsl_vector *sv, hn_err *err);
/* Spectral norm (largest singular value) by dgesdd; 0 for empty. */
int hn_norm2(const gsl_matrix *A, double *out, hn_err *err);
int hn_norm2_gsl(const gsl_matrix *A, double *out, hn_err *err);
double hn_norm_fro(const gsl_matrix *A);
double hn_vec_norm(const double *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
