/* hessnorm — section VI's measurements: loss-difference curves, H_O, Corollary 2. */
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
#include "hessnorm/experiment.h"
#include "hessnorm/layers.h"
#include "experiment/internal.h"

/* Below this many multiply-adds a loop runs on one thread: thread wake-ups
 * cost more than they save, and far more on a loaded machine. */
#define PAR_WORK 200000.0

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
    const int nt = hn_resolve_threads(o->threads);
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

    const double t0 = hn_clock_s();
    double lastrep = t0;
    for (size_t b0 = 0; b0 < n_order; b0 += HO_SAMPLE_BLOCK) {
        const long bs = (long)b0, be = (long)(b0 + HO_SAMPLE_BLOCK < n_order ? b0 + HO_SAMPLE_BLOCK : n_order);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (long i = bs; i < be; i++) {
            const int tid = hn_thread_id();
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
        const double tn = hn_clock_s();
        if (o->progress.fn && (tn - lastrep >= o->progress.every || (size_t)be == n_order)) {
            const double rate = (double)be / (tn - t0 > 0 ? tn - t0 : 1e-9);
            char lb[32];
            hn_fmt_duration(lb, sizeof lb, (double)(n_order - (size_t)be) / rate);
            hn_progress_say(&o->progress, 768, "hessian: Jacobians %ld/%zu  %.1f img/s  left %s", be, n_order,
                       rate, lb);
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
            const double tl = hn_clock_s();
            rc = hn_lanczos_extreme(P, ho_matvec, &op, it, o->rtol, o->seed, nt, &df->lz, err);
            if (rc)
                break;
            if (loss) {
                double sum = 0;
                for (size_t i = 0; i < k; i++)
                    sum += loss[order[i]];
                df->loss_diff = fabs(loss[order[k]] - sum / (double)k) / (double)(k + 1);
            }
            hn_progress_say(&o->progress, 768,
                       "lanczos k=%zu: ||H_O,k+1 - mean_k H_O|| = %.6g (%zu iterations%s, %.1fs)", k,
                       df->lz.norm, df->lz.iterations, df->lz.converged ? "" : ", NOT converged",
                       hn_clock_s() - tl);
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
