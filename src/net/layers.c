/* hessnorm — direct tensor implementation of every layer and loss.
 * Forward and backward rules of each op sit side by side; the R-operator
 * (forward-over-reverse) gives exact Hessian-vector products. */
#include "config.h"
#include <math.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/layers.h"
#include "hessnorm/error.h"
#include "base/cpu.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* as -ffp-contract=off (Makefile.am); GCC has only the flag */
#endif

/* ------------------------------------------------------------ primitives */

/* acc[q] += w src[q] on four rows at once (acc, acc + as, ...; weights w,
 * w + ws, ...) that share the source row: each element gets the same one
 * multiply and one add as alone, so the vector loop is exact. */
static inline __attribute__((always_inline)) void rows_axpy4(size_t n, const double *w, size_t ws,
                                                              const double *restrict src,
                                                              double *restrict a0, size_t as)
{
    const double w0 = w[0], w1 = w[ws], w2 = w[2 * ws], w3 = w[3 * ws];
    double *restrict a1 = a0 + as, *restrict a2 = a0 + 2 * as, *restrict a3 = a0 + 3 * as;
#pragma omp simd
    for (size_t q = 0; q < n; q++) {
        const double v = src[q];
        a0[q] += w0 * v;
        a1[q] += w1 * v;
        a2[q] += w2 * v;
        a3[q] += w3 * v;
    }
}

static inline __attribute__((always_inline)) void row_axpy(size_t n, double w, const double *restrict src,
                                                            double *restrict acc)
{
#pragma omp simd
    for (size_t q = 0; q < n; q++)
        acc[q] += w * src[q];
}

/* The valid convolution's row updates, accumulated into acc (zeroed by the
 * caller): for each weight W[o,i,a,b] and output row y, the output row
 * (o,y) and the input row segment (i,y+a,b..) meet in acc[q] += w src[q];
 * forward, acc is z and src x; adjoint (the data gradient), acc is dx
 * and src dz.  Every element of acc receives its terms in one fixed order
 * ((i,a,b) for z[o], (o,a,b) for dx[i]); four destination channels (o
 * forward, i adjoint) are updated together from one source row, which
 * keeps that order, so the result is bit-identical to one row at a time
 * (test_layers) and ~2x faster at C = 24-42. */
static inline __attribute__((always_inline)) void conv_rows_body(hn_shape in, size_t co, size_t kh,
                                                                  size_t kw, const double *W,
                                                                  const double *src, double *acc,
                                                                  int adjoint)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, ci = in.c, kk = kh * kw;
    const size_t zp = ho * wo, xp = in.h * in.w; /* channel planes of z and x */
    if (!adjoint) {
        size_t o = 0;
        for (; o + 4 <= co; o += 4)
            for (size_t i = 0; i < ci; i++)
                for (size_t a = 0; a < kh; a++)
                    for (size_t b = 0; b < kw; b++) {
                        const double *w = W + ((o * ci + i) * kh + a) * kw + b;
                        for (size_t y = 0; y < ho; y++)
                            rows_axpy4(wo, w, ci * kk, src + (i * in.h + y + a) * in.w + b,
                                       acc + (o * ho + y) * wo, zp);
                    }
        for (; o < co; o++)
            for (size_t i = 0; i < ci; i++)
                for (size_t a = 0; a < kh; a++)
                    for (size_t b = 0; b < kw; b++) {
                        const double wv = W[((o * ci + i) * kh + a) * kw + b];
                        for (size_t y = 0; y < ho; y++)
                            row_axpy(wo, wv, src + (i * in.h + y + a) * in.w + b, acc + (o * ho + y) * wo);
                    }
        return;
    }
    for (size_t o = 0; o < co; o++) {
        size_t i = 0;
        for (; i + 4 <= ci; i += 4)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    const double *w = W + ((o * ci + i) * kh + a) * kw + b;
                    for (size_t y = 0; y < ho; y++)
                        rows_axpy4(wo, w, kk, src + (o * ho + y) * wo, acc + (i * in.h + y + a) * in.w + b,
                                   xp);
                }
        for (; i < ci; i++)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    const double wv = W[((o * ci + i) * kh + a) * kw + b];
                    for (size_t y = 0; y < ho; y++)
                        row_axpy(wo, wv, src + (o * ho + y) * wo, acc + (i * in.h + y + a) * in.w + b);
                }
    }
}

/* ------------------------------------------------------------ instruction sets */

/* The direct convolution loops are compiled three times on x86-64: for the
 * baseline (SSE2), for AVX2 and for AVX-512F, and run in the best one the
 * CPU has and the OS enables (base/cpu.h), chosen on first use.  Each
 * element still gets one multiply and one add per term in the plain order
 * (no FMA: the build has -ffp-contract=off; no reassociation), so every
 * choice gives the same bits (test_layers runs each one the machine has
 * against the plain loops). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HN_CONV_MULTI 1
#define HN_TARGET_AVX2 __attribute__((target("avx2")))
#define HN_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define HN_CONV_MULTI 0
#endif

static int conv_isa_chosen; /* an hn_conv_isa; 0 (AUTO) until first use */

hn_conv_isa hn_conv_isa_best(void)
{
#if HN_CONV_MULTI
    hn_cpu c;
    hn_cpu_get(&c);
    if (c.avx512f)
        return HN_CONV_ISA_AVX512;
    if (c.avx2)
        return HN_CONV_ISA_AVX2;
#endif
    return HN_CONV_ISA_BASE;
}

