/* hessnorm — batched GEMM-shaped kernels (im2col + OpenBLAS DGEMM) and the
 * network passes built on them: forward/backward, per-sample losses,
 * batched Jacobians, per-sample H_O spectra, Hessian- and Gauss-Newton-
 * vector products.
 *
 * This file calls OpenBLAS's cblas.h directly and therefore includes no
 * GSL header (gsl_cblas.h declares the same names). */
#include "config.h"
#include <math.h>
#include <string.h>
#include <cblas.h>
#include <lapacke.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/layers.h"
#include "hessnorm/fastconv.h"

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
static void gemm(int ta, int tb, size_t M, size_t N, size_t K, const double *A, size_t lda,
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
static void gemm_nt(size_t M, size_t N, size_t K, const double *A, size_t lda, const double *B,
                    size_t ldb, double beta, double *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        gemm(0, 1, M, N, 0, A, lda, B, ldb, beta, C, ldc);
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
    gemm(0, 0, co, N, ck, W, ck, c, N, 0.0, z, N);
}

void hn_conv_backward_data_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                                 const double *W, const double *dz, double *col, double *dx)
{
    const size_t ck = in.c * kh * kw, N = B * (in.h - kh + 1) * (in.w - kw + 1);
    if (kh * kw == 1) {
        gemm(1, 0, ck, N, co, W, ck, dz, N, 0.0, dx, N);
        return;
    }
    gemm(1, 0, ck, N, co, W, ck, dz, N, 0.0, col, N);
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
    gemm_nt(co, ck, N, dz, N, c, N, 1.0, dW, ck);
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

#define CH HN_FAST_CHUNK
/* Chunks per reduction round: the partial results of SUPER chunks are
 * computed in parallel, then added in chunk order. */
#define SUPER 16
#define RED_BLOCK 1024

typedef struct {
    size_t ck, howo, insz, outsz;  /* ck = ci*kh*kw (linear ops) */
    int lin, k1;                   /* linear op; 1x1 kernel (its input is its own col) */
} linfo;

/* One thread's buffers for a chunk of at most CH samples.  Batches of
 * "replicas" (the K unit cotangents of a Jacobian, the directions of an
 * HVP) hold B = r*nb blocks, block b = j*nb + n being replica j of sample
 * n: replica j of every sample is one contiguous column range of a GEMM. */
typedef struct {
    size_t nb;        /* samples in the current chunk */
    double **act;     /* n_layers + 1: activations, CH blocks */
    double **col;     /* n_layers: im2col of act[i] (k > 1 linear ops) */
    size_t **amax;    /* n_layers: max-pool choice, index inside the input plane */
    double **ract;    /* n_layers + 1: tangents, rcap*CH blocks */
    double *colbuf, *rcol, *dcol, *wbuf, *J;
    double **rcl;     /* n_layers: im2col of ract[i] inside rcol (k > 1 linear ops after the first) */
    double *d[2], *rd[2];
    double *g, *p, *z, *rg, *kk;
    double *loss;     /* CH per-sample losses */
    double lsum;      /* sum of the chunk's losses */
} chunk;

struct hn_fast {
    const hn_model *m;
    int threads;
    size_t P, K, L;
    linfo *li;
    size_t rcap;      /* directions the R buffers hold (0: none) */
    int jac;          /* Jacobian buffers allocated */
    chunk **ck;
    double *slots;    /* SUPER x max(rcap, 1) x P */
    double *lsum;     /* SUPER */
    int *rcs;         /* SUPER */
    /* structured linear head (d inputs): its gradient is one GEMM per round
     * over the round's head inputs hx (d x S) and logit cotangents hd (K x S),
     * S = SUPER*CH, instead of a per-chunk slot */
    size_t hdim;
    double *hx, *hd;
};

static int resolve_threads(int threads)
{
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static void chunk_free(const hn_fast *F, chunk *c)
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

/* n1 * n2 * n3 doubles, or NULL on overflow / out of memory (0 -> 1). */
static double *dalloc3(size_t n1, size_t n2, size_t n3)
{
    size_t t;
    if (hn_mul3_size(n1, n2, n3, &t) != 0 || t > (size_t)-1 / sizeof(double))
        return NULL;
    return hn_calloc(t ? t : 1, sizeof(double));
}

static chunk *chunk_alloc(const hn_fast *F, size_t rcap, int jac)
{
    const hn_model *m = F->m;
    const size_t L = F->L, K = F->K;
    const size_t bcap = CH * (jac && K > rcap ? K : rcap > 1 ? rcap : 1);
    chunk *c = hn_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->act = hn_calloc(L + 1, sizeof *c->act);
    c->col = hn_calloc(L, sizeof *c->col);
    c->amax = hn_calloc(L, sizeof *c->amax);
    if (!c->act || !c->col || !c->amax)
        goto fail;
    size_t colsz = 0, dcolmax = 1, rcolsz = 1, wmax = 1;
    for (size_t i = 0; i < L; i++) {
        const linfo *l = &F->li[i];
        if (l->lin && !l->k1) {
            colsz += l->ck * CH * l->howo;
            if (l->ck * bcap * l->howo > dcolmax)
                dcolmax = l->ck * bcap * l->howo;
            if (rcap && i > 0)
                rcolsz += l->ck * rcap * CH * l->howo;
        }
        if (l->lin && jac && K * m->layers[i].param_count > wmax)
            wmax = K * m->layers[i].param_count;
    }
    for (size_t i = 0; i <= L; i++) {
        const size_t sz = i == 0 ? hn_shape_size(m->input) : F->li[i - 1].outsz;
        if (!(c->act[i] = dalloc3(CH, sz, 1)))
            goto fail;
        if (i > 0 && (m->layers[i - 1].type == HN_MAXPOOL1D || m->layers[i - 1].type == HN_MAXPOOL2D))
            if (!(c->amax[i - 1] = hn_calloc(CH * sz, sizeof(size_t))))
                goto fail;
    }
    if (!(c->colbuf = dalloc3(colsz, 1, 1)) || !(c->dcol = dalloc3(dcolmax, 1, 1)) ||
        !(c->wbuf = dalloc3(wmax, 1, 1)) || !(c->d[0] = dalloc3(bcap, m->max_act, 1)) ||
        !(c->d[1] = dalloc3(bcap, m->max_act, 1)) || !(c->g = dalloc3(CH, K, 1)) ||
        !(c->p = dalloc3(CH, K, 1)) || !(c->z = dalloc3(CH, K, 1)) ||
        !(c->kk = dalloc3(4 * K + 2, K, 1)) || !(c->loss = dalloc3(CH, 1, 1)))
        goto fail;
    {
        double *cp = c->colbuf;
        for (size_t i = 0; i < L; i++)
            if (F->li[i].lin && !F->li[i].k1) {
                c->col[i] = cp;
                cp += F->li[i].ck * CH * F->li[i].howo;
            }
    }
    if (rcap) {
        if (!(c->ract = hn_calloc(L + 1, sizeof *c->ract)) || !(c->rcol = dalloc3(rcolsz, 1, 1)) ||
            !(c->rcl = hn_calloc(L, sizeof *c->rcl)) ||
            !(c->rd[0] = dalloc3(rcap * CH, m->max_act, 1)) ||
            !(c->rd[1] = dalloc3(rcap * CH, m->max_act, 1)) || !(c->rg = dalloc3(rcap * CH, K, 1)))
            goto fail;
        for (size_t i = 0; i <= L; i++) {
            const size_t sz = i == 0 ? hn_shape_size(m->input) : F->li[i - 1].outsz;
            if (!(c->ract[i] = dalloc3(rcap * CH, sz, 1)))
                goto fail;
        }
        /* the tangents' cols are kept from the tangent pass to the reverse pass */
        double *rp = c->rcol;
        for (size_t i = 1; i < L; i++)
            if (F->li[i].lin && !F->li[i].k1) {
                c->rcl[i] = rp;
                rp += F->li[i].ck * rcap * CH * F->li[i].howo;
            }
    }
    if (jac && !(c->J = dalloc3(CH * K, F->P, 1)))
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
static int fast_grow(hn_fast *F, size_t rcap, int jac, hn_err *err)
{
    if (F->ck && rcap <= F->rcap && (!jac || F->jac))
        return HN_OK;
    if (rcap < F->rcap)
        rcap = F->rcap;
    jac = jac || F->jac;
    const size_t nslot = rcap > 1 ? rcap : 1;
    double *slots = dalloc3(SUPER, nslot, F->P);
    chunk **ck = hn_calloc((size_t)F->threads, sizeof *ck);
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
    F->threads = resolve_threads(threads);
    F->P = m->n_params;
    F->K = m->classes;
    F->L = m->n_layers;
    F->li = hn_calloc(m->n_layers, sizeof *F->li);
    F->lsum = hn_calloc(SUPER, sizeof *F->lsum);
    F->rcs = hn_calloc(SUPER, sizeof *F->rcs);
    if (!F->li || !F->lsum || !F->rcs) {
        hn_fast_free(F);
        return hn_err_set(err, HN_ENOMEM, "fast kernels: out of memory");
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        linfo *l = &F->li[i];
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
            if (!(F->hx = dalloc3(F->hdim, SUPER * CH, 1)) || !(F->hd = dalloc3(F->K, SUPER * CH, 1))) {
                hn_fast_free(F);
                return hn_err_set(err, HN_ENOMEM, "fast kernels: out of memory");
            }
        }
    }
    int rc = fast_grow(F, max_dirs, 0, err);
    if (rc) {
        hn_fast_free(F);
        return rc;
    }
    *out = F;
    return HN_OK;
}

int hn_fast_threads(const hn_fast *f) { return f->threads; }

/* ------------------------------------------------------------ fixed layers */

/* out = Lambda_i in for B = r*nb blocks (replica-major), masks of sample
 * n = b mod nb from the chunk's forward pass. */
static void fixed_fwd(const hn_layer *ly, const chunk *c, size_t i, size_t r, const double *in,
                      double *out)
{
    const size_t nb = c->nb, B = r * nb, iHW = ly->in.h * ly->in.w, oHW = ly->out.h * ly->out.w;
    switch (ly->type) {
    case HN_RELU:
        for (size_t ch = 0; ch < ly->in.c; ch++)
            for (size_t j = 0; j < r; j++)
                for (size_t n = 0; n < nb; n++) {
                    const double *restrict pre = c->act[i] + (ch * nb + n) * iHW;
                    const size_t o = (ch * B + j * nb + n) * iHW;
                    const double *restrict src = in + o;
                    double *restrict dst = out + o;
#pragma omp simd
                    for (size_t q = 0; q < iHW; q++) {
                        const double v = src[q]; /* unconditional load: a blend, no branch */
                        dst[q] = pre[q] > 0 ? v : 0.0;
                    }
                }
        break;
    case HN_MAXPOOL1D:
    case HN_MAXPOOL2D:
        for (size_t ch = 0; ch < ly->in.c; ch++)
            for (size_t j = 0; j < r; j++)
                for (size_t n = 0; n < nb; n++) {
                    const size_t *am = c->amax[i] + (ch * nb + n) * oHW;
                    const double *src = in + (ch * B + j * nb + n) * iHW;
                    double *dst = out + (ch * B + j * nb + n) * oHW;
                    for (size_t q = 0; q < oHW; q++)
                        dst[q] = src[am[q]];
                }
        break;
    case HN_AVGPOOL1D:
    case HN_AVGPOOL2D:
        hn_avgpool_forward((hn_shape){ly->in.c * B, ly->in.h, ly->in.w}, ly->kh, ly->kw, in, out);
        break;
    default: /* flatten: [C][B][HW] -> [C*HW][B] */
        for (size_t ch = 0; ch < ly->in.c; ch++)
            for (size_t b = 0; b < B; b++) {
                const double *src = in + (ch * B + b) * iHW;
                for (size_t q = 0; q < iHW; q++)
                    out[(ch * iHW + q) * B + b] = src[q];
            }
        break;
    }
}

/* out (input-sized) = Lambda_i^T in, same batch convention. */
static void fixed_T(const hn_layer *ly, const chunk *c, size_t i, size_t r, const double *in,
                    double *out)
{
    const size_t nb = c->nb, B = r * nb, iHW = ly->in.h * ly->in.w, oHW = ly->out.h * ly->out.w;
    switch (ly->type) {
    case HN_RELU:
        fixed_fwd(ly, c, i, r, in, out);
        break;
    case HN_MAXPOOL1D:
    case HN_MAXPOOL2D:
        for (size_t ch = 0; ch < ly->in.c; ch++)
            for (size_t j = 0; j < r; j++)
                for (size_t n = 0; n < nb; n++) {
                    const size_t *am = c->amax[i] + (ch * nb + n) * oHW;
                    const double *src = in + (ch * B + j * nb + n) * oHW;
                    double *dst = out + (ch * B + j * nb + n) * iHW;
                    memset(dst, 0, iHW * sizeof *dst);
                    for (size_t q = 0; q < oHW; q++)
                        dst[am[q]] += src[q];
                }
        break;
    case HN_AVGPOOL1D:
    case HN_AVGPOOL2D:
        hn_avgpool_backward((hn_shape){ly->in.c * B, ly->in.h, ly->in.w}, ly->kh, ly->kw, in, out);
        break;
    default:
        for (size_t ch = 0; ch < ly->in.c; ch++)
            for (size_t b = 0; b < B; b++) {
                double *dst = out + (ch * B + b) * iHW;
                for (size_t q = 0; q < iHW; q++)
                    dst[q] = in[(ch * iHW + q) * B + b];
            }
        break;
    }
}

/* ------------------------------------------------------------ chunk passes */

static const double *sample_x(const hn_samples *s, const size_t *idx, size_t t)
{
    return s->x + (idx ? idx[t] : t) * s->in_size;
}

/* Forward pass of items t0 .. t0+nb-1: activations, cols, pool choices. */
static void ck_forward(const hn_fast *F, chunk *c, const double *theta, const hn_samples *s,
                       const size_t *idx, size_t t0, size_t nb)
{
    const hn_model *m = F->m;
    c->nb = nb;
    {
        const hn_shape in = m->input;
        const size_t HW = in.h * in.w;
        for (size_t n = 0; n < nb; n++) {
            const double *x = sample_x(s, idx, t0 + n);
            for (size_t ch = 0; ch < in.c; ch++)
                memcpy(c->act[0] + (ch * nb + n) * HW, x + ch * HW, HW * sizeof(double));
        }
    }
    for (size_t i = 0; i < F->L; i++) {
        const hn_layer *ly = &m->layers[i];
        const linfo *l = &F->li[i];
        const double *in = c->act[i];
        double *out = c->act[i + 1];
        if (l->lin) {
            const size_t N = nb * l->howo;
            const double *col = in;
            if (!l->k1) {
                hn_im2col(ly->in, nb, ly->kh, ly->kw, in, c->col[i]);
                col = c->col[i];
            }
            gemm(0, 0, ly->out.c, N, l->ck, theta + ly->param_offset, l->ck, col, N, 0.0, out, N);
            continue;
        }
        switch (ly->type) {
        case HN_RELU: {
            const size_t t = nb * l->insz;
#pragma omp simd
            for (size_t j = 0; j < t; j++)
                out[j] = in[j] > 0 ? in[j] : 0.0;
            break;
        }
        case HN_MAXPOOL1D:
        case HN_MAXPOOL2D: {
            const size_t H = ly->in.h, W = ly->in.w, ho = ly->out.h, wo = ly->out.w;
            for (size_t pl = 0; pl < ly->in.c * nb; pl++) {
                const double *x = in + pl * H * W;
                size_t *am = c->amax[i] + pl * ho * wo;
                double *y = out + pl * ho * wo;
                for (size_t oy = 0; oy < ho; oy++)
                    for (size_t ox = 0; ox < wo; ox++) {
                        size_t best = oy * ly->kh * W + ox * ly->kw;
                        for (size_t a = 0; a < ly->kh; a++)
                            for (size_t b = 0; b < ly->kw; b++) {
                                const size_t q = (oy * ly->kh + a) * W + ox * ly->kw + b;
                                if (x[q] > x[best]) /* strict: first maximum wins, as PyTorch */
                                    best = q;
                            }
                        am[oy * wo + ox] = best;
                        y[oy * wo + ox] = x[best];
                    }
            }
            break;
        }
        default:
            fixed_fwd(ly, c, i, 1, in, out);
            break;
        }
    }
}

/* Tangent (R-operator) forward pass for r directions V (r x P):
 * ract[i] holds the directional derivatives of act[i], B = r*nb blocks. */
static void ck_rforward(const hn_fast *F, chunk *c, const double *theta, const double *V, size_t r)
{
    const hn_model *m = F->m;
    const size_t nb = c->nb, B = r * nb;
    memset(c->ract[0], 0, B * hn_shape_size(m->input) * sizeof(double));
    int zero = 1; /* ract[i] is identically zero (the input does not depend on theta) */
    for (size_t i = 0; i < F->L; i++) {
        const hn_layer *ly = &m->layers[i];
        const linfo *l = &F->li[i];
        double *rout = c->ract[i + 1];
        if (!l->lin) {
            if (zero)
                memset(rout, 0, B * l->outsz * sizeof *rout);
            else
                fixed_fwd(ly, c, i, r, c->ract[i], rout);
            continue;
        }
        const size_t N1 = nb * l->howo, co = ly->out.c;
        const double *cola = l->k1 ? c->act[i] : c->col[i];
        /* R{T(W) a} = T(V) a + T(W) ra */
        for (size_t j = 0; j < r; j++)
            gemm(0, 0, co, N1, l->ck, V + j * F->P + ly->param_offset, l->ck, cola, N1, 0.0,
                 rout + j * N1, B * l->howo);
        if (!zero) {
            const double *colr = c->ract[i];
            if (!l->k1) {
                hn_im2col(ly->in, B, ly->kh, ly->kw, c->ract[i], c->rcl[i]);
                colr = c->rcl[i];
            }
            gemm(0, 0, co, B * l->howo, l->ck, theta + ly->param_offset, l->ck, colr, B * l->howo,
                 1.0, rout, B * l->howo);
        }
        zero = 0;
    }
}

enum { OUT_SUM = 0, OUT_JAC = 1, OUT_JAC_BODY = 2, OUT_SUM_BODY = 3 };

/* A last layer that is a plain linear head on a flat (d, 1, 1) input has
 * the logit Jacobian block I_K (x) x^T: OUT_JAC_BODY leaves it unwritten. */
static int head_structured(const hn_fast *F)
{
    const hn_layer *ly = &F->m->layers[F->L - 1];
    return ly->type == HN_LINEAR && ly->in.h * ly->in.w == 1;
}

/* Reverse sweep from the logits' cotangent c->d[0] (dr replicas; CNHW).
 * OUT_SUM: out row j (ldo apart) = sum over the samples of replica j's
 * weight gradient (every parameter belongs to a linear op, so every entry
 * of out's rows is written).  OUT_JAC (dr = K): sample n's Jacobian block at
 * out + n*K*P, row k = replica k.  With rdr (r directions V): the R-sweep
 * of an HVP: d has one replica, c->rd[0] holds r, and out row j =
 * R{grad} for direction j.  dcache (R-sweep only, may be NULL): the
 * plain cotangent at each linear op's output, stored by a previous sweep,
 * so that the plain reverse pass is not redone. */
static void ck_backward(const hn_fast *F, chunk *c, const double *theta, size_t dr, int mode,
                        double *out, size_t ldo, const double *V, size_t r,
                        double *const *dcache)
{
    const hn_model *m = F->m;
    const size_t nb = c->nb, Bd = dr * nb, P = F->P, K = F->K;
    double *d = c->d[0], *d2 = c->d[1], *rd = c->rd[0], *rd2 = V ? c->rd[1] : NULL;
    for (size_t ii = F->L; ii-- > 0;) {
        const hn_layer *ly = &m->layers[ii];
        const linfo *l = &F->li[ii];
        if (l->lin) {
            const size_t co = ly->out.c, ck = l->ck, hw = l->howo, N1 = nb * hw;
            const double *W = theta + ly->param_offset;
            if (dcache)
                d = dcache[ii];
            const double *cola = l->k1 ? c->act[ii] : c->col[ii];
            const size_t off = ly->param_offset;
            if ((mode == OUT_JAC_BODY || mode == OUT_SUM_BODY) && ii + 1 == F->L &&
                head_structured(F)) {
                /* structured head: done elsewhere */
            } else if (mode == OUT_JAC || mode == OUT_JAC_BODY) {
                /* rows (o, k) of replica k of sample n are N1 apart */
                for (size_t n = 0; n < nb; n++) {
                    gemm(0, 1, co * dr, ck, hw, d + n * hw, N1, cola + n * hw, N1, 0.0, c->wbuf, ck);
                    double *Jn = out + n * K * P;
                    for (size_t o = 0; o < co; o++)
                        for (size_t k = 0; k < dr; k++)
                            memcpy(Jn + k * P + off + o * ck, c->wbuf + (o * dr + k) * ck,
                                   ck * sizeof(double));
                }
            } else if (!V) {
                for (size_t j = 0; j < dr; j++)
                    gemm_nt(co, ck, N1, d + j * N1, Bd * hw, cola, N1, 0.0, out + j * ldo + off, ck);
            } else {
                /* R{dW}_j = rd_j (x) a + d (x) ra_j */
                /* the tangent pass left im2col(ract[ii]) in rcl[ii] */
                const double *colr = l->k1 || ii == 0 ? c->ract[ii] : c->rcl[ii];
                for (size_t j = 0; j < r; j++) {
                    double *o = out + j * ldo + off;
                    gemm_nt(co, ck, N1, rd + j * N1, r * N1, cola, N1, 0.0, o, ck);
                    if (ii > 0) /* ra = 0 at the first layer */
                        gemm_nt(co, ck, N1, d, N1, colr + j * N1, r * N1, 1.0, o, ck);
                }
            }
            if (ii == 0)
                break;
            if (V) {
                /* R{T^T d} = T(V)^T d + T(W)^T rd */
                const size_t Nr = r * N1;
                double *dst = l->k1 ? rd2 : c->dcol;
                gemm(1, 0, ck, Nr, co, W, ck, rd, Nr, 0.0, dst, Nr);
                for (size_t j = 0; j < r; j++)
                    gemm(1, 0, ck, N1, co, V + j * P + off, ck, d, N1, 1.0, dst + j * N1, Nr);
                if (!l->k1)
                    hn_col2im(ly->in, r * nb, ly->kh, ly->kw, c->dcol, rd2);
            }
            if (!dcache)
                hn_conv_backward_data_batch(ly->in, Bd, co, ly->kh, ly->kw, W, d, c->dcol, d2);
        } else {
            if (!dcache)
                fixed_T(ly, c, ii, dr, d, d2);
            if (V)
                fixed_T(ly, c, ii, r, rd, rd2);
        }
        double *t = d;
        d = d2;
        d2 = t;
        if (V) {
            t = rd;
            rd = rd2;
            rd2 = t;
        }
    }
}

/* Loss of sample n of the chunk: g = dl/dz, p = softmax; z gathered from
 * the [K][nb] logits. */
static double ck_loss(const hn_fast *F, chunk *c, const hn_samples *s, const size_t *idx,
                      size_t t0, size_t n)
{
    const size_t K = F->K, nb = c->nb, si = idx ? idx[t0 + n] : t0 + n;
    double *z = c->z + n * K;
    const double *lg = c->act[F->L];
    for (size_t k = 0; k < K; k++)
        z[k] = lg[k * nb + n];
    return hn_loss_eval(F->m->loss, K, z, s->y_class ? s->y_class[si] : 0,
                        s->y_vec ? s->y_vec + si * K : NULL, c->g + n * K, c->p + n * K);
}

/* ------------------------------------------------------------ chunk driver */

typedef int (*job_fn)(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *ctx);

/* Run fn on every chunk of n items.  slot_len > 0: each chunk's partial
 * result (slot_len doubles, every one written by fn) is added into acc in chunk
 * order; the chunks' c->lsum are summed the same way into *lacc. */
typedef void (*post_fn)(hn_fast *F, size_t t_first, size_t cnt, void *ctx);

static int run_chunks(hn_fast *F, size_t n, size_t slot_len, double *acc, double *lacc,
                      job_fn fn, void *ctx, post_fn post)
{
    const size_t nch = (n + CH - 1) / CH;
    double ltot = 0;
    if (acc)
        memset(acc, 0, slot_len * sizeof *acc);
    for (size_t s0 = 0; s0 < nch; s0 += SUPER) {
        const size_t s1 = s0 + SUPER < nch ? s0 + SUPER : nch;
        const long a = (long)s0, b = (long)s1;
#pragma omp parallel for num_threads(F->threads) schedule(dynamic, 1)
        for (long cc = a; cc < b; cc++) {
            chunk *c = F->ck[thread_id()];
            const size_t t0 = (size_t)cc * CH, nb = n - t0 < CH ? n - t0 : CH;
            double *slot = slot_len ? F->slots + (size_t)(cc - a) * slot_len : NULL;
            c->lsum = 0;
            F->rcs[cc - a] = fn(F, c, t0, nb, slot, ctx);
            F->lsum[cc - a] = c->lsum;
        }
        for (size_t k = 0; k < s1 - s0; k++)
            if (F->rcs[k])
                return F->rcs[k];
        for (size_t k = 0; k < s1 - s0; k++)
            ltot += F->lsum[k];
        if (acc) {
            const long nblk = (long)((slot_len + RED_BLOCK - 1) / RED_BLOCK), ns = (long)(s1 - s0);
#pragma omp parallel for num_threads(F->threads) schedule(static)
            for (long q = 0; q < nblk; q++) {
                const size_t p1 = (size_t)q * RED_BLOCK;
                const size_t p2 = p1 + RED_BLOCK < slot_len ? p1 + RED_BLOCK : slot_len;
                for (long k = 0; k < ns; k++) {
                    const double *sl = F->slots + (size_t)k * slot_len;
                    for (size_t p = p1; p < p2; p++)
                        acc[p] += sl[p];
                }
            }
        }
        if (post) {
            const size_t t1 = s1 * CH < n ? s1 * CH : n;
            post(F, s0 * CH, t1 - s0 * CH, ctx);
        }
    }
    if (lacc)
        *lacc = ltot;
    return HN_OK;
}

/* ------------------------------------------------------------ checks */

/* Same architecture (a clone of the workspace's model is accepted). */
static int same_arch(const hn_model *a, const hn_model *b)
{
    if (a == b)
        return 1;
    if (!b->finalized || a->n_layers != b->n_layers || a->classes != b->classes ||
        a->loss != b->loss || a->n_params != b->n_params || a->input.c != b->input.c ||
        a->input.h != b->input.h || a->input.w != b->input.w)
        return 0;
    for (size_t i = 0; i < a->n_layers; i++) {
        const hn_layer *x = &a->layers[i], *y = &b->layers[i];
        if (x->type != y->type || x->kh != y->kh || x->kw != y->kw || x->out.c != y->out.c ||
            x->out.h != y->out.h || x->out.w != y->out.w || x->param_offset != y->param_offset)
            return 0;
    }
    return 1;
}

static int check_args(const hn_fast *F, const hn_model *m, const hn_samples *s, const size_t *idx,
                      size_t n, int need_labels, const char *who, hn_err *err)
{
    if (!F || !m || !s)
        return hn_err_set(err, HN_EINVAL, "%s: missing argument", who);
    if (!same_arch(F->m, m))
        return hn_err_set(err, HN_EINVAL, "%s: the workspace was allocated for another model", who);
    if (n == 0)
        return hn_err_set(err, HN_EINVAL, "%s: no samples", who);
    if (s->in_size != hn_shape_size(m->input))
        return hn_err_set(err, HN_ESHAPE, "%s: samples of size %zu do not fit the model input %zu",
                          who, s->in_size, hn_shape_size(m->input));
    if (!idx && n > s->n)
        return hn_err_set(err, HN_EINVAL, "%s: %zu samples requested, %zu available", who, n, s->n);
    for (size_t t = 0; idx && t < n; t++)
        if (idx[t] >= s->n)
            return hn_err_set(err, HN_EINVAL, "%s: index %zu out of range (n = %zu)", who, idx[t],
                              s->n);
    if (need_labels) {
        if (m->loss == HN_LOSS_CE ? !s->y_class : !s->y_vec)
            return hn_err_set(err, HN_EINVAL, "%s: the samples have no %s", who,
                              m->loss == HN_LOSS_CE ? "class labels" : "targets");
        if (m->loss == HN_LOSS_CE)
            for (size_t t = 0; t < n; t++) {
                const long y = s->y_class[idx ? idx[t] : t];
                if (y < 0 || (size_t)y >= m->classes)
                    return hn_err_set(err, HN_EINVAL, "%s: label %ld out of range (%zu classes)",
                                      who, y, m->classes);
            }
    }
    return HN_OK;
}

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

static int job_grad(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    jobctx *x = vctx;
    const size_t K = F->K;
    ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    double *d = c->d[0];
    for (size_t n = 0; n < nb; n++) {
        const double l = ck_loss(F, c, x->s, x->idx, t0, n);
        c->lsum += l;
        const double w = item_w(x, t0 + n);
        for (size_t k = 0; k < K; k++)
            d[k * nb + n] = w * c->g[n * K + k];
    }
    if (x->grad && F->hdim) {
        /* head inputs and logit cotangents into the round's columns */
        const size_t S = SUPER * CH, col = t0 % S, dh = F->hdim;
        const double *xh = c->act[F->L - 1];
        for (size_t j = 0; j < dh; j++)
            memcpy(F->hx + j * S + col, xh + j * nb, nb * sizeof(double));
        for (size_t k = 0; k < K; k++)
            memcpy(F->hd + k * S + col, d + k * nb, nb * sizeof(double));
        if (slot) /* NULL when the head is the only linear op */
            ck_backward(F, c, x->theta, 1, OUT_SUM_BODY, slot, 0, NULL, 0, NULL);
    } else if (slot) {
        ck_backward(F, c, x->theta, 1, OUT_SUM, slot, F->P, NULL, 0, NULL);
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
    const size_t S = SUPER * CH, dh = F->hdim, K = F->K;
    double *gh = x->grad + F->m->layers[F->L - 1].param_offset;
    const long nblk = (long)((dh + HEAD_BLOCK - 1) / HEAD_BLOCK);
#pragma omp parallel for num_threads(F->threads) schedule(static)
    for (long q = 0; q < nblk; q++) {
        const size_t j0 = (size_t)q * HEAD_BLOCK, w = dh - j0 < HEAD_BLOCK ? dh - j0 : HEAD_BLOCK;
        gemm_nt(K, w, cnt, F->hd, S, F->hx + j0 * S, S, 1.0, gh + j0, dh);
    }
}

int hn_batch_forward_backward(const hn_model *m, const double *theta, const hn_samples *s,
                              const size_t *idx, size_t n, hn_fast *f, double *loss,
                              double *grad, hn_err *err)
{
    int rc = check_args(f, m, s, idx, n, 1, "batch gradient", err);
    if (rc)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .grad = grad};
    double ls = 0;
    if (grad && f->hdim) {
        /* the head's block (the last parameters) is filled by post_head */
        const size_t Pb = m->layers[m->n_layers - 1].param_offset;
        memset(grad + Pb, 0, (f->P - Pb) * sizeof *grad);
        rc = run_chunks(f, n, Pb, grad, &ls, job_grad, &x, post_head);
    } else {
        rc = run_chunks(f, n, grad ? f->P : 0, grad, &ls, job_grad, &x, NULL);
    }
    if (rc)
        return hn_err_set(err, rc, "batch gradient: failed");
    if (loss)
        *loss = ls / (double)n;
    return HN_OK;
}

static int job_losses(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    (void)slot;
    jobctx *x = vctx;
    const size_t K = F->K;
    ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
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
    int rc = check_args(f, m, s, idx, n, loss != NULL, "batch losses", err);
    if (rc)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .loss = loss, .logits = logits,
                .pred = pred};
    rc = run_chunks(f, n, 0, NULL, NULL, job_losses, &x, NULL);
    return rc ? hn_err_set(err, rc, "batch losses: failed") : HN_OK;
}

/* Forward, then the K unit cotangents of every sample as one batch of
 * K*nb blocks; Jacobians into Jout (sample n at Jout + n*K*P). */
static void ck_jacobian(hn_fast *F, chunk *c, const jobctx *x, size_t t0, size_t nb, double *Jout)
{
    const size_t K = F->K;
    ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    double *d = c->d[0];
    memset(d, 0, K * K * nb * sizeof *d);
    for (size_t k = 0; k < K; k++)     /* logit k of block (j, n) is [k][j*nb + n] */
        for (size_t n = 0; n < nb; n++)
            d[k * K * nb + k * nb + n] = 1.0;
    ck_backward(F, c, x->theta, K, x->eigs ? OUT_JAC_BODY : OUT_JAC, Jout, 0, NULL, 0, NULL);
}

static int job_jac(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
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
    int rc = check_args(f, m, s, idx, n, 0, "batch Jacobian", err);
    if (rc)
        return rc;
    if (!J)
        return hn_err_set(err, HN_EINVAL, "batch Jacobian: missing output");
    if ((rc = fast_grow(f, f->rcap, 1, err)) != 0)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .J = J, .logits = logits};
    rc = run_chunks(f, n, 0, NULL, NULL, job_jac, &x, NULL);
    return rc ? hn_err_set(err, rc, "batch Jacobian: failed") : HN_OK;
}

