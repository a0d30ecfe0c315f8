/* kmeans.c — optimal 1-D k-means and the palettes built from it.
 *
 * The dynamic program. Sort the n distinct values; an optimal clustering
 * splits them into contiguous runs. Let E_j(i) be the least squared error of
 * the first i values in at most j clusters (E_1(i) = cost(0, i), the error of
 * values [0, i) around their weighted mean):
 *
 *     E_j(i) = min over 0 <= m <= i of  E_{j-1}(m) + cost(m, i)
 *
 * (m = i is an empty last cluster, so E_j never rises with j and n < k needs
 * no special case in the recurrence). The answer is E_k(n); the minimising m
 * of each (j, i) is kept to walk the splits back.
 *
 * Speed. Done directly, one row j costs O(n^2). cost() satisfies the
 * quadrangle (Monge) inequality — cost(a,c) + cost(b,d) <= cost(a,d) +
 * cost(b,c) for a <= b <= c <= d — so the leftmost minimising m, opt_j(i),
 * never moves left as i grows, and (Knuth) opt_{j-1}(i) <= opt_j(i). The
 * standard ways to use that:
 *   - divide and conquer over i (solve the middle i, then each half within
 *     its side of the split): O(n log n) per row, O(k n log n) in all;
 *   - Knuth's bounds alone, opt_{j-1}(i) <= opt_j(i) <= opt_j(i+1): a row
 *     costs about n + n^2 / (2 j^2), so O(n^2) in all: fine for large j,
 *     hopeless at j = 2 with n ~ 30 000 distinct values;
 *   - SMAWK: O(n) per row, what kmeans1d (and so coremltools) uses.
 * We use divide and conquer, each search also starting no earlier than
 * Knuth's opt_{j-1}(i): for large j that window is the last cluster's
 * length, which cuts the log n factor to about log(n / j). At n = 27 000,
 * k = 256 a search averages under 8 evaluations: fewer than switching the
 * large-j rows to Knuth's two-sided bounds gave (we counted). Measured here
 * on SD 1.5's UNet shapes, it beat a SMAWK implementation by ~25 %: SMAWK's
 * few evaluations per entry sit behind data-dependent branches, while these
 * are independent ones in a plain (vectorised) loop. The last row needs
 * only E_k(n): one search. The O(k n^2) program is the specification;
 * tests/unit/test_kmeans.c checks this one against it and brute force.
 *
 * Numerics. cost(m, i) = S2 - S1^2 / S0 over the run's weighted sums cancels
 * when the run's spread is small next to its distance from the origin.
 * The sums are therefore taken of y = x - c with c the weighted mean of all
 * values (two-pass), and the prefix sums are compensated (Neumaier): each
 * prefix is hi + lo, and a difference subtracts both parts. The centers and
 * the returned error are then recomputed from the chosen runs by two-pass
 * sums around each run's first value, so that a one-value cluster's center
 * is that value exactly and the error is as accurate as a direct sum.
 */
#include "convert/kmeans.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/weight.h"

/* ---- the dynamic program ------------------------------------------------ */

/* Compensated prefix sums of w, w·y, w·y² (y centered): the sum over
 * entries [0, i) is hi[i] + lo[i]. One array each, so that the search loop
 * below, which runs over m at fixed i, reads them contiguously and vectorises. */
typedef struct {
    double *w, *wy, *wyy;
    double *w_lo, *wy_lo, *wyy_lo;
} prefixes;

typedef struct {
    const prefixes *p;  /* n + 1 prefixes       */
    const double *prev; /* E_{j-1}(m), m = 0..n */
} row_ctx;

/* Neumaier's step: s + v into (*s, *lo). */
static inline void add_comp(double *s, double *lo, double v)
{
    double t = *s + v;
    if (fabs(*s) >= fabs(v))
        *lo += (*s - t) + v;
    else
        *lo += (v - t) + *s;
    *s = t;
}

/* Squared error of values [m, i) around their weighted mean; 0 when empty. */
static inline double cost(const prefixes *p, int64_t m, int64_t i)
{
    double w = (p->w[i] - p->w[m]) + (p->w_lo[i] - p->w_lo[m]);
    if (!(w > 0))
        return 0;
    double s1 = (p->wy[i] - p->wy[m]) + (p->wy_lo[i] - p->wy_lo[m]);
    double s2 = (p->wyy[i] - p->wyy[m]) + (p->wyy_lo[i] - p->wyy_lo[m]);
    double c = s2 - s1 * s1 / w;
    return c > 0 ? c : 0;
}