hn_conv_isa hn_conv_isa_get(void)
{
    int v = __atomic_load_n(&conv_isa_chosen, __ATOMIC_RELAXED);
    if (v == HN_CONV_ISA_AUTO) { /* every thread finds the same value */
        v = (int)hn_conv_isa_best();
        __atomic_store_n(&conv_isa_chosen, v, __ATOMIC_RELAXED);
    }
    return (hn_conv_isa)v;
}

int hn_conv_isa_set(hn_conv_isa isa)
{
    const hn_conv_isa best = hn_conv_isa_best();
    if (isa == HN_CONV_ISA_AUTO)
        isa = best;
    if (isa != HN_CONV_ISA_BASE && isa != HN_CONV_ISA_AVX2 && isa != HN_CONV_ISA_AVX512)
        return HN_EINVAL;
    if (isa > best) /* the order BASE < AVX2 < AVX512 is the enum's */
        return HN_EINVAL;
    __atomic_store_n(&conv_isa_chosen, (int)isa, __ATOMIC_RELAXED);
    return HN_OK;
}

const char *hn_conv_isa_name(hn_conv_isa isa)
{
    switch (isa) {
    case HN_CONV_ISA_BASE: return "baseline";
    case HN_CONV_ISA_AVX2: return "AVX2";
    case HN_CONV_ISA_AVX512: return "AVX-512F";
    default: return "auto";
    }
}

static void conv_rows_base(hn_shape in, size_t co, size_t kh, size_t kw, const double *W,
                           const double *src, double *acc, int adjoint)
{
    conv_rows_body(in, co, kh, kw, W, src, acc, adjoint);
}

#if HN_CONV_MULTI
HN_TARGET_AVX2 static void conv_rows_avx2(hn_shape in, size_t co, size_t kh, size_t kw, const double *W,
                                          const double *src, double *acc, int adjoint)
{
    conv_rows_body(in, co, kh, kw, W, src, acc, adjoint);
}

HN_TARGET_AVX512 static void conv_rows_avx512(hn_shape in, size_t co, size_t kh, size_t kw,
                                              const double *W, const double *src, double *acc,
                                              int adjoint)
{
    conv_rows_body(in, co, kh, kw, W, src, acc, adjoint);
}
#endif

static void conv_rows(hn_shape in, size_t co, size_t kh, size_t kw, const double *W,
                      const double *src, double *acc, int adjoint)
{
#if HN_CONV_MULTI
    switch (hn_conv_isa_get()) {
    case HN_CONV_ISA_AVX512: conv_rows_avx512(in, co, kh, kw, W, src, acc, adjoint); return;
    case HN_CONV_ISA_AVX2: conv_rows_avx2(in, co, kh, kw, W, src, acc, adjoint); return;
    default: break;
    }
#endif
    conv_rows_base(in, co, kh, kw, W, src, acc, adjoint);
}

void hn_conv_forward(hn_shape in, size_t co, size_t kh, size_t kw,
                     const double *W, const double *x, double *z)
{
    memset(z, 0, co * (in.h - kh + 1) * (in.w - kw + 1) * sizeof *z);
    conv_rows(in, co, kh, kw, W, x, z, 0);
}

void hn_conv_backward_data(hn_shape in, size_t co, size_t kh, size_t kw,
                           const double *W, const double *dz, double *dx)
{
    memset(dx, 0, in.c * in.h * in.w * sizeof *dx);
    conv_rows(in, co, kh, kw, W, dz, dx, 1);
}

/* dW[o,i,a,b] += sum over (y, q) of dz[o,y,q] x[i,y+a,q+b], each sum
 * accumulated from 0 in (y, q) order.  Four output channels share each
 * load of x and keep four independent sums: the same additions in the same
 * order per weight as one channel at a time (bit-identical, test_layers),
 * without waiting on one add chain; for kw = 3 the three shifts of a row
 * too (4-8x on the C = 24-42 nets). */
static void conv_wgrad_one(hn_shape in, size_t o, size_t kh, size_t kw, const double *x,
                           const double *dz, double *dW)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, ci = in.c;
    for (size_t i = 0; i < ci; i++)
        for (size_t a = 0; a < kh; a++)
            for (size_t b = 0; b < kw; b++) {
                double s = 0;
                for (size_t y = 0; y < ho; y++) {
                    const double *dzr = dz + (o * ho + y) * wo;
                    const double *xr = x + (i * in.h + y + a) * in.w + b;
                    for (size_t q = 0; q < wo; q++)
                        s += dzr[q] * xr[q];
                }
                dW[((o * ci + i) * kh + a) * kw + b] += s;
            }
}

/* The 12 weights (o..o+3, i, a, b = 0..2) of a 3-wide kernel, each its own
 * sum in (y, q) order as conv_wgrad_one. */
static void conv_wgrad4_k3(hn_shape in, size_t o, size_t i, size_t a, size_t kh, const double *x,
                           const double *dz, double *dW)
{
    const size_t ho = in.h - kh + 1, wo = in.w - 2, plane = ho * wo, wst = in.c * kh * 3;
    double s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0;
    double s20 = 0, s21 = 0, s22 = 0, s30 = 0, s31 = 0, s32 = 0;
    for (size_t y = 0; y < ho; y++) {
        const double *d = dz + (o * ho + y) * wo, *xr = x + (i * in.h + y + a) * in.w;
        for (size_t q = 0; q < wo; q++) {
            const double x0 = xr[q], x1 = xr[q + 1], x2 = xr[q + 2];
            const double d0 = d[q], d1 = d[q + plane], d2 = d[q + 2 * plane], d3 = d[q + 3 * plane];
            s00 += d0 * x0, s01 += d0 * x1, s02 += d0 * x2;
            s10 += d1 * x0, s11 += d1 * x1, s12 += d1 * x2;
            s20 += d2 * x0, s21 += d2 * x1, s22 += d2 * x2;
            s30 += d3 * x0, s31 += d3 * x1, s32 += d3 * x2;
        }
    }
    double *w = dW + ((o * in.c + i) * kh + a) * 3;
    w[0] += s00, w[1] += s01, w[2] += s02;
    w += wst;
    w[0] += s10, w[1] += s11, w[2] += s12;
    w += wst;
    w[0] += s20, w[1] += s21, w[2] += s22;
    w += wst;
    w[0] += s30, w[1] += s31, w[2] += s32;
}

