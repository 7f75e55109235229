/* hessnorm — training the networks of the paper's section VI.
 *
 * The network of the experiments (architecture exactly as the authors'
 * code, bias-free as in the theory):
 *
 *   conv(k, C) ReLU conv(k, C) ReLU ... conv(k, C) flatten linear(classes)
 *
 * L conv layers, kernel k x k, C output channels each, stride 1, no
 * padding; a ReLU after every conv but the last.  With pooling (kernel 2,
 * stride 2, max or average) the authors' pooling networks put a ReLU after
 * every conv, the last one included, and the pooling layer replaces the
 * ReLU after the conv with 0-based index `pool_pos`:
 *
 *   conv ReLU ... conv(pool_pos) pool ... conv ReLU flatten linear
 *
 * Training: cross-entropy, Adam (PyTorch's update), mini-batches drawn by a
 * fresh random permutation every epoch (the last batch may be smaller, as
 * PyTorch's DataLoader with shuffle=True, drop_last=False), weights
 * initialised uniformly in +-1/sqrt(fan_in) (PyTorch's default for Conv2d
 * and Linear).  All randomness comes from a caller-seeded gsl_rng.
 *
 * Parallelism: the mini-batch gradient is computed per sample with
 * hn_loss_grad, in fixed chunks of HN_TRAIN_CHUNK consecutive samples of
 * the batch, one gradient slot per chunk, reduced in chunk order.  The
 * result is bit-identical for every thread count.  No allocation happens
 * inside the training loop: workspaces (one hn_ws per thread) and slots are
 * allocated by hn_trainer_alloc. */
#ifndef HESSNORM_TRAIN_H
#define HESSNORM_TRAIN_H
#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/error.h"
#include "hessnorm/model.h"
#include "hessnorm/data.h"
#include "hessnorm/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Samples per gradient slot.  Changing it changes the rounding of the
 * mini-batch gradient (not its value); thread count never does. */
#define HN_TRAIN_CHUNK 4

/* ---------------------------------------------------------------- network */

typedef enum { HN_POOL_NONE = 0, HN_POOL_MAX = 1, HN_POOL_AVG = 2 } hn_pool_kind;

typedef struct {
    size_t layers;      /* L, number of conv layers (>= 1) */
    size_t kernel;      /* k, square kernel size (>= 1) */
    size_t channels;    /* C, output channels of every conv (>= 1) */
    hn_pool_kind pool;  /* HN_POOL_NONE: no pooling */
    size_t pool_pos;    /* 0-based conv index followed by the pooling (< layers) */
} hn_arch;

/* Build and finalize the section-VI network for inputs in_c x in_h x in_w
 * and `classes` outputs.  Errors: HN_EINVAL (zero sizes, pool_pos out of
 * range, "arch.pool_pos"), HN_ESHAPE (the kernels do not fit the image,
 * the message names the layer), HN_ENOMEM.  *out is owned by the caller
 * (hn_model_free). */
int hn_arch_model(const hn_arch *a, size_t in_c, size_t in_h, size_t in_w, size_t classes,
                  hn_model **out, hn_err *err);
/* Setting name used for directories and CSV columns: "L4_k3_C6",
 * "L5_k3_C12_maxpool1".  Returns the snprintf count. */
int hn_arch_name(const hn_arch *a, char *buf, size_t len);

/* theta[j] uniform in +-1/sqrt(fan_in) of its layer, fan_in = in_channels
 * * kh * kw (in_features for linear), drawn layer by layer in theta order
 * as bound * (2 u - 1), u = gsl_rng_uniform(r). */
void hn_init_uniform(const hn_model *m, gsl_rng *r, double *theta);

/* ---------------------------------------------------------------- Adam */

typedef struct {
    double lr, beta1, beta2, eps;
    size_t n;
    unsigned long t;   /* steps taken */
    double *m, *v;     /* first and second moments, n each */
} hn_adam;

/* Moments zeroed, t = 0.  Errors: HN_EINVAL (n = 0, lr <= 0, betas outside
 * [0,1), eps < 0), HN_ENOMEM. */
int hn_adam_alloc(size_t n, double lr, double beta1, double beta2, double eps, hn_adam **out,
                  hn_err *err);
void hn_adam_free(hn_adam *a);
/* One step, exactly PyTorch's torch.optim.Adam (amsgrad=False, no weight
 * decay): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * theta -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
void hn_adam_step(hn_adam *a, double *theta, const double *grad);

/* ---------------------------------------------------------------- samples */

/* hn_samples over a dataset: `s` is usable with every hn_* sample routine
 * (cross-entropy, class labels).  With idx == NULL the first n samples are
 * used and the pixels are borrowed from d (d must outlive the set); with
 * idx the n listed samples are copied.  n = 0 means all of d (idx NULL). */
typedef struct {
    hn_samples s;
    double *x_owned;   /* NULL when s.x borrows d->x */
} hn_sample_set;

int hn_sample_set_init(hn_sample_set *ss, const hn_dataset *d, const size_t *idx, size_t n,
                       hn_err *err);
void hn_sample_set_free(hn_sample_set *ss);

/* hn_progress_cfg (throttled progress) is in hessnorm/progress.h. */

