/* hessnorm tests — the small helpers of src/base/: clock, progress lines,
 * JSON numbers and files, number parsing (hn_parse_size, hn_parse_real),
 * long paths shortened for messages (hn_path_short), descriptor loops, the
 * error codes' names and FNV-1a 64. */
#include "config.h"
#include "testutil.h"
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "hessnorm.h"
#include "hessnorm/seed.h"
#include "base/clock.h"
#include "base/progress.h"
#include "base/json.h"
#include "base/file.h"
#include "base/parse.h"

/* ------------------------------------------------------------ clock */

/* Every error code has its own name (hn_strerror), the codes past the last
 * an "unknown error"; hessnorm's FNV-1a 64 against values computed apart. */
static void test_error_names_fnv(void **state)
{
    (void)state;
    const int codes[] = {HN_OK,       HN_EINVAL,  HN_ENOMEM,   HN_EIO,       HN_EFORMAT, HN_ESHAPE,
                         HN_ERANGE,   HN_ENUMERIC, HN_ETOOBIG, HN_EOVERFLOW, HN_ESTOPPED};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(hn_strerror(codes[i]), "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(hn_strerror(codes[i]), hn_strerror(codes[j]));
    }
    assert_string_equal(hn_strerror(HN_ESTOPPED - 1), "unknown error");
    /* hessnorm's FNV-1a 64 starts from 1469598103934665603, the standard
     * offset basis 14695981039346656037 with its last digit dropped (seed.h:
     * kept, every seed derives from it); values from Python's integers:
     *   h = basis; for b in s.encode(): h = ((h ^ b) * 1099511628211) % 2**64 */
    assert_true(hn_fnv1a64("") == 0x14650fb0739d0383ULL);
    assert_true(hn_fnv1a64("a") == 0x44bd8ad473cd9906ULL);
    assert_true(hn_fnv1a64("foobar") == 0x88fad7c0a8ff07f2ULL);
    /* not the standard FNV-1a 64 (its "a" is 0xaf63dc4c8601ec8c) */
    assert_true(hn_fnv1a64("a") != 0xaf63dc4c8601ec8cULL);
}

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

static void test_parse_real(void **state)
{
    (void)state;
    /* accepted: plain decimal notation, exponent included; each value is
     * the one strtod gives, compared exactly (the same conversion) */
    const struct {
        const char *s;
        double v;
    } good[] = {{"0", 0},         {"1", 1},         {"110", 110},     {"1.5", 1.5},   {"5.", 5},
                {"007.25", 7.25}, {"1e3", 1e3},     {"1E3", 1e3},     {"1e+3", 1e3},  {"2.5e-3", 2.5e-3},
                {"0.0", 0},       {"0e-999", 0},    {"10", 10},       {"9.999", 9.999}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -1;
        if (hn_parse_real(good[i].s, 0, 1e4, &v) != 0)
            fail_msg("'%s' refused", good[i].s);
        if (v != good[i].v)
            fail_msg("'%s' gave %.17g", good[i].s, v);
    }
    /* refused, *out untouched: white space, signs, a leading '.', trailing
     * junk, inf/nan spellings, hexadecimal floats (strtod takes them all) */
    const char *bad[] = {"",       " ",         " 1",       "\t1",       "\n1",      "1 ",       "1\n",
                         "+1",     "-1",        "-0",       "+0.5",      ".5",       "1x",       "1e",
                         "1e+",    "1.5.2",     "1,5",      "1_000",     "1e3x",     "inf",      "INF",
                         "Inf",    "infinity",  "INFINITY", "-inf",      "+inf",     "nan",      "NAN",
                         "nan(1)", "-nan",      "0x10",     "0X10",      "0x1p3",    "0x1.8p1",  "00x1",
                         "1p3",    "\xef\xbc\x91" /* fullwidth digit one */,          "1\xc2\xa0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 77;
        if (hn_parse_real(bad[i], 0, 1e4, &v) != -1)
            fail_msg("'%s' taken", bad[i]);
        assert_true(v == 77);
    }
    double v = 77;
    assert_int_equal(hn_parse_real(NULL, 0, 10, &v), -1);
    /* [min, max] inclusive at both ends */
    assert_int_equal(hn_parse_real("10", 0, 10, &v), 0);
    assert_true(v == 10);
    assert_int_equal(hn_parse_real("10.000000000000002", 0, 10, &v), -1); /* next double above 10 */
    assert_int_equal(hn_parse_real("0.5", 1, 10, &v), -1);
    assert_int_equal(hn_parse_real("1", 1, 10, &v), 0);
    assert_true(v == 1);
    /* overflow and underflow are ERANGE, refused even with an unbounded
     * range; DBL_MAX and DBL_MIN themselves are representable */
    assert_int_equal(hn_parse_real("1.7976931348623157e308", 0, DBL_MAX, &v), 0);
    assert_true(v == DBL_MAX);
    assert_int_equal(hn_parse_real("2.2250738585072014e-308", 0, DBL_MAX, &v), 0);
    assert_true(v == DBL_MIN);
    v = 77;
    const char *range[] = {"1.7976931348623159e308", "1e309", "1e99999", "1e-400", "1e-310",
                           "4.9406564584124654e-324", "2.2250738585072011e-308"};
    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
        if (hn_parse_real(range[i], 0, INFINITY, &v) != -1)
            fail_msg("'%s' taken", range[i]);
        assert_true(v == 77);
    }
}

