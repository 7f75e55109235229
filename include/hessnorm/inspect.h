/* hessnorm — everything `hessnorm inspect` reports, as a library call. */
#ifndef HESSNORM_INSPECT_H
#define HESSNORM_INSPECT_H
#include <stddef.h>
#include "hessnorm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t index;            /* position in model->layers */
    double T_norm, T_fro, Q_norm, G_norm, R_norm, Rx_norm;
} hn_inspect_layer;

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
