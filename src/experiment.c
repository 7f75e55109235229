/* hessnorm — the experiments of section VI: loss-difference curves,
 * per-sample ||H_O||, ||H_{O,k+1} - mean_k H_O|| by Lanczos, Corollary 2,
 * and the sweeps of Figures 1-4 with their report. */
#include "config.h"
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <lapacke.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/experiment.h"
#include "hessnorm/io.h"
#include "hessnorm/layers.h"

/* ------------------------------------------------------------ helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int resolve_threads(int threads)
{
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

static void fmt_duration(char *b, size_t n, double s)
{
    if (!(s >= 0) || !isfinite(s))
        snprintf(b, n, "?");
    else if (s < 60)
        snprintf(b, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void say(const hn_progress_cfg *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const hn_progress_cfg *pr, const char *fmt, ...)
{
    if (!pr || !pr->fn)
        return;
    char msg[768];
    int off = snprintf(msg, sizeof msg, "%s%s", pr->label ? pr->label : "", pr->label ? " " : "");
    if (off < 0 || (size_t)off >= sizeof msg)
        off = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof msg - (size_t)off, fmt, ap);
    va_end(ap);
    pr->fn(pr->ctx, msg);
}

/* Sequential dot product: the same bits whichever thread computes it. */
static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------ Lanczos */

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
    const int nt = resolve_threads(threads);
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
        const double nv = sqrt(dot(V[0], V[0], n));
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
        alpha[j] = dot(V[j], w, n);
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
                h[i] = dot(V[i], w, n);
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
        const double b = sqrt(dot(w, w, n));
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

/* ------------------------------------------------------------ curves */

void hn_loss_diff_add(const double *loss, const size_t *order, size_t n, double *acc)
{
    if (n < 2)
        return;
    double sum = loss[order ? order[0] : 0];
    for (size_t k = 1; k < n; k++) {
        const double lk = loss[order ? order[k] : k];
        const double Lk = sum / (double)k;
        acc[k - 1] += fabs(lk - Lk) / (double)(k + 1);
        sum += lk;
    }
}

int hn_loss_diff_curve(const double *loss, size_t n, size_t shuffles, gsl_rng *r, double *mean,
                       hn_err *err)
{
    if (n < 2)
        return hn_err_set(err, HN_EINVAL, "curve: need at least 2 losses, got %zu", n);
    if (shuffles == 0)
        return hn_err_set(err, HN_EINVAL, "curve: the number of shuffles must be positive");
    size_t *ord = hn_calloc(n, sizeof *ord);
    if (!ord)
        return hn_err_set(err, HN_ENOMEM, "curve: out of memory for %zu losses", n);
    memset(mean, 0, (n - 1) * sizeof *mean);
    for (size_t s = 0; s < shuffles; s++) {
        for (size_t i = 0; i < n; i++)
            ord[i] = i;
        gsl_ran_shuffle(r, ord, n, sizeof *ord);
        hn_loss_diff_add(loss, ord, n, mean);
    }
    for (size_t k = 0; k + 1 < n; k++)
        mean[k] /= (double)shuffles;
    hn_free(ord);
    return HN_OK;
}

void hn_ema(const double *x, size_t n, double a, double *out)
{
    if (n == 0)
        return;
    out[0] = x[0];
    for (size_t i = 1; i < n; i++)
        out[i] = a * out[i - 1] + (1.0 - a) * x[i];
}

double hn_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    const double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    const double f = pos - (double)lo;
    return sorted[lo] + f * (sorted[lo + 1] - sorted[lo]);
}

/* ------------------------------------------------------------ H_O */

void hn_ho_opts_default(hn_ho_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 0;
    o->mem_limit = 8.0 * 1024 * 1024 * 1024;
    o->max_iter = 600;
    o->rtol = 1e-10;
    o->seed = 0;
}

/* The operator v -> J_{k+1}^T A_{k+1} J_{k+1} v - (1/k) sum_{i<=k} J_i^T A_i J_i v
 * on stored Jacobians.  With a last linear layer (structured), J_i's head
 * block is I_K (x) x_i^T and only x_i is stored. */
typedef struct {
    const hn_model *m;
    size_t K, P, Pb, d, nl;   /* nl = k + 1 samples */
    const double *Jb;         /* n_store x K x Pb */
    const double *xh;         /* n_store x d */
    const double *pp;         /* n_store x K */
    double *u;                /* n_store x K scratch */
    double kinv;
    int threads;
} ho_op;

#define HO_BLOCK 512

static int ho_matvec(void *vctx, const double *v, double *y)
{
    const ho_op *o = vctx;
    const size_t K = o->K, Pb = o->Pb, d = o->d, nl = o->nl;
    const long nlong = (long)nl;
    const int par = (double)nl * (double)K * (double)(Pb + d) > PAR_WORK; /* same bits either way */
#pragma omp parallel for num_threads(o->threads) schedule(static) if (par)
    for (long i = 0; i < nlong; i++) {
        const double *J = o->Jb + (size_t)i * K * Pb, *x = o->xh + (size_t)i * d;
        const double *p = o->pp + (size_t)i * K;
        double *u = o->u + (size_t)i * K;
        double Ju[64], *tmp = Ju;
        for (size_t a = 0; a < K; a++) {
            double sa = dot(J + a * Pb, v, Pb);
            if (d)
                sa += dot(x, v + Pb + a * d, d);
            tmp[a] = sa;
        }
        hn_loss_hess_apply(o->m->loss, K, p, tmp, u);
        const double c = (size_t)i + 1 == nl ? 1.0 : -o->kinv;
        for (size_t a = 0; a < K; a++)
            u[a] *= c;
    }
    const long nb = (long)((Pb + HO_BLOCK - 1) / HO_BLOCK);
#pragma omp parallel for num_threads(o->threads) schedule(static) if (par)
    for (long b = 0; b < nb; b++) {
        const size_t p1 = (size_t)b * HO_BLOCK, p2 = p1 + HO_BLOCK < Pb ? p1 + HO_BLOCK : Pb;
        for (size_t p = p1; p < p2; p++)
            y[p] = 0;
        for (size_t i = 0; i < nl; i++)
            for (size_t a = 0; a < K; a++) {
                const double ua = o->u[i * K + a];
                const double *row = o->Jb + (i * K + a) * Pb;
                for (size_t p = p1; p < p2; p++)
                    y[p] += ua * row[p];
            }
    }
    if (d) {
        const long nd = (long)((d + HO_BLOCK - 1) / HO_BLOCK), tot = nd * (long)K;
#pragma omp parallel for num_threads(o->threads) schedule(static) if (par)
        for (long t = 0; t < tot; t++) {
            const size_t a = (size_t)(t / nd), q1 = (size_t)(t % nd) * HO_BLOCK;
            const size_t q2 = q1 + HO_BLOCK < d ? q1 + HO_BLOCK : d;
            double *ya = y + Pb + a * d;
            for (size_t q = q1; q < q2; q++)
                ya[q] = 0;
            for (size_t i = 0; i < nl; i++) {
                const double ua = o->u[i * K + a];
                const double *x = o->xh + i * d;
                for (size_t q = q1; q < q2; q++)
                    ya[q] += ua * x[q];
            }
        }
    }
    return HN_OK;
}

/* lambda_max(A^{1/2} G A^{1/2}) for one sample; A from p through
 * hn_loss_hess_apply.  buf: 4 K^2 + 2 K doubles. */
static int ho_sample_norm(const hn_model *m, size_t K, const double *p, const double *G,
                          double *buf, double *out)
{
    double *A = buf, *S = A + K * K, *T = S + K * K, *M = T + K * K, *ev = M + K * K,
           *e = ev + K;
    for (size_t a = 0; a < K; a++) {
        memset(e, 0, K * sizeof *e);
        e[a] = 1;
        hn_loss_hess_apply(m->loss, K, p, e, T);
        for (size_t b = 0; b < K; b++)
            A[b * K + a] = T[b];
    }
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)K, A, (lapack_int)K, ev) != 0)
        return HN_ENUMERIC;
    /* S = V diag(sqrt(max(ev, 0))) V^T (A is PSD; rounding may make its
     * null eigenvalue slightly negative) */
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            double s = 0;
            for (size_t c = 0; c < K; c++)
                s += A[a * K + c] * sqrt(fmax(ev[c], 0.0)) * A[b * K + c];
            S[a * K + b] = s;
        }
    for (size_t a = 0; a < K; a++) /* T = S G */
        for (size_t b = 0; b < K; b++)
            T[a * K + b] = dot(S + a * K, G + b * K, K); /* G symmetric: column b = row b */
    for (size_t a = 0; a < K; a++) /* M = T S */
        for (size_t b = 0; b < K; b++) {
            double s = 0;
            for (size_t c = 0; c < K; c++)
                s += T[a * K + c] * S[c * K + b];
            M[a * K + b] = s;
        }
    for (size_t a = 0; a < K; a++) /* symmetrise the rounding */
        for (size_t b = a + 1; b < K; b++)
            M[a * K + b] = M[b * K + a] = 0.5 * (M[a * K + b] + M[b * K + a]);
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)K, M, (lapack_int)K, ev) != 0)
        return HN_ENUMERIC;
    *out = ev[K - 1];
    return HN_OK;
}

#define HO_SAMPLE_BLOCK 64

