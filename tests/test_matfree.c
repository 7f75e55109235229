/* hessnorm — the matrix-free per-sample quantities (matfree.h) against the
 * dense paper matrices (hn_paper_build: explicit T, Q, G, R, F, A, J) on
 * small networks of every family, and the certified conv-norm bounds
 * (convbound.h) against dense matrices built independently here. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include "hessnorm/convbound.h"
#include "hessnorm/layers.h"
#include "hessnorm/matfree.h"
#include "hessnorm/matrices.h"
#include "hessnorm/spectra.h"

/* ||M||_2 by the dense SVD route of spectra.h */
static double dnorm(const gsl_matrix *M)
{
    double n;
    hn_err e;
    assert_int_equal(hn_norm2(M, &n, &e), 0);
    return n;
}

/* Exact values (Gram forms, closed forms) to 1e-10 relative: the two routes
 * differ only in rounding (dense SVD/eig vs K x K eig of sums of products,
 * ~1e-14 relative at these sizes).  Lanczos values to 1e-8: rtol 1e-12 on
 * the residual bounds the eigenvalue error well below that.  Every bracket
 * contains the dense value up to the same rounding. */
static void check_one(const hn_model *m, const double *th, const hn_samples *s)
{
    hn_err e;
    hn_paper *pp;
    hn_mf_sample *r;
    assert_int_equal(hn_paper_build(m, th, s, 0, &pp, &e), 0);
    if (hn_mf_sample_compute(m, th, s, 0, 400, 1e-12, 7, &r, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(r->n_lin, pp->n_lin);
    assert_close(r->A_norm, dnorm(pp->A), 1e-10, 1e-300);
    assert_close(r->F_norm, dnorm(pp->F), 1e-10, 1e-300);
    assert_close(r->J_norm, dnorm(pp->J), 1e-10, 1e-300);
    for (size_t t = 0; t < r->n_lin; t++) {
        const hn_mf_layer *L = &r->layers[t];
        double T = dnorm(pp->T[t]), Q = dnorm(pp->Q[t]), G = dnorm(pp->G[t]), R = dnorm(pp->R[t]);
        assert_close(L->T_norm.value, T, 1e-8, 1e-300);
        assert_true(L->T_norm.lo <= T * (1 + 1e-10) && T <= L->T_norm.hi * (1 + 1e-10));
        assert_close(L->Q_norm, Q, 1e-10, 1e-300);
        assert_close(L->G_norm, G, 1e-10, 1e-300);
        assert_close(L->R_norm.value, R, 1e-8, 1e-300);
        assert_true(L->R_norm.lo <= R * (1 + 1e-10) && R <= L->R_norm.hi * (1 + 1e-10));
        assert_close(L->Rx_norm, gsl_blas_dnrm2(pp->Rx[t]), 1e-12, 1e-300);
        double fro = 0;
        for (size_t i = 0; i < pp->T[t]->size1 * pp->T[t]->size2; i++)
            fro += pp->T[t]->data[i] * pp->T[t]->data[i];
        assert_close(L->T_fro, sqrt(fro), 1e-12, 1e-300);
    }
    /* ||H_O|| against the dense Q^T F^T A F Q of the paper matrices */
    assert_close(r->HO_norm, dnorm(pp->HO), 1e-10, 1e-300);
    hn_mf_sample_free(r);
    hn_paper_free(pp);
}

static void test_matfree_vs_dense(void **state)
{
    (void)state;
    gsl_rng *g = hn_test_rng(31);
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++)
        for (int d = 0; d < 3; d++) {
            hn_model *m = hn_test_model(fam);
            double *th = calloc(m->n_params, sizeof *th);
            hn_samples *s;
            hn_err e;
            assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
            hn_test_draw(m, g, d == 2 ? 10.0 : 1.0, 1e-6, th, s);
            check_one(m, th, s);
            hn_samples_free(s);
            free(th);
            hn_model_free(m);
        }
    gsl_rng_free(g);
}

/* The circular correlation on the h x w grid as a dense matrix, built
 * here from its definition (rows (o, y, x), columns (c, y', x')). */
static gsl_matrix *circulant(hn_shape in, size_t co, size_t kh, size_t kw, const double *W)
{
    const size_t H = in.h, Wd = in.w, ci = in.c;
    gsl_matrix *C = gsl_matrix_calloc(co * H * Wd, ci * H * Wd);
    for (size_t o = 0; o < co; o++)
        for (size_t y = 0; y < H; y++)
            for (size_t x = 0; x < Wd; x++)
                for (size_t c = 0; c < ci; c++)
                    for (size_t a = 0; a < kh; a++)
                        for (size_t b = 0; b < kw; b++) {
                            size_t col = (c * H + (y + a) % H) * Wd + (x + b) % Wd;
                            double *e = gsl_matrix_ptr(C, (o * H + y) * Wd + x, col);
                            *e += W[((o * ci + c) * kh + a) * kw + b];
                        }
    return C;
}

/* The valid convolution as a dense matrix (the rows of the circulant whose
 * window does not wrap). */
static gsl_matrix *valid(hn_shape in, size_t co, size_t kh, size_t kw, const double *W)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, n = hn_shape_size(in);
    gsl_matrix *T = gsl_matrix_calloc(co * ho * wo, n);
    double *x = calloc(n, sizeof *x), *z = calloc(co * ho * wo, sizeof *z);
    for (size_t j = 0; j < n; j++) { /* column j = T e_j by the layer code */
        memset(x, 0, n * sizeof *x);
        x[j] = 1;
        hn_conv_forward(in, co, kh, kw, W, x, z);
        for (size_t i = 0; i < co * ho * wo; i++)
            gsl_matrix_set(T, i, j, z[i]);
    }
    free(x);
    free(z);
    return T;
}