/* Eigenvalues (descending) of C G C^T, G = J J^T (K x K), A = C^T C.
 * With a structured head (J = [J_body, I_K (x) x^T]) G = J_body J_body^T
 * + (x^T x) I_K, x = sample n's head input. */
static int ho_eigs_one(const hn_fast *F, chunk *c, const double *J, size_t n, const double *p,
                       double *ev)
{
    const size_t K = F->K, P = F->P;
    const int hs = head_structured(F);
    const size_t Pb = hs ? F->m->layers[F->L - 1].param_offset : P;
    double *G = c->kk, *Cm = G + K * K, *T = Cm + K * K, *M = T + K * K, *w = M + K * K;
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
    if (F->m->loss == HN_LOSS_MSE) {
        memcpy(M, G, K * K * sizeof *M);
    } else {
        /* C = diag(sqrt p) (I - 1 p^T): A = (I - p 1^T) diag(p) (I - 1 p^T)
         * = diag(p) - p p^T as sum p = 1.  1 - p_a is summed from the other
         * p_b: no cancellation when the softmax saturates. */
        for (size_t a = 0; a < K; a++) {
            const double sa = sqrt(p[a]);
            for (size_t b = 0; b < K; b++) {
                double v;
                if (a != b) {
                    v = -p[b];
                } else {
                    v = 0;
                    for (size_t e = 0; e < K; e++)
                        if (e != a)
                            v += p[e];
                }
                Cm[a * K + b] = sa * v;
            }
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)K, (blasint)K, (blasint)K,
                    1.0, Cm, (blasint)K, G, (blasint)K, 0.0, T, (blasint)K);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)K, (blasint)K, (blasint)K,
                    1.0, T, (blasint)K, Cm, (blasint)K, 0.0, M, (blasint)K);
        for (size_t a = 0; a < K; a++) /* symmetrise the rounding */
            for (size_t b = a + 1; b < K; b++)
                M[a * K + b] = M[b * K + a] = 0.5 * (M[a * K + b] + M[b * K + a]);
    }
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)K, M, (lapack_int)K, w) != 0)
        return HN_ENUMERIC;
    for (size_t k = 0; k < K; k++)
        ev[k] = w[K - 1 - k];
    return HN_OK;
}

