/* hessnorm — experiments: smoothing and the shuffle mean on hand-computable
 * cases, Lanczos against dense eigendecompositions (diagonal operators and
 * ||H_{O,k+1} - (1/k) sum H_{O,i}|| on tiny nets), per-sample ||H_O||,
 * Corollary 2's formula, and a whole sweep that resumes byte-identically. */
#include "testutil.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gsl/gsl_eigen.h>
#include "experiment/internal.h"

/* ------------------------------------------------------------ curves */

static void test_ema_hand(void **state)
{
    (void)state;
    /* a = 0.5: s = 1, 0.5*1 + 0.5*0 = 0.5, 0.25, 0.5*0.25 + 0.5*1 = 0.625 */
    const double x[4] = {1, 0, 0, 1};
    double s[4];
    hn_ema(x, 4, 0.5, s);
    /* exact: halving and adding these dyadic numbers never rounds */
    assert_close(s[0], 1.0, 0, 0);
    assert_close(s[1], 0.5, 0, 0);
    assert_close(s[2], 0.25, 0, 0);
    assert_close(s[3], 0.625, 0, 0);
    /* a = 0.995: s_2 = 0.995*2 + 0.005*4 = 2.01; in place */
    double y[2] = {2, 4};
    hn_ema(y, 2, 0.995, y);
    /* 1e-15: two roundings */
    assert_close(y[1], 2.01, 1e-15, 0);
}

static void test_loss_diff_hand(void **state)
{
    (void)state;
    /* losses (0, 0, 3).  Order (0,1,2): L_1 = 0, L_2 = 0, L_3 = 1:
     *   |L_2 - L_1| = 0, |L_3 - L_2| = 1.
     * Order (2,0,1): losses 3, 0, 0: L_1 = 3, L_2 = 1.5, L_3 = 1:
     *   |L_2 - L_1| = 1.5, |L_3 - L_2| = 0.5. */
    const double l[3] = {0, 0, 3};
    double acc[2] = {0, 0};
    const size_t o1[3] = {0, 1, 2}, o2[3] = {2, 0, 1};
    hn_loss_diff_add(l, o1, 3, acc);
    /* exact: |0 - 0| / 2 */
    assert_close(acc[0], 0.0, 0, 0);
    /* 1e-15: one division by 3 */
    assert_close(acc[1], 1.0, 1e-15, 0);
    hn_loss_diff_add(l, o2, 3, acc);
    /* 1e-15: one division by 2 or 3 per term */
    assert_close(acc[0], 1.5, 1e-15, 0);
    assert_close(acc[1], 1.5, 1e-15, 0);
    /* over the 6 equally likely orders the 3 comes first, second or last
     * with probability 1/3 each: E|L_2 - L_1| = (1.5 + 1.5 + 0)/3 = 1,
     * E|L_3 - L_2| = (0.5 + 0.5 + 1)/3 = 2/3 */
    gsl_rng *r = hn_test_rng(3);
    double mean[2];
    hn_err e;
    assert_int_equal(hn_loss_diff_curve(l, 3, 20000, r, mean, &e), 0);
    /* per-order sd <= 0.75, so the mean of 20000 has sd <= 0.0053: 0.03 is > 5 sd */
    assert_close(mean[0], 1.0, 0, 0.03);
    assert_close(mean[1], 2.0 / 3.0, 0, 0.03);
    assert_int_equal(hn_loss_diff_curve(l, 1, 5, r, mean, &e), HN_EINVAL);
    assert_int_equal(hn_loss_diff_curve(l, 3, 0, r, mean, &e), HN_EINVAL);
    /* the identity L_{k+1} - L_k = (l_{k+1} - L_k)/(k+1) against the
     * definition (running means differenced), on random losses */
    enum { N = 1000 };
    double *lv = malloc(N * sizeof *lv), *a1 = calloc(N, sizeof *a1);
    hn_test_fill_uniform(r, lv, N, 0, 3);
    hn_loss_diff_add(lv, NULL, N, a1);
    double sum = lv[0], prev = lv[0];
    for (size_t k = 1; k < N; k++) {
        sum += lv[k];
        const double Lk1 = sum / (double)(k + 1);
        /* 1e-9: differencing two O(1) means whose gap is ~1/k loses up to log10(k) + 1 digits */
        assert_close(a1[k - 1], fabs(Lk1 - prev), 1e-9, 1e-15);
        prev = Lk1;
    }
    free(lv);
    free(a1);
    /* constant losses: every difference is exactly 0 */
    const double c[4] = {0.75, 0.75, 0.75, 0.75}; /* sums and means exact in binary */
    double z[3];
    assert_int_equal(hn_loss_diff_curve(c, 4, 3, r, z, &e), 0);
    for (int i = 0; i < 3; i++)
        assert_true(z[i] == 0.0);
    gsl_rng_free(r);
    /* quantiles: numpy's linear interpolation */
    const double srt[5] = {1, 2, 4, 8, 16};
    /* exact at order statistics; 1e-15 for one interpolation (pos 1.5) */
    assert_close(hn_quantile_sorted(srt, 5, 0.5), 4, 0, 0);
    assert_close(hn_quantile_sorted(srt, 5, 0.375), 3, 1e-15, 0);
    assert_close(hn_quantile_sorted(srt, 5, 1.0), 16, 0, 0);
}

