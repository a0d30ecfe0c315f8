/* test_conv.c — pd_conv2d and pd_conv2d_up2 against their _ref twins, and
 * nearest upsampling.
 *
 * The conv paths add the same products in different orders (pd_gemm's k
 * blocks, bias first or last), so they are compared as test_gemm.c does:
 * |fast − ref| ≤ 16·u·sqrt(K + 2)·S per output, with S = Σ|x||w| + |bias|
 * + |y0| — computed by running the reference on the absolute values. Each
 * case runs on every GEMM path the CPU has (pd_conv2d_isa), and through
 * the public entry point (the path PALDIFF_ISA picks).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/conv.h"
#include "kernels/conv_internal.h"
#include "kernels/cpu.h"
#include "kernels/resize.h"
#include "kernels/weight.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)(rng >> 40) * 0x1p-23f - 1.0f; /* [-1, 1) */
}
static float *randv(size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}

typedef struct {
    int B, H, W, C, O, k, stride, pad[4];
    int up;           /* pd_conv2d_up2: H, W are the size before upsampling */
    pd_dtype dtype;   /* F32, F16 or PAL (4 bits, one palette) */
    int bias, accumulate;
} conv_case;

/* The weight as the dtype asks, plus its values widened (for |w|). */
typedef struct {
    pd_weight w;
    void *data;
    uint16_t *palette;
    float *f32;
} test_weight;

static test_weight make_weight(const conv_case *c)
{
    int64_t K = (int64_t)c->C * c->k * c->k, n = c->O * K;
    test_weight t = {.w = {.dtype = c->dtype, .ndim = 4, .shape = {c->O, c->C, c->k, c->k}}};
    t.f32 = malloc((size_t)n * sizeof *t.f32);
    if (c->dtype == PD_F32) {
        t.data = randv((size_t)n);
    } else if (c->dtype == PD_F16) {
        uint16_t *h = malloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++)
            h[i] = pd_f32_to_f16(frand());
        t.data = h;
    } else {
        int64_t bytes = c->O * ((K + 1) / 2); /* byte-aligned rows (palette.h) */
        uint8_t *q = malloc((size_t)bytes);
        for (int64_t i = 0; i < bytes; i++)
            q[i] = (uint8_t)(frand() * 128 + 128);
        t.palette = malloc(16 * sizeof *t.palette);
        for (int i = 0; i < 16; i++)
            t.palette[i] = pd_f32_to_f16(frand());
        t.data = q;
        t.w.bits = 4, t.w.group_size = c->O, t.w.palette = t.palette;
    }
    t.w.data = t.data;
    for (int64_t o = 0; o < c->O; o++)
        pd_weight_read(&t.w, o, 0, K, t.f32 + o * K);
    return t;
}

/* The reference the case asks for. */
static void conv_ref(const conv_case *c, const float *x, const pd_weight *w, const pd_weight *b,
                     float *y)
{
    (c->up ? pd_conv2d_up2_ref : pd_conv2d_ref)(c->B, c->H, c->W, c->C, x, w, b, c->stride,
                                                c->pad, y, c->accumulate);
}

