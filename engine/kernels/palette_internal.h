/* palette_internal.h — the vector twins of pd_pal_decode_row (palette.h),
 * which the GEMM W packers of gemm_avx512.c and gemm_avx2.c run row by row,
 * and which tests and `paldiff bench palette` call directly. Not an engine
 * API.
 *
 *     pd_pal_table t = {.src = NULL};
 *     for (int64_t r = r0; r < r1; r++)            // rows of one tile
 *         pd_pal_decode_row_avx512(&w, r, k0, kc, &t, buf[r - r0]);
 *
 * Each call writes exactly n floats, equal to pd_pal_decode_row's (a table
 * look-up and an exact float16 widening; a signalling NaN in a palette
 * comes out quiet, as F16C's conversion makes it). The palette of the row's
 * group is widened to float32 into `t` once and kept while the following
 * rows share it (rows of a group are consecutive), so a tile widens each
 * palette once. Bytes are read only inside the weight's data
 * (pd_weight_bytes): the last rows use masked or copied loads.
 */
#ifndef PD_PALETTE_INTERNAL_H
#define PD_PALETTE_INTERNAL_H

#include <stdint.h>

#include "kernels/weight.h"

typedef struct {
    const uint16_t *src;        /* the float16 palette `f` holds; NULL: none yet */
    _Alignas(64) float f[256];
} pd_pal_table;

/* Only in builds for x86-64; called only when cpu.c has seen the ISA. */
void pd_pal_decode_row_avx512(const pd_weight *w, int64_t row, int64_t col, int64_t n,
                              pd_pal_table *t, float *dst);
void pd_pal_decode_row_avx2(const pd_weight *w, int64_t row, int64_t col, int64_t n,
                            pd_pal_table *t, float *dst);

#endif
