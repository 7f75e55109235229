/* hessnorm — internal: one claim on one network as JSON (audit --model,
 * the experiment's tightness table).  Not installed. */
#ifndef HN_AUDIT_ONE_JSON_H
#define HN_AUDIT_ONE_JSON_H
#include <jansson.h>
#include "hessnorm/audit.h"

/* {"id", "location", "relation", "printed", "measured", "bound", "ratio" or
 * "discrepancy", ["measured_upper", "bound_upper": the upper ends of the
 * brackets, matrix-free], ["batch": the distribution over the samples],
 * "status", "detail"}; NULL when out of memory. */
json_t *hn_claim_instance_json(const hn_claim_instance *x);

#endif
