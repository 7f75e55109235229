/* hessnorm tests — the small helpers of src/base/: clock, progress lines,
 * JSON numbers and files, number parsing. */
#include "config.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm.h"
#include "base/clock.h"
#include "base/progress.h"

/* ------------------------------------------------------------ clock */

static void test_clock_monotonic(void **state)
{
    (void)state;
    double a = hn_clock_s(), b = hn_clock_s();
    assert_true(isfinite(a));
    assert_true(b >= a);
}

/* ------------------------------------------------------------ progress */

typedef struct {
    int calls;
    char last[1024];
} sink;

static void collect(void *ctx, const char *msg)
{
    sink *k = ctx;
    k->calls++;
    snprintf(k->last, sizeof k->last, "%s", msg);
}

static void test_progress_lines(void **state)
{
    (void)state;
    sink k = {0, ""};
    hn_progress_cfg pr = {collect, &k, 0, "model 1/2 L2_k3_C6:"};
    hn_progress_say(&pr, 768, "done in %.1fs", 2.25);
    assert_string_equal(k.last, "model 1/2 L2_k3_C6: done in 2.2s");
    pr.label = NULL;
    hn_progress_say(&pr, 512, "%zu/%zu", (size_t)3, (size_t)4);
    assert_string_equal(k.last, "3/4");
    hn_progress_line(collect, &k, 600, "audit: %s", "x");
    assert_string_equal(k.last, "audit: x");
    assert_int_equal(k.calls, 3);
    /* silent without a callback (and with no cfg at all) */
    hn_progress_line(NULL, &k, 600, "never");
    hn_progress_say(NULL, 600, "never");
    pr.fn = NULL;
    hn_progress_say(&pr, 600, "never");
    assert_int_equal(k.calls, 3);
}

static void test_progress_cut(void **state)
{
    (void)state;
    sink k = {0, ""};
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    /* the line is cut to cap - 1 bytes, label included */
    hn_progress_cfg pr = {collect, &k, 0, "lab"};
    hn_progress_say(&pr, 10, "%s", big);
    assert_string_equal(k.last, "lab aaaaa");
    hn_progress_line(collect, &k, 600, "%s", big);
    assert_int_equal(strlen(k.last), 599);
    /* a cap beyond the largest line is the largest line */
    hn_progress_line(collect, &k, 5000, "%s", big);
    assert_int_equal(strlen(k.last), HN_PROGRESS_MAX - 1);
    /* a label that fills the line leaves the message alone, as the copies did */
    pr.label = "0123456789";
    hn_progress_say(&pr, 8, "msg");
    assert_string_equal(k.last, "msg");
}

static void test_durations(void **state)
{
    (void)state;
    char b[32];
    hn_fmt_duration(b, sizeof b, 42.4);
    assert_string_equal(b, "42s");
    hn_fmt_duration(b, sizeof b, 0);
    assert_string_equal(b, "0s");
    hn_fmt_duration(b, sizeof b, 187);
    assert_string_equal(b, "3m07s");
    hn_fmt_duration(b, sizeof b, 2 * 3600 + 5 * 60 + 59);
    assert_string_equal(b, "2h05m");
    hn_fmt_duration(b, sizeof b, -1);
    assert_string_equal(b, "?");
    hn_fmt_duration(b, sizeof b, NAN);
    assert_string_equal(b, "?");
    hn_fmt_duration(b, sizeof b, INFINITY);
    assert_string_equal(b, "?");
    hn_fmt_duration(b, 3, 187); /* snprintf's truncation */
    assert_string_equal(b, "3m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_monotonic),
        cmocka_unit_test(test_progress_lines),
        cmocka_unit_test(test_progress_cut),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
