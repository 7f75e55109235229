/* hessnorm — batched gradients, losses, Jacobians, H_O spectra, HVPs and the Hessian operator. */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/layers.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/eigsmall.h"
#include "net/fastconv_internal.h"

/* ------------------------------------------------------------ jobs */

typedef struct {
    const double *theta;
    const hn_samples *s;
    const size_t *idx;
    size_t n;
    const double *w;      /* per-item weights or NULL (1/n) */
    const double *V;      /* directions */
    size_t r;             /* number of directions */
    double *loss, *logits, *J, *eigs, *grad;
    long *pred;
} jobctx;

static double item_w(const jobctx *x, size_t t) { return x->w ? x->w[t] : 1.0 / (double)x->n; }

static int job_grad(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    jobctx *x = vctx;
    const size_t K = F->K;
    hn_fc_ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    double *d = c->d[0];
    for (size_t n = 0; n < nb; n++) {
        const double l = hn_fc_ck_loss(F, c, x->s, x->idx, t0, n);
        c->lsum += l;
        const double w = item_w(x, t0 + n);
        for (size_t k = 0; k < K; k++)
            d[k * nb + n] = w * c->g[n * K + k];
    }
    if (x->grad && F->hdim) {
        /* head inputs and logit cotangents into the round's columns */
        const size_t S = HN_FC_SUPER * HN_FC_CH, col = t0 % S, dh = F->hdim;
        const double *xh = c->act[F->L - 1];
        for (size_t j = 0; j < dh; j++)
            memcpy(F->hx + j * S + col, xh + j * nb, nb * sizeof(double));
        for (size_t k = 0; k < K; k++)
            memcpy(F->hd + k * S + col, d + k * nb, nb * sizeof(double));
        if (slot) /* NULL when the head is the only linear op */
            hn_fc_ck_backward(F, c, x->theta, 1, HN_FC_OUT_SUM_BODY, slot, 0, NULL, 0, NULL);
    } else if (slot) {
        hn_fc_ck_backward(F, c, x->theta, 1, HN_FC_OUT_SUM, slot, F->P, NULL, 0, NULL);
    }
    return HN_OK;
}

#define HEAD_BLOCK 256

/* grad_head (K x d) += hd (K x cnt) hx (d x cnt)^T for the round's items,
 * in fixed column blocks (the same GEMMs for every thread count). */
static void post_head(hn_fast *F, size_t t_first, size_t cnt, void *vctx)
{
    (void)t_first;
    jobctx *x = vctx;
    const size_t S = HN_FC_SUPER * HN_FC_CH, dh = F->hdim, K = F->K;
    double *gh = x->grad + F->m->layers[F->L - 1].param_offset;
    const long nblk = (long)((dh + HEAD_BLOCK - 1) / HEAD_BLOCK);
#pragma omp parallel for num_threads(F->threads) schedule(static)
    for (long q = 0; q < nblk; q++) {
        const size_t j0 = (size_t)q * HEAD_BLOCK, w = dh - j0 < HEAD_BLOCK ? dh - j0 : HEAD_BLOCK;
        hn_fc_gemm_nt(K, w, cnt, F->hd, S, F->hx + j0 * S, S, 1.0, gh + j0, dh);
    }
}

int hn_batch_forward_backward(const hn_model *m, const double *theta, const hn_samples *s,
                              const size_t *idx, size_t n, hn_fast *f, double *loss,
                              double *grad, hn_err *err)
{
    int rc = hn_fc_check_args(f, m, s, idx, n, 1, "batch gradient", err);
    if (rc)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .grad = grad};
    double ls = 0;
    if (grad && f->hdim) {
        /* the head's block (the last parameters) is filled by post_head */
        const size_t Pb = m->layers[m->n_layers - 1].param_offset;
        memset(grad + Pb, 0, (f->P - Pb) * sizeof *grad);
        rc = hn_fc_run_chunks(f, n, Pb, grad, &ls, job_grad, &x, post_head);
    } else {
        rc = hn_fc_run_chunks(f, n, grad ? f->P : 0, grad, &ls, job_grad, &x, NULL);
    }
    if (rc)
        return hn_err_set(err, rc, "batch gradient: failed");
    if (loss)
        *loss = ls / (double)n;
    return HN_OK;
}

