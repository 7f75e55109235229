/* hessnorm — report helpers: text buffers, directories, gnuplot. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hessnorm/alloc.h"
#include "hessnorm/io.h"
#include "hessnorm/report.h"

void hn_buf_init(hn_buf *b) { memset(b, 0, sizeof *b); }

void hn_buf_free(hn_buf *b)
{
    hn_free(b->s);
    memset(b, 0, sizeof *b);
}

static int reserve(hn_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *s = hn_realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void hn_buf_printf(hn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hn_buf_puts(hn_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (reserve(b, n) != 0)
        return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void hn_buf_html(hn_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': hn_buf_puts(b, "&lt;"); break;
        case '>': hn_buf_puts(b, "&gt;"); break;
        case '&': hn_buf_puts(b, "&amp;"); break;
        case '"': hn_buf_puts(b, "&quot;"); break;
        default: {
            char c[2] = {*s, 0};
            hn_buf_puts(b, c);
        }
        }
    }
}

int hn_buf_save(const hn_buf *b, const char *path, hn_err *err)
{
    if (b->failed)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory while building the file", path);
    return hn_write_file_atomic(path, b->s ? b->s : "", b->len, err);
}

int hn_mkdir_p(const char *path, hn_err *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return hn_err_set(err, HN_EINVAL, "%s: bad directory name", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return hn_err_set(err, HN_EIO, "%s: cannot create directory: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return hn_err_set(err, HN_EIO, "%s: not a directory", path);
    return HN_OK;
}

int hn_gnuplot_available(void)
{
    return system("gnuplot -e 'set terminal pngcairo' </dev/null >/dev/null 2>&1") == 0 ||
           system("gnuplot -e 'set terminal png' </dev/null >/dev/null 2>&1") == 0;
}

int hn_gnuplot(const char *script, const char *png_path, hn_err *err)
{
    char tmp_png[4200], tmp_gp[4200];
    snprintf(tmp_png, sizeof tmp_png, "%s.tmp%ld", png_path, (long)getpid());
    snprintf(tmp_gp, sizeof tmp_gp, "%s.gp.tmp%ld", png_path, (long)getpid());
    hn_buf b;
    hn_buf_init(&b);
    for (const char *p = script; *p;) {
        const char *q = strstr(p, "@OUT@");
        if (!q) {
            hn_buf_puts(&b, p);
            break;
        }
        hn_buf_printf(&b, "%.*s'%s'", (int)(q - p), p, tmp_png);
        p = q + 5;
    }
    int rc = hn_buf_save(&b, tmp_gp, err);
    hn_buf_free(&b);
    if (rc)
        return rc;
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' </dev/null >/dev/null 2>&1", tmp_gp);
    int st = system(cmd);
    unlink(tmp_gp);
    if (st != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(tmp_png);
        return hn_err_set(err, HN_EIO, "%s: gnuplot failed (is gnuplot-nox installed?)", png_path);
    }
    if (rename(tmp_png, png_path) != 0) {
        int e = errno;
        unlink(tmp_png);
        return hn_err_set(err, HN_EIO, "%s: %s", png_path, strerror(e));
    }
    return HN_OK;
}
