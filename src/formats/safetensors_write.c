/* hessnorm — safetensors writer: tensors added by name, written with the
 * header sorted by name and padded to 8 bytes, atomically. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/buf.h"
#include "hessnorm/file.h"
#include "hessnorm/safetensors.h"

static const char *dtype_str(hn_st_dtype d)
{
    switch (d) {
    case HN_ST_F64: return "F64";
    case HN_ST_F32: return "F32";
    case HN_ST_I64: return "I64";
    case HN_ST_I32: return "I32";
    default: return NULL;
    }
}

static size_t dtype_bytes(hn_st_dtype d)
{
    return (d == HN_ST_F64 || d == HN_ST_I64) ? 8 : 4;
}

static void put_le(unsigned char *p, uint64_t u, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

/* ------------------------------------------------------------ writer */

typedef struct {
    char *name;
    hn_st_dtype dtype;
    int ndim;
    size_t shape[HN_ST_MAX_DIMS];
    size_t nbytes;
    unsigned char *bytes;    /* already little-endian */
} st_entry;

struct hn_st_writer {
    size_t n, cap;
    st_entry *e;
};

hn_st_writer *hn_st_writer_new(void)
{
    return hn_calloc(1, sizeof(hn_st_writer));
}

void hn_st_writer_free(hn_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        hn_free(w->e[i].name);
        hn_free(w->e[i].bytes);
    }
    hn_free(w->e);
    hn_free(w);
}

static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        int n;
        uint32_t cp;
        if (c < 0x80) {
            s++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

int hn_st_writer_add(hn_st_writer *w, const char *name, hn_st_dtype dtype, int ndim,
                     const size_t *shape, const void *data, hn_err *err)
{
    st_entry *e;
    size_t numel = 1, nbytes, esz;
    const unsigned char *src = data;

    if (!w || !name)
        return hn_err_set(err, HN_EINVAL, "safetensors writer: no writer or no name");
    if (!*name || strcmp(name, "__metadata__") == 0 || !valid_utf8((const unsigned char *)name))
        return hn_err_set(err, HN_EINVAL, "safetensors writer: invalid tensor name \"%s\"", name);
    if (!dtype_str(dtype))
        return hn_err_set(err, HN_EINVAL,
                          "safetensors writer: tensor \"%s\": only F64, F32, I64, I32 can be "
                          "written",
                          name);
    if (ndim < 0 || ndim > HN_ST_MAX_DIMS || (ndim > 0 && !shape))
        return hn_err_set(err, HN_EINVAL, "safetensors writer: tensor \"%s\": bad ndim %d", name,
                          ndim);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return hn_err_set(err, HN_EINVAL, "safetensors writer: tensor \"%s\" added twice",
                              name);
    for (int i = 0; i < ndim; i++)
        if (hn_mul_size(numel, shape[i], &numel) != 0)
            return hn_err_set(err, HN_ERANGE,
                              "safetensors writer: tensor \"%s\": element count overflows", name);
    esz = dtype_bytes(dtype);
    if (hn_mul_size(numel, esz, &nbytes) != 0)
        return hn_err_set(err, HN_ERANGE, "safetensors writer: tensor \"%s\": too large", name);
    if (nbytes > 0 && !data)
        return hn_err_set(err, HN_EINVAL, "safetensors writer: tensor \"%s\": no data", name);

    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 8;
        size_t sz;
        st_entry *ne;
        if (hn_mul_size(nc, sizeof *ne, &sz) != 0)
            return hn_err_set(err, HN_ERANGE, "safetensors writer: too many tensors");
        ne = hn_realloc(w->e, sz);
        if (!ne)
            return hn_err_set(err, HN_ENOMEM, "safetensors writer: out of memory");
        w->e = ne;
        w->cap = nc;
    }
    e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = hn_strdup(name);
    e->bytes = hn_malloc(nbytes);
    if (!e->name || !e->bytes) {
        hn_free(e->name);
        hn_free(e->bytes);
        return hn_err_set(err, HN_ENOMEM, "safetensors writer: out of memory for tensor \"%s\"",
                          name);
    }
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
    e->nbytes = nbytes;
    /* Convert to little-endian bytes now, through memcpy (data may be unaligned). */
    for (size_t i = 0; i < numel; i++) {
        if (esz == 8) {
            uint64_t u;
            memcpy(&u, src + 8 * i, 8);
            put_le(e->bytes + 8 * i, u, 8);
        } else {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            put_le(e->bytes + 4 * i, u, 4);
        }
    }
    w->n++;
    return HN_OK;
}

