/* hessnorm — layers: adjoint identities, gradients, Jacobians and exact
 * Hessian-vector products against central finite differences. */
#include "testutil.h"
#include <math.h>
#include <string.h>

/* Central-difference step: truncation ~h^2 f'''/6 ~ 1e-12, rounding
 * ~eps f / h ~ 1e-10; the draws keep every ReLU input and pool gap >= 1e-3,
 * far beyond what a 1e-6 step moves them, so no kink is crossed. */
#define FD_H 1e-6
#define KINK 1e-3
/* FD agreement: dominated by rounding eps*|f|/h ~ 2e-10 relative to |f|. */
#define FD_RTOL 1e-6

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* <T x, y> = <x, T^T y> and <dW(y, x), V> = <y, T(V) x>: the backward
 * passes are the exact adjoints of the forward convolution. */
static void test_conv_adjoints(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(11);
    for (int trial = 0; trial < 20; trial++) {
        hn_shape in = {1 + gsl_rng_uniform_int(r, 3), 1 + gsl_rng_uniform_int(r, 6),
                       2 + gsl_rng_uniform_int(r, 6)};
        size_t co = 1 + gsl_rng_uniform_int(r, 3);
        size_t kh = 1 + gsl_rng_uniform_int(r, in.h), kw = 1 + gsl_rng_uniform_int(r, in.w);
        size_t nin = hn_shape_size(in), nout = co * (in.h - kh + 1) * (in.w - kw + 1);
        size_t nw = co * in.c * kh * kw;
        double x[256], y[512], z[512], dx[256], W[512], V[512], dW[512], zv[512];
        hn_test_fill_uniform(r, x, nin, -1, 1);
        hn_test_fill_uniform(r, y, nout, -1, 1);
        hn_test_fill_uniform(r, W, nw, -1, 1);
        hn_test_fill_uniform(r, V, nw, -1, 1);
        hn_conv_forward(in, co, kh, kw, W, x, z);
        hn_conv_backward_data(in, co, kh, kw, W, y, dx);
        /* both sides are sums of ~100 O(1) products: rounding ~1e-14 */
        assert_close(dot(z, y, nout), dot(x, dx, nin), 1e-12, 1e-13);
        memset(dW, 0, nw * sizeof *dW);
        hn_conv_backward_weights(in, co, kh, kw, x, y, dW);
        hn_conv_forward(in, co, kh, kw, V, x, zv);
        assert_close(dot(dW, V, nw), dot(y, zv, nout), 1e-12, 1e-13);
    }
    gsl_rng_free(r);
}

/* The weight gradient as it was written before channel blocking: one
 * channel, one weight, one sum at a time (the order the blocked kernel
 * must keep). */
static void wgrad_plain(hn_shape in, size_t co, size_t kh, size_t kw, const double *x,
                        const double *dz, double *dW)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, ci = in.c;
    for (size_t o = 0; o < co; o++)
        for (size_t i = 0; i < ci; i++)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    double s = 0;
                    for (size_t y = 0; y < ho; y++)
                        for (size_t q = 0; q < wo; q++)
                            s += dz[(o * ho + y) * wo + q] * x[(i * in.h + y + a) * in.w + q + b];
                    dW[((o * ci + i) * kh + a) * kw + b] += s;
                }
}

/* The forward convolution and its data adjoint as written before the
 * channel blocking: one weight and one row at a time. */
static void conv_plain(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, const double *src,
                       double *acc, int adjoint)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, ci = in.c;
    memset(acc, 0, (adjoint ? hn_shape_size(in) : co * ho * wo) * sizeof *acc);
    for (size_t o = 0; o < co; o++)
        for (size_t i = 0; i < ci; i++)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    const double wv = W[((o * ci + i) * kh + a) * kw + b];
                    for (size_t y = 0; y < ho; y++) {
                        const size_t zo = (o * ho + y) * wo, xo = (i * in.h + y + a) * in.w + b;
                        for (size_t q = 0; q < wo; q++)
                            acc[(adjoint ? xo : zo) + q] += wv * src[(adjoint ? zo : xo) + q];
                    }
                }
}

