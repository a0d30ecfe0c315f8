/* gemm.c — pd_gemm: path choice, blocking, packing and threads.
 *
 * Blocking follows BLIS (Van Zee & van de Geijn), with W in the role of
 * BLIS's A (its packed block lives in L2) and X in the role of B:
 *
 *   task: a tile of Y, rows [m0, m1) × columns [n0, n1) with n1 - n0 <= nc
 *     for each step of kc values of k:
 *       pack W[n0:n1, k:k+kc] → wp          nc × kc floats: stays in L2
 *       for each mr rows of the tile:
 *         pack X[rows, k:k+kc] → xp         mr × kc floats: stays in L1
 *                                           (by X's provider: a matrix, or
 *                                           a conv's image, gemm_internal.h)
 *         for each nr columns of the tile:
 *           micro-kernel: Y[mr × nr] (+)= xp · wp-panel, streaming wp from L2
 *
 * Every W element is widened/decoded once per (task row range, k step),
 * i.e. M / (m1 - m0) times per call, so tasks keep m1 - m0 large (mc); X is
 * re-packed once per column tile, i.e. N / nc times, which is cheap next
 * to the nc·kc multiply-adds each packed X value feeds.
 *
 * Threads: tasks run on the pool (pool.h). The grid of tiles is chosen so
 * that, when tasks are few, their count is a multiple of the thread count
 * and they have (nearly) equal sizes: M = 77 splits along N, M = 4096 along
 * both. Each thread packs into its own scratch, allocated on the thread's
 * first task (64-byte aligned) and reused by every later call:
 *
 *   (NC_MAX·KC_MAX + MR_MAX·KC_MAX + NC_MAX + MR_MAX·NR_MAX) floats
 *   = 128 192 floats = 501 KiB per thread, whatever M, N and K.
 */
#include "kernels/gemm.h"

#include <assert.h>
#include <stdlib.h>

#include "kernels/gemm_internal.h"
#include "kernels/pool.h"
#include "kernels/stats.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86_PATHS 1
#endif

enum {
    WP_FLOATS = PD_GEMM_NC_MAX * PD_GEMM_KC_MAX,
    XP_FLOATS = PD_GEMM_MR_MAX * PD_GEMM_KC_MAX,
    BIAS_FLOATS = PD_GEMM_NC_MAX,
    TILE_FLOATS = PD_GEMM_MR_MAX * PD_GEMM_NR_MAX,
    SCRATCH_FLOATS = WP_FLOATS + XP_FLOATS + BIAS_FLOATS + TILE_FLOATS,
};
/* Each part is a multiple of 16 floats, so each starts 64-byte aligned. */
_Static_assert(WP_FLOATS % 16 == 0 && XP_FLOATS % 16 == 0 && BIAS_FLOATS % 16 == 0 &&
               TILE_FLOATS % 16 == 0, "scratch parts must keep 64-byte alignment");

/* Below this many multiply-adds a call runs on the calling thread alone:
 * waking the pool costs about as much as the product. */
#define SERIAL_MACS (1 << 18)

typedef struct {
    const pd_gemm_kernel *kern;
    int64_t M, N, K;
    const pd_gemm_x *X;
    const pd_weight *W, *bias;
    float *Y;
    int64_t ldy;
    int accumulate;
    int64_t kc;                      /* k per step, <= kern->kc */
    int64_t pm, pn;                  /* micro-panels: ceil(M / mr), ceil(N / nr) */
    int64_t tm, tn;                  /* tiles along M and N */
} gemm_job;

/* Per-thread scratch (pool.h): allocated on each thread's first task, kept. */
static pd_scratch scratch = PD_SCRATCH("GEMM", SCRATCH_FLOATS);

/* ---- portable packers -------------------------------------------------- */

static void pack_x_portable(const float *x, int64_t ldx, int m, int mr, int64_t kc, float *dst)
{
    for (int i = 0; i < mr; i++)
        for (int64_t k = 0; k < kc; k++)
            dst[k * mr + i] = i < m ? x[i * ldx + k] : 0.0f;
}

/* The provider for a plain matrix X (pd_gemm): the ISA's packer. */
static void pack_matrix(const pd_gemm_x *X, const pd_gemm_kernel *kern, int64_t m0, int m,
                        int64_t k0, int64_t kc, float *dst)
{
    const float *x = X->mat + m0 * X->ld + k0;
    if (kern->pack_x)
        kern->pack_x(x, X->ld, m, kc, dst);
    else
        pack_x_portable(x, X->ld, m, kern->mr, kc, dst);
}

/* Any dtype, one row at a time through pd_weight_read: the reference for
 * the per-ISA packers, and the path of kernels without one (the scalar
 * kernel: palettes through pd_pal_decode_row). */
