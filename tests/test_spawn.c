/* hessnorm tests — external programs without a shell (src/base/spawn.c)
 * and the gnuplot driver's quoting and messages (src/formats/gnuplot.c). */
#include "config.h"
#include "testutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hessnorm.h"
#include "hessnorm/gnuplot.h"
#include "base/spawn.h"

/* No child of ours is left to reap. */
static void assert_no_zombie(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* ------------------------------------------------------------ spawn */

static void test_spawn_not_found(void **state)
{
    (void)state;
    const char *argv[] = {"hn-no-such-program-anywhere", NULL};
    hn_spawn_result res;
    hn_err e;
    assert_int_equal(hn_spawn_run(argv, NULL, 0, &res, &e), HN_EIO);
    assert_int_equal(res.start_errno, ENOENT);
    assert_string_equal(e.msg, "hn-no-such-program-anywhere: not found");
    assert_no_zombie();
}

static void test_spawn_exit_status_and_stderr(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo out; echo first >&2; echo second >&2; exit 3", NULL};
    hn_spawn_result res;
    hn_err e;
    assert_int_equal(hn_spawn_run(argv, NULL, 0, &res, &e), HN_OK);
    assert_int_equal(res.start_errno, 0);
    assert_true(res.exited);
    assert_int_equal(res.status, 3);
    assert_string_equal(res.err, "first\nsecond\n"); /* stdout went to /dev/null */
    char line[64];
    hn_spawn_line(res.err, line, sizeof line);
    assert_string_equal(line, "first");
    assert_no_zombie();
}

static void test_spawn_signal(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
    hn_spawn_result res;
    assert_int_equal(hn_spawn_run(argv, NULL, 0, &res, NULL), HN_OK);
    assert_false(res.exited);
    assert_int_equal(res.signal, SIGTERM);
    assert_no_zombie();
}

/* The arguments arrive as they are: nothing re-parses them. */
static void test_spawn_argv_verbatim(void **state)
{
    (void)state;
    const char *odd = "a'b\"c $(touch X) `touch Y` ;|&\n-x";
    const char *argv[] = {"sh", "-c", "printf '%s' \"$1\" >&2", "sh", odd, NULL};
    hn_spawn_result res;
    assert_int_equal(hn_spawn_run(argv, NULL, 0, &res, NULL), HN_OK);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, odd);
}

static void test_spawn_stdin(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "read x; echo \"got $x\" >&2", NULL};
    hn_spawn_result res;
    assert_int_equal(hn_spawn_run(argv, "hello\nrest\n", 11, &res, NULL), HN_OK);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, "got hello\n");
    /* in == NULL: stdin is /dev/null (an immediate end of file) */
    const char *argv2[] = {"sh", "-c", "if read x; then echo data >&2; else echo eof >&2; fi", NULL};
    assert_int_equal(hn_spawn_run(argv2, NULL, 0, &res, NULL), HN_OK);
    assert_string_equal(res.err, "eof\n");
}

/* A child that reads nothing and exits (SIGPIPE must not kill us), and one
 * that writes much to stderr before reading (no deadlock); the kept stderr
 * is capped. */
static void test_spawn_big_io(void **state)
{
    (void)state;
    size_t n = 4u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    const char *argv[] = {"true", NULL};
    hn_spawn_result res;
    assert_int_equal(hn_spawn_run(argv, big, n, &res, NULL), HN_OK);
    assert_true(res.exited);
    assert_int_equal(res.status, 0);
    const char *argv2[] = {"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' e >&2; cat >/dev/null", NULL};
    assert_int_equal(hn_spawn_run(argv2, big, n, &res, NULL), HN_OK);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.err_len, HN_SPAWN_ERR_CAP - 1);
    assert_int_equal(strlen(res.err), HN_SPAWN_ERR_CAP - 1);
    free(big);
    sigset_t pend;
    sigpending(&pend);
    assert_false(sigismember(&pend, SIGPIPE));
    assert_no_zombie();
}

static void test_spawn_line(void **state)
{
    (void)state;
    char b[16];
    hn_spawn_line("  foo\tbar \r\nnext", b, sizeof b);
    assert_string_equal(b, "foo bar");
    hn_spawn_line("a\033[1mvery long line indeed", b, sizeof b);
    assert_string_equal(b, "a [1mvery long"); /* cut, then trimmed */
    hn_spawn_line("", b, sizeof b);
    assert_string_equal(b, "");
}

