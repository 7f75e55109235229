/* hessnorm — the audit: families, search, verdicts (see audit.h). */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/spectra.h"
#include "base/clock.h"
#include "base/progress.h"
#include "audit/internal.h"
#include "audit/report.h"
#include "audit/families.h"

void hn_audit_defaults(hn_audit_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->budget_seconds = 110;
    o->n_random = 280;
    o->n_adversarial = 140;
    o->nm_iterations = 100;
    o->out_dir = "audit-out";
    o->figures = 1;
}

/* ------------------------------------------------------------ instances */

void hn_inst_free(hn_inst *in)
{
    if (!in)
        return;
    hn_model_free(in->m);
    hn_free(in->theta);
    hn_free(in->delta);
    hn_samples_free(in->s);
    memset(in, 0, sizeof *in);
}

static int inst_alloc(hn_inst *in, const hn_netspec *ns, size_t n_samples, hn_err *err)
{
    memset(in, 0, sizeof *in);
    in->ns = *ns;
    int rc = hn_netspec_model(ns, &in->m, err);
    if (rc)
        return rc;
    in->theta = hn_calloc(in->m->n_params, sizeof(double));
    if (!in->theta || (rc = hn_samples_alloc(in->m, n_samples, &in->s, err)) != 0) {
        hn_inst_free(in);
        return rc ? rc : hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    }
    in->s->batched = n_samples > 1;
    return HN_OK;
}

int hn_inst_copy(hn_inst *dst, const hn_inst *src, hn_err *err)
{
    int rc = inst_alloc(dst, &src->ns, src->s->n, err);
    if (rc)
        return rc;
    const size_t P = src->m->n_params;
    memcpy(dst->theta, src->theta, P * sizeof(double));
    memcpy(dst->s->x, src->s->x, src->s->n * src->s->in_size * sizeof(double));
    if (src->s->y_class)
        memcpy(dst->s->y_class, src->s->y_class, src->s->n * sizeof(long));
    if (src->s->y_vec)
        memcpy(dst->s->y_vec, src->s->y_vec, src->s->n * src->m->classes * sizeof(double));
    dst->lk = src->lk;
    dst->family = src->family;
    if (src->delta) {
        dst->delta = hn_calloc(P, sizeof(double));
        if (!dst->delta) {
            hn_inst_free(dst);
            return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        }
        memcpy(dst->delta, src->delta, P * sizeof(double));
    }
    return HN_OK;
}

static double log_uniform(gsl_rng *r, double lo, double hi)
{
    return pow(10.0, lo + (hi - lo) * gsl_rng_uniform(r));
}

/* Instance i of the run: its own rng stream, so instance i does not depend
 * on what came before it. */