static int job_ho(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
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
    int rc = check_args(f, m, s, idx, n, 0, "per-sample H_O", err);
    if (rc)
        return rc;
    if (!eigs)
        return hn_err_set(err, HN_EINVAL, "per-sample H_O: missing output");
    if ((rc = fast_grow(f, f->rcap, 1, err)) != 0)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .eigs = eigs};
    rc = run_chunks(f, n, 0, NULL, NULL, job_ho, &x, NULL);
    if (rc == HN_ENUMERIC)
        return hn_err_set(err, rc, "per-sample H_O: LAPACK dsyevd failed on a %zu x %zu matrix",
                          f->K, f->K);
    return rc ? hn_err_set(err, rc, "per-sample H_O: failed") : HN_OK;
}

/* R-forward, then per (direction j, sample n): u = w_n A_n Rz_{j,n}. */
static void ck_tangent_logits(hn_fast *F, chunk *c, const jobctx *x, size_t t0, size_t nb,
                              double *u)
{
    const size_t K = F->K, r = x->r, B = r * nb;
    ck_rforward(F, c, x->theta, x->V, r);
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

static int job_gnvp(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    jobctx *x = vctx;
    ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    for (size_t n = 0; n < nb; n++)
        ck_loss(F, c, x->s, x->idx, t0, n);
    ck_tangent_logits(F, c, x, t0, nb, c->d[0]);
    ck_backward(F, c, x->theta, x->r, OUT_SUM, slot, F->P, NULL, 0, NULL);
    return HN_OK;
}

static int job_hvp(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    jobctx *x = vctx;
    const size_t K = F->K;
    ck_forward(F, c, x->theta, x->s, x->idx, t0, nb);
    double *d = c->d[0];
    for (size_t n = 0; n < nb; n++) {
        ck_loss(F, c, x->s, x->idx, t0, n);
        const double w = item_w(x, t0 + n);
        for (size_t k = 0; k < K; k++)
            d[k * nb + n] = w * c->g[n * K + k];
    }
    ck_tangent_logits(F, c, x, t0, nb, c->rd[0]);
    ck_backward(F, c, x->theta, 1, OUT_SUM, slot, F->P, x->V, x->r, NULL);
    return HN_OK;
}

static int vp_common(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                     size_t n, const double *weights, hn_fast *f, const double *V, size_t ndir,
                     double *HV, job_fn fn, const char *who, hn_err *err)
{
    int rc = check_args(f, m, s, idx, n, 1, who, err);
    if (rc)
        return rc;
    if (!V || !HV || ndir == 0)
        return hn_err_set(err, HN_EINVAL, "%s: no directions", who);
    if ((rc = fast_grow(f, ndir, 0, err)) != 0)
        return rc;
    jobctx x = {.theta = theta, .s = s, .idx = idx, .n = n, .w = weights, .V = V, .r = ndir};
    rc = run_chunks(f, n, ndir * f->P, HV, NULL, fn, &x, NULL);
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
static void ck_delta(const hn_fast *F, chunk *c, const double *theta, double *const *store)
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
            fixed_T(ly, c, ii, 1, d, d2);
        }
        double *t = d;
        d = d2;
        d2 = t;
    }
}

