/* hessnorm — ||R^(p-1)|| of every linear layer p at once from the explicit
 * R^(p-1) (matfree.h, hn_mf_r_explicit): the n unit inputs pushed through
 * the fixed layers in chunks of R_CHUNK by the batched kernels
 * (hn_fixed_range_batch), layer group by layer group, keeping only the rows
 * of R^(p-1) a ReLU mask does not zero; then lambda_max of the n x n Gram
 * R^T R (hn_gram_norm2).  The second route to layer_R's Lanczos in
 * matfree.c (test_matfree: both against the dense R of hn_paper_build). */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/alloc.h"
#include "hessnorm/dense.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/layers.h"
#include "hessnorm/matfree.h"

/* unit inputs per batched pass: one GEMM of co x ci*kh*kw x R_CHUNK*positions,
 * wide enough for DGEMM's full rate, its im2col scratch a few tens of MB */
#define R_CHUNK 8

/* The activation entering layer i (i = n_layers: the logits): its length. */
static size_t act_len(const hn_model *m, size_t i)
{
    return i == 0 ? hn_shape_size(m->input) : hn_shape_size(m->layers[i - 1].out);
}

/* The entries of the activation entering layer `to` that the fixed map
 * [0, to) can make nonzero: those a last ReLU (through flattens) passes
 * (its output > 0), else all.  idx (act_len entries) receives them, in
 * order; returns their count. */
static size_t live_rows(const hn_model *m, const hn_ws *ws, size_t to, size_t *idx)
{
    const size_t n = act_len(m, to);
    size_t i = to;
    while (i > 0 && m->layers[i - 1].type == HN_FLATTEN)
        i--;
    const double *a = to > 0 ? hn_ws_act(ws, (int)to - 1) : NULL;
    const int relu = i > 0 && m->layers[i - 1].type == HN_RELU;
    size_t L = 0;
    for (size_t j = 0; j < n; j++)
        if (!relu || a[j] > 0)
            idx[L++] = j;
    return L;
}

/* Group t's live rows (id, *L; live_rows) and X (n0 x L) for them. */
static int group_rows(const hn_model *m, const hn_ws *ws, size_t t, size_t *id, size_t *L, double **X, hn_err *err)
{
    const size_t n0 = hn_shape_size(m->input);
    *L = live_rows(m, ws, m->linear_pos[t], id);
    if (!(*X = hn_malloc((*L > 0 ? n0 * *L : 1) * sizeof **X)))
        return hn_err_set(err, HN_ENOMEM, "R^(%zu): out of memory for %zu x %zu", t, *L, n0);
    return HN_OK;
}

/* sqrt(lambda_max) of the n0 x n0 Gram X X^T (X: n0 x L, row-major). */
static int gram_norm_rows(const double *X, size_t n0, size_t L, double *out, hn_err *err)
{
    if (L == 0) {
        *out = 0;
        return HN_OK;
    }
    gsl_matrix_const_view Xv = gsl_matrix_const_view_array(X, n0, L);
    return hn_gram_norm2(&Xv.matrix, out, err);
}

/* R^(p) (as its live rows' transpose X, n0 x L) from R^(p-1) (Xp, n0 x Lp,
 * live rows idp; NULL for R^(0) = I) through layers [from, to). */
static int r_step(const hn_model *m, const double *theta, const hn_ws *ws, size_t from, size_t to, const double *Xp,
                  size_t Lp, const size_t *idp, const size_t *id, size_t L, double *X, double *V, double *Y,
                  double *work)
{
    const size_t n0 = hn_shape_size(m->input), nf = act_len(m, from), nt = act_len(m, to);
    for (size_t c0 = 0; c0 < n0; c0 += R_CHUNK) {
        const size_t B = n0 - c0 < R_CHUNK ? n0 - c0 : R_CHUNK;
        memset(V, 0, B * nf * sizeof *V);
        for (size_t b = 0; b < B; b++) {
            double *v = V + b * nf;
            if (!Xp)
                v[c0 + b] = 1; /* R^(0) = I: the unit input */
            else
                for (size_t k = 0; k < Lp; k++)
                    v[idp[k]] = Xp[(c0 + b) * Lp + k];
        }
        int rc = hn_fixed_range_batch(m, theta, ws, from, to, B, V, Y, work);
        if (rc)
            return rc;
        for (size_t b = 0; b < B; b++)
            for (size_t k = 0; k < L; k++)
                X[(c0 + b) * L + k] = Y[b * nt + id[k]];
    }
    return HN_OK;
}

/* ---------------------------------------------------------------- windowed */

