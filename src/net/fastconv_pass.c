/* hessnorm — the batched network's chunk passes (forward, tangent, reverse) and chunk driver. */
#include "config.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/layers.h"
#include "hessnorm/fastconv.h"
#include "net/fastconv_internal.h"

/* ------------------------------------------------------------ fixed layers */

/* Max pooling over the chunk's B = r*nb blocks with the argmax masks of
 * sample n = b mod nb: out = M in (gather), or with transpose out = M^T in
 * (zero the input-sized block, scatter-add). */
static void maxpool_blocks(const hn_layer *ly, const hn_fc_chunk *c, size_t i, size_t r,
                           const double *in, double *out, int transpose)
{
    const size_t nb = c->nb, B = r * nb, iHW = ly->in.h * ly->in.w, oHW = ly->out.h * ly->out.w;
    const size_t src_hw = transpose ? oHW : iHW, dst_hw = transpose ? iHW : oHW;
    for (size_t ch = 0; ch < ly->in.c; ch++)
        for (size_t j = 0; j < r; j++)
            for (size_t n = 0; n < nb; n++) {
                const size_t *am = c->amax[i] + (ch * nb + n) * oHW;
                const double *src = in + (ch * B + j * nb + n) * src_hw;
                double *dst = out + (ch * B + j * nb + n) * dst_hw;
                if (transpose) {
                    memset(dst, 0, iHW * sizeof *dst);
                    for (size_t q = 0; q < oHW; q++)
                        dst[am[q]] += src[q];
                } else {
                    for (size_t q = 0; q < oHW; q++)
                        dst[q] = src[am[q]];
                }
            }
}

/* out = Lambda_i in for B = r*nb blocks (replica-major), masks of sample
 * n = b mod nb from the chunk's forward pass. */
