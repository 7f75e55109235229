/* hessnorm — dataset loaders: IDX (raw/gzip), CIFAR-10 binary, OpenCV digit
 * sheet (PNG).  Rule throughout: a size read from a file is checked against
 * the bytes actually present before anything is allocated from it. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <png.h>
#include <zlib.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define SHEET_W 2000
#define SHEET_H 1000
#define CELL 20
#define CELLS_PER_ROW (SHEET_W / CELL)
#define SHEET_N ((SHEET_W / CELL) * (SHEET_H / CELL))
#define PER_CLASS (SHEET_N / 10)
#define PAD 4
#define SIDE (CELL + 2 * PAD)
#define DIGITS_TRAIN_PER_CLASS 400
/* First growth step when the payload size of a gzip stream is unknown:
 * bounded so a lying header costs at most this much before the data runs out. */
#define GZ_FIRST_CHUNK ((size_t)1 << 16)
/* gzread takes an unsigned int length. */
#define GZ_MAX_READ ((size_t)1 << 30)

/* ------------------------------------------------------------ datasets */

int hn_dataset_alloc(size_t n, size_t c, size_t h, size_t w, hn_dataset **out, hn_err *err)
{
    size_t per, tot, bytes;
    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_alloc: out is NULL");
    *out = NULL;
    if (n == 0 || c == 0 || h == 0 || w == 0)
        return hn_err_set(err, HN_EINVAL, "dataset shape %zu x %zu x %zu x %zu has a zero dim",
                          n, c, h, w);
    if (hn_mul3_size(c, h, w, &per) != 0 || hn_mul_size(n, per, &tot) != 0 ||
        hn_mul_size(tot, sizeof(double), &bytes) != 0)
        return hn_err_set(err, HN_ERANGE, "dataset shape %zu x %zu x %zu x %zu overflows size_t",
                          n, c, h, w);
    hn_dataset *d = hn_calloc(1, sizeof *d);
    if (!d)
        return hn_err_set(err, HN_ENOMEM, "out of memory allocating a dataset");
    d->x = hn_calloc(tot, sizeof(double));
    d->y = hn_calloc(n, 1);
    if (!d->x || !d->y) {
        hn_dataset_free(d);
        return hn_err_set(err, HN_ENOMEM, "out of memory allocating %zu x %zu x %zu x %zu pixels",
                          n, c, h, w);
    }
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    *out = d;
    return HN_OK;
}

void hn_dataset_free(hn_dataset *d)
{
    if (!d)
        return;
    hn_free(d->x);
    hn_free(d->y);
    hn_free(d);
}

static size_t sample_size(const hn_dataset *d) { return d->c * d->h * d->w; }

static void bytes_to_unit(const unsigned char *b, size_t n, double *x)
{
    double lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = i / 255.0;
    for (size_t i = 0; i < n; i++)
        x[i] = lut[b[i]];
}

/* ------------------------------------------------------------ byte source
 * One reader for raw and gzip files.  For raw files the size is known up
 * front; for gzip it is not, so payloads are read into a buffer that grows
 * only as decompressed bytes actually arrive. */

typedef struct {
    const char *path;
    FILE *f;                 /* raw file, or NULL */
    gzFile gz;               /* gzip stream, or NULL */
    unsigned long long size; /* raw: file size in bytes */
    unsigned long long pos;  /* raw: bytes consumed */
} src;

static void src_close(src *s)
{
    if (s->f)
        fclose(s->f);
    if (s->gz)
        gzclose(s->gz);
    s->f = NULL;
    s->gz = NULL;
}

static int src_open(src *s, const char *path, hn_err *err)
{
    struct stat st;
    unsigned char magic[2];
    memset(s, 0, sizeof *s);
    s->path = path;
    s->f = fopen(path, "rb");
    if (!s->f)
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        src_close(s);
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
        src_close(s);
        return hn_err_set(err, HN_EIO, "%s: cannot seek: %s", path, strerror(errno));
    }
    return HN_OK;
}

/* Read up to n bytes; *got < n only at end of data.  Read failures and
 * corrupt or cut-off gzip streams are errors naming `what`. */
static int src_read(src *s, void *buf, size_t n, size_t *got, const char *what, hn_err *err)
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

/* Read the rest of the data, at most `want` bytes, into a new buffer.
 * *len is the number of bytes present (<= want) and *more is set when data
 * continues past `want`.  With `exact` and a raw file whose remaining size
 * differs from `want`, nothing is read or allocated (*buf NULL, *len and
 * *more describe the mismatch). */
