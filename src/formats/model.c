/* hessnorm — network description: builder, shapes and their checks (the
 * JSON form: model_json.c; weights, samples: weights.c).
 *
 * Every activation is a (c, h, w) block; in_ndim/out_ndim remember which
 * of the three user-facing forms it has ([N], [C, L], [C, H, W]) so that
 * shape rules (conv1d needs [C, L], linear needs a flat vector, ...) are
 * checked exactly as PyTorch would refuse the same network. */
#include "config.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/model.h"

/* ------------------------------------------------------------ layer types */

const char *hn_layer_type_name(hn_layer_type t)
{
    switch (t) {
    case HN_CONV1D: return "conv1d";
    case HN_CONV2D: return "conv2d";
    case HN_LINEAR: return "linear";
    case HN_RELU: return "relu";
    case HN_MAXPOOL1D: return "maxpool1d";
    case HN_MAXPOOL2D: return "maxpool2d";
    case HN_AVGPOOL1D: return "avgpool1d";
    case HN_AVGPOOL2D: return "avgpool2d";
    case HN_FLATTEN: return "flatten";
    }
    return "unknown";
}

int hn_layer_is_linear(hn_layer_type t)
{
    return t == HN_CONV1D || t == HN_CONV2D || t == HN_LINEAR;
}

static int valid_type(int t) { return t >= HN_CONV1D && t <= HN_FLATTEN; }

static int is_pool2d(hn_layer_type t) { return t == HN_MAXPOOL2D || t == HN_AVGPOOL2D; }

/* ------------------------------------------------------------ builder */

int hn_model_new(int ndim, const size_t *dims, size_t classes, hn_loss_type loss,
                 hn_model **out, hn_err *err)
{
    hn_model *m;

    *out = NULL;
    if (ndim < 1 || ndim > 3 || !dims)
        return hn_err_set(err, HN_EINVAL, "input: must have 1, 2 or 3 dimensions, got %d", ndim);
    for (int i = 0; i < ndim; i++)
        if (dims[i] == 0)
            return hn_err_set(err, HN_EINVAL, "input[%d]: must be a positive integer", i);
    if (classes == 0)
        return hn_err_set(err, HN_EINVAL, "classes: must be a positive integer");
    if (loss != HN_LOSS_CE && loss != HN_LOSS_MSE)
        return hn_err_set(err, HN_EINVAL, "loss: unknown loss type %d", (int)loss);
    m = hn_calloc(1, sizeof *m);
    if (!m)
        return hn_err_set(err, HN_ENOMEM, "out of memory");
    m->input_ndim = ndim;
    for (int i = 0; i < ndim; i++)
        m->input_dims[i] = dims[i];
    switch (ndim) {
    case 1: m->input = (hn_shape){dims[0], 1, 1}; break;
    case 2: m->input = (hn_shape){dims[0], 1, dims[1]}; break;
    default: m->input = (hn_shape){dims[0], dims[1], dims[2]}; break;
    }
    m->classes = classes;
    m->loss = loss;
    *out = m;
    return HN_OK;
}

int hn_model_add(hn_model *m, hn_layer_type t, size_t out_channels, size_t kh, size_t kw,
                 hn_err *err)
{
    hn_layer *l;

    if (!m)
        return hn_err_set(err, HN_EINVAL, "no model");
    if (!valid_type((int)t))
        return hn_err_set(err, HN_EINVAL, "layers[%zu].type: unknown layer type %d", m->n_layers,
                          (int)t);
    if (m->n_layers == m->cap_layers) {
        size_t nc = m->cap_layers ? 2 * m->cap_layers : 8, sz;
        hn_layer *nl;
        if (hn_mul_size(nc, sizeof *nl, &sz) != 0)
            return hn_err_set(err, HN_ERANGE, "layers: too many layers");
        nl = hn_realloc(m->layers, sz);
        if (!nl)
            return hn_err_set(err, HN_ENOMEM, "out of memory adding layers[%zu]", m->n_layers);
        m->layers = nl;
        m->cap_layers = nc;
    }
    l = &m->layers[m->n_layers++];
    memset(l, 0, sizeof *l);
    l->type = t;
    l->lin_index = -1;
    l->kh = l->kw = 1;
    switch (t) {
    case HN_CONV1D:
        l->out_channels = out_channels;
        l->kw = kw;
        break;
    case HN_CONV2D:
        l->out_channels = out_channels;
        l->kh = kh;
        l->kw = kw;
        break;
    case HN_LINEAR:
        l->out_channels = out_channels;
        break;
    case HN_MAXPOOL1D:
    case HN_AVGPOOL1D:
        l->kw = kw;
        break;
    case HN_MAXPOOL2D:
    case HN_AVGPOOL2D:
        l->kh = kh;
        l->kw = kw;
        break;
    case HN_RELU:
    case HN_FLATTEN:
        break;
    }
    m->finalized = 0;
    return HN_OK;
}

