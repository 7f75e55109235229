/* hessnorm — training the section-VI networks: architecture, PyTorch-default
 * initialisation, Adam, and mini-batch gradients that are bit-identical for
 * every thread count. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_randist.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/layers.h"
#include "hessnorm/train.h"
#include "hessnorm/fastconv.h"
#include "base/clock.h"
#include "base/progress.h"
#include "base/threads.h"
#include "hessnorm/seed.h"

/* ------------------------------------------------------------ network */

int hn_arch_name(const hn_arch *a, char *buf, size_t len)
{
    if (a->pool == HN_POOL_NONE)
        return snprintf(buf, len, "L%zu_k%zu_C%zu", a->layers, a->kernel, a->channels);
    return snprintf(buf, len, "L%zu_k%zu_C%zu_%s%zu", a->layers, a->kernel, a->channels,
                    a->pool == HN_POOL_MAX ? "maxpool" : "avgpool", a->pool_pos);
}

int hn_arch_model(const hn_arch *a, size_t in_c, size_t in_h, size_t in_w, size_t classes,
                  hn_model **out, hn_err *err)
{
    *out = NULL;
    if (!a)
        return hn_err_set(err, HN_EINVAL, "arch: missing");
    if (a->layers == 0)
        return hn_err_set(err, HN_EINVAL, "arch.layers: must be a positive integer");
    if (a->kernel == 0)
        return hn_err_set(err, HN_EINVAL, "arch.kernel: must be a positive integer");
    if (a->channels == 0)
        return hn_err_set(err, HN_EINVAL, "arch.channels: must be a positive integer");
    if (a->pool != HN_POOL_NONE && a->pool != HN_POOL_MAX && a->pool != HN_POOL_AVG)
        return hn_err_set(err, HN_EINVAL, "arch.pool: unknown pooling kind %d", (int)a->pool);
    if (a->pool != HN_POOL_NONE && a->pool_pos >= a->layers)
        return hn_err_set(err, HN_EINVAL,
                          "arch.pool_pos: %zu is not a conv index (0..%zu) of a %zu-layer net",
                          a->pool_pos, a->layers - 1, a->layers);
    size_t dims[3] = {in_c, in_h, in_w};
    hn_model *m;
    int rc = hn_model_new(3, dims, classes, HN_LOSS_CE, &m, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < a->layers && !rc; i++) {
        rc = hn_model_add(m, HN_CONV2D, a->channels, a->kernel, a->kernel, err);
        if (rc)
            break;
        if (a->pool != HN_POOL_NONE) {
            /* the authors' pooling nets: every conv is followed by ReLU or the pooling */
            if (i == a->pool_pos)
                rc = hn_model_add(m, a->pool == HN_POOL_MAX ? HN_MAXPOOL2D : HN_AVGPOOL2D, 0, 2,
                                  2, err);
            else
                rc = hn_model_add(m, HN_RELU, 0, 0, 0, err);
        } else if (i + 1 < a->layers) {
            rc = hn_model_add(m, HN_RELU, 0, 0, 0, err);
        }
    }
    if (!rc)
        rc = hn_model_add(m, HN_FLATTEN, 0, 0, 0, err);
    if (!rc)
        rc = hn_model_add(m, HN_LINEAR, classes, 1, 1, err);
    if (!rc)
        rc = hn_model_finalize(m, err);
    if (rc) {
        char name[96];
        hn_arch_name(a, name, sizeof name);
        hn_err_prefix(err, name);
        hn_model_free(m);
        return rc;
    }
    *out = m;
    return HN_OK;
}

void hn_init_uniform(const hn_model *m, gsl_rng *r, double *theta)
{
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        const double bound = 1.0 / sqrt((double)(ly->in.c * ly->kh * ly->kw));
        for (size_t j = 0; j < ly->param_count; j++)
            theta[ly->param_offset + j] = bound * (2.0 * gsl_rng_uniform(r) - 1.0);
    }
}

/* ------------------------------------------------------------ Adam */