/* One shape: the three convolutions against the plain loops, byte for
 * byte (the weight gradient accumulating into a nonzero dW). */
static void conv_identical_at(gsl_rng *r, hn_shape in, size_t co, size_t kh, size_t kw)
{
    const size_t nin = hn_shape_size(in), nout = co * (in.h - kh + 1) * (in.w - kw + 1);
    const size_t nw = co * in.c * kh * kw;
    double *x = malloc(nin * sizeof *x), *dz = malloc(nout * sizeof *dz);
    double *dW = malloc(nw * sizeof *dW), *dWp = malloc(nw * sizeof *dWp);
    hn_test_fill_uniform(r, x, nin, -1, 1);
    hn_test_fill_uniform(r, dz, nout, -1, 1);
    hn_test_fill_uniform(r, dW, nw, -1, 1);
    memcpy(dWp, dW, nw * sizeof *dW);
    hn_conv_backward_weights(in, co, kh, kw, x, dz, dW);
    wgrad_plain(in, co, kh, kw, x, dz, dWp);
    assert_memory_equal(dW, dWp, nw * sizeof *dW);
    double *z = malloc(nout * sizeof *z), *zp = malloc(nout * sizeof *zp);
    double *dx = malloc(nin * sizeof *dx), *dxp = malloc(nin * sizeof *dxp);
    hn_conv_forward(in, co, kh, kw, dW, x, z);
    conv_plain(in, co, kh, kw, dW, x, zp, 0);
    assert_memory_equal(z, zp, nout * sizeof *z);
    hn_conv_backward_data(in, co, kh, kw, dW, dz, dx);
    conv_plain(in, co, kh, kw, dW, dz, dxp, 1);
    assert_memory_equal(dx, dxp, nin * sizeof *dx);
    free(z);
    free(zp);
    free(dx);
    free(dxp);
    free(x);
    free(dz);
    free(dW);
    free(dWp);
}

/* hn_conv_forward, hn_conv_backward_data and hn_conv_backward_weights are
 * bit-identical to the plain loops in every instruction set this machine
 * runs (hn_conv_isa_set): channel counts below, at and past multiples of
 * 4 and 8 (the vector weight gradient's lanes), a section-VI shape
 * (C = 42), rows longer than one transposed chunk (128 positions), a
 * kernel whose sums fill the vector route's buffer one input channel at a
 * time (16 x 16) and one too large for it (17 x 17: the scalar route). */
static void test_conv_blocked_identical(void **state)
{
    (void)state;
    static const hn_conv_isa isas[] = {HN_CONV_ISA_BASE, HN_CONV_ISA_AVX2, HN_CONV_ISA_AVX512};
    static const size_t cos[] = {1, 3, 4, 5, 8, 9, 11, 16, 17, 42};
    size_t ran = 0;
    for (size_t s = 0; s < sizeof isas / sizeof *isas; s++) {
        if (hn_conv_isa_set(isas[s]) != HN_OK)
            continue; /* not on this CPU / OS: the dispatcher never picks it here either */
        assert_int_equal(hn_conv_isa_get(), isas[s]);
        ran++;
        gsl_rng *r = hn_test_rng(12);
        for (size_t t = 0; t < 2 * sizeof cos / sizeof *cos; t++) {
            const size_t co = cos[t % (sizeof cos / sizeof *cos)];
            hn_shape in = {1 + gsl_rng_uniform_int(r, 9), 3 + gsl_rng_uniform_int(r, 12),
                           3 + gsl_rng_uniform_int(r, 12)};
            size_t kh = 1 + gsl_rng_uniform_int(r, 4), kw = 1 + gsl_rng_uniform_int(r, 4);
            if (kh > in.h)
                kh = in.h;
            if (kw > in.w)
                kw = in.w;
            if (co == 42)
                in = (hn_shape){42, 12, 12};
            if (co == 42 || co == 8 || co == 17)
                kh = kw = 3; /* the k = 3 kernels at a paper shape and around 8 */
            conv_identical_at(r, in, co, kh, kw);
        }
        conv_identical_at(r, (hn_shape){3, 4, 300}, 10, 2, 3);  /* 298 positions: 3 chunks */
        conv_identical_at(r, (hn_shape){3, 18, 19}, 9, 16, 16); /* 8 * 256 sums: one channel a chunk */
        conv_identical_at(r, (hn_shape){2, 18, 18}, 5, 17, 17); /* 8 * 289 > 2048: scalar */
        gsl_rng_free(r);
    }
    assert_true(ran >= 1); /* the baseline runs everywhere */
    assert_int_equal(hn_conv_isa_set(HN_CONV_ISA_AUTO), HN_OK);
}

