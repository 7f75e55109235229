/* hessnorm — CIFAR-10 binary loader (records of 1 label + 3x32x32 pixel
 * bytes; raw or gzip).  A size read from a file is checked against the
 * bytes actually present before anything is allocated from it. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"
#include "formats/bytesrc.h"
#include "formats/dataset.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)

/* ------------------------------------------------------------ CIFAR-10 */

static int cifar_read_batch(const char *path, unsigned char **buf, size_t *nrec, hn_err *err)
{
    hn_src s;
    size_t len;
    int more, rc;
    *buf = NULL;
    *nrec = 0;
    if ((rc = hn_src_open(&s, path, err)) != HN_OK)
        return rc;
    if (!s.gz && (s.size == 0 || s.size % CIFAR_RECORD != 0))
        len = s.size > SIZE_MAX ? SIZE_MAX : (size_t)s.size; /* rejected below, unread */
    else if ((rc = hn_src_slurp(&s, !s.gz ? (size_t)s.size : SIZE_MAX - 1, 0, buf, &len, &more,
                             "records", err)) != HN_OK) {
        hn_src_close(&s);
        return rc;
    }
    hn_src_close(&s);
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
            hn_bytes_to_unit(rec + 1, CIFAR_PIXELS, (*out)->x + k * CIFAR_PIXELS);
        }
done:
    if (bufs)
        for (size_t i = 0; i < n_paths; i++)
            hn_free(bufs[i]);
    hn_free(bufs);
    hn_free(nrec);
    return rc;
}