int hn_adam_alloc(size_t n, double lr, double beta1, double beta2, double eps, hn_adam **out,
                  hn_err *err)
{
    *out = NULL;
    if (n == 0)
        return hn_err_set(err, HN_EINVAL, "adam: no parameters");
    if (!(lr > 0) || !isfinite(lr))
        return hn_err_set(err, HN_EINVAL, "adam.lr: must be a positive number, got %g", lr);
    if (!(beta1 >= 0 && beta1 < 1))
        return hn_err_set(err, HN_EINVAL, "adam.beta1: must be in [0, 1), got %g", beta1);
    if (!(beta2 >= 0 && beta2 < 1))
        return hn_err_set(err, HN_EINVAL, "adam.beta2: must be in [0, 1), got %g", beta2);
    if (!(eps >= 0) || !isfinite(eps))
        return hn_err_set(err, HN_EINVAL, "adam.eps: must be >= 0, got %g", eps);
    hn_adam *a = hn_calloc(1, sizeof *a);
    if (!a)
        return hn_err_set(err, HN_ENOMEM, "adam: out of memory");
    a->m = hn_calloc(n, sizeof *a->m);
    a->v = hn_calloc(n, sizeof *a->v);
    if (!a->m || !a->v) {
        hn_adam_free(a);
        return hn_err_set(err, HN_ENOMEM, "adam: out of memory for %zu parameters", n);
    }
    a->n = n;
    a->lr = lr;
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = eps;
    *out = a;
    return HN_OK;
}

void hn_adam_free(hn_adam *a)
{
    if (!a)
        return;
    hn_free(a->m);
    hn_free(a->v);
    hn_free(a);
}

void hn_adam_step(hn_adam *a, double *theta, const double *grad)
{
    a->t++;
    /* PyTorch's single-tensor Adam, in its order of operations */
    const double bc1 = 1.0 - pow(a->beta1, (double)a->t);
    const double bc2 = 1.0 - pow(a->beta2, (double)a->t);
    const double step = a->lr / bc1, bc2s = sqrt(bc2);
    for (size_t j = 0; j < a->n; j++) {
        const double g = grad[j];
        a->m[j] += (g - a->m[j]) * (1.0 - a->beta1);            /* lerp_ */
        a->v[j] = a->v[j] * a->beta2 + (1.0 - a->beta2) * g * g; /* mul_.addcmul_ */
        const double denom = sqrt(a->v[j]) / bc2s + a->eps;
        theta[j] -= step * (a->m[j] / denom);
    }
}

/* ------------------------------------------------------------ samples */

int hn_sample_set_init(hn_sample_set *ss, const hn_dataset *d, const size_t *idx, size_t n,
                       hn_err *err)
{
    memset(ss, 0, sizeof *ss);
    if (!d || !d->x || !d->y)
        return hn_err_set(err, HN_EINVAL, "samples: no dataset");
    if (n == 0) {
        if (idx)
            return hn_err_set(err, HN_EINVAL, "samples: n = 0 with an index list");
        n = d->n;
    }
    const size_t in = d->c * d->h * d->w;
    if (!idx && n > d->n)
        return hn_err_set(err, HN_ERANGE, "samples: %zu requested, the dataset has %zu", n, d->n);
    if (idx)
        for (size_t i = 0; i < n; i++)
            if (idx[i] >= d->n)
                return hn_err_set(err, HN_ERANGE, "samples: index %zu out of range (n = %zu)",
                                  idx[i], d->n);
    ss->s.y_class = hn_calloc(n, sizeof *ss->s.y_class);
    if (!ss->s.y_class)
        return hn_err_set(err, HN_ENOMEM, "samples: out of memory for %zu labels", n);
    if (idx) {
        size_t tot;
        if (hn_mul_size(n, in, &tot) != 0 || !(ss->x_owned = hn_calloc(tot, sizeof(double)))) {
            hn_sample_set_free(ss);
            return hn_err_set(err, HN_ENOMEM, "samples: out of memory for %zu images", n);
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(ss->x_owned + i * in, d->x + idx[i] * in, in * sizeof(double));
            ss->s.y_class[i] = d->y[idx[i]];
        }
        ss->s.x = ss->x_owned;
    } else {
        for (size_t i = 0; i < n; i++)
            ss->s.y_class[i] = d->y[i];
        ss->s.x = d->x;
    }
    ss->s.n = n;
    ss->s.in_size = in;
    ss->s.classes = 10;
    ss->s.loss = HN_LOSS_CE;
    ss->s.batched = 1;
    return HN_OK;
}

