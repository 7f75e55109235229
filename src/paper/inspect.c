/* hessnorm — everything `hessnorm inspect` reports. */
#include "config.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <jansson.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/hessian.h"
#include "hessnorm/inspect.h"
#include "hessnorm/npy.h"
#include "hessnorm/buf.h"
#include "hessnorm/matrices.h"
#include "hessnorm/spectra.h"
#include "hessnorm/outer.h"
#include "hessnorm/fastconv.h"
#include "base/json.h"
#include "paper/inspect_internal.h"

static int finite_or(double v, const char *what, hn_err *err);

void hn_inspect_free(hn_inspect_result *r)
{
    if (!r)
        return;
    hn_free(r->logits);
    hn_free(r->ho_eigs);
    hn_free(r->layers);
    hn_free(r->ho_sample_norms);
    hn_free(r->ho_sample_eigs);
    hn_free(r);
}

const char *hn_inspect_route_name(hn_inspect_route r)
{
    return r == HN_INSPECT_MATFREE ? "matrix-free" : r == HN_INSPECT_DENSE ? "dense" : "auto";
}

void hn_inspect_opts_default(hn_inspect_opts *o)
{
    /* Lanczos to a relative residual of 1e-10 (the eigenvalue error is at
     * most the residual, usually its square over the gap), 300 products at
     * most per operator; 16 probes give trace H's check a standard error of
     * about a quarter of the spread of z^T H z */
    *o = (hn_inspect_opts){HN_INSPECT_AUTO, 0, 300, 1e-10, 20261202UL, 16, {NULL, NULL, 30.0, NULL},
                           HN_INSPECT_HO_GRAM_MAX_BYTES};
}

hn_inspect_route hn_inspect_choose(const hn_model *m, const hn_samples *s, double room, char *why,
                                   size_t n)
{
    const size_t P = m->n_params;
    char what[160];
    double need = hn_inspect_need(m, s, what, sizeof what);
    if (P > HN_INSPECT_AUTO_DENSE_MAX_P) {
        snprintf(why, n, "%zu parameters > %d, where the dense route stops being fast", P,
                 HN_INSPECT_AUTO_DENSE_MAX_P);
        return HN_INSPECT_MATFREE;
    }
    if ((double)P * (double)P > (double)HN_DENSE_LIMIT) {
        snprintf(why, n, "the %zux%zu Hessian is over the dense limit of %zu entries", P, P,
                 (size_t)HN_DENSE_LIMIT);
        return HN_INSPECT_MATFREE;
    }
    if (need > room) {
        snprintf(why, n, "%s need %.0f bytes, more than the %.0f left", what, need, room);
        return HN_INSPECT_MATFREE;
    }
    snprintf(why, n, "%zu parameters <= %d and the dense matrices fit", P, HN_INSPECT_AUTO_DENSE_MAX_P);
    return HN_INSPECT_DENSE;
}

void hn_inspect_layer_bounds(const hn_model *m, const double *theta, hn_layer_bound *out)
{
    hn_paper_symbols sy;
    hn_paper_symbols_of(m, theta, &sy);
    const size_t nconv = sy.nconv;
    const int dim = sy.dim;
    const double w = sy.w, wt = sy.wt;
    const double Cd = (double)sy.C, kd = (double)sy.k, mm = (double)sy.m, nn = (double)sy.n;
    const double q = nconv == 0 ? NAN : dim == 2 ? Cd * kd * sqrt(mm * nn) : nn;
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        hn_layer_bound *b = &out[t];
        b->Q_bound = q;
        b->Q_formula = nconv == 0 ? "n/a: no convolution defines q" : dim == 2 ? "q = C k sqrt(m n)" : "d";
        if (ly->type == HN_LINEAR) {
            b->T_sq_bound = (double)hn_shape_size(ly->out) * (double)hn_shape_size(ly->in) * wt * wt;
            b->T_formula = "h_out h_in w~^2";
        } else if (ly->type == HN_CONV1D) {
            b->T_sq_bound = Cd * Cd * nn * kd * w * w;
            b->T_formula = "C^2 d k w^2";
        } else {
            b->T_sq_bound = Cd * Cd * kd * kd * w * w * mm * nn;
            b->T_formula = "C^2 k^2 w^2 m n";
        }
    }
}

