/* hessnorm — Lanczos with full reorthogonalisation for the extreme
 * eigenvalues of a symmetric operator, with residual bounds. */
#include "config.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/lanczos.h"
#include "base/threads.h"
#include "linalg/vecops.h"

#define LZ_BLOCK 2048
/* Below this many multiply-adds a loop runs on one thread: thread wake-ups
 * cost more than they save, and far more on a loaded machine. */
#define PAR_WORK 200000.0

/* Extreme eigenpair (lowest if hi == 0) of the symmetric tridiagonal
 * (d[0..n-1], e[0..n-2]): value and the last component of its unit
 * eigenvector. */
static int tridiag_extreme(size_t n, const double *d, const double *e, int hi, double *work,
                           double *val, double *last)
{
    double *dd = work, *ee = work + n, *z = work + 2 * n;
    lapack_int isuppz[2], mfound = 0;
    double w[1];
    memcpy(dd, d, n * sizeof *dd);
    if (n > 1)
        memcpy(ee, e, (n - 1) * sizeof *ee);
    ee[n - 1] = 0;
    const lapack_int il = hi ? (lapack_int)n : 1;
    lapack_int info = LAPACKE_dstevr(LAPACK_COL_MAJOR, 'V', 'I', (lapack_int)n, dd, ee, 0.0, 0.0,
                                     il, il, 0.0, &mfound, w, z, (lapack_int)n, isuppz);
    if (info != 0 || mfound != 1)
        return HN_ENUMERIC;
    *val = w[0];
    *last = z[n - 1];
    return HN_OK;
}

int hn_lanczos_extreme(size_t n, hn_matvec_fn mv, void *ctx, size_t max_iter, double rtol,
                       unsigned long seed, int threads, hn_lanczos_result *res, hn_err *err)
{
    memset(res, 0, sizeof *res);
    if (n == 0 || !mv)
        return hn_err_set(err, HN_EINVAL, "lanczos: empty operator");
    if (max_iter == 0)
        return hn_err_set(err, HN_EINVAL, "lanczos: max_iter must be positive");
    if (!(rtol > 0))
        return hn_err_set(err, HN_EINVAL, "lanczos: rtol must be positive, got %g", rtol);
    if (max_iter > n)
        max_iter = n;
    const int nt = hn_resolve_threads(threads);
    int rc = HN_OK;
    double **V = hn_calloc(max_iter + 1, sizeof *V);
    double *alpha = hn_calloc(max_iter, sizeof *alpha);
    double *beta = hn_calloc(max_iter, sizeof *beta);
    double *h = hn_calloc(max_iter, sizeof *h);
    double *w = hn_calloc(n, sizeof *w);
    double *work = hn_calloc(4 * max_iter + 4, sizeof *work);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!V || !alpha || !beta || !h || !w || !work || !r || !(V[0] = hn_calloc(n, sizeof **V))) {
        rc = hn_err_set(err, HN_ENOMEM, "lanczos: out of memory (n = %zu)", n);
        goto done;
    }
    gsl_rng_set(r, seed);
    for (size_t i = 0; i < n; i++)
        V[0][i] = gsl_ran_gaussian_ziggurat(r, 1.0);
    {
        const double nv = sqrt(hn_dot_seq(V[0], V[0], n));
        for (size_t i = 0; i < n; i++)
            V[0][i] /= nv;
    }
    const long nblk = (long)((n + LZ_BLOCK - 1) / LZ_BLOCK);
    for (size_t j = 0; j < max_iter; j++) {
        rc = mv(ctx, V[j], w);
        if (rc) {
            rc = hn_err_set(err, rc, "lanczos: the operator failed at iteration %zu", j + 1);
            goto done;
        }
        res->iterations = j + 1;
        if (j > 0)
            for (size_t i = 0; i < n; i++)
                w[i] -= beta[j - 1] * V[j - 1][i];
        alpha[j] = hn_dot_seq(V[j], w, n);
        for (size_t i = 0; i < n; i++)
            w[i] -= alpha[j] * V[j][i];
        /* full reorthogonalisation, classical Gram-Schmidt twice; every
         * coefficient is one sequential dot product and every entry of w
         * is updated in basis order: the same bits on any thread count */
        const int par = (double)(j + 1) * (double)n > PAR_WORK; /* same bits either way */
        for (int pass = 0; pass < 2; pass++) {
            const long nj = (long)j + 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
            for (long i = 0; i < nj; i++)
                h[i] = hn_dot_seq(V[i], w, n);
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
            for (long b = 0; b < nblk; b++) {
                const size_t p1 = (size_t)b * LZ_BLOCK, p2 = p1 + LZ_BLOCK < n ? p1 + LZ_BLOCK : n;
                for (long i = 0; i < nj; i++) {
                    const double hi = h[i], *vi = V[i];
                    for (size_t p = p1; p < p2; p++)
                        w[p] -= hi * vi[p];
                }
            }
            alpha[j] += h[j];
        }
        const double b = sqrt(hn_dot_seq(w, w, n));
        beta[j] = b;
        double tmin, smin, tmax, smax;
        if (tridiag_extreme(j + 1, alpha, beta, 0, work, &tmin, &smin) ||
            tridiag_extreme(j + 1, alpha, beta, 1, work, &tmax, &smax)) {
            rc = hn_err_set(err, HN_ENUMERIC,
                            "lanczos: LAPACK dstevr failed on the %zu x %zu tridiagonal matrix",
                            j + 1, j + 1);
            goto done;
        }
        const double anorm = fmax(fabs(tmin), fabs(tmax));
        const double rmin = b * fabs(smin), rmax = b * fabs(smax);
        res->lambda_min = tmin;
        res->lambda_max = tmax;
        res->norm = anorm;
        res->residual = fmax(rmin, rmax);
        if (res->residual <= rtol * anorm || b <= DBL_MIN) {
            res->converged = 1;
            break;
        }
        if (j + 1 == max_iter)
            break;
        if (!(V[j + 1] = hn_malloc(n * sizeof **V))) {
            rc = hn_err_set(err, HN_ENOMEM, "lanczos: out of memory at iteration %zu (n = %zu)",
                            j + 1, n);
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            V[j + 1][i] = w[i] / b;
    }
done:
    if (V)
        for (size_t i = 0; i <= max_iter; i++)
            hn_free(V[i]);
    hn_free(V);
    hn_free(alpha);
    hn_free(beta);
    hn_free(h);
    hn_free(w);
    hn_free(work);
    if (r)
        gsl_rng_free(r);
    return rc;
}
