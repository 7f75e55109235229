/* hessnorm tests — model description: shapes, JSON, weights, samples. */
#include "config.h"
#include "testutil.h"
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/model.h"
#include "hessnorm/safetensors.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s", hn_test_tmpdir());
    hn_alloc_fail_after(-1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d))) {
            char p[800];
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

/* The example of interchange.md, verbatim. */
static const char EXAMPLE[] =
    "{\n"
    "  \"format\": \"hessnorm-model/1\",\n"
    "  \"input\": [1, 12, 12],\n"
    "  \"classes\": 10,\n"
    "  \"loss\": \"cross_entropy\",\n"
    "  \"layers\": [\n"
    "    {\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [3, 3]},\n"
    "    {\"type\": \"relu\"},\n"
    "    {\"type\": \"maxpool2d\", \"kernel\": 2},\n"
    "    {\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [3, 3]},\n"
    "    {\"type\": \"relu\"},\n"
    "    {\"type\": \"flatten\"},\n"
    "    {\"type\": \"linear\", \"out_features\": 10}\n"
    "  ]\n"
    "}\n";

static const char ONED[] =
    "{\"format\": \"hessnorm-model/1\", \"input\": [2, 16], \"classes\": 5,"
    " \"loss\": \"cross_entropy\", \"layers\": ["
    " {\"type\": \"conv1d\", \"out_channels\": 3, \"kernel\": 5},"
    " {\"type\": \"relu\"},"
    " {\"type\": \"maxpool1d\", \"kernel\": 3},"
    " {\"type\": \"avgpool1d\", \"kernel\": 2},"
    " {\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": 2},"
    " {\"type\": \"flatten\"},"
    " {\"type\": \"linear\", \"out_features\": 5}]}";

static const char FLAT[] =
    "{\"format\": \"hessnorm-model/1\", \"input\": [6], \"classes\": 3, \"loss\": \"mse\","
    " \"layers\": [{\"type\": \"linear\", \"out_features\": 8}, {\"type\": \"relu\"},"
    " {\"type\": \"linear\", \"out_features\": 3}]}";

/* rectangular conv2d kernel, avgpool2d, int conv2d kernel */
static const char RECT[] =
    "{\"format\": \"hessnorm-model/1\", \"input\": [2, 7, 9], \"classes\": 4, \"loss\": \"mse\","
    " \"layers\": [{\"type\": \"conv2d\", \"out_channels\": 3, \"kernel\": [2, 3]},"
    " {\"type\": \"avgpool2d\", \"kernel\": 2},"
    " {\"type\": \"conv2d\", \"out_channels\": 2, \"kernel\": 3},"
    " {\"type\": \"flatten\"}, {\"type\": \"linear\", \"out_features\": 4}]}";

/* a conv1d as the last layer: output (10, 1, 1) has size 10 = classes */
static const char CONVLAST[] =
    "{\"format\": \"hessnorm-model/1\", \"input\": [1, 8], \"classes\": 10,"
    " \"loss\": \"cross_entropy\", \"layers\": ["
    " {\"type\": \"conv1d\", \"out_channels\": 2, \"kernel\": 3}, {\"type\": \"relu\"},"
    " {\"type\": \"conv1d\", \"out_channels\": 10, \"kernel\": 6}]}";

static hn_model *parse_ok(const char *text)
{
    hn_model *m = NULL;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_model_parse(text, strlen(text), "model.json", &m, &e);
    if (rc != HN_OK)
        print_error("parse failed: %s\n", e.msg);
    assert_int_equal(rc, HN_OK);
    assert_non_null(m);
    assert_true(m->finalized);
    return m;
}

static void assert_shape(hn_shape s, size_t c, size_t h, size_t w)
{
    assert_int_equal(s.c, c);
    assert_int_equal(s.h, h);
    assert_int_equal(s.w, w);
}

static void models_equal(const hn_model *a, const hn_model *b)
{
    assert_int_equal(a->input_ndim, b->input_ndim);
    for (int i = 0; i < a->input_ndim; i++)
        assert_int_equal(a->input_dims[i], b->input_dims[i]);
    assert_shape(a->input, b->input.c, b->input.h, b->input.w);
    assert_int_equal(a->classes, b->classes);
    assert_int_equal(a->loss, b->loss);
    assert_int_equal(a->n_layers, b->n_layers);
    for (size_t i = 0; i < a->n_layers; i++) {
        const hn_layer *x = &a->layers[i], *y = &b->layers[i];
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->out_channels, y->out_channels);
        assert_int_equal(x->kh, y->kh);
        assert_int_equal(x->kw, y->kw);
        assert_shape(x->in, y->in.c, y->in.h, y->in.w);
        assert_shape(x->out, y->out.c, y->out.h, y->out.w);
        assert_int_equal(x->in_ndim, y->in_ndim);
        assert_int_equal(x->out_ndim, y->out_ndim);
        assert_int_equal(x->param_offset, y->param_offset);
        assert_int_equal(x->param_count, y->param_count);
        assert_int_equal(x->lin_index, y->lin_index);
    }
    assert_int_equal(a->n_params, b->n_params);
    assert_int_equal(a->n_linear, b->n_linear);
    for (size_t k = 0; k < a->n_linear; k++)
        assert_int_equal(a->linear_pos[k], b->linear_pos[k]);
    assert_int_equal(a->max_act, b->max_act);
    assert_int_equal(a->finalized, b->finalized);
}

/* ================================================================ shapes */

static void test_layer_names(void **state)
{
    (void)state;
    assert_string_equal(hn_layer_type_name(HN_CONV1D), "conv1d");
    assert_string_equal(hn_layer_type_name(HN_CONV2D), "conv2d");
    assert_string_equal(hn_layer_type_name(HN_LINEAR), "linear");
    assert_string_equal(hn_layer_type_name(HN_RELU), "relu");
    assert_string_equal(hn_layer_type_name(HN_MAXPOOL1D), "maxpool1d");
    assert_string_equal(hn_layer_type_name(HN_MAXPOOL2D), "maxpool2d");
    assert_string_equal(hn_layer_type_name(HN_AVGPOOL1D), "avgpool1d");
    assert_string_equal(hn_layer_type_name(HN_AVGPOOL2D), "avgpool2d");
    assert_string_equal(hn_layer_type_name(HN_FLATTEN), "flatten");
    assert_string_equal(hn_layer_type_name((hn_layer_type)99), "unknown");
    assert_true(hn_layer_is_linear(HN_CONV1D));
    assert_true(hn_layer_is_linear(HN_CONV2D));
    assert_true(hn_layer_is_linear(HN_LINEAR));
    assert_false(hn_layer_is_linear(HN_RELU));
    assert_false(hn_layer_is_linear(HN_MAXPOOL2D));
    assert_false(hn_layer_is_linear(HN_AVGPOOL1D));
    assert_false(hn_layer_is_linear(HN_FLATTEN));
}

