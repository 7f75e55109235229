/* hessnorm — the tightness table of one trained model at theta-hat: every
 * claim of the audit (hn_audit_one_route, dense or matrix-free by size) on
 * the first samples of the model's sample.safetensors, each alone, as the
 * "tightness" object of metrics.json; the report's table reads it back. */
#include "config.h"
#include <string.h>
#include "hessnorm/audit.h"
#include "hessnorm/alloc.h"
#include "base/json.h"
#include "audit/one_json.h"
#include "experiment/internal.h"

int hn_exp_tightness(const hn_model *m, const double *theta, const hn_samples *s, size_t n_use, json_t **out,
                     hn_err *err)
{
    const size_t nc = hn_claims_count();
    hn_samples first = *s; /* the first n_use samples, in the file's order */
    first.n = n_use < s->n ? n_use : s->n;
    hn_claim_instance *res = hn_calloc(nc, sizeof *res);
    if (!res)
        return hn_err_set(err, HN_ENOMEM, "tightness: out of memory");
    size_t n = 0;
    int rc = hn_audit_one_route(m, theta, &first, NULL, HN_ROUTE_AUTO, res, nc, &n, err);
    json_t *t = NULL, *list = NULL;
    int bad = 0;
    if (!rc) {
        t = json_object();
        list = json_array();
        bad = !t || !list;
    }
    size_t shown = 0, na = 0, viol = 0, und = 0;
    int mf = 0;
    for (size_t i = 0; i < n && !rc && !bad; i++) {
        const hn_claim_instance *x = &res[i];
        mf |= x->matrix_free;
        /* the claims that apply, and those that apply but were not measured (with why) */
        if (!x->applicable && x->na != HN_NA_UNMEASURED) {
            na++;
            continue;
        }
        viol += (size_t)x->violated;
        und += (size_t)x->undecided;
        json_t *e = hn_claim_instance_json(x);
        if (!e || json_array_append_new(list, e) != 0)
            bad = 1;
        shown++;
    }
    if (!rc && !bad) {
        hn_json_put(t, "samples", json_integer((json_int_t)first.n), &bad);
        hn_json_put(t, "route", json_string(mf ? "matrix-free" : "dense"), &bad);
        hn_json_put(t, "claims_listed", json_integer((json_int_t)shown), &bad);
        hn_json_put(t, "violated", json_integer((json_int_t)viol), &bad);
        hn_json_put(t, "undecided", json_integer((json_int_t)und), &bad);
        hn_json_put(t, "not_applicable", json_integer((json_int_t)na), &bad);
        hn_json_put(t, "claims", list, &bad);
        list = NULL;
    }
    if (!rc && bad)
        rc = hn_err_set(err, HN_ENOMEM, "tightness: out of memory");
    json_decref(list);
    if (rc)
        json_decref(t);
    else
        *out = t;
    hn_free(res);
    return rc;
}
