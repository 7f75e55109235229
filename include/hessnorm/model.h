/* hessnorm — network description (interchange format hessnorm-model/1).
 *
 * Internally every activation is a (c, h, w) block in C order:
 *   1-D signal [C, L] -> (C, 1, L);  image [C, H, W] -> (C, H, W);
 *   plain vector [N]  -> (N, 1, 1).
 * Every linear operator (conv1d, conv2d, linear) is then one 2-D
 * convolution with stride 1 and no padding: conv1d has kernel (1, k),
 * linear has kernel (1, 1) on a (in, 1, 1) input.  The PyTorch weight
 * layouts [out,in,k], [out,in,kh,kw], [out,in] are the same memory as
 * [out,in,kh,kw] with the missing kernel dimensions equal to 1.
 *
 * theta = the linear layers' weights in layer order, each flattened in C
 * order of its PyTorch layout (the concatenated state_dict()). */
#ifndef HESSNORM_MODEL_H
#define HESSNORM_MODEL_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HN_CONV1D, HN_CONV2D, HN_LINEAR, HN_RELU,
    HN_MAXPOOL1D, HN_MAXPOOL2D, HN_AVGPOOL1D, HN_AVGPOOL2D, HN_FLATTEN
} hn_layer_type;

typedef enum { HN_LOSS_CE, HN_LOSS_MSE } hn_loss_type;

typedef struct { size_t c, h, w; } hn_shape;

typedef struct {
    hn_layer_type type;
    size_t out_channels;     /* conv: out channels; linear: out_features */
    size_t kh, kw;           /* conv/pool kernel (1 where absent) */
    /* filled by hn_model_finalize: */
    hn_shape in, out;
    int in_ndim, out_ndim;   /* 1 flat, 2 [C,L], 3 [C,H,W] */
    size_t param_offset;     /* into theta */
    size_t param_count;      /* 0 for non-linear layers */
    int lin_index;           /* 0-based index among linear operators, else -1 */
} hn_layer;

typedef struct {
    int input_ndim;          /* 1, 2 or 3 */
    size_t input_dims[3];    /* as in the JSON "input" */
    hn_shape input;
    size_t classes;
    hn_loss_type loss;
    size_t n_layers, cap_layers;
    hn_layer *layers;
    /* filled by hn_model_finalize: */
    size_t n_params;
    size_t n_linear;         /* L + 1 in the paper's notation */
    size_t *linear_pos;      /* positions in layers[] of the linear ops */
    size_t max_act;          /* largest activation size (elements) */
    int finalized;
} hn_model;

static inline size_t hn_shape_size(hn_shape s) { return s.c * s.h * s.w; }

const char *hn_layer_type_name(hn_layer_type t);
int hn_layer_is_linear(hn_layer_type t);

/* Build a model programmatically: new, add layers, finalize.
 * dims has ndim entries (ndim = 1, 2 or 3). */
int hn_model_new(int ndim, const size_t *dims, size_t classes,
                 hn_loss_type loss, hn_model **out, hn_err *err);
/* kh is ignored (1) for 1-D layers; for linear, k = out_features via out_channels. */
int hn_model_add(hn_model *m, hn_layer_type t, size_t out_channels,
                 size_t kh, size_t kw, hn_err *err);
/* Compute shapes and parameter offsets, validate the paper's constraints
 * (first and last layers linear, last output == classes, shapes chain,
 * kernels fit).  Error messages name the field, e.g. "layers[3].kernel". */
int hn_model_finalize(hn_model *m, hn_err *err);
void hn_model_free(hn_model *m);
hn_model *hn_model_clone(const hn_model *m);

/* Parse the architecture JSON (text of length len; `source` names the
 * file in messages).  Strict: unknown or missing fields, wrong JSON types,
 * duplicate keys and values above 2^31 are errors; the result is
 * finalized.  Format details: docs/format.md. */
int hn_model_parse(const char *text, size_t len, const char *source,
                   hn_model **out, hn_err *err);
int hn_model_load(const char *path, hn_model **out, hn_err *err);
/* Serialise to JSON text (caller frees with hn_free; NULL when out of
 * memory), or write to path atomically (temporary file + rename). */
char *hn_model_to_json(const hn_model *m);
int hn_model_save(const hn_model *m, const char *path, hn_err *err);

/* Weights <-> theta (safetensors, "<i>.weight").  theta has n_params.
 * Load checks every tensor's name, dtype and shape before writing theta;
 * a NaN/Inf value stops the copy part-way (theta is then unspecified). */
int hn_weights_load(const hn_model *m, const char *path, double *theta, hn_err *err);
int hn_weights_save(const hn_model *m, const double *theta, const char *path, hn_err *err);

/* Samples: x is n * input_size; for CE y_class[n]; for MSE y_vec[n*classes]. */
typedef struct {
    size_t n;
    size_t in_size;
    size_t classes;
    hn_loss_type loss;
    int batched;             /* x had a leading batch dimension */
    double *x;
    long *y_class;
    double *y_vec;
} hn_samples;

/* n >= 1 zeroed samples for a finalized model; batched = 0. */
int hn_samples_alloc(const hn_model *m, size_t n, hn_samples **out, hn_err *err);
void hn_samples_free(hn_samples *s);
/* A view (owning nothing) of sample i of s as a one-sample, unbatched set. */
hn_samples hn_samples_view(const hn_samples *s, size_t i);
int hn_samples_load(const hn_model *m, const char *path, hn_samples **out, hn_err *err);
/* x is written F64 with a batch dimension if s->batched or n > 1; y is I64
 * (CE, labels checked against classes) or F64 (MSE). */
int hn_samples_save(const hn_model *m, const hn_samples *s, const char *path, hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
