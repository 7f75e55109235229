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
#include "audit/report.h"
#include "audit/trained.h"
#include "base/clock.h"
#include "base/progress.h"

void hn_audit_defaults(hn_audit_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->budget_seconds = 110;
    o->n_random = 280;
    o->n_adversarial = 140;
    o->nm_iterations = 100;
    o->n_trained = 8;
    o->out_dir = "audit-out";
    o->figures = 1;
}

int hn_audit_collect(const hn_audit_opts *o, hn_cstat *stats, int *selected, hn_audit_run_info *info,
                     hn_err *err)
{
    const size_t nc = hn_claims_count();
    int rc = hn_audit_select_claims(o->claims, selected, err);
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
        int mrc = hn_inst_make(o->seed, idx, adv, &in, err);
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
        rc = hn_audit_evaluate(&in, selected, stats, err);
        hn_inst_free(&in);
        info->networks++;
        if (i % 25 == 0 || i + 1 == total)
            hn_progress_line(o->progress, o->progress_ctx, 512, "audit: network %zu/%zu (%s), %.1f s", i + 1, total, adv ? "adversarial" : "random",
                     hn_clock_s() - t0);
    }
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
        hn_progress_line(o->progress, o->progress_ctx, 512, "audit: local search for %s (worst ratio so far %.3g)", cl->id, stats[c].worst_ratio);
        rc = hn_audit_local_search(cl, &stats[c], o->nm_iterations, err);
    }
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
    if ((rc = hn_audit_sweeps(o->seed, studies.sweeps, &studies.n_sweeps, err)) != 0 ||
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
        results[c].sup = stats[c].sup;
    }
    hn_cstats_free(stats, nc);
    hn_free(selected);
    return rc;
}
