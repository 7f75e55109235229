/* hessnorm — weights and sample files (safetensors) of a model: checked load, save. */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/model.h"
#include "hessnorm/safetensors.h"

/* ------------------------------------------------------------ weights */

/* PyTorch layout of the weight of linear layer l: [out,in,k], [out,in,kh,kw]
 * or [out,in]. */
static int weight_shape(const hn_layer *l, size_t *shape)
{
    shape[0] = l->out_channels;
    shape[1] = l->in.c;
    switch (l->type) {
    case HN_CONV1D: shape[2] = l->kw; return 3;
    case HN_CONV2D:
        shape[2] = l->kh;
        shape[3] = l->kw;
        return 4;
    default: return 2;
    }
}

static const char *dims_str(char *buf, size_t cap, const size_t *d, int n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%zu", i ? ", " : "", d[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
    return buf;
}

/* Is name exactly "<i>.weight" for a linear layer at position i? */
static int is_weight_name(const hn_model *m, const char *name)
{
    char want[48];
    for (size_t k = 0; k < m->n_linear; k++) {
        snprintf(want, sizeof want, "%zu.weight", m->linear_pos[k]);
        if (strcmp(want, name) == 0)
            return 1;
    }
    return 0;
}

static int need_finalized(const hn_model *m, const char *path, hn_err *err)
{
    if (!m || !m->finalized)
        return hn_err_set(err, HN_EINVAL, "%s: the model is not finalized", path);
    return HN_OK;
}

/* The loaders' preamble: a finalized model, then the whole file read. */
static int read_for_model(const hn_model *m, const char *path, hn_st_file **f, hn_err *err)
{
    int rc = need_finalized(m, path, err);
    if (rc != HN_OK)
        return rc;
    return hn_st_read(path, f, err);
}

int hn_weights_load(const hn_model *m, const char *path, double *theta, hn_err *err)
{
    hn_st_file *f = NULL;
    int rc;
    char want[48], s1[128], s2[128];

    rc = read_for_model(m, path, &f, err);
    if (rc != HN_OK)
        return rc;
    /* Check every tensor before converting any, so that a bad file leaves
     * theta untouched unless the data itself (NaN/Inf) is bad. */
    for (size_t k = 0; k < m->n_linear; k++) {
        size_t p = m->linear_pos[k], shape[4];
        const hn_layer *l = &m->layers[p];
        const hn_st_tensor *t;
        int nd = weight_shape(l, shape);
        int same;
        snprintf(want, sizeof want, "%zu.weight", p);
        t = hn_st_find(f, want);
        if (!t) {
            rc = hn_err_set(err, HN_EFORMAT,
                            "%s: tensor \"%s\": missing (weight of layers[%zu], %s %s)", path,
                            want, p, hn_layer_type_name(l->type), dims_str(s1, sizeof s1, shape, nd));
            goto out;
        }
        if (t->dtype != HN_ST_F64 && t->dtype != HN_ST_F32) {
            rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": dtype %s, expected F64 or F32",
                            path, want, t->dtype_name);
            goto out;
        }
        same = t->ndim == nd;
        for (int d = 0; same && d < nd; d++)
            same = t->shape[d] == shape[d];
        if (!same) {
            rc = hn_err_set(err, HN_ESHAPE,
                            "%s: tensor \"%s\": shape %s, but layers[%zu] (%s) needs %s", path,
                            want, dims_str(s1, sizeof s1, t->shape, t->ndim), p,
                            hn_layer_type_name(l->type), dims_str(s2, sizeof s2, shape, nd));
            goto out;
        }
    }
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!is_weight_name(m, f->tensors[i].name)) {
            rc = hn_err_set(err, HN_EFORMAT,
                            "%s: tensor \"%s\": unexpected (the model has no bias and only the "
                            "\"<i>.weight\" tensors of its conv/linear layers)",
                            path, f->tensors[i].name);
            goto out;
        }
    for (size_t k = 0; k < m->n_linear; k++) {
        const hn_layer *l = &m->layers[m->linear_pos[k]];
        snprintf(want, sizeof want, "%zu.weight", m->linear_pos[k]);
        rc = hn_st_to_f64(f, hn_st_find(f, want), theta + l->param_offset, err);
        if (rc != HN_OK)
            goto out;
    }
