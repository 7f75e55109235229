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
/* gzread takes an unsigned int length. */
#define GZ_MAX_READ ((size_t)1 << 30)

void hn_src_close(hn_src *s)
{
    if (s->f)
        fclose(s->f);
    if (s->gz)
        gzclose(s->gz);
    s->f = NULL;
    s->gz = NULL;
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
        hn_src_close(s);
        return hn_err_set(err, HN_EIO, "%s: not a regular file", path);
    }
    s->size = (unsigned long long)st.st_size;
    if (fread(magic, 1, 2, s->f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(s->f);
        s->f = NULL;
        errno = 0; /* zlib's own malloc failing may leave errno 0 */
        s->gz = gzopen(path, "rb");
        if (!s->gz) {
            int oom = errno == 0 || errno == ENOMEM;
            return hn_err_set(err, oom ? HN_ENOMEM : HN_EIO, "%s: cannot open gzip stream: %s",
                              path, oom ? "out of memory" : strerror(errno));
        }
        gzbuffer(s->gz, 1u << 16);
        return HN_OK;
    }
    if (fseek(s->f, 0, SEEK_SET) != 0) {
        hn_src_close(s);
        return hn_err_set(err, HN_EIO, "%s: cannot seek: %s", path, strerror(errno));
    }
    return HN_OK;
}

int hn_src_read(hn_src *s, void *buf, size_t n, size_t *got, const char *what, hn_err *err)
{
    *got = 0;
    if (s->f) {
        size_t r = fread(buf, 1, n, s->f);
        s->pos += r;
        *got = r;
        if (r < n && ferror(s->f))
            return hn_err_set(err, HN_EIO, "%s: read error in %s", s->path, what);
        return HN_OK;
    }
    while (*got < n) {
        size_t want = n - *got;
        if (want > GZ_MAX_READ)
            want = GZ_MAX_READ;
        int r = gzread(s->gz, (unsigned char *)buf + *got, (unsigned)want);
        if (r > 0)
            *got += (size_t)r;
        if (r < 0 || (size_t)r < want) {
            int zerr;
            const char *zmsg = gzerror(s->gz, &zerr);
            if (zerr == Z_OK)
                break; /* clean end of stream */
            if (zerr == Z_BUF_ERROR)
                return hn_err_set(err, HN_EFORMAT, "%s: gzip stream truncated in %s", s->path,
                                  what);
            if (zerr == Z_MEM_ERROR)
                return hn_err_set(err, HN_ENOMEM, "%s: out of memory in zlib reading %s",
                                  s->path, what);
            if (zerr == Z_ERRNO)
                return hn_err_set(err, HN_EIO, "%s: read error in %s: %s", s->path, what,
                                  strerror(errno));
            return hn_err_set(err, HN_EFORMAT, "%s: corrupt gzip data in %s (zlib: %s)", s->path,
                              what, zmsg);
        }
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
    if (s->f) {
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
