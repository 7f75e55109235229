/* hessnorm — the model description's JSON form (docs/format.md): parse
 * and load, write and save.  The structure, the layer shapes and their
 * checks are model.c. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/buf.h"
#include "hessnorm/file.h"
#include "hessnorm/model.h"
#include "base/json.h"

#define HN_MODEL_FORMAT "hessnorm-model/1"
/* Largest size accepted for any single JSON dimension; products are
 * overflow-checked separately. */
#define HN_MODEL_MAX_DIM 2147483648LL

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

/* text parsed into *root, a JSON object with only the known top-level
 * fields. */
static int parse_root(const char *text, size_t len, const char *src, json_t **root, hn_err *err)
{
    static const char *const top_fields[] = {"format", "input", "classes", "loss", "layers"};
    json_error_t je;
    json_t *v;
    const char *key;

    memset(&je, 0, sizeof je);
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!*root) {
        if (hn_json_error_is_oom(&je))
            return hn_err_set(err, HN_ENOMEM, "%s: out of memory parsing JSON", src);
        return hn_err_set(err, HN_EFORMAT, "%s: invalid JSON at line %d column %d: %s", src,
                          je.line, je.column, je.text);
    }
    if (!json_is_object(*root))
        return hn_err_set(err, HN_EFORMAT, "%s: top level must be a JSON object", src);
    json_object_foreach(*root, key, v) {
        size_t k = 0;
        while (k < 5 && strcmp(key, top_fields[k]) != 0)
            k++;
        if (k == 5)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: %s: unknown field (expected format, input, classes, loss, "
                              "layers)",
                              src, key);
    }
    return HN_OK;
}

/* The top-level fields besides the layers, in the order they are checked. */
typedef struct {
    size_t dims[3], classes, nin;
    hn_loss_type loss;
    const json_t *layers;
} model_head;

static int parse_head(const json_t *root, const char *src, model_head *h, hn_err *err)
{
    const json_t *v, *jin, *jcl, *jloss, *jlay;
    int rc;

    v = json_object_get(root, "format");
    if (!v)
        return hn_err_set(err, HN_EFORMAT, "%s: format: missing (expected \"" HN_MODEL_FORMAT "\")",
                          src);
    if (!json_is_string(v) || strcmp(json_string_value(v), HN_MODEL_FORMAT) != 0)
        return hn_err_set(err, HN_EFORMAT, "%s: format: must be the string \"" HN_MODEL_FORMAT "\"",
                          src);

    jin = json_object_get(root, "input");
    if (!jin)
        return hn_err_set(err, HN_EFORMAT, "%s: input: missing", src);
    if (!json_is_array(jin) || json_array_size(jin) < 1 || json_array_size(jin) > 3)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: input: must be an array of 1 to 3 positive integers ([N], [C, L] or "
                          "[C, H, W])",
                          src);
    h->nin = json_array_size(jin);
    for (size_t i = 0; i < h->nin; i++) {
        char fld[32];
        snprintf(fld, sizeof fld, "input[%zu]", i);
        rc = get_pos(json_array_get(jin, i), src, fld, &h->dims[i], err);
        if (rc != HN_OK)
            return rc;
    }

    jcl = json_object_get(root, "classes");
    if (!jcl)
        return hn_err_set(err, HN_EFORMAT, "%s: classes: missing", src);
    rc = get_pos(jcl, src, "classes", &h->classes, err);
    if (rc != HN_OK)
        return rc;

    jloss = json_object_get(root, "loss");
    if (!jloss)
        return hn_err_set(err, HN_EFORMAT, "%s: loss: missing", src);
    if (json_is_string(jloss) && strcmp(json_string_value(jloss), "cross_entropy") == 0)
        h->loss = HN_LOSS_CE;
    else if (json_is_string(jloss) && strcmp(json_string_value(jloss), "mse") == 0)
        h->loss = HN_LOSS_MSE;
    else
        return hn_err_set(err, HN_EFORMAT, "%s: loss: must be \"cross_entropy\" or \"mse\"", src);

    jlay = json_object_get(root, "layers");
    if (!jlay)
        return hn_err_set(err, HN_EFORMAT, "%s: layers: missing", src);
    if (!json_is_array(jlay) || json_array_size(jlay) == 0)
        return hn_err_set(err, HN_EFORMAT, "%s: layers: must be a non-empty array of layer objects",
                          src);
    h->layers = jlay;
    return HN_OK;
}

