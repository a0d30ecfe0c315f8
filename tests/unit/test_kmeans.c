/* test_kmeans.c — convert/kmeans.h: pd_kmeans1d against brute force (every
 * contiguous split, and every set partition for tiny n) and against the plain
 * O(k n^2) dynamic program, including the inputs its penalty search finds
 * hardest (spliced answers, ties, k near n, odd error curves); pd_palettize's
 * palettes (exact when the values fit, nearest-entry assignment, uniform
 * ends, determinism) and its hostile inputs; a timing print for a full-size
 * tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "convert/kmeans.h"
#include "kernels/weight.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) * 0x1p-53; }
static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Two-pass weighted squared error of values x[a..b) (mean taken around x[a],
 * so that one value's error is exactly 0). */
static double run_sse(const double *x, const double *w, int a, int b)
{
    double sw = 0, s = 0, e = 0;
    for (int t = a; t < b; t++)
        sw += w[t], s += w[t] * (x[t] - x[a]);
    double mu = x[a] + s / sw;
    for (int t = a; t < b; t++)
        e += w[t] * (x[t] - mu) * (x[t] - mu);
    return e;
}

/* Least error over every way to cut n sorted values into at most k runs. */
static double brute_contiguous(const double *x, const double *w, int n, int k)
{
    double best = INFINITY;
    for (unsigned mask = 0; mask < 1u << (n - 1); mask++) {
        if (__builtin_popcount(mask) > k - 1)
            continue;
        double e = 0;
        int a = 0;
        for (int t = 1; t <= n; t++)
            if (t == n || mask >> (t - 1) & 1) {
                e += run_sse(x, w, a, t);
                a = t;
            }
        if (e < best)
            best = e;
    }
    return best;
}

/* Least error over every partition of the n values into at most k sets
 * (restricted growth strings), contiguous or not. */
static double brute_partitions(const double *x, const double *w, int n, int k)
{
    int lab[12] = {0}, mx[12] = {0};
    double best = INFINITY;
    for (;;) {
        int groups = 0;
        for (int t = 0; t < n; t++)
            groups = lab[t] + 1 > groups ? lab[t] + 1 : groups;
        if (groups <= k) {
            double e = 0;
            for (int g = 0; g < groups; g++) {
                double sw = 0, s = 0;
                for (int t = 0; t < n; t++)
                    if (lab[t] == g)
                        sw += w[t], s += w[t] * x[t];
                double mu = s / sw;
                for (int t = 0; t < n; t++)
                    if (lab[t] == g)
                        e += w[t] * (x[t] - mu) * (x[t] - mu);
            }
            if (e < best)
                best = e;
        }
        /* next restricted growth string: lab[0] = 0, lab[t] <= max(lab[0..t)) + 1 */
        int t = n - 1;
        while (t > 0 && lab[t] > mx[t - 1])
            t--;
        if (t == 0)
            return best;
        lab[t]++;
        mx[t] = lab[t] > mx[t - 1] ? lab[t] : mx[t - 1];
        for (int u = t + 1; u < n; u++) {
            lab[u] = 0;
            mx[u] = mx[u - 1];
        }
    }
}

/* The specification: the O(k n^2) program, every split tried, with long
 * double prefix sums of centered values. ref[j] = the least error in at
 * most j clusters, j = 1..kmax. */
