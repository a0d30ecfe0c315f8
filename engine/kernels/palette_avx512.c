/* palette_avx512.c — pd_pal_decode_row with AVX-512 (F, BW, VL): sixteen
 * indices at a time unpacked with one byte shuffle and one variable shift,
 * then looked up in the palette held in ZMM registers.
 *
 * Unpacking. Sixteen indices of a row span 16·bits bits = 2·bits whole
 * bytes, so every block of sixteen starts at the same bit offset o within
 * its first byte as the first block, and needs at most 16 bytes
 * (o + 16·bits <= 128: o = 0 when bits = 8). The block's bytes are loaded
 * once into every 128-bit lane; index j = the 16-bit little-endian word at
 * byte B = (o + j·bits) / 8, shifted right by (o + j·bits) % 8 and masked.
 * One vpshufb puts bytes B and B+1 in dword j (control fixed per row),
 * vpsrlvd and vpandd finish: three instructions for sixteen indices,
 * whatever the width.
 *
 * Look-up (permutes read only the low bits of each index):
 *   bits <= 4: one vpermps across a register of 16 floats;
 *   5:         one vpermt2ps across two;
 *   6, 7, 8:   2^(bits-5) vpermt2ps, then blends on bits 5, 6, 7 (a binary
 *              tree): 6 bits is 2 permutes + 1 blend, 8 bits 8 + 7, with
 *              all 16 palette registers live (no spills: 16 + 8 + 3 of 32).
 * Measured on Zen 5 (one thread, a [320, 2880] weight row by row,
 * `paldiff bench palette`): about 24 G weights/s up to 5 bits, 17 at 6,
 * 10 at 7, 5.7 at 8. vgatherdps from the widened table instead: 2.3-2.7
 * at any width, so there is no gather here.
 */
#include <immintrin.h>

#include "kernels/palette.h"
#include "kernels/palette_internal.h"

/* The palette of row `row`'s group as float32 in t->f (first 2^bits). */
static inline const float *widen(const pd_weight *w, int64_t row, pd_pal_table *t)
{
    const int entries = 1 << w->bits;
    const uint16_t *src = w->palette + (row / w->group_size) * entries;
    if (t->src == src)
        return t->f;
    if (entries < 16) {
        __m256i h = _mm256_maskz_loadu_epi16((__mmask16)((1u << entries) - 1), src);
        _mm512_store_ps(t->f, _mm512_cvtph_ps(h));
    } else {
        for (int i = 0; i < entries; i += 16)
            _mm512_store_ps(t->f + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    }
    t->src = src;
    return t->f;
}

static inline __attribute__((always_inline)) __m512 lookup(int bits, __m512i idx, const __m512 *P)
{
    if (bits <= 4)
        return _mm512_permutexvar_ps(idx, P[0]);
    __m512 v[8];
    int nv = 1 << (bits - 5);
    for (int q = 0; q < nv; q++)
        v[q] = _mm512_permutex2var_ps(P[2 * q], idx, P[2 * q + 1]);
    for (int b = 5; b < bits; b++, nv /= 2) {
        __mmask16 m = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(1 << b));
        for (int q = 0; q < nv / 2; q++)
            v[q] = _mm512_mask_blend_ps(m, v[2 * q], v[2 * q + 1]);
    }
    return v[0];
}

static inline __attribute__((always_inline)) void
decode(const int bits, const uint8_t *src, const uint8_t *end, int o, int64_t n,
       const float *table, float *dst)
{
    __m512 P[16];
    for (int q = 0; q < ((1 << bits) + 15) / 16; q++)
        P[q] = _mm512_load_ps(table + 16 * q);

    /* dword j: bytes B, B+1 (B+1 only while inside the 16), bits shifted by s */
    const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(o),
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(bits)));
    const __m512i B = _mm512_srli_epi32(at, 3);
    __m512i B1 = _mm512_add_epi32(B, _mm512_set1_epi32(1));
    B1 = _mm512_mask_mov_epi32(B1, _mm512_cmpgt_epi32_mask(B1, _mm512_set1_epi32(15)),
                               _mm512_set1_epi32(0x80));
    const __m512i ctrl = _mm512_or_si512(_mm512_or_si512(B, _mm512_slli_epi32(B1, 8)),
                                         _mm512_set1_epi32((int)0x80800000u));
    const __m512i shift = _mm512_and_si512(at, _mm512_set1_epi32(7));
    const __m512i mask = _mm512_set1_epi32((1 << bits) - 1);

    for (int64_t i = 0; i < n; i += 16, src += 2 * bits) {
        __m128i raw;
        if (end - src >= 16)
            raw = _mm_loadu_si128((const __m128i *)src);
        else /* the tensor's last bytes: never read past them */
            raw = _mm_maskz_loadu_epi8((__mmask16)((1u << (end - src)) - 1), src);
        __m512i b = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(raw), ctrl);
        __m512i idx = _mm512_and_si512(_mm512_srlv_epi32(b, shift), mask);
        __m512 v = lookup(bits, idx, P);
        if (n - i >= 16)
            _mm512_storeu_ps(dst + i, v);
        else
            _mm512_mask_storeu_ps(dst + i, (__mmask16)((1u << (n - i)) - 1), v);
    }
}

void pd_pal_decode_row_avx512(const pd_weight *w, int64_t row, int64_t col, int64_t n,
                              pd_pal_table *t, float *dst)
{
    const int bits = w->bits;
    const uint8_t *data = w->data;
    const uint8_t *src = data + row * pd_pal_row_bytes(pd_weight_cols(w), bits) + (col * bits >> 3);
    const uint8_t *end = data + pd_weight_bytes(w);
    const int o = (int)(col * bits & 7);
    const float *table = widen(w, row, t);
    switch (bits) {
    case 1: decode(1, src, end, o, n, table, dst); break;
    case 2: decode(2, src, end, o, n, table, dst); break;
    case 3: decode(3, src, end, o, n, table, dst); break;
    case 4: decode(4, src, end, o, n, table, dst); break;
    case 5: decode(5, src, end, o, n, table, dst); break;
    case 6: decode(6, src, end, o, n, table, dst); break;
    case 7: decode(7, src, end, o, n, table, dst); break;
    case 8: decode(8, src, end, o, n, table, dst); break;
    }
}
