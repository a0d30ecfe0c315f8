/* gemm_avx512.c — the AVX-512 micro-kernel and packers (compiled with
 * -mavx512f/bw/dq/vl; called only when cpu.c has seen them and the OS
 * saves ZMM state).
 *
 * Micro-tile 12 × 32: 24 accumulators + 2 W vectors + 1 broadcast of the 32
 * ZMM registers. Each k step is 24 FMAs against 2 vector loads and 12
 * broadcasts, so two FMA pipes stay fed (FMA latency 4 → at least 8
 * independent chains; 24 hide load latency too). Measured alone on Zen 5
 * (kc = 256..384, W streamed from L2): 12×32, 14×32, 8×48 and 6×64 all
 * within noise of the FMA peak, 16×16 about 15 % below it. 12 rows waste
 * 7/84 on the text encoder's M = 77; every N in Stable Diffusion is a
 * multiple of 32.
 *
 * Blocks (Zen 4/5: L1d 32-48 KiB, L2 1 MiB; Skylake-SP/Ice Lake: L2 1-2 MiB):
 *   kc = 384: xp = 12·384·4 = 18 KiB, a third to a half of L1, beside the
 *             W and Y lines in flight;
 *   nc = 320: wp = 320·384·4 = 480 KiB, half of L2, so Y and X traffic
 *             does not evict it; 320 is also a whole SD channel count;
 *   mc = 1536: W is packed once per 1536 rows of X; 768 measured 2-4 %
 *             slower at M = 1024..4096 with F32 weights, and decoding
 *             palettes costs more than copying.
 */
#include <immintrin.h>

#include "kernels/gemm_internal.h"
#include "kernels/palette_internal.h"

enum { MR = 12, NR = 32, KC = 384, NC = 320, MC = 1536 };
_Static_assert(MR <= PD_GEMM_MR_MAX && NR <= PD_GEMM_NR_MAX && KC <= PD_GEMM_KC_MAX &&
               NC <= PD_GEMM_NC_MAX, "raise the bounds in gemm_internal.h");

static void micro_12x32(int64_t kc, const float *xp, const float *wp, float *y, int64_t ldy,
                        const float *bias, int load_y, const pd_gemm_prefetch *pf)
{
    /* Y's lines are needed only after the k loop: ask for them now, so an
     * L3 or DRAM latency hides behind kc·24 FMAs. */
    for (int i = 0; i < MR; i++) {
        _mm_prefetch((const char *)(y + i * ldy), _MM_HINT_T0);
        _mm_prefetch((const char *)(y + i * ldy + NR - 1), _MM_HINT_T0);
    }
    /* Fully unrolled loops keep c[][] in registers (GCC otherwise leaves
     * the array on the stack). */
    __m512 c[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
        c[i][0] = c[i][1] = _mm512_setzero_ps();
    int pf_rows = pf ? pf->rows : 0;
    for (int64_t k = 0; k < kc; k++, xp += MR, wp += NR) {
        /* one line per row every 16 k (the last line may stay behind) */
        if (k % 16 == 0)
            for (int r = 0; r < pf_rows; r++)
                _mm_prefetch((const char *)(pf->x + r * pf->ldx + k), _MM_HINT_T0);
        __m512 b0 = _mm512_loadu_ps(wp), b1 = _mm512_loadu_ps(wp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(xp[i]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
        }
    }
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (bias) {
        bias0 = _mm512_loadu_ps(bias);
        bias1 = _mm512_loadu_ps(bias + 16);
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        __m512 v0 = _mm512_add_ps(c[i][0], bias0), v1 = _mm512_add_ps(c[i][1], bias1);
        if (load_y) {
            v0 = _mm512_add_ps(v0, _mm512_loadu_ps(y + i * ldy));
            v1 = _mm512_add_ps(v1, _mm512_loadu_ps(y + i * ldy + 16));
        }
        _mm512_storeu_ps(y + i * ldy, v0);
        _mm512_storeu_ps(y + i * ldy + 16, v1);
    }
}

/* r[i] = row i of a 16 × 16 block → r[j] = column j. Four rounds of
 * shuffles, each pairing registers at a wider granularity: 32-bit within
 * 128-bit lanes (unpack), 64-bit within lanes (shuffle_ps), then whole
 * 128-bit lanes twice (shuffle_f32x4). */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + c], lane L: column 4L + c of rows 4g..4g+3 */
    for (int g = 0; g < 16; g += 4) {
        u[g + 0] = _mm512_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* column 4L + c = lane L of u[c], u[4 + c], u[8 + c], u[12 + c] */
    for (int c = 0; c < 4; c++) {
        __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);      /* u0.0 u0.1 u4.0 u4.1 */
        __m512 b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee);      /* u0.2 u0.3 u4.2 u4.3 */
        __m512 d = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 e = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
        r[c] = _mm512_shuffle_f32x4(a, d, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(a, d, 0xdd);
        r[8 + c] = _mm512_shuffle_f32x4(b, e, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(b, e, 0xdd);
    }
}

static void pack_x(const float *x, int64_t ldx, int m, int64_t kc, float *dst)
{
    for (int64_t k = 0; k < kc; k += 16) {
        int nk = kc - k < 16 ? (int)(kc - k) : 16;
        __mmask16 km = (__mmask16)((1u << nk) - 1);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < m ? _mm512_maskz_loadu_ps(km, x + i * ldx + k) : _mm512_setzero_ps();
        transpose16(r);
        /* 12 of the 16 lanes: rows 12..15 do not exist. */
        for (int j = 0; j < nk; j++)
            _mm512_mask_storeu_ps(dst + (k + j) * MR, (1u << MR) - 1, r[j]);
    }
}

/* 16 consecutive elements of one W row widened to float32; lanes outside
 * `km` are zero and not read. Inlined with a constant dtype. */
static inline __attribute__((always_inline)) __m512
load16(pd_dtype dtype, const void *data, int64_t at, __mmask16 km)
{
    switch (dtype) {
    case PD_F32:
        return _mm512_maskz_loadu_ps(km, (const float *)data + at);
    case PD_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(km, (const uint16_t *)data + at));
    case PD_BF16: {
        /* bfloat16 is the top half of a float32 */
        __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(km, (const uint16_t *)data + at));
        return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
    }
    case PD_PAL:
        break;
    }
    return _mm512_setzero_ps();
}

