/* Fuzz the PNG digit-sheet loader (hn_digits_png_load). */
#include "fuzz_common.h"

int hn_fuzz_digits_png(const uint8_t *data, size_t size)
{
    hn_dataset *d = (hn_dataset *)1;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_digits_png_load(hn_fuzz_file(0, data, size), &d, &e);
    if (rc) {
        hn_fuzz_failed("digits_png", rc, &e);
        HN_FUZZ_CHECK(d == NULL);
        return 0;
    }
    HN_FUZZ_CHECK(d && d->n == 5000 && d->c == 1 && d->h == 28 && d->w == 28);
    for (size_t i = 0; i < d->n * 784; i++)
        HN_FUZZ_CHECK(d->x[i] >= 0.0 && d->x[i] <= 1.0);
    for (size_t i = 0; i < d->n; i++)
        HN_FUZZ_CHECK(d->y[i] == (i / 100) / 5);
    hn_dataset_free(d);
    return 0;
}

HN_FUZZ_ENTRY(digits_png)