static int job_losses(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    (void)slot;
    jobctx *x = vctx;
    const size_t K = F->K;
    hn_fc_ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    const double *lg = c->act[F->L];
    for (size_t n = 0; n < nb; n++) {
        const size_t t = t0 + n;
        if (x->loss) {
            const size_t si = x->idx ? x->idx[t] : t;
            double z[64], *zz = K <= 64 ? z : c->z + n * K;
            for (size_t k = 0; k < K; k++)
                zz[k] = lg[k * nb + n];
            x->loss[t] = hn_loss_eval(F->m->loss, K, zz, x->s->y_class ? x->s->y_class[si] : 0,
                                      x->s->y_vec ? x->s->y_vec + si * K : NULL, NULL, NULL);
        }
        if (x->logits)
            for (size_t k = 0; k < K; k++)
                x->logits[t * K + k] = lg[k * nb + n];
        if (x->pred) {
            size_t best = 0;
            for (size_t k = 1; k < K; k++)
                if (lg[k * nb + n] > lg[best * nb + n])
                    best = k;
            x->pred[t] = (long)best;
        }
    }
    return HN_OK;
}

int hn_batch_losses(const hn_model *m, const double *theta, const hn_samples *s,
                    const size_t *idx, size_t n, hn_fast *f, double *loss, double *logits,
                    long *pred, hn_err *err)
{
    int rc = hn_fc_check_args(f, m, s, idx, n, loss != NULL, "batch losses", err);
    if (rc)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .loss = loss, .logits = logits,
                .pred = pred};
    rc = hn_fc_run_chunks(f, n, 0, NULL, NULL, job_losses, &x, NULL);
    return rc ? hn_err_set(err, rc, "batch losses: failed") : HN_OK;
}

/* Forward, then the K unit cotangents of every sample as one batch of
 * K*nb blocks; Jacobians into Jout (sample n at Jout + n*K*P). */
static void ck_jacobian(hn_fast *F, hn_fc_chunk *c, const jobctx *x, size_t t0, size_t nb, double *Jout)
{
    const size_t K = F->K;
    hn_fc_ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    double *d = c->d[0];
    memset(d, 0, K * K * nb * sizeof *d);
    for (size_t k = 0; k < K; k++)     /* logit k of block (j, n) is [k][j*nb + n] */
        for (size_t n = 0; n < nb; n++)
            d[k * K * nb + k * nb + n] = 1.0;
    hn_fc_ck_backward(F, c, x->theta, K, x->eigs ? HN_FC_OUT_JAC_BODY : HN_FC_OUT_JAC, Jout, 0, NULL, 0, NULL);
}

static int job_jac(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    (void)slot;
    jobctx *x = vctx;
    const size_t K = F->K;
    ck_jacobian(F, c, x, t0, nb, x->J + t0 * K * F->P);
    if (x->logits)
        for (size_t n = 0; n < nb; n++)
            for (size_t k = 0; k < K; k++)
                x->logits[(t0 + n) * K + k] = c->act[F->L][k * nb + n];
    return HN_OK;
}

int hn_batch_jacobian(const hn_model *m, const double *theta, const hn_samples *s,
                      const size_t *idx, size_t n, hn_fast *f, double *J, double *logits,
                      hn_err *err)
{
    int rc = hn_fc_check_args(f, m, s, idx, n, 0, "batch Jacobian", err);
    if (rc)
        return rc;
    if (!J)
        return hn_err_set(err, HN_EINVAL, "batch Jacobian: missing output");
    if ((rc = hn_fc_fast_grow(f, f->rcap, 1, err)) != 0)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .J = J, .logits = logits};
    rc = hn_fc_run_chunks(f, n, 0, NULL, NULL, job_jac, &x, NULL);
    return rc ? hn_err_set(err, rc, "batch Jacobian: failed") : HN_OK;
}

/* Eigenvalues (descending) of C G C^T, G = J J^T (K x K), A = C^T C.
 * With a structured head (J = [J_body, I_K (x) x^T]) G = J_body J_body^T
 * + (x^T x) I_K, x = sample n's head input. */