/* The instruction-set choice: AUTO gives the best the machine runs, a
 * value outside the enum is refused, the names. */
static void test_conv_isa(void **state)
{
    (void)state;
    assert_int_equal(hn_conv_isa_set(HN_CONV_ISA_AUTO), HN_OK);
    const hn_conv_isa best = hn_conv_isa_get();
    assert_int_equal(hn_conv_isa_best(), best);
    assert_true(best >= HN_CONV_ISA_BASE && best <= HN_CONV_ISA_AVX512);
    for (int v = HN_CONV_ISA_BASE; v <= HN_CONV_ISA_AVX512; v++)
        assert_int_equal(hn_conv_isa_set((hn_conv_isa)v), v <= (int)best ? HN_OK : HN_EINVAL);
    assert_int_equal(hn_conv_isa_set((hn_conv_isa)7), HN_EINVAL);
    assert_int_equal(hn_conv_isa_set(HN_CONV_ISA_BASE), HN_OK);
    assert_int_equal(hn_conv_isa_best(), best); /* whatever is set */
    assert_int_equal(hn_conv_isa_set(HN_CONV_ISA_AUTO), HN_OK);
    assert_int_equal(hn_conv_isa_get(), best);
    assert_string_equal(hn_conv_isa_name(HN_CONV_ISA_BASE), "baseline");
    assert_string_equal(hn_conv_isa_name(HN_CONV_ISA_AVX2), "AVX2");
    assert_string_equal(hn_conv_isa_name(HN_CONV_ISA_AVX512), "AVX-512F");
    assert_string_equal(hn_conv_isa_name(HN_CONV_ISA_AUTO), "auto");
}

/* A direct convolution evaluated at one point by its definition. */
static void test_conv_definition(void **state)
{
    (void)state;
    hn_shape in = {2, 4, 5};
    double x[40], W[2 * 2 * 2 * 3], z[2 * 3 * 3];
    for (size_t i = 0; i < 40; i++)
        x[i] = (double)(i % 7) - 3.0;
    for (size_t i = 0; i < 24; i++)
        W[i] = 0.5 * (double)i - 4.0;
    hn_conv_forward(in, 2, 2, 3, W, x, z);
    /* z[o=1, y=2, x=1] = sum_{i,a,b} W[1,i,a,b] x[i, 2+a, 1+b] (cross-correlation) */
    double want = 0;
    for (int i = 0; i < 2; i++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 3; b++)
                want += W[((1 * 2 + i) * 2 + a) * 3 + b] * x[(i * 4 + 2 + a) * 5 + 1 + b];
    assert_close(z[(1 * 3 + 2) * 3 + 1], want, 0, 0); /* same operations: exact */
}

