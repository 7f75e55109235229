/* hessnorm — batched GEMM-shaped kernels (im2col + OpenBLAS DGEMM) and the
 * network passes built on them: forward/backward, per-sample losses,
 * batched Jacobians, per-sample H_O spectra, Hessian- and Gauss-Newton-
 * vector products.  This file: the GEMM wrappers, the conv primitives and
 * the workspace (hn_fast); the chunk passes are in fastconv_pass.c, the
 * batched operations in fastconv_ops.c.
 *
 * These files call OpenBLAS's cblas.h directly and therefore include no
 * GSL header (gsl_cblas.h declares the same names). */
#include "config.h"
#include <string.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/layers.h"
#include "hessnorm/fastconv.h"
#include "net/fastconv_internal.h"

/* ------------------------------------------------------------ GEMM */

/* OpenBLAS's small-matrix DGEMM path (no packing) runs only while
 * M*N*K stays below about 100^3; our GEMMs are thin (M = channels), so
 * long dimensions are cut into pieces that stay on that path.  The cut
 * depends on the sizes only, never on the thread count. */
#define GEMM_SMALL 1.0e6
#define GEMM_MIN_PIECE 256

static size_t piece(size_t M, size_t K, size_t N)
{
    const double mk = (double)M * (double)K;
    if (mk <= 0 || mk * (double)N <= GEMM_SMALL)
        return N;
    size_t p = (size_t)(GEMM_SMALL / mk);
    return p < GEMM_MIN_PIECE ? GEMM_MIN_PIECE : p;
}

/* C (M x N) = op(A) op(B) + beta C, row-major; N cut into pieces (exact:
 * the columns of C are independent). */
void hn_fc_gemm(int ta, int tb, size_t M, size_t N, size_t K, const double *A, size_t lda,
                const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0 ? 0.0 : beta * C[i * ldc + j];
        return;
    }
    const size_t pc = piece(M, K, N);
    for (size_t j = 0; j < N; j += pc) {
        const size_t w = N - j < pc ? N - j : pc;
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (blasint)M, (blasint)w, (blasint)K, 1.0, A, (blasint)lda,
                    tb ? B + j * ldb : B + j, (blasint)ldb, beta, C + j, (blasint)ldc);
    }
}

/* C (M x N) = A (M x K) B^T + beta C with B stored N x K (rows of length
 * ldb): the weight-gradient shape, K = batch x positions; K cut into
 * pieces added in order. */
void hn_fc_gemm_nt(size_t M, size_t N, size_t K, const double *A, size_t lda, const double *B,
                   size_t ldb, double beta, double *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        hn_fc_gemm(0, 1, M, N, 0, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const size_t pc = piece(M, N, K);
    for (size_t k = 0; k < K; k += pc) {
        const size_t w = K - k < pc ? K - k : pc;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)N, (blasint)w,
                    1.0, A + k, (blasint)lda, B + k, (blasint)ldb, k ? 1.0 : beta, C, (blasint)ldc);
    }
}

/* ------------------------------------------------------------ primitives */

size_t hn_conv_col_size(hn_shape in, size_t B, size_t kh, size_t kw)
{
    if (kh * kw == 1)
        return 0;
    return in.c * kh * kw * B * (in.h - kh + 1) * (in.w - kw + 1);
}

/* Loops run plane by plane (i, n) so that the input plane stays in L1
 * while its kh*kw shifted copies are written; `omp simd` vectorises the
 * short rows whatever the optimisation level. */
void hn_im2col(hn_shape in, size_t B, size_t kh, size_t kw, const double *x, double *col)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, HW = in.h * in.w;
    const size_t N = B * ho * wo;
    for (size_t i = 0; i < in.c; i++)
        for (size_t n = 0; n < B; n++)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    double *restrict row = col + ((i * kh + a) * kw + b) * N + n * ho * wo;
                    const double *restrict xp = x + (i * B + n) * HW + a * in.w + b;
                    for (size_t y = 0; y < ho; y++) {
                        const double *restrict xr = xp + y * in.w;
                        double *restrict rr = row + y * wo;
#pragma omp simd
                        for (size_t q = 0; q < wo; q++)
                            rr[q] = xr[q];
                    }
                }
}

