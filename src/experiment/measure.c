/* hessnorm — section VI's measurements: loss-difference curves, H_O, Corollary 2. */
#include "config.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/experiment.h"
#include "hessnorm/layers.h"
#include "hessnorm/outer.h"
#include "base/threads.h"
#include "experiment/internal.h"
#include "base/clock.h"
#include "base/progress.h"

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

#define HO_SAMPLE_BLOCK 64

/* hn_ho_analysis's buffers.  With a last linear layer (structured), J_i's
 * head block is I_K (x) x_i^T and only x_i is stored. */
typedef struct {
    size_t K, P, Pb, d, n_store;
    int nt;
    hn_ws **ws;
    double *Jt, *zt;          /* per thread: K x P Jacobian, K logits */
    double *G, *pall;         /* per sample: K x K Gram J J^T, K probabilities */
    double *Jb, *xh, *u;      /* n_store x K x Pb, n_store x d, n_store x K */
    double *ebuf;             /* hn_outer_sample_norm's 4 K^2 + 2 K */
} ho_state;

static int ho_check_args(const hn_model *m, const double *theta, const hn_samples *s,
                         const size_t *order, size_t n_order, const size_t *ks, size_t n_ks,
                         const double *ho_norm, const hn_hodiff *diff, hn_err *err)
{
    if (!m || !m->finalized || !theta || !s || !order || !ho_norm || (n_ks && (!ks || !diff)))
        return hn_err_set(err, HN_EINVAL, "hessian: missing argument");
    if (s->in_size != hn_shape_size(m->input))
        return hn_err_set(err, HN_ESHAPE, "hessian: samples of size %zu do not fit the model input %zu",
                          s->in_size, hn_shape_size(m->input));
    const size_t K = m->classes;
    if (n_order == 0)
        return hn_err_set(err, HN_EINVAL, "hessian: no samples to analyse");
    if (K > HN_OUTER_OP_MAX_K)
        return hn_err_set(err, HN_EINVAL, "hessian: at most %d classes are supported, got %zu",
                          HN_OUTER_OP_MAX_K, K);
    for (size_t i = 0; i < n_order; i++)
        if (order[i] >= s->n)
            return hn_err_set(err, HN_EINVAL, "hessian: order[%zu] = %zu out of range (n = %zu)", i,
                              order[i], s->n);
    for (size_t j = 0; j < n_ks; j++)
        if (ks[j] == 0)
            return hn_err_set(err, HN_EINVAL, "hessian: k must be positive");
    return HN_OK;
}

/* Lanczos iterations for k: the cap, at most the operator's rank + 1. */
static size_t ho_iters(const hn_ho_opts *o, size_t K, size_t k)
{
    size_t it = o->max_iter;
    if (it > K * (k + 1) + 1)
        it = K * (k + 1) + 1;
    return it;
}

/* Which k fit: stored Jacobians + Lanczos vectors within mem_limit.
 * Fills diff[] and returns the number of samples to store. */
static size_t ho_plan(const ho_state *st, size_t n_order, const size_t *ks, size_t n_ks,
                      const hn_ho_opts *o, hn_hodiff *diff)
{
    const size_t K = st->K;
    size_t n_store = 0;
    const double per_sample = 8.0 * ((double)K * (double)st->Pb + (double)st->d + 2.0 * (double)K);
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
        const size_t it = ho_iters(o, K, ks[j]);
        const double need = (double)(ks[j] + 1) * per_sample + 8.0 * (double)(it + 1) * (double)st->P;
        if (need > o->mem_limit) {
            snprintf(df->why, sizeof df->why, "needs %.2f GiB of stored Jacobians, limit %.2f GiB",
                     need / 1073741824.0, o->mem_limit / 1073741824.0);
            continue;
        }
        df->computed = 1;
        if (ks[j] + 1 > n_store)
            n_store = ks[j] + 1;
    }
    return n_store;
}

static int ho_alloc(ho_state *st, const hn_model *m, size_t n_order, hn_err *err)
{
    const size_t K = st->K, P = st->P, nt = (size_t)st->nt, n_store = st->n_store;
    size_t tot;
    st->ws = hn_calloc(nt, sizeof *st->ws);
    if (!st->ws || hn_mul3_size(nt, K, P, &tot) != 0 || !(st->Jt = hn_malloc(tot * sizeof *st->Jt)) ||
        !(st->zt = hn_calloc(nt * K, sizeof *st->zt)) ||
        !(st->G = hn_calloc(n_order * K * K, sizeof *st->G)) ||
        !(st->pall = hn_calloc(n_order * K, sizeof *st->pall)) ||
        !(st->ebuf = hn_calloc(4 * K * K + 2 * K, sizeof *st->ebuf)))
        return hn_err_set(err, HN_ENOMEM, "hessian: out of memory (%zu parameters)", P);
    if (n_store) {
        size_t jb;
        if (hn_mul3_size(n_store, K, st->Pb, &jb) != 0 ||
            !(st->Jb = hn_malloc((jb ? jb : 1) * sizeof *st->Jb)) ||
            !(st->xh = hn_calloc(n_store * st->d + 1, sizeof *st->xh)) ||
            !(st->u = hn_calloc(n_store * K, sizeof *st->u)))
            return hn_err_set(err, HN_ENOMEM,
                              "hessian: out of memory for the Jacobians of %zu samples (%zu parameters)",
                              n_store, P);
    }
    int rc = HN_OK;
    for (int i = 0; i < st->nt && !rc; i++)
        rc = hn_ws_alloc(m, &st->ws[i], err);
    return rc;
}

