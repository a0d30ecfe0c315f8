/* gemm.h — Y = X · Wᵀ (+ bias): the matrix product every layer runs on.
 *
 *     // x: 77 tokens × 768 floats; w: a [3072, 768] linear weight
 *     pd_gemm(77, 3072, 768, x, 768, &w, &bias, y, 3072, 0);
 *
 * X is float32 row-major [M, K] with row stride ldx; W is a weight
 * descriptor with rows N and pd_weight_cols(W) == K (a [N, K] linear weight,
 * or a conv weight [N, C, kh, kw] with K = C·kh·kw); Y is float32 [M, N] with
 * row stride ldy. bias (NULL or N elements) is added; with accumulate != 0
 * the result is added to Y instead of overwriting it (residual connections).
 *
 * pd_gemm packs W tile by tile — the one place where F16/BF16 are widened
 * and palettes decoded (DESIGN.md §3) — and runs the fastest micro-kernel
 * the CPU has (AVX-512, AVX2+FMA, or the scalar path) on the process thread
 * pool. pd_gemm_ref is the specification: one float dot product per output,
 * k = 0..K-1 in order, no threads, no packing.
 *
 * Scratch: bounded per thread (packed panels, about 500 KiB per pool thread,
 * allocated on first use and kept for the process), independent of M, N, K.
 * Thread-safety: calls from several threads are safe and run one after the
 * other (they share the pool and its scratch); a pd_parallel_for task must
 * not call pd_gemm (pool.h aborts).
 */
#ifndef PD_GEMM_H
#define PD_GEMM_H

#include <stdint.h>

#include "kernels/weight.h"

void pd_gemm(int64_t M, int64_t N, int64_t K, const float *X, int64_t ldx,
             const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
             int accumulate);

void pd_gemm_ref(int64_t M, int64_t N, int64_t K, const float *X, int64_t ldx,
                 const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
                 int accumulate);

#endif