/* ------------------------------------------------------------ Lanczos */

typedef struct {
    const double *d;
    size_t n;
} diag_op;

static int diag_mv(void *ctx, const double *x, double *y)
{
    const diag_op *o = ctx;
    for (size_t i = 0; i < o->n; i++)
        y[i] = o->d[i] * x[i];
    return 0;
}

static int fail_mv(void *ctx, const double *x, double *y)
{
    (void)ctx;
    (void)x;
    (void)y;
    return HN_ENUMERIC;
}

static void test_lanczos_diag(void **state)
{
    (void)state;
    hn_err e;
    hn_lanczos_result res;
    /* indefinite: the largest modulus is the most negative eigenvalue */
    enum { N = 300 };
    double d[N];
    for (size_t i = 0; i < N; i++)
        d[i] = sin(0.37 * (double)i) * 2.0; /* in (-2, 2) */
    d[17] = -5.0;
    d[200] = 3.5;
    diag_op op = {d, N};
    assert_int_equal(hn_lanczos_extreme(N, diag_mv, &op, 300, 1e-10, 1, 2, &res, &e), 0);
    assert_true(res.converged);
    /* 1e-8: the brief's accuracy; the residual bound is 1e-10 * 5 */
    assert_close(res.norm, 5.0, 1e-8, 0);
    assert_close(res.lambda_min, -5.0, 1e-8, 0);
    assert_close(res.lambda_max, 3.5, 1e-8, 0);
    /* a rank-2 operator: the Krylov space is invariant after 3 steps */
    double d2[N];
    memset(d2, 0, sizeof d2);
    d2[5] = 2.0;
    d2[9] = -1.0;
    op.d = d2;
    assert_int_equal(hn_lanczos_extreme(N, diag_mv, &op, 300, 1e-10, 4, 1, &res, &e), 0);
    assert_true(res.converged);
    assert_true(res.iterations <= 3);
    /* 1e-12: exact arithmetic up to rounding in an invariant 3-dim space */
    assert_close(res.norm, 2.0, 1e-12, 0);
    /* zero operator */
    memset(d2, 0, sizeof d2);
    assert_int_equal(hn_lanczos_extreme(N, diag_mv, &op, 300, 1e-10, 4, 1, &res, &e), 0);
    assert_true(res.converged);
    assert_true(res.norm == 0.0);
    /* errors */
    assert_int_equal(hn_lanczos_extreme(0, diag_mv, &op, 3, 1e-10, 4, 1, &res, &e), HN_EINVAL);
    assert_int_equal(hn_lanczos_extreme(N, diag_mv, &op, 0, 1e-10, 4, 1, &res, &e), HN_EINVAL);
    assert_int_equal(hn_lanczos_extreme(N, fail_mv, &op, 5, 1e-10, 4, 1, &res, &e), HN_ENUMERIC);
    assert_non_null(strstr(e.msg, "lanczos"));
}

