/* hessnorm — the batched GEMM kernels (fastconv.h) against the per-sample
 * reference loops (layers.h), and the fast spectral routes (hessian.h)
 * against dense eigendecompositions: two routes to every number. */
#include "testutil.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KINK 1e-3

static int quick(void) { return getenv("HN_TEST_QUICK") != NULL; }
/* Two threads, or one under valgrind: libgomp's pool threads outlive
 * main() and their thread-local storage would count as possibly lost. */
static int two(void) { return quick() ? 1 : 2; }
/* Net step of the dense-reference loops: every third net under valgrind. */
static int net_step(void) { return quick() ? 3 : 1; }

static double maxabs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static double maxdiff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* |a - b| <= rtol * max|b| (normwise, max-norm), with both printed. */
static void vec_rel(const double *a, const double *b, size_t n, double rtol, const char *what)
{
    const double d = maxdiff(a, b, n), s = maxabs(b, n);
    if (!(d <= rtol * s)) {
        print_error("%s: max diff %.3e, max |ref| %.3e, rtol %.1e\n", what, d, s, rtol);
        fail();
    }
}

/* Elementwise |a - b| <= tol * scale (scale >= 0 elementwise). */
static void vec_scaled(const double *a, const double *b, const double *scale, size_t n, double tol,
                       const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= tol * scale[i])) {
            print_error("%s[%zu]: %.17g vs %.17g, scale %.3e, tol %.1e\n", what, i, a[i], b[i],
                        scale[i], tol);
            fail();
        }
}

static double *dup_abs(const double *a, size_t n)
{
    double *b = malloc((n ? n : 1) * sizeof *b);
    for (size_t i = 0; i < n; i++)
        b[i] = fabs(a[i]);
    return b;
}

/* ------------------------------------------------------------ primitives */

/* Random shapes (kernels 1..5, channels 1..8, batch 1..17, 1-D and 2-D):
 * batched im2col + DGEMM forward, backward-data and backward-weights
 * against the per-sample loops. */
static void test_conv_batch_vs_loops(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(501);
    const int trials = quick() ? 40 : 400;
    for (int t = 0; t < trials; t++) {
        const int one_d = t % 3 == 0;
        const size_t kh = one_d ? 1 : 1 + gsl_rng_uniform_int(r, 5);
        const size_t kw = 1 + gsl_rng_uniform_int(r, 5);
        hn_shape in = {1 + gsl_rng_uniform_int(r, 8), one_d ? 1 : kh + gsl_rng_uniform_int(r, 12),
                       kw + gsl_rng_uniform_int(r, one_d ? 30 : 12)};
        const size_t co = 1 + gsl_rng_uniform_int(r, 8), B = 1 + gsl_rng_uniform_int(r, 17);
        const size_t ho = in.h - kh + 1, wo = in.w - kw + 1;
        const size_t nin = hn_shape_size(in), nout = co * ho * wo, nw = co * in.c * kh * kw;
        hn_shape os = {co, ho, wo};
        double *x = malloc(B * nin * sizeof *x), *dz = malloc(B * nout * sizeof *dz);
        double *W = malloc(nw * sizeof *W), *xb = malloc(B * nin * sizeof *xb);
        double *dzb = malloc(B * nout * sizeof *dzb), *zb = malloc(B * nout * sizeof *zb);
        double *z = malloc(B * nout * sizeof *z), *zr = malloc(B * nout * sizeof *zr);
        double *dx = malloc(B * nin * sizeof *dx), *dxr = malloc(B * nin * sizeof *dxr);
        double *dxb = malloc(B * nin * sizeof *dxb), *sc = malloc(B * (nin + nout) * sizeof *sc);
        double *dW = calloc(nw, sizeof *dW), *dWr = calloc(nw, sizeof *dWr), *dWs = calloc(nw, sizeof *dWs);
        size_t ncol = hn_conv_col_size(in, B, kh, kw);
        double *col = malloc((ncol ? ncol : 1) * sizeof *col);
        hn_test_fill_uniform(r, x, B * nin, -1, 1);
        hn_test_fill_uniform(r, dz, B * nout, -1, 1);
        hn_test_fill_uniform(r, W, nw, -1, 1);
        double *ax = dup_abs(x, B * nin), *adz = dup_abs(dz, B * nout), *aW = dup_abs(W, nw);
        hn_nchw_to_cnhw(in, B, x, xb);
        hn_nchw_to_cnhw(os, B, dz, dzb);

        /* each output is a sum of n products (n = ci*kh*kw for the forward,
         * <= co*kh*kw for backward-data, B*ho*wo for the weights); each
         * route's rounding is <= n*u*(|W|*|x|) (Higham's gamma_n), so the
         * two differ by <= 2 n u times the same product of absolute values */
        hn_conv_forward_batch(in, B, co, kh, kw, W, xb, col, zb);
        hn_cnhw_to_nchw(os, B, zb, z);
        for (size_t n = 0; n < B; n++) {
            hn_conv_forward(in, co, kh, kw, W, x + n * nin, zr + n * nout);
            hn_conv_forward(in, co, kh, kw, aW, ax + n * nin, sc + n * nout);
        }
        vec_scaled(z, zr, sc, B * nout, 2.0 * (double)(in.c * kh * kw) * DBL_EPSILON, "forward");
        /* the yardstick, normwise: 1e-13 of the largest entry */
        vec_rel(z, zr, B * nout, 1e-13, "forward (normwise)");

        hn_conv_backward_data_batch(in, B, co, kh, kw, W, dzb, col, dxb);
        hn_cnhw_to_nchw(in, B, dxb, dx);
        for (size_t n = 0; n < B; n++) {
            hn_conv_backward_data(in, co, kh, kw, W, dz + n * nout, dxr + n * nin);
            hn_conv_backward_data(in, co, kh, kw, aW, adz + n * nout, sc + n * nin);
        }
        vec_scaled(dx, dxr, sc, B * nin, 2.0 * (double)(co * kh * kw) * DBL_EPSILON, "backward data");
        vec_rel(dx, dxr, B * nin, 1e-13, "backward data (normwise)"); /* same yardstick */

        hn_conv_backward_weights_batch(in, B, co, kh, kw, xb, dzb, col, dW);
        for (size_t n = 0; n < B; n++) {
            hn_conv_backward_weights(in, co, kh, kw, x + n * nin, dz + n * nout, dWr);
            hn_conv_backward_weights(in, co, kh, kw, ax + n * nin, adz + n * nout, dWs);
        }
        vec_scaled(dW, dWr, dWs, nw, 2.0 * (double)(B * ho * wo + B) * DBL_EPSILON, "backward weights");
        vec_rel(dW, dWr, nw, 1e-13, "backward weights (normwise)"); /* same yardstick */

        free(x); free(dz); free(W); free(xb); free(dzb); free(zb); free(z); free(zr);
        free(dx); free(dxr); free(dxb); free(sc); free(dW); free(dWr); free(dWs); free(col);
        free(ax); free(adz); free(aW);
    }
    gsl_rng_free(r);
}