static void run_case(const conv_case *c)
{
    const int Hv = c->H << c->up, Wv = c->W << c->up; /* the image convolved */
    const int Ho = pd_conv_out(Hv, c->k, c->stride, c->pad[0], c->pad[2]);
    const int Wo = pd_conv_out(Wv, c->k, c->stride, c->pad[1], c->pad[3]);
    const int64_t K = (int64_t)c->C * c->k * c->k;
    const size_t nx = (size_t)c->B * c->H * c->W * c->C, ny = (size_t)c->B * Ho * Wo * c->O;

    test_weight w = make_weight(c);
    float *x = randv(nx), *b = randv((size_t)c->O), *y0 = randv(ny);
    pd_weight bias = {.dtype = PD_F32, .ndim = 1, .shape = {c->O}, .data = b};
    const pd_weight *bp = c->bias ? &bias : NULL;

    /* S: the reference on absolute values. */
    float *ax = malloc(nx * sizeof *ax), *aw = malloc((size_t)(c->O * K) * sizeof *aw),
          *ab = malloc((size_t)c->O * sizeof *ab), *s = malloc(ny * sizeof *s);
    for (size_t i = 0; i < nx; i++)
        ax[i] = fabsf(x[i]);
    for (int64_t i = 0; i < c->O * K; i++)
        aw[i] = fabsf(w.f32[i]);
    for (int i = 0; i < c->O; i++)
        ab[i] = fabsf(b[i]);
    for (size_t i = 0; i < ny; i++)
        s[i] = fabsf(y0[i]);
    pd_weight awd = {.dtype = PD_F32, .ndim = 4, .shape = {c->O, c->C, c->k, c->k}, .data = aw};
    pd_weight abd = {.dtype = PD_F32, .ndim = 1, .shape = {c->O}, .data = ab};
    conv_ref(c, ax, &awd, c->bias ? &abd : NULL, s);

    float *r = malloc(ny * sizeof *r), *f = malloc(ny * sizeof *f);
    memcpy(r, y0, ny * sizeof *r);
    conv_ref(c, x, &w.w, bp, r);

    const double tol = 16.0 * 0x1p-24 * sqrt((double)K + 2.0);
    /* Every path, then (isa = -1) the public entry point. */
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported() + 1; isa++) {
        int pub = isa > (int)pd_cpu_isa_supported();
        memcpy(f, y0, ny * sizeof *f);
        if (pub)
            (c->up ? pd_conv2d_up2 : pd_conv2d)(c->B, c->H, c->W, c->C, x, &w.w, bp, c->stride,
                                                c->pad, f, c->accumulate);
        else
            pd_conv2d_isa((pd_isa)isa, c->up, c->B, c->H, c->W, c->C, x, &w.w, bp, c->stride,
                          c->pad, f, c->accumulate);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < ny; i++)
            if (!(fabs((double)f[i] - r[i]) <= tol * s[i])) /* also catches NaN */
                first = bad++ ? first : i;
        CHECK_MSG(bad == 0,
                  "%s%s conv%s B%d %dx%dx%d -> %d k%d s%d pad %d,%d,%d,%d dtype %d bias %d acc %d: "
                  "%zu of %zu off, first %zu: %.9g vs ref %.9g",
                  pub ? "public " : "", pd_isa_name(pub ? pd_cpu_isa() : (pd_isa)isa),
                  c->up ? "_up2" : "", c->B, c->H, c->W, c->C, c->O, c->k, c->stride, c->pad[0],
                  c->pad[1], c->pad[2], c->pad[3], c->dtype, c->bias, c->accumulate, bad, ny,
                  first, bad ? f[first] : 0.0, bad ? r[first] : 0.0);
        if (c->dtype == PD_PAL && !pub) {
            /* The palette decoded in the packing gives the very floats of
             * the same weight stored as F32: the results are bit-equal. */
            float *g = malloc(ny * sizeof *g);
            pd_weight wf = {.dtype = PD_F32, .ndim = 4, .shape = {c->O, c->C, c->k, c->k},
                            .data = w.f32};
            memcpy(g, y0, ny * sizeof *g);
            pd_conv2d_isa((pd_isa)isa, c->up, c->B, c->H, c->W, c->C, x, &wf, bp, c->stride,
                          c->pad, g, c->accumulate);
            CHECK_MSG(!memcmp(f, g, ny * sizeof *g), "%s conv%s palettized != same weights as F32",
                      pd_isa_name((pd_isa)isa), c->up ? "_up2" : "");
            free(g);
        }
    }

    free(x), free(b), free(y0), free(ax), free(aw), free(ab), free(s), free(r), free(f);
    free(w.data), free(w.palette), free(w.f32);
}

