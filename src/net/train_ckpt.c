/* hessnorm — a training run's checkpoint between two epochs
 * (hn_train_ckpt, include/hessnorm/train.h) as a safetensors file, and
 * back.  hn_train takes one as o->resume and hands one to o->on_epoch. */
#include "config.h"
#include <math.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/safetensors.h"
#include "hessnorm/train.h"

#define CKPT_FORMAT 1
#define CKPT_COUNTS 6 /* format, epochs_done, steps, adam_t, rng_size, rng_type */

void hn_train_ckpt_free(hn_train_ckpt *c)
{
    if (!c)
        return;
    hn_free(c->theta);
    hn_free(c->adam_m);
    hn_free(c->adam_v);
    hn_free(c->epoch_loss);
    hn_free(c->rng_state);
    hn_free(c);
}

int hn_train_ckpt_save(const hn_train_ckpt *c, const char *path, hn_err *err)
{
    if (!c || !path || !c->theta || !c->adam_m || !c->adam_v || !c->rng_state || !c->rng_size ||
        c->n_params == 0 || (c->epochs_done && !c->epoch_loss))
        return hn_err_set(err, HN_EINVAL, "train checkpoint: missing argument");
    hn_st_writer *w = hn_st_writer_new();
    const size_t nw = (c->rng_size + 7) / 8;
    int64_t *rng = hn_calloc(nw, sizeof *rng);
    if (!w || !rng) {
        hn_st_writer_free(w);
        hn_free(rng);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    }
    memcpy(rng, c->rng_state, c->rng_size);
    int64_t counts[CKPT_COUNTS] = {CKPT_FORMAT,          (int64_t)c->epochs_done, (int64_t)c->steps,
                                   (int64_t)c->adam_t,   (int64_t)c->rng_size,    0};
    int64_t tag;
    memcpy(&counts[5], &c->rng_type, sizeof counts[5]);
    memcpy(&tag, &c->tag, sizeof tag);
    const size_t P = c->n_params, ne = c->epochs_done, nc = CKPT_COUNTS;
    int rc = hn_st_writer_add(w, "theta", HN_ST_F64, 1, &P, c->theta, err);
    if (!rc)
        rc = hn_st_writer_add(w, "adam.m", HN_ST_F64, 1, &P, c->adam_m, err);
    if (!rc)
        rc = hn_st_writer_add(w, "adam.v", HN_ST_F64, 1, &P, c->adam_v, err);
    if (!rc)
        rc = hn_st_writer_add(w, "epoch_loss", HN_ST_F64, 1, &ne, c->epoch_loss ? c->epoch_loss : &c->seconds,
                              err);
    if (!rc)
        rc = hn_st_writer_add(w, "rng", HN_ST_I64, 1, &nw, rng, err);
    if (!rc)
        rc = hn_st_writer_add(w, "seconds", HN_ST_F64, 0, NULL, &c->seconds, err);
    if (!rc)
        rc = hn_st_writer_add(w, "counts", HN_ST_I64, 1, &nc, counts, err);
    if (!rc)
        rc = hn_st_writer_add(w, "tag", HN_ST_I64, 0, NULL, &tag, err);
    if (!rc)
        rc = hn_st_writer_save(w, path, err);
    hn_st_writer_free(w);
    hn_free(rng);
    return rc;
}

/* Tensor `name` of f, of dtype dt with n entries (a scalar, ndim 0, when
 * scalar; else 1-D); NULL with err set otherwise. */
static const hn_st_tensor *get(const hn_st_file *f, const char *path, const char *name, hn_st_dtype dt,
                               size_t n, int scalar, hn_err *err)
{
    const hn_st_tensor *t = hn_st_find(f, name);
    if (!t)
        hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": missing", path, name);
    else if (t->dtype != dt || t->ndim != (scalar ? 0 : 1) || t->numel != n)
        hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": expected %s of %s%zu entries", path, name,
                   dt == HN_ST_F64 ? "F64" : "I64", scalar ? "0 dimensions, " : "1 dimension, ", n);
    else
        return t;
    return NULL;
}

