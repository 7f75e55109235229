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
#include <gsl/gsl_randist.h>
#include "hessnorm/convbound.h"
#include "hessnorm/inspect.h"
#include "hessnorm/layers.h"
#include "hessnorm/matfree.h"
#include "hessnorm/matrices.h"
#include "hessnorm/spectra.h"

/* linear layers of the test networks, at most */
#define HN_MAXLIN_TEST 16

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
static void check_route(const hn_model *m, const double *th, const hn_samples *s, const hn_paper *pp,
                        hn_mf_theta *tp, int r_explicit)
{
    hn_err e;
    hn_mf_sample *r;
    tp->r_explicit = r_explicit;
    if (hn_mf_sample_compute_at(m, th, tp, s, 0, &r, &e))
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
        if (r_explicit) { /* the explicit R's Gram: rounding only (n eps of lambda_max at these sizes) */
            assert_close(L->R_norm.value, R, 1e-10, 1e-300);
            assert_close(L->R_norm.hi, R, 1e-10, 1e-300);
            assert_int_equal(L->R_norm.hi_kind, HN_HI_EXACT);
            assert_int_equal(L->R_products, 0);
        }
        assert_close(L->Rx_norm, gsl_blas_dnrm2(pp->Rx[t]), 1e-12, 1e-300);
        double fro = 0;
        for (size_t i = 0; i < pp->T[t]->size1 * pp->T[t]->size2; i++)
            fro += pp->T[t]->data[i] * pp->T[t]->data[i];
        assert_close(L->T_fro, sqrt(fro), 1e-12, 1e-300);
    }
    /* ||H_O|| against the dense Q^T F^T A F Q of the paper matrices */
    assert_close(r->HO_norm, dnorm(pp->HO), 1e-10, 1e-300);
    hn_mf_sample_free(r);
}

/* The explicit R's two routes (windowed where it fits, full) agree to the
 * Gram's rounding (1e-12: the same products, only summed in another order) */
static void check_r_routes(const hn_model *m, const double *th, const hn_samples *s)
{
    hn_err e;
    hn_ws *ws;
    double a[HN_MAXLIN_TEST], b[HN_MAXLIN_TEST];
    assert_true(m->n_linear <= HN_MAXLIN_TEST);
    assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
    hn_forward(m, th, s->x, ws, NULL);
    assert_int_equal(hn_mf_r_explicit(m, th, ws, 1, a, &e), 0);
    assert_int_equal(hn_mf_r_explicit(m, th, ws, 0, b, &e), 0);
    for (size_t t = 0; t < m->n_linear; t++)
        assert_close(a[t], b[t], 1e-12, 1e-300);
    /* every allocation of either route failing in turn: HN_ENOMEM and no
     * entry left reading as a norm (NAN, never 0 or a stale value), until
     * the call succeeds with the same numbers */
    for (int windowed = 0; windowed <= 1; windowed++)
        for (long k = 0;; k++) {
            double c[HN_MAXLIN_TEST];
            for (size_t t = 0; t < m->n_linear; t++)
                c[t] = 0;
            hn_alloc_fail_after(k);
            const int rc = hn_mf_r_explicit(m, th, ws, windowed, c, &e);
            hn_alloc_fail_after(-1);
            if (rc == HN_OK) {
                assert_memory_equal(c, windowed ? a : b, m->n_linear * sizeof *c);
                break;
            }
            assert_int_equal(rc, HN_ENOMEM);
            for (size_t t = 0; t < m->n_linear; t++)
                assert_true(isnan(c[t]));
        }
    hn_ws_free(ws);
}

/* Both routes for ||R^(p-1)|| (explicit R, Lanczos) on the shared theta
 * part, and hn_mf_sample_compute (theta's part computed inside) = the
 * shared one bit for bit. */
