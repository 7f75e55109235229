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
#include "base/json.h"

void hn_inspect_free(hn_inspect_result *r)
{
    if (!r)
        return;
    hn_free(r->logits);
    hn_free(r->ho_eigs);
    hn_free(r->layers);
    hn_free(r);
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

/* logits, loss, gradient norm */
static int inspect_first(const hn_model *m, const double *theta, const hn_samples *s,
                         hn_inspect_result *r, double *grad, hn_err *err)
{
    const size_t K = m->classes, N = s->n;
    hn_ws *ws = NULL;
    int rc = hn_ws_alloc(m, &ws, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < N; i++)
        hn_forward(m, theta, s->x + i * s->in_size, ws, r->logits + i * K);
    hn_ws_free(ws);
    for (size_t i = 0; i < N * K; i++)
        if (!isfinite(r->logits[i]))
            return hn_err_set(err, HN_EOVERFLOW, "the logits overflow (logit %zu of sample %zu is %g)",
                              i % K, i / K, r->logits[i]);
    if ((rc = hn_batch_loss_grad(m, theta, s, &r->loss, grad, err)) != 0)
        return rc;
    r->grad_norm = hn_vec_norm(grad, m->n_params);
    for (size_t j = 0; j < m->n_params && !rc; j++)
        rc = finite_or(grad[j], "the gradient", err);
    if (!rc)
        rc = finite_or(r->loss, "the loss", err);
    if (!rc)
        rc = finite_or(r->grad_norm, "the gradient norm", err);
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
        (rc = hn_norm2(pp->A, &r->A_norm, err)) || (rc = hn_norm2(pp->F, &r->F_norm, err)))
        goto done;
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
        const double v[] = {L->T_norm, L->T_fro, L->Q_norm, L->G_norm, L->R_norm, L->Rx_norm};
        for (size_t i = 0; i < sizeof v / sizeof v[0] && !rc; i++)
            rc = finite_or(v[i], "a per-layer norm", err);
        if (rc)
            goto done;
    }
    const double v[] = {r->A_norm, r->F_norm};
    for (size_t i = 0; i < 2 && !rc; i++)
        rc = finite_or(v[i], "the norm of A or F", err);
done:
    hn_paper_free(pp);
    return rc;
}

int hn_inspect(const hn_model *m, const double *theta, const hn_samples *s,
               hn_inspect_result **out, hn_err *err)
{
    hn_gsl_quiet();
    *out = NULL;
    const size_t P = m->n_params, K = m->classes, N = s->n;
    size_t PP, NK;
    if (hn_mul_size(P, P, &PP) != 0 || PP > HN_DENSE_LIMIT)
        return hn_err_set(err, HN_ETOOBIG,
                          "inspect: %zu parameters: the dense %zux%zu Hessian exceeds the limit of %zu entries",
                          P, P, P, (size_t)HN_DENSE_LIMIT);
    if (hn_mul_size(N, K, &NK) != 0)
        return hn_err_set(err, HN_ETOOBIG, "inspect: %zu samples x %zu classes overflow", N, K);
    int rc = HN_OK;
    hn_inspect_result *r = hn_calloc(1, sizeof *r);
    gsl_matrix *H = gsl_matrix_alloc(P, P), *HO = gsl_matrix_alloc(P, P);
    gsl_vector *ev = gsl_vector_alloc(P);
    double *grad = hn_calloc(P, sizeof *grad);
    if (!r || !H || !HO || !ev || !grad || !(r->logits = hn_calloc(NK, sizeof(double)))) {
        rc = hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
        goto done;
    }
    r->num_params = P;
    r->n_samples = N;
    r->K = K;
    r->batched = s->batched || N > 1;
    rc = inspect_first(m, theta, s, r, grad, err);
    if (!rc)
        rc = inspect_hessians(m, theta, s, r, H, HO, ev, err);
    if (!rc && N == 1)
        rc = inspect_sample(m, theta, s, r, err);
done:
    if (H) gsl_matrix_free(H);
    if (HO) gsl_matrix_free(HO);
    if (ev) gsl_vector_free(ev);
    hn_free(grad);
    if (rc) {
        hn_inspect_free(r);
        return rc;
    }
    *out = r;
    return HN_OK;
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

char *hn_inspect_to_json(const hn_model *m, const hn_inspect_result *r)
{
    (void)m;
    int bad = 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
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
    json_t *h = json_object();
    if (h) {
        hn_json_put(h, "norm", hn_json_num(r->h_norm), &bad);
        hn_json_put(h, "max_eigenvalue", hn_json_num(r->h_max), &bad);
        hn_json_put(h, "min_eigenvalue", hn_json_num(r->h_min), &bad);
        hn_json_put(h, "trace", hn_json_num(r->h_trace), &bad);
    }
    hn_json_put(o, "hessian", h, &bad);
    json_t *ho = json_object();
    if (ho) {
        hn_json_put(ho, "norm", hn_json_num(r->ho_norm), &bad);
        hn_json_put(ho, "eigenvalues", real_list(r->ho_eigs, r->n_ho_eigs), &bad);
        hn_json_put(ho, "trace", hn_json_num(r->ho_trace), &bad);
    }
    hn_json_put(o, "hessian_outer", ho, &bad);
    hn_json_put(o, "hessian_functional_norm", hn_json_num(r->hf_norm), &bad);
    if (r->n_samples == 1) { /* the per-sample matrices (also for a batch of one) */
        hn_json_put(o, "A_norm", hn_json_num(r->A_norm), &bad);
        hn_json_put(o, "F_norm", hn_json_num(r->F_norm), &bad);
        json_t *ls = json_array();
        for (size_t t = 0; ls && t < r->n_lin; t++) {
            const hn_inspect_layer *L = &r->layers[t];
            json_t *e = json_object();
            if (e) {
                hn_json_put(e, "index", json_integer((json_int_t)L->index), &bad);
                hn_json_put(e, "T_norm", hn_json_num(L->T_norm), &bad);
                hn_json_put(e, "T_fro", hn_json_num(L->T_fro), &bad);
                hn_json_put(e, "Q_norm", hn_json_num(L->Q_norm), &bad);
                hn_json_put(e, "G_norm", hn_json_num(L->G_norm), &bad);
                hn_json_put(e, "R_norm", hn_json_num(L->R_norm), &bad);
                hn_json_put(e, "Rx_norm", hn_json_num(L->Rx_norm), &bad);
            }
            if (json_array_append_new(ls, e) != 0)
                bad = 1;
        }
        hn_json_put(o, "linear_layers", ls, &bad);
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