#if HN_CONV_MULTI
/* The vector route (AVX2, AVX-512F): OB output channels go together (one
 * vector: 4 doubles in AVX2, 8 in AVX-512F).  Their rows of dz, transposed
 * a chunk at a time (t[q][l] = dz[o+l,y,q0+q]), give one vector per
 * position, and each lane is one weight's sum receiving its terms in the
 * plain (y, q) order from 0: the sums no longer wait on one add chain each
 * (the baseline's twelve scalar chains above are its best without
 * vectors).  WGRAD_VEC(SUF, OB, TARGET) defines wgrad_SUF. */
#define WG_QC 128 /* row positions per transposed chunk: t is at most 8 KiB */
#define WG_S 2048 /* sums per (channel block, input-channel chunk): 16 KiB */

#define WGRAD_VEC(SUF, OB, TARGET)                                                                   \
    typedef double wg_vec_##SUF __attribute__((vector_size(OB * sizeof(double))));                  \
    /* the same vector at 8-byte alignment, allowed to alias double: unaligned loads and stores */  \
    typedef double wg_uvec_##SUF                                                                     \
        __attribute__((vector_size(OB * sizeof(double)), aligned(sizeof(double)), may_alias));      \
                                                                                                     \
    /* s[b] (b < kw, one vector each) += t[q] x[q + b] over q < nq, in q order */                    \
    TARGET static inline void wg_row_##SUF(size_t nq, size_t kw, const double *restrict t,          \
                                           const double *restrict xr, double *restrict s)           \
    {                                                                                                \
        wg_vec_##SUF d;                                                                              \
        if (kw == 3) { /* the paper's k = 3: the three shifts share each load of t */              \
            wg_vec_##SUF s0 = *(const wg_uvec_##SUF *)s, s1 = *(const wg_uvec_##SUF *)(s + OB);      \
            wg_vec_##SUF s2 = *(const wg_uvec_##SUF *)(s + 2 * OB);                                  \
            for (size_t q = 0; q < nq; q++) {                                                        \
                d = *(const wg_uvec_##SUF *)(t + q * OB);                                            \
                s0 += d * xr[q];                                                                     \
                s1 += d * xr[q + 1];                                                                 \
                s2 += d * xr[q + 2];                                                                 \
            }                                                                                        \
            *(wg_uvec_##SUF *)s = s0, *(wg_uvec_##SUF *)(s + OB) = s1;                               \
            *(wg_uvec_##SUF *)(s + 2 * OB) = s2;                                                     \
            return;                                                                                  \
        }                                                                                            \
        for (size_t b = 0; b < kw; b++) {                                                            \
            wg_vec_##SUF s0 = *(const wg_uvec_##SUF *)(s + b * OB);                                  \
            for (size_t q = 0; q < nq; q++) {                                                        \
                d = *(const wg_uvec_##SUF *)(t + q * OB);                                            \
                s0 += d * xr[q + b];                                                                 \
            }                                                                                        \
            *(wg_uvec_##SUF *)(s + b * OB) = s0;                                                     \
        }                                                                                            \
    }                                                                                                \
                                                                                                     \
    /* every block of OB output channels (lanes past co see zeros and are dropped); input channels  \
     * in chunks whose sums fit s (the caller checks that one channel's do: OB kh kw <= WG_S) */     \
    TARGET static void wgrad_##SUF(hn_shape in, size_t co, size_t kh, size_t kw, const double *x,   \
                                   const double *dz, double *dW)                                    \
    {                                                                                                \
        const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, ci = in.c, plane = ho * wo;             \
        const size_t kk = kh * kw, ic = WG_S / (OB * kk);                                            \
        double t[WG_QC * OB], s[WG_S];                                                               \
        for (size_t o = 0; o < co; o += OB) {                                                        \
            const size_t nb = co - o < OB ? co - o : OB;                                             \
            for (size_t i0 = 0; i0 < ci; i0 += ic) {                                                 \
                const size_t ni = ci - i0 < ic ? ci - i0 : ic;                                       \
                memset(s, 0, ni * kk * OB * sizeof *s);                                              \
                for (size_t y = 0; y < ho; y++)                                                      \
                    for (size_t q0 = 0; q0 < wo; q0 += WG_QC) {                                      \
                        const size_t nq = wo - q0 < WG_QC ? wo - q0 : WG_QC;                         \
                        for (size_t q = 0; q < nq; q++)                                              \
                            for (size_t l = 0; l < OB; l++)                                          \
                                t[q * OB + l] = l < nb ? dz[(o + l) * plane + y * wo + q0 + q] : 0.0; \
                        for (size_t ii = 0; ii < ni; ii++)                                           \
                            for (size_t a = 0; a < kh; a++)                                          \
                                wg_row_##SUF(nq, kw, t, x + ((i0 + ii) * in.h + y + a) * in.w + q0,  \
                                             s + (ii * kh + a) * kw * OB);                           \
                    }                                                                                \
                for (size_t l = 0; l < nb; l++)                                                      \
                    for (size_t j = 0; j < ni * kk; j++)                                             \
                        dW[(o + l) * ci * kk + i0 * kk + j] += s[j * OB + l];                        \
            }                                                                                        \
        }                                                                                            \
    }

WGRAD_VEC(avx2, 4, HN_TARGET_AVX2)
WGRAD_VEC(avx512, 8, HN_TARGET_AVX512)
#define WG_OB_MAX 8 /* the widest OB above: the check against WG_S */
#endif

void hn_conv_backward_weights(hn_shape in, size_t co, size_t kh, size_t kw,
                              const double *x, const double *dz, double *dW)
{
    const size_t ho = in.h - kh + 1, wo = in.w - kw + 1, ci = in.c, plane = ho * wo;
    const size_t wst = ci * kh * kw; /* one output channel's weights */
#if HN_CONV_MULTI
    if (WG_OB_MAX * kh * kw <= WG_S) {
        const hn_conv_isa isa = hn_conv_isa_get();
        if (isa == HN_CONV_ISA_AVX512) {
            wgrad_avx512(in, co, kh, kw, x, dz, dW);
            return;
        }
        if (isa == HN_CONV_ISA_AVX2) {
            wgrad_avx2(in, co, kh, kw, x, dz, dW);
            return;
        }
    }
#endif
    size_t o = 0;
    if (kw == 3) /* the paper's k = 3: the 3 x-shifts of a row share its loads too */
        for (; o + 4 <= co; o += 4)
            for (size_t i = 0; i < ci; i++)
                for (size_t a = 0; a < kh; a++)
                    conv_wgrad4_k3(in, o, i, a, kh, x, dz, dW);
    for (; o + 4 <= co; o += 4)
        for (size_t i = 0; i < ci; i++)
            for (size_t a = 0; a < kh; a++)
                for (size_t b = 0; b < kw; b++) {
                    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    for (size_t y = 0; y < ho; y++) {
                        const double *dzr = dz + (o * ho + y) * wo;
                        const double *xr = x + (i * in.h + y + a) * in.w + b;
                        for (size_t q = 0; q < wo; q++) {
                            const double xv = xr[q];
                            s0 += dzr[q] * xv;
                            s1 += dzr[q + plane] * xv;
                            s2 += dzr[q + 2 * plane] * xv;
                            s3 += dzr[q + 3 * plane] * xv;
                        }
                    }
                    double *w = dW + ((o * ci + i) * kh + a) * kw + b;
                    w[0] += s0;
                    w[wst] += s1;
                    w[2 * wst] += s2;
                    w[3 * wst] += s3;
                }
    for (; o < co; o++)
        conv_wgrad_one(in, o, kh, kw, x, dz, dW);
}

void hn_maxpool_forward(hn_shape in, size_t kh, size_t kw, const double *x,
                        double *y, size_t *argmax)
{
    const size_t ho = in.h / kh, wo = in.w / kw;
    for (size_t c = 0; c < in.c; c++)
        for (size_t oy = 0; oy < ho; oy++)
            for (size_t ox = 0; ox < wo; ox++) {
                size_t best = (c * in.h + oy * kh) * in.w + ox * kw;
                for (size_t a = 0; a < kh; a++)
                    for (size_t b = 0; b < kw; b++) {
                        size_t idx = (c * in.h + oy * kh + a) * in.w + ox * kw + b;
                        if (x[idx] > x[best]) /* strict: first maximum wins, as PyTorch */
                            best = idx;
                    }
                size_t j = (c * ho + oy) * wo + ox;
                y[j] = x[best];
                argmax[j] = best;
            }
}

void hn_avgpool_forward(hn_shape in, size_t kh, size_t kw, const double *x, double *y)
{
    const size_t ho = in.h / kh, wo = in.w / kw;
    const double inv = 1.0 / (double)(kh * kw);
    for (size_t c = 0; c < in.c; c++)
        for (size_t oy = 0; oy < ho; oy++)
            for (size_t ox = 0; ox < wo; ox++) {
                double s = 0;
                for (size_t a = 0; a < kh; a++)
                    for (size_t b = 0; b < kw; b++)
                        s += x[(c * in.h + oy * kh + a) * in.w + ox * kw + b];
                y[(c * ho + oy) * wo + ox] = s * inv;
            }
}

void hn_avgpool_backward(hn_shape in, size_t kh, size_t kw, const double *dy, double *dx)
{
    const size_t ho = in.h / kh, wo = in.w / kw;
    const double inv = 1.0 / (double)(kh * kw);
    memset(dx, 0, hn_shape_size(in) * sizeof *dx);
    for (size_t c = 0; c < in.c; c++)
        for (size_t oy = 0; oy < ho; oy++)
            for (size_t ox = 0; ox < wo; ox++) {
                double g = dy[(c * ho + oy) * wo + ox] * inv;
                for (size_t a = 0; a < kh; a++)
                    for (size_t b = 0; b < kw; b++)
                        dx[(c * in.h + oy * kh + a) * in.w + ox * kw + b] = g;
            }
}

/* ------------------------------------------------------------ losses */

double hn_loss_eval(hn_loss_type loss, size_t K, const double *z, long y_class,
                    const double *y_vec, double *g, double *p)
{
    if (loss == HN_LOSS_MSE) {
        double l = 0;
        for (size_t k = 0; k < K; k++) {
            double r = z[k] - y_vec[k];
            l += 0.5 * r * r;
            if (g)
                g[k] = r;
            if (p)
                p[k] = 0;
        }
        return l;
    }
    /* log-sum-exp with the maximum factored out: finite for any finite z */
    double mx = z[0];
    for (size_t k = 1; k < K; k++)
        mx = fmax(mx, z[k]);
    double s = 0;
    for (size_t k = 0; k < K; k++)
        s += exp(z[k] - mx);
    double lse = mx + log(s);
    for (size_t k = 0; k < K; k++) {
        /* exp(z - mx) / s, not exp(z - lse): at |z| ~ 1e14 mx + log(s)
         * rounds (ulp 1/16) and p would not sum to 1 (||A|| > 1/2) */
        double pk = exp(z[k] - mx) / s;
        if (p)
            p[k] = pk;
        if (g)
            g[k] = pk - (k == (size_t)y_class ? 1.0 : 0.0);
    }
    return lse - z[y_class];
}

void hn_loss_hess_apply(hn_loss_type loss, size_t K, const double *p,
                        const double *v, double *Av)
{
    if (loss == HN_LOSS_MSE) {
        memmove(Av, v, K * sizeof *v);
        return;
    }
    /* (A v)_a = p_a (v_a - p^T v) = p_a sum_b p_b (v_a - v_b): the
     * differences avoid the cancellation in p_a v_a - p_a (p^T v) */
    double tmp[64];
    double *out = K <= 64 ? tmp : Av;
    for (size_t a = 0; a < K; a++) {
        double s = 0;
        for (size_t b = 0; b < K; b++)
            s += p[b] * (v[a] - v[b]);
        out[a] = p[a] * s;
    }
    if (out != Av)
        memcpy(Av, out, K * sizeof *Av);
}

void hn_loss_hess_matrix(hn_loss_type loss, size_t K, const double *p, double *A)
{
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            if (loss == HN_LOSS_MSE) {
                A[a * K + b] = a == b;
            } else if (a != b) {
                A[a * K + b] = -p[a] * p[b];
            } else {
                double rest = 0;
                for (size_t c = 0; c < K; c++)
                    if (c != a)
                        rest += p[c];
                A[a * K + a] = p[a] * rest;
            }
        }
}

/* ------------------------------------------------------------ workspace */

struct hn_ws {
    size_t n_layers, K, max_act;
    double **act;     /* act[0] = input copy, act[i+1] = output of layer i */
    double **ract;    /* tangents for the R-operator */
    size_t **argmax;  /* per layer (maxpool only) */
    double *buf[4];   /* backward scratch */
    double *col;      /* im2col scratch of hn_fixed_range (allocated on first use) */
    double *z, *g, *p, *rz, *rg;
};

void hn_ws_free(hn_ws *ws)
{
    if (!ws)
        return;
    for (size_t i = 0; i <= ws->n_layers; i++) {
        if (ws->act)
            hn_free(ws->act[i]);
        if (ws->ract)
            hn_free(ws->ract[i]);
    }
    if (ws->argmax)
        for (size_t i = 0; i < ws->n_layers; i++)
            hn_free(ws->argmax[i]);
    hn_free(ws->col);
    hn_free(ws->act);
    hn_free(ws->ract);
    hn_free(ws->argmax);
    for (int k = 0; k < 4; k++)
        hn_free(ws->buf[k]);
    hn_free(ws->z);
    hn_free(ws->g);
    hn_free(ws->p);
    hn_free(ws->rz);
    hn_free(ws->rg);
    hn_free(ws);
}

int hn_ws_alloc(const hn_model *m, hn_ws **out, hn_err *err)
{
    *out = NULL;
    if (!m || !m->finalized)
        return hn_err_set(err, HN_EINVAL, "workspace: model is not finalized");
    hn_ws *ws = hn_calloc(1, sizeof *ws);
    if (!ws)
        goto nomem;
    ws->n_layers = m->n_layers;
    ws->K = m->classes;
    ws->max_act = m->max_act;
    ws->act = hn_calloc(m->n_layers + 1, sizeof *ws->act);
    ws->ract = hn_calloc(m->n_layers + 1, sizeof *ws->ract);
    ws->argmax = hn_calloc(m->n_layers, sizeof *ws->argmax);
    if (!ws->act || !ws->ract || !ws->argmax)
        goto nomem;
    for (size_t i = 0; i <= m->n_layers; i++) {
        size_t n = hn_shape_size(i == 0 ? m->input : m->layers[i - 1].out);
        ws->act[i] = hn_calloc(n, sizeof(double));
        ws->ract[i] = hn_calloc(n, sizeof(double));
        if (!ws->act[i] || !ws->ract[i])
            goto nomem;
        if (i > 0 && (m->layers[i - 1].type == HN_MAXPOOL1D ||
                      m->layers[i - 1].type == HN_MAXPOOL2D)) {
            ws->argmax[i - 1] = hn_calloc(n, sizeof(size_t));
            if (!ws->argmax[i - 1])
                goto nomem;
        }
    }
    for (int k = 0; k < 4; k++)
        if (!(ws->buf[k] = hn_calloc(m->max_act, sizeof(double))))
            goto nomem;
    ws->z = hn_calloc(ws->K, sizeof(double));
    ws->g = hn_calloc(ws->K, sizeof(double));
    ws->p = hn_calloc(ws->K, sizeof(double));
    ws->rz = hn_calloc(ws->K, sizeof(double));
    ws->rg = hn_calloc(ws->K, sizeof(double));
    if (!ws->z || !ws->g || !ws->p || !ws->rz || !ws->rg)
        goto nomem;
    *out = ws;
    return HN_OK;
nomem:
    hn_ws_free(ws);
    return hn_err_set(err, HN_ENOMEM, "workspace: out of memory");
}

const double *hn_ws_act(const hn_ws *ws, int i) { return ws->act[i + 1]; }

const size_t *hn_ws_argmax(const hn_ws *ws, size_t i) { return ws->argmax[i]; }

/* ------------------------------------------------------------ network */

/* Apply the piecewise-linear (non-parametric) layer i to `in`, writing
 * `out`, using the masks/choices recorded by the forward pass.  Used for
 * activations' tangents (R-operator). */
static void apply_fixed(const hn_model *m, const hn_ws *ws, size_t i,
                        const double *in, double *out)
{
    const hn_layer *ly = &m->layers[i];
    const size_t n_out = hn_shape_size(ly->out);
    switch (ly->type) {
    case HN_RELU: {
        const double *pre = ws->act[i];
        for (size_t j = 0; j < n_out; j++)
            out[j] = pre[j] > 0 ? in[j] : 0.0;
        break;
    }
    case HN_MAXPOOL1D:
    case HN_MAXPOOL2D:
        for (size_t j = 0; j < n_out; j++)
            out[j] = in[ws->argmax[i][j]];
        break;
    case HN_AVGPOOL1D:
    case HN_AVGPOOL2D:
        hn_avgpool_forward(ly->in, ly->kh, ly->kw, in, out);
        break;
    default: /* flatten */
        memcpy(out, in, n_out * sizeof *out);
        break;
    }
}

/* Transpose of apply_fixed: out (input-sized) = Lambda_i^T in. */
static void apply_fixed_T(const hn_model *m, const hn_ws *ws, size_t i,
                          const double *in, double *out)
{
    const hn_layer *ly = &m->layers[i];
    const size_t n_in = hn_shape_size(ly->in), n_out = hn_shape_size(ly->out);
    switch (ly->type) {
    case HN_MAXPOOL1D:
    case HN_MAXPOOL2D:
        memset(out, 0, n_in * sizeof *out);
        for (size_t j = 0; j < n_out; j++)
            out[ws->argmax[i][j]] += in[j];
        break;
    case HN_AVGPOOL1D:
    case HN_AVGPOOL2D:
        hn_avgpool_backward(ly->in, ly->kh, ly->kw, in, out);
        break;
    default: /* ReLU's mask and flatten's copy are their own transposes */
        apply_fixed(m, ws, i, in, out);
        break;
    }
}

int hn_forward(const hn_model *m, const double *theta, const double *x,
               hn_ws *ws, double *logits)
{
    memcpy(ws->act[0], x, hn_shape_size(m->input) * sizeof *x);
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        const double *in = ws->act[i];
        double *out = ws->act[i + 1];
        switch (ly->type) {
        case HN_CONV1D:
        case HN_CONV2D:
        case HN_LINEAR:
            hn_conv_forward(ly->in, ly->out.c, ly->kh, ly->kw, theta + ly->param_offset, in, out);
            break;
        case HN_RELU:
            for (size_t j = 0, n = hn_shape_size(ly->out); j < n; j++)
                out[j] = in[j] > 0 ? in[j] : 0.0;
            break;
        case HN_MAXPOOL1D:
        case HN_MAXPOOL2D:
            hn_maxpool_forward(ly->in, ly->kh, ly->kw, in, out, ws->argmax[i]);
            break;
        default:
            apply_fixed(m, ws, i, in, out);
            break;
        }
    }
    if (logits)
        memcpy(logits, ws->act[m->n_layers], m->classes * sizeof *logits);
    return HN_OK;
}

int hn_ws_near_kink(const hn_model *m, const hn_ws *ws, double tol)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        const double *in = ws->act[i];
        if (ly->type == HN_RELU) {
            for (size_t j = 0, n = hn_shape_size(ly->in); j < n; j++)
                if (fabs(in[j]) < tol)
                    return 1;
        } else if (ly->type == HN_MAXPOOL1D || ly->type == HN_MAXPOOL2D) {
            const size_t ho = ly->out.h, wo = ly->out.w;
            for (size_t c = 0; c < ly->in.c; c++)
                for (size_t oy = 0; oy < ho; oy++)
                    for (size_t ox = 0; ox < wo; ox++) {
                        size_t best = ws->argmax[i][(c * ho + oy) * wo + ox];
                        for (size_t a = 0; a < ly->kh; a++)
                            for (size_t b = 0; b < ly->kw; b++) {
                                size_t idx = (c * ly->in.h + oy * ly->kh + a) * ly->in.w +
                                             ox * ly->kw + b;
                                if (idx != best && in[best] - in[idx] < tol)
                                    return 1;
                            }
                    }
        }
    }
    return 0;
}

