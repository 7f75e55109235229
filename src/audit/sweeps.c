/* hessnorm — the audit's parameter sweeps: measured ||H_O|| and the paper's
 * bounds against depth, kernel size, channels and the pooling position
 * (median of hn_audit_opts.sweep_draws draws per point, 5 by default), run
 * before the report is written. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/alloc.h"
#include "hessnorm/seed.h"
#include "audit/internal.h"
#include "audit/report.h"
#include "audit/families.h"

static double median(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : NAN;
}

/* Out of memory is returned (HN_ENOMEM, message in err) rather than
 * skipped: a skipped draw would silently change the medians. */
static int sweep_point(unsigned long seed, const hn_netspec *ns, hn_sweep *sw, size_t pt, hn_err *err)
{
    enum { DRAWS = HN_AUDIT_SWEEP_DRAWS_MAX }; /* the stream index's stride: fewer draws take the first ones */
    double me[DRAWS], bo[4][DRAWS];
    size_t got = 0;
    char label[96]; /* the stream label: "audit/sweep/<name>" (hessnorm/seed.h) */
    snprintf(label, sizeof label, "audit/sweep/%s", sw->name);
    for (size_t d = 0; d < sw->draws; d++) {
        hn_model *m;
        int rc = hn_netspec_model(ns, &m, err);
        if (rc)
            return rc == HN_ENOMEM ? rc : HN_OK; /* an invalid spec: the point stays empty, as before */
        double *th = hn_calloc(m->n_params, sizeof *th);
        hn_samples *s = NULL;
        gsl_rng *r = NULL;
        if (!th || (rc = hn_samples_alloc(m, 1, &s, err)) != 0 ||
            !(r = gsl_rng_alloc(gsl_rng_mt19937))) {
            hn_free(th);
            hn_samples_free(s);
            hn_model_free(m);
            return rc ? rc : hn_err_set(err, HN_ENOMEM, "sweep %s: out of memory", sw->name);
        }
        gsl_rng_set(r, hn_seed_derive(seed, label, (uint64_t)pt * DRAWS + d));
        hn_family_draw(r, m, 1.0, 0, th, s);
        gsl_rng_free(r);
        hn_facts *f;
        if ((rc = hn_facts_compute_groups(ns, m, th, s, 0, NULL, HN_FG_LIGHT, &f, err)) == HN_ENOMEM) {
            hn_samples_free(s);
            hn_free(th);
            hn_model_free(m);
            return rc;
        }
        if (rc == 0) {
            me[got] = f->HO_norm;
            for (size_t b = 0; b < sw->nb; b++) {
                hn_claim_value v;
                const hn_claim *c = hn_claim_find(sw->bound_ids[b]);
                bo[b][got] = (c && hn_claim_eval(c, f, &v) == 0) ? v.bound : NAN;
            }
            got++;
            hn_facts_free(f);
        }
        hn_samples_free(s);
        hn_free(th);
        hn_model_free(m);
    }
    sw->measured[pt] = median(me, got);
    for (size_t b = 0; b < sw->nb; b++)
        sw->bound[b][pt] = median(bo[b], got);
    return HN_OK;
}

static void base_spec(hn_netspec *ns, size_t n_conv, size_t k, size_t C, size_t size)
{
    memset(ns, 0, sizeof *ns);
    ns->dim = 2;
    ns->in_c = 1;
    ns->in_h = ns->in_w = size;
    ns->n_conv = n_conv;
    ns->K = 3;
    ns->kpool = 2;
    size_t hw = size;
    for (size_t i = 0; i + 1 < n_conv; i++) {
        ns->ch[i] = C;
        ns->kh[i] = ns->kw[i] = k;
        hw -= k - 1;
    }
    ns->ch[n_conv - 1] = 3;
    ns->kh[n_conv - 1] = ns->kw[n_conv - 1] = hw;
}

static void fix_last(hn_netspec *ns)
{
    size_t hw = ns->in_h;
    for (size_t i = 0; i + 1 < ns->n_conv; i++) {
        hw -= ns->kh[i] - 1;
        if (ns->pool && ns->pool_after == i)
            hw /= ns->kpool;
    }
    ns->kh[ns->n_conv - 1] = ns->kw[ns->n_conv - 1] = hw;
}

/* Returns the number of sweeps, or a negative HN_E* code. */
static int run_sweeps(unsigned long seed, size_t draws, hn_sweep *sw, hn_err *err)
{
    if (draws == 0)
        return 0;
    if (draws > HN_AUDIT_SWEEP_DRAWS_MAX)
        return hn_err_set(err, HN_EINVAL, "audit.sweep_draws: %zu, at most %d", draws, HN_AUDIT_SWEEP_DRAWS_MAX);
    hn_netspec ns;
    int rc;
    /* depth */
    sw[0] = (hn_sweep){.name = "depth", .xlabel = "number of conv layers L+1", .draws = draws, .bound_ids = {"theorem2", "lemma2.corrected"}, .nb = 2};
    for (size_t L1 = 2; L1 <= 5; L1++) {
        base_spec(&ns, L1, 2, 2, 7);
        sw[0].x[sw[0].npts] = (double)L1;
        if ((rc = sweep_point(seed, &ns, &sw[0], sw[0].npts++, err)) != 0)
            return rc;
    }
    sw[1] = (hn_sweep){.name = "kernel", .xlabel = "kernel size k", .draws = draws, .bound_ids = {"theorem2", "lemma2.corrected"}, .nb = 2};
    for (size_t k = 1; k <= 4; k++) {
        base_spec(&ns, 3, k, 2, 9);
        sw[1].x[sw[1].npts] = (double)k;
        if ((rc = sweep_point(seed, &ns, &sw[1], sw[1].npts++, err)) != 0)
            return rc;
    }
    sw[2] = (hn_sweep){.name = "channels", .xlabel = "channels C", .draws = draws, .bound_ids = {"theorem2", "lemma2.corrected"}, .nb = 2};
    for (size_t C = 1; C <= 4; C++) {
        base_spec(&ns, 3, 2, C, 7);
        sw[2].x[sw[2].npts] = (double)C;
        if ((rc = sweep_point(seed, &ns, &sw[2], sw[2].npts++, err)) != 0)
            return rc;
    }
    sw[3] = (hn_sweep){.name = "pool_max", .xlabel = "max-pool position l", .draws = draws, .bound_ids = {"lemma3", "lemma3.corrected", "theorem2"}, .nb = 3};
    sw[4] = (hn_sweep){.name = "pool_avg", .xlabel = "avg-pool position l", .draws = draws, .bound_ids = {"lemma4", "lemma4.corrected", "theorem2"}, .nb = 3};
    for (int t = 1; t <= 2; t++)
        for (size_t l = 1; l <= 3; l++) {
            base_spec(&ns, 4, 2, 2, 11);
            ns.pool = t;
            ns.pool_replaces_relu = 1;
            ns.pool_after = l - 1;
            fix_last(&ns);
            hn_sweep *s = &sw[2 + t];
            s->x[s->npts] = (double)l;
            if ((rc = sweep_point(seed, &ns, s, s->npts++, err)) != 0)
                return rc;
        }
    return 5;
}

int hn_audit_sweeps(unsigned long seed, size_t draws, hn_sweep *sw, size_t *n_sweeps, hn_err *err)
{
    memset(sw, 0, HN_AUDIT_SWEEPS * sizeof *sw);
    *n_sweeps = 0;
    int n = run_sweeps(seed, draws, sw, err);
    if (n < 0)
        return n;
    *n_sweeps = (size_t)n;
    return HN_OK;
}