static int src_slurp(src *s, size_t want, int exact, unsigned char **buf, size_t *len,
                     int *more, const char *what, hn_err *err)
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
        if ((rc = src_read(s, b, n, &got, what, err)) != HN_OK || got != n) {
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
        if ((rc = src_read(s, b + have, cap - have, &got, what, err)) != HN_OK) {
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
        if ((rc = src_read(s, &probe, 1, &got, what, err)) != HN_OK) {
            hn_free(b);
            return rc;
        }
        *more = got == 1;
    }
    *buf = b;
    *len = have;
    return HN_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ------------------------------------------------------------ IDX */

static int idx_header(src *s, unsigned char *h, size_t len, uint32_t magic, const char *kind,
                      hn_err *err)
{
    size_t got;
    int rc = src_read(s, h, len, &got, "the IDX header", err);
    if (rc)
        return rc;
    /* Magic first: a file of the wrong kind may well be shorter than this header. */
    if (got >= 4 && be32(h) != magic)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: IDX header field magic is 0x%08x, expected 0x%08x (%s)", s->path,
                          be32(h), magic, kind);
    if (got < len)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: truncated IDX header: %zu of %zu bytes (magic and dims)", s->path,
                          got, len);
    for (size_t i = 4; i < len; i += 4)
        if (be32(h + i) == 0)
            return hn_err_set(err, HN_EFORMAT, "%s: IDX header field %s is 0", s->path,
                              i == 4 ? "count" : i == 8 ? "rows" : "cols");
    return HN_OK;
}

/* Read exactly `want` payload bytes, naming the declared shape on mismatch. */
static int idx_payload(src *s, size_t want, const char *what, const char *dims,
                       unsigned char **buf, hn_err *err)
{
    size_t len;
    int more, rc = src_slurp(s, want, 1, buf, &len, &more, what, err);
    if (rc)
        return rc;
    if (len < want || more) {
        hn_free(*buf);
        *buf = NULL;
        if (len < want)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: truncated: %zu bytes of %s, the header's dims %s need %zu",
                              s->path, len, what, dims, want);
        return hn_err_set(err, HN_EFORMAT,
                          "%s: trailing bytes after the %zu bytes of %s the header's dims %s declare",
                          s->path, want, what, dims);
    }
    return HN_OK;
}