/* col2im is the exact adjoint of im2col: <im2col x, c> = <x, col2im c>. */
static void test_im2col_adjoint(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(502);
    for (int t = 0; t < 50; t++) {
        const size_t kh = 1 + gsl_rng_uniform_int(r, 4), kw = 1 + gsl_rng_uniform_int(r, 4);
        hn_shape in = {1 + gsl_rng_uniform_int(r, 4), kh + gsl_rng_uniform_int(r, 6),
                       kw + gsl_rng_uniform_int(r, 6)};
        const size_t B = 1 + gsl_rng_uniform_int(r, 5), nx = B * hn_shape_size(in);
        const size_t nc = in.c * kh * kw * B * (in.h - kh + 1) * (in.w - kw + 1);
        double *x = malloc(nx * sizeof *x), *y = malloc(nx * sizeof *y);
        double *c = malloc(nc * sizeof *c), *cx = malloc(nc * sizeof *cx);
        hn_test_fill_uniform(r, x, nx, -1, 1);
        hn_test_fill_uniform(r, c, nc, -1, 1);
        hn_im2col(in, B, kh, kw, x, cx);
        hn_col2im(in, B, kh, kw, c, y);
        double a = 0, b = 0;
        for (size_t i = 0; i < nc; i++)
            a += cx[i] * c[i];
        for (size_t i = 0; i < nx; i++)
            b += x[i] * y[i];
        /* both sides are sums of nc O(1) products in different orders */
        assert_close(a, b, 1e-12, 1e-12 * (double)nc);
        free(x); free(y); free(c); free(cx);
    }
    gsl_rng_free(r);
}

/* ------------------------------------------------------------ networks */

/* The test families plus two section-VI CNNs (max and average pooling). */
#define N_NETS (HN_TEST_FAMILIES + 2)

static hn_model *net(int k)
{
    if (k < HN_TEST_FAMILIES)
        return hn_test_model(k);
    hn_arch a = {3, 3, 4, k == HN_TEST_FAMILIES ? HN_POOL_MAX : HN_POOL_AVG, 1};
    hn_model *m;
    hn_err e;
    if (hn_arch_model(&a, 2, 12, 11, 5, &m, &e) != 0)
        abort();
    return m;
}

typedef struct {
    hn_model *m;
    hn_samples *s;
    double *th;
    size_t P, K;
} fixture;

static void fx_make(fixture *f, int k, size_t n, gsl_rng *r)
{
    hn_err e;
    f->m = net(k);
    f->P = f->m->n_params;
    f->K = f->m->classes;
    assert_int_equal(hn_samples_alloc(f->m, n, &f->s, &e), 0);
    f->th = calloc(f->P, sizeof *f->th);
    hn_test_draw(f->m, r, 1.5, KINK, f->th, f->s);
}

static void fx_free(fixture *f)
{
    free(f->th);
    hn_samples_free(f->s);
    hn_model_free(f->m);
}

/* Random item list with repeats (n items out of s). */
static size_t *draw_idx(gsl_rng *r, size_t n, size_t ns)
{
    size_t *idx = malloc(n * sizeof *idx);
    for (size_t t = 0; t < n; t++)
        idx[t] = gsl_rng_uniform_int(r, ns);
    return idx;
}

