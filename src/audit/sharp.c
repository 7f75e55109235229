/* hessnorm — the audit's sharp constants: the paper's constants beside the
 * sharp ones, with the one that is searched for (sup ||A|| over the
 * simplex, Nelder-Mead over logits). */
#include "config.h"
#include <math.h>
#include <gsl/gsl_multimin.h>
#include "hessnorm/layers.h"
#include "hessnorm/spectra.h"
#include "audit/report.h"

/* *(int *)p is set when ||A|| cannot be evaluated (out of memory): the
 * search then stops rather than report a smaller supremum. */
static double neg_A_norm(const gsl_vector *z, void *p)
{
    int *failed = p;
    size_t K = z->size;
    double zz[16] = {0}, pr[16] = {0}, g[16] = {0};
    for (size_t k = 0; k < K; k++)
        zz[k] = gsl_vector_get(z, k);
    hn_loss_eval(HN_LOSS_CE, K, zz, 0, NULL, g, pr);
    gsl_matrix *A = gsl_matrix_alloc(K, K);
    double nrm = 0;
    if (!A) {
        *failed = 1;
        return GSL_NAN;
    }
    hn_loss_hess_matrix(HN_LOSS_CE, K, pr, A->data);
    if (hn_norm2(A, &nrm, NULL) != 0)
        *failed = 1;
    gsl_matrix_free(A);
    return *failed ? GSL_NAN : -nrm;
}

/* sup over the simplex of ||diag(p) - pp^T||: Nelder-Mead over logits for
 * K = 2..8 (Gershgorin gives <= max_i 2 p_i (1 - p_i) <= 1/2; p = (1/2,1/2,0..)
 * attains it). */
int hn_sharp_sup_A(double *out, hn_err *err)
{
    double best = 0;
    int failed = 0;
    for (size_t K = 2; K <= 8 && !failed; K++) {
        gsl_multimin_fminimizer *mm = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, K);
        gsl_vector *x = gsl_vector_alloc(K), *st = gsl_vector_alloc(K);
        if (!mm || !x || !st) {
            failed = 1;
        } else {
            for (size_t k = 0; k < K; k++)
                gsl_vector_set(x, k, 0.3 * (double)k);
            gsl_vector_set_all(st, 1.0);
            gsl_multimin_function fn = {neg_A_norm, K, &failed};
            if (gsl_multimin_fminimizer_set(mm, &fn, x, st) == GSL_SUCCESS)
                for (int it = 0; it < 2000 && !failed; it++)
                    if (gsl_multimin_fminimizer_iterate(mm) != GSL_SUCCESS)
                        break;
            if (!failed)
                best = fmax(best, -mm->fval);
        }
        if (mm) gsl_multimin_fminimizer_free(mm);
        if (x) gsl_vector_free(x);
        if (st) gsl_vector_free(st);
    }
    *out = failed ? NAN : best;
    return failed ? hn_err_set(err, HN_ENOMEM, "sharp constants: out of memory") : HN_OK;
}

size_t hn_sharp_table(double sup_A, hn_sharp_row *rows)
{
    const hn_sharp_row sharp[HN_SHARP_ROWS] = {
        {"||A|| for cross-entropy, sup over the simplex", "sqrt(2) (Appendix B)", "1/2 (p = (1/2, 1/2, 0, ...))",
         "Gershgorin: row i sums to 2 p_i (1 - p_i) <= 1/2; Nelder-Mead over logits, K = 2..8", sqrt(2.0), sup_A},
        {"||A|| for MSE", "sqrt(2)", "1 (A = I)", "exact", sqrt(2.0), 1.0},
        {"||Q^(p)|| of a conv layer", "1-D: d (App. C); 2-D: C k sqrt(mn) (App. D)",
         "sqrt(number of output positions): Q^T Q = (positions) I",
         "Q has one 1 per row and each weight appears once per output position (test_matrices)", NAN, NAN},
        {"||Q^(p)|| of a linear layer", "h (via q)", "1", "Q^T Q = I", NAN, 1.0},
        {"||T^(p)|| of a conv layer, |W| <= w", "1-D: C sqrt(d k) w; 2-D: C k sqrt(mn) w",
         "<= sqrt(C_in C_out) k_1 k_2 w (Schur test), independent of the input size; approached by constant kernels on large inputs",
         "row sums <= C_in k_1 k_2 w, column sums <= C_out k_1 k_2 w", NAN, NAN},
        {"||max-pool matrix M||", "1", "1", "rows have one 1 each, disjoint supports: M M^T = I", 1.0, 1.0},
        {"||avg-pool matrix||, 2-D kernel k_pool", "1/k_pool", "1/k_pool", "rows have k_pool^2 entries 1/k_pool^2, disjoint", NAN, NAN},
        {"||avg-pool matrix||, 1-D kernel k_pool", "- (2-D only)", "1/sqrt(k_pool)", "rows have k_pool entries 1/k_pool", NAN, NAN},
        {"||B_i|| (window block of A^T A), 2-D", "1/k_pool", "1/k_pool^2", "B_i = (1/k_pool^4) 1 1^T with 1 in R^(k_pool^2)", NAN, NAN},
    };
    for (size_t i = 0; i < HN_SHARP_ROWS; i++)
        rows[i] = sharp[i];
    return HN_SHARP_ROWS;
}
