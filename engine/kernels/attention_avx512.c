/* attention_avx512.c — the AVX-512 attention kernels (compiled with
 * -mavx512f/bw/dq/vl; called only when cpu.c has seen them and the OS
 * saves ZMM state). The layout is in attention_internal.h.
 *
 * Blocks of 48 queries = 3 vectors. Both products are 8 × 3 register
 * tiles: 24 accumulators + 3 vectors of qt (or p) + embedded broadcasts of
 * 8 K (or V) elements, in 32 ZMM registers. Each step is then 24 FMAs
 * against 3 vector loads and 8 broadcast loads, which two FMA pipes can
 * sustain (FMA latency 4 → at least 8 chains in flight). Measured on Zen 5
 * with the data in L1, both run at 99 % of the FMA peak; the softmax pass
 * costs about 4.5 cycles per 16 scores, a tenth of the time at d = 40.
 *
 *   scores: 8 keys × 48 queries, summed over c < d
 *   pv:     8 channels × 48 queries, summed over the tile's keys
 *
 * A partial key block (bk not a multiple of 8) repeats its last key row
 * and keeps only the real rows; channel tails (d not a multiple of 8)
 * repeat the last channel into rows of ot past d, which nobody reads. So
 * no load leaves the caller's rows, and only the 8-row kernels exist, in
 * 1, 2 and 3-vector widths for the last block of queries.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/attention_internal.h"

enum { L = 16, BQ = 48, R = 8 };
_Static_assert(BQ <= PD_ATTN_BQ_MAX && BQ % L == 0, "raise PD_ATTN_BQ_MAX");

#define INLINE static inline __attribute__((always_inline))

/* 2^x for x <= 0, −inf included: x = n + f with n = round(x); 2^f from
 * the shared polynomial, then scalef multiplies by 2^n, giving denormals
 * and then 0 below 2^−149 as libm does. The clamp keeps −inf from turning
 * f into NaN; at −160 the result is surely 0 (at −150, p(0) = 1 + 2^−23
 * would round up to the smallest denormal, and a query that sees no key
 * would get a sum of weights of 1e−45 instead of 0). */