/* ------------------------------------------------------------ gnuplot quoting */

static void quoted(const char *s, int file, const char *want)
{
    hn_buf b;
    hn_buf_init(&b);
    if (file)
        hn_gnuplot_quote_file(&b, s);
    else
        hn_gnuplot_quote(&b, s);
    assert_false(b.failed);
    assert_string_equal(b.s, want);
    hn_buf_free(&b);
}

static void test_gnuplot_quote(void **state)
{
    (void)state;
    quoted("abc", 0, "'abc'");
    quoted("", 0, "''");
    quoted("it's", 0, "'it''s'");
    quoted("''", 0, "\"'\".\"'\"");
    quoted("'x", 0, "\"'\".'x'");
    quoted("a''b", 0, "'a'''.\"'\".'b'");
    quoted("x'", 0, "'x'''");
    quoted("a\"b\\c $(x) `y` @z #w", 0, "'a\"b\\c $(x) `y` @z #w'");
    quoted("a\nb", 0, "'a'.\"\\012\".'b'");
    quoted("\n", 0, "\"\\012\"");
    quoted("a\n", 0, "'a'.\"\\012\"");
    quoted("\na", 0, "\"\\012\".'a'");
    quoted("\r\t\177", 0, "\"\\015\".\"\\011\".\"\\177\"");
    /* file names: what gnuplot would take for a command, stdin, a
     * datablock, a special file or a home gets "./" */
    quoted("/abs/x.png", 1, "'/abs/x.png'");
    quoted("rel/x.png", 1, "'rel/x.png'");
    quoted(".hidden", 1, "'.hidden'");
    quoted("_x", 1, "'_x'");
    quoted("9x", 1, "'9x'");
    quoted("-x", 1, "'./-x'");
    quoted("<touch X", 1, "'./<touch X'");
    quoted("|touch X", 1, "'./|touch X'");
    quoted("$data", 1, "'./$data'");
    quoted("~/x", 1, "'./~/x'");
    quoted("+", 1, "'./+'");
    quoted(" x", 1, "'./ x'");
    quoted("'x", 1, "'./''x'");
    quoted("\nx", 1, "'./'.\"\\012\".'x'");
    quoted("\xc3\xa9t\xc3\xa9", 1, "'./\xc3\xa9t\xc3\xa9'");
}

static int have_gnuplot(void)
{
    const char *argv[] = {"gnuplot", "-e", "print 1", NULL};
    hn_spawn_result res;
    return hn_spawn_run(argv, NULL, 0, &res, NULL) == HN_OK && res.exited && res.status == 0;
}

/* gnuplot itself reads every quoted string back as the original bytes
 * (`print` writes to its stderr): fixed hostile cases, then every string
 * of up to 4 bytes over an alphabet of the bytes that matter. */
static void test_gnuplot_quote_roundtrip(void **state)
{
    (void)state;
    if (!have_gnuplot()) {
        skip();
        return;
    }
    char all[300];
    size_t k = 0;
    for (int c = 1; c < 256; c++)
        all[k++] = (char)c;
    all[k] = '\0';
    const char *fixed[] = {all, "x';system('touch pwned');'", "`touch pwned`", "$(touch pwned)",
                           "a\nb\n", "@x", "\"\\n\"", "'", "''", "'''x''", "a''''b"};
    const char alpha[] = "'\"\n`\\a";
    size_t na = sizeof alpha - 1, nf = sizeof fixed / sizeof *fixed;
    size_t total = nf + na + na * na + na * na * na + na * na * na * na;
    hn_buf script, want;
    hn_buf_init(&script);
    hn_buf_init(&want);
    for (size_t i = 0; i < total; i++) {
        char t[8] = {0};
        const char *c = t;
        if (i < nf)
            c = fixed[i];
        else /* i - nf + 1 in bijective base na: every string of 1..4 letters */
            for (size_t j = i - nf + 1, p = 0; j > 0 && p < 4; p++) {
                t[p] = alpha[(j - 1) % na];
                j = (j - 1) / na;
            }
        hn_buf_puts(&script, "print ");
        hn_gnuplot_quote(&script, c);
        hn_buf_puts(&script, "\n");
        hn_buf_puts(&want, c);
        hn_buf_puts(&want, "\n");
        if (want.len > HN_SPAWN_ERR_CAP / 2 || i + 1 == total) { /* one gnuplot run per batch */
            const char *argv[] = {"gnuplot", "/dev/stdin", NULL};
            hn_spawn_result res;
            assert_false(script.failed);
            assert_int_equal(hn_spawn_run(argv, script.s, script.len, &res, NULL), HN_OK);
            assert_int_equal(res.status, 0);
            assert_string_equal(res.err, want.s);
            hn_buf_free(&script);
            hn_buf_free(&want);
            hn_buf_init(&script);
            hn_buf_init(&want);
        }
    }
    assert_int_equal(access("pwned", F_OK), -1);
}