void hn_sample_set_free(hn_sample_set *ss)
{
    if (!ss)
        return;
    hn_free(ss->x_owned);
    hn_free(ss->s.y_class);
    memset(ss, 0, sizeof *ss);
}

/* ------------------------------------------------------------ trainer */

struct hn_trainer {
    const hn_model *m;
    size_t P, max_batch, max_chunks;
    int threads;
    hn_ws **ws;          /* one per thread */
    double *slots;       /* max_chunks x P */
    double *chunk_loss;  /* max_chunks */
    double *grad;        /* P, for hn_train_step */
    hn_fast *fast;       /* batched im2col + GEMM kernels (fastconv.h) */
};

void hn_trainer_free(hn_trainer *t)
{
    if (!t)
        return;
    if (t->ws)
        for (int i = 0; i < t->threads; i++)
            hn_ws_free(t->ws[i]);
    hn_free(t->ws);
    hn_free(t->slots);
    hn_free(t->chunk_loss);
    hn_free(t->grad);
    hn_fast_free(t->fast);
    hn_free(t);
}

int hn_trainer_alloc(const hn_model *m, size_t max_batch, int threads, hn_trainer **out,
                     hn_err *err)
{
    *out = NULL;
    if (!m || !m->finalized)
        return hn_err_set(err, HN_EINVAL, "trainer: model is not finalized");
    if (max_batch == 0)
        return hn_err_set(err, HN_EINVAL, "trainer: batch size must be positive");
    hn_trainer *t = hn_calloc(1, sizeof *t);
    if (!t)
        return hn_err_set(err, HN_ENOMEM, "trainer: out of memory");
    t->m = m;
    t->P = m->n_params;
    t->max_batch = max_batch;
    t->max_chunks = (max_batch + HN_TRAIN_CHUNK - 1) / HN_TRAIN_CHUNK;
    t->threads = hn_resolve_threads(threads);
    size_t tot;
    t->ws = hn_calloc((size_t)t->threads, sizeof *t->ws);
    if (!t->ws || hn_mul_size(t->max_chunks, t->P, &tot) != 0)
        goto nomem;
    t->slots = hn_calloc(tot, sizeof(double));
    t->chunk_loss = hn_calloc(t->max_chunks, sizeof(double));
    t->grad = hn_calloc(t->P, sizeof(double));
    if (!t->slots || !t->chunk_loss || !t->grad)
        goto nomem;
    for (int i = 0; i < t->threads; i++) {
        int rc = hn_ws_alloc(m, &t->ws[i], err);
        if (rc) {
            hn_trainer_free(t);
            return rc;
        }
    }
    {
        int rc = hn_fast_alloc(m, t->threads, 0, &t->fast, err);
        if (rc) {
            hn_trainer_free(t);
            return rc;
        }
    }
    *out = t;
    return HN_OK;
nomem:
    hn_trainer_free(t);
    return hn_err_set(err, HN_ENOMEM, "trainer: out of memory (%zu parameters, batch %zu)",
                      m->n_params, max_batch);
}

int hn_trainer_threads(const hn_trainer *t) { return t->threads; }

static int check_labels(const hn_model *m, const hn_samples *s)
{
    if (m->loss == HN_LOSS_CE)
        return s->y_class != NULL;
    return s->y_vec != NULL;
}

#define RED_BLOCK 1024