INLINE __m512 exp2_neg(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-160.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(PD_EXP2_C5);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(PD_EXP2_C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(PD_EXP2_C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(PD_EXP2_C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(PD_EXP2_C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(PD_EXP2_C0));
    return _mm512_scalef_ps(p, n);
}

/* ---- scores ------------------------------------------------------------ */

/* Keys j0 .. j0 + kr − 1 (kr <= 8) against NV vectors of queries. */
INLINE void scores_block(const int NV, const float *qt, const float *k, int64_t ldk, int kr,
                         int64_t d, int j0, int lim, float *s, __m512 *tmax)
{
    const float *kp[R];
    for (int r = 0; r < R; r++)
        kp[r] = k + (int64_t)(j0 + (r < kr ? r : kr - 1)) * ldk;
    __m512 acc[R][3];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t c = 0; c < d; c++, qt += BQ) {
        __m512 qv[3];
        for (int v = 0; v < NV; v++)
            qv[v] = _mm512_loadu_ps(qt + L * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(kp[r][c]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(b, qv[v], acc[r][v]);
        }
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int masked = j0 + kr - 1 > lim; /* is any key here hidden from column 0? */
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if (r >= kr)
            break;
        for (int v = 0; v < NV; v++) {
            if (masked) {
                /* query column i sees key j0 + r iff i >= j0 + r − lim */
                __m512i col = _mm512_add_epi32(iota, _mm512_set1_epi32(L * v));
                __mmask16 see = _mm512_cmp_epi32_mask(col, _mm512_set1_epi32(j0 + r - lim),
                                                      _MM_CMPINT_NLT);
                acc[r][v] = _mm512_mask_blend_ps(see, _mm512_set1_ps(-INFINITY), acc[r][v]);
            }
            _mm512_storeu_ps(s + (j0 + r) * BQ + L * v, acc[r][v]);
            tmax[v] = _mm512_max_ps(tmax[v], acc[r][v]);
        }
    }
}

INLINE void scores_nv(const int NV, const float *qt, const float *k, int64_t ldk, int bk,
                      int64_t d, int lim, float *s, float *tmax)
{
    __m512 mx[3];
    for (int v = 0; v < NV; v++)
        mx[v] = _mm512_set1_ps(-INFINITY);
    for (int j0 = 0; j0 < bk; j0 += R)
        scores_block(NV, qt, k, ldk, bk - j0 < R ? bk - j0 : R, d, j0, lim, s, mx);
    for (int v = 0; v < NV; v++)
        _mm512_storeu_ps(tmax + L * v, mx[v]);
}

static void scores(const float *qt, int nq, const float *k, int64_t ldk, int bk, int64_t d,
                   int lim, float *s, float *tmax)
{
    switch ((nq + L - 1) / L) {
    case 1: scores_nv(1, qt, k, ldk, bk, d, lim, s, tmax); break;
    case 2: scores_nv(2, qt, k, ldk, bk, d, lim, s, tmax); break;
    default: scores_nv(3, qt, k, ldk, bk, d, lim, s, tmax); break;
    }
}

/* ---- softmax ----------------------------------------------------------- */

static void softmax(float *s, int nq, int bk, const float *tmax, float *m, float *l, float *corr)
{
    for (int i = 0; i < nq; i += L) {
        __m512 mo = _mm512_loadu_ps(m + i);
        __m512 mn = _mm512_max_ps(mo, _mm512_loadu_ps(tmax + i));
        __m512 cf = exp2_neg(_mm512_sub_ps(mo, mn));
        /* two partial sums: an add's latency per key would be the bound */
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        int j = 0;
        for (; j + 1 < bk; j += 2) {
            __m512 p0 = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + j * BQ + i), mn));
            __m512 p1 = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + (j + 1) * BQ + i), mn));
            _mm512_storeu_ps(s + j * BQ + i, p0);
            _mm512_storeu_ps(s + (j + 1) * BQ + i, p1);
            sum0 = _mm512_add_ps(sum0, p0);
            sum1 = _mm512_add_ps(sum1, p1);
        }
        if (j < bk) {
            __m512 p0 = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + j * BQ + i), mn));
            _mm512_storeu_ps(s + j * BQ + i, p0);
            sum0 = _mm512_add_ps(sum0, p0);
        }
        __m512 lv = _mm512_fmadd_ps(_mm512_loadu_ps(l + i), cf, _mm512_add_ps(sum0, sum1));
        _mm512_storeu_ps(l + i, lv);
        _mm512_storeu_ps(m + i, mn);
        _mm512_storeu_ps(corr + i, cf);
    }
}

/* ---- P · V ------------------------------------------------------------- */

