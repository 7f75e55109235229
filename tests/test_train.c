/* hessnorm — training: the section-VI architecture, initialisation, Adam
 * against a hand-worked case, the mini-batch gradient against central
 * finite differences, bit-identical results for any thread count, a
 * short run that lowers the loss, and a run stopped at a checkpoint and
 * resumed that ends bit-identical to the uninterrupted one. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hessnorm/safetensors.h"

#define KINK 1e-3

static hn_model *arch(size_t L, size_t k, size_t C, hn_pool_kind pool, size_t pos, size_t hw)
{
    hn_arch a = {L, k, C, pool, pos};
    hn_model *m;
    hn_err e;
    assert_int_equal(hn_arch_model(&a, 1, hw, hw, 10, &m, &e), 0);
    return m;
}

static void test_arch_layers(void **state)
{
    (void)state;
    hn_model *m = arch(3, 3, 6, HN_POOL_NONE, 0, 28);
    /* conv relu conv relu conv flatten linear: no ReLU after the last conv */
    static const hn_layer_type want[] = {HN_CONV2D, HN_RELU, HN_CONV2D, HN_RELU, HN_CONV2D,
                                         HN_FLATTEN, HN_LINEAR};
    assert_int_equal(m->n_layers, 7);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(m->layers[i].type, want[i]);
    assert_int_equal(m->layers[4].out.h, 22);
    assert_int_equal(m->n_params, 6 * 9 + 2 * 36 * 9 + 6 * 22 * 22 * 10);
    hn_model_free(m);
    /* pooling nets: every conv is followed by ReLU or the pooling */
    m = arch(5, 3, 12, HN_POOL_MAX, 4, 28);
    static const hn_layer_type wp[] = {HN_CONV2D, HN_RELU, HN_CONV2D, HN_RELU, HN_CONV2D, HN_RELU,
                                       HN_CONV2D, HN_RELU, HN_CONV2D, HN_MAXPOOL2D, HN_FLATTEN,
                                       HN_LINEAR};
    assert_int_equal(m->n_layers, 12);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(m->layers[i].type, wp[i]);
    assert_int_equal(m->layers[9].out.h, 9);
    hn_model_free(m);
    m = arch(5, 3, 12, HN_POOL_AVG, 1, 32);
    assert_int_equal(m->layers[3].type, HN_AVGPOOL2D);
    assert_int_equal(m->layers[9].type, HN_RELU);
    hn_model_free(m);

    hn_arch bad = {4, 3, 6, HN_POOL_MAX, 4};
    hn_err e;
    assert_int_equal(hn_arch_model(&bad, 1, 28, 28, 10, &m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "arch.pool_pos"));
    hn_arch big = {7, 5, 6, HN_POOL_NONE, 0};
    assert_int_equal(hn_arch_model(&big, 1, 28, 28, 10, &m, &e), HN_ESHAPE);
    assert_non_null(strstr(e.msg, "L7_k5_C6"));
    assert_non_null(strstr(e.msg, "kernel"));
    char name[64];
    hn_arch_name(&(hn_arch){5, 3, 12, HN_POOL_AVG, 2}, name, sizeof name);
    assert_string_equal(name, "L5_k3_C12_avgpool2");
}

static void test_init_bounds(void **state)
{
    (void)state;
    hn_model *m = arch(2, 3, 6, HN_POOL_NONE, 0, 28);
    gsl_rng *r = hn_test_rng(1);
    double *th = calloc(m->n_params, sizeof *th);
    hn_init_uniform(m, r, th);
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        const double b = 1.0 / sqrt((double)(ly->in.c * ly->kh * ly->kw));
        double mx = 0, mean = 0;
        for (size_t j = 0; j < ly->param_count; j++) {
            mx = fmax(mx, fabs(th[ly->param_offset + j]));
            mean += th[ly->param_offset + j];
        }
        mean /= (double)ly->param_count;
        assert_true(mx <= b);
        /* largest of >= 54 uniform draws on [-b, b] exceeds 0.8 b with
         * probability 1 - 0.9^54 > 0.99 at this fixed seed */
        assert_true(mx > 0.8 * b);
        /* the mean of n uniforms has sd b/sqrt(3n): 5 sd */
        assert_true(fabs(mean) < 5 * b / sqrt(3.0 * (double)ly->param_count));
    }
    free(th);
    gsl_rng_free(r);
    hn_model_free(m);
}

