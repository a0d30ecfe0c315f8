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
    }
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