static void plain_dp(const double *x, const double *w, int n, int kmax, double *ref)
{
    long double *P0 = malloc(sizeof(long double) * (n + 1)), *P1 = malloc(sizeof(long double) * (n + 1));
    long double *P2 = malloc(sizeof(long double) * (n + 1));
    long double *prev = malloc(sizeof(long double) * (n + 1)), *cur = malloc(sizeof(long double) * (n + 1));
    long double sw = 0, sx = 0;
    for (int t = 0; t < n; t++)
        sw += w[t], sx += (long double)w[t] * x[t];
    long double c = sx / sw;
    P0[0] = P1[0] = P2[0] = 0;
    for (int t = 0; t < n; t++) {
        long double y = x[t] - c;
        P0[t + 1] = P0[t] + w[t];
        P1[t + 1] = P1[t] + w[t] * y;
        P2[t + 1] = P2[t] + w[t] * y * y;
    }
#define COST(a, b) ((b) > (a) ? (P2[b] - P2[a]) - (P1[b] - P1[a]) * (P1[b] - P1[a]) / (P0[b] - P0[a]) : 0)
    for (int i = 0; i <= n; i++)
        prev[i] = COST(0, i);
    ref[1] = (double)prev[n];
    for (int j = 2; j <= kmax; j++) {
        for (int i = 0; i <= n; i++) {
            long double b = prev[i];
            for (int m = 0; m < i; m++) {
                long double v = prev[m] + COST(m, i);
                b = v < b ? v : b;
            }
            cur[i] = b;
        }
        long double *t = prev;
        prev = cur;
        cur = t;
        ref[j] = (double)prev[n];
    }
#undef COST
    free(P0), free(P1), free(P2), free(prev), free(cur);
}

/* One random value of the given kind. */
static double draw(int kind)
{
    switch (kind) {
    case 0: return unif();
    case 1: return 1e4 + 1e-3 * unif();                   /* cancellation */
    case 2: return (double)(rnd() % 1000);                /* integers: equal gaps, cost ties */
    case 3: return pd_f16_to_f32(pd_f32_to_f16((float)(0.02 * gauss()))); /* weights */
    default: return gauss() * pow(10, (double)(rnd() % 7) - 3); /* wide scales */
    }
}

/* n (<= 300) random distinct ascending values of one kind, with weights:
 * integer counts for kinds 2 and 3, real weights otherwise. */
static void make_input(int kind, int n, double *x, double *w)
{
    double pool[2048];
    int np = 0;
    while (np < n) {
        for (np = 0; np < 2048; np++)
            pool[np] = draw(kind);
        qsort(pool, 2048, sizeof *pool, cmp_double);
        int u = 1;
        for (int t = 1; t < 2048; t++)
            if (pool[t] != pool[u - 1])
                pool[u++] = pool[t];
        np = u;
    }
    for (int t = 0; t < n; t++) { /* a random n of the distinct values */
        int r = t + (int)(rnd() % (uint64_t)(np - t));
        double v = pool[r];
        pool[r] = pool[t];
        pool[t] = v;
        x[t] = v;
    }
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    for (int t = 0; t < n; t++)
        w[t] = kind == 2 || kind == 3 ? (double)(1 + rnd() % 50) : 0.01 + unif();
}

/* Error of assigning every value to its nearest center. */
static double nearest_sse(const double *x, const double *w, int n, const double *c, int k)
{
    double e = 0;
    for (int t = 0; t < n; t++) {
        double b = INFINITY;
        for (int j = 0; j < k; j++)
            b = fmin(b, (x[t] - c[j]) * (x[t] - c[j]));
        e += w[t] * b;
    }
    return e;
}

