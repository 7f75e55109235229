/* hessnorm — the OpenCV digit sheet loader (digits.png: 2000x1000 grey,
 * 20x20 cells padded to the 28x28 MNIST frame). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <png.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"
#include "formats/dataset.h"

#define SHEET_W 2000
#define SHEET_H 1000
#define CELL 20
#define CELLS_PER_ROW (SHEET_W / CELL)
#define SHEET_N ((SHEET_W / CELL) * (SHEET_H / CELL))
#define PER_CLASS (SHEET_N / 10)
#define PAD 4
#define SIDE (CELL + 2 * PAD)

_Static_assert(PER_CLASS == HN_DIGITS_PER_CLASS, "the digit sheet holds 500 digits per class");

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
                hn_bytes_to_unit(c.pix + (r * CELL + i) * SHEET_W + col * CELL, CELL,
                              x + (i + PAD) * SIDE + PAD);
            d->y[k] = (unsigned char)(k / PER_CLASS);
        }
    }
    hn_free(c.pix);
    return rc;
}
