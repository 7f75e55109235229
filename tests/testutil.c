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