static void test_optimality(void)
{
    double x[300], w[300], c[310];
    int cases = 0, worst_kind = -1;
    double worst = 0;
    for (int kind = 0; kind < 5; kind++)
        for (int rep = 0; rep < 60; rep++) {
            int n = 1 + (int)(rnd() % 10);
            make_input(kind, n, x, w);
            double total = run_sse(x, w, 0, n);
            for (int k = 1; k <= n + 2; k++) {
                double sse = -1;
                pd_error err = {0};
                pd_status st = pd_kmeans1d(x, w, n, k, c, &sse, &err);
                CHECK_MSG(st == PD_OK, "%s", err.message);
                double bf = brute_contiguous(x, w, n, k);
                double tol = 1e-12 * total + 1e-300;
                double d = fabs(sse - bf);
                if (d / (total + 1e-300) > worst)
                    worst = d / (total + 1e-300), worst_kind = kind;
                CHECK_MSG(d <= tol, "kind %d n %d k %d: dp %.17g brute %.17g", kind, n, k, sse, bf);
                if (n <= 7 && rep % 3 == 0) {
                    double bp = brute_partitions(x, w, n, k);
                    CHECK_MSG(fabs(bp - bf) <= tol, "kind %d n %d k %d: partitions %.17g runs %.17g",
                              kind, n, k, bp, bf);
                }
                /* centers ascending; the nearest-center error is no larger */
                int asc = 1;
                for (int j = 1; j < k; j++)
                    asc &= c[j] >= c[j - 1];
                CHECK_MSG(asc, "kind %d n %d k %d: centers not ascending", kind, n, k);
                CHECK(nearest_sse(x, w, n, c, k) <= sse + tol);
                if (k >= n) {
                    int same = sse == 0;
                    for (int j = 0; j < k; j++)
                        same &= c[j] == x[j < n ? j : n - 1];
                    CHECK_MSG(same, "kind %d n %d k %d: k >= n must return the values", kind, n, k);
                }
                cases++;
            }
        }
    printf("kmeans: %d brute-force cases, worst |dp - brute| / total = %.3g%s\n", cases, worst,
           worst > 0 ? (const char *[]){" (uniform)", " (offset)", " (integers)", " (float16)", " (scales)"}[worst_kind] : "");

    /* Medium sizes against the plain O(k n^2) program. */
    double *ref = malloc(sizeof(double) * 301);
    double worst_mid = 0;
    for (int kind = 0; kind < 5; kind++)
        for (int rep = 0; rep < 4; rep++) {
            int n = 20 + (int)(rnd() % 280);
            make_input(kind, n, x, w);
            int ks[] = {2, 3, 7, 16, 64, n / 2, n - 1};
            plain_dp(x, w, n, n - 1, ref);
            for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++) {
                double sse;
                pd_error err = {0};
                if (ks[q] > n - 1)
                    continue;
                CHECK(pd_kmeans1d(x, w, n, ks[q], c, &sse, &err) == PD_OK);
                double d = fabs(sse - ref[ks[q]]) / ref[1];
                worst_mid = d > worst_mid ? d : worst_mid;
                CHECK_MSG(d <= 1e-12, "kind %d n %d k %d: %.17g vs %.17g", kind, n, ks[q], sse,
                          ref[ks[q]]);
            }
        }
    printf("kmeans: 20 medium inputs (n <= 300) against the O(k n^2) program, worst relative "
           "difference %.3g\n", worst_mid);
    free(ref);
}

/* The cases the penalty search finds hardest (kmeans.c): error curves E_k
 * with straight stretches, where no penalty gives exactly k clusters and
 * the answer is spliced from the solutions on either side; many equally
 * good clusterings; k just below n; curves far from the power law the
 * search guesses with. Each against the plain program, and the result must
 * not depend on anything but the input. */
enum { SEARCH_NMAX = 240 };

/* pd_kmeans1d at k = klo .. n − 1 against the plain program, to 1e-12 of
 * E_1; raises *worst, returns the cases checked. */
static int against_plain(const double *x, const double *w, int n, int klo, const char *what, double *worst)
{
    double c[SEARCH_NMAX], ref[SEARCH_NMAX + 1];
    pd_error err = {0};
    plain_dp(x, w, n, n - 1, ref);
    int cases = 0;
    for (int k = klo; k < n; k++, cases++) {
        double sse;
        CHECK(pd_kmeans1d(x, w, n, k, c, &sse, &err) == PD_OK);
        double d = fabs(sse - ref[k]) / ref[1];
        *worst = d > *worst ? d : *worst;
        CHECK_MSG(d <= 1e-12, "%s n %d k %d: %.17g vs %.17g", what, n, k, sse, ref[k]);
    }
    return cases;
}