void hn_model_free(hn_model *m)
{
    if (!m)
        return;
    hn_free(m->layers);
    hn_free(m->linear_pos);
    hn_free(m);
}

hn_model *hn_model_clone(const hn_model *m)
{
    hn_model *c;
    if (!m)
        return NULL;
    c = hn_malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *m;
    c->layers = NULL;
    c->linear_pos = NULL;
    c->cap_layers = m->n_layers;
    if (m->n_layers) {
        c->layers = hn_calloc(m->n_layers, sizeof *c->layers);
        if (!c->layers)
            goto fail;
        memcpy(c->layers, m->layers, m->n_layers * sizeof *c->layers);
    }
    if (m->linear_pos && m->n_linear) {
        c->linear_pos = hn_calloc(m->n_linear, sizeof *c->linear_pos);
        if (!c->linear_pos)
            goto fail;
        memcpy(c->linear_pos, m->linear_pos, m->n_linear * sizeof *c->linear_pos);
    }
    return c;
fail:
    hn_model_free(c);
    return NULL;
}

/* "[c]", "[c, l]" or "[c, h, w]" as the user wrote the activation. */
static const char *shape_str(char *buf, size_t cap, hn_shape s, int ndim)
{
    if (ndim == 1)
        snprintf(buf, cap, "[%zu]", s.c);
    else if (ndim == 2)
        snprintf(buf, cap, "[%zu, %zu]", s.c, s.w);
    else
        snprintf(buf, cap, "[%zu, %zu, %zu]", s.c, s.h, s.w);
    return buf;
}

static const char *ndim_form(int ndim)
{
    return ndim == 1 ? "a flat [N]" : ndim == 2 ? "a 1-D [C, L]" : "an image [C, H, W]";
}

/* Shape rule of one layer: in -> out, parameter count. */
static int layer_shape(hn_layer *l, size_t i, hn_shape in, int in_ndim, hn_err *err)
{
    char sb[96];
    const char *tn = hn_layer_type_name(l->type);
    hn_shape out = in;
    int out_ndim = in_ndim, need = 0;
    size_t pc = 0;

    switch (l->type) {
    case HN_CONV1D: need = 2; break;
    case HN_CONV2D: need = 3; break;
    case HN_LINEAR: need = 1; break;
    case HN_MAXPOOL1D:
    case HN_AVGPOOL1D: need = 2; break;
    case HN_MAXPOOL2D:
    case HN_AVGPOOL2D: need = 3; break;
    default: break;
    }
    if (need && in_ndim != need)
        return hn_err_set(err, HN_ESHAPE, "layers[%zu]: %s needs %s input, got %s%s", i, tn,
                          ndim_form(need), shape_str(sb, sizeof sb, in, in_ndim),
                          need == 1 ? " (add a flatten layer)" : "");

    if (hn_layer_is_linear(l->type) && l->out_channels == 0)
        return hn_err_set(err, HN_EINVAL, "layers[%zu].%s: must be a positive integer", i,
                          l->type == HN_LINEAR ? "out_features" : "out_channels");
    if (l->type != HN_RELU && l->type != HN_FLATTEN && (l->kh == 0 || l->kw == 0))
        return hn_err_set(err, HN_EINVAL, "layers[%zu].kernel: must be a positive integer", i);
    if (is_pool2d(l->type) && l->kh != l->kw)
        return hn_err_set(err, HN_EINVAL,
                          "layers[%zu].kernel: %s kernel must be square, got %zux%zu", i, tn,
                          l->kh, l->kw);

    switch (l->type) {
    case HN_CONV1D:
    case HN_CONV2D:
        if (l->kh > in.h)
            return hn_err_set(err, HN_ESHAPE, "layers[%zu].kernel: %zu larger than input %zu (height)",
                              i, l->kh, in.h);
        if (l->kw > in.w)
            return hn_err_set(err, HN_ESHAPE, "layers[%zu].kernel: %zu larger than input %zu%s", i,
                              l->kw, in.w, l->type == HN_CONV2D ? " (width)" : "");
        out = (hn_shape){l->out_channels, in.h - l->kh + 1, in.w - l->kw + 1};
        if (hn_mul_size(l->out_channels, in.c, &pc) != 0 ||
            hn_mul3_size(pc, l->kh, l->kw, &pc) != 0)
            return hn_err_set(err, HN_ERANGE, "layers[%zu]: parameter count overflows size_t", i);
        break;
    case HN_LINEAR:
        out = (hn_shape){l->out_channels, 1, 1};
        if (hn_mul_size(l->out_channels, in.c, &pc) != 0)
            return hn_err_set(err, HN_ERANGE, "layers[%zu]: parameter count overflows size_t", i);
        break;
    case HN_MAXPOOL1D:
    case HN_AVGPOOL1D:
    case HN_MAXPOOL2D:
    case HN_AVGPOOL2D:
        /* kernel <= input is exactly "pool output size >= 1" under floor. */
        if (l->kh > in.h)
            return hn_err_set(err, HN_ESHAPE,
                              "layers[%zu].kernel: %zu larger than input %zu (height): the pooled "
                              "output would be empty",
                              i, l->kh, in.h);
        if (l->kw > in.w)
            return hn_err_set(err, HN_ESHAPE,
                              "layers[%zu].kernel: %zu larger than input %zu%s: the pooled output "
                              "would be empty",
                              i, l->kw, in.w, is_pool2d(l->type) ? " (width)" : "");
        out = (hn_shape){in.c, in.h / l->kh, in.w / l->kw};
        break;
    case HN_RELU:
        break;
    case HN_FLATTEN:
        if (hn_mul3_size(in.c, in.h, in.w, &out.c) != 0)
            return hn_err_set(err, HN_ERANGE, "layers[%zu]: output size overflows size_t", i);
        out.h = out.w = 1;
        out_ndim = 1;
        break;
    }
    if (hn_layer_is_linear(l->type))
        out_ndim = l->type == HN_LINEAR ? 1 : in_ndim;
    {
        size_t sz;
        if (hn_mul3_size(out.c, out.h, out.w, &sz) != 0)
            return hn_err_set(err, HN_ERANGE, "layers[%zu]: output size overflows size_t", i);
    }
    l->in = in;
    l->in_ndim = in_ndim;
    l->out = out;
    l->out_ndim = out_ndim;
    l->param_count = pc;
    return HN_OK;
}

