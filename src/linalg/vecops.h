/* hessnorm — internal: small vector kernels shared by the linalg code and
 * its callers.  Not installed. */
#ifndef HN_LINALG_VECOPS_H
#define HN_LINALG_VECOPS_H
#include <stddef.h>

/* Sequential dot product: the same bits whichever thread computes it. */
static inline double hn_dot_seq(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

#endif