static void test_search_cases(void)
{
    enum { NMAX = SEARCH_NMAX };
    double x[NMAX], w[NMAX], c[NMAX], c2[NMAX];
    int cases = 0;
    double worst = 0;
    pd_error err = {0};

    /* m far-apart pairs (gap 1, weight 1): between m and 2m clusters every
     * split pair saves the same 0.5, so E_k = (2m − k)/2 is a straight line
     * and every k strictly inside is spliced. Likewise triples, whose
     * curve has two straight stretches. */
    for (int size = 2; size <= 3; size++)
        for (int m = 1; m <= 40; m++) {
            int n = size * m;
            for (int g = 0; g < m; g++)
                for (int t = 0; t < size; t++)
                    x[g * size + t] = 1000.0 * g + t, w[g * size + t] = 1;
            for (int k = 2; k < n; k++) {
                double sse;
                CHECK(pd_kmeans1d(x, w, n, k, c, &sse, &err) == PD_OK);
                /* a pair costs 0.5 whole; a triple 2, split 0.5, in three 0 */
                double want = k < m ? -1
                              : size == 2 ? 0.5 * (2 * m - k)
                              : k >= 2 * m ? 0.5 * (3 * m - k) : 2.0 * m - 1.5 * (k - m);
                if (want >= 0) {
                    CHECK_MSG(fabs(sse - want) <= 1e-12 * 2 * m, "groups of %d, m %d k %d: %.17g, want %.17g",
                              size, m, k, sse, want);
                    cases++;
                }
                int strict = 1; /* k clusters, none empty */
                for (int j = 1; j < k; j++)
                    strict &= c[j] > c[j - 1];
                CHECK_MSG(strict, "groups of %d, m %d k %d: centers not strictly ascending", size, m, k);
            }
            if (n <= 60 || m % 8 == 0) {
                char what[32];
                snprintf(what, sizeof what, "groups of %d, m %d", size, m);
                cases += against_plain(x, w, n, 2, what, &worst);
            }
        }

    /* Equal spacing and equal weights: E_k has straight stretches wherever
     * k does not divide n, and ties everywhere. Also with an offset that
     * makes the sums cancel. */
    for (int off = 0; off < 2; off++)
        for (int n = 3; n <= 64; n++) {
            for (int t = 0; t < n; t++)
                x[t] = (off ? 1e6 : 0) + t, w[t] = 1;
            cases += against_plain(x, w, n, 2, off ? "equal spacing (offset)" : "equal spacing", &worst);
            for (int k = 2; k < n; k++) { /* the same input, the same centers, bit for bit */
                CHECK(pd_kmeans1d(x, w, n, k, c, NULL, &err) == PD_OK);
                CHECK(pd_kmeans1d(x, w, n, k, c2, NULL, &err) == PD_OK);
                CHECK_MSG(!memcmp(c, c2, sizeof(double) * (size_t)k), "equal spacing n %d k %d: not deterministic",
                          n, k);
            }
        }

    /* Curves unlike the k^-2 the search guesses with: geometric spacing
     * (E_k falls by a constant factor), and weights over twelve orders of
     * magnitude on near-equal and on geometric spacing; k from 2 to n − 1. */
    for (int kind = 0; kind < 3; kind++) {
        int n = kind == 0 ? 200 : 120;
        for (int t = 0; t < n; t++) {
            x[t] = kind == 0 ? pow(1.2, t) : kind == 1 ? t + 0.1 * unif() : pow(1.05, t) - 30;
            w[t] = kind == 0 ? 1 : pow(10, 12 * unif() - 6);
        }
        char what[32];
        snprintf(what, sizeof what, "spread kind %d", kind);
        cases += against_plain(x, w, n, 2, what, &worst);
    }

    /* k just below n, random inputs of every kind. */
    for (int kind = 0; kind < 5; kind++)
        for (int rep = 0; rep < 3; rep++) {
            int n = 10 + (int)(rnd() % 200);
            make_input(kind, n, x, w);
            char what[32];
            snprintf(what, sizeof what, "kind %d (k near n)", kind);
            cases += against_plain(x, w, n, n - 4 > 2 ? n - 4 : 2, what, &worst);
        }
    printf("kmeans: %d hard cases for the penalty search, worst relative difference %.3g\n", cases,
           worst);
}

