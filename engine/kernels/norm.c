#include "kernels/norm.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- group norm -------------------------------------------------------- */

/* Groups whose statistics one pass gathers together: in NHWC a group is a
 * run of C/G floats in every pixel, and with C/G = 4 (the VAE's 128
 * channels) a cache line holds four groups. Passing over groups one by one
 * would fetch each line four times; a block covers at least a line, so
 * each line is read once per pass. */
#define GN_BLOCK_MAX 16

static int group_block(int groups, int cg)
{
    int gb = 1;
    while (gb * cg < 16 && gb * 2 <= GN_BLOCK_MAX && groups % (gb * 2) == 0)
        gb *= 2;
    return gb;
}

/* Mean and rstd of groups [g0, g0 + n) of one image (x: [HW, C]), each over
 * its HW × cg values, two passes in double. Every group's sums run over its
 * values in memory order into four partial sums (value i of a pixel's group
 * into sum i mod 4): four independent add chains instead of one, and the
 * same order however groups are blocked, so both entry points agree to
 * the bit. */
static void group_stats(int64_t HW, int C, int cg, int g0, int n, const float *x, float eps,
                        double *mean, double *rstd)
{
    double acc[GN_BLOCK_MAX][4];
    const double count = (double)HW * cg;
    for (int pass = 0; pass < 2; pass++) {
        memset(acc, 0, sizeof acc);
        for (int64_t p = 0; p < HW; p++) {
            const float *px = x + p * C + (int64_t)g0 * cg;
            for (int g = 0; g < n; g++, px += cg) {
                double m = pass ? mean[g] : 0.0;
                for (int i = 0; i < cg; i++) {
                    double d = px[i] - m;
                    acc[g][i & 3] += pass ? d * d : d;
                }
            }
        }
        for (int g = 0; g < n; g++) {
            double s = (acc[g][0] + acc[g][1]) + (acc[g][2] + acc[g][3]);
            if (pass)
                rstd[g] = 1.0 / sqrt(s / count + eps);
            else
                mean[g] = s / count;
        }
    }
}

/* Per-image, per-channel coefficients: y = (x − mu[c])·scale[c] + beta[c]. */
typedef struct {
    int64_t HW;
    int C, groups, cg, block, silu;
    float eps;
    const float *x, *gb;   /* gb: gamma[C] then beta[C] */
    float *y;
    float *mu, *scale;     /* [B, C] */
    int64_t px_per_task, pixels;
} gn_job;

static void gn_stats_block(const gn_job *j, int64_t b, int g0)
{
    double mean[GN_BLOCK_MAX], rstd[GN_BLOCK_MAX];
    group_stats(j->HW, j->C, j->cg, g0, j->block, j->x + b * j->HW * j->C, j->eps, mean, rstd);
    for (int g = 0; g < j->block; g++)
        for (int i = 0; i < j->cg; i++) {
            int c = (g0 + g) * j->cg + i;
            j->mu[b * j->C + c] = (float)mean[g];
            j->scale[b * j->C + c] = (float)(rstd[g] * j->gb[c]);
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
        if (j->silu) {
            for (int c = 0; c < C; c++) {
                float v = (x[c] - mu[c]) * sc[c] + beta[c];
                y[c] = v / (1.0f + expf(-v));
            }
        } else {
            for (int c = 0; c < C; c++)
                y[c] = (x[c] - mu[c]) * sc[c] + beta[c];
        }
    }
}

/* Everything both entry points share: checks, widened gamma/beta and the
 * coefficient arrays, (2 + 2B)·C floats in one allocation. */
static float *gn_setup(gn_job *j, int B, int64_t HW, int C, int groups, const float *x,
                       const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y)
{
    assert(C >= 1 && C <= PD_NORM_MAX_CHANNELS && groups >= 1 && C % groups == 0);
    float *buf = malloc((size_t)(2 + 2 * (int64_t)B) * (size_t)C * sizeof *buf);
    if (!buf) {
        fprintf(stderr, "paldiff: out of memory for group norm coefficients\n");
        abort();
    }
    widen_affine(C, gamma, beta, buf);
    *j = (gn_job){
        .HW = HW, .C = C, .groups = groups, .cg = C / groups, .silu = silu, .eps = eps,
        .x = x, .gb = buf, .y = y, .mu = buf + 2 * C, .scale = buf + 2 * C + (int64_t)B * C,
        .pixels = (int64_t)B * HW,
    };
    j->block = group_block(groups, j->cg);
    return buf;
}

void pd_group_norm_ref(int B, int64_t HW, int C, int groups, const float *x,
                       const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y)
{
    if (B <= 0 || HW <= 0)
        return;
    gn_job j;
    float *buf = gn_setup(&j, B, HW, C, groups, x, gamma, beta, eps, silu, y);
    for (int64_t b = 0; b < B; b++)
        for (int g = 0; g < groups; g += j.block)
            gn_stats_block(&j, b, g);
    gn_apply(&j, 0, j.pixels);
    free(buf);
}

static void gn_stats_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const gn_job *j = ctx;
    int64_t blocks = j->groups / j->block;
    gn_stats_block(j, task / blocks, (int)(task % blocks) * j->block);
}

static void gn_apply_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const gn_job *j = ctx;
    int64_t p0 = task * j->px_per_task;
    gn_apply(j, p0, p0 + j->px_per_task < j->pixels ? p0 + j->px_per_task : j->pixels);
}

void pd_group_norm(int B, int64_t HW, int C, int groups, const float *x,
                   const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y)
{
    if (B <= 0 || HW <= 0)
        return;
    gn_job j;
    float *buf = gn_setup(&j, B, HW, C, groups, x, gamma, beta, eps, silu, y);
    /* Every statistic is in before any pixel is written: in place is safe. */
    pd_parallel_for((int64_t)B * (groups / j.block), gn_stats_task, &j);
    /* About 16 Ki floats per apply task. */
    j.px_per_task = 16384 / C > 0 ? 16384 / C : 1;
    pd_parallel_for((j.pixels + j.px_per_task - 1) / j.px_per_task, gn_apply_task, &j);
    free(buf);
}
