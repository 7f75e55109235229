/* hessnorm — the paper's dense matrices against the direct tensor route,
 * finite differences, and the vec/Kronecker identities they rely on. */
#include "testutil.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>

#define KINK 1e-3
/* Dense products vs direct loops: same numbers summed in another order;
 * sums of <= a few hundred O(1) terms, rounding ~1e-14 relative. */
#define EXACT_RTOL 1e-13
/* Central differences with h = 1e-6 (see test_layers.c). */
#define FD_H 1e-6
#define FD_RTOL 1e-6

static gsl_matrix *random_matrix(gsl_rng *r, size_t m, size_t n)
{
    gsl_matrix *A = gsl_matrix_alloc(m, n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(A, i, j, 2 * gsl_rng_uniform(r) - 1);
    return A;
}

static gsl_matrix *mul(const gsl_matrix *A, const gsl_matrix *B, CBLAS_TRANSPOSE_t ta)
{
    size_t m = ta == CblasTrans ? A->size2 : A->size1;
    gsl_matrix *C = gsl_matrix_alloc(m, B->size2);
    gsl_blas_dgemm(ta, CblasNoTrans, 1.0, A, B, 0.0, C);
    return C;
}

/* vec_r(A X B) = (A (x) B^T) vec_r(X);  (A(x)B)(C(x)D) = AC (x) BD;
 * ||A (x) B|| = ||A|| ||B||. */
static void test_kron_identities(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(21);
    hn_err e;
    for (int t = 0; t < 10; t++) {
        size_t m = 1 + gsl_rng_uniform_int(r, 4), n = 1 + gsl_rng_uniform_int(r, 4);
        size_t p = 1 + gsl_rng_uniform_int(r, 4), q = 1 + gsl_rng_uniform_int(r, 4);
        gsl_matrix *A = random_matrix(r, m, n), *X = random_matrix(r, n, p), *B = random_matrix(r, p, q);
        gsl_matrix *AX = mul(A, X, CblasNoTrans), *AXB = mul(AX, B, CblasNoTrans);
        gsl_matrix *Bt = gsl_matrix_alloc(q, p);
        gsl_matrix_transpose_memcpy(Bt, B);
        gsl_matrix *K = hn_kron(A, Bt);
        gsl_vector *vx = hn_vec_r(X), *lhs = hn_vec_r(AXB), *rhs = gsl_vector_alloc(m * q);
        gsl_blas_dgemv(CblasNoTrans, 1.0, K, vx, 0.0, rhs);
        assert_vec_close(lhs->data, rhs->data, m * q, EXACT_RTOL);
        /* mixed product */
        gsl_matrix *C = random_matrix(r, n, 2), *D = random_matrix(r, q, 3);
        gsl_matrix *AB = hn_kron(A, B), *CD = hn_kron(C, D), *L = mul(AB, CD, CblasNoTrans);
        gsl_matrix *AC = mul(A, C, CblasNoTrans), *BD = mul(B, D, CblasNoTrans), *R = hn_kron(AC, BD);
        assert_mat_close(L, R, EXACT_RTOL);
        double na, nb, nk;
        assert_int_equal(hn_norm2(A, &na, &e), 0);
        assert_int_equal(hn_norm2(B, &nb, &e), 0);
        assert_int_equal(hn_norm2(AB, &nk, &e), 0);
        assert_close(nk, na * nb, 1e-12, 0); /* SVD relative accuracy ~ n eps */
        gsl_matrix_free(A); gsl_matrix_free(X); gsl_matrix_free(B); gsl_matrix_free(AX);
        gsl_matrix_free(AXB); gsl_matrix_free(Bt); gsl_matrix_free(K); gsl_vector_free(vx);
        gsl_vector_free(lhs); gsl_vector_free(rhs); gsl_matrix_free(C); gsl_matrix_free(D);
        gsl_matrix_free(AB); gsl_matrix_free(CD); gsl_matrix_free(L); gsl_matrix_free(AC);
        gsl_matrix_free(BD); gsl_matrix_free(R);
    }
    gsl_rng_free(r);
}

/* T x = direct convolution; M x = max pooling; avg matrix x = avg pooling;
 * Q vec(W) = vec_r(T) (T is linear in W). */
static void test_T_Q_pool_vs_direct(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(22);
    hn_err e;
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        double *th = calloc(m->n_params, sizeof *th);
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
        hn_test_draw(m, r, 1.0, KINK, th, s);
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        hn_forward(m, th, s->x, ws, NULL);
        for (size_t i = 0; i < m->n_layers; i++) {
            const hn_layer *ly = &m->layers[i];
            const double *in = hn_ws_act(ws, (int)i - 1), *out = hn_ws_act(ws, (int)i);
            gsl_matrix *M = NULL;
            size_t nin = hn_shape_size(ly->in), nout = hn_shape_size(ly->out);
            if (hn_layer_is_linear(ly->type))
                assert_int_equal(hn_mat_T(m, th, i, &M, &e), 0);
            else if (ly->type == HN_MAXPOOL1D || ly->type == HN_MAXPOOL2D)
                assert_int_equal(hn_mat_maxpool(ly->in, ly->kh, ly->kw, hn_ws_argmax(ws, i), &M, &e), 0);
            else if (ly->type == HN_AVGPOOL1D || ly->type == HN_AVGPOOL2D)
                assert_int_equal(hn_mat_avgpool(ly->in, ly->kh, ly->kw, &M, &e), 0);
            else if (ly->type == HN_RELU)
                assert_int_equal(hn_mat_relu(in, nin, &M, &e), 0);
            else
                continue;
            assert_int_equal(M->size1, nout);
            assert_int_equal(M->size2, nin);
            gsl_vector_const_view xv = gsl_vector_const_view_array(in, nin);
            gsl_vector *y = gsl_vector_alloc(nout);
            gsl_blas_dgemv(CblasNoTrans, 1.0, M, &xv.vector, 0.0, y);
            assert_vec_close(y->data, out, nout, EXACT_RTOL);
            if (hn_layer_is_linear(ly->type)) {
                gsl_matrix *Q = NULL;
                assert_int_equal(hn_mat_Q(m, i, &Q, &e), 0);
                gsl_vector_const_view wv = gsl_vector_const_view_array(th + ly->param_offset, ly->param_count);
                gsl_vector *qw = gsl_vector_alloc(Q->size1), *vt = hn_vec_r(M);
                gsl_blas_dgemv(CblasNoTrans, 1.0, Q, &wv.vector, 0.0, qw);
                assert_vec_close(qw->data, vt->data, Q->size1, 0.0); /* copies: exact */
                gsl_vector_free(qw);
                gsl_vector_free(vt);
                gsl_matrix_free(Q);
            }
            gsl_vector_free(y);
            gsl_matrix_free(M);
        }
        hn_ws_free(ws);
        hn_samples_free(s);
        free(th);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* The chain: R^(p) x = x^(p) (the activation), G^(p) T^(p) R^(p-1) x = z,
 * and eq. (3): z = T^(L+1) Lambda^(L) ... T^(1) x. */
static void test_chain(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(23);
    hn_err e;
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        double *th = calloc(m->n_params, sizeof *th);
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
        hn_test_draw(m, r, 1.0, KINK, th, s);
        hn_paper *pp;
        assert_int_equal(hn_paper_build(m, th, s, 0, &pp, &e), 0);
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        hn_forward(m, th, s->x, ws, NULL);
        for (size_t t = 0; t < pp->n_lin; t++) {
            /* input of linear op t is the activation before layers[linear_pos[t]] */
            const double *act = hn_ws_act(ws, (int)m->linear_pos[t] - 1);
            assert_vec_close(pp->Rx[t]->data, act, pp->Rx[t]->size, EXACT_RTOL);
            gsl_vector *tr = gsl_vector_alloc(pp->T[t]->size1), *z = gsl_vector_alloc(m->classes);
            gsl_blas_dgemv(CblasNoTrans, 1.0, pp->T[t], pp->Rx[t], 0.0, tr);
            gsl_blas_dgemv(CblasNoTrans, 1.0, pp->G[t], tr, 0.0, z);
            assert_vec_close(z->data, pp->logits, m->classes, EXACT_RTOL);
            gsl_vector_free(tr);
            gsl_vector_free(z);
        }
        hn_ws_free(ws);
        hn_paper_free(pp);
        hn_samples_free(s);
        free(th);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* Lemma 1 route vs backprop: J = F Q equals the backprop Jacobian (and,
 * through test_layers, finite differences); F Q computed from the full
 * block-diagonal Q equals the blockwise product; H_O = Q^T F^T A F Q
 * equals J^T A J from hn_hessian_outer. */
static void test_lemma1_routes(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(24);
    hn_err e;
    for (int fam = 0; fam < HN_TEST_FAMILIES; fam++) {
        hn_model *m = hn_test_model(fam);
        const size_t P = m->n_params, K = m->classes;
        double *th = calloc(P, sizeof *th), *J = calloc(K * P, sizeof *J);
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
        for (int trial = 0; trial < 3; trial++) {
            hn_test_draw(m, r, 1.5, KINK, th, s);
            hn_paper *pp;
            assert_int_equal(hn_paper_build(m, th, s, 0, &pp, &e), 0);
            hn_ws *ws;
            assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
            hn_jacobian(m, th, s->x, ws, J, NULL);
            gsl_matrix_view Jb = gsl_matrix_view_array(J, K, P);
            assert_mat_close(pp->J, &Jb.matrix, EXACT_RTOL);
            assert_non_null(pp->Qfull);
            gsl_matrix *FQ = mul(pp->F, pp->Qfull, CblasNoTrans);
            assert_mat_close(FQ, pp->J, EXACT_RTOL);
            /* literal association Q^T (F^T (A (F Q))) */
            gsl_matrix *AFQ = mul(pp->A, FQ, CblasNoTrans);
            gsl_matrix *FtAFQ = mul(pp->F, AFQ, CblasTrans);
            gsl_matrix *H1 = mul(pp->Qfull, FtAFQ, CblasTrans);
            gsl_matrix *HO = gsl_matrix_alloc(P, P);
            assert_int_equal(hn_hessian_outer(m, th, s, HO, &e), 0);
            assert_mat_close(H1, HO, 1e-12); /* longer products: a few 1e-14 */
            assert_mat_close(pp->HO, HO, 1e-12);
            gsl_matrix_free(FQ); gsl_matrix_free(AFQ); gsl_matrix_free(FtAFQ);
            gsl_matrix_free(H1); gsl_matrix_free(HO);
            hn_ws_free(ws);
            hn_paper_free(pp);
        }
        hn_samples_free(s);
        free(th);
        free(J);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* Structural facts with an independent source: for CE, A = diag(p) - pp^T
 * has rows summing to zero and is PSD; Q has 0/1 entries and each weight
 * appears once per output position, so Q^T Q = (H_out W_out) I. */
static void test_structure(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(25);
    hn_err e;
    hn_model *m = hn_test_model(1);
    double *th = calloc(m->n_params, sizeof *th);
    hn_samples *s;
    assert_int_equal(hn_samples_alloc(m, 1, &s, &e), 0);
    hn_test_draw(m, r, 1.0, KINK, th, s);
    hn_paper *pp;
    assert_int_equal(hn_paper_build(m, th, s, 0, &pp, &e), 0);
    for (size_t a = 0; a < m->classes; a++) {
        double rs = 0;
        for (size_t b = 0; b < m->classes; b++)
            rs += gsl_matrix_get(pp->A, a, b);
        assert_close(rs, 0.0, 0, 1e-15); /* sum of K terms of size <= 1 */
    }
    for (size_t t = 0; t < pp->n_lin; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        gsl_matrix *QtQ = mul(pp->Q[t], pp->Q[t], CblasTrans);
        double npos = (double)(ly->out.h * ly->out.w);
        for (size_t i = 0; i < QtQ->size1; i++)
            for (size_t j = 0; j < QtQ->size2; j++)
                assert_close(gsl_matrix_get(QtQ, i, j), i == j ? npos : 0.0, 0, 0); /* integers */
        gsl_matrix_free(QtQ);
    }
    hn_paper_free(pp);
    hn_samples_free(s);
    free(th);
    hn_model_free(m);
    gsl_rng_free(r);
}

static void test_too_big(void **state)
{
    (void)state;
    hn_err e;
    size_t d[] = {64, 256, 256};
    hn_model *m;
    assert_int_equal(hn_model_new(3, d, 2, HN_LOSS_CE, &m, &e), 0);
    assert_int_equal(hn_model_add(m, HN_CONV2D, 64, 3, 3, &e), 0);
    assert_int_equal(hn_model_add(m, HN_FLATTEN, 0, 0, 0, &e), 0);
    assert_int_equal(hn_model_add(m, HN_LINEAR, 2, 1, 1, &e), 0);
    assert_int_equal(hn_model_finalize(m, &e), 0);
    gsl_matrix *Q = NULL;
    assert_int_equal(hn_mat_Q(m, 0, &Q, &e), HN_ETOOBIG);
    assert_null(Q);
    assert_non_null(strstr(e.msg, "Q"));
    hn_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kron_identities), cmocka_unit_test(test_T_Q_pool_vs_direct),
        cmocka_unit_test(test_chain),           cmocka_unit_test(test_lemma1_routes),
        cmocka_unit_test(test_structure),       cmocka_unit_test(test_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
