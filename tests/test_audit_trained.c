/* hessnorm — Assumption 1 and equation (1) at trained minima
 * (audit/trained.c): the trained theta* is a minimum of L_k (checked by
 * finite differences of L_k, not by the trainer's own gradient), Assumption
 * 1 fails there with ||grad l_{k+1}|| of order 1, it holds where every
 * sample is interpolated, and the audit's trained counterexample is
 * reproduced by hn_audit_one_landscape from its saved files. */
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/hessian.h"
#include "hessnorm/layers.h"
#include "hessnorm/spectra.h"
#include "audit/internal.h"
#include "audit/families.h"
#include "audit/trained.h"
#include <jansson.h>

#define SEED 1
#define SQ(x) ((x) * (x))

/* A trained network (hn_trained_net's outputs). */
typedef struct {
    hn_netspec ns;
    size_t k;
    hn_model *m;
    double *theta;
    hn_samples *s;
    hn_trained_info ti;
} tnet;

static void tnet_make(size_t i, tnet *t)
{
    hn_err e;
    if (hn_trained_net(SEED, i, &t->ns, &t->k, &t->m, &t->theta, &t->s, &t->ti, &e))
        fail_msg("trained net %zu: %s", i, e.msg);
}

static void tnet_free(tnet *t)
{
    hn_model_free(t->m);
    hn_free(t->theta);
    hn_samples_free(t->s);
}

/* Mean loss of the first k samples of s at theta. */
static double loss_k(const hn_model *m, const double *theta, const hn_samples *s, size_t k)
{
    hn_samples first = *s;
    first.n = k;
    double l;
    hn_err e;
    assert_int_equal(hn_batch_loss_grad(m, theta, &first, &l, NULL, &e), 0);
    return l;
}

/* Central differences of L_k (or, with k = s->n - 1 and last = 1, of l_{k+1}
 * alone) at theta: ||gradient|| by a route that shares nothing with the
 * backprop gradients the trainer stops on. */
static double fd_grad_norm(const hn_model *m, const double *theta, const hn_samples *s, size_t k, int last)
{
    const size_t P = m->n_params;
    double *t = malloc(P * sizeof *t), sq = 0;
    memcpy(t, theta, P * sizeof *t);
    hn_samples one = hn_samples_view(s, k);
    for (size_t j = 0; j < P; j++) {
        /* h = 1e-5 |theta_j|: truncation ~h^2 |L'''| ~ 1e-10, rounding ~1e-16 L / h ~ 1e-11 */
        double h = 1e-5 * fmax(fabs(theta[j]), 1.0);
        t[j] = theta[j] + h;
        double up = last ? loss_k(m, t, &one, 1) : loss_k(m, t, s, k);
        t[j] = theta[j] - h;
        double dn = last ? loss_k(m, t, &one, 1) : loss_k(m, t, s, k);
        t[j] = theta[j];
        sq += SQ((up - dn) / (2 * h));
    }
    free(t);
    return sqrt(sq);
}

/* The trained theta* of networks 0 (a ReLU cross-entropy net), 1 (a
 * one-conv cross-entropy net), 2 (an MSE ReLU net fitting its k samples):
 * stationary for L_k by backprop and by finite differences, a minimum (no
 * negative curvature), and grad l_{k+1} is of order 1 there. */
static void test_trained_minimum(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        tnet t;
        hn_err e;
        tnet_make(i, &t);
        assert_true(t.ti.converged);
        assert_true(t.ti.grad_rel <= HN_TRAINED_GTOL);
        const size_t P = t.m->n_params, k = t.k;
        assert_int_equal(t.s->n, k + 1);
        /* backprop again, through hn_batch_loss_grad (not the trainer's loop) */
        hn_samples first = *t.s;
        first.n = k;
        double *g = calloc(P, sizeof *g), l;
        assert_int_equal(hn_batch_loss_grad(t.m, t.theta, &first, &l, g, &e), 0);
        double gk = hn_vec_norm(g, P);
        double fd_k = fd_grad_norm(t.m, t.theta, t.s, k, 0);
        double fd_last = fd_grad_norm(t.m, t.theta, t.s, k, 1);
        print_message("trained %zu (P=%zu, k=%zu, %s): |grad L_k| = %.3g (FD %.3g), |grad l_k+1| FD %.3g, %zu Adam + "
                      "%zu Newton steps\n", i, P, k, t.ns.mse ? "MSE" : "CE", gk, fd_k, fd_last, t.ti.adam_steps,
                      t.ti.newton_iters);
        assert_true(gk <= 1e-11); /* HN_TRAINED_GTOL times a gradient scale of at most 10 */
        /* finite differences: ||grad L_k|| at the FD noise level (~1e-9, see fd_grad_norm) while
         * the same route sees ||grad l_{k+1}|| >= 1e-2; 1e-7 is 100x that noise */
        assert_true(fd_k <= 1e-7);
        assert_true(fd_last >= 1e-2);
        /* a minimum: no Hessian eigenvalue of L_k below -1e-8 of the largest (the flat
         * directions of the ReLU rescaling symmetry sit at rounding level, ~1e-14) */
        gsl_matrix *H = gsl_matrix_alloc(P, P);
        gsl_vector *ev = gsl_vector_alloc(P);
        assert_int_equal(hn_hessian_full(t.m, t.theta, &first, H, &e), 0);
        assert_int_equal(hn_eig_sym_lapack(H, ev, NULL, &e), 0);
        assert_true(gsl_vector_get(ev, 0) >= -1e-8 * gsl_vector_get(ev, P - 1));
        gsl_matrix_free(H);
        gsl_vector_free(ev);
        free(g);
        tnet_free(&t);
    }
}