/* A unit input's column of R^(p-1) is zero outside its receptive field: a
 * valid stride-1 convolution spreads it by (kh-1, kw-1).  On a chain of
 * 2-D convolutions, ReLUs and flattens whose fields stay within the
 * layers, each column is carried as its window (C x hy x hx at the unit's
 * position shifted by sy, sx) and one convolution of R_WCHUNK zero-padded
 * windows is one GEMM: the same products as the full route on the nonzero
 * part only (~6x fewer on the paper's largest network). */
#define R_WCHUNK 64

/* 1 when every layer before the last linear one is a 2-D convolution, a
 * ReLU or a flatten, and every window stays within its layer's output. */
static int windowed_fits(const hn_model *m)
{
    const size_t last = m->linear_pos[m->n_linear - 1];
    size_t hy = 1, hx = 1;
    if (m->input.h < 1 || m->layers[0].type != HN_CONV2D)
        return 0;
    for (size_t i = 0; i < last; i++) {
        const hn_layer *ly = &m->layers[i];
        if (ly->type == HN_CONV2D) {
            hy += ly->kh - 1;
            hx += ly->kw - 1;
            if (hy > ly->out.h || hx > ly->out.w)
                return 0;
        } else if (ly->type != HN_RELU && ly->type != HN_FLATTEN)
            return 0;
    }
    return 1;
}

typedef struct {
    size_t c, hy, hx, sy, sx; /* window shape and the shift of its origin from the unit's (y0, x0) */
} win_shape;

/* Zero-padded windows of columns c0..c0+B-1 in CNHW (C, B, hy+2(kh-1),
 * hx+2(kw-1)) from their windows P (n0 x C x hy x hx; NULL: the unit
 * inputs, 1 x 1 windows). */
static void win_pad(const hn_model *m, const win_shape *w, size_t kh, size_t kw, const double *P, size_t c0,
                    size_t B, double *pad)
{
    const size_t ph = w->hy + 2 * (kh - 1), pw = w->hx + 2 * (kw - 1), HW = m->input.h * m->input.w;
    memset(pad, 0, w->c * B * ph * pw * sizeof *pad);
    for (size_t b = 0; b < B; b++) {
        const size_t q = c0 + b;
        for (size_t c = 0; c < w->c; c++)
            for (size_t u = 0; u < w->hy; u++)
                for (size_t v = 0; v < w->hx; v++) {
                    const double x = P ? P[((q * w->c + c) * w->hy + u) * w->hx + v] : (c == q / HW ? 1.0 : 0.0);
                    pad[((c * B + b) * ph + u + kh - 1) * pw + v + kw - 1] = x;
                }
    }
}

/* The fixed layers (from, to) after the convolution `from` on its output
 * windows Z (CNHW, B blocks, shape w): positions outside the layer and
 * those a ReLU zeroes set to 0; into Pn (column-major windows as P). */
static void win_mask(const hn_model *m, const hn_ws *ws, size_t from, size_t to, const win_shape *w, const double *Z,
                     size_t c0, size_t B, double *Pn)
{
    const hn_shape o = m->layers[from].out;
    const size_t HW = m->input.h * m->input.w, W0 = m->input.w;
    for (size_t b = 0; b < B; b++) {
        const size_t q = c0 + b, y0 = (q % HW) / W0, x0 = q % W0;
        for (size_t c = 0; c < w->c; c++)
            for (size_t u = 0; u < w->hy; u++)
                for (size_t v = 0; v < w->hx; v++) {
                    const long y = (long)y0 - (long)w->sy + (long)u, x = (long)x0 - (long)w->sx + (long)v;
                    double z = Z[((c * B + b) * w->hy + u) * w->hx + v];
                    if (y < 0 || x < 0 || (size_t)y >= o.h || (size_t)x >= o.w)
                        z = 0; /* a position the layer does not have */
                    else {
                        const size_t j = (c * o.h + (size_t)y) * o.w + (size_t)x;
                        for (size_t i = from + 1; i < to; i++)
                            if (m->layers[i].type == HN_RELU && !(hn_ws_act(ws, (int)i)[j] > 0))
                                z = 0;
                    }
                    Pn[((q * w->c + c) * w->hy + u) * w->hx + v] = z;
                }
    }
}

/* One layer group [from, to) on the windows: P (shape *w) -> Pn (shape
 * *w updated). */
static void win_step(const hn_model *m, const double *theta, const hn_ws *ws, size_t from, size_t to, win_shape *w,
                     const double *P, double *Pn, double *pad, double *Z, double *col)
{
    const hn_layer *ly = &m->layers[from];
    const size_t n0 = hn_shape_size(m->input);
    const win_shape wi = *w;
    win_shape wo = {ly->out.c, wi.hy + ly->kh - 1, wi.hx + ly->kw - 1, wi.sy + ly->kh - 1, wi.sx + ly->kw - 1};
    const hn_shape pin = {wi.c, wi.hy + 2 * (ly->kh - 1), wi.hx + 2 * (ly->kw - 1)};
    for (size_t c0 = 0; c0 < n0; c0 += R_WCHUNK) {
        const size_t B = n0 - c0 < R_WCHUNK ? n0 - c0 : R_WCHUNK;
        win_pad(m, &wi, ly->kh, ly->kw, P, c0, B, pad);
        hn_conv_forward_batch(pin, B, ly->out.c, ly->kh, ly->kw, theta + ly->param_offset, pad, col, Z);
        win_mask(m, ws, from, to, &wo, Z, c0, B, Pn);
    }
    *w = wo;
}

