/* hessnorm — the single allocation hook.
 * All library allocations go through hn_malloc/hn_calloc/hn_realloc so that
 * tests can fail the k-th allocation (fault injection). */
#ifndef HESSNORM_ALLOC_H
#define HESSNORM_ALLOC_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *hn_malloc(size_t n);
void *hn_calloc(size_t count, size_t size);   /* overflow-checked */
void *hn_realloc(void *p, size_t n);
void hn_free(void *p);
char *hn_strdup(const char *s);

/* Fault injection (tests only): after `k` more successful allocations the
 * next one fails; k < 0 disables.  Returns the number of allocations made
 * since the last call. */
void hn_alloc_fail_after(long k);
long hn_alloc_count(void);

/* Overflow-checked products: return 0 and set *out, or -1 on overflow. */
int hn_mul_size(size_t a, size_t b, size_t *out);
int hn_mul3_size(size_t a, size_t b, size_t c, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
