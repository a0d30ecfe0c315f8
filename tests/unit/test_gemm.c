/* test_gemm.c — every pd_gemm path against pd_gemm_ref, the pool, cpu.
 *
 * Each available path (ref blocking, AVX2, AVX-512 — through pd_gemm_isa,
 * whatever PALDIFF_ISA says) runs on odd shapes with every dtype, bias and
 * accumulate setting and row strides wider than the rows.
 *
 * Tolerance: the paths add the same products in a different order (k
 * blocks, partial sums in Y, bias first or last). Each order's rounding
 * error is a sum of about K terms of size u·|partial sum| (u = 2^-24), and
 * |partial sum| <= S = Σ_k |x_k||w_k| + |bias| + |y0|. With random signs the
 * errors are a random walk: |a - b| stays well under 16·u·sqrt(K + 2)·S
 * (the worst-case bound 2(K + 2)·u·S would be too loose to notice one
 * missing product at K = 4097). One wrong, missing or doubled product
 * changes an output by about S / K, which this still catches at K = 4097.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/pool.h"
#include "kernels/weight.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static float rng_float(void) /* uniform in [-1, 1) */
{
    return (float)((double)(rng_next() >> 40) / (double)(1u << 23) - 1.0);
}

/* A weight of the given dtype with random contents, and the buffers it
 * points to (owned here). */
typedef struct {
    pd_weight w;
    void *data;
    uint16_t *palette;
} test_weight;

static test_weight make_weight(pd_dtype dtype, int ndim, const int64_t *shape, int bits,
                               int64_t group_size)
{
    test_weight t = {.w = {.dtype = dtype, .ndim = ndim}};
    memcpy(t.w.shape, shape, (size_t)ndim * sizeof *shape);
    int64_t numel = pd_weight_numel(&t.w);
    size_t bytes;
    switch (dtype) {
    case PD_F32:
        bytes = (size_t)numel * 4;
        t.data = malloc(bytes ? bytes : 1);
        for (int64_t i = 0; i < numel; i++)
            ((float *)t.data)[i] = rng_float();
        break;
    case PD_F16:
    case PD_BF16:
        bytes = (size_t)numel * 2;
        t.data = malloc(bytes ? bytes : 1);
        for (int64_t i = 0; i < numel; i++)
            ((uint16_t *)t.data)[i] = dtype == PD_F16 ? pd_f32_to_f16(rng_float())
                                                      : pd_f32_to_bf16(rng_float());
        break;
    case PD_PAL: {
        t.w.bits = bits; /* byte-aligned rows (palette.h) */
        bytes = (size_t)pd_weight_bytes(&t.w);
        t.data = malloc(bytes ? bytes : 1);
        for (size_t i = 0; i < bytes; i++)
            ((uint8_t *)t.data)[i] = (uint8_t)rng_next();
        int64_t entries = pd_weight_rows(&t.w) / group_size << bits;
        t.palette = malloc((size_t)entries * sizeof *t.palette);
        for (int64_t i = 0; i < entries; i++)
            t.palette[i] = pd_f32_to_f16(rng_float());
        t.w.bits = bits;
        t.w.group_size = group_size;
        t.w.palette = t.palette;
        break;
    }
    }
    t.w.data = t.data;
    return t;
}

static void free_weight(test_weight *t)
{
    free(t->data);
    free(t->palette);
}

