/* hessnorm — Lanczos for the extreme eigenvalues of a symmetric operator. */
#ifndef HESSNORM_LANCZOS_H
#define HESSNORM_LANCZOS_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = M x for a symmetric operator M on R^n.  Returns 0 or a negative
 * HN_E* code (which aborts the iteration and is returned). */
typedef int (*hn_matvec_fn)(void *ctx, const double *x, double *y);

typedef struct {
    double norm;         /* max(|lambda_max|, |lambda_min|) = ||M||_2 */
    double lambda_max;   /* largest Ritz value */
    double lambda_min;   /* smallest Ritz value */
    double residual;     /* largest residual norm ||M y - theta y|| of the two extreme Ritz pairs */
    size_t iterations;   /* matrix-vector products */
    int converged;       /* 1: both residuals <= rtol * norm, or the Krylov space is invariant */
} hn_lanczos_result;

/* Extreme eigenvalues of the symmetric (possibly indefinite) operator mv
 * on R^n by Lanczos with full reorthogonalisation (classical Gram-Schmidt
 * applied twice), started from a Gaussian vector drawn from mt19937 seeded
 * with `seed`.  Stops when the residual bound beta_j |s_j| of both extreme
 * Ritz pairs is <= rtol * norm (the eigenvalue error is at most the
 * residual, and usually its square over the gap), when the Krylov space
 * becomes invariant (exact), or after max_iter products (converged = 0;
 * the values are then lower bounds on the extreme eigenvalues' moduli).
 * max_iter is capped at n.  Stores max_iter + 1 vectors of n doubles.
 * Deterministic and independent of the thread count (threads <= 0: all).
 * Errors: HN_EINVAL (n = 0, max_iter = 0, rtol <= 0), HN_ENOMEM,
 * HN_ENUMERIC (LAPACK failure on the tridiagonal matrix), or mv's code. */
int hn_lanczos_extreme(size_t n, hn_matvec_fn mv, void *ctx, size_t max_iter, double rtol,
                       unsigned long seed, int threads, hn_lanczos_result *res, hn_err *err);

#ifdef __cplusplus
}
#endif

#endif