int hn_ho_analysis(const hn_model *m, const double *theta, const hn_samples *s,
                   const size_t *order, size_t n_order, const double *loss, const size_t *ks,
                   size_t n_ks, const hn_ho_opts *o, double *ho_norm, hn_hodiff *diff,
                   hn_err *err)
{
    hn_ho_opts defo;
    if (!o) {
        hn_ho_opts_default(&defo);
        o = &defo;
    }
    if (!m || !m->finalized || !theta || !s || !order || !ho_norm || (n_ks && (!ks || !diff)))
        return hn_err_set(err, HN_EINVAL, "hessian: missing argument");
    if (s->in_size != hn_shape_size(m->input))
        return hn_err_set(err, HN_ESHAPE, "hessian: samples of size %zu do not fit the model input %zu",
                          s->in_size, hn_shape_size(m->input));
    const size_t K = m->classes, P = m->n_params;
    if (n_order == 0)
        return hn_err_set(err, HN_EINVAL, "hessian: no samples to analyse");
    if (K > 64)
        return hn_err_set(err, HN_EINVAL, "hessian: at most 64 classes are supported, got %zu", K);
    for (size_t i = 0; i < n_order; i++)
        if (order[i] >= s->n)
            return hn_err_set(err, HN_EINVAL, "hessian: order[%zu] = %zu out of range (n = %zu)", i,
                              order[i], s->n);
    for (size_t j = 0; j < n_ks; j++)
        if (ks[j] == 0)
            return hn_err_set(err, HN_EINVAL, "hessian: k must be positive");
    const int nt = resolve_threads(o->threads);
    const hn_layer *last = &m->layers[m->n_layers - 1];
    const int structured = last->type == HN_LINEAR && last->param_offset + last->param_count == P;
    const size_t d = structured ? last->in.c : 0, Pb = structured ? last->param_offset : P;

    /* which k fit: stored Jacobians + Lanczos vectors within mem_limit */
    size_t n_store = 0;
    const double per_sample = 8.0 * ((double)K * (double)Pb + (double)d + 2.0 * (double)K);
    for (size_t j = 0; j < n_ks; j++) {
        hn_hodiff *df = &diff[j];
        memset(df, 0, sizeof *df);
        df->k = ks[j];
        df->loss_diff = NAN;
        if (ks[j] + 1 > n_order) {
            snprintf(df->why, sizeof df->why, "k + 1 = %zu exceeds the %zu samples analysed",
                     ks[j] + 1, n_order);
            continue;
        }
        size_t it = o->max_iter;
        if (it > K * (ks[j] + 1) + 1)
            it = K * (ks[j] + 1) + 1;
        const double need = (double)(ks[j] + 1) * per_sample + 8.0 * (double)(it + 1) * (double)P;
        if (need > o->mem_limit) {
            snprintf(df->why, sizeof df->why, "needs %.2f GiB of stored Jacobians, limit %.2f GiB",
                     need / 1073741824.0, o->mem_limit / 1073741824.0);
            continue;
        }
        df->computed = 1;
        if (ks[j] + 1 > n_store)
            n_store = ks[j] + 1;
    }

    int rc = HN_OK;
    hn_ws **ws = hn_calloc((size_t)nt, sizeof *ws);
    double *Jt = NULL, *zt = NULL, *G = NULL, *pall = NULL, *Jb = NULL, *xh = NULL, *u = NULL;
    double *ebuf = NULL;
    size_t tot;
    if (!ws || hn_mul3_size((size_t)nt, K, P, &tot) != 0 || !(Jt = hn_malloc(tot * sizeof *Jt)) ||
        !(zt = hn_calloc((size_t)nt * K, sizeof *zt)) ||
        !(G = hn_calloc(n_order * K * K, sizeof *G)) || !(pall = hn_calloc(n_order * K, sizeof *pall)) ||
        !(ebuf = hn_calloc(4 * K * K + 2 * K, sizeof *ebuf))) {
        rc = hn_err_set(err, HN_ENOMEM, "hessian: out of memory (%zu parameters)", P);
        goto done;
    }
    if (n_store) {
        size_t jb;
        if (hn_mul3_size(n_store, K, Pb, &jb) != 0 || !(Jb = hn_malloc((jb ? jb : 1) * sizeof *Jb)) ||
            !(xh = hn_calloc(n_store * d + 1, sizeof *xh)) || !(u = hn_calloc(n_store * K, sizeof *u))) {
            rc = hn_err_set(err, HN_ENOMEM,
                            "hessian: out of memory for the Jacobians of %zu samples (%zu parameters)",
                            n_store, P);
            goto done;
        }
    }
    for (int i = 0; i < nt && !rc; i++)
        rc = hn_ws_alloc(m, &ws[i], err);
    if (rc)
        goto done;

    const double t0 = now_s();
    double lastrep = t0;
    for (size_t b0 = 0; b0 < n_order; b0 += HO_SAMPLE_BLOCK) {
        const long bs = (long)b0, be = (long)(b0 + HO_SAMPLE_BLOCK < n_order ? b0 + HO_SAMPLE_BLOCK : n_order);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (long i = bs; i < be; i++) {
            const int tid = thread_id();
            double *J = Jt + (size_t)tid * K * P, *z = zt + (size_t)tid * K;
            const size_t si = order[i];
            hn_jacobian(m, theta, s->x + si * s->in_size, ws[tid], J, z);
            double *p = pall + (size_t)i * K;
            hn_loss_eval(m->loss, K, z, s->y_class ? s->y_class[si] : 0,
                         s->y_vec ? s->y_vec + si * K : NULL, NULL, p);
            double *Gi = G + (size_t)i * K * K;
            for (size_t a = 0; a < K; a++)
                for (size_t c = a; c < K; c++)
                    Gi[a * K + c] = Gi[c * K + a] = dot(J + a * P, J + c * P, P);
            if ((size_t)i < n_store) {
                for (size_t a = 0; a < K; a++)
                    memcpy(Jb + ((size_t)i * K + a) * Pb, J + a * P, Pb * sizeof *Jb);
                if (d)
                    memcpy(xh + (size_t)i * d, hn_ws_act(ws[tid], (int)m->n_layers - 2),
                           d * sizeof *xh);
            }
        }
        const double tn = now_s();
        if (o->progress.fn && (tn - lastrep >= o->progress.every || (size_t)be == n_order)) {
            const double rate = (double)be / (tn - t0 > 0 ? tn - t0 : 1e-9);
            char lb[32];
            fmt_duration(lb, sizeof lb, (double)(n_order - (size_t)be) / rate);
            say(&o->progress, "hessian: Jacobians %ld/%zu  %.1f img/s  left %s", be, n_order, rate, lb);
            lastrep = tn;
        }
    }
    for (size_t i = 0; i < n_order; i++) {
        if (ho_sample_norm(m, K, pall + i * K, G + i * K * K, ebuf, &ho_norm[i]) != 0) {
            rc = hn_err_set(err, HN_ENUMERIC, "hessian: LAPACK dsyevd failed on sample %zu's %zu x %zu matrix",
                            order[i], K, K);
            goto done;
        }
    }
    if (n_store) {
        ho_op op = {m, K, P, Pb, d, 0, Jb, xh, NULL, u, 0, nt};
        double *pst = hn_calloc(n_store * K, sizeof *pst);
        if (!pst) {
            rc = hn_err_set(err, HN_ENOMEM, "hessian: out of memory");
            goto done;
        }
        memcpy(pst, pall, n_store * K * sizeof *pst);
        op.pp = pst;
        for (size_t j = 0; j < n_ks && !rc; j++) {
            hn_hodiff *df = &diff[j];
            if (!df->computed)
                continue;
            const size_t k = df->k;
            op.nl = k + 1;
            op.kinv = 1.0 / (double)k;
            size_t it = o->max_iter;
            if (it > K * (k + 1) + 1)
                it = K * (k + 1) + 1;
            const double tl = now_s();
            rc = hn_lanczos_extreme(P, ho_matvec, &op, it, o->rtol, o->seed, nt, &df->lz, err);
            if (rc)
                break;
            if (loss) {
                double sum = 0;
                for (size_t i = 0; i < k; i++)
                    sum += loss[order[i]];
                df->loss_diff = fabs(loss[order[k]] - sum / (double)k) / (double)(k + 1);
            }
            say(&o->progress, "lanczos k=%zu: ||H_O,k+1 - mean_k H_O|| = %.6g (%zu iterations%s, %.1fs)",
                k, df->lz.norm, df->lz.iterations, df->lz.converged ? "" : ", NOT converged",
                now_s() - tl);
        }
        hn_free(pst);
    }
done:
    if (ws)
        for (int i = 0; i < nt; i++)
            hn_ws_free(ws[i]);
    hn_free(ws);
    hn_free(Jt);
    hn_free(zt);
    hn_free(G);
    hn_free(pall);
    hn_free(Jb);
    hn_free(xh);
    hn_free(u);
    hn_free(ebuf);
    return rc;
}

/* ------------------------------------------------------------ Corollary 2 */

void hn_cor2_setup(hn_cor2 *c, const hn_model *m, const double *theta, double W_l, double W_x,
                   double R)
{
    memset(c, 0, sizeof *c);
    c->W_l = W_l;
    c->W_x = W_x;
    c->R = R;
    c->C = m->input.c;
    c->kernel = 1;
    c->m = m->input.h;
    c->n = m->input.w;
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        if (ly->type != HN_CONV2D && ly->type != HN_CONV1D)
            continue;
        c->L_paper++;
        if (ly->out.c > c->C)
            c->C = ly->out.c;
        if (ly->kh > c->kernel)
            c->kernel = ly->kh;
        if (ly->kw > c->kernel)
            c->kernel = ly->kw;
        for (size_t j = 0; j < ly->param_count; j++)
            c->w = fmax(c->w, fabs(theta[ly->param_offset + j]));
    }
    const double lC = log10((double)c->C), lk = log10((double)c->kernel);
    c->log10_q2 = 2 * lC + 2 * lk + log10((double)c->m) + log10((double)c->n);
    c->log10_base = c->log10_q2 + 2 * log10(c->w);
    const double common = log10(sqrt(2.0)) + 2 * log10(W_x) + c->log10_q2;
    const double L = (double)c->L_paper;
    c->log10_thm2 = common + log10(L + 1) + L * c->log10_base;
    c->log10_thm2_alt = c->L_paper >= 1 ? common + log10(L) + (L - 1) * c->log10_base : NAN;
}

