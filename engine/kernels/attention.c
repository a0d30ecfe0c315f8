#include "kernels/attention.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/pool.h"

static float dot(const float *a, const float *b, int64_t d)
{
    float s = 0;
    for (int64_t c = 0; c < d; c++)
        s += a[c] * b[c];
    return s;
}

/* Keys query i may see: j < visible(i). */
static int64_t visible(int64_t i, int64_t nq, int64_t nk, int causal)
{
    if (!causal)
        return nk;
    int64_t n = i + (nk - nq) + 1;
    return n < 0 ? 0 : n < nk ? n : nk;
}

void pd_attention_ref(int heads, int64_t nq, int64_t nk, int64_t d,
                      const float *q, int64_t ldq, const float *k, int64_t ldk,
                      const float *v, int64_t ldv, float *out, int64_t ldo,
                      float scale, int causal)
{
    float *s = malloc((size_t)(nk ? nk : 1) * sizeof(float));
    if (!s)
        abort();
    for (int h = 0; h < heads; h++) {
        for (int64_t i = 0; i < nq; i++) {
            const float *qi = q + i * ldq + h * d;
            float *oi = out + i * ldo + h * d;
            int64_t n = visible(i, nq, nk, causal);
            float max = -INFINITY, sum = 0;
            for (int64_t j = 0; j < n; j++) {
                s[j] = scale * dot(qi, k + j * ldk + h * d, d);
                max = s[j] > max ? s[j] : max;
            }
            for (int64_t j = 0; j < n; j++)
                sum += s[j] = expf(s[j] - max);
            for (int64_t c = 0; c < d; c++)
                oi[c] = 0;
            for (int64_t j = 0; j < n; j++) {
                const float *vj = v + j * ldv + h * d;
                for (int64_t c = 0; c < d; c++)
                    oi[c] += s[j] * vj[c];
            }
            for (int64_t c = 0; c < d; c++)
                oi[c] = n ? oi[c] / sum : 0;
        }
    }
    free(s);
}

enum { BQ = 16, BK = 64 }; /* queries per task, keys per tile */

typedef struct {
    int64_t nq, nk, d, ldq, ldk, ldv, ldo, qblocks;
    const float *q, *k, *v;
    float *out, scale;
    int causal;
} attn_job;

static void attn_task(void *ctx, int64_t task, int thread)
{
    const attn_job *j = ctx;
    int64_t h = task / j->qblocks, i0 = task % j->qblocks * BQ, d = j->d;
    int64_t bq = j->nq - i0 < BQ ? j->nq - i0 : BQ;
    (void)thread;
    /* Scratch on the stack: BQ·(BK + PD_ATTENTION_MAX_D + 2) floats, 37 KiB. */
    float s[BQ * BK], o[BQ * PD_ATTENTION_MAX_D], mx[BQ], sum[BQ];
    int64_t kend = visible(i0 + bq - 1, j->nq, j->nk, j->causal);

    for (int64_t r = 0; r < bq; r++) {
        mx[r] = -INFINITY;
        sum[r] = 0;
        for (int64_t c = 0; c < d; c++)
            o[r * d + c] = 0;
    }
    for (int64_t j0 = 0; j0 < kend; j0 += BK) {
        int64_t bk = kend - j0 < BK ? kend - j0 : BK;
        for (int64_t r = 0; r < bq; r++) {
            const float *qi = j->q + (i0 + r) * j->ldq + h * d;
            int64_t n = visible(i0 + r, j->nq, j->nk, j->causal) - j0;
            n = n < 0 ? 0 : n < bk ? n : bk;
            if (n == 0)
                continue;
            float *sr = s + r * BK, tile_max = -INFINITY;
            for (int64_t c = 0; c < n; c++) {
                sr[c] = j->scale * dot(qi, j->k + (j0 + c) * j->ldk + h * d, d);
                tile_max = sr[c] > tile_max ? sr[c] : tile_max;
            }
            /* Online softmax: rescale what was summed under the old maximum. */
            float m = tile_max > mx[r] ? tile_max : mx[r];
            float corr = expf(mx[r] - m);
            float *orow = o + r * d;
            sum[r] *= corr;
            for (int64_t c = 0; c < d; c++)
                orow[c] *= corr;
            for (int64_t c = 0; c < n; c++) {
                float p = expf(sr[c] - m);
                const float *vj = j->v + (j0 + c) * j->ldv + h * d;
                sum[r] += p;
                for (int64_t e = 0; e < d; e++)
                    orow[e] += p * vj[e];
            }
            mx[r] = m;
        }
    }
    for (int64_t r = 0; r < bq; r++) {
        float *dst = j->out + (i0 + r) * j->ldo + h * d;
        for (int64_t c = 0; c < d; c++)
            dst[c] = sum[r] > 0 ? o[r * d + c] / sum[r] : 0;
    }
}

void pd_attention(int heads, int64_t nq, int64_t nk, int64_t d,
                  const float *q, int64_t ldq, const float *k, int64_t ldk,
                  const float *v, int64_t ldv, float *out, int64_t ldo,
                  float scale, int causal)
{
    assert(d <= PD_ATTENTION_MAX_D);
    if (nq <= 0 || heads <= 0)
        return;
    attn_job j = {nq, nk, d, ldq, ldk, ldv, ldo, (nq + BQ - 1) / BQ, q, k, v, out, scale, causal};
    pd_parallel_for(heads * j.qblocks, attn_task, &j);
}
