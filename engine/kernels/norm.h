/* norm.h — normalizations over the channels of each row.
 *
 *     // x: 77 tokens × 768; gamma, beta: [768] weights; may run in place
 *     pd_layer_norm(77, 768, x, 768, &gamma, &beta, 1e-5f, x, 768);
 *
 * pd_layer_norm: y = (x − mean) / sqrt(var + eps) · gamma + beta per row
 * (biased variance, as torch.nn.LayerNorm). Mean and variance are
 * accumulated in double, so the result does not depend on the row length's
 * rounding. x and y may be the same buffer (ldx == ldy). Rows run on the
 * thread pool; pd_layer_norm_ref is the single-threaded specification.
 * Scratch: 2·n floats on the caller's stack for the widened gamma and beta;
 * n must not exceed PD_NORM_MAX_CHANNELS (callers check when loading).
 */
#ifndef PD_NORM_H
#define PD_NORM_H

#include <stdint.h>

#include "kernels/weight.h"

#define PD_NORM_MAX_CHANNELS 8192

void pd_layer_norm(int64_t rows, int64_t n, const float *x, int64_t ldx,
                   const pd_weight *gamma, const pd_weight *beta, float eps,
                   float *y, int64_t ldy);
void pd_layer_norm_ref(int64_t rows, int64_t n, const float *x, int64_t ldx,
                       const pd_weight *gamma, const pd_weight *beta, float eps,
                       float *y, int64_t ldy);

#endif
