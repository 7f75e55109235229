/* hessnorm — certified upper bounds on the spectral norm of a convolution
 * (stride 1, no padding, weights W [co, ci, kh, kw] on inputs of shape
 * (ci, h, w)), independent of any iteration:
 *   circulant  the valid convolution is a row subset of the circular one
 *              on the same h x w grid (no output position wraps), so ||T||
 *              <= ||C||; C is block-diagonalised by the 2-D DFT, its
 *              singular values are those of the co x ci matrices
 *              K(u,v) = sum_{a,b} W[:, :, a, b] e^{-2 pi i (u a / h + v b / w)}
 *              over the h w frequencies (exact, no approximation);
 *   Schur      ||T||^2 <= (max row sum of |T|) (max column sum of |T|);
 *   Frobenius  ||T||_F = sqrt(output positions * ||W||^2).
 * hn_conv_norm_upper returns the smallest.  Exact arithmetic aside, the
 * only rounding is in the DFT sums and the small Hermitian eigenproblems
 * (relative ~1e-15 of the bound). */
#include "config.h"
#include <math.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/convbound.h"
#include "hessnorm/eigsmall.h"

/* lambda_max of the Hermitian n x n M = Re + i Im through the real
 * symmetric embedding [[Re, -Im], [Im, Re]] (its eigenvalues are M's, each
 * twice); buf: 4 n^2 + 2 n doubles. */
static int herm_lmax(size_t n, const double *re, const double *im, double *buf, double *out, hn_err *err)
{
    const size_t N = 2 * n;
    double *a = buf, *w = buf + N * N;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            a[i * N + j] = re[i * n + j];
            a[(i + n) * N + j + n] = re[i * n + j];
            a[i * N + j + n] = -im[i * n + j];
            a[(i + n) * N + j] = im[i * n + j];
        }
    int rc = hn_eig_sym_inplace(N, a, w, 0, "conv bound", err);
    if (!rc)
        *out = w[N - 1];
    return rc;
}

int hn_conv_circulant_norm(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, double *norm,
                           hn_err *err)
{
    const size_t ci = in.c, H = in.h, Wd = in.w;
    if (!W || !norm || !co || !ci || !kh || !kw || kh > H || kw > Wd)
        return hn_err_set(err, HN_EINVAL, "conv bound: bad shape");
    /* Gram of K(u,v) on the smaller side: K^H K (ci x ci) or K K^H (co x co) */
    const size_t n = ci <= co ? ci : co;
    double *kre = hn_calloc(2 * co * ci + 2 * n * n + 4 * n * n + 2 * n, sizeof(double));
    if (!kre)
        return hn_err_set(err, HN_ENOMEM, "conv bound: out of memory");
    double *kim = kre + co * ci, *gre = kim + co * ci, *gim = gre + n * n, *buf = gim + n * n;
    double best = 0;
    int rc = HN_OK;
    for (size_t u = 0; u < H && !rc; u++)
        for (size_t v = 0; v < Wd && !rc; v++) {
            for (size_t o = 0; o < co; o++)
                for (size_t c = 0; c < ci; c++) {
                    double sr = 0, si = 0;
                    for (size_t a = 0; a < kh; a++)
                        for (size_t b = 0; b < kw; b++) {
                            double ph = -2 * M_PI * ((double)(u * a) / (double)H + (double)(v * b) / (double)Wd);
                            double x = W[((o * ci + c) * kh + a) * kw + b];
                            sr += x * cos(ph);
                            si += x * sin(ph);
                        }
                    kre[o * ci + c] = sr;
                    kim[o * ci + c] = si;
                }
            /* G = K^H K (n = ci) or K K^H (n = co); (x + iy)(p + iq) products */
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    double r = 0, m = 0;
                    if (n == ci)
                        for (size_t o = 0; o < co; o++) { /* conj(K[o][i]) K[o][j] */
                            double ar = kre[o * ci + i], ai = -kim[o * ci + i];
                            double br = kre[o * ci + j], bi = kim[o * ci + j];
                            r += ar * br - ai * bi;
                            m += ar * bi + ai * br;
                        }
                    else
                        for (size_t c = 0; c < ci; c++) { /* K[i][c] conj(K[j][c]) */
                            double ar = kre[i * ci + c], ai = kim[i * ci + c];
                            double br = kre[j * ci + c], bi = -kim[j * ci + c];
                            r += ar * br - ai * bi;
                            m += ar * bi + ai * br;
                        }
                    gre[i * n + j] = r;
                    gim[i * n + j] = m;
                }
            double l;
            rc = herm_lmax(n, gre, gim, buf, &l, err);
            if (!rc && l > best)
                best = l;
        }
    hn_free(kre);
    if (!rc)
        *norm = sqrt(best);
    return rc;
}

double hn_conv_schur_bound(hn_shape in, size_t co, size_t kh, size_t kw, const double *W)
{
    /* a row of T holds W[o, :, :, :] once (row sum s_o = sum |W[o]|); a
     * column meets each weight W[:, c, a, b] at most once (column sum <=
     * sum_{o,a,b} |W[o, c, a, b]|) */
    const size_t ci = in.c, kk = kh * kw;
    double rmax = 0, cmax = 0;
    for (size_t o = 0; o < co; o++) {
        double s = 0;
        for (size_t j = 0; j < ci * kk; j++)
            s += fabs(W[o * ci * kk + j]);
        rmax = fmax(rmax, s);
    }
    for (size_t c = 0; c < ci; c++) {
        double s = 0;
        for (size_t o = 0; o < co; o++)
            for (size_t j = 0; j < kk; j++)
                s += fabs(W[(o * ci + c) * kk + j]);
        cmax = fmax(cmax, s);
    }
    return sqrt(rmax * cmax);
}

double hn_conv_fro(hn_shape in, size_t co, size_t kh, size_t kw, const double *W)
{
    const size_t pos = (in.h - kh + 1) * (in.w - kw + 1);
    double s = 0;
    for (size_t j = 0; j < co * in.c * kh * kw; j++)
        s += W[j] * W[j];
    return sqrt((double)pos * s);
}

int hn_conv_norm_upper(hn_shape in, size_t co, size_t kh, size_t kw, const double *W, double *upper,
                       hn_conv_bound_kind *kind, hn_err *err)
{
    double c;
    int rc = hn_conv_circulant_norm(in, co, kh, kw, W, &c, err);
    if (rc)
        return rc;
    double s = hn_conv_schur_bound(in, co, kh, kw, W), f = hn_conv_fro(in, co, kh, kw, W);
    hn_conv_bound_kind k = HN_CB_CIRCULANT;
    double u = c;
    if (s < u) {
        u = s;
        k = HN_CB_SCHUR;
    }
    if (f < u) {
        u = f;
        k = HN_CB_FROBENIUS;
    }
    *upper = u;
    if (kind)
        *kind = k;
    return HN_OK;
}

const char *hn_conv_bound_name(hn_conv_bound_kind k)
{
    return k == HN_CB_CIRCULANT ? "circulant (2-D DFT)" : k == HN_CB_SCHUR ? "Schur test" : "Frobenius";
}
