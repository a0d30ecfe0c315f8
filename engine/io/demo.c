/* demo.c — the demo model (see demo.h): its architecture in one table, the
 * tensors it implies, their random values, and the folder written around
 * them. The tensor lists follow diffusers' module names, the same ones the
 * loaders in text/clip.c, models/unet.c and models/vae.c look up. */
#include "io/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "error.h"
#include "io/synth.h"
#include "sched/rng.h"
#include "text/tokenizer.h"

/* ---- the architecture ------------------------------------------------------ */

enum {
    VOCAB = 2 * 256 + 2,      /* byte symbols, word-final ones, BOS, EOS */
    BOS = 512, EOS = 513,
    TEXT_WIDTH = 64, TEXT_LAYERS = 2, TEXT_HEADS = 4, TEXT_INTER = 4 * TEXT_WIDTH,
    BLOCKS = 4,
    UNET_HEADS = 4,           /* per transformer (SD 1.x's attention_head_dim) */
    GROUPS = 8,
    LATENT = 4,
    SAMPLE = 32,              /* latent side: 256×256 images by default */
};
static const int unet_ch[BLOCKS] = {32, 64, 64, 64};
static const int unet_down_attn[BLOCKS] = {1, 1, 1, 0};   /* CrossAttnDownBlock2D ×3, DownBlock2D */
static const int unet_up_attn[BLOCKS] = {0, 1, 1, 1};     /* UpBlock2D, CrossAttnUpBlock2D ×3 */
static const int vae_ch[BLOCKS] = {16, 32, 64, 64};

/* The seed of every weight: each tensor's stream is MT19937 seeded with it
 * mixed with the tensor's component and name. */
#define DEMO_SEED 0x70616c64u /* "pald" */

/* Written last: the folder is complete, and of this version. */
#define STAMP_FILE "paldiff-demo.version"
#define STAMP_TEXT "paldiff demo model, version " G_STRINGIFY(PD_DEMO_VERSION) "\n"

/* ---- tensor lists ------------------------------------------------------------ */

typedef struct {
    GArray *t;                 /* pd_synth_tensor */
    GStringChunk *names;
} tensor_list;

