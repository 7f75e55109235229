/* hessnorm — the gnuplot driver for report figures: gnuplot started with
 * an argument vector (src/base/spawn.c), its script fed on stdin, every
 * path and text in the script quoted for gnuplot's string syntax. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hessnorm/buf.h"
#include "hessnorm/gnuplot.h"
#include "base/spawn.h"

/* gnuplot reads its script from this file name, which names its stdin:
 * errors then read '"/dev/stdin" line N: ...' and end the run, as with
 * any script file, and no path of ours is ever an argument. */
#define HN_GP_SCRIPT "/dev/stdin"

int hn_gnuplot_terminal(const char *name)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "set terminal %s", name);
    const char *argv[] = {"gnuplot", "-e", cmd, NULL};
    hn_spawn_result res;
    return hn_spawn_run(argv, NULL, 0, &res, NULL) == HN_OK && res.exited && res.status == 0;
}

int hn_gnuplot_available(void)
{
    return hn_gnuplot_terminal("pngcairo") || hn_gnuplot_terminal("png");
}

/* Append the bytes of s to the string constant being written.  *state:
 * 0 nothing written yet, 1 inside a '...' piece, 2 after a "..." piece.
 * gnuplot 5.4's scanner reads '' as a quote only after another byte of
 * the piece ('''x' and 'a''''b' are errors), so a quote at the start of a
 * piece or right after a quote is a "'" piece of its own. */
static void gp_pieces(hn_buf *b, const char *s, int *state, unsigned char *last)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || (c == '\'' && (*state != 1 || *last == '\''))) {
            hn_buf_puts(b, *state == 1 ? "'." : *state == 2 ? "." : "");
            if (c == '\'')
                hn_buf_puts(b, "\"'\"");
            else
                hn_buf_printf(b, "\"\\%03o\"", c);
            *state = 2;
            continue;
        }
        if (*state != 1)
            hn_buf_puts(b, *state == 2 ? ".'" : "'");
        *state = 1;
        *last = c;
        char t[2] = {(char)c, 0};
        hn_buf_puts(b, c == '\'' ? "''" : t);
    }
}

/* pre followed by s as one gnuplot string constant. */
static void gp_quote2(hn_buf *b, const char *pre, const char *s)
{
    int state = 0;
    unsigned char last = 0;
    gp_pieces(b, pre, &state, &last);
    gp_pieces(b, s, &state, &last);
    hn_buf_puts(b, state == 1 ? "'" : state == 0 ? "''" : "");
}

void hn_gnuplot_quote(hn_buf *b, const char *s)
{
    gp_quote2(b, "", s);
}

void hn_gnuplot_quote_file(hn_buf *b, const char *path)
{
    unsigned char c = (unsigned char)path[0];
    int plain = c == '/' || c == '_' || c == '.' || (c < 0x80 && isalnum(c));
    gp_quote2(b, plain ? "" : "./", path);
}

/* One line for a failed run: gnuplot's first error ('"/dev/stdin" line N:
 * MSG', warnings skipped unless nothing else), else its first non-blank
 * stderr line; "" when it printed nothing. */
static void gp_reason(const char *text, char *b, size_t n)
{
    static const char tag[] = "\"" HN_GP_SCRIPT "\" ";
    const size_t tl = sizeof tag - 1;
    const char *error = NULL, *warning = NULL, *other = NULL;
    for (const char *l = text; *l && !error;) {
        const char *nl = strchr(l, '\n'), *m;
        if (strncmp(l, tag, tl) == 0) {
            m = strchr(l + tl, ':');
            if (m && strncmp(m, ": warning:", 10) == 0)
                warning = warning ? warning : l + tl;
            else
                error = l + tl;
        } else if (!other && strspn(l, " \t\r") < strcspn(l, "\n"))
            other = l;
        if (!nl)
            break;
        l = nl + 1;
    }
    const char *pick = error ? error : warning ? warning : other;
    hn_spawn_line(pick ? pick : "", b, n);
}

/* Run gnuplot on the script text; HN_EIO naming png_path when it cannot
 * run or fails. */
static int gp_run(const char *script, size_t len, const char *png_path, hn_err *err)
{
    const char *argv[] = {"gnuplot", HN_GP_SCRIPT, NULL};
    hn_spawn_result res;
    hn_err se;
    if (hn_spawn_run(argv, script, len, &res, &se) != HN_OK) {
        if (res.start_errno == ENOENT)
            return hn_err_set(err, HN_EIO, "%s: gnuplot not found (apt-get install gnuplot-nox)", png_path);
        return hn_err_set(err, HN_EIO, "%s: %s", png_path, se.msg);
    }
    if (res.exited && res.status == 0)
        return HN_OK;
    char why[200];
    gp_reason(res.err, why, sizeof why);
    char how[40];
    if (res.exited)
        snprintf(how, sizeof how, "exit status %d", res.status);
    else
        snprintf(how, sizeof how, "signal %d", res.signal);
    return hn_err_set(err, HN_EIO, "%s: gnuplot failed (%s)%s%s", png_path, how, *why ? ": " : "", why);
}

int hn_gnuplot(const char *script, const char *png_path, hn_err *err)
{
    char tmp_png[4200];
    snprintf(tmp_png, sizeof tmp_png, "%s.tmp%ld", png_path, (long)getpid());
    hn_buf b;
    hn_buf_init(&b);
    for (const char *p = script; *p;) {
        const char *q = strstr(p, "@OUT@");
        if (!q) {
            hn_buf_puts(&b, p);
            break;
        }
        hn_buf_printf(&b, "%.*s", (int)(q - p), p);
        hn_gnuplot_quote_file(&b, tmp_png);
        p = q + 5;
    }
    int rc = b.failed ? hn_err_set(err, HN_ENOMEM, "%s: out of memory", png_path)
                      : gp_run(b.s, b.len, png_path, err);
    hn_buf_free(&b);
    if (rc) {
        unlink(tmp_png);
        return rc;
    }
    if (rename(tmp_png, png_path) != 0) {
        int e = errno;
        unlink(tmp_png);
        return hn_err_set(err, HN_EIO, "%s: %s", png_path, strerror(e));
    }
    return HN_OK;
}