int hn_train_grad(hn_trainer *t, const double *theta, const hn_samples *s, const size_t *idx,
                  size_t b, double *loss, double *grad)
{
    const hn_model *m = t->m;
    const size_t P = t->P;
    if (b == 0 || b > t->max_batch)
        return HN_EINVAL;
    if (!s || s->in_size != hn_shape_size(m->input) || !check_labels(m, s))
        return HN_EINVAL;
    for (size_t j = 0; j < b; j++)
        if (idx[j] >= s->n)
            return HN_EINVAL;
    /* the batched GEMM kernels (bit-identical for any thread count, checked
     * against the per-sample route below in test_fastconv) */
    if (t->fast)
        return hn_batch_forward_backward(m, theta, s, idx, b, t->fast, loss, grad, NULL);
    const long nch = (long)((b + HN_TRAIN_CHUNK - 1) / HN_TRAIN_CHUNK);
    /* Each chunk of HN_TRAIN_CHUNK consecutive batch entries sums its
     * samples' gradients, in order, into its own slot: which thread runs a
     * chunk cannot change any bit of the result. */
#pragma omp parallel for num_threads(t->threads) schedule(dynamic, 1)
    for (long c = 0; c < nch; c++) {
        hn_ws *ws = t->ws[hn_thread_id()];
        double *g = t->slots + (size_t)c * P;
        memset(g, 0, P * sizeof *g);
        double ls = 0;
        const size_t j1 = (size_t)c * HN_TRAIN_CHUNK;
        const size_t j2 = j1 + HN_TRAIN_CHUNK < b ? j1 + HN_TRAIN_CHUNK : b;
        for (size_t j = j1; j < j2; j++) {
            double l;
            hn_loss_grad(m, theta, s, idx[j], ws, 1.0, &l, g);
            ls += l;
        }
        t->chunk_loss[c] = ls;
    }
    /* reduce the slots in chunk order, parameter blocks in parallel */
    const double inv = 1.0 / (double)b;
    const long nblk = (long)((P + RED_BLOCK - 1) / RED_BLOCK);
#pragma omp parallel for num_threads(t->threads) schedule(static)
    for (long k = 0; k < nblk; k++) {
        const size_t p1 = (size_t)k * RED_BLOCK, p2 = p1 + RED_BLOCK < P ? p1 + RED_BLOCK : P;
        memcpy(grad + p1, t->slots + p1, (p2 - p1) * sizeof *grad);
        for (long c = 1; c < nch; c++) {
            const double *g = t->slots + (size_t)c * P;
            for (size_t p = p1; p < p2; p++)
                grad[p] += g[p];
        }
        for (size_t p = p1; p < p2; p++)
            grad[p] *= inv;
    }
    if (loss) {
        double ls = 0;
        for (long c = 0; c < nch; c++)
            ls += t->chunk_loss[c];
        *loss = ls * inv;
    }
    return HN_OK;
}

int hn_train_step(hn_trainer *t, hn_adam *opt, double *theta, const hn_samples *s,
                  const size_t *idx, size_t b, double *loss)
{
    if (opt->n != t->P)
        return HN_EINVAL;
    int rc = hn_train_grad(t, theta, s, idx, b, loss, t->grad);
    if (rc)
        return rc;
    hn_adam_step(opt, theta, t->grad);
    return HN_OK;
}

void hn_train_opts_paper(hn_train_opts *o)
{
    o->lr = 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->batch = 64;
    o->epochs = 10;
    o->threads = 0;
    o->on_epoch = NULL;
    o->on_epoch_ctx = NULL;
    o->resume = NULL;
}

