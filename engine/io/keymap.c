/* keymap.c — the table from original (LDM) checkpoint names to paldiff's
 * internal (diffusers) names.
 *
 * A key is mapped in three steps:
 *   1. its section prefix picks the component and the family of rules
 *      (model.diffusion_model. → UNet, first_stage_model. → VAE, …);
 *   2. the first rule of that family whose pattern matches the start of the
 *      rest rewrites the module path, recomputing block indices where the two
 *      layouts count differently;
 *   3. the tail after the module path is renamed by the tail table of the
 *      rule's kind (ResBlock layers, VAE attention projections) or kept.
 * Keys that match nothing map to nothing; that is how EMA copies, schedule
 * buffers and towers paldiff does not run are dropped.
 *
 * The UNet and VAE index arithmetic assumes the fixed block structure of
 * SD 1.x / 2.x (and their inpainting variants):
 *   UNet: 4 down blocks of 2 layers (layers_per_block = 2), a downsampler
 *         after each but the last; 4 up blocks of 3 layers, an upsampler after
 *         each but the last; LDM numbers input_blocks 0..11 (0 = conv_in, then
 *         3 per down block) and output_blocks 0..11 (3 per up block).
 *   VAE:  4 resolution levels (ch_mult 1,2,4,4); LDM numbers the decoder's
 *         up levels from the lowest resolution's *end* (up.3 runs first), so
 *         up.i is diffusers' up_blocks.(3 - i).
 * Indices outside that structure map to nothing rather than to names the
 * model would not have.
 */
#include "io/keymap.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

enum family { FAM_UNET, FAM_VAE, FAM_CLIP, FAM_OPENCLIP };

/* Step 1. Longer prefixes first where one extends another. */
static const struct section {
    const char *prefix;
    enum family family;
    int component;
} sections[] = {
    {"model.diffusion_model.",       FAM_UNET,     PD_COMPONENT_UNET},
    {"first_stage_model.",           FAM_VAE,      PD_COMPONENT_VAE},
    {"cond_stage_model.transformer.", FAM_CLIP,    PD_COMPONENT_TEXT},
    {"cond_stage_model.model.",      FAM_OPENCLIP, PD_COMPONENT_TEXT},
};

/* How the indices captured by a pattern's '#'s become the template's. */
enum index_rule {
    IX_COPY,      /* unchanged, in order                                    */
    IX_UNET_DOWN, /* input_blocks.i (1..11) → block (i-1)/3, layer (i-1)%3  */
    IX_UNET_UP,   /* output_blocks.i (0..11) → block i/3, layer i%3         */
    IX_VAE_UP,    /* decoder up.i (0..3) → up_blocks.(3-i), rest unchanged  */
};

/* How the tail after the matched module path is written. */
enum tail_kind {
    T_KEEP,       /* verbatim (also: the pattern matched the whole key)     */
    T_UNET_RES,   /* LDM ResBlock layers → diffusers ResnetBlock2D names    */
    T_VAE_RES,    /* LDM VAE ResnetBlock → ResnetBlock2D names              */
    T_VAE_ATTN,   /* LDM VAE AttnBlock → diffusers Attention names          */
    T_QKV,        /* fused q/k/v: three targets, '*' = q, k, v; rows / 3    */
};

/* Step 2. In a pattern, '#' matches a decimal index; a pattern ending in '.'
 * matches a module path (the tail follows), any other pattern the whole rest
 * of the key. In a template, '#' takes the next computed index. The first
 * matching rule of the family wins, so order matters where noted. */