/* The leftmost m in [a, b] (b <= i) minimising E_{j-1}(m) + cost(m, i); its
 * value in *value. cost() written out for m < i (w > 0 there, weights being
 * positive), so that the compiler vectorises the chunk loop; the minimum is
 * then a scan of the chunk. */
static int64_t search(const row_ctx *c, int64_t i, int64_t a, int64_t b, double *value)
{
    enum { CHUNK = 256 };
    double buf[CHUNK];
    const prefixes *p = c->p;
    const double *restrict prev = c->prev;
    const double *restrict w = p->w, *restrict wl = p->w_lo;
    const double *restrict y = p->wy, *restrict yl = p->wy_lo;
    const double *restrict yy = p->wyy, *restrict yyl = p->wyy_lo;
    const double wi = w[i], wli = wl[i], yi = y[i], yli = yl[i], yyi = yy[i], yyli = yyl[i];
    int64_t best = a;
    double bv = INFINITY;
    if (b - a < 8) { /* most searches of the later rows: skip the chunking */
        for (int64_t m = a; m <= b; m++) {
            double v = prev[m] + cost(p, m, i);
            if (v < bv) {
                bv = v;
                best = m;
            }
        }
        *value = bv;
        return best;
    }
    for (int64_t m0 = a; m0 <= b; m0 += CHUNK) {
        int64_t len = b + 1 - m0 < CHUNK ? b + 1 - m0 : CHUNK;
        int64_t lv = m0 + len - 1 == i ? len - 1 : len; /* m = i: empty, cost 0 */
        for (int64_t t = 0; t < lv; t++) {
            int64_t m = m0 + t;
            double sw = (wi - w[m]) + (wli - wl[m]);
            double s1 = (yi - y[m]) + (yli - yl[m]);
            double s2 = (yyi - yy[m]) + (yyli - yyl[m]);
            double e = s2 - s1 * s1 / sw;
            buf[t] = prev[m] + (e > 0 ? e : 0);
        }
        if (lv < len)
            buf[lv] = prev[i];
        for (int64_t t = 0; t < len; t++)
            if (buf[t] < bv) {
                bv = buf[t];
                best = m0 + t;
            }
    }
    *value = bv;
    return best;
}

/* Divide and conquer with Knuth's lower bound: row j for i in [ilo, ihi],
 * knowing the leftmost minimum lies in [mlo, mhi] and at or after lower[i]
 * (row j−1's, when given). */
static void dc_row(const row_ctx *c, int64_t ilo, int64_t ihi, int64_t mlo, int64_t mhi,
                   const int32_t *lower, int32_t *arg, double *val)
{
    while (ilo <= ihi) {
        int64_t i = ilo + (ihi - ilo) / 2;
        int64_t a = mlo, b = mhi < i ? mhi : i;
        if (lower && lower[i] > a)
            a = lower[i] < b ? lower[i] : b;
        int64_t best = search(c, i, a, b, &val[i]);
        arg[i] = (int32_t)best;
        if (i - ilo < ihi - i) { /* recurse on the smaller half */
            dc_row(c, ilo, i - 1, mlo, best, lower, arg, val);
            ilo = i + 1, mlo = best;
        } else {
            dc_row(c, i + 1, ihi, best, mhi, lower, arg, val);
            ihi = i - 1, mhi = best;
        }
    }
}

/* Sum of w·(x − x[a]) and w over [a, b): the run's mean is x[a] + s/sw,
 * exactly x[a] for a single value. */
static void run_stats(const double *x, const double *w, int64_t a, int64_t b, double *mean,
                      double *sse)
{
    double sw = 0, s = 0;
    for (int64_t t = a; t < b; t++) {
        sw += w[t];
        s += w[t] * (x[t] - x[a]);
    }
    double mu = x[a] + s / sw;
    double e = 0;
    for (int64_t t = a; t < b; t++)
        e += w[t] * (x[t] - mu) * (x[t] - mu);
    *mean = mu;
    *sse = e;
}