/* Dense route: H_i = J_i^T A_i J_i from full backprop Jacobians, the P x P
 * difference matrix and its eigenvalues by LAPACK. */
static void dense_ho(const hn_model *m, const double *th, const hn_samples *s, size_t i,
                     gsl_matrix *H)
{
    const size_t K = m->classes, P = m->n_params;
    hn_ws *ws;
    hn_err e;
    assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
    double *J = calloc(K * P, sizeof *J), z[16], p[16], AJ[16];
    hn_jacobian(m, th, s->x + i * s->in_size, ws, J, z);
    hn_loss_eval(m->loss, K, z, s->y_class ? s->y_class[i] : 0, s->y_vec ? s->y_vec + i * K : NULL,
                 NULL, p);
    gsl_matrix_set_zero(H);
    double *col = calloc(K, sizeof *col);
    for (size_t b = 0; b < P; b++) {
        for (size_t a = 0; a < K; a++)
            col[a] = J[a * P + b];
        hn_loss_hess_apply(m->loss, K, p, col, AJ);
        for (size_t c = 0; c < P; c++) {
            double v = 0;
            for (size_t a = 0; a < K; a++)
                v += J[a * P + c] * AJ[a];
            gsl_matrix_set(H, c, b, v);
        }
    }
    free(col);
    free(J);
    hn_ws_free(ws);
}

static double dense_extreme(const gsl_matrix *M, double *lmin, double *lmax)
{
    gsl_vector *ev = gsl_vector_alloc(M->size1);
    hn_err e;
    assert_int_equal(hn_eig_sym_lapack(M, ev, NULL, &e), 0);
    *lmin = gsl_vector_get(ev, 0);
    *lmax = gsl_vector_get(ev, M->size1 - 1);
    gsl_vector_free(ev);
    return fmax(fabs(*lmin), fabs(*lmax));
}

static hn_model *tiny_model(int variant)
{
    hn_model *m;
    hn_err e;
    if (variant == 0) { /* the section-VI layout: last layer linear (stored implicitly) */
        hn_arch a = {2, 3, 2, HN_POOL_NONE, 0};
        assert_int_equal(hn_arch_model(&a, 1, 6, 6, 10, &m, &e), 0);
        return m;
    }
    if (variant == 1) { /* max pooling */
        hn_arch a = {2, 2, 2, HN_POOL_MAX, 0};
        assert_int_equal(hn_arch_model(&a, 1, 6, 6, 10, &m, &e), 0);
        return m;
    }
    /* last layer a conv covering its whole input: Jacobian stored in full */
    size_t dims[3] = {1, 6, 6};
    assert_int_equal(hn_model_new(3, dims, 10, HN_LOSS_CE, &m, &e), 0);
    assert_int_equal(hn_model_add(m, HN_CONV2D, 2, 3, 3, &e), 0);
    assert_int_equal(hn_model_add(m, HN_RELU, 0, 0, 0, &e), 0);
    assert_int_equal(hn_model_add(m, HN_CONV2D, 10, 4, 4, &e), 0);
    assert_int_equal(hn_model_finalize(m, &e), 0);
    return m;
}

