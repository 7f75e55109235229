/* hessnorm — the paper's statements and proof steps as checked claims,
 * network families, search, verdicts and the audit report.
 *
 * A claim is evaluated on the "facts" of one network instance (every
 * matrix norm the paper's bounds talk about, measured exactly) and gives a
 * measured side and a bound side.  Relations:
 *   HN_REL_LE      measured <= bound          (ratio = measured / bound)
 *   HN_REL_EQ      measured == bound           (discrepancy = relative difference)
 *   HN_REL_APPROX  "approximately", used as <= by the paper (ratio as LE)
 * Verdicts are defined on the supremum of measured / bound over the
 * claim's setting (hn_claim_supremum), not on one set of draws:
 *   fails          a counterexample was found (measured > bound, saved);
 *   holds          the supremum is at least HN_LOOSE_RATIO: the exact
 *                  analytic supremum when one is known, otherwise the best
 *                  ratio the search found;
 *   loose          the supremum is below HN_LOOSE_RATIO (by the factor
 *                  1 / supremum): the exact one, or a proven upper bound on
 *                  it below the cut, or (when neither is known) the best
 *                  found;
 *   typo           the printed form is not well-formed (or an index slip
 *                  whose next line shows the intended form): its corrected
 *                  form is checked beside it;
 *   approximation  a "~" statement (measured against its right-hand side).
 * A claim stated for cross-entropy (the paper's A = diag(p) - pp^T) is
 * evaluated on cross-entropy networks only; its MSE counterpart (A = I) is
 * a separate claim "<id>.mse", the extension. */
#ifndef HESSNORM_AUDIT_H
#define HESSNORM_AUDIT_H
#include <stddef.h>
#include "hessnorm/model.h"
#include "hessnorm/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HN_REL_LE, HN_REL_EQ, HN_REL_APPROX } hn_relation;
typedef enum { HN_V_HOLDS, HN_V_LOOSE, HN_V_FAILS, HN_V_TYPO, HN_V_APPROX, HN_V_UNTESTED } hn_verdict;
/* The loss a claim is evaluated with: any (a fact about the linear maps),
 * cross-entropy only (the paper's setting), MSE only (the extension). */
typedef enum { HN_SET_ANY, HN_SET_CE, HN_SET_MSE } hn_loss_setting;

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
    unsigned relu_skip;      /* bit t: no ReLU after linear op t (convs 0.., then FC n_conv..), so
                              * Lambda^(t+1) = I, a mask with every unit active (the paper's bounds
                              * use ||Lambda|| <= 1 only); e.g. the experiment's nets have none
                              * between the last conv and the FC head.  0: a ReLU after each. */
    size_t n_pool;           /* pooling layers of a user's model (pool, pool_after, ... describe the
                              * first); 0 for the audit's own networks, which have at most one */
    const char *irregular;   /* a user's model outside the paper's settings (static text: why), the
                              * fields above then describe it only in part and every claim tied to a
                              * setting (Theorems 1-2, Lemmas 3-5) is n/a; NULL: a network of the
                              * families, rebuilt exactly by hn_netspec_model */
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
    char detail[256];        /* which p / window etc. gave this value */
    size_t worst_p;          /* a claim over every layer p: the 1-based p of this value (0: none) */
} hn_claim_value;

typedef struct {
    const char *id;
    const char *location;    /* the paper's own label */
    const char *printed;     /* the formula as printed */
    const char *reading;     /* how the printed symbols are read */
    const char *corrects;    /* id of the printed claim this one corrects, or NULL */
    hn_relation rel;
    int typo;                /* 1: printed form not well-formed */
    int (*eval)(const hn_facts *f, hn_claim_value *v); /* 0 applicable, 1 not, 2 applicable but a
                              * quantity it needs was not measured (v->detail says which and why) */
    unsigned facts;          /* the fact groups eval reads (internal to the audit: a mask of
                              * src/audit/internal.h's hn_fact_group; 0 for a typo) */
    hn_loss_setting loss;    /* HN_SET_ANY unless the statement is about the CE (or MSE) A */
} hn_claim;

/* What is known of sup (measured / bound) over a claim's setting:
 *   HN_SUP_EXACT  value is the supremum (derived; a construction attains it
 *                 or approaches it, named in why);
 *   HN_SUP_UPPER  value is a proven upper bound on it (why: the argument);
 *                 the exact supremum is not known;
 *   HN_SUP_NONE   nothing is known beyond what the search finds (why: what
 *                 stands in the way), or the claim is an identity / typo. */
typedef enum { HN_SUP_NONE, HN_SUP_UPPER, HN_SUP_EXACT } hn_sup_kind;
typedef struct {
    hn_sup_kind kind;
    double value;            /* NAN for HN_SUP_NONE */
    const char *why;         /* one or two sentences; never NULL */
} hn_supremum;

size_t hn_claims_count(void);
const hn_claim *hn_claim_get(size_t i);
const hn_claim *hn_claim_find(const char *id);
const char *hn_verdict_name(hn_verdict v);
const char *hn_relation_name(hn_relation r);
const char *hn_sup_kind_name(hn_sup_kind k); /* "exact", "upper bound", "none known" */
/* The supremum of measured / bound for c (audit/suprema.c); for an
 * inequality (HN_REL_LE) or approximation.  Identities and typos get
 * HN_SUP_NONE. */
