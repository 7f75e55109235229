/* hessnorm — internal: the CPU's vector features, as the OS enables them
 * (cpuid and xgetbv), for choosing a BLAS kernel (linalg/blas.c).  Not
 * installed. */
#ifndef HN_BASE_CPU_H
#define HN_BASE_CPU_H

typedef struct {
    char vendor[13];      /* "GenuineIntel", "AuthenticAMD", "" off x86 */
    unsigned family, model;
    /* each 1 only when the CPU has it AND the OS saves its registers
     * (XCR0: bits 1-2 for AVX/AVX2/FMA, bits 5-7 too for AVX-512) */
    int avx, avx2, fma;
    int avx512f, avx512bw, avx512dq, avx512vl, avx512cd;
} hn_cpu;

/* Fill c from cpuid and xgetbv (all zero on other architectures). */
void hn_cpu_get(hn_cpu *c);

#endif
