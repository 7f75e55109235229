/* hessnorm — the BLAS kernel: OpenBLAS's choice against the CPU's
 * features, the environment that selects a better one before OpenBLAS
 * loads, a DGEMM rate (include/hessnorm/blas.h).  Calls OpenBLAS's cblas.h
 * directly, so it includes no GSL header. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cblas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/blas.h"
#include "base/clock.h"
#include "base/cpu.h"

/* OpenBLAS's own API; absent (NULL) under another BLAS. */
char *openblas_get_corename(void) __attribute__((weak));
char *openblas_get_config(void) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));

#define REEXEC_VAR "HESSNORM_BLAS_REEXEC"

/* The vector class of an OpenBLAS x86 kernel name: 2 AVX-512, 1 AVX2 +
 * FMA, 0 older (SSE/AVX), -1 unknown (a name newer than this table or
 * another architecture: never replaced). */
static int core_class(const char *name)
{
    static const char *const c2[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const c1[] = {"Haswell", "Zen", "Excavator"};
    static const char *const c0[] = {"Prescott",   "Katmai",      "Coppermine", "Northwood",
                                     "Banias",     "Atom",        "Core2",      "Penryn",
                                     "Dunnington", "Nehalem",     "Athlon",     "Opteron",
                                     "Opteron_SSE3", "Barcelona", "Nano",       "Sandybridge",
                                     "Bobcat",     "Bulldozer",   "Piledriver", "Steamroller",
                                     "Generic",    "Unknown"};
    for (size_t i = 0; i < sizeof c2 / sizeof *c2; i++)
        if (!strcasecmp(name, c2[i]))
            return 2;
    for (size_t i = 0; i < sizeof c1 / sizeof *c1; i++)
        if (!strcasecmp(name, c1[i]))
            return 1;
    for (size_t i = 0; i < sizeof c0 / sizeof *c0; i++)
        if (!strcasecmp(name, c0[i]))
            return 0;
    return -1;
}

/* The best kernel c's OS-enabled features allow, its class in *cls;
 * NULL (class 0) when nothing beyond the generic ones. */
static const char *best_core(const hn_cpu *c, int *cls)
{
    if (c->avx512f && c->avx512bw && c->avx512dq && c->avx512vl && c->avx512cd && c->avx2 &&
        c->fma) {
        *cls = 2;
        return "SkylakeX";
    }
    if (c->avx2 && c->fma) {
        *cls = 1;
        return "Haswell";
    }
    *cls = 0;
    return NULL;
}

static const char *running_core(void)
{
    const char *s = openblas_get_corename ? openblas_get_corename() : NULL;
    return s ? s : "";
}

const char *hn_blas_core_pick(const char *chosen, const char *best)
{
    if (!chosen || !best)
        return NULL;
    const int have = core_class(chosen), want = core_class(best);
    return have >= 0 && want > have ? best : NULL;
}

int hn_blas_prepare(int single_thread)
{
    if (getenv(REEXEC_VAR))
        return 0; /* re-executed already */
    int again = 0;
    if (single_thread && !getenv("OPENBLAS_NUM_THREADS") &&
        setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
        again = 1;
    const char *chosen = running_core();
    hn_cpu c;
    hn_cpu_get(&c);
    int best_cls;
    const char *pick = hn_blas_core_pick(chosen, best_core(&c, &best_cls));
    int selected = 0;
    if (pick && !getenv("OPENBLAS_CORETYPE") && setenv("OPENBLAS_CORETYPE", pick, 1) == 0)
        selected = again = 1;
    if (again && setenv(REEXEC_VAR, selected ? chosen : "-", 1) != 0)
        again = 0;
    return again;
}

static void cpu_text(const hn_cpu *c, char *buf, size_t n)
{
    const int a512 = c->avx512f && c->avx512bw && c->avx512dq && c->avx512vl && c->avx512cd;
    snprintf(buf, n, "%s family %u model %u; OS-enabled:%s%s%s%s%s", c->vendor[0] ? c->vendor : "?",
             c->family, c->model, c->avx ? " AVX" : "", c->avx2 ? " AVX2" : "", c->fma ? " FMA" : "",
             a512 ? " AVX-512F/BW/DQ/VL/CD" : c->avx512f ? " AVX-512F (partial)" : "",
             c->avx || c->avx512f ? "" : " none of AVX, AVX2, AVX-512");
}

void hn_blas_info_get(hn_blas_info *b)
{
    memset(b, 0, sizeof *b);
    b->openblas = openblas_get_corename != NULL;
    const char *cfg = openblas_get_config ? openblas_get_config() : NULL;
    snprintf(b->config, sizeof b->config, "%s", cfg ? cfg : "not OpenBLAS (no openblas_get_config)");
    snprintf(b->core, sizeof b->core, "%s", running_core());
    snprintf(b->chosen, sizeof b->chosen, "%s", b->core);
    hn_cpu c;
    hn_cpu_get(&c);
    int best_cls;
    const char *best = best_core(&c, &best_cls);
    snprintf(b->best, sizeof b->best, "%s", best ? best : "");
    cpu_text(&c, b->cpu, sizeof b->cpu);
    const char *mark = getenv(REEXEC_VAR), *env = getenv("OPENBLAS_CORETYPE");
    if (env && mark && strcmp(mark, "-") && !strcasecmp(env, best ? best : "")) {
        b->source = HN_BLAS_CORE_SELECTED;
        snprintf(b->chosen, sizeof b->chosen, "%s", mark);
    } else if (env) {
        b->source = HN_BLAS_CORE_ENV;
    }
    b->slower = hn_blas_core_pick(b->core, best) != NULL;
}

double hn_blas_dgemm_gflops(void)
{
    const size_t n = HN_BLAS_RATE_N;
    const int reps = HN_BLAS_RATE_REPS;
    double *a = hn_malloc(3 * n * n * sizeof *a);
    if (!a)
        return -1;
    double *bm = a + n * n, *c = bm + n * n;
    for (size_t i = 0; i < n * n; i++) {
        a[i] = (double)(i % 7) * 0.125 - 0.375;
        bm[i] = (double)(i % 5) * 0.25 - 0.5;
    }
    double best = 0;
    for (int r = 0; r < reps; r++) {
        const double t0 = hn_clock_s();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)n, (blasint)n, 1.0,
                    a, (blasint)n, bm, (blasint)n, 0.0, c, (blasint)n);
        const double t = hn_clock_s() - t0;
        if (t > 0 && (best == 0 || t < best))
            best = t;
    }
    hn_free(a);
    return best > 0 ? 2.0 * (double)n * (double)n * (double)n / best / 1e9 : -1;
}

