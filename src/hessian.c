/* hessnorm — the full Hessian by exact Hessian-vector products, and H_O. */
#include "config.h"
#include <string.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/hessian.h"
#include "hessnorm/layers.h"

static int check_square(const hn_model *m, const gsl_matrix *H, const char *who, hn_err *err)
{
    if (H->size1 != m->n_params || H->size2 != m->n_params)
        return hn_err_set(err, HN_ESHAPE, "%s: matrix is %zux%zu, need %zux%zu", who, H->size1,
                          H->size2, m->n_params, m->n_params);
    if (!m->finalized)
        return hn_err_set(err, HN_EINVAL, "%s: model is not finalized", who);
    return HN_OK;
}

int hn_hessian_full(const hn_model *m, const double *theta, const hn_samples *s,
                    gsl_matrix *H, hn_err *err)
{
    int rc = check_square(m, H, "hessian", err);
    if (rc)
        return rc;
    const size_t P = m->n_params;
    hn_ws *ws = NULL;
    double *e = hn_calloc(P, sizeof *e), *col = hn_calloc(P, sizeof *col);
    if (!e || !col || (rc = hn_ws_alloc(m, &ws, err)) != 0) {
        hn_free(e);
        hn_free(col);
        return rc ? rc : hn_err_set(err, HN_ENOMEM, "hessian: out of memory");
    }
    const double sc = 1.0 / (double)s->n;
    for (size_t j = 0; j < P; j++) {
        memset(col, 0, P * sizeof *col);
        e[j] = 1.0;
        for (size_t i = 0; i < s->n; i++)
            hn_hvp(m, theta, s, i, ws, e, sc, col);
        e[j] = 0.0;
        for (size_t r = 0; r < P; r++)
            gsl_matrix_set(H, r, j, col[r]);
    }
    /* The HVPs are exact; the two triangles differ by rounding only.
     * Symmetrise so that symmetric eigensolvers see one matrix. */
    for (size_t r = 0; r < P; r++)
        for (size_t c = r + 1; c < P; c++) {
            double v = 0.5 * (gsl_matrix_get(H, r, c) + gsl_matrix_get(H, c, r));
            gsl_matrix_set(H, r, c, v);
            gsl_matrix_set(H, c, r, v);
        }
    hn_ws_free(ws);
    hn_free(e);
    hn_free(col);
    return HN_OK;
}

int hn_hessian_outer(const hn_model *m, const double *theta, const hn_samples *s,
                     gsl_matrix *HO, hn_err *err)
{
    int rc = check_square(m, HO, "outer-product Hessian", err);
    if (rc)
        return rc;
    const size_t P = m->n_params, K = m->classes;
    hn_ws *ws = NULL;
    double *J = hn_calloc(K * P, sizeof *J), *AJ = hn_calloc(K * P, sizeof *AJ);
    double *z = hn_calloc(K, sizeof *z), *p = hn_calloc(K, sizeof *p);
    if (!J || !AJ || !z || !p || (rc = hn_ws_alloc(m, &ws, err)) != 0) {
        rc = rc ? rc : hn_err_set(err, HN_ENOMEM, "outer-product Hessian: out of memory");
        goto done;
    }
    gsl_matrix_set_zero(HO);
    const double sc = 1.0 / (double)s->n;
    for (size_t i = 0; i < s->n; i++) {
        hn_jacobian(m, theta, s->x + i * s->in_size, ws, J, z);
        hn_loss_eval(m->loss, K, z, s->y_class ? s->y_class[i] : 0,
                     s->y_vec ? s->y_vec + i * K : NULL, NULL, p);
        /* AJ = A J column by column */
        double *col = hn_calloc(K, sizeof *col), *acol = hn_calloc(K, sizeof *acol);
        if (!col || !acol) {
            hn_free(col);
            hn_free(acol);
            rc = hn_err_set(err, HN_ENOMEM, "outer-product Hessian: out of memory");
            goto done;
        }
        for (size_t j = 0; j < P; j++) {
            for (size_t k = 0; k < K; k++)
                col[k] = J[k * P + j];
            hn_loss_hess_apply(m->loss, K, p, col, acol);
            for (size_t k = 0; k < K; k++)
                AJ[k * P + j] = acol[k];
        }
        hn_free(col);
        hn_free(acol);
        gsl_matrix_const_view Jv = gsl_matrix_const_view_array(J, K, P);
        gsl_matrix_const_view AJv = gsl_matrix_const_view_array(AJ, K, P);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, sc, &Jv.matrix, &AJv.matrix, 1.0, HO);
    }
done:
    hn_ws_free(ws);
    hn_free(J);
    hn_free(AJ);
    hn_free(z);
    hn_free(p);
    return rc;
}