static void check_one(const hn_model *m, const double *th, const hn_samples *s)
{
    hn_err e;
    hn_paper *pp;
    hn_mf_theta *tp;
    hn_mf_sample *a, *b;
    assert_int_equal(hn_paper_build(m, th, s, 0, &pp, &e), 0);
    if (hn_mf_theta_compute(m, th, 400, 1e-12, 7, &tp, &e))
        fail_msg("%s", e.msg);
    const int route = tp->r_explicit;
    check_route(m, th, s, pp, tp, 1);
    check_route(m, th, s, pp, tp, 0);
    tp->r_explicit = route;
    assert_int_equal(hn_mf_sample_compute(m, th, s, 0, 400, 1e-12, 7, &a, &e), 0);
    assert_int_equal(hn_mf_sample_compute_at(m, th, tp, s, 0, &b, &e), 0);
    assert_memory_equal(&a->A_norm, &b->A_norm, 5 * sizeof a->A_norm);
    check_r_routes(m, th, s);
    for (size_t t = 0; t < a->n_lin; t++)
        assert_memory_equal(&a->layers[t].R_norm, &b->layers[t].R_norm, sizeof a->layers[t].R_norm);
    hn_mf_sample_free(a);
    hn_mf_sample_free(b);
    hn_mf_theta_free(tp);
    hn_paper_free(pp);
}

/* hn_fixed_range_batch = hn_fixed_range on each row, every layer range
 * (to 1e-12 of the rows' scale: only the GEMM's summation order differs) */
static void test_fixed_range_batch(void **state)
{
    (void)state;
    gsl_rng *g = hn_test_rng(43);
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        double *th = calloc(m->n_params, sizeof *th);
        hn_samples *s;
        hn_ws *ws;
        hn_err e;
        assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
        hn_test_draw(m, g, 1.0, 1e-6, th, s);
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        hn_forward(m, th, s->x, ws, NULL);
        const size_t B = 3, A = m->max_act > hn_shape_size(m->input) ? m->max_act : hn_shape_size(m->input);
        double *v = calloc(B * A, sizeof *v), *y = calloc(B * A, sizeof *y), *y1 = calloc(A, sizeof *y1);
        for (size_t from = 0; from < m->n_layers; from++)
            for (size_t to = from; to <= m->n_layers; to++) {
                const size_t nf = from ? hn_shape_size(m->layers[from - 1].out) : hn_shape_size(m->input);
                const size_t nt = to ? hn_shape_size(m->layers[to - 1].out) : hn_shape_size(m->input);
                double *work = calloc(hn_fixed_range_batch_work(m, from, to, B), sizeof *work);
                for (size_t i = 0; i < B * nf; i++)
                    v[i] = gsl_ran_gaussian(g, 1.0);
                assert_int_equal(hn_fixed_range_batch(m, th, ws, from, to, B, v, y, work), 0);
                for (size_t b = 0; b < B; b++) {
                    assert_int_equal(hn_fixed_range(m, th, ws, from, to, 0, v + b * nf, y1), 0);
                    double sc = 0;
                    for (size_t j = 0; j < nt; j++)
                        sc = fmax(sc, fabs(y1[j]));
                    for (size_t j = 0; j < nt; j++)
                        assert_close(y[b * nt + j], y1[j], 0, 1e-12 * (sc + 1e-300));
                }
                free(work);
            }
        free(v);
        free(y);
        free(y1);
        hn_ws_free(ws);
        hn_samples_free(s);
        free(th);
        hn_model_free(m);
    }
    gsl_rng_free(g);
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
    /* the other route for ||R^(p-1)|| at this size: the explicit R's exact
     * value inside Lanczos's bracket (up to the Gram's rounding, 1e-12) */
    hn_mf_theta *tp;
    hn_mf_sample *rl;
    assert_int_equal(hn_mf_theta_compute(m, th, 300, 1e-10, 7, &tp, &e), 0);
    assert_int_equal(tp->r_explicit, 1);
    tp->r_explicit = 0;
    assert_int_equal(hn_mf_sample_compute_at(m, th, tp, s, 0, &rl, &e), 0);
    for (size_t t = 0; t < r->n_lin; t++) {
        const hn_bracket *x = &r->layers[t].R_norm, *l = &rl->layers[t].R_norm;
        assert_int_equal(x->hi_kind, HN_HI_EXACT);
        assert_true(l->lo <= x->value * (1 + 1e-12) && x->value <= l->hi * (1 + 1e-12));
    }
    hn_mf_sample_free(rl);
    hn_mf_theta_free(tp);
    check_r_routes(m, th, s); /* the windowed and the full explicit R at this size */
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