int hn_idx_load(const char *images_path, const char *labels_path, hn_dataset **out,
                hn_err *err)
{
    src si, sl;
    unsigned char hi[16], hl[8], *pix = NULL, *lab = NULL;
    char dims[96];
    size_t npix;
    int rc;

    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_idx_load: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return hn_err_set(err, HN_EINVAL, "hn_idx_load: %s path is NULL",
                          images_path ? "labels" : "images");
    if ((rc = src_open(&si, images_path, err)) != HN_OK)
        return rc;
    if ((rc = src_open(&sl, labels_path, err)) != HN_OK) {
        src_close(&si);
        return rc;
    }
    if ((rc = idx_header(&si, hi, sizeof hi, IDX_IMAGES_MAGIC, "unsigned-byte images, 3 dims",
                         err)) != HN_OK ||
        (rc = idx_header(&sl, hl, sizeof hl, IDX_LABELS_MAGIC, "unsigned-byte labels, 1 dim",
                         err)) != HN_OK)
        goto done;
    uint32_t n = be32(hi + 4), rows = be32(hi + 8), cols = be32(hi + 12), nl = be32(hl + 4);
    snprintf(dims, sizeof dims, "%" PRIu32 " x %" PRIu32 " x %" PRIu32, n, rows, cols);
    if (hn_mul3_size(n, rows, cols, &npix) != 0 || npix > SIZE_MAX / sizeof(double)) {
        rc = hn_err_set(err, HN_ERANGE, "%s: IDX header dims %s overflow size_t", images_path,
                        dims);
        goto done;
    }
    if (nl != n) {
        rc = hn_err_set(err, HN_EFORMAT,
                        "%s: IDX header field count is %" PRIu32 " but %s holds %" PRIu32
                        " images",
                        labels_path, nl, images_path, n);
        goto done;
    }
    if ((rc = idx_payload(&si, npix, "pixels", dims, &pix, err)) != HN_OK ||
        (rc = idx_payload(&sl, n, "labels", dims, &lab, err)) != HN_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (lab[i] > 9) {
            rc = hn_err_set(err, HN_ERANGE, "%s: label[%zu] is %u, outside 0..9", labels_path, i,
                            lab[i]);
            goto done;
        }
    src_close(&si);
    src_close(&sl);
    if ((rc = hn_dataset_alloc(n, 1, rows, cols, out, err)) != HN_OK) {
        hn_err_prefix(err, images_path);
        goto done;
    }
    bytes_to_unit(pix, npix, (*out)->x);
    memcpy((*out)->y, lab, n);
done:
    src_close(&si);
    src_close(&sl);
    hn_free(pix);
    hn_free(lab);
    return rc;
}

/* ------------------------------------------------------------ CIFAR-10 */

static int cifar_read_batch(const char *path, unsigned char **buf, size_t *nrec, hn_err *err)
{
    src s;
    size_t len;
    int more, rc;
    *buf = NULL;
    *nrec = 0;
    if ((rc = src_open(&s, path, err)) != HN_OK)
        return rc;
    if (s.f && (s.size == 0 || s.size % CIFAR_RECORD != 0))
        len = s.size > SIZE_MAX ? SIZE_MAX : (size_t)s.size; /* rejected below, unread */
    else if ((rc = src_slurp(&s, s.f ? (size_t)s.size : SIZE_MAX - 1, 0, buf, &len, &more,
                             "records", err)) != HN_OK) {
        src_close(&s);
        return rc;
    }
    src_close(&s);
    if (len == 0 || len % CIFAR_RECORD != 0) {
        hn_free(*buf);
        *buf = NULL;
        if (len == 0)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: empty file; a CIFAR-10 batch holds %d-byte records", path,
                              CIFAR_RECORD);
        return hn_err_set(err, HN_EFORMAT,
                          "%s: file size %zu bytes is not a multiple of the %d-byte record "
                          "(1 label + 3x32x32 pixels)",
                          path, len, CIFAR_RECORD);
    }
    *nrec = len / CIFAR_RECORD;
    for (size_t r = 0; r < *nrec; r++) {
        unsigned lab = (*buf)[r * CIFAR_RECORD];
        if (lab > 9) {
            hn_free(*buf);
            *buf = NULL;
            return hn_err_set(err, HN_ERANGE, "%s: record %zu: label %u is outside 0..9", path,
                              r, lab);
        }
    }
    return HN_OK;
}

int hn_cifar10_load(const char *const *batch_paths, size_t n_paths, hn_dataset **out,
                    hn_err *err)
{
    unsigned char **bufs = NULL;
    size_t *nrec = NULL, total = 0;
    int rc = HN_OK;

    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_cifar10_load: out is NULL");
    *out = NULL;
    if (!batch_paths || n_paths == 0)
        return hn_err_set(err, HN_EINVAL, "hn_cifar10_load: no batch files given");
    for (size_t i = 0; i < n_paths; i++)
        if (!batch_paths[i])
            return hn_err_set(err, HN_EINVAL, "hn_cifar10_load: batch path %zu is NULL", i);
    bufs = hn_calloc(n_paths, sizeof *bufs);
    nrec = hn_calloc(n_paths, sizeof *nrec);
    if (!bufs || !nrec) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory for the batch list", batch_paths[0]);
        goto done;
    }
    for (size_t i = 0; i < n_paths; i++) {
        if ((rc = cifar_read_batch(batch_paths[i], &bufs[i], &nrec[i], err)) != HN_OK)
            goto done;
        if (total > SIZE_MAX - nrec[i]) {
            rc = hn_err_set(err, HN_ERANGE, "%s: record count overflows size_t", batch_paths[i]);
            goto done;
        }
        total += nrec[i];
    }
    if ((rc = hn_dataset_alloc(total, 3, CIFAR_SIDE, CIFAR_SIDE, out, err)) != HN_OK) {
        hn_err_prefix(err, batch_paths[0]);
        goto done;
    }
    for (size_t i = 0, k = 0; i < n_paths; i++)
        for (size_t r = 0; r < nrec[i]; r++, k++) {
            const unsigned char *rec = bufs[i] + r * CIFAR_RECORD;
            (*out)->y[k] = rec[0];
            bytes_to_unit(rec + 1, CIFAR_PIXELS, (*out)->x + k * CIFAR_PIXELS);
        }
done:
    if (bufs)
        for (size_t i = 0; i < n_paths; i++)
            hn_free(bufs[i]);
    hn_free(bufs);
    hn_free(nrec);
    return rc;
}

