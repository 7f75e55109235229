/* hessnorm — equation-(1) instances at trained minima (Assumption 1 at
 * trained points): small conv-only nets, k + 1 samples drawn from the
 * seed, theta* a minimum of L_k (the mean loss of the first k samples)
 * found by full-batch training, theta = theta* + delta at a few radii.
 *
 * Why a Newton polish beside net/train.c's Adam: Adam (reused here for the
 * descent) settles at a gradient set by its step size, orders of magnitude
 * above the 1e-12 that makes "grad L_k(theta*) = 0" a measurement; Newton's
 * steps on the exact Hessian take it there in a few iterations. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/hessian.h"
#include "hessnorm/layers.h"
#include "hessnorm/seed.h"
#include "hessnorm/spectra.h"
#include "hessnorm/train.h"
#include "audit/families.h"
#include "audit/report.h"
#include "audit/trained.h"
#include "base/clock.h"
#include "base/progress.h"

/* Adam's learning rate: the weights are O(1/sqrt(fan_in)) (PyTorch's init) */
#define ADAM_LR 1e-2
/* Adam hands over to Newton once the relative gradient is below this (the
 * activation pattern is then settled enough for Newton's quadratic phase) */
#define ADAM_HANDOVER 1e-4
/* Newton: |eigenvalues| floored at this times the largest (flat
 * directions, e.g. the ReLU rescaling symmetry, carry no gradient) */
#define NEWTON_FLOOR 1e-10
#define LINE_HALVINGS 40

/* Mean loss, mean gradient g and the mean per-sample gradient norm over s. */
static void grad_stats(const hn_model *m, const double *theta, const hn_samples *s, hn_ws *ws, double *g,
                       double *gi, double *loss, double *scale)
{
    const size_t P = m->n_params;
    double tot = 0, sc = 0;
    memset(g, 0, P * sizeof *g);
    for (size_t i = 0; i < s->n; i++) {
        double l;
        memset(gi, 0, P * sizeof *gi);
        hn_loss_grad(m, theta, s, i, ws, 1.0, &l, gi);
        tot += l;
        sc += hn_vec_norm(gi, P);
        for (size_t j = 0; j < P; j++)
            g[j] += gi[j] / (double)s->n;
    }
    *loss = tot / (double)s->n;
    *scale = sc / (double)s->n;
}

static double rel(double gn, double scale) { return scale > 0 ? gn / scale : 0.0; }

typedef struct {
    const hn_model *m;
    const hn_samples *s;
    hn_ws *ws;
    double *g, *gi, *gt, *trial, *step; /* gradient at theta, scratch, gradient at the trial point */
    double loss, scale, gn;
    double scale0; /* mean ||grad l_i|| at the initial weights: the gradient scale of the problem */
} min_ctx;

static int adam_phase(min_ctx *c, double *theta, hn_trained_info *info, hn_err *err)
{
    const size_t P = c->m->n_params;
    hn_adam *opt;
    int rc = hn_adam_alloc(P, ADAM_LR, 0.9, 0.999, 1e-8, &opt, err);
    if (rc)
        return rc;
    for (;;) {
        grad_stats(c->m, theta, c->s, c->ws, c->g, c->gi, &c->loss, &c->scale);
        c->gn = hn_vec_norm(c->g, P);
        if (!info->adam_steps)
            c->scale0 = c->scale;
        if (!isfinite(c->loss) || !isfinite(c->gn)) {
            rc = hn_err_set(err, HN_ENUMERIC, "trained: the loss became %g during Adam", c->loss);
            break;
        }
        if (rel(c->gn, c->scale0) <= ADAM_HANDOVER || info->adam_steps >= HN_TRAINED_ADAM_STEPS)
            break;
        hn_adam_step(opt, theta, c->g);
        info->adam_steps++;
    }
    hn_adam_free(opt);
    return rc;
}

