#include "kernels/norm.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/activation_internal.h"
#include "kernels/pool.h"

/* gb: gamma then beta, widened once per call (2·n floats). */
static void norm_row(int64_t n, const float *x, const float *gb, float eps, float *y)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    double var = 0;
    for (int64_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    float inv = (float)(1.0 / sqrt(var / (double)n + eps));
    float m = (float)mean;
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - m) * inv * gb[i] + gb[n + i];
}

static void widen_affine(int64_t n, const pd_weight *gamma, const pd_weight *beta, float *gb)
{
    assert(n <= PD_NORM_MAX_CHANNELS);
    pd_weight_read(gamma, 0, 0, n, gb);
    pd_weight_read(beta, 0, 0, n, gb + n);
}

void pd_layer_norm_ref(int64_t rows, int64_t n, const float *x, int64_t ldx,
                       const pd_weight *gamma, const pd_weight *beta, float eps,
                       float *y, int64_t ldy)
{
    float gb[2 * PD_NORM_MAX_CHANNELS];
    widen_affine(n, gamma, beta, gb);
    for (int64_t r = 0; r < rows; r++)
        norm_row(n, x + r * ldx, gb, eps, y + r * ldy);
}

typedef struct {
    int64_t rows, n, ldx, ldy, per_task;
    const float *x, *gb;
    float *y, eps;
} norm_job;

static void norm_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const norm_job *j = ctx;
    int64_t end = (task + 1) * j->per_task < j->rows ? (task + 1) * j->per_task : j->rows;
    for (int64_t r = task * j->per_task; r < end; r++)
        norm_row(j->n, j->x + r * j->ldx, j->gb, j->eps, j->y + r * j->ldy);
}

void pd_layer_norm(int64_t rows, int64_t n, const float *x, int64_t ldx,
                   const pd_weight *gamma, const pd_weight *beta, float eps,
                   float *y, int64_t ldy)
{
    if (rows <= 0)
        return;
    float gb[2 * PD_NORM_MAX_CHANNELS];
    widen_affine(n, gamma, beta, gb);
    int64_t tasks = 4 * (int64_t)pd_threads();
    norm_job j = {rows, n, ldx, ldy, (rows + tasks - 1) / tasks, x, gb, y, eps};
    pd_parallel_for((rows + j.per_task - 1) / j.per_task, norm_task, &j);
}

/* ---- group norm -------------------------------------------------------- *
 *
 * In NHWC a group is a run of C/G floats in every pixel, so walking one
 * group at a time strides through the whole image once per group: on a
 * VAE image out of cache (256×256×256) that measured 180 ms a norm. The
 * statistics instead go chunk by chunk: each image's pixels fall into
 * runs (chunks) of about GN_CHUNK_FLOATS, a pool task computes every
 * group's mean and M2 (sum of squared deviations) over one chunk in two
 * passes — the second from cache — and the chunks are then merged in
 * order with the pairwise update of Chan, Golub and LeVeque:
 *
 *     n = na + nb,  δ = mean_b − mean_a,
 *     mean = mean_a + δ·nb/n,  M2 = M2_a + M2_b + δ²·na·nb/n
 *
 * all in double. The chunking depends on HW, C and G only, never on the
 * thread count, and both entry points run the same code: they agree to
 * the bit, except that pd_group_norm's fused SiLU is vmath.h's (within
 * 1e-6 relative of the _ref's libm). Scratch: (2 + 2B)·C floats and B·chunks·G·16 bytes, chunks ≤
 * min(GN_MAX_CHUNKS, 65536 / G): at most B · 1 MiB. */
#define GN_CHUNK_FLOATS 32768
#define GN_MAX_CHUNKS 256

typedef struct {
    double mean, m2;
} gn_moments;

typedef struct {
    int64_t HW;
    int B, C, groups, cg, chunks, silu;
    float eps;
    const float *x, *gb;   /* gb: gamma[C] then beta[C] */
    float *y;
    float *mu, *scale;     /* [B, C]: y = (x − mu[c])·scale[c] + beta[c] */
    gn_moments *mom;       /* [B, chunks, groups] */
    int64_t px_per_task;   /* apply */
    const pd_vm_kernels *vm; /* fused SiLU: NULL for the _ref's libm */
} gn_job;

/* Pixels [p0, p1) of chunk `chunk` of an image. */
static void chunk_range(const gn_job *j, int chunk, int64_t *p0, int64_t *p1)
{
    *p0 = j->HW * chunk / j->chunks;
    *p1 = j->HW * (chunk + 1) / j->chunks;
}

/* Every group's mean and M2 over one chunk of image b. */
static void gn_chunk(const gn_job *j, int b, int chunk)
{
    const int C = j->C, cg = j->cg, G = j->groups;
    gn_moments *m = j->mom + ((int64_t)b * j->chunks + chunk) * G;
    int64_t p0, p1;
    chunk_range(j, chunk, &p0, &p1);
    const float *x = j->x + (int64_t)b * j->HW * C;
    for (int g = 0; g < G; g++)
        m[g] = (gn_moments){0, 0};
    for (int64_t p = p0; p < p1; p++)
        for (int g = 0; g < G; g++) {
            const float *v = x + p * C + g * cg;
            double s = 0;
            for (int i = 0; i < cg; i++)
                s += v[i];
            m[g].mean += s;
        }
    const double n = (double)(p1 - p0) * cg;
    for (int g = 0; g < G; g++)
        m[g].mean /= n;
    for (int64_t p = p0; p < p1; p++)
        for (int g = 0; g < G; g++) {
            const float *v = x + p * C + g * cg;
            double s = 0, mean = m[g].mean;
            for (int i = 0; i < cg; i++)
                s += (v[i] - mean) * (v[i] - mean);
            m[g].m2 += s;
        }
}

