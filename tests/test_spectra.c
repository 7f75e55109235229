/* hessnorm — LAPACKE and GSL spectra against each other and against
 * matrices whose spectra are known in closed form. */
#include "testutil.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_math.h>

/* Backward-stable symmetric eigensolvers: |dlambda| <= c n eps ||A||;
 * with n <= 60 and ||A|| ~ n this is ~1e-12 absolute. */
#define EIG_ATOL 1e-11

static void test_eig_lapack_vs_gsl(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(31);
    hn_err e;
    for (size_t n = 1; n <= 60; n += 7) {
        gsl_matrix *A = gsl_matrix_alloc(n, n), *V1 = gsl_matrix_alloc(n, n), *V2 = gsl_matrix_alloc(n, n);
        gsl_vector *w1 = gsl_vector_alloc(n), *w2 = gsl_vector_alloc(n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j <= i; j++) {
                double v = 2 * gsl_rng_uniform(r) - 1;
                gsl_matrix_set(A, i, j, v);
                gsl_matrix_set(A, j, i, v);
            }
        assert_int_equal(hn_eig_sym_lapack(A, w1, V1, &e), 0);
        assert_int_equal(hn_eig_sym_gsl(A, w2, V2, &e), 0);
        for (size_t i = 0; i < n; i++)
            assert_close(gsl_vector_get(w1, i), gsl_vector_get(w2, i), 0, EIG_ATOL);
        /* A V = V diag(w): residual of the LAPACK vectors */
        for (size_t k = 0; k < n; k++) {
            gsl_vector_view v = gsl_matrix_column(V1, k);
            gsl_vector *Av = gsl_vector_alloc(n);
            gsl_blas_dgemv(CblasNoTrans, 1.0, A, &v.vector, 0.0, Av);
            for (size_t i = 0; i < n; i++)
                assert_close(gsl_vector_get(Av, i), gsl_vector_get(w1, k) * gsl_vector_get(&v.vector, i), 0, EIG_ATOL);
            gsl_vector_free(Av);
        }
        /* the eigenvalues of the no-vector path equal those with vectors */
        assert_int_equal(hn_eig_sym_lapack(A, w2, NULL, &e), 0);
        for (size_t i = 0; i < n; i++)
            assert_close(gsl_vector_get(w1, i), gsl_vector_get(w2, i), 0, EIG_ATOL);
        gsl_matrix_free(A); gsl_matrix_free(V1); gsl_matrix_free(V2);
        gsl_vector_free(w1); gsl_vector_free(w2);
    }
    gsl_rng_free(r);
}

/* tridiag(-1, 2, -1) of order n has eigenvalues 2 - 2 cos(k pi/(n+1)). */
static void test_eig_closed_form(void **state)
{
    (void)state;
    hn_err e;
    const size_t n = 25;
    gsl_matrix *A = gsl_matrix_calloc(n, n);
    gsl_vector *w = gsl_vector_alloc(n), *w2 = gsl_vector_alloc(n);
    for (size_t i = 0; i < n; i++) {
        gsl_matrix_set(A, i, i, 2);
        if (i + 1 < n) {
            gsl_matrix_set(A, i, i + 1, -1);
            gsl_matrix_set(A, i + 1, i, -1);
        }
    }
    assert_int_equal(hn_eig_sym_lapack(A, w, NULL, &e), 0);
    assert_int_equal(hn_eig_sym_gsl(A, w2, NULL, &e), 0);
    for (size_t k = 1; k <= n; k++) {
        double want = 2 - 2 * cos((double)k * M_PI / (double)(n + 1));
        assert_close(gsl_vector_get(w, k - 1), want, 0, 1e-13);  /* ||A|| <= 4: ~ n eps ||A|| */
        assert_close(gsl_vector_get(w2, k - 1), want, 0, 1e-13);
    }
    gsl_matrix_free(A);
    gsl_vector_free(w);
    gsl_vector_free(w2);
}

