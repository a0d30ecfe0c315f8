#include "kernels/activation.h"

#include <math.h>

#include "kernels/pool.h"

void pd_activate_ref(pd_activation act, float *x, int64_t n)
{
    switch (act) {
    case PD_ACT_GELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        return;
    case PD_ACT_QUICK_GELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
        return;
    case PD_ACT_SILU:
        /* For x < -88, expf(-x) is inf and the quotient -0: the limit. */
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
        return;
    }
}

/* One GEGLU row; the same expression as GELU above. */
static void geglu_row(int64_t n, const float *h, float *out)
{
    const float *gate = h + n;
    for (int64_t j = 0; j < n; j++)
        out[j] = h[j] * (0.5f * gate[j] * (1.0f + erff(gate[j] * (float)M_SQRT1_2)));
}

void pd_geglu_ref(int64_t rows, int64_t n, const float *h, float *out)
{
    for (int64_t r = 0; r < rows; r++)
        geglu_row(n, h + r * 2 * n, out + r * n);
}

enum { CHUNK = 16384 }; /* floats per task: large enough to amortize the hand-off */

typedef struct {
    pd_activation act;
    float *x;
    int64_t n;
} act_job;

static void act_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const act_job *j = ctx;
    int64_t begin = task * CHUNK;
    pd_activate_ref(j->act, j->x + begin, j->n - begin < CHUNK ? j->n - begin : CHUNK);
}

void pd_activate(pd_activation act, float *x, int64_t n)
{
    act_job j = {act, x, n};
    pd_parallel_for((n + CHUNK - 1) / CHUNK, act_task, &j);
}

typedef struct {
    int64_t rows, n, rows_per_task;
    const float *h;
    float *out;
} geglu_job;

static void geglu_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const geglu_job *j = ctx;
    int64_t r0 = task * j->rows_per_task;
    int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++)
        geglu_row(j->n, j->h + r * 2 * j->n, j->out + r * j->n);
}

void pd_geglu(int64_t rows, int64_t n, const float *h, float *out)
{
    if (rows <= 0 || n <= 0)
        return;
    /* Whole rows per task, about CHUNK outputs each. */
    geglu_job j = {rows, n, CHUNK / n > 0 ? CHUNK / n : 1, h, out};
    pd_parallel_for((rows + j.rows_per_task - 1) / j.rows_per_task, geglu_task, &j);
}