static void test_example(void **state)
{
    (void)state;
    hn_model *m = parse_ok(EXAMPLE);
    const hn_layer *L = m->layers;
    assert_int_equal(m->input_ndim, 3);
    assert_shape(m->input, 1, 12, 12);
    assert_int_equal(m->classes, 10);
    assert_int_equal(m->loss, HN_LOSS_CE);
    assert_int_equal(m->n_layers, 7);

    /* 0 conv2d 4, 3x3: (1,12,12) -> (4,10,10); weight [4,1,3,3] = 36 at 0 */
    assert_int_equal(L[0].type, HN_CONV2D);
    assert_shape(L[0].in, 1, 12, 12);
    assert_shape(L[0].out, 4, 10, 10);
    assert_int_equal(L[0].kh, 3);
    assert_int_equal(L[0].kw, 3);
    assert_int_equal(L[0].param_count, 36);
    assert_int_equal(L[0].param_offset, 0);
    assert_int_equal(L[0].lin_index, 0);
    assert_int_equal(L[0].in_ndim, 3);
    assert_int_equal(L[0].out_ndim, 3);
    /* 1 relu keeps (4,10,10) */
    assert_shape(L[1].out, 4, 10, 10);
    assert_int_equal(L[1].param_count, 0);
    assert_int_equal(L[1].lin_index, -1);
    /* 2 maxpool2d 2: (4,10,10) -> (4,5,5) */
    assert_shape(L[2].out, 4, 5, 5);
    assert_int_equal(L[2].kh, 2);
    assert_int_equal(L[2].kw, 2);
    /* 3 conv2d 4, 3x3: (4,5,5) -> (4,3,3); weight [4,4,3,3] = 144 at 36 */
    assert_shape(L[3].in, 4, 5, 5);
    assert_shape(L[3].out, 4, 3, 3);
    assert_int_equal(L[3].param_count, 144);
    assert_int_equal(L[3].param_offset, 36);
    assert_int_equal(L[3].lin_index, 1);
    /* 4 relu; 5 flatten: (4,3,3) -> 36 flat */
    assert_shape(L[5].out, 36, 1, 1);
    assert_int_equal(L[5].out_ndim, 1);
    /* 6 linear 10: 36 -> 10; weight [10,36] = 360 at 36 + 144 = 180 */
    assert_shape(L[6].in, 36, 1, 1);
    assert_shape(L[6].out, 10, 1, 1);
    assert_int_equal(L[6].in_ndim, 1);
    assert_int_equal(L[6].out_ndim, 1);
    assert_int_equal(L[6].kh, 1);
    assert_int_equal(L[6].kw, 1);
    assert_int_equal(L[6].param_count, 360);
    assert_int_equal(L[6].param_offset, 180);
    assert_int_equal(L[6].lin_index, 2);
    /* 36 + 144 + 360 */
    assert_int_equal(m->n_params, 540);
    assert_int_equal(m->n_linear, 3);
    assert_int_equal(m->linear_pos[0], 0);
    assert_int_equal(m->linear_pos[1], 3);
    assert_int_equal(m->linear_pos[2], 6);
    /* largest activation: 4*10*10 after the first conv */
    assert_int_equal(m->max_act, 400);
    hn_model_free(m);
}

static void test_oned(void **state)
{
    (void)state;
    hn_model *m = parse_ok(ONED);
    const hn_layer *L = m->layers;
    /* [2, 16] is (2, 1, 16) with ndim 2 */
    assert_int_equal(m->input_ndim, 2);
    assert_shape(m->input, 2, 1, 16);
    /* 0 conv1d 3, k5: (2,1,16) -> (3,1,12); weight [3,2,5] = 30 at 0 */
    assert_int_equal(L[0].kh, 1);
    assert_int_equal(L[0].kw, 5);
    assert_shape(L[0].out, 3, 1, 12);
    assert_int_equal(L[0].out_ndim, 2);
    assert_int_equal(L[0].param_count, 30);
    /* 2 maxpool1d 3: 12 -> 4; 3 avgpool1d 2: 4 -> 2 */
    assert_shape(L[2].out, 3, 1, 4);
    assert_int_equal(L[2].kh, 1);
    assert_int_equal(L[2].kw, 3);
    assert_shape(L[3].out, 3, 1, 2);
    /* 4 conv1d 4, k2: (3,1,2) -> (4,1,1); weight [4,3,2] = 24 at 30 */
    assert_shape(L[4].out, 4, 1, 1);
    assert_int_equal(L[4].out_ndim, 2);
    assert_int_equal(L[4].param_count, 24);
    assert_int_equal(L[4].param_offset, 30);
    /* 5 flatten -> 4 flat; 6 linear 5: weight [5,4] = 20 at 54 */
    assert_int_equal(L[5].out_ndim, 1);
    assert_int_equal(L[6].param_count, 20);
    assert_int_equal(L[6].param_offset, 54);
    assert_int_equal(m->n_params, 74);
    assert_int_equal(m->n_linear, 3);
    assert_int_equal(m->linear_pos[1], 4);
    /* largest: 3*12 = 36 after the first conv (input is 32) */
    assert_int_equal(m->max_act, 36);
    hn_model_free(m);

    /* pooling floors: 7 / 3 = 2 */
    m = parse_ok("{\"format\": \"hessnorm-model/1\", \"input\": [1, 9], \"classes\": 2,"
                 " \"loss\": \"mse\", \"layers\": [{\"type\": \"conv1d\", \"out_channels\": 1,"
                 " \"kernel\": 3}, {\"type\": \"maxpool1d\", \"kernel\": 3},"
                 " {\"type\": \"flatten\"}, {\"type\": \"linear\", \"out_features\": 2}]}");
    assert_shape(m->layers[1].out, 1, 1, 2);
    hn_model_free(m);

    m = parse_ok(CONVLAST);
    /* (1,1,8) -> conv k3 -> (2,1,6) -> conv k6 -> (10,1,1); 2*1*3 + 10*2*6 = 126 */
    assert_shape(m->layers[2].out, 10, 1, 1);
    assert_int_equal(m->layers[2].out_ndim, 2);
    assert_int_equal(m->n_params, 126);
    hn_model_free(m);
}

static void test_flat(void **state)
{
    (void)state;
    hn_model *m = parse_ok(FLAT);
    /* [6] is (6, 1, 1) with ndim 1 */
    assert_int_equal(m->input_ndim, 1);
    assert_shape(m->input, 6, 1, 1);
    assert_int_equal(m->loss, HN_LOSS_MSE);
    /* 6 -> 8 (48 at 0) -> relu -> 3 (24 at 48) */
    assert_int_equal(m->layers[0].param_count, 48);
    assert_int_equal(m->layers[2].param_offset, 48);
    assert_int_equal(m->layers[2].param_count, 24);
    assert_int_equal(m->n_params, 72);
    assert_int_equal(m->max_act, 8);
    hn_model_free(m);

    m = parse_ok(RECT);
    /* (2,7,9) conv 3 [2,3] -> (3,6,7), weight [3,2,2,3] = 36 */
    assert_shape(m->layers[0].out, 3, 6, 7);
    assert_int_equal(m->layers[0].kh, 2);
    assert_int_equal(m->layers[0].kw, 3);
    assert_int_equal(m->layers[0].param_count, 36);
    /* avgpool 2: (3,3,3); conv 2 k3 -> (2,1,1), weight [2,3,3,3] = 54 at 36 */
    assert_shape(m->layers[1].out, 3, 3, 3);
    assert_int_equal(m->layers[2].kh, 3);
    assert_int_equal(m->layers[2].param_count, 54);
    assert_int_equal(m->layers[2].param_offset, 36);
    /* flatten 2 -> linear 4: 8 at 90; 36 + 54 + 8 = 98 */
    assert_int_equal(m->layers[4].param_offset, 90);
    assert_int_equal(m->n_params, 98);
    assert_int_equal(m->max_act, 126);
    hn_model_free(m);
}

