/* vmath.h — exp and the Gaussian tail for element-wise kernels, as scalar
 * inline functions written so that a loop calling them vectorizes: no libm
 * calls, no branches (bit-mask selects), no float-to-int conversions. Compiled
 * once per instruction set (activation_simd.h), so every path computes the
 * same formulas; attention's own intrinsics share the exp2 polynomial.
 *
 * Accuracy, measured against libm over every float class in
 * tests/unit/test_kernels.c: exp 3e-7 relative; x·sigmoid(x) 1e-6
 * relative; gelu 1e-6 relative plus 1e-7·|x| absolute (libm's own
 * 1 + erff(x/√2) loses that much by cancellation for x < 0).
 */
#ifndef PD_VMATH_H
#define PD_VMATH_H

#include <float.h>
#include <stdint.h>
#include <string.h>

/* 2^f on [−1/2, 1/2]: a degree-5 polynomial through the 6 Chebyshev nodes
 * (fitted here in long double; relative error 2.2e-7, about 2 ulp, below
 * the rounding of the scores it is applied to). Shared by every path so
 * they agree with each other. */
#define PD_EXP2_C0 0x1.000002p+0f
#define PD_EXP2_C1 0x1.62e43p-1f
#define PD_EXP2_C2 0x1.ebf906p-3f
#define PD_EXP2_C3 0x1.c6af6cp-5f
#define PD_EXP2_C4 0x1.3d107p-7f
#define PD_EXP2_C5 0x1.5f089p-10f

static inline uint32_t pd_vm_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float pd_vm_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* c ? a : b, with both computed. A ?: whose arms hold arithmetic is
 * control flow to the vectorizer: under the default -ftrapping-math it
 * may not evaluate an arm the source did not ask for. */
static inline float pd_vm_select(int c, float a, float b)
{
    uint32_t m = 0u - (uint32_t)c;
    return pd_vm_float((pd_vm_bits(a) & m) | (pd_vm_bits(b) & ~m));
}

/* e^x = 2^n · 2^f. n = round(x·log2 e); the remainder x − n·ln 2 is taken
 * in two parts (Cody–Waite: ln2_hi has 15 significant bits, so n·ln2_hi
 * and the subtraction are exact), so that f = r·log2 e carries only its
 * own rounding, whatever the size of x. x is clamped to [−127, 128]·ln 2:
 * n = −127 makes the exponent field 0 (result 0: denormal results are
 * flushed) and n = 128 makes it 255 (+inf), so the limits come out of the
 * same arithmetic, up to 0.5·ln 2 early (results below 1e-38 or above
 * 1.7e38). NaN passes the clamps (comparisons are false) and the
 * polynomial. */
static inline float pd_vm_exp(float x)
{
    const float log2e = 0x1.715476p+0f, ln2_hi = 0x1.62e4p-1f, ln2_lo = 0x1.7f7d1cp-20f;
    const float shift = 0x1.8p+23f; /* adding it rounds to an integer, kept in the low bits */
    const float lo = -127 * 0x1.62e43p-1f, hi = 128 * 0x1.62e43p-1f;
    x = pd_vm_select(x < lo, lo, x);
    x = pd_vm_select(x > hi, hi, x);
    float big = x * log2e + shift;
    float n = big - shift;
    float f = ((x - n * ln2_hi) - n * ln2_lo) * log2e;
    float p = PD_EXP2_C5;
    p = p * f + PD_EXP2_C4;
    p = p * f + PD_EXP2_C3;
    p = p * f + PD_EXP2_C2;
    p = p * f + PD_EXP2_C1;
    p = p * f + PD_EXP2_C0;
    /* big's bit pattern is shift's plus n; the shift drops the wrapped high bits. */
    uint32_t scale = (pd_vm_bits(big) - pd_vm_bits(shift) + 127u) << 23;
    return p * pd_vm_float(scale);
}

/* x·sigmoid(a·x) = x / (1 + e^(−a·x)). Where the exponential is +inf the
 * quotient's limit is −0 (also for x = −inf, where it would be −inf/inf). */
static inline float pd_vm_xsigmoid(float x, float a)
{
    float e = pd_vm_exp(-a * x);
    float s = x / (1.0f + e);
    return pd_vm_select(e > FLT_MAX, -0.0f, s);
}

/* x·Φ(x), Φ the normal CDF, from the tail q = erfc(u)/2, u = |x|/√2:
 * erfc(u) = t·e^(P(t) − u²), t = 2/(2 + u) ∈ (0, 1], P of degree 10 (the
 * Chebyshev interpolant of ln(erfc(u)/t) + u² on t ∈ [0, 1], fitted in
 * double; 1e-7 absolute in the exponent, i.e. relative on erfc). Φ is q
 * for x < 0, so the left tail keeps its relative accuracy. */
static inline float pd_vm_gelu(float x)
{
    float u = pd_vm_float(pd_vm_bits(x) & 0x7fffffffu) * 0x1.6a09e6p-1f; /* |x|/√2 */
    float t = 2.0f / (2.0f + u);
    float p = 0x1.389576p-8f;
    p = p * t + 0x1.2bbf84p-3f;
    p = p * t - 0x1.897356p-1f;
    p = p * t + 0x1.6c55p+0f;
    p = p * t - 0x1.1642bap+0f;
    p = p * t + 0x1.06e05p-2f;
    p = p * t - 0x1.70c418p-3f;
    p = p * t + 0x1.8848a8p-4f;
    p = p * t + 0x1.7f2804p-2f;
    p = p * t + 0x1.00016p+0f;
    p = p * t - 0x1.43f89cp+0f;
    float q = 0.5f * t * pd_vm_exp(p - u * u);
    float phi = pd_vm_select(x > 0, 1.0f - q, q);
    /* Φ = 0 only far left, where x·Φ is −0 (and −inf·0 would be NaN). */
    return pd_vm_select(phi == 0, -0.0f, x * phi);
}

#endif