static void pack_w_portable(const pd_weight *w, int64_t n0, int64_t n, int nr,
                            int64_t k0, int64_t kc, float *dst)
{
    float row[PD_GEMM_KC_MAX];
    for (int64_t p = 0; p < n; p += nr, dst += kc * nr)
        for (int j = 0; j < nr; j++) {
            if (p + j < n)
                pd_weight_read(w, n0 + p + j, k0, kc, row);
            for (int64_t k = 0; k < kc; k++)
                dst[k * nr + j] = p + j < n ? row[k] : 0.0f;
        }
}

void pd_gemm_pack_w(const pd_gemm_kernel *kern, const pd_weight *w, int64_t n0, int64_t n, int64_t k0,
                    int64_t kc, float *dst)
{
    pd_gemm_pack_w_fn f = w->dtype >= PD_F32 && w->dtype <= PD_PAL ? kern->pack_w[w->dtype] : NULL;
    if (f)
        f(w, n0, n, k0, kc, dst);
    else
        pack_w_portable(w, n0, n, kern->nr, k0, kc, dst);
}

/* ---- one task: one tile of Y over all of K ---------------------------- */

static void gemm_task(void *ctx, int64_t task, int thread)
{
    const gemm_job *jb = ctx;
    const pd_gemm_kernel *kern = jb->kern;
    const int mr = kern->mr, nr = kern->nr;
    float *wp = pd_scratch_get(&scratch, thread);
    float *xp = wp + WP_FLOATS;
    float *bias = xp + XP_FLOATS;
    float *tile = bias + BIAS_FLOATS;

    /* Tiles are whole micro-panels, spread as evenly as integers allow. */
    int64_t it = task / jb->tn, jt = task % jb->tn;
    int64_t m0 = it * jb->pm / jb->tm * mr;
    int64_t m1 = (it + 1) * jb->pm / jb->tm * mr;
    int64_t n0 = jt * jb->pn / jb->tn * nr;
    int64_t n1 = (jt + 1) * jb->pn / jb->tn * nr;
    if (m1 > jb->M)
        m1 = jb->M;
    if (n1 > jb->N)
        n1 = jb->N;
    int64_t n = n1 - n0;
    assert(n > 0 && n <= kern->nc && m1 > m0);

    if (jb->bias) {
        /* Padded with zeros to whole micro-panels: the kernel reads nr. */
        pd_gemm_read_bias(jb->bias, n0, n, bias);
        for (int64_t j = n; j < (n + nr - 1) / nr * nr; j++)
            bias[j] = 0.0f;
    }

    for (int64_t k0 = 0; k0 < jb->K; k0 += jb->kc) {
        int64_t kc = jb->K - k0 < jb->kc ? jb->K - k0 : jb->kc;
        int first = k0 == 0;
        /* The first k step writes Y (or adds to it) and adds the bias; the
         * later ones add their partial products to Y. */
        int load_y = !first || jb->accumulate;
        const float *tile_bias = first && jb->bias ? bias : NULL;

        pd_gemm_pack_w(kern, jb->W, n0, n, k0, kc, wp);

        for (int64_t i = m0; i < m1; i += mr) {
            int m = m1 - i < mr ? (int)(m1 - i) : mr;
            jb->X->pack(jb->X, kern, i, m, k0, kc, xp);
            const float *x = jb->X->mat ? jb->X->mat + i * jb->X->ld + k0 : NULL;
            /* The next panel's rows, shared out among this panel's calls. */
            int next_rows = m1 - i - mr < mr ? (int)(m1 - i - mr) : mr;
            int64_t calls = (n + nr - 1) / nr, call = 0;
            for (int64_t j = 0; j < n; j += nr) {
                int r0 = next_rows > 0 ? (int)(call * next_rows / calls) : 0;
                int r1 = next_rows > 0 ? (int)((call + 1) * next_rows / calls) : 0;
                call++;
                pd_gemm_prefetch pf = {x && r1 > r0 ? x + (mr + r0) * jb->X->ld : NULL,
                                       jb->X->ld, r1 - r0};
                float *y = jb->Y + i * jb->ldy + n0 + j;
                const float *w = wp + j * kc; /* panel j / nr: (j / nr)·kc·nr floats in */
                const float *b = tile_bias ? tile_bias + j : NULL;
                int cols = n - j < nr ? (int)(n - j) : nr;
                if (m == mr && cols == nr) {
                    kern->micro(kc, xp, w, y, jb->ldy, b, load_y, &pf);
                    continue;
                }
                /* Edge tile: full tile into scratch, then only the part
                 * inside Y, so no kernel ever reads or writes outside. */
                kern->micro(kc, xp, w, tile, nr, b, 0, &pf);
                for (int r = 0; r < m; r++)
                    for (int c = 0; c < cols; c++)
                        y[r * jb->ldy + c] = (load_y ? y[r * jb->ldy + c] : 0.0f) + tile[r * nr + c];
            }
        }
    }
}