int hn_inspect_check_logits(const hn_inspect_result *r, hn_err *err)
{
    for (size_t i = 0; i < r->n_samples * r->K; i++)
        if (!isfinite(r->logits[i]))
            return hn_err_set(err, HN_EOVERFLOW, "the logits overflow (logit %zu of sample %zu is %g)",
                              i % r->K, i / r->K, r->logits[i]);
    return HN_OK;
}

int hn_inspect_check_grad(hn_inspect_result *r, const double *grad, size_t P, hn_err *err)
{
    int rc = HN_OK;
    r->grad_norm = hn_vec_norm(grad, P);
    for (size_t j = 0; j < P && !rc; j++)
        rc = finite_or(grad[j], "the gradient", err);
    if (!rc)
        rc = finite_or(r->loss, "the loss", err);
    if (!rc)
        rc = finite_or(r->grad_norm, "the gradient norm", err);
    return rc;
}

int hn_inspect_sample_eigs(hn_inspect_result *r, size_t N, size_t K, hn_err *err)
{
    double tr = 0;
    for (size_t i = 0; i < N; i++) {
        double t = 0;
        for (size_t k = 0; k < K; k++) /* the trace: every eigenvalue, rounding's negatives too */
            t += r->ho_sample_eigs[i * K + k];
        r->ho_sample_norms[i] = r->ho_sample_eigs[i * K];
        int rc = finite_or(r->ho_sample_norms[i] + t, "a per-sample H_O", err);
        if (rc)
            return rc;
        tr += t;
    }
    r->ho_trace = tr / (double)N;
    return HN_OK;
}

int hn_inspect_nonzero(const double *ev, size_t K, double **out, size_t *n, hn_err *err)
{
    double mx = 0;
    for (size_t k = 0; k < K; k++)
        mx = fmax(mx, fabs(ev[k]));
    if (!(*out = hn_calloc(K, sizeof **out)))
        return hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    *n = 0;
    for (size_t k = 0; k < K; k++)
        if (fabs(ev[k]) > HN_EIG_ZERO_RTOL * mx)
            (*out)[(*n)++] = ev[k];
    return HN_OK;
}

int hn_inspect_check_table(const hn_inspect_result *r, hn_err *err)
{
    int rc = HN_OK;
    for (size_t t = 0; t < r->n_lin && !rc; t++) {
        const hn_inspect_layer *L = &r->layers[t];
        const double v[] = {L->T_norm, L->T_fro, L->Q_norm, L->G_norm, L->R_norm, L->Rx_norm, L->T_b.hi, L->R_b.hi};
        for (size_t i = 0; i < sizeof v / sizeof v[0] && !rc; i++)
            rc = finite_or(v[i], "a per-layer norm", err);
    }
    const double v[] = {r->A_norm, r->F_norm, r->J_norm};
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = finite_or(v[i], "the norm of A, F or J", err);
    return rc;
}

static double trace(const gsl_matrix *M)
{
    double t = 0;
    for (size_t i = 0; i < M->size1; i++)
        t += gsl_matrix_get(M, i, i);
    return t;
}

/* An overflow (inputs are finite: the loader refuses NaN and Inf) is
 * HN_EOVERFLOW, so that the caller can name the input that caused it. */
static int finite_or(double v, const char *what, hn_err *err)
{
    if (isfinite(v))
        return HN_OK;
    return hn_err_set(err, HN_EOVERFLOW, "%s overflows (%g)", what, v);
}

static int mat_finite(const gsl_matrix *M, const char *what, hn_err *err)
{
    for (size_t i = 0; i < M->size1; i++)
        for (size_t j = 0; j < M->size2; j++)
            if (!isfinite(gsl_matrix_get(M, i, j)))
                return hn_err_set(err, HN_EOVERFLOW, "%s overflows (entry (%zu,%zu) is %g)", what,
                                  i, j, gsl_matrix_get(M, i, j));
    return HN_OK;
}