void hn_col2im(hn_shape in, size_t B, size_t kh, size_t kw, const double *col, double *x)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, HW = in.h * in.w;
    const size_t N = B * ho * wo;
    memset(x, 0, in.c * B * HW * sizeof *x);
    for (size_t i = 0; i < in.c; i++)
        for (size_t n = 0; n < B; n++)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    const double *restrict row = col + ((i * kh + a) * kw + b) * N + n * ho * wo;
                    double *restrict xp = x + (i * B + n) * HW + a * in.w + b;
                    for (size_t y = 0; y < ho; y++) {
                        double *restrict xr = xp + y * in.w;
                        const double *restrict rr = row + y * wo;
#pragma omp simd
                        for (size_t q = 0; q < wo; q++)
                            xr[q] += rr[q];
                    }
                }
}

void hn_conv_forward_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                           const double *W, const double *x, double *col, double *z)
{
    const size_t ck = in.c * kh * kw, N = B * (in.h - kh + 1) * (in.w - kw + 1);
    const double *c = x;
    if (kh * kw > 1) {
        hn_im2col(in, B, kh, kw, x, col);
        c = col;
    }
    hn_fc_gemm(0, 0, co, N, ck, W, ck, c, N, 0.0, z, N);
}

void hn_conv_backward_data_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                                 const double *W, const double *dz, double *col, double *dx)
{
    const size_t ck = in.c * kh * kw, N = B * (in.h - kh + 1) * (in.w - kw + 1);
    if (kh * kw == 1) {
        hn_fc_gemm(1, 0, ck, N, co, W, ck, dz, N, 0.0, dx, N);
        return;
    }
    hn_fc_gemm(1, 0, ck, N, co, W, ck, dz, N, 0.0, col, N);
    hn_col2im(in, B, kh, kw, col, dx);
}

void hn_conv_backward_weights_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                                    const double *x, const double *dz, double *col, double *dW)
{
    const size_t ck = in.c * kh * kw, N = B * (in.h - kh + 1) * (in.w - kw + 1);
    const double *c = x;
    if (kh * kw > 1) {
        hn_im2col(in, B, kh, kw, x, col);
        c = col;
    }
    hn_fc_gemm_nt(co, ck, N, dz, N, c, N, 1.0, dW, ck);
}

void hn_nchw_to_cnhw(hn_shape s, size_t B, const double *src, double *dst)
{
    const size_t HW = s.h * s.w;
    for (size_t n = 0; n < B; n++)
        for (size_t c = 0; c < s.c; c++)
            memcpy(dst + (c * B + n) * HW, src + (n * s.c + c) * HW, HW * sizeof *dst);
}

void hn_cnhw_to_nchw(hn_shape s, size_t B, const double *src, double *dst)
{
    const size_t HW = s.h * s.w;
    for (size_t n = 0; n < B; n++)
        for (size_t c = 0; c < s.c; c++)
            memcpy(dst + (n * s.c + c) * HW, src + (c * B + n) * HW, HW * sizeof *dst);
}

/* ------------------------------------------------------------ workspace */

static void chunk_free(const hn_fast *F, hn_fc_chunk *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= F->L; i++) {
        if (c->act)
            hn_free(c->act[i]);
        if (c->ract)
            hn_free(c->ract[i]);
        if (i < F->L && c->amax)
            hn_free(c->amax[i]);
    }
    hn_free(c->act);
    hn_free(c->ract);
    hn_free(c->amax);
    hn_free(c->col);
    hn_free(c->colbuf);
    hn_free(c->rcol);
    hn_free(c->rcl);
    hn_free(c->dcol);
    hn_free(c->wbuf);
    hn_free(c->J);
    for (int k = 0; k < 2; k++) {
        hn_free(c->d[k]);
        hn_free(c->rd[k]);
    }
    hn_free(c->g);
    hn_free(c->p);
    hn_free(c->z);
    hn_free(c->rg);
    hn_free(c->kk);
    hn_free(c->loss);
    hn_free(c);
}

