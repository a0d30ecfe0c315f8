/* attention.h — multi-head scaled dot-product attention, never a tokens × tokens matrix.
 *
 *     // q, k, v, out: 77 tokens × 768 (12 heads of 64), text encoder
 *     pd_attention(12, 77, 77, 64, q, 768, k, 768, v, 768, out, 768, 0.125f, 1);
 *
 * For head h (columns h·d .. h·d+d−1 of every row) and query i:
 *   out_i = Σ_j softmax_j(scale · q_i·k_j) v_j
 * over keys j < nk, and with causal != 0 only j <= i + (nk − nq) (the
 * decoder mask of CLIP's text encoder when nq == nk).
 *
 * pd_attention walks keys in tiles with an online softmax (running maximum
 * and sum, flash-attention style), one task per (head, up to 4 blocks of
 * queries) on the thread pool, with AVX-512 or AVX2 kernels where the CPU
 * has them. Scratch: one buffer per pool thread, allocated on first use and
 * kept, bounded by the tile sizes (422 KiB), whatever nq and nk; d must not exceed
 * PD_ATTENTION_MAX_D (callers check head sizes when loading). pd_attention_ref is the
 * specification: one full row of scores per query, then softmax, then the
 * weighted sum; single-threaded.
 * out must not overlap q, k or v.
 */
#ifndef PD_ATTENTION_H
#define PD_ATTENTION_H

#include <stdint.h>

#define PD_ATTENTION_MAX_D 512

void pd_attention(int heads, int64_t nq, int64_t nk, int64_t d,
                  const float *q, int64_t ldq, const float *k, int64_t ldk,
                  const float *v, int64_t ldv, float *out, int64_t ldo,
                  float scale, int causal);
void pd_attention_ref(int heads, int64_t nq, int64_t nk, int64_t d,
                      const float *q, int64_t ldq, const float *k, int64_t ldk,
                      const float *v, int64_t ldv, float *out, int64_t ldo,
                      float scale, int causal);

#endif
