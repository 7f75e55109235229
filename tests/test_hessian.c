/* hessnorm — the full Hessian (exact HVPs) against finite differences of
 * the analytic gradient, the zero-residual identity H = H_O, and batch means. */
#include "testutil.h"
#include <math.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hessian_vs_fd),
        cmocka_unit_test(test_zero_residual),
        cmocka_unit_test(test_batch_mean_symmetry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
