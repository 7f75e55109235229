/* hessnorm — the audit run (see audit.h): the collection over random and
 * adversarial networks, the local search on what they left unbroken, then
 * the sweeps and sharp constants, then the writer. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/outdir.h"
#include "audit/internal.h"
#include "audit/report.h"
#include "audit/trained.h"
#include "audit/families.h"
#include "base/clock.h"
#include "base/progress.h"

void hn_audit_defaults(hn_audit_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->budget_seconds = 110;
    o->n_random = 280;
    o->n_adversarial = 140;
    o->n_structured = (size_t)-1;
    o->n_scaled = 140;
    o->nm_iterations = 100;
    o->n_trained = 8;
    o->ascent_starts = 3;
    o->ascent_evals = 600;
    o->out_dir = "audit-out";
    o->figures = 1;
    o->sweep_draws = HN_AUDIT_SWEEP_DRAWS_MAX;
}

/* The best few instances of a claim (by ratio) that the search starts
 * from, remembered by kind and number (hn_inst_make rebuilds them). */
#define HN_MAX_STARTS 4
typedef struct {
    double r[HN_MAX_STARTS];
    hn_inst_kind kind[HN_MAX_STARTS];
    size_t idx[HN_MAX_STARTS];
    size_t n;
} audit_starts;

/* Keep (kind, idx) among the best o->ascent_starts of claim c when its
 * last recorded ratio (stats: appended in order) is finite and positive. */
static void starts_note(audit_starts *sp, size_t keep, double r, hn_inst_kind kind, size_t idx)
{
    if (!(r > 0) || !isfinite(r) || !keep)
        return;
    if (keep > HN_MAX_STARTS)
        keep = HN_MAX_STARTS;
    size_t pos = sp->n < keep ? sp->n : keep;
    while (pos > 0 && sp->r[pos - 1] + HN_WORST_TIE * fabs(sp->r[pos - 1]) < r)
        pos--; /* a tie stays behind the earlier instance (HN_WORST_TIE) */
    if (pos >= keep)
        return;
    size_t last = sp->n < keep ? sp->n : keep - 1;
    for (size_t j = last; j > pos; j--) {
        sp->r[j] = sp->r[j - 1];
        sp->kind[j] = sp->kind[j - 1];
        sp->idx[j] = sp->idx[j - 1];
    }
    sp->r[pos] = r;
    sp->kind[pos] = kind;
    sp->idx[pos] = idx;
    if (sp->n < keep)
        sp->n++;
}

static const char *kind_name(hn_inst_kind k)
{
    static const char *n[] = {"random", "adversarial", "structured", "group-scales"};
    return n[k];
}

/* The draws: random, adversarial, structured, group-scale networks in
 * that order; every selected claim is recorded, and its best instances
 * are noted for the search.  Returns HN_ENOMEM or an evaluation error. */
static int collect_draws(const hn_audit_opts *o, const int *selected, hn_cstat *stats, audit_starts *sp,
                         hn_audit_run_info *info, double t0, hn_err *err)
{
    const size_t nc = hn_claims_count(), nst = hn_family_structured_count();
    const size_t counts[4] = {o->n_random, o->n_adversarial, o->n_structured < nst ? o->n_structured : nst,
                              o->n_scaled};
    const size_t total = counts[0] + counts[1] + counts[2] + counts[3];
    size_t done = 0, *before = hn_calloc(nc, sizeof *before);
    int *sel_ineq = hn_calloc(nc, sizeof *sel_ineq);
    if (!before || !sel_ineq) {
        hn_free(before);
        hn_free(sel_ineq);
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    }
    /* the group-scale draws (10^-4 .. 10^4 per layer group) are for the
     * inequalities: an identity's HN_EQ_RTOL assumes factors of comparable
     * size, and across 16 orders of magnitude two routes to H_O differ by
     * rounding alone (~3e-9 relative seen on lemma1, appA.block) */
    for (size_t c = 0; c < nc; c++)
        sel_ineq[c] = selected[c] && hn_claim_get(c)->rel != HN_REL_EQ;
    int rc = HN_OK;
    for (int k = 0; k < 4 && !rc; k++)
        for (size_t idx = 0; idx < counts[k] && !rc; idx++, done++) {
            if (hn_clock_s() - t0 > o->budget_seconds) {
                info->truncated = 1;
                break;
            }
            hn_inst in;
            int mrc = hn_inst_make(o->seed, idx, (hn_inst_kind)k, &in, err);
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
            for (size_t c = 0; c < nc; c++)
                before[c] = stats[c].n;
            rc = hn_audit_evaluate(&in, k == HN_INST_SCALED ? sel_ineq : selected, stats, err);
            for (size_t c = 0; c < nc && !rc && !in.lk; c++)
                if (stats[c].n > before[c])
                    starts_note(&sp[c], o->ascent_starts, stats[c].ratios[stats[c].n - 1], (hn_inst_kind)k, idx);
            hn_inst_free(&in);
            info->networks++;
            if (done % 25 == 0 || done + 1 == total)
                hn_progress_line(o->progress, o->progress_ctx, 512, "audit: network %zu/%zu (%s), %.1f s",
                                 done + 1, total, kind_name((hn_inst_kind)k), hn_clock_s() - t0);
        }
    hn_free(before);
    hn_free(sel_ineq);
    return rc;
}

