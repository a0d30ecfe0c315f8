/* conv.c — pd_conv2d as GEMM over bounded tiles of gathered patches.
 *
 * A kh×kw convolution is Y[P, O] = X̂[P, K] · Wᵀ with P = B·Ho·Wo output
 * pixels and K = C·kh·kw: row p of X̂ holds the input values under output
 * pixel p's window. The row is laid out in the weight's own column order
 * (c major, then ky, then kx), so pd_gemm uses W's rows as they are and
 * packing/decoding stays in one place (DESIGN.md §3).
 *
 * X̂ is never built for the whole image. Output pixels (numbered over
 * B·Ho·Wo, which is also Y's row order) are taken a tile at a time:
 *
 *   for each tile of `rows` output pixels:
 *     gather X̂[tile] into the patch buffer     (pool tasks, a few rows each)
 *     pd_gemm(rows, O, K, patch, ..., Y + p0·O)   (its own pool job)
 *
 * The two steps cannot overlap: pd_gemm must not run inside a pool task.
 *
 * Scratch: one patch buffer of rows × ld floats (ld = K rounded up to 16,
 * so each row starts on a cache line) with ROW_ALIGN ≤ rows ≤ PATCH_BYTES /
 * (4·ld): at most 16 MiB for any K up to 349 525 (Stable Diffusion's
 * largest is 2560·9 = 23 040, 180 rows a tile), plus C zeros for taps in
 * the padding. It is kept for the process (see `patch`). If it cannot be
 * had, tiles halve; only a failure at ROW_ALIGN rows aborts.
 *
 * Why 16 MiB and not less: every pd_gemm call packs all of W again (once
 * per thread when the tile splits by rows), reading it from memory, so
 * small tiles multiply that work (16 MiB: a 64×64×320 layer at B = 2 is
 * six tiles, W packed 12 times against the plain GEMM's 6). Zen 5, 2 threads,
 * F32, conv time / plain pd_gemm time on the same [P, K] × [O, K]ᵀ, UNet
 * shapes: 4 MiB tiles 1.27-1.41, 16 MiB 1.05-1.15, 32 MiB no better.
 * Where O is small (the VAE's 128 channels) the gather itself, bound by
 * memory bandwidth, costs 15-25 %. A pd_gemm that packed X panels straight
 * from the image would need neither the patch buffer nor the extra packs.
 *
 * A 1×1 stride-1 unpadded convolution is one GEMM on x itself (NHWC is
 * already X̂).
 */
#include "kernels/conv.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/pool.h"

#define PATCH_BYTES (16 << 20)
/* Tile rows are a multiple of every micro-kernel's mr (4, 6, 12), so only a
 * call's last tile has a partial micro-panel. */
#define ROW_ALIGN 12
/* Floats one gather task writes: enough to hide the hand-off. */
#define GATHER_FLOATS 16384
/* Most taps a window may have (kh·kw): sizes the pointer table on the stack. */
#define MAX_TAPS 64

/* The patch buffer, kept for the process and grown on demand (to at most
 * the bound above): fresh memory each call costs a page fault per 4 KiB,
 * which measured as long as the gather itself. The lock makes concurrent
 * callers take turns, as they would in the pool anyway. */
static struct {
    pthread_mutex_t lock;
    float *buf;
    size_t floats;
} patch = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Makes patch.buf hold at least `floats`; 0 when that cannot be had (the
 * old buffer is then gone too, so a smaller request starts afresh). */
static int patch_reserve(size_t floats)
{
    if (patch.floats >= floats)
        return 1;
    free(patch.buf);
    patch.buf = aligned_alloc(64, floats * sizeof(float));
    patch.floats = patch.buf ? floats : 0;
    return patch.buf != NULL;
}

typedef struct {
    int H, W, C, kh, kw, stride, top, left, Ho, Wo;
    const float *x;
    const float *zeros;   /* C zeros: the source of a tap in the padding */
    float *patch;         /* rows × ld */
    int64_t ld;
    int64_t p0, rows;     /* this tile: output pixels [p0, p0 + rows) */
    int64_t rows_per_task;
} gather_job;

typedef struct {
    int64_t Ho, Wo, K;
} conv_geom;

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

/* Channels c..c+3 of nine taps into dst[0..36): channel c + i's taps 0-3
 * and 4-7 are row i of two 4×4 transposes, tap 8 a scalar. 9 loads and
 * 12 stores instead of 36 + 36: twice the speed of the scalar loop
 * (0.09 against 0.2 ns a float on Zen 5), which matters where the layer
 * has few outputs per gathered value (O = 128 in the VAE). */
static inline void transpose9(const float *const tap[9], int c, float *restrict dst)
{
    v4 r[4], s[4];
    transpose4(load4(tap[0] + c), load4(tap[1] + c), load4(tap[2] + c), load4(tap[3] + c), r);
    transpose4(load4(tap[4] + c), load4(tap[5] + c), load4(tap[6] + c), load4(tap[7] + c), s);
    for (int i = 0; i < 4; i++) {
        store4(dst + 9 * i, r[i]);
        store4(dst + 9 * i + 4, s[i]);
        dst[9 * i + 8] = tap[8][c + i];
    }
}