/* Largest proper divisor of n (1 for a prime), so palettes come in groups. */
static int64_t proper_divisor(int64_t n)
{
    for (int64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return n / d;
    return 1;
}

typedef struct {
    int64_t M, N, K;
    pd_dtype dtype;
    int bits;             /* PD_PAL */
    int grouped;          /* PD_PAL: group_size a proper divisor of N, else N */
    int bias;             /* 0 none, 1 F32 [N], 2 F16 [1, N] */
    int accumulate;
    int64_t pad_x, pad_y; /* ldx = K + pad_x, ldy = N + pad_y */
    int conv;             /* W as [N, K/9, 3, 3] */
} gemm_case;

static const char *dtype_name(pd_dtype d)
{
    static const char *names[] = {"f32", "f16", "bf16", "pal"};
    return names[d];
}

#define Y_PAD_SENTINEL 12345.0f

static void run_case(const gemm_case *c)
{
    const int64_t M = c->M, N = c->N, K = c->K;
    const int64_t ldx = K + c->pad_x, ldy = N + c->pad_y;

    int64_t shape[4] = {N, K};
    int ndim = 2;
    if (c->conv) {
        shape[1] = K / 9;
        shape[2] = shape[3] = 3;
        ndim = 4;
    }
    int64_t group = c->dtype == PD_PAL && c->grouped ? proper_divisor(N) : N;
    test_weight w = make_weight(c->dtype, ndim, shape, c->bits, group);
    test_weight b = {.data = NULL};
    if (c->bias == 1)
        b = make_weight(PD_F32, 1, (int64_t[]){N}, 0, 0);
    else if (c->bias == 2)
        b = make_weight(PD_F16, 2, (int64_t[]){1, N}, 0, 0);
    const pd_weight *bias = c->bias ? &b.w : NULL;

    /* X's padding is NaN: a kernel reading past K poisons its outputs. */
    float *x = malloc((size_t)(M * ldx) * sizeof *x);
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < ldx; k++)
            x[m * ldx + k] = k < K ? rng_float() : NAN;
    float *y0 = malloc((size_t)(M * ldy) * sizeof *y0);
    for (int64_t i = 0; i < M * ldy; i++)
        y0[i] = i % ldy < N ? rng_float() : Y_PAD_SENTINEL;

    /* S for every output (see the top of the file). */
    float *wf = malloc((size_t)(N * K + 1) * sizeof *wf);
    for (int64_t n = 0; n < N; n++)
        pd_weight_read(&w.w, n, 0, K, wf + n * K);
    float *bf = calloc((size_t)N, sizeof *bf);
    if (bias)
        pd_gemm_read_bias(bias, 0, N, bf);
    double *scale = malloc((size_t)(M * N) * sizeof *scale);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = fabs(bf[n]) + (c->accumulate ? fabs(y0[m * ldy + n]) : 0.0);
            for (int64_t k = 0; k < K; k++)
                s += fabs(x[m * ldx + k]) * fabs(wf[n * K + k]);
            scale[m * N + n] = s;
        }

    float *yref = malloc((size_t)(M * ldy) * sizeof *yref);
    memcpy(yref, y0, (size_t)(M * ldy) * sizeof *yref);
    pd_gemm_ref(M, N, K, x, ldx, &w.w, bias, yref, ldy, c->accumulate);

    const double tol = 16.0 * 0x1p-24 * sqrt((double)K + 2.0);
    float *y = malloc((size_t)(M * ldy) * sizeof *y);
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++) {
        memcpy(y, y0, (size_t)(M * ldy) * sizeof *y);
        pd_gemm_isa((pd_isa)isa, M, N, K, x, ldx, &w.w, bias, y, ldy, c->accumulate);
        int64_t bad = 0, first = -1, pad_hit = 0;
        for (int64_t m = 0; m < M; m++) {
            for (int64_t n = 0; n < N; n++) {
                double d = fabs((double)y[m * ldy + n] - yref[m * ldy + n]);
                if (!(d <= tol * scale[m * N + n])) { /* also catches NaN */
                    if (first < 0)
                        first = m * ldy + n;
                    bad++;
                }
            }
            for (int64_t n = N; n < ldy; n++)
                pad_hit += y[m * ldy + n] != Y_PAD_SENTINEL;
        }
        CHECK_MSG(bad == 0,
                  "%s M=%lld N=%lld K=%lld %s bits=%d group=%lld bias=%d acc=%d ldx=%lld ldy=%lld: "
                  "%lld outputs off, first (%lld,%lld) %.9g vs ref %.9g",
                  pd_isa_name((pd_isa)isa), (long long)M, (long long)N, (long long)K,
                  dtype_name(c->dtype), c->bits, (long long)group, c->bias, c->accumulate,
                  (long long)ldx, (long long)ldy, (long long)bad,
                  (long long)(first < 0 ? 0 : first / ldy), (long long)(first < 0 ? 0 : first % ldy),
                  first < 0 ? 0.0 : y[first], first < 0 ? 0.0 : yref[first]);
        CHECK_MSG(pad_hit == 0, "%s M=%lld N=%lld K=%lld: %lld writes past N in Y's rows",
                  pd_isa_name((pd_isa)isa), (long long)M, (long long)N, (long long)K,
                  (long long)pad_hit);
    }

    free(y);
    free(yref);
    free(scale);
    free(bf);
    free(wf);
    free(y0);
    free(x);
    free_weight(&b);
    free_weight(&w);
}

