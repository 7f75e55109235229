/* hessnorm — the paper's per-sample quantities matrix-free (matfree.h):
 * K x K Gram forms for A, G, F, J and H_O; Lanczos with certified or
 * residual upper ends for T and R; closed forms for Q and ||T||_F.  One
 * forward pass fixes the masks; every operator is applied through
 * hn_fixed_range (the layers as they run, never a dense matrix). */
#include "config.h"
#include <math.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/convbound.h"
#include "hessnorm/eigsmall.h"
#include "hessnorm/hessian.h"
#include "hessnorm/lanczos.h"
#include "hessnorm/layers.h"
#include "hessnorm/matfree.h"

/* Lanczos products for ||T^(p)|| (see hn_mf_sample_compute) */
#define T_MAX_ITER 100

const char *hn_hi_kind_name(hn_hi_kind k)
{
    return k == HN_HI_EXACT ? "exact" : k == HN_HI_CERTIFIED ? "certified" : "Lanczos residual";
}

void hn_mf_sample_free(hn_mf_sample *r)
{
    if (!r)
        return;
    hn_free(r->layers);
    hn_free(r->HO_eigs);
    hn_free(r);
}

/* sqrt(lambda_max) of the symmetric K x K g (destroyed); buf K doubles */
static int gram_norm(size_t K, double *g, double *w, const char *who, double *out, hn_err *err)
{
    int rc = hn_eig_sym_inplace(K, g, w, 0, who, err);
    if (!rc)
        *out = sqrt(fmax(w[K - 1], 0.0));
    return rc;
}

typedef struct {
    const hn_model *m;
    const double *theta;
    hn_ws *ws;
    size_t to;               /* R^(p-1) = layers [0, to) */
    double *tmp;
} r_ctx;

static int r_mv(void *vc, const double *x, double *y)
{
    r_ctx *c = vc;
    int rc = hn_fixed_range(c->m, c->theta, c->ws, 0, c->to, 0, x, c->tmp);
    return rc ? rc : hn_fixed_range(c->m, c->theta, c->ws, 0, c->to, 1, c->tmp, y);
}

/* T^(p): Lanczos value (certified lower end) and the smallest certified
 * upper bound; ||T||_F and ||Q|| in closed form. */
static int layer_T(const double *theta, const hn_layer *ly, size_t max_iter, double rtol, unsigned long seed,
                   hn_mf_layer *L, hn_err *err)
{
    const double *W = theta + ly->param_offset;
    hn_lanczos_result lr;
    double v, hi;
    hn_conv_bound_kind kind;
    int rc = hn_conv_norm(ly->in, ly->out.c, ly->kh, ly->kw, W, max_iter, rtol, seed, &v, &lr, err);
    if (!rc)
        rc = hn_conv_norm_upper(ly->in, ly->out.c, ly->kh, ly->kw, W, &hi, &kind, err);
    if (rc)
        return rc;
    L->T_products = lr.iterations;
    L->positions = (ly->in.h - ly->kh + 1) * (ly->in.w - ly->kw + 1);
    L->T_fro = hn_conv_fro(ly->in, ly->out.c, ly->kh, ly->kw, W);
    L->Q_norm = sqrt((double)L->positions);
    L->T_norm.lo = L->T_norm.value = v;
    /* an invariant Krylov space (lr.converged with the residual at 0) is exact */
    L->T_norm.hi = fmax(hi, v);
    L->T_norm.hi_kind = HN_HI_CERTIFIED;
    L->T_norm.lo_kind = HN_HI_CERTIFIED; /* a Ritz value of T^T T is <= its largest eigenvalue */
    L->T_hi_how = hn_conv_bound_name(kind);
    return HN_OK;
}

void hn_mf_theta_free(hn_mf_theta *t)
{
    if (!t)
        return;
    hn_free(t->layers);
    hn_free(t);
}

