/* conv.h — 2-D convolution of channels-last images, as an implicit GEMM.
 *
 *     // x: 2 images of 64×64 with 320 channels (NHWC); w: [640, 320, 3, 3]
 *     pd_conv2d(2, 64, 64, 320, x, &w, &bias, 1, (int[4]){1, 1, 1, 1}, y, 0);
 *     // y: 2 × 64 × 64 × 640 (NHWC)
 *
 *     // a decoder's upsampler: x 2 × 32 × 32 × 640 read as its ×2 nearest
 *     // upsampling (64 × 64), then a 3×3 conv; y: 2 × 64 × 64 × 640
 *     pd_conv2d_up2(2, 32, 32, 640, x, &w, &bias, 1, (int[4]){1, 1, 1, 1}, y, 0);
 *
 * Activations are channels-last, [B, H, W, C] contiguous: every pixel's
 * channels are adjacent, so a 1×1 convolution is one GEMM and a k×k one a
 * GEMM over patches. The weight keeps PyTorch's order [O, C, kh, kw] (its
 * rows are what pd_gemm packs and decodes). pad = {top, left, bottom,
 * right} zeros; the output is Ho = (H + top + bottom − kh) / stride + 1 by
 * Wo likewise. bias (NULL or O elements) is added; with accumulate != 0 the
 * result is added to y (a residual). y must not overlap x.
 *
 * pd_conv2d_up2 convolves the 2H × 2W nearest-neighbour upsampling of x
 * (pixel (y, x) is x's (y >> 1, x >> 1): pd_upsample_nearest to exactly
 * 2H × 2W) without storing it; Ho, Wo are as above with 2H, 2W for H, W.
 * Upsampling to other sizes is pd_upsample_nearest, then pd_conv2d.
 *
 * The fast paths pack pd_gemm's X micro-panels straight from the image (no
 * patch matrix, not even a tile of one) and run on the pool. pd_conv2d_ref
 * is the specification: the direct six-deep loop, single-threaded;
 * pd_conv2d_up2_ref is pd_upsample_nearest then pd_conv2d_ref. A 2-D
 * weight [O, C] counts as 1×1.
 *
 * Scratch: C floats per call. Calls from several threads take turns (they
 * share the pool).
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
void pd_conv2d_up2(int B, int H, int W, int C, const float *x, const pd_weight *w,
                   const pd_weight *bias, int stride, const int pad[4], float *y, int accumulate);
void pd_conv2d_up2_ref(int B, int H, int W, int C, const float *x, const pd_weight *w,
                       const pd_weight *bias, int stride, const int pad[4], float *y,
                       int accumulate);

#endif
