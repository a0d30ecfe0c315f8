/* unet.h — the denoiser of SD 1.x and 2.x (diffusers' UNet2DConditionModel).
 *
 *     pd_unet *unet;
 *     if (pd_unet_load(model, &unet, &err)) return err.status;
 *     // two rows: unconditional and conditional (one classifier-free-guidance step)
 *     pd_unet_forward(unet, 2, 64, 64, latents, 999.0f, context, 77, out, &err);
 *     pd_unet_free(unet);
 *
 * One forward pass: sinusoidal time embedding → MLP; conv_in; down blocks
 * (ResNets, transformers with self- and cross-attention on the text
 * embedding, strided-conv downsampling), the mid block, up blocks (the
 * down path's outputs concatenated back in, nearest upsampling to the skip
 * connection's size — so latent sides need not be multiples of 8); group
 * norm, SiLU, conv_out. SD 1.x: 8 heads, 1×1-conv projections; SD 2.x: 64
 * channels per head, linear projections; the inpainting UNet takes 9 input
 * channels. Hyper-parameters come from unet/config.json, else from tensor
 * shapes with the standard values.
 *
 * sample and out are channels-last [B, h, w, C] float32 (C = in_channels,
 * out_channels); context is [B, tokens, cross_attention_dim]. One timestep
 * for the whole batch. Weights stay in the model's maps: a pd_unet is a
 * table of descriptors and must not outlive its model. Activations are
 * allocated per call (about B·h·w·(6·Cmax + skips) floats) and freed before
 * return; on failure out is untouched. Calls must not overlap.
 */
#ifndef PD_UNET_H
#define PD_UNET_H

#include "paldiff.h"

#define PD_UNET_MAX_BLOCKS 4

struct pd_model;
typedef struct pd_unet pd_unet;

typedef struct pd_unet_config {
    int in_channels;                        /* 4, or 9 for inpainting           */
    int out_channels;                       /* 4                                */
    int blocks;                             /* 4                                */
    int block_channels[PD_UNET_MAX_BLOCKS]; /* 320, 640, 1280, 1280             */
    int layers_per_block;                   /* 2 (up blocks run one more)       */
    int down_attn[PD_UNET_MAX_BLOCKS];      /* down block i has transformers    */
    int up_attn[PD_UNET_MAX_BLOCKS];        /* up block i has transformers      */
    int heads[PD_UNET_MAX_BLOCKS];          /* attention heads of down block i  */
    int cross_dim;                          /* 768 (SD 1.x), 1024 (SD 2.x)      */
    int groups;                             /* group norm groups: 32            */
    float eps;                              /* ResNet group norm epsilon: 1e-5  */
    int linear_proj;                        /* SD 2.x: linear proj_in/proj_out  */
    int flip_sin_to_cos;                    /* time embedding as [cos, sin]     */
    float freq_shift;                       /* 0                                */
} pd_unet_config;

pd_status pd_unet_load(const struct pd_model *model, pd_unet **out, pd_error *err);
void pd_unet_free(pd_unet *unet);
const pd_unet_config *pd_unet_get_config(const pd_unet *unet);

pd_status pd_unet_forward(const pd_unet *unet, int B, int h, int w, const float *sample,
                          float timestep, const float *context, int tokens, float *out,
                          pd_error *err);

#endif
