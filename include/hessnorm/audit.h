/* hessnorm — the paper's statements and proof steps as checked claims,
 * network families, search, verdicts and the audit report.
 *
 * A claim is evaluated on the "facts" of one network instance (every
 * matrix norm the paper's bounds talk about, measured exactly) and gives a
 * measured side and a bound side.  Relations:
 *   HN_REL_LE      measured <= bound          (ratio = measured / bound)
 *   HN_REL_EQ      measured == bound           (discrepancy = relative difference)
 *   HN_REL_APPROX  "approximately", used as <= by the paper (ratio as LE)
 * Verdicts: holds, loose (worst ratio < HN_LOOSE_RATIO), fails (a
 * counterexample), typo (not well-formed as printed), approximation. */
#ifndef HESSNORM_AUDIT_H
#define HESSNORM_AUDIT_H
#include <stddef.h>
#include "hessnorm/model.h"
#include "hessnorm/report.h"

typedef enum { HN_REL_LE, HN_REL_EQ, HN_REL_APPROX } hn_relation;
typedef enum { HN_V_HOLDS, HN_V_LOOSE, HN_V_FAILS, HN_V_TYPO, HN_V_APPROX, HN_V_UNTESTED } hn_verdict;

/* A "holds" verdict needs some instance within this factor of its bound. */
#define HN_LOOSE_RATIO 0.5
/* measured / bound above 1 + this is a violation (rounding allowance for
 * dense SVDs/eigensolvers: relative accuracy ~1e-13 on these sizes). */
#define HN_VIOLATION_RTOL 1e-9
/* Relative discrepancy allowed for an equality (same rounding argument). */
#define HN_EQ_RTOL 1e-9

/* Network description for the families (all linear ops bias-free). */
typedef struct {
    int dim;                 /* 1 or 2 */
    size_t in_c, in_h, in_w; /* in_h = 1 for 1-D */
    size_t n_conv;           /* conv layers (the paper's L+1 when no FC head) */
    size_t ch[8];            /* output channels of conv i */
    size_t kh[8], kw[8];     /* kernels of conv i */
    size_t n_fc;             /* FC head layers (the paper's P) */
    size_t fc[4];            /* out features of FC i (last = K) */
    size_t K;
    int pool;                /* 0 none, 1 max, 2 avg */
    int pool_replaces_relu;  /* 1: pooling instead of ReLU, 0: after ReLU */
    size_t pool_after;       /* pooling after conv index pool_after (0-based) */
    size_t kpool;
    int mse;
} hn_netspec;

/* Build the model of a spec (validates). */
int hn_netspec_model(const hn_netspec *ns, hn_model **out, hn_err *err);
/* Recover the spec of a model in the audited families (HN_EINVAL if the
 * model is outside them: the rebuilt spec must give the same network). */
int hn_netspec_from_model(const hn_model *m, hn_netspec *ns, hn_err *err);

/* Measured facts of one network at one sample (and, when `landscape` is
 * set, at k+1 samples and two parameter points for equation (1) and the
 * corollaries). */
typedef struct hn_facts hn_facts;

typedef struct {
    double measured, bound;
    double discrepancy;      /* EQ: relative difference of the two sides */
    char detail[160];        /* which p / window etc. gave this value */
} hn_claim_value;

typedef struct {
    const char *id;
    const char *location;    /* the paper's own label */
    const char *printed;     /* the formula as printed */
    const char *reading;     /* how the printed symbols are read */
    const char *corrects;    /* id of the printed claim this one corrects, or NULL */
    hn_relation rel;
    int typo;                /* 1: printed form not well-formed */
    int (*eval)(const hn_facts *f, hn_claim_value *v); /* 0 applicable, 1 not */
} hn_claim;

size_t hn_claims_count(void);
const hn_claim *hn_claim_get(size_t i);
const hn_claim *hn_claim_find(const char *id);
const char *hn_verdict_name(hn_verdict v);
const char *hn_relation_name(hn_relation r);

/* Compute facts for (spec, theta, sample).  landscape_k > 0 also computes
 * the equation-(1) quantities with k = landscape_k (needs s->n = k+1),
 * R = ||delta|| and theta* = theta, theta = theta* + delta. */
int hn_facts_compute(const hn_netspec *ns, const hn_model *m, const double *theta,
                     const hn_samples *s, size_t landscape_k, const double *delta,
                     hn_facts **out, hn_err *err);
void hn_facts_free(hn_facts *f);

/* Evaluate claim c on f: returns 0 and fills v if applicable, 1 if not. */
int hn_claim_eval(const hn_claim *c, const hn_facts *f, hn_claim_value *v);
/* Is v a violation of c (LE/APPROX: ratio > 1 + tol; EQ: discrepancy > tol)? */
int hn_claim_violated(const hn_claim *c, const hn_claim_value *v);

/* ---- the audit ---- */
typedef struct {
    unsigned long seed;
    double budget_seconds;   /* safety cap; counts are fixed so runs are deterministic */
    size_t n_random;         /* random networks */
    size_t n_adversarial;    /* adversarial networks */
    size_t nm_iterations;    /* Nelder-Mead iterations per unbroken LE claim */
    const char *claims;      /* comma-separated ids, NULL = all */
    const char *out_dir;
    int figures;             /* 1: draw PNG figures with gnuplot */
    hn_progress_fn progress;
    void *progress_ctx;
} hn_audit_opts;

void hn_audit_defaults(hn_audit_opts *o);
/* Run the audit and write out_dir/{report.md,index.html,audit.json,
 * figures/,counterexamples/}. */
int hn_audit_run(const hn_audit_opts *o, hn_err *err);

/* Per-claim result, for tests. */
typedef struct {
    const hn_claim *claim;
    hn_verdict verdict;
    size_t samples, violations;
    double worst_ratio, median_ratio;
    double worst_discrepancy;
} hn_claim_result;

/* Evaluate claims over n random networks of the standard families
 * (deterministic in seed), without writing anything.  results has
 * hn_claims_count() entries. */
int hn_audit_sample(unsigned long seed, size_t n, hn_claim_result *results, hn_err *err);

#endif