/* 8-byte entries of the dense matrices hn_inspect holds at its peak */
double hn_inspect_need(const hn_model *m, const hn_samples *s, char *what, size_t n)
{
    const double P = (double)m->n_params, K = (double)m->classes, N = (double)s->n, NK = N * K;
    /* H and H_O, dsyevd's copy and LAPACKE's transposed copy, and two more
     * P x P (the measured peak for P = 4800 is 6 P^2 doubles) */
    double e = 6 * P * P + 4 * P + NK, route = NK <= P ? NK * P + 3 * NK * NK : 0;
    snprintf(what, n, NK <= P ? "the %.0fx%.0f Hessians and the %.0fx%.0f Gram matrix"
                              : "the %.0fx%.0f Hessians", P, P, NK, NK);
    e += route;
    if (s->n == 1) { /* the paper's matrices of one sample, beside H and H_O */
        double pe = 3 * K * P + P * P, rows = 0;
        for (size_t t = 0; t < m->n_linear; t++) {
            const hn_layer *ly = &m->layers[m->linear_pos[t]];
            double in = (double)hn_shape_size(ly->in), out = (double)hn_shape_size(ly->out);
            double nxt = t + 1 < m->n_linear
                             ? (double)hn_shape_size(m->layers[m->linear_pos[t + 1]].in) : 0;
            /* T, Q, G, R (and its product temporary), Lambda */
            pe += out * in + out * (double)ly->param_count + K * out +
                  2 * in * (double)s->in_size + nxt * out;
            rows += out;
        }
        pe += K * rows + rows * P; /* F, blockdiag Q */
        if (pe > route)
            e += pe - route;
    }
    return 8.0 * e;
}

/* logits, loss, gradient norm; the per-sample H_O spectra */
static int inspect_first(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                         hn_inspect_result *r, double *grad, hn_err *err)
{
    const size_t K = m->classes, N = s->n;
    hn_ws *ws = NULL;
    hn_fast *f = NULL;
    int rc = hn_ws_alloc(m, &ws, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < N; i++)
        hn_forward(m, theta, s->x + i * s->in_size, ws, r->logits + i * K);
    hn_ws_free(ws);
    if ((rc = hn_inspect_check_logits(r, err)) != 0 ||
        (rc = hn_batch_loss_grad(m, theta, s, &r->loss, grad, err)) != 0 ||
        (rc = hn_inspect_check_grad(r, grad, m->n_params, err)) != 0)
        return rc;
    /* each sample's H_O by its K x K form (batched kernels) */
    if ((rc = hn_fast_alloc(m, threads, 0, &f, err)) == 0)
        rc = hn_batch_ho_eigs(m, theta, s, NULL, N, f, r->ho_sample_eigs, err);
    hn_fast_free(f);
    if (rc)
        return rc;
    double tr = r->ho_trace; /* the sample routine sets the mean trace: keep the dense one */
    rc = hn_inspect_sample_eigs(r, N, K, err);
    r->ho_trace = tr;
    return rc;
}

/* H, H_O and H_F = H - H_O (into H); H_O's nonzero spectrum by the
 * smaller of the N K x N K Gram matrix and H_O itself */
