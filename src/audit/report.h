/* hessnorm — internal: the audit's state, shared by the collection
 * (audit.c), instances (instance.c), statistics (stats.c), the local search
 * (search.c), claim selection (select.c), the sweeps (sweeps.c), the sharp
 * constants (sharp.c) and the writer (report.c, report_text.c, figures.c). */
#ifndef HN_AUDIT_REPORT_H
#define HN_AUDIT_REPORT_H
#include "hessnorm/audit.h"

/* ------------------------------------------------------------ instances */

/* One network instance: a spec, its model, weights and samples. */
typedef struct {
    hn_netspec ns;
    hn_model *m;
    double *theta;
    hn_samples *s;
    size_t lk;          /* equation (1) instances: k (s has k+1 samples) */
    double *delta;      /* theta = theta* + delta */
    const char *family;
} hn_inst;

/* in: the model of ns, theta (zeroed) and n_samples zeroed samples (batched
 * when n_samples > 1); lk 0, no delta.  The model's errors, HN_ENOMEM. */
int hn_inst_alloc(hn_inst *in, const hn_netspec *ns, size_t n_samples, hn_err *err);
/* Free what in owns and zero it (NULL is accepted). */
void hn_inst_free(hn_inst *in);
/* Deep copy of src into dst (dst is overwritten, not freed first). */
int hn_inst_copy(hn_inst *dst, const hn_inst *src, hn_err *err);
/* The kinds of audit instances: random draws, adversarial constructions
 * (both audit/families.c, seeded), the deterministic structured
 * constructions (seed-independent) and the random per-group-scale draws
 * (seeded, "audit/structured"). */
typedef enum { HN_INST_RANDOM, HN_INST_ADVERSARIAL, HN_INST_STRUCTURED, HN_INST_SCALED } hn_inst_kind;
/* Instance i of a run with this seed and kind (its own rng stream,
 * independent of the other instances); an invalid spec is an error other
 * than HN_ENOMEM (the caller skips it). */
int hn_inst_make(unsigned long seed, size_t i, hn_inst_kind kind, hn_inst *in, hn_err *err);
/* Save an instance in the interchange format into dir (model.json,
 * weights.safetensors = theta* + delta, sample.safetensors and, for
 * equation-(1) instances, weights_star.safetensors = theta*). */
int hn_inst_save(const hn_inst *in, const char *dir, hn_err *err);

/* ------------------------------------------------------------ statistics */

/* What the audit keeps about one claim over all instances. */
typedef struct {
    size_t n, cap, violations;
    double *ratios;
    double worst_ratio, median, worst_disc, worst_disc_seen;
    hn_claim_value worst_v, cx_v;
    hn_inst worst, cx;
    int nm_done;
    double nm_best, nm_ratio;
    hn_verdict verdict;
    hn_supremum sup;     /* hn_claim_supremum (set by hn_cstat_finish) */
} hn_cstat;

/* The collection's counts (networks evaluated, specs skipped, budget hit). */
typedef struct {
    size_t networks, skipped;
    int truncated;
    double seconds;
} hn_audit_run_info;

/* measured / bound; +inf if bound <= 0 < measured, 0 if neither is positive. */
double hn_claim_ratio(const hn_claim_value *v);
/* Record one evaluation of c on in: its ratio, the worst instance (a copy)
 * and the preferred counterexample (a copy). */
int hn_cstat_record(hn_cstat *st, const hn_claim *c, const hn_claim_value *v, const hn_inst *in, hn_err *err);
/* Compute all facts of in and record every selected claim that applies. */
int hn_audit_evaluate(const hn_inst *in, const int *selected, hn_cstat *stats, hn_err *err);
/* Sort the ratios, take the median and set the supremum and verdict of cl. */
void hn_cstat_finish(const hn_claim *cl, hn_cstat *st);
/* The verdict of an inequality without a counterexample (audit.h): holds
 * or loose, from its supremum and the best ratio found. */
