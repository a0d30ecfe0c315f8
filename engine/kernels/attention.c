/* attention.c — pd_attention: path choice, tiles, online softmax, threads;
 * and pd_attention_ref, the specification.
 *
 * A task is one head and up to NB_MAX blocks of bq queries (48 with
 * AVX-512; attention_internal.h has the layout). It transposes its queries
 * once, then walks the keys its blocks can see in tiles of 128 keys (64
 * for d > 160; see BK_SMALL_D), and for each tile and block:
 *
 *   scores:  s = Q_blk · K_tileᵀ, −inf where causally masked; tile maximum
 *   softmax: m_new = max(m, tile max); p = 2^(s − m_new); l = l·2^(m − m_new) + Σ p
 *   pv:      O = O·2^(m − m_new) + P · V_tile
 *
 * and finally writes O / l. The kernels come from the path's table, so the
 * tiling and masking logic here is shared by every path, the portable one
 * included.
 *
 * Scratch: one buffer per pool thread, allocated on the thread's first
 * task and reused by every later call, bounded by the tile sizes only:
 *
 *   (4·MAX_D·BQ_MAX + BK_MAX·BQ_MAX + (2 + 2·NB_MAX)·BQ_MAX) floats
 *   = 108 000 floats = 422 KiB per thread, whatever nq, nk and heads.
 *
 * At d = 40 a block's qt and ot take 15 KiB and the score tile 24 KiB, so
 * the kernels run mostly from L1; at d = 512 qt and ot live in L2. K and V rows
 * stream from L2/L3; tasks of one head are numbered together, so the
 * threads share them.
 */
#include "kernels/attention.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/attention_internal.h"
#include "kernels/pool.h"
#include "kernels/stats.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86_PATHS 1
#endif

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

/* ---- the portable kernels ---------------------------------------------- */

/* Plain loops over the same layout as the vector paths (one "lane"), so
 * that PD_ISA_REF runs the shared tiling and masking too; libm's exp2f. */
enum { REF_BQ = 16 };

static void scores_portable(const float *qt, int nq, const float *k, int64_t ldk, int bk,
                            int64_t d, int lim, float *s, float *tmax)
{
    for (int i = 0; i < nq; i++)
        tmax[i] = -INFINITY;
    for (int j = 0; j < bk; j++) {
        float *sj = s + j * REF_BQ;
        for (int i = 0; i < nq; i++)
            sj[i] = 0;
        for (int64_t c = 0; c < d; c++) {
            float kc = k[j * ldk + c];
            for (int i = 0; i < nq; i++)
                sj[i] += kc * qt[c * REF_BQ + i];
        }
        for (int i = 0; i < nq; i++) {
            if (j > i + lim)
                sj[i] = -INFINITY;
            tmax[i] = sj[i] > tmax[i] ? sj[i] : tmax[i];
        }
    }
}

static void softmax_portable(float *s, int nq, int bk, const float *tmax, float *m, float *l,
                             float *corr)
{
    for (int i = 0; i < nq; i++) {
        float mn = tmax[i] > m[i] ? tmax[i] : m[i], sum = 0;
        for (int j = 0; j < bk; j++)
            sum += s[j * REF_BQ + i] = exp2f(s[j * REF_BQ + i] - mn);
        corr[i] = exp2f(m[i] - mn);
        l[i] = l[i] * corr[i] + sum;
        m[i] = mn;
    }
}

static void pv_portable(const float *p, int nq, int bk, const float *v, int64_t ldv, int64_t d,
                        const float *corr, float *ot)
{
    for (int64_t c = 0; c < d; c++) {
        float *oc = ot + c * REF_BQ;
        for (int i = 0; i < nq; i++)
            oc[i] *= corr[i];
        for (int j = 0; j < bk; j++) {
            float vc = v[j * ldv + c];
            for (int i = 0; i < nq; i++)
                oc[i] += vc * p[j * REF_BQ + i];
        }
    }
}

static void pack_q_portable(const float *q, int64_t ldq, int nq, int64_t d, float mul, float *qt)
{
    for (int i = 0; i < nq; i++)
        for (int64_t c = 0; c < d; c++)
            qt[c * REF_BQ + i] = q[i * ldq + c] * mul;
}

static void store_portable(const float *ot, int nq, int64_t d, const float *l, float *out,
                           int64_t ldo)
{
    for (int i = 0; i < nq; i++) {
        float inv = l[i] > 0 ? 1.0f / l[i] : 0.0f;
        for (int64_t c = 0; c < d; c++)
            out[i * ldo + c] = ot[c * REF_BQ + i] * inv;
    }
}

const pd_attn_kernel pd_attn_kernel_ref = {
    .isa = PD_ISA_REF, .lanes = 1, .bq = REF_BQ, .cr = 1,
    .scores = scores_portable, .softmax = softmax_portable, .pv = pv_portable,
    .pack_q = pack_q_portable, .store = store_portable,
};

/* ---- per-thread scratch ---------------------------------------------- */

