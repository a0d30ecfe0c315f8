/* test_kernels.c — layer and group norm, activations, GEGLU and attention:
 * each fast path against its _ref twin on odd shapes, and the _refs against
 * hand values. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/activation.h"
#include "kernels/activation_internal.h"
#include "kernels/attention.h"
#include "kernels/attention_internal.h"
#include "kernels/cpu.h"
#include "kernels/norm.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)(rng >> 40) * 0x1p-23f - 1.0f; /* [-1, 1) */
}
static float *randv(size_t n, float scale)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = scale * frand();
    return v;
}
static double maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The vectorized activations (vmath.h) against the libm _ref: both NaN,
 * or equal (infinities, exact zeros), or |f − r| <= 1e-6·|r| + slack.
 * 1e-6 relative is ~8 ulp: the exp polynomial (2.2e-7), its argument
 * reduction and the erfc fit (1e-7) each add 1-3 ulp. slack: 1e-30 where
 * the fast exp flushes to 0 / +inf up to 0.35 early near ±88 (results
 * below 1e-36 either way), plus 1e-7·|x| for GELU, whose _ref loses that
 * much in 1 + erff(x/√2) for x < 0 (the fast path computes the tail
 * directly). Returns 0 and reports on failure. */
static int close_to(float r, float f, double slack, const char *what, float x)
{
    if ((isnan(r) && isnan(f)) || r == f || fabs((double)f - r) <= 1e-6 * fabs(r) + slack)
        return 1;
    fprintf(stderr, "%s(%a): fast %a, ref %a\n", what, x, f, r);
    return 0;
}

static double act_slack(int act, float x)
{
    return 1e-30 + (act == PD_ACT_GELU ? 1e-7 * fabs(x) : 0);
}

static void test_layer_norm(void)
{
    /* Hand value: [1, 2, 3] -> mean 2, var 2/3. */
    float x[3] = {1, 2, 3}, y[3], one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    pd_weight g = {.dtype = PD_F32, .ndim = 1, .shape = {3}, .data = one};
    pd_weight b = {.dtype = PD_F32, .ndim = 1, .shape = {3}, .data = zero};
    pd_layer_norm_ref(1, 3, x, 3, &g, &b, 0, y, 3);
    CHECK(fabsf(y[0] + sqrtf(1.5f)) < 1e-6f && fabsf(y[1]) < 1e-6f && fabsf(y[2] - sqrtf(1.5f)) < 1e-6f);

    int64_t shapes[][2] = {{1, 1}, {7, 17}, {77, 768}, {100, 7}, {3, 4097}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t rows = shapes[s][0], n = shapes[s][1], ld = n + 3;
        float *in = randv((size_t)(rows * ld), 3.0f), *gam = randv((size_t)n, 1), *bet = randv((size_t)n, 1);
        for (int64_t i = 0; i < rows * ld; i++)
            in[i] += 5.0f; /* an offset tests the centring */
        pd_weight gw = {.dtype = PD_F32, .ndim = 1, .shape = {n}, .data = gam};
        pd_weight bw = {.dtype = PD_F32, .ndim = 1, .shape = {n}, .data = bet};
        float *r = calloc((size_t)(rows * ld), 4), *f = calloc((size_t)(rows * ld), 4);
        pd_layer_norm_ref(rows, n, in, ld, &gw, &bw, 1e-5f, r, ld);
        pd_layer_norm(rows, n, in, ld, &gw, &bw, 1e-5f, f, ld);
        CHECK_MSG(maxdiff(r, f, (size_t)(rows * ld)) == 0, "layer norm %lldx%lld", (long long)rows, (long long)n);
        /* In place gives the same (padding columns are left alone). */
        pd_layer_norm(rows, n, in, ld, &gw, &bw, 1e-5f, in, ld);
        double e = 0;
        for (int64_t i = 0; i < rows; i++)
            e = fmax(e, maxdiff(r + i * ld, in + i * ld, (size_t)n));
        CHECK_MSG(e == 0, "in place %lldx%lld", (long long)rows, (long long)n);
        free(in), free(gam), free(bet), free(r), free(f);
    }
}

