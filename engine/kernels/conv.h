/* conv.h — 2-D convolution of channels-last images, as GEMM over bounded tiles.
 *
 *     // x: 2 images of 64×64 with 320 channels (NHWC); w: [640, 320, 3, 3]
 *     pd_conv2d(2, 64, 64, 320, x, &w, &bias, 1, (int[4]){1, 1, 1, 1}, y, 0);
 *     // y: 2 × 64 × 64 × 640 (NHWC)
 *
 * Activations are channels-last, [B, H, W, C] contiguous: every pixel's
 * channels are adjacent, so a 1×1 convolution is one GEMM and a k×k one a
 * GEMM over gathered patches. The weight keeps PyTorch's order [O, C, kh, kw]
 * (its rows are what pd_gemm packs and decodes). pad = {top, left, bottom,
 * right} zeros; the output is Ho = (H + top + bottom − kh) / stride + 1 by
 * Wo likewise. bias (NULL or O elements) is added; with accumulate != 0 the
 * result is added to y (a residual). y must not overlap x.
 *
 * pd_conv2d gathers the patches of a tile of output pixels at a time (rows
 * × C·kh·kw floats, bounded — never the whole image's im2col) and multiplies
 * each tile with pd_gemm. pd_conv2d_ref is the specification: the direct
 * six-deep loop, single-threaded. A 2-D weight [O, C] counts as 1×1.
 *
 * Scratch: one patch buffer for the process, at most 16 MiB (or 12 rows of
 * C·kh·kw floats, if that is more), allocated on first use and kept.
 * Calls from several threads take turns (they share it and the pool).
 */
#ifndef PD_CONV_H
#define PD_CONV_H

#include <stdint.h>

#include "kernels/weight.h"

/* Output size of one spatial dimension. */
static inline int pd_conv_out(int in, int k, int stride, int pad0, int pad1)
{
    return (in + pad0 + pad1 - k) / stride + 1;
}

void pd_conv2d(int B, int H, int W, int C, const float *x, const pd_weight *w,
               const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate);
void pd_conv2d_ref(int B, int H, int W, int C, const float *x, const pd_weight *w,
                   const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate);

#endif
