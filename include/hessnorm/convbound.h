/* hessnorm — certified upper bounds on the spectral norm of a convolution
 * T (stride 1, no padding; W is [co, ci, kh, kw], inputs (ci, h, w); a
 * linear layer is the case h = w = kh = kw = 1), independent of any
 * iteration, to bracket the Lanczos value from above. */
#ifndef HESSNORM_CONVBOUND_H
#define HESSNORM_CONVBOUND_H
#include <stddef.h>
#include "hessnorm/error.h"
#include "hessnorm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HN_CB_CIRCULANT, HN_CB_SCHUR, HN_CB_FROBENIUS } hn_conv_bound_kind;

/* ||C|| of the circular convolution on the same h x w grid, exactly, from
 * the 2-D DFT of the kernels (h w small Hermitian eigenproblems): the valid
 * convolution is a row subset of C, so ||T|| <= ||C||.  HN_EINVAL (NULL,
 * a zero size, a kernel larger than the input), HN_ENOMEM, HN_ENUMERIC. */
int hn_conv_circulant_norm(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, double *norm,
                           hn_err *err);
/* sqrt(max row sum * max column sum) of |T| (Schur test), from W alone. */
double hn_conv_schur_bound(hn_shape in, size_t co, size_t kh, size_t kw, const double *W);
/* ||T||_F = sqrt(output positions * ||W||^2), exactly (each weight appears
 * once per output position). */
double hn_conv_fro(hn_shape in, size_t co, size_t kh, size_t kw, const double *W);
/* The smallest of the three bounds, and which it is (kind may be NULL). */
int hn_conv_norm_upper(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, double *upper,
                       hn_conv_bound_kind *kind, hn_err *err);
const char *hn_conv_bound_name(hn_conv_bound_kind k);

#ifdef __cplusplus
}
#endif
#endif