/* Mean loss and gradient, per-sample losses, logits and predictions. */
static void test_network_grad_losses(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(503);
    hn_err e;
    for (int k = 0; k < N_NETS; k++)
        for (int rep = 0; rep < (quick() ? 1 : 3); rep++) {
            fixture f;
            fx_make(&f, k, 23, r);
            const size_t n = 1 + gsl_rng_uniform_int(r, 17), P = f.P, K = f.K;
            size_t *idx = draw_idx(r, n, f.s->n);
            hn_fast *fa;
            assert_int_equal(hn_fast_alloc(f.m, 1, 0, &fa, &e), 0);
            double *g = calloc(P, sizeof *g), *gr = calloc(P, sizeof *gr), loss, lr = 0;
            assert_int_equal(hn_batch_forward_backward(f.m, f.th, f.s, idx, n, fa, &loss, g, &e), 0);
            hn_ws *ws;
            assert_int_equal(hn_ws_alloc(f.m, &ws, &e), 0);
            double *lo = calloc(n, sizeof *lo), *lg = calloc(n * K, sizeof *lg);
            double *lgr = calloc(n * K, sizeof *lgr);
            long *pr = calloc(n, sizeof *pr);
            for (size_t t = 0; t < n; t++) {
                double l;
                hn_loss_grad(f.m, f.th, f.s, idx[t], ws, 1.0 / (double)n, &l, gr);
                lr += l / (double)n;
                hn_forward(f.m, f.th, f.s->x + idx[t] * f.s->in_size, ws, lgr + t * K);
            }
            /* the same sums of O(1) terms in another order (GEMM blocking,
             * samples summed before scaling): rounding ~1e-15 relative */
            assert_close(loss, lr, 1e-13, 0);
            vec_rel(g, gr, P, 1e-12, "mean gradient"); /* gradient entries cancel: 1e-12 of the max */
            assert_int_equal(hn_batch_losses(f.m, f.th, f.s, idx, n, fa, lo, lg, pr, &e), 0);
            vec_rel(lg, lgr, n * K, 1e-13, "logits"); /* GEMM vs loop sums of O(1) products */
            for (size_t t = 0; t < n; t++) {
                double l = hn_loss_eval(f.m->loss, K, lgr + t * K,
                                        f.s->y_class ? f.s->y_class[idx[t]] : 0,
                                        f.s->y_vec ? f.s->y_vec + idx[t] * K : NULL, NULL, NULL);
                assert_close(lo[t], l, 1e-12, 1e-14); /* loss from logits equal to 1e-13 */
                size_t best = 0;
                for (size_t c = 1; c < K; c++)
                    if (lg[t * K + c] > lg[t * K + best])
                        best = c;
                assert_int_equal(pr[t], (long)best);
            }
            free(lo); free(lg); free(lgr); free(pr); free(g); free(gr); free(idx);
            hn_ws_free(ws);
            hn_fast_free(fa);
            fx_free(&f);
        }
    gsl_rng_free(r);
}

static void dense_ho_top(const hn_model *m, const double *th, const hn_samples *s, size_t i,
                         double *top);

/* A lone linear layer: the head is the whole network (no body slots). */
static void test_single_linear(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(512);
    hn_err e;
    size_t d[] = {7};
    hn_model *m;
    assert_int_equal(hn_model_new(1, d, 4, HN_LOSS_CE, &m, &e), 0);
    assert_int_equal(hn_model_add(m, HN_LINEAR, 4, 1, 1, &e), 0);
    assert_int_equal(hn_model_finalize(m, &e), 0);
    hn_samples *s;
    assert_int_equal(hn_samples_alloc(m, 70, &s, &e), 0);
    double th[28], g[28], gr[28], l, lr;
    hn_test_draw(m, r, 1.0, 0.0, th, s);
    hn_fast *fa;
    assert_int_equal(hn_fast_alloc(m, two(), 0, &fa, &e), 0);
    assert_int_equal(hn_batch_forward_backward(m, th, s, NULL, 70, fa, &l, g, &e), 0);
    assert_int_equal(hn_batch_loss_grad(m, th, s, &lr, gr, &e), 0);
    assert_close(l, lr, 1e-13, 0);            /* sums of 70 O(1) terms, reordered */
    vec_rel(g, gr, 28, 1e-12, "gradient"); /* the same */
    double ev[70 * 4], top[4];
    assert_int_equal(hn_batch_ho_eigs(m, th, s, NULL, 3, fa, ev, &e), 0);
    for (size_t i = 0; i < 3; i++) {
        dense_ho_top(m, th, s, i, top);
        for (size_t c = 0; c < 4; c++) /* dense 28 x 28 dsyevd vs the K x K route: ~P u */
            assert_close(ev[i * 4 + c], top[c], 0, 1e-12 * top[0]); /* see the loop comment */
    }
    hn_fast_free(fa);
    hn_samples_free(s);
    hn_model_free(m);
    gsl_rng_free(r);
}