void hn_blas_describe(const hn_blas_info *b, double gflops, char *buf, size_t len)
{
    char how[160];
    switch (b->source) {
    case HN_BLAS_CORE_SELECTED:
        snprintf(how, sizeof how, "selected by hessnorm for this CPU; OpenBLAS chose %s", b->chosen);
        break;
    case HN_BLAS_CORE_ENV:
        snprintf(how, sizeof how, "OPENBLAS_CORETYPE set in the environment, kept%s%s%s",
                 b->slower ? "; this CPU supports " : "", b->slower ? b->best : "",
                 b->slower ? ", faster" : "");
        break;
    default:
        snprintf(how, sizeof how, "OpenBLAS's own choice%s%s%s", b->slower ? "; this CPU supports " : "",
                 b->slower ? b->best : "", b->slower ? " (not selected: no re-exec)" : "");
        break;
    }
    int k = snprintf(buf, len, "BLAS: %s\nBLAS core: %s (%s)\nCPU: %s\n", b->config,
                     b->core[0] ? b->core : "unknown", b->openblas ? how : "not OpenBLAS", b->cpu);
    if (gflops > 0 && k >= 0 && (size_t)k < len)
    {
        const int t = openblas_get_num_threads ? openblas_get_num_threads() : 1;
        snprintf(buf + k, len - (size_t)k, "DGEMM: %.1f GFLOP/s (n = %d, %d BLAS thread%s, best of %d)\n",
                 gflops, HN_BLAS_RATE_N, t, t == 1 ? "" : "s", HN_BLAS_RATE_REPS);
    }
}
