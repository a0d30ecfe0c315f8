/* palette.h — the layout of palettized (PD_PAL) weights, and decoding it.
 *
 *     // a [out, in] weight at 6 bits, one palette per 8 output channels
 *     pd_weight w = {.dtype = PD_PAL, .ndim = 2, .shape = {out, in}, .bits = 6,
 *                    .group_size = 8, .palette = f16_table, .data = packed};
 *     float row[in];
 *     pd_pal_decode_row(&w, r, 0, in, row);            // = pd_weight_read(&w, r, 0, in, row)
 *
 * Layout (the file format stores exactly this; docs/palettized-format.md):
 * - Rows are output channels (shape[0]); a row holds the product of the
 *   other dimensions in PyTorch order, like every pd_weight.
 * - Each row's indices start on a byte boundary: row r begins at
 *   data + r · pd_pal_row_bytes(cols, bits). Within a row, element j is the
 *   `bits`-bit unsigned number at bit offsets [j·bits, (j+1)·bits) of the
 *   row's bytes, least significant bit first (bit k of the row is bit k % 8
 *   of byte k / 8). Bits past the last element of a row are zero.
 * - Row r's palette is palette + (r / group_size) · 2^bits float16 values;
 *   group_size divides shape[0] (group_size = shape[0]: one per tensor).
 *
 * Pure functions of their arguments: thread-safe.
 */
#ifndef PD_PALETTE_H
#define PD_PALETTE_H

#include <stdint.h>

#include "kernels/weight.h"

/* Bytes of one packed row of `cols` indices of `bits` bits (1..8). */
static inline int64_t pd_pal_row_bytes(int64_t cols, int bits) { return (cols * bits + 7) / 8; }

/* Packs n indices (each < 2^bits, one per byte) into pd_pal_row_bytes(n, bits) bytes. */
void pd_pal_pack_row(const uint8_t *idx, int64_t n, int bits, uint8_t *out);

/* Unpacks indices [col, col + n) of a packed row into one byte each. */
void pd_pal_unpack_row(const uint8_t *row, int64_t col, int64_t n, int bits, uint8_t *idx);

/* Decodes elements [col, col + n) of row `row` of a PD_PAL weight to float32:
 * palette look-up, float16 widened. The scalar specification; the GEMM and
 * convolution packing use vectorised twins tested against it. */
void pd_pal_decode_row(const pd_weight *w, int64_t row, int64_t col, int64_t n, float *dst);

#endif