/* Batched Jacobians (K reverse passes as one pass) against hn_jacobian. */
static void test_network_jacobian(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(504);
    hn_err e;
    for (int k = 0; k < N_NETS; k += net_step()) {
        fixture f;
        fx_make(&f, k, 11, r);
        const size_t n = 1 + gsl_rng_uniform_int(r, 9), P = f.P, K = f.K;
        size_t *idx = draw_idx(r, n, f.s->n);
        hn_fast *fa;
        assert_int_equal(hn_fast_alloc(f.m, 1, 0, &fa, &e), 0);
        double *J = calloc(n * K * P, sizeof *J), *Jr = calloc(K * P, sizeof *Jr);
        double *z = calloc(n * K, sizeof *z), *zr = calloc(K, sizeof *zr);
        assert_int_equal(hn_batch_jacobian(f.m, f.th, f.s, idx, n, fa, J, z, &e), 0);
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(f.m, &ws, &e), 0);
        for (size_t t = 0; t < n; t++) {
            hn_jacobian(f.m, f.th, f.s->x + idx[t] * f.s->in_size, ws, Jr, zr);
            /* sums of O(1) products in GEMM order vs loop order */
            vec_rel(J + t * K * P, Jr, K * P, 1e-13, "Jacobian");
            vec_rel(z + t * K, zr, K, 1e-13, "logits"); /* as the Jacobian */
        }
        hn_ws_free(ws);
        free(J); free(Jr); free(z); free(zr); free(idx);
        hn_fast_free(fa);
        fx_free(&f);
    }
    gsl_rng_free(r);
}

/* Top-K eigenvalues of the dense P x P H_O of one sample. */
static void dense_ho_top(const hn_model *m, const double *th, const hn_samples *s, size_t i,
                         double *top)
{
    hn_err e;
    const size_t P = m->n_params, K = m->classes;
    hn_samples *one;
    assert_int_equal(hn_samples_alloc(m, 1, &one, &e), 0);
    memcpy(one->x, s->x + i * s->in_size, s->in_size * sizeof(double));
    if (s->y_class)
        one->y_class[0] = s->y_class[i];
    if (s->y_vec)
        memcpy(one->y_vec, s->y_vec + i * K, K * sizeof(double));
    gsl_matrix *HO = gsl_matrix_alloc(P, P);
    gsl_vector *ev = gsl_vector_alloc(P);
    assert_int_equal(hn_hessian_outer(m, th, one, HO, &e), 0);
    assert_int_equal(hn_eig_sym_lapack(HO, ev, NULL, &e), 0);
    for (size_t k = 0; k < K; k++)
        top[k] = k < P ? gsl_vector_get(ev, P - 1 - k) : 0.0;
    gsl_matrix_free(HO);
    gsl_vector_free(ev);
    hn_samples_free(one);
}

/* Per-sample H_O spectra from the K x K Gram route against the dense
 * P x P eigendecomposition, and ||H_O|| against hn_ho_analysis (the
 * experiment module's A^{1/2} G A^{1/2} route). */
static void test_ho_eigs(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(505);
    hn_err e;
    for (int k = 0; k < N_NETS; k += net_step()) {
        fixture f;
        fx_make(&f, k, 7, r);
        const size_t n = f.s->n, K = f.K;
        hn_fast *fa;
        assert_int_equal(hn_fast_alloc(f.m, 1, 0, &fa, &e), 0);
        double *ev = calloc(n * K, sizeof *ev), top[64], *hn = calloc(n, sizeof *hn);
        assert_int_equal(hn_batch_ho_eigs(f.m, f.th, f.s, NULL, n, fa, ev, &e), 0);
        size_t *order = malloc(n * sizeof *order);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        hn_ho_opts o;
        hn_ho_opts_default(&o);
        o.threads = 1;
        assert_int_equal(hn_ho_analysis(f.m, f.th, f.s, order, n, NULL, NULL, 0, &o, hn, NULL, &e), 0);
        for (size_t i = 0; i < n; i++) {
            dense_ho_top(f.m, f.th, f.s, i, top);
            const size_t nk = K < f.P ? K : f.P;
            /* dense dsyevd on P x P: eigenvalue errors ~P u ||H_O||; the
             * Gram route ~K u ||H_O|| */
            for (size_t c = 0; c < nk; c++)
                assert_close(ev[i * K + c], top[c], 0, 1e-11 * fmax(top[0], 1e-300));
            /* two K x K routes (C G C^T vs A^{1/2} G A^{1/2}): ~K u */
            assert_close(ev[i * K], hn[i], 1e-12, 1e-300);
        }
        free(ev); free(hn); free(order);
        hn_fast_free(fa);
        fx_free(&f);
    }
    gsl_rng_free(r);
}

/* The mean H_O's Gram (hn_batch_ho_mean_eigs): its per-item spectra from
 * the diagonal blocks against hn_batch_ho_eigs (each item's own K x K
 * form), the trace of the mean against the mean of the traces, and its
 * rows B against the Gauss-Newton operator: (1/n) B^T B v = mean H_O v. */
