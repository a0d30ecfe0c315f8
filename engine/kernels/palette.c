/* palette.c — the scalar specification of the PD_PAL layout (palette.h):
 * packing, unpacking and decoding one row. pd_weight_read's PD_PAL case is
 * pd_pal_decode_row; the GEMM packers' vector decoders (palette_avx512.c,
 * palette_avx2.c) are tested against it. */
#include "kernels/palette.h"

#include <assert.h>
#include <string.h>

/* Index i of a packed row: its bits start at bit i·bits, LSB first, and
 * span at most two bytes (bits <= 8). The second byte is read only when
 * the index reaches into it, so a row is never read past its last byte. */
static inline unsigned pal_index(const uint8_t *row, int bits, int64_t i)
{
    int64_t bit = i * bits;
    unsigned v = row[bit >> 3];
    if ((bit & 7) + bits > 8)
        v |= (unsigned)row[(bit >> 3) + 1] << 8;
    return (v >> (bit & 7)) & ((1u << bits) - 1);
}

void pd_pal_pack_row(const uint8_t *idx, int64_t n, int bits, uint8_t *out)
{
    assert(bits >= 1 && bits <= 8 && n >= 0);
    memset(out, 0, (size_t)pd_pal_row_bytes(n, bits));
    for (int64_t i = 0; i < n; i++) {
        assert(idx[i] >> bits == 0);
        int64_t bit = i * bits;
        unsigned v = (unsigned)idx[i] << (bit & 7);
        out[bit >> 3] |= (uint8_t)v;
        if ((bit & 7) + bits > 8)
            out[(bit >> 3) + 1] |= (uint8_t)(v >> 8);
    }
}

void pd_pal_unpack_row(const uint8_t *row, int64_t col, int64_t n, int bits, uint8_t *idx)
{
    assert(bits >= 1 && bits <= 8 && col >= 0 && n >= 0);
    for (int64_t i = 0; i < n; i++)
        idx[i] = (uint8_t)pal_index(row, bits, col + i);
}

void pd_pal_decode_row(const pd_weight *w, int64_t row, int64_t col, int64_t n, float *dst)
{
    assert(w->dtype == PD_PAL && w->bits >= 1 && w->bits <= 8 && w->group_size > 0);
    const int bits = w->bits;
    const uint8_t *data = (const uint8_t *)w->data + row * pd_pal_row_bytes(pd_weight_cols(w), bits);
    const uint16_t *table = w->palette + ((row / w->group_size) << bits);
    for (int64_t i = 0; i < n; i++)
        dst[i] = pd_f16_to_f32(table[pal_index(data, bits, col + i)]);
}