/* ---------------------------------------------------------------- inspect, both routes */

/* v inside [lo, hi] up to rounding (1e-10 of the operator's scale) */
static void in_bracket(const hn_bracket *b, double v, double scale, const char *what)
{
    const double slack = 1e-10 * scale;
    if (!(b->lo - slack <= v && v <= b->hi + slack))
        fail_msg("%s: dense %.17g outside [%.17g, %.17g]", what, v, b->lo, b->hi);
}

/* The matrix-free inspect against the dense one on the same net and
 * samples.  Exact quantities (batched kernels vs the reference layers,
 * K x K forms vs P x P matrices) to 1e-10 relative: they differ only in
 * rounding.  Lanczos values to 1e-8 of ||H|| (the operator's scale): the
 * stop at residual rtol = 1e-12 bounds each extreme Ritz value's error by
 * the residual; relative to the norm, since an eigenvalue near 0 (lambda_min
 * of an MSE net) has no relative accuracy of its own. */
static void check_inspect(const hn_model *m, const double *th, const hn_samples *s, int gram)
{
    hn_err e;
    hn_inspect_opts o;
    hn_inspect_opts_default(&o);
    if (!gram)
        o.ho_gram_max_bytes = 0; /* ||mean H_O|| by Lanczos */
    o.rtol = 1e-12;
    o.trace_probes = 64;
    hn_inspect_result *d, *f;
    o.route = HN_INSPECT_DENSE;
    if (hn_inspect_ex(m, th, s, &o, &d, &e))
        fail_msg("dense: %s", e.msg);
    o.route = HN_INSPECT_MATFREE;
    if (hn_inspect_ex(m, th, s, &o, &f, &e))
        fail_msg("matrix-free: %s", e.msg);
    assert_int_equal(f->route, HN_INSPECT_MATFREE);
    assert_int_equal(d->route, HN_INSPECT_DENSE);
    const size_t N = s->n, K = m->classes;
    assert_close(f->loss, d->loss, 1e-10, 1e-300);
    assert_close(f->grad_norm, d->grad_norm, 1e-10, 1e-300);
    for (size_t i = 0; i < N * K; i++)
        assert_close(f->logits[i], d->logits[i], 1e-10, 1e-12);
    const double sc = d->h_norm, so = d->ho_norm, sf = d->hf_norm;
    assert_close(f->h_max, d->h_max, 0, 1e-8 * sc);
    assert_close(f->h_min, d->h_min, 0, 1e-8 * sc);
    assert_close(f->h_norm, d->h_norm, 1e-8, 0);
    assert_close(f->ho_norm, d->ho_norm, 1e-8, 0);
    assert_close(f->hf_norm, d->hf_norm, 1e-8, 0);
    in_bracket(&f->h_max_b, d->h_max, sc, "lambda_max");
    in_bracket(&f->h_min_b, d->h_min, sc, "lambda_min");
    in_bracket(&f->h_norm_b, d->h_norm, sc, "||H||");
    in_bracket(&f->ho_norm_b, d->ho_norm, so, "||H_O||");
    in_bracket(&f->hf_norm_b, d->hf_norm, sf, "||H_F||");
    /* traces: H_O's exactly from the K x K forms; H's by diag H_F = 0 (the
     * dense diagonal is the second route) */
    assert_close(f->ho_trace, d->ho_trace, 1e-10, 1e-14);
    assert_close(f->h_trace, d->h_trace, 1e-10, 1e-14);
    assert_close(d->h_trace, d->ho_trace, 1e-10, 1e-14);
    /* Hutchinson: a seeded estimate, within 6 standard errors (a check on
     * the estimator's code, not a tolerance on a value) */
    assert_true(fabs(f->h_trace_est - d->h_trace) <= 6 * f->h_trace_se + 1e-12);
    for (size_t i = 0; i < N; i++)
        assert_true(f->ho_sample_norms[i] <= d->ho_sample_norms[i] * (1 + 1e-12) &&
                    f->ho_sample_norms[i] >= d->ho_sample_norms[i] * (1 - 1e-12));
    if (N == 1) { /* one sample: the K x K spectrum is the mean's, = the dense one */
        assert_int_equal(f->n_ho_eigs, d->n_ho_eigs);
        for (size_t k = 0; k < f->n_ho_eigs; k++)
            assert_close(f->ho_eigs[k], d->ho_eigs[k], 1e-10, 1e-12 * so);
        assert_close(f->ho_sample_norms[0], d->ho_norm, 1e-10, 1e-300);
        assert_true(d->has_table && f->has_table);
        assert_close(f->A_norm, d->A_norm, 1e-10, 1e-300);
        assert_close(f->F_norm, d->F_norm, 1e-10, 1e-300);
        assert_close(f->J_norm, d->J_norm, 1e-10, 1e-300);
        for (size_t t = 0; t < f->n_lin; t++) {
            const hn_inspect_layer *a = &f->layers[t], *b = &d->layers[t];
            assert_close(a->T_norm, b->T_norm, 1e-8, 1e-300);
            assert_close(a->R_norm, b->R_norm, 1e-8, 1e-300);
            in_bracket(&a->T_b, b->T_norm, b->T_norm, "||T||");
            in_bracket(&a->R_b, b->R_norm, b->R_norm, "||R||");
            assert_close(a->G_norm, b->G_norm, 1e-10, 1e-300);
            assert_close(a->Q_norm, b->Q_norm, 1e-10, 1e-300);
            assert_close(a->T_fro, b->T_fro, 1e-10, 1e-300);
            assert_close(a->Rx_norm, b->Rx_norm, 1e-10, 1e-300);
            /* the paper's bounds: the same numbers on both routes, and they hold */
            assert_true(a->bound.T_sq_bound == b->bound.T_sq_bound);
            assert_true(b->T_norm * b->T_norm <= b->bound.T_sq_bound * (1 + 1e-12));
            assert_true(isnan(b->bound.Q_bound) || b->Q_norm <= b->bound.Q_bound * (1 + 1e-12));
        }
    } else if (gram) { /* the mean's N K x N K Gram = the dense P x P H_O's nonzero spectrum */
        assert_int_equal(f->ho_gram, 1);
        assert_null(f->ho_eigs_na);
        assert_int_equal(f->lanczos_products[1], 0);
        assert_true(f->ho_norm_b.lo == f->ho_norm_b.hi && f->ho_norm_b.hi_kind == HN_HI_EXACT);
        assert_close(f->ho_norm, d->ho_norm, 1e-10, 1e-300);
        assert_int_equal(f->n_ho_eigs, d->n_ho_eigs);
        double tr = 0;
        for (size_t k = 0; k < f->n_ho_eigs; k++) {
            assert_close(f->ho_eigs[k], d->ho_eigs[k], 1e-10, 1e-12 * so);
            tr += f->ho_eigs[k];
        }
        /* the spectrum's sum = the trace from the per-sample K x K forms */
        assert_close(tr, f->ho_trace, 1e-10, 1e-12 * so);
        assert_true(f->has_table && f->table_sample == 0);
    } else {
        assert_int_equal(f->ho_gram, 0);
        assert_non_null(f->ho_eigs_na);
        assert_true(f->lanczos_products[1] > 0);
        assert_true(f->has_table && f->table_sample == 0);
    }
    hn_inspect_free(d);
    hn_inspect_free(f);
}