/* Merges the chunks in order and sets image b's coefficients. */
static void gn_finish(const gn_job *j, int b)
{
    const int cg = j->cg;
    for (int g = 0; g < j->groups; g++) {
        double n = 0, mean = 0, m2 = 0;
        for (int ch = 0; ch < j->chunks; ch++) {
            const gn_moments *c = j->mom + ((int64_t)b * j->chunks + ch) * j->groups + g;
            int64_t p0, p1;
            chunk_range(j, ch, &p0, &p1);
            double nb = (double)(p1 - p0) * cg, nn = n + nb, d = c->mean - mean;
            mean += d * nb / nn;
            m2 += c->m2 + d * d * n * nb / nn;
            n = nn;
        }
        double rstd = 1.0 / sqrt(m2 / n + j->eps);
        for (int i = 0; i < cg; i++) {
            int64_t c = (int64_t)b * j->C + g * cg + i;
            j->mu[c] = (float)mean;
            j->scale[c] = (float)(rstd * j->gb[g * cg + i]);
        }
    }
}

/* Pixels [p0, p1) of the B·HW, in place or not. */
static void gn_apply(const gn_job *j, int64_t p0, int64_t p1)
{
    const int C = j->C;
    const float *beta = j->gb + C;
    for (int64_t p = p0; p < p1; p++) {
        const float *mu = j->mu + p / j->HW * C, *sc = j->scale + p / j->HW * C;
        const float *x = j->x + p * C;
        float *y = j->y + p * C;
        if (j->silu && j->vm) {
            j->vm->norm_silu(C, x, mu, sc, beta, y);
        } else {
            for (int c = 0; c < C; c++)
                y[c] = (x[c] - mu[c]) * sc[c] + beta[c];
            if (j->silu)
                pd_activate_ref(PD_ACT_SILU, y, C);
        }
    }
}

/* Checks, chunking and scratch, shared by both entry points. */
static void gn_setup(gn_job *j, int B, int64_t HW, int C, int groups, const float *x,
                     const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y)
{
    assert(C >= 1 && C <= PD_NORM_MAX_CHANNELS && groups >= 1 && C % groups == 0);
    int64_t chunks = HW * C / GN_CHUNK_FLOATS;
    int64_t most = 65536 / groups < GN_MAX_CHUNKS ? 65536 / groups : GN_MAX_CHUNKS;
    chunks = chunks > most ? most : chunks;
    chunks = chunks > HW ? HW : chunks;
    chunks = chunks < 1 ? 1 : chunks;
    float *f = malloc((size_t)(2 + 2 * (int64_t)B) * (size_t)C * sizeof *f);
    gn_moments *m = malloc((size_t)B * (size_t)chunks * (size_t)groups * sizeof *m);
    if (!f || !m) {
        fprintf(stderr, "paldiff: out of memory for group norm statistics\n");
        abort();
    }
    widen_affine(C, gamma, beta, f);
    *j = (gn_job){
        .HW = HW, .B = B, .C = C, .groups = groups, .cg = C / groups, .chunks = (int)chunks,
        .silu = silu, .eps = eps, .x = x, .gb = f, .y = y,
        .mu = f + 2 * C, .scale = f + 2 * C + (int64_t)B * C, .mom = m,
    };
}

static void gn_free(gn_job *j)
{
    free((void *)j->gb);
    free(j->mom);
}

void pd_group_norm_ref(int B, int64_t HW, int C, int groups, const float *x,
                       const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y)
{
    if (B <= 0 || HW <= 0)
        return;
    gn_job j;
    gn_setup(&j, B, HW, C, groups, x, gamma, beta, eps, silu, y);
    for (int b = 0; b < B; b++) {
        for (int ch = 0; ch < j.chunks; ch++)
            gn_chunk(&j, b, ch);
        gn_finish(&j, b);
    }
    gn_apply(&j, 0, (int64_t)B * HW);
    gn_free(&j);
}

static void gn_chunk_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const gn_job *j = ctx;
    gn_chunk(j, (int)(task / j->chunks), (int)(task % j->chunks));
}

static void gn_apply_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const gn_job *j = ctx;
    int64_t p0 = task * j->px_per_task, end = (int64_t)j->B * j->HW;
    gn_apply(j, p0, p0 + j->px_per_task < end ? p0 + j->px_per_task : end);
}

void pd_group_norm_isa(pd_isa isa, int B, int64_t HW, int C, int groups, const float *x,
                       const pd_weight *gamma, const pd_weight *beta, float eps, int silu,
                       float *y)
{
    if (B <= 0 || HW <= 0)
        return;
    gn_job j;
    gn_setup(&j, B, HW, C, groups, x, gamma, beta, eps, silu, y);
    j.vm = pd_vm_kernels_for(isa);
    pd_parallel_for((int64_t)B * j.chunks, gn_chunk_task, &j);
    /* B·chunks·G merge steps: a few thousand, not worth a pool job. */
    for (int b = 0; b < B; b++)
        gn_finish(&j, b);
    /* Every statistic is in before any pixel is written: in place is safe.
     * About 16 Ki floats per apply task. */
    j.px_per_task = 16384 / C > 0 ? 16384 / C : 1;
    pd_parallel_for(((int64_t)B * HW + j.px_per_task - 1) / j.px_per_task, gn_apply_task, &j);
    gn_free(&j);
}

void pd_group_norm(int B, int64_t HW, int C, int groups, const float *x,
                   const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y)
{
    pd_group_norm_isa(pd_cpu_isa(), B, HW, C, groups, x, gamma, beta, eps, silu, y);
}