/* ------------------------------------------------------------ PNG sheet
 * All state that changes between setjmp and a libpng longjmp lives in this
 * struct, owned by the caller of png_decode (the function holding the
 * setjmp), so no local needs to be volatile. */

typedef struct {
    const char *path;
    FILE *f;
    png_structp png;
    png_infop info;
    unsigned char *pix;  /* SHEET_H x SHEET_W grey bytes */
    png_bytep *rows;
    png_uint_32 width, height;
    int oom, io, truncated;
    char msg[200];
} png_ctx;

static void png_error_cb(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (!c->msg[0])
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    /* The library never prints; warnings (ancillary chunk CRCs, ...) do not
     * affect the pixels. */
    (void)png;
    (void)msg;
}

static png_voidp png_malloc_cb(png_structp png, png_alloc_size_t n)
{
    void *p = hn_malloc(n);
    if (!p) {
        png_ctx *c = png_get_mem_ptr(png);
        if (c)
            c->oom = 1;
    }
    return p;
}

static void png_free_cb(png_structp png, png_voidp p)
{
    (void)png;
    hn_free(p);
}

static void png_read_cb(png_structp png, png_bytep data, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (fread(data, 1, n, c->f) != n) {
        if (ferror(c->f)) {
            c->io = 1;
            png_error(png, "read error");
        }
        c->truncated = 1;
        png_error(png, "file ends before the image is complete");
    }
}

/* 0 ok; 1 libpng error (c->msg, c->oom, ...); 2 wrong size; 3 unexpected
 * row format after transforms. */
static int png_decode(png_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png)))
        return 1;
    png_set_read_fn(c->png, c, png_read_cb);
    png_set_sig_bytes(c->png, 8);
    png_read_info(c->png, c->info);
    c->width = png_get_image_width(c->png, c->info);
    c->height = png_get_image_height(c->png, c->info);
    if (c->width != SHEET_W || c->height != SHEET_H)
        return 2;
    int depth = png_get_bit_depth(c->png, c->info);
    int ctype = png_get_color_type(c->png, c->info);
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(c->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(c->png);
    if (depth == 16)
        png_set_scale_16(c->png);
    /* Acts only on rows that carry alpha (including palette tRNS expansion). */
    png_set_strip_alpha(c->png);
    if (ctype & PNG_COLOR_MASK_COLOR)
        png_set_rgb_to_gray_fixed(c->png, 1, -1, -1);
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    if (png_get_channels(c->png, c->info) != 1 || png_get_bit_depth(c->png, c->info) != 8 ||
        png_get_rowbytes(c->png, c->info) != SHEET_W)
        return 3;
    c->pix = hn_malloc((size_t)SHEET_W * SHEET_H);
    c->rows = hn_malloc(SHEET_H * sizeof *c->rows);
    if (!c->pix || !c->rows) {
        c->oom = 1;
        return 1;
    }
    for (size_t i = 0; i < SHEET_H; i++)
        c->rows[i] = c->pix + i * SHEET_W;
    png_read_image(c->png, c->rows);
    png_read_end(c->png, NULL);
    return 0;
}