static int ho_eigs_one(const hn_fast *F, hn_fc_chunk *c, const double *J, size_t n, const double *p,
                       double *ev)
{
    const size_t K = F->K, P = F->P;
    const int hs = hn_fc_head_structured(F);
    const size_t Pb = hs ? F->m->layers[F->L - 1].param_offset : P;
    double *G = c->kk, *Cm = G + K * K, *T = Cm + K * K, *w = T + 2 * K * K;
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (blasint)K, (blasint)Pb, 1.0, J,
                (blasint)P, 0.0, G, (blasint)K);
    if (hs) {
        const size_t d = F->m->layers[F->L - 1].in.c, nb = c->nb;
        const double *x = c->act[F->L - 1];
        double xx = 0;
        for (size_t j = 0; j < d; j++)
            xx += x[j * nb + n] * x[j * nb + n];
        for (size_t a = 0; a < K; a++)
            G[a * K + a] += xx;
    }
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < a; b++)
            G[a * K + b] = G[b * K + a];
    /* A = C^T C (C = I for the squared error) */
    const double *C = NULL;
    if (F->m->loss != HN_LOSS_MSE) {
        hn_softmax_hess_factor(K, p, Cm);
        C = Cm;
    }
    if (hn_sandwich_eigs(K, C, G, T, w, NULL) != 0)
        return HN_ENUMERIC;
    for (size_t k = 0; k < K; k++)
        ev[k] = w[K - 1 - k];
    return HN_OK;
}

static int job_ho(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    (void)slot;
    jobctx *x = vctx;
    const size_t K = F->K;
    ck_jacobian(F, c, x, t0, nb, c->J);
    for (size_t n = 0; n < nb; n++) {
        double *z = c->z + n * K, *p = c->p + n * K;
        for (size_t k = 0; k < K; k++)
            z[k] = c->act[F->L][k * nb + n];
        if (F->m->loss == HN_LOSS_CE)
            hn_loss_eval(HN_LOSS_CE, K, z, 0, NULL, NULL, p); /* any label: only p is used */
        int rc = ho_eigs_one(F, c, c->J + n * K * F->P, n, p, x->eigs + (t0 + n) * K);
        if (rc)
            return rc;
    }
    return HN_OK;
}

int hn_batch_ho_eigs(const hn_model *m, const double *theta, const hn_samples *s,
                     const size_t *idx, size_t n, hn_fast *f, double *eigs, hn_err *err)
{
    int rc = hn_fc_check_args(f, m, s, idx, n, 0, "per-sample H_O", err);
    if (rc)
        return rc;
    if (!eigs)
        return hn_err_set(err, HN_EINVAL, "per-sample H_O: missing output");
    if ((rc = hn_fc_fast_grow(f, f->rcap, 1, err)) != 0)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .eigs = eigs};
    rc = hn_fc_run_chunks(f, n, 0, NULL, NULL, job_ho, &x, NULL);
    if (rc == HN_ENUMERIC)
        return hn_err_set(err, rc, "per-sample H_O: LAPACK dsyevd failed on a %zu x %zu matrix",
                          f->K, f->K);
    return rc ? hn_err_set(err, rc, "per-sample H_O: failed") : HN_OK;
}

size_t hn_batch_ho_mean_bytes(const hn_model *m, size_t n)
{
    const double K = (double)m->classes, nK = (double)n * K, b = 8.0 * (nK * (double)m->n_params + nK * nK +
                                                                         K * (double)m->n_params + nK + 4 * K * K + K);
    return b < 0x1p62 ? (size_t)b : SIZE_MAX;
}

/* sample t's spectrum from the Gram's diagonal block t: n G_tt = C_t J_t J_t^T C_t^T
 * (G upper, row-major), descending as hn_batch_ho_eigs */
static int gram_block_eigs(size_t K, size_t nK, size_t n, const double *G, size_t t, double *buf, double *ev)
{
    double *B = buf, *w = buf + K * K, *T = w + K;
    for (size_t a = 0; a < K; a++)
        for (size_t b = a; b < K; b++)
            B[a * K + b] = B[b * K + a] = (double)n * G[(t * K + a) * nK + t * K + b];
    if (hn_sandwich_eigs(K, NULL, B, T, w, NULL) != 0)
        return HN_ENUMERIC;
    for (size_t k = 0; k < K; k++)
        ev[k] = w[K - 1 - k];
    return HN_OK;
}