double hn_cor2_log10_rhs(const hn_cor2 *c, size_t k, int alt)
{
    const double a = log10(c->W_l);
    const double b = 2 * log10(c->R) + (alt ? c->log10_thm2_alt : c->log10_thm2);
    double s;
    if (!(c->W_l > 0))
        s = b;
    else if (!(c->R > 0))
        s = a;
    else {
        const double hi = fmax(a, b), lo = fmin(a, b);
        s = hi + log10(1.0 + pow(10.0, lo - hi));
    }
    return log10(2.0 / (double)(k + 1)) + s;
}

/* ------------------------------------------------------------ presets and sweeps */

int hn_sweep_parse(const char *name, hn_sweep *out, hn_err *err)
{
    static const char *names[] = {"layers", "kernel", "channels", "pooling"};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (hn_sweep)i;
            return HN_OK;
        }
    return hn_err_set(err, HN_EINVAL,
                      "--sweep: unknown sweep '%s' (expected layers, kernel, channels or pooling)",
                      name ? name : "");
}

const char *hn_sweep_name(hn_sweep s)
{
    switch (s) {
    case HN_SWEEP_LAYERS: return "layers";
    case HN_SWEEP_KERNEL: return "kernel";
    case HN_SWEEP_CHANNELS: return "channels";
    case HN_SWEEP_POOLING: return "pooling";
    }
    return "?";
}

int hn_preset_get(const char *name, hn_preset *out, hn_err *err)
{
    memset(out, 0, sizeof *out);
    if (name && !strcmp(name, "paper")) {
        *out = (hn_preset){"paper", 0, 0, 0, 500, 0, 3, {10, 100, 1000, 0}, HN_VALUES_ALL};
    } else if (name && !strcmp(name, "quick")) {
        *out = (hn_preset){"quick", 3000, 1000, 1, 50, 200, 2, {10, 100, 0, 0}, HN_VALUES_QUICK};
    } else if (name && !strcmp(name, "tiny")) {
        *out = (hn_preset){"tiny", 0, 0, 1, 5, 0, 2, {2, 4, 0, 0}, HN_VALUES_TINY};
    } else {
        return hn_err_set(err, HN_EINVAL, "--preset: unknown preset '%s' (expected paper, quick or tiny)",
                          name ? name : "");
    }
    return HN_OK;
}

size_t hn_paper_epochs(const char *dataset)
{
    return dataset && !strcmp(dataset, "cifar10") ? 15 : 10;
}

size_t hn_sweep_settings(hn_sweep s, hn_values values, hn_arch *out, size_t cap)
{
    hn_arch tmp[16];
    size_t n = 0;
    switch (s) {
    case HN_SWEEP_LAYERS: {
        static const size_t all[] = {2, 3, 4, 5, 6, 7}, quick[] = {2, 4, 7}, tiny[] = {2, 3};
        const size_t *v = values == HN_VALUES_ALL ? all : values == HN_VALUES_QUICK ? quick : tiny;
        const size_t nv = values == HN_VALUES_ALL ? 6 : values == HN_VALUES_QUICK ? 3 : 2;
        for (size_t i = 0; i < nv; i++)
            tmp[n++] = (hn_arch){v[i], 3, 6, HN_POOL_NONE, 0};
        break;
    }
    case HN_SWEEP_KERNEL: {
        const size_t nv = values == HN_VALUES_TINY ? 2 : 4;
        for (size_t i = 0; i < nv; i++)
            tmp[n++] = (hn_arch){4, 2 + i, 6, HN_POOL_NONE, 0};
        break;
    }
    case HN_SWEEP_CHANNELS: {
        static const size_t all[] = {6, 12, 18, 24, 30, 36, 42}, quick[] = {6, 24, 42}, tiny[] = {6, 12};
        const size_t *v = values == HN_VALUES_ALL ? all : values == HN_VALUES_QUICK ? quick : tiny;
        const size_t nv = values == HN_VALUES_ALL ? 7 : values == HN_VALUES_QUICK ? 3 : 2;
        for (size_t i = 0; i < nv; i++)
            tmp[n++] = (hn_arch){5, 3, v[i], HN_POOL_NONE, 0};
        break;
    }
    case HN_SWEEP_POOLING: {
        const size_t np = values == HN_VALUES_TINY ? 1 : 4;
        for (int kind = 1; kind <= 2; kind++)
            for (size_t pos = 1; pos <= np; pos++)
                tmp[n++] = (hn_arch){5, 3, 12, (hn_pool_kind)kind, pos};
        break;
    }
    }
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = tmp[i];
    return n;
}

void hn_experiment_opts_default(hn_experiment_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dataset = "fashion-mnist";
    o->sweep = HN_SWEEP_LAYERS;
    hn_preset_get("quick", &o->preset, NULL);
    o->out_dir = "experiment";
    o->seed = 0;
    o->threads = 0;
    o->mem_limit = 8.0 * 1024 * 1024 * 1024;
    o->R = 1.0;
    o->smooth = 0.995;
    o->figures = 1;
    o->progress_every = 5;
}

/* ------------------------------------------------------------ seeds */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The seed of stream `stream` of `setting`: a function of (seed, setting,
 * stream) only, so a model's results never depend on which models ran
 * before it.  mt19937 takes 32 bits of its seed. */
static unsigned long derive_seed(unsigned long seed, const char *setting, unsigned stream)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the setting name */
    for (const unsigned char *p = (const unsigned char *)setting; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    uint64_t x = mix64(mix64((uint64_t)seed) ^ h);
    x = mix64(x ^ (uint64_t)stream);
    return (unsigned long)((x ^ (x >> 32)) & 0xffffffffULL);
}

enum { STREAM_TRAIN = 1, STREAM_CURVE = 2, STREAM_HESS = 3, STREAM_LANCZOS = 4, STREAM_DATA = 5 };

/* ------------------------------------------------------------ small file writers */

static json_t *jreal(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static int save_json(const json_t *j, const char *path, hn_err *err)
{
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!txt)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory while writing JSON", path);
    size_t len = strlen(txt);
    char *t2 = realloc(txt, len + 2);
    if (!t2) {
        free(txt);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory while writing JSON", path);
    }
    t2[len] = '\n';
    t2[len + 1] = 0;
    int rc = hn_write_file_atomic(path, t2, len + 1, err);
    free(t2);
    return rc;
}

/* Number at a dotted path ("train.accuracy"); NAN if missing or null. */
static double jnum(const json_t *j, const char *path)
{
    char key[64];
    const json_t *cur = j;
    while (cur && *path) {
        const char *dotp = strchr(path, '.');
        size_t n = dotp ? (size_t)(dotp - path) : strlen(path);
        if (n >= sizeof key)
            return NAN;
        memcpy(key, path, n);
        key[n] = 0;
        cur = json_object_get(cur, key);
        path += n + (dotp ? 1 : 0);
    }
    return cur && json_is_number(cur) ? json_number_value(cur) : NAN;
}

/* Paths are bounded: hn_experiment_run rejects an out_dir longer than
 * HN_DIR_MAX, and every buffer holds HN_DIR_MAX plus the longest suffix. */
#define HN_DIR_MAX 2048
#define PATH_BUF 4096

