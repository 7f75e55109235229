/* hessnorm — the full Hessian (exact HVPs) against finite differences of
 * the analytic gradient, the zero-residual identity H = H_O, and batch means. */
#include "testutil.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>

#define KINK 1e-3
/* Central differences of the gradient, h = 1e-5: truncation ~h^2 ~ 1e-10,
 * rounding ~eps/h ~ 2e-11 (relative to the largest entry). */
#define FD_H 1e-5
#define FD_RTOL 1e-6

static void test_hessian_vs_fd(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(41);
    hn_err e;
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        const size_t P = m->n_params;
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, 2, &s, &e), 0);
        double *th = calloc(P, sizeof *th), *tp = calloc(P, sizeof *tp);
        double *gp = calloc(P, sizeof *gp), *gm = calloc(P, sizeof *gm);
        hn_test_draw(m, r, 1.5, KINK, th, s);
        gsl_matrix *H = gsl_matrix_alloc(P, P), *Hfd = gsl_matrix_alloc(P, P);
        assert_int_equal(hn_hessian_full(m, th, s, H, &e), 0);
        for (size_t j = 0; j < P; j++) {
            memcpy(tp, th, P * sizeof *tp);
            tp[j] += FD_H;
            hn_batch_loss_grad(m, tp, s, NULL, gp, &e);
            tp[j] -= 2 * FD_H;
            hn_batch_loss_grad(m, tp, s, NULL, gm, &e);
            for (size_t i = 0; i < P; i++)
                gsl_matrix_set(Hfd, i, j, (gp[i] - gm[i]) / (2 * FD_H));
        }
        assert_mat_close(H, Hfd, FD_RTOL);
        gsl_matrix_free(H);
        gsl_matrix_free(Hfd);
        free(th); free(tp); free(gp); free(gm);
        hn_samples_free(s);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* MSE at targets y = f(x): the residual is 0, so H_F = sum_c r_c grad^2 f_c
 * vanishes and H = H_O up to rounding. */
static void test_zero_residual(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(42);
    hn_err e;
    hn_model *m = hn_test_model(5); /* MSE family */
    const size_t P = m->n_params;
    hn_samples *s;
    assert_int_equal(hn_samples_alloc(m, 3, &s, &e), 0);
    double *th = calloc(P, sizeof *th);
    hn_test_draw(m, r, 1.5, KINK, th, s);
    hn_ws *ws;
    assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
    for (size_t i = 0; i < s->n; i++)
        hn_forward(m, th, s->x + i * s->in_size, ws, s->y_vec + i * m->classes);
    gsl_matrix *H = gsl_matrix_alloc(P, P), *HO = gsl_matrix_alloc(P, P);
    assert_int_equal(hn_hessian_full(m, th, s, H, &e), 0);
    assert_int_equal(hn_hessian_outer(m, th, s, HO, &e), 0);
    assert_mat_close(H, HO, 1e-13); /* same products in another order */
    /* and with a nonzero residual they differ */
    s->y_vec[0] += 1.0;
    assert_int_equal(hn_hessian_full(m, th, s, H, &e), 0);
    assert_int_equal(hn_hessian_outer(m, th, s, HO, &e), 0);
    gsl_matrix_sub(H, HO);
    double nf;
    assert_int_equal(hn_norm2(H, &nf, &e), 0);
    assert_true(nf > 1e-3);
    hn_ws_free(ws);
    gsl_matrix_free(H);
    gsl_matrix_free(HO);
    free(th);
    hn_samples_free(s);
    hn_model_free(m);
    gsl_rng_free(r);
}

/* The batch Hessian is the mean of the per-sample Hessians; u^T H v = v^T H u. */
static void test_batch_mean_symmetry(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(43);
    hn_err e;
    hn_model *m = hn_test_model(1);
    const size_t P = m->n_params;
    hn_samples *s, *s1;
    assert_int_equal(hn_samples_alloc(m, 3, &s, &e), 0);
    assert_int_equal(hn_samples_alloc(m, 1, &s1, &e), 0);
    double *th = calloc(P, sizeof *th);
    hn_test_draw(m, r, 1.5, KINK, th, s);
    gsl_matrix *H = gsl_matrix_alloc(P, P), *Hi = gsl_matrix_alloc(P, P), *acc = gsl_matrix_calloc(P, P);
    assert_int_equal(hn_hessian_full(m, th, s, H, &e), 0);
    for (size_t i = 0; i < 3; i++) {
        memcpy(s1->x, s->x + i * s->in_size, s->in_size * sizeof(double));
        s1->y_class[0] = s->y_class[i];
        assert_int_equal(hn_hessian_full(m, th, s1, Hi, &e), 0);
        gsl_matrix_scale(Hi, 1.0 / 3.0);
        gsl_matrix_add(acc, Hi);
    }
    assert_mat_close(H, acc, 1e-13); /* three-term sums in another order */
    /* raw HVPs (before symmetrisation) satisfy u^T H v = v^T H u */
    double *u = calloc(P, sizeof *u), *v = calloc(P, sizeof *v), *Hu = calloc(P, sizeof *Hu),
           *Hv = calloc(P, sizeof *Hv);
    hn_test_fill_uniform(r, u, P, -1, 1);
    hn_test_fill_uniform(r, v, P, -1, 1);
    hn_ws *ws;
    assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
    hn_hvp(m, th, s, 0, ws, u, 1.0, Hu);
    hn_hvp(m, th, s, 0, ws, v, 1.0, Hv);
    double a = 0, b = 0;
    for (size_t j = 0; j < P; j++) {
        a += v[j] * Hu[j];
        b += u[j] * Hv[j];
    }
    assert_close(a, b, 1e-12, 1e-14); /* exact products, rounding only */
    hn_ws_free(ws);
    free(u); free(v); free(Hu); free(Hv); free(th);
    gsl_matrix_free(H); gsl_matrix_free(Hi); gsl_matrix_free(acc);
    hn_samples_free(s); hn_samples_free(s1);
    hn_model_free(m);
    gsl_rng_free(r);
}