static void test_kmeans_hostile(void)
{
    double x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, c[8], sse;
    pd_error err = {0};
    CHECK(pd_kmeans1d(x, w, 0, 2, c, &sse, &err) == PD_E_ARG && err.status == PD_E_ARG);
    CHECK(pd_kmeans1d(x, w, -1, 2, c, &sse, &err) == PD_E_ARG);
    CHECK(pd_kmeans1d(x, w, 4, 0, c, &sse, &err) == PD_E_ARG);
    CHECK(pd_kmeans1d(NULL, w, 4, 2, c, &sse, &err) == PD_E_ARG);
    double xs[4] = {1, 3, 2, 4};
    CHECK(pd_kmeans1d(xs, w, 4, 2, c, &sse, &err) == PD_E_ARG);
    double xd[4] = {1, 2, 2, 4};
    CHECK(pd_kmeans1d(xd, w, 4, 2, c, &sse, &err) == PD_E_ARG);
    double xn[4] = {1, 2, NAN, 4};
    CHECK(pd_kmeans1d(xn, w, 4, 2, c, &sse, &err) == PD_E_ARG);
    double xi[4] = {1, 2, 3, INFINITY};
    CHECK(pd_kmeans1d(xi, w, 4, 2, c, &sse, &err) == PD_E_ARG);
    double w0[4] = {1, 0, 1, 1}, wn[4] = {1, -1, 1, 1}, wnan[4] = {1, NAN, 1, 1};
    CHECK(pd_kmeans1d(x, w0, 4, 2, c, &sse, &err) == PD_E_ARG);
    CHECK(pd_kmeans1d(x, wn, 4, 2, c, &sse, &err) == PD_E_ARG);
    CHECK(pd_kmeans1d(x, wnan, 4, 2, c, &sse, &err) == PD_E_ARG);
    /* finite values whose weighted squares overflow */
    double xb[3] = {-1e300, 0, 1e300}, wb[3] = {1, 1, 1}, wh[3] = {1e308, 1e308, 1e308};
    CHECK(pd_kmeans1d(xb, wb, 3, 2, c, &sse, &err) == PD_E_ARG && strstr(err.message, "overflow"));
    CHECK(pd_kmeans1d(x, wh, 3, 2, c, &sse, &err) == PD_E_ARG);
    /* sse may be NULL */
    CHECK(pd_kmeans1d(x, w, 4, 2, c, NULL, &err) == PD_OK && c[0] == 1.5 && c[1] == 3.5);
}

/* The float16 values in order: index 0 is −65504. */
static uint16_t f16_sorted(int r) { return (uint16_t)(r < 0x7bff ? 0xfbff - r : r - 0x7bff); }

static float dec(uint16_t h) { return pd_f16_to_f32(h); }

/* idx[i] must be the nearest palette entry, ties to the lowest index. */
static int nearest_ok(const uint16_t *v, int64_t n, const uint16_t *pal, int K, const uint8_t *idx)
{
    for (int64_t i = 0; i < n; i++) {
        double x = dec(v[i]);
        int b = 0;
        for (int j = 1; j < K; j++)
            if (fabs(x - dec(pal[j])) < fabs(x - dec(pal[b])))
                b = j;
        if (idx[i] != b)
            return 0;
    }
    return 1;
}

static int ascending(const uint16_t *pal, int K, int strict)
{
    for (int j = 1; j < K; j++)
        if (strict ? !(dec(pal[j]) > dec(pal[j - 1])) : !(dec(pal[j]) >= dec(pal[j - 1])))
            return 0;
    return 1;
}