/* s as a JSON string (quotes, backslash and control bytes escaped). */
static void sb_json_string(hn_buf *b, const char *s)
{
    hn_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            hn_buf_printf(b, "%.*s", 2, esc);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            hn_buf_printf(b, "%.*s", 6, esc);
        } else {
            hn_buf_printf(b, "%c", (char)c);
        }
    }
    hn_buf_puts(b, "\"");
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

int hn_st_writer_save(hn_st_writer *w, const char *path, hn_err *err)
{
    hn_buf hb;
    hn_buf_init(&hb);
    size_t off = 0, hlen, total;
    unsigned char *buf;
    int rc;

    if (!w || !path)
        return hn_err_set(err, HN_EINVAL, "safetensors writer: no writer or no path");
    /* Sorted by name in the header and in the data, as the Python library
     * lays out tensors of one dtype. */
    if (w->n > 1)
        qsort(w->e, w->n, sizeof *w->e, cmp_entries);
    hn_buf_puts(&hb, "{");
    for (size_t i = 0; i < w->n; i++) {
        const st_entry *e = &w->e[i];
        if (i)
            hn_buf_puts(&hb, ",");
        sb_json_string(&hb, e->name);
        hn_buf_puts(&hb, ":{\"dtype\":\"");
        hn_buf_puts(&hb, dtype_str(e->dtype));
        hn_buf_puts(&hb, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            if (d)
                hn_buf_puts(&hb, ",");
            hn_buf_printf(&hb, "%zu", e->shape[d]);
        }
        hn_buf_puts(&hb, "],\"data_offsets\":[");
        hn_buf_printf(&hb, "%zu", off);
        hn_buf_puts(&hb, ",");
        if (e->nbytes > SIZE_MAX - off) {
            hn_buf_free(&hb);
            return hn_err_set(err, HN_ERANGE, "%s: total data size overflows", path);
        }
        off += e->nbytes;
        hn_buf_printf(&hb, "%zu", off);
        hn_buf_puts(&hb, "]}");
    }
    hn_buf_puts(&hb, "}");
    /* Pad with spaces so the data starts at a multiple of 8. */
    while (!hb.failed && hb.len % 8 != 0)
        hn_buf_puts(&hb, " ");
    if (hb.failed) {
        hn_buf_free(&hb);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory building the header", path);
    }
    hlen = hb.len;
    if (off > SIZE_MAX - 8 - hlen) {
        hn_buf_free(&hb);
        return hn_err_set(err, HN_ERANGE, "%s: file size overflows", path);
    }
    total = 8 + hlen + off;
    buf = hn_malloc(total);
    if (!buf) {
        hn_buf_free(&hb);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zu bytes", path, total);
    }
    put_le(buf, (uint64_t)hlen, 8);
    memcpy(buf + 8, hb.s, hlen);
    hn_buf_free(&hb);
    off = 8 + hlen;
    for (size_t i = 0; i < w->n; i++) {
        if (w->e[i].nbytes)
            memcpy(buf + off, w->e[i].bytes, w->e[i].nbytes);
        off += w->e[i].nbytes;
    }
    rc = hn_write_file_atomic(path, buf, total, err);
    hn_free(buf);
    return rc;
}
