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
void hn_family_random_spec(gsl_rng *r, hn_netspec *ns, hn_family_target target);
void hn_family_draw(gsl_rng *r, const hn_model *m, double scale, int mode, double *theta, hn_samples *s);
int hn_family_interpolate(const hn_model *m, const double *theta, hn_samples *s, hn_err *err);
#endif
