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

int hn_inspect(const hn_model *m, const double *theta, const hn_samples *s,
               hn_inspect_result **out, hn_err *err);
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
