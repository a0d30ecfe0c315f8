/* palettize.h — one weight tensor palettized, group by group.
 *
 *     static pd_status keep(int64_t g, const uint16_t *palette, const uint8_t *packed, void *user,
 *                           pd_error *err);   // copies them where they belong
 *     if (pd_palettize_weight(&w, "unet.conv_in.weight", 6, w.shape[0], PD_PAL_KMEANS, keep, out, &err))
 *         return err.status;
 *
 * The one way a weight becomes palettes and indices, shared by the converter
 * (which spools each group to its file) and the mixed-bit recipe search
 * (which keeps whole weights in memory to measure them). A group is
 * group_size consecutive output channels (rows); each gets its own palette of
 * 2^bits float16 values (pd_palettize on the group's values rounded to
 * float16) and its rows' indices packed as kernels/palette.h lays them out.
 *
 * Memory: one group's values, indices and packed rows at a time, allocated
 * per call. Thread-safe for distinct calls; the weight is only read.
 */
#ifndef PD_PALETTIZE_H
#define PD_PALETTIZE_H

#include <stdint.h>

#include "convert/kmeans.h"
#include "kernels/weight.h"
#include "paldiff.h"

/* Receives group g: its palette (2^bits entries) and its group_size packed
 * rows (pd_pal_row_bytes(cols, bits) bytes each), valid during the call. A
 * failure (set in err) stops pd_palettize_weight with that status. */
typedef pd_status (*pd_palettize_emit_fn)(int64_t g, const uint16_t *palette, const uint8_t *packed,
                                          void *user, pd_error *err);

/* Palettizes `w` (F32, F16 or BF16; any rank, rows = shape[0]) at `bits` with
 * group_size rows per palette (it must divide the rows), calling emit for
 * groups 0, 1, … in order. `label` names the tensor in errors (non-finite
 * values, out of memory). */
pd_status pd_palettize_weight(const pd_weight *w, const char *label, int bits, int64_t group_size,
                              pd_pal_mode mode, pd_palettize_emit_fn emit, void *user, pd_error *err);

/* Rows [r0, r0 + nrows) of w rounded to float16 into out (nrows · cols
 * values); `row` is scratch for cols floats (unused when w is F16). */
void pd_weight_rows_f16(const pd_weight *w, int64_t r0, int64_t nrows, uint16_t *out, float *row);

#endif
