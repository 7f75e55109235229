/* hessnorm — Kronecker products and row-wise vectorisation. */
#include "config.h"
#include "hessnorm/kron.h"

gsl_matrix *hn_kron(const gsl_matrix *A, const gsl_matrix *B)
{
    gsl_matrix *C = gsl_matrix_alloc(A->size1 * B->size1, A->size2 * B->size2);
    if (!C)
        return NULL;
    for (size_t i = 0; i < A->size1; i++)
        for (size_t j = 0; j < A->size2; j++) {
            double a = gsl_matrix_get(A, i, j);
            for (size_t k = 0; k < B->size1; k++)
                for (size_t l = 0; l < B->size2; l++)
                    gsl_matrix_set(C, i * B->size1 + k, j * B->size2 + l,
                                   a * gsl_matrix_get(B, k, l));
        }
    return C;
}

gsl_vector *hn_vec_r(const gsl_matrix *X)
{
    gsl_vector *v = gsl_vector_alloc(X->size1 * X->size2);
    if (!v)
        return NULL;
    for (size_t i = 0; i < X->size1; i++)
        for (size_t j = 0; j < X->size2; j++)
            gsl_vector_set(v, i * X->size2 + j, gsl_matrix_get(X, i, j));
    return v;
}
