/* hessnorm — the one seed derivation (include/hessnorm/seed.h). */
#include "config.h"
#include "hessnorm/seed.h"

uint64_t hn_seed_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t hn_fnv1a64(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

unsigned long hn_seed_derive(unsigned long seed, const char *label, uint64_t index)
{
    const uint64_t h = hn_fnv1a64(label);
    uint64_t x = hn_seed_mix64(hn_seed_mix64((uint64_t)seed) ^ h);
    x = hn_seed_mix64(x ^ index);
    return (unsigned long)((x ^ (x >> 32)) & 0xffffffffULL);
}
