/* cpu.h — which instruction sets the fast kernel paths may use.
 *
 *     if (pd_cpu_isa() >= PD_ISA_AVX512) ...
 *
 * Read once from CPUID (and XGETBV: the OS must save the registers). The
 * environment variable PALDIFF_ISA=ref|avx2|avx512 lowers the choice, so
 * tests and benchmarks can run every path on one machine. Thread-safe.
 */
#ifndef PD_CPU_H
#define PD_CPU_H

typedef enum { PD_ISA_REF = 0, PD_ISA_AVX2 = 1, PD_ISA_AVX512 = 2 } pd_isa;

/* The path kernels use: the best the CPU supports, capped by PALDIFF_ISA. */
pd_isa pd_cpu_isa(void);
/* The best the CPU supports, ignoring PALDIFF_ISA. */
pd_isa pd_cpu_isa_supported(void);
const char *pd_isa_name(pd_isa isa);

#endif