static const struct rule {
    enum family family;
    const char *pattern;
    const char *to;
    enum index_rule index;
    enum tail_kind tail;
} rules[] = {
    /* UNet. input_blocks.0.0 must come before input_blocks.#.0. */
    {FAM_UNET, "input_blocks.0.0.",       "conv_in.",                         IX_COPY,      T_KEEP},
    {FAM_UNET, "input_blocks.#.0.op.",    "down_blocks.#.downsamplers.0.conv.", IX_UNET_DOWN, T_KEEP},
    {FAM_UNET, "input_blocks.#.0.",       "down_blocks.#.resnets.#.",         IX_UNET_DOWN, T_UNET_RES},
    {FAM_UNET, "input_blocks.#.1.",       "down_blocks.#.attentions.#.",      IX_UNET_DOWN, T_KEEP},
    {FAM_UNET, "middle_block.0.",         "mid_block.resnets.0.",             IX_COPY,      T_UNET_RES},
    {FAM_UNET, "middle_block.1.",         "mid_block.attentions.0.",          IX_COPY,      T_KEEP},
    {FAM_UNET, "middle_block.2.",         "mid_block.resnets.1.",             IX_COPY,      T_UNET_RES},
    /* The upsampler is the last module of an up block's last layer: at .1 in
     * block 0 (no attention there), at .2 elsewhere; only it has "conv.". */
    {FAM_UNET, "output_blocks.#.#.conv.", "up_blocks.#.upsamplers.0.conv.",   IX_UNET_UP,   T_KEEP},
    {FAM_UNET, "output_blocks.#.0.",      "up_blocks.#.resnets.#.",           IX_UNET_UP,   T_UNET_RES},
    {FAM_UNET, "output_blocks.#.1.",      "up_blocks.#.attentions.#.",        IX_UNET_UP,   T_KEEP},
    {FAM_UNET, "time_embed.0.",           "time_embedding.linear_1.",         IX_COPY,      T_KEEP},
    {FAM_UNET, "time_embed.2.",           "time_embedding.linear_2.",         IX_COPY,      T_KEEP},
    {FAM_UNET, "out.0.",                  "conv_norm_out.",                   IX_COPY,      T_KEEP},
    {FAM_UNET, "out.2.",                  "conv_out.",                        IX_COPY,      T_KEEP},

    /* VAE. */
    {FAM_VAE, "encoder.conv_in.",                 "encoder.conv_in.",                          IX_COPY,   T_KEEP},
    {FAM_VAE, "encoder.down.#.block.#.",          "encoder.down_blocks.#.resnets.#.",          IX_COPY,   T_VAE_RES},
    {FAM_VAE, "encoder.down.#.downsample.conv.",  "encoder.down_blocks.#.downsamplers.0.conv.", IX_COPY,  T_KEEP},
    {FAM_VAE, "encoder.mid.block_1.",             "encoder.mid_block.resnets.0.",              IX_COPY,   T_VAE_RES},
    {FAM_VAE, "encoder.mid.attn_1.",              "encoder.mid_block.attentions.0.",           IX_COPY,   T_VAE_ATTN},
    {FAM_VAE, "encoder.mid.block_2.",             "encoder.mid_block.resnets.1.",              IX_COPY,   T_VAE_RES},
    {FAM_VAE, "encoder.norm_out.",                "encoder.conv_norm_out.",                    IX_COPY,   T_KEEP},
    {FAM_VAE, "encoder.conv_out.",                "encoder.conv_out.",                         IX_COPY,   T_KEEP},
    {FAM_VAE, "quant_conv.",                      "quant_conv.",                               IX_COPY,   T_KEEP},
    {FAM_VAE, "post_quant_conv.",                 "post_quant_conv.",                          IX_COPY,   T_KEEP},
    {FAM_VAE, "decoder.conv_in.",                 "decoder.conv_in.",                          IX_COPY,   T_KEEP},
    {FAM_VAE, "decoder.mid.block_1.",             "decoder.mid_block.resnets.0.",              IX_COPY,   T_VAE_RES},
    {FAM_VAE, "decoder.mid.attn_1.",              "decoder.mid_block.attentions.0.",           IX_COPY,   T_VAE_ATTN},
    {FAM_VAE, "decoder.mid.block_2.",             "decoder.mid_block.resnets.1.",              IX_COPY,   T_VAE_RES},
    {FAM_VAE, "decoder.up.#.block.#.",            "decoder.up_blocks.#.resnets.#.",            IX_VAE_UP, T_VAE_RES},
    {FAM_VAE, "decoder.up.#.upsample.conv.",      "decoder.up_blocks.#.upsamplers.0.conv.",    IX_VAE_UP, T_KEEP},
    {FAM_VAE, "decoder.norm_out.",                "decoder.conv_norm_out.",                    IX_COPY,   T_KEEP},
    {FAM_VAE, "decoder.conv_out.",                "decoder.conv_out.",                         IX_COPY,   T_KEEP},

    /* CLIP ViT-L/14 (SD 1.x) already uses transformers' names; older
     * checkpoints lack the "text_model." level. */
    {FAM_CLIP, "text_model.",       "text_model.",                  IX_COPY, T_KEEP},
    {FAM_CLIP, "embeddings.",       "text_model.embeddings.",       IX_COPY, T_KEEP},
    {FAM_CLIP, "encoder.",          "text_model.encoder.",          IX_COPY, T_KEEP},
    {FAM_CLIP, "final_layer_norm.", "text_model.final_layer_norm.", IX_COPY, T_KEEP},

    /* OpenCLIP ViT-H/14 text tower (SD 2.x) → CLIPTextModel names.
     * text_projection and logit_scale serve only CLIP's image matching. */
    {FAM_OPENCLIP, "token_embedding.",      "text_model.embeddings.token_embedding.",          IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "positional_embedding",  "text_model.embeddings.position_embedding.weight", IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "transformer.resblocks.#.ln_1.",            "text_model.encoder.layers.#.layer_norm1.",            IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "transformer.resblocks.#.ln_2.",            "text_model.encoder.layers.#.layer_norm2.",            IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "transformer.resblocks.#.attn.in_proj_weight", "text_model.encoder.layers.#.self_attn.*_proj.weight", IX_COPY, T_QKV},
    {FAM_OPENCLIP, "transformer.resblocks.#.attn.in_proj_bias",   "text_model.encoder.layers.#.self_attn.*_proj.bias",   IX_COPY, T_QKV},
    {FAM_OPENCLIP, "transformer.resblocks.#.attn.out_proj.",   "text_model.encoder.layers.#.self_attn.out_proj.",     IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "transformer.resblocks.#.mlp.c_fc.",        "text_model.encoder.layers.#.mlp.fc1.",                IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "transformer.resblocks.#.mlp.c_proj.",      "text_model.encoder.layers.#.mlp.fc2.",                IX_COPY, T_KEEP},
    {FAM_OPENCLIP, "ln_final.",             "text_model.final_layer_norm.",                    IX_COPY, T_KEEP},
};

