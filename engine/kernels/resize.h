/* resize.h — nearest-neighbour resizing of channels-last images.
 *
 *     pd_upsample_nearest(2, 32, 32, 640, x, 64, 64, y);   // ×2, as the UNet's upsamplers
 *
 * Output pixel (oy, ox) copies input (src(oy, H, Ho), src(ox, W, Wo)) with
 *
 *     src(d, in, out) = min((int)floorf((float)d * ((float)in / (float)out)), in - 1)
 *
 * all in float32, as PyTorch's mode="nearest" on the CPU (ATen
 * cpu/UpSampleKernel.cpp nearest_idx → UpSample.h compute_scales_value,
 * nearest_neighbor_compute_source_index). Checked there:
 *  - with size= given (diffusers' Upsample2D passes output_size = the skip
 *    connection's size when the latent is not a multiple of 8), the scale
 *    is static_cast<float>(in) / out and the product dst_index · scale is
 *    a float: 7 → 13 copies rows 0 0 1 1 2 2 3 3 4 4 5 5 6;
 *  - with scale_factor=2 (the usual call) the scale is (float)(1 / 2.0)
 *    = 0.5f, the same value; nearest_idx's shortcuts (out == in: copy,
 *    out == 2·in: d >> 1) agree with the formula for d < 2^24.
 * (Not "nearest-exact", which adds 0.5 before flooring.)
 * x: [B, H, W, C], y: [B, Ho, Wo, C]; no overlap. Runs on the pool.
 */
#ifndef PD_RESIZE_H
#define PD_RESIZE_H

void pd_upsample_nearest(int B, int H, int W, int C, const float *x, int Ho, int Wo, float *y);

#endif