static void test_palettize(void)
{
    enum { N = 5000 };
    uint16_t *v = malloc(sizeof(uint16_t) * N), *v2 = malloc(sizeof(uint16_t) * N);
    uint8_t *idx = malloc(N), *idx2 = malloc(N);
    uint16_t pal[256], pal2[256];
    pd_error err = {0};

    /* Few distinct values: the palette holds them exactly, every value decodes to itself. */
    for (int bits = 1; bits <= 8; bits++) {
        int K = 1 << bits;
        for (int rep = 0; rep < 5; rep++) {
            int nd = 1 + (int)(rnd() % (uint64_t)K);
            uint16_t pool[256];
            for (int j = 0; j < nd; j++)
                pool[j] = f16_sorted((int)(rnd() % 0xf7ff)) ; /* any finite, maybe repeated */
            int64_t n = 1 + (int64_t)(rnd() % N);
            for (int64_t i = 0; i < n; i++)
                v[i] = pool[rnd() % (uint64_t)nd];
            CHECK_MSG(pd_palettize(v, n, bits, PD_PAL_KMEANS, pal, idx, &err) == PD_OK, "%s", err.message);
            int exact = 1;
            for (int64_t i = 0; i < n; i++)
                exact &= dec(pal[idx[i]]) == dec(v[i]) && idx[i] < K;
            CHECK_MSG(exact, "bits %d: %d distinct values not reproduced", bits, nd);
            CHECK(ascending(pal, K, 0));
        }
    }

    /* Many values: ascending distinct palettes, nearest assignment; the error
     * is close to k-means' own (rounding the centers to float16 costs little). */
    for (int bits = 1; bits <= 8; bits++) {
        for (int64_t i = 0; i < N; i++)
            v[i] = pd_f32_to_f16((float)(0.05 * gauss()));
        for (int mode = 0; mode < 2; mode++) {
            CHECK(pd_palettize(v, N, bits, (pd_pal_mode)mode, pal, idx, &err) == PD_OK);
            CHECK_MSG(ascending(pal, 1 << bits, 1), "bits %d mode %d", bits, mode);
            CHECK_MSG(nearest_ok(v, N, pal, 1 << bits, idx), "bits %d mode %d", bits, mode);
        }
        CHECK(pd_palettize(v, N, bits, PD_PAL_KMEANS, pal, idx, &err) == PD_OK);
        double e_pal = 0, e_uni = 0;
        for (int64_t i = 0; i < N; i++)
            e_pal += (dec(v[i]) - dec(pal[idx[i]])) * (dec(v[i]) - dec(pal[idx[i]]));
        CHECK(pd_palettize(v, N, bits, PD_PAL_UNIFORM, pal2, idx2, &err) == PD_OK);
        for (int64_t i = 0; i < N; i++)
            e_uni += (dec(v[i]) - dec(pal2[idx2[i]])) * (dec(v[i]) - dec(pal2[idx2[i]]));
        CHECK_MSG(e_pal <= e_uni, "bits %d: kmeans %g > uniform %g", bits, e_pal, e_uni);
    }

    /* Determinism, and the order of the values does not matter. */
    for (int64_t i = 0; i < N; i++)
        v[i] = pd_f32_to_f16((float)(0.02 * gauss()));
    CHECK(pd_palettize(v, N, 6, PD_PAL_KMEANS, pal, idx, &err) == PD_OK);
    CHECK(pd_palettize(v, N, 6, PD_PAL_KMEANS, pal2, idx2, &err) == PD_OK);
    CHECK(!memcmp(pal, pal2, sizeof(uint16_t) * 64) && !memcmp(idx, idx2, N));
    for (int64_t i = 0; i < N; i++)
        v2[i] = v[N - 1 - i];
    CHECK(pd_palettize(v2, N, 6, PD_PAL_KMEANS, pal2, idx2, &err) == PD_OK);
    int same = !memcmp(pal, pal2, sizeof(uint16_t) * 64);
    for (int64_t i = 0; i < N; i++)
        same &= idx2[i] == idx[N - 1 - i];
    CHECK(same);

    /* Uniform: the ends are the minimum and maximum exactly. */
    for (int bits = 1; bits <= 8; bits++) {
        int K = 1 << bits;
        int64_t n = 1 + (int64_t)(rnd() % N);
        uint16_t mn = 0x7bff, mx = 0xfbff;
        for (int64_t i = 0; i < n; i++) {
            v[i] = pd_f32_to_f16((float)(gauss() * 3));
            if (dec(v[i]) < dec(mn))
                mn = v[i];
            if (dec(v[i]) > dec(mx))
                mx = v[i];
        }
        CHECK(pd_palettize(v, n, bits, PD_PAL_UNIFORM, pal, idx, &err) == PD_OK);
        CHECK_MSG(dec(pal[0]) == dec(mn) && dec(pal[K - 1]) == dec(mx), "bits %d: [%g, %g] vs [%g, %g]",
                  bits, dec(pal[0]), dec(pal[K - 1]), dec(mn), dec(mx));
        CHECK(nearest_ok(v, n, pal, K, idx));
        /* evenly spaced to within float16 rounding */
        double step = (dec(mx) - dec(mn)) / (K - 1);
        int even = 1;
        for (int j = 0; j < K; j++)
            even &= fabs(dec(pal[j]) - (dec(mn) + step * j)) <= 1e-3 * fabs(dec(mn) + step * j) + 1e-7;
        CHECK_MSG(even, "bits %d: uniform grid off", bits);
    }
    /* A range narrower than the grid: distinct where float16 allows. */
    for (int i = 0; i < 100; i++)
        v[i] = (uint16_t)(0x3c00 + i % 5); /* 1.0 .. 1.0 + 4 ulp */
    CHECK(pd_palettize(v, 100, 4, PD_PAL_UNIFORM, pal, idx, &err) == PD_OK);
    CHECK(pal[0] == 0x3c00 && pal[1] == 0x3c01 && pal[4] == 0x3c04 && pal[15] == 0x3c04);
    CHECK(nearest_ok(v, 100, pal, 16, idx));
    for (int i = 0; i < 100; i++)
        v[i] = (uint16_t)(0x3c00 + (i % 2) * 40);
    CHECK(pd_palettize(v, 100, 4, PD_PAL_UNIFORM, pal, idx, &err) == PD_OK);
    CHECK(ascending(pal, 16, 1) && pal[0] == 0x3c00 && pal[15] == 0x3c28);

    free(v), free(v2), free(idx), free(idx2);
}