static int inspect_hessians(const hn_model *m, const double *theta, const hn_samples *s,
                            hn_inspect_result *r, gsl_matrix *H, gsl_matrix *HO, gsl_vector *ev,
                            hn_err *err)
{
    const size_t P = m->n_params;
    int rc;
    if ((rc = hn_hessian_full(m, theta, s, H, err)) != 0 ||
        (rc = hn_hessian_outer(m, theta, s, HO, err)) != 0 ||
        (rc = mat_finite(H, "the Hessian H", err)) != 0 ||
        (rc = mat_finite(HO, "the Hessian H_O", err)) != 0)
        return rc;
    if ((rc = hn_eig_sym_lapack(H, ev, NULL, err)) != 0)
        return rc;
    r->h_min = gsl_vector_get(ev, 0);
    r->h_max = gsl_vector_get(ev, P - 1);
    r->h_norm = fmax(fabs(r->h_min), fabs(r->h_max));
    r->h_trace = trace(H);
    r->ho_trace = trace(HO);
    r->h_trace_how = "the diagonal of the dense H";
    /* the Gram route is independent of the P x P matrix: a second route
     * whenever it is not the larger */
    if (s->n * m->classes <= P)
        rc = hn_outer_gram_eigs(m, theta, s, HN_EIG_ZERO_RTOL, &r->ho_eigs, &r->n_ho_eigs, err);
    else
        rc = hn_outer_dense_eigs(HO, HN_EIG_ZERO_RTOL, &r->ho_eigs, &r->n_ho_eigs, err);
    if (rc)
        return rc;
    r->ho_norm = r->n_ho_eigs ? r->ho_eigs[0] : 0.0;
    gsl_matrix_sub(H, HO); /* H_F = H - H_O */
    if ((rc = mat_finite(H, "H_F = H - H_O", err)) != 0 ||
        (rc = hn_eig_sym_lapack(H, ev, NULL, err)) != 0)
        return rc;
    r->hf_norm = fmax(fabs(gsl_vector_get(ev, 0)), fabs(gsl_vector_get(ev, P - 1)));
    /* dense eigendecompositions: every bracket a point */
    r->h_norm_b = (hn_bracket){r->h_norm, r->h_norm, r->h_norm, HN_HI_EXACT, HN_HI_EXACT};
    r->h_max_b = (hn_bracket){r->h_max, r->h_max, r->h_max, HN_HI_EXACT, HN_HI_EXACT};
    r->h_min_b = (hn_bracket){r->h_min, r->h_min, r->h_min, HN_HI_EXACT, HN_HI_EXACT};
    r->ho_norm_b = (hn_bracket){r->ho_norm, r->ho_norm, r->ho_norm, HN_HI_EXACT, HN_HI_EXACT};
    r->hf_norm_b = (hn_bracket){r->hf_norm, r->hf_norm, r->hf_norm, HN_HI_EXACT, HN_HI_EXACT};
    r->ho_norm_hi_how = "dense eigendecomposition";
    const double v[] = {r->h_norm, r->h_trace, r->ho_norm, r->ho_trace, r->hf_norm};
    for (size_t i = 0; i < sizeof v / sizeof v[0] && !rc; i++)
        rc = finite_or(v[i], "a Hessian norm or trace", err);
    return rc;
}

/* the per-sample matrices (also for a batch of one) */
static int inspect_sample(const hn_model *m, const double *theta, const hn_samples *s,
                          hn_inspect_result *r, hn_err *err)
{
    hn_paper *pp = NULL;
    int rc = hn_paper_build(m, theta, s, 0, &pp, err);
    if (rc)
        return rc;
    r->n_lin = pp->n_lin;
    r->layers = hn_calloc(pp->n_lin, sizeof *r->layers);
    if (!r->layers) {
        rc = hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
        goto done;
    }
    if ((rc = mat_finite(pp->A, "A", err)) || (rc = mat_finite(pp->F, "F", err)) ||
        (rc = mat_finite(pp->J, "J", err)) || (rc = hn_norm2(pp->A, &r->A_norm, err)) ||
        (rc = hn_norm2(pp->F, &r->F_norm, err)) || (rc = hn_norm2(pp->J, &r->J_norm, err)))
        goto done;
    r->has_table = 1;
    for (size_t t = 0; t < pp->n_lin; t++) {
        hn_inspect_layer *L = &r->layers[t];
        L->index = m->linear_pos[t];
        if ((rc = mat_finite(pp->T[t], "T", err)) || (rc = mat_finite(pp->G[t], "G", err)) ||
            (rc = mat_finite(pp->R[t], "R", err)) ||
            (rc = hn_norm2(pp->T[t], &L->T_norm, err)) ||
            (rc = hn_norm2(pp->Q[t], &L->Q_norm, err)) ||
            (rc = hn_norm2(pp->G[t], &L->G_norm, err)) ||
            (rc = hn_norm2(pp->R[t], &L->R_norm, err)))
            goto done;
        L->T_fro = hn_norm_fro(pp->T[t]);
        L->Rx_norm = gsl_blas_dnrm2(pp->Rx[t]);
        L->T_b = (hn_bracket){L->T_norm, L->T_norm, L->T_norm, HN_HI_EXACT, HN_HI_EXACT};
        L->R_b = (hn_bracket){L->R_norm, L->R_norm, L->R_norm, HN_HI_EXACT, HN_HI_EXACT};
        L->T_hi_how = "dense SVD";
    }
    rc = hn_inspect_check_table(r, err);
done:
    hn_paper_free(pp);
    return rc;
}