static void test_builder(void **state)
{
    (void)state;
    hn_err e;
    hn_model *m, *ref = parse_ok(EXAMPLE);
    size_t dims[3] = {1, 12, 12};
    assert_int_equal(hn_model_new(3, dims, 10, HN_LOSS_CE, &m, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_CONV2D, 4, 3, 3, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_RELU, 0, 0, 0, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_MAXPOOL2D, 0, 2, 2, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_CONV2D, 4, 3, 3, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_RELU, 0, 0, 0, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_FLATTEN, 0, 0, 0, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_LINEAR, 10, 0, 0, &e), HN_OK);
    assert_false(m->finalized);
    assert_int_equal(hn_model_finalize(m, &e), HN_OK);
    models_equal(m, ref);
    /* finalize is idempotent */
    assert_int_equal(hn_model_finalize(m, &e), HN_OK);
    models_equal(m, ref);

    /* adding a layer un-finalizes; the new shape problem is reported
     * without a file prefix and names the layer */
    assert_int_equal(hn_model_add(m, HN_RELU, 0, 0, 0, &e), HN_OK);
    assert_false(m->finalized);
    assert_int_equal(hn_model_finalize(m, &e), HN_EINVAL);
    assert_int_equal(strncmp(e.msg, "layers[7].type", 14), 0);
    assert_int_equal(hn_model_add(m, 42, 0, 0, 0, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "layers[8].type"));
    hn_model_free(m);
    hn_model_free(ref);

    /* builder argument checks */
    m = (hn_model *)1;
    assert_int_equal(hn_model_new(0, dims, 10, HN_LOSS_CE, &m, &e), HN_EINVAL);
    assert_null(m);
    assert_int_equal(hn_model_new(4, dims, 10, HN_LOSS_CE, &m, &e), HN_EINVAL);
    size_t zero[2] = {3, 0};
    assert_int_equal(hn_model_new(2, zero, 10, HN_LOSS_CE, &m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "input[1]"));
    assert_int_equal(hn_model_new(2, dims, 0, HN_LOSS_CE, &m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "classes"));
    assert_int_equal(hn_model_new(2, dims, 3, (hn_loss_type)7, &m, &e), HN_EINVAL);

    /* no layers; zero sizes; non-square pooling */
    size_t d1[1] = {5};
    assert_int_equal(hn_model_new(1, d1, 2, HN_LOSS_MSE, &m, &e), HN_OK);
    assert_int_equal(hn_model_finalize(m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "layers"));
    assert_int_equal(hn_model_add(m, HN_LINEAR, 0, 0, 0, &e), HN_OK);
    assert_int_equal(hn_model_finalize(m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "layers[0].out_features"));
    hn_model_free(m);
    size_t d3[3] = {1, 6, 6};
    assert_int_equal(hn_model_new(3, d3, 2, HN_LOSS_MSE, &m, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_CONV2D, 2, 0, 3, &e), HN_OK);
    assert_int_equal(hn_model_finalize(m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "layers[0].kernel"));
    m->layers[0].kh = 3;
    assert_int_equal(hn_model_add(m, HN_MAXPOOL2D, 0, 2, 1, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_FLATTEN, 0, 0, 0, &e), HN_OK);
    assert_int_equal(hn_model_add(m, HN_LINEAR, 2, 0, 0, &e), HN_OK);
    assert_int_equal(hn_model_finalize(m, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "layers[1].kernel"));
    assert_non_null(strstr(e.msg, "square"));
    m->layers[1].kw = 2;
    assert_int_equal(hn_model_finalize(m, &e), HN_OK);
    /* (1,6,6) -> (2,4,4) -> (2,2,2) -> 8 -> 2 */
    assert_int_equal(m->n_params, 2 * 9 + 16);
    hn_model_free(m);
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    const char *texts[] = {EXAMPLE, ONED, FLAT, RECT, CONVLAST};
    hn_err e;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        hn_model *m = parse_ok(texts[i]), *back = NULL, *c;
        char *js = hn_model_to_json(m);
        assert_non_null(js);
        assert_int_equal(hn_model_parse(js, strlen(js), "rt.json", &back, &e), HN_OK);
        models_equal(m, back);
        /* the text is a fixed point */
        char *js2 = hn_model_to_json(back);
        assert_string_equal(js, js2);
        hn_free(js2);
        hn_model_free(back);

        const char *p = tpath("saved.json");
        assert_int_equal(hn_model_save(m, p, &e), HN_OK);
        assert_int_equal(hn_model_load(p, &back, &e), HN_OK);
        models_equal(m, back);
        hn_model_free(back);

        c = hn_model_clone(m);
        assert_non_null(c);
        models_equal(m, c);
        assert_true(c->layers != m->layers);
        assert_true(c->linear_pos != m->linear_pos);
        hn_model_free(c);
        hn_free(js);
        hn_model_free(m);
    }

    /* the example's kernels come back in the documented forms */
    hn_model *m = parse_ok(EXAMPLE);
    char *js = hn_model_to_json(m);
    assert_non_null(strstr(js, "\"kernel\": [3, 3]"));
    assert_non_null(strstr(js, "{\"type\": \"maxpool2d\", \"kernel\": 2}"));
    assert_non_null(strstr(js, "\"out_features\": 10"));
    hn_free(js);
    hn_model_free(m);
    m = parse_ok(ONED);
    js = hn_model_to_json(m);
    assert_non_null(strstr(js, "{\"type\": \"conv1d\", \"out_channels\": 3, \"kernel\": 5}"));
    assert_non_null(strstr(js, "\"input\": [2, 16]"));
    hn_free(js);
    hn_model_free(m);
}

/* ================================================================ bad JSON */

static void expect_parse_bad(const char *text, int code, const char *field)
{
    hn_model *m = (hn_model *)1;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_model_parse(text, strlen(text), "model.json", &m, &e);
    if (rc != code || !strstr(e.msg, field))
        print_error("text: %s\nrc %d (want %d), message: %s\n", text, rc, code, e.msg);
    assert_int_equal(rc, code);
    assert_null(m);
    assert_int_equal(strncmp(e.msg, "model.json: ", 12), 0);
    assert_non_null(strstr(e.msg, field));
    assert_null(strchr(e.msg, '\n'));
}

#define HDR(input, classes, loss) \
    "{\"format\": \"hessnorm-model/1\", \"input\": " input ", \"classes\": " classes \
    ", \"loss\": \"" loss "\", \"layers\": "
#define IMG HDR("[1, 12, 12]", "10", "cross_entropy")
#define LIN10 "{\"type\": \"linear\", \"out_features\": 10}"
#define FL "{\"type\": \"flatten\"}"

static void test_bad_json_syntax(void **state)
{
    (void)state;
    expect_parse_bad("{", HN_EFORMAT, "invalid JSON");
    expect_parse_bad("", HN_EFORMAT, "invalid JSON");
    expect_parse_bad("{\"format\": \"hessnorm-model/1\",}", HN_EFORMAT, "invalid JSON");
    expect_parse_bad("[1, 2]", HN_EFORMAT, "top level");
    expect_parse_bad("{\"format\": \"hessnorm-model/1\", \"format\": \"hessnorm-model/1\"}",
                     HN_EFORMAT, "duplicate");
    expect_parse_bad(IMG "[" FL ", " LIN10 "], \"classes\": 10}", HN_EFORMAT, "duplicate");
    expect_parse_bad(IMG "[{\"type\": \"linear\", \"type\": \"linear\"}]}", HN_EFORMAT,
                     "duplicate");
    expect_parse_bad(IMG "[" FL ", {\"type\": \"linear\", \"out_features\": 99999999999999999999}]}",
                     HN_EFORMAT, "invalid JSON");
    /* deep nesting is stopped by the parser, not the stack */
    char *deep = malloc(20001);
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    expect_parse_bad(deep, HN_EFORMAT, "invalid JSON");
    free(deep);

    /* a file: the message names the path */
    hn_model *m;
    hn_err e;
    const char *p = tpath("broken.json");
    assert_int_equal(hn_write_file_atomic(p, "{\"format\": 1", 12, &e), HN_OK);
    assert_int_equal(hn_model_load(p, &m, &e), HN_EFORMAT);
    assert_null(m);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    assert_int_equal(hn_model_load(tpath("nonexistent.json"), &m, &e), HN_EIO);
    assert_non_null(strstr(e.msg, "nonexistent.json"));
}

/* hn_write_file_atomic removes the temporaries NAME.tmp.XXXXXX that a
 * killed writer of the same NAME left (exactly mkstemp's pattern: six
 * alphanumerics), and nothing else. */
