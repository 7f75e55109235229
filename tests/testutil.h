/* hessnorm tests — shared helpers (CMocka 1.1.5 has no double asserts). */
#ifndef HN_TESTUTIL_H
#define HN_TESTUTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>
#include "hessnorm.h"

/* |a - b| <= atol + rtol * max(|a|, |b|); fails with both values printed. */
#define assert_close(a, b, rtol, atol) \
    hn_test_assert_close((double)(a), (double)(b), (rtol), (atol), #a, #b, __FILE__, __LINE__)
void hn_test_assert_close(double a, double b, double rtol, double atol,
                          const char *ea, const char *eb, const char *file, int line);

/* Max-norm closeness of two matrices, relative to the larger max-abs entry. */
#define assert_mat_close(A, B, rtol) \
    hn_test_assert_mat_close((A), (B), (rtol), #A, #B, __FILE__, __LINE__)
void hn_test_assert_mat_close(const gsl_matrix *A, const gsl_matrix *B, double rtol,
                              const char *ea, const char *eb, const char *file, int line);
#define assert_vec_close(a, b, n, rtol) \
    hn_test_assert_vec_close((a), (b), (n), (rtol), #a, #b, __FILE__, __LINE__)
void hn_test_assert_vec_close(const double *a, const double *b, size_t n, double rtol,
                              const char *ea, const char *eb, const char *file, int line);

/* Deterministic rng for tests (seed fixed per test). */
gsl_rng *hn_test_rng(unsigned long seed);
void hn_test_fill_uniform(gsl_rng *r, double *v, size_t n, double lo, double hi);

/* Path of a file under the source tree (fixtures/...); static buffer. */
const char *hn_test_path(const char *rel);
/* A fresh empty temporary directory (static buffer). */
const char *hn_test_tmpdir(void);

/* ---- random networks for the cross-checks ---- */
/* Families: 0 1-D conv stack; 1 2-D conv + relu + maxpool + conv + flatten +
 * linear head; 2 2-D avgpool instead of relu; 3 MLP; 4 1-D maxpool instead
 * of relu + avgpool after relu; 5 2-D maxpool instead of relu, MSE loss. */
#define HN_TEST_FAMILIES 6
hn_model *hn_test_model(int family);
/* Random theta (uniform +-scale/sqrt(fan_in)) and n samples (x uniform
 * [0,1], random labels or targets), redrawn until no ReLU pre-activation is
 * within `kink` of 0 and no max-pool window has a near-tie (the nets are
 * smooth there, so finite differences are valid). */
void hn_test_draw(const hn_model *m, gsl_rng *r, double scale, double kink,
                  double *theta, hn_samples *s);

#endif
