/* hessnorm — `inspect` matrix-free (hn_inspect_ex's HN_INSPECT_MATFREE):
 * no P x P matrix.  Loss, logits and gradient from the batched kernels;
 * the extremes of the mean H, mean H_O and H - H_O by Lanczos on exact
 * Hessian-vector products (hn_hvp_op: the forward state kept, each product
 * the tangent and R-reverse passes only); per-sample H_O spectra and trace
 * H_O exactly from K x K forms; the per-layer table of sample 0 from
 * hn_mf_sample_compute.  See inspect.h for what each bracket means. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/alloc.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/hessian.h"
#include "hessnorm/inspect.h"
#include "hessnorm/lanczos.h"
#include "hessnorm/matfree.h"
#include "hessnorm/seed.h"
#include "hessnorm/spectra.h"
#include "base/clock.h"
#include "base/progress.h"
#include "paper/inspect_internal.h"

/* A product of the operator a (b NULL) or a - b, counted, with a progress
 * line at most every pr->every seconds. */
typedef struct {
    hn_hvp_op *a, *b;
    const double *rows;          /* instead of b: mean H_O = (1/n) B^T B, B (nK x P) these rows */
    size_t nK, n;
    double *tmp;                 /* P doubles when b or rows is set (and nK after them for rows) */
    size_t P, count, max;
    double t0, last;
    const hn_progress_cfg *pr;
    const char *what;
    hn_err *err;
} mv_ctx;

static int mv(void *vc, const double *x, double *y)
{
    mv_ctx *c = vc;
    int rc = hn_hvp_op_apply(c->a, x, y, c->err);
    if (!rc && c->rows) { /* y -= (1/n) B^T (B x) */
        double *bx = c->tmp + c->P;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)c->nK, (int)c->P, 1.0, c->rows, (int)c->P, x, 1, 0.0, bx, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)c->nK, (int)c->P, -1.0 / (double)c->n, c->rows, (int)c->P, bx, 1,
                    1.0, y, 1);
    } else if (!rc && c->b) {
        rc = hn_hvp_op_apply(c->b, x, c->tmp, c->err);
        for (size_t i = 0; !rc && i < c->P; i++)
            y[i] -= c->tmp[i];
    }
    c->count++;
    if (c->pr && c->pr->fn) {
        double now = hn_clock_s();
        if (now - c->last >= c->pr->every) {
            char left[32];
            hn_fmt_duration(left, sizeof left, (now - c->t0) / (double)c->count * (double)(c->max - c->count));
            hn_progress_say(c->pr, 256, "%s: product %zu of at most %zu, at most %s left", c->what,
                            c->count, c->max, left);
            c->last = now;
        }
    }
    return rc;
}

/* The brackets of one Lanczos run on a symmetric operator: Ritz values lie
 * inside the spectrum (theta_max <= lambda_max, theta_min >= lambda_min:
 * certified), and an eigenvalue lies within the residual r of each (the
 * other end, HN_HI_RESIDUAL: not a proof that no eigenvalue lies beyond). */
static void lanczos_brackets(const hn_lanczos_result *lr, hn_bracket *mx, hn_bracket *mn,
                             hn_bracket *nrm)
{
    const double r = lr->residual;
    if (mx)
        *mx = (hn_bracket){lr->lambda_max, lr->lambda_max, lr->lambda_max + r, HN_HI_RESIDUAL,
                           HN_HI_CERTIFIED};
    if (mn)
        *mn = (hn_bracket){lr->lambda_min - r, lr->lambda_min, lr->lambda_min, HN_HI_CERTIFIED,
                           HN_HI_RESIDUAL};
    /* max(|theta_max|, |theta_min|) <= max(lambda_max, -lambda_min) = ||M|| */
    *nrm = (hn_bracket){lr->norm, lr->norm, lr->norm + r, HN_HI_RESIDUAL, HN_HI_CERTIFIED};
}

static int run_lanczos(const hn_model *m, const hn_inspect_opts *o, mv_ctx *c, const char *what,
                       const char *label, hn_lanczos_result *lr, hn_err *err)
{
    c->what = what;
    c->count = 0;
    c->max = o->max_iter < m->n_params ? o->max_iter : m->n_params;
    c->t0 = c->last = hn_clock_s();
    hn_err inner = {0};
    c->err = &inner;
    int rc = hn_lanczos_extreme(m->n_params, mv, c, o->max_iter, o->rtol,
                                hn_seed_derive(o->seed, label, 0), o->threads, lr, err);
    if (rc && inner.code && err)
        *err = inner; /* the product's own reason beats "the operator failed" */
    return rc;
}

