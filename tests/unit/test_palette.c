/* test_palette.c — the PD_PAL layout (palette.h) and its decoders.
 *
 * - pd_pal_pack_row / pd_pal_unpack_row: round trips for every width 1..8
 *   on odd lengths and offsets, zero padding bits, and hand-packed bytes.
 * - The vector decoders (palette_avx512.c, palette_avx2.c) against
 *   pd_pal_decode_row, bit for bit, on every path the CPU has: every width,
 *   odd columns and offsets, per-tensor and per-group palettes, palettes
 *   holding subnormals and infinities, the tensor's last row (data
 *   allocated to the byte, so ASan sees any read past it).
 * - pd_gemm and pd_conv2d with PD_PAL weights against the same products
 *   with the decoded weights stored as F32: the packed panels hold the very
 *   same floats and the blocking does not depend on the dtype, so the
 *   results must be bit-equal, on every path (pd_gemm_isa, pd_conv2d_isa).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/conv.h"
#include "kernels/conv_internal.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/palette.h"
#include "kernels/palette_internal.h"
#include "kernels/weight.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86_PATHS 1
#endif

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}
static float frand(void) { return (float)(next() >> 40) * 0x1p-23f - 1.0f; } /* [-1, 1) */

/* ---- packing ------------------------------------------------------------- */

static void test_pack_known(void)
{
    /* 3 bits: 001 010 011 100 101, LSB first = 0x58d1 → d1 58 */
    uint8_t out[2];
    pd_pal_pack_row((const uint8_t[]){1, 2, 3, 4, 5}, 5, 3, out);
    CHECK_MSG(out[0] == 0xd1 && out[1] == 0x58, "3 bits: %02x %02x", out[0], out[1]);
    /* 6 bits: 63, 1 → 0x7f, then bits 12..15 zero */
    pd_pal_pack_row((const uint8_t[]){63, 1}, 2, 6, out);
    CHECK_MSG(out[0] == 0x7f && out[1] == 0x00, "6 bits: %02x %02x", out[0], out[1]);
    /* 5 bits: 31, 0, 31 → 0x7c1f */
    pd_pal_pack_row((const uint8_t[]){31, 0, 31}, 3, 5, out);
    CHECK_MSG(out[0] == 0x1f && out[1] == 0x7c, "5 bits: %02x %02x", out[0], out[1]);
    CHECK(pd_pal_row_bytes(5, 3) == 2 && pd_pal_row_bytes(8, 8) == 8 && pd_pal_row_bytes(9, 7) == 8 &&
          pd_pal_row_bytes(0, 4) == 0);
    /* Rows start on bytes: a [3, 5] weight at 3 bits is 3 × 2 bytes. */
    pd_weight w = {.dtype = PD_PAL, .ndim = 2, .shape = {3, 5}, .bits = 3, .group_size = 3};
    CHECK(pd_weight_bytes(&w) == 6);
}

static void test_pack_round_trip(void)
{
    static const int64_t lengths[] = {1, 2, 3, 5, 7, 8, 13, 31, 33, 63, 65, 127, 257, 1001};
    int bad = 0;
    for (int bits = 1; bits <= 8; bits++)
        for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            int64_t n = lengths[l], bytes = pd_pal_row_bytes(n, bits);
            uint8_t *idx = malloc((size_t)n), *back = malloc((size_t)n);
            uint8_t *row = malloc((size_t)bytes); /* to the byte: ASan sees overreads */
            for (int64_t i = 0; i < n; i++)
                idx[i] = (uint8_t)(next() & ((1u << bits) - 1));
            pd_pal_pack_row(idx, n, bits, row);
            /* padding bits past the last index are zero */
            int pad = (int)(bytes * 8 - n * bits);
            if (pad && row[bytes - 1] >> (8 - pad))
                bad++, fprintf(stderr, "bits %d n %lld: padding not zero\n", bits, (long long)n);
            pd_pal_unpack_row(row, 0, n, bits, back);
            if (memcmp(idx, back, (size_t)n))
                bad++, fprintf(stderr, "bits %d n %lld: round trip\n", bits, (long long)n);
            /* sub-ranges: odd offsets and lengths, to the last index */
            for (int t = 0; t < 20; t++) {
                int64_t col = (int64_t)(next() % (uint64_t)n), m = (int64_t)(next() % (uint64_t)(n - col + 1));
                if (t == 0)
                    m = n - col;
                pd_pal_unpack_row(row, col, m, bits, back);
                if (memcmp(idx + col, back, (size_t)m))
                    bad++, fprintf(stderr, "bits %d n %lld: [%lld, +%lld)\n", bits, (long long)n,
                                   (long long)col, (long long)m);
            }
            free(idx), free(back), free(row);
        }
    CHECK_MSG(bad == 0, "%d pack/unpack failures", bad);
}