static void test_ho_analysis_dense(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(21);
    hn_err e;
    for (int v = 0; v < 3; v++) {
        hn_model *m = tiny_model(v);
        const size_t P = m->n_params, N = 7;
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, N, &s, &e), 0);
        double *th = calloc(P, sizeof *th), *loss = calloc(N, sizeof *loss);
        hn_test_draw(m, r, 2.0, 1e-3, th, s);
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        for (size_t i = 0; i < N; i++)
            hn_loss_grad(m, th, s, i, ws, 1.0, &loss[i], NULL);
        hn_ws_free(ws);
        const size_t order[7] = {4, 1, 6, 0, 3, 5, 2};
        const size_t ks[3] = {1, 3, 6};
        double hon[7], hon2[7];
        hn_hodiff df[3], df2[3];
        hn_ho_opts o;
        hn_ho_opts_default(&o);
        o.threads = 2;
        assert_int_equal(hn_ho_analysis(m, th, s, order, N, loss, ks, 3, &o, hon, df, &e), 0);
        gsl_matrix **H = calloc(N, sizeof *H);
        for (size_t i = 0; i < N; i++) {
            H[i] = gsl_matrix_alloc(P, P);
            dense_ho(m, th, s, order[i], H[i]);
            double lmin, lmax;
            dense_extreme(H[i], &lmin, &lmax);
            /* 1e-10: a 10 x 10 symmetric eigenproblem vs a P x P one, both backward stable */
            assert_close(hon[i], lmax, 1e-10, 1e-13 * lmax);
        }
        gsl_matrix *M = gsl_matrix_alloc(P, P);
        for (size_t j = 0; j < 3; j++) {
            const size_t k = ks[j];
            assert_true(df[j].computed);
            assert_true(df[j].lz.converged);
            gsl_matrix_memcpy(M, H[k]);
            for (size_t a = 0; a < P; a++)
                for (size_t b = 0; b < P; b++) {
                    double sm = 0;
                    for (size_t i = 0; i < k; i++)
                        sm += gsl_matrix_get(H[i], a, b);
                    gsl_matrix_set(M, a, b, gsl_matrix_get(M, a, b) - sm / (double)k);
                }
            double lmin, lmax;
            const double nrm = dense_extreme(M, &lmin, &lmax);
            /* 1e-8: the brief's accuracy (Lanczos stops at residual 1e-10 ||M||) */
            assert_close(df[j].lz.norm, nrm, 1e-8, 0);
            assert_close(df[j].lz.lambda_max, lmax, 1e-8, 1e-8 * nrm);
            assert_close(df[j].lz.lambda_min, lmin, 1e-8, 1e-8 * nrm);
            /* |L_{k+1} - L_k| in this order */
            double sum = 0;
            for (size_t i = 0; i < k; i++)
                sum += loss[order[i]];
            const double want = fabs(((sum + loss[order[k]]) / (double)(k + 1)) - sum / (double)k);
            /* 1e-12: the identity (l_{k+1} - L_k)/(k+1) vs differencing */
            assert_close(df[j].loss_diff, want, 1e-12, 1e-15);
        }
        /* thread count never changes a bit */
        o.threads = 1;
        assert_int_equal(hn_ho_analysis(m, th, s, order, N, loss, ks, 3, &o, hon2, df2, &e), 0);
        assert_memory_equal(hon, hon2, sizeof hon);
        for (size_t j = 0; j < 3; j++)
            assert_memory_equal(&df[j].lz, &df2[j].lz, sizeof df[j].lz);
        /* k + 1 beyond the samples, and a memory limit, skip with a reason */
        const size_t kb[2] = {6, 3};
        o.mem_limit = 1.0;
        assert_int_equal(hn_ho_analysis(m, th, s, order, 5, loss, kb, 2, &o, hon2, df2, &e), 0);
        assert_false(df2[0].computed);
        assert_non_null(strstr(df2[0].why, "exceeds"));
        assert_false(df2[1].computed);
        assert_non_null(strstr(df2[1].why, "GiB"));
        for (size_t i = 0; i < N; i++)
            gsl_matrix_free(H[i]);
        free(H);
        gsl_matrix_free(M);
        free(th);
        free(loss);
        hn_samples_free(s);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* Operators big enough for the parallel paths (reorthogonalisation and the
 * stored-Jacobian product): 1 and 2 threads give the same bits. */