/* Step 3. Same pattern rules as step 2, without '#'. A kind other than
 * T_KEEP is strict: a tail not listed maps to nothing. */
static const struct tail_rule {
    enum tail_kind kind;
    const char *pattern;
    const char *to;
} tail_rules[] = {
    /* LDM ResBlock: in_layers = GroupNorm, SiLU, conv; emb_layers = SiLU,
     * linear; out_layers = GroupNorm, SiLU, dropout, conv. */
    {T_UNET_RES, "in_layers.0.",      "norm1."},
    {T_UNET_RES, "in_layers.2.",      "conv1."},
    {T_UNET_RES, "emb_layers.1.",     "time_emb_proj."},
    {T_UNET_RES, "out_layers.0.",     "norm2."},
    {T_UNET_RES, "out_layers.3.",     "conv2."},
    {T_UNET_RES, "skip_connection.",  "conv_shortcut."},

    {T_VAE_RES,  "norm1.",            "norm1."},
    {T_VAE_RES,  "conv1.",            "conv1."},
    {T_VAE_RES,  "norm2.",            "norm2."},
    {T_VAE_RES,  "conv2.",            "conv2."},
    {T_VAE_RES,  "nin_shortcut.",     "conv_shortcut."},

    /* q/k/v/proj_out are 1×1 convolutions in LDM ([C,C,1,1]) and linear
     * layers in diffusers ([C,C]); the data is the same. */
    {T_VAE_ATTN, "norm.",             "group_norm."},
    {T_VAE_ATTN, "q.",                "to_q."},
    {T_VAE_ATTN, "k.",                "to_k."},
    {T_VAE_ATTN, "v.",                "to_v."},
    {T_VAE_ATTN, "proj_out.",         "to_out.0."},
};