static void test_conv_shapes(void)
{
    static const int sides[] = {1, 5, 7, 13};
    static const int chans[] = {1, 3, 4, 9};
    static const int pads[][4] = {{1, 1, 1, 1}, {0, 0, 1, 1}, {0, 0, 0, 0}};
    int n = 0;
    /* The listed sizes: 3×3 with each padding and stride, and 1×1. */
    for (int h = 0; h < 4; h++)
        for (int wi = 0; wi < 4; wi++)
            for (int ci = 0; ci < 4; ci++)
                for (int v = 0; v < 8; v++, n++) {
                    int k = v < 6 ? 3 : 1, p = v % 3, stride = 1 + (v / 3) % 2;
                    conv_case c = {
                        .B = 1 + n % 2, .H = sides[h], .W = sides[(wi + n) % 4], .C = chans[ci],
                        .O = 1 + n % 11, .k = k, .stride = k == 1 ? 1 + v % 2 : stride,
                        .dtype = (pd_dtype)(n % 5 == 4 ? PD_PAL : n % 3 == 2 ? PD_F16 : PD_F32),
                        .bias = n % 3 != 0, .accumulate = n % 4 == 1,
                    };
                    if (k == 3)
                        memcpy(c.pad, pads[p], sizeof c.pad);
                    if (c.H + c.pad[0] + c.pad[2] < c.k || c.W + c.pad[1] + c.pad[3] < c.k)
                        continue; /* no window fits (PyTorch refuses these too) */
                    run_case(&c);
                }

    /* Random combinations, some wide enough for several GEMM column tiles
     * and k steps. */
    for (int i = 0; i < 40; i++) {
        conv_case c = {
            .B = 1 + (int)(frand() + 1.0f) % 2 + (i == 7), .H = 1 + (int)((frand() + 1) * 9),
            .W = 1 + (int)((frand() + 1) * 9), .C = 1 + (int)((frand() + 1) * 40),
            .O = 1 + (int)((frand() + 1) * 40), .k = i % 4 ? 3 : 1, .stride = 1 + i % 2,
            .dtype = (pd_dtype)(i % 3 == 0 ? PD_F16 : i % 6 == 5 ? PD_PAL : PD_F32), .bias = i % 2,
            .accumulate = i % 3 == 1,
        };
        if (c.k == 3)
            for (int e = 0; e < 4; e++)
                c.pad[e] = (i >> e) & 1 ? 1 : i % 5 == 0 ? 0 : 1;
        if (c.H + c.pad[0] + c.pad[2] < c.k || c.W + c.pad[1] + c.pad[3] < c.k)
            continue;
        run_case(&c);
    }

    /* Several patch tiles (16 MiB each): K = 2880 (320 channels) gives
     * 1452-row tiles, so 2 × 28 × 28 outputs take two; K = 23 040 gives
     * 180, so 14 × 14 takes two as well. */
    conv_case big[] = {
        {.B = 2, .H = 28, .W = 28, .C = 320, .O = 8, .k = 3, .stride = 1, .pad = {1, 1, 1, 1},
         .dtype = PD_F16, .bias = 1},
        {.B = 1, .H = 14, .W = 14, .C = 2560, .O = 5, .k = 3, .stride = 1, .pad = {1, 1, 1, 1},
         .dtype = PD_F32, .bias = 1, .accumulate = 1},
        {.B = 2, .H = 128, .W = 97, .C = 4, .O = 8, .k = 3, .stride = 1, .pad = {1, 1, 1, 1},
         .dtype = PD_F32, .bias = 1, .accumulate = 1},
        {.B = 1, .H = 33, .W = 31, .C = 64, .O = 64, .k = 3, .stride = 2, .pad = {0, 0, 1, 1},
         .dtype = PD_F32, .bias = 1},
        {.B = 2, .H = 17, .W = 19, .C = 96, .O = 40, .k = 1, .stride = 1, .dtype = PD_F32,
         .bias = 1, .accumulate = 1},
        {.B = 1, .H = 21, .W = 23, .C = 71, .O = 45, .k = 3, .stride = 1, .pad = {1, 1, 1, 1},
         .dtype = PD_PAL, .bias = 1, .accumulate = 1},
    };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        run_case(&big[i]);
}

/* pd_conv2d_up2 against upsample-then-conv: odd sizes, k steps that split
 * channels' taps (C = 43: K = 387 > kc), strides and paddings, every
 * dtype, bias and accumulate, and the decoders' shape at a small scale. */
