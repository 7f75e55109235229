/* hessnorm — the full Hessian by exact Hessian-vector products, and H_O. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/hessian.h"
#include "hessnorm/layers.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/matrices.h" /* HN_DENSE_LIMIT */
#include "hessnorm/eigsmall.h"
#include "hessnorm/outer.h"

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
        if (hn_outer_add(m->loss, K, P, p, J, sc, AJ, HO) != 0) {
            rc = hn_err_set(err, HN_ENOMEM, "outer-product Hessian: out of memory");
            goto done;
        }
    }
done:
    hn_ws_free(ws);
    hn_free(J);
    hn_free(AJ);
    hn_free(z);
    hn_free(p);
    return rc;
}

/* ------------------------------------------------------------ fast routes */

/* H into a P x P row-major buffer (ld = P): HN_DENSE_DIRS rows per batched
 * HVP pass on unit vectors, then symmetrised. */
static int dense_into(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                      double *H, hn_err *err)
{
    const size_t P = m->n_params, R = HN_DENSE_DIRS < P ? HN_DENSE_DIRS : P;
    hn_fast *f = NULL;
    double *V = hn_calloc(R * P, sizeof *V);
    int rc = V ? hn_fast_alloc(m, threads, R, &f, err)
               : hn_err_set(err, HN_ENOMEM, "dense Hessian: out of memory");
    for (size_t j0 = 0; !rc && j0 < P; j0 += R) {
        const size_t r = P - j0 < R ? P - j0 : R;
        for (size_t j = 0; j < r; j++)
            V[j * P + j0 + j] = 1.0;
        /* row j0+j of H = H e_{j0+j} */
        rc = hn_batch_hvp(m, theta, s, NULL, s->n, NULL, f, V, r, H + j0 * P, err);
        for (size_t j = 0; j < r; j++)
            V[j * P + j0 + j] = 0.0;
    }
    if (!rc)
        /* exact products: the triangles differ by rounding only */
        for (size_t r0 = 0; r0 < P; r0++)
            for (size_t c = r0 + 1; c < P; c++) {
                const double v = 0.5 * (H[r0 * P + c] + H[c * P + r0]);
                H[r0 * P + c] = H[c * P + r0] = v;
            }
    hn_fast_free(f);
    hn_free(V);
    return rc;
}

int hn_hessian_dense(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                     gsl_matrix *H, hn_err *err)
{
    int rc = check_square(m, H, "dense Hessian", err);
    if (rc)
        return rc;
    const size_t P = m->n_params;
    if (H->tda == P)
        return dense_into(m, theta, s, threads, H->data, err);
    double *buf = hn_calloc(P * P, sizeof *buf);
    if (!buf)
        return hn_err_set(err, HN_ENOMEM, "dense Hessian: out of memory (%zu parameters)", P);
    rc = dense_into(m, theta, s, threads, buf, err);
    for (size_t i = 0; !rc && i < P; i++)
        memcpy(gsl_matrix_ptr(H, i, 0), buf + i * P, P * sizeof *buf);
    hn_free(buf);
    return rc;
}

int hn_hessian_eigvals(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                       gsl_vector *eval, hn_err *err)
{
    if (!m || !m->finalized || !eval || eval->size != m->n_params)
        return hn_err_set(err, HN_EINVAL, "Hessian eigenvalues: need a finalized model and %zu slots",
                          m ? m->n_params : 0);
    const size_t P = m->n_params;
    size_t tot;
    if (hn_mul_size(P, P, &tot) != 0 || tot > HN_DENSE_LIMIT)
        return hn_err_set(err, HN_ETOOBIG, "Hessian eigenvalues: %zu x %zu is too large to store", P, P);
    double *H = hn_calloc(tot, sizeof *H), *w = hn_calloc(P, sizeof *w);
    int rc = H && w ? dense_into(m, theta, s, threads, H, err)
                    : hn_err_set(err, HN_ENOMEM, "Hessian eigenvalues: out of memory (%zu parameters)", P);
    if (!rc) {
        rc = hn_eig_sym_inplace(P, H, w, 0, "Hessian eigenvalues", err);
        for (size_t i = 0; !rc && i < P; i++)
            gsl_vector_set(eval, i, w[i]);
    }
    hn_free(H);
    hn_free(w);
    return rc;
}

