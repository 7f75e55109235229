/* hessnorm — discrepancies, an allocating product and norms of dense
 * gsl matrices (see dense.h). */
#include "config.h"
#include <math.h>
#include "hessnorm/dense.h"
#include "hessnorm/spectra.h"

double hn_mat_disc(const gsl_matrix *a, const gsl_matrix *b)
{
    if (a->size1 != b->size1 || a->size2 != b->size2)
        return INFINITY;
    double d = 0, s = 0;
    for (size_t i = 0; i < a->size1; i++)
        for (size_t j = 0; j < a->size2; j++) {
            double x = gsl_matrix_get(a, i, j), y = gsl_matrix_get(b, i, j);
            d = fmax(d, fabs(x - y));
            s = fmax(s, fmax(fabs(x), fabs(y)));
        }
    return s > 0 ? d / s : d;
}

double hn_vec_disc(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fmax(fabs(a[i]), fabs(b[i])));
    }
    return s > 0 ? d / s : d;
}

gsl_matrix *hn_mat_mul(const gsl_matrix *A, CBLAS_TRANSPOSE_t ta, const gsl_matrix *B,
                       CBLAS_TRANSPOSE_t tb)
{
    size_t r = ta == CblasTrans ? A->size2 : A->size1;
    size_t c = tb == CblasTrans ? B->size1 : B->size2;
    gsl_matrix *C = gsl_matrix_alloc(r, c);
    if (C)
        gsl_blas_dgemm(ta, tb, 1.0, A, B, 0.0, C);
    return C;
}

double hn_sym_norm(const gsl_matrix *H, hn_err *err, int *rc)
{
    gsl_vector *ev = gsl_vector_alloc(H->size1);
    if (!ev) {
        *rc = hn_err_set(err, HN_ENOMEM, "facts: out of memory");
        return 0;
    }
    *rc = hn_eig_sym_lapack(H, ev, NULL, err);
    double v = *rc ? 0 : fmax(fabs(gsl_vector_get(ev, 0)), fabs(gsl_vector_get(ev, H->size1 - 1)));
    gsl_vector_free(ev);
    return v;
}

int hn_gram_norm2(const gsl_matrix *A, double *out, hn_err *err)
{
    const int tall = A->size1 >= A->size2;
    const size_t n = tall ? A->size2 : A->size1;
    gsl_matrix *G = gsl_matrix_calloc(n, n);
    if (!G)
        return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
    gsl_blas_dsyrk(CblasUpper, tall ? CblasTrans : CblasNoTrans, 1.0, A, 0.0, G);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            gsl_matrix_set(G, i, j, gsl_matrix_get(G, j, i));
    int rc;
    double v = hn_sym_norm(G, err, &rc);
    gsl_matrix_free(G);
    *out = rc ? 0 : sqrt(fmax(v, 0.0));
    return rc;
}
