/* hessnorm — small dense symmetric eigenproblems on raw row-major arrays:
 * the one home of the in-place LAPACKE_dsyevd calls, the PSD square root
 * and the K x K "sandwich" spectra of the per-sample H_O routes. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <cblas.h>
#include <lapacke.h>
#include "hessnorm/eigsmall.h"
#include "linalg/vecops.h"

int hn_eig_sym_inplace(size_t n, double *a, double *w, int vectors, const char *who, hn_err *err)
{
    /* row-major, uplo 'U', lda = n: the arguments every caller used, so
     * the eigenvalues keep their bits */
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', (lapack_int)n, a,
                                     (lapack_int)n, w);
    if (info == 0)
        return HN_OK;
    return hn_err_set(err, info < 0 ? HN_EINVAL : HN_ENUMERIC, "%s: LAPACKE_dsyevd info %d", who,
                      (int)info);
}

void hn_psd_sqrt_from_eig(size_t K, const double *V, const double *lam, double *S)
{
    /* one sequential sum per entry, c ascending, (V_ac sqrt(lam_c)) V_bc:
     * the order both former copies (inspect, experiment) had */
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            double s = 0;
            for (size_t c = 0; c < K; c++)
                s += V[a * K + c] * sqrt(fmax(lam[c], 0.0)) * V[b * K + c];
            S[a * K + b] = s;
        }
}

int hn_psd_sqrt(size_t K, double *A, double *w, double *S, hn_err *err)
{
    int rc = hn_eig_sym_inplace(K, A, w, 1, "PSD square root", err);
    if (!rc)
        hn_psd_sqrt_from_eig(K, A, w, S);
    return rc;
}

/* Average the two triangles of M: the products are symmetric up to rounding. */
static void symmetrise(size_t K, double *M)
{
    for (size_t a = 0; a < K; a++)
        for (size_t b = a + 1; b < K; b++)
            M[a * K + b] = M[b * K + a] = 0.5 * (M[a * K + b] + M[b * K + a]);
}

int hn_sym_sandwich_eigs(size_t K, const double *S, const double *G, double *buf, double *ev,
                         hn_err *err)
{
    double *T = buf, *M = T + K * K;
    for (size_t a = 0; a < K; a++) /* T = S G */
        for (size_t b = 0; b < K; b++)
            T[a * K + b] = hn_dot_seq(S + a * K, G + b * K, K); /* G symmetric: column b = row b */
    for (size_t a = 0; a < K; a++) /* M = T S */
        for (size_t b = 0; b < K; b++) {
            double s = 0;
            for (size_t c = 0; c < K; c++)
                s += T[a * K + c] * S[c * K + b];
            M[a * K + b] = s;
        }
    symmetrise(K, M);
    return hn_eig_sym_inplace(K, M, ev, 0, "sandwich spectrum", err);
}

void hn_softmax_hess_factor(size_t K, const double *p, double *C)
{
    /* C = diag(sqrt p) (I - 1 p^T): C^T C = (I - p 1^T) diag(p) (I - 1 p^T)
     * = diag(p) - p p^T as sum p = 1.  1 - p_a is summed from the other
     * p_b: no cancellation when the softmax saturates. */
    for (size_t a = 0; a < K; a++) {
        const double sa = sqrt(p[a]);
        for (size_t b = 0; b < K; b++) {
            double v;
            if (a != b) {
                v = -p[b];
            } else {
                v = 0;
                for (size_t e = 0; e < K; e++)
                    if (e != a)
                        v += p[e];
            }
            C[a * K + b] = sa * v;
        }
    }
}

int hn_sandwich_eigs(size_t K, const double *C, const double *G, double *buf, double *ev,
                     hn_err *err)
{
    double *T = buf, *M = T + K * K;
    if (!C) {
        memcpy(M, G, K * K * sizeof *M);
    } else {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)K, (blasint)K, (blasint)K,
                    1.0, C, (blasint)K, G, (blasint)K, 0.0, T, (blasint)K);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)K, (blasint)K, (blasint)K,
                    1.0, T, (blasint)K, C, (blasint)K, 0.0, M, (blasint)K);
        symmetrise(K, M);
    }
    return hn_eig_sym_inplace(K, M, ev, 0, "sandwich spectrum", err);
}