/* A task takes up to NB_MAX blocks of queries through each key tile in
 * turn, so each K and V row it loads serves up to NB_MAX·bq queries: at
 * d = 512 a tile pair is 256 KiB, and one block per pass made two threads
 * stream 16 MiB of K and V per 48 queries. Blocks get qt and ot from a
 * common area sized for two blocks at d = 512 (384 KiB: with a tile pair,
 * L2-sized); smaller heads fit more. The score tile, tile maxima and
 * corrections are used by one block at a time and shared. */
enum {
    NB_MAX = 4,
    /* Keys per tile: 128 up to d = 160 (measured 2-5 % faster than 64:
     * fewer passes over ot), 64 beyond, so that at d = 512 a K and V tile
     * pair (256 KiB) fits in L2 beside the blocks; a last tile takes up to
     * half a tile more rather than leave a sliver (nk = 77: one tile). */
    BK_SMALL_D = 128,
    BK_LARGE_D = 64,
    BK_MAX = BK_SMALL_D * 3 / 2,
    QO_FLOATS = 2 * 2 * PD_ATTENTION_MAX_D * PD_ATTN_BQ_MAX,
    S_FLOATS = BK_MAX * PD_ATTN_BQ_MAX,
    VEC_FLOATS = PD_ATTN_BQ_MAX,
    SCRATCH_FLOATS = QO_FLOATS + S_FLOATS + (2 + 2 * NB_MAX) * VEC_FLOATS,
};
/* Each part a multiple of 16 floats: each starts 64-byte aligned. */
_Static_assert(QO_FLOATS % 16 == 0 && S_FLOATS % 16 == 0 && VEC_FLOATS % 16 == 0,
               "scratch parts must keep 64-byte alignment");

static pd_scratch scratch = PD_SCRATCH("attention", SCRATCH_FLOATS);

/* ---- one task: one head, nb blocks of queries, every visible key ------ */

typedef struct {
    const pd_attn_kernel *kern;
    int64_t nq, nk, d, ldq, ldk, ldv, ldo;
    int64_t qblocks;  /* blocks of bq queries per head              */
    int64_t nb;       /* blocks per task                            */
    int64_t tasks;    /* tasks per head: ceil(qblocks / nb)         */
    int64_t stride;   /* floats per qt (and per ot) in the QO area   */
    int bk;           /* keys per tile                              */
    const float *q, *k, *v;
    float *out;
    float qmul; /* scale · log2(e): scores come out in base-2 units */
    int causal;
} attn_job;

/* Asks for rows [0, n) of a matrix, columns [0, d), to be brought into the
 * cache ahead of use. */
static void prefetch_rows(const float *p, int64_t ld, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        for (int64_t c = 0; c < d; c += 16)
            __builtin_prefetch(p + i * ld + c);
        __builtin_prefetch(p + i * ld + d - 1);
    }
}

static void attn_task(void *ctx, int64_t task, int thread)
{
    const attn_job *jb = ctx;
    const pd_attn_kernel *kn = jb->kern;
    const int bq = kn->bq;
    const int64_t d = jb->d, h = task / jb->tasks, b0 = task % jb->tasks * jb->nb;
    const int nb = (int)(jb->qblocks - b0 < jb->nb ? jb->qblocks - b0 : jb->nb);
    const int64_t rows = (d + kn->cr - 1) / kn->cr * kn->cr; /* rows of ot */
    float *qo = pd_scratch_get(&scratch, thread), *s = qo + QO_FLOATS;
    float *tmax = s + S_FLOATS, *corr = tmax + VEC_FLOATS;
    float *m = corr + VEC_FLOATS, *l = m + NB_MAX * VEC_FLOATS;
    int nqb[NB_MAX] = {0};      /* queries in each block */
    int64_t kend[NB_MAX] = {0}; /* keys each block sees: past the last query's, all are masked */

    for (int b = 0; b < nb; b++) {
        int64_t i0 = (b0 + b) * bq;
        nqb[b] = jb->nq - i0 < bq ? (int)(jb->nq - i0) : bq;
        kend[b] = visible(i0 + nqb[b] - 1, jb->nq, jb->nk, jb->causal);
        int w = (nqb[b] + kn->lanes - 1) / kn->lanes * kn->lanes; /* columns computed */
        float *ot = qo + (2 * b + 1) * jb->stride;
        for (int64_t c = 0; c < rows; c++)
            for (int i = 0; i < w; i++)
                ot[c * bq + i] = 0.0f;
        for (int i = 0; i < w; i++)
            m[b * VEC_FLOATS + i] = -FLT_MAX, l[b * VEC_FLOATS + i] = 0.0f;
    }

    /* Later blocks see at least as many keys as earlier ones. */
    for (int64_t j0 = 0; j0 < kend[nb - 1];) {
        int64_t left = kend[nb - 1] - j0;
        int bk = left < jb->bk + jb->bk / 2 ? (int)left : jb->bk;
        const float *kt = jb->k + j0 * jb->ldk + h * d, *vt = jb->v + j0 * jb->ldv + h * d;
        /* The tile's V rows are first needed after the scores and the
         * softmax, thousands of cycles from now: ask for them already
         * (2 % faster at d = 40; asking for the next tile's K rows here
         * measured slower). */
        prefetch_rows(vt, jb->ldv, bk, d);
        for (int b = 0; b < nb; b++) {
            if (j0 >= kend[b])
                continue;
            int n = kend[b] - j0 < bk ? (int)(kend[b] - j0) : bk;
            float *qt = qo + 2 * b * jb->stride, *ot = qt + jb->stride;
            float *mb = m + b * VEC_FLOATS, *lb = l + b * VEC_FLOATS;
            if (j0 == 0) {
                /* Each block's queries are packed just before its first
                 * tile, while the next block's rows are on their way:
                 * packing all blocks first left each waiting on memory,
                 * 3 % of the time at nk = 77. */
                int64_t i0 = (b0 + b) * bq;
                kn->pack_q(jb->q + i0 * jb->ldq + h * d, jb->ldq, nqb[b], d, jb->qmul, qt);
                if (b + 1 < nb)
                    prefetch_rows(jb->q + (i0 + bq) * jb->ldq + h * d, jb->ldq, nqb[b + 1], d);
            }
            /* Key j0 + j is visible to query i0 + i iff j <= i + lim; lim >= n - 1
             * masks nothing, and j0 < kend[b] keeps lim > -bq. */
            int64_t lim = jb->causal ? (b0 + b) * bq + (jb->nk - jb->nq) - j0 : n;
            kn->scores(qt, nqb[b], kt, jb->ldk, n, d, lim < n ? (int)lim : n, s, tmax);
            kn->softmax(s, nqb[b], n, tmax, mb, lb, corr);
            kn->pv(s, nqb[b], n, vt, jb->ldv, d, corr, ot);
        }
        j0 += bk;
    }

    for (int b = 0; b < nb; b++) {
        int64_t i0 = (b0 + b) * bq;
        kn->store(qo + (2 * b + 1) * jb->stride, nqb[b], d, l + b * VEC_FLOATS,
                  jb->out + i0 * jb->ldo + h * d, jb->ldo);
    }
}

