#include "kernels/cpu.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: which register state the OS saves on a context switch. A CPU may
 * have AVX-512 while the kernel leaves ZMM state alone; using it then
 * corrupts registers, so CPUID alone is not enough. */
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

#define XCR0_SSE_AVX 0x06u   /* bits 1, 2: XMM and upper YMM halves          */
#define XCR0_AVX512 0xe0u    /* bits 5, 6, 7: opmask, upper ZMM0-15, ZMM16-31 */

static int bit(unsigned reg, int n) { return (int)((reg >> n) & 1); }

static pd_isa detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return PD_ISA_REF;
    int osxsave = bit(c, 27), avx = bit(c, 28), fma = bit(c, 12), f16c = bit(c, 29);
    if (!osxsave || !avx)
        return PD_ISA_REF;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return PD_ISA_REF;
    if (__get_cpuid_max(0, NULL) < 7)
        return PD_ISA_REF;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = bit(b, 5);
    /* The AVX2 path also widens F16 with F16C and multiplies with FMA. */
    if (!avx2 || !fma || !f16c)
        return PD_ISA_REF;
    int f = bit(b, 16), dq = bit(b, 17), bw = bit(b, 30), vl = bit(b, 31);
    if (f && dq && bw && vl && (xcr0 & XCR0_AVX512) == XCR0_AVX512)
        return PD_ISA_AVX512;
    return PD_ISA_AVX2;
}
#else
static pd_isa detect(void) { return PD_ISA_REF; }
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pd_isa supported, chosen;

static void init(void)
{
    supported = detect();
    chosen = supported;
    const char *env = getenv("PALDIFF_ISA");
    if (!env || !*env)
        return;
    pd_isa cap;
    if (!strcmp(env, "ref"))
        cap = PD_ISA_REF;
    else if (!strcmp(env, "avx2"))
        cap = PD_ISA_AVX2;
    else if (!strcmp(env, "avx512"))
        cap = PD_ISA_AVX512;
    else {
        /* A typo should not silently benchmark the wrong path. */
        fprintf(stderr, "paldiff: PALDIFF_ISA=%s is not ref, avx2 or avx512; using %s\n",
                env, pd_isa_name(supported));
        return;
    }
    if (cap < chosen)
        chosen = cap;
}

pd_isa pd_cpu_isa(void)
{
    pthread_once(&once, init);
    return chosen;
}

pd_isa pd_cpu_isa_supported(void)
{
    pthread_once(&once, init);
    return supported;
}

const char *pd_isa_name(pd_isa isa)
{
    switch (isa) {
    case PD_ISA_REF: return "ref";
    case PD_ISA_AVX2: return "avx2";
    case PD_ISA_AVX512: return "avx512";
    }
    return "unknown";
}