static void test_atomic_write_stale(void **state)
{
    (void)state;
    hn_err e;
    static const char *const stale[] = {"w.json.tmp.Ab12Cd", "w.json.tmp.zzzzzz"};
    static const char *const kept[] = {"w.json.tmp.Ab12C", "w.json.tmp.Ab12Cd.bak",
                                       "v.json.tmp.Ab12Cd", "w.json.tmp.Ab-2Cd", "xw.json.tmp.Ab12Cd"};
    char p[512];
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(hn_write_file_atomic(tpath(stale[i]), "old", 3, &e), HN_OK);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(hn_write_file_atomic(tpath(kept[i]), "keep", 4, &e), HN_OK);
    snprintf(p, sizeof p, "%s", tpath("w.json"));
    assert_int_equal(hn_write_file_atomic(p, "new", 3, &e), HN_OK);
    struct stat st;
    for (size_t i = 0; i < 2; i++)
        assert_int_not_equal(stat(tpath(stale[i]), &st), 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(stat(tpath(kept[i]), &st), 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(hn_read_file(p, &buf, &len, &e), HN_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "new", 3);
    hn_free(buf);
    for (size_t i = 0; i < 5; i++)
        unlink(tpath(kept[i]));
}

/* Writers of one NAME in several processes at once (two shards writing
 * sweep.json): each write succeeds, the file is one writer's whole, no
 * temporary is left, and a temporary that is being written (its lock
 * held) is not removed as stale, while the same file unlocked is. */
static size_t count_temporaries(const char *prefix)
{
    DIR *d = opendir(tpath(""));
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += !strncmp(de->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

static void test_atomic_write_concurrent(void **state)
{
    (void)state;
    enum { WRITERS = 3, WRITES = 200, LEN = 32768 };
    char p[512];
    snprintf(p, sizeof p, "%s", tpath("c.json"));
    pid_t pid[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pid[w] = fork();
        assert_true(pid[w] >= 0);
        if (pid[w] == 0) {
            static char buf[LEN];
            memset(buf, 'a' + w, sizeof buf);
            int failed = 0;
            hn_err e;
            for (int i = 0; i < WRITES; i++)
                failed += hn_write_file_atomic(p, buf, sizeof buf, &e) != HN_OK;
            _exit(failed ? 1 : 0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st = 0;
        assert_int_equal(waitpid(pid[w], &st, 0), pid[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0); /* 1: a write failed (its temporary removed by another) */
    }
    char *buf = NULL;
    size_t len = 0;
    hn_err e;
    assert_int_equal(hn_read_file(p, &buf, &len, &e), HN_OK);
    assert_int_equal(len, LEN);
    for (size_t i = 1; i < len; i++)
        assert_int_equal(buf[i], buf[0]); /* one writer's whole */
    hn_free(buf);
    assert_int_equal(count_temporaries("c.json.tmp."), 0);

    /* a temporary being written (locked) stays; unlocked, it is stale */
    char live[512];
    snprintf(live, sizeof live, "%s", tpath("c.json.tmp.Live01"));
    int fd = open(live, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(hn_write_file_atomic(p, "x", 1, &e), HN_OK);
    struct stat st;
    assert_int_equal(stat(live, &st), 0);
    close(fd);
    assert_int_equal(hn_write_file_atomic(p, "y", 1, &e), HN_OK);
    assert_int_not_equal(stat(live, &st), 0);
    unlink(p);
}

static void test_bad_json_top(void **state)
{
    (void)state;
    expect_parse_bad("{}", HN_EFORMAT, "format: missing");
    expect_parse_bad("{\"format\": \"hessnorm-model/2\"}", HN_EFORMAT, "format");
    expect_parse_bad("{\"format\": 1}", HN_EFORMAT, "format");
    expect_parse_bad(IMG "[" FL ", " LIN10 "], \"classs\": 3}", HN_EFORMAT, "classs: unknown field");
    expect_parse_bad("{\"format\": \"hessnorm-model/1\"}", HN_EFORMAT, "input: missing");
    expect_parse_bad(HDR("[]", "10", "mse") "[" LIN10 "]}", HN_EFORMAT, "input");
    expect_parse_bad(HDR("[1, 2, 3, 4]", "10", "mse") "[" LIN10 "]}", HN_EFORMAT, "input");
    expect_parse_bad(HDR("12", "10", "mse") "[" LIN10 "]}", HN_EFORMAT, "input");
    expect_parse_bad(HDR("[0, 4]", "10", "mse") "[" LIN10 "]}", HN_EFORMAT,
                     "input[0]: must be a positive integer");
    expect_parse_bad(HDR("[3, -4]", "10", "mse") "[" LIN10 "]}", HN_EFORMAT, "input[1]");
    expect_parse_bad(HDR("[1.5]", "10", "mse") "[" LIN10 "]}", HN_EFORMAT, "input[0]");
    expect_parse_bad(HDR("[\"3\"]", "10", "mse") "[" LIN10 "]}", HN_EFORMAT, "input[0]");
    expect_parse_bad(HDR("[4294967296]", "10", "mse") "[" LIN10 "]}", HN_ERANGE, "input[0]");
    expect_parse_bad("{\"format\": \"hessnorm-model/1\", \"input\": [3]}", HN_EFORMAT,
                     "classes: missing");
    expect_parse_bad(HDR("[3]", "0", "mse") "[" LIN10 "]}", HN_EFORMAT, "classes");
    expect_parse_bad(HDR("[3]", "2.5", "mse") "[" LIN10 "]}", HN_EFORMAT, "classes");
    expect_parse_bad(HDR("[3]", "\"10\"", "mse") "[" LIN10 "]}", HN_EFORMAT, "classes");
    expect_parse_bad(HDR("[3]", "true", "mse") "[" LIN10 "]}", HN_EFORMAT, "classes");
    expect_parse_bad(HDR("[3]", "10", "hinge") "[" LIN10 "]}", HN_EFORMAT, "loss");
    expect_parse_bad("{\"format\": \"hessnorm-model/1\", \"input\": [3], \"classes\": 2, "
                     "\"loss\": 3}",
                     HN_EFORMAT, "loss");
    expect_parse_bad("{\"format\": \"hessnorm-model/1\", \"input\": [3], \"classes\": 2, "
                     "\"loss\": \"mse\"}",
                     HN_EFORMAT, "layers: missing");
    expect_parse_bad(HDR("[3]", "10", "mse") "[]}", HN_EFORMAT, "layers");
    expect_parse_bad(HDR("[3]", "10", "mse") "{}}", HN_EFORMAT, "layers");
    expect_parse_bad(HDR("[3]", "10", "mse") "[" LIN10 ", 5]}", HN_EFORMAT, "layers[1]");
}

static void test_bad_json_layers(void **state)
{
    (void)state;
    expect_parse_bad(IMG "[{\"out_features\": 3}]}", HN_EFORMAT, "layers[0].type: missing");
    expect_parse_bad(IMG "[{\"type\": 5}]}", HN_EFORMAT, "layers[0].type");
    expect_parse_bad(IMG "[" FL ", {\"type\": \"dense\", \"out_features\": 10}]}", HN_EFORMAT,
                     "layers[1].type: unknown layer type \"dense\"");
    expect_parse_bad(IMG "[" FL ", {\"type\": \"linear\", \"out_features\": 10, \"bias\": true}]}",
                     HN_EFORMAT, "layers[1].bias: unknown field");
    expect_parse_bad(IMG "[{\"type\": \"relu\", \"kernel\": 2}]}", HN_EFORMAT,
                     "layers[0].kernel: unknown field");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_features\": 4, \"kernel\": 3}]}",
                     HN_EFORMAT, "layers[0].out_features: unknown field");
    expect_parse_bad(IMG "[{\"type\": \"maxpool2d\", \"kernel\": 2, \"stride\": 1}]}", HN_EFORMAT,
                     "layers[0].stride");
    expect_parse_bad(IMG "[" FL ", {\"type\": \"linear\"}]}", HN_EFORMAT,
                     "layers[1].out_features: missing");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4}]}", HN_EFORMAT,
                     "layers[0].kernel: missing");
    const char *bad_oc[] = {"0", "-2", "1.5", "\"4\"", "null", "true", "[4]"};
    for (size_t i = 0; i < sizeof bad_oc / sizeof bad_oc[0]; i++) {
        char t[512];
        snprintf(t, sizeof t,
                 IMG "[{\"type\": \"conv2d\", \"out_channels\": %s, \"kernel\": 3}]}", bad_oc[i]);
        expect_parse_bad(t, HN_EFORMAT, "layers[0].out_channels: must be a positive integer");
    }
    expect_parse_bad(IMG "[" FL ", {\"type\": \"linear\", \"out_features\": 2147483649}]}",
                     HN_ERANGE, "layers[1].out_features");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [3]}]}",
                     HN_EFORMAT, "layers[0].kernel");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [3, 3, 3]}]}",
                     HN_EFORMAT, "layers[0].kernel");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [3, 0]}]}",
                     HN_EFORMAT, "layers[0].kernel[1]");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [\"3\", 3]}]}",
                     HN_EFORMAT, "layers[0].kernel[0]");
    expect_parse_bad(HDR("[2, 16]", "10", "mse")
                     "[{\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": [3]}]}",
                     HN_EFORMAT, "layers[0].kernel: must be a positive integer");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3},"
                         " {\"type\": \"maxpool2d\", \"kernel\": [2, 2]}]}",
                     HN_EFORMAT, "layers[1].kernel");
}