static void test_ho_mean_gram(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(507);
    hn_err e;
    for (int k = 0; k < N_NETS; k += net_step()) {
        fixture f;
        fx_make(&f, k, 5, r);
        const size_t n = f.s->n, K = f.K, P = f.P, nK = n * K;
        hn_fast *fa;
        assert_int_equal(hn_fast_alloc(f.m, 1, 0, &fa, &e), 0);
        double *ev = calloc(nK, sizeof *ev), *se = calloc(nK, sizeof *se), *own = calloc(nK, sizeof *own);
        double *B = NULL, *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv), *bv = calloc(nK, sizeof *bv);
        assert_int_equal(hn_batch_ho_mean_eigs(f.m, f.th, f.s, NULL, n, fa, ev, se, &B, &e), 0);
        assert_non_null(B);
        assert_int_equal(hn_batch_ho_eigs(f.m, f.th, f.s, NULL, n, fa, own, &e), 0);
        double tr_mean = 0, tr_items = 0;
        for (size_t i = 0; i < n; i++) {
            /* the same K x K matrix C J J^T C^T by two products (one DSYRK
             * over n K rows, one over K): eigenvalues to ~K u ||H_O,i|| */
            for (size_t c = 0; c < K; c++) {
                assert_close(se[i * K + c], own[i * K + c], 0, 1e-12 * fmax(own[i * K], 1e-300));
                tr_items += own[i * K + c];
            }
        }
        for (size_t c = 0; c < nK; c++)
            tr_mean += ev[c];
        /* trace mean H_O = mean of the traces: sums of ~n K terms, ~n K u */
        assert_close(tr_mean, tr_items / (double)n, 1e-11, 1e-300);
        hn_hvp_op *op;
        assert_int_equal(hn_hvp_op_alloc(f.m, f.th, f.s, NULL, n, NULL, 1, 1, &op, &e), 0);
        for (size_t j = 0; j < P; j++)
            v[j] = gsl_rng_uniform(r) - 0.5;
        assert_int_equal(hn_hvp_op_apply(op, v, hv, &e), 0);
        double nrm = 0;
        for (size_t j = 0; j < P; j++)
            nrm = fmax(nrm, fabs(hv[j]));
        for (size_t t = 0; t < nK; t++)
            for (size_t j = 0; j < P; j++)
                bv[t] += B[t * P + j] * v[j];
        for (size_t j = 0; j < P; j++) {
            double y = 0;
            for (size_t t = 0; t < nK; t++)
                y += B[t * P + j] * bv[t];
            /* forward-over-reverse vs explicit rows: ~P u of the largest entry */
            assert_close(y / (double)n, hv[j], 0, 1e-11 * fmax(nrm, 1e-300));
        }
        hn_hvp_op_free(op);
        hn_free(B);
        free(ev); free(se); free(own); free(v); free(hv); free(bv);
        hn_fast_free(fa);
        fx_free(&f);
    }
    gsl_rng_free(r);
}

/* Batched HVPs (several directions, weighted items) against hn_hvp, and
 * Gauss-Newton products against J^T A J v from hn_jacobian. */
static void test_hvp_gnvp(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(506);
    hn_err e;
    for (int k = 0; k < N_NETS; k += net_step()) {
        fixture f;
        fx_make(&f, k, 13, r);
        const size_t n = 1 + gsl_rng_uniform_int(r, 13), P = f.P, K = f.K;
        const size_t nd = 1 + gsl_rng_uniform_int(r, 5);
        size_t *idx = draw_idx(r, n, f.s->n);
        double *w = malloc(n * sizeof *w), *V = malloc(nd * P * sizeof *V);
        hn_test_fill_uniform(r, w, n, -1, 1);
        hn_test_fill_uniform(r, V, nd * P, -1, 1);
        hn_fast *fa;
        assert_int_equal(hn_fast_alloc(f.m, 1, 2, &fa, &e), 0); /* grows to nd on demand */
        double *HV = calloc(nd * P, sizeof *HV), *HVr = calloc(nd * P, sizeof *HVr);
        double *GV = calloc(nd * P, sizeof *GV), *GVr = calloc(nd * P, sizeof *GVr);
        assert_int_equal(hn_batch_hvp(f.m, f.th, f.s, idx, n, w, fa, V, nd, HV, &e), 0);
        assert_int_equal(hn_batch_gnvp(f.m, f.th, f.s, idx, n, w, fa, V, nd, GV, &e), 0);
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(f.m, &ws, &e), 0);
        double *J = calloc(K * P, sizeof *J), *z = calloc(K, sizeof *z), *p = calloc(K, sizeof *p);
        double u[64], Au[64];
        for (size_t t = 0; t < n; t++) {
            const size_t i = idx[t];
            hn_jacobian(f.m, f.th, f.s->x + i * f.s->in_size, ws, J, z);
            hn_loss_eval(f.m->loss, K, z, f.s->y_class ? f.s->y_class[i] : 0,
                         f.s->y_vec ? f.s->y_vec + i * K : NULL, NULL, p);
            for (size_t j = 0; j < nd; j++) {
                hn_hvp(f.m, f.th, f.s, i, ws, V + j * P, w[t], HVr + j * P);
                for (size_t a = 0; a < K; a++) {
                    u[a] = 0;
                    for (size_t q = 0; q < P; q++)
                        u[a] += J[a * P + q] * V[j * P + q];
                }
                hn_loss_hess_apply(f.m->loss, K, p, u, Au);
                for (size_t q = 0; q < P; q++)
                    for (size_t a = 0; a < K; a++)
                        GVr[j * P + q] += w[t] * J[a * P + q] * Au[a];
            }
        }
        /* the same exact products summed in other orders; the weights of
         * mixed sign allow cancellation of a few digits: 1e-11 of the max */
        for (size_t j = 0; j < nd; j++) {
            vec_rel(HV + j * P, HVr + j * P, P, 1e-11, "HVP");
            vec_rel(GV + j * P, GVr + j * P, P, 1e-11, "Gauss-Newton product");
        }
        /* the cached operator gives the very same bits as the one-shot
         * products (same arithmetic, forward state reused) */
        for (int outer = 0; outer < 2; outer++) {
            hn_hvp_op *op;
            assert_int_equal(hn_hvp_op_alloc(f.m, f.th, f.s, idx, n, w, outer, two(), &op, &e), 0);
            assert_int_equal(hn_hvp_op_dim(op), P);
            for (size_t j = 0; j < nd; j++) {
                double *a = calloc(P, sizeof *a), *b = calloc(P, sizeof *b);
                assert_int_equal(hn_hvp_op_apply(op, V + j * P, a, &e), 0);
                if (outer)
                    assert_int_equal(hn_batch_gnvp(f.m, f.th, f.s, idx, n, w, fa, V + j * P, 1, b, &e), 0);
                else
                    assert_int_equal(hn_batch_hvp(f.m, f.th, f.s, idx, n, w, fa, V + j * P, 1, b, &e), 0);
                assert_memory_equal(a, b, P * sizeof *a);
                free(a);
                free(b);
            }
            hn_hvp_op_free(op);
        }
        /* weights NULL = the mean */
        for (size_t t = 0; t < n; t++)
            w[t] = 1.0 / (double)n;
        assert_int_equal(hn_batch_hvp(f.m, f.th, f.s, idx, n, w, fa, V, nd, HVr, &e), 0);
        assert_int_equal(hn_batch_hvp(f.m, f.th, f.s, idx, n, NULL, fa, V, nd, HV, &e), 0);
        assert_memory_equal(HV, HVr, nd * P * sizeof *HV); /* identical arithmetic */
        hn_ws_free(ws);
        free(J); free(z); free(p); free(HV); free(HVr); free(GV); free(GVr); free(w); free(V);
        free(idx);
        hn_fast_free(fa);
        fx_free(&f);
    }
    gsl_rng_free(r);
}

