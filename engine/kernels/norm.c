#include "kernels/norm.h"

#include <assert.h>
#include <math.h>

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
