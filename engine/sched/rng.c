/* rng.c — MT19937 and PyTorch's two CPU normal samplers (see rng.h). */
#include "sched/rng.h"

#include <math.h>

enum { MT_N = 624, MT_M = 397 };

void pd_rng_seed(pd_rng *r, uint64_t seed)
{
    /* std::mt19937's init: PyTorch truncates the 64-bit seed to 32 bits. */
    r->mt[0] = (uint32_t)seed;
    for (int i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = MT_N;
    r->has_cached = 0;
    r->cached = 0;
}

/* Regenerates all 624 words at once (the reference "twist"). */
static void mt_twist(pd_rng *r)
{
    uint32_t *mt = r->mt;
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (mt[i] & 0x80000000u) | (mt[(i + 1) % MT_N] & 0x7fffffffu);
        mt[i] = mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    r->index = 0;
}

uint32_t pd_rng_u32(pd_rng *r)
{
    if (r->index >= MT_N)
        mt_twist(r);
    uint32_t y = r->mt[r->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* uniform_real_distribution<double>(0, 1): 53 bits of random64(), whose
 * first draw is the high half. */
static double uniform53(pd_rng *r)
{
    uint64_t hi = pd_rng_u32(r);
    uint64_t lo = pd_rng_u32(r);
    uint64_t r64 = (hi << 32) | lo;
    return (double)(r64 & ((UINT64_C(1) << 53) - 1)) * 0x1p-53;
}

/* uniform_real_distribution<float>(0, 1): 24 bits of one random(). */
static float uniform24(pd_rng *r)
{
    return (float)(pd_rng_u32(r) & ((1u << 24) - 1)) * 0x1p-24f;
}

/* at::normal_distribution<double>: Box-Muller in double with a one-value
 * cache that lives in the generator. */
static double normal_double(pd_rng *r)
{
    if (r->has_cached) {
        r->has_cached = 0;
        return r->cached;
    }
    double u1 = uniform53(r);
    double u2 = uniform53(r);
    double rad = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * M_PI * u1;
    r->cached = rad * sin(theta);
    r->has_cached = 1;
    return rad * cos(theta);
}

/* normal_fill_16: pairs x[j] with x[j+8] in float math (the reference ran
 * the AVX2 kernel, which also works in float; libm differs by a few ulps). */
static void fill16(float *x)
{
    const float two_pi = (float)(2.0 * M_PI);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - x[j]; /* [0,1) -> (0,1] so log stays finite */
        float u2 = x[j + 8];
        float rad = sqrtf(-2.0f * logf(u1));
        float theta = two_pi * u2;
        x[j] = rad * cosf(theta);
        x[j + 8] = rad * sinf(theta);
    }
}

void pd_rng_randn(pd_rng *r, float *out, int64_t n)
{
    if (n <= 0)
        return;
    if (n < 16) { /* PyTorch's serial path: one double normal per element */
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)normal_double(r);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = uniform24(r);
    for (int64_t i = 0; i + 16 <= n; i += 16)
        fill16(out + i);
    if (n % 16) {
        /* The tail: PyTorch redoes the last 16 (overlapping) elements from
         * fresh uniforms rather than handling a partial block. */
        float *t = out + n - 16;
        for (int i = 0; i < 16; i++)
            t[i] = uniform24(r);
        fill16(t);
    }
}
