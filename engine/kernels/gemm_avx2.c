/* gemm_avx2.c — the AVX2+FMA micro-kernel and packers (compiled with
 * -mavx2 -mfma -mf16c; called only when cpu.c has seen all three).
 *
 * Micro-tile 6 × 16: 12 accumulators + 2 W vectors + 1 broadcast of the 16
 * YMM registers; each k step is 12 FMAs against 2 loads and 6 broadcasts,
 * enough independent chains for two FMA pipes of latency 4-5 (Haswell to
 * Zen 3), as in BLIS's haswell kernel.
 *
 * Blocks (L1d 32 KiB; L2 256 KiB on Skylake client, 512 KiB-1 MiB on Zen):
 *   kc = 256: xp = 6·256·4 = 6 KiB in L1, one W micro-panel 16 KiB beside it;
 *   nc = 128: wp = 128·256·4 = 128 KiB, half of the smallest L2;
 *   mc = 1536: W is packed once per 1536 rows of X.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/gemm_internal.h"
#include "kernels/palette_internal.h"

enum { MR = 6, NR = 16, KC = 256, NC = 128, MC = 1536 };
_Static_assert(MR <= PD_GEMM_MR_MAX && NR <= PD_GEMM_NR_MAX && KC <= PD_GEMM_KC_MAX &&
               NC <= PD_GEMM_NC_MAX, "raise the bounds in gemm_internal.h");

static void micro_6x16(int64_t kc, const float *xp, const float *wp, float *y, int64_t ldy,
                       const float *bias, int load_y, const pd_gemm_prefetch *pf)
{
    /* Y's lines are needed only after the k loop: ask for them now. */
    for (int i = 0; i < MR; i++) {
        _mm_prefetch((const char *)(y + i * ldy), _MM_HINT_T0);
        _mm_prefetch((const char *)(y + i * ldy + NR - 1), _MM_HINT_T0);
    }
    /* Fully unrolled loops keep c[][] in registers (GCC otherwise leaves
     * the array on the stack). */
    __m256 c[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        c[i][0] = c[i][1] = _mm256_setzero_ps();
    int pf_rows = pf ? pf->rows : 0;
    for (int64_t k = 0; k < kc; k++, xp += MR, wp += NR) {
        /* one line per row every 16 k (the last line may stay behind) */
        if (k % 16 == 0)
            for (int r = 0; r < pf_rows; r++)
                _mm_prefetch((const char *)(pf->x + r * pf->ldx + k), _MM_HINT_T0);
        __m256 b0 = _mm256_loadu_ps(wp), b1 = _mm256_loadu_ps(wp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(xp + i);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (bias) {
        bias0 = _mm256_loadu_ps(bias);
        bias1 = _mm256_loadu_ps(bias + 8);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        __m256 v0 = _mm256_add_ps(c[i][0], bias0), v1 = _mm256_add_ps(c[i][1], bias1);
        if (load_y) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(y + i * ldy));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(y + i * ldy + 8));
        }
        _mm256_storeu_ps(y + i * ldy, v0);
        _mm256_storeu_ps(y + i * ldy + 8, v1);
    }
}

