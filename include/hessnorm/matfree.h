/* hessnorm — the paper's per-sample quantities without the dense matrices:
 * no P x P Hessian, no (positions x parameters) Q, no dense T, G or R.
 * Every norm is a bracket lo <= value <= hi, with how hi was obtained:
 *   ||A||, ||G^(p)||, ||F||, ||J||, ||H_O|| and its nonzero eigenvalues:
 *       exact, from K x K Gram forms (K = classes) built from K reverse
 *       passes through the fixed masks (G G^T, F F^T = sum_p ||R^(p-1)x||^2
 *       G^(p) G^(p)T, J J^T, C J J^T C^T with C^T C = A);
 *   ||Q^(p)||: exact, sqrt(output positions) (Q^T Q = positions I: each
 *       weight appears once per output position, in disjoint rows);
 *   ||T^(p)||_F: exact, sqrt(positions ||W||^2);
 *   ||T^(p)||: Lanczos on T^T T, at most 100 products (lo = value = the
 *       square root of the top Ritz value, a certified lower bound); hi
 *       certified: the smallest of the circulant (2-D DFT), Schur and
 *       Frobenius bounds (convbound.h);
 *   ||R^(p-1)||: exact, from the explicit R^(p-1) and its n x n Gram
 *       (n = input size; hn_mf_r_explicit) when that fits
 *       HN_MF_R_EXPLICIT_MAX_BYTES; else Lanczos on R^T R through the fixed
 *       masks (lo = value, certified); hi = sqrt(theta + r) from the top
 *       Ritz pair's residual r (an eigenvalue lies within r of theta; that
 *       it is the largest is not certified), or the certified product of
 *       the layers' upper bounds when that is smaller;
 *   ||R^(p-1) x||: exact, the activation's norm. */
#ifndef HESSNORM_MATFREE_H
#define HESSNORM_MATFREE_H
#include <stddef.h>
#include "hessnorm/error.h"
#include "hessnorm/layers.h"
#include "hessnorm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HN_HI_EXACT,      /* lo = value = hi, to rounding */
    HN_HI_CERTIFIED,  /* hi is a proven upper bound */
    HN_HI_RESIDUAL    /* hi from a Lanczos residual (not a proof that no larger eigenvalue exists) */
} hn_hi_kind;

/* lo_kind says how lo was obtained, with the same words (HN_HI_CERTIFIED:
 * a proven lower bound, e.g. a Ritz value below the largest eigenvalue;
 * HN_HI_RESIDUAL: from a Lanczos residual, e.g. theta_min - r for the
 * smallest eigenvalue).  Zero-initialised it reads "exact". */
typedef struct {
    double lo, value, hi;
    hn_hi_kind hi_kind;
    hn_hi_kind lo_kind;
} hn_bracket;

typedef struct {
    size_t layer;            /* index in m->layers of the linear op T^(p) */
    size_t positions;        /* output positions (1 for a linear layer) */
    hn_bracket T_norm;
    double T_fro, Q_norm, G_norm, Rx_norm;
    hn_bracket R_norm;       /* ||R^(p-1)||: exact 1 for p = 1 */
    const char *T_hi_how;    /* which bound gave T_norm.hi */
    size_t T_products, R_products; /* Lanczos operator products spent on each (0: closed form or explicit R) */
} hn_mf_layer;

typedef struct {
    size_t n_lin, K, P;
    hn_mf_layer *layers;     /* n_lin entries, p = 1 .. n_lin */
    double A_norm, F_norm, J_norm, HO_norm, HO_trace;
    double *HO_eigs;         /* nonzero eigenvalues of H_O, descending */
    size_t n_HO_eigs;
    size_t lanczos_products; /* operator products spent on T and R */
} hn_mf_sample;

/* What of hn_mf_sample depends on theta only (the same for every sample):
 * per linear layer T^(p)'s bracket, T_hi_how, T_products, ||T||_F, ||Q||
 * and positions; and the Lanczos settings the per-sample part uses. */
typedef struct {
    size_t n_lin;
    hn_mf_layer *layers;     /* n_lin entries; their R, G and Rx fields 0 */
    size_t lanczos_products; /* spent on T */
    size_t max_iter;
    double rtol;
    unsigned long seed;
    int r_explicit;          /* ||R^(p-1)||: 1 from the explicit R (hn_mf_r_explicit), 0 by Lanczos */
} hn_mf_theta;

/* The theta part, Lanczos as in hn_mf_sample_compute (the settings are kept
 * in it for hn_mf_sample_compute_at).  Errors: HN_EINVAL, HN_ENOMEM,
 * HN_ENUMERIC. */
int hn_mf_theta_compute(const hn_model *m, const double *theta, size_t max_iter, double rtol, unsigned long seed,
                        hn_mf_theta **out, hn_err *err);
void hn_mf_theta_free(hn_mf_theta *t);

/* The route for ||R^(p-1)|| (hn_mf_theta.r_explicit): the explicit R when
 * hn_mf_r_explicit_bytes is at most this, else Lanczos. */
#define HN_MF_R_EXPLICIT_MAX_BYTES ((size_t)512 << 20)

/* ||R^(p-1)|| of every linear layer p (R_norm, n_linear entries; R^(0) = I:
 * 1) from R^(p-1) itself at the masks of ws's last hn_forward: the n input
 * units pushed through the fixed layers, the rows a ReLU zeroes dropped,
 * lambda_max of the n x n Gram R^T R (hn_gram_norm2): exact to rounding.
 * Two routes to the same R: windowed (on chains of 2-D convolutions, ReLUs
 * and flattens whose receptive fields stay within the layers, and windowed
 * != 0: each unit's column carried as its receptive-field window, one GEMM
 * per chunk of windows) or full (every column through the whole layers by
 * hn_fixed_range_batch).  Uses at most hn_mf_r_explicit_bytes(m) bytes
 * (the route windowed = 1 takes).  Errors: HN_ENOMEM, HN_ENUMERIC (LAPACK);
 * on an error every entry of R_norm is NAN (nothing was measured). */
int hn_mf_r_explicit(const hn_model *m, const double *theta, const hn_ws *ws, int windowed, double *R_norm,
                     hn_err *err);
size_t hn_mf_r_explicit_bytes(const hn_model *m);

/* hn_mf_sample_compute with theta's part th (hn_mf_theta_compute on the
 * same m and theta; its Lanczos settings): the same numbers.  Reads th
 * only, so threads may share it.  Errors as hn_mf_sample_compute. */
int hn_mf_sample_compute_at(const hn_model *m, const double *theta, const hn_mf_theta *th, const hn_samples *s,
                            size_t i, hn_mf_sample **out, hn_err *err);

/* The quantities above for sample i of s.  Lanczos stops at relative
 * residual rtol or after max_iter products per norm (seeded with seed:
 * deterministic).  Errors: HN_EINVAL (bad argument, i out of range),
 * HN_ENOMEM, HN_ENUMERIC (LAPACK). */
int hn_mf_sample_compute(const hn_model *m, const double *theta, const hn_samples *s, size_t i,
                         size_t max_iter, double rtol, unsigned long seed, hn_mf_sample **out, hn_err *err);
void hn_mf_sample_free(hn_mf_sample *r);
const char *hn_hi_kind_name(hn_hi_kind k);

#ifdef __cplusplus
}
#endif
#endif
