/* hessnorm — ||R^(p-1)|| of every linear layer p at once from the explicit
 * R^(p-1) (matfree.h, hn_mf_r_explicit): the n unit inputs pushed through
 * the fixed layers in chunks of R_CHUNK by the batched kernels
 * (hn_fixed_range_batch), layer group by layer group, keeping only the rows
 * of R^(p-1) a ReLU mask does not zero; then lambda_max of the n x n Gram
 * R^T R (hn_gram_norm2).  The second route to layer_R's Lanczos in
 * matfree.c (test_matfree: both against the dense R of hn_paper_build). */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/alloc.h"
#include "hessnorm/dense.h"
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

size_t hn_mf_r_explicit_bytes(const hn_model *m)
{
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

int hn_mf_r_explicit(const hn_model *m, const double *theta, const hn_ws *ws, double *R_norm, hn_err *err)
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
        const size_t from = m->linear_pos[t - 1], to = m->linear_pos[t], L = live_rows(m, ws, to, id);
        if (!(X = hn_malloc((L > 0 ? n0 * L : 1) * sizeof *X))) {
            rc = hn_err_set(err, HN_ENOMEM, "R^(%zu): out of memory for %zu x %zu", t, L, n0);
            break;
        }
        if ((rc = r_step(m, theta, ws, from, to, Xp, Lp, idp, id, L, X, V, Y, work)) != 0) {
            rc = hn_err_set(err, rc, "R^(%zu): bad layer range", t);
            break;
        }
        if (L == 0)
            R_norm[t] = 0;
        else {
            gsl_matrix_const_view Xv = gsl_matrix_const_view_array(X, n0, L);
            rc = hn_gram_norm2(&Xv.matrix, &R_norm[t], err); /* the n0 x n0 Gram R^T R */
        }
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
