/* hessnorm — allocation hook with fault injection. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm/alloc.h"

/* Test-only fault-injection state.  Atomic so that OpenMP regions that
 * allocate stay well-defined. */
static long fail_after = -1;
static long n_allocs = 0;

static int should_fail(void)
{
    long k = __atomic_fetch_add(&n_allocs, 1, __ATOMIC_RELAXED);
    long f = __atomic_load_n(&fail_after, __ATOMIC_RELAXED);
    return f >= 0 && k >= f;
}

void hn_alloc_fail_after(long k)
{
    __atomic_store_n(&n_allocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fail_after, k, __ATOMIC_RELAXED);
}

long hn_alloc_count(void) { return __atomic_load_n(&n_allocs, __ATOMIC_RELAXED); }

void *hn_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *hn_calloc(size_t count, size_t size)
{
    size_t tot;
    if (hn_mul_size(count, size, &tot) != 0)
        return NULL;
    if (should_fail())
        return NULL;
    return calloc(tot ? tot : 1, 1);
}

void *hn_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void hn_free(void *p) { free(p); }

char *hn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hn_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int hn_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int hn_mul3_size(size_t a, size_t b, size_t c, size_t *out)
{
    size_t r;
    if (hn_mul_size(a, b, &r) != 0 || hn_mul_size(r, c, &r) != 0)
        return -1;
    *out = r;
    return 0;
}