/* The model of h: its input, then every layer, then the shape checks. */
static int build(const model_head *h, const char *src, hn_model **out, hn_err *err)
{
    hn_model *m = NULL;
    int rc = hn_model_new((int)h->nin, h->dims, h->classes, h->loss, &m, err);
    if (rc != HN_OK) {
        hn_err_prefix(err, src);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(h->layers); i++) {
        rc = parse_layer(m, json_array_get(h->layers, i), i, src, err);
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
    return rc;
}

int hn_model_parse(const char *text, size_t len, const char *source, hn_model **out,
                   hn_err *err)
{
    const char *src = source ? source : "<model>";
    json_t *root = NULL;
    model_head h;

    *out = NULL;
    if (!text)
        return hn_err_set(err, HN_EINVAL, "%s: no text", src);
    int rc = parse_root(text, len, src, &root, err);
    if (rc == HN_OK)
        rc = parse_head(root, src, &h, err);
    if (rc == HN_OK)
        rc = build(&h, src, out, err);
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

char *hn_model_to_json(const hn_model *m)
{
    if (!m)
        return NULL;
    hn_buf b;
    hn_buf_init(&b);
    hn_buf_printf(&b, "{\n  \"format\": \"" HN_MODEL_FORMAT "\",\n  \"input\": [");
    for (int i = 0; i < m->input_ndim; i++)
        hn_buf_printf(&b, "%s%zu", i ? ", " : "", m->input_dims[i]);
    hn_buf_printf(&b, "],\n  \"classes\": %zu,\n  \"loss\": \"%s\",\n  \"layers\": [\n", m->classes,
              m->loss == HN_LOSS_MSE ? "mse" : "cross_entropy");
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *l = &m->layers[i];
        hn_buf_printf(&b, "    {\"type\": \"%s\"", hn_layer_type_name(l->type));
        switch (l->type) {
        case HN_CONV1D:
            hn_buf_printf(&b, ", \"out_channels\": %zu, \"kernel\": %zu", l->out_channels, l->kw);
            break;
        case HN_CONV2D:
            hn_buf_printf(&b, ", \"out_channels\": %zu, \"kernel\": [%zu, %zu]", l->out_channels,
                      l->kh, l->kw);
            break;
        case HN_LINEAR:
            hn_buf_printf(&b, ", \"out_features\": %zu", l->out_channels);
            break;
        case HN_MAXPOOL1D:
        case HN_AVGPOOL1D:
            hn_buf_printf(&b, ", \"kernel\": %zu", l->kw);
            break;
        case HN_MAXPOOL2D:
        case HN_AVGPOOL2D:
            /* Non-square pooling cannot be expressed; it is written as an
             * array so that parsing it back fails loudly. */
            if (l->kh == l->kw)
                hn_buf_printf(&b, ", \"kernel\": %zu", l->kw);
            else
                hn_buf_printf(&b, ", \"kernel\": [%zu, %zu]", l->kh, l->kw);
            break;
        case HN_RELU:
        case HN_FLATTEN:
            break;
        }
        hn_buf_printf(&b, "}%s\n", i + 1 < m->n_layers ? "," : "");
    }
    hn_buf_printf(&b, "  ]\n}\n");
    if (b.failed) {
        hn_buf_free(&b);
        return NULL;
    }
    return b.s; /* allocated by hn_realloc: the caller frees with hn_free */
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