/* The n0 x n0 Gram R^T R from the windows P (shape w): entry (q, q') is
 * the inner product of the two windows over their overlap (zero when
 * they do not meet), the upper triangle summed and mirrored. */
static void win_gram(const hn_model *m, const win_shape *w, const double *P, gsl_matrix *G)
{
    const size_t n0 = hn_shape_size(m->input), HW = m->input.h * m->input.w, W0 = m->input.w, H0 = m->input.h;
    const size_t ws = w->c * w->hy * w->hx;
    gsl_matrix_set_zero(G);
    for (size_t q = 0; q < n0; q++) {
        const long y0 = (long)((q % HW) / W0), x0 = (long)(q % W0);
        const double *a = P + q * ws;
        for (size_t ch = q / HW; ch < m->input.c; ch++)
            for (long dy = ch == q / HW ? 0 : 1 - (long)w->hy; dy < (long)w->hy; dy++)
                for (long dx = 1 - (long)w->hx; dx < (long)w->hx; dx++) {
                    const long y1 = y0 + dy, x1 = x0 + dx;
                    if (y1 < 0 || x1 < 0 || y1 >= (long)H0 || x1 >= (long)W0 ||
                        (ch == q / HW && dy == 0 && dx < 0))
                        continue; /* outside the input, or below the diagonal */
                    const size_t q1 = ch * HW + (size_t)y1 * W0 + (size_t)x1;
                    const double *b = P + q1 * ws;
                    /* window q's position (u, v) is window q1's (u - dy, v - dx) */
                    const size_t u0 = dy > 0 ? (size_t)dy : 0, u1 = dy < 0 ? w->hy + (size_t)dy : w->hy;
                    const size_t v0 = dx > 0 ? (size_t)dx : 0, v1 = dx < 0 ? w->hx + (size_t)dx : w->hx;
                    double sum = 0;
                    for (size_t c = 0; c < w->c; c++)
                        for (size_t u = u0; u < u1; u++) {
                            const double *ar = a + (c * w->hy + u) * w->hx, *br = b + (c * w->hy + u - (size_t)dy) * w->hx;
                            for (size_t v = v0; v < v1; v++)
                                sum += ar[v] * br[(size_t)((long)v - dx)];
                        }
                    gsl_matrix_set(G, q, q1, sum);
                    gsl_matrix_set(G, q1, q, sum);
                }
    }
}

/* The windowed route's buffers, sized by walking the groups once. */
typedef struct {
    size_t np, npad, nz, ncol;
} win_sizes;

static void win_sizes_of(const hn_model *m, win_sizes *z)
{
    const size_t n0 = hn_shape_size(m->input);
    win_shape w = {m->input.c, 1, 1, 0, 0};
    memset(z, 0, sizeof *z);
    for (size_t t = 1; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t - 1]];
        const hn_shape pin = {w.c, w.hy + 2 * (ly->kh - 1), w.hx + 2 * (ly->kw - 1)};
        const win_shape wo = {ly->out.c, w.hy + ly->kh - 1, w.hx + ly->kw - 1, 0, 0};
        const size_t np = n0 * wo.c * wo.hy * wo.hx, npad = R_WCHUNK * hn_shape_size(pin),
                     nz = R_WCHUNK * wo.c * wo.hy * wo.hx, ncol = hn_conv_col_size(pin, R_WCHUNK, ly->kh, ly->kw);
        z->np = np > z->np ? np : z->np;
        z->npad = npad > z->npad ? npad : z->npad;
        z->nz = nz > z->nz ? nz : z->nz;
        z->ncol = ncol > z->ncol ? ncol : z->ncol;
        w = wo;
    }
}