/* Adds printf(fmt) with the given shape (ndim of dims). */
static void add(tensor_list *l, int ndim, const int64_t *dims, const char *fmt, ...) PD_PRINTF(4, 5);
static void add(tensor_list *l, int ndim, const int64_t *dims, const char *fmt, ...)
{
    char name[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    pd_synth_tensor t = {.name = g_string_chunk_insert(l->names, name), .ndim = ndim,
                         .dtype = PD_ST_F16, .fill = 1};
    memcpy(t.shape, dims, (size_t)ndim * sizeof *dims);
    g_array_append_val(l->t, t);
}

/* weight [out, in] (a k×k kernel when k > 0) and, if `bias`, bias [out]. */
static void add_layer(tensor_list *l, const char *prefix, int out, int in, int k, int bias)
{
    add(l, k ? 4 : 2, (int64_t[]){out, in, k, k}, "%s.weight", prefix);
    if (bias)
        add(l, 1, (int64_t[]){out}, "%s.bias", prefix);
}

/* A norm's scale and shift, [c] each. */
static void add_norm(tensor_list *l, const char *prefix, int c)
{
    add(l, 1, (int64_t[]){c}, "%s.weight", prefix);
    add(l, 1, (int64_t[]){c}, "%s.bias", prefix);
}

/* "<prefix>.<s>" in the buffer p (for the adders below). */
#define SUB(s) (snprintf(p, sizeof p, "%s.%s", prefix, s), p)

/* ResnetBlock2D; temb = 0: the VAE's, without a time embedding. */
static void add_resnet(tensor_list *l, const char *prefix, int cin, int cout, int temb)
{
    char p[192];
    add_norm(l, SUB("norm1"), cin);
    add_layer(l, SUB("conv1"), cout, cin, 3, 1);
    if (temb)
        add_layer(l, SUB("time_emb_proj"), cout, temb, 0, 1);
    add_norm(l, SUB("norm2"), cout);
    add_layer(l, SUB("conv2"), cout, cout, 3, 1);
    if (cin != cout)
        add_layer(l, SUB("conv_shortcut"), cout, cin, 1, 1);
}

/* Transformer2DModel of SD 1.x: 1×1-conv projections, one block with self-
 * and cross-attention and a GEGLU feed-forward. */
static void add_transformer(tensor_list *l, const char *prefix, int c, int cross)
{
    char p[192];
    add_norm(l, SUB("norm"), c);
    add_layer(l, SUB("proj_in"), c, c, 1, 1);
    add_layer(l, SUB("proj_out"), c, c, 1, 1);
    for (int a = 1; a <= 2; a++) {
        char at[32];
        snprintf(at, sizeof at, "transformer_blocks.0.attn%d", a);
        char q[64], k[64], v[64], o[64];
        snprintf(q, sizeof q, "%s.to_q", at);
        snprintf(k, sizeof k, "%s.to_k", at);
        snprintf(v, sizeof v, "%s.to_v", at);
        snprintf(o, sizeof o, "%s.to_out.0", at);
        add_layer(l, SUB(q), c, c, 0, 0);
        add_layer(l, SUB(k), c, a == 1 ? c : cross, 0, 0);
        add_layer(l, SUB(v), c, a == 1 ? c : cross, 0, 0);
        add_layer(l, SUB(o), c, c, 0, 1);
    }
    add_norm(l, SUB("transformer_blocks.0.norm1"), c);
    add_norm(l, SUB("transformer_blocks.0.norm2"), c);
    add_norm(l, SUB("transformer_blocks.0.norm3"), c);
    add_layer(l, SUB("transformer_blocks.0.ff.net.0.proj"), 8 * c, c, 0, 1); /* value and gate */
    add_layer(l, SUB("transformer_blocks.0.ff.net.2"), c, 4 * c, 0, 1);
}

/* The VAE mid block's single-head attention (current names). */
static void add_vae_attention(tensor_list *l, const char *prefix, int c)
{
    char p[192];
    add_norm(l, SUB("group_norm"), c);
    add_layer(l, SUB("to_q"), c, c, 0, 1);
    add_layer(l, SUB("to_k"), c, c, 0, 1);
    add_layer(l, SUB("to_v"), c, c, 0, 1);
    add_layer(l, SUB("to_out.0"), c, c, 0, 1);
}
#undef SUB

/* The down path of the UNet and of the VAE encoder: two ResNets a level
 * (each followed by a transformer where attn[level]), then a stride-2 conv
 * but after the last level. */
static void add_down_blocks(tensor_list *l, const char *prefix, const int *ch, int temb, const int *attn)
{
    char p[96];
    for (int i = 0; i < BLOCKS; i++) {
        for (int j = 0; j < 2; j++) {
            snprintf(p, sizeof p, "%sdown_blocks.%d.resnets.%d", prefix, i, j);
            add_resnet(l, p, j ? ch[i] : ch[i ? i - 1 : 0], ch[i], temb);
            snprintf(p, sizeof p, "%sdown_blocks.%d.attentions.%d", prefix, i, j);
            if (attn && attn[i])
                add_transformer(l, p, ch[i], TEXT_WIDTH);
        }
        snprintf(p, sizeof p, "%sdown_blocks.%d.downsamplers.0.conv", prefix, i);
        if (i < BLOCKS - 1)
            add_layer(l, p, ch[i], ch[i], 3, 1);
    }
}

static void text_tensors(tensor_list *l)
{
    add(l, 2, (int64_t[]){VOCAB, TEXT_WIDTH}, "text_model.embeddings.token_embedding.weight");
    add(l, 2, (int64_t[]){PD_TOKENS, TEXT_WIDTH}, "text_model.embeddings.position_embedding.weight");
    for (int i = 0; i < TEXT_LAYERS; i++) {
        static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        char p[96];
        for (size_t k = 0; k < G_N_ELEMENTS(proj); k++) {
            snprintf(p, sizeof p, "text_model.encoder.layers.%d.self_attn.%s", i, proj[k]);
            add_layer(l, p, TEXT_WIDTH, TEXT_WIDTH, 0, 1);
        }
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.layer_norm1", i);
        add_norm(l, p, TEXT_WIDTH);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.layer_norm2", i);
        add_norm(l, p, TEXT_WIDTH);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.mlp.fc1", i);
        add_layer(l, p, TEXT_INTER, TEXT_WIDTH, 0, 1);
        snprintf(p, sizeof p, "text_model.encoder.layers.%d.mlp.fc2", i);
        add_layer(l, p, TEXT_WIDTH, TEXT_INTER, 0, 1);
    }
    add_norm(l, "text_model.final_layer_norm", TEXT_WIDTH);
}

/* UNet2DConditionModel: channels as diffusers wires them (unet.c's loader). */
static void unet_tensors(tensor_list *l)
{
    const int *ch = unet_ch, last = ch[BLOCKS - 1], temb = 4 * ch[0];
    char p[96];
    add_layer(l, "time_embedding.linear_1", temb, ch[0], 0, 1);
    add_layer(l, "time_embedding.linear_2", temb, temb, 0, 1);
    add_layer(l, "conv_in", ch[0], LATENT, 3, 1);
    add_down_blocks(l, "", ch, temb, unet_down_attn);
    add_resnet(l, "mid_block.resnets.0", last, last, temb);
    add_transformer(l, "mid_block.attentions.0", last, TEXT_WIDTH);
    add_resnet(l, "mid_block.resnets.1", last, last, temb);
    for (int i = 0; i < BLOCKS; i++) {
        int r = BLOCKS - 1 - i, prev = i ? ch[r + 1] : last;
        for (int j = 0; j < 3; j++) { /* the skip of j = 2 comes from the level below */
            int skip = j < 2 ? ch[r] : ch[r ? r - 1 : 0];
            snprintf(p, sizeof p, "up_blocks.%d.resnets.%d", i, j);
            add_resnet(l, p, (j ? ch[r] : prev) + skip, ch[r], temb);
            snprintf(p, sizeof p, "up_blocks.%d.attentions.%d", i, j);
            if (unet_up_attn[i])
                add_transformer(l, p, ch[r], TEXT_WIDTH);
        }
        snprintf(p, sizeof p, "up_blocks.%d.upsamplers.0.conv", i);
        if (i < BLOCKS - 1)
            add_layer(l, p, ch[r], ch[r], 3, 1);
    }
    add_norm(l, "conv_norm_out", ch[0]);
    add_layer(l, "conv_out", LATENT, ch[0], 3, 1);
}

/* AutoencoderKL: encoder (for img2img), the quant convs, decoder. */
static void vae_tensors(tensor_list *l)
{
    const int *ch = vae_ch, last = ch[BLOCKS - 1];
    char p[96];
    add_layer(l, "encoder.conv_in", ch[0], 3, 3, 1);
    add_down_blocks(l, "encoder.", ch, 0, NULL);
    for (int d = 0; d < 2; d++) { /* encoder, decoder: the same mid block */
        const char *coder = d ? "decoder" : "encoder";
        snprintf(p, sizeof p, "%s.mid_block.resnets.0", coder);
        add_resnet(l, p, last, last, 0);
        snprintf(p, sizeof p, "%s.mid_block.attentions.0", coder);
        add_vae_attention(l, p, last);
        snprintf(p, sizeof p, "%s.mid_block.resnets.1", coder);
        add_resnet(l, p, last, last, 0);
    }
    add_norm(l, "encoder.conv_norm_out", last);
    add_layer(l, "encoder.conv_out", 2 * LATENT, last, 3, 1);
    add_layer(l, "quant_conv", 2 * LATENT, 2 * LATENT, 1, 1);
    add_layer(l, "post_quant_conv", LATENT, LATENT, 1, 1);
    add_layer(l, "decoder.conv_in", last, LATENT, 3, 1);
    for (int i = 0, cin = last; i < BLOCKS; i++) {
        int cout = ch[BLOCKS - 1 - i];
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, j);
            add_resnet(l, p, j ? cout : cin, cout, 0);
        }
        snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", i);
        if (i < BLOCKS - 1)
            add_layer(l, p, cout, cout, 3, 1);
        cin = cout;
    }
    add_norm(l, "decoder.conv_norm_out", ch[0]);
    add_layer(l, "decoder.conv_out", 3, ch[0], 3, 1);
}

