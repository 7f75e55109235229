/* hessnorm — the paper's matrices, exact and dense (see matrices.h for the
 * vectorisation and Kronecker conventions). */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/matrices.h"
#include "hessnorm/outer.h"

static int dense_alloc(size_t r, size_t c, const char *what, gsl_matrix **out, hn_err *err)
{
    size_t n;
    *out = NULL;
    if (hn_mul_size(r, c, &n) != 0 || n > HN_DENSE_LIMIT)
        return hn_err_set(err, HN_ETOOBIG, "%s: dense %zux%zu matrix exceeds the limit of %zu entries",
                          what, r, c, (size_t)HN_DENSE_LIMIT);
    if (r == 0 || c == 0)
        return hn_err_set(err, HN_ESHAPE, "%s: empty %zux%zu matrix", what, r, c);
    *out = gsl_matrix_calloc(r, c);
    if (!*out)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zux%zu", what, r, c);
    return HN_OK;
}

/* The matrix being filled by conv_walk: T's weights, or Q's row width. */
typedef struct {
    gsl_matrix *M;
    const double *W;
    size_t ncols;
} conv_sink;

/* Every nonzero of the conv layer's T, in row order: row r = (oc,y,x),
 * column c = (ic,y+a,x+b), and widx the index of the weight W[oc,ic,a,b]
 * it holds.  T and Q are two readings of this one index map. */
static void conv_walk(const hn_layer *ly, void (*put)(const conv_sink *, size_t, size_t, size_t),
                      const conv_sink *k)
{
    const hn_shape in = ly->in, o = ly->out;
    for (size_t oc = 0; oc < o.c; oc++)
        for (size_t y = 0; y < o.h; y++)
            for (size_t x = 0; x < o.w; x++) {
                size_t r = (oc * o.h + y) * o.w + x;
                for (size_t ic = 0; ic < in.c; ic++)
                    for (size_t a = 0; a < ly->kh; a++)
                        for (size_t b = 0; b < ly->kw; b++)
                            put(k, r, (ic * in.h + y + a) * in.w + x + b,
                                ((oc * in.c + ic) * ly->kh + a) * ly->kw + b);
            }
}

static void set_T(const conv_sink *k, size_t r, size_t c, size_t widx)
{
    gsl_matrix_set(k->M, r, c, k->W[widx]);
}

static void set_Q(const conv_sink *k, size_t r, size_t c, size_t widx)
{
    gsl_matrix_set(k->M, r * k->ncols + c, widx, 1.0);
}

int hn_mat_T(const hn_model *m, const double *theta, size_t pos, gsl_matrix **out, hn_err *err)
{
    const hn_layer *ly = &m->layers[pos];
    if (!hn_layer_is_linear(ly->type))
        return hn_err_set(err, HN_EINVAL, "T: layers[%zu] is not a linear operator", pos);
    const hn_shape in = ly->in, o = ly->out;
    int rc = dense_alloc(hn_shape_size(o), hn_shape_size(in), "T", out, err);
    if (rc)
        return rc;
    /* T[(oc,y,x), (ic,y+a,x+b)] = W[oc,ic,a,b] */
    conv_walk(ly, set_T, &(conv_sink){*out, theta + ly->param_offset, 0});
    return HN_OK;
}

int hn_mat_Q(const hn_model *m, size_t pos, gsl_matrix **out, hn_err *err)
{
    const hn_layer *ly = &m->layers[pos];
    if (!hn_layer_is_linear(ly->type))
        return hn_err_set(err, HN_EINVAL, "Q: layers[%zu] is not a linear operator", pos);
    const hn_shape in = ly->in, o = ly->out;
    const size_t ncols = hn_shape_size(in);
    size_t nvec;
    if (hn_mul_size(hn_shape_size(o), ncols, &nvec) != 0)
        return hn_err_set(err, HN_ETOOBIG, "Q: |vec T| overflows");
    int rc = dense_alloc(nvec, ly->param_count, "Q", out, err);
    if (rc)
        return rc;
    /* Q[vec_r index of T entry (r,c), index of the weight it equals] = 1 */
    conv_walk(ly, set_Q, &(conv_sink){*out, NULL, ncols});
    return HN_OK;
}

