/* gemm_ref.c — the specification of pd_gemm, and the portable micro-kernel
 * that runs pd_gemm's blocking where no SIMD path applies. */
#include <assert.h>
#include <stdlib.h>

#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"

void pd_gemm_ref(int64_t M, int64_t N, int64_t K, const float *X, int64_t ldx,
                 const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
                 int accumulate)
{
    assert(pd_weight_rows(W) == N && pd_weight_cols(W) == K);
    assert(ldx >= K && ldy >= N);
    assert(!bias || pd_weight_numel(bias) == N);
    float *w = malloc((size_t)(K > 0 ? K : 1) * sizeof *w);
    if (!w)
        abort();
    for (int64_t n = 0; n < N; n++) {
        pd_weight_read(W, n, 0, K, w);
        float b = 0.0f;
        if (bias)
            pd_gemm_read_bias(bias, n, 1, &b);
        for (int64_t m = 0; m < M; m++) {
            const float *x = X + m * ldx;
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s += x[k] * w[k];
            s += b;
            float *y = Y + m * ldy + n;
            *y = accumulate ? *y + s : s;
        }
    }
    free(w);
}

/* 4 × 8: small enough that a compiler keeps the tile in 8 SSE or 4 NEON
 * registers and vectorizes the j loop; the point of this path is
 * correctness on any CPU and a test of the blocking, not speed. */
enum { MR = 4, NR = 8 };

static void micro_4x8(int64_t kc, const float *xp, const float *wp, float *y, int64_t ldy,
                      const float *bias, int load_y, const pd_gemm_prefetch *pf)
{
    (void)pf;
    float c[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                c[i][j] += xp[k * MR + i] * wp[k * NR + j];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            float v = c[i][j];
            if (load_y)
                v += y[i * ldy + j];
            if (bias)
                v += bias[j];
            y[i * ldy + j] = v;
        }
}

const pd_gemm_kernel pd_gemm_kernel_ref = {
    .isa = PD_ISA_REF,
    .mr = MR, .nr = NR,
    .kc = 256, .nc = 128, .mc = 256,
    .micro = micro_4x8,
    /* pack_x and pack_w: all NULL, the portable packers in gemm.c */
};