static int make_instance(unsigned long seed, size_t i, int adversarial, hn_inst *in, hn_err *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    gsl_rng_set(r, seed * 1000003UL + i * 7919UL + (adversarial ? 500009UL : 0));
    hn_netspec ns;
    /* cycle through the targeted families so every statement's own setting
     * is drawn as often as the others */
    hn_family_target target = (hn_family_target)(i % HN_FAM_COUNT);
    hn_family_random_spec(r, &ns, target);
    int land = target == HN_FAM_PURE;
    int interp = land && gsl_rng_uniform(r) < 0.5;
    size_t k = 0;
    int mode = 0;
    double scale = log_uniform(r, -1.5, 1.0);
    const char *fam = "random";
    if (land) {
        /* small conv-only nets without pooling: Theorems 1-2, equation (1) */
        ns.n_fc = 0;
        ns.pool = 0;
        ns.mse = interp;
        k = 1 + gsl_rng_uniform_int(r, 4);
        fam = interp ? "landscape-interpolating" : "landscape";
        scale = log_uniform(r, -0.5, 0.5);
    }
    if (land && adversarial) {
        ns.mse = interp = (i / HN_FAM_COUNT) % 2 == 0;
        fam = interp ? "landscape-interpolating-extreme" : "landscape-extreme";
        static const double lscales[] = {1e-6, 1e-4, 1e-2, 3.0};
        scale = lscales[(i / (2 * HN_FAM_COUNT)) % 4];
    }
    if (adversarial && !land) {
        /* family cycles fastest, then the weight scale, then the construction */
        int a = (int)((i / HN_FAM_COUNT + i / (5 * HN_FAM_COUNT)) % 6);
        static const double scales[] = {1e-3, 1e-1, 1.0, 10.0, 100.0};
        scale = scales[(i / HN_FAM_COUNT) % 5];
        switch (a) {
        case 0: mode = 1; fam = "constant-positive"; break;
        case 1: mode = 2; fam = "constant-signed"; break;
        case 2: /* 1x1 kernels everywhere but the last conv */
            fam = "1x1-kernels";
            mode = 1;
            for (size_t c = 0; c + 1 < ns.n_conv; c++)
                ns.kh[c] = ns.kw[c] = 1;
            if (!ns.n_fc && ns.n_conv >= 1) {
                size_t h = ns.in_h, w = ns.in_w;
                if (ns.pool && ns.pool_after + 1 < ns.n_conv) {
                    if (ns.dim == 2) h /= 2;
                    w /= 2;
                }
                ns.kh[ns.n_conv - 1] = ns.dim == 1 ? 1 : h;
                ns.kw[ns.n_conv - 1] = w;
            }
            break;
        case 3: ns.mse = 1; mode = 1; fam = "mse-constant"; break;
        case 4: { /* the tightest pooled net: one channel, 1x1 kernels, a 2x2
                   * input pooled to 1x1, MSE with K = 1 (every norm in the
                   * chain is attained) */
            fam = "minimal-pooled-1x1";
            mode = 1;
            size_t nconv = ns.n_conv < 2 ? 2 : ns.n_conv;
            memset(&ns, 0, sizeof ns);
            ns.dim = 2;
            ns.in_c = 1;
            ns.in_h = ns.in_w = 2;
            ns.n_conv = nconv;
            for (size_t c = 0; c < nconv; c++) {
                ns.ch[c] = 1;
                ns.kh[c] = ns.kw[c] = 1;
            }
            ns.K = 1;
            ns.mse = 1;
            ns.pool = target == HN_FAM_AVGPOOL ? 2 : 1;
            ns.pool_replaces_relu = 1;
            ns.pool_after = (i / HN_FAM_COUNT) % (nconv - 1);
            ns.kpool = 2;
            break;
        }
        default: fam = "random-extreme-scale"; break;
        }
    }
    int rc = inst_alloc(in, &ns, land ? k + 1 : 1, err);
    if (rc) {
        /* the 1x1 rewrite can make a spec invalid: fall back to the random spec */
        gsl_rng_free(r);
        return rc;
    }
    in->family = fam;
    in->lk = k;
    hn_family_draw(r, in->m, scale, mode, in->theta, in->s);
    if (interp && (rc = hn_family_interpolate(in->m, in->theta, in->s, err)) != 0) {
        hn_inst_free(in);
        gsl_rng_free(r);
        return rc;
    }
    if (land) {
        const size_t P = in->m->n_params;
        in->delta = hn_calloc(P, sizeof(double));
        if (!in->delta) {
            hn_inst_free(in);
            gsl_rng_free(r);
            return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        }
        double nt = hn_vec_norm(in->theta, P), nd = 0;
        for (size_t j = 0; j < P; j++) {
            in->delta[j] = 2 * gsl_rng_uniform(r) - 1;
            nd += in->delta[j] * in->delta[j];
        }
        /* R relative to ||theta*||; adversarial: an absolute R in [0.1, 3]
         * around tiny or huge weights, far outside the Taylor regime */
        double R = adversarial ? log_uniform(r, -1.0, 0.5) : log_uniform(r, -3.0, 0.0) * nt;
        for (size_t j = 0; j < P; j++)
            in->delta[j] *= R / sqrt(nd);
    }
    gsl_rng_free(r);
    return HN_OK;
}

/* ------------------------------------------------------------ statistics */

static void stat_free(hn_cstat *st)
{
    hn_free(st->ratios);
    hn_inst_free(&st->cx);
    hn_inst_free(&st->worst);
}