/* One row of X̂: output pixel p's window in (c, ky, kx) order. */
static void gather_row(const gather_job *j, int64_t p, float *restrict dst)
{
    const int64_t per_image = (int64_t)j->Ho * j->Wo;
    const int64_t b = p / per_image, r = p % per_image;
    const int oy = (int)(r / j->Wo), ox = (int)(r % j->Wo);
    const int taps = j->kh * j->kw, C = j->C;

    /* Each tap points at its input pixel's C channels, or at zeros. */
    const float *tap[MAX_TAPS];
    for (int ky = 0; ky < j->kh; ky++) {
        int iy = oy * j->stride - j->top + ky;
        for (int kx = 0; kx < j->kw; kx++) {
            int ix = ox * j->stride - j->left + kx;
            int inside = iy >= 0 && iy < j->H && ix >= 0 && ix < j->W;
            tap[ky * j->kw + kx] = inside ? j->x + ((b * j->H + iy) * j->W + ix) * C : j->zeros;
        }
    }

    /* NHWC has c fastest, the weight has it slowest: a transpose of
     * taps × C, for 3×3 in blocks of 4 channels (see transpose9). */
    if (taps == 9) {
        int c = 0;
        for (; c + 4 <= C; c += 4, dst += 36)
            transpose9(tap, c, dst);
        for (; c < C; c++, dst += 9)
            for (int t = 0; t < 9; t++)
                dst[t] = tap[t][c];
    } else if (taps == 1) {
        memcpy(dst, tap[0], (size_t)C * sizeof *dst);
    } else {
        for (int c = 0; c < C; c++)
            for (int t = 0; t < taps; t++)
                dst[c * taps + t] = tap[t][c];
    }
}

static void gather_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const gather_job *j = ctx;
    int64_t r0 = task * j->rows_per_task;
    int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++)
        gather_row(j, j->p0 + r, j->patch + r * j->ld);
}

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

void pd_conv2d(int B, int H, int W, int C, const float *x, const pd_weight *w,
               const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate)
{
    const conv_geom g = geometry(H, W, C, w, stride, pad);
    const int64_t O = pd_weight_rows(w), P = B * g.Ho * g.Wo, K = g.K;
    int kh, kw;
    kernel_size(w, &kh, &kw);
    assert(kh * kw <= MAX_TAPS);
    if (P <= 0 || O <= 0)
        return;

    if (kh == 1 && kw == 1 && stride == 1 && !pad[0] && !pad[1] && !pad[2] && !pad[3]) {
        pd_gemm(P, O, K, x, C, w, bias, y, O, accumulate);
        return;
    }

    /* Tile rows: as many as the bound allows, then evened out over the
     * tiles so the last one is not a sliver (each tile packs W again). */
    const int64_t ld = (K + 15) / 16 * 16;
    int64_t max_rows = PATCH_BYTES / (ld * (int64_t)sizeof(float)) / ROW_ALIGN * ROW_ALIGN;
    if (max_rows < ROW_ALIGN)
        max_rows = ROW_ALIGN;
    pthread_mutex_lock(&patch.lock);
    int64_t rows;
    for (;;) {
        int64_t tiles = (P + max_rows - 1) / max_rows;
        rows = (P + tiles - 1) / tiles;
        rows = (rows + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
        if (rows > P)
            rows = P;
        if (patch_reserve((size_t)(rows * ld) + (size_t)(C + 15) / 16 * 16))
            break;
        if (max_rows <= ROW_ALIGN) {
            fprintf(stderr, "paldiff: out of memory for a conv patch buffer (%lld floats)\n",
                    (long long)(rows * ld));
            abort();
        }
        max_rows = max_rows / 2 / ROW_ALIGN * ROW_ALIGN;
        if (max_rows < ROW_ALIGN)
            max_rows = ROW_ALIGN;
    }
    float *buf = patch.buf, *zeros = buf + rows * ld;
    memset(zeros, 0, (size_t)C * sizeof *zeros);

    gather_job j = {
        .H = H, .W = W, .C = C, .kh = kh, .kw = kw, .stride = stride,
        .top = pad[0], .left = pad[1], .Ho = (int)g.Ho, .Wo = (int)g.Wo,
        .x = x, .zeros = zeros, .patch = buf, .ld = ld,
        .rows_per_task = GATHER_FLOATS / ld > 0 ? GATHER_FLOATS / ld : 1,
    };
    for (int64_t p0 = 0; p0 < P; p0 += rows) {
        j.p0 = p0;
        j.rows = P - p0 < rows ? P - p0 : rows;
        pd_parallel_for((j.rows + j.rows_per_task - 1) / j.rows_per_task, gather_task, &j);
        pd_gemm(j.rows, O, K, buf, ld, w, bias, y + p0 * O, O, accumulate);
    }
    pthread_mutex_unlock(&patch.lock);
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
