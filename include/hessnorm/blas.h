/* hessnorm — the BLAS this process runs on: which library and kernel
 * ("core"), whether it is the best one the CPU supports, how fast its
 * DGEMM is, and the environment that selects the best kernel before the
 * BLAS loads (docs/dev.md, "The BLAS kernel").
 *
 * OpenBLAS built with DYNAMIC_ARCH picks its kernel when it loads, from a
 * table of CPU models; a CPU newer than the table (0.3.21 on a family-6
 * model-207 Xeon, or on Zen 5) gets a generic kernel (Prescott, Haswell)
 * several times slower than the one its features allow.  The kernel can
 * only be chosen before OpenBLAS initialises, through OPENBLAS_CORETYPE,
 * so a program calls hn_blas_prepare first thing in main and re-executes
 * itself when asked to. */
#ifndef HESSNORM_BLAS_H
#define HESSNORM_BLAS_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Set, when they are unset, OPENBLAS_NUM_THREADS=1 (with single_thread)
 * and OPENBLAS_CORETYPE = the best kernel of this CPU's OS-enabled
 * features (SkylakeX with AVX-512 F/BW/DQ/VL/CD, Haswell with AVX2 + FMA)
 * when OpenBLAS chose a kernel of a lower class.  A value set outside is
 * never changed.  They take effect only in a new process image: returns 1
 * when the caller should re-execute itself now (execv("/proc/self/exe",
 * argv)), else 0.  The re-executed process carries HESSNORM_BLAS_REEXEC
 * (OpenBLAS's own choice, or "-"), so it (and its children) never ask
 * again: one re-exec at most. */
int hn_blas_prepare(int single_thread);

/* The decision hn_blas_prepare takes: `best` (this CPU's best kernel) when
 * OpenBLAS's `chosen` kernel is of a known lower class (class 2: SkylakeX,
 * Cooperlake, SapphireRapids; 1: Haswell, Zen, Excavator; 0: Prescott,
 * Sandybridge and the other SSE/AVX kernels), else NULL: the same class, a
 * better one, or a name this table does not know is never replaced. */
const char *hn_blas_core_pick(const char *chosen, const char *best);

typedef enum {
    HN_BLAS_CORE_OWN = 0,  /* OpenBLAS's own choice */
    HN_BLAS_CORE_SELECTED, /* OPENBLAS_CORETYPE set by hn_blas_prepare */
    HN_BLAS_CORE_ENV       /* OPENBLAS_CORETYPE set outside (kept) */
} hn_blas_core_source;

typedef struct {
    int openblas;        /* 1 when OpenBLAS's own API is present */
    char config[200];    /* openblas_get_config(): version and build */
    char core[32];       /* the kernel running now ("" if unknown) */
    char chosen[32];     /* OpenBLAS's own choice (= core unless selected) */
    char best[32];       /* the best kernel of this CPU ("SkylakeX", "Haswell", "" = none better than generic) */
    char cpu[160];       /* "GenuineIntel family 6 model 207; OS-enabled: AVX2 FMA AVX-512F/BW/DQ/VL/CD" */
    hn_blas_core_source source;
    int slower;          /* 1 when core is of a lower class than best */
} hn_blas_info;

void hn_blas_info_get(hn_blas_info *b);

/* The DGEMM rate: the fastest of HN_BLAS_RATE_REPS products C = A B of
 * HN_BLAS_RATE_N x HN_BLAS_RATE_N matrices, in GFLOP/s (2 n^3 each), on
 * OpenBLAS's threads (one in hessnorm); -1 when out of memory.  About
 * 0.1 s on the generic kernel. */
#define HN_BLAS_RATE_N 384
#define HN_BLAS_RATE_REPS 5
double hn_blas_dgemm_gflops(void);

/* The lines --version --verbose and the bench tables print, each ending
 * in '\n': "BLAS: ...", "BLAS core: ...", "CPU: ..." and, with gflops > 0,
 * "DGEMM: ... GFLOP/s (n = 384, T BLAS thread(s), best of 5)". */
void hn_blas_describe(const hn_blas_info *b, double gflops, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