int hn_mat_maxpool(hn_shape in, size_t kh, size_t kw, const size_t *argmax,
                   gsl_matrix **out, hn_err *err)
{
    const size_t n_out = in.c * (in.h / kh) * (in.w / kw);
    int rc = dense_alloc(n_out, hn_shape_size(in), "M (max pooling)", out, err);
    if (rc)
        return rc;
    for (size_t j = 0; j < n_out; j++)
        gsl_matrix_set(*out, j, argmax[j], 1.0);
    return HN_OK;
}

int hn_mat_avgpool(hn_shape in, size_t kh, size_t kw, gsl_matrix **out, hn_err *err)
{
    const size_t ho = in.h / kh, wo = in.w / kw;
    int rc = dense_alloc(in.c * ho * wo, hn_shape_size(in), "average pooling", out, err);
    if (rc)
        return rc;
    const double v = 1.0 / (double)(kh * kw);
    for (size_t c = 0; c < in.c; c++)
        for (size_t oy = 0; oy < ho; oy++)
            for (size_t ox = 0; ox < wo; ox++)
                for (size_t a = 0; a < kh; a++)
                    for (size_t b = 0; b < kw; b++)
                        gsl_matrix_set(*out, (c * ho + oy) * wo + ox,
                                       (c * in.h + oy * kh + a) * in.w + ox * kw + b, v);
    return HN_OK;
}

int hn_mat_relu(const double *z, size_t n, gsl_matrix **out, hn_err *err)
{
    int rc = dense_alloc(n, n, "ReLU mask", out, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        gsl_matrix_set(*out, i, i, z[i] > 0 ? 1.0 : 0.0);
    return HN_OK;
}

void hn_paper_free(hn_paper *pp)
{
    if (!pp)
        return;
    for (size_t t = 0; t < pp->n_lin; t++) {
        if (pp->T && pp->T[t]) gsl_matrix_free(pp->T[t]);
        if (pp->Q && pp->Q[t]) gsl_matrix_free(pp->Q[t]);
        if (pp->G && pp->G[t]) gsl_matrix_free(pp->G[t]);
        if (pp->R && pp->R[t]) gsl_matrix_free(pp->R[t]);
        if (pp->Rx && pp->Rx[t]) gsl_vector_free(pp->Rx[t]);
        if (t + 1 < pp->n_lin && pp->Lambda && pp->Lambda[t]) gsl_matrix_free(pp->Lambda[t]);
    }
    hn_free(pp->T);
    hn_free(pp->Q);
    hn_free(pp->G);
    hn_free(pp->R);
    hn_free(pp->Rx);
    hn_free(pp->Lambda);
    if (pp->F) gsl_matrix_free(pp->F);
    if (pp->Qfull) gsl_matrix_free(pp->Qfull);
    if (pp->A) gsl_matrix_free(pp->A);
    if (pp->J) gsl_matrix_free(pp->J);
    if (pp->HO) gsl_matrix_free(pp->HO);
    hn_free(pp->logits);
    hn_free(pp->p);
    hn_free(pp);
}

/* C = A * B (allocates). */
static int matmul(const gsl_matrix *A, const gsl_matrix *B, const char *what,
                  gsl_matrix **C, hn_err *err)
{
    int rc = dense_alloc(A->size1, B->size2, what, C, err);
    if (rc)
        return rc;
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, A, B, 0.0, *C);
    return HN_OK;
}

static int identity(size_t n, const char *what, gsl_matrix **out, hn_err *err)
{
    int rc = dense_alloc(n, n, what, out, err);
    if (!rc)
        gsl_matrix_set_identity(*out);
    return rc;
}

/* Lambda between linear ops t and t+1: product of the fixed layers'
 * matrices (ReLU masks, pooling, flatten = I), applied in order. */