/* Renames for diffusers folders written before diffusers 0.14 moved the VAE
 * attention block to the shared Attention class: the segment before
 * "weight"/"bias". */
static const struct { const char *from, *to; } legacy_vae_attn[] = {
    {"query", "to_q"}, {"key", "to_k"}, {"value", "to_v"}, {"proj_attn", "to_out.0"},
};

#define MAX_INDICES 4

/* Matches `pat` against the start of `key`, storing each '#' index in n[].
 * Indices are canonical decimals (no leading zeros, at most 6 digits) so that
 * two different keys can never give one target. Returns the rest of the key
 * (non-empty for a pattern ending in '.', empty otherwise), or NULL.
 * Patterns are never empty. */
static const char *match(const char *pat, const char *key, int n[MAX_INDICES], int *count)
{
    *count = 0;
    for (; *pat; pat++) {
        if (*pat == '#') {
            int digits = 0, v = 0;
            while (key[digits] >= '0' && key[digits] <= '9' && digits < 7)
                v = v * 10 + (key[digits++] - '0');
            if (digits == 0 || digits > 6 || (digits > 1 && key[0] == '0') || *count == MAX_INDICES)
                return NULL;
            n[(*count)++] = v;
            key += digits;
        } else if (*key++ != *pat) {
            return NULL;
        }
    }
    bool prefix = pat[-1] == '.';
    if (prefix ? *key == '\0' : *key != '\0')
        return NULL;
    return key;
}

/* Applies the rule's index arithmetic to the `count` captured indices.
 * Returns how many indices the template may use, or -1 when they fall
 * outside the SD 1.x / 2.x structure described at the top of this file. */
static int map_indices(enum index_rule r, const int *in, int count, int out[MAX_INDICES])
{
    memcpy(out, in, (size_t)count * sizeof *out);
    switch (r) {
    case IX_COPY:
        return count;
    case IX_UNET_DOWN:
        if (count < 1 || in[0] < 1 || in[0] > 11)
            return -1;
        out[0] = (in[0] - 1) / 3;
        out[1] = (in[0] - 1) % 3;
        return 2;
    case IX_UNET_UP:
        if (count < 1 || in[0] > 11)
            return -1;
        out[0] = in[0] / 3;
        out[1] = in[0] % 3;
        return 2;
    case IX_VAE_UP:
        if (count < 1 || in[0] > 3)
            return -1;
        out[0] = 3 - in[0];
        return count;
    }
    return -1;
}

/* A bounded string builder: `ok` turns false once anything did not fit. */
typedef struct {
    char *p;
    size_t len;
    bool ok;
} namebuf;