int hn_batch_ho_mean_eigs(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                          size_t n, hn_fast *f, double *eigs, double *sample_eigs, double **rows, hn_err *err)
{
    const size_t K = m->classes, P = m->n_params, nK = n * K;
    if (rows)
        *rows = NULL;
    if (!eigs)
        return hn_err_set(err, HN_EINVAL, "mean H_O: missing output");
    size_t e1, e2;
    if (hn_mul_size(nK, P, &e1) || hn_mul_size(nK, nK, &e2) || e1 > SIZE_MAX / 8 - e2)
        return hn_err_set(err, HN_ETOOBIG, "mean H_O: %zu x %zu Jacobian rows overflow the address space", nK, P);
    double *J = hn_malloc(e1 * sizeof *J), *G = hn_malloc(e2 * sizeof *G), *T = hn_malloc(K * P * sizeof *T);
    double *z = hn_malloc(nK * sizeof *z), *C = hn_malloc((4 * K * K + K) * sizeof *C);
    int rc = J && G && T && z && C ? HN_OK : hn_err_set(err, HN_ENOMEM, "mean H_O: out of memory");
    if (!rc)
        rc = hn_batch_jacobian(m, theta, s, idx, n, f, J, z, err);
    /* B's rows: C_t J_t, A_t = C_t^T C_t (C = I for the squared error) */
    for (size_t t = 0; !rc && m->loss != HN_LOSS_MSE && t < n; t++) {
        double *p = C + K * K;
        hn_loss_eval(HN_LOSS_CE, K, z + t * K, 0, NULL, NULL, p); /* any label: only p is used */
        hn_softmax_hess_factor(K, p, C);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)K, (blasint)P, (blasint)K, 1.0, C,
                    (blasint)K, J + t * K * P, (blasint)P, 0.0, T, (blasint)P);
        memcpy(J + t * K * P, T, K * P * sizeof *T);
    }
    if (!rc) /* (1/n) B B^T: the nonzero spectrum of (1/n) B^T B = mean H_O */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (blasint)nK, (blasint)P, 1.0 / (double)n, J,
                    (blasint)P, 0.0, G, (blasint)nK);
    for (size_t t = 0; !rc && sample_eigs && t < n; t++)
        if (gram_block_eigs(K, nK, n, G, t, C, sample_eigs + t * K) != 0)
            rc = hn_err_set(err, HN_ENUMERIC, "per-sample H_O: LAPACK dsyevd failed on a %zu x %zu matrix", K, K);
    if (!rc)
        rc = hn_eig_sym_inplace(nK, G, z, 0, "mean H_O: the Gram's eigenvalues", err);
    for (size_t k = 0; !rc && k < nK; k++)
        eigs[k] = z[nK - 1 - k];
    if (!rc && rows) {
        *rows = J;
        J = NULL;
    }
    hn_free(J);
    hn_free(G);
    hn_free(T);
    hn_free(z);
    hn_free(C);
    return rc;
}

/* R-forward, then per (direction j, sample n): u = w_n A_n Rz_{j,n}. */
static void ck_tangent_logits(hn_fast *F, hn_fc_chunk *c, const jobctx *x, size_t t0, size_t nb,
                              double *u)
{
    const size_t K = F->K, r = x->r, B = r * nb;
    hn_fc_ck_rforward(F, c, x->theta, x->V, r);
    const double *rz = c->ract[F->L];
    double v[64], Av[64];
    double *vv = K <= 64 ? v : c->rg, *aa = K <= 64 ? Av : c->rg + K;
    for (size_t j = 0; j < r; j++)
        for (size_t n = 0; n < nb; n++) {
            const size_t b = j * nb + n;
            for (size_t k = 0; k < K; k++)
                vv[k] = rz[k * B + b];
            hn_loss_hess_apply(F->m->loss, K, c->p + n * K, vv, aa);
            const double w = item_w(x, t0 + n);
            for (size_t k = 0; k < K; k++)
                u[k * B + b] = w * aa[k];
        }
}

static int job_gnvp(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    jobctx *x = vctx;
    hn_fc_ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    for (size_t n = 0; n < nb; n++)
        hn_fc_ck_loss(F, c, x->s, x->idx, t0, n);
    ck_tangent_logits(F, c, x, t0, nb, c->d[0]);
    hn_fc_ck_backward(F, c, x->theta, x->r, HN_FC_OUT_SUM, slot, F->P, NULL, 0, NULL);
    return HN_OK;
}