static void gemm_all_tasks(void *ctx, int64_t task, int thread)
{
    const gemm_job *jb = ctx;
    (void)task;
    for (int64_t t = 0; t < jb->tm * jb->tn; t++)
        gemm_task(ctx, t, thread);
}

/* ---- planning ---------------------------------------------------------- */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static void plan(gemm_job *jb, int threads)
{
    const pd_gemm_kernel *kern = jb->kern;
    /* Equal k steps: K = 2880 with kc <= 384 gives 8 steps of 360, not
     * 7 of 384 and one of 192. */
    jb->kc = ceil_div(jb->K, ceil_div(jb->K, kern->kc));
    jb->pm = ceil_div(jb->M, kern->mr);
    jb->pn = ceil_div(jb->N, kern->nr);
    /* Fewest tiles the bounds allow: columns by the L2 block (a hard
     * bound: wp holds nc columns), rows by the preferred mc. */
    jb->tn = ceil_div(jb->pn, kern->nc / kern->nr);
    jb->tm = ceil_div(jb->pm, kern->mc / kern->mr);
    if (jb->M * jb->N * jb->K < SERIAL_MACS)
        return;
    /* Few tasks: a count that is not a multiple of the threads leaves one
     * idle at the end. Split the longer side of the tiles until it is (or
     * until there are enough tasks for the counter to balance them). */
    while ((jb->tm * jb->tn) % threads != 0 && jb->tm * jb->tn < 8 * threads) {
        int64_t rows = ceil_div(jb->pm, jb->tm) * kern->mr;
        int64_t cols = ceil_div(jb->pn, jb->tn) * kern->nr;
        if (jb->tn < jb->pn && (cols >= rows || jb->tm >= jb->pm))
            jb->tn++;
        else if (jb->tm < jb->pm)
            jb->tm++;
        else
            break;
    }
}

/* ---- entry points ------------------------------------------------------ */

const pd_gemm_kernel *pd_gemm_kernel_for(pd_isa isa)
{
#ifdef HAVE_X86_PATHS
    if (isa > pd_cpu_isa_supported())
        isa = pd_cpu_isa_supported();
    if (isa == PD_ISA_AVX512)
        return &pd_gemm_kernel_avx512;
    if (isa == PD_ISA_AVX2)
        return &pd_gemm_kernel_avx2;
#else
    (void)isa;
#endif
    return &pd_gemm_kernel_ref;
}

void pd_gemm_x_isa(pd_isa isa, int64_t M, int64_t N, int64_t K, const pd_gemm_x *X,
                   const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
                   int accumulate)
{
    assert(pd_weight_rows(W) == N && pd_weight_cols(W) == K);
    assert(!bias || pd_weight_numel(bias) == N);
    assert(ldy >= N && X->pack);
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* an empty dot product: Y (+)= bias */
        float b = 0.0f;
        for (int64_t n = 0; n < N; n++) {
            if (bias)
                pd_gemm_read_bias(bias, n, 1, &b);
            for (int64_t m = 0; m < M; m++)
                Y[m * ldy + n] = (accumulate ? Y[m * ldy + n] : 0.0f) + b;
        }
        return;
    }

    gemm_job jb = {
        .kern = pd_gemm_kernel_for(isa),
        .M = M, .N = N, .K = K, .X = X, .W = W, .bias = bias,
        .Y = Y, .ldy = ldy, .accumulate = accumulate,
    };
    assert(jb.kern->mr <= PD_GEMM_MR_MAX && jb.kern->nr <= PD_GEMM_NR_MAX &&
           jb.kern->kc <= PD_GEMM_KC_MAX && jb.kern->nc <= PD_GEMM_NC_MAX &&
           jb.kern->nc % jb.kern->nr == 0 && jb.kern->mc % jb.kern->mr == 0);

    plan(&jb, pd_threads());
    if (M * N * K < SERIAL_MACS) {
        /* One pool task for every tile: the calling thread does it all, as
         * pool thread 0, so calls from other threads still queue behind. */
        pd_parallel_for(1, gemm_all_tasks, &jb);
        return;
    }
    pd_parallel_for(jb.tm * jb.tn, gemm_task, &jb);
}

void pd_gemm_isa(pd_isa isa, int64_t M, int64_t N, int64_t K, const float *X, int64_t ldx,
                 const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
                 int accumulate)
{
    assert(ldx >= K);
    const pd_gemm_x src = {.pack = pack_matrix, .mat = X, .ld = ldx};
    pd_gemm_x_isa(isa, M, N, K, &src, W, bias, Y, ldy, accumulate);
}

void pd_gemm(int64_t M, int64_t N, int64_t K, const float *X, int64_t ldx,
             const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
             int accumulate)
{
    pd_flops_add(2 * (uint64_t)M * (uint64_t)N * (uint64_t)K);
    pd_gemm_isa(pd_cpu_isa(), M, N, K, X, ldx, W, bias, Y, ldy, accumulate);
}