static void test_small_shapes(void)
{
    static const int64_t dims[] = {1, 7, 17, 77, 100};
    int counter = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int k = 0; k < 5; k++)
                for (int dt = PD_F32; dt <= PD_PAL; dt++)
                    for (int v = 0; v < 4; v++, counter++) {
                        gemm_case c = {
                            .M = dims[a], .N = dims[b], .K = dims[k],
                            .dtype = (pd_dtype)dt,
                            .bits = 2 + counter % 7,           /* 2..8 */
                            .grouped = (counter / 7) % 2,
                            .bias = v & 1 ? 1 + (counter / 2) % 2 : 0,
                            .accumulate = v >> 1,
                            .pad_x = counter % 3 == 0 ? 0 : counter % 5 + 1,
                            .pad_y = counter % 4 == 0 ? 0 : counter % 3 + 1,
                        };
                        run_case(&c);
                    }
}

static void test_large_shapes(void)
{
    /* One long dimension at a time: several row tiles, several column tiles
     * (more than nc columns) or several k steps (more than kc). */
    static const int64_t shapes[][3] = {
        {4097, 33, 77}, {77, 4097, 33}, {33, 77, 4097}, {100, 650, 1000}, {1, 3072, 768},
    };
    for (int s = 0; s < 5; s++)
        for (int dt = PD_F32; dt <= PD_PAL; dt++) {
            gemm_case c = {
                .M = shapes[s][0], .N = shapes[s][1], .K = shapes[s][2],
                .dtype = (pd_dtype)dt, .bits = 3 + s, .grouped = dt % 2,
                .bias = 1 + s % 2, .accumulate = (s + dt) % 2, .pad_x = dt, .pad_y = 3 - dt,
            };
            run_case(&c);
        }
}

static void test_conv_and_empty(void)
{
    /* A conv weight [N, C, 3, 3] is a [N, 9C] matrix. */
    for (int dt = PD_F32; dt <= PD_PAL; dt++) {
        gemm_case c = {.M = 50, .N = 40, .K = 27, .dtype = (pd_dtype)dt, .bits = 4,
                       .bias = 1, .conv = 1, .pad_y = 2};
        run_case(&c);
    }
    /* K = 0: Y (+)= bias. */
    for (int acc = 0; acc < 2; acc++) {
        gemm_case c = {.M = 5, .N = 9, .K = 0, .dtype = PD_F16, .bias = 1, .accumulate = acc};
        run_case(&c);
    }
}

/* pd_gemm (the dispatched path) on the three benchmark shapes, scaled down. */
static void test_public_entry(void)
{
    test_weight w = make_weight(PD_F16, 2, (int64_t[]){320, 288}, 0, 0);
    float *x = malloc(77 * 288 * sizeof *x), *y = malloc(77 * 320 * sizeof *y),
          *r = malloc(77 * 320 * sizeof *r);
    for (int i = 0; i < 77 * 288; i++)
        x[i] = rng_float();
    pd_gemm(77, 320, 288, x, 288, &w.w, NULL, y, 320, 0);
    pd_gemm_ref(77, 320, 288, x, 288, &w.w, NULL, r, 320, 0);
    double worst = 0;
    for (int i = 0; i < 77 * 320; i++)
        worst = fmax(worst, fabs(y[i] - r[i]));
    CHECK_MSG(worst < 1e-3, "pd_gemm (%s) differs from pd_gemm_ref by %g",
              pd_isa_name(pd_cpu_isa()), worst);
    free(x);
    free(y);
    free(r);
    free_weight(&w);
}

/* ---- pool and cpu ------------------------------------------------------ */

typedef struct {
    atomic_int *runs;
    atomic_int bad_thread;
} pool_ctx;

static void count_task(void *ctx, int64_t task, int thread)
{
    pool_ctx *p = ctx;
    atomic_fetch_add(&p->runs[task], 1);
    if (thread < 0 || thread >= pd_threads())
        atomic_store(&p->bad_thread, 1);
}