static void fixed_fwd(const hn_layer *ly, const hn_fc_chunk *c, size_t i, size_t r, const double *in,
                      double *out)
{
    const size_t nb = c->nb, B = r * nb, iHW = ly->in.h * ly->in.w;
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
        maxpool_blocks(ly, c, i, r, in, out, 0);
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
void hn_fc_fixed_T(const hn_layer *ly, const hn_fc_chunk *c, size_t i, size_t r, const double *in,
                   double *out)
{
    const size_t nb = c->nb, B = r * nb, iHW = ly->in.h * ly->in.w;
    switch (ly->type) {
    case HN_RELU:
        fixed_fwd(ly, c, i, r, in, out);
        break;
    case HN_MAXPOOL1D:
    case HN_MAXPOOL2D:
        maxpool_blocks(ly, c, i, r, in, out, 1);
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
void hn_fc_ck_forward(const hn_fast *F, hn_fc_chunk *c, const double *theta, const hn_samples *s,
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
        const hn_fc_linfo *l = &F->li[i];
        const double *in = c->act[i];
        double *out = c->act[i + 1];
        if (l->lin) {
            const size_t N = nb * l->howo;
            const double *col = in;
            if (!l->k1) {
                hn_im2col(ly->in, nb, ly->kh, ly->kw, in, c->col[i]);
                col = c->col[i];
            }
            hn_fc_gemm(0, 0, ly->out.c, N, l->ck, theta + ly->param_offset, l->ck, col, N, 0.0,
                       out, N);
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
void hn_fc_ck_rforward(const hn_fast *F, hn_fc_chunk *c, const double *theta, const double *V, size_t r)
{
    const hn_model *m = F->m;
    const size_t nb = c->nb, B = r * nb;
    memset(c->ract[0], 0, B * hn_shape_size(m->input) * sizeof(double));
    int zero = 1; /* ract[i] is identically zero (the input does not depend on theta) */
    for (size_t i = 0; i < F->L; i++) {
        const hn_layer *ly = &m->layers[i];
        const hn_fc_linfo *l = &F->li[i];
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
            hn_fc_gemm(0, 0, co, N1, l->ck, V + j * F->P + ly->param_offset, l->ck, cola, N1, 0.0,
                       rout + j * N1, B * l->howo);
        if (!zero) {
            const double *colr = c->ract[i];
            if (!l->k1) {
                hn_im2col(ly->in, B, ly->kh, ly->kw, c->ract[i], c->rcl[i]);
                colr = c->rcl[i];
            }
            hn_fc_gemm(0, 0, co, B * l->howo, l->ck, theta + ly->param_offset, l->ck, colr,
                       B * l->howo, 1.0, rout, B * l->howo);
        }
        zero = 0;
    }
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
void hn_fc_ck_backward(const hn_fast *F, hn_fc_chunk *c, const double *theta, size_t dr, int mode,
                       double *out, size_t ldo, const double *V, size_t r,
                       double *const *dcache)
{
    const hn_model *m = F->m;
    const size_t nb = c->nb, Bd = dr * nb, P = F->P, K = F->K;
    double *d = c->d[0], *d2 = c->d[1], *rd = c->rd[0], *rd2 = V ? c->rd[1] : NULL;
    for (size_t ii = F->L; ii-- > 0;) {
        const hn_layer *ly = &m->layers[ii];
        const hn_fc_linfo *l = &F->li[ii];
        if (l->lin) {
            const size_t co = ly->out.c, ck = l->ck, hw = l->howo, N1 = nb * hw;
            const double *W = theta + ly->param_offset;
            if (dcache)
                d = dcache[ii];
            const double *cola = l->k1 ? c->act[ii] : c->col[ii];
            const size_t off = ly->param_offset;
            if ((mode == HN_FC_OUT_JAC_BODY || mode == HN_FC_OUT_SUM_BODY) && ii + 1 == F->L &&
                hn_fc_head_structured(F)) {
                /* structured head: done elsewhere */
            } else if (mode == HN_FC_OUT_JAC || mode == HN_FC_OUT_JAC_BODY) {
                /* rows (o, k) of replica k of sample n are N1 apart */
                for (size_t n = 0; n < nb; n++) {
                    hn_fc_gemm(0, 1, co * dr, ck, hw, d + n * hw, N1, cola + n * hw, N1, 0.0, c->wbuf,
                               ck);
                    double *Jn = out + n * K * P;
                    for (size_t o = 0; o < co; o++)
                        for (size_t k = 0; k < dr; k++)
                            memcpy(Jn + k * P + off + o * ck, c->wbuf + (o * dr + k) * ck,
                                   ck * sizeof(double));
                }
            } else if (!V) {
                for (size_t j = 0; j < dr; j++)
                    hn_fc_gemm_nt(co, ck, N1, d + j * N1, Bd * hw, cola, N1, 0.0, out + j * ldo + off,
                                  ck);
            } else {
                /* R{dW}_j = rd_j (x) a + d (x) ra_j */
                /* the tangent pass left im2col(ract[ii]) in rcl[ii] */
                const double *colr = l->k1 || ii == 0 ? c->ract[ii] : c->rcl[ii];
                for (size_t j = 0; j < r; j++) {
                    double *o = out + j * ldo + off;
                    hn_fc_gemm_nt(co, ck, N1, rd + j * N1, r * N1, cola, N1, 0.0, o, ck);
                    if (ii > 0) /* ra = 0 at the first layer */
                        hn_fc_gemm_nt(co, ck, N1, d, N1, colr + j * N1, r * N1, 1.0, o, ck);
                }
            }
            if (ii == 0)
                break;
            if (V) {
                /* R{T^T d} = T(V)^T d + T(W)^T rd */
                const size_t Nr = r * N1;
                double *dst = l->k1 ? rd2 : c->dcol;
                hn_fc_gemm(1, 0, ck, Nr, co, W, ck, rd, Nr, 0.0, dst, Nr);
                for (size_t j = 0; j < r; j++)
                    hn_fc_gemm(1, 0, ck, N1, co, V + j * P + off, ck, d, N1, 1.0, dst + j * N1, Nr);
                if (!l->k1)
                    hn_col2im(ly->in, r * nb, ly->kh, ly->kw, c->dcol, rd2);
            }
            if (!dcache)
                hn_conv_backward_data_batch(ly->in, Bd, co, ly->kh, ly->kw, W, d, c->dcol, d2);
        } else {
            if (!dcache)
                hn_fc_fixed_T(ly, c, ii, dr, d, d2);
            if (V)
                hn_fc_fixed_T(ly, c, ii, r, rd, rd2);
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
double hn_fc_ck_loss(const hn_fast *F, hn_fc_chunk *c, const hn_samples *s, const size_t *idx,
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

int hn_fc_run_chunks(hn_fast *F, size_t n, size_t slot_len, double *acc, double *lacc,
                     hn_fc_job_fn fn, void *ctx, hn_fc_post_fn post)
{
    const size_t nch = (n + HN_FC_CH - 1) / HN_FC_CH;
    double ltot = 0;
    if (acc)
        memset(acc, 0, slot_len * sizeof *acc);
    for (size_t s0 = 0; s0 < nch; s0 += HN_FC_SUPER) {
        const size_t s1 = s0 + HN_FC_SUPER < nch ? s0 + HN_FC_SUPER : nch;
        const long a = (long)s0, b = (long)s1;
#pragma omp parallel for num_threads(F->threads) schedule(dynamic, 1)
        for (long cc = a; cc < b; cc++) {
            hn_fc_chunk *c = F->ck[hn_thread_id()];
            const size_t t0 = (size_t)cc * HN_FC_CH, nb = n - t0 < HN_FC_CH ? n - t0 : HN_FC_CH;
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
            const long nblk = (long)((slot_len + HN_FC_RED_BLOCK - 1) / HN_FC_RED_BLOCK), ns = (long)(s1 - s0);
#pragma omp parallel for num_threads(F->threads) schedule(static)
            for (long q = 0; q < nblk; q++) {
                const size_t p1 = (size_t)q * HN_FC_RED_BLOCK;
                const size_t p2 = p1 + HN_FC_RED_BLOCK < slot_len ? p1 + HN_FC_RED_BLOCK : slot_len;
                for (long k = 0; k < ns; k++) {
                    const double *sl = F->slots + (size_t)k * slot_len;
                    for (size_t p = p1; p < p2; p++)
                        acc[p] += sl[p];
                }
            }
        }
        if (post) {
            const size_t t1 = s1 * HN_FC_CH < n ? s1 * HN_FC_CH : n;
            post(F, s0 * HN_FC_CH, t1 - s0 * HN_FC_CH, ctx);
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

int hn_fc_check_args(const hn_fast *F, const hn_model *m, const hn_samples *s, const size_t *idx,
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