/* Facts of t at theta* + R e_1. */
static hn_facts *facts_at(const tnet *t, double R)
{
    const size_t P = t->m->n_params;
    double *delta = calloc(P, sizeof *delta);
    delta[0] = R;
    hn_facts *f;
    hn_err e;
    if (hn_facts_compute(&t->ns, t->m, t->theta, t->s, t->k, delta, &f, &e))
        fail_msg("%s", e.msg);
    free(delta);
    return f;
}

/* assumption1 fails at the trained minimum, with ||grad l_{k+1}|| of order
 * >= 1e-2; where every sample (the (k+1)-th too) is interpolated it holds,
 * and the first-order term eq1.first_order measures is 0 there. */
static void test_assumption1(void **state)
{
    (void)state;
    const hn_claim *a1 = hn_claim_find("assumption1"), *fo = hn_claim_find("eq1.first_order");
    assert_non_null(a1);
    assert_non_null(fo);
    for (size_t i = 0; i < 4; i++) {
        tnet t;
        hn_err e;
        tnet_make(i, &t);
        hn_facts *f = facts_at(&t, 1e-3);
        hn_claim_value v;
        assert_int_equal(hn_claim_eval(a1, f, &v), 0);
        assert_true(hn_claim_violated(a1, &v));
        assert_true(f->gl_last_norm >= 1e-2);
        /* grad L_{k+1} = grad l_{k+1} / (k+1) at a minimum of L_k (to HN_TRAINED_GTOL relative) */
        assert_close(f->gLk1_norm, f->gl_last_norm / (double)(t.k + 1), 1e-9, 0);
        assert_close(v.measured, f->gLk1_norm, 0, 0);
        hn_facts_free(f);
        if (t.ns.mse) {
            /* every target y_i = f(x_i): every grad l_i = 0, Assumption 1 holds exactly */
            assert_int_equal(hn_family_interpolate(t.m, t.theta, t.s, &e), 0);
            f = facts_at(&t, 1e-3);
            assert_int_equal(hn_claim_eval(a1, f, &v), 0);
            assert_false(hn_claim_violated(a1, &v));
            assert_int_equal(hn_claim_eval(fo, f, &v), 0);
            assert_false(hn_claim_violated(fo, &v));
            assert_true(v.measured == 0);
            hn_facts_free(f);
        }
        tnet_free(&t);
    }
}

static const hn_claim_instance *find(const hn_claim_instance *r, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].claim->id, id))
            return &r[i];
    fail_msg("claim %s not in the result", id);
    return NULL;
}

/* An audit on the trained networks alone saves trained counterexamples of
 * eq1, eq1.first_order and assumption1; hn_audit_one_landscape on the saved
 * files gives claim.json's two sides again. */
