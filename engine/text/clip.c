#include "text/clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "io/model.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"

/* Looks up "text_model.<name>" with shape {a} or {a, b}. */
static pd_status get(const pd_model *m, const char *name, int64_t a, int64_t b,
                     pd_weight *w, pd_error *err)
{
    char full[160];
    snprintf(full, sizeof full, "text_model.%s", name);
    int64_t shape[2] = {a, b};
    return pd_model_weight(m, PD_COMPONENT_TEXT, full, b ? 2 : 1, shape, w, err);
}

static pd_status get_linear(const pd_model *m, const char *name, int layer, int64_t out,
                            int64_t in, pd_weight *w, pd_weight *b, pd_error *err)
{
    char n[128];
    snprintf(n, sizeof n, "encoder.layers.%d.%s.weight", layer, name);
    pd_status st = get(m, n, out, in, w, err);
    snprintf(n, sizeof n, "encoder.layers.%d.%s.bias", layer, name);
    return st ? st : get(m, n, out, 0, b, err);
}

pd_status pd_clip_load(const pd_model *m, const pd_clip_config *cfg, pd_clip *clip, pd_error *err)
{
    const int64_t D = cfg->width, I = cfg->intermediate;
    if (cfg->run_layers < 0 || cfg->run_layers > PD_CLIP_MAX_LAYERS ||
        cfg->heads <= 0 || D % cfg->heads || D / cfg->heads > PD_ATTENTION_MAX_D ||
        D > PD_NORM_MAX_CHANNELS || cfg->positions < PD_TOKENS || I <= 0)
        return pd_fail(err, PD_E_MODEL,
                       "%s: text encoder of width %lld, %d heads, %d layers, %d positions "
                       "is not a CLIP text encoder paldiff can run",
                       m->path, (long long)D, cfg->heads, cfg->layers, cfg->positions);
    clip->cfg = *cfg;
    pd_status st;
    if ((st = get(m, "embeddings.token_embedding.weight", cfg->vocab, D, &clip->token_embedding, err)) ||
        (st = get(m, "embeddings.position_embedding.weight", cfg->positions, D,
                  &clip->position_embedding, err)) ||
        (st = get(m, "final_layer_norm.weight", D, 0, &clip->final_ln_w, err)) ||
        (st = get(m, "final_layer_norm.bias", D, 0, &clip->final_ln_b, err)))
        return st;
    for (int l = 0; l < cfg->run_layers; l++) {
        pd_clip_layer *L = &clip->layer[l];
        if ((st = get_linear(m, "layer_norm1", l, D, 0, &L->ln1_w, &L->ln1_b, err)) ||
            (st = get_linear(m, "self_attn.q_proj", l, D, D, &L->q_w, &L->q_b, err)) ||
            (st = get_linear(m, "self_attn.k_proj", l, D, D, &L->k_w, &L->k_b, err)) ||
            (st = get_linear(m, "self_attn.v_proj", l, D, D, &L->v_w, &L->v_b, err)) ||
            (st = get_linear(m, "self_attn.out_proj", l, D, D, &L->out_w, &L->out_b, err)) ||
            (st = get_linear(m, "layer_norm2", l, D, 0, &L->ln2_w, &L->ln2_b, err)) ||
            (st = get_linear(m, "mlp.fc1", l, I, D, &L->fc1_w, &L->fc1_b, err)) ||
            (st = get_linear(m, "mlp.fc2", l, D, I, &L->fc2_w, &L->fc2_b, err)))
            return st;
    }
    return PD_OK;
}

pd_status pd_clip_encode(const pd_clip *clip, const int32_t ids[PD_TOKENS], int clip_skip,
                         float *out, pd_error *err)
{
    const pd_clip_config *cfg = &clip->cfg;
    const int64_t T = PD_TOKENS, D = cfg->width, I = cfg->intermediate, dh = D / cfg->heads;
    if (clip_skip < PD_CLIP_SKIP_NONE || clip_skip > cfg->run_layers)
        return pd_fail(err, PD_E_ARG, "clip_skip %d: expected 1..%d, or none", clip_skip,
                       cfg->run_layers);
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= cfg->vocab)
            return pd_fail(err, PD_E_ARG, "token id %d at position %d is outside the vocabulary (0..%d)",
                           ids[t], t, cfg->vocab - 1);
    int depth = cfg->run_layers - (clip_skip > 0 ? clip_skip : 0);

    /* Activations: x (residual stream), h (normed), q, k, v, a (attention), mlp. */
    float *buf = malloc((size_t)(T * (6 * D + I)) * sizeof(float));
    if (!buf)
        return pd_fail(err, PD_E_NOMEM, "text encoder: out of memory for activations");
    float *x = buf, *h = x + T * D, *q = h + T * D, *k = q + T * D, *v = k + T * D,
          *a = v + T * D, *mlp = a + T * D;

    for (int64_t t = 0; t < T; t++) {
        pd_weight_read(&clip->token_embedding, ids[t], 0, D, x + t * D);
        pd_weight_read(&clip->position_embedding, t, 0, D, h);
        for (int64_t c = 0; c < D; c++)
            x[t * D + c] += h[c];
    }
    for (int l = 0; l < depth; l++) {
        const pd_clip_layer *L = &clip->layer[l];
        pd_layer_norm(T, D, x, D, &L->ln1_w, &L->ln1_b, cfg->eps, h, D);
        pd_gemm(T, D, D, h, D, &L->q_w, &L->q_b, q, D, 0);
        pd_gemm(T, D, D, h, D, &L->k_w, &L->k_b, k, D, 0);
        pd_gemm(T, D, D, h, D, &L->v_w, &L->v_b, v, D, 0);
        pd_attention(cfg->heads, T, T, dh, q, D, k, D, v, D, a, D, 1.0f / sqrtf((float)dh), 1);
        pd_gemm(T, D, D, a, D, &L->out_w, &L->out_b, x, D, 1);
        pd_layer_norm(T, D, x, D, &L->ln2_w, &L->ln2_b, cfg->eps, h, D);
        pd_gemm(T, I, D, h, D, &L->fc1_w, &L->fc1_b, mlp, I, 0);
        pd_activate(cfg->act, mlp, T * I);
        pd_gemm(T, D, I, mlp, I, &L->fc2_w, &L->fc2_b, x, D, 1);
    }
    pd_layer_norm(T, D, x, D, &clip->final_ln_w, &clip->final_ln_b, cfg->eps, out, D);
    free(buf);
    return PD_OK;
}
