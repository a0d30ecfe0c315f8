/* preview.h — a cheap look at latents while a run denoises.
 *
 *     uint8_t *rgb = malloc(h * w * 3);
 *     pd_preview_rgb8(latents, h, w, rgb);        // first image of [N, h, w, 4]
 *
 * SD 1.x and 2.x latents are close to a linear map of the image they decode
 * to, so a 4×3 matrix gives a recognisable thumbnail at latent resolution
 * (one pixel per 8×8 block) for the cost of 12 multiplies a pixel, instead
 * of a VAE decode. Thread-safe: no state.
 */
#ifndef PD_PREVIEW_H
#define PD_PREVIEW_H

#include <stdint.h>

/* latents: h × w × 4 floats, channels-last → rgb: h × w × 3 bytes. */
void pd_preview_rgb8(const float *latents, int h, int w, uint8_t *rgb);

#endif