/* ---- palettized weights for the tests ------------------------------------- */

typedef struct {
    pd_weight w;      /* PD_PAL */
    pd_weight f;      /* the same weight decoded (pd_pal_decode_row), as F32 */
    uint8_t *data;
    uint16_t *palette;
    float *f32;
} pal_weight;

/* A random float16 that is not a NaN; now and then a subnormal, ±0 or ±inf. */
static uint16_t rand_half(void)
{
    switch (next() % 16) {
    case 0: return (uint16_t)(next() & 0x83ff);           /* subnormal or zero */
    case 1: return (uint16_t)(0x7c00 | (next() & 0x8000)); /* ±inf */
    default: return pd_f32_to_f16(frand());
    }
}

static pal_weight make_pal(int ndim, const int64_t *shape, int bits, int64_t group, int finite)
{
    pal_weight t = {.w = {.dtype = PD_PAL, .ndim = ndim, .bits = bits, .group_size = group}};
    memcpy(t.w.shape, shape, (size_t)ndim * sizeof *shape);
    int64_t rows = pd_weight_rows(&t.w), cols = pd_weight_cols(&t.w);
    int64_t entries = rows / group << bits, bytes = pd_weight_bytes(&t.w);
    t.palette = malloc((size_t)entries * sizeof *t.palette);
    for (int64_t i = 0; i < entries; i++)
        t.palette[i] = finite ? pd_f32_to_f16(frand()) : rand_half();
    t.data = malloc((size_t)(bytes ? bytes : 1));
    uint8_t *idx = malloc((size_t)(cols ? cols : 1));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            idx[c] = (uint8_t)(next() & ((1u << bits) - 1));
        pd_pal_pack_row(idx, cols, bits, t.data + r * pd_pal_row_bytes(cols, bits));
    }
    free(idx);
    t.w.data = t.data, t.w.palette = t.palette;
    t.f32 = malloc((size_t)(rows * cols > 0 ? rows * cols : 1) * sizeof *t.f32);
    for (int64_t r = 0; r < rows; r++)
        pd_pal_decode_row(&t.w, r, 0, cols, t.f32 + r * cols);
    t.f = (pd_weight){.dtype = PD_F32, .ndim = ndim, .data = t.f32};
    memcpy(t.f.shape, shape, (size_t)ndim * sizeof *shape);
    return t;
}

static void free_pal(pal_weight *t)
{
    free(t->data), free(t->palette), free(t->f32);
}

/* ---- the vector decoders against the specification ------------------------ */

typedef void (*decode_fn)(const pd_weight *, int64_t, int64_t, int64_t, pd_pal_table *, float *);

