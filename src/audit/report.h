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

/* One parameter sweep: measured ||H_O|| and up to 4 claims' bounds at up to
 * 8 points (median of 5 draws each). */
typedef struct {
    const char *name, *xlabel;
    size_t npts;
    double x[8];
    double measured[8];
    double bound[4][8];
    const char *bound_ids[4];
    size_t nb;
} hn_sweep;

#define HN_AUDIT_SWEEPS 5
#define HN_SHARP_ROWS 9

/* A row of the sharp-constants table (NAN: no value). */
typedef struct {
    const char *what, *paper, *sharp, *evidence;
    double paper_value, sharp_value;
} hn_sharp_row;

/* What the audit computes beside the claims, for the writer: the sweeps and
 * the searched sharp constant. */
typedef struct {
    hn_sweep sweeps[HN_AUDIT_SWEEPS];
    size_t n_sweeps;
    double sup_A;       /* sup over the simplex of ||diag(p) - pp^T|| (NAN: not found) */
} hn_audit_studies;

/* Run the parameter sweeps (draws seeded from seed); fills sw[0..*n_sweeps).
 * HN_ENOMEM stops them (a skipped draw would change the medians). */
int hn_audit_sweeps(unsigned long seed, hn_sweep *sw, size_t *n_sweeps, hn_err *err);
/* sup ||A|| for cross-entropy by Nelder-Mead over logits, K = 2..8. */
int hn_sharp_sup_A(double *out, hn_err *err);
/* Fill rows[0..HN_SHARP_ROWS) with the sharp-constants table; returns the count. */
size_t hn_sharp_table(double sup_A, hn_sharp_row *rows);

void hn_inst_free(hn_inst *in);
int hn_inst_copy(hn_inst *dst, const hn_inst *src, hn_err *err);
int hn_audit_collect(const hn_audit_opts *o, hn_cstat *stats, int *selected, hn_audit_run_info *info,
                     hn_err *err);
int hn_audit_write(const hn_audit_opts *o, const hn_cstat *stats, const int *selected,
                   const hn_audit_run_info *info, const hn_audit_studies *studies, hn_err *err);
/* Save an instance in the interchange format into dir (model.json,
 * weights.safetensors = theta* + delta, sample.safetensors and, for
 * equation-(1) instances, weights_star.safetensors = theta*). */
int hn_inst_save(const hn_inst *in, const char *dir, hn_err *err);

/* The writer's view of one audit, shared by its stages (report.c,
 * report_text.c, figures.c): they only format and save. */
typedef struct {
    const hn_audit_opts *o;
    const hn_cstat *stats;
    const int *selected;
    const hn_audit_run_info *info;
    const hn_audit_studies *studies;
    int figs;                           /* 1: figures were drawn */
    char **cxrel;                       /* per claim: "counterexamples/<id>" or NULL */
    hn_sharp_row sharp[HN_SHARP_ROWS];
    size_t nsharp;
} hn_report;

/* Draw figures/sweep_*.png and figures/ratio_<id>.png into figdir (when
 * r->figs). */
int hn_report_figures(const hn_report *r, const char *figdir, hn_err *err);
/* Write out_dir/report.md. */
int hn_report_md(const hn_report *r, hn_err *err);
/* Write out_dir/index.html. */
int hn_report_html(const hn_report *r, hn_err *err);

#endif
