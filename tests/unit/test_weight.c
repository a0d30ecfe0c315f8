/* test_weight.c — the weight descriptor: half/bfloat16 conversion and
 * pd_weight_read for every dtype, palettes included. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "kernels/weight.h"

static void test_f16(void)
{
    /* Every half value survives the round trip (NaNs stay NaN). */
    int exact = 1;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = pd_f16_to_f32((uint16_t)h);
        uint16_t back = pd_f32_to_f16(f);
        if (isnan(f) ? !((back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h)
            exact = 0;
    }
    CHECK_MSG(exact, "f16 -> f32 -> f16 round trip");
    CHECK(pd_f16_to_f32(0x3c00) == 1.0f);
    CHECK(pd_f16_to_f32(0xc000) == -2.0f);
    CHECK(pd_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(pd_f16_to_f32(0x7bff) == 65504.0f);
    /* Rounding to nearest even, overflow, underflow. */
    CHECK(pd_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);          /* tie -> even (down) */
    CHECK(pd_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02);      /* tie -> even (up)   */
    CHECK(pd_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(pd_f32_to_f16(65519.0f) == 0x7bff);
    CHECK(pd_f32_to_f16(0x1p-25f) == 0x0000);                 /* tie -> even zero   */
    CHECK(pd_f32_to_f16(0x1.8p-25f) == 0x0001);
    CHECK(pd_f32_to_f16(-0.0f) == 0x8000);
    CHECK(pd_f32_to_f16(INFINITY) == 0x7c00);
    CHECK(pd_bf16_to_f32(pd_f32_to_bf16(1.5f)) == 1.5f);
    CHECK(pd_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);         /* tie -> even */
    CHECK(isnan(pd_bf16_to_f32(pd_f32_to_bf16(NAN))));
}

static void test_read(void)
{
    float f[12];
    uint16_t h[12], b[12];
    for (int i = 0; i < 12; i++) {
        f[i] = (float)i * 0.5f - 2.0f;
        h[i] = pd_f32_to_f16(f[i]);
        b[i] = pd_f32_to_bf16(f[i]);
    }
    pd_weight w32 = {.dtype = PD_F32, .ndim = 2, .shape = {3, 4}, .data = f};
    pd_weight w16 = w32, wb = w32;
    w16.dtype = PD_F16, w16.data = h;
    wb.dtype = PD_BF16, wb.data = b;
    CHECK(pd_weight_numel(&w32) == 12 && pd_weight_rows(&w32) == 3 && pd_weight_cols(&w32) == 4);
    float out[4];
    const pd_weight *ws[] = {&w32, &w16, &wb};
    for (int k = 0; k < 3; k++) {
        pd_weight_read(ws[k], 2, 1, 3, out);
        CHECK_MSG(out[0] == f[9] && out[1] == f[10] && out[2] == f[11], "dtype %d", k);
    }
    /* Palettized: 3 bits, one palette per 2 rows; indices packed LSB first,
     * each row starting on a byte (palette.h): 15 bits → 2 bytes a row. */
    enum { R = 4, C = 5, BITS = 3, ROW_BYTES = (C * BITS + 7) / 8 };
    uint16_t pal[2 << BITS];
    for (int i = 0; i < (2 << BITS); i++)
        pal[i] = pd_f32_to_f16((float)i);
    uint8_t packed[R * ROW_BYTES] = {0};
    int idx[R * C];
    for (int i = 0; i < R * C; i++) {
        idx[i] = (i * 5 + 3) % 8;
        int r = i / C, c = i % C;
        for (int bit = 0; bit < BITS; bit++)
            if (idx[i] >> bit & 1)
                packed[r * ROW_BYTES + (c * BITS + bit) / 8] |= (uint8_t)(1 << ((c * BITS + bit) % 8));
    }
    pd_weight wp = {.dtype = PD_PAL, .ndim = 2, .shape = {R, C}, .data = packed, .bits = BITS,
                    .group_size = 2, .palette = pal};
    CHECK(pd_weight_bytes(&wp) == R * ROW_BYTES);
    int ok = 1;
    for (int r = 0; r < R; r++) {
        float row[C];
        pd_weight_read(&wp, r, 0, C, row);
        for (int c = 0; c < C; c++)
            ok &= row[c] == (float)((r / 2) * 8 + idx[r * C + c]);
    }
    CHECK_MSG(ok, "palettized rows decode through their group's palette");
}

int main(void)
{
    test_f16();
    test_read();
    return check_summary("unit-weight");
}