/* ---- values ------------------------------------------------------------------- */

typedef struct {
    const char *component;     /* folder name, mixed into every seed */
    pd_rng rng;
    double scale;              /* of the current tensor */
} demo_values;

static uint32_t tensor_seed(const char *component, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over "component/name" */
    for (const char *s = component; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h = (h ^ '/') * 0x100000001b3ull;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (uint32_t)(h ^ h >> 32) ^ DEMO_SEED;
}

/* 1-D tensors are norm scales (1) and biases (0); the rest are drawn with
 * standard deviation 1/sqrt(fan_in): the sum of four 24-bit uniforms
 * (Irwin-Hall, close to normal, within ±3.5σ), centred in integers and
 * scaled once in double, so every step is exact or IEEE-rounded. */
static void fill_demo(void *user, const pd_synth_tensor *t, int64_t done, float *out, int64_t n)
{
    demo_values *v = user;
    if (t->ndim == 1) {
        float c = g_str_has_suffix(t->name, ".weight") ? 1.0f : 0.0f;
        for (int64_t i = 0; i < n; i++)
            out[i] = c;
        return;
    }
    if (done == 0) {
        int64_t fan_in = 1;
        for (int d = 1; d < t->ndim; d++)
            fan_in *= t->shape[d];
        pd_rng_seed(&v->rng, tensor_seed(v->component, t->name));
        /* Var(U(0, 2^24)) · 4 = 2^48 / 3 */
        v->scale = sqrt(3.0) * 0x1p-24 / sqrt((double)fan_in);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t s = 0;
        for (int k = 0; k < 4; k++)
            s += pd_rng_u32(&v->rng) >> 8;
        out[i] = (float)((double)(s - 2 * ((1 << 24) - 1)) * v->scale);
    }
}

/* ---- the folder's small files ------------------------------------------------- */

static const char MODEL_INDEX[] =
    "{\n"
    "  \"_class_name\": \"StableDiffusionPipeline\",\n"
    "  \"_diffusers_version\": \"0.27.2\",\n"
    "  \"_name_or_path\": \"paldiff-demo\",\n"
    "  \"_paldiff_demo\": \"version %d: random weights, not a trained model\",\n"
    "  \"feature_extractor\": [null, null],\n"
    "  \"image_encoder\": [null, null],\n"
    "  \"requires_safety_checker\": false,\n"
    "  \"safety_checker\": [null, null],\n"
    "  \"scheduler\": [\"diffusers\", \"EulerDiscreteScheduler\"],\n"
    "  \"text_encoder\": [\"transformers\", \"CLIPTextModel\"],\n"
    "  \"tokenizer\": [\"transformers\", \"CLIPTokenizer\"],\n"
    "  \"unet\": [\"diffusers\", \"UNet2DConditionModel\"],\n"
    "  \"vae\": [\"diffusers\", \"AutoencoderKL\"]\n"
    "}\n";

static const char TEXT_CONFIG[] =
    "{\n"
    "  \"_name_or_path\": \"paldiff-demo\",\n"
    "  \"architectures\": [\"CLIPTextModel\"],\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": %d,\n"
    "  \"eos_token_id\": %d,\n"
    "  \"hidden_act\": \"quick_gelu\",\n"
    "  \"hidden_size\": %d,\n"
    "  \"initializer_factor\": 1.0,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": %d,\n"
    "  \"layer_norm_eps\": 1e-05,\n"
    "  \"max_position_embeddings\": %d,\n"
    "  \"model_type\": \"clip_text_model\",\n"
    "  \"num_attention_heads\": %d,\n"
    "  \"num_hidden_layers\": %d,\n"
    "  \"pad_token_id\": %d,\n"
    "  \"projection_dim\": %d,\n"
    "  \"torch_dtype\": \"float16\",\n"
    "  \"vocab_size\": %d\n"
    "}\n";

/* Keys as diffusers 0.27 writes them; the block lists are filled in. */
static const char UNET_CONFIG[] =
    "{\n"
    "  \"_class_name\": \"UNet2DConditionModel\",\n"
    "  \"_diffusers_version\": \"0.27.2\",\n"
    "  \"_name_or_path\": \"paldiff-demo\",\n"
    "  \"act_fn\": \"silu\",\n"
    "  \"addition_embed_type\": null,\n"
    "  \"attention_head_dim\": %d,\n"
    "  \"attention_type\": \"default\",\n"
    "  \"block_out_channels\": [%s],\n"
    "  \"center_input_sample\": false,\n"
    "  \"class_embed_type\": null,\n"
    "  \"cross_attention_dim\": %d,\n"
    "  \"down_block_types\": [%s],\n"
    "  \"downsample_padding\": 1,\n"
    "  \"dropout\": 0.0,\n"
    "  \"encoder_hid_dim\": null,\n"
    "  \"flip_sin_to_cos\": true,\n"
    "  \"freq_shift\": 0,\n"
    "  \"in_channels\": %d,\n"
    "  \"layers_per_block\": 2,\n"
    "  \"mid_block_scale_factor\": 1,\n"
    "  \"mid_block_type\": \"UNetMidBlock2DCrossAttn\",\n"
    "  \"norm_eps\": 1e-05,\n"
    "  \"norm_num_groups\": %d,\n"
    "  \"num_attention_heads\": null,\n"
    "  \"num_class_embeds\": null,\n"
    "  \"only_cross_attention\": false,\n"
    "  \"out_channels\": %d,\n"
    "  \"resnet_time_scale_shift\": \"default\",\n"
    "  \"sample_size\": %d,\n"
    "  \"time_cond_proj_dim\": null,\n"
    "  \"time_embedding_type\": \"positional\",\n"
    "  \"transformer_layers_per_block\": 1,\n"
    "  \"up_block_types\": [%s],\n"
    "  \"upcast_attention\": false,\n"
    "  \"use_linear_projection\": false\n"
    "}\n";

static const char VAE_CONFIG[] =
    "{\n"
    "  \"_class_name\": \"AutoencoderKL\",\n"
    "  \"_diffusers_version\": \"0.27.2\",\n"
    "  \"_name_or_path\": \"paldiff-demo\",\n"
    "  \"act_fn\": \"silu\",\n"
    "  \"block_out_channels\": [%s],\n"
    "  \"down_block_types\": [%s],\n"
    "  \"force_upcast\": true,\n"
    "  \"in_channels\": 3,\n"
    "  \"latent_channels\": %d,\n"
    "  \"layers_per_block\": 2,\n"
    "  \"norm_num_groups\": %d,\n"
    "  \"out_channels\": 3,\n"
    "  \"sample_size\": %d,\n"
    "  \"scaling_factor\": 0.18215,\n"
    "  \"up_block_types\": [%s]\n"
    "}\n";

static const char SCHEDULER_CONFIG[] =
    "{\n"
    "  \"_class_name\": \"EulerDiscreteScheduler\",\n"
    "  \"_diffusers_version\": \"0.27.2\",\n"
    "  \"beta_end\": 0.012,\n"
    "  \"beta_schedule\": \"scaled_linear\",\n"
    "  \"beta_start\": 0.00085,\n"
    "  \"interpolation_type\": \"linear\",\n"
    "  \"num_train_timesteps\": 1000,\n"
    "  \"prediction_type\": \"epsilon\",\n"
    "  \"steps_offset\": 1,\n"
    "  \"timestep_spacing\": \"leading\",\n"
    "  \"trained_betas\": null,\n"
    "  \"use_karras_sigmas\": false\n"
    "}\n";

static const char SPECIAL_TOKENS[] =
    "{\n"
    "  \"bos_token\": \"<|startoftext|>\",\n"
    "  \"eos_token\": \"<|endoftext|>\",\n"
    "  \"pad_token\": \"<|endoftext|>\",\n"
    "  \"unk_token\": \"<|endoftext|>\"\n"
    "}\n";

static const char TOKENIZER_CONFIG[] =
    "{\n"
    "  \"add_prefix_space\": false,\n"
    "  \"bos_token\": \"<|startoftext|>\",\n"
    "  \"clean_up_tokenization_spaces\": true,\n"
    "  \"do_lower_case\": true,\n"
    "  \"eos_token\": \"<|endoftext|>\",\n"
    "  \"errors\": \"replace\",\n"
    "  \"model_max_length\": %d,\n"
    "  \"pad_token\": \"<|endoftext|>\",\n"
    "  \"tokenizer_class\": \"CLIPTokenizer\",\n"
    "  \"unk_token\": \"<|endoftext|>\"\n"
    "}\n";

static const char README[] =
    "paldiff demo model, version %d\n"
    "==============================\n"
    "\n"
    "This folder was written by paldiff itself (`paldiff demo-model`, or on\n"
    "first use when no model is installed). Its weights are RANDOM: numbers\n"
    "drawn from a fixed seed, never trained on any image. What it generates is\n"
    "noise-like art from random weights, not what a trained Stable Diffusion\n"
    "model would draw: the prompt changes the picture, but not its meaning.\n"
    "\n"
    "It is here so that paldiff runs from prompt to image without a download.\n"
    "For real pictures, use a Stable Diffusion 1.x or 2.x model (a diffusers\n"
    "folder or a single .safetensors file): name it on the command line, set\n"
    "PALDIFF_MODEL, or put it (or a link to it) at\n"
    "$XDG_DATA_HOME/paldiff/models/default (~/.local/share/paldiff/models/default).\n"
    "\n"
    "What it is: an SD 1.x diffusers folder with the real topology at toy\n"
    "sizes. Text encoder: CLIP, width %d, %d layers, %d heads. Tokenizer:\n"
    "byte-level, one token per UTF-8 byte (so a prompt is cut after 75 bytes).\n"
    "UNet: blocks of %d, %d, %d, %d channels. VAE: %d, %d, %d, %d.\n"
    "Scheduler: Euler on SD's betas. Weights: F16.\n"
    "\n"
    "Deleting this folder is safe; paldiff writes it again when it needs it.\n";

/* "a, b, c, d" of the four block widths, or the four block types. */
static char *join_ints(const int *v)
{
    return g_strdup_printf("%d, %d, %d, %d", v[0], v[1], v[2], v[3]);
}

static char *join_types(const int *attn, const char *plain, const char *with_attn)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < BLOCKS; i++)
        g_string_append_printf(s, "%s\"%s\"", i ? ", " : "", attn && attn[i] ? with_attn : plain);
    return g_string_free(s, FALSE);
}