static int job_hvp(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    jobctx *x = vctx;
    const size_t K = F->K;
    hn_fc_ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    double *d = c->d[0];
    for (size_t n = 0; n < nb; n++) {
        hn_fc_ck_loss(F, c, x->s, x->idx, t0, n);
        const double w = item_w(x, t0 + n);
        for (size_t k = 0; k < K; k++)
            d[k * nb + n] = w * c->g[n * K + k];
    }
    ck_tangent_logits(F, c, x, t0, nb, c->rd[0]);
    hn_fc_ck_backward(F, c, x->theta, 1, HN_FC_OUT_SUM, slot, F->P, x->V, x->r, NULL);
    return HN_OK;
}

static int vp_common(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                     size_t n, const double *weights, hn_fast *f, const double *V, size_t ndir,
                     double *HV, hn_fc_job_fn fn, const char *who, hn_err *err)
{
    int rc = hn_fc_check_args(f, m, s, idx, n, 1, who, err);
    if (rc)
        return rc;
    if (!V || !HV || ndir == 0)
        return hn_err_set(err, HN_EINVAL, "%s: no directions", who);
    if ((rc = hn_fc_fast_grow(f, ndir, 0, err)) != 0)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .w = weights, .V = V, .r = ndir};
    rc = hn_fc_run_chunks(f, n, ndir * f->P, HV, NULL, fn, &x, NULL);
    return rc ? hn_err_set(err, rc, "%s: failed", who) : HN_OK;
}

int hn_batch_hvp(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                 size_t n, const double *weights, hn_fast *f, const double *V, size_t ndir,
                 double *HV, hn_err *err)
{
    return vp_common(m, theta, s, idx, n, weights, f, V, ndir, HV, job_hvp,
                     "batch Hessian-vector product", err);
}

int hn_batch_gnvp(const hn_model *m, const double *theta, const hn_samples *s,
                  const size_t *idx, size_t n, const double *weights, hn_fast *f,
                  const double *V, size_t ndir, double *HV, hn_err *err)
{
    return vp_common(m, theta, s, idx, n, weights, f, V, ndir, HV, job_gnvp,
                     "batch Gauss-Newton-vector product", err);
}

/* ------------------------------------------------------------ cached operator */

/* Bytes of im2col matrices an operator keeps instead of recomputing them. */
#define HN_OP_COL_CACHE (1024.0 * 1024.0 * 1024.0)

struct hn_hvp_op {
    hn_fast *F;
    const hn_model *m;
    const double *theta;
    const hn_samples *s;
    size_t *idx;        /* copy, or NULL */
    double *w;          /* copy, or NULL (1/n) */
    size_t n, nch;
    int outer;
    size_t act_len, amax_len, del_len, col_len;    /* per chunk */
    size_t *act_off, *amax_off, *del_off, *col_off; /* per layer, inside a chunk's block */
    double *act, *del, *p, *col;                    /* col NULL: recomputed per product */
    size_t *amax;
};

void hn_hvp_op_free(hn_hvp_op *op)
{
    if (!op)
        return;
    hn_fast_free(op->F);
    hn_free(op->idx);
    hn_free(op->w);
    hn_free(op->act_off);
    hn_free(op->amax_off);
    hn_free(op->del_off);
    hn_free(op->col_off);
    hn_free(op->col);
    hn_free(op->act);
    hn_free(op->del);
    hn_free(op->p);
    hn_free(op->amax);
    hn_free(op);
}

typedef struct {
    hn_hvp_op *op;
    const double *v;
} opctx;

/* The plain reverse pass of the loss gradient, storing the cotangent at
 * every linear op's output (c->d[0] holds the logits' cotangent). */
static void ck_delta(const hn_fast *F, hn_fc_chunk *c, const double *theta, double *const *store)
{
    const hn_model *m = F->m;
    const size_t nb = c->nb;
    double *d = c->d[0], *d2 = c->d[1];
    for (size_t ii = F->L; ii-- > 0;) {
        const hn_layer *ly = &m->layers[ii];
        if (F->li[ii].lin) {
            memcpy(store[ii], d, nb * F->li[ii].outsz * sizeof *d);
            if (ii == 0)
                break;
            hn_conv_backward_data_batch(ly->in, nb, ly->out.c, ly->kh, ly->kw,
                                        theta + ly->param_offset, d, c->dcol, d2);
        } else {
            hn_fc_fixed_T(ly, c, ii, 1, d, d2);
        }
        double *t = d;
        d = d2;
        d2 = t;
    }
}