__attribute__((noinline)) static void path_join(char *out, size_t n, const char *a, const char *b)
{
    snprintf(out, n, "%s/%s", a, b);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ------------------------------------------------------------ one model */

typedef struct {
    const hn_experiment_opts *o;
    hn_sample_set train, test;
    size_t train_total, epochs, hess_n, C_in, H, W;
    json_t *config_base;     /* the sweep-wide part of every model's config */
    double train_seconds, train_images, eval_seconds, eval_images;
} xctx;

static const char *pool_word(hn_pool_kind k)
{
    return k == HN_POOL_MAX ? "max" : k == HN_POOL_AVG ? "avg" : "none";
}

static json_t *model_config(const xctx *X, const hn_arch *a, const char *name)
{
    json_t *c = json_deep_copy(X->config_base);
    json_object_set_new(c, "setting", json_string(name));
    json_object_set_new(c, "arch", json_pack("{s:I, s:I, s:I, s:s, s:I}", "layers", (json_int_t)a->layers,
                                             "kernel", (json_int_t)a->kernel, "channels",
                                             (json_int_t)a->channels, "pool", pool_word(a->pool),
                                             "pool_pos", (json_int_t)a->pool_pos));
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int write_curve_csv(const char *path, const double *mean, const double *ema, size_t nc,
                           hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "k,mean_abs_diff,ema\n");
    for (size_t i = 0; i < nc; i++)
        hn_buf_printf(&b, "%zu,%.17g,%.17g\n", i + 1, mean[i], ema[i]);
    int rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    return rc;
}

static int run_model(xctx *X, size_t mi, size_t nm, const hn_arch *a, const char *name,
                     const char *dir, json_t *config, hn_err *err)
{
    const hn_experiment_opts *o = X->o;
    const hn_samples *tr = &X->train.s, *te = &X->test.s;
    const size_t n = tr->n;
    char label[160], path[PATH_BUF];
    snprintf(label, sizeof label, "model %zu/%zu %s:", mi + 1, nm, name);
    hn_progress_cfg pr = {o->progress, o->progress_ctx, o->progress_every, label};
    hn_model *m = NULL;
    double *theta = NULL, *epoch_loss = NULL, *loss = NULL, *tloss = NULL, *mean = NULL, *ema = NULL;
    double *hon = NULL, *sorted = NULL;
    long *pred = NULL, *tpred = NULL;
    size_t *order = NULL;
    hn_hodiff diff[4];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    json_t *met = NULL;
    const double t_start = now_s();
    int rc = hn_arch_model(a, X->C_in, X->H, X->W, 10, &m, err);
    if (rc)
        goto done;
    const size_t P = m->n_params, nk = o->preset.n_ks;
    theta = hn_calloc(P, sizeof *theta);
    epoch_loss = hn_calloc(X->epochs + 1, sizeof *epoch_loss);
    loss = hn_calloc(n, sizeof *loss);
    pred = hn_calloc(n, sizeof *pred);
    tloss = hn_calloc(te->n, sizeof *tloss);
    tpred = hn_calloc(te->n, sizeof *tpred);
    mean = hn_calloc(n, sizeof *mean);
    ema = hn_calloc(n, sizeof *ema);
    order = hn_calloc(n, sizeof *order);
    hon = hn_calloc(X->hess_n, sizeof *hon);
    sorted = hn_calloc(X->hess_n, sizeof *sorted);
    if (!r || !theta || !epoch_loss || !loss || !pred || !tloss || !tpred || !mean || !ema ||
        !order || !hon || !sorted) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    say(&pr, "%zu parameters, training on %zu images for %zu epoch%s", P, n, X->epochs,
        X->epochs == 1 ? "" : "s");

    /* 1. train */
    gsl_rng_set(r, derive_seed(o->seed, name, STREAM_TRAIN));
    hn_init_uniform(m, r, theta);
    hn_train_opts to;
    hn_train_opts_paper(&to);
    to.epochs = X->epochs;
    to.threads = o->threads;
    hn_train_stats tst;
    memset(&tst, 0, sizeof tst);
    if ((rc = hn_train(m, theta, tr, &to, r, &pr, epoch_loss, &tst, err)))
        goto done;
    X->train_seconds += tst.seconds;
    X->train_images += (double)(X->epochs * n);
    if ((rc = hn_mkdir_p(dir, err)))
        goto done;
    path_join(path, sizeof path, dir, "model.json");
    if ((rc = hn_model_save(m, path, err)))
        goto done;
    path_join(path, sizeof path, dir, "weights.safetensors");
    if ((rc = hn_weights_save(m, theta, path, err)))
        goto done;

    /* 2. per-sample losses, accuracies */
    const double te0 = now_s();
    hn_progress_cfg pl = pr;
    char lab2[200];
    snprintf(lab2, sizeof lab2, "%s per-sample losses", label);
    pl.label = lab2;
    if ((rc = hn_eval_samples(m, theta, tr, o->threads, &pl, loss, pred, err)))
        goto done;
    X->eval_seconds += now_s() - te0;
    X->eval_images += (double)n;
    snprintf(lab2, sizeof lab2, "%s test set", label);
    if ((rc = hn_eval_samples(m, theta, te, o->threads, &pl, tloss, tpred, err)))
        goto done;
    double Ln = 0, Wl = 0, acc = 0, tl = 0, tacc = 0;
    for (size_t i = 0; i < n; i++) {
        Ln += loss[i];
        Wl = fmax(Wl, fabs(loss[i]));
        acc += pred[i] == tr->y_class[i];
    }
    Ln /= (double)n;
    acc /= (double)n;
    for (size_t i = 0; i < te->n; i++) {
        tl += tloss[i];
        tacc += tpred[i] == te->y_class[i];
    }
    tl /= (double)te->n;
    tacc /= (double)te->n;
    say(&pr, "train accuracy %.4f loss %.5g, test accuracy %.4f loss %.5g", acc, Ln, tacc, tl);

    /* 3. loss-difference curve */
    gsl_rng_set(r, derive_seed(o->seed, name, STREAM_CURVE));
    if ((rc = hn_loss_diff_curve(loss, n, o->preset.shuffles, r, mean, err)))
        goto done;
    hn_ema(mean, n - 1, o->smooth, ema);
    path_join(path, sizeof path, dir, "curve.csv");
    if ((rc = write_curve_csv(path, mean, ema, n - 1, err)))
        goto done;

    /* 4. Hessian: per-sample ||H_O|| and ||H_{O,k+1} - mean_k H_O|| */
    const double th0 = now_s();
    gsl_rng_set(r, derive_seed(o->seed, name, STREAM_HESS));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    gsl_ran_shuffle(r, order, n, sizeof *order);
    hn_ho_opts ho;
    hn_ho_opts_default(&ho);
    ho.threads = o->threads;
    ho.mem_limit = o->mem_limit;
    ho.seed = derive_seed(o->seed, name, STREAM_LANCZOS);
    ho.progress = pr;
    if ((rc = hn_ho_analysis(m, theta, tr, order, X->hess_n, loss, o->preset.ks, nk, &ho, hon, diff,
                             err)))
        goto done;
    const double hess_seconds = now_s() - th0;
    {
        hn_buf b;
        hn_buf_init(&b);
        hn_buf_puts(&b, "rank,sample,ho_norm\n");
        for (size_t i = 0; i < X->hess_n; i++)
            hn_buf_printf(&b, "%zu,%zu,%.17g\n", i, order[i], hon[i]);
        path_join(path, sizeof path, dir, "hess_norms.csv");
        rc = hn_buf_save(&b, path, err);
        hn_buf_free(&b);
        if (rc)
            goto done;
    }

    /* 5. Corollary 2 */
    double Wx = 0;
    for (size_t i = 0; i < n; i++)
        Wx = fmax(Wx, sqrt(dot(tr->x + i * tr->in_size, tr->x + i * tr->in_size, tr->in_size)));
    hn_cor2 c2;
    hn_cor2_setup(&c2, m, theta, Wl, Wx, o->R);

    /* 6. metrics.json (last: its presence marks the model done) */
    memcpy(sorted, hon, X->hess_n * sizeof *sorted);
    qsort(sorted, X->hess_n, sizeof *sorted, cmp_double);
    double hmean = 0;
    for (size_t i = 0; i < X->hess_n; i++)
        hmean += sorted[i];
    hmean /= (double)X->hess_n;
    json_t *el = json_array(), *qa = json_array(), *rows = json_array();
    for (size_t e = 0; e < X->epochs; e++)
        json_array_append_new(el, jreal(epoch_loss[e]));
    for (int q = 0; q <= 100; q++)
        json_array_append_new(qa, jreal(hn_quantile_sorted(sorted, X->hess_n, q / 100.0)));
    for (size_t j = 0; j < nk; j++) {
        const hn_hodiff *df = &diff[j];
        const size_t k = df->k;
        const double lr = hn_cor2_log10_rhs(&c2, k, 0);
        json_t *row = json_pack("{s:I, s:b}", "k", (json_int_t)k, "computed", df->computed);
        json_object_set_new(row, "loss_diff_mean", jreal(k < n ? mean[k - 1] : NAN));
        json_object_set_new(row, "loss_diff_order", jreal(df->loss_diff));
        if (df->computed) {
            json_object_set_new(row, "ho_diff_norm", jreal(df->lz.norm));
            json_object_set_new(row, "lambda_max", jreal(df->lz.lambda_max));
            json_object_set_new(row, "lambda_min", jreal(df->lz.lambda_min));
            json_object_set_new(row, "lanczos_iterations", json_integer((json_int_t)df->lz.iterations));
            json_object_set_new(row, "lanczos_residual", jreal(df->lz.residual));
            json_object_set_new(row, "converged", json_boolean(df->lz.converged));
            json_object_set_new(row, "eq1_hessian_term",
                                jreal(o->R * o->R * df->lz.norm / (double)(k + 1)));
        } else {
            json_object_set_new(row, "why", json_string(df->why));
        }
        json_object_set_new(row, "log10_rhs", jreal(lr));
        json_object_set_new(row, "rhs", jreal(lr < 300 ? pow(10.0, lr) : NAN));
        json_object_set_new(row, "log10_rhs_alt", jreal(hn_cor2_log10_rhs(&c2, k, 1)));
        json_array_append_new(rows, row);
    }
    met = json_object();
    json_object_set_new(met, "format", json_string("hessnorm-experiment-model/1"));
    json_object_set(met, "config", config);
    json_object_set_new(met, "setting", json_string(name));
    json_object_set_new(met, "params", json_integer((json_int_t)P));
    json_t *jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)n));
    json_object_set_new(jt, "accuracy", jreal(acc));
    json_object_set_new(jt, "loss", jreal(Ln));
    json_object_set_new(jt, "loss_max", jreal(Wl));
    json_object_set_new(jt, "last_epoch_loss", jreal(X->epochs ? epoch_loss[X->epochs - 1] : NAN));
    json_object_set_new(jt, "epoch_losses", el);
    json_object_set_new(met, "train", jt);
    jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)te->n));
    json_object_set_new(jt, "accuracy", jreal(tacc));
    json_object_set_new(jt, "loss", jreal(tl));
    json_object_set_new(met, "test", jt);
    jt = json_object();
    json_object_set_new(jt, "n", json_integer((json_int_t)X->hess_n));
    json_object_set_new(jt, "min", jreal(sorted[0]));
    json_object_set_new(jt, "median", jreal(hn_quantile_sorted(sorted, X->hess_n, 0.5)));
    json_object_set_new(jt, "mean", jreal(hmean));
    json_object_set_new(jt, "p90", jreal(hn_quantile_sorted(sorted, X->hess_n, 0.9)));
    json_object_set_new(jt, "p99", jreal(hn_quantile_sorted(sorted, X->hess_n, 0.99)));
    json_object_set_new(jt, "max", jreal(sorted[X->hess_n - 1]));
    json_object_set_new(jt, "quantiles", qa);
    json_object_set_new(met, "ho_norm", jt);
    jt = json_object();
    json_object_set_new(jt, "W_l", jreal(c2.W_l));
    json_object_set_new(jt, "W_x", jreal(c2.W_x));
    json_object_set_new(jt, "w", jreal(c2.w));
    json_object_set_new(jt, "R", jreal(c2.R));
    json_object_set_new(jt, "C", json_integer((json_int_t)c2.C));
    json_object_set_new(jt, "kernel", json_integer((json_int_t)c2.kernel));
    json_object_set_new(jt, "m", json_integer((json_int_t)c2.m));
    json_object_set_new(jt, "n", json_integer((json_int_t)c2.n));
    json_object_set_new(jt, "L_paper", json_integer((json_int_t)c2.L_paper));
    json_object_set_new(jt, "log10_q2", jreal(c2.log10_q2));
    json_object_set_new(jt, "log10_base", jreal(c2.log10_base));
    json_object_set_new(jt, "log10_theorem2_bound", jreal(c2.log10_thm2));
    json_object_set_new(jt, "log10_theorem2_bound_alt", jreal(c2.log10_thm2_alt));
    json_object_set_new(jt, "rows", rows);
    json_object_set_new(met, "corollary2", jt);

    {
        json_t *tj = json_object();
        json_object_set_new(tj, "threads", json_integer(resolve_threads(o->threads)));
        json_object_set_new(tj, "train_seconds", jreal(tst.seconds));
        json_object_set_new(tj, "train_images_per_s", jreal(tst.images_per_s));
        json_object_set_new(tj, "hessian_seconds", jreal(hess_seconds));
        json_object_set_new(tj, "total_seconds", jreal(now_s() - t_start));
        path_join(path, sizeof path, dir, "timing.json");
        rc = save_json(tj, path, err);
        json_decref(tj);
        if (rc)
            goto done;
    }
    path_join(path, sizeof path, dir, "metrics.json");
    rc = save_json(met, path, err);
    say(&pr, "done in %.1fs", now_s() - t_start);