/* The search for one unbroken inequality: Nelder-Mead from its worst
 * instance, then gradient ascent from its best noted instances. */
static int search_claim(const hn_audit_opts *o, const hn_claim *cl, hn_cstat *st, const audit_starts *sp,
                        double t0, hn_err *err)
{
    hn_progress_line(o->progress, o->progress_ctx, 512,
                     "audit: search for %s: Nelder-Mead %zu iterations, ascent from %zu starts x %zu "
                     "evaluations (worst ratio so far %.3g), %.1f s",
                     cl->id, o->nm_iterations, sp->n, o->ascent_evals, st->worst_ratio, hn_clock_s() - t0);
    int rc = o->nm_iterations ? hn_audit_local_search(cl, st, o->nm_iterations, err) : HN_OK;
    for (size_t j = 0; j < sp->n && !rc && o->ascent_evals && !st->violations; j++) {
        hn_inst in;
        int mrc = hn_inst_make(o->seed, sp->idx[j], sp->kind[j], &in, err);
        if (mrc == HN_ENOMEM)
            return mrc;
        if (mrc)
            continue;
        double reached;
        rc = hn_audit_ascent(cl, st, &in, o->ascent_evals, &reached, err);
        hn_inst_free(&in);
    }
    return rc;
}

int hn_audit_collect(const hn_audit_opts *o, hn_cstat *stats, int *selected, hn_audit_run_info *info,
                     hn_err *err)
{
    const size_t nc = hn_claims_count();
    int rc = hn_audit_select_claims(o->claims, selected, err);
    if (rc)
        return rc;
    const double t0 = hn_clock_s();
    audit_starts *sp = hn_calloc(nc, sizeof *sp);
    if (!sp)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    rc = collect_draws(o, selected, stats, sp, info, t0, err);
    /* equation (1) and Assumption 1 at trained minima (audit/trained.c) */
    if (!rc && !info->truncated)
        rc = hn_audit_trained(o, selected, stats, info, err);
    for (size_t c = 0; c < nc && !rc; c++) {
        const hn_claim *cl = hn_claim_get(c);
        if (!selected[c] || cl->rel != HN_REL_LE || stats[c].violations || !stats[c].n)
            continue;
        if (hn_clock_s() - t0 > o->budget_seconds) {
            info->truncated = 1;
            break;
        }
        rc = search_claim(o, cl, &stats[c], &sp[c], t0, err);
    }
    hn_free(sp);
    for (size_t c = 0; c < nc; c++)
        hn_cstat_finish(hn_claim_get(c), &stats[c]);
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
    hn_audit_studies studies;
    memset(&studies, 0, sizeof studies);
    hn_outdir od = {.lock_fd = -1};
    studies.sup_A = NAN;
    int rc = HN_OK;
    if (!stats || !selected) {
        rc = hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        goto done;
    }
    /* the output folder holds exactly this run: locked now, written into a
     * fresh folder beside it, swapped into place at the end (outdir.h) */
    if ((rc = hn_outdir_begin(&od, o->out_dir, err)) != 0)
        goto done;
    if ((rc = hn_audit_collect(o, stats, selected, &info, err)) != 0)
        goto done;
    /* the sweeps and the sharp constant, before writing: the writer only writes */
    if ((rc = hn_audit_sweeps(o->seed, o->sweep_draws, studies.sweeps, &studies.n_sweeps, err)) != 0 ||
        (rc = hn_sharp_sup_A(&studies.sup_A, err)) != 0)
        goto done;
    hn_progress_line(o->progress, o->progress_ctx, 512, "audit: %zu networks in %.1f s; writing the report", info.networks, info.seconds);
    hn_audit_opts into = *o;
    into.out_dir = hn_outdir_path(&od);
    if ((rc = hn_audit_write(&into, stats, selected, &info, &studies, err)) == 0)
        rc = hn_outdir_commit(&od, err);
done:
    if (rc)
        hn_outdir_name_target(&od, err);
    hn_outdir_abort(&od); /* no-op after a commit */
    hn_cstats_free(stats, nc);
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
    o.n_structured = 0;
    o.n_scaled = 0;
    o.nm_iterations = 0;
    o.ascent_evals = 0;
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
        results[c].sup = stats[c].sup;
    }
    hn_cstats_free(stats, nc);
    hn_free(selected);
    return rc;
}