static int r_windowed(const hn_model *m, const double *theta, const hn_ws *ws, double *R_norm, hn_err *err)
{
    const size_t n0 = hn_shape_size(m->input);
    win_sizes z;
    win_sizes_of(m, &z);
    double *P = hn_malloc(z.np * sizeof *P), *Pn = hn_malloc(z.np * sizeof *Pn);
    double *buf = hn_malloc((z.npad + z.nz + z.ncol + 1) * sizeof *buf);
    gsl_matrix *G = gsl_matrix_alloc(n0, n0);
    int rc = !P || !Pn || !buf || !G ? hn_err_set(err, HN_ENOMEM, "R^(p-1): out of memory") : HN_OK;
    win_shape w = {m->input.c, 1, 1, 0, 0};
    R_norm[0] = 1; /* R^(0) = I */
    for (size_t t = 1; t < m->n_linear && !rc; t++) {
        win_step(m, theta, ws, m->linear_pos[t - 1], m->linear_pos[t], &w, t == 1 ? NULL : P, Pn, buf,
                 buf + z.npad, buf + z.npad + z.nz);
        win_gram(m, &w, Pn, G);
        const double v = hn_sym_norm(G, err, &rc); /* lambda_max of the PSD Gram */
        R_norm[t] = rc ? NAN : sqrt(fmax(v, 0.0)); /* not measured: never 0 */
        double *s = P;
        P = Pn;
        Pn = s;
    }
    hn_free(P);
    hn_free(Pn);
    hn_free(buf);
    if (G)
        gsl_matrix_free(G);
    return rc;
}

/* The full route: every column through the whole layers. */
static int r_full(const hn_model *m, const double *theta, const hn_ws *ws, double *R_norm, hn_err *err)
{
    const size_t n0 = hn_shape_size(m->input), nl = m->n_linear;
    size_t wmax = 0;
    for (size_t t = 1; t < nl; t++) {
        const size_t w = hn_fixed_range_batch_work(m, m->linear_pos[t - 1], m->linear_pos[t], R_CHUNK);
        wmax = w > wmax ? w : wmax;
    }
    double *work = hn_malloc((wmax + 2 * R_CHUNK * m->max_act) * sizeof *work), *Xp = NULL, *X = NULL;
    size_t *idp = hn_malloc(m->max_act * sizeof *idp), *id = hn_malloc(m->max_act * sizeof *id), Lp = 0;
    int rc = !work || !idp || !id ? hn_err_set(err, HN_ENOMEM, "R^(p-1): out of memory") : HN_OK;
    double *V = work ? work + wmax : NULL, *Y = V ? V + R_CHUNK * m->max_act : NULL;
    R_norm[0] = 1; /* R^(0) = I */
    for (size_t t = 1; t < nl && !rc; t++) {
        const size_t from = m->linear_pos[t - 1], to = m->linear_pos[t];
        size_t L;
        if ((rc = group_rows(m, ws, t, id, &L, &X, err)) != 0)
            break;
        if ((rc = r_step(m, theta, ws, from, to, Xp, Lp, idp, id, L, X, V, Y, work)) != 0) {
            rc = hn_err_set(err, rc, "R^(%zu): bad layer range", t);
            break;
        }
        rc = gram_norm_rows(X, n0, L, &R_norm[t], err); /* the n0 x n0 Gram R^T R */
        hn_free(Xp);
        Xp = X;
        X = NULL;
        Lp = L;
        size_t *s = idp;
        idp = id;
        id = s;
    }
    hn_free(X);
    hn_free(Xp);
    hn_free(work);
    hn_free(idp);
    hn_free(id);
    return rc;
}

int hn_mf_r_explicit(const hn_model *m, const double *theta, const hn_ws *ws, int windowed, double *R_norm,
                     hn_err *err)
{
    int rc = windowed && windowed_fits(m) ? r_windowed(m, theta, ws, R_norm, err) : r_full(m, theta, ws, R_norm, err);
    if (rc) /* a failed call measured nothing: no entry may read as a norm */
        for (size_t t = 0; t < m->n_linear; t++)
            R_norm[t] = NAN;
    return rc;
}

size_t hn_mf_r_explicit_bytes(const hn_model *m)
{
    if (windowed_fits(m)) {
        win_sizes z;
        win_sizes_of(m, &z);
        const size_t n0 = hn_shape_size(m->input);
        /* the windows twice, one chunk's buffers, the Gram (and its copy in hn_sym_norm) */
        return sizeof(double) * (2 * z.np + z.npad + z.nz + z.ncol + 2 * n0 * n0);
    }
    const size_t n0 = hn_shape_size(m->input);
    size_t work = 0, rows = 0;
    for (size_t t = 1; t < m->n_linear; t++) {
        const size_t w = hn_fixed_range_batch_work(m, m->linear_pos[t - 1], m->linear_pos[t], R_CHUNK);
        work = w > work ? w : work;
        const size_t r = act_len(m, m->linear_pos[t]) + (t > 1 ? act_len(m, m->linear_pos[t - 1]) : 0);
        rows = r > rows ? r : rows;
    }
    /* two consecutive R's (at most all rows live), the batches, the Gram */
    return sizeof(double) * (n0 * rows + work + 2 * R_CHUNK * m->max_act + 2 * n0 * n0) +
           sizeof(size_t) * 2 * m->max_act;
}

