/* weight.h — the weight descriptor every kernel reads weights through.
 *
 *     pd_weight w = { .dtype = PD_F16, .ndim = 2, .shape = {768, 3072}, .data = mapped };
 *     float row[3072];
 *     pd_weight_read(&w, 5, 0, 3072, row);      // row 5 widened to float32
 *
 * Kernels take `const pd_weight *`, never a bare float pointer, so storage
 * formats (F32, F16, BF16, palettized) plug in below the model code
 * (DESIGN.md §3). A pd_weight does not own `data` or `palette`: they point
 * into the memory map of the model file and live as long as the model.
 * Descriptors are plain values; reading them is thread-safe.
 */
#ifndef PD_WEIGHT_H
#define PD_WEIGHT_H

#include <stdint.h>
#include <string.h>

typedef enum { PD_F32, PD_F16, PD_BF16, PD_PAL } pd_dtype;

typedef struct pd_weight {
    pd_dtype dtype;
    int ndim;
    int64_t shape[4];          /* PyTorch order: [out, in, kh, kw] or [out, in] or [n] */
    const void *data;          /* F32/F16/BF16 values, or packed n-bit indices (PD_PAL) */
    /* PD_PAL only */
    int bits;                  /* 1..8                                                  */
    int64_t group_size;        /* output channels sharing one palette; shape[0] = per-tensor */
    const uint16_t *palette;   /* float16, (shape[0] / group_size) × 2^bits entries     */
} pd_weight;

/* Elements in the whole tensor. */
int64_t pd_weight_numel(const pd_weight *w);
/* Rows (shape[0]) and elements per row (product of the other dimensions). */
static inline int64_t pd_weight_rows(const pd_weight *w) { return w->ndim ? w->shape[0] : 1; }
int64_t pd_weight_cols(const pd_weight *w);
/* Bytes `data` spans: values, or the packed indices of PD_PAL (not its palette). */
int64_t pd_weight_bytes(const pd_weight *w);

/* Widens elements [col, col + n) of row `row` to float32 into dst.
 * The caller keeps row < rows and col + n <= cols. */
void pd_weight_read(const pd_weight *w, int64_t row, int64_t col, int64_t n, float *dst);

/* IEEE half and bfloat16 <-> float32. Round to nearest even; NaN stays NaN. */
static inline float pd_f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t pd_bits_from_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
float pd_f16_to_f32(uint16_t h);
uint16_t pd_f32_to_f16(float f);
static inline float pd_bf16_to_f32(uint16_t h) { return pd_f32_from_bits((uint32_t)h << 16); }
uint16_t pd_f32_to_bf16(float f);

#endif