static void test_pool(void)
{
    int threads = pd_threads();
    CHECK_MSG(threads >= 1, "pd_threads() = %d", threads);
    static const int64_t sizes[] = {0, 1, 2, 3, 17, 1000};
    atomic_int *runs = malloc(1000 * sizeof *runs);
    int wrong = 0;
    for (int rep = 0; rep < 3000; rep++) {
        int64_t n = sizes[rep % 6];
        pool_ctx p = {.runs = runs};
        for (int64_t i = 0; i < n; i++)
            atomic_init(&runs[i], 0);
        atomic_init(&p.bad_thread, 0);
        /* Now and then wait long enough for the workers to go to sleep, so
         * the condition-variable hand-over runs too. */
        if (rep % 500 == 499)
            nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
        pd_parallel_for(n, count_task, &p);
        for (int64_t i = 0; i < n; i++)
            wrong += atomic_load(&runs[i]) != 1;
        wrong += atomic_load(&p.bad_thread);
    }
    CHECK_MSG(wrong == 0, "%d tasks not run exactly once (or bad thread index)", wrong);
    free(runs);
}

/* Two application threads calling at once: the pool runs their jobs one
 * after the other, each sees all its tasks run once, and GEMMs stay right. */
typedef struct {
    int wrong;
    test_weight w;
    float *x, *y, *ref;
} caller_ctx;

static void *caller(void *arg)
{
    caller_ctx *c = arg;
    atomic_int runs[64];
    for (int rep = 0; rep < 300; rep++) {
        pool_ctx p = {.runs = runs};
        for (int i = 0; i < 64; i++)
            atomic_init(&runs[i], 0);
        atomic_init(&p.bad_thread, 0);
        pd_parallel_for(64, count_task, &p);
        for (int i = 0; i < 64; i++)
            c->wrong += atomic_load(&runs[i]) != 1;
        c->wrong += atomic_load(&p.bad_thread);
        if (rep % 30 == 0) {
            pd_gemm(100, 96, 200, c->x, 200, &c->w.w, NULL, c->y, 96, 0);
            for (int i = 0; i < 100 * 96; i++)
                c->wrong += !(fabsf(c->y[i] - c->ref[i]) <= 1e-4f);
        }
    }
    return NULL;
}

static void test_concurrent_callers(void)
{
    caller_ctx c[2];
    for (int t = 0; t < 2; t++) {
        c[t] = (caller_ctx){.w = make_weight(PD_F32, 2, (int64_t[]){96, 200}, 0, 0)};
        c[t].x = malloc(100 * 200 * sizeof *c[t].x);
        c[t].y = malloc(100 * 96 * sizeof *c[t].y);
        c[t].ref = malloc(100 * 96 * sizeof *c[t].ref);
        for (int i = 0; i < 100 * 200; i++)
            c[t].x[i] = rng_float();
        pd_gemm_ref(100, 96, 200, c[t].x, 200, &c[t].w.w, NULL, c[t].ref, 96, 0);
    }
    pthread_t other;
    CHECK(pthread_create(&other, NULL, caller, &c[1]) == 0);
    caller(&c[0]);
    pthread_join(other, NULL);
    CHECK_MSG(c[0].wrong == 0 && c[1].wrong == 0, "concurrent callers: %d and %d wrong",
              c[0].wrong, c[1].wrong);
    for (int t = 0; t < 2; t++) {
        free(c[t].x);
        free(c[t].y);
        free(c[t].ref);
        free_weight(&c[t].w);
    }
}

static void test_cpu(void)
{
    pd_isa isa = pd_cpu_isa(), best = pd_cpu_isa_supported();
    CHECK(isa <= best);
    CHECK(!strcmp(pd_isa_name(PD_ISA_AVX512), "avx512"));
    printf("cpu: supported %s, used %s; %d threads\n", pd_isa_name(best), pd_isa_name(isa),
           pd_threads());
}

int main(void)
{
    test_cpu();
    test_pool();
    test_concurrent_callers();
    test_small_shapes();
    test_large_shapes();
    test_conv_and_empty();
    test_public_entry();
    return check_summary("unit-gemm");
}