/* Length of the activation between layers i-1 and i (i = 0: the input,
 * i = n_layers: the logits). */
static size_t act_size(const hn_model *m, size_t i)
{
    return i == 0 ? hn_shape_size(m->input) : hn_shape_size(m->layers[i - 1].out);
}

int hn_fixed_range(const hn_model *m, const double *theta, hn_ws *ws, size_t from, size_t to, int transpose,
                   const double *v, double *y)
{
    if (from > to || to > m->n_layers)
        return HN_EINVAL;
    /* the linear layers as im2col + GEMM (fastconv.h, one block: CNHW =
     * NCHW), a second route to hn_conv_forward's numbers (test_fastconv) */
    if (!ws->col) {
        size_t nc = 1;
        for (size_t i = 0; i < m->n_layers; i++)
            if (hn_layer_is_linear(m->layers[i].type)) {
                size_t c = hn_conv_col_size(m->layers[i].in, 1, m->layers[i].kh, m->layers[i].kw);
                nc = c > nc ? c : nc;
            }
        if (!(ws->col = hn_calloc(nc, sizeof *ws->col)))
            return HN_ENOMEM;
    }
    /* buf[2], buf[3] hold max_act doubles: every activation fits */
    double *a = ws->buf[2], *b = ws->buf[3];
    memcpy(a, v, act_size(m, transpose ? to : from) * sizeof *a);
    for (size_t k = 0; k < to - from; k++) {
        const size_t i = transpose ? to - 1 - k : from + k;
        const hn_layer *ly = &m->layers[i];
        if (hn_layer_is_linear(ly->type)) {
            const double *W = theta + ly->param_offset;
            if (transpose)
                hn_conv_backward_data_batch(ly->in, 1, ly->out.c, ly->kh, ly->kw, W, a, ws->col, b);
            else
                hn_conv_forward_batch(ly->in, 1, ly->out.c, ly->kh, ly->kw, W, a, ws->col, b);
        } else if (transpose) {
            apply_fixed_T(m, ws, i, a, b);
        } else {
            apply_fixed(m, ws, i, a, b);
        }
        double *t = a;
        a = b;
        b = t;
    }
    memcpy(y, a, act_size(m, transpose ? from : to) * sizeof *y);
    return HN_OK;
}