/* ------------------------------------------------------------ gnuplot messages */

/* PATH holding only `dir`, where a fake gnuplot may stand. */
static char *path_only(const char *dir)
{
    char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", dir, 1);
    return saved;
}

static void path_restore(char *saved)
{
    if (saved)
        setenv("PATH", saved, 1);
    else
        unsetenv("PATH");
    free(saved);
}

static void test_gnuplot_not_found(void **state)
{
    (void)state;
    const char *d = hn_test_tmpdir();
    char png[512];
    snprintf(png, sizeof png, "%s/f.png", d);
    char *saved = path_only(d);
    hn_err e;
    assert_int_equal(hn_gnuplot("set output @OUT@\n", png, &e), HN_EIO);
    assert_int_equal(hn_gnuplot_available(), 0);
    path_restore(saved);
    char want[600];
    snprintf(want, sizeof want, "%s: gnuplot not found (apt-get install gnuplot-nox)", png);
    assert_string_equal(e.msg, want);
    assert_int_equal(access(png, F_OK), -1);
}

static void test_gnuplot_failed(void **state)
{
    (void)state;
    const char *d = hn_test_tmpdir();
    char fake[512], png[512];
    snprintf(fake, sizeof fake, "%s/gnuplot", d);
    snprintf(png, sizeof png, "%s/f.png", d);
    FILE *f = fopen(fake, "w");
    assert_non_null(f);
    /* builtins only: PATH holds nothing else */
    fputs("#!/bin/sh\nwhile read -r l; do :; done\necho >&2\necho 'it broke' >&2\necho 'and more' >&2\nexit 4\n", f);
    fclose(f);
    assert_int_equal(chmod(fake, 0755), 0);
    char *saved = path_only(d);
    hn_err e;
    assert_int_equal(hn_gnuplot("set output @OUT@\n", png, &e), HN_EIO);
    path_restore(saved);
    char want[600];
    snprintf(want, sizeof want, "%s: gnuplot failed (exit status 4): it broke", png);
    assert_string_equal(e.msg, want);
    assert_int_equal(access(png, F_OK), -1);
    assert_no_zombie();
}

/* The real gnuplot's error: its "line N: ..." reason, in one line. */
static void test_gnuplot_error_line(void **state)
{
    (void)state;
    if (!have_gnuplot()) {
        skip();
        return;
    }
    const char *d = hn_test_tmpdir();
    char png[512];
    snprintf(png, sizeof png, "%s/f.png", d);
    hn_err e;
    assert_int_equal(hn_gnuplot("set output @OUT@\nplot 'no-such-file' using 1:2\n", png, &e), HN_EIO);
    char want[600];
    snprintf(want, sizeof want, "%s: gnuplot failed (exit status 1): line 2: No data in plot", png);
    assert_string_equal(e.msg, want);
    assert_null(strchr(e.msg, '\n'));
    assert_int_equal(access(png, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_not_found),
        cmocka_unit_test(test_spawn_exit_status_and_stderr),
        cmocka_unit_test(test_spawn_signal),
        cmocka_unit_test(test_spawn_argv_verbatim),
        cmocka_unit_test(test_spawn_stdin),
        cmocka_unit_test(test_spawn_big_io),
        cmocka_unit_test(test_spawn_line),
        cmocka_unit_test(test_gnuplot_quote),
        cmocka_unit_test(test_gnuplot_quote_roundtrip),
        cmocka_unit_test(test_gnuplot_not_found),
        cmocka_unit_test(test_gnuplot_failed),
        cmocka_unit_test(test_gnuplot_error_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
