/* stats.h — what the kernels did, for benchmarks.
 *
 *     uint64_t f0 = pd_flops();
 *     pd_unet_forward(...);
 *     double gflop = (pd_flops() - f0) / 1e9;
 *
 * pd_flops counts floating-point operations of the matrix kernels (2 per
 * multiply-add of pd_gemm — convolutions included — and pd_attention);
 * norms and activations are a rounding error next to them and not counted.
 * pd_fma_peak measures the machine's float32 FMA throughput on every pool
 * thread at once, with the widest vectors pd_cpu_isa allows, so that a
 * benchmark can report its speed as a fraction of the peak measured in the
 * same run. Thread-safe.
 */
#ifndef PD_STATS_H
#define PD_STATS_H

#include <stdint.h>

uint64_t pd_flops(void);
void pd_flops_add(uint64_t n);

/* GFLOP/s; runs for about `seconds`. */
double pd_fma_peak(double seconds);

#endif
