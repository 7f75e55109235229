/* hessnorm — network description: builder, shapes, JSON (weights, samples: weights.c).
 *
 * Every activation is a (c, h, w) block; in_ndim/out_ndim remember which
 * of the three user-facing forms it has ([N], [C, L], [C, H, W]) so that
 * shape rules (conv1d needs [C, L], linear needs a flat vector, ...) are
 * checked exactly as PyTorch would refuse the same network. */
#include "config.h"
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/model.h"
#include "base/json.h"

#define HN_MODEL_FORMAT "hessnorm-model/1"
/* Largest size accepted for any single JSON dimension; products are
 * overflow-checked separately. */
#define HN_MODEL_MAX_DIM 2147483648LL

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

/* ------------------------------------------------------------ JSON */

/* A positive integer no larger than HN_MODEL_MAX_DIM; field names the
 * value in messages (e.g. "layers[3].out_channels"). */
static int get_pos(const json_t *v, const char *src, const char *field, size_t *out, hn_err *err)
{
    json_int_t i;
    if (!json_is_integer(v) || (i = json_integer_value(v)) <= 0)
        return hn_err_set(err, HN_EFORMAT, "%s: %s: must be a positive integer", src, field);
    if (i > HN_MODEL_MAX_DIM)
        return hn_err_set(err, HN_ERANGE, "%s: %s: %lld is too large (limit %lld)", src, field,
                          (long long)i, (long long)HN_MODEL_MAX_DIM);
    *out = (size_t)i;
    return HN_OK;
}

static const struct {
    const char *name;
    hn_layer_type type;
    const char *fields[3];   /* allowed besides "type" */
} layer_specs[] = {
    {"conv1d", HN_CONV1D, {"out_channels", "kernel", NULL}},
    {"conv2d", HN_CONV2D, {"out_channels", "kernel", NULL}},
    {"linear", HN_LINEAR, {"out_features", NULL, NULL}},
    {"relu", HN_RELU, {NULL, NULL, NULL}},
    {"maxpool1d", HN_MAXPOOL1D, {"kernel", NULL, NULL}},
    {"maxpool2d", HN_MAXPOOL2D, {"kernel", NULL, NULL}},
    {"avgpool1d", HN_AVGPOOL1D, {"kernel", NULL, NULL}},
    {"avgpool2d", HN_AVGPOOL2D, {"kernel", NULL, NULL}},
    {"flatten", HN_FLATTEN, {NULL, NULL, NULL}},
};

static int parse_layer(hn_model *m, const json_t *jl, size_t i, const char *src, hn_err *err)
{
    char fld[64];
    const json_t *jt, *v;
    const char *key, *tn;
    size_t spec = 0, nspec = sizeof layer_specs / sizeof layer_specs[0];
    size_t oc = 0, kh = 1, kw = 1;
    int rc;

    if (!json_is_object(jl))
        return hn_err_set(err, HN_EFORMAT, "%s: layers[%zu]: must be a JSON object", src, i);
    jt = json_object_get(jl, "type");
    if (!jt)
        return hn_err_set(err, HN_EFORMAT, "%s: layers[%zu].type: missing", src, i);
    if (!json_is_string(jt))
        return hn_err_set(err, HN_EFORMAT, "%s: layers[%zu].type: must be a string", src, i);
    tn = json_string_value(jt);
    while (spec < nspec && strcmp(layer_specs[spec].name, tn) != 0)
        spec++;
    if (spec == nspec)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: layers[%zu].type: unknown layer type \"%s\" (expected conv1d, "
                          "conv2d, linear, relu, maxpool1d, maxpool2d, avgpool1d, avgpool2d or "
                          "flatten)",
                          src, i, tn);
    json_object_foreach((json_t *)jl, key, v) {
        int ok = strcmp(key, "type") == 0;
        for (int f = 0; f < 3 && !ok && layer_specs[spec].fields[f]; f++)
            ok = strcmp(key, layer_specs[spec].fields[f]) == 0;
        if (!ok)
            return hn_err_set(err, HN_EFORMAT, "%s: layers[%zu].%s: unknown field for %s", src, i,
                              key, tn);
    }
    for (int f = 0; f < 3 && layer_specs[spec].fields[f]; f++) {
        const char *fname = layer_specs[spec].fields[f];
        v = json_object_get(jl, fname);
        snprintf(fld, sizeof fld, "layers[%zu].%s", i, fname);
        if (!v)
            return hn_err_set(err, HN_EFORMAT, "%s: %s: missing (required for %s)", src, fld, tn);
        if (strcmp(fname, "kernel") != 0) {
            rc = get_pos(v, src, fld, &oc, err);
        } else if (layer_specs[spec].type == HN_CONV2D && json_is_array(v)) {
            if (json_array_size(v) != 2)
                return hn_err_set(err, HN_EFORMAT,
                                  "%s: %s: must be a positive integer or [kh, kw]", src, fld);
            snprintf(fld, sizeof fld, "layers[%zu].kernel[0]", i);
            rc = get_pos(json_array_get(v, 0), src, fld, &kh, err);
            if (rc == HN_OK) {
                snprintf(fld, sizeof fld, "layers[%zu].kernel[1]", i);
                rc = get_pos(json_array_get(v, 1), src, fld, &kw, err);
            }
        } else {
            rc = get_pos(v, src, fld, &kw, err);
            kh = kw;
        }
        if (rc != HN_OK)
            return rc;
    }
    rc = hn_model_add(m, layer_specs[spec].type, oc, kh, kw, err);
    if (rc != HN_OK)
        hn_err_prefix(err, src);
    return rc;
}

