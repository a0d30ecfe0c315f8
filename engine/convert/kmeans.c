/* kmeans.c — optimal 1-D k-means and the palettes built from it.
 *
 * The problem. Sort the n distinct values; an optimal clustering splits
 * them into contiguous runs. With cost(m, i) the weighted squared error of
 * values [m, i) around their mean and E_j the least error of all n values in
 * j runs, the answer is E_k, and the classic dynamic program
 *
 *     E_j(i) = min over m < i of  E_{j-1}(m) + cost(m, i)
 *
 * (the specification: tests/unit/test_kmeans.c runs it in O(k n^2)) costs
 * O(n log n) a row at best with divide and conquer, O(k n log n) in all:
 * what this file did until SD 1.5 at 8 bits took ten minutes, with k = 256
 * rows over ~7 000-15 000 values in each of 26 727 groups.
 *
 * The penalty (Lagrangian, "Aliens") method drops the dependence on k.
 * cost() satisfies the quadrangle (Monge) inequality — cost(a,c) + cost(b,d)
 * <= cost(a,d) + cost(b,c) for a <= b <= c <= d — which makes E_j convex in
 * j. So for a penalty λ >= 0 per cluster, the program with no count at all,
 *
 *     f(i) = min over m < i of  f(m) + cost(m, i) + λ,    f(0) = 0,
 *
 * finds a clustering whose count c minimises E_c + λ·c: an optimal
 * c-clustering, with c falling as λ rises. Each such solve is one pass:
 * penalized() below, O(n log n) at worst and ~5 comparisons a value in
 * practice. Equal values go to fewer clusters, so c is the fewest among
 * the optimal counts.
 *
 * The search keeps two solutions, A with more than k clusters and B with
 * fewer (at first all singletons, optimal at λ = 0, and one cluster), and
 * the penalties known to give more and fewer than k (lamA < lamB). A guess
 * for λ is tried when it lies strictly between them:
 *   - first, Panter and Dite's high-resolution estimate of E_k and the slope
 *     of E_j ~ j^-2 at k; then the power law through the last two
 *     solutions; both aimed 1 % past k, so that the missing end of the
 *     bracket turns up at once (if a guess lands on the end already known,
 *     λ halves or doubles towards the missing one);
 *   - with both ends found, more than two clusters apart, regula falsi on
 *     log count against log λ.
 * A solve landing strictly inside (B's count, A's count) replaces an end (or
 * is the answer, at k). With both ends found, a guess landing on an end, or
 * the second guess in a row to replace the same end, is followed by the
 * chord: the λ at which A and B cost the same, (E_B − E_A) / (count A −
 * count B). There, either some count in between is strictly better — the
 * solve finds it, a new end — or A and B are both optimal for that λ, and
 * splice() makes an optimal k-clustering of the two (its comment has the
 * argument). Every solve narrows the bracket, or moves a bound on λ, or
 * ends, so the search terminates; on float16 groups like SD 1.5's it takes
 * on average ~2.6 solves at k = 4, 1.4 at k = 16, 3 at k = 64, 5 at
 * k = 256 (at most ~11). Against the divide and conquer (CPU time, ten
 * inputs a case, one core): n = 7 000 distinct Gaussian values with counts
 * ~6 at k = 16, 64, 256 ~2.9×, 6.9×, 21× faster, n = 30 000 at k = 64, 256
 * ~7.7×, 23×; float16 groups of 46 000 weights (~14 000 distinct) at
 * k = 16, 64, 256 ~6.5×, 11×, 22×. At k = 4, where the rows are few, it is
 * about even (1.1× and 0.7×). Memory is about 90 bytes a value, whatever k.
 *
 * Ties. Which of several equally good clusterings comes out depends on the
 * path of the search and on rounding, both functions of the input alone:
 * the result is deterministic, but no longer the leftmost split points.
 *
 * Numerics. cost(m, i) = S2 - S1^2 / S0 over the run's weighted sums cancels
 * when the run's spread is small next to its distance from the origin.
 * The sums are therefore taken of y = x - c with c the weighted mean of all
 * values (two-pass), and the prefix sums are compensated (Neumaier): each
 * prefix is hi + lo, and a difference subtracts both parts. Comparisons of
 * costs are then good to about 1e-16 of the total error, and the
 * optimality argument above holds to that accuracy: tests check the result
 * against the plain program to 1e-12. The centers and the returned error
 * are recomputed from the chosen runs by two-pass sums around each run's
 * first value, so that a one-value cluster's center is that value exactly
 * and the error is as accurate as a direct sum.
 */
