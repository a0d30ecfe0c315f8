/* attention_avx2.c — the AVX2+FMA attention kernels (compiled with
 * -mavx2 -mfma; called only when cpu.c has seen them). The layout is in
 * attention_internal.h; the structure follows attention_avx512.c.
 *
 * Blocks of 24 queries = 3 vectors of 8. Both products are 4 × 3 register
 * tiles: 12 accumulators + 3 vectors of qt (or p) + 1 broadcast = the 16
 * YMM registers. Each step is 12 FMAs against 3 vector loads and 4
 * broadcasts (FMA latency 4-5 on two pipes → 8-10 chains wanted; 12 give
 * some slack).
 *
 * Partial key blocks repeat their last key row and keep only the real
 * rows; channel tails repeat the last channel into rows of ot past d.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/attention_internal.h"

enum { L = 8, BQ = 24, R = 4 };
_Static_assert(BQ <= PD_ATTN_BQ_MAX && BQ % L == 0, "raise PD_ATTN_BQ_MAX");

#define INLINE static inline __attribute__((always_inline))

/* 2^x for x <= 0, −inf included: x = n + f with n = round(x); 2^f from
 * the shared polynomial; 2^n built in the exponent field. Clamping at −127
 * makes that field 0 for the smallest n, i.e. the factor 0: results below
 * about 2^−126.5 become 0 (libm gives denormals there, which weigh nothing
 * next to the row's maximum, whose weight is 1). */
INLINE __m256 exp2_neg(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-127.0f));
    __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(PD_EXP2_C5);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(PD_EXP2_C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(PD_EXP2_C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(PD_EXP2_C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(PD_EXP2_C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(PD_EXP2_C0));
    __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23)));
}

/* ---- scores ------------------------------------------------------------ */

/* Keys j0 .. j0 + kr − 1 (kr <= 4) against NV vectors of queries. */
INLINE void scores_block(const int NV, const float *qt, const float *k, int64_t ldk, int kr,
                         int64_t d, int j0, int lim, float *s, __m256 *tmax)
{
    const float *kp[R];
    for (int r = 0; r < R; r++)
        kp[r] = k + (int64_t)(j0 + (r < kr ? r : kr - 1)) * ldk;
    __m256 acc[R][3];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm256_setzero_ps();
    for (int64_t c = 0; c < d; c++, qt += BQ) {
        __m256 qv[3];
        for (int v = 0; v < NV; v++)
            qv[v] = _mm256_loadu_ps(qt + L * v);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256 b = _mm256_broadcast_ss(kp[r] + c);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm256_fmadd_ps(b, qv[v], acc[r][v]);
        }
    }
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int masked = j0 + kr - 1 > lim; /* is any key here hidden from column 0? */
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if (r >= kr)
            break;
        for (int v = 0; v < NV; v++) {
            if (masked) {
                /* query column i sees key j0 + r iff i > j0 + r − lim − 1 */
                __m256i col = _mm256_add_epi32(iota, _mm256_set1_epi32(L * v));
                __m256i see = _mm256_cmpgt_epi32(col, _mm256_set1_epi32(j0 + r - lim - 1));
                acc[r][v] = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), acc[r][v],
                                             _mm256_castsi256_ps(see));
            }
            _mm256_storeu_ps(s + (j0 + r) * BQ + L * v, acc[r][v]);
            tmax[v] = _mm256_max_ps(tmax[v], acc[r][v]);
        }
    }
}

INLINE void scores_nv(const int NV, const float *qt, const float *k, int64_t ldk, int bk,
                      int64_t d, int lim, float *s, float *tmax)
{
    __m256 mx[3];
    for (int v = 0; v < NV; v++)
        mx[v] = _mm256_set1_ps(-INFINITY);
    for (int j0 = 0; j0 < bk; j0 += R)
        scores_block(NV, qt, k, ldk, bk - j0 < R ? bk - j0 : R, d, j0, lim, s, mx);
    for (int v = 0; v < NV; v++)
        _mm256_storeu_ps(tmax + L * v, mx[v]);
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
        __m256 mo = _mm256_loadu_ps(m + i);
        __m256 mn = _mm256_max_ps(mo, _mm256_loadu_ps(tmax + i));
        __m256 cf = exp2_neg(_mm256_sub_ps(mo, mn));
        /* two partial sums: an add's latency per key would be the bound */
        __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
        int j = 0;
        for (; j + 1 < bk; j += 2) {
            __m256 p0 = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(s + j * BQ + i), mn));
            __m256 p1 = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(s + (j + 1) * BQ + i), mn));
            _mm256_storeu_ps(s + j * BQ + i, p0);
            _mm256_storeu_ps(s + (j + 1) * BQ + i, p1);
            sum0 = _mm256_add_ps(sum0, p0);
            sum1 = _mm256_add_ps(sum1, p1);
        }
        if (j < bk) {
            __m256 p0 = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(s + j * BQ + i), mn));
            _mm256_storeu_ps(s + j * BQ + i, p0);
            sum0 = _mm256_add_ps(sum0, p0);
        }
        __m256 lv = _mm256_fmadd_ps(_mm256_loadu_ps(l + i), cf, _mm256_add_ps(sum0, sum1));
        _mm256_storeu_ps(l + i, lv);
        _mm256_storeu_ps(m + i, mn);
        _mm256_storeu_ps(corr + i, cf);
    }
}