out:
    hn_st_free(f);
    return rc;
}

int hn_weights_save(const hn_model *m, const double *theta, const char *path, hn_err *err)
{
    hn_st_writer *w;
    char name[48];
    int rc;

    rc = need_finalized(m, path, err);
    if (rc != HN_OK)
        return rc;
    if (!theta && m->n_params)
        return hn_err_set(err, HN_EINVAL, "%s: no parameters given", path);
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(theta[i]))
            return hn_err_set(err, HN_EINVAL, "%s: theta[%zu] is not finite", path, i);
    w = hn_st_writer_new();
    if (!w)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    for (size_t k = 0; k < m->n_linear; k++) {
        size_t p = m->linear_pos[k], shape[4];
        const hn_layer *l = &m->layers[p];
        int nd = weight_shape(l, shape);
        snprintf(name, sizeof name, "%zu.weight", p);
        rc = hn_st_writer_add(w, name, HN_ST_F64, nd, shape, theta + l->param_offset, err);
        if (rc != HN_OK) {
            hn_err_prefix(err, path);
            goto out;
        }
    }
    rc = hn_st_writer_save(w, path, err);
out:
    hn_st_writer_free(w);
    return rc;
}

/* ------------------------------------------------------------ samples */

void hn_samples_free(hn_samples *s)
{
    if (!s)
        return;
    hn_free(s->x);
    hn_free(s->y_class);
    hn_free(s->y_vec);
    hn_free(s);
}

int hn_samples_alloc(const hn_model *m, size_t n, hn_samples **out, hn_err *err)
{
    hn_samples *s;
    size_t nx, ny;

    *out = NULL;
    if (!m || !m->finalized)
        return hn_err_set(err, HN_EINVAL, "samples: the model is not finalized");
    if (n == 0)
        return hn_err_set(err, HN_EINVAL, "samples: need at least one sample");
    if (hn_mul_size(n, hn_shape_size(m->input), &nx) != 0 ||
        hn_mul_size(n, m->loss == HN_LOSS_CE ? 1 : m->classes, &ny) != 0)
        return hn_err_set(err, HN_ERANGE, "samples: %zu samples overflow size_t", n);
    s = hn_calloc(1, sizeof *s);
    if (!s)
        return hn_err_set(err, HN_ENOMEM, "samples: out of memory");
    s->n = n;
    s->in_size = hn_shape_size(m->input);
    s->classes = m->classes;
    s->loss = m->loss;
    s->x = hn_calloc(nx, sizeof *s->x);
    if (m->loss == HN_LOSS_CE)
        s->y_class = hn_calloc(ny, sizeof *s->y_class);
    else
        s->y_vec = hn_calloc(ny, sizeof *s->y_vec);
    if (!s->x || (!s->y_class && !s->y_vec)) {
        hn_samples_free(s);
        return hn_err_set(err, HN_ENOMEM, "samples: out of memory for %zu samples", n);
    }
    *out = s;
    return HN_OK;
}

static int dims_equal(const size_t *a, const size_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* The sample file's "y" fits the loss: class indices (n of them, or a
 * scalar unbatched) for cross_entropy, n x classes targets for mse. */
