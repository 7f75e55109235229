/* hessnorm — the full Hessian, exactly, and its outer-product part. */
#ifndef HESSNORM_HESSIAN_H
#define HESSNORM_HESSIAN_H
#include <gsl/gsl_matrix.h>
#include "hessnorm/model.h"

/* H = d^2/dtheta^2 of the mean loss over s, assembled from P exact
 * Hessian-vector products (forward-over-reverse); symmetrised. */
int hn_hessian_full(const hn_model *m, const double *theta, const hn_samples *s,
                    gsl_matrix *H, hn_err *err);
/* H_O = mean_i J_i^T A_i J_i through backprop Jacobians. */
int hn_hessian_outer(const hn_model *m, const double *theta, const hn_samples *s,
                     gsl_matrix *HO, hn_err *err);

#endif