static int job_op_prep(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    (void)slot;
    hn_hvp_op *op = ((opctx *)vctx)->op;
    const size_t K = F->K, cc = t0 / HN_FC_CH;
    hn_fc_ck_forward(F, c, op->theta, op->s, op->idx, t0, nb);
    double *d = c->d[0];
    for (size_t n = 0; n < nb; n++) {
        hn_fc_ck_loss(F, c, op->s, op->idx, t0, n);
        const double w = op->w ? op->w[t0 + n] : 1.0 / (double)op->n;
        for (size_t k = 0; k < K; k++)
            d[k * nb + n] = w * c->g[n * K + k];
    }
    memcpy(op->p + cc * HN_FC_CH * K, c->p, nb * K * sizeof(double));
    for (size_t i = 0; i <= F->L; i++) {
        const size_t sz = i == 0 ? hn_shape_size(op->m->input) : F->li[i - 1].outsz;
        memcpy(op->act + cc * op->act_len + op->act_off[i], c->act[i], nb * sz * sizeof(double));
    }
    double *store[64], **st = F->L <= 64 ? store : NULL;
    for (size_t i = 0; i < F->L; i++) {
        if (c->amax[i])
            memcpy(op->amax + cc * op->amax_len + op->amax_off[i], c->amax[i],
                   nb * F->li[i].outsz * sizeof(size_t));
        if (st)
            st[i] = op->del + cc * op->del_len + op->del_off[i];
        if (op->col && F->li[i].lin && !F->li[i].k1)
            memcpy(op->col + cc * op->col_len + op->col_off[i], c->col[i],
                   F->li[i].ck * nb * F->li[i].howo * sizeof(double));
    }
    if (!op->outer) {
        if (!st)
            return HN_EINVAL;
        ck_delta(F, c, op->theta, st);
    }
    return HN_OK;
}

static int job_op_apply(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    opctx *oc = vctx;
    hn_hvp_op *op = oc->op;
    const size_t cc = t0 / HN_FC_CH, L = F->L;
    double *save_act[65], *save_col[64];
    size_t *save_amax[64];
    double *dc[64];
    if (L > 64)
        return HN_EINVAL;
    c->nb = nb;
    for (size_t i = 0; i <= L; i++) {
        save_act[i] = c->act[i];
        c->act[i] = op->act + cc * op->act_len + op->act_off[i];
    }
    for (size_t i = 0; i < L; i++) {
        save_amax[i] = c->amax[i];
        if (c->amax[i])
            c->amax[i] = op->amax + cc * op->amax_len + op->amax_off[i];
        dc[i] = op->del + cc * op->del_len + op->del_off[i];
        const hn_layer *ly = &op->m->layers[i];
        save_col[i] = c->col[i];
        if (F->li[i].lin && !F->li[i].k1) {
            if (op->col)
                c->col[i] = op->col + cc * op->col_len + op->col_off[i];
            else
                hn_im2col(ly->in, nb, ly->kh, ly->kw, c->act[i], c->col[i]);
        }
    }
    memcpy(c->p, op->p + cc * HN_FC_CH * F->K, nb * F->K * sizeof(double));
    jobctx x = {.theta = op->theta, .s = op->s, .idx = op->idx, .n = op->n, .w = op->w, .V = oc->v,
                .r = 1};
    if (op->outer) {
        ck_tangent_logits(F, c, &x, t0, nb, c->d[0]);
        hn_fc_ck_backward(F, c, op->theta, 1, HN_FC_OUT_SUM, slot, F->P, NULL, 0, NULL);
    } else {
        ck_tangent_logits(F, c, &x, t0, nb, c->rd[0]);
        hn_fc_ck_backward(F, c, op->theta, 1, HN_FC_OUT_SUM, slot, F->P, oc->v, 1, dc);
    }
    for (size_t i = 0; i <= L; i++)
        c->act[i] = save_act[i];
    for (size_t i = 0; i < L; i++) {
        c->amax[i] = save_amax[i];
        c->col[i] = save_col[i];
    }
    return HN_OK;
}

