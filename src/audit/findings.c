/* hessnorm — the audit's findings: the basis of each verdict, found /
 * supremum, contradictions between the search and the derived suprema, and
 * the findings summary that heads audit.json, report.md and index.html.
 * Generic over the registry: nothing here names a claim id (a twin is
 * found by the ".mse" suffix, a correction by the `corrects` field). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "audit/report.h"

#define MSE_SUFFIX ".mse"

const char *hn_verdict_basis(const hn_claim *cl, const hn_cstat *st)
{
    /* the branches of hn_cstat_finish, then of hn_sup_verdict (stats.c) */
    if (cl->typo)
        return "typo";
    if (!st->n)
        return "untested";
    if (cl->rel == HN_REL_APPROX)
        return "approximation";
    if (st->violations)
        return "counterexample";
    if (cl->rel != HN_REL_LE)
        return "identity";
    if (st->sup.kind == HN_SUP_EXACT && isfinite(st->sup.value))
        return "exact supremum";
    if (st->sup.kind == HN_SUP_UPPER && st->sup.value < HN_LOOSE_RATIO)
        return "upper bound on the supremum";
    return "best found";
}

double hn_found_over_sup(const hn_claim *cl, const hn_cstat *st)
{
    if (!st->n || cl->rel == HN_REL_EQ || st->sup.kind == HN_SUP_NONE || !isfinite(st->sup.value) ||
        !(st->sup.value > 0) || !isfinite(st->worst_ratio))
        return NAN;
    return st->worst_ratio / st->sup.value;
}

int hn_sup_contradicted(const hn_claim *cl, const hn_cstat *st)
{
    if (!st->n || st->violations || cl->rel == HN_REL_EQ || st->sup.kind == HN_SUP_NONE)
        return 0;
    if (!isfinite(st->sup.value))
        return 0;
    /* an infinite ratio found against a finite supremum is a contradiction too */
    return st->worst_ratio > st->sup.value * (1 + HN_VIOLATION_RTOL);
}

void hn_sup_text(const hn_supremum *s, char *buf, size_t n)
{
    if (s->kind == HN_SUP_NONE || isnan(s->value)) {
        snprintf(buf, n, "-");
        return;
    }
    if (isinf(s->value)) {
        snprintf(buf, n, "inf");
        return;
    }
    /* the closed forms of suprema.c: 1/a and 1/(a sqrt 2), a = 1..64 */
    for (int a = 1; a <= 64; a++) {
        if (fabs(s->value * a - 1) < 1e-12) {
            if (a == 1)
                snprintf(buf, n, "1");
            else
                snprintf(buf, n, "1/%d", a);
            return;
        }
        if (fabs(s->value * a * sqrt(2.0) - 1) < 1e-12) {
            if (a == 1)
                snprintf(buf, n, "1/√2 = %.4g", s->value);
            else
                snprintf(buf, n, "1/(%d√2) = %.4g", a, s->value);
            return;
        }
    }
    snprintf(buf, n, "%.4g", s->value);
}

const hn_claim *hn_claim_twin(size_t c)
{
    const hn_claim *cl = hn_claim_get(c);
    char id[256];
    size_t len = strlen(cl->id), sl = strlen(MSE_SUFFIX);
    if (cl->loss == HN_SET_MSE && len > sl && !strcmp(cl->id + len - sl, MSE_SUFFIX)) {
        if (len - sl >= sizeof id)
            return NULL;
        memcpy(id, cl->id, len - sl);
        id[len - sl] = '\0';
    } else if (cl->loss == HN_SET_CE) {
        if ((size_t)snprintf(id, sizeof id, "%s%s", cl->id, MSE_SUFFIX) >= sizeof id)
            return NULL;
    } else {
        return NULL;
    }
    const hn_claim *t = hn_claim_find(id);
    return t && t != cl ? t : NULL;
}

/* ------------------------------------------------------------ the summary */

static void fmt(char *buf, size_t n, double x)
{
    if (isnan(x))
        snprintf(buf, n, "n/a");
    else if (isinf(x))
        snprintf(buf, n, "inf");
    else
        snprintf(buf, n, "%.4g", x);
}