#include "convert/kmeans.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/weight.h"

/* ---- the penalized program ---------------------------------------------- */

/* What the program keeps about boundary i (values [0, i) before it), in
 * one 64-byte line, since the searches below jump about: the compensated
 * prefix sums of w, w·y, w·y² (y centered; the sum over [0, i) is hi + lo)
 * and the penalized solution for [0, i). */
typedef struct {
    double w, wy, wyy;
    double w_lo, wy_lo, wyy_lo;
    double f;     /* least error + penalty · clusters                         */
    int32_t cnt;  /* clusters of that solution, the fewest among equals       */
    int32_t last; /* where its last cluster starts                            */
} node;

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

/* Squared error of the values between boundaries a and b (a before b, at
 * least one value) around their weighted mean. */
static inline double cost(const node *a, const node *b)
{
    double w = (b->w - a->w) + (b->w_lo - a->w_lo);
    double s1 = (b->wy - a->wy) + (b->wy_lo - a->wy_lo);
    double s2 = (b->wyy - a->wyy) + (b->wyy_lo - a->wyy_lo);
    double c = s2 - s1 * s1 / w;
    return c > 0 ? c : 0;
}

/* The program for one penalty: nodes 0..n and the candidate queue. */
typedef struct {
    node *v;
    int64_t n;
    int32_t *q;    /* candidate starts m, ascending ...                       */
    int32_t *from; /* ... q[t] being the best for i in [from[t], from[t + 1]) */
} penal;

/* Does a last cluster starting at c beat one starting at o < c for values
 * [0, i)? Less error, or as little with fewer clusters. The difference
 * (o's value − c's) never falls as i grows (Monge), and the count rule does
 * not depend on i: once c wins, it wins for every larger i. */
static inline int later_wins(const node *v, int64_t o, int64_t c, int64_t i)
{
    double vo = v[o].f + cost(&v[o], &v[i]), vc = v[c].f + cost(&v[c], &v[i]);
    return (vc < vo) | ((vc == vo) & (v[c].cnt < v[o].cnt));
}

/* The first i in (lo, n] where c beats o (o beats c at lo), or n + 1 if
 * none: galloping, since the crossing is usually within a few boundaries
 * of lo, then bisecting. */