int hn_model_parse(const char *text, size_t len, const char *source, hn_model **out,
                   hn_err *err)
{
    static const char *const top_fields[] = {"format", "input", "classes", "loss", "layers"};
    const char *src = source ? source : "<model>";
    json_error_t je;
    json_t *root, *v, *jin, *jcl, *jloss, *jlay;
    const char *key;
    hn_model *m = NULL;
    size_t dims[3], classes, nin;
    hn_loss_type loss;
    int rc = HN_OK;

    *out = NULL;
    if (!text)
        return hn_err_set(err, HN_EINVAL, "%s: no text", src);
    memset(&je, 0, sizeof je);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (hn_json_error_is_oom(&je))
            return hn_err_set(err, HN_ENOMEM, "%s: out of memory parsing JSON", src);
        return hn_err_set(err, HN_EFORMAT, "%s: invalid JSON at line %d column %d: %s", src,
                          je.line, je.column, je.text);
    }
    if (!json_is_object(root)) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: top level must be a JSON object", src);
        goto out;
    }
    json_object_foreach(root, key, v) {
        size_t k = 0;
        while (k < 5 && strcmp(key, top_fields[k]) != 0)
            k++;
        if (k == 5) {
            rc = hn_err_set(err, HN_EFORMAT,
                            "%s: %s: unknown field (expected format, input, classes, loss, "
                            "layers)",
                            src, key);
            goto out;
        }
    }

    v = json_object_get(root, "format");
    if (!v) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: format: missing (expected \"" HN_MODEL_FORMAT "\")",
                        src);
        goto out;
    }
    if (!json_is_string(v) || strcmp(json_string_value(v), HN_MODEL_FORMAT) != 0) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: format: must be the string \"" HN_MODEL_FORMAT "\"",
                        src);
        goto out;
    }

    jin = json_object_get(root, "input");
    if (!jin) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: input: missing", src);
        goto out;
    }
    if (!json_is_array(jin) || json_array_size(jin) < 1 || json_array_size(jin) > 3) {
        rc = hn_err_set(err, HN_EFORMAT,
                        "%s: input: must be an array of 1 to 3 positive integers ([N], [C, L] or "
                        "[C, H, W])",
                        src);
        goto out;
    }
    nin = json_array_size(jin);
    for (size_t i = 0; i < nin; i++) {
        char fld[32];
        snprintf(fld, sizeof fld, "input[%zu]", i);
        rc = get_pos(json_array_get(jin, i), src, fld, &dims[i], err);
        if (rc != HN_OK)
            goto out;
    }

    jcl = json_object_get(root, "classes");
    if (!jcl) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: classes: missing", src);
        goto out;
    }
    rc = get_pos(jcl, src, "classes", &classes, err);
    if (rc != HN_OK)
        goto out;

    jloss = json_object_get(root, "loss");
    if (!jloss) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: loss: missing", src);
        goto out;
    }
    if (json_is_string(jloss) && strcmp(json_string_value(jloss), "cross_entropy") == 0) {
        loss = HN_LOSS_CE;
    } else if (json_is_string(jloss) && strcmp(json_string_value(jloss), "mse") == 0) {
        loss = HN_LOSS_MSE;
    } else {
        rc = hn_err_set(err, HN_EFORMAT, "%s: loss: must be \"cross_entropy\" or \"mse\"", src);
        goto out;
    }

    jlay = json_object_get(root, "layers");
    if (!jlay) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: layers: missing", src);
        goto out;
    }
    if (!json_is_array(jlay) || json_array_size(jlay) == 0) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: layers: must be a non-empty array of layer objects",
                        src);
        goto out;
    }

    rc = hn_model_new((int)nin, dims, classes, loss, &m, err);
    if (rc != HN_OK) {
        hn_err_prefix(err, src);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(jlay); i++) {
        rc = parse_layer(m, json_array_get(jlay, i), i, src, err);
        if (rc != HN_OK)
            goto out;
    }
    rc = hn_model_finalize(m, err);
    if (rc != HN_OK) {
        hn_err_prefix(err, src);
        goto out;
    }
    *out = m;
    m = NULL;