static int push_ratio(hn_cstat *st, double r)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 64;
        double *nr = hn_realloc(st->ratios, cap * sizeof *nr);
        if (!nr)
            return -1;
        st->ratios = nr;
        st->cap = cap;
    }
    st->ratios[st->n++] = r;
    return 0;
}

static double ratio_of(const hn_claim_value *v)
{
    if (v->bound > 0)
        return v->measured / v->bound;
    return v->measured > 0 ? INFINITY : 0.0;
}

/* Record one evaluation; keeps the worst instance and the smallest
 * counterexample. */
static int record(hn_cstat *st, const hn_claim *c, const hn_claim_value *v, const hn_inst *in, hn_err *err)
{
    double r = ratio_of(v);
    if (push_ratio(st, r))
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    int viol = hn_claim_violated(c, v);
    st->violations += viol;
    st->worst_disc = fmax(st->worst_disc, v->discrepancy);
    int worse = c->rel == HN_REL_EQ ? (v->discrepancy > st->worst_disc_seen || !st->worst.m)
                                    : (r > st->worst_ratio || !st->worst.m);
    if (worse) {
        st->worst_ratio = c->rel == HN_REL_EQ ? st->worst_ratio : r;
        st->worst_disc_seen = v->discrepancy;
        st->worst_v = *v;
        hn_inst_free(&st->worst);
        int rc = hn_inst_copy(&st->worst, in, err);
        if (rc)
            return rc;
    }
    if (c->rel == HN_REL_EQ)
        st->worst_ratio = fmax(st->worst_ratio, r);
    if (viol) {
        size_t P = in->m->n_params;
        /* prefer a finite ratio (a bound that is not 0), then the fewest
         * parameters, then the largest ratio */
        double rc_old = st->cx.m ? ratio_of(&st->cx_v) : 0;
        int fin = isfinite(r), fin_old = st->cx.m && isfinite(rc_old);
        int better = !st->cx.m || (fin && !fin_old) ||
                     (fin == fin_old && (P < st->cx.m->n_params ||
                                         (P == st->cx.m->n_params && r > rc_old)));
        if (better) {
            hn_inst_free(&st->cx);
            st->cx_v = *v;
            int rc = hn_inst_copy(&st->cx, in, err);
            if (rc)
                return rc;
        }
    }
    return HN_OK;
}

static int evaluate(const hn_inst *in, const int *selected, hn_cstat *stats, int light, hn_err *err)
{
    hn_facts *f;
    int rc = hn_facts_compute_ex(&in->ns, in->m, in->theta, in->s, in->lk, in->delta, light, &f, err);
    if (rc)
        return rc;
    for (size_t c = 0; c < hn_claims_count() && !rc; c++) {
        if (!selected[c])
            continue;
        const hn_claim *cl = hn_claim_get(c);
        hn_claim_value v;
        if (hn_claim_eval(cl, f, &v) == 0)
            rc = record(&stats[c], cl, &v, in, err);
    }
    hn_facts_free(f);
    return rc;
}

/* ------------------------------------------------------------ local search */

typedef struct {
    const hn_claim *claim;
    hn_inst *in;
    double best;
    double *best_theta;
    int rc;                  /* HN_ENOMEM from an evaluation: stop the search */
    hn_err *err;
} nm_ctx;

static double nm_objective(const gsl_vector *x, void *p)
{
    nm_ctx *c = p;
    const size_t P = c->in->m->n_params;
    for (size_t j = 0; j < P; j++)
        c->in->theta[j] = gsl_vector_get(x, j);
    hn_facts *f;
    int frc = c->rc ? c->rc : hn_facts_compute_ex(&c->in->ns, c->in->m, c->in->theta, c->in->s, 0, NULL, 1, &f, c->err);
    if (frc == HN_ENOMEM)
        c->rc = frc;
    if (frc)
        return 1e300;
    hn_claim_value v;
    double r = 0;
    if (hn_claim_eval(c->claim, f, &v) == 0)
        r = ratio_of(&v);
    hn_facts_free(f);
    if (!(r > 0) || !isfinite(r))
        return 1e300;
    if (r > c->best) {
        c->best = r;
        memcpy(c->best_theta, c->in->theta, P * sizeof(double));
    }
    return -log(r);
}