hn_verdict hn_sup_verdict(const hn_supremum *sup, double found);
/* Free stats[0..n) and the array (NULL is accepted). */
void hn_cstats_free(hn_cstat *stats, size_t n);
/* Nelder-Mead over the weights from the claim's worst instance (up to 120
 * parameters, not equation (1)), iters iterations; records what it finds. */
int hn_audit_local_search(const hn_claim *cl, hn_cstat *st, size_t iters, hn_err *err);

/* log(measured / bound) of cl on in with theta = v[0..P) and the input of
 * sample 0 = v[P..P+in_size) (both written into in): 0, 1 if cl does not
 * apply or the ratio is 0 or undefined, HN_ENOMEM. */
int hn_search_log_ratio(const hn_claim *cl, hn_inst *in, const double *v, double *out, hn_err *err);
/* The central-difference gradient of hn_search_log_ratio at v into g
 * (steps relative to |v_j|, search.c); *evals += 2 (P + in_size). */
int hn_search_gradient(const hn_claim *cl, hn_inst *in, const double *v, double *g, size_t *evals, hn_err *err);
/* Gradient ascent on log ratio over the weights and the input from start
 * (one sample, not equation (1), at most 160 variables), at most
 * max_evals evaluations; records an improvement (log ratio up by more
 * than rounding, HN_ASCENT_MIN_GAIN) in st and returns the ratio reached
 * in *reached (0: no improvement). */
int hn_audit_ascent(const hn_claim *cl, hn_cstat *st, const hn_inst *start, size_t max_evals, double *reached,
                    hn_err *err);

/* ------------------------------------------------------------ selection */

/* selected[i] = claim i is in the `audit --claims` list (NULL: all);
 * HN_EINVAL "--claims: unknown claim id '...'". */
int hn_audit_select_claims(const char *list, int *selected, hn_err *err);
/* sel[i] = claim i is in hn_audit_one's list (NULL: all), *n_sel the count;
 * HN_EINVAL for an unknown id or a list without an id. */
int hn_audit_one_select(const char *list, unsigned char *sel, size_t *n_sel, hn_err *err);

/* ------------------------------------------------------------ the run */

/* Evaluate the selected claims (from o->claims) on o's random and
 * adversarial networks, run the local search and set the verdicts. */
int hn_audit_collect(const hn_audit_opts *o, hn_cstat *stats, int *selected, hn_audit_run_info *info,
                     hn_err *err);

/* Evaluate the selected claims on the o->n_trained networks trained to a
 * minimum of L_k, each at HN_TRAINED_PER_NET points theta* + delta
 * (audit/trained.c); counts them in info. */
int hn_audit_trained(const hn_audit_opts *o, const int *selected, hn_cstat *stats, hn_audit_run_info *info,
                     hn_err *err);

/* One parameter sweep: measured ||H_O|| and up to 4 claims' bounds at up to
 * 8 points (median of `draws` draws each, hn_audit_opts.sweep_draws). */