hn_supremum hn_claim_supremum(const hn_claim *c);

/* Compute facts for (spec, theta, sample).  landscape_k > 0 also computes
 * the equation-(1) quantities with k = landscape_k (needs s->n = k+1),
 * R = ||delta|| and theta* = theta, theta = theta* + delta. */
int hn_facts_compute(const hn_netspec *ns, const hn_model *m, const double *theta,
                     const hn_samples *s, size_t landscape_k, const double *delta,
                     hn_facts **out, hn_err *err);
void hn_facts_free(hn_facts *f);

/* Evaluate claim c on f: returns 0 and fills v if applicable, 1 if not, 2 if
 * applicable but not measurable on f (v->detail has the reason; never a
 * value of 0 standing in for a missing measurement). */
int hn_claim_eval(const hn_claim *c, const hn_facts *f, hn_claim_value *v);
/* Is v a violation of c (LE/APPROX: ratio > 1 + tol; EQ: discrepancy > tol)? */
int hn_claim_violated(const hn_claim *c, const hn_claim_value *v);

/* ---- the audit ---- */
typedef struct {
    unsigned long seed;
    double budget_seconds;   /* safety cap; counts are fixed so runs are deterministic */
    size_t n_random;         /* random networks */
    size_t n_adversarial;    /* adversarial networks */
    size_t n_structured;     /* deterministic structured constructions (at most
                              * their number; the default takes all of them) */
    size_t n_scaled;         /* random draws with independent per-layer-group scales */
    size_t nm_iterations;    /* Nelder-Mead iterations per unbroken LE claim */
    size_t n_trained;        /* networks trained to a minimum of L_k (equation (1), Assumption 1),
                              * each evaluated at 6 points theta* + delta */
    size_t ascent_starts;    /* gradient ascent from this many best instances per unbroken LE claim */
    size_t ascent_evals;     /* evaluations of the claim per ascent start */
    const char *claims;      /* comma-separated ids, NULL = all */
    const char *out_dir;
    int figures;             /* 1: draw PNG figures with gnuplot */
    hn_progress_fn progress;
    void *progress_ctx;
    size_t sweep_draws;      /* random networks per point of the parameter sweeps, their median
                              * plotted (default and at most HN_AUDIT_SWEEP_DRAWS_MAX; 0 skips
                              * the sweeps) */
} hn_audit_opts;
#define HN_AUDIT_SWEEP_DRAWS_MAX 5

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
    hn_supremum sup;         /* hn_claim_supremum(claim) */
} hn_claim_result;

/* Evaluate claims over n random networks of the standard families and the
 * default trained ones (deterministic in seed), without writing anything.  results has
 * hn_claims_count() entries. */
int hn_audit_sample(unsigned long seed, size_t n, hn_claim_result *results, hn_err *err);

/* ---- one network: how tight is each claim on it (src/audit_one.c) ---- */

/* Why a claim was not evaluated on a network. */
typedef enum {
    HN_NA_NONE,       /* evaluated */
    HN_NA_TYPO,       /* the printed form is not well-formed: nothing to evaluate */
    HN_NA_SETTING,    /* the network is outside the claim's setting (1-D / 2-D, pooling, FC head) */
    HN_NA_LANDSCAPE,  /* needs the equation-(1) facts (theta*, theta, k+1 samples): not computed */
    HN_NA_HESSIAN,    /* needs the full Hessian, formed only up to 400 parameters */
    HN_NA_LOSS,       /* stated for the other loss (cross-entropy claims vs their ".mse" twins) */
    HN_NA_UNMEASURED  /* applicable, but a quantity it needs was not measured (value.detail: why) */
} hn_na_reason;

/* One claim on one network. */
typedef struct {
    const hn_claim *claim;
    int applicable;          /* 1: value is filled; 0: n/a for this network (see na) */
    hn_na_reason na;
    int violated;            /* applicable and hn_claim_violated(claim, &value) */
    int identity;            /* HN_REL_EQ between matrices or vectors: value.measured and
                              * value.bound are 1 by convention (hn_claim_eval), only
                              * value.discrepancy is a measurement */
    double ratio;            /* measured / bound (+inf if bound = 0 < measured, 0 if both are 0);
                              * for HN_REL_EQ read value.discrepancy instead */
    hn_claim_value value;
    /* Past the dense limit the layer norms are brackets (matfree.h): value
     * is the claim at their lower ends, value_hi at their upper ends (equal
     * to value on the dense route).  Both sides of every inequality grow
     * with each norm, so the claim holds for certain when value_hi.measured
     * <= value.bound, is violated for certain when value.measured >
     * value_hi.bound (violated = 1), and is undecided otherwise. */
    hn_claim_value value_hi;
    int undecided;
    int matrix_free;         /* the facts came from the matrix-free route */
    /* Over every sample of the set (hn_audit_one / _route on n samples; the
     * value above is the first sample's): the claim evaluated on each
     * sample alone.  batch_n = n; the ratios (measured / bound, for '=' the
     * discrepancy) of the batch_applicable samples where it applies: their
     * min, median (the lower middle one) and max, the 0-based index of the
     * worst; how many are violated / undecided. */
    size_t batch_n, batch_applicable, batch_violated, batch_undecided, worst_sample;
    double ratio_min, ratio_median, ratio_max;
} hn_claim_instance;