static void test_bad_structure(void **state)
{
    (void)state;
    /* kernels larger than the input */
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 13}]}",
                     HN_ESHAPE, "layers[0].kernel: 13 larger than input 12");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": [3, 13]}]}",
                     HN_ESHAPE, "layers[0].kernel: 13 larger than input 12");
    expect_parse_bad(HDR("[2, 16]", "10", "mse")
                     "[{\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": 17}]}",
                     HN_ESHAPE, "layers[0].kernel: 17 larger than input 16");
    /* (1,5,5) -> conv 3 -> (4,3,3) -> relu -> maxpool 5: empty output */
    expect_parse_bad(HDR("[1, 5, 5]", "10", "mse")
                     "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3},"
                     " {\"type\": \"relu\"}, {\"type\": \"maxpool2d\", \"kernel\": 5}," FL
                     ", " LIN10 "]}",
                     HN_ESHAPE, "layers[2].kernel: 5 larger than input 3");
    expect_parse_bad(HDR("[2, 16]", "10", "mse")
                     "[{\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": 3},"
                     " {\"type\": \"avgpool1d\", \"kernel\": 15}," FL ", " LIN10 "]}",
                     HN_ESHAPE, "layers[1].kernel: 15 larger than input 14");

    /* shapes that do not chain */
    expect_parse_bad(IMG "[" LIN10 "]}", HN_ESHAPE, "layers[0]: linear needs a flat");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3}, " LIN10
                         "]}",
                     HN_ESHAPE, "layers[1]: linear");
    expect_parse_bad(HDR("[2, 16]", "10", "mse")
                     "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3}]}",
                     HN_ESHAPE, "layers[0]: conv2d needs an image");
    expect_parse_bad(IMG "[{\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": 3}]}",
                     HN_ESHAPE, "layers[0]: conv1d needs a 1-D");
    expect_parse_bad(HDR("[16]", "10", "mse")
                     "[{\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": 3}]}",
                     HN_ESHAPE, "layers[0]: conv1d");
    expect_parse_bad(HDR("[2, 16]", "10", "mse")
                     "[{\"type\": \"conv1d\", \"out_channels\": 4, \"kernel\": 3},"
                     " {\"type\": \"maxpool2d\", \"kernel\": 2}]}",
                     HN_ESHAPE, "layers[1]: maxpool2d");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3},"
                         " {\"type\": \"avgpool1d\", \"kernel\": 2}]}",
                     HN_ESHAPE, "layers[1]: avgpool1d");
    expect_parse_bad(HDR("[8]", "3", "mse")
                     "[{\"type\": \"linear\", \"out_features\": 6},"
                     " {\"type\": \"maxpool1d\", \"kernel\": 2}]}",
                     HN_ESHAPE, "layers[1]: maxpool1d");

    /* first / last layer must be linear operators */
    expect_parse_bad(IMG "[{\"type\": \"relu\"}, " FL ", " LIN10 "]}", HN_EINVAL,
                     "layers[0].type: the first layer");
    expect_parse_bad(IMG "[" FL ", " LIN10 "]}", HN_EINVAL, "layers[0].type");
    expect_parse_bad(IMG "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3}, " FL
                         ", " LIN10 ", {\"type\": \"relu\"}]}",
                     HN_EINVAL, "layers[3].type: the last layer");
    /* last output size != classes */
    expect_parse_bad(HDR("[1, 12, 12]", "9", "cross_entropy")
                     "[{\"type\": \"conv2d\", \"out_channels\": 4, \"kernel\": 3}, " FL
                     ", " LIN10 "]}",
                     HN_ESHAPE, "layers[2]: output size 10 does not match classes 9");
}

static void test_bad_overflow(void **state)
{
    (void)state;
    /* every value is within the per-field limit, the products are not */
    expect_parse_bad(HDR("[2147483648, 2147483648, 2147483648]", "10", "mse") "[" LIN10 "]}",
                     HN_ERANGE, "input");
    /* (2^31, 2, 2) is 2^33 elements, but the weight [2^31, 2^31, 2, 2] is 2^64 */
    expect_parse_bad(HDR("[2147483648, 2, 2]", "10", "mse")
                     "[{\"type\": \"conv2d\", \"out_channels\": 2147483648, \"kernel\": 2}]}",
                     HN_ERANGE, "layers[0]: parameter count");
    /* (1, 2^31, 2^31) is 2^62 elements; 2^31 output channels of it overflow */
    expect_parse_bad(HDR("[1, 2147483648, 2147483648]", "10", "mse")
                     "[{\"type\": \"conv2d\", \"out_channels\": 2147483648, \"kernel\": 1}]}",
                     HN_ERANGE, "layers[0]: output size");
    /* total parameter count: 2^62 + 2^62 + ... via four linear layers of
     * 2^31 x 2^31 each overflows 2^64 */
    expect_parse_bad(HDR("[2147483648]", "10", "mse")
                     "[{\"type\": \"linear\", \"out_features\": 2147483648},"
                     " {\"type\": \"linear\", \"out_features\": 2147483648},"
                     " {\"type\": \"linear\", \"out_features\": 2147483648},"
                     " {\"type\": \"linear\", \"out_features\": 2147483648},"
                     " {\"type\": \"linear\", \"out_features\": 10}]}",
                     HN_ERANGE, "layers[3]: total parameter count");
}

/* ================================================================ weights */

static void write_tensors(const char *path, int n, const char *const *names,
                          const hn_st_dtype *dt, const int *nd, const size_t (*shapes)[4],
                          const void *const *data)
{
    hn_err e;
    hn_st_writer *w = hn_st_writer_new();
    for (int i = 0; i < n; i++)
        assert_int_equal(hn_st_writer_add(w, names[i], dt[i], nd[i], shapes[i], data[i], &e),
                         HN_OK);
    assert_int_equal(hn_st_writer_save(w, path, &e), HN_OK);
    hn_st_writer_free(w);
}

static void test_weights_roundtrip(void **state)
{
    (void)state;
    hn_err e;
    const char *texts[] = {EXAMPLE, ONED, FLAT, RECT, CONVLAST};
    gsl_rng *r = hn_test_rng(5);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        hn_model *m = parse_ok(texts[i]);
        double *th = malloc(m->n_params * sizeof *th), *back = calloc(m->n_params, sizeof *back);
        hn_test_fill_uniform(r, th, m->n_params, -1, 1);
        const char *p = tpath("w.safetensors");
        assert_int_equal(hn_weights_save(m, th, p, &e), HN_OK);
        assert_int_equal(hn_weights_load(m, p, back, &e), HN_OK);
        assert_vec_close(back, th, m->n_params, 0.0); /* F64 round trip is bit-exact */
        /* the file holds exactly the PyTorch names and layouts */
        hn_st_file *f;
        assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
        assert_int_equal(f->n_tensors, m->n_linear);
        for (size_t k = 0; k < m->n_linear; k++) {
            char nm[32];
            const hn_layer *l = &m->layers[m->linear_pos[k]];
            snprintf(nm, sizeof nm, "%zu.weight", m->linear_pos[k]);
            const hn_st_tensor *t = hn_st_find(f, nm);
            assert_non_null(t);
            assert_int_equal(t->dtype, HN_ST_F64);
            assert_int_equal(t->numel, l->param_count);
            assert_int_equal(t->shape[0], l->out_channels);
            assert_int_equal(t->shape[1], l->in.c);
            assert_int_equal(t->ndim, l->type == HN_LINEAR ? 2 : l->type == HN_CONV1D ? 3 : 4);
        }
        hn_st_free(f);
        free(th);
        free(back);
        hn_model_free(m);
    }
    gsl_rng_free(r);
}

