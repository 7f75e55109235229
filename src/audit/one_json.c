/* hessnorm — one claim on one network as JSON (see one_json.h). */
#include "config.h"
#include "hessnorm/audit.h"
#include "base/json.h"
#include "audit/one_json.h"

/* the distribution over the samples, each alone (audit.h) */
static json_t *batch_json(const hn_claim_instance *x, int eq, int *bad)
{
    json_t *b = json_object();
    if (!b) {
        *bad = 1;
        return NULL;
    }
    hn_json_put(b, "samples", json_integer((json_int_t)x->batch_n), bad);
    hn_json_put(b, "applicable", json_integer((json_int_t)x->batch_applicable), bad);
    hn_json_put(b, "violated", json_integer((json_int_t)x->batch_violated), bad);
    hn_json_put(b, "undecided", json_integer((json_int_t)x->batch_undecided), bad);
    const int any = x->batch_applicable > 0;
    hn_json_put(b, eq ? "discrepancy_min" : "ratio_min", any ? hn_json_num(x->ratio_min) : json_null(), bad);
    hn_json_put(b, eq ? "discrepancy_median" : "ratio_median", any ? hn_json_num(x->ratio_median) : json_null(),
                bad);
    hn_json_put(b, eq ? "discrepancy_max" : "ratio_max", any ? hn_json_num(x->ratio_max) : json_null(), bad);
    hn_json_put(b, "worst_sample", any ? json_integer((json_int_t)x->worst_sample) : json_null(), bad);
    return b;
}

json_t *hn_claim_instance_json(const hn_claim_instance *x)
{
    int bad = 0;
    json_t *e = json_object();
    if (!e)
        return NULL;
    const int eq = x->claim->rel == HN_REL_EQ, sides = x->applicable && !x->identity;
    hn_json_put(e, "id", json_string(x->claim->id), &bad);
    hn_json_put(e, "location", json_string(x->claim->location), &bad);
    hn_json_put(e, "relation", json_string(hn_relation_name(x->claim->rel)), &bad);
    hn_json_put(e, "printed", json_string(x->claim->printed), &bad);
    hn_json_put(e, "measured", sides ? hn_json_num(x->value.measured) : json_null(), &bad);
    hn_json_put(e, "bound", sides ? hn_json_num(x->value.bound) : json_null(), &bad);
    if (eq)
        hn_json_put(e, "discrepancy", x->applicable ? hn_json_num(x->value.discrepancy) : json_null(), &bad);
    else
        hn_json_put(e, "ratio", x->applicable ? hn_json_num(x->ratio) : json_null(), &bad);
    if (x->matrix_free && sides && !eq) {
        /* the claim at the upper ends of the brackets (audit.h) */
        hn_json_put(e, "measured_upper", hn_json_num(x->value_hi.measured), &bad);
        hn_json_put(e, "bound_upper", hn_json_num(x->value_hi.bound), &bad);
    }
    if (x->batch_n > 1)
        hn_json_put(e, "batch", batch_json(x, eq, &bad), &bad);
    hn_json_put(e, "status", json_string(hn_claim_instance_status(x)), &bad);
    hn_json_put(e, "detail", json_string(hn_claim_instance_detail(x)), &bad);
    if (bad) {
        json_decref(e);
        return NULL;
    }
    return e;
}