static void test_decoders(void)
{
#ifdef HAVE_X86_PATHS
    struct { pd_isa isa; decode_fn fn; } paths[] = {
        {PD_ISA_AVX2, pd_pal_decode_row_avx2},
        {PD_ISA_AVX512, pd_pal_decode_row_avx512},
    };
    static const int64_t cols[] = {1, 7, 16, 17, 33, 100, 385};
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (paths[p].isa > pd_cpu_isa_supported())
            continue;
        int bad = 0, runs = 0;
        for (int bits = 1; bits <= 8; bits++)
            for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++)
                for (int g = 0; g < 3; g++) {
                    const int64_t R = 12, C = cols[ci], group = g == 0 ? R : g == 1 ? 4 : 1;
                    pal_weight t = make_pal(2, (int64_t[]){R, C}, bits, group, 0);
                    float *want = malloc((size_t)C * sizeof *want), *got = malloc((size_t)C * sizeof *got);
                    pd_pal_table tab = {.src = NULL};
                    for (int64_t r0 = 0; r0 < R; r0++)
                        for (int v = 0; v < 6; v++) {
                            /* v = 5: a row out of order (another group's palette) */
                            int64_t r = v == 5 ? (int64_t)(next() % (uint64_t)R) : r0;
                            int64_t col = v == 0 ? 0 : (int64_t)(next() % (uint64_t)C);
                            int64_t n = v < 2 ? C - col : (int64_t)(next() % (uint64_t)(C - col + 1));
                            pd_pal_decode_row(&t.w, r, col, n, want);
                            for (int64_t i = 0; i < C; i++)
                                got[i] = -12345.0f;
                            paths[p].fn(&t.w, r, col, n, &tab, got);
                            runs++;
                            /* exactly n floats written */
                            if (memcmp(want, got, (size_t)n * sizeof *got) ||
                                (n < C && got[n] != -12345.0f)) {
                                if (!bad++)
                                    fprintf(stderr, "%s bits %d cols %lld group %lld row %lld [%lld, +%lld)\n",
                                            pd_isa_name(paths[p].isa), bits, (long long)C,
                                            (long long)group, (long long)r, (long long)col, (long long)n);
                            }
                        }
                    free(want), free(got);
                    free_pal(&t);
                }
        CHECK_MSG(bad == 0, "%s decoder: %d of %d rows differ from pd_pal_decode_row",
                  pd_isa_name(paths[p].isa), bad, runs);
    }
#endif
}

/* ---- GEMM and convolution: palettized = the same weights as F32 ----------- */

static void gemm_case(int64_t M, int64_t N, int64_t K, int bits, int64_t group, int bias_on, int acc)
{
    pal_weight t = make_pal(2, (int64_t[]){N, K}, bits, group, 1);
    float *x = malloc((size_t)(M * K > 0 ? M * K : 1) * sizeof *x), *b = malloc((size_t)N * sizeof *b);
    float *y0 = malloc((size_t)(M * N) * sizeof *y0), *yp = malloc((size_t)(M * N) * sizeof *yp),
          *yf = malloc((size_t)(M * N) * sizeof *yf);
    for (int64_t i = 0; i < M * K; i++)
        x[i] = frand();
    for (int64_t i = 0; i < N; i++)
        b[i] = frand();
    for (int64_t i = 0; i < M * N; i++)
        y0[i] = frand();
    pd_weight bias = {.dtype = PD_F32, .ndim = 1, .shape = {N}, .data = b};
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++) {
        memcpy(yp, y0, (size_t)(M * N) * sizeof *yp);
        memcpy(yf, y0, (size_t)(M * N) * sizeof *yf);
        pd_gemm_isa((pd_isa)isa, M, N, K, x, K, &t.w, bias_on ? &bias : NULL, yp, N, acc);
        pd_gemm_isa((pd_isa)isa, M, N, K, x, K, &t.f, bias_on ? &bias : NULL, yf, N, acc);
        int64_t bad = 0;
        for (int64_t i = 0; i < M * N; i++)
            bad += memcmp(&yp[i], &yf[i], sizeof *yp) != 0;
        CHECK_MSG(bad == 0, "%s gemm M=%lld N=%lld K=%lld bits %d group %lld: %lld outputs differ "
                  "from the F32 weights", pd_isa_name((pd_isa)isa), (long long)M, (long long)N,
                  (long long)K, bits, (long long)group, (long long)bad);
    }
    free(x), free(b), free(y0), free(yp), free(yf);
    free_pal(&t);
}