static void test_pool_definitions(void **state)
{
    (void)state;
    hn_shape in = {1, 5, 4}; /* floor: 2x2 windows give 2x2 outputs, last row dropped */
    double x[20], y[4], dy[4] = {1, 2, 3, 4}, dx[20];
    size_t am[4];
    for (size_t i = 0; i < 20; i++)
        x[i] = (double)((i * 7) % 11);
    hn_maxpool_forward(in, 2, 2, x, y, am);
    /* window (0,0) covers x[0], x[1], x[4], x[5] = 0, 7, 6, 2 -> 7 at index 1 */
    assert_int_equal(am[0], 1);
    assert_close(y[0], 7, 0, 0);
    hn_avgpool_forward(in, 2, 2, x, y);
    assert_close(y[0], (0 + 7 + 6 + 2) / 4.0, 1e-15, 0); /* one rounding */
    hn_avgpool_backward(in, 2, 2, dy, dx);
    assert_close(dx[5], 0.25, 0, 0);
    assert_close(dx[16], 0.0, 0, 0); /* row 4 is outside every window */
    /* first maximum wins on ties, as in PyTorch */
    double t[4] = {3, 3, 3, 3}, ty;
    size_t ta;
    hn_shape tin = {1, 2, 2};
    hn_maxpool_forward(tin, 2, 2, t, &ty, &ta);
    assert_int_equal(ta, 0);
}

static void test_loss_stable(void **state)
{
    (void)state;
    double z[3] = {1e3, -1e3, 0}, g[3], p[3];
    double l = hn_loss_eval(HN_LOSS_CE, 3, z, 1, NULL, g, p);
    /* saturated: loss = lse - z_1 = 1e3 + 1e3 exactly up to exp(-1e3) */
    assert_true(isfinite(l));
    assert_close(l, 2000.0, 1e-15, 0);
    for (int k = 0; k < 3; k++)
        assert_true(isfinite(g[k]) && isfinite(p[k]));
    assert_close(g[1], -1.0, 0, 1e-300);
    /* CE gradient and A = diag(p) - pp^T against finite differences */
    double zz[4] = {0.3, -1.2, 0.8, 0.1}, gg[4], pp[4], gp[4], gm[4], Av[4], e[4];
    hn_loss_eval(HN_LOSS_CE, 4, zz, 2, NULL, gg, pp);
    for (int k = 0; k < 4; k++) {
        double zp[4], zm[4];
        memcpy(zp, zz, sizeof zz);
        memcpy(zm, zz, sizeof zz);
        zp[k] += FD_H;
        zm[k] -= FD_H;
        double d = (hn_loss_eval(HN_LOSS_CE, 4, zp, 2, NULL, gp, NULL) -
                    hn_loss_eval(HN_LOSS_CE, 4, zm, 2, NULL, gm, NULL)) / (2 * FD_H);
        assert_close(d, gg[k], FD_RTOL, 1e-9);
        memset(e, 0, sizeof e);
        e[k] = 1;
        hn_loss_hess_apply(HN_LOSS_CE, 4, pp, e, Av);
        for (int j = 0; j < 4; j++)
            assert_close((gp[j] - gm[j]) / (2 * FD_H), Av[j], FD_RTOL, 1e-9);
    }
}

/* Gradient, Jacobian and HVP of every test family against central
 * differences, with several random draws each. */