/* Nelder-Mead over the weights, from the claim's worst instance. */
static int local_search(const hn_claim *cl, hn_cstat *st, size_t iters, hn_err *err)
{
    if (!st->worst.m || st->worst.lk || st->worst.m->n_params > 120)
        return HN_OK;
    hn_inst work;
    int rc = hn_inst_copy(&work, &st->worst, err);
    if (rc)
        return rc;
    const size_t P = work.m->n_params;
    nm_ctx c = {cl, &work, 0, hn_calloc(P, sizeof(double)), HN_OK, err};
    gsl_vector *x = gsl_vector_alloc(P), *step = gsl_vector_alloc(P);
    gsl_multimin_fminimizer *mm = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, P);
    if (!c.best_theta || !x || !step || !mm) {
        rc = hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        goto done;
    }
    double wmax = 0;
    for (size_t j = 0; j < P; j++) {
        gsl_vector_set(x, j, work.theta[j]);
        wmax = fmax(wmax, fabs(work.theta[j]));
    }
    memcpy(c.best_theta, work.theta, P * sizeof(double));
    gsl_vector_set_all(step, 0.3 * (wmax > 0 ? wmax : 1.0));
    gsl_multimin_function fn = {nm_objective, P, &c};
    if (gsl_multimin_fminimizer_set(mm, &fn, x, step) == GSL_SUCCESS)
        for (size_t it = 0; it < iters && !c.rc; it++)
            if (gsl_multimin_fminimizer_iterate(mm) != GSL_SUCCESS)
                break;
    if ((rc = c.rc) != 0)
        goto done;
    st->nm_best = c.best;
    if (c.best > 0) {
        memcpy(work.theta, c.best_theta, P * sizeof(double));
        hn_facts *f;
        if ((rc = hn_facts_compute_ex(&work.ns, work.m, work.theta, work.s, 0, NULL, 1, &f, err)) == 0) {
            hn_claim_value v;
            if (hn_claim_eval(cl, f, &v) == 0) {
                st->nm_ratio = ratio_of(&v);
                work.family = "Nelder-Mead from the worst draw";
                rc = record(st, cl, &v, &work, err);
                st->nm_done = 1;
            }
            hn_facts_free(f);
        }
    }
done:
    if (mm) gsl_multimin_fminimizer_free(mm);
    if (x) gsl_vector_free(x);
    if (step) gsl_vector_free(step);
    hn_free(c.best_theta);
    hn_inst_free(&work);
    return rc;
}

/* ------------------------------------------------------------ verdicts */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void finish(const hn_claim *cl, hn_cstat *st)
{
    if (st->n) {
        qsort(st->ratios, st->n, sizeof(double), cmp_double);
        st->median = st->ratios[st->n / 2];
    }
    if (cl->typo)
        st->verdict = HN_V_TYPO;
    else if (!st->n)
        st->verdict = HN_V_UNTESTED;
    else if (cl->rel == HN_REL_APPROX)
        st->verdict = HN_V_APPROX;
    else if (st->violations)
        st->verdict = HN_V_FAILS;
    else if (cl->rel == HN_REL_LE && st->worst_ratio < HN_LOOSE_RATIO)
        st->verdict = HN_V_LOOSE;
    else
        st->verdict = HN_V_HOLDS;
}

static int select_claims(const char *list, int *selected, hn_err *err)
{
    const size_t n = hn_claims_count();
    for (size_t i = 0; i < n; i++)
        selected[i] = list == NULL;
    if (!list)
        return HN_OK;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const hn_claim *c = hn_claim_find(tok);
        if (!c)
            return hn_err_set(err, HN_EINVAL, "--claims: unknown claim id '%s'", tok);
        selected[c - hn_claim_get(0)] = 1;
    }
    return HN_OK;
}