/* vocab.json in CLIP's order: the byte symbols (printable bytes first, as
 * bytes_to_unicode lists them), the same with "</w>", BOS, EOS. */
static pd_status write_vocab(const char *path, pd_error *err)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    int id = 0;
    for (int end = 0; end < 2; end++)
        for (int pass = 0; pass < 2; pass++)
            for (int by = 0; by < 256; by++) {
                int printable = (by >= '!' && by <= '~') || (by >= 0xA1 && by <= 0xAC) || by >= 0xAE;
                if (printable != !pass)
                    continue;
                char sym[16];
                pd_tokenizer_byte_symbol((uint8_t)by, sym);
                if (end)
                    strcat(sym, "</w>");
                json_builder_set_member_name(b, sym);
                json_builder_add_int_value(b, id++);
            }
    json_builder_set_member_name(b, "<|startoftext|>");
    json_builder_add_int_value(b, BOS);
    json_builder_set_member_name(b, "<|endoftext|>");
    json_builder_add_int_value(b, EOS);
    json_builder_end_object(b);
    JsonNode *root = json_builder_get_root(b);
    pd_status st = pd_synth_write_json(path, root, err);
    json_node_unref(root);
    g_object_unref(b);
    return st;
}

static pd_status write_weights(const char *dir, const char *component, const char *file,
                               void (*list)(tensor_list *), pd_error *err)
{
    tensor_list l = {g_array_new(FALSE, FALSE, sizeof(pd_synth_tensor)), g_string_chunk_new(4096)};
    list(&l);
    demo_values v = {.component = component};
    char *path = g_build_filename(dir, component, file, NULL);
    pd_status st = pd_synth_write_tensors(path, (pd_synth_tensor *)(void *)l.t->data, l.t->len, fill_demo, &v,
                                          err);
    g_free(path);
    g_array_free(l.t, TRUE);
    g_string_chunk_free(l.names);
    return st;
}