static void test_activations(void)
{
    float x[4] = {-1, 0, 1, 3};
    pd_activate_ref(PD_ACT_GELU, x, 4);
    /* torch.nn.functional.gelu(torch.tensor([-1., 0., 1., 3.])) */
    CHECK(fabsf(x[0] + 0.15865526f) < 1e-6f && x[1] == 0 && fabsf(x[2] - 0.84134474f) < 1e-6f &&
          fabsf(x[3] - 2.99595031f) < 1e-6f);
    float q[2] = {1, -2};
    pd_activate_ref(PD_ACT_QUICK_GELU, q, 2);
    CHECK(fabsf(q[0] - 1.0f / (1.0f + expf(-1.702f))) < 1e-6f &&
          fabsf(q[1] + 2.0f / (1.0f + expf(3.404f))) < 1e-6f);
    float si[4] = {2, -3, 0, -100};
    pd_activate_ref(PD_ACT_SILU, si, 4);
    /* torch.nn.functional.silu(torch.tensor([2., -3., 0., -100.])) */
    CHECK(fabsf(si[0] - 1.76159416f) < 1e-6f && fabsf(si[1] + 0.14227763f) < 1e-6f && si[2] == 0 &&
          si[3] == 0 && !isnan(si[3]));
    /* The limits, on the _ref and every path. */
    for (int isa = -1; isa <= PD_ISA_AVX512; isa++) {
        float lim[3][4] = {{-INFINITY, INFINITY, NAN, -1e4f}, {-INFINITY, INFINITY, NAN, -1e4f},
                           {-INFINITY, INFINITY, NAN, -1e4f}};
        for (int a = PD_ACT_GELU; a <= PD_ACT_SILU; a++) {
            if (isa < 0)
                pd_activate_ref((pd_activation)a, lim[a], 4);
            else
                pd_activate_isa((pd_isa)isa, (pd_activation)a, lim[a], 4);
            CHECK_MSG(lim[a][0] == 0 && lim[a][1] == INFINITY && isnan(lim[a][2]) &&
                          lim[a][3] == 0,
                      "activation %d limits on %s", a, isa < 0 ? "_ref" : pd_isa_name((pd_isa)isa));
        }
    }
    /* Every path against the _ref: odd lengths (vector tails), random
     * values, and every float class at every offset of a vector. */
    static const float odd[] = {
        88, -88, 88.5f, -88.5f, 87.9f, -87.9f, 1e4f, -1e4f, FLT_MAX, -FLT_MAX, NAN, -NAN,
        INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN, 5.5f, -5.5f,
        -20, 20, 3e-8f, -3e-8f, 1, -1, 0.5f, -0.5f,
    };
    const size_t nodd = sizeof odd / sizeof *odd;
    static const int64_t lens[] = {1, 7, 17, 4097, 77 * 3072 + 13};
    for (int isa = PD_ISA_REF; isa <= PD_ISA_AVX512; isa++)
        for (int a = PD_ACT_GELU; a <= PD_ACT_SILU; a++)
            for (size_t L = 0; L < sizeof lens / sizeof *lens; L++) {
                size_t n = (size_t)lens[L];
                float *in = randv(n, 12.0f), *v = malloc(n * 4), *w = malloc(n * 4);
                for (size_t i = 0; i < n && L < 4; i++)
                    if (i % 3 == 0) /* odd and random values interleaved */
                        in[i] = odd[(i / 3 + (size_t)a) % nodd];
                memcpy(v, in, n * 4), memcpy(w, in, n * 4);
                pd_activate_ref((pd_activation)a, v, (int64_t)n);
                pd_activate_isa((pd_isa)isa, (pd_activation)a, w, (int64_t)n);
                int ok = 1;
                for (size_t i = 0; i < n && ok; i++)
                    ok = close_to(v[i], w[i], act_slack(a, in[i]), "activation", in[i]);
                CHECK_MSG(ok, "activation %d on %s, n = %zu", a, pd_isa_name((pd_isa)isa), n);
                free(in), free(v), free(w);
            }
    /* The odd values for sure, each at every vector offset. */
    for (int isa = PD_ISA_REF; isa <= PD_ISA_AVX512; isa++)
        for (int a = PD_ACT_GELU; a <= PD_ACT_SILU; a++)
            for (size_t k = 0; k < nodd; k++) {
                float v[17], w[17];
                for (int i = 0; i < 17; i++)
                    v[i] = w[i] = odd[(k + (size_t)i) % nodd];
                pd_activate_ref((pd_activation)a, v, 17);
                pd_activate_isa((pd_isa)isa, (pd_activation)a, w, 17);
                int ok = 1;
                for (int i = 0; i < 17; i++)
                    ok &= close_to(v[i], w[i], act_slack(a, odd[(k + (size_t)i) % nodd]),
                                   "activation", odd[(k + (size_t)i) % nodd]);
                CHECK_MSG(ok, "activation %d on %s, odd values from %zu", a,
                          pd_isa_name((pd_isa)isa), k);
            }
}