static void test_threads_bit_identical(void **state)
{
    (void)state;
    hn_err e;
    enum { N = 30000 };
    double *d = malloc(N * sizeof *d);
    for (size_t i = 0; i < N; i++)
        d[i] = cos(0.01 * (double)i) * (1.0 + (double)(i % 7));
    diag_op op = {d, N};
    hn_lanczos_result r1, r2;
    assert_int_equal(hn_lanczos_extreme(N, diag_mv, &op, 40, 1e-10, 9, 1, &r1, &e), 0);
    assert_int_equal(hn_lanczos_extreme(N, diag_mv, &op, 40, 1e-10, 9, 2, &r2, &e), 0);
    assert_true(r1.iterations > 10);
    assert_memory_equal(&r1, &r2, sizeof r1);
    free(d);

    gsl_rng *r = hn_test_rng(5);
    hn_arch a = {2, 3, 4, HN_POOL_NONE, 0};
    hn_model *m;
    assert_int_equal(hn_arch_model(&a, 1, 16, 16, 10, &m, &e), 0);
    hn_samples *s;
    assert_int_equal(hn_samples_alloc(m, 12, &s, &e), 0);
    double *th = calloc(m->n_params, sizeof *th);
    hn_test_draw(m, r, 2.0, 0.0, th, s);
    size_t order[12];
    for (size_t i = 0; i < 12; i++)
        order[i] = (i * 5) % 12;
    const size_t ks[1] = {10};
    double h1[12], h2[12];
    hn_hodiff d1, d2;
    hn_ho_opts o;
    hn_ho_opts_default(&o);
    o.threads = 1;
    assert_int_equal(hn_ho_analysis(m, th, s, order, 12, NULL, ks, 1, &o, h1, &d1, &e), 0);
    o.threads = 2;
    assert_int_equal(hn_ho_analysis(m, th, s, order, 12, NULL, ks, 1, &o, h2, &d2, &e), 0);
    assert_true(d1.computed && d1.lz.converged);
    assert_true(isnan(d1.loss_diff));
    assert_memory_equal(h1, h2, sizeof h1);
    assert_memory_equal(&d1.lz, &d2.lz, sizeof d1.lz);
    free(th);
    hn_samples_free(s);
    hn_model_free(m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------ Corollary 2 */

static void test_cor2_formula(void **state)
{
    (void)state;
    hn_arch a = {2, 3, 6, HN_POOL_NONE, 0};
    hn_model *m;
    hn_err e;
    assert_int_equal(hn_arch_model(&a, 1, 28, 28, 10, &m, &e), 0);
    double *th = calloc(m->n_params, sizeof *th);
    for (size_t j = 0; j < m->n_params; j++)
        th[j] = 0.5;
    th[3] = -0.75;                 /* w = 0.75 over the conv layers */
    th[m->n_params - 1] = 9.0;     /* the head does not enter w */
    hn_cor2 c;
    hn_cor2_setup(&c, m, th, 3.0, 2.0, 1.0);
    assert_int_equal(c.C, 6);
    assert_int_equal(c.kernel, 3);
    assert_int_equal(c.m, 28);
    assert_int_equal(c.L_paper, 2);
    /* exact: a maximum of stored values */
    assert_close(c.w, 0.75, 0, 0);
    /* by hand: q^2 = 36*9*784 = 254016, base = q^2 * 0.5625 = 142884,
     * Theorem 2: sqrt(2) * 4 * 254016 * 3 * 142884^2,
     * RHS(k = 9) = (2/10) * (3 + that) */
    const double q2 = 36.0 * 9 * 784, base = q2 * 0.5625;
    const double thm = sqrt(2.0) * 4 * q2 * 3 * base * base;
    /* 1e-12: logs of O(1e17) numbers, a few roundings */
    assert_close(c.log10_q2, log10(q2), 1e-12, 0);
    assert_close(c.log10_thm2, log10(thm), 1e-12, 0);
    assert_close(hn_cor2_log10_rhs(&c, 9, 0), log10(0.2 * (3 + thm)), 1e-12, 0);
    const double alt = sqrt(2.0) * 4 * q2 * 2 * base;
    assert_close(hn_cor2_log10_rhs(&c, 9, 1), log10(0.2 * (3 + alt)), 1e-12, 0);
    /* R = 0: only the loss term */
    c.R = 0;
    /* 1e-12: as above */
    assert_close(hn_cor2_log10_rhs(&c, 9, 0), log10(0.6), 1e-12, 0);
    free(th);
    hn_model_free(m);
}

/* ------------------------------------------------------------ the sweep */

static hn_dataset *synth(size_t n, unsigned long seed)
{
    hn_dataset *d;
    hn_err e;
    assert_int_equal(hn_dataset_alloc(n, 1, 8, 8, &d, &e), 0);
    gsl_rng *r = hn_test_rng(seed);
    for (size_t i = 0; i < n; i++) {
        d->y[i] = (unsigned char)(i % 3);
        for (size_t p = 0; p < 64; p++)
            d->x[i * 64 + p] = 0.5 * gsl_rng_uniform(r) + (p % 3 == d->y[i] ? 0.5 : 0.0);
    }
    gsl_rng_free(r);
    return d;
}

/* Every file under dir (relative names, sorted), except timing.json. */
static size_t list_files(const char *dir, const char *rel, char names[][256], size_t cap, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    DIR *dp = opendir(path);
    assert_non_null(dp);
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        char r2[512], p2[1300];
        snprintf(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(p2, sizeof p2, "%s/%s", dir, r2);
        struct stat st;
        assert_int_equal(stat(p2, &st), 0);
        if (S_ISDIR(st.st_mode))
            n = list_files(dir, r2, names, cap, n);
        else if (strcmp(de->d_name, "timing.json") && n < cap) {
            assert_true(strlen(r2) < 256);
            memcpy(names[n++], r2, strlen(r2) + 1);
        }
    }
    closedir(dp);
    qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void assert_same_tree(const char *a, const char *b)
{
    static char na[64][256], nb[64][256];
    const size_t n1 = list_files(a, "", na, 64, 0), n2 = list_files(b, "", nb, 64, 0);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1; i++) {
        assert_string_equal(na[i], nb[i]);
        char pa[1400], pb[1400];
        snprintf(pa, sizeof pa, "%s/%s", a, na[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, nb[i]);
        char *ta, *tb;
        size_t la, lb;
        hn_err e;
        assert_int_equal(hn_read_file(pa, &ta, &la, &e), 0);
        assert_int_equal(hn_read_file(pb, &tb, &lb, &e), 0);
        if (la != lb || memcmp(ta, tb, la))
            fail_msg("%s differs between %s and %s", na[i], a, b);
        hn_free(ta);
        hn_free(tb);
    }
}

static void test_sweep_resume(void **state)
{
    (void)state;
    hn_dataset *tr = synth(40, 1), *te = synth(12, 2);
    const hn_arch set[3] = {{2, 3, 2, HN_POOL_NONE, 0}, {2, 2, 3, HN_POOL_NONE, 0},
                            {2, 3, 2, HN_POOL_MAX, 0}};
    hn_experiment_opts o;
    hn_experiment_opts_default(&o);
    o.dataset = "fashion-mnist";
    assert_int_equal(hn_preset_get("tiny", &o.preset, NULL), 0);
    o.preset.train_n = 30; /* a seeded subset of the 40 */
    o.preset.shuffles = 4;
    o.preset.epochs = 2;
    o.settings = set;
    o.n_settings = 3;
    o.figures = 0;
    o.threads = 2;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", hn_test_tmpdir());
    snprintf(b, sizeof b, "%s/b", hn_test_tmpdir());
    o.out_dir = a;
    hn_experiment_summary sum;
    hn_err e;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), 0);
    assert_int_equal(sum.trained, 3);
    /* an uninterrupted run on 1 thread elsewhere: the same bytes */
    o.out_dir = b;
    o.threads = 1;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), 0);
    assert_same_tree(a, b);
    /* interrupted after two models (the third's files but metrics.json
     * exist: a crash before the last write), and rerun */
    char p[1024];
    snprintf(p, sizeof p, "%s/models/L2_k3_C2_maxpool0/metrics.json", b);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/report.md", b);
    assert_int_equal(unlink(p), 0);
    o.threads = 2;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), 0);
    assert_int_equal(sum.trained, 1);
    assert_int_equal(sum.resumed, 2);
    assert_same_tree(a, b);
    /* stopped at a time limit of 0 (after the first epoch: the checkpoint
     * is written), then run again to the end: the same bytes, no checkpoint left */
    char c[512];
    snprintf(c, sizeof c, "%s/c", hn_test_tmpdir());
    o.out_dir = c;
    o.time_limit = 0;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), HN_ESTOPPED);
    assert_non_null(strstr(e.msg, "after epoch 1/2 of L2_k3_C2"));
    snprintf(p, sizeof p, "%s/models/L2_k3_C2/train_checkpoint.safetensors", c);
    assert_int_equal(access(p, F_OK), 0);
    o.time_limit = -1;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), 0);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_same_tree(a, c);
    /* the saved models are the interchange format */
    hn_model *m;
    snprintf(p, sizeof p, "%s/models/L2_k2_C3/model.json", a);
    assert_int_equal(hn_model_load(p, &m, &e), 0);
    double *th = calloc(m->n_params, sizeof *th);
    snprintf(p, sizeof p, "%s/models/L2_k2_C3/weights.safetensors", a);
    assert_int_equal(hn_weights_load(m, p, th, &e), 0);
    assert_int_equal(m->n_params, 3 * 4 + 9 * 4 + 3 * 6 * 6 * 10);
    free(th);
    hn_model_free(m);
    /* other options into the same directory: an error naming the file,
     * sweep.json (the folder's description, checked before any model) */
    o.preset.shuffles = 5;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "sweep.json: config"));
    /* without it (a folder of an older hessnorm), the first model's metrics.json */
    snprintf(p, sizeof p, "%s/sweep.json", o.out_dir);
    assert_int_equal(unlink(p), 0);
    struct stat st0;
    assert_int_equal(hn_experiment_run(tr, te, &o, &sum, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "metrics.json"));
    assert_int_equal(stat(p, &st0), -1); /* a failed run writes no sweep.json */
    /* report files are there */
    snprintf(p, sizeof p, "%s/index.html", a);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/corollary2.csv", a);
    assert_int_equal(stat(p, &st), 0);
    hn_dataset_free(tr);
    hn_dataset_free(te);
}