/* step = -sum_i v_i (v_i^T g) / max(|lambda_i|, floor) from the eigenpairs of H. */
static void newton_direction(const gsl_vector *eval, const gsl_matrix *evec, const double *g, double *step)
{
    const size_t P = eval->size;
    double lmax = 0;
    for (size_t i = 0; i < P; i++)
        lmax = fmax(lmax, fabs(gsl_vector_get(eval, i)));
    memset(step, 0, P * sizeof *step);
    for (size_t i = 0; i < P; i++) {
        double lam = fmax(fabs(gsl_vector_get(eval, i)), NEWTON_FLOOR * lmax), d = 0;
        if (!(lam > 0))
            continue;
        for (size_t j = 0; j < P; j++)
            d += gsl_matrix_get(evec, j, i) * g[j];
        for (size_t j = 0; j < P; j++)
            step[j] -= gsl_matrix_get(evec, j, i) * d / lam;
    }
}

/* Backtracking along c->step: accept a lower loss, or (at the rounding
 * level of the loss, near the minimum) a gradient at least halved.
 * Returns 1 if a point was accepted (theta and c's statistics updated). */
static int line_search(min_ctx *c, double *theta)
{
    const size_t P = c->m->n_params;
    double t = 1.0;
    for (int h = 0; h < LINE_HALVINGS; h++, t *= 0.5) {
        for (size_t j = 0; j < P; j++)
            c->trial[j] = theta[j] + t * c->step[j];
        double l, sc;
        grad_stats(c->m, c->trial, c->s, c->ws, c->gt, c->gi, &l, &sc);
        double gn = hn_vec_norm(c->gt, P);
        /* 1e-14: a few ulps of the loss, the level where a lower loss is no longer measurable */
        int ok = isfinite(l) && (l < c->loss || (l <= c->loss + 1e-14 * fabs(c->loss) && gn <= 0.5 * c->gn));
        if (ok) {
            memcpy(theta, c->trial, P * sizeof *theta);
            memcpy(c->g, c->gt, P * sizeof *c->g);
            c->loss = l;
            c->scale = sc;
            c->gn = gn;
            return 1;
        }
    }
    return 0;
}

static int newton_phase(min_ctx *c, double *theta, hn_trained_info *info, hn_err *err)
{
    const size_t P = c->m->n_params;
    gsl_matrix *H = gsl_matrix_alloc(P, P), *evec = gsl_matrix_alloc(P, P);
    gsl_vector *eval = gsl_vector_alloc(P);
    int rc = HN_OK;
    if (!H || !evec || !eval) {
        rc = hn_err_set(err, HN_ENOMEM, "trained: out of memory");
        goto done;
    }
    while (rel(c->gn, c->scale0) > HN_TRAINED_GTOL && info->newton_iters < HN_TRAINED_NEWTON_ITERS) {
        if ((rc = hn_hessian_full(c->m, theta, c->s, H, err)) != 0 ||
            (rc = hn_eig_sym_lapack(H, eval, evec, err)) != 0)
            break;
        newton_direction(eval, evec, c->g, c->step);
        info->newton_iters++;
        if (!line_search(c, theta))
            break;
    }
done:
    if (H) gsl_matrix_free(H);
    if (evec) gsl_matrix_free(evec);
    if (eval) gsl_vector_free(eval);
    return rc;
}

int hn_trained_minimize(const hn_model *m, double *theta, const hn_samples *s, hn_trained_info *info,
                        hn_err *err)
{
    const size_t P = m->n_params;
    memset(info, 0, sizeof *info);
    min_ctx c = {m, s, NULL, hn_calloc(P, sizeof(double)), hn_calloc(P, sizeof(double)),
                 hn_calloc(P, sizeof(double)), hn_calloc(P, sizeof(double)), hn_calloc(P, sizeof(double)),
                 0, 0, 0, 0};
    int rc = (!c.g || !c.gi || !c.gt || !c.trial || !c.step) ? hn_err_set(err, HN_ENOMEM, "trained: out of memory")
                                                   : hn_ws_alloc(m, &c.ws, err);
    if (!rc)
        rc = adam_phase(&c, theta, info, err);
    if (!rc)
        rc = newton_phase(&c, theta, info, err);
    if (!rc) {
        /* the reported gradient: recomputed at the final theta */
        grad_stats(m, theta, s, c.ws, c.g, c.gi, &c.loss, &c.scale);
        info->grad_rel = rel(hn_vec_norm(c.g, P), c.scale0);
        /* a net dead at its start or at its end (every ReLU off, f constant) has a zero gradient
         * that says nothing: not a trained minimum */
        info->converged = c.scale0 > 0 && (c.scale > 0 || c.loss == 0) && info->grad_rel <= HN_TRAINED_GTOL;
    }
    hn_ws_free(c.ws);
    hn_free(c.g);
    hn_free(c.gi);
    hn_free(c.gt);
    hn_free(c.trial);
    hn_free(c.step);
    return rc;
}