done:
    json_decref(met);
    if (r)
        gsl_rng_free(r);
    hn_model_free(m);
    hn_free(theta);
    hn_free(epoch_loss);
    hn_free(loss);
    hn_free(pred);
    hn_free(tloss);
    hn_free(tpred);
    hn_free(mean);
    hn_free(ema);
    hn_free(order);
    hn_free(hon);
    hn_free(sorted);
    return rc;
}

/* ------------------------------------------------------------ report */

typedef struct {
    char name[64];
    hn_arch arch;
    json_t *met;
    double *mean, *ema;
    size_t nc;
} mres;

static int load_curve(const char *path, mres *r, hn_err *err)
{
    char *txt;
    size_t len;
    int rc = hn_read_file(path, &txt, &len, err);
    if (rc)
        return rc;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += txt[i] == '\n';
    r->mean = hn_calloc(lines + 1, sizeof *r->mean);
    r->ema = hn_calloc(lines + 1, sizeof *r->ema);
    if (!r->mean || !r->ema) {
        hn_free(txt);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    }
    char *p = strchr(txt, '\n');
    size_t k = 0;
    while (p && *++p) {
        char *e;
        unsigned long long kk = strtoull(p, &e, 10);
        if (e == p || *e != ',' || kk != k + 1) {
            hn_free(txt);
            return hn_err_set(err, HN_EFORMAT, "%s: line %zu: expected k = %zu", path, k + 2, k + 1);
        }
        p = e + 1;
        r->mean[k] = strtod(p, &e);
        if (e == p || *e != ',') {
            hn_free(txt);
            return hn_err_set(err, HN_EFORMAT, "%s: line %zu: bad mean_abs_diff", path, k + 2);
        }
        p = e + 1;
        r->ema[k] = strtod(p, &e);
        if (e == p) {
            hn_free(txt);
            return hn_err_set(err, HN_EFORMAT, "%s: line %zu: bad ema", path, k + 2);
        }
        k++;
        p = strchr(e, '\n');
    }
    r->nc = k;
    hn_free(txt);
    return HN_OK;
}

static const char *ds_title(const char *ds)
{
    if (!strcmp(ds, "mnist"))
        return "MNIST";
    if (!strcmp(ds, "fashion-mnist"))
        return "FashionMNIST";
    if (!strcmp(ds, "cifar10"))
        return "CIFAR10";
    return ds;
}

static const char *sweep_title(hn_sweep s)
{
    switch (s) {
    case HN_SWEEP_LAYERS: return "number of conv layers L (k = 3, C = 6), Fig. 1";
    case HN_SWEEP_KERNEL: return "kernel size k (L = 4, C = 6), Fig. 2";
    case HN_SWEEP_CHANNELS: return "number of channels C (L = 5, k = 3), Fig. 3";
    case HN_SWEEP_POOLING: return "pooling position (L = 5, C = 12, k = 3), Fig. 4";
    }
    return "";
}

/* Legend label of a setting within its figure. */
static void setting_label(const hn_experiment_opts *o, const mres *r, char *b, size_t n)
{
    if (o->settings) {
        snprintf(b, n, "%s", r->name);
        return;
    }
    switch (o->sweep) {
    case HN_SWEEP_LAYERS: snprintf(b, n, "%zu", r->arch.layers); break;
    case HN_SWEEP_KERNEL: snprintf(b, n, "%zu", r->arch.kernel); break;
    case HN_SWEEP_CHANNELS: snprintf(b, n, "%zu", r->arch.channels); break;
    case HN_SWEEP_POOLING: snprintf(b, n, "%zu", r->arch.pool_pos); break;
    }
}

static const char *legend_title(const hn_experiment_opts *o, hn_pool_kind g)
{
    if (o->settings)
        return "setting";
    switch (o->sweep) {
    case HN_SWEEP_LAYERS: return "L (num of layers)";
    case HN_SWEEP_KERNEL: return "k (kernel size)";
    case HN_SWEEP_CHANNELS: return "C (num of channels)";
    case HN_SWEEP_POOLING: return g == HN_POOL_MAX ? "max-pool position" : "avg-pool position";
    }
    return "";
}

/* File stem of a figure group: "<dataset>_change_layers" as the authors'. */
static void fig_stem(const hn_experiment_opts *o, hn_pool_kind g, char *b, size_t n)
{
    char ds[32];
    snprintf(ds, sizeof ds, "%s", o->dataset);
    for (char *p = ds; *p; p++)
        if (*p == '-')
            *p = '_';
    const char *tag = "change_layers";
    if (o->settings)
        tag = g == HN_POOL_MAX ? "settings_maxpool" : g == HN_POOL_AVG ? "settings_avgpool" : "settings";
    else if (o->sweep == HN_SWEEP_KERNEL)
        tag = "change_kers";
    else if (o->sweep == HN_SWEEP_CHANNELS)
        tag = "change_channels";
    else if (o->sweep == HN_SWEEP_POOLING)
        tag = g == HN_POOL_MAX ? "change_maxpool_pos" : "change_avgpool_pos";
    snprintf(b, n, "%s_%s", ds, tag);
}

/* gnuplot single-quoted string */
static void gp_quote(hn_buf *b, const char *s)
{
    hn_buf_puts(b, "'");
    for (; *s; s++) {
        if (*s == '\'')
            hn_buf_puts(b, "''");
        else {
            char c[2] = {*s, 0};
            hn_buf_puts(b, c);
        }
    }
    hn_buf_puts(b, "'");
}

static int have_pngcairo(void)
{
    return system("gnuplot -e 'set terminal pngcairo' </dev/null >/dev/null 2>&1") == 0;
}

/* One figure: curves of the settings in `sel` (indices into res), from k0;
 * logx for the from-1 view.  kind 0: curves from curves.csv, 1: ||H_O||
 * quantiles from hessnorm_quantiles.csv. */
static int draw_figure(const hn_experiment_opts *o, const mres *res, const size_t *sel, size_t ns,
                       const size_t *col, int kind, size_t k0, int logx, const char *title,
                       const char *ylabel, const char *legend, const char *png, int cairo,
                       hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    char csv[PATH_BUF];
    path_join(csv, sizeof csv, o->out_dir, kind ? "hessnorm_quantiles.csv" : "curves.csv");
    hn_buf_printf(&b, "set terminal %s size 900,620 font ',12'\nset output @OUT@\n",
                  cairo ? "pngcairo" : "png");
    hn_buf_puts(&b, "set termoption noenhanced\nset datafile separator ','\nset grid\nset title ");
    gp_quote(&b, title);
    hn_buf_puts(&b, "\nset xlabel ");
    gp_quote(&b, kind ? "quantile level q (fraction of samples with smaller ||H_O,i||)" : "k (sample size)");
    hn_buf_puts(&b, "\nset ylabel ");
    gp_quote(&b, ylabel);
    hn_buf_puts(&b, "\nset logscale y\nset format y '%.0e'\nset key top right box title ");
    gp_quote(&b, legend);
    if (logx)
        hn_buf_puts(&b, "\nset logscale x\nset format x '%.0e'");
    if (!kind)
        hn_buf_printf(&b, "\nset xrange [%zu:*]", k0);
    hn_buf_puts(&b, "\nplot ");
    for (size_t i = 0; i < ns; i++) {
        char lab[64];
        setting_label(o, &res[sel[i]], lab, sizeof lab);
        if (i)
            hn_buf_puts(&b, ", \\\n     ");
        gp_quote(&b, csv);
        hn_buf_printf(&b, " skip 1 using 1:%zu with lines lw 2 title ", col[i]);
        gp_quote(&b, lab);
    }
    hn_buf_puts(&b, "\n");
    int rc = b.failed ? hn_err_set(err, HN_ENOMEM, "%s: out of memory", png) : hn_gnuplot(b.s, png, err);
    hn_buf_free(&b);
    return rc;
}