/* curve.csv is written by a model's run and read back for the report: the
 * numbers must come back bit for bit (%.17g), and a damaged file must say
 * which line. */
static void test_curve_csv_round_trip(void **state)
{
    (void)state;
    const double mean[5] = {0.1, 1.0 / 3.0, 4.9e-324, 1.7976931348623157e308, 0};
    const double ema[5] = {-2.5e-17, 2.0 / 3.0, 1e-300, 123456789.123456789, -0.0};
    char p[512];
    snprintf(p, sizeof p, "%s/curve_rt.csv", hn_test_tmpdir());
    hn_err e;
    assert_int_equal(hn_exp_write_curve_csv(p, mean, ema, 5, &e), 0);
    hn_exp_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(hn_exp_load_curve(p, &r, &e), 0);
    assert_int_equal(r.nc, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_memory_equal(&r.mean[i], &mean[i], sizeof *mean);
        assert_memory_equal(&r.ema[i], &ema[i], sizeof *ema);
    }
    hn_free(r.mean);
    hn_free(r.ema);
    /* no points: the header alone */
    memset(&r, 0, sizeof r);
    assert_int_equal(hn_exp_write_curve_csv(p, mean, ema, 0, &e), 0);
    assert_int_equal(hn_exp_load_curve(p, &r, &e), 0);
    assert_int_equal(r.nc, 0);
    hn_free(r.mean);
    hn_free(r.ema);
    /* k out of sequence on the file's third line */
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("k,mean_abs_diff,ema\n1,0.5,0.5\n3,0.25,0.4\n", f);
    fclose(f);
    memset(&r, 0, sizeof r);
    assert_int_equal(hn_exp_load_curve(p, &r, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, "line 3: expected k = 2"));
    hn_free(r.mean);
    hn_free(r.ema);
}

