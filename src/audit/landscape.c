/* hessnorm — the landscape facts of one instance: equation (1), Section
 * III's identity and Corollaries 1-2 at (theta*, theta = theta* + delta)
 * over k + 1 samples (fact group HN_FG_LANDSCAPE). */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/dense.h"
#include "hessnorm/hessian.h"
#include "hessnorm/layers.h"
#include "hessnorm/spectra.h"
#include "audit/internal.h"

/* Per-sample loss of sample i at theta. */
static double loss_at(const hn_model *m, const double *th, const hn_samples *s, size_t i, hn_ws *ws)
{
    double l;
    hn_loss_grad(m, th, s, i, ws, 1.0, &l, NULL);
    return l;
}

int hn_facts_landscape(hn_facts *f, const hn_model *m, const double *theta, const hn_samples *s,
                       size_t k, const double *delta, hn_err *err)
{
    const size_t P = m->n_params, N = k + 1;
    int rc = HN_OK;
    hn_ws *ws = NULL;
    double *th = hn_calloc(P, sizeof *th), *g1 = hn_calloc(P, sizeof *g1), *g2 = hn_calloc(P, sizeof *g2);
    double *gk1 = hn_calloc(P, sizeof *gk1); /* grad L_{k+1}(theta*) */
    gsl_matrix *H = gsl_matrix_alloc(P, P), *acc = gsl_matrix_calloc(P, P), *Hlast = gsl_matrix_alloc(P, P);
    gsl_matrix *HO = gsl_matrix_alloc(P, P), *accO = gsl_matrix_calloc(P, P);
    if (!th || !g1 || !g2 || !gk1 || !H || !acc || !Hlast || !HO || !accO ||
        (rc = hn_ws_alloc(m, &ws, err)) != 0) {
        rc = rc ? rc : hn_err_set(err, HN_ENOMEM, "facts: out of memory");
        goto done;
    }
    f->have_land = 1;
    f->lk = k;
    f->R = hn_vec_norm(delta, P);
    for (size_t j = 0; j < P; j++)
        th[j] = theta[j] + delta[j];
    /* at theta = theta* + delta */
    double sum_k = 0, sum_k1, lk1 = 0;
    f->W_l_theta = 0;
    for (size_t i = 0; i < N; i++) {
        double l = loss_at(m, th, s, i, ws);
        f->W_l_theta = fmax(f->W_l_theta, fabs(l));
        if (i < k)
            sum_k += l;
        else
            lk1 = l;
    }
    sum_k1 = sum_k + lk1;
    double Lk = sum_k / (double)k, Lk1 = sum_k1 / (double)N;
    f->lhs = fabs(Lk1 - Lk);
    /* relative to the size of the terms: the difference itself may cancel */
    f->identity_disc = fabs((Lk1 - Lk) - (lk1 - Lk) / (double)N) /
                       fmax((fabs(lk1) + fabs(Lk)) / (double)N + fabs(Lk1 - Lk), 1e-300);
    /* at theta* */
    double sk = 0, l_last = 0, gsum = 0;
    f->W_l_star = 0;
    f->W_x = 0;
    for (size_t i = 0; i < N; i++) {
        double l;
        memset(g2, 0, P * sizeof *g2);
        hn_loss_grad(m, theta, s, i, ws, 1.0, &l, g2);
        f->W_l_star = fmax(f->W_l_star, fabs(l));
        f->W_x = fmax(f->W_x, hn_vec_norm(s->x + i * s->in_size, s->in_size));
        const double gn = hn_vec_norm(g2, P);
        gsum += gn;
        for (size_t j = 0; j < P; j++)
            gk1[j] += g2[j] / (double)N;
        hn_samples one = hn_samples_view(s, i);
        if ((rc = hn_hessian_full(m, theta, &one, i < k ? H : Hlast, err)) != 0 ||
            (rc = hn_hessian_outer(m, theta, &one, HO, err)) != 0)
            goto done;
        if (i < k) {
            sk += l;
            for (size_t j = 0; j < P; j++)
                g1[j] += g2[j] / (double)k;
            gsl_matrix_scale(H, 1.0 / (double)k);
            gsl_matrix_add(acc, H);
            gsl_matrix_scale(HO, 1.0 / (double)k);
            gsl_matrix_sub(accO, HO);
        } else {
            l_last = l;
            f->gLk_norm = hn_vec_norm(g1, P);
            f->gscale_k = (gsum - gn) / (double)k;
            f->gl_last_norm = gn;
            for (size_t j = 0; j < P; j++)
                g1[j] = g2[j] - g1[j]; /* grad l_{k+1} - grad L_k */
            gsl_matrix_add(accO, HO);
        }
    }
    f->ldiff_star = fabs(l_last - sk / (double)k);
    f->gLk1_norm = hn_vec_norm(gk1, P);
    f->gscale_k1 = gsum / (double)N;
    double gt = 0;
    for (size_t j = 0; j < P; j++)
        gt += g1[j] * delta[j];
    f->grad_term = fabs(gt);
    gsl_matrix_sub(Hlast, acc); /* H_{k+1} - (1/k) sum H_i */
    f->dH_norm = hn_sym_norm(Hlast, err, &rc);
    if (!rc)
        f->dHO_norm = hn_sym_norm(accO, err, &rc);
done:
    hn_ws_free(ws);
    hn_free(th);
    hn_free(g1);
    hn_free(g2);
    hn_free(gk1);
    if (H) gsl_matrix_free(H);
    if (acc) gsl_matrix_free(acc);
    if (Hlast) gsl_matrix_free(Hlast);
    if (HO) gsl_matrix_free(HO);
    if (accO) gsl_matrix_free(accO);
    return rc;
}
