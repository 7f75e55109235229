/* hessnorm — internal: network families for the audit. */
#ifndef HN_FAMILIES_H
#define HN_FAMILIES_H
#include <gsl/gsl_rng.h>
#include "hessnorm/audit.h"
typedef enum {
    HN_FAM_ANY,      /* anything the generator draws */
    HN_FAM_CONV1D,   /* 1-D conv-only, ReLU, no pooling (Theorem 1) */
    HN_FAM_CONV2D,   /* 2-D conv-only, ReLU, no pooling (Theorem 2) */
    HN_FAM_MAXPOOL,  /* 2-D conv-only, one max-pool instead of a ReLU (Lemma 3) */
    HN_FAM_AVGPOOL,  /* 2-D conv-only, one avg-pool instead of a ReLU (Lemma 4) */
    HN_FAM_FC_HEAD,  /* 2-D convs + fully-connected head (Lemma 5) */
    HN_FAM_PURE      /* conv-only, no pooling, 1-D or 2-D (equation (1), corollaries) */
} hn_family_target;
#define HN_FAM_COUNT 7

/* How an instance's weights are drawn: its family's name (in the report),
 * the weight scale and the hn_family_draw mode. */
typedef struct {
    const char *name;
    double scale;
    int mode;
} hn_family_weights;

/* Draw a random architecture of the target family (conv-only targets: the
 * last conv produces the K logits at 1x1). */
void hn_family_random_spec(gsl_rng *r, hn_netspec *ns, hn_family_target target);
/* The random family's weights: "random", scale log-uniform in [10^-1.5, 10], mode 0. */
hn_family_weights hn_family_random_weights(gsl_rng *r);
/* Make ns an equation-(1) net (conv-only, no pooling, MSE iff interp);
 * draws k in 1..4 (returned: the instance has k+1 samples), then the scale. */
size_t hn_family_landscape(gsl_rng *r, int interp, hn_netspec *ns, hn_family_weights *w);
/* Adversarial equation-(1) instance i: interpolating MSE on even cycles,
 * extreme weight scales; draws nothing; returns whether it interpolates. */
int hn_family_landscape_extreme(size_t i, hn_netspec *ns, hn_family_weights *w);
/* Adversarial instance i outside equation (1): one of six named
 * constructions (constant kernels, 1x1 kernels, MSE, the minimal pooled
 * net, extreme scales) rewrites ns and w, cycling with i; draws nothing. */
void hn_family_adversarial(size_t i, hn_family_target target, hn_netspec *ns, hn_family_weights *w);
/* Weights and sample: scale (times 1/sqrt(fan_in)), mode 0 uniform
 * symmetric, 1 constant positive, 2 constant with a random sign per layer;
 * x uniform in [0,1]. */
void hn_family_draw(gsl_rng *r, const hn_model *m, double scale, int mode, double *theta, hn_samples *s);
/* theta = theta* + delta for equation (1): delta uniform in direction, of
 * norm R = 10^U(-3,0) ||theta*|| (adversarial: an absolute 10^U(-1,0.5)). */
void hn_family_delta(gsl_rng *r, size_t P, const double *theta, int adversarial, double *delta);
/* Make the MSE targets interpolate (y_i = f(x_i)); HN_EINVAL without MSE. */
int hn_family_interpolate(const hn_model *m, const double *theta, hn_samples *s, hn_err *err);

/* ------------------------------------------------------------ structured */

/* The layer groups of the per-group weight scales: the last linear layer,
 * the FC layers before it, the first conv, the last conv (when not the
 * first), the convs between. */
typedef enum { HN_GRP_FIRST, HN_GRP_INNER, HN_GRP_LASTCONV, HN_GRP_FC, HN_GRP_LAST, HN_GRP_COUNT } hn_layer_group;
/* Kernel patterns: constant, a +-1 pattern, one-hot (one entry per
 * (out, in) pair), uniform symmetric. */
typedef enum { HN_KER_CONST, HN_KER_PM1, HN_KER_ONEHOT, HN_KER_UNIFORM } hn_kernel_kind;
/* Inputs: constant, one-hot, uniform in [0, 1], uniform in [-1, 1]. */
typedef enum { HN_X_CONST, HN_X_ONEHOT, HN_X_UNIFORM, HN_X_SIGNED } hn_input_kind;

/* How a structured instance's weights and input are made. */
typedef struct {
    const char *name;
    double scale[HN_GRP_COUNT]; /* absolute weight magnitude per layer group */
    hn_kernel_kind kernel;
    int tied;                   /* last layer: row k has sign (-1)^k (K = 2: +w / -w) */
    hn_input_kind input;
    double x_scale;             /* magnitude of x; 0: x rescaled so max |logit| = HN_TIE_LOGIT */
} hn_family_recipe;
/* The logits of a tied instance: p within 1e-8 of (1/2, 1/2) for K = 2. */
#define HN_TIE_LOGIT 1e-4

/* The number of deterministic structured instances. */
size_t hn_family_structured_count(void);
/* Deterministic structured instance i < hn_family_structured_count(): the
 * constructions that attain the suprema of audit/suprema.c, the Lemma 5
 * counterexample, pooling to 1x1, extreme per-group scales, one-hot and
 * constant kernels and inputs; draws nothing. */
void hn_family_structured(size_t i, hn_netspec *ns, hn_family_recipe *rc);
/* A random structured instance: a random spec of the target (or a 1x1
 * chain), independent per-group scales log-uniform in [10^-4, 10^4], a
 * random kernel and input kind. */
void hn_family_scaled(gsl_rng *r, hn_family_target target, hn_netspec *ns, hn_family_recipe *rc);
/* Weights and sample of a recipe (r draws the uniform kernels, the inputs
 * and the labels; pass an rng with a fixed seed for a seed-independent
 * instance); a tied recipe rescales x after a forward pass.  HN_ENOMEM. */
int hn_family_fill(gsl_rng *r, const hn_model *m, const hn_family_recipe *rc, double *theta, hn_samples *s,
                   hn_err *err);
#endif