static void test_presets(void **state)
{
    (void)state;
    hn_preset p;
    hn_err e;
    assert_int_equal(hn_preset_get("paper", &p, &e), 0);
    assert_int_equal(p.shuffles, 500);
    assert_int_equal(p.train_n, 0);
    assert_int_equal(p.epochs, 0);
    assert_int_equal(hn_paper_epochs("cifar10"), 15);
    assert_int_equal(hn_paper_epochs("mnist"), 10);
    assert_int_equal(hn_preset_get("fast", &p, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "--preset"));
    hn_sweep s;
    assert_int_equal(hn_sweep_parse("pool", &s, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "--sweep"));
    hn_arch a[16];
    assert_int_equal(hn_sweep_settings(HN_SWEEP_LAYERS, HN_VALUES_ALL, a, 16), 6);
    assert_int_equal(a[5].layers, 7);
    assert_int_equal(hn_sweep_settings(HN_SWEEP_KERNEL, HN_VALUES_ALL, a, 16), 4);
    assert_int_equal(a[0].kernel, 2);
    assert_int_equal(a[0].layers, 4);
    assert_int_equal(hn_sweep_settings(HN_SWEEP_CHANNELS, HN_VALUES_ALL, a, 16), 7);
    assert_int_equal(a[6].channels, 42);
    assert_int_equal(hn_sweep_settings(HN_SWEEP_POOLING, HN_VALUES_ALL, a, 16), 8);
    assert_int_equal(a[4].pool, HN_POOL_AVG);
    assert_int_equal(a[4].pool_pos, 1);
    assert_int_equal(a[3].pool_pos, 4);
    assert_int_equal(a[3].channels, 12);
}