size_t hn_fixed_range_batch_work(const hn_model *m, size_t from, size_t to, size_t B)
{
    size_t nc = 0;
    for (size_t i = from; i < to && i < m->n_layers; i++)
        if (hn_layer_is_linear(m->layers[i].type)) {
            size_t c = hn_conv_col_size(m->layers[i].in, B, m->layers[i].kh, m->layers[i].kw);
            nc = c > nc ? c : nc;
        }
    return 4 * B * m->max_act + nc;
}

int hn_fixed_range_batch(const hn_model *m, const double *theta, const hn_ws *ws, size_t from, size_t to, size_t B,
                         const double *v, double *y, double *work)
{
    if (from > to || to > m->n_layers || !B)
        return HN_EINVAL;
    /* a, b: the rows (NCHW); c, d: one linear layer's input and output in CNHW */
    const size_t na = B * m->max_act;
    double *a = work, *b = a + na, *c = b + na, *d = c + na, *col = d + na;
    memcpy(a, v, B * act_size(m, from) * sizeof *a);
    for (size_t i = from; i < to; i++) {
        const hn_layer *ly = &m->layers[i];
        const size_t n_in = hn_shape_size(ly->in), n_out = hn_shape_size(ly->out);
        if (hn_layer_is_linear(ly->type)) {
            /* one im2col + GEMM for the B rows: the kernel hn_fixed_range runs with B = 1 */
            hn_nchw_to_cnhw(ly->in, B, a, c);
            hn_conv_forward_batch(ly->in, B, ly->out.c, ly->kh, ly->kw, theta + ly->param_offset, c, col, d);
            hn_cnhw_to_nchw(ly->out, B, d, b);
        } else {
            for (size_t r = 0; r < B; r++)
                apply_fixed(m, ws, i, a + r * n_in, b + r * n_out);
        }
        double *t = a;
        a = b;
        b = t;
    }
    memcpy(y, a, B * act_size(m, to) * sizeof *y);
    return HN_OK;
}