pd_status pd_kmeans1d(const double *x, const double *w, int64_t n, int k, double *centers,
                      double *sse, pd_error *err)
{
    if (n <= 0)
        return pd_fail(err, PD_E_ARG, "k-means: %lld values; need at least one", (long long)n);
    if (k < 1)
        return pd_fail(err, PD_E_ARG, "k-means: k = %d; need at least one cluster", k);
    if (!x || !w || !centers)
        return pd_fail(err, PD_E_ARG, "k-means: values, weights and centers must not be NULL");
    for (int64_t t = 0; t < n; t++) {
        if (!isfinite(x[t]) || !(w[t] > 0) || !isfinite(w[t]))
            return pd_fail(err, PD_E_ARG,
                           "k-means: value %lld is %g with weight %g; values must be finite, "
                           "weights finite and > 0",
                           (long long)t, x[t], w[t]);
        if (t > 0 && !(x[t] > x[t - 1]))
            return pd_fail(err, PD_E_ARG,
                           "k-means: values must be distinct and ascending, but value %lld "
                           "(%g) follows %g",
                           (long long)t, x[t], x[t - 1]);
    }
    if (n >= INT32_MAX)
        return pd_fail(err, PD_E_ARG, "k-means: %lld values; at most %d", (long long)n,
                       INT32_MAX - 1);

    /* Splits: bounds[0] = 0 < bounds[1] < ... < bounds[nb] = n. */
    int64_t nb = 0;
    int64_t *bounds = malloc(sizeof(int64_t) * ((size_t)(k < n ? k : n) + 1));
    if (!bounds)
        return pd_fail(err, PD_E_NOMEM, "k-means: out of memory");
    bounds[0] = 0;

    if (k >= n) { /* every value its own cluster */
        for (int64_t t = 1; t <= n; t++)
            bounds[t] = t;
        nb = n;
    } else if (k == 1) {
        bounds[1] = n;
        nb = 1;
    } else {
        size_t np = (size_t)n + 1;
        if ((size_t)(k - 2) > SIZE_MAX / sizeof(int32_t) / np) {
            free(bounds);
            return pd_fail(err, PD_E_NOMEM, "k-means: %lld values at k = %d need too much memory",
                           (long long)n, k);
        }
        double *pmem = malloc(sizeof(double) * 6 * np);
        double *e0 = malloc(sizeof(double) * np), *e1 = malloc(sizeof(double) * np);
        /* split[(j - 2) · np + i]: the best m for E_j(i), rows j = 2..k-1. */
        int32_t *split = malloc(sizeof(int32_t) * np * (size_t)(k - 2) + 1);
        int64_t *rev = malloc(sizeof(int64_t) * (size_t)k); /* cluster ends, last first */
        if (!pmem || !e0 || !e1 || !split || !rev) {
            free(pmem), free(e0), free(e1), free(split), free(rev), free(bounds);
            return pd_fail(err, PD_E_NOMEM, "k-means: out of memory for %lld values at k = %d",
                           (long long)n, k);
        }
        /* Center on the weighted mean, then compensated prefix sums. */
        double sw = 0, swx = 0;
        for (int64_t t = 0; t < n; t++) {
            sw += w[t];
            swx += w[t] * (x[t] - x[0]);
        }
        double center = x[0] + swx / sw;
        prefixes pre = {pmem, pmem + np, pmem + 2 * np, pmem + 3 * np, pmem + 4 * np, pmem + 5 * np};
        const prefixes *p = &pre;
        double s0 = 0, s1 = 0, s2 = 0, l0 = 0, l1 = 0, l2 = 0;
        for (int64_t t = 0; t <= n; t++) {
            pre.w[t] = s0, pre.wy[t] = s1, pre.wyy[t] = s2;
            pre.w_lo[t] = l0, pre.wy_lo[t] = l1, pre.wyy_lo[t] = l2;
            if (t == n)
                break;
            double y = x[t] - center;
            add_comp(&s0, &l0, w[t]);
            add_comp(&s1, &l1, w[t] * y);
            add_comp(&s2, &l2, w[t] * y * y);
        }
        if (!isfinite(s0) || !isfinite(s2)) {
            free(pmem), free(e0), free(e1), free(split), free(rev), free(bounds);
            return pd_fail(err, PD_E_ARG,
                           "k-means: the weighted sums of %lld values overflow a double; "
                           "scale the values or weights down", (long long)n);
        }

        for (int64_t i = 0; i <= n; i++)
            e0[i] = cost(p, 0, i);
        double *prev = e0, *cur = e1;
        for (int j = 2; j < k; j++) {
            row_ctx c = {p, prev};
            int32_t *sp = split + (size_t)(j - 2) * np;
            dc_row(&c, 0, n, 0, n, j > 2 ? sp - np : NULL, sp, cur);
            double *t = prev;
            prev = cur;
            cur = t;
        }
        /* Row k: only E_k(n), searched like the other rows. */
        row_ctx c = {p, prev};
        double best;
        int64_t m_best = search(&c, n, k > 2 ? split[(size_t)(k - 3) * np + (size_t)n] : 0, n, &best);
        /* Walk back; empty clusters (m == i) are dropped. */
        int64_t nr = 0, i = n, m = m_best;
        for (int j = k;; j--) {
            if (m < i)
                rev[nr++] = i;
            i = m;
            if (i == 0)
                break;
            if (j == 2) {
                rev[nr++] = i; /* row 1: one cluster [0, i) */
                break;
            }
            m = split[(size_t)(j - 3) * np + (size_t)i];
        }
        for (int64_t t = 0; t < nr; t++)
            bounds[t + 1] = rev[nr - 1 - t];
        nb = nr;
        free(pmem), free(e0), free(e1), free(split), free(rev);
    }

    double total = 0, last = 0;
    for (int64_t b = 0; b < nb; b++) {
        double mu, e;
        run_stats(x, w, bounds[b], bounds[b + 1], &mu, &e);
        centers[b] = last = mu;
        total += e;
    }
    for (int64_t b = nb; b < k; b++)
        centers[b] = last; /* n < k, or rounding merged a near-empty cluster */
    if (sse)
        *sse = total;
    free(bounds);
    return PD_OK;
}