static void ho_free(ho_state *st)
{
    if (st->ws)
        for (int i = 0; i < st->nt; i++)
            hn_ws_free(st->ws[i]);
    hn_free(st->ws);
    hn_free(st->Jt);
    hn_free(st->zt);
    hn_free(st->G);
    hn_free(st->pall);
    hn_free(st->Jb);
    hn_free(st->xh);
    hn_free(st->u);
    hn_free(st->ebuf);
}

/* Every sample's Jacobian, probabilities and Gram matrix; the first n_store
 * Jacobians (and head inputs) are kept for the operator. */
static void ho_jacobians(ho_state *st, const hn_model *m, const double *theta, const hn_samples *s,
                         const size_t *order, size_t n_order, const hn_ho_opts *o)
{
    const size_t K = st->K, P = st->P, Pb = st->Pb, d = st->d, n_store = st->n_store;
    const double t0 = hn_clock_s();
    double lastrep = t0;
    for (size_t b0 = 0; b0 < n_order; b0 += HO_SAMPLE_BLOCK) {
        const long bs = (long)b0, be = (long)(b0 + HO_SAMPLE_BLOCK < n_order ? b0 + HO_SAMPLE_BLOCK : n_order);
#pragma omp parallel for num_threads(st->nt) schedule(dynamic, 1)
        for (long i = bs; i < be; i++) {
            const int tid = hn_thread_id();
            double *J = st->Jt + (size_t)tid * K * P, *z = st->zt + (size_t)tid * K;
            const size_t si = order[i];
            hn_jacobian(m, theta, s->x + si * s->in_size, st->ws[tid], J, z);
            double *p = st->pall + (size_t)i * K;
            hn_loss_eval(m->loss, K, z, s->y_class ? s->y_class[si] : 0,
                         s->y_vec ? s->y_vec + si * K : NULL, NULL, p);
            hn_outer_sample_gram(K, P, J, st->G + (size_t)i * K * K);
            if ((size_t)i < n_store) {
                for (size_t a = 0; a < K; a++)
                    memcpy(st->Jb + ((size_t)i * K + a) * Pb, J + a * P, Pb * sizeof *st->Jb);
                if (d)
                    memcpy(st->xh + (size_t)i * d, hn_ws_act(st->ws[tid], (int)m->n_layers - 2),
                           d * sizeof *st->xh);
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
}

/* ||H_{O,k+1} - (1/k) sum_{i<=k} H_{O,i}|| by Lanczos for every computed k. */
static int ho_lanczos(const ho_state *st, const hn_model *m, const size_t *order,
                      const double *loss, size_t n_ks, const hn_ho_opts *o, hn_hodiff *diff,
                      hn_err *err)
{
    const size_t K = st->K, n_store = st->n_store;
    /* the probabilities of the stored samples, then their weights */
    double *pst = hn_calloc(n_store * K + n_store, sizeof *pst);
    if (!pst)
        return hn_err_set(err, HN_ENOMEM, "hessian: out of memory");
    memcpy(pst, st->pall, n_store * K * sizeof *pst);
    double *w = pst + n_store * K;
    hn_outer_op op = {m->loss, K, st->Pb, st->d, 0, st->Jb, st->xh, pst, w, st->u, st->nt};
    int rc = HN_OK;
    for (size_t j = 0; j < n_ks && !rc; j++) {
        hn_hodiff *df = &diff[j];
        if (!df->computed)
            continue;
        const size_t k = df->k;
        op.n = k + 1;
        const double kinv = 1.0 / (double)k;
        for (size_t i = 0; i < k; i++)
            w[i] = -kinv;
        w[k] = 1.0;
        const double tl = hn_clock_s();
        rc = hn_lanczos_extreme(st->P, hn_outer_op_apply, &op, ho_iters(o, K, k), o->rtol, o->seed,
                                st->nt, &df->lz, err);
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
    return rc;
}

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
    int rc = ho_check_args(m, theta, s, order, n_order, ks, n_ks, ho_norm, diff, err);
    if (rc)
        return rc;
    ho_state st = {0};
    st.K = m->classes;
    st.P = m->n_params;
    st.nt = hn_resolve_threads(o->threads);
    const hn_layer *last = &m->layers[m->n_layers - 1];
    const int structured = last->type == HN_LINEAR && last->param_offset + last->param_count == st.P;
    st.d = structured ? last->in.c : 0;
    st.Pb = structured ? last->param_offset : st.P;
    st.n_store = ho_plan(&st, n_order, ks, n_ks, o, diff);
    if ((rc = ho_alloc(&st, m, n_order, err)) != 0)
        goto done;
    ho_jacobians(&st, m, theta, s, order, n_order, o);
    for (size_t i = 0; i < n_order; i++) {
        if (hn_outer_sample_norm(m->loss, st.K, st.pall + i * st.K, st.G + i * st.K * st.K, st.ebuf,
                                 &ho_norm[i]) != 0) {
            rc = hn_err_set(err, HN_ENUMERIC, "hessian: LAPACK dsyevd failed on sample %zu's %zu x %zu matrix",
                            order[i], st.K, st.K);
            goto done;
        }
    }
    if (st.n_store)
        rc = ho_lanczos(&st, m, order, loss, n_ks, o, diff, err);
done:
    ho_free(&st);
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
