/* hessnorm tests — the small helpers of src/base/: clock, progress lines,
 * JSON numbers and files, number parsing, descriptor loops. */
#include "config.h"
#include "testutil.h"
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "hessnorm.h"
#include "base/clock.h"
#include "base/progress.h"
#include "base/json.h"
#include "base/file.h"
#include "base/parse.h"

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

/* ------------------------------------------------------------ JSON */

static void test_json_num(void **state)
{
    (void)state;
    json_t *v = hn_json_num(1.5);
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) == 1.5);
    json_decref(v);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        v = hn_json_num(bad[i]);
        assert_true(json_is_null(v));
        json_decref(v);
    }
    int flag = 0;
    json_t *o = json_object();
    hn_json_put(o, "a", hn_json_num(-0.25), &flag);
    assert_int_equal(flag, 0);
    hn_json_put(o, "b", NULL, &flag); /* jansson out of memory */
    assert_int_equal(flag, 1);
    char *t = hn_json_dumps(o, HN_JSON_FLAGS);
    assert_string_equal(t, "{\n  \"a\": -0.25\n}");
    hn_free(t);
    json_decref(o);
}

static char *slurp(const char *path)
{
    char *b = NULL;
    size_t n;
    hn_err e;
    return hn_read_file(path, &b, &n, &e) == HN_OK ? b : NULL;
}

static void test_json_save(void **state)
{
    (void)state;
    const char *dir = hn_test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/x.json", dir);
    json_t *o = json_pack("{s:i,s:f}", "z", 1, "a", 0.5);
    assert_non_null(o);
    hn_err e;
    assert_int_equal(hn_json_save(o, path, HN_JSON_FLAGS | JSON_SORT_KEYS, 0, &e), HN_OK);
    char *t = slurp(path);
    assert_string_equal(t, "{\n  \"a\": 0.5,\n  \"z\": 1\n}");
    hn_free(t);
    assert_int_equal(hn_json_save(o, path, HN_JSON_FLAGS, 1, &e), HN_OK);
    t = slurp(path);
    assert_string_equal(t, "{\n  \"z\": 1,\n  \"a\": 0.5\n}\n");
    hn_free(t);
    remove(path);
    /* every allocation failing in turn (jansson's too): HN_ENOMEM naming the
     * file and no file, until the save succeeds */
    json_set_alloc_funcs(hn_malloc, hn_free);
    long k;
    for (k = 0;; k++) {
        hn_alloc_fail_after(k);
        int rc = hn_json_save(o, path, HN_JSON_FLAGS, 1, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK)
            break;
        assert_int_equal(rc, HN_ENOMEM);
        assert_non_null(strstr(e.msg, "x.json: out of memory"));
        FILE *f = fopen(path, "rb");
        assert_null(f);
        char *d = hn_json_dumps(o, HN_JSON_FLAGS); /* the hook is off again */
        assert_non_null(d);
        hn_free(d);
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(k >= 1);
    t = slurp(path);
    assert_string_equal(t, "{\n  \"z\": 1,\n  \"a\": 0.5\n}\n");
    hn_free(t);
    remove(path);
    /* a dump whose allocations fail is NULL, never a partial text */
    json_set_alloc_funcs(hn_malloc, hn_free);
    hn_alloc_fail_after(0);
    t = hn_json_dumps(o, HN_JSON_FLAGS);
    hn_alloc_fail_after(-1);
    json_set_alloc_funcs(malloc, free);
    assert_null(t);
    json_decref(o);
    rmdir(dir);
}

static void test_json_oom_error(void **state)
{
    (void)state;
    json_error_t je;
    json_t *j = json_loads("{\"a\": }", 0, &je);
    assert_null(j);
    assert_int_equal(hn_json_error_is_oom(&je), 0);
    memset(&je, 0, sizeof je); /* jansson's text when its first allocation fails */
    assert_int_equal(hn_json_error_is_oom(&je), 1);
    snprintf(je.text, sizeof je.text, "out of memory");
    assert_int_equal(hn_json_error_is_oom(&je), 1);
}

/* ------------------------------------------------------------ numbers */

static void test_parse_size(void **state)
{
    (void)state;
    size_t v = 77;
    assert_int_equal(hn_parse_size("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(hn_parse_size("10", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(hn_parse_size("007", 0, 10, &v), 0); /* leading zeros are digits */
    assert_int_equal(v, 7);
    v = 77;
    /* no sign and no white space (strtoull would take " -1" and wrap it) */
    const char *bad[] = {"", "-1", "-0", "+7", " 1", " -1", "\t5", "11", "1x", "x", " ", "1 ", "0x5",
                         "1e3", "99999999999999999999999", "18446744073709551617"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hn_parse_size(bad[i], 0, 10, &v), -1);
        assert_int_equal(v, 77);
    }
    assert_int_equal(hn_parse_size("0", 1, 10, &v), -1); /* below min */
    assert_int_equal(hn_parse_size("18446744073709551615", 0, SIZE_MAX, &v), 0);
    assert_true(v == SIZE_MAX);
    assert_int_equal(hn_parse_size("18446744073709551616", 0, SIZE_MAX, &v), -1);
    assert_int_equal(hn_parse_size(" -1", 0, SIZE_MAX, &v), -1); /* would wrap to SIZE_MAX */
    assert_int_equal(hn_parse_size(NULL, 0, 10, &v), -1);
}

/* ------------------------------------------------------------ descriptor loops */

static void test_fd_loops(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    assert_int_equal(hn_write_all(fd[1], "abcdef", 6), 0);
    close(fd[1]);
    char b[8] = {0};
    assert_int_equal(hn_read_exact(fd[0], b, 4), 0);
    assert_memory_equal(b, "abcd", 4);
    /* 2 bytes left: a short file is -1 with errno 0 */
    errno = EINVAL;
    assert_int_equal(hn_read_exact(fd[0], b, 4), -1);
    assert_int_equal(errno, 0);
    close(fd[0]);
    /* a read error keeps its errno */
    assert_int_equal(hn_read_exact(fd[0], b, 1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(hn_write_all(fd[1], "x", 1), -1);
    assert_int_equal(errno, EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_monotonic),
        cmocka_unit_test(test_progress_lines),
        cmocka_unit_test(test_progress_cut),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_json_num),
        cmocka_unit_test(test_json_save),
        cmocka_unit_test(test_json_oom_error),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_fd_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