/* The H_O routes of outer.h against the dense J^T A J of hn_hessian_outer:
 * the Gram route's nonzero spectrum, the per-sample K x K norm, the
 * operator (with the head block stored implicitly and explicitly), and the
 * dense route with A formed against A applied. */
static void test_outer_routes(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(44);
    hn_err e;
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        const size_t P = m->n_params, K = m->classes, N = 3;
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, N, &s, &e), 0);
        double *th = calloc(P, sizeof *th);
        hn_test_draw(m, r, 1.5, KINK, th, s);
        gsl_matrix *HO = gsl_matrix_alloc(P, P), *Hw = gsl_matrix_calloc(P, P);
        gsl_vector *ev = gsl_vector_alloc(P);
        assert_int_equal(hn_hessian_outer(m, th, s, HO, &e), 0);
        assert_int_equal(hn_eig_sym_lapack(HO, ev, NULL, &e), 0);
        const double hmax = fmax(fabs(gsl_vector_get(ev, 0)), fabs(gsl_vector_get(ev, P - 1)));
        /* Gram route: the nonzero eigenvalues, descending */
        double *ge = NULL;
        size_t ng = 0;
        assert_int_equal(hn_outer_gram_eigs(m, th, s, 1e-9, &ge, &ng, &e), 0);
        assert_true(ng >= 1 && ng <= N * K);
        for (size_t k = 0; k < ng; k++) /* two backward-stable routes: |d lambda| ~ P eps ||H_O|| */
            assert_close(ge[k], gsl_vector_get(ev, P - 1 - k), 0, 1e-11 * hmax);
        hn_free(ge);
        /* per sample: K x K norm, dense J^T A J with A formed and applied,
         * and the operator's pieces */
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        const hn_layer *last = &m->layers[m->n_layers - 1];
        const int structured = last->type == HN_LINEAR && last->param_offset + last->param_count == P;
        const size_t d = structured ? last->in.c : 0, Pb = structured ? last->param_offset : P;
        double *J = calloc(N * K * P, sizeof *J), *Jb = calloc(N * K * P, sizeof *Jb);
        double *xh = calloc(N * (d + 1), sizeof *xh), *pp = calloc(N * K, sizeof *pp);
        double *AJ = calloc(K * P, sizeof *AJ), z[64], G[64 * 64], buf[4 * 64 * 64 + 128];
        const double w[3] = {-0.5, -0.5, 1.0};
        gsl_matrix *H1 = gsl_matrix_alloc(P, P), *H2 = gsl_matrix_alloc(P, P);
        gsl_matrix *Am = gsl_matrix_alloc(K, K), *AJm = gsl_matrix_alloc(K, P);
        for (size_t i = 0; i < N; i++) {
            double *Ji = J + i * K * P, *p = pp + i * K;
            hn_jacobian(m, th, s->x + i * s->in_size, ws, Ji, z);
            hn_loss_eval(m->loss, K, z, s->y_class ? s->y_class[i] : 0,
                         s->y_vec ? s->y_vec + i * K : NULL, NULL, p);
            for (size_t a = 0; a < K; a++)
                memcpy(Jb + (i * K + a) * Pb, Ji + a * P, Pb * sizeof *Jb);
            if (d)
                memcpy(xh + i * d, hn_ws_act(ws, (int)m->n_layers - 2), d * sizeof *xh);
            gsl_matrix_set_zero(H1);
            assert_int_equal(hn_outer_add(m->loss, K, P, p, Ji, 1.0, AJ, H1), 0);
            assert_int_equal(hn_outer_add(m->loss, K, P, p, Ji, w[i], AJ, Hw), 0);
            hn_loss_hess_matrix(m->loss, K, p, Am->data);
            gsl_matrix_const_view Jv = gsl_matrix_const_view_array(Ji, K, P);
            hn_outer_dense(Am, &Jv.matrix, AJm, H2);
            assert_mat_close(H2, H1, 1e-12); /* A applied by differences vs A formed: rounding */
            assert_int_equal(hn_eig_sym_lapack(H1, ev, NULL, &e), 0);
            double nrm;
            hn_outer_sample_gram(K, P, Ji, G);
            assert_int_equal(hn_outer_sample_norm(m->loss, K, p, G, buf, &nrm), 0);
            /* K x K against P x P spectrum: both backward stable */
            assert_close(nrm, gsl_vector_get(ev, P - 1), 1e-10, 1e-14);
        }
        /* operator: sum_i w_i J_i^T A_i J_i v, against the dense sum and with
         * the head block implicit */
        double *v = calloc(P, sizeof *v), *y1 = calloc(P, sizeof *y1), *y2 = calloc(P, sizeof *y2);
        double *want = calloc(P, sizeof *want), u[3 * 64];
        hn_test_fill_uniform(r, v, P, -1, 1);
        gsl_vector_view vv = gsl_vector_view_array(v, P), wv = gsl_vector_view_array(want, P);
        gsl_blas_dgemv(CblasNoTrans, 1.0, Hw, &vv.vector, 0.0, &wv.vector);
        hn_outer_op full = {m->loss, K, P, 0, N, J, xh, pp, w, u, 1};
        hn_outer_op head = {m->loss, K, Pb, d, N, Jb, xh, pp, w, u, 2};
        assert_int_equal(hn_outer_op_apply(&full, v, y1), 0);
        assert_int_equal(hn_outer_op_apply(&head, v, y2), 0);
        double ymax = 0;
        for (size_t j = 0; j < P; j++)
            ymax = fmax(ymax, fabs(want[j]));
        for (size_t j = 0; j < P; j++) {
            assert_close(y1[j], want[j], 0, 1e-12 * ymax); /* the same sums in another order */
            assert_close(y2[j], y1[j], 0, 1e-12 * ymax);   /* I_K (x) x^T applied, not stored */
        }
        free(v); free(y1); free(y2); free(want);
        gsl_matrix_free(H1); gsl_matrix_free(H2); gsl_matrix_free(Am); gsl_matrix_free(AJm);
        free(J); free(Jb); free(xh); free(pp); free(AJ);
        hn_ws_free(ws);
        gsl_matrix_free(HO); gsl_matrix_free(Hw); gsl_vector_free(ev);
        free(th);
        hn_samples_free(s);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* the operator refuses a K beyond its per-thread buffer instead of
 * overrunning it */