static int64_t overtake(const node *v, int64_t o, int64_t c, int64_t lo, int64_t n)
{
    int64_t hi = lo + 1, step = 1;
    while (hi <= n && !later_wins(v, o, c, hi)) {
        lo = hi, step *= 2;
        hi = lo + step;
    }
    if (hi > n)
        hi = n + 1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (later_wins(v, o, c, mid))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* f(i) = min over m < i of f(m) + cost(m, i) + lambda for i = 1..n (f(0) =
 * 0), by the candidate queue of the concave least-weight-subsequence
 * problem: each new start m = i − 1 drops the tail candidates it beats and
 * then finds where it overtakes the new tail, galloping then bisecting
 * (the crossing is usually near the tail's own). Returns the number of
 * clusters of the solution for [0, n). */
static int64_t penalized(penal *s, double lambda)
{
    const int64_t n = s->n;
    node *v = s->v;
    int32_t *q = s->q, *from = s->from;
    int64_t h = 0, t = 0; /* live candidates q[h..t) */
    v[0].f = 0, v[0].cnt = 0;
    for (int64_t i = 1; i <= n; i++) {
        int64_t c = i - 1;
        while (t > h && later_wins(v, q[t - 1], c, from[t - 1] > i ? from[t - 1] : i))
            t--;
        if (t == h) {
            q[t] = (int32_t)c, from[t] = (int32_t)i, t++;
        } else {
            int64_t hi = overtake(v, q[t - 1], c, from[t - 1] > i ? from[t - 1] : i, n);
            if (hi <= n)
                q[t] = (int32_t)c, from[t] = (int32_t)hi, t++;
        }
        while (t - h > 1 && from[h + 1] <= i)
            h++;
        int64_t m = q[h];
        v[i].f = v[m].f + cost(&v[m], &v[i]) + lambda;
        v[i].cnt = v[m].cnt + 1;
        v[i].last = (int32_t)m;
    }
    return v[n].cnt;
}

/* A clustering: cluster j is values [b[j], b[j + 1]), j < nc; b[nc] = n. */
typedef struct {
    int32_t *b;
    int64_t nc;
    double sse;
} path;

static void path_sse(const node *v, path *P)
{
    P->sse = 0;
    for (int64_t j = 0; j < P->nc; j++)
        P->sse += cost(&v[P->b[j]], &v[P->b[j + 1]]);
}

/* The solution penalized() left. */
static void take_path(const penal *s, path *P)
{
    int64_t i = s->n;
    P->nc = s->v[i].cnt;
    for (int64_t j = P->nc; j >= 0; j--) {
        P->b[j] = (int32_t)i;
        i = j > 0 ? s->v[i].last : 0;
    }
    path_sse(s->v, P);
}

/* A k-cluster solution from A (more than k clusters) and B (fewer), both
 * optimal for one penalty. Let t(s) be B's cluster holding A's boundary
 * a_s. d(s) = s − t(s) starts at 0, ends at least A.nc − B.nc, and can only
 * rise (by one) from an s whose cluster [a_s, a_{s+1}) lies inside B's
 * cluster [b_t, b_{t+1}). So some such s has d(s) = k − B.nc; there
 * A's first s clusters, then [a_s, b_{t+1}), then B's clusters after t make
 * k clusters, and B's first t, [b_t, a_{s+1}), A's rest make the other
 * A.nc + B.nc − k. The quadrangle inequality over b_t <= a_s < a_{s+1} <=
 * b_{t+1} says the two together cost no more than A and B did, with as many
 * clusters in all: both are optimal for the penalty, and the first is then
 * an optimal k-clustering. */
static void splice(const path *A, const path *B, int64_t k, path *C)
{
    int64_t t = 0;
    for (int64_t s = 0; s < A->nc; s++) {
        while (t + 1 < B->nc && B->b[t + 1] <= A->b[s])
            t++;
        if (s - t == k - B->nc && A->b[s + 1] <= B->b[t + 1]) {
            C->nc = 0;
            for (int64_t j = 0; j <= s; j++)
                C->b[C->nc++] = A->b[j];
            for (int64_t j = t + 1; j <= B->nc; j++)
                C->b[C->nc++] = B->b[j];
            C->nc--;
            return;
        }
    }
}

/* The slope at k of the power law E_j = e·(c / j)^p through one solution
 * (c clusters, error e): about the penalty at which k clusters pay. */
static double power_slope(double c, double e, double p, double k)
{
    return e * pow(c / k, p) * (pow(k / (k - 0.5), p) - pow(k / (k + 0.5), p));
}

/* The penalty search of the top comment. A (n singletons) and B (one
 * cluster) are the first ends, C scratch; e_est estimates E_k. Returns the
 * k-cluster solution: C. */
static path *search_k(penal *s, int64_t k, double e_est, path *A, path *B, path *C)
{
    double lamA = 0, lamB = INFINITY; /* penalties known to give > k and < k clusters */
    double c1 = (double)k, e1 = e_est, c2 = 0, e2 = 0; /* the last two solutions */
    int estimated = 1;  /* (c1, e1) is still the estimate */
    int guess = 1;      /* try a guess before the chord */
    int side = 0;       /* the end the last guess replaced */
    for (;;) {
        const double kk = (double)k;
        const int two = B->nc > 1 && A->nc < s->n; /* both ends are solutions found */
        double lambda = NAN;
        if (guess && two && A->nc - B->nc > 2) { /* regula falsi, log clusters against log penalty */
            double f = log(kk / (double)B->nc) / log((double)A->nc / (double)B->nc);
            lambda = lamB * pow(lamA / lamB, f);
        } else if (guess && !two) { /* aim 1 % past k, to find the missing end */
            double p = 2, cb = c1, eb = e1;
            if (c2 > 0) {
                p = log(e1 / e2) / log(c2 / c1);
                if (fabs(c2 - kk) < fabs(c1 - kk))
                    cb = c2, eb = e2;
            }
            double aim = 0.01 * kk;
            lambda = power_slope(cb, eb, p, B->nc > 1 ? kk + aim : kk - aim);
        }
        if (guess && !two && !(lambda > lamA && lambda < lamB))
            lambda = B->nc > 1 ? lamB / 2 : lamA * 2; /* the missing end is that way */
        int guessed = lambda > lamA && lambda < lamB; /* else it cannot land inside */
        if (!guessed)
            lambda = (B->sse - A->sse) / (double)(A->nc - B->nc);
        int64_t c = penalized(s, lambda);
        if (c > B->nc && c < A->nc) {
            take_path(s, C);
            if (c == k)
                return C;
            if (estimated || c != (int64_t)c1) {
                c2 = estimated ? 0 : c1, e2 = e1;
                c1 = (double)c, e1 = C->sse, estimated = 0;
            }
            path t = *C;
            if (c > k)
                *C = *A, *A = t, lamA = lambda;
            else
                *C = *B, *B = t, lamB = lambda;
            int sd = c > k ? 1 : -1;
            guess = !(guessed && two && sd == side); /* regula falsi stalls on one end */
            side = sd;
        } else if (guessed) { /* landed on (or past) an end: a closer penalty for it */
            if (c >= A->nc)
                lamA = lambda;
            else
                lamB = lambda;
            guess = !two; /* with an end still missing, go on looking for it */
        } else { /* the chord: A and B are both optimal at this penalty */
            splice(A, B, k, C);
            return C;
        }
    }
}

/* Panter and Dite's high-resolution estimate of the k-cluster error,
 * (W / 12 k²)·(∫ p^(1/3))³, the density p at each value its weight over
 * the gap around it. A guess, so single precision cube roots (cheaper),
 * of terms scaled by the range to keep them in float's. */
static double panter_dite(const double *x, const double *w, int64_t n, double sw, int k)
{
    double range = x[n - 1] - x[0], g = 0;
    for (int64_t t = 0; t < n; t++) {
        double lo = x[t > 0 ? t - 1 : 0], hi = x[t + 1 < n ? t + 1 : t];
        double gap = (hi - lo) / (t > 0 && t + 1 < n ? 2 : 1) / range;
        g += cbrtf((float)(gap * gap * w[t] / sw));
    }
    return sw * range * range * g * g * g / (12.0 * k * k);
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

    size_t np = (size_t)n + 1;
    int32_t *bounds = malloc(sizeof(int32_t) * np);
    int64_t nb = 0;
    if (!bounds)
        return pd_fail(err, PD_E_NOMEM, "k-means: out of memory");
    if (k >= n) { /* every value its own cluster */
        for (int64_t t = 0; t <= n; t++)
            bounds[t] = (int32_t)t;
        nb = n;
    } else if (k == 1) {
        bounds[0] = 0, bounds[1] = (int32_t)n;
        nb = 1;
    } else {
        node *v = malloc(sizeof(node) * np);
        int32_t *imem = malloc(sizeof(int32_t) * 5 * np);
        if (!v || !imem) {
            free(v), free(imem), free(bounds);
            return pd_fail(err, PD_E_NOMEM, "k-means: out of memory for %lld values",
                           (long long)n);
        }
        /* Center on the weighted mean, then compensated prefix sums. */
        double sw = 0, swx = 0;
        for (int64_t t = 0; t < n; t++) {
            sw += w[t];
            swx += w[t] * (x[t] - x[0]);
        }
        double center = x[0] + swx / sw;
        node acc = {0};
        for (int64_t t = 0; t <= n; t++) {
            v[t] = acc;
            if (t == n)
                break;
            double y = x[t] - center;
            add_comp(&acc.w, &acc.w_lo, w[t]);
            add_comp(&acc.wy, &acc.wy_lo, w[t] * y);
            add_comp(&acc.wyy, &acc.wyy_lo, w[t] * y * y);
        }
        if (!isfinite(acc.w) || !isfinite(acc.wyy)) {
            free(v), free(imem), free(bounds);
            return pd_fail(err, PD_E_ARG,
                           "k-means: the weighted sums of %lld values overflow a double; "
                           "scale the values or weights down", (long long)n);
        }
        penal s = {v, n, imem, imem + np};
        path A = {imem + 2 * np, n, 0}, B = {imem + 3 * np, 1, 0}, C = {imem + 4 * np, 0, 0};
        for (int64_t t = 0; t <= n; t++)
            A.b[t] = (int32_t)t;
        B.b[0] = 0, B.b[1] = (int32_t)n;
        path_sse(v, &B);
        const path *R = search_k(&s, k, panter_dite(x, w, n, sw, k), &A, &B, &C);
        memcpy(bounds, R->b, sizeof(int32_t) * (size_t)(R->nc + 1));
        nb = R->nc;
        free(v), free(imem);
    }

    double total = 0, last = 0;
    for (int64_t b = 0; b < nb; b++) {
        double mu, e;
        run_stats(x, w, bounds[b], bounds[b + 1], &mu, &e);
        centers[b] = last = mu;
        total += e;
    }
    for (int64_t b = nb; b < k; b++)
        centers[b] = last; /* n < k */
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