static void test_trained_counterexample(void **state)
{
    (void)state;
    hn_audit_opts o;
    hn_audit_defaults(&o);
    o.seed = SEED;
    o.n_random = o.n_adversarial = o.nm_iterations = 0;
    o.claims = "eq1,eq1.first_order,assumption1";
    o.figures = 0;
    o.budget_seconds = 1e9; /* the counts, not the clock, fix the run (a slow sanitizer build) */
    char out[4096];
    snprintf(out, sizeof out, "%s", hn_test_tmpdir());
    o.out_dir = out;
    hn_err e;
    if (hn_audit_run(&o, &e))
        fail_msg("%s", e.msg);
    static const char *ids[] = {"eq1", "eq1.first_order", "assumption1"};
    const size_t nc = hn_claims_count();
    hn_claim_instance *r = calloc(nc, sizeof *r);
    for (size_t c = 0; c < 3; c++) {
        char dir[4200], p[4300];
        snprintf(dir, sizeof dir, "%s/counterexamples/%s", out, ids[c]);
        snprintf(p, sizeof p, "%s/claim.json", dir);
        json_error_t je;
        json_t *cj = json_load_file(p, 0, &je);
        if (!cj)
            fail_msg("%s: no counterexample (%s)", ids[c], je.text);
        assert_non_null(strstr(json_string_value(json_object_get(cj, "family")), "trained"));
        hn_model *m;
        hn_samples *smp;
        snprintf(p, sizeof p, "%s/model.json", dir);
        assert_int_equal(hn_model_load(p, &m, &e), 0);
        const size_t P = m->n_params;
        double *th = calloc(P, sizeof *th), *star = calloc(P, sizeof *star);
        snprintf(p, sizeof p, "%s/weights.safetensors", dir);
        assert_int_equal(hn_weights_load(m, p, th, &e), 0);
        snprintf(p, sizeof p, "%s/weights_star.safetensors", dir);
        assert_int_equal(hn_weights_load(m, p, star, &e), 0);
        snprintf(p, sizeof p, "%s/sample.safetensors", dir);
        assert_int_equal(hn_samples_load(m, p, &smp, &e), 0);
        assert_int_equal(smp->n, (size_t)json_integer_value(json_object_get(cj, "k")) + 1);
        size_t n = 0;
        if (hn_audit_one_landscape(m, th, star, smp, NULL, r, nc, &n, &e))
            fail_msg("%s: %s", ids[c], e.msg);
        const hn_claim_instance *x = find(r, n, ids[c]);
        assert_true(x->applicable && x->violated);
        /* the same facts code on the same input, but delta = theta - theta* recomputed from the
         * saved theta* + delta (one rounding per entry): relative 1e-9, as for the committed ones */
        assert_close(x->value.measured, json_real_value(json_object_get(cj, "measured")), 1e-9, 1e-300);
        assert_close(x->value.bound, json_real_value(json_object_get(cj, "bound")), 1e-9, 1e-300);
        print_message("%-16s trained counterexample (P=%zu, k=%zu): measured %.6g bound %.6g\n", ids[c], P,
                      smp->n - 1, x->value.measured, x->value.bound);
        /* the equation-(1) facts are there: no claim is n/a for want of theta* */
        for (size_t i = 0; i < n; i++)
            assert_int_not_equal(r[i].na, HN_NA_LANDSCAPE);
        hn_samples_free(smp);
        free(th);
        free(star);
        hn_model_free(m);
        json_decref(cj);
    }
    free(r);
}

/* hn_audit_one_landscape's own errors: NULL theta*, theta* not finite, a
 * one-sample set, a bad label beyond the first sample; nothing written. */
static void test_landscape_bad_args(void **state)
{
    (void)state;
    tnet t;
    hn_err e;
    tnet_make(1, &t);
    const size_t nc = hn_claims_count(), P = t.m->n_params;
    hn_claim_instance *r = calloc(nc, sizeof *r);
    double *star = calloc(P, sizeof *star);
    memcpy(star, t.theta, P * sizeof *star);
    size_t n = 12345;
    assert_int_equal(hn_audit_one_landscape(t.m, t.theta, NULL, t.s, NULL, r, nc, &n, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "theta* is NULL"));
    star[2] = NAN;
    assert_int_equal(hn_audit_one_landscape(t.m, t.theta, star, t.s, NULL, r, nc, &n, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "theta*[2]: not finite"));
    star[2] = t.theta[2];
    hn_samples one = hn_samples_view(t.s, 0);
    assert_int_equal(hn_audit_one_landscape(t.m, t.theta, star, &one, NULL, r, nc, &n, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "k+1 >= 2 samples"));
    long keep = t.s->y_class[3];
    t.s->y_class[3] = -1;
    assert_int_equal(hn_audit_one_landscape(t.m, t.theta, star, t.s, NULL, r, nc, &n, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "y[3] = -1"));
    t.s->y_class[3] = keep;
    assert_int_equal(n, 12345);
    /* theta = theta*: R = 0, both sides of (1) are its zeroth-order term; assumption1 still fails */
    assert_int_equal(hn_audit_one_landscape(t.m, t.theta, star, t.s, "assumption1,eq1", r, nc, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].claim->id, "eq1"); /* registry order */
    assert_true(r[0].applicable && !r[0].violated);
    assert_true(r[1].applicable && r[1].violated);
    free(star);
    free(r);
    tnet_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trained_minimum),
        cmocka_unit_test(test_assumption1),
        cmocka_unit_test(test_trained_counterexample),
        cmocka_unit_test(test_landscape_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