/* theta follows the C order of each PyTorch layout, layers in order */
static void test_weights_order_and_f32(void **state)
{
    (void)state;
    hn_err e;
    hn_model *m = parse_ok(EXAMPLE);
    float w0[36], w3[144], w6[360];
    /* value encodes the index: o*1000 + i*100 + y*10 + x (exact in F32) */
    for (int o = 0; o < 4; o++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                w0[(o * 3 + y) * 3 + x] = (float)(o * 1000 + y * 10 + x);
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < 4; i++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    w3[((o * 4 + i) * 3 + y) * 3 + x] = (float)(o * 1000 + i * 100 + y * 10 + x);
    for (int o = 0; o < 10; o++)
        for (int i = 0; i < 36; i++)
            w6[o * 36 + i] = (float)(o * 1000 + i) + 0.5f;
    const char *names[] = {"6.weight", "0.weight", "3.weight"};
    const hn_st_dtype dt[] = {HN_ST_F32, HN_ST_F32, HN_ST_F32};
    const int nd[] = {2, 4, 4};
    const size_t shapes[][4] = {{10, 36}, {4, 1, 3, 3}, {4, 4, 3, 3}};
    const void *data[] = {w6, w0, w3};
    const char *p = tpath("w32.safetensors");
    write_tensors(p, 3, names, dt, nd, shapes, data);
    double th[540];
    assert_int_equal(hn_weights_load(m, p, th, &e), HN_OK);
    /* F32 values that are exact integers (+0.5) convert exactly */
    assert_true(th[0] == 0.0);
    assert_true(th[(2 * 3 + 1) * 3 + 2] == 2012.0);           /* w0[2,0,1,2] */
    assert_true(th[36 + ((3 * 4 + 1) * 3 + 2) * 3 + 0] == 3120.0); /* w3[3,1,2,0] */
    assert_true(th[180 + 7 * 36 + 35] == 7035.5);             /* w6[7,35] */
    assert_true(th[539] == 9035.5);
    hn_model_free(m);
}

static void expect_weights_bad(const hn_model *m, const char *fname, int n,
                               const char *const *names, const hn_st_dtype *dt, const int *nd,
                               const size_t (*shapes)[4], const void *const *data, int code,
                               const char *field)
{
    hn_err e;
    const char *p = tpath(fname);
    write_tensors(p, n, names, dt, nd, shapes, data);
    double *th = calloc(m->n_params, sizeof *th);
    hn_err_clear(&e);
    int rc = hn_weights_load(m, p, th, &e);
    if (rc != code || !strstr(e.msg, field))
        print_error("%s: rc %d (want %d): %s\n", fname, rc, code, e.msg);
    assert_int_equal(rc, code);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    assert_non_null(strstr(e.msg, field));
    assert_null(strchr(e.msg, '\n'));
    free(th);
}

static void test_weights_bad(void **state)
{
    (void)state;
    hn_model *m = parse_ok(EXAMPLE);
    static double w0[36], w3[144], w6[360], b0[4], bad3[144];
    int64_t i0[36] = {0};
    for (int i = 0; i < 144; i++)
        bad3[i] = 0.25 * i;
    bad3[5] = NAN;

    /* the good file, for reference */
    {
        const char *nm[] = {"0.weight", "3.weight", "6.weight"};
        hn_st_dtype dt[] = {HN_ST_F64, HN_ST_F64, HN_ST_F64};
        int nd[] = {4, 4, 2};
        const size_t sh[][4] = {{4, 1, 3, 3}, {4, 4, 3, 3}, {10, 36}};
        const void *d[] = {w0, w3, w6};
        double th[540];
        hn_err e;
        write_tensors(tpath("good.st"), 3, nm, dt, nd, sh, d);
        assert_int_equal(hn_weights_load(m, tpath("good.st"), th, &e), HN_OK);
    }
    /* missing tensor */
    {
        const char *nm[] = {"0.weight", "6.weight"};
        hn_st_dtype dt[] = {HN_ST_F64, HN_ST_F64};
        int nd[] = {4, 2};
        const size_t sh[][4] = {{4, 1, 3, 3}, {10, 36}};
        const void *d[] = {w0, w6};
        expect_weights_bad(m, "missing.st", 2, nm, dt, nd, sh, d, HN_EFORMAT,
                           "\"3.weight\": missing");
    }
    /* extra tensors: a bias, a weight for a relu position, a weight past the end */
    const char *extra[] = {"0.bias", "1.weight", "7.weight", "weight", "00.weight"};
    for (int k = 0; k < 5; k++) {
        const char *nm[] = {"0.weight", "3.weight", "6.weight", extra[k]};
        hn_st_dtype dt[] = {HN_ST_F64, HN_ST_F64, HN_ST_F64, HN_ST_F64};
        int nd[] = {4, 4, 2, 1};
        const size_t sh[][4] = {{4, 1, 3, 3}, {4, 4, 3, 3}, {10, 36}, {4}};
        const void *d[] = {w0, w3, w6, b0};
        char want[40];
        snprintf(want, sizeof want, "\"%s\": unexpected", extra[k]);
        expect_weights_bad(m, "extra.st", 4, nm, dt, nd, sh, d, HN_EFORMAT, want);
    }
    /* wrong shapes: transposed linear, conv flattened, wrong in-channels */
    {
        const char *nm[] = {"0.weight", "3.weight", "6.weight"};
        hn_st_dtype dt[] = {HN_ST_F64, HN_ST_F64, HN_ST_F64};
        int nd[] = {4, 4, 2};
        const size_t sh[][4] = {{4, 1, 3, 3}, {4, 4, 3, 3}, {36, 10}};
        const void *d[] = {w0, w3, w6};
        expect_weights_bad(m, "shape1.st", 3, nm, dt, nd, sh, d, HN_ESHAPE,
                           "\"6.weight\": shape [36, 10]");
        int nd2[] = {3, 4, 2};
        const size_t sh2[][4] = {{4, 1, 9}, {4, 4, 3, 3}, {10, 36}};
        expect_weights_bad(m, "shape2.st", 3, nm, dt, nd2, sh2, d, HN_ESHAPE,
                           "\"0.weight\": shape [4, 1, 9]");
        const size_t sh3[][4] = {{4, 1, 3, 3}, {4, 2, 3, 6}, {10, 36}};
        expect_weights_bad(m, "shape3.st", 3, nm, dt, nd, sh3, d, HN_ESHAPE, "\"3.weight\"");
    }
    /* wrong dtype */
    {
        const char *nm[] = {"0.weight", "3.weight", "6.weight"};
        hn_st_dtype dt[] = {HN_ST_I64, HN_ST_F64, HN_ST_F64};
        int nd[] = {4, 4, 2};
        const size_t sh[][4] = {{4, 1, 3, 3}, {4, 4, 3, 3}, {10, 36}};
        const void *d[] = {i0, w3, w6};
        expect_weights_bad(m, "dtype.st", 3, nm, dt, nd, sh, d, HN_EFORMAT,
                           "\"0.weight\": dtype I64");
    }
    /* NaN in the weights: names the tensor and the flat index */
    {
        const char *nm[] = {"0.weight", "3.weight", "6.weight"};
        hn_st_dtype dt[] = {HN_ST_F64, HN_ST_F64, HN_ST_F64};
        int nd[] = {4, 4, 2};
        const size_t sh[][4] = {{4, 1, 3, 3}, {4, 4, 3, 3}, {10, 36}};
        const void *d[] = {w0, bad3, w6};
        expect_weights_bad(m, "nan.st", 3, nm, dt, nd, sh, d, HN_EINVAL, "\"3.weight\": element 5");
    }

    /* not a safetensors file at all */
    hn_err e;
    double th[540];
    const char *p = tpath("junk.st");
    assert_int_equal(hn_write_file_atomic(p, "junk", 4, &e), HN_OK);
    assert_int_equal(hn_weights_load(m, p, th, &e), HN_EFORMAT);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    /* saving refuses non-finite parameters */
    memset(th, 0, sizeof th);
    th[100] = INFINITY;
    assert_int_equal(hn_weights_save(m, th, tpath("inf.st"), &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "theta[100]"));
    /* an unfinalized model is refused */
    m->finalized = 0;
    assert_int_equal(hn_weights_load(m, tpath("good.st"), th, &e), HN_EINVAL);
    m->finalized = 1;
    hn_model_free(m);
}

/* ================================================================ samples */

static void samples_equal(const hn_samples *a, const hn_samples *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->in_size, b->in_size);
    assert_int_equal(a->classes, b->classes);
    assert_int_equal(a->loss, b->loss);
    assert_vec_close(a->x, b->x, a->n * a->in_size, 0.0); /* F64 round trip: bit-exact */
    if (a->loss == HN_LOSS_CE)
        for (size_t i = 0; i < a->n; i++)
            assert_int_equal(a->y_class[i], b->y_class[i]);
    else
        assert_vec_close(a->y_vec, b->y_vec, a->n * a->classes, 0.0); /* bit-exact */
}