/* Shared reverse sweep.  delta/rdelta hold the cotangent (and its
 * R-derivative when v != NULL) of layers[n_layers-1]'s output. */
static void reverse_sweep(const hn_model *m, const double *theta, hn_ws *ws,
                          const double *v, double *delta, double *rdelta,
                          double *grad, double *rgrad, double scale, double *dx)
{
    double *d = delta, *rd = rdelta;
    double *d2 = ws->buf[2], *rd2 = ws->buf[3];
    for (size_t ii = m->n_layers; ii-- > 0;) {
        const hn_layer *ly = &m->layers[ii];
        const double *a = ws->act[ii];
        const size_t n_in = hn_shape_size(ly->in);
        if (hn_layer_is_linear(ly->type)) {
            const double *W = theta + ly->param_offset;
            if (grad) {
                if (scale == 1.0)
                    hn_conv_backward_weights(ly->in, ly->out.c, ly->kh, ly->kw, a, d,
                                             grad + ly->param_offset);
                else {
                    for (size_t j = 0; j < n_in; j++)
                        d2[j] = a[j] * scale;
                    hn_conv_backward_weights(ly->in, ly->out.c, ly->kh, ly->kw, d2, d,
                                             grad + ly->param_offset);
                }
            }
            if (v) {
                /* R{dW} = rdelta (x) a + delta (x) ra */
                const double *ra = ws->ract[ii];
                for (size_t j = 0; j < n_in; j++) {
                    d2[j] = a[j] * scale;
                    rd2[j] = ra[j] * scale;
                }
                hn_conv_backward_weights(ly->in, ly->out.c, ly->kh, ly->kw, d2, rd,
                                         rgrad + ly->param_offset);
                hn_conv_backward_weights(ly->in, ly->out.c, ly->kh, ly->kw, rd2, d,
                                         rgrad + ly->param_offset);
            }
            if (ii == 0 && !dx)
                break;
            if (v) {
                /* R{T^T delta} = T(V)^T delta + T(W)^T rdelta */
                hn_conv_backward_data(ly->in, ly->out.c, ly->kh, ly->kw,
                                      v + ly->param_offset, d, d2);
                hn_conv_backward_data(ly->in, ly->out.c, ly->kh, ly->kw, W, rd, rd2);
                for (size_t j = 0; j < n_in; j++)
                    rd2[j] += d2[j];
            }
            hn_conv_backward_data(ly->in, ly->out.c, ly->kh, ly->kw, W, d, d2);
        } else {
            apply_fixed_T(m, ws, ii, d, d2);
            if (v)
                apply_fixed_T(m, ws, ii, rd, rd2);
        }
        /* swap buffers */
        double *t = d;
        d = d2;
        d2 = t;
        t = rd;
        rd = rd2;
        rd2 = t;
    }
    if (dx)
        memcpy(dx, d, hn_shape_size(m->input) * sizeof *dx);
}