/* Two Adam steps from theta = (1, -2), lr 1e-3, betas (0.9, 0.999),
 * eps 1e-8, gradients g1 = (0.5, -0.1), g2 = (-0.2, 0.3), by hand:
 * step 1: m = 0.1 g1 = (0.05, -0.01); v = 0.001 g1^2 = (0.00025, 0.00001);
 *   bias corrections 0.1 and 0.001: m^ = (0.5, -0.1), v^ = (0.25, 0.01);
 *   theta -= 1e-3 m^/(sqrt(v^) + 1e-8) = 1e-3 (0.5/0.50000001, -0.1/0.10000001)
 *   -> theta = (0.99900000002, -1.9990000001)  (to 11 digits).
 * step 2: m = 0.9 m + 0.1 g2 = (0.025, 0.021);
 *   v = 0.999 v + 0.001 g2^2 = (0.00028975, 0.00009999);
 *   corrections 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999:
 *   m^ = (0.131578947368421, 0.110526315789474),
 *   v^ = (0.144947473736868, 0.0500200100050025),
 *   sqrt(v^) = (0.380719678683501, 0.223651537005679),
 *   update = 1e-3 m^/(sqrt(v^) + 1e-8) = (3.45605838834894e-4, 4.94189811200668e-4)
 *   -> theta = (0.998654394181165, -1.99949418991120). */
static void test_adam_hand(void **state)
{
    (void)state;
    hn_adam *a;
    hn_err e;
    assert_int_equal(hn_adam_alloc(2, 1e-3, 0.9, 0.999, 1e-8, &a, &e), 0);
    double th[2] = {1, -2};
    const double g1[2] = {0.5, -0.1}, g2[2] = {-0.2, 0.3};
    hn_adam_step(a, th, g1);
    /* 1e-15: a few roundings of O(1) numbers */
    assert_close(th[0], 0.99900000002, 1e-15, 1e-15);
    assert_close(th[1], -1.9990000001, 1e-15, 1e-15);
    /* 1e-14: one lerp/axpy each, relative to the value */
    assert_close(a->m[0], 0.05, 1e-14, 0);
    assert_close(a->v[1], 0.00001, 1e-14, 0);
    hn_adam_step(a, th, g2);
    /* 1e-14: two lerp/axpy steps each, relative to the value */
    assert_close(a->m[0], 0.025, 1e-14, 0);
    assert_close(a->m[1], 0.021, 1e-14, 0);
    assert_close(a->v[0], 0.00028975, 1e-14, 0);
    assert_close(a->v[1], 0.00009999, 1e-14, 0);
    /* 1e-14: the hand values above carry 15 significant digits */
    assert_close(th[0], 0.998654394181165, 1e-14, 0);
    assert_close(th[1], -1.99949418991120, 1e-14, 0);
    assert_int_equal(a->t, 2);
    hn_adam_free(a);
    assert_int_equal(hn_adam_alloc(2, 1e-3, 1.0, 0.999, 1e-8, &a, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "beta1"));
    assert_int_equal(hn_adam_alloc(0, 1e-3, 0.9, 0.999, 1e-8, &a, &e), HN_EINVAL);
}

/* The mean gradient of a mini-batch against central differences of the
 * mean loss, on nets drawn away from every ReLU kink and max-pool tie. */
