/* hessnorm — Kronecker products and row-wise vectorisation (the paper's
 * vec_r and (x); docs/conventions.md). */
#ifndef HESSNORM_KRON_H
#define HESSNORM_KRON_H
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kronecker product C = A (x) B (allocates; NULL when out of memory). */
gsl_matrix *hn_kron(const gsl_matrix *A, const gsl_matrix *B);
/* Row-wise vectorisation as a column vector (allocates; NULL when out of memory). */
gsl_vector *hn_vec_r(const gsl_matrix *X);

#ifdef __cplusplus
}
#endif
#endif