static hn_fc_chunk *chunk_alloc(const hn_fast *F, size_t rcap, int jac)
{
    const hn_model *m = F->m;
    const size_t L = F->L, K = F->K;
    const size_t bcap = HN_FC_CH * (jac && K > rcap ? K : rcap > 1 ? rcap : 1);
    hn_fc_chunk *c = hn_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->act = hn_calloc(L + 1, sizeof *c->act);
    c->col = hn_calloc(L, sizeof *c->col);
    c->amax = hn_calloc(L, sizeof *c->amax);
    if (!c->act || !c->col || !c->amax)
        goto fail;
    size_t colsz = 0, dcolmax = 1, rcolsz = 1, wmax = 1;
    for (size_t i = 0; i < L; i++) {
        const hn_fc_linfo *l = &F->li[i];
        if (l->lin && !l->k1) {
            colsz += l->ck * HN_FC_CH * l->howo;
            if (l->ck * bcap * l->howo > dcolmax)
                dcolmax = l->ck * bcap * l->howo;
            if (rcap && i > 0)
                rcolsz += l->ck * rcap * HN_FC_CH * l->howo;
        }
        if (l->lin && jac && K * m->layers[i].param_count > wmax)
            wmax = K * m->layers[i].param_count;
    }
    for (size_t i = 0; i <= L; i++) {
        const size_t sz = i == 0 ? hn_shape_size(m->input) : F->li[i - 1].outsz;
        if (!(c->act[i] = hn_fc_dalloc3(HN_FC_CH, sz, 1)))
            goto fail;
        if (i > 0 && (m->layers[i - 1].type == HN_MAXPOOL1D || m->layers[i - 1].type == HN_MAXPOOL2D))
            if (!(c->amax[i - 1] = hn_calloc(HN_FC_CH * sz, sizeof(size_t))))
                goto fail;
    }
    if (!(c->colbuf = hn_fc_dalloc3(colsz, 1, 1)) || !(c->dcol = hn_fc_dalloc3(dcolmax, 1, 1)) ||
        !(c->wbuf = hn_fc_dalloc3(wmax, 1, 1)) || !(c->d[0] = hn_fc_dalloc3(bcap, m->max_act, 1)) ||
        !(c->d[1] = hn_fc_dalloc3(bcap, m->max_act, 1)) || !(c->g = hn_fc_dalloc3(HN_FC_CH, K, 1)) ||
        !(c->p = hn_fc_dalloc3(HN_FC_CH, K, 1)) || !(c->z = hn_fc_dalloc3(HN_FC_CH, K, 1)) ||
        !(c->kk = hn_fc_dalloc3(4 * K + 2, K, 1)) || !(c->loss = hn_fc_dalloc3(HN_FC_CH, 1, 1)))
        goto fail;
    {
        double *cp = c->colbuf;
        for (size_t i = 0; i < L; i++)
            if (F->li[i].lin && !F->li[i].k1) {
                c->col[i] = cp;
                cp += F->li[i].ck * HN_FC_CH * F->li[i].howo;
            }
    }
    if (rcap) {
        if (!(c->ract = hn_calloc(L + 1, sizeof *c->ract)) || !(c->rcol = hn_fc_dalloc3(rcolsz, 1, 1)) ||
            !(c->rcl = hn_calloc(L, sizeof *c->rcl)) ||
            !(c->rd[0] = hn_fc_dalloc3(rcap * HN_FC_CH, m->max_act, 1)) ||
            !(c->rd[1] = hn_fc_dalloc3(rcap * HN_FC_CH, m->max_act, 1)) || !(c->rg = hn_fc_dalloc3(rcap * HN_FC_CH, K, 1)))
            goto fail;
        for (size_t i = 0; i <= L; i++) {
            const size_t sz = i == 0 ? hn_shape_size(m->input) : F->li[i - 1].outsz;
            if (!(c->ract[i] = hn_fc_dalloc3(rcap * HN_FC_CH, sz, 1)))
                goto fail;
        }
        /* the tangents' cols are kept from the tangent pass to the reverse pass */
        double *rp = c->rcol;
        for (size_t i = 1; i < L; i++)
            if (F->li[i].lin && !F->li[i].k1) {
                c->rcl[i] = rp;
                rp += F->li[i].ck * rcap * HN_FC_CH * F->li[i].howo;
            }
    }
    if (jac && !(c->J = hn_fc_dalloc3(HN_FC_CH * K, F->P, 1)))
        goto fail;
    return c;
fail:
    chunk_free(F, c);
    return NULL;
}