/* Everything but the stamp, into the (new, empty) folder dir. */
static pd_status write_contents(const char *dir, pd_error *err)
{
    static const char *const sub[] = {"text_encoder", "tokenizer", "unet", "vae", "scheduler"};
    for (size_t i = 0; i < G_N_ELEMENTS(sub); i++) {
        char *p = g_build_filename(dir, sub[i], NULL);
        int bad = g_mkdir(p, 0755) != 0;
        pd_status st = bad ? pd_fail(err, PD_E_IO, "%s: cannot create the folder: %s", p, g_strerror(errno))
                           : PD_OK;
        g_free(p);
        if (st)
            return st;
    }
    char *ch = join_ints(unet_ch), *vch = join_ints(vae_ch);
    char *down = join_types(unet_down_attn, "DownBlock2D", "CrossAttnDownBlock2D");
    char *up = join_types(unet_up_attn, "UpBlock2D", "CrossAttnUpBlock2D");
    char *vdown = join_types(NULL, "DownEncoderBlock2D", NULL), *vup = join_types(NULL, "UpDecoderBlock2D", NULL);
    const struct {
        const char *name;
        char *text;
    } files[] = {
        {"model_index.json", g_strdup_printf(MODEL_INDEX, PD_DEMO_VERSION)},
        {"README.txt", g_strdup_printf(README, PD_DEMO_VERSION, TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS, unet_ch[0],
                                       unet_ch[1], unet_ch[2], unet_ch[3], vae_ch[0], vae_ch[1], vae_ch[2],
                                       vae_ch[3])},
        {"text_encoder/config.json", g_strdup_printf(TEXT_CONFIG, BOS, EOS, TEXT_WIDTH, TEXT_INTER, PD_TOKENS,
                                                     TEXT_HEADS, TEXT_LAYERS, EOS, TEXT_WIDTH, VOCAB)},
        {"unet/config.json", g_strdup_printf(UNET_CONFIG, UNET_HEADS, ch, TEXT_WIDTH, down, LATENT, GROUPS,
                                             LATENT, SAMPLE, up)},
        {"vae/config.json", g_strdup_printf(VAE_CONFIG, vch, vdown, LATENT, GROUPS, 8 * SAMPLE, vup)},
        {"scheduler/scheduler_config.json", g_strdup(SCHEDULER_CONFIG)},
        {"tokenizer/merges.txt", g_strdup("#version: 0.2\n")}, /* byte-level: no merges */
        {"tokenizer/special_tokens_map.json", g_strdup(SPECIAL_TOKENS)},
        {"tokenizer/tokenizer_config.json", g_strdup_printf(TOKENIZER_CONFIG, PD_TOKENS)},
    };
    pd_status st = PD_OK;
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        char *path = g_build_filename(dir, files[i].name, NULL);
        if (!st)
            st = pd_synth_write_text(path, files[i].text, err);
        g_free(path);
        g_free(files[i].text);
    }
    char *vocab = g_build_filename(dir, "tokenizer", "vocab.json", NULL);
    if (!st)
        st = write_vocab(vocab, err);
    if (!st)
        st = write_weights(dir, "text_encoder", "model.safetensors", text_tensors, err);
    if (!st)
        st = write_weights(dir, "unet", "diffusion_pytorch_model.safetensors", unet_tensors, err);
    if (!st)
        st = write_weights(dir, "vae", "diffusion_pytorch_model.safetensors", vae_tensors, err);
    g_free(vocab);
    g_free(ch);
    g_free(vch);
    g_free(down);
    g_free(up);
    g_free(vdown);
    g_free(vup);
    return st;
}