/* Results are bit-identical for 1 and 2 threads (fixed chunks, reduction
 * in chunk order), over several reduction rounds. */
static void test_threads_identical(void **state)
{
    (void)state;
    if (quick())
        skip(); /* needs a second thread: see two() */
    gsl_rng *r = hn_test_rng(507);
    hn_err e;
    fixture f;
    fx_make(&f, HN_TEST_FAMILIES, 150, r); /* > 16 chunks of 4: several rounds */
    const size_t n = f.s->n, P = f.P, K = f.K;
    double *g[2], *hv[2], *ev[2], *lo[2], l[2];
    double *V = malloc(3 * P * sizeof *V);
    hn_test_fill_uniform(r, V, 3 * P, -1, 1);
    for (int t = 0; t < 2; t++) {
        hn_fast *fa;
        assert_int_equal(hn_fast_alloc(f.m, t + 1, 3, &fa, &e), 0);
        g[t] = calloc(P, sizeof(double));
        hv[t] = calloc(3 * P, sizeof(double));
        ev[t] = calloc(n * K, sizeof(double));
        lo[t] = calloc(n, sizeof(double));
        assert_int_equal(hn_batch_forward_backward(f.m, f.th, f.s, NULL, n, fa, &l[t], g[t], &e), 0);
        assert_int_equal(hn_batch_hvp(f.m, f.th, f.s, NULL, n, NULL, fa, V, 3, hv[t], &e), 0);
        assert_int_equal(hn_batch_ho_eigs(f.m, f.th, f.s, NULL, n, fa, ev[t], &e), 0);
        assert_int_equal(hn_batch_losses(f.m, f.th, f.s, NULL, n, fa, lo[t], NULL, NULL, &e), 0);
        hn_fast_free(fa);
    }
    assert_memory_equal(&l[0], &l[1], sizeof l[0]);
    assert_memory_equal(g[0], g[1], P * sizeof(double));
    assert_memory_equal(hv[0], hv[1], 3 * P * sizeof(double));
    assert_memory_equal(ev[0], ev[1], n * K * sizeof(double));
    assert_memory_equal(lo[0], lo[1], n * sizeof(double));
    /* and the Lanczos of the mean Hessian */
    hn_lanczos_result a, b;
    assert_int_equal(hn_mean_op_extreme(f.m, f.th, f.s, NULL, 40, HN_OP_MEAN_H, 60, 1e-8, 3, 1, &a, &e), 0);
    assert_int_equal(hn_mean_op_extreme(f.m, f.th, f.s, NULL, 40, HN_OP_MEAN_H, 60, 1e-8, 3, 2, &b, &e), 0);
    assert_memory_equal(&a.lambda_max, &b.lambda_max, sizeof a.lambda_max);
    assert_memory_equal(&a.lambda_min, &b.lambda_min, sizeof a.lambda_min);
    for (int t = 0; t < 2; t++) {
        free(g[t]); free(hv[t]); free(ev[t]); free(lo[t]);
    }
    free(V);
    fx_free(&f);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------ spectra */

/* Dense H of samples idx[0..n-1] weighted by w: sum_t w_t H_t. */
static void dense_weighted(const fixture *f, const size_t *idx, size_t n, const double *w,
                           int outer, gsl_matrix *H)
{
    hn_err e;
    const size_t P = f->P, K = f->K;
    gsl_matrix *Hi = gsl_matrix_alloc(P, P);
    hn_samples *one;
    assert_int_equal(hn_samples_alloc(f->m, 1, &one, &e), 0);
    gsl_matrix_set_zero(H);
    for (size_t t = 0; t < n; t++) {
        const size_t i = idx ? idx[t] : t;
        memcpy(one->x, f->s->x + i * f->s->in_size, f->s->in_size * sizeof(double));
        if (f->s->y_class)
            one->y_class[0] = f->s->y_class[i];
        if (f->s->y_vec)
            memcpy(one->y_vec, f->s->y_vec + i * K, K * sizeof(double));
        if (outer)
            assert_int_equal(hn_hessian_outer(f->m, f->th, one, Hi, &e), 0);
        else
            assert_int_equal(hn_hessian_full(f->m, f->th, one, Hi, &e), 0);
        gsl_matrix_scale(Hi, w[t]);
        gsl_matrix_add(H, Hi);
    }
    gsl_matrix_free(Hi);
    hn_samples_free(one);
}

/* Extreme eigenvalues of mean H_O, mean H and the indefinite differences
 * by Lanczos on exact products, against dense dsyevd. */
static void test_lanczos_vs_dense(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(508);
    hn_err e;
    for (int k = 0; k < N_NETS; k += net_step()) {
        fixture f;
        fx_make(&f, k, 6, r);
        const size_t n = f.s->n, P = f.P;
        gsl_matrix *H = gsl_matrix_alloc(P, P);
        gsl_vector *ev = gsl_vector_alloc(P);
        double *w = malloc(n * sizeof *w);
        for (int op = HN_OP_MEAN_HO; op <= HN_OP_DIFF_H; op++) {
            const int diff = op == HN_OP_DIFF_H || op == HN_OP_DIFF_HO;
            const int outer = op == HN_OP_MEAN_HO || op == HN_OP_DIFF_HO;
            for (size_t t = 0; t < n; t++)
                w[t] = diff ? (t + 1 == n ? 1.0 : -1.0 / (double)(n - 1)) : 1.0 / (double)n;
            dense_weighted(&f, NULL, n, w, outer, H);
            assert_int_equal(hn_eig_sym_lapack(H, ev, NULL, &e), 0);
            const double lmin = gsl_vector_get(ev, 0), lmax = gsl_vector_get(ev, P - 1);
            const double nrm = fmax(fabs(lmin), fabs(lmax));
            hn_lanczos_result lz;
            assert_int_equal(hn_mean_op_extreme(f.m, f.th, f.s, NULL, n, (hn_mean_op)op, P, 1e-10,
                                                7, 1, &lz, &e), 0);
            assert_true(lz.converged);
            /* Lanczos residual <= 1e-10 ||M|| bounds the Ritz error; the
             * dense route errs by ~P u ||M||: agreement to 1e-8 relative */
            assert_close(lz.lambda_max, lmax, 0, 1e-8 * nrm);
            assert_close(lz.lambda_min, lmin, 0, 1e-8 * nrm);
        }
        free(w);
        gsl_matrix_free(H);
        gsl_vector_free(ev);
        fx_free(&f);
    }
    gsl_rng_free(r);
}

/* The dense H from blocks of batched HVPs equals hn_hessian_full, and its
 * dsyevd eigenvalues equal those of the reference matrix. */
static void test_dense_hessian(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(509);
    hn_err e;
    for (int k = 0; k < N_NETS; k += net_step()) {
        fixture f;
        fx_make(&f, k, 5, r);
        const size_t P = f.P;
        gsl_matrix *H = gsl_matrix_alloc(P, P), *Hr = gsl_matrix_alloc(P, P);
        gsl_vector *ev = gsl_vector_alloc(P), *evr = gsl_vector_alloc(P);
        assert_int_equal(hn_hessian_dense(f.m, f.th, f.s, two(), H, &e), 0);
        assert_int_equal(hn_hessian_full(f.m, f.th, f.s, Hr, &e), 0);
        /* exact products summed in other orders: rounding ~1e-15 of the max */
        assert_mat_close(H, Hr, 1e-12);
        assert_int_equal(hn_hessian_eigvals(f.m, f.th, f.s, 1, ev, &e), 0);
        assert_int_equal(hn_eig_sym_lapack(Hr, evr, NULL, &e), 0);
        const double nrm = fmax(fabs(gsl_vector_get(evr, 0)), fabs(gsl_vector_get(evr, P - 1)));
        for (size_t i = 0; i < P; i++) /* Weyl: |dlambda| <= ||dH|| ~ 1e-14 ||H|| */
            assert_close(gsl_vector_get(ev, i), gsl_vector_get(evr, i), 0, 1e-11 * nrm);
        gsl_matrix_free(H);
        gsl_matrix_free(Hr);
        gsl_vector_free(ev);
        gsl_vector_free(evr);
        fx_free(&f);
    }
    /* a non-contiguous view is filled through a copy */
    fixture f;
    fx_make(&f, 3, 3, r);
    gsl_matrix *big = gsl_matrix_calloc(f.P + 3, f.P + 5), *Hr = gsl_matrix_alloc(f.P, f.P);
    gsl_matrix_view v = gsl_matrix_submatrix(big, 1, 2, f.P, f.P);
    assert_int_equal(hn_hessian_dense(f.m, f.th, f.s, 1, &v.matrix, &e), 0);
    assert_int_equal(hn_hessian_full(f.m, f.th, f.s, Hr, &e), 0);
    assert_mat_close(&v.matrix, Hr, 1e-12); /* as above */
    gsl_matrix_free(big);
    gsl_matrix_free(Hr);
    fx_free(&f);
    gsl_rng_free(r);
}

/* ||T|| of convolutions by Lanczos on T^T T against the dense SVD of T. */
static void test_conv_norm(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(510);
    hn_err e;
    for (int t = 0; t < (quick() ? 5 : 30); t++) {
        const int one_d = t % 3 == 0;
        size_t d[3];
        size_t kh = one_d ? 1 : 1 + gsl_rng_uniform_int(r, 4), kw = 1 + gsl_rng_uniform_int(r, 4);
        d[0] = 1 + gsl_rng_uniform_int(r, 4);
        d[1] = one_d ? kw + gsl_rng_uniform_int(r, 20) : kh + gsl_rng_uniform_int(r, 8);
        d[2] = kw + gsl_rng_uniform_int(r, 8);
        hn_model *m;
        assert_int_equal(hn_model_new(one_d ? 2 : 3, d, 2, HN_LOSS_CE, &m, &e), 0);
        const size_t co = 1 + gsl_rng_uniform_int(r, 5);
        assert_int_equal(hn_model_add(m, one_d ? HN_CONV1D : HN_CONV2D, co, kh, kw, &e), 0);
        assert_int_equal(hn_model_add(m, HN_FLATTEN, 0, 0, 0, &e), 0);
        assert_int_equal(hn_model_add(m, HN_LINEAR, 2, 1, 1, &e), 0);
        assert_int_equal(hn_model_finalize(m, &e), 0);
        double *th = malloc(m->n_params * sizeof *th);
        hn_test_fill_uniform(r, th, m->n_params, -1, 1);
        gsl_matrix *T;
        assert_int_equal(hn_mat_T(m, th, 0, &T, &e), 0);
        double dense, fast;
        assert_int_equal(hn_norm2(T, &dense, &e), 0);
        const hn_layer *ly = &m->layers[0];
        hn_lanczos_result lr;
        assert_int_equal(hn_conv_norm(ly->in, co, ly->kh, ly->kw, th, 300, 1e-12, 1, &fast, &lr, &e), 0);
        /* Lanczos residual <= 1e-12 sigma^2 bounds lambda's error; the norm
         * is its square root; dgesdd errs by ~n u sigma */
        assert_close(fast, dense, 1e-10, 0);
        gsl_matrix_free(T);
        free(th);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* Argument checks: every error names the problem, nothing is written. */
static void test_errors(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(511);
    hn_err e;
    fixture f;
    fx_make(&f, 1, 4, r);
    hn_fast *fa;
    assert_int_equal(hn_fast_alloc(f.m, 1, 0, &fa, &e), 0);
    double g[512], l;
    size_t bad = 9;
    assert_int_equal(hn_batch_forward_backward(f.m, f.th, f.s, NULL, 0, fa, &l, g, &e), HN_EINVAL);
    assert_int_equal(hn_batch_forward_backward(f.m, f.th, f.s, &bad, 1, fa, &l, g, &e), HN_EINVAL);
    assert_int_equal(hn_batch_forward_backward(f.m, f.th, f.s, NULL, 5, fa, &l, g, &e), HN_EINVAL);
    f.s->y_class[2] = 7;
    assert_int_equal(hn_batch_forward_backward(f.m, f.th, f.s, NULL, 4, fa, &l, g, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "label"));
    f.s->y_class[2] = 0;
    hn_model *other = hn_test_model(3);
    assert_int_equal(hn_batch_forward_backward(other, f.th, f.s, NULL, 4, fa, &l, g, &e), HN_EINVAL);
    hn_model_free(other);
    f.s->in_size++;
    assert_int_equal(hn_batch_losses(f.m, f.th, f.s, NULL, 4, fa, NULL, NULL, NULL, &e), HN_ESHAPE);
    f.s->in_size--;
    assert_int_equal(hn_batch_hvp(f.m, f.th, f.s, NULL, 4, NULL, fa, f.th, 0, g, &e), HN_EINVAL);
    hn_lanczos_result lz;
    assert_int_equal(hn_mean_op_extreme(f.m, f.th, f.s, NULL, 1, HN_OP_DIFF_H, 10, 1e-8, 1, 1, &lz, &e),
                     HN_EINVAL);
    hn_fast_free(fa);
    /* fault injection: every allocation of the workspace can fail cleanly */
    for (long k = 0; k < 200; k++) {
        hn_alloc_fail_after(k);
        int rc = hn_fast_alloc(f.m, two(), 3, &fa, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK) {
            hn_fast_free(fa);
            break;
        }
        assert_int_equal(rc, HN_ENOMEM);
        assert_null(fa);
    }
    fx_free(&f);
    gsl_rng_free(r);
}

int main(void)
{
    hn_gsl_quiet();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_batch_vs_loops), cmocka_unit_test(test_im2col_adjoint),
        cmocka_unit_test(test_network_grad_losses), cmocka_unit_test(test_network_jacobian),
        cmocka_unit_test(test_ho_eigs),             cmocka_unit_test(test_ho_mean_gram),             cmocka_unit_test(test_hvp_gnvp),
        cmocka_unit_test(test_threads_identical),   cmocka_unit_test(test_lanczos_vs_dense),
        cmocka_unit_test(test_dense_hessian),       cmocka_unit_test(test_conv_norm),
        cmocka_unit_test(test_errors),            cmocka_unit_test(test_single_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
