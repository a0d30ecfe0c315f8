/* palette_avx2.c — pd_pal_decode_row with AVX2 (+F16C): eight indices at a
 * time, unpacked as in palette_avx512.c (eight indices span `bits` whole
 * bytes, at most 8 of them with the row's starting bit offset: one 64-bit
 * load, vpshufb, vpsrlvd, vpand), then looked up:
 *   bits <= 3: one vpermps across a register of 8 floats;
 *   4, 5, 6:   2^(bits-3) vpermps, then blends on bits 3, 4, 5 (a binary
 *              tree; 6 bits: 8 permutes + 7 blends, 8 of the 16 registers);
 *   7, 8:      eight scalar loads from the palette widened in `t` (a tree
 *              would need 16 or 32 registers).
 * Measured on Zen 5 (one thread, `paldiff bench palette`): about 12 G
 * weights/s up to 3 bits, 10 at 4, 5.7 at 5, 3.2 at 6, 2.8 at 7 and 8.
 * vgatherdps instead: 2.2-2.4 at any width; the tree at 8 bits: 0.4.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/palette.h"
#include "kernels/palette_internal.h"

enum { SCALAR_FROM_BITS = 7 };

/* The palette of row `row`'s group as float32 in t->f (first 2^bits). */
static inline const float *widen(const pd_weight *w, int64_t row, pd_pal_table *t)
{
    const int entries = 1 << w->bits;
    const uint16_t *src = w->palette + (row / w->group_size) * entries;
    if (t->src == src)
        return t->f;
    if (entries < 8) {
        uint16_t h[8] = {0};
        memcpy(h, src, (size_t)entries * sizeof *h);
        _mm256_store_ps(t->f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)));
    } else {
        for (int i = 0; i < entries; i += 8)
            _mm256_store_ps(t->f + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    }
    t->src = src;
    return t->f;
}

static inline __attribute__((always_inline)) __m256
lookup(int bits, __m256i idx, const __m256 *P, const float *table)
{
    if (bits >= SCALAR_FROM_BITS) {
        _Alignas(32) int32_t k[8];
        _mm256_store_si256((__m256i *)k, idx);
        return _mm256_setr_ps(table[k[0]], table[k[1]], table[k[2]], table[k[3]], table[k[4]],
                              table[k[5]], table[k[6]], table[k[7]]);
    }
    if (bits <= 3)
        return _mm256_permutevar8x32_ps(P[0], idx);
    __m256 v[8];
    int nv = 1 << (bits - 3);
    for (int q = 0; q < nv; q++)
        v[q] = _mm256_permutevar8x32_ps(P[q], idx);
    for (int b = 3; b < bits; b++, nv /= 2) {
        __m256 m = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 31 - b)); /* bit b → sign */
        for (int q = 0; q < nv / 2; q++)
            v[q] = _mm256_blendv_ps(v[2 * q], v[2 * q + 1], m);
    }
    return v[0];
}

static inline __attribute__((always_inline)) void
decode(const int bits, const uint8_t *src, const uint8_t *end, int o, int64_t n,
       const float *table, float *dst)
{
    __m256 P[8];
    if (bits < SCALAR_FROM_BITS)
        for (int q = 0; q < ((1 << bits) + 7) / 8; q++)
            P[q] = _mm256_load_ps(table + 8 * q);

    /* dword j: bytes B, B+1 (B+1 only while inside the 8), bits shifted by s */
    const __m256i at = _mm256_add_epi32(_mm256_set1_epi32(o),
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(bits)));
    const __m256i B = _mm256_srli_epi32(at, 3);
    __m256i B1 = _mm256_add_epi32(B, _mm256_set1_epi32(1));
    B1 = _mm256_blendv_epi8(B1, _mm256_set1_epi32(0x80), _mm256_cmpgt_epi32(B1, _mm256_set1_epi32(7)));
    const __m256i ctrl = _mm256_or_si256(_mm256_or_si256(B, _mm256_slli_epi32(B1, 8)),
                                         _mm256_set1_epi32((int)0x80800000u));
    const __m256i shift = _mm256_and_si256(at, _mm256_set1_epi32(7));
    const __m256i mask = _mm256_set1_epi32((1 << bits) - 1);

    for (int64_t i = 0; i < n; i += 8, src += bits) {
        uint64_t raw = 0;
        if (end - src >= 8)
            memcpy(&raw, src, 8);
        else /* the tensor's last bytes: never read past them */
            memcpy(&raw, src, (size_t)(end - src));
        __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi64x((long long)raw), ctrl);
        __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(b, shift), mask);
        __m256 v = lookup(bits, idx, P, table);
        if (n - i >= 8) {
            _mm256_storeu_ps(dst + i, v);
        } else {
            float tail[8];
            _mm256_storeu_ps(tail, v);
            memcpy(dst + i, tail, (size_t)(n - i) * sizeof *tail);
        }
    }
}

void pd_pal_decode_row_avx2(const pd_weight *w, int64_t row, int64_t col, int64_t n,
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