static void test_samples_roundtrip(void **state)
{
    (void)state;
    hn_err e;
    gsl_rng *r = hn_test_rng(9);
    const char *texts[] = {EXAMPLE, ONED, FLAT, RECT};
    for (size_t t = 0; t < 4; t++) {
        hn_model *m = parse_ok(texts[t]);
        for (size_t n = 1; n <= 3; n++)
            for (int batched = 0; batched <= 1; batched++) {
                hn_samples *s, *back;
                assert_int_equal(hn_samples_alloc(m, n, &s, &e), HN_OK);
                s->batched = batched;
                hn_test_fill_uniform(r, s->x, n * s->in_size, -2, 2);
                for (size_t i = 0; i < n; i++) {
                    if (m->loss == HN_LOSS_CE)
                        s->y_class[i] = (long)gsl_rng_uniform_int(r, m->classes);
                    else
                        hn_test_fill_uniform(r, s->y_vec + i * m->classes, m->classes, -1, 1);
                }
                const char *p = tpath("s.safetensors");
                assert_int_equal(hn_samples_save(m, s, p, &e), HN_OK);
                assert_int_equal(hn_samples_load(m, p, &back, &e), HN_OK);
                samples_equal(s, back);
                assert_int_equal(back->batched, batched || n > 1);
                /* on disk: x is [input] or [N, input]; y is I64 (CE) or F64 (MSE) */
                hn_st_file *f;
                assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
                const hn_st_tensor *tx = hn_st_find(f, "x"), *ty = hn_st_find(f, "y");
                int b = batched || n > 1;
                assert_int_equal(tx->ndim, m->input_ndim + b);
                assert_int_equal(tx->dtype, HN_ST_F64);
                if (b)
                    assert_int_equal(tx->shape[0], n);
                assert_int_equal(tx->shape[b], m->input_dims[0]);
                assert_int_equal(ty->dtype, m->loss == HN_LOSS_CE ? HN_ST_I64 : HN_ST_F64);
                assert_int_equal(ty->ndim, (m->loss == HN_LOSS_CE ? 0 : 1) + b);
                hn_st_free(f);
                hn_samples_free(back);
                hn_samples_free(s);
            }
        hn_model_free(m);
    }
    gsl_rng_free(r);

    /* what a PyTorch user writes: x float32 unbatched, y int64 scalar;
     * and a batch with int32 labels */
    hn_model *m = parse_ok(FLAT);
    hn_model *mc = parse_ok(EXAMPLE);
    float x6[6] = {1, 2, 3, 4, 5, 6};
    float y3[3] = {0.5f, 0, -1};
    {
        const char *nm[] = {"x", "y"};
        hn_st_dtype dt[] = {HN_ST_F32, HN_ST_F32};
        int nd[] = {1, 1};
        const size_t sh[][4] = {{6}, {3}};
        const void *d[] = {x6, y3};
        write_tensors(tpath("f32.st"), 2, nm, dt, nd, sh, d);
        hn_samples *s;
        assert_int_equal(hn_samples_load(m, tpath("f32.st"), &s, &e), HN_OK);
        assert_int_equal(s->n, 1);
        assert_int_equal(s->batched, 0);
        assert_true(s->x[5] == 6.0 && s->y_vec[0] == 0.5 && s->y_vec[2] == -1.0);
        hn_samples_free(s);
    }
    {
        static double x2[2 * 144];
        int32_t y2[2] = {9, 0};
        const char *nm[] = {"y", "x"};
        hn_st_dtype dt[] = {HN_ST_I32, HN_ST_F64};
        int nd[] = {1, 4};
        const size_t sh[][4] = {{2}, {2, 1, 12, 12}};
        const void *d[] = {y2, x2};
        write_tensors(tpath("i32.st"), 2, nm, dt, nd, sh, d);
        hn_samples *s;
        assert_int_equal(hn_samples_load(mc, tpath("i32.st"), &s, &e), HN_OK);
        assert_int_equal(s->n, 2);
        assert_int_equal(s->batched, 1);
        assert_int_equal(s->y_class[0], 9);
        assert_int_equal(s->y_class[1], 0);
        hn_samples_free(s);
    }
    hn_model_free(m);
    hn_model_free(mc);
}

static void expect_samples_bad(const hn_model *m, const char *fname, int n,
                               const char *const *names, const hn_st_dtype *dt, const int *nd,
                               const size_t (*shapes)[4], const void *const *data, int code,
                               const char *field)
{
    hn_err e;
    hn_samples *s = (hn_samples *)1;
    const char *p = tpath(fname);
    write_tensors(p, n, names, dt, nd, shapes, data);
    hn_err_clear(&e);
    int rc = hn_samples_load(m, p, &s, &e);
    if (rc != code || !strstr(e.msg, field))
        print_error("%s: rc %d (want %d): %s\n", fname, rc, code, e.msg);
    assert_int_equal(rc, code);
    assert_null(s);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    assert_non_null(strstr(e.msg, field));
    assert_null(strchr(e.msg, '\n'));
}

static void test_samples_bad(void **state)
{
    (void)state;
    hn_model *m = parse_ok(EXAMPLE), *mse = parse_ok(FLAT);
    static double x1[144], x3[3 * 144], xn[144];
    xn[77] = NAN;
    int64_t y10 = 10, yneg = -1, y3[3] = {1, -1, 3}, yok = 3, y3ok[3] = {1, 2, 3};
    double yf = 3;
    const char *xy[] = {"x", "y"};
    const hn_st_dtype FI[] = {HN_ST_F64, HN_ST_I64};

    {
        const int nd[] = {3, 0};
        const size_t sh[][4] = {{1, 12, 12}, {0}};
        const void *d[] = {x1, &y10};
        expect_samples_bad(m, "y10.st", 2, xy, FI, nd, sh, d, HN_ERANGE, "y[0] = 10");
        const void *d2[] = {x1, &yneg};
        expect_samples_bad(m, "yneg.st", 2, xy, FI, nd, sh, d2, HN_ERANGE, "y[0] = -1");
        const void *d3[] = {xn, &yok};
        expect_samples_bad(m, "xnan.st", 2, xy, FI, nd, sh, d3, HN_EINVAL, "\"x\": element 77");
        const hn_st_dtype FF[] = {HN_ST_F64, HN_ST_F64};
        const void *d4[] = {x1, &yf};
        expect_samples_bad(m, "yf.st", 2, xy, FF, nd, sh, d4, HN_EFORMAT, "\"y\": dtype F64");
        const hn_st_dtype II[] = {HN_ST_I64, HN_ST_I64};
        const void *d5[] = {y3ok, &yok}; /* dtype check comes before the size matters */
        const int nd5[] = {1, 0};
        const size_t sh5[][4] = {{3}, {0}};
        expect_samples_bad(m, "xi.st", 2, xy, II, nd5, sh5, d5, HN_EFORMAT, "\"x\": dtype I64");
    }
    {
        /* batched labels: the bad one is named by index */
        const int nd[] = {4, 1};
        const size_t sh[][4] = {{3, 1, 12, 12}, {3}};
        const void *d[] = {x3, y3};
        expect_samples_bad(m, "yb.st", 2, xy, FI, nd, sh, d, HN_ERANGE, "y[1] = -1");
        /* y length does not match N */
        const size_t sh2[][4] = {{1, 1, 12, 12}, {3}};
        expect_samples_bad(m, "yn.st", 2, xy, FI, nd, sh2, d, HN_ESHAPE, "\"y\": shape [3]");
        /* x batch with the wrong inner shape */
        const size_t sh3[][4] = {{1, 1, 12, 3}, {3}};
        expect_samples_bad(m, "xin.st", 2, xy, FI, nd, sh3, d, HN_ESHAPE, "\"x\": shape");
        /* N = 0 */
        const size_t sh4[][4] = {{0, 1, 12, 12}, {0}};
        expect_samples_bad(m, "x0.st", 2, xy, FI, nd, sh4, d, HN_ESHAPE, "\"x\"");
    }
    {
        /* unbatched x with y [1]: a scalar is required */
        const int nd[] = {3, 1};
        const size_t sh[][4] = {{1, 12, 12}, {1}};
        const void *d[] = {x1, &yok};
        expect_samples_bad(m, "y1.st", 2, xy, FI, nd, sh, d, HN_ESHAPE, "\"y\": shape [1]");
        /* x of the wrong shape */
        const int nd2[] = {3, 0};
        const size_t sh2[][4] = {{1, 12, 11}, {0}};
        expect_samples_bad(m, "xs.st", 2, xy, FI, nd2, sh2, d, HN_ESHAPE,
                           "\"x\": shape [1, 12, 11]");
    }
    {
        /* extra and missing tensors */
        const char *nm[] = {"x", "y", "z"};
        const hn_st_dtype dt[] = {HN_ST_F64, HN_ST_I64, HN_ST_I64};
        const int nd[] = {3, 0, 0};
        const size_t sh[][4] = {{1, 12, 12}, {0}, {0}};
        const void *d[] = {x1, &yok, &yok};
        expect_samples_bad(m, "extra.st", 3, nm, dt, nd, sh, d, HN_EFORMAT, "\"z\": unexpected");
        expect_samples_bad(m, "noy.st", 1, nm, dt, nd, sh, d, HN_EFORMAT, "\"y\": missing");
        const char *onlyy[] = {"y"};
        const hn_st_dtype dty[] = {HN_ST_I64};
        const int ndy[] = {0};
        const void *dy[] = {&yok};
        expect_samples_bad(m, "nox.st", 1, onlyy, dty, ndy, sh + 1, dy, HN_EFORMAT,
                           "\"x\": missing");
    }
    {
        /* MSE: integer targets, wrong target length */
        static double x6[6], t4[4];
        const int nd[] = {1, 1};
        const size_t sh[][4] = {{6}, {3}};
        const void *d[] = {x6, y3ok};
        expect_samples_bad(mse, "msei.st", 2, xy, FI, nd, sh, d, HN_EFORMAT, "\"y\": dtype I64");
        const hn_st_dtype FF[] = {HN_ST_F64, HN_ST_F64};
        const size_t sh2[][4] = {{6}, {4}};
        const void *d2[] = {x6, t4};
        expect_samples_bad(mse, "msel.st", 2, xy, FF, nd, sh2, d2, HN_ESHAPE, "\"y\": shape [4]");
    }

    /* saving refuses labels out of range and samples of another model */
    hn_err e;
    hn_samples *s;
    assert_int_equal(hn_samples_alloc(m, 2, &s, &e), HN_OK);
    s->y_class[1] = 10;
    assert_int_equal(hn_samples_save(m, s, tpath("bad_save.st"), &e), HN_ERANGE);
    assert_non_null(strstr(e.msg, "y[1]"));
    s->y_class[1] = 0;
    assert_int_equal(hn_samples_save(mse, s, tpath("bad_save.st"), &e), HN_ESHAPE);
    hn_samples_free(s);
    assert_int_equal(hn_samples_alloc(m, 0, &s, &e), HN_EINVAL);
    hn_model_free(m);
    hn_model_free(mse);
}

