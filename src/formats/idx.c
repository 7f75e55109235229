/* hessnorm — IDX loader (MNIST, Fashion-MNIST; raw or gzip).  A size read
 * from a file is checked against the bytes actually present before
 * anything is allocated from it. */
#include "config.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"
#include "formats/bytesrc.h"
#include "formats/dataset.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ------------------------------------------------------------ IDX */

static int idx_header(hn_src *s, unsigned char *h, size_t len, uint32_t magic, const char *kind,
                      hn_err *err)
{
    size_t got;
    int rc = hn_src_read(s, h, len, &got, "the IDX header", err);
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
static int idx_payload(hn_src *s, size_t want, const char *what, const char *dims,
                       unsigned char **buf, hn_err *err)
{
    size_t len;
    int more, rc = hn_src_slurp(s, want, 1, buf, &len, &more, what, err);
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
    hn_src si, sl;
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
    if ((rc = hn_src_open(&si, images_path, err)) != HN_OK)
        return rc;
    if ((rc = hn_src_open(&sl, labels_path, err)) != HN_OK) {
        hn_src_close(&si);
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
    hn_src_close(&si);
    hn_src_close(&sl);
    if ((rc = hn_dataset_alloc(n, 1, rows, cols, out, err)) != HN_OK) {
        hn_err_prefix(err, images_path);
        goto done;
    }
    hn_bytes_to_unit(pix, npix, (*out)->x);
    memcpy((*out)->y, lab, n);
done:
    hn_src_close(&si);
    hn_src_close(&sl);
    hn_free(pix);
    hn_free(lab);
    return rc;
}
