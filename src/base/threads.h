/* hessnorm — small helpers shared by the threaded modules (training, the
 * batched kernels, the experiment): OpenMP thread counts and a duration
 * for progress lines (the clock is base/clock.h).  Internal; not installed. */
#ifndef HESSNORM_THREADS_INTERNAL_H
#define HESSNORM_THREADS_INTERNAL_H
#include <math.h>
#include <stdio.h>
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

/* "42s", "3m07s", "2h05m" or "?" for a negative or non-finite s. */
static inline void fmt_duration(char *b, size_t n, double s)
{
    if (!(s >= 0) || !isfinite(s))
        snprintf(b, n, "?");
    else if (s < 60)
        snprintf(b, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

#endif