/* ---- P · V ------------------------------------------------------------- */

/* ot rows c0 .. c0 + 3 (TAIL: channels past d repeat channel d − 1). */
INLINE void pv_block(const int NV, const int TAIL, const float *p, int bk, const float *v,
                     int64_t ldv, int64_t c0, int64_t d, const float *corr, float *ot)
{
    int64_t co[R];
    for (int r = 0; r < R; r++)
        co[r] = TAIL && c0 + r >= d ? d - 1 : c0 + r;
    __m256 acc[R][3];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        for (int w = 0; w < NV; w++)
            acc[r][w] = _mm256_mul_ps(_mm256_loadu_ps(ot + (c0 + r) * BQ + L * w),
                                      _mm256_loadu_ps(corr + L * w));
    for (int j = 0; j < bk; j++, p += BQ) {
        const float *vj = v + j * ldv; /* (no pointer past the last row) */
        __m256 pv[3];
        for (int w = 0; w < NV; w++)
            pv[w] = _mm256_loadu_ps(p + L * w);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256 b = _mm256_broadcast_ss(vj + co[r]);
            for (int w = 0; w < NV; w++)
                acc[r][w] = _mm256_fmadd_ps(b, pv[w], acc[r][w]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        for (int w = 0; w < NV; w++)
            _mm256_storeu_ps(ot + (c0 + r) * BQ + L * w, acc[r][w]);
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

/* r[i] = row i of an 8 × 8 block → r[j] = column j: rows interleaved by
 * 32-bit elements, then by 64-bit pairs, which leaves u[4m + c] holding, in
 * 128-bit half H, column 4H + c of rows 4m..4m+3; a 128-bit permute then
 * pairs the halves of u[c] and u[4 + c]. */
INLINE void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int m = 0; m < 8; m += 4) {
        __m256d a = _mm256_castps_pd(t[m]), b = _mm256_castps_pd(t[m + 2]);
        __m256d c = _mm256_castps_pd(t[m + 1]), e = _mm256_castps_pd(t[m + 3]);
        u[m] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
        u[m + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
        u[m + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(c, e));
        u[m + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(c, e));
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* Lanes [0, n) of a row, the rest zero, without reading past element n. */
INLINE __m256 load_part(const float *p, int n)
{
    if (n == L)
        return _mm256_loadu_ps(p);
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    return _mm256_maskload_ps(p, m);
}

INLINE void store_part(float *p, int n, __m256 x)
{
    if (n == L) {
        _mm256_storeu_ps(p, x);
        return;
    }
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx), x);
}

/* 8 × 8 blocks: rows are queries in, channels out. */
static void pack_q(const float *q, int64_t ldq, int nq, int64_t d, float mul, float *qt)
{
    const __m256 vm = _mm256_set1_ps(mul);
    for (int i0 = 0; i0 < nq; i0 += L) {
        for (int64_t c0 = 0; c0 < d; c0 += L) {
            int nc = d - c0 < L ? (int)(d - c0) : L;
            __m256 r[L];
            for (int i = 0; i < L; i++)
                r[i] = i0 + i < nq ? _mm256_mul_ps(load_part(q + (i0 + i) * ldq + c0, nc), vm)
                                   : _mm256_setzero_ps();
            transpose8(r);
            for (int c = 0; c < nc; c++)
                _mm256_storeu_ps(qt + (c0 + c) * BQ + i0, r[c]);
        }
    }
}

static void store(const float *ot, int nq, int64_t d, const float *l, float *out, int64_t ldo)
{
    for (int i0 = 0; i0 < nq; i0 += L) {
        int ni = nq - i0 < L ? nq - i0 : L;
        __m256 lv = _mm256_loadu_ps(l + i0);
        __m256 seen = _mm256_cmp_ps(lv, _mm256_setzero_ps(), _CMP_GT_OQ);
        __m256 inv = _mm256_and_ps(seen, _mm256_div_ps(_mm256_set1_ps(1.0f), lv));
        for (int64_t c0 = 0; c0 < d; c0 += L) {
            int nc = d - c0 < L ? (int)(d - c0) : L;
            __m256 r[L];
            for (int c = 0; c < L; c++)
                r[c] = c < nc ? _mm256_mul_ps(_mm256_loadu_ps(ot + (c0 + c) * BQ + i0), inv)
                              : _mm256_setzero_ps();
            transpose8(r);
            for (int i = 0; i < ni; i++)
                store_part(out + (i0 + i) * ldo + c0, nc, r[i]);
        }
    }
}

const pd_attn_kernel pd_attn_kernel_avx2 = {
    .isa = PD_ISA_AVX2, .lanes = L, .bq = BQ, .cr = R,
    .scores = scores, .softmax = softmax, .pv = pv,
    .pack_q = pack_q, .store = store,
};
