/* hessnorm — spectra and norms through LAPACKE and through GSL. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <lapacke.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sort_vector.h>
#include <gsl/gsl_errno.h>
#include "hessnorm/alloc.h"
#include "hessnorm/spectra.h"

static int check_finite(const gsl_matrix *A, const char *who, hn_err *err)
{
    for (size_t i = 0; i < A->size1; i++)
        for (size_t j = 0; j < A->size2; j++)
            if (!isfinite(gsl_matrix_get(A, i, j)))
                return hn_err_set(err, HN_EINVAL, "%s: matrix entry (%zu,%zu) is not finite",
                                  who, i, j);
    return HN_OK;
}

/* Dense row-major copy (gsl_matrix may have tda > size2). */
static double *copy_dense(const gsl_matrix *A)
{
    double *a = hn_calloc(A->size1 * A->size2 + 1, sizeof *a);
    if (!a)
        return NULL;
    for (size_t i = 0; i < A->size1; i++)
        memcpy(a + i * A->size2, A->data + i * A->tda, A->size2 * sizeof *a);
    return a;
}

static int lapack_info(lapack_int info, const char *routine, hn_err *err)
{
    if (info == 0)
        return HN_OK;
    /* LAPACKE's own allocations (its workspace, the row-major copy) are
     * info codes too: out of memory, not an argument of the caller's */
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory for LAPACKE's %s", routine,
                          info == LAPACK_WORK_MEMORY_ERROR ? "workspace" : "row-major copy");
    if (info < 0)
        return hn_err_set(err, HN_EINVAL, "%s: argument %d had an illegal value",
                          routine, (int)-info);
    return hn_err_set(err, HN_ENUMERIC, "%s: failed to converge (info = %d)", routine,
                      (int)info);
}

int hn_eig_sym_lapack(const gsl_matrix *A, gsl_vector *eval, gsl_matrix *evec, hn_err *err)
{
    const size_t n = A->size1;
    if (A->size2 != n || eval->size != n || (evec && (evec->size1 != n || evec->size2 != n)))
        return hn_err_set(err, HN_ESHAPE, "dsyevd: matrix is %zux%zu, eigen storage does not match",
                          A->size1, A->size2);
    int rc = check_finite(A, "dsyevd", err);
    if (rc)
        return rc;
    if (n == 0)
        return HN_OK;
    double *a = copy_dense(A), *w = hn_calloc(n, sizeof *w);
    if (!a || !w) {
        hn_free(a);
        hn_free(w);
        return hn_err_set(err, HN_ENOMEM, "dsyevd: out of memory");
    }
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, evec ? 'V' : 'N', 'U', (lapack_int)n, a,
                                     (lapack_int)n, w);
    rc = lapack_info(info, "LAPACKE_dsyevd", err);
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            gsl_vector_set(eval, i, w[i]);
        if (evec)
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                    gsl_matrix_set(evec, i, j, a[i * n + j]);
    }
    hn_free(a);
    hn_free(w);
    return rc;
}

int hn_eig_sym_gsl(const gsl_matrix *A, gsl_vector *eval, gsl_matrix *evec, hn_err *err)
{
    const size_t n = A->size1;
    if (A->size2 != n || eval->size != n || (evec && (evec->size1 != n || evec->size2 != n)))
        return hn_err_set(err, HN_ESHAPE, "gsl_eigen_symm: matrix is %zux%zu, eigen storage does not match",
                          A->size1, A->size2);
    int rc = check_finite(A, "gsl_eigen_symm", err);
    if (rc)
        return rc;
    if (n == 0)
        return HN_OK;
    gsl_matrix *a = gsl_matrix_alloc(n, n);
    if (!a)
        return hn_err_set(err, HN_ENOMEM, "gsl_eigen_symm: out of memory");
    gsl_matrix_memcpy(a, A);
    int st;
    if (evec) {
        gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(n);
        if (!w) {
            gsl_matrix_free(a);
            return hn_err_set(err, HN_ENOMEM, "gsl_eigen_symmv: out of memory");
        }
        st = gsl_eigen_symmv(a, eval, evec, w);
        gsl_eigen_symmv_free(w);
        if (!st)
            st = gsl_eigen_symmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_ASC);
    } else {
        gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(n);
        if (!w) {
            gsl_matrix_free(a);
            return hn_err_set(err, HN_ENOMEM, "gsl_eigen_symm: out of memory");
        }
        st = gsl_eigen_symm(a, eval, w);
        gsl_eigen_symm_free(w);
        if (!st)
            gsl_sort_vector(eval);
    }
    gsl_matrix_free(a);
    if (st)
        return hn_err_set(err, HN_ENUMERIC, "gsl_eigen_symm: %s", gsl_strerror(st));
    return HN_OK;
}