/* ---- entry points ------------------------------------------------------ */

static const pd_attn_kernel *kernel_for(pd_isa isa)
{
#ifdef HAVE_X86_PATHS
    if (isa > pd_cpu_isa_supported())
        isa = pd_cpu_isa_supported();
    if (isa == PD_ISA_AVX512)
        return &pd_attn_kernel_avx512;
    if (isa == PD_ISA_AVX2)
        return &pd_attn_kernel_avx2;
#else
    (void)isa;
#endif
    return &pd_attn_kernel_ref;
}

void pd_attention_isa(pd_isa isa, int heads, int64_t nq, int64_t nk, int64_t d,
                      const float *q, int64_t ldq, const float *k, int64_t ldk,
                      const float *v, int64_t ldv, float *out, int64_t ldo,
                      float scale, int causal)
{
    assert(d <= PD_ATTENTION_MAX_D);
    assert(ldq >= heads * d && ldk >= heads * d && ldv >= heads * d && ldo >= heads * d);
    if (nq <= 0 || heads <= 0 || d <= 0)
        return;
    const pd_attn_kernel *kern = kernel_for(isa);
    assert(kern->bq <= PD_ATTN_BQ_MAX && kern->bq % kern->lanes == 0 &&
           PD_ATTENTION_MAX_D % kern->cr == 0);
    attn_job jb = {
        .kern = kern, .nq = nq, .nk = nk, .d = d,
        .ldq = ldq, .ldk = ldk, .ldv = ldv, .ldo = ldo,
        .qblocks = (nq + kern->bq - 1) / kern->bq,
        .q = q, .k = k, .v = v, .out = out,
        .qmul = scale * 1.44269504088896341f, .causal = causal,
    };
    int64_t rows = (d + kern->cr - 1) / kern->cr * kern->cr;
    jb.stride = (rows * kern->bq + 15) / 16 * 16;
    jb.nb = QO_FLOATS / (2 * jb.stride);
    jb.nb = jb.nb < NB_MAX ? jb.nb : NB_MAX;
    /* Enough tasks that the threads finish together: a few per thread. */
    while (jb.nb > 1 && heads * ((jb.qblocks + jb.nb - 1) / jb.nb) < 4 * pd_threads())
        jb.nb--;
    jb.tasks = (jb.qblocks + jb.nb - 1) / jb.nb;
    jb.bk = d <= 160 ? BK_SMALL_D : BK_LARGE_D;
    pd_parallel_for(heads * jb.tasks, attn_task, &jb);
}

void pd_attention(int heads, int64_t nq, int64_t nk, int64_t d,
                  const float *q, int64_t ldq, const float *k, int64_t ldk,
                  const float *v, int64_t ldv, float *out, int64_t ldo,
                  float scale, int causal)
{
    pd_flops_add(4 * (uint64_t)heads * (uint64_t)nq * (uint64_t)nk * (uint64_t)d); /* QKᵀ and PV */
    pd_attention_isa(pd_cpu_isa(), heads, nq, nk, d, q, ldq, k, ldk, v, ldv, out, ldo, scale,
                     causal);
}