static void test_derivatives_fd(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(12);
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        const size_t P = m->n_params, K = m->classes;
        hn_samples *s;
        hn_err e;
        assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
        double *th = calloc(P, sizeof *th), *g = calloc(P, sizeof *g), *v = calloc(P, sizeof *v);
        double *Hv = calloc(P, sizeof *Hv), *gp = calloc(P, sizeof *gp), *gm = calloc(P, sizeof *gm);
        double *J = calloc(K * P, sizeof *J), *tp = calloc(P, sizeof *tp);
        double zp[16], zm[16];
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        for (int trial = 0; trial < 3; trial++) {
            hn_test_draw(m, r, 1.5, KINK, th, s);
            double l;
            memset(g, 0, P * sizeof *g);
            hn_loss_grad(m, th, s, 0, ws, 1.0, &l, g);
            hn_test_fill_uniform(r, v, P, -1, 1);
            /* directional derivative of the loss */
            for (size_t j = 0; j < P; j++) tp[j] = th[j] + FD_H * v[j];
            double lp, lm;
            hn_loss_grad(m, tp, s, 0, ws, 1.0, &lp, NULL);
            for (size_t j = 0; j < P; j++) tp[j] = th[j] - FD_H * v[j];
            hn_loss_grad(m, tp, s, 0, ws, 1.0, &lm, NULL);
            assert_close((lp - lm) / (2 * FD_H), dot(g, v, P), FD_RTOL, 1e-9);
            /* Jacobian column directions: J v vs FD of the logits */
            hn_jacobian(m, th, s->x, ws, J, NULL);
            for (size_t j = 0; j < P; j++) tp[j] = th[j] + FD_H * v[j];
            hn_forward(m, tp, s->x, ws, zp);
            for (size_t j = 0; j < P; j++) tp[j] = th[j] - FD_H * v[j];
            hn_forward(m, tp, s->x, ws, zm);
            for (size_t k = 0; k < K; k++)
                assert_close((zp[k] - zm[k]) / (2 * FD_H), dot(J + k * P, v, P), FD_RTOL, 1e-9);
            /* HVP vs FD of the analytic gradient */
            memset(Hv, 0, P * sizeof *Hv);
            hn_hvp(m, th, s, 0, ws, v, 1.0, Hv);
            memset(gp, 0, P * sizeof *gp);
            memset(gm, 0, P * sizeof *gm);
            for (size_t j = 0; j < P; j++) tp[j] = th[j] + FD_H * v[j];
            hn_loss_grad(m, tp, s, 0, ws, 1.0, NULL, gp);
            for (size_t j = 0; j < P; j++) tp[j] = th[j] - FD_H * v[j];
            hn_loss_grad(m, tp, s, 0, ws, 1.0, NULL, gm);
            for (size_t j = 0; j < P; j++)
                gp[j] = (gp[j] - gm[j]) / (2 * FD_H);
            assert_vec_close(Hv, gp, P, FD_RTOL);
        }
        hn_ws_free(ws);
        hn_samples_free(s);
        free(th); free(g); free(v); free(Hv); free(gp); free(gm); free(J); free(tp);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* Backward w.r.t. the input: <dz, dz/dx u> by FD in input space. */
static void test_input_gradient(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(13);
    hn_model *m = hn_test_model(1);
    hn_samples *s;
    hn_err e;
    assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
    double *th = calloc(m->n_params, sizeof *th);
    hn_test_draw(m, r, 1.5, KINK, th, s);
    hn_ws *ws;
    assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
    size_t n = s->in_size;
    double dz[3] = {0.3, -0.7, 1.1}, *dx = calloc(n, sizeof *dx), *u = calloc(n, sizeof *u);
    double *xp = calloc(n, sizeof *xp), zp[3], zm[3];
    hn_forward(m, th, s->x, ws, NULL);
    hn_backward(m, th, ws, dz, NULL, dx);
    hn_test_fill_uniform(r, u, n, -1, 1);
    for (size_t j = 0; j < n; j++) xp[j] = s->x[j] + FD_H * u[j];
    hn_forward(m, th, xp, ws, zp);
    for (size_t j = 0; j < n; j++) xp[j] = s->x[j] - FD_H * u[j];
    hn_forward(m, th, xp, ws, zm);
    double fd = 0;
    for (int k = 0; k < 3; k++)
        fd += dz[k] * (zp[k] - zm[k]) / (2 * FD_H);
    assert_close(fd, dot(dx, u, n), FD_RTOL, 1e-9);
    hn_ws_free(ws);
    hn_samples_free(s);
    free(th); free(dx); free(u); free(xp);
    hn_model_free(m);
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_adjoints),    cmocka_unit_test(test_conv_blocked_identical),
        cmocka_unit_test(test_conv_definition),   cmocka_unit_test(test_conv_isa),
        cmocka_unit_test(test_pool_definitions), cmocka_unit_test(test_loss_stable),
        cmocka_unit_test(test_derivatives_fd),   cmocka_unit_test(test_input_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