/* Hutchinson: mean of z^T H z over Rademacher probes z, and its standard
 * error (sample standard deviation / sqrt(probes)). */
static int hutchinson(const hn_model *m, const hn_inspect_opts *o, mv_ctx *c, double *z, double *hz,
                      hn_inspect_result *r, hn_err *err)
{
    const size_t P = m->n_params, N = o->trace_probes;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!g)
        return hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    double sum = 0, sq = 0;
    int rc = HN_OK;
    hn_err inner = {0};
    c->err = &inner;
    for (size_t j = 0; j < N && !rc; j++) {
        gsl_rng_set(g, hn_seed_derive(o->seed, "inspect.hutchinson", j));
        for (size_t i = 0; i < P; i++)
            z[i] = gsl_rng_uniform_int(g, 2) ? 1.0 : -1.0;
        if ((rc = mv(c, z, hz)) != 0) {
            if (err)
                *err = inner;
            break;
        }
        double q = 0;
        for (size_t i = 0; i < P; i++)
            q += z[i] * hz[i];
        sum += q;
        sq += q * q;
    }
    gsl_rng_free(g);
    if (rc)
        return rc;
    r->h_trace_probes = N;
    r->h_trace_est = N ? sum / (double)N : NAN;
    r->h_trace_se = N > 1 ? sqrt(fmax(sq - sum * sum / (double)N, 0.0) / (double)(N - 1) / (double)N) : NAN;
    return HN_OK;
}

/* loss, gradient norm, logits, and (gram 0: the Gram gives them) the
 * per-sample H_O spectra and trace */
static int mf_first(const hn_model *m, const double *theta, const hn_samples *s, int threads, int gram,
                    hn_inspect_result *r, hn_err *err)
{
    const size_t P = m->n_params, K = m->classes, N = s->n;
    hn_fast *f = NULL;
    double *grad = hn_calloc(P, sizeof *grad);
    int rc = grad ? hn_fast_alloc(m, threads, 0, &f, err) : hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    if (!rc)
        rc = hn_batch_losses(m, theta, s, NULL, N, f, NULL, r->logits, NULL, err);
    if (!rc)
        rc = hn_inspect_check_logits(r, err);
    if (!rc)
        rc = hn_batch_forward_backward(m, theta, s, NULL, N, f, &r->loss, grad, err);
    if (!rc)
        rc = hn_inspect_check_grad(r, grad, P, err);
    if (!rc && !gram)
        rc = hn_batch_ho_eigs(m, theta, s, NULL, N, f, r->ho_sample_eigs, err);
    hn_fast_free(f);
    hn_free(grad);
    if (rc || gram)
        return rc;
    return hn_inspect_sample_eigs(r, N, K, err);
}

int hn_inspect_ho_gram_fits(const hn_model *m, size_t n, const hn_inspect_opts *o)
{
    const size_t cap = o ? o->ho_gram_max_bytes : HN_INSPECT_HO_GRAM_MAX_BYTES;
    return n > 1 && n <= HN_INSPECT_HO_GRAM_MAX_ROWS / m->classes && hn_batch_ho_mean_bytes(m, n) <= cap;
}

/* ||mean H_O|| and its nonzero spectrum exactly, from the N K x N K Gram
 * (hn_batch_ho_mean_eigs): no Lanczos product; every sample's spectrum from
 * its diagonal blocks; *rows: B, for the products of H - H_O. */
static int ho_gram(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                   hn_inspect_result *r, double **rows, hn_err *err)
{
    const size_t nK = s->n * m->classes;
    hn_fast *f = NULL;
    double *ev = hn_malloc(nK * sizeof *ev);
    int rc = ev ? hn_fast_alloc(m, threads, 0, &f, err) : hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    if (!rc)
        rc = hn_batch_ho_mean_eigs(m, theta, s, NULL, s->n, f, ev, r->ho_sample_eigs, rows, err);
    if (!rc)
        rc = hn_inspect_sample_eigs(r, s->n, m->classes, err);
    if (!rc && !(isfinite(ev[0]) && ev[0] >= 0))
        rc = hn_err_set(err, HN_EOVERFLOW, "inspect: ||mean H_O|| is not finite");
    if (!rc)
        rc = hn_inspect_nonzero(ev, nK, &r->ho_eigs, &r->n_ho_eigs, err);
    if (!rc) {
        r->ho_norm_b = (hn_bracket){ev[0], ev[0], ev[0], HN_HI_EXACT, HN_HI_EXACT};
        r->ho_gram = 1;
        r->lanczos_products[1] = 0;
        r->lanczos_converged[1] = 1;
    }
    hn_fast_free(f);
    hn_free(ev);
    return rc;
}

