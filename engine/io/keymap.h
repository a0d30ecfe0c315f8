/* keymap.h — one internal naming for the tensors of both checkpoint layouts.
 *
 *     pd_key_target t[3];
 *     int n = pd_keymap_original("model.diffusion_model.input_blocks.0.0.weight", 320, t);
 *     // n == 1, t[0] = { PD_COMPONENT_UNET, "conv_in.weight", 0, -1 }
 *
 * The internal names are diffusers' (transformers' CLIPTextModel names for the
 * text encoder, "text_model.…"; UNet2DConditionModel's; AutoencoderKL's with
 * the current attention names to_q/to_k/to_v/to_out.0). A diffusers folder
 * maps almost one to one (legacy names such as query/key/value/proj_attn are
 * renamed); an original single-file checkpoint (LDM names: model.diffusion_model.*,
 * first_stage_model.*, cond_stage_model.* of CLIP or OpenCLIP) maps through
 * the table in keymap.c. OpenCLIP's fused attn.in_proj_weight/_bias map to
 * three targets, q, k and v, each a third of the rows.
 *
 * Keys paldiff does not use (EMA copies, schedule buffers such as
 * alphas_cumprod, position_ids, text_projection, logit_scale, …) map to
 * nothing (0 targets), and so does any key the table does not know, including
 * UNet/VAE block indices outside the fixed SD 1.x / 2.x structure and names
 * that would not fit in PD_KEY_MAX - 1 bytes. The caller decides whether a
 * missing weight is an error; it must also accept a target's shape differing
 * from the source's by trailing 1×1 dimensions (LDM stores the VAE attention
 * projections as [C,C,1,1] convolutions, diffusers as [C,C] linears).
 *
 * Keys are NUL-terminated strings; any bytes are safe. Pure functions, no
 * allocation: thread-safe.
 */
#ifndef PD_KEYMAP_H
#define PD_KEYMAP_H

#include <stdint.h>

#include "paldiff.h"

#define PD_KEY_MAX 160

typedef struct pd_key_target {
    int component;            /* PD_COMPONENT_TEXT, _UNET or _VAE          */
    char name[PD_KEY_MAX];    /* internal name                              */
    int64_t row0;             /* first row of the source tensor (shape[0])  */
    int64_t rows;             /* rows taken; -1 = the whole tensor          */
} pd_key_target;

/* Maps a key of an original single-file checkpoint. shape0 is the key's
 * shape[0]: only fused q/k/v use it, and need it positive and divisible by
 * three (else 0 targets). Returns the number of targets written (0..3);
 * entries past that are unspecified. Every target has row0 = 0, rows = -1
 * except the three of a fused q/k/v (row0 = 0, s, 2s; rows = s = shape0/3). */
int pd_keymap_original(const char *key, int64_t shape0, pd_key_target out[3]);

/* Maps a key of a diffusers component file (component = the folder it came
 * from, a PD_COMPONENT_*). Returns 0 (position_ids, an unknown component,
 * an empty or too long key) or 1 (row0 = 0, rows = -1). */
int pd_keymap_diffusers(int component, const char *key, pd_key_target out[1]);

#endif