out:
    hn_model_free(m);
    json_decref(root);
    return rc;
}

int hn_model_load(const char *path, hn_model **out, hn_err *err)
{
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = hn_read_file(path, &text, &len, err);
    if (rc != HN_OK)
        return rc;
    rc = hn_model_parse(text, len, path, out, err);
    hn_free(text);
    return rc;
}

/* Growable text buffer (NULL after an allocation failure). */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} tbuf;

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *b, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        {
            size_t nc = b->cap ? 2 * b->cap : 512;
            char *np;
            while (nc - b->n <= (size_t)k)
                nc *= 2;
            np = hn_realloc(b->p, nc);
            if (!np) {
                b->oom = 1;
                return;
            }
            b->p = np;
            b->cap = nc;
        }
    }
}

char *hn_model_to_json(const hn_model *m)
{
    tbuf b = {NULL, 0, 0, 0};
    if (!m)
        return NULL;
    tb_printf(&b, "{\n  \"format\": \"" HN_MODEL_FORMAT "\",\n  \"input\": [");
    for (int i = 0; i < m->input_ndim; i++)
        tb_printf(&b, "%s%zu", i ? ", " : "", m->input_dims[i]);
    tb_printf(&b, "],\n  \"classes\": %zu,\n  \"loss\": \"%s\",\n  \"layers\": [\n", m->classes,
              m->loss == HN_LOSS_MSE ? "mse" : "cross_entropy");
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *l = &m->layers[i];
        tb_printf(&b, "    {\"type\": \"%s\"", hn_layer_type_name(l->type));
        switch (l->type) {
        case HN_CONV1D:
            tb_printf(&b, ", \"out_channels\": %zu, \"kernel\": %zu", l->out_channels, l->kw);
            break;
        case HN_CONV2D:
            tb_printf(&b, ", \"out_channels\": %zu, \"kernel\": [%zu, %zu]", l->out_channels,
                      l->kh, l->kw);
            break;
        case HN_LINEAR:
            tb_printf(&b, ", \"out_features\": %zu", l->out_channels);
            break;
        case HN_MAXPOOL1D:
        case HN_AVGPOOL1D:
            tb_printf(&b, ", \"kernel\": %zu", l->kw);
            break;
        case HN_MAXPOOL2D:
        case HN_AVGPOOL2D:
            /* Non-square pooling cannot be expressed; it is written as an
             * array so that parsing it back fails loudly. */
            if (l->kh == l->kw)
                tb_printf(&b, ", \"kernel\": %zu", l->kw);
            else
                tb_printf(&b, ", \"kernel\": [%zu, %zu]", l->kh, l->kw);
            break;
        case HN_RELU:
        case HN_FLATTEN:
            break;
        }
        tb_printf(&b, "}%s\n", i + 1 < m->n_layers ? "," : "");
    }
    tb_printf(&b, "  ]\n}\n");
    if (b.oom) {
        hn_free(b.p);
        return NULL;
    }
    return b.p;
}

int hn_model_save(const hn_model *m, const char *path, hn_err *err)
{
    char *s;
    int rc;
    if (!m)
        return hn_err_set(err, HN_EINVAL, "%s: no model", path);
    s = hn_model_to_json(m);
    if (!s)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    rc = hn_write_file_atomic(path, s, strlen(s), err);
    hn_free(s);
    return rc;
}