/* o->resume into theta, Adam, r and el: the checks of hn_train_opts. */
static int train_resume(const hn_train_opts *o, size_t P, size_t steps_per_epoch, double *theta, hn_adam *a,
                        gsl_rng *r, double *el, hn_err *err)
{
    const hn_train_ckpt *c = o->resume;
    if (c->n_params != P)
        return hn_err_set(err, HN_EINVAL, "train.resume: a checkpoint of %zu parameters; the model has %zu",
                          c->n_params, P);
    if (c->epochs_done > o->epochs)
        return hn_err_set(err, HN_EINVAL, "train.resume: the checkpoint is past epoch %zu; this run has %zu",
                          c->epochs_done, o->epochs);
    if (c->rng_size != gsl_rng_size(r) || c->rng_type != hn_fnv1a64(gsl_rng_name(r)))
        return hn_err_set(err, HN_EINVAL, "train.resume: the checkpoint's generator is not %s", gsl_rng_name(r));
    if (c->steps != c->epochs_done * steps_per_epoch || c->adam_t != c->steps)
        return hn_err_set(err, HN_EINVAL,
                          "train.resume: the checkpoint took %zu steps (Adam %lu) in %zu epochs; this run takes "
                          "%zu per epoch (other data or batch size)",
                          c->steps, c->adam_t, c->epochs_done, steps_per_epoch);
    memcpy(theta, c->theta, P * sizeof *theta);
    memcpy(a->m, c->adam_m, P * sizeof *a->m);
    memcpy(a->v, c->adam_v, P * sizeof *a->v);
    a->t = c->adam_t;
    memcpy(gsl_rng_state(r), c->rng_state, c->rng_size);
    memcpy(el, c->epoch_loss, c->epochs_done * sizeof *el);
    return HN_OK;
}

int hn_train(const hn_model *m, double *theta, const hn_samples *s, const hn_train_opts *o,
             gsl_rng *r, const hn_progress_cfg *pr, double *epoch_loss, hn_train_stats *st,
             hn_err *err)
{
    if (!m || !theta || !s || !o || !r)
        return hn_err_set(err, HN_EINVAL, "train: missing argument");
    if (s->n == 0)
        return hn_err_set(err, HN_EINVAL, "train: no training samples");
    if (o->batch == 0)
        return hn_err_set(err, HN_EINVAL, "train.batch: must be a positive integer");
    if (!check_labels(m, s) || s->in_size != hn_shape_size(m->input))
        return hn_err_set(err, HN_ESHAPE, "train: samples of size %zu do not fit the model input %zu",
                          s->in_size, hn_shape_size(m->input));
    const size_t n = s->n, batch = o->batch < n ? o->batch : n, P = m->n_params;
    const size_t steps_per_epoch = (n + batch - 1) / batch;
    hn_trainer *t = NULL;
    hn_adam *a = NULL;
    size_t *perm = NULL;
    double *el = NULL;
    int rc = hn_trainer_alloc(m, batch, o->threads, &t, err);
    if (!rc)
        rc = hn_adam_alloc(P, o->lr, o->beta1, o->beta2, o->eps, &a, err);
    if (!rc && (!(perm = hn_calloc(n, sizeof *perm)) || !(el = hn_calloc(o->epochs + 1, sizeof *el))))
        rc = hn_err_set(err, HN_ENOMEM, "train: out of memory");
    if (!rc && o->resume)
        rc = train_resume(o, P, steps_per_epoch, theta, a, r, el, err);
    if (rc)
        goto done;
    const size_t e0 = o->resume ? o->resume->epochs_done : 0;
    const double t0 = hn_clock_s(), before = o->resume ? o->resume->seconds : 0;
    double last = t0, last_loss = NAN;
    size_t steps = e0 * steps_per_epoch;
    for (size_t e = e0; e < o->epochs; e++) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        gsl_ran_shuffle(r, perm, n, sizeof *perm);
        double sum = 0;
        for (size_t st_i = 0; st_i < steps_per_epoch; st_i++) {
            const size_t off = st_i * batch, b = off + batch <= n ? batch : n - off;
            double l;
            rc = hn_train_step(t, a, theta, s, perm + off, b, &l);
            if (rc) {
                rc = hn_err_set(err, rc, "train: bad batch at epoch %zu step %zu", e + 1, st_i + 1);
                goto done;
            }
            if (!isfinite(l)) {
                rc = hn_err_set(err, HN_ENUMERIC,
                                "train: the loss is %g at epoch %zu step %zu (diverged)", l, e + 1,
                                st_i + 1);
                goto done;
            }
            sum += l * (double)b;
            last_loss = l;
            steps++;
            const double tn = hn_clock_s();
            if (pr && pr->fn && (tn - last >= pr->every || st_i + 1 == steps_per_epoch)) {
                const double done_img = (double)((e - e0) * n + off + b), dt = tn - t0;
                const double rate = dt > 0 ? done_img / dt : 0;
                const double left = rate > 0 ? ((double)((o->epochs - e0) * n) - done_img) / rate : NAN;
                char lb[32];
                hn_fmt_duration(lb, sizeof lb, left);
                hn_progress_say(pr, 512, "epoch %zu/%zu step %zu/%zu loss %.4f  %.0f img/s  left %s", e + 1,
                       o->epochs, st_i + 1, steps_per_epoch, l, rate, lb);
                last = tn;
            }
        }
        el[e] = sum / (double)n;
        if (o->on_epoch && e + 1 < o->epochs) {
            const hn_train_ckpt c = {.n_params = P, .epochs_done = e + 1, .steps = steps, .adam_t = a->t,
                                     .theta = theta, .adam_m = a->m, .adam_v = a->v, .epoch_loss = el,
                                     .rng_state = gsl_rng_state(r), .rng_size = gsl_rng_size(r),
                                     .rng_type = hn_fnv1a64(gsl_rng_name(r)),
                                     .seconds = before + hn_clock_s() - t0,
                                     .tag = o->resume ? o->resume->tag : 0};
            if ((rc = o->on_epoch(o->on_epoch_ctx, &c, err)))
                goto done;
        }
    }
    if (epoch_loss)
        memcpy(epoch_loss, el, o->epochs * sizeof *el);
    if (st) {
        st->steps = steps;
        const double now = hn_clock_s() - t0;
        st->seconds = before + now;
        st->images_per_s = now > 0 ? (double)((o->epochs - e0) * n) / now : 0;
        st->last_epoch_loss = o->epochs ? el[o->epochs - 1] : last_loss;
    }