/* the dense route into r */
static int inspect_dense(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                         hn_inspect_result *r, hn_err *err)
{
    const size_t P = m->n_params;
    size_t PP;
    if (hn_mul_size(P, P, &PP) != 0 || PP > HN_DENSE_LIMIT)
        return hn_err_set(err, HN_ETOOBIG,
                          "inspect: %zu parameters: the dense %zux%zu Hessian exceeds the limit of %zu entries",
                          P, P, P, (size_t)HN_DENSE_LIMIT);
    int rc = HN_OK;
    gsl_matrix *H = gsl_matrix_alloc(P, P), *HO = gsl_matrix_alloc(P, P);
    gsl_vector *ev = gsl_vector_alloc(P);
    double *grad = hn_calloc(P, sizeof *grad);
    if (!H || !HO || !ev || !grad)
        rc = hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    if (!rc)
        rc = inspect_first(m, theta, s, threads, r, grad, err);
    if (!rc)
        rc = inspect_hessians(m, theta, s, r, H, HO, ev, err);
    if (!rc && s->n == 1)
        rc = inspect_sample(m, theta, s, r, err);
    if (H) gsl_matrix_free(H);
    if (HO) gsl_matrix_free(HO);
    if (ev) gsl_vector_free(ev);
    hn_free(grad);
    return rc;
}

int hn_inspect_ex(const hn_model *m, const double *theta, const hn_samples *s,
                  const hn_inspect_opts *o, hn_inspect_result **out, hn_err *err)
{
    hn_gsl_quiet();
    *out = NULL;
    hn_inspect_opts def;
    hn_inspect_opts_default(&def);
    if (!o) {
        def.route = HN_INSPECT_DENSE;
        o = &def;
    }
    const size_t P = m->n_params, K = m->classes, N = s->n;
    size_t NK;
    if (hn_mul_size(N, K, &NK) != 0)
        return hn_err_set(err, HN_ETOOBIG, "inspect: %zu samples x %zu classes overflow", N, K);
    hn_inspect_route route = o->route;
    if (route == HN_INSPECT_AUTO) {
        char why[256];
        route = hn_inspect_choose(m, s, INFINITY, why, sizeof why);
    }
    if (route == HN_INSPECT_MATFREE && (!o->max_iter || !(o->rtol > 0)))
        return hn_err_set(err, HN_EINVAL, "inspect: Lanczos needs max_iter > 0 and rtol > 0");
    int rc = HN_OK;
    hn_inspect_result *r = hn_calloc(1, sizeof *r);
    if (!r || !(r->logits = hn_calloc(NK, sizeof(double))) ||
        !(r->ho_sample_norms = hn_calloc(N, sizeof(double))) ||
        !(r->ho_sample_eigs = hn_calloc(NK, sizeof(double)))) {
        rc = hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
        goto done;
    }
    r->num_params = P;
    r->n_samples = N;
    r->K = K;
    r->batched = s->batched || N > 1;
    r->route = route;
    rc = route == HN_INSPECT_MATFREE ? hn_inspect_mf(m, theta, s, o, r, err)
                                   : inspect_dense(m, theta, s, o->threads, r, err);
    if (!rc && r->has_table && !(r->layers && r->n_lin == m->n_linear))
        rc = hn_err_set(err, HN_EINVAL, "inspect: the per-layer table is incomplete");
    if (!rc && r->has_table) {
        hn_layer_bound *b = hn_calloc(m->n_linear, sizeof *b);
        if (!b) {
            rc = hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
            goto done;
        }
        hn_inspect_layer_bounds(m, theta, b);
        for (size_t t = 0; t < m->n_linear; t++)
            r->layers[t].bound = b[t];
        hn_free(b);
    }
done:
    if (rc) {
        hn_inspect_free(r);
        return rc;
    }
    *out = r;
    return HN_OK;
}