static void test_svd_two_ways(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(32);
    hn_err e;
    size_t dims[][2] = {{1, 1}, {5, 3}, {3, 5}, {40, 7}, {7, 40}, {30, 30}};
    for (size_t t = 0; t < 6; t++) {
        size_t m = dims[t][0], n = dims[t][1], k = m < n ? m : n;
        gsl_matrix *A = gsl_matrix_alloc(m, n);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                gsl_matrix_set(A, i, j, 2 * gsl_rng_uniform(r) - 1);
        gsl_vector *s1 = gsl_vector_alloc(k), *s2 = gsl_vector_alloc(k);
        assert_int_equal(hn_svd_lapack(A, s1, &e), 0);
        assert_int_equal(hn_svd_gsl(A, s2, &e), 0);
        for (size_t i = 0; i < k; i++)
            assert_close(gsl_vector_get(s1, i), gsl_vector_get(s2, i), 0, 1e-12); /* ~ k eps ||A|| */
        /* sigma_max^2 = lambda_max(A^T A) through the eigensolver */
        gsl_matrix *AtA = gsl_matrix_alloc(n, n);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, A, A, 0.0, AtA);
        gsl_vector *w = gsl_vector_alloc(n);
        assert_int_equal(hn_eig_sym_gsl(AtA, w, NULL, &e), 0);
        double nrm, nrm_g;
        assert_int_equal(hn_norm2(A, &nrm, &e), 0);
        assert_int_equal(hn_norm2_gsl(A, &nrm_g, &e), 0);
        assert_close(nrm * nrm, gsl_vector_get(w, n - 1), 1e-12, 0);
        assert_close(nrm, nrm_g, 1e-13, 0);
        gsl_matrix_free(A); gsl_matrix_free(AtA);
        gsl_vector_free(s1); gsl_vector_free(s2); gsl_vector_free(w);
    }
    gsl_rng_free(r);
}

static void test_degenerate(void **state)
{
    (void)state;
    hn_err e;
    /* zero matrix, rank one, ill-conditioned diag */
    gsl_matrix *Z = gsl_matrix_calloc(4, 3);
    double nz;
    assert_int_equal(hn_norm2(Z, &nz, &e), 0);
    assert_close(nz, 0, 0, 0);
    gsl_matrix *R1 = gsl_matrix_alloc(4, 4);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            gsl_matrix_set(R1, i, j, 1.0); /* 1 1^T: eigenvalues 4, 0, 0, 0 */
    gsl_vector *w = gsl_vector_alloc(4);
    assert_int_equal(hn_eig_sym_lapack(R1, w, NULL, &e), 0);
    assert_close(gsl_vector_get(w, 3), 4, 1e-15, 0);
    assert_close(gsl_vector_get(w, 0), 0, 0, 1e-14);
    gsl_matrix *D = gsl_matrix_calloc(3, 3);
    gsl_matrix_set(D, 0, 0, 1e-300);
    gsl_matrix_set(D, 1, 1, 1.0);
    gsl_matrix_set(D, 2, 2, 1e300);
    gsl_vector *sv = gsl_vector_alloc(3);
    assert_int_equal(hn_svd_gsl(D, sv, &e), 0);
    assert_close(gsl_vector_get(sv, 0), 1e300, 1e-15, 0);
    assert_int_equal(hn_svd_lapack(D, sv, &e), 0);
    assert_close(gsl_vector_get(sv, 0), 1e300, 1e-15, 0);
    /* NaN refused with a message, not propagated */
    gsl_matrix_set(R1, 1, 2, NAN);
    assert_int_equal(hn_eig_sym_lapack(R1, w, NULL, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "(1,2)"));
    assert_int_equal(hn_eig_sym_gsl(R1, w, NULL, &e), HN_EINVAL);
    double nn;
    assert_int_equal(hn_norm2(R1, &nn, &e), HN_EINVAL);
    /* shape mismatch */
    gsl_vector *w3 = gsl_vector_alloc(3);
    assert_int_equal(hn_eig_sym_lapack(Z, w3, NULL, &e), HN_ESHAPE);
    gsl_matrix_free(Z); gsl_matrix_free(R1); gsl_matrix_free(D);
    gsl_vector_free(w); gsl_vector_free(sv); gsl_vector_free(w3);
}

/* A random symmetric PSD n x n matrix B B^T / n of rank r (row-major). */
static void rand_psd(gsl_rng *r, size_t n, size_t rank, double *A)
{
    double B[64 * 64];
    hn_test_fill_uniform(r, B, n * rank, -1, 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < rank; k++)
                s += B[i * rank + k] * B[j * rank + k];
            A[i * n + j] = s / (double)n;
        }
}

/* The raw in-place dsyevd is the routine behind hn_eig_sym_lapack: the
 * same bits; A^{1/2} squared gives A back; the two K x K sandwich routes
 * agree; the softmax factor C has C^T C = diag(p) - p p^T. */