done:
    hn_free(el);
    hn_free(perm);
    hn_adam_free(a);
    hn_trainer_free(t);
    return rc;
}

#define EVAL_BLOCK 512

int hn_eval_samples(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                    const hn_progress_cfg *pr, double *loss, long *pred, hn_err *err)
{
    if (!m || !theta || !s)
        return hn_err_set(err, HN_EINVAL, "eval: missing argument");
    if (!check_labels(m, s) || s->in_size != hn_shape_size(m->input))
        return hn_err_set(err, HN_ESHAPE, "eval: samples of size %zu do not fit the model input %zu",
                          s->in_size, hn_shape_size(m->input));
    const int nt = hn_resolve_threads(threads);
    hn_fast *fast = NULL;
    size_t *ix = hn_calloc(EVAL_BLOCK, sizeof *ix);
    int rc = ix ? hn_fast_alloc(m, nt, 0, &fast, err) : hn_err_set(err, HN_ENOMEM, "eval: out of memory");
    const double t0 = hn_clock_s();
    double last = t0;
    for (size_t b0 = 0; !rc && b0 < s->n; b0 += EVAL_BLOCK) {
        const size_t b2 = b0 + EVAL_BLOCK < s->n ? b0 + EVAL_BLOCK : s->n;
        for (size_t i = b0; i < b2; i++)
            ix[i - b0] = i;
        /* the batched im2col + GEMM kernels over the block (test_fastconv
         * checks them against the per-sample forward pass) */
        rc = hn_batch_losses(m, theta, s, ix, b2 - b0, fast, loss ? loss + b0 : NULL, NULL,
                             pred ? pred + b0 : NULL, err);
        const double tn = hn_clock_s();
        if (!rc && pr && pr->fn && (tn - last >= pr->every || b2 == s->n)) {
            const double rate = (double)b2 / (tn - t0 > 0 ? tn - t0 : 1e-9);
            char lb[32];
            hn_fmt_duration(lb, sizeof lb, (double)(s->n - b2) / rate);
            hn_progress_say(pr, 512, "%zu/%zu  %.0f img/s  left %s", b2, s->n, rate, lb);
            last = tn;
        }
    }
    hn_fast_free(fast);
    hn_free(ix);
    return rc;
}