/* The ids of the claims that correct claim c, with their verdicts:
 * "lemma2.corrected (loose)", comma-separated; "" when there are none. */
static void corrected_by(const hn_report *r, size_t c, char *buf, size_t n)
{
    buf[0] = '\0';
    const char *id = hn_claim_get(c)->id;
    for (size_t j = 0; j < hn_claims_count(); j++) {
        const hn_claim *o = hn_claim_get(j);
        if (!r->selected[j] || !o->corrects || strcmp(o->corrects, id))
            continue;
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s (%s)", len ? ", " : "", o->id, hn_verdict_name(r->stats[j].verdict));
    }
}

/* Appends " (corrects X)" / "; corrected by ..." to text. */
static void relations(const hn_report *r, size_t c, char *text, size_t n)
{
    const hn_claim *cl = hn_claim_get(c);
    char cb[256];
    corrected_by(r, c, cb, sizeof cb);
    size_t len = strlen(text);
    if (cl->corrects)
        len += (size_t)snprintf(text + len, n - len, " It corrects %s.", cl->corrects);
    if (cb[0] && len < n)
        snprintf(text + len, n - len, " Corrected by %s.", cb);
}

/* "holds against its exact supremum 1/√2 = 0.7071 (best found 0.7071, 1 of it)" and the like. */
static void verdict_phrase(const hn_claim *cl, const hn_cstat *st, char *buf, size_t n)
{
    char sv[64], w[32], fo[32];
    hn_sup_text(&st->sup, sv, sizeof sv);
    fmt(w, sizeof w, st->worst_ratio);
    fmt(fo, sizeof fo, hn_found_over_sup(cl, st));
    const char *basis = hn_verdict_basis(cl, st);
    const char *v = hn_verdict_name(st->verdict);
    if (!strcmp(basis, "exact supremum"))
        snprintf(buf, n, "%s: exact supremum %s, a factor %.4g below the bound (best found %s, %s of the supremum)",
                 v, sv, 1 / st->sup.value, w, fo);
    else if (!strcmp(basis, "upper bound on the supremum"))
        snprintf(buf, n, "%s: the supremum is at most %s (proven), at least a factor %.4g below the bound (best "
                         "found %s)", v, sv, 1 / st->sup.value, w);
    else if (!strcmp(basis, "best found"))
        snprintf(buf, n, "%s on the best ratio found, %s (supremum %s%s: %s)", v, w,
                 st->sup.kind == HN_SUP_NONE    ? "not known"
                 : st->sup.kind == HN_SUP_UPPER ? "at most "
                                                : "",
                 st->sup.kind == HN_SUP_NONE ? "" : sv, st->sup.why);
    else if (!strcmp(basis, "counterexample"))
        snprintf(buf, n, "fails: %zu of %zu networks violate it (worst ratio %s)", st->violations, st->n, w);
    else if (!strcmp(basis, "approximation"))
        snprintf(buf, n, "approximation: violated on %zu of %zu networks (%.3g %%), worst ratio %s", st->violations,
                 st->n, st->n ? 100.0 * (double)st->violations / (double)st->n : 0.0, w);
    else
        snprintf(buf, n, "%s (%s)", v, basis);
}

static int add(hn_report *r, size_t *cap, hn_finding_kind k, size_t c, const char *text, hn_err *err)
{
    if (r->nfind == *cap) {
        size_t nc = *cap ? 2 * *cap : 32;
        hn_finding *p = hn_realloc(r->findings, nc * sizeof *p);
        if (!p)
            return hn_err_set(err, HN_ENOMEM, "out of memory");
        r->findings = p;
        *cap = nc;
    }
    hn_finding *f = &r->findings[r->nfind++];
    f->kind = k;
    f->claim = c;
    snprintf(f->text, sizeof f->text, "%s", text);
    return HN_OK;
}