typedef struct {
    hn_hvp_op *op;
    hn_err *err;
} mop_ctx;

static int mop_mv(void *vctx, const double *x, double *y)
{
    const mop_ctx *c = vctx;
    return hn_hvp_op_apply(c->op, x, y, c->err);
}

int hn_mean_op_extreme(const hn_model *m, const double *theta, const hn_samples *s,
                       const size_t *idx, size_t n, hn_mean_op op, size_t max_iter, double rtol,
                       unsigned long seed, int threads, hn_lanczos_result *res, hn_err *err)
{
    if (!m || !m->finalized || !theta || !s || !res)
        return hn_err_set(err, HN_EINVAL, "mean-Hessian spectrum: missing argument");
    const int diff = op == HN_OP_DIFF_H || op == HN_OP_DIFF_HO;
    if ((int)op < HN_OP_MEAN_HO || op > HN_OP_DIFF_H)
        return hn_err_set(err, HN_EINVAL, "mean-Hessian spectrum: unknown operator %d", (int)op);
    if (n == 0 || (diff && n < 2))
        return hn_err_set(err, HN_EINVAL, "mean-Hessian spectrum: %zu samples are too few", n);
    double *w = NULL;
    if (diff) {
        if (!(w = hn_calloc(n, sizeof *w)))
            return hn_err_set(err, HN_ENOMEM, "mean-Hessian spectrum: out of memory");
        for (size_t i = 0; i + 1 < n; i++)
            w[i] = -1.0 / (double)(n - 1);
        w[n - 1] = 1.0;
    }
    /* the forward state of every sample is kept: each Lanczos product runs
     * only the tangent and R-reverse passes */
    hn_hvp_op *hop = NULL;
    int rc = hn_hvp_op_alloc(m, theta, s, idx, n, w, op == HN_OP_MEAN_HO || op == HN_OP_DIFF_HO,
                             threads, &hop, err);
    if (!rc) {
        hn_err inner = {0};
        mop_ctx c = {hop, &inner};
        rc = hn_lanczos_extreme(m->n_params, mop_mv, &c, max_iter, rtol, seed, threads, res, err);
        if (rc && inner.code && err)
            *err = inner; /* the product's own reason beats "the operator failed" */
    }
    hn_hvp_op_free(hop);
    hn_free(w);
    return rc;
}

typedef struct {
    hn_shape in;
    size_t co, kh, kw;
    const double *W;
    double *z, *col;  /* col: im2col scratch (NULL when kh = kw = 1) */
} cn_ctx;

static int cn_mv(void *vctx, const double *x, double *y)
{
    const cn_ctx *c = vctx;
    /* im2col + GEMM (fastconv.h, one block), the same map as hn_conv_forward */
    hn_conv_forward_batch(c->in, 1, c->co, c->kh, c->kw, c->W, x, c->col, c->z);
    hn_conv_backward_data_batch(c->in, 1, c->co, c->kh, c->kw, c->W, c->z, c->col, y);
    return HN_OK;
}

int hn_conv_norm(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, size_t max_iter,
                 double rtol, unsigned long seed, double *norm, hn_lanczos_result *res,
                 hn_err *err)
{
    if (!W || !norm || co == 0 || kh == 0 || kw == 0 || kh > in.h || kw > in.w || in.c == 0)
        return hn_err_set(err, HN_EINVAL, "convolution norm: bad shape or missing argument");
    hn_lanczos_result lr;
    const size_t ncol = hn_conv_col_size(in, 1, kh, kw);
    cn_ctx c = {in, co, kh, kw, W, hn_calloc(co * (in.h - kh + 1) * (in.w - kw + 1), sizeof(double)),
                ncol ? hn_calloc(ncol, sizeof(double)) : NULL};
    if (!c.z || (ncol && !c.col)) {
        hn_free(c.z);
        hn_free(c.col);
        return hn_err_set(err, HN_ENOMEM, "convolution norm: out of memory");
    }
    /* one thread: the products are sequential, the reorthogonalisation is cheap here */
    int rc = hn_lanczos_extreme(hn_shape_size(in), cn_mv, &c, max_iter, rtol, seed, 1, &lr, err);
    hn_free(c.z);
    hn_free(c.col);
    if (rc)
        return rc;
    *norm = sqrt(fmax(lr.lambda_max, 0.0));
    if (res)
        *res = lr;
    return HN_OK;
}