/* ------------------------------------------------------------ the networks */

static size_t uni(gsl_rng *r, size_t lo, size_t hi) { return lo + gsl_rng_uniform_int(r, hi - lo + 1); }

/* Attempt a of network i: conv-only (the last conv gives the K logits at
 * 1x1), no pooling; returns k.  Four kinds, cycling with i (1-D and 2-D
 * alternating within each kind):
 *   0  cross-entropy, two convs with a ReLU, k = 2P random labels (more
 *      than the net can separate: L_k has a finite minimum);
 *   1  cross-entropy, one conv (a linear classifier, L = 0), k = 2P:
 *      L_k strictly convex, its minimum unique;
 *   2  MSE, two or three convs with ReLUs, K = 2, k = P/4: the net fits its
 *      k samples exactly (2k residuals, P weights), theta* a global minimum
 *      of L_k with l_i = 0, and sample k+1 is new;
 *   3  MSE, two convs with a ReLU, K = 2, k = P: more residuals than
 *      weights, no interpolation. */
static size_t trained_spec(gsl_rng *r, size_t i, hn_netspec *ns)
{
    const size_t kind = i % 4, round = (i / 4) % 2;
    memset(ns, 0, sizeof *ns);
    ns->mse = kind >= 2;
    ns->dim = (int)((round + kind) % 2) + 1;
    ns->K = ns->mse ? 2 : uni(r, 2, 3);
    ns->n_conv = kind == 1 ? 1 : kind == 2 && round ? 3 : 2;
    ns->in_c = ns->dim == 1 ? uni(r, 1, 2) : 1;
    ns->in_h = ns->dim == 1 ? 1 : uni(r, 3, 4) + (ns->n_conv == 3);
    ns->in_w = ns->dim == 1 ? uni(r, 5, 7) + (ns->n_conv == 3) : uni(r, 3, 4) + (ns->n_conv == 3);
    size_t h = ns->in_h, w = ns->in_w, P = 0, cin = ns->in_c;
    for (size_t c = 0; c + 1 < ns->n_conv; c++) {
        ns->kh[c] = ns->dim == 1 ? 1 : 2;
        ns->kw[c] = ns->dim == 1 ? uni(r, 2, 3) : 2;
        ns->ch[c] = 2;
        P += cin * ns->ch[c] * ns->kh[c] * ns->kw[c];
        cin = ns->ch[c];
        h -= ns->kh[c] - 1;
        w -= ns->kw[c] - 1;
    }
    ns->kh[ns->n_conv - 1] = h;
    ns->kw[ns->n_conv - 1] = w;
    ns->ch[ns->n_conv - 1] = ns->K;
    P += cin * ns->K * h * w;
    return kind == 2 ? P / 4 : kind == 3 ? P : 2 * P;
}

/* One attempt: draw network i's spec, weights and samples from stream
 * (i, a) and train. */
static int trained_attempt(unsigned long seed, size_t i, size_t a, hn_inst *in, hn_trained_info *info, hn_err *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    gsl_rng_set(r, hn_seed_derive(seed, "audit/trained", i * HN_TRAINED_ATTEMPTS + a));
    hn_netspec ns;
    size_t k = trained_spec(r, i, &ns);
    int rc = hn_inst_alloc(in, &ns, k + 1, err);
    if (!rc) {
        in->lk = k;
        /* PyTorch's init (uniform +-1/sqrt(fan_in)), x uniform in [0, 1], random labels / targets */
        hn_family_draw(r, in->m, 1.0, 0, in->theta, in->s);
        hn_samples first = *in->s;
        first.n = k;
        rc = hn_trained_minimize(in->m, in->theta, &first, info, err);
        if (rc)
            hn_inst_free(in);
    }
    gsl_rng_free(r);
    return rc;
}

