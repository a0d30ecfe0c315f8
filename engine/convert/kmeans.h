/* kmeans.h — choosing palettes: optimal 1-D k-means and uniform grids.
 *
 *     uint16_t palette[64];
 *     uint8_t *idx = malloc(n);
 *     pd_palettize(f16_values, n, 6, PD_PAL_KMEANS, palette, idx, &err);
 *     // palette: 64 float16 values, ascending; idx[i]: the entry nearest values[i]
 *
 * k-means in one dimension has an exact solution: sorted values split into k
 * contiguous clusters, found by dynamic programming (what coremltools'
 * kmeans1d does). Weights are float16, so there are at most 65536 distinct
 * values: the program runs over the distinct values weighted by their
 * counts, whatever the tensor's size. Deterministic (no random starts).
 *
 * Pure functions; thread-safe. The caller owns every buffer.
 */
#ifndef PD_KMEANS_H
#define PD_KMEANS_H

#include <stdint.h>

#include "paldiff.h"

typedef enum {
    PD_PAL_KMEANS,   /* optimal 1-D k-means (least squared error)       */
    PD_PAL_UNIFORM   /* 2^bits evenly spaced values from min to max      */
} pd_pal_mode;

/* Optimal k-means of n distinct ascending values x with weights w (> 0):
 * centers[k] ascending (the weighted means of the clusters; when n < k the
 * extra centers repeat the last value) and the weighted squared error.
 *
 * n >= 1 and k >= 1; values finite and strictly ascending, weights finite
 * and > 0; anything else is PD_E_ARG naming the first bad entry. `sse` may be
 * NULL. A one-value cluster's center is that value exactly. Deterministic:
 * the result is a function of the input alone; which of several equally
 * good clusterings it is, is not specified. Time: a few O(n log n) passes
 * whatever k (a penalty search, see kmeans.c; typically 1 to 6); memory
 * about 90 bytes a value (30 000 values: 2.7 MB). */
pd_status pd_kmeans1d(const double *x, const double *w, int64_t n, int k, double *centers,
                      double *sse, pd_error *err);

/* Palettizes n float16 values (one group) at `bits` (1..8): palette gets
 * 2^bits float16 entries, ascending; idx[i] the entry nearest value i (ties
 * to the lower entry). NaN or infinite values are PD_E_ARG.
 *
 * - n is 1 .. 2^32 − 1; idx has room for n bytes, palette for 2^bits.
 * - −0 and +0 are one value (+0 in the palette).
 * - PD_PAL_KMEANS: pd_kmeans1d over the distinct values weighted by their
 *   counts, centers rounded to float16 (they stay strictly ascending: each
 *   lies within its own cluster's values). With at most 2^bits distinct
 *   values the palette is those values exactly, every value decodes to
 *   itself, and the unused entries repeat the largest.
 * - PD_PAL_UNIFORM: min + (max − min)·t / (2^bits − 1) rounded to float16;
 *   the ends are the minimum and maximum exactly. Where rounding would
 *   repeat an entry the grid takes the neighbouring float16 values instead,
 *   as long as [min, max] holds enough of them (then the tail repeats max).
 * - Assignment is to the nearest palette entry as decoded, not to the
 *   k-means cluster; a 65536-entry table makes it O(n).
 * Deterministic: the same values in any order give the same palette. */
pd_status pd_palettize(const uint16_t *values, int64_t n, int bits, pd_pal_mode mode,
                       uint16_t *palette, uint8_t *idx, pd_error *err);

#endif