/* The shard of a setting is pinned: a new hessnorm must put every
 * setting of a half-done job array where the old one did; the shards of
 * a sweep partition it. */
static void test_shard_of(void **state)
{
    (void)state;
    assert_int_equal(hn_experiment_shard_of("fashion-mnist/layers/L2_k3_C6", 3), 3);
    assert_int_equal(hn_experiment_shard_of("fashion-mnist/layers/L3_k3_C6", 3), 1);
    assert_int_equal(hn_experiment_shard_of("mnist/channels/L5_k3_C42", 3), 2);
    assert_int_equal(hn_experiment_shard_of("cifar10/pooling/L5_k3_C12_maxpool1", 10), 7);
    assert_int_equal(hn_experiment_shard_of("mnist/channels/L5_k3_C42", 1), 1);
    assert_int_equal(hn_experiment_shard_of("mnist/channels/L5_k3_C42", 0), 0);
    hn_experiment_opts o;
    hn_experiment_opts_default(&o);
    hn_preset_get("paper", &o.preset, NULL);
    for (int sw = 0; sw < 4; sw++) {
        o.sweep = (hn_sweep)sw;
        o.shard_n = 0;
        const size_t all = hn_experiment_shard_count(&o);
        for (size_t n = 1; n <= 5; n++) {
            size_t sum = 0;
            o.shard_n = n;
            for (o.shard_i = 1; o.shard_i <= n; o.shard_i++)
                sum += hn_experiment_shard_count(&o);
            assert_int_equal(sum, all);
        }
    }
}

int main(void)
{
    hn_gsl_quiet();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ema_hand),
        cmocka_unit_test(test_loss_diff_hand),
        cmocka_unit_test(test_lanczos_diag),
        cmocka_unit_test(test_ho_analysis_dense),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_cor2_formula),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_curve_csv_round_trip),
        cmocka_unit_test(test_sweep_resume), cmocka_unit_test(test_shard_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