static void test_palettize_hostile(void)
{
    uint16_t v[64], pal[256];
    uint8_t idx[64];
    pd_error err = {0};
    for (int i = 0; i < 64; i++)
        v[i] = pd_f32_to_f16((float)i / 7);
    CHECK(pd_palettize(v, 0, 4, PD_PAL_KMEANS, pal, idx, &err) == PD_E_ARG);
    CHECK(pd_palettize(v, -5, 4, PD_PAL_KMEANS, pal, idx, &err) == PD_E_ARG);
    CHECK(pd_palettize(v, 64, 0, PD_PAL_KMEANS, pal, idx, &err) == PD_E_ARG && strstr(err.message, "bits"));
    CHECK(pd_palettize(v, 64, 9, PD_PAL_KMEANS, pal, idx, &err) == PD_E_ARG);
    CHECK(pd_palettize(v, 64, 4, (pd_pal_mode)7, pal, idx, &err) == PD_E_ARG);
    CHECK(pd_palettize(NULL, 64, 4, PD_PAL_KMEANS, pal, idx, &err) == PD_E_ARG);
    CHECK(pd_palettize(v, 64, 4, PD_PAL_KMEANS, NULL, idx, &err) == PD_E_ARG);
    CHECK(pd_palettize(v, 64, 4, PD_PAL_KMEANS, pal, NULL, &err) == PD_E_ARG);
    CHECK(pd_palettize(v, 64, 4, PD_PAL_KMEANS, pal, idx, NULL) == PD_OK);

    /* NaN, +inf, -inf: refused, naming the value and its index. */
    static const struct { uint16_t h; const char *name; } bad[] = {
        {0x7e00, "NaN"}, {0xfe01, "NaN"}, {0x7c01, "NaN"}, {0x7c00, "+inf"}, {0xfc00, "-inf"}};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
        for (int mode = 0; mode < 2; mode++) {
            uint16_t h[64];
            memcpy(h, v, sizeof h);
            h[37] = bad[b].h;
            h[50] = 0x7e00;
            err.message[0] = 0;
            CHECK(pd_palettize(h, 64, 4, (pd_pal_mode)mode, pal, idx, &err) == PD_E_ARG);
            CHECK_MSG(strstr(err.message, bad[b].name) && strstr(err.message, "37"), "%s", err.message);
        }

    /* All equal: one value, every index 0, in both modes. */
    for (int mode = 0; mode < 2; mode++) {
        for (int i = 0; i < 64; i++)
            v[i] = 0xbc00; /* -1 */
        memset(idx, 0xff, sizeof idx);
        CHECK(pd_palettize(v, 64, 8, (pd_pal_mode)mode, pal, idx, &err) == PD_OK);
        int ok = 1;
        for (int j = 0; j < 256; j++)
            ok &= pal[j] == 0xbc00;
        for (int i = 0; i < 64; i++)
            ok &= idx[i] == 0;
        CHECK_MSG(ok, "all-equal, mode %d", mode);
    }

    /* ±0 are one value: +0 in the palette, one index for both. */
    for (int mode = 0; mode < 2; mode++) {
        for (int i = 0; i < 64; i++)
            v[i] = i % 3 == 0 ? 0x8000 : i % 3 == 1 ? 0x0000 : 0x3c00;
        CHECK(pd_palettize(v, 64, 1, (pd_pal_mode)mode, pal, idx, &err) == PD_OK);
        CHECK(pal[0] == 0x0000 && pal[1] == 0x3c00);
        int ok = 1;
        for (int i = 0; i < 64; i++)
            ok &= idx[i] == (i % 3 == 2);
        CHECK_MSG(ok, "±0, mode %d", mode);
    }
    /* Only -0: the palette is +0. */
    for (int i = 0; i < 64; i++)
        v[i] = 0x8000;
    CHECK(pd_palettize(v, 64, 2, PD_PAL_KMEANS, pal, idx, &err) == PD_OK && pal[0] == 0 && idx[5] == 0);

    /* Extremes and subnormals: ±65504 and the smallest subnormals survive. */
    uint16_t ext[] = {0xfbff, 0x7bff, 0x0001, 0x8001, 0x0000, 0x0400, 0x83ff};
    CHECK(pd_palettize(ext, 7, 3, PD_PAL_KMEANS, pal, idx, &err) == PD_OK);
    int ok = 1;
    for (int i = 0; i < 7; i++)
        ok &= dec(pal[idx[i]]) == dec(ext[i]);
    CHECK(ok && pal[0] == 0xfbff && pal[6] == 0x7bff && pal[7] == 0x7bff);
    CHECK(pd_palettize(ext, 7, 2, PD_PAL_UNIFORM, pal, idx, &err) == PD_OK);
    CHECK(pal[0] == 0xfbff && pal[3] == 0x7bff && nearest_ok(ext, 7, pal, 4, idx));
    CHECK(pd_palettize(ext, 7, 2, PD_PAL_KMEANS, pal, idx, &err) == PD_OK);
    CHECK(ascending(pal, 4, 1) && nearest_ok(ext, 7, pal, 4, idx));
}

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* A full-size tensor (2.36 M values, trained-weight-like tails): a timing
 * print, not an assertion — the machine may be busy. */
