/* hessnorm — internal: the experiment's seed scheme.  Every random stream
 * of a sweep is seeded from (seed, setting, stream), so a model's results
 * never depend on which models ran before it.  Static: model_run.c (the
 * models' streams) and run.c (the training subset) include it. */
#ifndef HN_EXPERIMENT_SEED_H
#define HN_EXPERIMENT_SEED_H
#include <stdint.h>

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The seed of stream `stream` of `setting`: a function of (seed, setting,
 * stream) only, so a model's results never depend on which models ran
 * before it.  mt19937 takes 32 bits of its seed. */
static unsigned long derive_seed(unsigned long seed, const char *setting, unsigned stream)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the setting name */
    for (const unsigned char *p = (const unsigned char *)setting; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    uint64_t x = mix64(mix64((uint64_t)seed) ^ h);
    x = mix64(x ^ (uint64_t)stream);
    return (unsigned long)((x ^ (x >> 32)) & 0xffffffffULL);
}

enum {
    HN_EXP_STREAM_TRAIN = 1,
    HN_EXP_STREAM_CURVE = 2,
    HN_EXP_STREAM_HESS = 3,
    HN_EXP_STREAM_LANCZOS = 4,
    HN_EXP_STREAM_DATA = 5
};

#endif
