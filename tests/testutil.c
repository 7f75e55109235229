/* hessnorm tests — shared helpers. */
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>

void hn_test_assert_close(double a, double b, double rtol, double atol,
                          const char *ea, const char *eb, const char *file, int line)
{
    double scale = fmax(fabs(a), fabs(b));
    if (!(fabs(a - b) <= atol + rtol * scale)) {
        print_error("%s = %.17g\n%s = %.17g\n|diff| = %.3g > atol %.3g + rtol %.3g * %.3g\n",
                    ea, a, eb, b, fabs(a - b), atol, rtol, scale);
        _fail(file, line);
    }
}

void hn_test_assert_vec_close(const double *a, const double *b, size_t n, double rtol,
                              const char *ea, const char *eb, const char *file, int line)
{
    double scale = 0, diff = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fmax(fabs(a[i]), fabs(b[i])));
        if (fabs(a[i] - b[i]) > diff || isnan(a[i] - b[i])) {
            diff = isnan(a[i] - b[i]) ? INFINITY : fabs(a[i] - b[i]);
            worst = i;
        }
    }
    if (!(diff <= rtol * fmax(scale, 1e-300))) {
        print_error("%s vs %s: max |diff| %.3g at [%zu] (%.17g vs %.17g) > rtol %.3g * %.3g\n",
                    ea, eb, diff, worst, n ? a[worst] : 0.0, n ? b[worst] : 0.0, rtol, scale);
        _fail(file, line);
    }
}

void hn_test_assert_mat_close(const gsl_matrix *A, const gsl_matrix *B, double rtol,
                              const char *ea, const char *eb, const char *file, int line)
{
    if (A->size1 != B->size1 || A->size2 != B->size2) {
        print_error("%s is %zux%zu but %s is %zux%zu\n", ea, A->size1, A->size2, eb,
                    B->size1, B->size2);
        _fail(file, line);
        return;
    }
    double scale = 0, diff = 0;
    size_t wi = 0, wj = 0;
    for (size_t i = 0; i < A->size1; i++)
        for (size_t j = 0; j < A->size2; j++) {
            double a = gsl_matrix_get(A, i, j), b = gsl_matrix_get(B, i, j);
            scale = fmax(scale, fmax(fabs(a), fabs(b)));
            double d = isnan(a - b) ? INFINITY : fabs(a - b);
            if (d > diff) {
                diff = d;
                wi = i;
                wj = j;
            }
        }
    if (!(diff <= rtol * fmax(scale, 1e-300))) {
        print_error("%s vs %s: max |diff| %.3g at (%zu,%zu) > rtol %.3g * max|entry| %.3g\n",
                    ea, eb, diff, wi, wj, rtol, scale);
        _fail(file, line);
    }
}