int hn_model_finalize(hn_model *m, hn_err *err)
{
    hn_shape cur;
    int nd;
    size_t sz, n_params = 0, n_lin = 0, *pos;

    if (!m)
        return hn_err_set(err, HN_EINVAL, "no model");
    m->finalized = 0;
    if (m->input_ndim < 1 || m->input_ndim > 3)
        return hn_err_set(err, HN_EINVAL, "input: must have 1, 2 or 3 dimensions");
    if (m->input.c == 0 || m->input.h == 0 || m->input.w == 0)
        return hn_err_set(err, HN_EINVAL, "input: every dimension must be positive");
    if (m->classes == 0)
        return hn_err_set(err, HN_EINVAL, "classes: must be a positive integer");
    if (m->n_layers == 0)
        return hn_err_set(err, HN_EINVAL, "layers: at least one layer is needed");
    if (hn_mul3_size(m->input.c, m->input.h, m->input.w, &sz) != 0)
        return hn_err_set(err, HN_ERANGE, "input: size overflows size_t");
    if (!hn_layer_is_linear(m->layers[0].type))
        return hn_err_set(err, HN_EINVAL,
                          "layers[0].type: the first layer must be a linear operator (conv1d, "
                          "conv2d or linear), got %s",
                          hn_layer_type_name(m->layers[0].type));
    m->max_act = sz;
    cur = m->input;
    nd = m->input_ndim;
    for (size_t i = 0; i < m->n_layers; i++) {
        hn_layer *l = &m->layers[i];
        int rc;
        if (!valid_type((int)l->type))
            return hn_err_set(err, HN_EINVAL, "layers[%zu].type: unknown layer type %d", i,
                              (int)l->type);
        rc = layer_shape(l, i, cur, nd, err);
        if (rc != HN_OK)
            return rc;
        l->param_offset = n_params;
        l->lin_index = -1;
        if (hn_layer_is_linear(l->type)) {
            l->lin_index = (int)n_lin++;
            if (l->param_count > SIZE_MAX - n_params)
                return hn_err_set(err, HN_ERANGE,
                                  "layers[%zu]: total parameter count overflows size_t", i);
            n_params += l->param_count;
        }
        cur = l->out;
        nd = l->out_ndim;
        sz = hn_shape_size(cur);
        if (sz > m->max_act)
            m->max_act = sz;
    }
    {
        const hn_layer *last = &m->layers[m->n_layers - 1];
        if (!hn_layer_is_linear(last->type))
            return hn_err_set(err, HN_EINVAL,
                              "layers[%zu].type: the last layer must be a linear operator "
                              "(conv1d, conv2d or linear), got %s",
                              m->n_layers - 1, hn_layer_type_name(last->type));
        if (hn_shape_size(last->out) != m->classes)
            return hn_err_set(err, HN_ESHAPE,
                              "layers[%zu]: output size %zu does not match classes %zu",
                              m->n_layers - 1, hn_shape_size(last->out), m->classes);
    }
    pos = hn_calloc(n_lin, sizeof *pos);
    if (!pos)
        return hn_err_set(err, HN_ENOMEM, "out of memory");
    for (size_t i = 0, k = 0; i < m->n_layers; i++)
        if (hn_layer_is_linear(m->layers[i].type))
            pos[k++] = i;
    hn_free(m->linear_pos);
    m->linear_pos = pos;
    m->n_linear = n_lin;
    m->n_params = n_params;
    m->finalized = 1;
    return HN_OK;
}