static void test_conv_up2(void)
{
    int n = 0;
    for (int h = 1; h <= 7; h += 3)
        for (int wi = 1; wi <= 6; wi += 5)
            for (int v = 0; v < 6; v++, n++) {
                conv_case c = {
                    .B = 1 + n % 2, .H = h, .W = wi, .C = v == 5 ? 43 : 1 + (n * 5) % 13,
                    .O = 1 + (n * 7) % 37, .k = v == 4 ? 1 : 3, .stride = 1 + (v == 2),
                    .up = 1, .dtype = (pd_dtype)(n % 5 == 4 ? PD_PAL : n % 3 == 2 ? PD_F16 : PD_F32),
                    .bias = n % 3 != 0, .accumulate = n % 4 == 1,
                };
                if (c.k == 3 && v != 3)
                    for (int e = 0; e < 4; e++)
                        c.pad[e] = v == 1 ? e >= 2 : 1;
                if (2 * c.H + c.pad[0] + c.pad[2] < c.k || 2 * c.W + c.pad[1] + c.pad[3] < c.k)
                    continue;
                run_case(&c);
            }
    conv_case big[] = {
        {.B = 2, .H = 9, .W = 11, .C = 128, .O = 64, .k = 3, .stride = 1, .pad = {1, 1, 1, 1},
         .up = 1, .dtype = PD_F32, .bias = 1},
        {.B = 1, .H = 5, .W = 6, .C = 320, .O = 40, .k = 3, .stride = 1, .pad = {1, 1, 1, 1},
         .up = 1, .dtype = PD_F16, .bias = 1, .accumulate = 1},
    };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        run_case(&big[i]);
}

/* Hand values: what the reference computes, checked without it. */
static void test_conv_hand(void)
{
    /* A delta image: cross-correlation returns the kernel turned by 180°. */
    float x[25] = {0}, k9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[25];
    x[2 * 5 + 2] = 1;
    pd_weight w = {.dtype = PD_F32, .ndim = 4, .shape = {1, 1, 3, 3}, .data = k9};
    for (int fast = 0; fast < 2; fast++) {
        (fast ? pd_conv2d : pd_conv2d_ref)(1, 5, 5, 1, x, &w, NULL, 1, (int[4]){1, 1, 1, 1}, y, 0);
        int ok = 1;
        for (int oy = 0; oy < 5; oy++)
            for (int ox = 0; ox < 5; ox++) {
                int dy = oy - 2, dx = ox - 2;
                float want = abs(dy) <= 1 && abs(dx) <= 1 ? k9[(1 - dy) * 3 + (1 - dx)] : 0;
                ok &= y[oy * 5 + ox] == want;
            }
        CHECK_MSG(ok, "delta image (fast %d)", fast);
    }

    /* Channel order: output o reads channel (o + 1) mod 3 at tap (ky, kx) =
     * (0, 2), i.e. input pixel (oy − 1, ox + 1); the padding reads zero.
     * Bias 10·o. */
    enum { H = 4, W = 5, C = 3 };
    float xi[H * W * C], wk[C * C * 9] = {0}, bk[C] = {0, 10, 20}, yo[H * W * C];
    for (int i = 0; i < H * W * C; i++)
        xi[i] = (float)(i + 1);
    for (int o = 0; o < C; o++)
        wk[((o * C + (o + 1) % C) * 3 + 0) * 3 + 2] = 1;
    pd_weight wc = {.dtype = PD_F32, .ndim = 4, .shape = {C, C, 3, 3}, .data = wk};
    pd_weight bc = {.dtype = PD_F32, .ndim = 1, .shape = {C}, .data = bk};
    for (int fast = 0; fast < 2; fast++) {
        (fast ? pd_conv2d : pd_conv2d_ref)(1, H, W, C, xi, &wc, &bc, 1, (int[4]){1, 1, 1, 1}, yo,
                                           0);
        int ok = 1;
        for (int oy = 0; oy < H; oy++)
            for (int ox = 0; ox < W; ox++)
                for (int o = 0; o < C; o++) {
                    int iy = oy - 1, ix = ox + 1;
                    float v = iy >= 0 && ix < W ? xi[(iy * W + ix) * C + (o + 1) % C] : 0;
                    ok &= yo[(oy * W + ox) * C + o] == v + bk[o];
                }
        CHECK_MSG(ok, "channel/tap order (fast %d)", fast);
    }

    /* The VAE's downsampler: stride 2, pad right/bottom only. 4×4 → 2×2;
     * an all-ones 3×3 kernel sums rows 2oy..2oy+2, columns likewise, with
     * row/column 4 in the padding. */
    float x4[16], ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y4[4];
    for (int i = 0; i < 16; i++)
        x4[i] = (float)i;
    pd_weight w1 = {.dtype = PD_F32, .ndim = 4, .shape = {1, 1, 3, 3}, .data = ones};
    for (int fast = 0; fast < 2; fast++) {
        (fast ? pd_conv2d : pd_conv2d_ref)(1, 4, 4, 1, x4, &w1, NULL, 2, (int[4]){0, 0, 1, 1}, y4,
                                           0);
        /* (0,0): rows 0-2 × cols 0-2 = 45; (0,1): cols 2-3 = 2+3+6+7+10+11 = 39;
         * (1,0): rows 2-3 × cols 0-2 = 8+9+10+12+13+14 = 66; (1,1): 10+11+14+15 = 50. */
        CHECK_MSG(y4[0] == 45 && y4[1] == 39 && y4[2] == 66 && y4[3] == 50,
                  "downsampler (fast %d): %g %g %g %g", fast, y4[0], y4[1], y4[2], y4[3]);
    }
}