static void test_inspect_routes(void **state)
{
    (void)state;
    gsl_rng *g = hn_test_rng(53);
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++)
        for (size_t n = 1; n <= 3; n += 2) {
            hn_model *m = hn_test_model(fam);
            double *th = calloc(m->n_params, sizeof *th);
            hn_samples *s;
            hn_err e;
            assert_int_equal(hn_samples_alloc(m, n, &s, &e), 0);
            hn_test_draw(m, g, 1.0, 1e-6, th, s);
            check_inspect(m, th, s, 1);
            check_inspect(m, th, s, 0);
            /* each sample's ||H_O,i|| of the batch = the dense ||H_O|| of that sample alone */
            hn_inspect_result *b, *one;
            hn_inspect_opts o;
            hn_inspect_opts_default(&o);
            o.route = HN_INSPECT_MATFREE;
            o.trace_probes = 0;
            if (hn_inspect_ex(m, th, s, &o, &b, &e))
                fail_msg("%s", e.msg);
            hn_samples *s1;
            assert_int_equal(hn_samples_alloc(m, 1, &s1, &e), 0);
            for (size_t i = 0; i < n; i++) {
                memcpy(s1->x, s->x + i * s->in_size, s->in_size * sizeof *s->x);
                if (s->y_class)
                    s1->y_class[0] = s->y_class[i];
                if (s->y_vec)
                    memcpy(s1->y_vec, s->y_vec + i * m->classes, m->classes * sizeof *s->y_vec);
                assert_int_equal(hn_inspect(m, th, s1, &one, &e), 0);
                assert_close(b->ho_sample_norms[i], one->ho_norm, 1e-10, 1e-300);
                hn_inspect_free(one);
            }
            hn_inspect_free(b);
            hn_samples_free(s1);
            hn_samples_free(s);
            free(th);
            hn_model_free(m);
        }
    gsl_rng_free(g);
}