/* Markdown and HTML side by side. */
typedef struct {
    hn_buf md, html;
} doc;

static void doc_text(doc *d, const char *md, const char *html)
{
    hn_buf_puts(&d->md, md);
    hn_buf_puts(&d->html, html);
}

static void doc_h(doc *d, int level, const char *t)
{
    for (int i = 0; i < level; i++)
        hn_buf_puts(&d->md, "#");
    hn_buf_printf(&d->md, " %s\n\n", t);
    hn_buf_printf(&d->html, "<h%d>", level);
    hn_buf_html(&d->html, t);
    hn_buf_printf(&d->html, "</h%d>\n", level);
}

static void doc_p(doc *d, const char *t)
{
    hn_buf_printf(&d->md, "%s\n\n", t);
    hn_buf_puts(&d->html, "<p>");
    hn_buf_html(&d->html, t);
    hn_buf_puts(&d->html, "</p>\n");
}

static void doc_img(doc *d, const char *file, const char *alt)
{
    hn_buf_printf(&d->md, "![%s](%s)\n\n", alt, file);
    hn_buf_puts(&d->html, "<p><img src=\"");
    hn_buf_html(&d->html, file);
    hn_buf_puts(&d->html, "\" alt=\"");
    hn_buf_html(&d->html, alt);
    hn_buf_puts(&d->html, "\" style=\"max-width:100%\"></p>\n");
}

static void doc_row(doc *d, const char *const *cells, size_t n, int header)
{
    hn_buf_puts(&d->md, "|");
    hn_buf_puts(&d->html, "<tr>");
    for (size_t i = 0; i < n; i++) {
        hn_buf_puts(&d->md, " ");
        for (const char *c = cells[i]; *c; c++) /* a literal | would split the cell */
            if (*c == '|')
                hn_buf_puts(&d->md, "\\|");
            else {
                char ch[2] = {*c, 0};
                hn_buf_puts(&d->md, ch);
            }
        hn_buf_puts(&d->md, " |");
        hn_buf_puts(&d->html, header ? "<th>" : "<td>");
        hn_buf_html(&d->html, cells[i]);
        hn_buf_puts(&d->html, header ? "</th>" : "</td>");
    }
    hn_buf_puts(&d->md, "\n");
    hn_buf_puts(&d->html, "</tr>\n");
    if (header) {
        hn_buf_puts(&d->md, "|");
        for (size_t i = 0; i < n; i++)
            hn_buf_puts(&d->md, "---|");
        hn_buf_puts(&d->md, "\n");
    }
}

/* A figure that gnuplot could not draw is reported, not fatal: the models
 * and numbers are what a long run must not lose. */
static void fig_result(doc *d, int rc, const hn_err *ferr, const char *file, const char *alt,
                       int *drawn)
{
    if (rc) {
        if (d) {
            char t[700];
            snprintf(t, sizeof t, "(figure %s not drawn: %s)", file, ferr->msg);
            doc_p(d, t);
        }
        return;
    }
    *drawn = 1;
    if (d)
        doc_img(d, file, alt);
}

static void fmt_num(char *b, size_t n, double x, const char *fmt)
{
    if (!isfinite(x))
        snprintf(b, n, "-");
    else
        snprintf(b, n, fmt, x);
}

#define NCELL 16
#define CELL 48