static int job_op_prep(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    (void)slot;
    hn_hvp_op *op = ((opctx *)vctx)->op;
    const size_t K = F->K, cc = t0 / CH;
    ck_forward(F, c, op->theta, op->s, op->idx, t0, nb);
    double *d = c->d[0];
    for (size_t n = 0; n < nb; n++) {
        ck_loss(F, c, op->s, op->idx, t0, n);
        const double w = op->w ? op->w[t0 + n] : 1.0 / (double)op->n;
        for (size_t k = 0; k < K; k++)
            d[k * nb + n] = w * c->g[n * K + k];
    }
    memcpy(op->p + cc * CH * K, c->p, nb * K * sizeof(double));
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

static int job_op_apply(hn_fast *F, chunk *c, size_t t0, size_t nb, double *slot, void *vctx)
{
    opctx *oc = vctx;
    hn_hvp_op *op = oc->op;
    const size_t cc = t0 / CH, L = F->L;
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
    memcpy(c->p, op->p + cc * CH * F->K, nb * F->K * sizeof(double));
    jobctx x = {.theta = op->theta, .s = op->s, .idx = op->idx, .n = op->n, .w = op->w, .V = oc->v,
                .r = 1};
    if (op->outer) {
        ck_tangent_logits(F, c, &x, t0, nb, c->d[0]);
        ck_backward(F, c, op->theta, 1, OUT_SUM, slot, F->P, NULL, 0, NULL);
    } else {
        ck_tangent_logits(F, c, &x, t0, nb, c->rd[0]);
        ck_backward(F, c, op->theta, 1, OUT_SUM, slot, F->P, oc->v, 1, dc);
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
    if ((rc = check_args(F, m, s, idx, n, 1, "Hessian operator", err)) != 0) {
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
    op->nch = (n + CH - 1) / CH;
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
        op->act_len += CH * sz;
        if (i < L) {
            const int mp = m->layers[i].type == HN_MAXPOOL1D || m->layers[i].type == HN_MAXPOOL2D;
            op->amax_off[i] = op->amax_len;
            op->amax_len += mp ? CH * F->li[i].outsz : 0;
            op->del_off[i] = op->del_len;
            op->del_len += !op->outer && F->li[i].lin ? CH * F->li[i].outsz : 0;
            op->col_off[i] = op->col_len;
            op->col_len += F->li[i].lin && !F->li[i].k1 ? F->li[i].ck * CH * F->li[i].howo : 0;
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
    if (!(op->act = dalloc3(op->nch, op->act_len, 1)) || !(op->del = dalloc3(op->nch, op->del_len, 1)) ||
        !(op->p = dalloc3(op->nch * CH, K, 1)))
        goto nomem;
    /* the cols (k*k times the activations) are kept too while they fit */
    if ((double)op->nch * (double)op->col_len * sizeof(double) <= HN_OP_COL_CACHE &&
        !(op->col = dalloc3(op->nch, op->col_len, 1)))
        goto nomem;
    {
        size_t t;
        if (hn_mul_size(op->nch, op->amax_len ? op->amax_len : 1, &t) != 0 ||
            !(op->amax = hn_calloc(t, sizeof(size_t))))
            goto nomem;
    }
    opctx oc = {op, NULL};
    rc = run_chunks(F, n, 0, NULL, NULL, job_op_prep, &oc, NULL);
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
    int rc = run_chunks(op->F, op->n, op->F->P, Hv, NULL, job_op_apply, &oc, NULL);
    return rc ? hn_err_set(err, rc, "Hessian operator: product failed") : HN_OK;
}