/* r[i] = row i of an 8 × 8 block → r[j] = column j: 32-bit pairs within
 * 128-bit lanes (unpack), 64-bit pairs (shuffle_ps), then 128-bit lanes. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + c], lane L: column 4L + c of rows 4g..4g+3 */
    for (int g = 0; g < 8; g += 4) {
        u[g + 0] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* 8 consecutive elements of a row widened to float32; past `n` they are
 * zero and not read (AVX2 has no masked 16-bit loads: copy the tail). */
static inline __attribute__((always_inline)) __m256
load8(pd_dtype dtype, const void *data, int64_t at, int n)
{
    if (dtype == PD_F32) {
        const float *p = (const float *)data + at;
        if (n == 8)
            return _mm256_loadu_ps(p);
        float tail[8] = {0};
        memcpy(tail, p, (size_t)n * sizeof *tail);
        return _mm256_loadu_ps(tail);
    }
    const uint16_t *p = (const uint16_t *)data + at;
    __m128i h;
    if (n == 8) {
        h = _mm_loadu_si128((const __m128i *)p);
    } else {
        uint16_t tail[8] = {0};
        memcpy(tail, p, (size_t)n * sizeof *tail);
        h = _mm_loadu_si128((const __m128i *)tail);
    }
    if (dtype == PD_F16)
        return _mm256_cvtph_ps(h);
    /* PD_BF16: the top half of a float32 */
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static void pack_x(const float *x, int64_t ldx, int m, int64_t kc, float *dst)
{
    for (int64_t k = 0; k < kc; k += 8) {
        int nk = kc - k < 8 ? (int)(kc - k) : 8;
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = i < m ? load8(PD_F32, x + i * ldx, k, nk) : _mm256_setzero_ps();
        transpose8(r);
        /* 6 of the 8 lanes (rows 6, 7 do not exist): 4 + 2 floats. */
        for (int j = 0; j < nk; j++) {
            float *d = dst + (k + j) * MR;
            _mm_storeu_ps(d, _mm256_castps256_ps128(r[j]));
            _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(r[j], 1));
        }
    }
}

/* Each half micro-panel (8 rows of W) in 8 × 8 blocks: 8 k of 8 rows loaded
 * and widened, turned by transpose8, stored as 8 k steps. */
static inline __attribute__((always_inline)) void
pack_w_dtype(pd_dtype dtype, const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc,
             float *dst)
{
    const int64_t K = pd_weight_cols(w);
    for (int64_t p = 0; p < n; p += NR, dst += kc * NR)
        for (int h = 0; h < NR; h += 8)
            for (int64_t k = 0; k < kc; k += 8) {
                int nk = kc - k < 8 ? (int)(kc - k) : 8;
                __m256 r[8];
                for (int i = 0; i < 8; i++) {
                    int64_t row = p + h + i;
                    r[i] = row < n ? load8(dtype, w->data, (n0 + row) * K + k0 + k, nk)
                                   : _mm256_setzero_ps();
                }
                transpose8(r);
                for (int j = 0; j < nk; j++)
                    _mm256_storeu_ps(dst + (k + j) * NR + h, r[j]);
            }
}

static void pack_w_f32(const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc, float *dst)
{
    pack_w_dtype(PD_F32, w, n0, n, k0, kc, dst);
}

static void pack_w_f16(const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc, float *dst)
{
    pack_w_dtype(PD_F16, w, n0, n, k0, kc, dst);
}

static void pack_w_bf16(const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc, float *dst)
{
    pack_w_dtype(PD_BF16, w, n0, n, k0, kc, dst);
}

/* Palettes: each of a half micro-panel's 8 rows decoded (kc indices at
 * once, palette_avx2.c) into a row buffer in L1, then turned into 8 k steps
 * as pack_w_dtype does with F32 rows. Each group's palette is widened once
 * per call. */
static void pack_w_pal(const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc, float *dst)
{
    _Alignas(32) float rows[8][KC];
    pd_pal_table t;
    t.src = NULL;
    for (int64_t p = 0; p < n; p += NR, dst += kc * NR)
        for (int h = 0; h < NR; h += 8) {
            int live = 0; /* rows of this half that exist */
            for (int i = 0; i < 8 && p + h + i < n; i++, live++)
                pd_pal_decode_row_avx2(w, n0 + p + h + i, k0, kc, &t, rows[i]);
            for (int64_t k = 0; k < kc; k += 8) {
                int nk = kc - k < 8 ? (int)(kc - k) : 8;
                __m256 r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = i < live ? load8(PD_F32, rows[i], k, nk) : _mm256_setzero_ps();
                transpose8(r);
                for (int j = 0; j < nk; j++)
                    _mm256_storeu_ps(dst + (k + j) * NR + h, r[j]);
            }
        }
}

const pd_gemm_kernel pd_gemm_kernel_avx2 = {
    .isa = PD_ISA_AVX2,
    .mr = MR, .nr = NR, .kc = KC, .nc = NC, .mc = MC,
    .micro = micro_6x16,
    .pack_x = pack_x,
    .pack_w = {
        [PD_F32] = pack_w_f32,
        [PD_F16] = pack_w_f16,
        [PD_BF16] = pack_w_bf16,
        [PD_PAL] = pack_w_pal,
    },
};