static int check_y(const hn_model *m, const hn_st_tensor *ty, size_t n, int batched,
                   const char *path, hn_err *err)
{
    char s1[128], s2[128];
    if (m->loss == HN_LOSS_CE) {
        if (ty->dtype != HN_ST_I64 && ty->dtype != HN_ST_I32)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: tensor \"y\": dtype %s, expected I64 (class indices for "
                              "cross_entropy)",
                              path, ty->dtype_name);
        if (batched ? !(ty->ndim == 1 && ty->shape[0] == n) : ty->ndim != 0) {
            size_t want[1] = {n};
            return hn_err_set(err, HN_ESHAPE, "%s: tensor \"y\": shape %s, expected %s", path,
                              dims_str(s1, sizeof s1, ty->shape, ty->ndim),
                              dims_str(s2, sizeof s2, want, batched));
        }
        return HN_OK;
    }
    size_t want[2] = {n, m->classes};
    if (ty->dtype != HN_ST_F64 && ty->dtype != HN_ST_F32)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"y\": dtype %s, expected F64 or F32 (targets for mse)",
                          path, ty->dtype_name);
    if (ty->ndim != 1 + batched || !dims_equal(ty->shape, want + !batched, 1 + batched))
        return hn_err_set(err, HN_ESHAPE, "%s: tensor \"y\": shape %s, expected %s", path,
                          dims_str(s1, sizeof s1, ty->shape, ty->ndim),
                          dims_str(s2, sizeof s2, want + !batched, 1 + batched));
    return HN_OK;
}

int hn_samples_load(const hn_model *m, const char *path, hn_samples **out, hn_err *err)
{
    hn_st_file *f = NULL;
    hn_samples *s = NULL;
    const hn_st_tensor *tx, *ty;
    size_t n;
    int batched, rc, nd;
    char s1[128], s2[128];

    *out = NULL;
    rc = read_for_model(m, path, &f, err);
    if (rc != HN_OK)
        return rc;
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, "x") != 0 && strcmp(f->tensors[i].name, "y") != 0) {
            rc = hn_err_set(err, HN_EFORMAT,
                            "%s: tensor \"%s\": unexpected (a sample file holds only \"x\" and "
                            "\"y\")",
                            path, f->tensors[i].name);
            goto out;
        }
    tx = hn_st_find(f, "x");
    ty = hn_st_find(f, "y");
    if (!tx || !ty) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": missing", path, tx ? "y" : "x");
        goto out;
    }
    if (tx->dtype != HN_ST_F64 && tx->dtype != HN_ST_F32) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: tensor \"x\": dtype %s, expected F64 or F32", path,
                        tx->dtype_name);
        goto out;
    }
    nd = m->input_ndim;
    if (tx->ndim == nd && dims_equal(tx->shape, m->input_dims, nd)) {
        n = 1;
        batched = 0;
    } else if (tx->ndim == nd + 1 && dims_equal(tx->shape + 1, m->input_dims, nd) &&
               tx->shape[0] >= 1) {
        n = tx->shape[0];
        batched = 1;
    } else {
        rc = hn_err_set(err, HN_ESHAPE,
                        "%s: tensor \"x\": shape %s, expected the model input %s or [N, ...] "
                        "with N >= 1",
                        path, dims_str(s1, sizeof s1, tx->shape, tx->ndim),
                        dims_str(s2, sizeof s2, m->input_dims, nd));
        goto out;
    }
    rc = check_y(m, ty, n, batched, path, err);
    if (rc != HN_OK)
        goto out;
    rc = hn_samples_alloc(m, n, &s, err);
    if (rc != HN_OK) {
        hn_err_prefix(err, path);
        goto out;
    }
    s->batched = batched;
    rc = hn_st_to_f64(f, tx, s->x, err);
    if (rc != HN_OK)
        goto out;
    if (m->loss == HN_LOSS_CE) {
        rc = hn_st_to_i64(f, ty, s->y_class, err);
        if (rc != HN_OK)
            goto out;
        for (size_t i = 0; i < n; i++)
            if (s->y_class[i] < 0 || (unsigned long)s->y_class[i] >= m->classes) {
                rc = hn_err_set(err, HN_ERANGE,
                                "%s: tensor \"y\": y[%zu] = %ld is not a class index in [0, %zu)",
                                path, i, s->y_class[i], m->classes);
                goto out;
            }
    } else {
        rc = hn_st_to_f64(f, ty, s->y_vec, err);
        if (rc != HN_OK)
            goto out;
    }
    *out = s;
    s = NULL;