void hn_fast_free(hn_fast *f)
{
    if (!f)
        return;
    if (f->ck)
        for (int t = 0; t < f->threads; t++)
            chunk_free(f, f->ck[t]);
    hn_free(f->ck);
    hn_free(f->li);
    hn_free(f->slots);
    hn_free(f->lsum);
    hn_free(f->rcs);
    hn_free(f->hx);
    hn_free(f->hd);
    hn_free(f);
}

/* (Re)allocate every thread's chunk for rcap directions and, if jac, the
 * Jacobian buffers.  Called outside parallel regions only. */
int hn_fc_fast_grow(hn_fast *F, size_t rcap, int jac, hn_err *err)
{
    if (F->ck && rcap <= F->rcap && (!jac || F->jac))
        return HN_OK;
    if (rcap < F->rcap)
        rcap = F->rcap;
    jac = jac || F->jac;
    const size_t nslot = rcap > 1 ? rcap : 1;
    double *slots = hn_fc_dalloc3(HN_FC_SUPER, nslot, F->P);
    hn_fc_chunk **ck = hn_calloc((size_t)F->threads, sizeof *ck);
    int ok = slots && ck;
    for (int t = 0; ok && t < F->threads; t++)
        ok = (ck[t] = chunk_alloc(F, rcap, jac)) != NULL;
    if (!ok) {
        if (ck)
            for (int t = 0; t < F->threads; t++)
                chunk_free(F, ck[t]);
        hn_free(ck);
        hn_free(slots);
        return hn_err_set(err, HN_ENOMEM,
                          "fast kernels: out of memory (%zu parameters, %zu directions%s)", F->P,
                          rcap, jac ? ", Jacobians" : "");
    }
    if (F->ck)
        for (int t = 0; t < F->threads; t++)
            chunk_free(F, F->ck[t]);
    hn_free(F->ck);
    hn_free(F->slots);
    F->ck = ck;
    F->slots = slots;
    F->rcap = rcap;
    F->jac = jac;
    return HN_OK;
}

int hn_fast_alloc(const hn_model *m, int threads, size_t max_dirs, hn_fast **out, hn_err *err)
{
    *out = NULL;
    if (!m || !m->finalized)
        return hn_err_set(err, HN_EINVAL, "fast kernels: model is not finalized");
    hn_fast *F = hn_calloc(1, sizeof *F);
    if (!F)
        return hn_err_set(err, HN_ENOMEM, "fast kernels: out of memory");
    F->m = m;
    F->threads = hn_resolve_threads(threads);
    F->P = m->n_params;
    F->K = m->classes;
    F->L = m->n_layers;
    F->li = hn_calloc(m->n_layers, sizeof *F->li);
    F->lsum = hn_calloc(HN_FC_SUPER, sizeof *F->lsum);
    F->rcs = hn_calloc(HN_FC_SUPER, sizeof *F->rcs);
    if (!F->li || !F->lsum || !F->rcs) {
        hn_fast_free(F);
        return hn_err_set(err, HN_ENOMEM, "fast kernels: out of memory");
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        hn_fc_linfo *l = &F->li[i];
        l->lin = hn_layer_is_linear(ly->type);
        l->k1 = ly->kh * ly->kw == 1;
        l->ck = ly->in.c * ly->kh * ly->kw;
        l->howo = ly->out.h * ly->out.w;
        l->insz = hn_shape_size(ly->in);
        l->outsz = hn_shape_size(ly->out);
    }
    {
        const hn_layer *hl = &m->layers[m->n_layers - 1];
        if (hl->type == HN_LINEAR && hl->in.h * hl->in.w == 1) {
            F->hdim = hl->in.c;
            if (!(F->hx = hn_fc_dalloc3(F->hdim, HN_FC_SUPER * HN_FC_CH, 1)) || !(F->hd = hn_fc_dalloc3(F->K, HN_FC_SUPER * HN_FC_CH, 1))) {
                hn_fast_free(F);
                return hn_err_set(err, HN_ENOMEM, "fast kernels: out of memory");
            }
        }
    }
    int rc = hn_fc_fast_grow(F, max_dirs, 0, err);
    if (rc) {
        hn_fast_free(F);
        return rc;
    }
    *out = F;
    return HN_OK;
}

int hn_fast_threads(const hn_fast *f) { return f->threads; }