static void test_outer_op_max_k(void **state)
{
    (void)state;
    double v[1] = {0}, y[1] = {42};
    hn_outer_op op = {HN_LOSS_CE, HN_OUTER_OP_MAX_K + 1, 1, 0, 0, NULL, NULL, NULL, NULL, NULL, 1};
    assert_int_equal(hn_outer_op_apply(&op, v, y), HN_EINVAL);
    assert_true(y[0] == 42);
}

/* inspect's two routes to H_O's nonzero spectrum (the N K x N K Gram
 * matrix, the P x P H_O) agree, for batches with N K below and above P,
 * and the count never exceeds min(N K, P). */
static void test_outer_spectrum_routes(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(45);
    hn_err e;
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        const size_t P = m->n_params, K = m->classes;
        const size_t Ns[2] = {1, P / K + 2}; /* N K <= P, then N K > P */
        for (int c = 0; c < 2; c++) {
            const size_t N = Ns[c];
            hn_samples *s;
            assert_int_equal(hn_samples_alloc(m, N, &s, &e), 0);
            double *th = calloc(P, sizeof *th);
            hn_test_draw(m, r, 1.5, KINK, th, s);
            gsl_matrix *HO = gsl_matrix_alloc(P, P);
            assert_int_equal(hn_hessian_outer(m, th, s, HO, &e), 0);
            double *ge = NULL, *de = NULL;
            size_t ng = 0, nd = 0;
            assert_int_equal(hn_outer_gram_eigs(m, th, s, 1e-9, &ge, &ng, &e), 0);
            assert_int_equal(hn_outer_dense_eigs(HO, 1e-9, &de, &nd, &e), 0);
            /* a network whose H_O is 0 here (a dead ReLU layer) has none by either route */
            assert_true(nd <= (N * K < P ? N * K : P) && (nd >= 1 || ng == 0));
            /* the count can differ only by eigenvalues at the 1e-9 cut */
            const size_t n = ng < nd ? ng : nd;
            assert_true(ng + 2 >= nd && nd + 2 >= ng);
            for (size_t k = 0; k < n; k++) /* two backward-stable routes: |d lambda| ~ P eps ||H_O|| */
                assert_close(ge[k], de[k], 0, 1e-11 * de[0]);
            hn_free(ge);
            hn_free(de);
            gsl_matrix_free(HO);
            free(th);
            hn_samples_free(s);
        }
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hessian_vs_fd),
        cmocka_unit_test(test_zero_residual),
        cmocka_unit_test(test_batch_mean_symmetry),
        cmocka_unit_test(test_outer_routes),
        cmocka_unit_test(test_outer_op_max_k),
        cmocka_unit_test(test_outer_spectrum_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