int hn_hvp_op_alloc(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                    size_t n, const double *weights, int outer, int threads, hn_hvp_op **out,
                    hn_err *err)
{
    *out = NULL;
    hn_fast *F = NULL;
    int rc = hn_fast_alloc(m, threads, 1, &F, err);
    if (rc)
        return rc;
    if ((rc = hn_fc_check_args(F, m, s, idx, n, 1, "Hessian operator", err)) != 0) {
        hn_fast_free(F);
        return rc;
    }
    if (m->n_layers > 64) {
        hn_fast_free(F);
        return hn_err_set(err, HN_EINVAL, "Hessian operator: at most 64 layers");
    }
    hn_hvp_op *op = hn_calloc(1, sizeof *op);
    if (!op) {
        hn_fast_free(F);
        return hn_err_set(err, HN_ENOMEM, "Hessian operator: out of memory");
    }
    op->F = F;
    op->m = m;
    op->theta = theta;
    op->s = s;
    op->n = n;
    op->outer = outer != 0;
    op->nch = (n + HN_FC_CH - 1) / HN_FC_CH;
    const size_t L = m->n_layers, K = m->classes;
    op->act_off = hn_calloc(L + 1, sizeof *op->act_off);
    op->amax_off = hn_calloc(L, sizeof *op->amax_off);
    op->del_off = hn_calloc(L, sizeof *op->del_off);
    op->col_off = hn_calloc(L, sizeof *op->col_off);
    if (!op->act_off || !op->amax_off || !op->del_off || !op->col_off)
        goto nomem;
    for (size_t i = 0; i <= L; i++) {
        const size_t sz = i == 0 ? hn_shape_size(m->input) : F->li[i - 1].outsz;
        op->act_off[i] = op->act_len;
        op->act_len += HN_FC_CH * sz;
        if (i < L) {
            const int mp = m->layers[i].type == HN_MAXPOOL1D || m->layers[i].type == HN_MAXPOOL2D;
            op->amax_off[i] = op->amax_len;
            op->amax_len += mp ? HN_FC_CH * F->li[i].outsz : 0;
            op->del_off[i] = op->del_len;
            op->del_len += !op->outer && F->li[i].lin ? HN_FC_CH * F->li[i].outsz : 0;
            op->col_off[i] = op->col_len;
            op->col_len += F->li[i].lin && !F->li[i].k1 ? F->li[i].ck * HN_FC_CH * F->li[i].howo : 0;
        }
    }
    if (idx) {
        if (!(op->idx = hn_calloc(n, sizeof *op->idx)))
            goto nomem;
        memcpy(op->idx, idx, n * sizeof *idx);
    }
    if (weights) {
        if (!(op->w = hn_calloc(n, sizeof *op->w)))
            goto nomem;
        memcpy(op->w, weights, n * sizeof *weights);
    }
    if (!(op->act = hn_fc_dalloc3(op->nch, op->act_len, 1)) || !(op->del = hn_fc_dalloc3(op->nch, op->del_len, 1)) ||
        !(op->p = hn_fc_dalloc3(op->nch * HN_FC_CH, K, 1)))
        goto nomem;
    /* the cols (k*k times the activations) are kept too while they fit */
    if ((double)op->nch * (double)op->col_len * sizeof(double) <= HN_OP_COL_CACHE &&
        !(op->col = hn_fc_dalloc3(op->nch, op->col_len, 1)))
        goto nomem;
    {
        size_t t;
        if (hn_mul_size(op->nch, op->amax_len ? op->amax_len : 1, &t) != 0 ||
            !(op->amax = hn_calloc(t, sizeof(size_t))))
            goto nomem;
    }
    opctx oc = {op, NULL};
    rc = hn_fc_run_chunks(F, n, 0, NULL, NULL, job_op_prep, &oc, NULL);
    if (rc) {
        hn_hvp_op_free(op);
        return hn_err_set(err, rc, "Hessian operator: forward pass failed");
    }
    *out = op;
    return HN_OK;
nomem:
    hn_hvp_op_free(op);
    return hn_err_set(err, HN_ENOMEM, "Hessian operator: out of memory (%zu samples)", n);
}

size_t hn_hvp_op_dim(const hn_hvp_op *op) { return op->F->P; }

int hn_hvp_op_apply(hn_hvp_op *op, const double *v, double *Hv, hn_err *err)
{
    if (!op || !v || !Hv)
        return hn_err_set(err, HN_EINVAL, "Hessian operator: missing argument");
    opctx oc = {op, v};
    int rc = hn_fc_run_chunks(op->F, op->n, op->F->P, Hv, NULL, job_op_apply, &oc, NULL);
    return rc ? hn_err_set(err, rc, "Hessian operator: product failed") : HN_OK;
}