/* ---------------------------------------------------------------- trainer */

typedef struct hn_trainer hn_trainer;

/* Workspaces for mini-batches of at most max_batch samples on `threads`
 * threads (<= 0: omp_get_max_threads(); 1 without OpenMP). */
int hn_trainer_alloc(const hn_model *m, size_t max_batch, int threads, hn_trainer **out,
                     hn_err *err);
void hn_trainer_free(hn_trainer *t);
int hn_trainer_threads(const hn_trainer *t);

/* Mean loss (may be NULL) and mean gradient (n_params, overwritten) over
 * samples idx[0..b-1] of s, at theta.  Errors: HN_EINVAL (b = 0 or b >
 * max_batch, an index >= s->n, s not cross-entropy with class labels). */
int hn_train_grad(hn_trainer *t, const double *theta, const hn_samples *s, const size_t *idx,
                  size_t b, double *loss, double *grad);
/* hn_train_grad followed by one Adam step on theta. */
int hn_train_step(hn_trainer *t, hn_adam *opt, double *theta, const hn_samples *s,
                  const size_t *idx, size_t b, double *loss);

/* ---------------------------------------------------------------- checkpoints */

/* A training run between two epochs: all hn_train needs to continue it bit
 * for bit (theta, Adam's moments and step count, the state of the
 * batch-order generator, the finished epochs' losses). */
typedef struct {
    size_t n_params, epochs_done, steps;
    unsigned long adam_t;
    double *theta, *adam_m, *adam_v;  /* n_params each */
    double *epoch_loss;               /* epochs_done */
    unsigned char *rng_state;         /* gsl_rng_state's rng_size bytes */
    size_t rng_size;
    uint64_t rng_type;                /* FNV-1a 64 of gsl_rng_name */
    double seconds;                   /* training wall time so far */
    uint64_t tag;                     /* the caller's (a hash of its configuration) */
} hn_train_ckpt;

/* Called after every finished epoch but the last with the run's state
 * (pointers into the run's live buffers, valid during the call only).
 * A non-zero return stops training: hn_train returns it, err as set. */
typedef int (*hn_train_epoch_fn)(void *ctx, const hn_train_ckpt *c, hn_err *err);

/* A checkpoint as a safetensors file, written atomically: tensors theta,
 * adam.m, adam.v, epoch_loss (F64), rng (I64: the state's bytes),
 * seconds (F64 scalar), counts (I64: format 1, epochs_done, steps,
 * adam_t, rng_size, rng_type), tag (I64, the bits of tag). */
int hn_train_ckpt_save(const hn_train_ckpt *c, const char *path, hn_err *err);
/* Read one back (a fresh copy, hn_train_ckpt_free).  HN_EFORMAT naming
 * the file and the tensor for anything missing or inconsistent. */
int hn_train_ckpt_load(const char *path, hn_train_ckpt **out, hn_err *err);
void hn_train_ckpt_free(hn_train_ckpt *c);

typedef struct {
    double lr, beta1, beta2, eps;
    size_t batch, epochs;
    int threads;              /* <= 0: all (omp_get_max_threads()) */
    hn_train_epoch_fn on_epoch;  /* NULL: none */
    void *on_epoch_ctx;
    /* NULL: start at epoch 1 from theta; else continue this state (theta,
     * Adam, the generator r and epoch_loss[0..epochs_done-1] are set from
     * it) for the epochs after its epochs_done: the result is bit-identical
     * to the uninterrupted run.  HN_EINVAL when it cannot be this run's
     * (parameter count, generator, steps per epoch, epochs_done > epochs). */
    const hn_train_ckpt *resume;
} hn_train_opts;

/* The paper's section VI: lr 1e-3, betas (0.9, 0.999), eps 1e-8, batch 64,
 * 10 epochs, all threads; no epoch callback, no resume. */
void hn_train_opts_paper(hn_train_opts *o);

typedef struct {
    size_t steps;
    double last_epoch_loss;   /* mean of the per-sample batch losses of the last epoch */
    double seconds;           /* wall time */
    double images_per_s;      /* samples through forward+backward per second */
} hn_train_stats;

/* Train theta in place (theta already initialised) for o->epochs epochs on
 * s; each epoch's batch order is a gsl_ran_shuffle of 0..n-1 drawn from r.
 * epoch_loss (o->epochs entries, may be NULL) receives each epoch's mean
 * batch loss.  Progress: "<label> epoch e/E step i/N loss x img/s y left t".
 * Errors as hn_train_grad, HN_ENUMERIC if the loss becomes NaN or Inf
 * (diverged), HN_ENOMEM. */
int hn_train(const hn_model *m, double *theta, const hn_samples *s, const hn_train_opts *o,
             gsl_rng *r, const hn_progress_cfg *pr, double *epoch_loss, hn_train_stats *st,
             hn_err *err);

/* Per-sample loss (n entries, may be NULL) and predicted class (argmax of
 * the logits, first on ties; may be NULL) of every sample of s, in
 * parallel, bit-identical for every thread count. */
int hn_eval_samples(const hn_model *m, const double *theta, const hn_samples *s, int threads,
                    const hn_progress_cfg *pr, double *loss, long *pred, hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