static void time_large(void)
{
    const int64_t n = 2359296; /* 512 x 512 x 3 x 3: the VAE's 3x3 convolutions */
    uint16_t *v = malloc(sizeof(uint16_t) * n);
    uint8_t *idx = malloc((size_t)n);
    uint16_t pal[256];
    pd_error err = {0};
    for (int64_t i = 0; i < n; i++) {
        double g = gauss();
        v[i] = pd_f32_to_f16((float)(0.02 * g * (1 + g * g / 4))); /* heavier tails than normal */
    }
    static uint8_t seen[65536];
    int nd = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = v[i] == 0x8000 ? 0 : v[i];
        nd += !seen[h];
        seen[h] = 1;
    }
    for (int bits = 6; bits <= 8; bits += 2) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        pd_status st = pd_palettize(v, n, bits, PD_PAL_KMEANS, pal, idx, &err);
        double t1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
        CHECK(st == PD_OK);
        printf("kmeans: %lld values, %d distinct, k = %d: %.0f ms (%.0f ms CPU)\n", (long long)n, nd,
               1 << bits, 1e3 * (t1 - t0), 1e3 * (c1 - c0));
    }
    free(v), free(idx);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_optimality();
    test_search_cases();
    test_kmeans_hostile();
    test_palettize();
    test_palettize_hostile();
    time_large();
    return check_summary("unit-kmeans");
}