static void test_eig_small(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(77);
    hn_err e;
    for (size_t n = 1; n <= 12; n += 3) {
        double A[144], A0[144], S[144], w[12], buf[288], ev1[12], ev2[12], G[144];
        rand_psd(r, n, n > 1 ? n - 1 : 1, A); /* singular: a null eigenvalue may round negative */
        memcpy(A0, A, sizeof A);
        gsl_matrix_view Av = gsl_matrix_view_array(A0, n, n);
        gsl_vector *wl = gsl_vector_alloc(n);
        assert_int_equal(hn_eig_sym_lapack(&Av.matrix, wl, NULL, &e), 0);
        double W[144];
        memcpy(W, A, sizeof W);
        assert_int_equal(hn_eig_sym_inplace(n, W, w, 0, "test", &e), 0);
        for (size_t i = 0; i < n; i++)
            assert_true(w[i] == gsl_vector_get(wl, i)); /* same routine, same arguments */
        gsl_vector_free(wl);
        assert_int_equal(hn_psd_sqrt(n, A, w, S, &e), 0);
        /* S S = A0: |d| <= c n eps ||A||, ||A|| <= n / 3 here */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < n; k++)
                    s += S[i * n + k] * S[k * n + j];
                /* sqrt of a rounding-size null eigenvalue is ~sqrt(eps): its square is eps */
                assert_close(s, A0[i * n + j], 0, 1e-13);
            }
        rand_psd(r, n, n, G);
        assert_int_equal(hn_sym_sandwich_eigs(n, S, G, buf, ev1, &e), 0);
        assert_int_equal(hn_sandwich_eigs(n, S, G, buf, ev2, &e), 0); /* S = S^T */
        for (size_t i = 0; i < n; i++)
            assert_close(ev1[i], ev2[i], 0, EIG_ATOL); /* backward-stable eigensolver, ||SGS|| <= 1 */
        /* C^T C = diag(p) - p p^T */
        double p[12], C[144], sum = 0;
        hn_test_fill_uniform(r, p, n, 0.01, 1);
        for (size_t i = 0; i < n; i++)
            sum += p[i];
        for (size_t i = 0; i < n; i++)
            p[i] /= sum;
        hn_softmax_hess_factor(n, p, C);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < n; k++)
                    s += C[k * n + i] * C[k * n + j];
                const double want = (i == j ? p[i] : 0) - p[i] * p[j];
                assert_close(s, want, 0, 1e-15); /* a few roundings of entries <= 1 */
            }
        /* C = NULL: the eigenvalues of G itself */
        assert_int_equal(hn_sandwich_eigs(n, NULL, G, buf, ev2, &e), 0);
        memcpy(W, G, sizeof W);
        assert_int_equal(hn_eig_sym_inplace(n, W, ev1, 0, "test", &e), 0);
        for (size_t i = 0; i < n; i++)
            assert_true(ev1[i] == ev2[i]);
    }
    gsl_rng_free(r);
}

/* hn_gram_norm2 against dgesdd's largest singular value, tall and wide;
 * hn_mat_mul against a naive triple loop with every transpose; the
 * discrepancies on known pairs. */
