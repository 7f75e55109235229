/* hessnorm tests — allocation hook, fault injection, overflow-checked sizes. */
#include "config.h"
#include "testutil.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/alloc.h"

static int reset(void **state)
{
    (void)state;
    hn_alloc_fail_after(-1);
    return 0;
}

static void test_calloc_overflow_refused(void **state)
{
    (void)state;
    hn_alloc_fail_after(-1);
    /* count * size wraps around: must be refused, not truncated */
    assert_null(hn_calloc(SIZE_MAX / 2 + 1, 2));
    assert_null(hn_calloc(2, SIZE_MAX / 2 + 1));
    assert_null(hn_calloc(SIZE_MAX, SIZE_MAX));
    /* a refused overflow is not an allocation attempt */
    assert_int_equal(hn_alloc_count(), 0);

    /* calloc zeroes, and zero-sized requests still give a freeable pointer */
    unsigned char *p = hn_calloc(16, 4);
    assert_non_null(p);
    for (int i = 0; i < 64; i++)
        assert_int_equal(p[i], 0);
    hn_free(p);
    void *z = hn_calloc(0, 8);
    assert_non_null(z);
    hn_free(z);
    z = hn_malloc(0);
    assert_non_null(z);
    hn_free(z);
    assert_int_equal(hn_alloc_count(), 3);
}

static void test_fail_after_counts(void **state)
{
    (void)state;
    void *a, *b, *c, *d;

    /* k = 2: two allocations succeed, every later one fails */
    hn_alloc_fail_after(2);
    a = hn_malloc(8);
    b = hn_calloc(1, 8);
    c = hn_malloc(8);
    d = hn_realloc(NULL, 8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_null(d);
    /* failed attempts are counted too */
    assert_int_equal(hn_alloc_count(), 4);
    hn_free(a);
    hn_free(b);

    /* k = 0 fails the very first allocation */
    hn_alloc_fail_after(0);
    assert_null(hn_malloc(1));
    assert_null(hn_strdup("x"));
    assert_int_equal(hn_alloc_count(), 2);

    /* a failed realloc leaves the old block intact */
    hn_alloc_fail_after(1);
    char *s = hn_strdup("hessnorm");
    assert_non_null(s);
    assert_null(hn_realloc(s, 1024));
    assert_string_equal(s, "hessnorm");
    hn_free(s);

    /* negative disables and resets the counter */
    hn_alloc_fail_after(-1);
    assert_int_equal(hn_alloc_count(), 0);
    for (int i = 0; i < 100; i++) {
        a = hn_malloc(4);
        assert_non_null(a);
        hn_free(a);
    }
    assert_int_equal(hn_alloc_count(), 100);
    /* hn_free(NULL) is a no-op, like free */
    hn_free(NULL);
}

static void test_mul_size(void **state)
{
    (void)state;
    size_t r = 12345;
    assert_int_equal(hn_mul_size(0, SIZE_MAX, &r), 0);
    assert_true(r == 0);
    assert_int_equal(hn_mul_size(1, SIZE_MAX, &r), 0);
    assert_true(r == SIZE_MAX);
    assert_int_equal(hn_mul_size(SIZE_MAX / 3, 3, &r), 0);
    assert_true(r == SIZE_MAX / 3 * 3);

    r = 777;
    assert_int_equal(hn_mul_size(SIZE_MAX, 2, &r), -1);
    assert_int_equal(hn_mul_size(SIZE_MAX / 2 + 1, 2, &r), -1);
    /* the output is left alone on overflow */
    assert_true(r == 777);

    /* sqrt boundary: h*h fits, (h+1)*(h+1) does not (h = 2^(bits/2) - 1) */
    size_t h = ((size_t)1 << (sizeof(size_t) * 4)) - 1;
    assert_int_equal(hn_mul_size(h, h, &r), 0);
    assert_int_equal(hn_mul_size(h + 1, h + 1, &r), -1);
    assert_int_equal(hn_mul_size(h, h + 2, &r), 0);
    assert_true(r == SIZE_MAX);

    assert_int_equal(hn_mul3_size(2, 3, 7, &r), 0);
    assert_true(r == 42);
    assert_int_equal(hn_mul3_size(h + 1, h + 1, 0, &r), -1); /* overflow in the first product */
    assert_int_equal(hn_mul3_size(0, h + 1, h + 1, &r), 0);  /* 0 first: never overflows */
    assert_true(r == 0);
    assert_int_equal(hn_mul3_size(h + 1, 2, h + 1, &r), -1);
    assert_int_equal(hn_mul3_size(SIZE_MAX, 1, 1, &r), 0);
    assert_true(r == SIZE_MAX);
}

static void test_strdup(void **state)
{
    (void)state;
    hn_alloc_fail_after(-1);
    char *s = hn_strdup("");
    assert_non_null(s);
    assert_string_equal(s, "");
    hn_free(s);
    s = hn_strdup("layers[3].kernel");
    assert_string_equal(s, "layers[3].kernel");
    hn_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_calloc_overflow_refused, reset),
        cmocka_unit_test_teardown(test_fail_after_counts, reset),
        cmocka_unit_test_teardown(test_mul_size, reset),
        cmocka_unit_test_teardown(test_strdup, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
