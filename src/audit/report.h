/* hessnorm — internal: audit state shared by the search and the report. */
#ifndef HN_AUDIT_REPORT_H
#define HN_AUDIT_REPORT_H
#include "hessnorm/audit.h"

typedef struct {
    hn_netspec ns;
    hn_model *m;
    double *theta;
    hn_samples *s;
    size_t lk;          /* equation (1) instances: k (s has k+1 samples) */
    double *delta;      /* theta = theta* + delta */
    const char *family;
} hn_inst;

typedef struct {
    size_t n, cap, violations;
    double *ratios;
    double worst_ratio, median, worst_disc, worst_disc_seen;
    hn_claim_value worst_v, cx_v;
    hn_inst worst, cx;
    int nm_done;
    double nm_best, nm_ratio;
    hn_verdict verdict;
} hn_cstat;

typedef struct {
    size_t networks, skipped;
    int truncated;
    double seconds;
} hn_audit_run_info;

void hn_inst_free(hn_inst *in);
int hn_inst_copy(hn_inst *dst, const hn_inst *src, hn_err *err);
int hn_audit_collect(const hn_audit_opts *o, hn_cstat *stats, int *selected, hn_audit_run_info *info,
                     hn_err *err);
int hn_audit_write(const hn_audit_opts *o, hn_cstat *stats, const int *selected,
                   const hn_audit_run_info *info, hn_err *err);
/* Save an instance in the interchange format into dir (model.json,
 * weights.safetensors = theta* + delta, sample.safetensors and, for
 * equation-(1) instances, weights_star.safetensors = theta*). */
int hn_inst_save(const hn_inst *in, const char *dir, hn_err *err);

#endif
