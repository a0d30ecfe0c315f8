/* vae.h — the autoencoder (diffusers' AutoencoderKL) of SD 1.x and 2.x.
 *
 *     pd_vae *vae;
 *     if (pd_vae_load(model, &vae, &err)) return err.status;
 *     // latents as the pipeline holds them (scaled), channels-last [1, 64, 64, 4]
 *     float *rgb = malloc(512 * 512 * 3 * sizeof(float));
 *     pd_vae_decode(vae, 1, 64, 64, latents, rgb, &err);   // [1, 512, 512, 3], about [-1, 1]
 *     pd_vae_free(vae);
 *
 * Decoder: latents / scaling_factor → post_quant_conv → conv_in → mid block
 * (ResNet, single-head attention, ResNet) → up blocks (ResNets, nearest ×2
 * upsampling + conv) → group norm, SiLU, conv_out. Encoder: the mirror image
 * down to the posterior's mean and log-variance (quant_conv, log-variance
 * clamped to [−30, 20] as diffusers does); the pipeline's latents are
 * scaling_factor · (mean + exp(logvar / 2) · noise).
 *
 * Images and latents are channels-last float32 (NHWC). Hyper-parameters come
 * from the model's vae/config.json, else from tensor shapes with SD's
 * standard values (32 norm groups, scaling 0.18215). Weights stay in the
 * model's maps (a pd_vae is a table of descriptors and must not outlive its
 * model). Activations are allocated per call, each freed as soon as it is
 * dead: the peak is a few full-resolution activations (SD at 512×512: about
 * 0.5 GB decoding, 0.4 GB encoding, plus the mapped weights).
 * A failed call (PD_E_ARG, PD_E_NOMEM) writes nothing to its outputs.
 * Calls must not overlap (they share the kernels' thread pool).
 */
#ifndef PD_VAE_H
#define PD_VAE_H

#include "paldiff.h"

struct pd_model;
typedef struct pd_vae pd_vae;

typedef struct pd_vae_config {
    int in_channels;        /* image channels: 3                          */
    int out_channels;       /* 3                                          */
    int latent_channels;    /* 4                                          */
    int blocks;             /* len(block_out_channels): 4                 */
    int block_channels[8];  /* 128, 256, 512, 512                         */
    int layers_per_block;   /* 2 (the decoder runs one more per block)    */
    int groups;             /* group norm groups: 32                      */
    float eps;              /* group norm epsilon: 1e-6                   */
    float scaling_factor;   /* 0.18215                                    */
} pd_vae_config;

/* Looks up and shape-checks every weight. A missing or misshapen tensor is
 * PD_E_MODEL naming it; a config asking for what this code does not run
 * (other block types, act_fn, no mid-block attention) is PD_E_UNSUPPORTED.
 * A VAE without encoder weights loads (decode-only); encoding then fails. */
pd_status pd_vae_load(const struct pd_model *model, pd_vae **out, pd_error *err);
void pd_vae_free(pd_vae *vae);
const pd_vae_config *pd_vae_get_config(const pd_vae *vae);

/* While *cancel is non-zero (set from any thread), pd_vae_decode stops
 * between the decoder's blocks with PD_E_CANCELLED and writes no image.
 * NULL (the default): never. The flag must outlive the decodes. */
void pd_vae_set_cancel(pd_vae *vae, const volatile int *cancel);

/* latents [B, h, w, latent_channels] → image [B, 8h, 8w, out_channels]
 * (8 = 2^(blocks − 1)). */
pd_status pd_vae_decode(const pd_vae *vae, int B, int h, int w, const float *latents,
                        float *image, pd_error *err);
/* image [B, H, W, in_channels], H and W multiples of 8 → mean and logvar
 * [B, H/8, W/8, latent_channels], unscaled; logvar clamped to [−30, 20].
 * PD_E_MODEL when the VAE has no encoder. */
pd_status pd_vae_encode(const pd_vae *vae, int B, int H, int W, const float *image,
                        float *mean, float *logvar, pd_error *err);

#endif