static void test_dense_helpers(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(78);
    hn_err e;
    const size_t shapes[][2] = {{1, 1}, {7, 3}, {3, 7}, {40, 9}, {9, 40}, {25, 25}};
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        const size_t m = shapes[t][0], n = shapes[t][1], k = m < n ? m : n;
        gsl_matrix *A = gsl_matrix_alloc(m, n);
        hn_test_fill_uniform(r, A->data, m * n, -1, 1);
        gsl_vector *sv = gsl_vector_alloc(k);
        assert_int_equal(hn_svd_lapack(A, sv, &e), 0);
        double g;
        assert_int_equal(hn_gram_norm2(A, &g, &e), 0);
        /* lambda_max of the Gram matrix to ~ n eps relative: sigma to half that */
        assert_close(g, gsl_vector_get(sv, 0), 1e-13, 0);
        gsl_matrix *B = gsl_matrix_alloc(n, m), *Bt = gsl_matrix_alloc(m, n);
        hn_test_fill_uniform(r, B->data, n * m, -1, 1);
        gsl_matrix_transpose_memcpy(Bt, B);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                /* op(A) op(X) with X = B or B^T so that the shapes chain */
                const gsl_matrix *X = ta == tb ? B : Bt;
                const size_t rows = ta ? n : m, inner = ta ? m : n, cols = ta ? n : m;
                gsl_matrix *C = hn_mat_mul(A, ta ? CblasTrans : CblasNoTrans, X,
                                           tb ? CblasTrans : CblasNoTrans);
                assert_non_null(C);
                assert_int_equal(C->size1, rows);
                assert_int_equal(C->size2, cols);
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < cols; j++) {
                        double s = 0;
                        for (size_t l = 0; l < inner; l++)
                            s += (ta ? gsl_matrix_get(A, l, i) : gsl_matrix_get(A, i, l)) *
                                 (tb ? gsl_matrix_get(X, j, l) : gsl_matrix_get(X, l, j));
                        /* another summation order: |d| <= inner eps sum |a||b| <= 40 * 40 eps */
                        assert_close(gsl_matrix_get(C, i, j), s, 0, 1e-13);
                    }
                gsl_matrix_free(C);
            }
        gsl_matrix_free(A); gsl_matrix_free(B); gsl_matrix_free(Bt);
        gsl_vector_free(sv);
    }
    /* discrepancies: exact on representable values */
    gsl_matrix *P = gsl_matrix_calloc(2, 2), *Q = gsl_matrix_calloc(2, 2), *W = gsl_matrix_calloc(2, 3);
    gsl_matrix_set(P, 0, 0, 4);
    gsl_matrix_set(Q, 0, 0, 3);
    assert_true(hn_mat_disc(P, Q) == 0.25);
    assert_true(hn_mat_disc(P, P) == 0);
    assert_true(isinf(hn_mat_disc(P, W)));
    const double a[3] = {1, -2, 8}, b[3] = {1, -2, 6};
    assert_true(hn_vec_disc(a, b, 3) == 0.25);
    /* the symmetric norm is the largest |eigenvalue|: diag(1, -3) */
    gsl_matrix_set(Q, 0, 0, 1);
    gsl_matrix_set(Q, 1, 1, -3);
    int rc;
    assert_close(hn_sym_norm(Q, &e, &rc), 3, 1e-15, 0);
    assert_int_equal(rc, 0);
    gsl_matrix_free(P); gsl_matrix_free(Q); gsl_matrix_free(W);
    gsl_rng_free(r);
}

/* The kernel decision of hn_blas_prepare: only a known lower class is
 * replaced, by the CPU's best; equal, better and unknown names are kept. */
static void test_blas_core_pick(void **state)
{
    (void)state;
    assert_string_equal(hn_blas_core_pick("Prescott", "SkylakeX"), "SkylakeX");
    assert_string_equal(hn_blas_core_pick("prescott", "Haswell"), "Haswell");
    assert_string_equal(hn_blas_core_pick("Sandybridge", "Haswell"), "Haswell");
    assert_string_equal(hn_blas_core_pick("Haswell", "SkylakeX"), "SkylakeX");
    assert_string_equal(hn_blas_core_pick("Zen", "SkylakeX"), "SkylakeX");
    assert_null(hn_blas_core_pick("Cooperlake", "SkylakeX"));
    assert_null(hn_blas_core_pick("SkylakeX", "SkylakeX"));
    assert_null(hn_blas_core_pick("Zen", "Haswell"));
    assert_null(hn_blas_core_pick("SapphireRapids", "Haswell"));
    assert_null(hn_blas_core_pick("FutureLake", "SkylakeX")); /* unknown: kept */
    assert_null(hn_blas_core_pick("Prescott", NULL));        /* no AVX2 + FMA */
    assert_null(hn_blas_core_pick("", "SkylakeX"));
    assert_null(hn_blas_core_pick(NULL, "SkylakeX"));
    hn_blas_info b;
    hn_blas_info_get(&b);
    char txt[1024];
    hn_blas_describe(&b, 12.5, txt, sizeof txt);
    assert_non_null(strstr(txt, "BLAS: "));
    assert_non_null(strstr(txt, "\nBLAS core: "));
    assert_non_null(strstr(txt, "\nDGEMM: 12.5 GFLOP/s (n = 384"));
    hn_blas_describe(&b, -1, txt, sizeof txt);
    assert_null(strstr(txt, "DGEMM"));
    assert_true(hn_blas_dgemm_gflops() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eig_lapack_vs_gsl), cmocka_unit_test(test_eig_closed_form),
        cmocka_unit_test(test_svd_two_ways),      cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_eig_small),         cmocka_unit_test(test_dense_helpers),
        cmocka_unit_test(test_blas_core_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