/* The three operators: mean H (and Hutchinson), mean H_O (Lanczos, or the
 * exact Gram when it fits), H - H_O. */
static int mf_lanczos(const hn_model *m, const double *theta, const hn_samples *s,
                      const hn_inspect_opts *o, int gram, hn_inspect_result *r, hn_err *err)
{
    const size_t P = m->n_params, N = s->n, nK = N * m->classes;
    hn_hvp_op *opH = NULL, *opO = NULL;
    double *tmp = hn_calloc(2 * P + nK, sizeof *tmp), *rows = NULL;
    mv_ctx c = {0};
    c.P = P;
    c.pr = &o->progress;
    hn_lanczos_result lr;
    int rc = tmp ? HN_OK : hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    if (!rc)
        rc = hn_hvp_op_alloc(m, theta, s, NULL, N, NULL, 0, o->threads, &opH, err);
    c.a = opH;
    if (!rc && (rc = run_lanczos(m, o, &c, "lambda of the mean H", "inspect.lanczos.H", &lr, err)) == 0) {
        lanczos_brackets(&lr, &r->h_max_b, &r->h_min_b, &r->h_norm_b);
        r->lanczos_products[0] = lr.iterations;
        r->lanczos_converged[0] = lr.converged;
    }
    if (!rc && o->trace_probes) {
        c.what = "trace H (Hutchinson)";
        c.count = 0;
        c.max = o->trace_probes;
        c.t0 = c.last = hn_clock_s();
        rc = hutchinson(m, o, &c, tmp, tmp + P, r, err);
    }
    if (!rc && gram) {
        rc = ho_gram(m, theta, s, o->threads, r, &rows, err);
    } else if (!rc) {
        rc = hn_hvp_op_alloc(m, theta, s, NULL, N, NULL, 1, o->threads, &opO, err);
        c.a = opO;
        if (!rc && (rc = run_lanczos(m, o, &c, "||mean H_O||", "inspect.lanczos.HO", &lr, err)) == 0) {
            lanczos_brackets(&lr, NULL, NULL, &r->ho_norm_b);
            r->lanczos_products[1] = lr.iterations;
            r->lanczos_converged[1] = lr.converged;
        }
    }
    c.a = opH;
    c.b = opO; /* or, from the Gram, B's rows: H_O x = (1/N) B^T (B x) by two GEMVs */
    c.rows = rows;
    c.nK = nK;
    c.n = N;
    c.tmp = tmp;
    if (!rc && (rc = run_lanczos(m, o, &c, "||H - H_O||", "inspect.lanczos.HF", &lr, err)) == 0) {
        lanczos_brackets(&lr, NULL, NULL, &r->hf_norm_b);
        r->lanczos_products[2] = lr.iterations;
        r->lanczos_converged[2] = lr.converged;
    }
    hn_hvp_op_free(opH);
    hn_hvp_op_free(opO);
    hn_free(rows);
    hn_free(tmp);
    return rc;
}

/* sample 0's per-layer table */
static int mf_table(const hn_model *m, const double *theta, const hn_samples *s,
                    const hn_inspect_opts *o, hn_inspect_result *r, hn_err *err)
{
    hn_mf_sample *ms = NULL;
    int rc = hn_mf_sample_compute(m, theta, s, 0, o->max_iter, o->rtol,
                                  hn_seed_derive(o->seed, "inspect.sample", 0), &ms, err);
    if (rc)
        return rc;
    r->n_lin = ms->n_lin;
    if (!(r->layers = hn_calloc(ms->n_lin, sizeof *r->layers))) {
        hn_mf_sample_free(ms);
        return hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    }
    for (size_t t = 0; t < ms->n_lin; t++) {
        const hn_mf_layer *L = &ms->layers[t];
        hn_inspect_layer *I = &r->layers[t];
        I->index = L->layer;
        I->T_b = L->T_norm;
        I->R_b = L->R_norm;
        I->T_norm = L->T_norm.value;
        I->R_norm = L->R_norm.value;
        I->T_hi_how = L->T_hi_how;
        I->T_fro = L->T_fro;
        I->Q_norm = L->Q_norm;
        I->G_norm = L->G_norm;
        I->Rx_norm = L->Rx_norm;
    }
    r->A_norm = ms->A_norm;
    r->F_norm = ms->F_norm;
    r->J_norm = ms->J_norm;
    r->has_table = 1;
    r->table_sample = 0;
    hn_mf_sample_free(ms);
    return hn_inspect_check_table(r, err);
}