static void test_grad_fd(void **state)
{
    (void)state;
    gsl_rng *r = hn_test_rng(7);
    hn_err e;
    const hn_arch archs[] = {{2, 3, 3, HN_POOL_NONE, 0}, {3, 2, 2, HN_POOL_MAX, 1},
                             {3, 2, 4, HN_POOL_AVG, 1}};
    for (size_t c = 0; c < 3; c++) {
        hn_model *m;
        assert_int_equal(hn_arch_model(&archs[c], 1, 8, 8, 10, &m, &e), 0);
        const size_t P = m->n_params, B = 6;
        hn_samples *s;
        assert_int_equal(hn_samples_alloc(m, B, &s, &e), 0);
        double *th = calloc(P, sizeof *th), *g = calloc(P, sizeof *g), *tp = calloc(P, sizeof *tp);
        hn_test_draw(m, r, 1.5, KINK, th, s);
        hn_trainer *t;
        assert_int_equal(hn_trainer_alloc(m, B, 2, &t, &e), 0);
        const size_t idx[6] = {3, 0, 5, 1, 1, 4}; /* a repeated sample counts twice */
        double l0;
        assert_int_equal(hn_train_grad(t, th, s, idx, B, &l0, g), 0);
        /* h = 1e-6: truncation ~h^2 |l'''| ~ 1e-12, rounding ~eps |l| / h ~ 1e-10;
         * kinks are >= 1e-3 away, far beyond the step */
        const double h = 1e-6;
        double gmax = 0, dmax = 0;
        double *gg = calloc(P, sizeof *gg), *scratch = calloc(P, sizeof *scratch);
        memcpy(gg, g, P * sizeof *gg);
        for (size_t j = 0; j < P; j++) {
            double lp, lm;
            memcpy(tp, th, P * sizeof *tp);
            tp[j] = th[j] + h;
            hn_train_grad(t, tp, s, idx, B, &lp, scratch);
            tp[j] = th[j] - h;
            hn_train_grad(t, tp, s, idx, B, &lm, scratch);
            const double fd = (lp - lm) / (2 * h);
            gmax = fmax(gmax, fabs(gg[j]));
            dmax = fmax(dmax, fabs(fd - gg[j]));
        }
        /* 1e-6 of the largest entry: the error budget above */
        if (!(gmax > 0))
            fail_msg("arch %zu: gradient max %g, loss %g, P %zu", c, gmax, l0, P);
        if (!(dmax <= 1e-6 * gmax))
            fail_msg("arch %zu: max |fd - grad| = %g, max |grad| = %g", c, dmax, gmax);
        /* the reported loss is the batch mean */
        double lsum = 0;
        hn_ws *ws;
        assert_int_equal(hn_ws_alloc(m, &ws, &e), 0);
        for (size_t i = 0; i < B; i++) {
            double l;
            hn_loss_grad(m, th, s, idx[i], ws, 1.0, &l, NULL);
            lsum += l;
        }
        /* 1e-14: the same six losses summed in the same chunk order or not */
        assert_close(l0, lsum / B, 1e-14, 0);
        hn_ws_free(ws);
        free(gg);
        free(scratch);
        hn_trainer_free(t);
        free(th);
        free(g);
        free(tp);
        hn_samples_free(s);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* n images of 1 x 8 x 8: class 0 bright on the left, class 1 on the right,
 * plus uniform noise; labels alternate. */
static hn_dataset *synthetic(size_t n, unsigned long seed)
{
    hn_dataset *d;
    hn_err e;
    assert_int_equal(hn_dataset_alloc(n, 1, 8, 8, &d, &e), 0);
    gsl_rng *r = hn_test_rng(seed);
    for (size_t i = 0; i < n; i++) {
        d->y[i] = (unsigned char)(i % 2);
        for (size_t y = 0; y < 8; y++)
            for (size_t x = 0; x < 8; x++) {
                const int left = x < 4;
                d->x[i * 64 + y * 8 + x] =
                    0.3 * gsl_rng_uniform(r) + ((left == (d->y[i] == 0)) ? 0.7 : 0.0);
            }
    }
    gsl_rng_free(r);
    return d;
}

/* 4 epochs, batch 16, lr 1e-2 from PyTorch's initialisation (seed 11), or
 * from the checkpoint `from` (the generator seeded otherwise: its state
 * must come from the checkpoint); hn_train's return must be `expect`. */
static void train_opts_resume(const hn_model *m, const hn_samples *s, const hn_train_ckpt *from, int threads,
                              double *th, double *elosses, hn_train_stats *st, int expect)
{
    gsl_rng *r = hn_test_rng(from ? 999 : 11);
    if (!from)
        hn_init_uniform(m, r, th);
    hn_train_opts o;
    hn_train_opts_paper(&o);
    o.batch = 16;
    o.epochs = 4;
    o.lr = 1e-2;
    o.threads = threads;
    o.resume = from;
    hn_err e;
    assert_int_equal(hn_train(m, th, s, &o, r, NULL, elosses, st, &e), expect);
    gsl_rng_free(r);
}

static void train_run(const hn_model *m, const hn_samples *s, int threads, double *th,
                      double *elosses, hn_train_stats *st)
{
    train_opts_resume(m, s, NULL, threads, th, elosses, st, 0);
}

static void test_short_run_lowers_loss(void **state)
{
    (void)state;
    hn_dataset *d = synthetic(120, 3);
    hn_sample_set ss;
    hn_err e;
    assert_int_equal(hn_sample_set_init(&ss, d, NULL, 0, &e), 0);
    assert_ptr_equal(ss.s.x, d->x); /* borrowed */
    hn_model *m = arch(2, 3, 4, HN_POOL_NONE, 0, 8);
    const size_t P = m->n_params;
    double *th = calloc(P, sizeof *th), *loss = calloc(ss.s.n, sizeof *loss);
    gsl_rng *r = hn_test_rng(11);
    hn_init_uniform(m, r, th);
    gsl_rng_free(r);
    assert_int_equal(hn_eval_samples(m, th, &ss.s, 2, NULL, loss, NULL, &e), 0);
    double before = 0;
    for (size_t i = 0; i < ss.s.n; i++)
        before += loss[i] / (double)ss.s.n;
    double el[4];
    hn_train_stats st;
    train_run(m, &ss.s, 2, th, el, &st);
    long *pred = calloc(ss.s.n, sizeof *pred);
    assert_int_equal(hn_eval_samples(m, th, &ss.s, 2, NULL, loss, pred, &e), 0);
    double after = 0, acc = 0;
    for (size_t i = 0; i < ss.s.n; i++) {
        after += loss[i] / (double)ss.s.n;
        acc += pred[i] == ss.s.y_class[i];
    }
    /* ln 10 = 2.30 at a uniform guess; 4 epochs on two separable classes
     * must more than halve it and classify almost everything */
    assert_true(after < 0.5 * before);
    assert_true(acc / (double)ss.s.n > 0.9);
    assert_true(el[3] < el[0]);
    assert_int_equal(st.steps, 4 * 8);
    free(pred);
    free(th);
    free(loss);
    hn_model_free(m);
    hn_sample_set_free(&ss);
    hn_dataset_free(d);
}

static void test_threads_bit_identical(void **state)
{
    (void)state;
    hn_dataset *d = synthetic(70, 5);
    hn_sample_set ss;
    hn_err e;
    /* a copied subset in a scrambled order */
    size_t idx[50];
    for (size_t i = 0; i < 50; i++)
        idx[i] = (i * 37) % 70;
    assert_int_equal(hn_sample_set_init(&ss, d, idx, 50, &e), 0);
    assert_ptr_not_equal(ss.s.x, d->x);
    assert_int_equal(ss.s.y_class[3], d->y[idx[3]]);
    hn_model *m = arch(3, 2, 3, HN_POOL_MAX, 1, 8);
    const size_t P = m->n_params;
    double *t1 = calloc(P, sizeof *t1), *t2 = calloc(P, sizeof *t2), *t3 = calloc(P, sizeof *t3);
    double *g1 = calloc(P, sizeof *g1), *g2 = calloc(P, sizeof *g2);
    gsl_rng *r = hn_test_rng(2);
    hn_init_uniform(m, r, t1);
    gsl_rng_free(r);
    hn_trainer *a, *b;
    assert_int_equal(hn_trainer_alloc(m, 64, 1, &a, &e), 0);
    assert_int_equal(hn_trainer_alloc(m, 64, 3, &b, &e), 0);
    assert_int_equal(hn_trainer_threads(b), 3);
    size_t bi[37];
    for (size_t i = 0; i < 37; i++)
        bi[i] = (i * 7) % 50;
    double la, lb;
    assert_int_equal(hn_train_grad(a, t1, &ss.s, bi, 37, &la, g1), 0);
    assert_int_equal(hn_train_grad(b, t1, &ss.s, bi, 37, &lb, g2), 0);
    /* exact: same chunks, same order of every addition */
    assert_memory_equal(g1, g2, P * sizeof *g1);
    assert_memory_equal(&la, &lb, sizeof la);
    assert_int_equal(hn_train_grad(a, t1, &ss.s, bi, 65, &la, g1), HN_EINVAL);
    bi[0] = 50;
    assert_int_equal(hn_train_grad(a, t1, &ss.s, bi, 3, &la, g1), HN_EINVAL);
    hn_trainer_free(a);
    hn_trainer_free(b);
    /* whole training runs on 1 and 2 threads */
    double el1[4], el2[4];
    hn_train_stats st;
    train_run(m, &ss.s, 1, t2, el1, &st);
    train_run(m, &ss.s, 2, t3, el2, &st);
    assert_memory_equal(t2, t3, P * sizeof *t2);
    assert_memory_equal(el1, el2, sizeof el1);
    double *l1 = calloc(50, sizeof *l1), *l2 = calloc(50, sizeof *l2);
    assert_int_equal(hn_eval_samples(m, t2, &ss.s, 1, NULL, l1, NULL, &e), 0);
    assert_int_equal(hn_eval_samples(m, t2, &ss.s, 2, NULL, l2, NULL, &e), 0);
    assert_memory_equal(l1, l2, 50 * sizeof *l1);
    free(l1);
    free(l2);
    free(t1);
    free(t2);
    free(t3);
    free(g1);
    free(g2);
    hn_model_free(m);
    hn_sample_set_free(&ss);
    hn_dataset_free(d);
}

/* The checkpoint route: a run stopped after epoch 2 of 4 (on_epoch saves
 * the state to a file and returns HN_ESTOPPED), read back and resumed in
 * a fresh generator, ends bit-identical to the uninterrupted run; the
 * file is checked field by field; a resume that drops one part of the
 * state (Adam's moments, the generator) does not end there, so the
 * comparison can fail; resumes that cannot be this run's are refused. */
typedef struct {
    const char *path;
    size_t stop_after, calls;
    uint64_t tag;
} stop_ctx;

static int stop_epoch(void *ctx, const hn_train_ckpt *c, hn_err *err)
{
    stop_ctx *k = ctx;
    k->calls++;
    if (c->epochs_done < k->stop_after)
        return HN_OK;
    hn_train_ckpt t = *c;
    t.tag = k->tag;
    int rc = hn_train_ckpt_save(&t, k->path, err);
    return rc ? rc : hn_err_set(err, HN_ESTOPPED, "stopped after epoch %zu", c->epochs_done);
}

static void train_from(const hn_model *m, const hn_samples *s, const hn_train_ckpt *from, int threads,
                       double *th, double *el, int expect)
{
    hn_train_stats st;
    train_opts_resume(m, s, from, threads, th, el, &st, expect);
    if (!expect)
        assert_int_equal(st.steps, 4 * 4);
}

static void test_checkpoint_resume(void **state)
{
    (void)state;
    hn_dataset *d = synthetic(60, 7);
    hn_sample_set ss;
    hn_err e;
    assert_int_equal(hn_sample_set_init(&ss, d, NULL, 0, &e), 0);
    hn_model *m = arch(2, 3, 3, HN_POOL_AVG, 1, 8);
    const size_t P = m->n_params;
    double *full = calloc(P, sizeof *full), *part = calloc(P, sizeof *part), *res = calloc(P, sizeof *res);
    double elf[4], elp[4], elr[4];
    hn_train_stats st;
    /* uninterrupted (train_run: seed 11, batch 16, 4 epochs, lr 1e-2) */
    train_run(m, &ss.s, 1, full, elf, &st);
    /* the same run, stopped after epoch 2 */
    char path[] = "/tmp/hn_ckpt_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    stop_ctx k = {path, 2, 0, 0x0123456789abcdefULL};
    gsl_rng *r = hn_test_rng(11);
    hn_init_uniform(m, r, part);
    hn_train_opts o;
    hn_train_opts_paper(&o);
    o.batch = 16;
    o.epochs = 4;
    o.lr = 1e-2;
    o.threads = 1;
    o.on_epoch = stop_epoch;
    o.on_epoch_ctx = &k;
    assert_int_equal(hn_train(m, part, &ss.s, &o, r, NULL, elp, NULL, &e), HN_ESTOPPED);
    assert_int_equal(k.calls, 2);
    gsl_rng_free(r);
    hn_train_ckpt *c = NULL;
    assert_int_equal(hn_train_ckpt_load(path, &c, &e), 0);
    assert_int_equal(c->n_params, P);
    assert_int_equal(c->epochs_done, 2);
    assert_int_equal(c->steps, 2 * 4); /* 60 images in batches of 16 */
    assert_int_equal(c->adam_t, 2 * 4);
    assert_true(c->tag == 0x0123456789abcdefULL);
    assert_memory_equal(c->epoch_loss, elf, 2 * sizeof *elf);
    assert_true(c->seconds >= 0);
    /* resumed on 2 threads: the same bits as the uninterrupted 1-thread run */
    train_from(m, &ss.s, c, 2, res, elr, 0);
    assert_memory_equal(res, full, P * sizeof *res);
    assert_memory_equal(elr, elf, sizeof elf);
    /* without Adam's moments, or with another generator state, it ends elsewhere */
    hn_train_ckpt bad = *c;
    double *zero = calloc(P, sizeof *zero);
    bad.adam_m = bad.adam_v = zero;
    train_from(m, &ss.s, &bad, 1, res, elr, 0);
    assert_true(memcmp(res, full, P * sizeof *res) != 0);
    bad = *c;
    unsigned char *st2 = malloc(c->rng_size);
    gsl_rng *other = hn_test_rng(12345); /* another mt19937 state of the same layout */
    memcpy(st2, gsl_rng_state(other), c->rng_size);
    gsl_rng_free(other);
    bad.rng_state = st2;
    train_from(m, &ss.s, &bad, 1, res, elr, 0);
    assert_true(memcmp(res, full, P * sizeof *res) != 0);
    /* not this run's: another model size, steps per epoch, too many epochs, another generator */
    bad = *c;
    bad.n_params = P + 1;
    train_from(m, &ss.s, &bad, 1, res, elr, HN_EINVAL);
    bad = *c;
    bad.steps = bad.adam_t = 2 * 5;
    train_from(m, &ss.s, &bad, 1, res, elr, HN_EINVAL);
    bad = *c;
    bad.epochs_done = 5;
    train_from(m, &ss.s, &bad, 1, res, elr, HN_EINVAL);
    bad = *c;
    bad.rng_type ^= 1;
    train_from(m, &ss.s, &bad, 1, res, elr, HN_EINVAL);
    /* a damaged file: one line naming the file and the tensor */
    hn_st_writer *w = hn_st_writer_new();
    const size_t six = 6;
    const int64_t counts[6] = {2, 2, 8, 8, (int64_t)c->rng_size, 0};
    assert_int_equal(hn_st_writer_add(w, "counts", HN_ST_I64, 1, &six, counts, &e), 0);
    assert_int_equal(hn_st_writer_save(w, path, &e), 0);
    hn_st_writer_free(w);
    hn_train_ckpt *c2 = NULL;
    assert_int_equal(hn_train_ckpt_load(path, &c2, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "\"counts\": format 2"));
    assert_null(c2);
    c->adam_v[0] = -1;
    assert_int_equal(hn_train_ckpt_save(c, path, &e), 0);
    assert_int_equal(hn_train_ckpt_load(path, &c2, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, "\"adam.v\": entry 0 is negative"));
    unlink(path);
    free(st2);
    free(zero);
    hn_train_ckpt_free(c);
    free(full);
    free(part);
    free(res);
    hn_model_free(m);
    hn_sample_set_free(&ss);
    hn_dataset_free(d);
}

static void test_bad_input(void **state)
{
    (void)state;
    hn_dataset *d = synthetic(4, 1);
    hn_sample_set ss;
    hn_err e;
    size_t bad = 4;
    assert_int_equal(hn_sample_set_init(&ss, d, &bad, 1, &e), HN_ERANGE);
    assert_int_equal(hn_sample_set_init(&ss, d, NULL, 5, &e), HN_ERANGE);
    assert_int_equal(hn_sample_set_init(&ss, d, NULL, 0, &e), 0);
    hn_model *m = arch(1, 3, 2, HN_POOL_NONE, 0, 10); /* 10 x 10 input, data is 8 x 8 */
    double *th = calloc(m->n_params, sizeof *th);
    hn_train_opts o;
    hn_train_opts_paper(&o);
    gsl_rng *r = hn_test_rng(1);
    assert_int_equal(hn_train(m, th, &ss.s, &o, r, NULL, NULL, NULL, &e), HN_ESHAPE);
    assert_non_null(strstr(e.msg, "train"));
    gsl_rng_free(r);
    free(th);
    hn_model_free(m);
    hn_sample_set_free(&ss);
    hn_dataset_free(d);
}

int main(void)
{
    hn_gsl_quiet();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_layers),
        cmocka_unit_test(test_init_bounds),
        cmocka_unit_test(test_adam_hand),
        cmocka_unit_test(test_grad_fd),
        cmocka_unit_test(test_short_run_lowers_loss),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