/* ---- nearest upsampling ------------------------------------------------ */

static void test_upsample(void)
{
    /* 2×2 → 4×4 duplicates every pixel into a 2×2 block (2 channels). */
    float x[8] = {1, -1, 2, -2, 3, -3, 4, -4}, y[32];
    pd_upsample_nearest(1, 2, 2, 2, x, 4, 4, y);
    int ok = 1;
    for (int oy = 0; oy < 4; oy++)
        for (int ox = 0; ox < 4; ox++)
            for (int c = 0; c < 2; c++)
                ok &= y[(oy * 4 + ox) * 2 + c] == x[((oy / 2) * 2 + ox / 2) * 2 + c];
    CHECK_MSG(ok, "2x2 -> 4x4");

    /* 7 → 13 (an explicit output size): PyTorch picks rows
     * 0 0 1 1 2 2 3 3 4 4 5 5 6. 2 → 82: the float32 scale 2/82 rounds
     * down, so output 41 still copies input 0 (exact arithmetic says 1). */
    static const int want13[13] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6};
    float col7[7], col13[13], row2[2] = {5, 6}, row82[82];
    for (int i = 0; i < 7; i++)
        col7[i] = (float)i;
    pd_upsample_nearest(1, 7, 1, 1, col7, 13, 1, col13);
    ok = 1;
    for (int i = 0; i < 13; i++)
        ok &= col13[i] == (float)want13[i];
    CHECK_MSG(ok, "7 -> 13");
    pd_upsample_nearest(1, 1, 2, 1, row2, 1, 82, row82);
    CHECK_MSG(row82[40] == 5 && row82[41] == 5 && row82[42] == 6 && row82[81] == 6,
              "2 -> 82: %g %g %g", row82[40], row82[41], row82[42]);

    /* Odd shapes against the rule applied directly (and ×2 against d / 2). */
    static const int cases[][6] = { /* B, H, W, C, Ho, Wo */
        {2, 7, 5, 3, 13, 9}, {1, 1, 1, 4, 3, 5}, {2, 32, 32, 17, 64, 64},
        {1, 13, 7, 640, 26, 14}, {1, 9, 11, 2, 4, 5}, {2, 3, 5, 1, 7, 11},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        int B = cases[t][0], H = cases[t][1], W = cases[t][2], C = cases[t][3];
        int Ho = cases[t][4], Wo = cases[t][5];
        float *in = randv((size_t)B * H * W * C), *out = malloc((size_t)B * Ho * Wo * C * 4);
        pd_upsample_nearest(B, H, W, C, in, Ho, Wo, out);
        size_t bad = 0;
        for (int b = 0; b < B; b++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    int sy = (int)floorf((float)oy * ((float)H / (float)Ho));
                    int sx = (int)floorf((float)ox * ((float)W / (float)Wo));
                    sy = sy < H - 1 ? sy : H - 1, sx = sx < W - 1 ? sx : W - 1;
                    if (Ho == 2 * H)
                        bad += sy != oy / 2;
                    if (Wo == 2 * W)
                        bad += sx != ox / 2;
                    for (int c = 0; c < C; c++)
                        bad += out[(((size_t)b * Ho + oy) * Wo + ox) * C + c] !=
                               in[(((size_t)b * H + sy) * W + sx) * C + c];
                }
        CHECK_MSG(bad == 0, "upsample %dx%dx%dx%d -> %dx%d: %zu wrong", B, H, W, C, Ho, Wo, bad);
        free(in), free(out);
    }
}

int main(void)
{
    test_conv_hand();
    test_conv_shapes();
    test_conv_up2();
    test_upsample();
    return check_summary("unit-conv");
}