int hn_inspect_mf(const hn_model *m, const double *theta, const hn_samples *s,
                  const hn_inspect_opts *o, hn_inspect_result *r, hn_err *err)
{
    const size_t N = s->n;
    const int gram = hn_inspect_ho_gram_fits(m, N, o);
    int rc = mf_first(m, theta, s, o->threads, gram, r, err);
    if (!rc)
        rc = mf_lanczos(m, theta, s, o, gram, r, err);
    if (rc)
        return rc;
    r->h_norm = r->h_norm_b.value;
    r->h_max = r->h_max_b.value;
    r->h_min = r->h_min_b.value;
    r->hf_norm = r->hf_norm_b.value;
    /* ||mean H_O|| <= mean_i ||H_O,i|| (triangle inequality): certified */
    double mean = 0;
    for (size_t i = 0; i < N; i++)
        mean += r->ho_sample_norms[i];
    mean /= (double)N;
    r->ho_norm_hi_how = r->ho_gram ? "the N K x N K Gram's eigendecomposition (exact to rounding)" : "Lanczos residual";
    if (!r->ho_gram && mean <= r->ho_norm_b.hi) {
        r->ho_norm_b.hi = fmax(mean, r->ho_norm_b.value);
        r->ho_norm_b.hi_kind = HN_HI_CERTIFIED;
        r->ho_norm_hi_how = "mean of the per-sample ||H_O,i|| (triangle inequality)";
    }
    r->ho_norm = r->ho_norm_b.value;
    /* diag H_F = 0 exactly (z is affine in each parameter with the masks fixed) */
    r->h_trace = r->ho_trace;
    r->h_trace_how = "trace H_O (the diagonal of H_F = sum_k dl/dz_k d2z_k/dtheta_j2 is 0: z is affine in each "
                     "parameter once the masks are fixed)";
    if (N == 1) { /* the mean is the one sample: its K x K spectrum is exact */
        rc = hn_inspect_nonzero(r->ho_sample_eigs, m->classes, &r->ho_eigs, &r->n_ho_eigs, err);
    } else if (!r->ho_gram) {
        r->ho_eigs_na = "the spectrum of the mean H_O needs the N K x N K Gram matrix (N K P Jacobian "
                        "entries), here over its limit (HN_INSPECT_HO_GRAM_MAX_BYTES, _ROWS); the "
                        "matrix-free route gives its extremes by Lanczos and every sample's spectrum exactly";
    }
    if (!rc)
        rc = mf_table(m, theta, s, o, r, err);
    return rc;
}

double hn_inspect_mf_need(const hn_model *m, const hn_samples *s, const hn_inspect_opts *o)
{
    const double P = (double)m->n_params, K = (double)m->classes, N = (double)s->n;
    double act = (double)hn_shape_size(m->input), lin = 0;
    for (size_t l = 0; l < m->n_layers; l++)
        act += (double)hn_shape_size(m->layers[l].out);
    for (size_t t = 0; t < m->n_linear; t++)
        lin += (double)hn_shape_size(m->layers[m->linear_pos[t]].out);
    const double it = (double)(o && o->max_iter ? o->max_iter : 300);
    const double thr = (double)(o && o->threads > 0 ? o->threads : 2);
    /* the Lanczos basis; the stored passes of two operators, or of mean H
     * alone when the Gram route stands in for H_O's (x 2: the tangents and
     * cotangents beside them); the workspaces of every thread (a chunk of
     * items with their tangents); sample 0's J (K x P) and K reverse
     * passes; a few P vectors */
    const int gram = hn_inspect_ho_gram_fits(m, s->n, o);
    double basis = (it + 1) * P; /* freed before the Gram is made, and made again after it beside B */
    if (gram)
        basis = fmax(basis + (double)(N * K) * P, (double)hn_batch_ho_mean_bytes(m, s->n) / 8.0);
    double e = basis + (gram ? 1 : 2) * 2 * N * (act + lin) + thr * HN_FAST_CHUNK * 6 * act +
               K * P + K * (double)m->max_act + 8 * P + N * K * (K + 2);
    return 8.0 * e;
}
