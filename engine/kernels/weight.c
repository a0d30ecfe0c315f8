#include "weight.h"

#include <assert.h>
#include <math.h>

#include "palette.h"

int64_t pd_weight_numel(const pd_weight *w)
{
    int64_t n = 1;
    for (int i = 0; i < w->ndim; i++)
        n *= w->shape[i];
    return n;
}

int64_t pd_weight_cols(const pd_weight *w)
{
    int64_t n = 1;
    for (int i = 1; i < w->ndim; i++)
        n *= w->shape[i];
    return n;
}

int64_t pd_weight_bytes(const pd_weight *w)
{
    int64_t n = pd_weight_numel(w);
    switch (w->dtype) {
    case PD_F32: return 4 * n;
    case PD_F16:
    case PD_BF16: return 2 * n;
    case PD_PAL: /* byte-aligned rows (palette.h) */
        return pd_weight_rows(w) * pd_pal_row_bytes(pd_weight_cols(w), w->bits);
    }
    return 0;
}

float pd_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) /* inf or NaN */
        return pd_f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return pd_f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t pd_f32_to_f16(float f)
{
    uint32_t u = pd_bits_from_f32(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN (keep NaN quiet and non-zero) */
        return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0);
    if (a >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return sign | 0x7c00;
    if (a < 0x38800000u) { /* below 2^-14: subnormal half, round to nearest even */
        float v = pd_f32_from_bits(a) * 0x1p24f; /* exact: in units of 2^-24 */
        return sign | (uint16_t)lrintf(v);
    }
    uint32_t mant = a + 0xfffu + ((a >> 13) & 1); /* round to nearest even at bit 13 */
    return sign | (uint16_t)((mant - (112u << 23)) >> 13);
}

uint16_t pd_f32_to_bf16(float f)
{
    uint32_t u = pd_bits_from_f32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

void pd_weight_read(const pd_weight *w, int64_t row, int64_t col, int64_t n, float *dst)
{
    int64_t first = row * pd_weight_cols(w) + col;
    switch (w->dtype) {
    case PD_F32:
        memcpy(dst, (const float *)w->data + first, (size_t)n * sizeof(float));
        return;
    case PD_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = pd_f16_to_f32(((const uint16_t *)w->data)[first + i]);
        return;
    case PD_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = pd_bf16_to_f32(((const uint16_t *)w->data)[first + i]);
        return;
    case PD_PAL:
        pd_pal_decode_row(w, row, col, n, dst);
        return;
    }
    assert(!"unknown dtype");
}
