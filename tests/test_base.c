/* hessnorm tests — the small helpers of src/base/: clock, progress lines,
 * JSON numbers and files, number parsing. */
#include "config.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm.h"
#include "base/clock.h"

/* ------------------------------------------------------------ clock */

static void test_clock_monotonic(void **state)
{
    (void)state;
    double a = hn_clock_s(), b = hn_clock_s();
    assert_true(isfinite(a));
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