gsl_rng *hn_test_rng(unsigned long seed)
{
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

void hn_test_fill_uniform(gsl_rng *r, double *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * gsl_rng_uniform(r);
}

const char *hn_test_path(const char *rel)
{
    static char buf[4096];
    const char *src = getenv("HN_SRCDIR");
#ifdef HN_SRCDIR
    if (!src)
        src = HN_SRCDIR;
#endif
    if (!src)
        src = ".";
    snprintf(buf, sizeof buf, "%s/%s", src, rel);
    return buf;
}

const char *hn_test_tmpdir(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/hn_test_XXXXXX");
    if (!mkdtemp(buf))
        return "/tmp";
    return buf;
}

static void add(hn_model *m, hn_layer_type t, size_t oc, size_t kh, size_t kw)
{
    hn_err e;
    if (hn_model_add(m, t, oc, kh, kw, &e) != 0) {
        print_error("hn_model_add: %s\n", e.msg);
        abort();
    }
}

hn_model *hn_test_model(int family)
{
    hn_model *m = NULL;
    hn_err e;
    int rc = 0;
    switch (family) {
    case 0: {
        size_t d[] = {2, 9};
        rc = hn_model_new(2, d, 3, HN_LOSS_CE, &m, &e);
        if (rc) break;
        add(m, HN_CONV1D, 3, 1, 3);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_CONV1D, 2, 1, 2);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_CONV1D, 3, 1, 6);
        break;
    }
    case 1: {
        size_t d[] = {1, 7, 7};
        rc = hn_model_new(3, d, 3, HN_LOSS_CE, &m, &e);
        if (rc) break;
        add(m, HN_CONV2D, 2, 2, 2);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_MAXPOOL2D, 0, 2, 2);
        add(m, HN_CONV2D, 2, 2, 2);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_FLATTEN, 0, 0, 0);
        add(m, HN_LINEAR, 3, 1, 1);
        break;
    }
    case 2: {
        size_t d[] = {2, 6, 6};
        rc = hn_model_new(3, d, 4, HN_LOSS_CE, &m, &e);
        if (rc) break;
        add(m, HN_CONV2D, 2, 3, 3);
        add(m, HN_AVGPOOL2D, 0, 2, 2);
        add(m, HN_CONV2D, 4, 2, 2);
        break;
    }
    case 3: {
        size_t d[] = {5};
        rc = hn_model_new(1, d, 3, HN_LOSS_CE, &m, &e);
        if (rc) break;
        add(m, HN_LINEAR, 6, 1, 1);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_LINEAR, 4, 1, 1);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_LINEAR, 3, 1, 1);
        break;
    }
    case 4: {
        size_t d[] = {1, 12};
        rc = hn_model_new(2, d, 2, HN_LOSS_CE, &m, &e);
        if (rc) break;
        add(m, HN_CONV1D, 3, 1, 3);
        add(m, HN_MAXPOOL1D, 0, 1, 2);
        add(m, HN_CONV1D, 2, 1, 2);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_AVGPOOL1D, 0, 1, 2);
        add(m, HN_FLATTEN, 0, 0, 0);
        add(m, HN_LINEAR, 2, 1, 1);
        break;
    }
    default: {
        size_t d[] = {1, 6, 6};
        rc = hn_model_new(3, d, 3, HN_LOSS_MSE, &m, &e);
        if (rc) break;
        add(m, HN_CONV2D, 3, 2, 2);
        add(m, HN_MAXPOOL2D, 0, 2, 2);
        add(m, HN_CONV2D, 2, 2, 2);
        add(m, HN_RELU, 0, 0, 0);
        add(m, HN_FLATTEN, 0, 0, 0);
        add(m, HN_LINEAR, 3, 1, 1);
        break;
    }
    }
    if (rc || hn_model_finalize(m, &e) != 0) {
        print_error("test model %d: %s\n", family, e.msg);
        abort();
    }
    return m;
}

void hn_test_draw(const hn_model *m, gsl_rng *r, double scale, double kink,
                  double *theta, hn_samples *s)
{
    hn_ws *ws;
    hn_err e;
    if (hn_ws_alloc(m, &ws, &e) != 0)
        abort();
    for (int attempt = 0; attempt < 10000; attempt++) {
        for (size_t t = 0; t < m->n_linear; t++) {
            const hn_layer *ly = &m->layers[m->linear_pos[t]];
            double b = scale / sqrt((double)(ly->in.c * ly->kh * ly->kw));
            hn_test_fill_uniform(r, theta + ly->param_offset, ly->param_count, -b, b);
        }
        hn_test_fill_uniform(r, s->x, s->n * s->in_size, 0.0, 1.0);
        int bad = 0;
        for (size_t i = 0; i < s->n && !bad; i++) {
            hn_forward(m, theta, s->x + i * s->in_size, ws, NULL);
            bad = hn_ws_near_kink(m, ws, kink);
        }
        if (!bad)
            break;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->y_class)
            s->y_class[i] = (long)gsl_rng_uniform_int(r, m->classes);
        if (s->y_vec)
            hn_test_fill_uniform(r, s->y_vec + i * m->classes, m->classes, -1.0, 1.0);
    }
    hn_ws_free(ws);
}