int hn_inspect(const hn_model *m, const double *theta, const hn_samples *s,
               hn_inspect_result **out, hn_err *err)
{
    return hn_inspect_ex(m, theta, s, NULL, out, err);
}

static json_t *real_list(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, hn_json_num(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* a number, or null for NAN (a quantity not measured: its reason beside it) */
static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : hn_json_num(v);
}

static json_t *bracket_json(const hn_bracket *b)
{
    int bad = 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
    hn_json_put(o, "lo", hn_json_num(b->lo), &bad);
    hn_json_put(o, "value", hn_json_num(b->value), &bad);
    hn_json_put(o, "hi", hn_json_num(b->hi), &bad);
    hn_json_put(o, "hi_kind", json_string(hn_hi_kind_name(b->hi_kind)), &bad);
    hn_json_put(o, "lo_kind", json_string(hn_hi_kind_name(b->lo_kind)), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *layer_json(const hn_inspect_layer *L, int *bad)
{
    json_t *e = json_object();
    if (!e)
        return NULL;
    hn_json_put(e, "index", json_integer((json_int_t)L->index), bad);
    hn_json_put(e, "T_norm", hn_json_num(L->T_norm), bad);
    hn_json_put(e, "T_fro", hn_json_num(L->T_fro), bad);
    hn_json_put(e, "Q_norm", hn_json_num(L->Q_norm), bad);
    hn_json_put(e, "G_norm", hn_json_num(L->G_norm), bad);
    hn_json_put(e, "R_norm", hn_json_num(L->R_norm), bad);
    hn_json_put(e, "Rx_norm", hn_json_num(L->Rx_norm), bad);
    hn_json_put(e, "T_norm_bracket", bracket_json(&L->T_b), bad);
    hn_json_put(e, "T_hi_how", json_string(L->T_hi_how ? L->T_hi_how : ""), bad);
    hn_json_put(e, "R_norm_bracket", bracket_json(&L->R_b), bad);
    json_t *pb = json_object();
    if (pb) {
        hn_json_put(pb, "T_norm_sq", num_or_null(L->bound.T_sq_bound), bad);
        hn_json_put(pb, "T_formula", json_string(L->bound.T_formula), bad);
        hn_json_put(pb, "Q_norm", num_or_null(L->bound.Q_bound), bad);
        hn_json_put(pb, "Q_formula", json_string(L->bound.Q_formula), bad);
    }
    hn_json_put(e, "paper_bound", pb, bad);
    return e;
}

/* A_norm, F_norm, J_norm, linear_layers of the table's sample into o */
static void table_json(json_t *o, const hn_inspect_result *r, int *bad)
{
    hn_json_put(o, "A_norm", hn_json_num(r->A_norm), bad);
    hn_json_put(o, "F_norm", hn_json_num(r->F_norm), bad);
    hn_json_put(o, "J_norm", hn_json_num(r->J_norm), bad);
    json_t *ls = json_array();
    for (size_t t = 0; ls && t < r->n_lin; t++)
        if (json_array_append_new(ls, layer_json(&r->layers[t], bad)) != 0)
            *bad = 1;
    hn_json_put(o, "linear_layers", ls, bad);
}

static json_t *hessian_json(const hn_inspect_result *r, int *bad)
{
    json_t *h = json_object();
    if (!h)
        return NULL;
    hn_json_put(h, "norm", hn_json_num(r->h_norm), bad);
    hn_json_put(h, "max_eigenvalue", hn_json_num(r->h_max), bad);
    hn_json_put(h, "min_eigenvalue", hn_json_num(r->h_min), bad);
    hn_json_put(h, "trace", hn_json_num(r->h_trace), bad);
    hn_json_put(h, "norm_bracket", bracket_json(&r->h_norm_b), bad);
    hn_json_put(h, "max_eigenvalue_bracket", bracket_json(&r->h_max_b), bad);
    hn_json_put(h, "min_eigenvalue_bracket", bracket_json(&r->h_min_b), bad);
    hn_json_put(h, "trace_how", json_string(r->h_trace_how ? r->h_trace_how : ""), bad);
    json_t *hu = json_object();
    if (hu) {
        hn_json_put(hu, "probes", json_integer((json_int_t)r->h_trace_probes), bad);
        hn_json_put(hu, "estimate", r->h_trace_probes ? num_or_null(r->h_trace_est) : json_null(), bad);
        hn_json_put(hu, "stderr", r->h_trace_probes ? num_or_null(r->h_trace_se) : json_null(), bad);
        if (!r->h_trace_probes)
            hn_json_put(hu, "na", json_string(r->route == HN_INSPECT_DENSE ? "the dense route has the exact diagonal"
                                                                          : "no probes asked for"), bad);
    }
    hn_json_put(h, "trace_hutchinson", hu, bad);
    if (r->route == HN_INSPECT_MATFREE) {
        hn_json_put(h, "lanczos_products", json_integer((json_int_t)r->lanczos_products[0]), bad);
        hn_json_put(h, "lanczos_converged", json_boolean(r->lanczos_converged[0]), bad);
    }
    return h;
}

static json_t *outer_json(const hn_inspect_result *r, int *bad)
{
    json_t *ho = json_object();
    if (!ho)
        return NULL;
    hn_json_put(ho, "norm", hn_json_num(r->ho_norm), bad);
    if (r->ho_eigs_na) {
        hn_json_put(ho, "eigenvalues", json_null(), bad);
        hn_json_put(ho, "eigenvalues_na", json_string(r->ho_eigs_na), bad);
    } else {
        hn_json_put(ho, "eigenvalues", real_list(r->ho_eigs, r->n_ho_eigs), bad);
    }
    hn_json_put(ho, "trace", hn_json_num(r->ho_trace), bad);
    hn_json_put(ho, "norm_bracket", bracket_json(&r->ho_norm_b), bad);
    hn_json_put(ho, "norm_hi_how", json_string(r->ho_norm_hi_how ? r->ho_norm_hi_how : ""), bad);
    hn_json_put(ho, "sample_norms", real_list(r->ho_sample_norms, r->n_samples), bad);
    json_t *se = json_array();
    for (size_t i = 0; se && i < r->n_samples; i++)
        if (json_array_append_new(se, real_list(r->ho_sample_eigs + i * r->K, r->K)) != 0)
            *bad = 1;
    hn_json_put(ho, "sample_eigenvalues", se, bad);
    if (r->route == HN_INSPECT_MATFREE) {
        hn_json_put(ho, "lanczos_products", json_integer((json_int_t)r->lanczos_products[1]), bad);
        hn_json_put(ho, "lanczos_converged", json_boolean(r->lanczos_converged[1]), bad);
    }
    return ho;
}

char *hn_inspect_to_json(const hn_model *m, const hn_inspect_result *r)
{
    (void)m;
    int bad = 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
    hn_json_put(o, "route", json_string(hn_inspect_route_name(r->route)), &bad);
    hn_json_put(o, "num_params", json_integer((json_int_t)r->num_params), &bad);
    hn_json_put(o, "loss", hn_json_num(r->loss), &bad);
    if (r->batched) {
        json_t *l = json_array();
        for (size_t i = 0; l && i < r->n_samples; i++)
            if (json_array_append_new(l, real_list(r->logits + i * r->K, r->K)) != 0)
                bad = 1;
        hn_json_put(o, "logits", l, &bad);
    } else {
        hn_json_put(o, "logits", real_list(r->logits, r->K), &bad);
    }
    hn_json_put(o, "grad_norm", hn_json_num(r->grad_norm), &bad);
    hn_json_put(o, "hessian", hessian_json(r, &bad), &bad);
    hn_json_put(o, "hessian_outer", outer_json(r, &bad), &bad);
    hn_json_put(o, "hessian_functional_norm", hn_json_num(r->hf_norm), &bad);
    hn_json_put(o, "hessian_functional_norm_bracket", bracket_json(&r->hf_norm_b), &bad);
    if (r->route == HN_INSPECT_MATFREE) {
        hn_json_put(o, "hessian_functional_lanczos_products", json_integer((json_int_t)r->lanczos_products[2]), &bad);
        hn_json_put(o, "hessian_functional_lanczos_converged", json_boolean(r->lanczos_converged[2]), &bad);
    }
    if (r->has_table && r->n_samples == 1) { /* the per-sample matrices (also for a batch of one) */
        table_json(o, r, &bad);
    } else if (r->has_table) { /* a batch, matrix-free: the table of one sample */
        json_t *t = json_object();
        if (t) {
            hn_json_put(t, "sample", json_integer((json_int_t)r->table_sample), &bad);
            table_json(t, r, &bad);
        }
        hn_json_put(o, "sample_table", t, &bad);
    }
    char *txt = bad ? NULL : hn_json_dumps(o, HN_JSON_FLAGS); /* freed with hn_free */
    json_decref(o);
    return txt;
}

static int dump_mat(const char *dir, const char *name, size_t idx, int with_idx,
                    const gsl_matrix *M, hn_err *err)
{
    char path[4096];
    if (with_idx)
        snprintf(path, sizeof path, "%s/%s_%zu.npy", dir, name, idx);
    else
        snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    return hn_npy_save(path, M, err);
}

int hn_inspect_dump(const hn_model *m, const double *theta, const hn_samples *s,
                    const char *dir, hn_err *err)
{
    hn_gsl_quiet();
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return hn_err_set(err, HN_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    const size_t P = m->n_params;
    int rc = HN_OK;
    gsl_matrix *H = gsl_matrix_alloc(P, P), *HO = gsl_matrix_alloc(P, P);
    hn_paper *pp = NULL;
    if (!H || !HO) {
        rc = hn_err_set(err, HN_ENOMEM, "dump: out of memory");
        goto done;
    }
    if ((rc = hn_hessian_full(m, theta, s, H, err)) || (rc = hn_hessian_outer(m, theta, s, HO, err)))
        goto done;
    if ((rc = dump_mat(dir, "H", 0, 0, H, err)) || (rc = dump_mat(dir, "H_O", 0, 0, HO, err)))
        goto done;
    gsl_matrix_sub(H, HO);
    if ((rc = dump_mat(dir, "H_F", 0, 0, H, err)))
        goto done;
    if (s->n == 1) {
        if ((rc = hn_paper_build(m, theta, s, 0, &pp, err)))
            goto done;
        /* file suffix = the paper's p (1-based) */
        for (size_t t = 0; t < pp->n_lin && !rc; t++) {
            gsl_matrix_view rx = gsl_matrix_view_vector(pp->Rx[t], pp->Rx[t]->size, 1);
            rc = dump_mat(dir, "T", t + 1, 1, pp->T[t], err);
            if (!rc) rc = dump_mat(dir, "Q", t + 1, 1, pp->Q[t], err);
            if (!rc) rc = dump_mat(dir, "G", t + 1, 1, pp->G[t], err);
            if (!rc) rc = dump_mat(dir, "R", t, 1, pp->R[t], err);
            if (!rc) rc = dump_mat(dir, "Rx", t, 1, &rx.matrix, err);
            if (!rc && t + 1 < pp->n_lin) rc = dump_mat(dir, "Lambda", t + 1, 1, pp->Lambda[t], err);
        }
        if (!rc) rc = dump_mat(dir, "F", 0, 0, pp->F, err);
        if (!rc) rc = dump_mat(dir, "A", 0, 0, pp->A, err);
        if (!rc) rc = dump_mat(dir, "J", 0, 0, pp->J, err);
        if (!rc) rc = dump_mat(dir, "H_O_lemma1", 0, 0, pp->HO, err);
        if (!rc && pp->Qfull) rc = dump_mat(dir, "Q", 0, 0, pp->Qfull, err);
    }
done:
    if (H) gsl_matrix_free(H);
    if (HO) gsl_matrix_free(HO);
    hn_paper_free(pp);
    return rc;
}