/* ---- float16 palettes ---------------------------------------------------- */

/* Order-preserving keys: key(a) < key(b) iff a < b as numbers, for finite
 * float16 a, b (negative values have their bits flipped, positive ones
 * their sign bit set). Branch-free: the sign is random in weights. −0 gets
 * key 0x7fff, next to +0's 0x8000; pd_palettize folds it onto +0. */
static inline uint16_t f16_key(uint16_t h)
{
    return (uint16_t)(h ^ (0x8000u | (0u - (uint32_t)(h >> 15))));
}

static inline uint16_t f16_from_key(uint16_t k)
{
    return (uint16_t)(k & 0x8000 ? k & 0x7fff : ~k);
}

/* Ranks number the finite float16 values in order without gaps (the unused
 * −0 key skipped): rank 0 = −65504. */
static inline int32_t key_rank(uint16_t k) { return k - 0x0400 - (k > 0x7fff); }
static inline uint16_t rank_key(int32_t r)
{
    r += 0x0400;
    return (uint16_t)(r >= 0x7fff ? r + 1 : r);
}

static inline int f16_nonfinite(uint16_t h) { return (h & 0x7c00) == 0x7c00; }

/* The float16 nearest d (finite, within range); −0 comes out as +0. */
static uint16_t f16_round(double d)
{
    uint16_t h = pd_f32_to_f16((float)d);
    return h == 0x8000 ? 0 : h;
}

/* Makes the ascending keys pal[0..K) strictly ascending where the float16
 * values in [pal[0], pal[K-1]] allow, moving as few entries as the two
 * passes do; when there are fewer than K such values the tail repeats the
 * largest. */
static void spread_keys(uint16_t *key, int K)
{
    int32_t lo = key_rank(key[0]), hi = key_rank(key[K - 1]);
    int32_t *r = malloc(sizeof(int32_t) * (size_t)K);
    if (!r)
        return; /* keep the non-strict palette: still valid */
    for (int t = 0; t < K; t++)
        r[t] = key_rank(key[t]);
    if (hi - lo + 1 >= K) {
        for (int t = 1; t < K; t++)
            if (r[t] <= r[t - 1])
                r[t] = r[t - 1] + 1;
        r[K - 1] = r[K - 1] < hi ? r[K - 1] : hi;
        for (int t = K - 2; t >= 0; t--)
            if (r[t] >= r[t + 1])
                r[t] = r[t + 1] - 1;
    } else {
        for (int t = 0; t < K; t++)
            r[t] = lo + t <= hi ? lo + t : hi;
    }
    for (int t = 0; t < K; t++)
        key[t] = rank_key(r[t]);
    free(r);
}

