/* clip.h — the CLIP text encoders Stable Diffusion conditions on.
 *
 *     pd_clip clip;
 *     if (pd_clip_load(model, &cfg, &clip, &err)) return err.status;
 *     float *emb = malloc(PD_TOKENS * cfg.width * sizeof(float));
 *     pd_clip_encode(&clip, ids, PD_CLIP_SKIP_NONE, emb, &err);
 *
 * One forward pass (llama2.c style): token + position embeddings, then
 * pre-norm transformer layers (causal self-attention, MLP), then the final
 * layer norm. SD 1.x: OpenAI CLIP ViT-L/14 (quick_gelu), all layers. SD 2.x:
 * the OpenCLIP ViT-H/14 tower stopped at its penultimate layer (gelu) — a
 * diffusers folder stores it already cut, a single file keeps every layer;
 * cfg.run_layers says how many run. clip_skip k >= 1 stops k layers earlier
 * (diffusers' hidden_states[-(k+1)]); the final layer norm is applied always.
 *
 * Weights are pd_weight descriptors into the model's maps (no copies); a
 * pd_clip is a table of them and lives no longer than its model. Encoding
 * allocates its activations per call (about 77 × (4·width + intermediate)
 * floats, 2.3 MB for SD 2.x) and frees them. Calls must not overlap.
 */
#ifndef PD_CLIP_H
#define PD_CLIP_H

#include "kernels/activation.h"
#include "kernels/weight.h"
#include "paldiff.h"

#define PD_CLIP_MAX_LAYERS 64

typedef struct pd_clip_config {
    int vocab;          /* token embedding rows (49408)               */
    int positions;      /* position embedding rows (77)               */
    int width;          /* hidden size: 768 (SD 1.x), 1024 (SD 2.x)   */
    int heads;          /* 12, 16                                     */
    int intermediate;   /* MLP hidden size: 3072, 4096                */
    int layers;         /* layers present in the weights              */
    int run_layers;     /* layers the conditioning uses (<= layers)   */
    pd_activation act;  /* quick_gelu (SD 1.x) or gelu (SD 2.x)       */
    float eps;          /* layer norm epsilon (1e-5)                  */
} pd_clip_config;

typedef struct pd_clip_layer {
    pd_weight ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
    pd_weight ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} pd_clip_layer;

typedef struct pd_clip {
    pd_clip_config cfg;
    pd_weight token_embedding, position_embedding, final_ln_w, final_ln_b;
    pd_clip_layer layer[PD_CLIP_MAX_LAYERS];
} pd_clip;

struct pd_model;

/* Looks up and shape-checks every weight the first cfg->run_layers layers
 * need (cfg->layers is informative only); a missing or misshapen tensor is PD_E_MODEL naming it. */
pd_status pd_clip_load(const struct pd_model *model, const pd_clip_config *cfg,
                       pd_clip *clip, pd_error *err);

/* out: PD_TOKENS × cfg.width floats. ids must be < cfg.vocab. */
pd_status pd_clip_encode(const pd_clip *clip, const int32_t ids[PD_TOKENS], int clip_skip,
                         float *out, pd_error *err);

#endif
