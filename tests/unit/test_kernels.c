/* test_kernels.c — layer norm, activations and attention: each fast path
 * against its _ref twin on odd shapes, and the _refs against hand values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
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
    for (int a = PD_ACT_GELU; a <= PD_ACT_QUICK_GELU; a++) {
        size_t n = 77 * 3072 + 13;
        float *v = randv(n, 6.0f), *w = malloc(n * 4);
        memcpy(w, v, n * 4);
        pd_activate_ref((pd_activation)a, v, (int64_t)n);
        pd_activate((pd_activation)a, w, (int64_t)n);
        CHECK_MSG(maxdiff(v, w, n) == 0, "activation %d", a);
        free(v), free(w);
    }
}

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

    struct { int heads; int64_t nq, nk, d; int causal; } cases[] = {
        {1, 1, 1, 1, 0}, {2, 7, 17, 8, 0}, {12, 77, 77, 64, 1}, {3, 17, 77, 40, 0},
        {2, 100, 100, 17, 1}, {1, 33, 65, 160, 0}, {2, 130, 129, 64, 1}, {1, 5, 300, 3, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int h = cases[c].heads;
        int64_t nq = cases[c].nq, nk = cases[c].nk, d = cases[c].d, w = h * d, ld = w + 5;
        float *q = randv((size_t)(nq * ld), 2), *k = randv((size_t)(nk * ld), 2), *v = randv((size_t)(nk * ld), 1);
        float *r = calloc((size_t)(nq * ld), 4), *f = calloc((size_t)(nq * ld), 4);
        float scale = 1.0f / sqrtf((float)d);
        pd_attention_ref(h, nq, nk, d, q, ld, k, ld, v, ld, r, ld, scale, cases[c].causal);
        pd_attention(h, nq, nk, d, q, ld, k, ld, v, ld, f, ld, scale, cases[c].causal);
        double e = maxdiff(r, f, (size_t)(nq * ld));
        CHECK_MSG(e < 2e-6, "attention h%d nq%lld nk%lld d%lld causal%d: max diff %g", h, (long long)nq,
                  (long long)nk, (long long)d, cases[c].causal, e);
        free(q), free(k), free(v), free(r), free(f);
    }
}

int main(void)
{
    test_layer_norm();
    test_activations();
    test_attention();
    return check_summary("unit-kernels");
}