int hn_mf_theta_compute(const hn_model *m, const double *theta, size_t max_iter, double rtol, unsigned long seed,
                        hn_mf_theta **out, hn_err *err)
{
    if (!m || !theta || !out || !m->finalized || !max_iter || !(rtol > 0))
        return hn_err_set(err, HN_EINVAL, "matrix-free: bad argument");
    *out = NULL;
    hn_mf_theta *t = hn_calloc(1, sizeof *t);
    if (!t || !(t->layers = hn_calloc(m->n_linear, sizeof *t->layers))) {
        hn_mf_theta_free(t);
        return hn_err_set(err, HN_ENOMEM, "matrix-free: out of memory");
    }
    t->n_lin = m->n_linear;
    t->max_iter = max_iter;
    t->rtol = rtol;
    t->seed = seed;
    /* the explicit R when its memory is bounded: exact values, and ~3x
     * faster than Lanczos on the paper's largest network (bench/) */
    t->r_explicit = hn_mf_r_explicit_bytes(m) <= HN_MF_R_EXPLICIT_MAX_BYTES;
    for (size_t k = 0; k < t->n_lin; k++) {
        hn_mf_layer *L = &t->layers[k];
        L->layer = m->linear_pos[k];
        /* T^(p)'s top eigenvalues cluster (slow Lanczos convergence) while its
         * upper end is certified independently: at most T_MAX_ITER products */
        int rc = layer_T(theta, &m->layers[L->layer], max_iter < T_MAX_ITER ? max_iter : T_MAX_ITER, rtol, seed, L,
                         err);
        if (rc) {
            hn_mf_theta_free(t);
            return rc;
        }
        t->lanczos_products += L->T_products;
    }
    *out = t;
    return HN_OK;
}

/* R^(p-1) = layers [0, to): Lanczos on R^T R; hi the residual end or the
 * certified product bound, whichever is smaller. */
static int layer_R(const hn_model *m, const double *theta, hn_ws *ws, size_t to, double prod_hi, size_t max_iter,
                   double rtol, unsigned long seed, hn_mf_layer *L, size_t *products, hn_err *err)
{
    if (to == 0) { /* R^(0) = I */
        L->R_norm = (hn_bracket){1, 1, 1, HN_HI_EXACT, HN_HI_EXACT};
        return HN_OK;
    }
    r_ctx c = {m, theta, ws, to, hn_calloc(m->max_act, sizeof(double))};
    if (!c.tmp)
        return hn_err_set(err, HN_ENOMEM, "R^(p-1): out of memory");
    hn_lanczos_result lr;
    int rc = hn_lanczos_extreme(hn_shape_size(m->input), r_mv, &c, max_iter, rtol, seed, 1, &lr, err);
    hn_free(c.tmp);
    if (rc)
        return rc;
    *products += lr.iterations;
    L->R_products = lr.iterations;
    double v = sqrt(fmax(lr.lambda_max, 0.0)), res_hi = sqrt(fmax(lr.lambda_max, 0.0) + lr.residual);
    L->R_norm.lo = L->R_norm.value = v;
    L->R_norm.lo_kind = HN_HI_CERTIFIED;
    if (prod_hi <= res_hi) {
        L->R_norm.hi = fmax(prod_hi, v);
        L->R_norm.hi_kind = HN_HI_CERTIFIED;
    } else {
        L->R_norm.hi = res_hi;
        L->R_norm.hi_kind = HN_HI_RESIDUAL;
    }
    return HN_OK;
}

/* G^(p) G^(p)T (K x K) from K transposed passes over [from, n_layers);
 * adds rx2 times it into FF. */
static int layer_G(const hn_model *m, const double *theta, hn_ws *ws, size_t from, double rx2, double *FF,
                   double *gv, double *gram, double *w, double *G_norm, hn_err *err)
{
    const size_t K = m->classes, n = from == m->n_layers ? K : hn_shape_size(m->layers[from].in);
    double *e = w + K;
    for (size_t c = 0; c < K; c++) {
        memset(e, 0, K * sizeof *e);
        e[c] = 1;
        int rc = hn_fixed_range(m, theta, ws, from, m->n_layers, 1, e, gv + c * n);
        if (rc)
            return hn_err_set(err, rc, "G^(p): bad layer range");
    }
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b <= a; b++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += gv[a * n + j] * gv[b * n + j];
            gram[a * K + b] = gram[b * K + a] = s;
            FF[a * K + b] += rx2 * s;
            if (a != b)
                FF[b * K + a] += rx2 * s;
        }
    return gram_norm(K, gram, w, "G^(p)", G_norm, err);
}

