#include "kernels/stats.h"

#include <glib.h>
#include <stdatomic.h>

#include "kernels/cpu.h"
#include "kernels/pool.h"

static _Atomic uint64_t flops;

uint64_t pd_flops(void) { return atomic_load_explicit(&flops, memory_order_relaxed); }
void pd_flops_add(uint64_t n) { atomic_fetch_add_explicit(&flops, n, memory_order_relaxed); }

/* CHAINS independent FMA chains hide the FMA latency (4–5 cycles) on two
 * pipes; each loop does CHAINS FMAs of `lanes` floats. */
enum { CHAINS = 12 };

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static float fma_avx512(int64_t iters)
{
    __m512 acc[CHAINS], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm512_set1_ps((float)j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS; j++)
            acc[j] = _mm512_fmadd_ps(acc[j], b, c);
    for (int j = 1; j < CHAINS; j++)
        acc[0] = _mm512_add_ps(acc[0], acc[j]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iters)
{
    __m256 acc[CHAINS], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm256_set1_ps((float)j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS; j++)
            acc[j] = _mm256_fmadd_ps(acc[j], b, c);
    float out[8], s = 0;
    for (int j = 1; j < CHAINS; j++)
        acc[0] = _mm256_add_ps(acc[0], acc[j]);
    _mm256_storeu_ps(out, acc[0]);
    for (int j = 0; j < 8; j++)
        s += out[j];
    return s;
}
#endif

static float fma_scalar(int64_t iters)
{
    float acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = (float)j;
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS; j++)
            acc[j] = acc[j] * 0.999999f + 1e-7f;
    float s = 0;
    for (int j = 0; j < CHAINS; j++)
        s += acc[j];
    return s;
}

typedef struct {
    int64_t iters;
    int lanes;
    volatile float sink;
} peak_job;

static void peak_task(void *ctx, int64_t task, int thread)
{
    (void)task, (void)thread;
    peak_job *j = ctx;
    float r;
#if defined(__x86_64__)
    if (j->lanes == 16)
        r = fma_avx512(j->iters);
    else if (j->lanes == 8)
        r = fma_avx2(j->iters);
    else
#endif
        r = fma_scalar(j->iters);
    j->sink = r;
}

double pd_fma_peak(double seconds)
{
    pd_isa isa = pd_cpu_isa();
    peak_job j = {.iters = 1 << 16, .lanes = isa == PD_ISA_AVX512 ? 16 : isa == PD_ISA_AVX2 ? 8 : 1};
    int threads = pd_threads();
    double best = 0;
    /* Grow the run until it lasts, then keep the best of a few. */
    for (int round = 0; round < 40; round++) {
        gint64 t0 = g_get_monotonic_time();
        pd_parallel_for(threads, peak_task, &j);
        double dt = (double)(g_get_monotonic_time() - t0) / 1e6;
        double gflops = 2.0 * CHAINS * j.lanes * (double)j.iters * threads / dt / 1e9;
        best = gflops > best ? gflops : best;
        if (dt < seconds / 4)
            j.iters *= 2;
        else if (round >= 4)
            break;
    }
    return best;
}
