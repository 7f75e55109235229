/* hessnorm — small helpers shared by the threaded modules (training, the
 * batched kernels, the experiment): OpenMP thread counts (the clock is
 * base/clock.h, durations for progress lines base/progress.h).  Internal;
 * not installed. */
#ifndef HESSNORM_THREADS_INTERNAL_H
#define HESSNORM_THREADS_INTERNAL_H
#ifdef _OPENMP
#include <omp.h>
#endif

/* The calling thread's OpenMP number (0 without OpenMP). */
static inline int hn_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* threads > 0 as given, else OpenMP's default (1 without OpenMP). */
static inline int hn_resolve_threads(int threads)
{
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

#endif