pd_status pd_palettize(const uint16_t *values, int64_t n, int bits, pd_pal_mode mode,
                       uint16_t *palette, uint8_t *idx, pd_error *err)
{
    if (bits < 1 || bits > 8)
        return pd_fail(err, PD_E_ARG, "palettize: bits = %d; use 1 to 8", bits);
    if (mode != PD_PAL_KMEANS && mode != PD_PAL_UNIFORM)
        return pd_fail(err, PD_E_ARG, "palettize: unknown mode %d (kmeans or uniform)", (int)mode);
    if (n <= 0)
        return pd_fail(err, PD_E_ARG, "palettize: %lld values; a group needs at least one",
                       (long long)n);
    if (n > (int64_t)UINT32_MAX)
        return pd_fail(err, PD_E_ARG, "palettize: %lld values in one group; at most %u",
                       (long long)n, UINT32_MAX);
    if (!values || !palette || !idx)
        return pd_fail(err, PD_E_ARG, "palettize: values, palette and idx must not be NULL");

    const int K = 1 << bits;
    uint32_t *count = calloc(65536, sizeof *count);
    uint8_t *lut = malloc(65536);
    if (!count || !lut) {
        free(count), free(lut);
        return pd_fail(err, PD_E_NOMEM, "palettize: out of memory");
    }
    for (int64_t t = 0; t < n; t++)
        count[f16_key(values[t])]++;
    count[0x8000] += count[0x7fff]; /* −0 is +0 */
    count[0x7fff] = 0;
    /* NaN and ±inf: keys below 0x0400 and above 0xfbff. */
    uint32_t bad = 0;
    for (int32_t kk = 0; kk < 0x0400; kk++)
        bad |= count[kk] | count[0xffff - kk];
    if (bad) {
        int64_t t = 0;
        while (!f16_nonfinite(values[t]))
            t++;
        uint16_t h = values[t];
        free(count), free(lut);
        return pd_fail(err, PD_E_ARG,
                       "palettize: value %lld is %s (float16 0x%04x); weights must be finite — "
                       "fix or drop this tensor before converting",
                       (long long)t, (h & 0x03ff) ? "NaN" : (h & 0x8000) ? "-inf" : "+inf", h);
    }

    /* Distinct values, ascending, with their counts. */
    int64_t nd = 0;
    for (int32_t kk = 0x0400; kk <= 0xfbff; kk++)
        nd += count[kk] != 0;
    uint16_t *dkey = malloc(sizeof(uint16_t) * (size_t)nd);
    double *x = malloc(sizeof(double) * (size_t)nd), *w = malloc(sizeof(double) * (size_t)nd);
    double *centers = malloc(sizeof(double) * (size_t)K);
    uint16_t *pkey = malloc(sizeof(uint16_t) * (size_t)K);
    if (!dkey || !x || !w || !centers || !pkey) {
        free(count), free(lut), free(dkey), free(x), free(w), free(centers), free(pkey);
        return pd_fail(err, PD_E_NOMEM, "palettize: out of memory");
    }
    nd = 0;
    for (int32_t kk = 0x0400; kk <= 0xfbff; kk++)
        if (count[kk]) {
            dkey[nd] = (uint16_t)kk;
            x[nd] = pd_f16_to_f32(f16_from_key((uint16_t)kk));
            w[nd] = count[kk];
            nd++;
        }

    pd_status st = PD_OK;
    if (mode == PD_PAL_KMEANS && nd <= K) {
        /* The values themselves; unused entries repeat the largest. */
        for (int t = 0; t < K; t++)
            pkey[t] = dkey[t < nd ? t : nd - 1];
    } else if (mode == PD_PAL_KMEANS) {
        st = pd_kmeans1d(x, w, nd, K, centers, NULL, err);
        if (st == PD_OK) {
            /* Rounding is monotone and each center lies within its own run
             * of float16 values, so the keys come out strictly ascending;
             * spread_keys only matters if a cluster came out empty. */
            for (int t = 0; t < K; t++)
                pkey[t] = f16_key(f16_round(centers[t]));
            spread_keys(pkey, K);
        }
    } else {
        /* Uniform: lo + (hi − lo)·t/(K−1); the ends are exact (differences
         * of float16 values are exact in double). */
        double lo = x[0], hi = x[nd - 1];
        for (int t = 0; t < K; t++)
            pkey[t] = f16_key(f16_round(t == K - 1 ? hi : lo + (hi - lo) * t / (K - 1)));
        spread_keys(pkey, K);
    }

    if (st == PD_OK) {
        for (int t = 0; t < K; t++)
            palette[t] = f16_from_key(pkey[t]);
        /* Nearest entry for each distinct value; ties (and repeated entries)
         * to the lower index. Palette and values are both ascending. */
        int a = 0;
        for (int64_t d = 0; d < nd; d++) {
            double v = x[d];
            while (a + 1 < K) {
                double pa = pd_f16_to_f32(palette[a]), pb = pd_f16_to_f32(palette[a + 1]);
                if (pb == pa || fabs(pb - v) < fabs(v - pa))
                    a++;
                else
                    break;
            }
            /* a skipped equal entries forward; step back to the first. */
            int first = a;
            while (first > 0 && palette[first - 1] == palette[a])
                first--;
            lut[dkey[d]] = (uint8_t)first;
        }
        lut[0x7fff] = lut[0x8000];
        for (int64_t t = 0; t < n; t++)
            idx[t] = lut[f16_key(values[t])];
    }
    free(count), free(lut), free(dkey), free(x), free(w), free(centers), free(pkey);
    return st;
}