/* ---- the folder, atomically ----------------------------------------------------- */

int pd_demo_model_present(const char *dir)
{
    if (!dir)
        return 0;
    char *path = g_build_filename(dir, STAMP_FILE, NULL);
    char *text = NULL;
    int ok = g_file_get_contents(path, &text, NULL, NULL) && !strcmp(text, STAMP_TEXT);
    g_free(text);
    g_free(path);
    return ok;
}

static int is_empty_dir(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    int empty = d && !g_dir_read_name(d);
    if (d)
        g_dir_close(d);
    return empty;
}

static void sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

pd_status pd_demo_model_write(const char *dir, pd_error *err)
{
    if (!dir || !*dir)
        return pd_fail(err, PD_E_ARG, "pd_demo_model_write: no folder given");
    if (pd_demo_model_present(dir))
        return PD_OK;
    char *target = g_canonicalize_filename(dir, NULL); /* absolute, no trailing '/' */
    char *parent = g_path_get_dirname(target);
    char *tmp = g_strdup_printf("%s.tmp-XXXXXX", target);
    pd_status st = PD_OK;
    if (g_file_test(target, G_FILE_TEST_EXISTS) && !is_empty_dir(target))
        st = pd_fail(err, PD_E_IO, "%s: exists and is not a paldiff demo model (version %d); name a new "
                     "folder, or remove this one", target, PD_DEMO_VERSION);
    else if (g_mkdir_with_parents(parent, 0755) != 0)
        st = pd_fail(err, PD_E_IO, "%s: cannot create the folder: %s", parent, g_strerror(errno));
    else if (!g_mkdtemp_full(tmp, 0755))
        st = pd_fail(err, PD_E_IO, "%s: cannot create a folder there: %s", parent, g_strerror(errno));
    else {
        char *stamp = g_build_filename(tmp, STAMP_FILE, NULL);
        if (!(st = write_contents(tmp, err)))
            st = pd_synth_write_text(stamp, STAMP_TEXT, err);
        g_free(stamp);
        if (!st && g_rename(tmp, target) != 0) {
            int e = errno;
            /* Another process may have finished first: its folder is as good. */
            if (!pd_demo_model_present(target))
                st = pd_fail(err, PD_E_IO, "%s: cannot move the finished demo model into place: %s",
                             target, g_strerror(e));
            pd_synth_remove_folder(tmp);
        } else if (st) {
            pd_synth_remove_folder(tmp);
        }
        sync_dir(parent);
    }
    g_free(tmp);
    g_free(parent);
    g_free(target);
    return st;
}