static int build_lambda(const hn_model *m, const hn_ws *ws, size_t t, gsl_matrix **out, hn_err *err)
{
    const size_t a = m->linear_pos[t], b = m->linear_pos[t + 1];
    gsl_matrix *acc = NULL;
    int rc = identity(hn_shape_size(m->layers[a].out), "Lambda", &acc, err);
    for (size_t i = a + 1; !rc && i < b; i++) {
        const hn_layer *ly = &m->layers[i];
        gsl_matrix *Mi = NULL, *prod = NULL;
        switch (ly->type) {
        case HN_RELU:
            rc = hn_mat_relu(hn_ws_act(ws, (int)i - 1), hn_shape_size(ly->in), &Mi, err);
            break;
        case HN_MAXPOOL1D:
        case HN_MAXPOOL2D:
            rc = hn_mat_maxpool(ly->in, ly->kh, ly->kw, hn_ws_argmax(ws, i), &Mi, err);
            break;
        case HN_AVGPOOL1D:
        case HN_AVGPOOL2D:
            rc = hn_mat_avgpool(ly->in, ly->kh, ly->kw, &Mi, err);
            break;
        default: /* flatten: identity on the C-order vector */
            continue;
        }
        if (!rc)
            rc = matmul(Mi, acc, "Lambda", &prod, err);
        if (Mi)
            gsl_matrix_free(Mi);
        if (!rc) {
            gsl_matrix_free(acc);
            acc = prod;
        }
    }
    if (rc) {
        if (acc)
            gsl_matrix_free(acc);
        return rc;
    }
    *out = acc;
    return HN_OK;
}

/* The struct and its per-layer arrays. */
static hn_paper *paper_new(size_t nl, size_t K, size_t P)
{
    hn_paper *pp = hn_calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->n_lin = nl;
    pp->K = K;
    pp->P = P;
    pp->T = hn_calloc(nl, sizeof *pp->T);
    pp->Q = hn_calloc(nl, sizeof *pp->Q);
    pp->G = hn_calloc(nl, sizeof *pp->G);
    pp->R = hn_calloc(nl, sizeof *pp->R);
    pp->Rx = hn_calloc(nl, sizeof *pp->Rx);
    pp->Lambda = hn_calloc(nl, sizeof *pp->Lambda);
    pp->logits = hn_calloc(K, sizeof(double));
    pp->p = hn_calloc(K, sizeof(double));
    return pp;
}

/* G^(L+1) = I; G^(p) = G^(p+1) T^(p+1) Lambda^(p).  R^(0) = I;
 * R^(p) = Lambda^(p) T^(p) R^(p-1); then R^(p-1) x. */
static int paper_chains(hn_paper *pp, size_t in_size, const double *x, hn_err *err)
{
    const size_t nl = pp->n_lin;
    int rc = identity(pp->K, "G", &pp->G[nl - 1], err);
    for (size_t t = nl - 1; !rc && t-- > 0;) {
        gsl_matrix *GT = NULL;
        rc = matmul(pp->G[t + 1], pp->T[t + 1], "G", &GT, err);
        if (!rc)
            rc = matmul(GT, pp->Lambda[t], "G", &pp->G[t], err);
        if (GT)
            gsl_matrix_free(GT);
    }
    if (!rc)
        rc = identity(in_size, "R", &pp->R[0], err);
    for (size_t t = 1; !rc && t < nl; t++) {
        gsl_matrix *TR = NULL;
        rc = matmul(pp->T[t - 1], pp->R[t - 1], "R", &TR, err);
        if (!rc)
            rc = matmul(pp->Lambda[t - 1], TR, "R", &pp->R[t], err);
        if (TR)
            gsl_matrix_free(TR);
    }
    if (rc)
        return rc;
    gsl_vector_const_view xv = gsl_vector_const_view_array(x, in_size);
    for (size_t t = 0; t < nl; t++) {
        pp->Rx[t] = gsl_vector_alloc(pp->R[t]->size1);
        if (!pp->Rx[t])
            return hn_err_set(err, HN_ENOMEM, "R x: out of memory");
        gsl_blas_dgemv(CblasNoTrans, 1.0, pp->R[t], &xv.vector, 0.0, pp->Rx[t]);
    }
    return HN_OK;
}