out:
    hn_samples_free(s);
    hn_st_free(f);
    return rc;
}

int hn_samples_save(const hn_model *m, const hn_samples *s, const char *path, hn_err *err)
{
    hn_st_writer *w = NULL;
    int64_t *y64 = NULL;
    size_t xshape[4], yshape[2], nx;
    int batched, nd, rc;

    rc = need_finalized(m, path, err);
    if (rc != HN_OK)
        return rc;
    if (!s || s->n == 0 || !s->x)
        return hn_err_set(err, HN_EINVAL, "%s: no samples", path);
    if (s->in_size != hn_shape_size(m->input) || s->classes != m->classes || s->loss != m->loss)
        return hn_err_set(err, HN_ESHAPE, "%s: the samples do not belong to this model", path);
    if ((m->loss == HN_LOSS_CE && !s->y_class) || (m->loss == HN_LOSS_MSE && !s->y_vec))
        return hn_err_set(err, HN_EINVAL, "%s: samples have no labels", path);
    nx = s->n * s->in_size;  /* fits: it was allocated */
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(s->x[i]))
            return hn_err_set(err, HN_EINVAL, "%s: x[%zu] is not finite", path, i);
    batched = s->batched || s->n > 1;
    nd = 0;
    if (batched)
        xshape[nd++] = s->n;
    for (int i = 0; i < m->input_ndim; i++)
        xshape[nd++] = m->input_dims[i];
    w = hn_st_writer_new();
    if (!w)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    rc = hn_st_writer_add(w, "x", HN_ST_F64, nd, xshape, s->x, err);
    if (rc != HN_OK)
        goto fail_prefix;
    if (m->loss == HN_LOSS_CE) {
        for (size_t i = 0; i < s->n; i++)
            if (s->y_class[i] < 0 || (unsigned long)s->y_class[i] >= m->classes) {
                rc = hn_err_set(err, HN_ERANGE, "%s: y[%zu] = %ld is not a class index in [0, %zu)",
                                path, i, s->y_class[i], m->classes);
                goto out;
            }
        y64 = hn_calloc(s->n, sizeof *y64);
        if (!y64) {
            rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
            goto out;
        }
        for (size_t i = 0; i < s->n; i++)
            y64[i] = s->y_class[i];
        yshape[0] = s->n;
        rc = hn_st_writer_add(w, "y", HN_ST_I64, batched, yshape, y64, err);
    } else {
        for (size_t i = 0; i < s->n * s->classes; i++)
            if (!isfinite(s->y_vec[i])) {
                rc = hn_err_set(err, HN_EINVAL, "%s: y[%zu] is not finite", path, i);
                goto out;
            }
        yshape[0] = s->n;
        yshape[1] = s->classes;
        rc = hn_st_writer_add(w, "y", HN_ST_F64, 1 + batched, yshape + !batched, s->y_vec, err);
    }
    if (rc != HN_OK)
        goto fail_prefix;
    rc = hn_st_writer_save(w, path, err);
    goto out;
fail_prefix:
    hn_err_prefix(err, path);
out:
    hn_free(y64);
    hn_st_writer_free(w);
    return rc;
}

hn_samples hn_samples_view(const hn_samples *s, size_t i)
{
    hn_samples o = *s;
    o.n = 1;
    o.batched = 0;
    o.x = s->x + i * s->in_size;
    o.y_class = s->y_class ? s->y_class + i : NULL;
    o.y_vec = s->y_vec ? s->y_vec + i * s->classes : NULL;
    return o;
}