int hn_backward(const hn_model *m, const double *theta, hn_ws *ws,
                const double *dz, double *grad, double *dx)
{
    memcpy(ws->buf[0], dz, m->classes * sizeof *dz);
    reverse_sweep(m, theta, ws, NULL, ws->buf[0], ws->buf[1], grad, NULL, 1.0, dx);
    return HN_OK;
}

static const double *sample_x(const hn_samples *s, size_t i) { return s->x + i * s->in_size; }

static double sample_loss(const hn_model *m, const hn_samples *s, size_t i, hn_ws *ws)
{
    return hn_loss_eval(m->loss, m->classes, ws->act[m->n_layers],
                        s->y_class ? s->y_class[i] : 0,
                        s->y_vec ? s->y_vec + i * m->classes : NULL, ws->g, ws->p);
}

int hn_loss_grad(const hn_model *m, const double *theta, const hn_samples *s,
                 size_t i, hn_ws *ws, double scale, double *loss, double *grad)
{
    hn_forward(m, theta, sample_x(s, i), ws, NULL);
    double l = sample_loss(m, s, i, ws);
    if (loss)
        *loss = l;
    if (grad) {
        for (size_t k = 0; k < m->classes; k++)
            ws->buf[0][k] = ws->g[k];
        reverse_sweep(m, theta, ws, NULL, ws->buf[0], ws->buf[1], grad, NULL, scale, NULL);
    }
    return HN_OK;
}