int hn_digits_png_load(const char *path, hn_dataset **out, hn_err *err)
{
    png_ctx c;
    unsigned char sig[8];
    int rc;

    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_digits_png_load: out is NULL");
    *out = NULL;
    if (!path)
        return hn_err_set(err, HN_EINVAL, "hn_digits_png_load: path is NULL");
    memset(&c, 0, sizeof c);
    c.path = path;
    c.f = fopen(path, "rb");
    if (!c.f)
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fread(sig, 1, sizeof sig, c.f) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
        fclose(c.f);
        return hn_err_set(err, HN_EFORMAT, "%s: not a PNG file (bad 8-byte signature)", path);
    }
    c.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &c, png_error_cb, png_warning_cb, &c,
                                     png_malloc_cb, png_free_cb);
    if (c.png)
        c.info = png_create_info_struct(c.png);
    if (!c.png || !c.info) {
        png_destroy_read_struct(c.png ? &c.png : NULL, NULL, NULL);
        fclose(c.f);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory creating the PNG reader", path);
    }
    int st = png_decode(&c);
    png_destroy_read_struct(&c.png, &c.info, NULL);
    fclose(c.f);
    hn_free(c.rows);
    if (st == 1) {
        if (c.oom)
            rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory decoding the PNG", path);
        else if (c.io)
            rc = hn_err_set(err, HN_EIO, "%s: read error in the PNG data", path);
        else if (c.truncated)
            rc = hn_err_set(err, HN_EFORMAT, "%s: truncated PNG: %s", path, c.msg);
        else
            rc = hn_err_set(err, HN_EFORMAT, "%s: corrupt PNG: %s", path, c.msg);
    } else if (st == 2) {
        rc = hn_err_set(err, HN_EFORMAT,
                        "%s: PNG IHDR width %lu and height %lu, expected width %d and height %d "
                        "(OpenCV digit sheet)",
                        path, (unsigned long)c.width, (unsigned long)c.height, SHEET_W, SHEET_H);
    } else if (st == 3) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: PNG colour type/bit depth not convertible to 8-bit grey",
                        path);
    } else if ((rc = hn_dataset_alloc(SHEET_N, 1, SIDE, SIDE, out, err)) != HN_OK) {
        hn_err_prefix(err, path);
    } else {
        hn_dataset *d = *out;
        for (size_t k = 0; k < SHEET_N; k++) {
            size_t r = k / CELLS_PER_ROW, col = k % CELLS_PER_ROW;
            double *x = d->x + k * SIDE * SIDE;
            for (size_t i = 0; i < CELL; i++)
                bytes_to_unit(c.pix + (r * CELL + i) * SHEET_W + col * CELL, CELL,
                              x + (i + PAD) * SIDE + PAD);
            d->y[k] = (unsigned char)(k / PER_CLASS);
        }
    }
    hn_free(c.pix);
    return rc;
}

/* ------------------------------------------------------------ subsets, find */

int hn_dataset_subset(const hn_dataset *d, size_t start, size_t count, hn_dataset **out,
                      hn_err *err)
{
    int rc;
    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_subset: out is NULL");
    *out = NULL;
    if (!d)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_subset: dataset is NULL");
    if (count == 0 || start > d->n || count > d->n - start)
        return hn_err_set(err, HN_ERANGE,
                          "subset start %zu count %zu is empty or outside the dataset's %zu samples",
                          start, count, d->n);
    if ((rc = hn_dataset_alloc(count, d->c, d->h, d->w, out, err)) != HN_OK)
        return rc;
    size_t per = sample_size(d);
    memcpy((*out)->x, d->x + start * per, count * per * sizeof(double));
    memcpy((*out)->y, d->y + start, count);
    return HN_OK;
}

/* The digit sheet split: samples [lo, lo+len) of every class block. */
static int digits_split(const hn_dataset *all, size_t lo, size_t len, hn_dataset **out,
                        hn_err *err)
{
    int rc = hn_dataset_alloc(10 * len, all->c, all->h, all->w, out, err);
    if (rc)
        return rc;
    size_t per = sample_size(all);
    for (size_t cls = 0, k = 0; cls < 10; cls++)
        for (size_t i = 0; i < len; i++, k++) {
            size_t from = cls * PER_CLASS + lo + i;
            memcpy((*out)->x + k * per, all->x + from * per, per * sizeof(double));
            (*out)->y[k] = all->y[from];
        }
    return HN_OK;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Join dir and name into buf; HN_ERANGE if it does not fit. */
static int join(char *buf, size_t size, const char *dir, const char *sub, const char *name,
                hn_err *err)
{
    int m = snprintf(buf, size, "%s%s%s%s%s", dir, sub[0] ? "/" : "", sub, "/", name);
    if (m < 0 || (size_t)m >= size)
        return hn_err_set(err, HN_ERANGE, "%s: path too long for %s", dir, name);
    return HN_OK;
}

/* Find <split>-<kind>-idx<d>-ubyte[.gz] (or the dotted variant) in dir. */
static int find_idx(const char *dir, const char *split, const char *kind, int idxdim,
                    const char *hint, char *buf, size_t size, hn_err *err)
{
    static const char *const forms[] = {"%s-%s-idx%d-ubyte", "%s-%s-idx%d-ubyte.gz",
                                        "%s-%s.idx%d-ubyte", "%s-%s.idx%d-ubyte.gz"};
    char name[64];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(name, sizeof name, forms[i], split, kind, idxdim);
        int rc = join(buf, size, dir, "", name, err);
        if (rc)
            return rc;
        if (is_file(buf))
            return HN_OK;
    }
    return hn_err_set(err, HN_EIO, "%s: no %s-%s-idx%d-ubyte or %s-%s-idx%d-ubyte.gz%s", dir,
                      split, kind, idxdim, split, kind, idxdim, hint);
}

