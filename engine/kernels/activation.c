#include "kernels/activation.h"

#include <math.h>

#include "kernels/activation_internal.h"
#include "kernels/pool.h"

/* x·sigmoid(a·x) with libm. For x < −88/a, e is inf and the quotient −0:
 * the limit, which x = −inf (−inf/inf) is given explicitly. */
static float xsigmoid_ref(float x, float a)
{
    float e = expf(-a * x);
    return isinf(e) ? -0.0f : x / (1.0f + e);
}

/* x·Φ(x) as torch computes it (0.5·x·(1 + erf(x/√2))); where 1 + erf
 * is 0 the result is −0, also for x = −inf (where it would be NaN). */
static float gelu_ref(float x)
{
    float e = 1.0f + erff(x * (float)M_SQRT1_2);
    return e == 0 ? -0.0f : 0.5f * x * e;
}

void pd_activate_ref(pd_activation act, float *x, int64_t n)
{
    switch (act) {
    case PD_ACT_GELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = gelu_ref(x[i]);
        return;
    case PD_ACT_QUICK_GELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = xsigmoid_ref(x[i], 1.702f);
        return;
    case PD_ACT_SILU:
        for (int64_t i = 0; i < n; i++)
            x[i] = xsigmoid_ref(x[i], 1.0f);
        return;
    }
}

void pd_geglu_ref(int64_t rows, int64_t n, const float *h, float *out)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++)
            out[r * n + j] = h[r * 2 * n + j] * gelu_ref(h[r * 2 * n + n + j]);
}

const pd_vm_kernels *pd_vm_kernels_for(pd_isa isa)
{
    if (isa > pd_cpu_isa_supported())
        isa = pd_cpu_isa_supported();
    switch (isa) {
    case PD_ISA_AVX512:
        return &pd_vm_kernels_avx512;
    case PD_ISA_AVX2:
        return &pd_vm_kernels_avx2;
    case PD_ISA_REF:
        break;
    }
    return &pd_vm_kernels_generic;
}

enum { CHUNK = 16384 }; /* floats per task: large enough to amortize the hand-off */

typedef struct {
    void (*fn)(float *x, int64_t n);
    float *x;
    int64_t n;
} act_job;

static void act_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const act_job *j = ctx;
    int64_t begin = task * CHUNK;
    j->fn(j->x + begin, j->n - begin < CHUNK ? j->n - begin : CHUNK);
}

void pd_activate_isa(pd_isa isa, pd_activation act, float *x, int64_t n)
{
    act_job j = {pd_vm_kernels_for(isa)->act[act], x, n};
    pd_parallel_for((n + CHUNK - 1) / CHUNK, act_task, &j);
}

void pd_activate(pd_activation act, float *x, int64_t n)
{
    pd_activate_isa(pd_cpu_isa(), act, x, n);
}

typedef struct {
    int64_t rows, n, rows_per_task;
    const float *h;
    float *out;
    void (*row)(int64_t n, const float *h, float *out);
} geglu_job;

static void geglu_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const geglu_job *j = ctx;
    int64_t r0 = task * j->rows_per_task;
    int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++)
        j->row(j->n, j->h + r * 2 * j->n, j->out + r * j->n);
}

void pd_geglu_isa(pd_isa isa, int64_t rows, int64_t n, const float *h, float *out)
{
    if (rows <= 0 || n <= 0)
        return;
    /* Whole rows per task, about CHUNK outputs each. */
    geglu_job j = {rows, n, CHUNK / n > 0 ? CHUNK / n : 1, h, out,
                   pd_vm_kernels_for(isa)->geglu_row};
    pd_parallel_for((rows + j.rows_per_task - 1) / j.rows_per_task, geglu_task, &j);
}

void pd_geglu(int64_t rows, int64_t n, const float *h, float *out)
{
    pd_geglu_isa(pd_cpu_isa(), rows, n, h, out);
}