int hn_batch_loss_grad(const hn_model *m, const double *theta, const hn_samples *s,
                       double *loss, double *grad, hn_err *err)
{
    hn_ws *ws;
    int rc = hn_ws_alloc(m, &ws, err);
    if (rc)
        return rc;
    if (grad)
        memset(grad, 0, m->n_params * sizeof *grad);
    double tot = 0;
    const double sc = 1.0 / (double)s->n;
    for (size_t i = 0; i < s->n; i++) {
        double l;
        hn_loss_grad(m, theta, s, i, ws, sc, &l, grad);
        tot += l;
    }
    if (loss)
        *loss = tot * sc;
    hn_ws_free(ws);
    return HN_OK;
}

int hn_hvp(const hn_model *m, const double *theta, const hn_samples *s, size_t i,
           hn_ws *ws, const double *v, double scale, double *Hv)
{
    hn_forward(m, theta, sample_x(s, i), ws, NULL);
    sample_loss(m, s, i, ws);
    /* forward tangents: the input does not depend on theta */
    memset(ws->ract[0], 0, hn_shape_size(m->input) * sizeof(double));
    for (size_t ii = 0; ii < m->n_layers; ii++) {
        const hn_layer *ly = &m->layers[ii];
        double *rout = ws->ract[ii + 1];
        if (hn_layer_is_linear(ly->type)) {
            /* R{T(W) a} = T(V) a + T(W) ra */
            double *tmp = ws->buf[0];
            const size_t n_out = hn_shape_size(ly->out);
            hn_conv_forward(ly->in, ly->out.c, ly->kh, ly->kw, v + ly->param_offset,
                            ws->act[ii], rout);
            hn_conv_forward(ly->in, ly->out.c, ly->kh, ly->kw, theta + ly->param_offset,
                            ws->ract[ii], tmp);
            for (size_t j = 0; j < n_out; j++)
                rout[j] += tmp[j];
        } else {
            apply_fixed(m, ws, ii, ws->ract[ii], rout);
        }
    }
    const double *rz = ws->ract[m->n_layers];
    hn_loss_hess_apply(m->loss, m->classes, ws->p, rz, ws->rg);
    memcpy(ws->buf[0], ws->g, m->classes * sizeof(double));
    memcpy(ws->buf[1], ws->rg, m->classes * sizeof(double));
    reverse_sweep(m, theta, ws, v, ws->buf[0], ws->buf[1], NULL, Hv, scale, NULL);
    return HN_OK;
}

int hn_jacobian(const hn_model *m, const double *theta, const double *x,
                hn_ws *ws, double *J, double *logits)
{
    hn_forward(m, theta, x, ws, logits);
    const size_t K = m->classes, P = m->n_params;
    memset(J, 0, K * P * sizeof *J);
    for (size_t k = 0; k < K; k++) {
        memset(ws->buf[0], 0, K * sizeof(double));
        ws->buf[0][k] = 1.0;
        reverse_sweep(m, theta, ws, NULL, ws->buf[0], ws->buf[1], J + k * P, NULL, 1.0, NULL);
    }
    return HN_OK;
}