static void test_geglu(void)
{
    /* Hand value: value 3, gate 1 -> 3 * gelu(1); value -2, gate 0 -> 0. */
    float h[4] = {3, -2, 1, 0}, o[2];
    pd_geglu_ref(1, 2, h, o);
    CHECK(fabsf(o[0] - 3 * 0.84134474f) < 2e-6f && o[1] == 0);
    int64_t shapes[][2] = {{1, 1}, {7, 13}, {77, 1280}, {4096, 5}, {3, 10240}, {2, 4097}, {5, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t rows = shapes[s][0], n = shapes[s][1];
        float *in = randv((size_t)(rows * 2 * n), 4.0f);
        float *r = malloc((size_t)(rows * n) * 4), *f = malloc((size_t)(rows * n) * 4);
        pd_geglu_ref(rows, n, in, r);
        for (int isa = PD_ISA_REF; isa <= PD_ISA_AVX512; isa++) {
            pd_geglu_isa((pd_isa)isa, rows, n, in, f);
            int ok = 1;
            for (int64_t i = 0; i < rows * n && ok; i++) {
                float v = in[i / n * 2 * n + i % n], g = in[i / n * 2 * n + n + i % n];
                ok = close_to(r[i], f[i], fabs(v) * act_slack(PD_ACT_GELU, g), "geglu", g);
            }
            CHECK_MSG(ok, "geglu %lldx%lld on %s", (long long)rows, (long long)n,
                      pd_isa_name((pd_isa)isa));
        }
        pd_geglu(rows, n, in, f);
        /* Row r's value j and gate j, checked against the formula directly. */
        int64_t rr = rows - 1, j = n / 2;
        float v = in[rr * 2 * n + j], g = in[rr * 2 * n + n + j];
        float want = v * 0.5f * g * (1 + erff(g / sqrtf(2)));
        CHECK(fabsf(f[rr * n + j] - want) <= 1e-6f * (1 + fabsf(v * g)));
        free(in), free(r), free(f);
    }
}

static void test_group_norm(void)
{
    /* Hand values: 2 pixels × 4 channels, 2 groups. Group 0 holds
     * {1, 3, 5, 7}: mean 4, var 5; group 1 holds {0, 0, 2, 2}: mean 1,
     * var 1. gamma 2, beta 1 on every channel. */
    float x[8] = {1, 3, 0, 0, 5, 7, 2, 2}, y[8], two[4] = {2, 2, 2, 2}, one[4] = {1, 1, 1, 1};
    pd_weight g = {.dtype = PD_F32, .ndim = 1, .shape = {4}, .data = two};
    pd_weight b = {.dtype = PD_F32, .ndim = 1, .shape = {4}, .data = one};
    pd_group_norm_ref(1, 2, 4, 2, x, &g, &b, 0, 0, y);
    const float r5 = 1 / sqrtf(5);
    const float want[8] = {1 - 6 * r5, 1 - 2 * r5, -1, -1, 1 + 2 * r5, 1 + 6 * r5, 3, 3};
    int ok = 1;
    for (int i = 0; i < 8; i++)
        ok &= fabsf(y[i] - want[i]) < 1e-6f;
    CHECK_MSG(ok, "group norm hand values");
    pd_group_norm_ref(1, 2, 4, 2, x, &g, &b, 0, 1, y);
    ok = 1;
    for (int i = 0; i < 8; i++)
        ok &= fabsf(y[i] - want[i] / (1 + expf(-want[i]))) < 1e-6f;
    CHECK_MSG(ok, "group norm + SiLU hand values");

    /* B, HW, C, groups: the SD shapes scaled down, and odd ones (C/G = 1,
     * 3, 4, 10, 40; HW = 1, a prime; one image of a lone group). HW·C
     * of 97·1280 and the last two span several statistics chunks (3, 8
     * and 17 per image). */
    static const int shapes[][4] = {
        {2, 64, 320, 32}, {1, 49, 128, 32}, {2, 13, 9, 3}, {1, 1, 7, 7}, {2, 97, 1280, 32},
        {1, 300, 4, 1}, {3, 17, 96, 32}, {1, 5, 2560, 32}, {2, 1, 64, 16},
        {1, 4099, 64, 32}, {2, 6007, 96, 24},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int B = shapes[s][0], HW = shapes[s][1], C = shapes[s][2], G = shapes[s][3];
        size_t n = (size_t)B * HW * C;
        float *in = randv(n, 3.0f), *gam = randv((size_t)C, 1), *bet = randv((size_t)C, 1);
        for (size_t i = 0; i < n; i++)
            in[i] += 5.0f; /* an offset tests the centring */
        pd_weight gw = {.dtype = PD_F32, .ndim = 1, .shape = {C}, .data = gam};
        pd_weight bw = {.dtype = PD_F32, .ndim = 1, .shape = {C}, .data = bet};
        for (int silu = 0; silu < 2; silu++) {
            float *r = malloc(n * 4), *f = malloc(n * 4), *ip = malloc(n * 4);
            pd_group_norm_ref(B, HW, C, G, in, &gw, &bw, 1e-6f, silu, r);
            /* The statistics and the affine step are shared code: equal to
             * the bit. The fused SiLU is vmath.h's: within close_to's
             * tolerance, with 1e-7 absolute slack — the normalized values
             * are O(1), and an FMA-contracted affine step (clang) can move
             * a value that cancels to near 0 by an ulp of its terms. */
            for (int isa = PD_ISA_REF; isa <= PD_ISA_AVX512; isa++) {
                pd_group_norm_isa((pd_isa)isa, B, HW, C, G, in, &gw, &bw, 1e-6f, silu, f);
                memcpy(ip, in, n * 4);
                pd_group_norm_isa((pd_isa)isa, B, HW, C, G, ip, &gw, &bw, 1e-6f, silu, ip);
                int ok = maxdiff(f, ip, n) == 0;
                for (size_t i = 0; i < n && ok; i++)
                    ok = silu ? close_to(r[i], f[i], 1e-7, "group norm silu", in[i]) : r[i] == f[i];
                CHECK_MSG(ok, "group norm B%d HW%d C%d G%d silu%d on %s", B, HW, C, G, silu,
                          pd_isa_name((pd_isa)isa));
            }
            /* The _ref against the formula in double, straight from the
             * definition (two passes per group). */
            int cg = C / G;
            double worst = 0;
            for (int bi = 0; bi < B; bi++)
                for (int gi = 0; gi < G; gi++) {
                    double m = 0, v = 0, cnt = (double)HW * cg;
                    for (int p = 0; p < HW; p++)
                        for (int c = gi * cg; c < (gi + 1) * cg; c++)
                            m += in[((size_t)bi * HW + p) * C + c];
                    m /= cnt;
                    for (int p = 0; p < HW; p++)
                        for (int c = gi * cg; c < (gi + 1) * cg; c++) {
                            double d = in[((size_t)bi * HW + p) * C + c] - m;
                            v += d * d;
                        }
                    double rstd = 1 / sqrt(v / cnt + 1e-6f);
                    for (int p = 0; p < HW; p++)
                        for (int c = gi * cg; c < (gi + 1) * cg; c++) {
                            size_t i = ((size_t)bi * HW + p) * C + c;
                            double e = (in[i] - m) * rstd * gam[c] + bet[c];
                            if (silu)
                                e = e / (1 + exp(-e));
                            worst = fmax(worst, fabs(r[i] - e) / (1 + fabs(e)));
                        }
                }
            CHECK_MSG(worst < 4e-6, "group norm B%d HW%d C%d G%d silu%d: %g from the formula", B,
                      HW, C, G, silu, worst);
            free(r), free(f), free(ip);
        }
        free(in), free(gam), free(bet);
    }
}

/* Every path — portable, AVX2, AVX-512 as far as this CPU goes, through
 * pd_attention_isa — against pd_attention_ref on odd shapes: sizes around
 * the vector (8, 16), query-block (16, 24, 48) and key-tile (64 or 128,
 * and the longer last tile) boundaries, head sizes that are not multiples of the micro-tiles, causal
 * with nq < nk and nq > nk (queries that see no key give zeros), tasks
 * of several query blocks (8 heads of 300 queries, with up to 4 threads),
 * and padded rows whose padding must stay untouched.
 *
 * Tolerance: the paths sum the dot products in another order, fold
 * scale·log2(e) into q and use a polynomial exp2 (2 ulp), so a score s
 * comes out with an error of a few ulp of the terms it sums, up to
 * |s| <= smax = scale·d·max|q|·max|k|. A score error δ scales that key's
 * weight by about 1 + δ, and the output is a weighted mean of v rows, so
 * it moves by at most about 2δ·max|v|; summing nk weights adds a few ulp
 * more. Hence |fast − ref| <= 2·eps·max|v|·(smax + sqrt(nk)) — measured
 * errors reach a sixth of that (80 eps at smax = 286) — while bugs (a
 * wrong mask, a lost tile) move outputs by a sizeable fraction of max|v|. */
static void test_attention(void)
{
    /* Hand value: one query, two keys with equal scores -> the mean of v. */
    float q1[2] = {1, 0}, k2[4] = {1, 5, 1, -5}, v2[4] = {2, 4, 6, 8}, o1[2];
    pd_attention_ref(1, 1, 2, 2, q1, 2, k2, 2, v2, 2, o1, 2, 1.0f, 0);
    CHECK(fabsf(o1[0] - 4) < 1e-6f && fabsf(o1[1] - 6) < 1e-6f);
    /* Causal: the first query sees only the first key. */
    float o2[4], q2[4] = {1, 0, 1, 0};
    pd_attention_ref(1, 2, 2, 2, q2, 2, k2, 2, v2, 2, o2, 2, 1.0f, 1);
    CHECK(o2[0] == 2 && o2[1] == 4);

    static const int64_t sizes[] = {1, 7, 17, 77, 100, 129, 300};
    static const int64_t dims[] = {1, 3, 8, 17, 40, 64, 80, 160, 512};
    static const int head_counts[] = {1, 2, 3, 8};
    const int ns = (int)(sizeof sizes / sizeof *sizes);
    const float pad = 1234.5f; /* in the padding columns of out: must survive */
    double worst[3] = {0};     /* error / tolerance, by path */
    int n = 0, ok[3] = {0};
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        for (int a = 0; a < ns; a++) {
            for (int b = 0; b < ns; b++) {
                for (int causal = 0; causal < 2; causal++, n++) {
                    int64_t d = dims[di], nq = sizes[a], nk = sizes[b];
                    /* heads cycle through 1, 2, 3, 8; one for the large d (test time) */
                    int h = head_counts[n % 4];
                    if (d >= 160)
                        h = 1;
                    int64_t w = h * d, ldq = w + 3, ldk = w + 5, ldv = w + 1, ldo = w + 7;
                    /* every 5th case: peaked scores (a softmax close to a max) */
                    float qmax = n % 5 ? 2.0f : 16.0f, kmax = 2.0f, vmax = 1.0f;
                    float *q = randv((size_t)(nq * ldq), qmax), *k = randv((size_t)(nk * ldk), kmax);
                    float *v = randv((size_t)(nk * ldv), vmax);
                    float *r = malloc((size_t)(nq * ldo) * 4), *f = malloc((size_t)(nq * ldo) * 4);
                    float scale = 1.0f / sqrtf((float)d);
                    double smax = scale * (double)d * qmax * kmax;
                    double tol = 2 * FLT_EPSILON * vmax * (smax + sqrt((double)nk));
                    pd_attention_ref(h, nq, nk, d, q, ldq, k, ldk, v, ldv, r, ldo, scale, causal);
                    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++) {
                        for (int64_t i = 0; i < nq * ldo; i++)
                            f[i] = pad;
                        pd_attention_isa((pd_isa)isa, h, nq, nk, d, q, ldq, k, ldk, v, ldv, f,
                                         ldo, scale, causal);
                        double e = 0;
                        int pad_ok = 1;
                        for (int64_t i = 0; i < nq; i++) {
                            for (int64_t c = 0; c < w; c++) {
                                double dd = fabs((double)r[i * ldo + c] - f[i * ldo + c]);
                                e = dd <= e ? e : dd; /* a NaN sticks */
                            }
                            for (int64_t c = w; c < ldo; c++)
                                pad_ok &= f[i * ldo + c] == pad;
                        }
                        worst[isa] = e / tol > worst[isa] ? e / tol : worst[isa];
                        int good = e <= tol && pad_ok;
                        ok[isa] += good;
                        CHECK_MSG(good, "attention %s h%d nq%lld nk%lld d%lld causal%d: max diff %g "
                                  "(tolerance %g)%s", pd_isa_name((pd_isa)isa), h, (long long)nq,
                                  (long long)nk, (long long)d, causal, e, tol,
                                  pad_ok ? "" : ", padding overwritten");
                    }
                    free(q), free(k), free(v), free(r), free(f);
                }
            }
        }
    }
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++)
        printf("attention %s: %d/%d shapes within tolerance; worst error %.3f of it\n",
               pd_isa_name((pd_isa)isa), ok[isa], n, worst[isa]);
}

int main(void)
{
    test_layer_norm();
    test_activations();
    test_geglu();
    test_group_norm();
    test_attention();
    return check_summary("unit-kernels");
}
