/* hessnorm — growable text buffers. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/buf.h"

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
