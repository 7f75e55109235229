/* hessnorm — everything `hessnorm inspect` reports, as a library call. */
#ifndef HESSNORM_INSPECT_H
#define HESSNORM_INSPECT_H
#include <stddef.h>
#include "hessnorm/model.h"
#include "hessnorm/matfree.h"
#include "hessnorm/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How inspect computes: the dense P x P matrices (every value exact) or
 * matrix-free (Lanczos on exact Hessian-vector products, K x K Gram forms;
 * every norm a bracket).  HN_INSPECT_AUTO: hn_inspect_choose. */
typedef enum { HN_INSPECT_AUTO = 0, HN_INSPECT_DENSE, HN_INSPECT_MATFREE } hn_inspect_route;
const char *hn_inspect_route_name(hn_inspect_route r); /* "dense", "matrix-free" */

/* The paper's bound on one layer's factors (symbols as in audit/claims.c's
 * header, computed from the model and theta by hn_inspect_layer_bounds):
 *   2-D conv  ||T^(p)||^2 <= C^2 k^2 w^2 m n  (Appendix D),  ||Q^(p)|| <= q, q^2 = C^2 k^2 m n
 *   1-D conv  ||T^(p)||^2 <= C^2 d k w^2      (Appendix C),  ||Q^(p)|| <= d
 *   linear    ||T^(p)||^2 <= h_out h_in w~^2  (Appendix G, corrected), ||Q^(p)|| <= q of the
 *             net's convolutions (n/a without one: Q = I, ||Q|| = 1)
 * A bound that does not apply is NAN with its formula naming the reason. */
typedef struct {
    double T_sq_bound;       /* bound on ||T^(p)||^2 */
    const char *T_formula;   /* "C^2 k^2 w^2 m n", ... */
    double Q_bound;          /* bound on ||Q^(p)|| (NAN: n/a) */
    const char *Q_formula;
} hn_layer_bound;

typedef struct {
    size_t index;            /* position in model->layers */
    double T_norm, T_fro, Q_norm, G_norm, R_norm, Rx_norm;
    /* the brackets of T_norm and R_norm (dense route: exact points) */
    hn_bracket T_b, R_b;
    const char *T_hi_how;    /* which bound gave T_b.hi ("dense SVD" on the dense route) */
    hn_layer_bound bound;
} hn_inspect_layer;

/* Parameters of the matrix-free route (hn_inspect_opts_default fills them). */
typedef struct {
    hn_inspect_route route;
    int threads;             /* OpenMP threads (<= 0: all); the results do not depend on it */
    size_t max_iter;         /* Lanczos products per operator (300) */
    double rtol;             /* Lanczos relative residual (1e-10) */
    unsigned long seed;      /* Lanczos start vectors and Hutchinson probes */
    size_t trace_probes;     /* Hutchinson probes of trace H (16; 0: no estimate) */
    hn_progress_cfg progress; /* lines for work longer than progress.every seconds */
    size_t ho_gram_max_bytes; /* ||mean H_O|| from the N K x N K Gram up to this many bytes
                                 (HN_INSPECT_HO_GRAM_MAX_BYTES; 0: by Lanczos always) */
} hn_inspect_opts;
void hn_inspect_opts_default(hn_inspect_opts *o);

typedef struct {
    size_t num_params;
    size_t n_samples, K;
    int batched;
    double loss;
    double *logits;          /* n_samples * K */
    double grad_norm;
    double h_norm, h_max, h_min, h_trace;      /* full Hessian of the mean loss */
    double ho_norm, ho_trace;                  /* outer-product part */
    double *ho_eigs; size_t n_ho_eigs;         /* nonzero, descending */
    double hf_norm;                            /* ||H - H_O|| */
    /* one sample only (n_samples == 1, with or without a batch dimension in the file): */
    double A_norm, F_norm;
    size_t n_lin;
    hn_inspect_layer *layers;
    /* ---- added with the matrix-free route (both routes fill them) ---- */
    hn_inspect_route route;                    /* the route taken */
    /* brackets of h_norm, h_max, h_min, ho_norm, hf_norm (dense: exact points) */
    hn_bracket h_norm_b, h_max_b, h_min_b, ho_norm_b, hf_norm_b;
    const char *ho_norm_hi_how;                /* what gave ho_norm_b.hi */
    const char *ho_eigs_na;                    /* NULL: ho_eigs is the spectrum; else why not */
    const char *h_trace_how;                   /* how h_trace was obtained */
    double h_trace_est, h_trace_se;            /* Hutchinson's estimate and its standard error */
    size_t h_trace_probes;                     /* its probes (0: none) */
    double *ho_sample_norms;                   /* n_samples: ||H_O,i|| (exact, K x K) */
    double *ho_sample_eigs;                    /* n_samples x K: each H_O,i's eigenvalues, descending */
    size_t lanczos_products[3];                /* matrix-free: products on H, H_O, H - H_O */
    int lanczos_converged[3];
    int ho_gram;                               /* matrix-free: ||mean H_O|| and its spectrum from the N K x N K Gram */
    size_t table_sample;                       /* the sample of A_norm, F_norm, layers */
    int has_table;                             /* A_norm, F_norm, J_norm, layers are set */
    double J_norm;
} hn_inspect_result;

