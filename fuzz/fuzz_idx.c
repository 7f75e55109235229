/* Fuzz the IDX loader (hn_idx_load, raw or gzip).  Input: a 16-bit length
 * splits it into the image file and the label file. */
#include "fuzz_common.h"

static void check_dataset(const hn_dataset *d, size_t c, size_t h, size_t w)
{
    HN_FUZZ_CHECK(d && d->n >= 1);
    if (c)
        HN_FUZZ_CHECK(d->c == c && d->h == h && d->w == w);
    size_t n = d->n * d->c * d->h * d->w;
    for (size_t i = 0; i < n; i++)
        HN_FUZZ_CHECK(d->x[i] >= 0.0 && d->x[i] <= 1.0);
    for (size_t i = 0; i < d->n; i++)
        HN_FUZZ_CHECK(d->y[i] <= 9);
}

int hn_fuzz_idx(const uint8_t *data, size_t size)
{
    const uint8_t *img, *lab;
    size_t ni, nl;
    hn_fuzz_split(data, size, &img, &ni, &lab, &nl);
    hn_dataset *d = (hn_dataset *)1;
    hn_err e;
    hn_err_clear(&e);
    const char *pi = hn_fuzz_file(0, img, ni), *pl = hn_fuzz_file(1, lab, nl);
    int rc = hn_idx_load(pi, pl, &d, &e);
    if (rc) {
        hn_fuzz_failed("idx", rc, &e);
        HN_FUZZ_CHECK(d == NULL);
        return 0;
    }
    check_dataset(d, 1, d->h, d->w);
    hn_dataset_free(d);
    return 0;
}

HN_FUZZ_ENTRY(idx)