int hn_audit_collect(const hn_audit_opts *o, hn_cstat *stats, int *selected, hn_audit_run_info *info,
                     hn_err *err)
{
    const size_t nc = hn_claims_count();
    int rc = select_claims(o->claims, selected, err);
    if (rc)
        return rc;
    const double t0 = hn_clock_s();
    size_t total = o->n_random + o->n_adversarial;
    for (size_t i = 0; i < total && !rc; i++) {
        if (hn_clock_s() - t0 > o->budget_seconds) {
            info->truncated = 1;
            break;
        }
        int adv = i >= o->n_random;
        size_t idx = adv ? i - o->n_random : i;
        hn_inst in;
        int mrc = make_instance(o->seed, idx, adv, &in, err);
        if (mrc == HN_ENOMEM) {
            /* out of memory is not an invalid spec: skipping the network
             * would give a different report that claims success */
            rc = mrc;
            break;
        }
        if (mrc != 0) {
            info->skipped++;
            continue;
        }
        rc = evaluate(&in, selected, stats, 0, err);
        hn_inst_free(&in);
        info->networks++;
        if (i % 25 == 0 || i + 1 == total)
            hn_progress_line(o->progress, o->progress_ctx, 512, "audit: network %zu/%zu (%s), %.1f s", i + 1, total, adv ? "adversarial" : "random",
                     hn_clock_s() - t0);
    }
    for (size_t c = 0; c < nc && !rc; c++) {
        const hn_claim *cl = hn_claim_get(c);
        if (!selected[c] || cl->rel != HN_REL_LE || stats[c].violations || !stats[c].n)
            continue;
        if (hn_clock_s() - t0 > o->budget_seconds) {
            info->truncated = 1;
            break;
        }
        hn_progress_line(o->progress, o->progress_ctx, 512, "audit: local search for %s (worst ratio so far %.3g)", cl->id, stats[c].worst_ratio);
        rc = local_search(cl, &stats[c], o->nm_iterations, err);
    }
    for (size_t c = 0; c < nc; c++)
        finish(hn_claim_get(c), &stats[c]);
    info->seconds = hn_clock_s() - t0;
    return rc;
}

int hn_audit_run(const hn_audit_opts *o, hn_err *err)
{
    hn_gsl_quiet();
    const size_t nc = hn_claims_count();
    hn_cstat *stats = hn_calloc(nc, sizeof *stats);
    int *selected = hn_calloc(nc, sizeof *selected);
    hn_audit_run_info info;
    memset(&info, 0, sizeof info);
    int rc = HN_OK;
    if (!stats || !selected) {
        rc = hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        goto done;
    }
    if ((rc = hn_mkdir_p(o->out_dir, err)) != 0)
        goto done;
    if ((rc = hn_audit_collect(o, stats, selected, &info, err)) != 0)
        goto done;
    hn_progress_line(o->progress, o->progress_ctx, 512, "audit: %zu networks in %.1f s; writing the report", info.networks, info.seconds);
    rc = hn_audit_write(o, stats, selected, &info, err);
done:
    if (stats)
        for (size_t c = 0; c < nc; c++)
            stat_free(&stats[c]);
    hn_free(stats);
    hn_free(selected);
    return rc;
}

int hn_audit_sample(unsigned long seed, size_t n, hn_claim_result *results, hn_err *err)
{
    hn_audit_opts o;
    hn_audit_defaults(&o);
    o.seed = seed;
    o.n_random = n;
    o.n_adversarial = 0;
    o.nm_iterations = 0;
    o.budget_seconds = 1e9;
    const size_t nc = hn_claims_count();
    hn_cstat *stats = hn_calloc(nc, sizeof *stats);
    int *selected = hn_calloc(nc, sizeof *selected);
    hn_audit_run_info info;
    memset(&info, 0, sizeof info);
    int rc = (!stats || !selected) ? hn_err_set(err, HN_ENOMEM, "audit: out of memory")
                                   : hn_audit_collect(&o, stats, selected, &info, err);
    for (size_t c = 0; c < nc && !rc; c++) {
        results[c].claim = hn_claim_get(c);
        results[c].verdict = stats[c].verdict;
        results[c].samples = stats[c].n;
        results[c].violations = stats[c].violations;
        results[c].worst_ratio = stats[c].worst_ratio;
        results[c].median_ratio = stats[c].median;
        results[c].worst_discrepancy = stats[c].worst_disc;
    }
    if (stats)
        for (size_t c = 0; c < nc; c++)
            stat_free(&stats[c]);
    hn_free(stats);
    hn_free(selected);
    return rc;
}