static void put_char(namebuf *b, char c)
{
    if (b->len + 1 >= PD_KEY_MAX) {
        b->ok = false;
        return;
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

static void put_str(namebuf *b, const char *s)
{
    while (*s && b->ok)
        put_char(b, *s++);
}

static void put_index(namebuf *b, int v)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        put_char(b, digits[--n]);
}

/* Writes template `to` with its '#'s replaced by idx[] in order and '*' by
 * `star`. */
static void put_template(namebuf *b, const char *to, const int *idx, int count, char star)
{
    int used = 0;
    for (; *to && b->ok; to++) {
        if (*to == '#') {
            if (used == count) {
                b->ok = false; /* a table error: more '#' out than in */
                return;
            }
            put_index(b, idx[used++]);
        } else if (*to == '*') {
            put_char(b, star);
        } else {
            put_char(b, *to);
        }
    }
}

/* Writes the tail renamed by the tail table of `kind`; false when a strict
 * kind does not list it. */
static bool put_tail(namebuf *b, enum tail_kind kind, const char *tail)
{
    if (kind == T_KEEP || kind == T_QKV) {
        put_str(b, tail);
        return true;
    }
    for (size_t i = 0; i < sizeof tail_rules / sizeof tail_rules[0]; i++) {
        const struct tail_rule *t = &tail_rules[i];
        int n[MAX_INDICES], count;
        const char *rest;
        if (t->kind == kind && (rest = match(t->pattern, tail, n, &count))) {
            put_str(b, t->to);
            put_str(b, rest);
            return true;
        }
    }
    return false;
}

/* Whether the key's last segment is `name`. */
static bool last_segment_is(const char *key, const char *name)
{
    const char *dot = strrchr(key, '.');
    return strcmp(dot ? dot + 1 : key, name) == 0;
}

int pd_keymap_original(const char *key, int64_t shape0, pd_key_target out[3])
{
    /* The tokenizer's position ids are a buffer, not a weight. */
    if (last_segment_is(key, "position_ids"))
        return 0;

    const struct section *sec = NULL;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        size_t len = strlen(sections[i].prefix);
        if (strncmp(key, sections[i].prefix, len) == 0) {
            sec = &sections[i];
            key += len;
            break;
        }
    }
    if (!sec)
        return 0; /* model_ema.*, schedule buffers, anything else */

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *r = &rules[i];
        int in[MAX_INDICES], idx[MAX_INDICES], count;
        const char *tail;
        if (r->family != sec->family || !(tail = match(r->pattern, key, in, &count)))
            continue;
        int nidx = map_indices(r->index, in, count, idx);
        if (nidx < 0)
            return 0;

        int targets = 1;
        int64_t rows = -1;
        if (r->tail == T_QKV) {
            if (shape0 <= 0 || shape0 % 3 != 0)
                return 0;
            targets = 3;
            rows = shape0 / 3;
        }
        for (int t = 0; t < targets; t++) {
            namebuf b = {out[t].name, 0, true};
            out[t].name[0] = '\0';
            put_template(&b, r->to, idx, nidx, "qkv"[t]);
            if (!put_tail(&b, r->tail, tail) || !b.ok)
                return 0;
            out[t].component = sec->component;
            out[t].row0 = rows < 0 ? 0 : t * rows;
            out[t].rows = rows;
        }
        return targets;
    }
    return 0;
}

int pd_keymap_diffusers(int component, const char *key, pd_key_target out[1])
{
    if (component < 0 || component >= PD_COMPONENT_COUNT || last_segment_is(key, "position_ids"))
        return 0;

    size_t len = strlen(key);
    if (len == 0 || len >= PD_KEY_MAX)
        return 0;
    memcpy(out[0].name, key, len + 1);
    out[0].component = component;
    out[0].row0 = 0;
    out[0].rows = -1;

    if (component != PD_COMPONENT_VAE)
        return 1;
    /* "<module>.<segment>.<weight|bias>": rename a legacy segment. */
    const char *last = strrchr(key, '.');
    if (!last)
        return 1;
    const char *seg = last;
    while (seg > key && seg[-1] != '.')
        seg--;
    size_t seg_len = (size_t)(last - seg);
    for (size_t i = 0; i < sizeof legacy_vae_attn / sizeof legacy_vae_attn[0]; i++) {
        const char *from = legacy_vae_attn[i].from;
        if (strlen(from) != seg_len || strncmp(seg, from, seg_len) != 0)
            continue;
        namebuf b = {out[0].name, 0, true};
        out[0].name[0] = '\0';
        for (const char *s = key; s < seg; s++)
            put_char(&b, *s);
        put_str(&b, legacy_vae_attn[i].to);
        put_str(&b, last);
        return b.ok ? 1 : 0;
    }
    return 1;
}
