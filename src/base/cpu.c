/* hessnorm — the CPU's vector features as the OS enables them (base/cpu.h). */
#include "config.h"
#include <string.h>
#include "base/cpu.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: the register states the OS saves on a context switch (bit 1 SSE,
 * 2 AVX, 5-7 the AVX-512 opmask and upper ZMM states). */
static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void hn_cpu_get(hn_cpu *c)
{
    unsigned a, b, cx, d;
    memset(c, 0, sizeof *c);
    if (!__get_cpuid(0, &a, &b, &cx, &d))
        return;
    const unsigned max_leaf = a;
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    if (!__get_cpuid(1, &a, &b, &cx, &d))
        return;
    const unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    c->family = base_family + (base_family == 0xf ? (a >> 20) & 0xff : 0);
    c->model = base_model | (base_family == 6 || base_family == 0xf ? ((a >> 16) & 0xf) << 4 : 0);
    const int osxsave = (cx >> 27) & 1, has_avx = (cx >> 28) & 1, has_fma = (cx >> 12) & 1;
    if (!osxsave)
        return; /* without XSAVE enabled by the OS no AVX state is saved */
    const unsigned long long x = xcr0();
    const int os_ymm = (x & 0x6) == 0x6, os_zmm = os_ymm && (x & 0xe0) == 0xe0;
    c->avx = has_avx && os_ymm;
    c->fma = has_fma && c->avx;
    if (max_leaf < 7)
        return;
    __cpuid_count(7, 0, a, b, cx, d);
    c->avx2 = ((b >> 5) & 1) && c->avx;
    c->avx512f = ((b >> 16) & 1) && os_zmm;
    c->avx512dq = ((b >> 17) & 1) && os_zmm;
    c->avx512cd = ((b >> 28) & 1) && os_zmm;
    c->avx512bw = ((b >> 30) & 1) && os_zmm;
    c->avx512vl = ((b >> 31) & 1) && os_zmm;
}
#else
void hn_cpu_get(hn_cpu *c)
{
    memset(c, 0, sizeof *c);
}
#endif