/* ================================================================ fault injection */

static void fault_loop_load(const char *mp, const char *wp, const char *sp, int jansson_hooked)
{
    long k;
    for (k = 0;; k++) {
        hn_model *m = NULL;
        hn_samples *s = NULL;
        double *th = NULL;
        hn_err e;
        const char *at = mp;
        hn_err_clear(&e);
        hn_alloc_fail_after(k);
        int rc = hn_model_load(mp, &m, &e);
        if (rc == HN_OK) {
            at = wp;
            th = hn_calloc(m->n_params, sizeof *th);
            rc = th ? hn_weights_load(m, wp, th, &e) : HN_ENOMEM;
            if (!th)
                snprintf(e.msg, sizeof e.msg, "%s: test's own allocation", wp);
        }
        if (rc == HN_OK) {
            at = sp;
            rc = hn_samples_load(m, sp, &s, &e);
        }
        hn_alloc_fail_after(-1);
        hn_free(th);
        hn_samples_free(s);
        hn_model_free(m);
        if (rc == HN_OK)
            break;
        if (rc != HN_ENOMEM && !jansson_hooked)
            print_error("k=%ld: %s\n", k, e.msg);
        if (jansson_hooked)
            assert_true(rc == HN_ENOMEM || (rc == HN_EFORMAT && strstr(e.msg, "invalid JSON")));
        else
            assert_int_equal(rc, HN_ENOMEM);
        assert_int_equal(strncmp(e.msg, at, strlen(at)), 0);
        if (!jansson_hooked)
            assert_null(s);
    }
    assert_true(k >= 8);
}

static void test_fault_injection(void **state)
{
    (void)state;
    hn_err e;
    hn_model *m = parse_ok(EXAMPLE);
    double th[540];
    gsl_rng *r = hn_test_rng(1);
    hn_test_fill_uniform(r, th, 540, -1, 1);
    gsl_rng_free(r);
    const char *mp = tpath("fi_model.json"), *wp = tpath("fi_w.st"), *sp = tpath("fi_s.st");
    hn_samples *s;
    assert_int_equal(hn_model_save(m, mp, &e), HN_OK);
    assert_int_equal(hn_weights_save(m, th, wp, &e), HN_OK);
    assert_int_equal(hn_samples_alloc(m, 2, &s, &e), HN_OK);
    s->y_class[0] = 3;
    assert_int_equal(hn_samples_save(m, s, sp, &e), HN_OK);

    fault_loop_load(mp, wp, sp, 0);
    /* jansson's own allocations failing too (its string lexer reports a
     * failed allocation as a syntax error, which is accepted there) */
    json_set_alloc_funcs(hn_malloc, hn_free);
    fault_loop_load(mp, wp, sp, 1);
    json_set_alloc_funcs(malloc, free);

    /* writers, clone, to_json, alloc */
    long k;
    for (k = 0;; k++) {
        hn_alloc_fail_after(k);
        int rc = hn_weights_save(m, th, wp, &e);
        if (rc == HN_OK)
            rc = hn_samples_save(m, s, sp, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK)
            break;
        assert_int_equal(rc, HN_ENOMEM);
    }
    assert_true(k >= 4);
    for (k = 0;; k++) {
        hn_alloc_fail_after(k);
        hn_model *c = hn_model_clone(m);
        char *js = hn_model_to_json(m);
        hn_samples *s2 = NULL;
        int rc = hn_samples_alloc(m, 3, &s2, &e);
        hn_alloc_fail_after(-1);
        int done = c && js && rc == HN_OK;
        if (c)
            models_equal(c, m);
        hn_model_free(c);
        hn_free(js);
        hn_samples_free(s2);
        if (done)
            break;
    }
    /* and a builder under failure */
    for (k = 0;; k++) {
        size_t dims[1] = {4};
        hn_model *b = NULL;
        hn_alloc_fail_after(k);
        int rc = hn_model_new(1, dims, 2, HN_LOSS_MSE, &b, &e);
        for (int i = 0; rc == HN_OK && i < 11; i++)
            rc = hn_model_add(b, i % 2 ? HN_RELU : HN_LINEAR, i == 10 ? 2 : 4, 0, 0, &e);
        if (rc == HN_OK)
            rc = hn_model_finalize(b, &e);
        hn_alloc_fail_after(-1);
        hn_model_free(b);
        if (rc == HN_OK)
            break;
        assert_int_equal(rc, HN_ENOMEM);
    }
    assert_true(k >= 3);
    hn_samples_free(s);
    hn_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_names),
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_oned),
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_bad_json_syntax),
        cmocka_unit_test(test_atomic_write_stale),
        cmocka_unit_test(test_atomic_write_concurrent),
        cmocka_unit_test(test_bad_json_top),
        cmocka_unit_test(test_bad_json_layers),
        cmocka_unit_test(test_bad_structure),
        cmocka_unit_test(test_bad_overflow),
        cmocka_unit_test(test_weights_roundtrip),
        cmocka_unit_test(test_weights_order_and_f32),
        cmocka_unit_test(test_weights_bad),
        cmocka_unit_test(test_samples_roundtrip),
        cmocka_unit_test(test_samples_bad),
        cmocka_unit_test(test_fault_injection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
