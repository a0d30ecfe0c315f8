/* conv.c — pd_conv2d as an implicit GEMM: X packed straight from the image.
 *
 * A kh×kw convolution is Y[P, O] = X̂[P, K] · Wᵀ with P = B·Ho·Wo output
 * pixels and K = C·kh·kw: row p of X̂ holds the input values under output
 * pixel p's window, in the weight's own column order (c major, then ky,
 * then kx), so pd_gemm uses W's rows as they are and packing/decoding stays
 * in one place (DESIGN.md §3).
 *
 * X̂ is never built, not even a tile of it. pd_gemm's blocking asks its X
 * provider (gemm_internal.h) for one mr × kc micro-panel at a time, and
 * pack_patches below writes that panel from the NHWC image directly: W is
 * packed once per task as for any GEMM, and the image is read N / nc times
 * (once per column tile), each value landing in L1 where the micro-kernel
 * reads it. The earlier design gathered 16 MiB patch tiles and called
 * pd_gemm per tile: every call re-packed all of W, and writing and
 * re-reading the patches cost 15-35 % on top of the GEMM.
 *
 * With up = 1 the image read is the 2H × 2W nearest upsampling of x (pixel
 * (y, x) is x's (y >> 1, x >> 1)), which the decoders' upsamplers convolve:
 * the ×4 larger image is never stored either.
 *
 * A 1×1 stride-1 unpadded convolution is one GEMM on x itself (NHWC is
 * already X̂).
 *
 * Scratch: C floats of zeros per call (the source of taps in the padding).
 */
#include "kernels/conv.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv_internal.h"
#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/resize.h"
#include "kernels/stats.h"

/* Most taps a window may have (kh·kw): sizes the pointer table on the stack. */
#define MAX_TAPS 64

/* The image as pd_gemm's X provider sees it (output pixels × K). */
typedef struct {
    const float *x;
    const float *zeros;   /* C zeros: the source of a tap in the padding */
    int H, W, C;          /* x's size (before upsampling) */
    int kh, kw, stride, top, left, Ho, Wo;
    int up;               /* 1: read x upsampled ×2 (nearest) */
} conv_src;

/* Four floats as one value: GCC and Clang vector extensions, which lower
 * to SSE on any x86-64 and to NEON on ARM, so this file needs no ISA
 * dispatch. memcpy loads and stores allow any alignment. */
typedef float v4 __attribute__((vector_size(16)));
static inline v4 load4(const float *p) { v4 v; memcpy(&v, p, sizeof v); return v; }
static inline void store4(float *p, v4 v) { memcpy(p, &v, sizeof v); }