/* The real-size route on fixtures/paper28 (P = 29,742, 2 samples): every
 * bracket ordered, the certified relations between the exact values hold,
 * and the JSON is the same bytes for 1 and 2 threads. */
static void test_inspect_real_size(void **state)
{
    (void)state;
    hn_err e;
    char p[3][1200];
    snprintf(p[0], sizeof p[0], "%s", hn_test_path("fixtures/paper28/model.json"));
    snprintf(p[1], sizeof p[1], "%s", hn_test_path("fixtures/paper28/weights.safetensors"));
    snprintf(p[2], sizeof p[2], "%s", hn_test_path("fixtures/paper28/sample.safetensors"));
    hn_model *m;
    hn_samples *s;
    if (hn_model_load(p[0], &m, &e))
        fail_msg("%s", e.msg);
    double *th = calloc(m->n_params, sizeof *th);
    if (hn_weights_load(m, p[1], th, &e) || hn_samples_load(m, p[2], &s, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(m->n_params, 29742);
    char why[256];
    assert_int_equal(hn_inspect_choose(m, s, INFINITY, why, sizeof why), HN_INSPECT_MATFREE);
    hn_inspect_opts o;
    hn_inspect_opts_default(&o);
    char *js[2];
    for (int t = 0; t < 2; t++) {
        hn_inspect_result *r;
        o.threads = t + 1;
        if (hn_inspect_ex(m, th, s, &o, &r, &e))
            fail_msg("%s", e.msg);
        assert_int_equal(r->route, HN_INSPECT_MATFREE);
        const hn_bracket *b[] = {&r->h_norm_b, &r->h_max_b, &r->h_min_b, &r->ho_norm_b, &r->hf_norm_b};
        for (size_t i = 0; i < 5; i++)
            assert_true(b[i]->lo <= b[i]->value && b[i]->value <= b[i]->hi);
        for (int i = 0; i < 3; i++)
            assert_true(r->lanczos_converged[i]);
        /* ||mean H_O|| <= trace H_O (PSD) and <= mean_i ||H_O,i||; ||H|| <= ||H_O|| + ||H_F|| */
        double mean = 0.5 * (r->ho_sample_norms[0] + r->ho_sample_norms[1]);
        assert_true(r->ho_norm <= r->ho_trace && r->ho_norm <= mean * (1 + 1e-12));
        assert_true(r->h_norm <= (r->ho_norm + r->hf_norm) * (1 + 1e-8));
        assert_true(r->has_table && r->n_lin == 4);
        for (size_t l = 0; l < r->n_lin; l++)
            assert_true(r->layers[l].T_norm * r->layers[l].T_norm <= r->layers[l].bound.T_sq_bound);
        js[t] = hn_inspect_to_json(m, r);
        assert_non_null(js[t]);
        hn_inspect_free(r);
    }
    assert_string_equal(js[0], js[1]);
    hn_free(js[0]);
    hn_free(js[1]);
    hn_samples_free(s);
    free(th);
    hn_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_bounds),
        cmocka_unit_test(test_matfree_vs_dense),
        cmocka_unit_test(test_fixed_range_batch),
        cmocka_unit_test(test_matfree_real_size),
        cmocka_unit_test(test_inspect_routes),
        cmocka_unit_test(test_inspect_real_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
