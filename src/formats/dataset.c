/* hessnorm — datasets: allocation, pixel bytes to [0,1], subsets (the
 * loaders are idx.c, cifar10.c and digits_png.c; finding a dataset by name
 * is dataset_find.c). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"
#include "formats/dataset.h"

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
    hn_free(d->source);
    hn_free(d);
}

static size_t sample_size(const hn_dataset *d) { return d->c * d->h * d->w; }

void hn_bytes_to_unit(const unsigned char *b, size_t n, double *x)
{
    double lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = i / 255.0;
    for (size_t i = 0; i < n; i++)
        x[i] = lut[b[i]];
}

/* ------------------------------------------------------------ subsets */

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