/* The finding of kind k about claim c, or 0 (nothing to say). */
static int finding_text(const hn_report *r, hn_finding_kind k, size_t c, char *t, size_t n)
{
    const hn_claim *cl = hn_claim_get(c);
    const hn_cstat *st = &r->stats[c];
    char ph[400], sv[64], w[32];
    hn_sup_text(&st->sup, sv, sizeof sv);
    fmt(w, sizeof w, st->worst_ratio);
    const int mse = cl->loss == HN_SET_MSE;
    switch (k) {
    case HN_FIND_FAILS:
        if (mse || st->verdict != HN_V_FAILS)
            return 0;
        snprintf(t, n, "%s (%s) %s fails: %zu of %zu networks violate it, worst ratio %s; counterexample %s/.",
                 cl->id, cl->location, cl->corrects ? "corrected" : "as printed", st->violations, st->n, w,
                 r->cxrel[c] ? r->cxrel[c] : "(not saved)");
        break;
    case HN_FIND_CONTRADICTION:
        if (!hn_sup_contradicted(cl, st))
            return 0;
        snprintf(t, n, "%s (%s): the best ratio found, %s, exceeds its %s supremum %s without a violation: the "
                       "derivation in suprema.c or the measurement is wrong.",
                 cl->id, cl->location, w, st->sup.kind == HN_SUP_EXACT ? "exact" : "upper bound on the", sv);
        break;
    case HN_FIND_SEARCH_GAP:
        if (st->violations || !st->n || cl->rel != HN_REL_LE || st->sup.kind != HN_SUP_EXACT ||
            !(st->sup.value > 1))
            return 0;
        snprintf(t, n, "%s (%s): its exact supremum is %s (%s), so the bound is false, but no counterexample "
                       "was found on %zu networks (best found %s, verdict %s on it): the search misses it.",
                 cl->id, cl->location, sv, st->sup.why, st->n, w, hn_verdict_name(st->verdict));
        break;
    case HN_FIND_LOOSE:
        /* a loose verdict against an exact supremum above 1 is a search gap (listed there) */
        if (mse || st->verdict != HN_V_LOOSE || (st->sup.kind == HN_SUP_EXACT && st->sup.value > 1))
            return 0;
        verdict_phrase(cl, st, ph, sizeof ph);
        snprintf(t, n, "%s (%s) is %s.", cl->id, cl->location, ph);
        break;
    case HN_FIND_TYPO:
        if (st->verdict != HN_V_TYPO)
            return 0;
        snprintf(t, n, "%s (%s) is a typo: %s.", cl->id, cl->location, cl->reading);
        break;
    case HN_FIND_APPROX:
        if (mse || st->verdict != HN_V_APPROX)
            return 0;
        verdict_phrase(cl, st, ph, sizeof ph);
        snprintf(t, n, "%s (%s) is an %s.", cl->id, cl->location, ph);
        break;
    case HN_FIND_MSE:
        if (!mse || st->verdict == HN_V_TYPO)
            return 0;
        verdict_phrase(cl, st, ph, sizeof ph);
        snprintf(t, n, "%s (the MSE extension, A = I) %s.", cl->id, ph);
        if (r->cxrel[c]) {
            size_t len = strlen(t);
            snprintf(t + len, n - len, " Counterexample %s/.", r->cxrel[c]);
        }
        break;
    }
    relations(r, c, t, n);
    return 1;
}

int hn_report_findings(hn_report *r, hn_err *err)
{
    static const hn_finding_kind order[] = {HN_FIND_FAILS, HN_FIND_CONTRADICTION, HN_FIND_SEARCH_GAP, HN_FIND_LOOSE,
                                            HN_FIND_TYPO, HN_FIND_APPROX, HN_FIND_MSE};
    size_t cap = 0;
    char t[sizeof r->findings->text];
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        for (size_t c = 0; c < hn_claims_count(); c++) {
            if (!r->selected[c] || !finding_text(r, order[i], c, t, sizeof t))
                continue;
            int rc = add(r, &cap, order[i], c, t, err);
            if (rc)
                return rc;
        }
    return HN_OK;
}

const char *hn_finding_kind_name(hn_finding_kind k)
{
    static const char *n[] = {"fails", "loose", "typo", "approximation", "mse", "contradiction", "search gap"};
    return k <= HN_FIND_SEARCH_GAP ? n[k] : "?";
}