static void test_conv_bounds(void **state)
{
    (void)state;
    gsl_rng *g = hn_test_rng(5);
    hn_err e;
    const struct { size_t ci, h, w, co, kh, kw; } cs[] = {
        {1, 5, 5, 1, 2, 2}, {2, 6, 4, 3, 3, 2}, {3, 1, 9, 2, 1, 3}, {2, 4, 4, 2, 4, 4}, {4, 1, 1, 3, 1, 1},
    };
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        hn_shape in = {cs[k].ci, cs[k].h, cs[k].w};
        size_t nw = cs[k].co * cs[k].ci * cs[k].kh * cs[k].kw;
        double *W = calloc(nw, sizeof *W);
        for (int pos = 0; pos < 2; pos++) {
            hn_test_fill_uniform(g, W, nw, pos ? 0.0 : -1.0, 1.0); /* signed, then all positive */
            gsl_matrix *C = circulant(in, cs[k].co, cs[k].kh, cs[k].kw, W);
            gsl_matrix *T = valid(in, cs[k].co, cs[k].kh, cs[k].kw, W);
            double circ, up;
            assert_int_equal(hn_conv_circulant_norm(in, cs[k].co, cs[k].kh, cs[k].kw, W, &circ, &e), 0);
            /* the DFT route equals the dense circulant's norm (rounding ~1e-14) */
            assert_close(circ, dnorm(C), 1e-10, 1e-300);
            double tn = dnorm(T);
            assert_int_equal(hn_conv_norm_upper(in, cs[k].co, cs[k].kh, cs[k].kw, W, &up, NULL, &e), 0);
            assert_true(tn <= up * (1 + 1e-12));
            assert_true(tn <= hn_conv_schur_bound(in, cs[k].co, cs[k].kh, cs[k].kw, W) * (1 + 1e-12));
            double fro = 0;
            for (size_t i = 0; i < T->size1 * T->size2; i++)
                fro += T->data[i] * T->data[i];
            assert_close(hn_conv_fro(in, cs[k].co, cs[k].kh, cs[k].kw, W), sqrt(fro), 1e-12, 1e-300);
            gsl_matrix_free(C);
            gsl_matrix_free(T);
        }
        free(W);
    }
    gsl_rng_free(g);
}

/* The real-size path: the paper's architecture on 28x28 (conv 3x3 x3 with 6
 * channels, ReLU, flatten, linear 10: P = 29,742) in seconds, without any
 * P x P or positions x parameters matrix; the K x K routes agree with each
 * other (||H_O|| <= ||A|| ||J||^2) and every bracket is ordered. */
static void test_matfree_real_size(void **state)
{
    (void)state;
    hn_err e;
    const size_t dims[3] = {1, 28, 28};
    hn_model *m;
    assert_int_equal(hn_model_new(3, dims, 10, HN_LOSS_CE, &m, &e), 0);
    for (int l = 0; l < 3; l++) {
        assert_int_equal(hn_model_add(m, HN_CONV2D, 6, 3, 3, &e), 0);
        assert_int_equal(hn_model_add(m, HN_RELU, 0, 0, 0, &e), 0);
    }
    assert_int_equal(hn_model_add(m, HN_FLATTEN, 0, 0, 0, &e), 0);
    assert_int_equal(hn_model_add(m, HN_LINEAR, 10, 1, 1, &e), 0);
    assert_int_equal(hn_model_finalize(m, &e), 0);
    assert_int_equal(m->n_params, 29742);
    double *th = calloc(m->n_params, sizeof *th);
    hn_samples *s;
    assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
    gsl_rng *g = hn_test_rng(9);
    hn_test_draw(m, g, 1.0, 0, th, s);
    hn_mf_sample *r;
    if (hn_mf_sample_compute(m, th, s, 0, 300, 1e-10, 7, &r, &e))
        fail_msg("%s", e.msg);
    assert_true(r->HO_norm <= r->A_norm * r->J_norm * r->J_norm * (1 + 1e-12));
    for (size_t t = 0; t < r->n_lin; t++) {
        const hn_mf_layer *L = &r->layers[t];
        assert_true(L->T_norm.lo <= L->T_norm.hi && L->R_norm.lo <= L->R_norm.hi);
        assert_true(L->T_norm.value <= L->T_fro * (1 + 1e-12));
    }
    /* ||F|| (K x K sum over layers) and ||J|| = ||F Q|| <= ||F|| max_p ||Q^(p)|| */
    double qmax = 0;
    for (size_t t = 0; t < r->n_lin; t++)
        qmax = fmax(qmax, r->layers[t].Q_norm);
    assert_true(r->J_norm <= r->F_norm * qmax * (1 + 1e-12));
    hn_mf_sample_free(r);
    hn_samples_free(s);
    free(th);
    hn_model_free(m);
    gsl_rng_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_bounds),
        cmocka_unit_test(test_matfree_vs_dense),
        cmocka_unit_test(test_matfree_real_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