static void test_gemm(void)
{
    /* odd M, N, K; N = 48: groups of 4, 8, 16; N > 320: two column tiles;
     * K > 384: several k steps */
    static const int64_t shapes[][3] = {
        {1, 45, 7}, {13, 48, 100}, {77, 48, 385}, {5, 336, 33}, {31, 80, 777},
    };
    static const int widths[] = {1, 2, 3, 4, 5, 6, 7, 8};
    int n = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t bi = 0; bi < sizeof widths / sizeof *widths; bi++)
            for (int g = 0; g < 4; g++, n++) {
                int64_t N = shapes[s][1], group = g == 0 ? N : 4 << (g - 1);
                if (N % group)
                    group = N == 45 ? (g == 1 ? 9 : g == 2 ? 15 : 5) : N;
                gemm_case(shapes[s][0], N, shapes[s][2], widths[bi], group, n % 2, n % 3 == 1);
            }
    /* bigger: several row tiles and threads */
    gemm_case(1100, 96, 300, 6, 16, 1, 0);
    gemm_case(300, 640, 420, 4, 640, 0, 1);
}

static void conv_case(int B, int H, int W, int C, int O, int k, int stride, int pad, int up,
                      int bits, int64_t group)
{
    pal_weight t = make_pal(4, (int64_t[]){O, C, k, k}, bits, group, 1);
    const int p[4] = {pad, pad, pad, pad};
    const int Ho = pd_conv_out(H << up, k, stride, pad, pad), Wo = pd_conv_out(W << up, k, stride, pad, pad);
    const size_t nx = (size_t)B * H * W * C, ny = (size_t)B * Ho * Wo * O;
    float *x = malloc(nx * sizeof *x), *yp = malloc(ny * sizeof *yp), *yf = malloc(ny * sizeof *yf),
          *b = malloc((size_t)O * sizeof *b);
    for (size_t i = 0; i < nx; i++)
        x[i] = frand();
    for (int i = 0; i < O; i++)
        b[i] = frand();
    pd_weight bias = {.dtype = PD_F32, .ndim = 1, .shape = {O}, .data = b};
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++) {
        pd_conv2d_isa((pd_isa)isa, up, B, H, W, C, x, &t.w, &bias, stride, p, yp, 0);
        pd_conv2d_isa((pd_isa)isa, up, B, H, W, C, x, &t.f, &bias, stride, p, yf, 0);
        CHECK_MSG(!memcmp(yp, yf, ny * sizeof *yp),
                  "%s conv%s B%d %dx%dx%d -> %d k%d s%d pad %d bits %d group %lld: palettized != F32",
                  pd_isa_name((pd_isa)isa), up ? "_up2" : "", B, H, W, C, O, k, stride, pad, bits,
                  (long long)group);
    }
    free(x), free(yp), free(yf), free(b);
    free_pal(&t);
}

static void test_conv(void)
{
    static const int widths[] = {2, 3, 4, 6, 8};
    for (size_t bi = 0; bi < sizeof widths / sizeof *widths; bi++) {
        int bits = widths[bi];
        conv_case(2, 9, 7, 13, 48, 3, 1, 1, 0, bits, 8);     /* 3×3, groups of 8     */
        conv_case(1, 11, 10, 45, 36, 3, 2, 1, 0, bits, 36);  /* stride 2, per tensor */
        conv_case(1, 6, 5, 50, 32, 3, 1, 1, 1, bits, 4);     /* ×2 upsampled input   */
        conv_case(2, 7, 9, 33, 40, 1, 1, 0, 0, bits, 40);    /* 1×1: one GEMM on x   */
    }
}

int main(void)
{
    test_pack_known();
    test_pack_round_trip();
    test_decoders();
    test_gemm();
    test_conv();
    return check_summary("unit-palette");
}