static int get_f64(const hn_st_file *f, const char *path, const char *name, size_t n, int scalar, double *out,
                   hn_err *err)
{
    const hn_st_tensor *t = get(f, path, name, HN_ST_F64, n, scalar, err);
    return !t ? HN_EFORMAT : n ? hn_st_to_f64(f, t, out, err) : HN_OK;
}

static int get_i64(const hn_st_file *f, const char *path, const char *name, size_t n, int scalar, long *out,
                   hn_err *err)
{
    const hn_st_tensor *t = get(f, path, name, HN_ST_I64, n, scalar, err);
    return t ? hn_st_to_i64(f, t, out, err) : HN_EFORMAT;
}

int hn_train_ckpt_load(const char *path, hn_train_ckpt **out, hn_err *err)
{
    *out = NULL;
    hn_st_file *f = NULL;
    int rc = hn_st_read(path, &f, err);
    if (rc)
        return rc;
    hn_train_ckpt *c = hn_calloc(1, sizeof *c);
    long counts[CKPT_COUNTS], tag = 0, *rng = NULL;
    const hn_st_tensor *th = hn_st_find(f, "theta"), *tr = hn_st_find(f, "rng");
    if (!c) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = get_i64(f, path, "counts", CKPT_COUNTS, 0, counts, err)))
        goto done;
    if (counts[0] != CKPT_FORMAT) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"counts\": format %ld, this hessnorm reads %d", path,
                        counts[0], CKPT_FORMAT);
        goto done;
    }
    for (int i = 1; i < 5; i++)
        if (counts[i] < 0) {
            rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"counts\": entry %d is negative", path, i);
            goto done;
        }
    if (!th || th->numel == 0 || th->ndim != 1) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"theta\": %s", path,
                        th ? "expected a non-empty vector" : "missing");
        goto done;
    }
    c->n_params = th->numel;
    c->epochs_done = (size_t)counts[1];
    c->steps = (size_t)counts[2];
    c->adam_t = (unsigned long)counts[3];
    c->rng_size = (size_t)counts[4];
    memcpy(&c->rng_type, &counts[5], sizeof c->rng_type);
    const size_t nw = (c->rng_size + 7) / 8;
    if (c->rng_size == 0 || !tr || tr->numel != nw) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"rng\": expected %zu words for a state of %zu bytes", path,
                        nw, c->rng_size);
        goto done;
    }
    const size_t P = c->n_params;
    c->theta = hn_malloc(P * sizeof *c->theta);
    c->adam_m = hn_malloc(P * sizeof *c->adam_m);
    c->adam_v = hn_malloc(P * sizeof *c->adam_v);
    c->epoch_loss = hn_malloc((c->epochs_done + 1) * sizeof *c->epoch_loss);
    c->rng_state = hn_malloc(nw * 8);
    rng = hn_malloc(nw * sizeof *rng);
    if (!c->theta || !c->adam_m || !c->adam_v || !c->epoch_loss || !c->rng_state || !rng) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = get_f64(f, path, "theta", P, 0, c->theta, err)) ||
        (rc = get_f64(f, path, "adam.m", P, 0, c->adam_m, err)) ||
        (rc = get_f64(f, path, "adam.v", P, 0, c->adam_v, err)) ||
        (rc = get_f64(f, path, "epoch_loss", c->epochs_done, 0, c->epoch_loss, err)) ||
        (rc = get_f64(f, path, "seconds", 1, 1, &c->seconds, err)) ||
        (rc = get_i64(f, path, "rng", nw, 0, rng, err)) || (rc = get_i64(f, path, "tag", 1, 1, &tag, err)))
        goto done;
    for (size_t i = 0; i < P; i++)
        if (c->adam_v[i] < 0) {
            rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"adam.v\": entry %zu is negative", path, i);
            goto done;
        }
    memcpy(c->rng_state, rng, nw * 8);
    memcpy(&c->tag, &tag, sizeof c->tag);
done:
    hn_free(rng);
    hn_st_free(f);
    if (rc)
        hn_train_ckpt_free(c);
    else
        *out = c;
    return rc;
}
