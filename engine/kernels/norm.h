/* norm.h — layer norm over the channels of each row; group norm over
 * groups of channels of each image.
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

/* pd_group_norm: channels-last x [B, HW, C]; the C channels fall into
 * `groups` equal groups; each (image, group) is normalized over its HW × C/G
 * values (biased variance, statistics in double), then scaled by gamma[c]
 * and shifted by beta[c], then — with silu != 0 — passed through
 * x·sigmoid(x) (the norm → SiLU pair of every ResNet block, fused to save a
 * pass over memory). x and y may be the same buffer. C must not exceed
 * PD_NORM_MAX_CHANNELS. Runs on the pool; _ref is single-threaded. */
void pd_group_norm(int B, int64_t HW, int C, int groups, const float *x,
                   const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y);
void pd_group_norm_ref(int B, int64_t HW, int C, int groups, const float *x,
                       const pd_weight *gamma, const pd_weight *beta, float eps, int silu, float *y);

#endif