int hn_svd_lapack(const gsl_matrix *A, gsl_vector *sv, hn_err *err)
{
    const size_t m = A->size1, n = A->size2, k = m < n ? m : n;
    if (sv->size != k)
        return hn_err_set(err, HN_ESHAPE, "dgesdd: need %zu singular-value slots, got %zu", k,
                          sv->size);
    int rc = check_finite(A, "dgesdd", err);
    if (rc)
        return rc;
    if (k == 0)
        return HN_OK;
    double *a = copy_dense(A), *s = hn_calloc(k, sizeof *s);
    if (!a || !s) {
        hn_free(a);
        hn_free(s);
        return hn_err_set(err, HN_ENOMEM, "dgesdd: out of memory");
    }
    /* jobz = 'N': u and vt are not referenced, but this LAPACKE version
     * still checks ldu >= m and ldvt >= n in row-major layout. */
    double u[1], vt[1];
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (lapack_int)m, (lapack_int)n, a,
                                     (lapack_int)n, s, u, (lapack_int)m, vt, (lapack_int)n);
    rc = lapack_info(info, "LAPACKE_dgesdd", err);
    if (!rc)
        for (size_t i = 0; i < k; i++)
            gsl_vector_set(sv, i, s[i]);
    hn_free(a);
    hn_free(s);
    return rc;
}

int hn_svd_gsl(const gsl_matrix *A, gsl_vector *sv, hn_err *err)
{
    const size_t m = A->size1, n = A->size2, k = m < n ? m : n;
    if (sv->size != k)
        return hn_err_set(err, HN_ESHAPE, "gsl_linalg_SV_decomp: need %zu slots, got %zu", k,
                          sv->size);
    int rc = check_finite(A, "gsl_linalg_SV_decomp", err);
    if (rc)
        return rc;
    if (k == 0)
        return HN_OK;
    /* GSL needs rows >= columns: decompose A^T when A is wide. */
    gsl_matrix *a = gsl_matrix_alloc(m >= n ? m : n, k);
    gsl_matrix *v = gsl_matrix_alloc(k, k);
    gsl_vector *work = gsl_vector_alloc(k);
    if (!a || !v || !work) {
        if (a) gsl_matrix_free(a);
        if (v) gsl_matrix_free(v);
        if (work) gsl_vector_free(work);
        return hn_err_set(err, HN_ENOMEM, "gsl_linalg_SV_decomp: out of memory");
    }
    if (m >= n)
        gsl_matrix_memcpy(a, A);
    else
        gsl_matrix_transpose_memcpy(a, A);
    int st = gsl_linalg_SV_decomp(a, v, sv, work);
    gsl_matrix_free(a);
    gsl_matrix_free(v);
    gsl_vector_free(work);
    if (st)
        return hn_err_set(err, HN_ENUMERIC, "gsl_linalg_SV_decomp: %s", gsl_strerror(st));
    return HN_OK;
}

static int norm2_with(int (*svd)(const gsl_matrix *, gsl_vector *, hn_err *),
                      const gsl_matrix *A, double *out, hn_err *err)
{
    const size_t k = A->size1 < A->size2 ? A->size1 : A->size2;
    *out = 0;
    if (k == 0)
        return HN_OK;
    gsl_vector *s = gsl_vector_alloc(k);
    if (!s)
        return hn_err_set(err, HN_ENOMEM, "norm: out of memory");
    int rc = svd(A, s, err);
    if (!rc)
        *out = gsl_vector_max(s);
    gsl_vector_free(s);
    return rc;
}

int hn_norm2(const gsl_matrix *A, double *out, hn_err *err)
{
    return norm2_with(hn_svd_lapack, A, out, err);
}

int hn_norm2_gsl(const gsl_matrix *A, double *out, hn_err *err)
{
    return norm2_with(hn_svd_gsl, A, out, err);
}

double hn_norm_fro(const gsl_matrix *A)
{
    double s = 0;
    for (size_t i = 0; i < A->size1; i++)
        for (size_t j = 0; j < A->size2; j++) {
            double v = gsl_matrix_get(A, i, j);
            s += v * v;
        }
    return sqrt(s);
}

double hn_vec_norm(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i] * v[i];
    return sqrt(s);
}