typedef struct {
    const char *name, *xlabel;
    size_t draws;
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

/* Run the parameter sweeps, `draws` networks per point (1..HN_AUDIT_SWEEP_DRAWS_MAX;
 * 0: none, *n_sweeps = 0) seeded from seed; fills sw[0..*n_sweeps).  HN_ENOMEM
 * stops them (a skipped draw would change the medians); more draws than
 * HN_AUDIT_SWEEP_DRAWS_MAX is HN_EINVAL. */
int hn_audit_sweeps(unsigned long seed, size_t draws, hn_sweep *sw, size_t *n_sweeps, hn_err *err);
/* sup ||A|| for cross-entropy by Nelder-Mead over logits, K = 2..8. */
int hn_sharp_sup_A(double *out, hn_err *err);
/* Fill rows[0..HN_SHARP_ROWS) with the sharp-constants table; returns the count. */
size_t hn_sharp_table(double sup_A, hn_sharp_row *rows);

/* ------------------------------------------------------------ the writer */

/* Write out_dir/{counterexamples/,figures/,audit.json,report.md,index.html}
 * from the collected stats and the studies; computes nothing. */
int hn_audit_write(const hn_audit_opts *o, const hn_cstat *stats, const int *selected,
                   const hn_audit_run_info *info, const hn_audit_studies *studies, hn_err *err);

/* The writer's view of one audit, shared by its stages (report.c,
 * report_text.c, figures.c): they only format and save. */
typedef struct {
    const hn_audit_opts *o;
    const hn_cstat *stats;
    const int *selected;
    const hn_audit_run_info *info;
    const hn_audit_studies *studies;
    int figs;                           /* 1: figures are drawn */
    char **cxrel;                       /* per claim: "counterexamples/<id>" or NULL */
    hn_sharp_row sharp[HN_SHARP_ROWS];
    size_t nsharp;
    struct hn_finding_s *findings;      /* hn_report_findings */
    size_t nfind;
    unsigned char *ratio_drawn;         /* per claim: figures/ratio_<id>.png was drawn */
    unsigned char sweep_drawn[HN_AUDIT_SWEEPS]; /* figures/sweep_<name>.png was drawn */
} hn_report;

/* One line of the findings summary (audit.json "findings", the top of
 * report.md and index.html), built from the stats by hn_report_findings. */
typedef enum {
    HN_FIND_FAILS,          /* a claim with a counterexample (not an approximation) */
    HN_FIND_LOOSE,          /* loose: by the factor 1 / supremum (or 1 / best found) */
    HN_FIND_TYPO,           /* not well-formed as printed; its corrected ids */
    HN_FIND_APPROX,         /* an approximation's failure rate */
    HN_FIND_MSE,            /* a ".mse" twin (the extension to MSE) */
    HN_FIND_CONTRADICTION,  /* best found > an exact or upper supremum, no violation */
    HN_FIND_SEARCH_GAP      /* exact supremum above 1 (the bound is false) but no counterexample */
} hn_finding_kind;
typedef struct hn_finding_s {
    hn_finding_kind kind;
    size_t claim;           /* registry index */
    char text[512];         /* plain text (no markup), starting with the claim's id */
} hn_finding;

/* The basis of a verdict: "counterexample", "exact supremum", "upper bound
 * on the supremum", "best found", "identity", "typo", "approximation" or
 * "untested" (the branch hn_cstat_finish / hn_sup_verdict took). */
const char *hn_verdict_basis(const hn_claim *cl, const hn_cstat *st);
/* found / supremum (NAN unless the supremum is exact or an upper bound,
 * finite and positive, and the claim was evaluated). */
double hn_found_over_sup(const hn_claim *cl, const hn_cstat *st);
/* 1: the best ratio found exceeds an exact or upper supremum by more than
 * HN_VIOLATION_RTOL although no sample violated the claim. */
int hn_sup_contradicted(const hn_claim *cl, const hn_cstat *st);
/* "0.3536", "1/(2 sqrt 2) = 0.3536"-style text of a supremum ("-" for none
 * known, "inf"). */
void hn_sup_text(const hn_supremum *s, char *buf, size_t n);
/* The other-loss twin of claim c ("<id>.mse" <-> "<id>"), or NULL. */
const hn_claim *hn_claim_twin(size_t c);
/* "fails", "loose", "typo", "approximation", "mse", "contradiction", "search gap". */
const char *hn_finding_kind_name(hn_finding_kind k);
/* Fill r->findings (r->nfind of them; allocated here, freed by the writer). */
int hn_report_findings(hn_report *r, hn_err *err);

/* Draw figures/sweep_*.png and figures/ratio_<id>.png into figdir (when
 * r->figs), marking each one drawn in r->sweep_drawn / r->ratio_drawn: the
 * pages show only those. */
int hn_report_figures(hn_report *r, const char *figdir, hn_err *err);
/* The networks of a claim's histogram (ratio finite and > 0, on its log
 * axis); *zero and *inf (either may be NULL): the others, ratio 0
 * (measured 0) and inf (bound 0 < measured). */
size_t hn_report_hist_count(const hn_cstat *st, size_t *zero, size_t *inf);
/* Write out_dir/report.md. */
int hn_report_md(const hn_report *r, hn_err *err);
/* Write out_dir/index.html. */
int hn_report_html(const hn_report *r, hn_err *err);

#endif
