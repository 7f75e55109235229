/* hessnorm — the byte reader of the IDX and CIFAR-10 loaders (raw or gzip). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "hessnorm/alloc.h"
#include "formats/bytesrc.h"

/* First growth step when the payload size of a gzip stream is unknown:
 * bounded so a lying header costs at most this much before the data runs out. */
#define GZ_FIRST_CHUNK ((size_t)1 << 16)
/* compressed bytes read at a time */
#define GZ_IN ((size_t)1 << 16)
/* inflate takes an unsigned int length */
#define GZ_MAX_READ ((size_t)1 << 30)

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t n;
    return hn_mul_size(items, size, &n) ? Z_NULL : hn_malloc(n);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    hn_free(p);
}

void hn_src_close(hn_src *s)
{
    if (s->f)
        fclose(s->f);
    if (s->z) {
        inflateEnd(s->z);
        hn_free(s->z);
    }
    hn_free(s->in);
    s->f = NULL;
    s->z = NULL;
    s->in = NULL;
}

int hn_src_open(hn_src *s, const char *path, hn_err *err)
{
    struct stat st;
    unsigned char magic[2];
    memset(s, 0, sizeof *s);
    s->path = path;
    s->f = fopen(path, "rb");
    if (!s->f)
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        hn_src_close(s);
        return hn_err_set(err, HN_EIO, "%s: %s", path, dir ? "cannot read: Is a directory" : "not a regular file");
    }
    s->size = (unsigned long long)st.st_size;
    int gz = fread(magic, 1, 2, s->f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (fseek(s->f, 0, SEEK_SET) != 0) {
        hn_src_close(s);
        return hn_err_set(err, HN_EIO, "%s: cannot seek: %s", path, strerror(errno));
    }
    if (!gz)
        return HN_OK;
    s->gz = 1;
    s->z = hn_calloc(1, sizeof *s->z);
    s->in = hn_malloc(GZ_IN);
    if (s->z) {
        s->z->zalloc = z_alloc;
        s->z->zfree = z_free;
    }
    /* 16 + MAX_WBITS: a gzip wrapper, its CRC and length checked */
    if (!s->z || !s->in || inflateInit2(s->z, 16 + MAX_WBITS) != Z_OK) {
        hn_free(s->z);
        s->z = NULL;
        hn_src_close(s);
        return hn_err_set(err, HN_ENOMEM, "%s: cannot open gzip stream: out of memory", path);
    }
    return HN_OK;
}

/* At the end of the gzip member: nothing may follow it. */
static int gz_after_end(hn_src *s, const char *what, hn_err *err)
{
    unsigned char b[2];
    size_t n = 0;
    while (n < 2 && s->z->avail_in > 0) {
        b[n++] = *s->z->next_in++;
        s->z->avail_in--;
    }
    if (n < 2)
        n += fread(b + n, 1, 2 - n, s->f);
    if (ferror(s->f))
        return hn_err_set(err, HN_EIO, "%s: read error in %s: %s", s->path, what, strerror(errno));
    if (n == 0)
        return HN_OK;
    if (n == 2 && b[0] == 0x1f && b[1] == 0x8b)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: a second gzip member follows the first (one gzip stream expected)",
                          s->path);
    return hn_err_set(err, HN_EFORMAT, "%s: trailing garbage after the gzip stream (in %s)",
                      s->path, what);
}

static int gz_read(hn_src *s, unsigned char *buf, size_t n, size_t *got, const char *what,
                   hn_err *err)
{
    z_stream *z = s->z;
    z->next_out = buf;
    z->avail_out = (uInt)n;
    while (z->avail_out > 0 && !s->end) {
        if (z->avail_in == 0) {
            size_t r = fread(s->in, 1, GZ_IN, s->f);
            if (r == 0 && ferror(s->f))
                return hn_err_set(err, HN_EIO, "%s: read error in %s: %s", s->path, what,
                                  strerror(errno));
            if (r == 0)
                return hn_err_set(err, HN_EFORMAT, "%s: gzip stream truncated in %s", s->path,
                                  what);
            z->next_in = s->in;
            z->avail_in = (uInt)r;
        }
        int zr = inflate(z, Z_NO_FLUSH);
        *got = n - z->avail_out;
        if (zr == Z_STREAM_END) {
            s->end = 1;
            return gz_after_end(s, what, err);
        }
        if (zr == Z_MEM_ERROR)
            return hn_err_set(err, HN_ENOMEM, "%s: out of memory in zlib reading %s", s->path,
                              what);
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return hn_err_set(err, HN_EFORMAT, "%s: corrupt gzip data in %s (zlib: %s)", s->path,
                              what, z->msg ? z->msg : "bad data");
    }
    *got = n - z->avail_out;
    return HN_OK;
}

int hn_src_read(hn_src *s, void *buf, size_t n, size_t *got, const char *what, hn_err *err)
{
    *got = 0;
    if (!s->gz) {
        size_t r = fread(buf, 1, n, s->f);
        s->pos += r;
        *got = r;
        if (r < n && ferror(s->f))
            return hn_err_set(err, HN_EIO, "%s: read error in %s", s->path, what);
        return HN_OK;
    }
    while (*got < n && !s->end) {
        size_t want = n - *got, g = 0;
        if (want > GZ_MAX_READ)
            want = GZ_MAX_READ;
        int rc = gz_read(s, (unsigned char *)buf + *got, want, &g, what, err);
        *got += g;
        if (rc)
            return rc;
    }
    return HN_OK;
}

int hn_src_slurp(hn_src *s, size_t want, int exact, unsigned char **buf, size_t *len, int *more,
                 const char *what, hn_err *err)
{
    int rc;
    size_t got;
    *buf = NULL;
    *len = 0;
    *more = 0;
    if (!s->gz) {
        unsigned long long rem = s->size > s->pos ? s->size - s->pos : 0;
        size_t n = rem < (unsigned long long)want ? (size_t)rem : want;
        *more = rem > (unsigned long long)want;
        if (exact && (n != want || *more)) {
            *len = n;
            return HN_OK;
        }
        unsigned char *b = hn_malloc(n);
        if (!b)
            return hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zu bytes of %s", s->path,
                              n, what);
        if ((rc = hn_src_read(s, b, n, &got, what, err)) != HN_OK || got != n) {
            hn_free(b);
            return rc ? rc : hn_err_set(err, HN_EIO, "%s: file shrank while reading %s",
                                        s->path, what);
        }
        *buf = b;
        *len = n;
        return HN_OK;
    }
    size_t cap = want < GZ_FIRST_CHUNK ? want : GZ_FIRST_CHUNK, have = 0;
    unsigned char *b = hn_malloc(cap);
    if (!b)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zu bytes of %s", s->path, cap,
                          what);
    for (;;) {
        if ((rc = hn_src_read(s, b + have, cap - have, &got, what, err)) != HN_OK) {
            hn_free(b);
            return rc;
        }
        have += got;
        if (have < cap || cap == want)
            break;
        size_t ncap = cap > want / 2 ? want : 2 * cap;
        unsigned char *nb = hn_realloc(b, ncap);
        if (!nb) {
            hn_free(b);
            return hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zu bytes of %s", s->path,
                              ncap, what);
        }
        b = nb;
        cap = ncap;
    }
    if (have == want) {
        unsigned char probe;
        if ((rc = hn_src_read(s, &probe, 1, &got, what, err)) != HN_OK) {
            hn_free(b);
            return rc;
        }
        *more = got == 1;
    }
    *buf = b;
    *len = have;
    return HN_OK;
}