/* A short phrase for r ("" for HN_NA_NONE). */
const char *hn_na_reason_text(hn_na_reason r);
/* "holds", "VIOLATED", "undecided" or "n/a". */
const char *hn_claim_instance_status(const hn_claim_instance *c);
/* What to print beside c: the evaluator's detail, or why c is n/a (the
 * setting's or the missing measurement's own reason where there is one). */
const char *hn_claim_instance_detail(const hn_claim_instance *c);

/* Evaluate the claims on one network m at weights theta (m->n_params
 * values) and the first sample of s, with the audit's own facts
 * (hn_facts_compute, landscape_k = 0: the equation-(1) and corollary claims
 * come out n/a with HN_NA_LANDSCAPE).  The value of each claim is the
 * first sample's (the paper's per-sample matrices F, A, R^(p)x are for one
 * sample); with n > 1 samples every sample is evaluated the same way and
 * the distribution over them is in the batch_* and ratio_* fields (every
 * sample is then checked: finite, labels in range).
 *
 * claims: comma-separated registry ids, NULL for all; each selected claim
 * is reported once, in registry order.  out has room for n_out entries;
 * *n_written receives the number written (the number of selected claims;
 * hn_claims_count() for NULL).
 *
 * Errors (one line in err, nothing written to *n_written):
 *   HN_EINVAL  a NULL argument; an unfinalized model; theta or the sample
 *              not finite; a label outside [0, classes); an unknown or
 *              empty claim list ("claims: ..."); n_out smaller than the
 *              number of selected claims; the model outside the audited
 *              families (hn_netspec_from_model: "layers: ..." / "input: ...")
 *   HN_ESHAPE  s is not a sample set for m (input size, classes, loss)
 *   HN_ETOOBIG a dense matrix of the paper above HN_DENSE_LIMIT entries
 *   HN_EOVERFLOW a result overflowed on finite input: a sample's loss or
 *              gradient ("x: sample I: ..."), checked before the facts, or
 *              a matrix of the facts ("a result overflows on finite
 *              input: ...")
 *   HN_ENOMEM  out of memory
 * The library does not print; the caller adds the file name to the message
 * (for HN_EOVERFLOW, the input with the largest magnitude). */
int hn_audit_one(const hn_model *m, const double *theta, const hn_samples *s, const char *claims,
                 hn_claim_instance *out, size_t n_out, size_t *n_written, hn_err *err);

/* How the facts are measured: HN_ROUTE_AUTO (the dense paper matrices when
 * they fit hn_paper_dense_need's limits, else matrix-free), HN_ROUTE_DENSE
 * (HN_ETOOBIG "dense route: ..." naming the matrix that does not fit),
 * HN_ROUTE_MATFREE (paper/matfree.c: the layer norms as brackets; the
 * claims that need dense matrices are n/a, HN_NA_UNMEASURED). */
typedef enum { HN_ROUTE_AUTO, HN_ROUTE_DENSE, HN_ROUTE_MATFREE } hn_route;
/* hn_audit_one on a chosen route (hn_audit_one is HN_ROUTE_AUTO). */
int hn_audit_one_route(const hn_model *m, const double *theta, const hn_samples *s, const char *claims,
                       hn_route route, hn_claim_instance *out, size_t n_out, size_t *n_written, hn_err *err);
/* hn_audit_one with the equation-(1) facts: theta* = theta_star (m->n_params
 * values), theta = theta (the point theta* + delta of equation (1)), and the
 * k+1 samples of s (k = s->n - 1; L_k is the mean loss of the first k, l_{k+1}
 * the loss of the last) -- the layout of an audit counterexample folder
 * (weights_star.safetensors, weights.safetensors, sample.safetensors).  The
 * claims about one network are evaluated as the audit does on its
 * equation-(1) instances: at theta* and the first sample.  So equation (1),
 * its corrected form, eq1.first_order, Section III's identity, the
 * corollaries and assumption1 are evaluated too (assumption1 and
 * eq1.first_order only where theta* is a stationary point of L_k, else n/a
 * with HN_NA_SETTING).
 *
 * Errors: those of hn_audit_one (theta and sample 0 are checked as there),
 * and HN_EINVAL for a NULL theta_star ("audit: theta* is NULL"), theta*
 * not finite ("theta*[j]: not finite"), a sample set with fewer than 2
 * samples ("x: the equation-(1) claims need k+1 >= 2 samples ..."), or any
 * sample not finite or with a label outside [0, classes) ("x[i][j]",
 * "y[i]").  Nothing is written to *n_written on an error. */
int hn_audit_one_landscape(const hn_model *m, const double *theta, const double *theta_star,
                           const hn_samples *s, const char *claims, hn_claim_instance *out, size_t n_out,
                           size_t *n_written, hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
