/* Fuzz the CIFAR-10 binary loader (hn_cifar10_load, raw or gzip).  Input:
 * a 16-bit length splits it into two batch files, loaded in order. */
#include "fuzz_common.h"

int hn_fuzz_cifar10(const uint8_t *data, size_t size)
{
    const uint8_t *a, *b;
    size_t na, nb;
    hn_fuzz_split(data, size, &a, &na, &b, &nb);
    const char *paths[2] = {hn_fuzz_file(0, a, na), hn_fuzz_file(1, b, nb)};
    /* an empty second part means one file */
    size_t np = nb ? 2 : 1;
    hn_dataset *d = (hn_dataset *)1;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_cifar10_load(paths, np, &d, &e);
    if (rc) {
        hn_fuzz_failed("cifar10", rc, &e);
        HN_FUZZ_CHECK(d == NULL);
        return 0;
    }
    HN_FUZZ_CHECK(d && d->n >= 1 && d->c == 3 && d->h == 32 && d->w == 32);
    for (size_t i = 0; i < d->n * 3072; i++)
        HN_FUZZ_CHECK(d->x[i] >= 0.0 && d->x[i] <= 1.0);
    for (size_t i = 0; i < d->n; i++)
        HN_FUZZ_CHECK(d->y[i] <= 9);
    hn_dataset_free(d);
    return 0;
}

HN_FUZZ_ENTRY(cifar10)