static int write_report(const hn_experiment_opts *o, const xctx *X, mres *res, size_t nr,
                        int *drawn, hn_err *err)
{
    char path[PATH_BUF];
    int rc = HN_OK;
    const size_t nc = res[0].nc;
    for (size_t i = 1; i < nr; i++)
        if (res[i].nc != nc)
            return hn_err_set(err, HN_EINVAL, "%s: curve has %zu points, %s has %zu", res[i].name,
                              res[i].nc, res[0].name, nc);
    /* CSVs */
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_puts(&b, "k");
    for (size_t i = 0; i < nr; i++)
        hn_buf_printf(&b, ",%s_mean,%s_ema", res[i].name, res[i].name);
    hn_buf_puts(&b, "\n");
    for (size_t k = 0; k < nc; k++) {
        hn_buf_printf(&b, "%zu", k + 1);
        for (size_t i = 0; i < nr; i++)
            hn_buf_printf(&b, ",%.17g,%.17g", res[i].mean[k], res[i].ema[k]);
        hn_buf_puts(&b, "\n");
    }
    path_join(path, sizeof path, o->out_dir, "curves.csv");
    rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    if (rc)
        return rc;
    hn_buf_init(&b);
    hn_buf_puts(&b, "q");
    for (size_t i = 0; i < nr; i++)
        hn_buf_printf(&b, ",%s", res[i].name);
    hn_buf_puts(&b, "\n");
    for (int q = 0; q <= 100; q++) {
        hn_buf_printf(&b, "%.2f", q / 100.0);
        for (size_t i = 0; i < nr; i++) {
            const json_t *qa = json_object_get(json_object_get(res[i].met, "ho_norm"), "quantiles");
            hn_buf_printf(&b, ",%.17g", json_number_value(json_array_get(qa, (size_t)q)));
        }
        hn_buf_puts(&b, "\n");
    }
    path_join(path, sizeof path, o->out_dir, "hessnorm_quantiles.csv");
    rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    if (rc)
        return rc;
    hn_buf_init(&b);
    hn_buf_puts(&b, "setting,params,train_n,test_n,train_accuracy,test_accuracy,train_loss,test_loss,"
                    "last_epoch_loss,ho_min,ho_median,ho_mean,ho_p90,ho_p99,ho_max,W_l,W_x,w,"
                    "log10_theorem2_bound\n");
    static const char *sum_keys[] = {"train.n", "test.n", "train.accuracy", "test.accuracy", "train.loss",
                                     "test.loss", "train.last_epoch_loss", "ho_norm.min",
                                     "ho_norm.median", "ho_norm.mean", "ho_norm.p90", "ho_norm.p99",
                                     "ho_norm.max", "corollary2.W_l", "corollary2.W_x", "corollary2.w",
                                     "corollary2.log10_theorem2_bound"};
    for (size_t i = 0; i < nr; i++) {
        hn_buf_printf(&b, "%s,%.0f", res[i].name, jnum(res[i].met, "params"));
        for (size_t k = 0; k < sizeof sum_keys / sizeof *sum_keys; k++)
            hn_buf_printf(&b, ",%.17g", jnum(res[i].met, sum_keys[k]));
        hn_buf_puts(&b, "\n");
    }
    path_join(path, sizeof path, o->out_dir, "summary.csv");
    rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    if (rc)
        return rc;
    static const char *row_keys[] = {"loss_diff_mean", "loss_diff_order", "ho_diff_norm", "lambda_max",
                                     "lambda_min", "lanczos_iterations", "lanczos_residual",
                                     "eq1_hessian_term", "log10_rhs", "rhs", "log10_rhs_alt"};
    hn_buf_init(&b);
    hn_buf_puts(&b, "setting,k,computed,converged,loss_diff_mean,loss_diff_order,ho_diff_norm,"
                    "lambda_max,lambda_min,lanczos_iterations,lanczos_residual,eq1_hessian_term,"
                    "log10_rhs,rhs,log10_rhs_alt\n");
    for (size_t i = 0; i < nr; i++) {
        const json_t *rows = json_object_get(json_object_get(res[i].met, "corollary2"), "rows");
        for (size_t j = 0; j < json_array_size(rows); j++) {
            const json_t *row = json_array_get(rows, j);
            hn_buf_printf(&b, "%s,%.0f,%d,%d", res[i].name, jnum(row, "k"),
                          json_is_true(json_object_get(row, "computed")),
                          json_is_true(json_object_get(row, "converged")));
            for (size_t k = 0; k < sizeof row_keys / sizeof *row_keys; k++) {
                double v = jnum(row, row_keys[k]);
                if (isfinite(v))
                    hn_buf_printf(&b, ",%.17g", v);
                else
                    hn_buf_puts(&b, ",");
            }
            hn_buf_puts(&b, "\n");
        }
    }
    path_join(path, sizeof path, o->out_dir, "corollary2.csv");
    rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    if (rc)
        return rc;

    /* figures, one group per pooling kind present */
    const size_t n_train = (size_t)jnum(res[0].met, "train.n");
    const size_t k0 = n_train >= 20000 ? 10000 : (n_train / 6 > 1 ? n_train / 6 : 1);
    const int can_draw = o->figures && hn_gnuplot_available();
    const int cairo = can_draw && have_pngcairo();
    char title[256], stem[96], png[PATH_BUF], file[160];
    char ylabel[160];
    snprintf(ylabel, sizeof ylabel, "|L_{k+1} - L_k| (mean of %zu orders, EMA %g)",
             o->preset.shuffles, o->smooth);
    doc d;
    hn_buf_init(&d.md);
    hn_buf_init(&d.html);
    snprintf(title, sizeof title, "%s: %s, preset %s", ds_title(o->dataset),
             o->settings ? "custom settings" : sweep_title(o->sweep), o->preset.name);
    hn_buf_puts(&d.html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    hn_buf_html(&d.html, title);
    hn_buf_puts(&d.html, "</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
                         "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #999;"
                         "padding:2px 6px;text-align:right}</style></head><body>\n");
    doc_h(&d, 1, title);
    {
        char t[1400];
        snprintf(t, sizeof t,
                 "hessnorm experiment, seed %lu. Data: %s%s%s. Training: %zu images (of %zu in the split%s), "
                 "%zu epoch(s), batch 64, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), cross-entropy, "
                 "bias-free, init U(+-1/sqrt(fan_in)). Test: %zu images. Curves: mean over S = %zu random "
                 "orders of |L_{k+1}(theta) - L_k(theta)| at the trained theta, exponential smoothing "
                 "s_1 = d_1, s_k = %g s_{k-1} + %g d_k. Hessian: exact per-sample ||H_O|| on %zu "
                 "training samples; ||H_{O,k+1} - (1/k) sum H_{O,i}|| by Lanczos on stored Jacobians.",
                 o->seed, ds_title(o->dataset), o->dataset_note ? ", " : "",
                 o->dataset_note ? o->dataset_note : "", n_train, X->train_total,
                 n_train < X->train_total ? ", a seeded random subset" : "", X->epochs,
                 (size_t)jnum(res[0].met, "test.n"), o->preset.shuffles, o->smooth, 1 - o->smooth,
                 X->hess_n);
        doc_p(&d, t);
    }
    doc_h(&d, 2, "Loss-difference curves");
    hn_err ferr;
    hn_buf hess_figs;
    hn_buf_init(&hess_figs);
    for (int g = 0; g <= 2; g++) {
        size_t sel[32], col[32], ns = 0;
        for (size_t i = 0; i < nr && ns < 32; i++)
            if ((int)res[i].arch.pool == g) {
                sel[ns] = i;
                col[ns++] = 3 + 2 * i; /* ema column */
            }
        if (!ns)
            continue;
        fig_stem(o, (hn_pool_kind)g, stem, sizeof stem);
        snprintf(title, sizeof title, "%s, %s", ds_title(o->dataset),
                 legend_title(o, (hn_pool_kind)g));
        for (int v = 0; v < 2 && !rc; v++) {
            snprintf(file, sizeof file, "%s%s.png", stem, v ? "_from1" : "");
            path_join(png, sizeof png, o->out_dir, file);
            if (can_draw) {
                char alt[160];
                snprintf(alt, sizeof alt, "%s from k = %zu", legend_title(o, (hn_pool_kind)g),
                         v ? (size_t)1 : k0);
                fig_result(&d, draw_figure(o, res, sel, ns, col, 0, v ? 1 : k0, v, title, ylabel,
                                           legend_title(o, (hn_pool_kind)g), png, cairo, &ferr),
                           &ferr, file, alt, drawn);
            }
        }
        for (size_t i = 0; i < ns; i++)
            col[i] = 2 + sel[i];
        snprintf(file, sizeof file, "%s_hessnorm.png", stem);
        path_join(png, sizeof png, o->out_dir, file);
        if (can_draw) {
            char t2[300];
            snprintf(t2, sizeof t2, "%s: per-sample ||H_O,i|| (quantiles)", title);
            hn_buf_printf(&hess_figs, "%s%s", hess_figs.len ? " " : "", file);
            fig_result(NULL, draw_figure(o, res, sel, ns, col, 1, 0, 0, t2, "||H_O,i||",
                                         legend_title(o, (hn_pool_kind)g), png, cairo, &ferr),
                       &ferr, file, t2, drawn);
        }
    }
    if (!can_draw)
        doc_p(&d, o->figures ? "(figures not drawn: gnuplot with a png terminal is not available)"
                             : "(figures not requested)");
    {
        char t[600];
        snprintf(t, sizeof t,
                 "The first figure starts at k = %zu (the authors plot from k = 10000 on 60000 images; "
                 "below 20000 training images the tail starts at n/6), the second at k = 1 with a log "
                 "k axis. Data behind every curve: curves.csv (k, then per setting the mean over orders "
                 "and the smoothed value).",
                 k0);
        doc_p(&d, t);
    }
    doc_h(&d, 2, "Models");
    {
        const char *hdr[] = {"setting", "params", "train acc", "test acc", "L_n(theta)", "test loss",
                             "last-epoch loss", "||H_O,i|| median", "mean", "max", "W_l", "W_x", "w"};
        doc_text(&d, "", "<table>\n");
        doc_row(&d, hdr, 13, 1);
        for (size_t i = 0; i < nr; i++) {
            char c[NCELL][CELL];
            const char *cp[NCELL];
            snprintf(c[0], CELL, "%s", res[i].name);
            fmt_num(c[1], CELL, jnum(res[i].met, "params"), "%.0f");
            fmt_num(c[2], CELL, jnum(res[i].met, "train.accuracy"), "%.4f");
            fmt_num(c[3], CELL, jnum(res[i].met, "test.accuracy"), "%.4f");
            fmt_num(c[4], CELL, jnum(res[i].met, "train.loss"), "%.5g");
            fmt_num(c[5], CELL, jnum(res[i].met, "test.loss"), "%.5g");
            fmt_num(c[6], CELL, jnum(res[i].met, "train.last_epoch_loss"), "%.5g");
            fmt_num(c[7], CELL, jnum(res[i].met, "ho_norm.median"), "%.4g");
            fmt_num(c[8], CELL, jnum(res[i].met, "ho_norm.mean"), "%.4g");
            fmt_num(c[9], CELL, jnum(res[i].met, "ho_norm.max"), "%.4g");
            fmt_num(c[10], CELL, jnum(res[i].met, "corollary2.W_l"), "%.4g");
            fmt_num(c[11], CELL, jnum(res[i].met, "corollary2.W_x"), "%.4g");
            fmt_num(c[12], CELL, jnum(res[i].met, "corollary2.w"), "%.4g");
            for (int k = 0; k < 13; k++)
                cp[k] = c[k];
            doc_row(&d, cp, 13, 0);
        }
        doc_text(&d, "\n", "</table>\n");
        doc_p(&d, "Per model: summary.csv; the exact ||H_O,i|| of every analysed sample: "
                  "models/<setting>/hess_norms.csv; their quantiles: hessnorm_quantiles.csv.");
        for (char *f = hess_figs.s; f && *f;) {
            char *sp = strchr(f, ' ');
            if (sp)
                *sp = 0;
            char pth[PATH_BUF];
            path_join(pth, sizeof pth, o->out_dir, f);
            if (file_exists(pth))
                doc_img(&d, f, "distribution of the per-sample ||H_O,i||");
            f = sp ? sp + 1 : f + strlen(f);
        }
        hn_buf_free(&hess_figs);
    }
    doc_h(&d, 2, "Corollary 2 against the measured loss difference");
    doc_p(&d, "Readings (docs/experiments.md): W_l = max_i l_i(theta), W_x = max_i ||x_i||, w = max |theta| "
              "over the conv layers, m x n = input size, C = max channels (input included), k = kernel, "
              "L = the number of conv layers (the linear head is T(L+1)); RHS(alt) drops the head "
              "(L - 1). R = the stated radius. The eq. (1) column is (1/(k+1)) R^2 ||H_{O,k+1} - (1/k) "
              "sum H_{O,i}||, the Hessian term of eq. (1) with the measured norm.");
    for (size_t i = 0; i < nr; i++) {
        char t[300];
        snprintf(t, sizeof t, "%s (R = %g, log10 Theorem-2 bound on ||H_O|| = %.2f, measured max "
                              "||H_O,i|| = %.4g)",
                 res[i].name, jnum(res[i].met, "corollary2.R"),
                 jnum(res[i].met, "corollary2.log10_theorem2_bound"), jnum(res[i].met, "ho_norm.max"));
        doc_h(&d, 3, t);
        const char *hdr[] = {"k", "mean |dL| (S orders)", "|dL| (this order)", "||dH_O||", "lambda_max",
                             "lambda_min", "Lanczos it.", "eq. (1) term", "Cor. 2 RHS", "log10 RHS",
                             "log10 RHS (alt)"};
        doc_text(&d, "", "<table>\n");
        doc_row(&d, hdr, 11, 1);
        const json_t *rows = json_object_get(json_object_get(res[i].met, "corollary2"), "rows");
        for (size_t j = 0; j < json_array_size(rows); j++) {
            const json_t *row = json_array_get(rows, j);
            char c[NCELL][CELL];
            const char *cp[NCELL];
            fmt_num(c[0], CELL, jnum(row, "k"), "%.0f");
            fmt_num(c[1], CELL, jnum(row, "loss_diff_mean"), "%.4g");
            fmt_num(c[2], CELL, jnum(row, "loss_diff_order"), "%.4g");
            if (json_is_true(json_object_get(row, "computed"))) {
                fmt_num(c[3], CELL, jnum(row, "ho_diff_norm"), "%.6g");
                fmt_num(c[4], CELL, jnum(row, "lambda_max"), "%.6g");
                fmt_num(c[5], CELL, jnum(row, "lambda_min"), "%.6g");
                snprintf(c[6], CELL, "%.0f%s", jnum(row, "lanczos_iterations"),
                         json_is_true(json_object_get(row, "converged")) ? "" : " (not converged)");
                fmt_num(c[7], CELL, jnum(row, "eq1_hessian_term"), "%.4g");
            } else {
                snprintf(c[3], CELL, "skipped");
                snprintf(c[4], CELL, "-");
                snprintf(c[5], CELL, "-");
                snprintf(c[6], CELL, "-");
                snprintf(c[7], CELL, "-");
            }
            fmt_num(c[8], CELL, jnum(row, "rhs"), "%.3e");
            fmt_num(c[9], CELL, jnum(row, "log10_rhs"), "%.2f");
            fmt_num(c[10], CELL, jnum(row, "log10_rhs_alt"), "%.2f");
            for (int k = 0; k < 11; k++)
                cp[k] = c[k];
            doc_row(&d, cp, 11, 0);
        }
        doc_text(&d, "\n", "</table>\n");
        for (size_t j = 0; j < json_array_size(rows); j++) {
            const json_t *why = json_object_get(json_array_get(rows, j), "why");
            if (json_is_string(why)) {
                char t2[200];
                snprintf(t2, sizeof t2, "k = %.0f skipped: %s", jnum(json_array_get(rows, j), "k"),
                         json_string_value(why));
                doc_p(&d, t2);
            }
        }
    }
    doc_p(&d, "All numbers: corollary2.csv. Models (interchange format, readable by hessnorm inspect): "
              "models/<setting>/model.json and weights.safetensors; metrics.json per model.");
    hn_buf_puts(&d.html, "</body></html>\n");
    path_join(path, sizeof path, o->out_dir, "report.md");
    rc = hn_buf_save(&d.md, path, err);
    path_join(path, sizeof path, o->out_dir, "index.html");
    if (!rc)
        rc = hn_buf_save(&d.html, path, err);
    hn_buf_free(&d.md);
    hn_buf_free(&d.html);
    return rc;
}

/* ------------------------------------------------------------ the sweep */

static void progress_msg(const hn_experiment_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress_msg(const hn_experiment_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, msg);
}

int hn_experiment_run(const hn_dataset *train, const hn_dataset *test,
                      const hn_experiment_opts *o, hn_experiment_summary *sum, hn_err *err)
{
    if (sum)
        memset(sum, 0, sizeof *sum);
    if (!train || !test || !o || !o->out_dir || !o->dataset)
        return hn_err_set(err, HN_EINVAL, "experiment: missing argument");
    if (strlen(o->out_dir) == 0 || strlen(o->out_dir) > HN_DIR_MAX)
        return hn_err_set(err, HN_EINVAL, "--out: the directory name must have 1 to %d characters",
                          HN_DIR_MAX);
    if (train->c != test->c || train->h != test->h || train->w != test->w)
        return hn_err_set(err, HN_ESHAPE, "experiment: train images %zux%zux%zu but test images %zux%zux%zu",
                          train->c, train->h, train->w, test->c, test->h, test->w);
    if (o->preset.shuffles == 0)
        return hn_err_set(err, HN_EINVAL, "--shuffles: must be a positive integer");
    if (o->preset.n_ks > 4)
        return hn_err_set(err, HN_EINVAL, "experiment: at most 4 values of k");
    if (!(o->smooth >= 0 && o->smooth < 1))
        return hn_err_set(err, HN_EINVAL, "experiment: smoothing coefficient %g outside [0, 1)", o->smooth);
    hn_arch sweep_set[32];
    const hn_arch *set = o->settings;
    size_t nset = o->n_settings;
    if (!set) {
        nset = hn_sweep_settings(o->sweep, o->preset.values, sweep_set, 32);
        set = sweep_set;
    }
    if (nset == 0 || nset > 32)
        return hn_err_set(err, HN_EINVAL, "experiment: %zu settings (1..32 allowed)", nset);

    const double t0 = now_s();
    xctx X;
    memset(&X, 0, sizeof X);
    X.o = o;
    X.train_total = train->n;
    X.C_in = train->c;
    X.H = train->h;
    X.W = train->w;
    X.epochs = o->preset.epochs ? o->preset.epochs : hn_paper_epochs(o->dataset);
    int rc = HN_OK;
    size_t *pick = NULL;
    mres *res = hn_calloc(nset, sizeof *res);
    if (!res)
        return hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
    /* the training subset: a seeded random choice, the same for every model */
    size_t ntr = o->preset.train_n && o->preset.train_n < train->n ? o->preset.train_n : train->n;
    if (ntr < 2) {
        rc = hn_err_set(err, HN_EINVAL, "experiment: need at least 2 training images, got %zu", ntr);
        goto done;
    }
    if (ntr < train->n) {
        size_t *all = hn_calloc(train->n, sizeof *all);
        pick = hn_calloc(ntr, sizeof *pick);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        if (!all || !pick || !r) {
            hn_free(all);
            if (r)
                gsl_rng_free(r);
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
            goto done;
        }
        for (size_t i = 0; i < train->n; i++)
            all[i] = i;
        gsl_rng_set(r, derive_seed(o->seed, "data", STREAM_DATA));
        gsl_ran_choose(r, pick, ntr, all, train->n, sizeof *all);
        hn_free(all);
        gsl_rng_free(r);
    }
    if ((rc = hn_sample_set_init(&X.train, train, pick, ntr, err)))
        goto done;
    {
        size_t nte = o->preset.test_n && o->preset.test_n < test->n ? o->preset.test_n : test->n;
        if ((rc = hn_sample_set_init(&X.test, test, NULL, nte, err)))
            goto done;
    }
    X.hess_n = o->preset.hess_n && o->preset.hess_n < ntr ? o->preset.hess_n : ntr;
    {
        json_t *ks = json_array();
        for (size_t j = 0; j < o->preset.n_ks; j++)
            json_array_append_new(ks, json_integer((json_int_t)o->preset.ks[j]));
        hn_ho_opts hd;
        hn_ho_opts_default(&hd);
        X.config_base = json_pack(
            "{s:s, s:s, s:s, s:I, s:[I,I,I], s:I, s:I, s:I, s:I, s:f, s:[f,f], s:f, s:I, s:I, s:o, "
            "s:f, s:f, s:f, s:f, s:I}",
            "format", "hessnorm-experiment/1", "dataset", o->dataset, "preset", o->preset.name, "seed",
            (json_int_t)o->seed, "input", (json_int_t)train->c, (json_int_t)train->h,
            (json_int_t)train->w, "train_n", (json_int_t)ntr, "train_total", (json_int_t)train->n,
            "test_n", (json_int_t)X.test.s.n, "epochs", (json_int_t)X.epochs, "lr", 1e-3, "betas",
            0.9, 0.999, "eps", 1e-8, "batch", (json_int_t)64, "shuffles",
            (json_int_t)o->preset.shuffles, "ks", ks, "smooth", o->smooth, "R", o->R, "mem_limit",
            o->mem_limit, "lanczos_rtol", hd.rtol, "lanczos_max_iter", (json_int_t)hd.max_iter);
        if (!X.config_base) {
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
            goto done;
        }
        json_object_set_new(X.config_base, "hess_n", json_integer((json_int_t)X.hess_n));
    }
    if ((rc = hn_mkdir_p(o->out_dir, err)))
        goto done;
    char mdir[PATH_BUF], path[PATH_BUF];
    path_join(mdir, sizeof mdir, o->out_dir, "models");
    if ((rc = hn_mkdir_p(mdir, err)))
        goto done;
    progress_msg(o, "%s sweep on %s (%s preset): %zu models, %zu training / %zu test images, %zu epoch(s), "
                    "output %s",
                 o->settings ? "custom" : hn_sweep_name(o->sweep), ds_title(o->dataset), o->preset.name,
                 nset, ntr, X.test.s.n, X.epochs, o->out_dir);
    for (size_t i = 0; i < nset && !rc; i++) {
        mres *r = &res[i];
        r->arch = set[i];
        hn_arch_name(&set[i], r->name, sizeof r->name);
        char dir[PATH_BUF];
        path_join(dir, sizeof dir, mdir, r->name);
        path_join(path, sizeof path, dir, "metrics.json");
        json_t *cfg = model_config(&X, &set[i], r->name);
        if (!cfg) {
            rc = hn_err_set(err, HN_ENOMEM, "experiment: out of memory");
            break;
        }
        json_t *old = file_exists(path) ? json_load_file(path, 0, NULL) : NULL;
        if (old && json_is_object(old) && json_object_get(old, "config")) {
            if (!json_equal(json_object_get(old, "config"), cfg)) {
                rc = hn_err_set(err, HN_EINVAL,
                                "%s: config: the model was made with other settings (dataset, preset, seed "
                                "or options); use another --out or delete it",
                                path);
                json_decref(old);
                json_decref(cfg);
                break;
            }
            progress_msg(o, "model %zu/%zu %s: done already (%s), skipped", i + 1, nset, r->name, path);
            if (sum)
                sum->resumed++;
        } else {
            json_decref(old);
            old = NULL;
            rc = run_model(&X, i, nset, &set[i], r->name, dir, cfg, err);
            if (!rc && sum)
                sum->trained++;
        }
        json_decref(old);
        json_decref(cfg);
        if (rc)
            break;
        /* results always come back from the files: a resumed sweep and an
         * uninterrupted one build the report from the same bytes */
        json_error_t je;
        r->met = json_load_file(path, 0, &je);
        if (!r->met) {
            rc = hn_err_set(err, HN_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
            break;
        }
        path_join(path, sizeof path, dir, "curve.csv");
        rc = load_curve(path, r, err);
    }
    if (!rc) {
        int drawn = 0;
        progress_msg(o, "writing the report in %s", o->out_dir);
        rc = write_report(o, &X, res, nset, &drawn, err);
        if (sum)
            sum->figures_drawn = drawn;
    }
    if (sum) {
        sum->models = nset;
        sum->seconds = now_s() - t0;
        sum->train_images_per_s = X.train_seconds > 0 ? X.train_images / X.train_seconds : 0;
        sum->eval_images_per_s = X.eval_seconds > 0 ? X.eval_images / X.eval_seconds : 0;
    }
done:
    for (size_t i = 0; i < nset; i++) {
        json_decref(res[i].met);
        hn_free(res[i].mean);
        hn_free(res[i].ema);
    }
    hn_free(res);
    hn_free(pick);
    json_decref(X.config_base);
    hn_sample_set_free(&X.train);
    hn_sample_set_free(&X.test);
    return rc;
}