/* ot rows c0 .. c0 + 7 (TAIL: channels past d repeat channel d − 1). */
INLINE void pv_block(const int NV, const int TAIL, const float *p, int bk, const float *v,
                     int64_t ldv, int64_t c0, int64_t d, const float *corr, float *ot)
{
    int64_t co[R];
    for (int r = 0; r < R; r++)
        co[r] = TAIL && c0 + r >= d ? d - 1 : c0 + r;
    __m512 acc[R][3], cf[3];
    for (int w = 0; w < NV; w++)
        cf[w] = _mm512_loadu_ps(corr + L * w);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        for (int w = 0; w < NV; w++)
            acc[r][w] = _mm512_mul_ps(_mm512_loadu_ps(ot + (c0 + r) * BQ + L * w), cf[w]);
    for (int j = 0; j < bk; j++, p += BQ) {
        const float *vj = v + j * ldv; /* (no pointer past the last row) */
        __m512 pv[3];
        for (int w = 0; w < NV; w++)
            pv[w] = _mm512_loadu_ps(p + L * w);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(vj[co[r]]);
            for (int w = 0; w < NV; w++)
                acc[r][w] = _mm512_fmadd_ps(b, pv[w], acc[r][w]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        for (int w = 0; w < NV; w++)
            _mm512_storeu_ps(ot + (c0 + r) * BQ + L * w, acc[r][w]);
}

INLINE void pv_nv(const int NV, const float *p, int bk, const float *v, int64_t ldv, int64_t d,
                  const float *corr, float *ot)
{
    int64_t c0 = 0;
    for (; c0 + R <= d; c0 += R)
        pv_block(NV, 0, p, bk, v, ldv, c0, d, corr, ot);
    if (c0 < d)
        pv_block(NV, 1, p, bk, v, ldv, c0, d, corr, ot);
}

static void pv(const float *p, int nq, int bk, const float *v, int64_t ldv, int64_t d,
               const float *corr, float *ot)
{
    switch ((nq + L - 1) / L) {
    case 1: pv_nv(1, p, bk, v, ldv, d, corr, ot); break;
    case 2: pv_nv(2, p, bk, v, ldv, d, corr, ot); break;
    default: pv_nv(3, p, bk, v, ldv, d, corr, ot); break;
    }
}

/* ---- moving the query block in and the outputs out -------------------- */

/* r[i] = row i of a 16 × 16 block → r[j] = column j, in four rounds of
 * two-source shuffles: pairs of rows interleaved by 32-bit elements, then
 * by 64-bit pairs, which leaves u[4m + c] holding, in 128-bit lane L,
 * column 4L + c of rows 4m..4m+3; two rounds of 128-bit lane shuffles
 * then gather lane L of u[c], u[4 + c], u[8 + c], u[12 + c]. */
INLINE void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int m = 0; m < 16; m += 4) {
        __m512d a = _mm512_castps_pd(t[m]), b = _mm512_castps_pd(t[m + 2]);
        __m512d c = _mm512_castps_pd(t[m + 1]), e = _mm512_castps_pd(t[m + 3]);
        u[m] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        u[m + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        u[m + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, e));
        u[m + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, e));
    }
    for (int c = 0; c < 4; c++) {
        __m512 lo = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
        __m512 hi = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
        __m512 lo2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
        __m512 hi2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
        r[c] = _mm512_shuffle_f32x4(lo, lo2, _MM_SHUFFLE(2, 0, 2, 0));
        r[4 + c] = _mm512_shuffle_f32x4(lo, lo2, _MM_SHUFFLE(3, 1, 3, 1));
        r[8 + c] = _mm512_shuffle_f32x4(hi, hi2, _MM_SHUFFLE(2, 0, 2, 0));
        r[12 + c] = _mm512_shuffle_f32x4(hi, hi2, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* 16 × 16 blocks: rows are queries in, channels out. With nk = 77 these
 * two transposes are a tenth of the work; element by element they were
 * as long as the products themselves. */
static void pack_q(const float *q, int64_t ldq, int nq, int64_t d, float mul, float *qt)
{
    const __m512 vm = _mm512_set1_ps(mul);
    for (int i0 = 0; i0 < nq; i0 += L) {
        for (int64_t c0 = 0; c0 < d; c0 += L) {
            int nc = d - c0 < L ? (int)(d - c0) : L;
            __mmask16 cm = (__mmask16)((1u << nc) - 1);
            __m512 r[L];
            for (int i = 0; i < L; i++) {
                r[i] = _mm512_setzero_ps();
                if (i0 + i < nq)
                    r[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(cm, q + (i0 + i) * ldq + c0), vm);
            }
            transpose16(r);
            for (int c = 0; c < nc; c++)
                _mm512_storeu_ps(qt + (c0 + c) * BQ + i0, r[c]);
        }
    }
}

static void store(const float *ot, int nq, int64_t d, const float *l, float *out, int64_t ldo)
{
    for (int i0 = 0; i0 < nq; i0 += L) {
        int ni = nq - i0 < L ? nq - i0 : L;
        __m512 lv = _mm512_loadu_ps(l + i0);
        __mmask16 seen = _mm512_cmp_ps_mask(lv, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512 inv = _mm512_maskz_div_ps(seen, _mm512_set1_ps(1.0f), lv);
        for (int64_t c0 = 0; c0 < d; c0 += L) {
            int nc = d - c0 < L ? (int)(d - c0) : L;
            __mmask16 cm = (__mmask16)((1u << nc) - 1);
            __m512 r[L];
            for (int c = 0; c < L; c++)
                r[c] = c < nc ? _mm512_mul_ps(_mm512_loadu_ps(ot + (c0 + c) * BQ + i0), inv)
                              : _mm512_setzero_ps();
            transpose16(r);
            for (int i = 0; i < ni; i++)
                _mm512_mask_storeu_ps(out + (i0 + i) * ldo + c0, cm, r[i]);
        }
    }
}

const pd_attn_kernel pd_attn_kernel_avx512 = {
    .isa = PD_ISA_AVX512, .lanes = L, .bq = BQ, .cr = R,
    .scores = scores, .softmax = softmax, .pv = pv,
    .pack_q = pack_q, .store = store,
};