/* r[i] = (a[0][i], a[1][i], a[2][i], a[3][i]): a 4×4 transpose. */
static inline void transpose4(v4 a0, v4 a1, v4 a2, v4 a3, v4 r[4])
{
    v4 t0 = __builtin_shufflevector(a0, a1, 0, 4, 1, 5); /* a0[0] a1[0] a0[1] a1[1] */
    v4 t1 = __builtin_shufflevector(a0, a1, 2, 6, 3, 7); /* a0[2] a1[2] a0[3] a1[3] */
    v4 t2 = __builtin_shufflevector(a2, a3, 0, 4, 1, 5);
    v4 t3 = __builtin_shufflevector(a2, a3, 2, 6, 3, 7);
    r[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    r[1] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    r[2] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    r[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

/* Columns [ka, kb) of the panel, one value at a time: the ends of a k
 * range that do not cover whole blocks of four channels. */
static float *pack_scalar(const float *const tap[][PD_GEMM_MR_MAX], int mr, int taps,
                          int64_t ka, int64_t kb, float *restrict dst)
{
    for (int64_t k = ka; k < kb; k++) {
        int64_t c = k / taps;
        int t = (int)(k % taps);
        for (int i = 0; i < mr; i++)
            *dst++ = tap[t][i][c];
    }
    return dst;
}

/* The X provider: micro-panel rows [m0, m0 + m) × columns [k0, k0 + kc).
 *
 * NHWC has c fastest and the weight has it slowest, so this is a transpose.
 * First each row's window is resolved into one pointer per tap (its input
 * pixel's C channels, or zeros): mr·taps pointers for mr·kc values, so the
 * divisions and bounds tests cost nothing per value. Then, for four
 * channels at a time, each tap of four rows is 4 loads, a 4×4 transpose
 * and 4 stores (four k columns of the panel): about one instruction per
 * value, about what the micro-kernel spends on each when O is the VAE's
 * 128. */
static void pack_patches(const pd_gemm_x *X, const pd_gemm_kernel *kern, int64_t m0, int m,
                         int64_t k0, int64_t kc, float *restrict dst)
{
    const conv_src *s = X->ctx;
    const int mr = kern->mr, taps = s->kh * s->kw, up = s->up;
    const int Hv = s->H << up, Wv = s->W << up;   /* the image convolved */
    const int64_t per_image = (int64_t)s->Ho * s->Wo;
    const float *tap[MAX_TAPS][PD_GEMM_MR_MAX];

    for (int i = 0; i < mr; i++) {
        if (i >= m) {
            for (int t = 0; t < taps; t++)
                tap[t][i] = s->zeros;
            continue;
        }
        int64_t p = m0 + i, b = p / per_image, r = p % per_image;
        int oy = (int)(r / s->Wo), ox = (int)(r % s->Wo);
        for (int ky = 0; ky < s->kh; ky++) {
            int iy = oy * s->stride - s->top + ky;
            for (int kx = 0; kx < s->kw; kx++) {
                int ix = ox * s->stride - s->left + kx;
                int inside = iy >= 0 && iy < Hv && ix >= 0 && ix < Wv;
                tap[ky * s->kw + kx][i] =
                    inside ? s->x + ((b * s->H + (iy >> up)) * s->W + (ix >> up)) * s->C
                           : s->zeros;
            }
        }
    }

    /* Blocks of four channels (4·taps columns) start at multiples of
     * 4·taps; the columns before the first and after the last go one by
     * one. */
    const int64_t block = 4 * (int64_t)taps, k1 = k0 + kc;
    int64_t kb = (k0 + block - 1) / block * block;
    if (kb > k1)
        kb = k1;
    dst = pack_scalar(tap, mr, taps, k0, kb, dst);
    for (; kb + block <= k1; kb += block, dst += block * mr) {
        const int64_t c = kb / taps;
        for (int t = 0; t < taps; t++) {
            int i = 0;
            for (; i + 4 <= mr; i += 4) {
                v4 r[4];
                transpose4(load4(tap[t][i] + c), load4(tap[t][i + 1] + c),
                           load4(tap[t][i + 2] + c), load4(tap[t][i + 3] + c), r);
                for (int j = 0; j < 4; j++)
                    store4(dst + ((int64_t)j * taps + t) * mr + i, r[j]);
            }
            for (; i < mr; i++) /* mr = 6: rows 4 and 5 */
                for (int j = 0; j < 4; j++)
                    dst[((int64_t)j * taps + t) * mr + i] = tap[t][i][c + j];
        }
    }
    pack_scalar(tap, mr, taps, kb, k1, dst);
}

typedef struct {
    int64_t Ho, Wo, K;
} conv_geom;

/* kh, kw of a conv weight; a 2-D [O, C] weight is a 1×1 kernel. */
static void kernel_size(const pd_weight *w, int *kh, int *kw)
{
    *kh = w->ndim == 4 ? (int)w->shape[2] : 1;
    *kw = w->ndim == 4 ? (int)w->shape[3] : 1;
}

static conv_geom geometry(int H, int W, int C, const pd_weight *w, int stride, const int pad[4])
{
    int kh, kw;
    kernel_size(w, &kh, &kw);
    assert(w->ndim == 4 || w->ndim == 2);
    assert(w->shape[1] == C && stride >= 1);
    assert(pad[0] >= 0 && pad[1] >= 0 && pad[2] >= 0 && pad[3] >= 0);
    /* The window must fit at least once (PyTorch rejects smaller inputs). */
    assert(H + pad[0] + pad[2] >= kh && W + pad[1] + pad[3] >= kw);
    return (conv_geom){pd_conv_out(H, kh, stride, pad[0], pad[2]),
                       pd_conv_out(W, kw, stride, pad[1], pad[3]), (int64_t)C * kh * kw};
}

void pd_conv2d_isa(pd_isa isa, int up, int B, int H, int W, int C, const float *x,
                   const pd_weight *w, const pd_weight *bias, int stride, const int pad[4],
                   float *y, int accumulate)
{
    assert(up == 0 || up == 1);
    const conv_geom g = geometry(H << up, W << up, C, w, stride, pad);
    const int64_t O = pd_weight_rows(w), P = B * g.Ho * g.Wo, K = g.K;
    int kh, kw;
    kernel_size(w, &kh, &kw);
    assert(kh * kw <= MAX_TAPS);
    if (P <= 0 || O <= 0)
        return;

    if (!up && kh == 1 && kw == 1 && stride == 1 && !pad[0] && !pad[1] && !pad[2] && !pad[3]) {
        pd_gemm_isa(isa, P, O, K, x, C, w, bias, y, O, accumulate);
        return;
    }

    float *zeros = calloc((size_t)C, sizeof *zeros);
    if (!zeros) {
        fprintf(stderr, "paldiff: out of memory in pd_conv2d (%d floats)\n", C);
        abort();
    }
    const conv_src s = {
        .x = x, .zeros = zeros, .H = H, .W = W, .C = C, .kh = kh, .kw = kw, .stride = stride,
        .top = pad[0], .left = pad[1], .Ho = (int)g.Ho, .Wo = (int)g.Wo, .up = up,
    };
    const pd_gemm_x src = {.pack = pack_patches, .ctx = &s};
    pd_gemm_x_isa(isa, P, O, K, &src, w, bias, y, O, accumulate);
    free(zeros);
}

/* The FLOPs pd_gemm would count for the same product. */
static void count_flops(int up, int B, int H, int W, int C, const pd_weight *w, int stride,
                        const int pad[4])
{
    const conv_geom g = geometry(H << up, W << up, C, w, stride, pad);
    pd_flops_add(2 * (uint64_t)B * (uint64_t)(g.Ho * g.Wo) * (uint64_t)pd_weight_rows(w) *
                 (uint64_t)g.K);
}

void pd_conv2d(int B, int H, int W, int C, const float *x, const pd_weight *w,
               const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate)
{
    count_flops(0, B, H, W, C, w, stride, pad);
    pd_conv2d_isa(pd_cpu_isa(), 0, B, H, W, C, x, w, bias, stride, pad, y, accumulate);
}

void pd_conv2d_up2(int B, int H, int W, int C, const float *x, const pd_weight *w,
                   const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate)
{
    count_flops(1, B, H, W, C, w, stride, pad);
    pd_conv2d_isa(pd_cpu_isa(), 1, B, H, W, C, x, w, bias, stride, pad, y, accumulate);
}

void pd_conv2d_ref(int B, int H, int W, int C, const float *x, const pd_weight *w,
                   const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate)
{
    const conv_geom g = geometry(H, W, C, w, stride, pad);
    const int64_t O = pd_weight_rows(w);
    int kh, kw;
    kernel_size(w, &kh, &kw);
    float *wr = malloc((size_t)g.K * sizeof *wr);
    if (!wr) {
        fprintf(stderr, "paldiff: out of memory in pd_conv2d_ref\n");
        abort();
    }
    for (int64_t o = 0; o < O; o++) {
        pd_weight_read(w, o, 0, g.K, wr);
        float bo = 0.0f;
        if (bias)
            pd_gemm_read_bias(bias, o, 1, &bo);
        for (int64_t b = 0; b < B; b++)
            for (int64_t oy = 0; oy < g.Ho; oy++)
                for (int64_t ox = 0; ox < g.Wo; ox++) {
                    float s = 0.0f;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int64_t iy = oy * stride - pad[0] + ky;
                                int64_t ix = ox * stride - pad[1] + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                s += x[((b * H + iy) * W + ix) * C + c] *
                                     wr[(c * kh + ky) * kw + kx];
                            }
                    s += bo;
                    float *out = y + ((b * g.Ho + oy) * g.Wo + ox) * O + o;
                    *out = accumulate ? *out + s : s;
                }
    }
    free(wr);
}

void pd_conv2d_up2_ref(int B, int H, int W, int C, const float *x, const pd_weight *w,
                       const pd_weight *bias, int stride, const int pad[4], float *y,
                       int accumulate)
{
    const size_t n = (size_t)B * (size_t)(2 * H) * (size_t)(2 * W) * (size_t)C;
    float *u = malloc((n ? n : 1) * sizeof *u);
    if (!u) {
        fprintf(stderr, "paldiff: out of memory in pd_conv2d_up2_ref\n");
        abort();
    }
    pd_upsample_nearest(B, H, W, C, x, 2 * H, 2 * W, u);
    pd_conv2d_ref(B, 2 * H, 2 * W, C, u, w, bias, stride, pad, y, accumulate);
    free(u);
}