/* F = [G^(p) (x) (R^(p-1) x)^T]_p ;  Qfull = blockdiag(Q^(p)). */
static int paper_F_Q(hn_paper *pp, const hn_model *m, hn_err *err)
{
    const size_t nl = pp->n_lin, K = pp->K;
    size_t nF = 0;
    for (size_t t = 0; t < nl; t++)
        nF += pp->Q[t]->size1;
    int rc = dense_alloc(K, nF, "F", &pp->F, err);
    if (rc)
        return rc;
    for (size_t t = 0, off = 0; t < nl; t++) {
        const gsl_matrix *G = pp->G[t];
        const gsl_vector *r = pp->Rx[t];
        for (size_t a = 0; a < K; a++)
            for (size_t ii = 0; ii < G->size2; ii++) {
                double gv = gsl_matrix_get(G, a, ii);
                for (size_t j = 0; j < r->size; j++)
                    gsl_matrix_set(pp->F, a, off + ii * r->size + j, gv * gsl_vector_get(r, j));
            }
        off += pp->Q[t]->size1;
    }
    /* Qfull is optional past the dense limit (HN_ETOOBIG: left NULL), but
     * out of memory is an error, not a silently missing matrix */
    int qrc = dense_alloc(nF, pp->P, "Q", &pp->Qfull, NULL);
    if (qrc == HN_ENOMEM)
        return hn_err_set(err, HN_ENOMEM, "Q: out of memory for %zux%zu", nF, pp->P);
    if (qrc == HN_OK) {
        for (size_t t = 0, ro = 0; t < nl; t++) {
            const hn_layer *ly = &m->layers[m->linear_pos[t]];
            gsl_matrix_view blk = gsl_matrix_submatrix(pp->Qfull, ro, ly->param_offset,
                                                       pp->Q[t]->size1, pp->Q[t]->size2);
            gsl_matrix_memcpy(&blk.matrix, pp->Q[t]);
            ro += pp->Q[t]->size1;
        }
    }
    return HN_OK;
}

/* A; J = F Q blockwise (F_p Q^(p)), so Qfull is not needed; H_O = J^T (A J). */
static int paper_A_J_HO(hn_paper *pp, const hn_model *m, hn_err *err)
{
    const size_t nl = pp->n_lin, K = pp->K, P = pp->P;
    int rc = dense_alloc(K, K, "A", &pp->A, err);
    if (rc)
        return rc;
    hn_loss_hess_matrix(m->loss, K, pp->p, pp->A->data);
    rc = dense_alloc(K, P, "J", &pp->J, err);
    if (rc)
        return rc;
    for (size_t t = 0, off = 0; t < nl; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        gsl_matrix_const_view Fp = gsl_matrix_const_submatrix(pp->F, 0, off, K, pp->Q[t]->size1);
        gsl_matrix_view Jp = gsl_matrix_submatrix(pp->J, 0, ly->param_offset, K, ly->param_count);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Fp.matrix, pp->Q[t], 0.0, &Jp.matrix);
        off += pp->Q[t]->size1;
    }
    gsl_matrix *AJ = NULL;
    rc = dense_alloc(K, P, "A J", &AJ, err);
    if (!rc)
        rc = dense_alloc(P, P, "H_O", &pp->HO, err);
    if (!rc)
        hn_outer_dense(pp->A, pp->J, AJ, pp->HO);
    if (AJ)
        gsl_matrix_free(AJ);
    return rc;
}