/* Network i as an audit instance (delta unset), its family named by how the training ended. */
static int trained_inst(unsigned long seed, size_t i, hn_inst *in, hn_trained_info *info, hn_err *err)
{
    int rc = HN_OK;
    /* a ReLU net's minimum can sit on a kink (a pre-activation at 0), where
     * no gradient vanishes: the next attempt draws another net */
    for (size_t a = 0; a < HN_TRAINED_ATTEMPTS; a++) {
        if (a)
            hn_inst_free(in);
        if ((rc = trained_attempt(seed, i, a, in, info, err)) != 0 || info->converged)
            break;
    }
    if (!rc) {
        static const char *names[2][2] = {{"trained", "trained (iteration cap)"},
                                          {"trained-mse", "trained-mse (iteration cap)"}};
        in->family = names[in->ns.mse][!info->converged];
    }
    return rc;
}

int hn_trained_net(unsigned long seed, size_t i, hn_netspec *ns, size_t *k, hn_model **m, double **theta,
                   hn_samples **s, hn_trained_info *info, hn_err *err)
{
    hn_inst in;
    int rc = trained_inst(seed, i, &in, info, err);
    if (rc)
        return rc;
    *ns = in.ns;
    *k = in.lk;
    *m = in.m;
    *theta = in.theta;
    *s = in.s;
    return HN_OK;
}

/* delta = sign R u for point j of a trained net (u a uniform direction). */
static void trained_delta(const double *u, size_t P, double nstar, size_t j, double *delta)
{
    double R = pow(10.0, -3.0 + (double)(j / 2)) * nstar, sg = j % 2 ? -1.0 : 1.0;
    for (size_t p = 0; p < P; p++)
        delta[p] = sg * R * u[p];
}

static int trained_points(const hn_audit_opts *o, size_t i, hn_inst *in, const int *selected, hn_cstat *stats,
                          hn_audit_run_info *info, hn_err *err)
{
    const size_t P = in->m->n_params;
    double *u = hn_calloc(P, sizeof *u);
    in->delta = hn_calloc(P, sizeof *in->delta);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!u || !in->delta || !r) {
        hn_free(u);
        if (r)
            gsl_rng_free(r);
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    }
    gsl_rng_set(r, hn_seed_derive(o->seed, "audit/trained-delta", i));
    for (size_t p = 0; p < P; p++)
        u[p] = 2 * gsl_rng_uniform(r) - 1;
    double nu = hn_vec_norm(u, P), nstar = hn_vec_norm(in->theta, P);
    for (size_t p = 0; p < P; p++)
        u[p] /= nu;
    int rc = HN_OK;
    for (size_t j = 0; j < HN_TRAINED_PER_NET && !rc; j++) {
        trained_delta(u, P, nstar, j, in->delta);
        rc = hn_audit_evaluate(in, selected, stats, err);
        info->networks++;
    }
    hn_free(u);
    gsl_rng_free(r);
    return rc;
}

int hn_audit_trained(const hn_audit_opts *o, const int *selected, hn_cstat *stats, hn_audit_run_info *info,
                     hn_err *err)
{
    const double t0 = hn_clock_s();
    int rc = HN_OK;
    for (size_t i = 0; i < o->n_trained && !rc; i++) {
        if (hn_clock_s() - t0 > o->budget_seconds) {
            info->truncated = 1;
            break;
        }
        hn_inst in;
        hn_trained_info ti;
        rc = trained_inst(o->seed, i, &in, &ti, err);
        if (rc)
            break;
        hn_progress_line(o->progress, o->progress_ctx, 512,
                         "audit: trained network %zu/%zu (%s, %zu parameters, k = %zu): |grad L_k| / mean "
                         "|grad l_i| = %.2g after %zu Adam and %zu Newton steps%s",
                         i + 1, o->n_trained, in.family, in.m->n_params, in.lk, ti.grad_rel, ti.adam_steps,
                         ti.newton_iters, ti.converged ? "" : " (iteration cap: not a minimum to 1e-12)");
        rc = trained_points(o, i, &in, selected, stats, info, err);
        hn_inst_free(&in);
    }
    return rc;
}