/* ||J||, ||H_O||, its nonzero spectrum and trace from J J^T and C. */
static int jacobian_forms(const hn_model *m, const double *theta, const double *x, hn_ws *ws, const double *p,
                          hn_mf_sample *r, hn_err *err)
{
    const size_t K = m->classes, P = m->n_params;
    double *J = hn_calloc(K * P, sizeof *J), *G = hn_calloc(5 * K * K + 2 * K, sizeof *G);
    if (!J || !G) {
        hn_free(J);
        hn_free(G);
        return hn_err_set(err, HN_ENOMEM, "J: out of memory for %zu x %zu", K, P);
    }
    double *C = G + K * K, *buf = C + K * K, *ev = buf + 2 * K * K, *tmp = ev + K;
    int rc = hn_jacobian(m, theta, x, ws, J, NULL);
    for (size_t a = 0; !rc && a < K; a++)
        for (size_t b = 0; b <= a; b++) {
            double s = 0;
            for (size_t j = 0; j < P; j++)
                s += J[a * P + j] * J[b * P + j];
            G[a * K + b] = G[b * K + a] = s;
        }
    if (!rc) {
        if (m->loss == HN_LOSS_CE)
            hn_softmax_hess_factor(K, p, C);
        /* nonzero eigenvalues of H_O = (C J)^T (C J): those of C (J J^T) C^T */
        rc = hn_sandwich_eigs(K, m->loss == HN_LOSS_CE ? C : NULL, G, buf, ev, err);
    }
    if (!rc) {
        memcpy(buf, G, K * K * sizeof *G);
        rc = gram_norm(K, buf, tmp, "J J^T", &r->J_norm, err);
    }
    if (!rc) {
        const double top = fmax(ev[K - 1], 0.0);
        r->HO_eigs = hn_calloc(K, sizeof(double));
        if (!r->HO_eigs)
            rc = hn_err_set(err, HN_ENOMEM, "H_O: out of memory");
        for (size_t k = K; !rc && k-- > 0;) {
            /* same zero threshold as inspect (HN_EIG_ZERO_RTOL = 1e-9 relative) */
            if (ev[k] > 1e-9 * top)
                r->HO_eigs[r->n_HO_eigs++] = ev[k];
            r->HO_trace += fmax(ev[k], 0.0);
        }
        r->HO_norm = top;
    }
    hn_free(J);
    hn_free(G);
    return rc;
}

int hn_mf_sample_compute(const hn_model *m, const double *theta, const hn_samples *s, size_t i,
                         size_t max_iter, double rtol, unsigned long seed, hn_mf_sample **out, hn_err *err)
{
    if (!m || !theta || !s || !out || i >= s->n || !m->finalized || !max_iter || !(rtol > 0))
        return hn_err_set(err, HN_EINVAL, "matrix-free: bad argument");
    hn_mf_theta *th;
    int rc = hn_mf_theta_compute(m, theta, max_iter, rtol, seed, &th, err);
    if (!rc)
        rc = hn_mf_sample_compute_at(m, theta, th, s, i, out, err);
    hn_mf_theta_free(th);
    return rc;
}