/* Each half micro-panel (16 rows of W) in 16 × 16 blocks: 16 k of 16 rows
 * loaded and widened, turned by transpose16, stored as 16 k steps. */
static inline __attribute__((always_inline)) void
pack_w_dtype(pd_dtype dtype, const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc,
             float *dst)
{
    const int64_t K = pd_weight_cols(w);
    for (int64_t p = 0; p < n; p += NR, dst += kc * NR)
        for (int h = 0; h < NR; h += 16)
            for (int64_t k = 0; k < kc; k += 16) {
                int nk = kc - k < 16 ? (int)(kc - k) : 16;
                __mmask16 km = (__mmask16)((1u << nk) - 1);
                __m512 r[16];
                for (int i = 0; i < 16; i++) {
                    int64_t row = p + h + i;
                    r[i] = row < n ? load16(dtype, w->data, (n0 + row) * K + k0 + k, km)
                                   : _mm512_setzero_ps();
                }
                transpose16(r);
                for (int j = 0; j < nk; j++)
                    _mm512_storeu_ps(dst + (k + j) * NR + h, r[j]);
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

/* Palettes: each of a half micro-panel's 16 rows decoded (kc indices at
 * once, palette_avx512.c) into a row buffer in L1, then turned into 16 k
 * steps as pack_w_dtype does with F32 rows. The row decoder keeps its
 * palette in registers for the whole row; decoding into the panel directly
 * would reload it every 16 values. Each group's palette is widened once per
 * call. */
static void pack_w_pal(const pd_weight *w, int64_t n0, int64_t n, int64_t k0, int64_t kc, float *dst)
{
    _Alignas(64) float rows[16][KC];
    pd_pal_table t;
    t.src = NULL;
    for (int64_t p = 0; p < n; p += NR, dst += kc * NR)
        for (int h = 0; h < NR; h += 16) {
            int live = 0; /* rows of this half that exist */
            for (int i = 0; i < 16 && p + h + i < n; i++, live++)
                pd_pal_decode_row_avx512(w, n0 + p + h + i, k0, kc, &t, rows[i]);
            for (int64_t k = 0; k < kc; k += 16) {
                int nk = kc - k < 16 ? (int)(kc - k) : 16;
                __mmask16 km = (__mmask16)((1u << nk) - 1);
                __m512 r[16];
                for (int i = 0; i < 16; i++)
                    r[i] = i < live ? _mm512_maskz_load_ps(km, rows[i] + k) : _mm512_setzero_ps();
                transpose16(r);
                for (int j = 0; j < nk; j++)
                    _mm512_storeu_ps(dst + (k + j) * NR + h, r[j]);
            }
        }
}

const pd_gemm_kernel pd_gemm_kernel_avx512 = {
    .isa = PD_ISA_AVX512,
    .mr = MR, .nr = NR, .kc = KC, .nc = NC, .mc = MC,
    .micro = micro_12x32,
    .pack_x = pack_x,
    .pack_w = {
        [PD_F32] = pack_w_f32,
        [PD_F16] = pack_w_f16,
        [PD_BF16] = pack_w_bf16,
        [PD_PAL] = pack_w_pal,
    },
};