static int find_cifar(const char *dir, int train, hn_dataset **out, hn_err *err)
{
    enum { MAXB = 5, PATHLEN = 4096 };
    static const char *const train_names[MAXB] = {"data_batch_1.bin", "data_batch_2.bin",
                                                  "data_batch_3.bin", "data_batch_4.bin",
                                                  "data_batch_5.bin"};
    static const char *const test_names[1] = {"test_batch.bin"};
    const char *const *names = train ? train_names : test_names;
    size_t nb = train ? MAXB : 1;
    char paths[MAXB][PATHLEN];
    const char *ptrs[MAXB];
    const char *sub = "";
    int rc;

    /* The tarball unpacks to cifar-10-batches-bin/; accept either level. */
    if ((rc = join(paths[0], PATHLEN, dir, "", names[0], err)) != HN_OK)
        return rc;
    if (!is_file(paths[0])) {
        if ((rc = join(paths[0], PATHLEN, dir, "cifar-10-batches-bin", names[0], err)) != HN_OK)
            return rc;
        if (!is_file(paths[0]))
            return hn_err_set(err, HN_EIO, "%s: no %s here or in cifar-10-batches-bin/", dir,
                              names[0]);
        sub = "cifar-10-batches-bin";
    }
    for (size_t i = 0; i < nb; i++) {
        if ((rc = join(paths[i], PATHLEN, dir, sub, names[i], err)) != HN_OK)
            return rc;
        if (!is_file(paths[i]))
            return hn_err_set(err, HN_EIO, "%s: CIFAR-10 batch file missing", paths[i]);
        ptrs[i] = paths[i];
    }
    return hn_cifar10_load(ptrs, nb, out, err);
}

int hn_dataset_find(const char *name, const char *data_dir, int train, hn_dataset **out,
                    hn_err *err)
{
    char img[4096], lab[4096];
    int rc;

    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_find: out is NULL");
    *out = NULL;
    if (!name)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_find: name is NULL");
    if (strcmp(name, "cifar10") == 0) {
        if (!data_dir)
            return hn_err_set(err, HN_EINVAL,
                              "cifar10: a data directory is required (CIFAR-10 is not packaged "
                              "in Debian; unpack cifar-10-binary.tar.gz and pass its directory)");
        return find_cifar(data_dir, train, out, err);
    }
    int fashion = strcmp(name, "fashion-mnist") == 0;
    if (!fashion && strcmp(name, "mnist") != 0)
        return hn_err_set(err, HN_EINVAL,
                          "unknown dataset name '%s' (expected mnist, fashion-mnist or cifar10)",
                          name);
    /* MNIST itself is not in Debian; its 20x20 digits ship with opencv-doc.
     * A regular file given as the data "directory" is a sheet in the same
     * layout (a user's copy of digits.png). */
    if (!fashion && (!data_dir || is_file(data_dir))) {
        const char *sheet = data_dir ? data_dir : HN_DIGITS_PNG;
        hn_dataset *all = NULL;
        if (!is_file(sheet))
            return hn_err_set(err, HN_EIO,
                              "%s: missing; pass a data directory with the MNIST IDX files or "
                              "install the Debian package opencv-doc",
                              sheet);
        if ((rc = hn_digits_png_load(sheet, &all, err)) != HN_OK)
            return rc;
        rc = train ? digits_split(all, 0, DIGITS_TRAIN_PER_CLASS, out, err)
                   : digits_split(all, DIGITS_TRAIN_PER_CLASS, PER_CLASS - DIGITS_TRAIN_PER_CLASS,
                                  out, err);
        if (rc)
            hn_err_prefix(err, sheet);
        hn_dataset_free(all);
        return rc;
    }
    const char *dir = data_dir ? data_dir : HN_FASHION_MNIST_DIR;
    const char *hint = data_dir ? "" : " (install the Debian package dataset-fashion-mnist)";
    const char *split = train ? "train" : "t10k";
    if ((rc = find_idx(dir, split, "images", 3, hint, img, sizeof img, err)) != HN_OK ||
        (rc = find_idx(dir, split, "labels", 1, hint, lab, sizeof lab, err)) != HN_OK)
        return rc;
    return hn_idx_load(img, lab, out, err);
}