int hn_paper_build(const hn_model *m, const double *theta, const hn_samples *s,
                   size_t i, hn_paper **out, hn_err *err)
{
    *out = NULL;
    const size_t nl = m->n_linear, K = m->classes, P = m->n_params;
    hn_ws *ws = NULL;
    int rc = hn_ws_alloc(m, &ws, err);
    if (rc)
        return rc;
    hn_paper *pp = paper_new(nl, K, P);
    if (!pp) {
        hn_ws_free(ws);
        return hn_err_set(err, HN_ENOMEM, "paper matrices: out of memory");
    }
    if (!pp->T || !pp->Q || !pp->G || !pp->R || !pp->Rx || !pp->Lambda || !pp->logits || !pp->p) {
        rc = hn_err_set(err, HN_ENOMEM, "paper matrices: out of memory");
        goto done;
    }
    const double *x = s->x + i * s->in_size;
    hn_forward(m, theta, x, ws, pp->logits);
    double *g = hn_calloc(K, sizeof(double));
    if (!g) {
        rc = hn_err_set(err, HN_ENOMEM, "paper matrices: out of memory");
        goto done;
    }
    pp->loss = hn_loss_eval(m->loss, K, pp->logits, s->y_class ? s->y_class[i] : 0,
                            s->y_vec ? s->y_vec + i * K : NULL, g, pp->p);
    hn_free(g);

    for (size_t t = 0; t < nl && !rc; t++) {
        rc = hn_mat_T(m, theta, m->linear_pos[t], &pp->T[t], err);
        if (!rc)
            rc = hn_mat_Q(m, m->linear_pos[t], &pp->Q[t], err);
        if (!rc && t + 1 < nl)
            rc = build_lambda(m, ws, t, &pp->Lambda[t], err);
    }
    if (!rc)
        rc = paper_chains(pp, s->in_size, x, err);
    if (!rc)
        rc = paper_F_Q(pp, m, err);
    if (!rc)
        rc = paper_A_J_HO(pp, m, err);
done:
    hn_ws_free(ws);
    if (rc) {
        hn_paper_free(pp);
        return rc;
    }
    *out = pp;
    return HN_OK;
}

/* entries of an r x c matrix, saturating at SIZE_MAX */
static size_t ents(size_t r, size_t c)
{
    size_t n;
    return hn_mul_size(r, c, &n) ? SIZE_MAX : n;
}
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

int hn_paper_dense_need(const hn_model *m, hn_dense_need *need)
{
    memset(need, 0, sizeof *need);
    const size_t K = m->classes, P = m->n_params, n0 = hn_shape_size(m->input);
    size_t nF = 0;
    #define NEED(r_, c_, what_, opt_)                                                       \
        do {                                                                              \
            size_t e_ = ents((r_), (c_));                                                 \
            if (!(opt_))                                                                  \
                need->total = sat_add(need->total, e_);                                   \
            if (!(opt_) && e_ > need->largest) {                                          \
                need->largest = e_;                                                       \
                need->what = (what_);                                                     \
                need->rows = (r_);                                                        \
                need->cols = (c_);                                                        \
            }                                                                             \
        } while (0)
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        const size_t ni = hn_shape_size(ly->in), no = hn_shape_size(ly->out);
        NEED(no, ni, "T", 0);
        NEED(ents(no, ni), ly->param_count, "Q", 0);
        NEED(K, no, "G", 0);
        NEED(ni, n0, "R", 0);
        NEED(no, no, "Lambda", 0);
        nF = sat_add(nF, ents(no, ni));
    }
    NEED(K, nF, "F", 0);
    NEED(K, P, "J", 0);
    NEED(P, P, "H_O", 0);
    #undef NEED
    need->fits = need->largest <= HN_DENSE_LIMIT && need->total <= HN_DENSE_TOTAL_LIMIT;
    return need->fits;
}

void hn_paper_symbols_of(const hn_model *m, const double *theta, hn_paper_symbols *s)
{
    memset(s, 0, sizeof *s);
    s->C = m->input.c;
    s->dim = 2;
    const hn_layer *first = &m->layers[m->linear_pos[0]];
    s->m = first->out.h;
    s->n = first->out.w;
    s->d = first->out.w;
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        double mx = 0;
        for (size_t j = 0; j < ly->param_count; j++)
            mx = fmax(mx, fabs(theta[ly->param_offset + j]));
        if (ly->type == HN_LINEAR) {
            s->wt = fmax(s->wt, mx);
            s->h_out = s->h_out > ly->out.c ? s->h_out : ly->out.c;
            s->h_all = s->h_all > s->h_out ? s->h_all : s->h_out;
            s->h_all = s->h_all > ly->in.c ? s->h_all : ly->in.c;
            continue;
        }
        s->nconv++;
        s->dim = ly->type == HN_CONV1D ? 1 : 2;
        s->C = s->C > ly->out.c ? s->C : ly->out.c;
        const size_t kk = ly->kh > ly->kw ? ly->kh : ly->kw;
        s->k = s->k > kk ? s->k : kk;
        s->w = fmax(s->w, mx);
    }
}