/* Relative threshold below which an eigenvalue of H_O counts as zero:
 * |lambda| <= HN_EIG_ZERO_RTOL * max |lambda|. */
#define HN_EIG_ZERO_RTOL 1e-9

/* Everything `inspect` reports.  H_O's nonzero spectrum comes from the
 * smaller of the N K x N K Gram matrix and the P x P H_O (equal to
 * rounding).  A loss, logit, gradient, Hessian entry or norm that
 * overflows is HN_EOVERFLOW (never an inf result). */
int hn_inspect(const hn_model *m, const double *theta, const hn_samples *s,
               hn_inspect_result **out, hn_err *err);
/* The same on the route of o (NULL: defaults, dense), or matrix-free:
 *   loss, logits, gradient: the batched kernels (exact);
 *   lambda_max, lambda_min, ||H|| of the mean H, ||mean H_O|| and ||H - H_O||:
 *     Lanczos on exact Hessian-vector products (hn_hvp_op); lo = the Ritz
 *     value's modulus (certified: Ritz values lie inside the spectrum),
 *     hi = Ritz + residual (HN_HI_RESIDUAL; for lambda_min the roles swap:
 *     hi certified, lo residual); ||mean H_O||'s hi is the certified
 *     mean_i ||H_O,i|| when that is smaller; but ||mean H_O|| and its
 *     nonzero spectrum exactly (ho_gram = 1, no Lanczos product) from the
 *     N K x N K Gram (hn_batch_ho_mean_eigs) when N > 1 and it fits
 *     (hn_inspect_ho_gram_fits);
 *   trace H_O = mean_i trace(C_i J_i J_i^T C_i^T) (exact, K x K);
 *   trace H = trace H_O: the diagonal of H_F is 0 (z is affine in each
 *     single parameter once the ReLU / pooling masks are fixed), checked by
 *     Hutchinson's estimate with o->trace_probes Rademacher probes and its
 *     standard error (h_trace_est, h_trace_se);
 *   per-sample ||H_O,i|| and spectra: hn_batch_ho_eigs (exact);
 *   H_O's nonzero spectrum of the mean: one sample's K x K, the Gram's,
 *     else n/a;
 *   the per-layer table of sample 0 (hn_mf_sample_compute), with the
 *     paper's bounds (hn_inspect_layer_bounds).
 * Errors as hn_inspect, and HN_ETOOBIG (dense route past HN_DENSE_LIMIT). */
int hn_inspect_ex(const hn_model *m, const double *theta, const hn_samples *s,
                  const hn_inspect_opts *o, hn_inspect_result **out, hn_err *err);
/* The dense route's limit in parameters of the automatic choice: its cost
 * grows as P^3 (P HVPs per sample, P x P eigendecompositions, one sample's
 * paper matrices); measured on fixtures/paper10 (P = 1,662, one sample,
 * 2 threads): dense 6.1 s and 810 MiB, matrix-free 0.7 s and 11 MiB, so
 * about 0.2 s dense at P = 500. */
#define HN_INSPECT_AUTO_DENSE_MAX_P 500
/* The automatic route: dense when P <= HN_INSPECT_AUTO_DENSE_MAX_P, P^2 <=
 * HN_DENSE_LIMIT and hn_inspect_need(m, s) <= room bytes; else matrix-free.
 * why (n bytes) says which rule decided. */
hn_inspect_route hn_inspect_choose(const hn_model *m, const hn_samples *s, double room, char *why,
                                   size_t n);
/* The limits of the exact Gram route for ||mean H_O|| (N K rows of the
 * Jacobian held, N K x N K eigendecomposition: 4096 rows take ~2 s) */
#define HN_INSPECT_HO_GRAM_MAX_BYTES ((size_t)512 << 20)
#define HN_INSPECT_HO_GRAM_MAX_ROWS 4096
/* 1 when the matrix-free route takes ||mean H_O|| from the Gram (o NULL:
 * the defaults). */
int hn_inspect_ho_gram_fits(const hn_model *m, size_t n, const hn_inspect_opts *o);
/* Bytes the matrix-free route holds at its peak (an estimate: the Lanczos
 * basis, the operators' stored forward passes, sample 0's workspaces). */
double hn_inspect_mf_need(const hn_model *m, const hn_samples *s, const hn_inspect_opts *o);
/* The paper's bounds for every linear operator of m at theta (out: n_linear
 * entries). */
void hn_inspect_layer_bounds(const hn_model *m, const double *theta, hn_layer_bound *out);
/* Bytes of the dense matrices hn_inspect (and hn_inspect_dump) hold at
 * their peak for m and s, and in what (n bytes) a name for the largest
 * ("the 90x90 Hessians"): for a memory check before the work. */
double hn_inspect_need(const hn_model *m, const hn_samples *s, char *what, size_t n);
void hn_inspect_free(hn_inspect_result *r);
/* The JSON object of `hessnorm inspect --json` (caller frees with hn_free). */
char *hn_inspect_to_json(const hn_model *m, const hn_inspect_result *r);
/* Write every matrix as .npy into dir (single sample; batch: H, H_O, H_F). */
int hn_inspect_dump(const hn_model *m, const double *theta, const hn_samples *s,
                    const char *dir, hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