/* ------------------------------------------------------------ long paths */

/* s is well-formed UTF-8 (every multi-byte sequence whole). */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t k = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : 9;
        if (k == 9)
            return 0;
        p++;
        for (size_t j = 0; j < k; j++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

/* hn_path_short(buf, n, path) for every n from 0 to strlen(path) + 2: the
 * path itself when it fits, else at most n - 1 bytes of its head, "..."
 * and its tail; valid UTF-8 whenever path is. */
static void check_short_all(const char *path)
{
    const size_t len = strlen(path);
    char buf[1200];
    assert_true(len + 3 <= sizeof buf);
    for (size_t n = 0; n <= len + 2; n++) {
        memset(buf, 'Z', sizeof buf);
        assert_ptr_equal(hn_path_short(buf, n, path), buf);
        if (n == 0) {
            assert_int_equal(buf[0], 'Z'); /* nothing written */
            continue;
        }
        const size_t out = strlen(buf);
        assert_true(out < n);
        assert_int_equal(buf[n], 'Z'); /* nothing past the n bytes */
        if (len < n) {
            assert_string_equal(buf, path);
            continue;
        }
        if (utf8_ok(path) && !utf8_ok(buf))
            fail_msg("n = %zu: cut inside a character: '%s'", n, buf);
        const char *dots = strstr(buf, "...");
        if (n < 8) { /* no room for three parts: a prefix alone */
            assert_memory_equal(buf, path, out);
            continue;
        }
        assert_non_null(dots);
        const size_t head = (size_t)(dots - buf), tail = out - head - 3;
        assert_memory_equal(buf, path, head);
        assert_memory_equal(dots + 3, path + len - tail, tail);
        /* nothing lost but what the cut needs: at most 3 bytes (one
         * character's continuation) on each side of the budget n - 4
         * (on UTF-8; other bytes may all look like continuations) */
        if (utf8_ok(path))
            assert_true(head + tail + 6 >= n - 4);
    }
}

static void test_path_short(void **state)
{
    (void)state;
    char buf[64];
    /* exact boundary: strlen 15 fits 16 bytes, 16 does not */
    const char *p15 = "/a/b/c/d/e/f.gz", *p16 = "/a/b/c/d/e/ff.gz";
    assert_string_equal(hn_path_short(buf, 16, p15), p15);
    hn_path_short(buf, 16, p16);
    assert_string_equal(buf, "/a/b.../e/ff.gz"); /* a third of the 12 bytes head, the rest tail */
    assert_string_equal(hn_path_short(buf, 8, ""), "");
    assert_string_equal(hn_path_short(buf, 1, "abc"), "");
    /* the tail keeps the file's own name */
    char longp[800];
    size_t k = 0;
    for (int i = 0; i < 60; i++)
        k += (size_t)snprintf(longp + k, sizeof longp - k, "directory%d/", i);
    snprintf(longp + k, sizeof longp - k, "model.json");
    hn_path_short(buf, sizeof buf, longp);
    assert_int_equal(strlen(buf), sizeof buf - 1);
    assert_int_equal(strcmp(buf + strlen(buf) - 11, "/model.json"), 0);
    /* below 8 bytes, a multi-byte character is dropped whole: "é" is 2
     * bytes, so 4 bytes hold one and its half is not kept */
    assert_string_equal(hn_path_short(buf, 4, "\xc3\xa9\xc3\xa9\xc3\xa9"), "\xc3\xa9");
    assert_string_equal(hn_path_short(buf, 3, "\xe6\x97\xa5\xe6\x97\xa5"), "");
    /* every budget on paths of 1-, 2-, 3- and 4-byte characters */
    check_short_all(longp);
    char u[1100];
    k = 0;
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(u + k, sizeof u - k, "/d\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80%d", i);
    snprintf(u + k, sizeof u - k, "/\xe6\x97\xa5\xe6\x9c\xac.json");
    check_short_all(u);
    check_short_all("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
    check_short_all("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    /* bytes that are not UTF-8 (continuation bytes alone): bounds only */
    check_short_all("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80/x");
    /* a message naming a long path keeps its reason and stays UTF-8 */
    char msgpath[2000];
    snprintf(msgpath, sizeof msgpath, "%s/%s", u, longp);
    hn_err e;
    hn_err_set(&e, HN_EIO, "%s: cannot open: No such file or directory", msgpath);
    assert_true(strlen(e.msg) < HN_ERR_MSG_LEN);
    assert_non_null(strstr(e.msg, "..."));
    const char *reason = "/model.json: cannot open: No such file or directory";
    assert_string_equal(e.msg + strlen(e.msg) - strlen(reason), reason);
    assert_true(utf8_ok(e.msg));
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
        cmocka_unit_test(test_error_names_fnv),
        cmocka_unit_test(test_clock_monotonic),
        cmocka_unit_test(test_progress_lines),
        cmocka_unit_test(test_progress_cut),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_json_num),
        cmocka_unit_test(test_json_save),
        cmocka_unit_test(test_json_oom_error),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_real),
        cmocka_unit_test(test_path_short),
        cmocka_unit_test(test_fd_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
