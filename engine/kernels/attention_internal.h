/* attention_internal.h — what attention.c (tiles, online softmax, threads)
 * needs from each instruction-set file, and a hook for tests. Not an
 * engine API.
 *
 * A task is one head and a block of up to bq queries. Its scratch keeps
 * queries along the fastest axis, so that a vector holds one value for
 * `lanes` consecutive queries:
 *
 *     qt: d × bq      qt[c·bq + i] = q[i][c] · scale · log2(e)
 *     s:  bk × bq     s[j·bq + i]  = score of query i, key j (base-2 units);
 *                     the softmax pass overwrites it with p = 2^(s − m)
 *     ot: d' × bq     ot[c·bq + i] = Σ_j p_ij v_j[c], not yet divided by l
 *     m, l, tmax, corr: bq each — running maximum and sum, the tile's
 *                     maximum, the factor 2^(m_old − m_new)
 *
 * (d' = d rounded up to a multiple of cr; rows past d are never read.)
 * With queries along the lanes, Q·Kᵀ broadcasts elements of K rows against
 * vectors of qt and P·V broadcasts elements of V rows against vectors of
 * s: neither K nor V is copied or transposed, only the query block is
 * (once per task, against nk·d multiply-adds), the softmax's maxima and
 * sums run down columns with no horizontal reductions, and d = 40 wastes
 * no lanes. Folding scale·log2(e) into qt turns each exponential into one
 * exp2 of a difference.
 *
 * Kernels see only columns i < nq of the block (nq <= bq), rounded up to
 * whole vectors: columns from nq to the next vector boundary hold zeros in
 * qt and are computed like the others, then ignored.
 */
#ifndef PD_ATTENTION_INTERNAL_H
#define PD_ATTENTION_INTERNAL_H

#include <stdint.h>

#include "kernels/attention.h"
#include "kernels/cpu.h"
#include "kernels/vmath.h" /* PD_EXP2_C*: the exp2 polynomial */

/* Bound over every kernel table below (it sizes the scratch). */
#define PD_ATTN_BQ_MAX 48

/* Scores of keys [0, bk) of the tile (k: key 0's row for this head, row
 * stride ldk) against qt, into s; tmax[i] = their maximum for column i.
 * Causal masking: key j is visible to query i only if j <= i + lim; masked
 * scores are −inf (lim >= bk − 1: nothing masked). */
typedef void (*pd_attn_scores_fn)(const float *qt, int nq, const float *k, int64_t ldk,
                                  int bk, int64_t d, int lim, float *s, float *tmax);

/* The online softmax step for one tile: m_new = max(m, tmax),
 * corr = 2^(m − m_new), s = 2^(s − m_new) (0 where s = −inf),
 * l = l·corr + Σ_j s, m = m_new. m starts at −FLT_MAX, not −inf, so that a
 * query with no visible key yet gets corr = 1 and p = 0, never NaN. */
typedef void (*pd_attn_softmax_fn)(float *s, int nq, int bk, const float *tmax, float *m,
                                   float *l, float *corr);

/* ot = ot·corr + Pᵀ-weighted sum of the tile's V rows (v: key 0's row for
 * this head, row stride ldv), for all d' rows of ot. */
typedef void (*pd_attn_pv_fn)(const float *p, int nq, int bk, const float *v, int64_t ldv,
                              int64_t d, const float *corr, float *ot);

/* qt columns [0, nq) from query rows q[i·ldq + c] (c < d) times mul,
 * columns from nq to the next multiple of lanes zero. */
typedef void (*pd_attn_pack_q_fn)(const float *q, int64_t ldq, int nq, int64_t d, float mul,
                                  float *qt);

/* out[i·ldo + c] = ot[c·bq + i] / l[i] for i < nq, c < d; 0 where l[i] = 0
 * (a query that saw no key, as in the _ref). */
typedef void (*pd_attn_store_fn)(const float *ot, int nq, int64_t d, const float *l, float *out,
                                 int64_t ldo);

typedef struct pd_attn_kernel {
    pd_isa isa;
    int lanes;   /* floats per vector: columns are computed in such groups */
    int bq;      /* queries per task: a multiple of lanes, <= PD_ATTN_BQ_MAX */
    int cr;      /* ot rows per P·V micro-block: ot holds d rounded up to it */
    pd_attn_scores_fn scores;
    pd_attn_softmax_fn softmax;
    pd_attn_pv_fn pv;
    pd_attn_pack_q_fn pack_q;
    pd_attn_store_fn store;
} pd_attn_kernel;

extern const pd_attn_kernel pd_attn_kernel_ref;
extern const pd_attn_kernel pd_attn_kernel_avx2;
extern const pd_attn_kernel pd_attn_kernel_avx512;

/* pd_attention on a chosen path (capped at pd_cpu_isa_supported()), so one
 * test run covers every path whatever PALDIFF_ISA says. Counts no flops. */
void pd_attention_isa(pd_isa isa, int heads, int64_t nq, int64_t nk, int64_t d,
                      const float *q, int64_t ldq, const float *k, int64_t ldk,
                      const float *v, int64_t ldv, float *out, int64_t ldo,
                      float scale, int causal);

#endif