int hn_mf_sample_compute_at(const hn_model *m, const double *theta, const hn_mf_theta *th, const hn_samples *s,
                            size_t i, hn_mf_sample **out, hn_err *err)
{
    if (!m || !theta || !th || !s || !out || i >= s->n || !m->finalized || th->n_lin != m->n_linear)
        return hn_err_set(err, HN_EINVAL, "matrix-free: bad argument");
    const size_t K = m->classes, nl = m->n_linear;
    hn_mf_sample *r = hn_calloc(1, sizeof *r);
    hn_ws *ws = NULL;
    double *gv = NULL, *sc = NULL;
    int rc = (!r || !(r->layers = hn_calloc(nl, sizeof *r->layers)))
                 ? hn_err_set(err, HN_ENOMEM, "matrix-free: out of memory")
                 : hn_ws_alloc(m, &ws, err);
    if (!rc && (!(gv = hn_calloc(K * m->max_act, sizeof *gv)) || !(sc = hn_calloc(5 * K * K + 3 * K, sizeof *sc))))
        rc = hn_err_set(err, HN_ENOMEM, "matrix-free: out of memory for %zu x %zu", K, m->max_act);
    if (rc)
        goto fail;
    r->n_lin = nl;
    r->K = K;
    r->P = m->n_params;
    const double *x = s->x + i * s->in_size;
    double *p = sc, *g = p + K, *A = g + K, *FF = A + K * K, *gram = FF + K * K, *w = gram + K * K;
    /* jacobian_forms runs its own forward pass on x: run it first, the
     * masks of the forward below are the same */
    hn_forward(m, theta, x, ws, NULL);
    hn_loss_eval(m->loss, K, hn_ws_act(ws, (int)m->n_layers - 1), s->y_class ? s->y_class[i] : 0,
                 s->y_vec ? s->y_vec + i * K : NULL, g, p);
    if ((rc = jacobian_forms(m, theta, x, ws, p, r, err)))
        goto fail;
    hn_loss_hess_matrix(m->loss, K, p, A);
    /* A is symmetric PSD (CE) or I (MSE): ||A|| = lambda_max */
    if ((rc = hn_eig_sym_inplace(K, A, w, 0, "A", err)))
        goto fail;
    r->A_norm = w[K - 1];
    r->lanczos_products = th->lanczos_products;
    double *Rn = NULL;
    if (th->r_explicit && (!(Rn = hn_calloc(nl, sizeof *Rn)) || (rc = hn_mf_r_explicit(m, theta, ws, 1, Rn, err)))) {
        if (!Rn)
            rc = hn_err_set(err, HN_ENOMEM, "matrix-free: out of memory");
        hn_free(Rn);
        goto fail;
    }
    double prod_hi = 1; /* certified bound on ||R^(p-1)||: masks and pools have norm <= 1 */
    for (size_t t = 0; t < nl && !rc; t++) {
        const size_t li = m->linear_pos[t];
        hn_mf_layer *L = &r->layers[t];
        *L = th->layers[t]; /* T^(p), ||T||_F, ||Q||: theta's part */
        L->Rx_norm = 0;
        const double *xa = hn_ws_act(ws, (int)li - 1);
        for (size_t j = 0; j < hn_shape_size(m->layers[li].in); j++)
            L->Rx_norm += xa[j] * xa[j];
        L->Rx_norm = sqrt(L->Rx_norm);
        if (Rn) /* the explicit R^(p-1)'s norm: exact to rounding */
            L->R_norm = (hn_bracket){Rn[t], Rn[t], Rn[t], HN_HI_EXACT, HN_HI_EXACT};
        else
            rc = layer_R(m, theta, ws, li, prod_hi, th->max_iter, th->rtol, th->seed, L, &r->lanczos_products, err);
        if (!rc)
            rc = layer_G(m, theta, ws, li + 1, L->Rx_norm * L->Rx_norm, FF, gv, gram, w, &L->G_norm, err);
        prod_hi *= L->T_norm.hi;
    }
    hn_free(Rn);
    if (!rc)
        rc = gram_norm(K, FF, w, "F F^T", &r->F_norm, err);
    if (rc)
        goto fail;
    hn_free(gv);
    hn_free(sc);
    hn_ws_free(ws);
    *out = r;
    return HN_OK;
fail:
    hn_free(gv);
    hn_free(sc);
    hn_ws_free(ws);
    hn_mf_sample_free(r);
    return rc;
}
