/* vae.c — AutoencoderKL (diffusers 0.27) on channels-last activations.
 *
 * Three parts, as in llama2.c: the config (pd_vae_config, in vae.h), the
 * weights (the structs below: pd_weight descriptors into the model's maps),
 * and the forward functions, one per block, that read top to bottom like
 * diffusers' Encoder and Decoder. There is no run state allocated once: at
 * 512×512 one full-resolution activation of 128 channels is 128 MB, so each
 * block takes its input activation, allocates its output, and frees every
 * buffer the moment it is dead. Each block is a function of (shape, input)
 * alone, so that the decoder can later be run over tiles.
 */
#include "models/vae.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/model.h"
#include "mem.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"

#define VAE_MAX_BLOCKS 8       /* = the length of pd_vae_config.block_channels */
#define VAE_MAX_LAYERS 8       /* layers_per_block; the decoder runs one more  */
/* Name buffers, sized so that a block prefix plus a sub-name plus ".weight"
 * always fits (the longest SD name has 52 characters). */
#define VAE_BLOCK_NAME 64      /* "decoder.up_blocks.3.upsamplers.0.conv"       */
#define VAE_LAYER_NAME 96      /* block + ".conv_shortcut"                     */
#define VAE_NAME 128           /* layer + ".weight"                            */

/* ---- weights ------------------------------------------------------------ */

/* ResnetBlock2D without a time embedding. */
typedef struct vae_resnet {
    int cin, cout;
    pd_weight norm1_w, norm1_b, conv1_w, conv1_b;
    pd_weight norm2_w, norm2_b, conv2_w, conv2_b;
    pd_weight shortcut_w, shortcut_b;      /* 1×1; only when cin != cout */
} vae_resnet;

/* The mid block's single-head self-attention over the H·W pixels. */
typedef struct vae_attention {
    pd_weight norm_w, norm_b;
    pd_weight q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;   /* [C, C] linears */
} vae_attention;

typedef struct vae_mid {
    vae_resnet res0;
    vae_attention attn;
    vae_resnet res1;
} vae_mid;

/* One resolution level: its ResNets, then (all levels but the last) a
 * stride-2 conv in the encoder or a nearest ×2 + conv in the decoder. */
typedef struct vae_level {
    int nres;
    vae_resnet res[VAE_MAX_LAYERS + 1];
    int resample;
    pd_weight resample_w, resample_b;
} vae_level;

typedef struct vae_coder {
    pd_weight conv_in_w, conv_in_b;
    vae_level level[VAE_MAX_BLOCKS];
    vae_mid mid;
    pd_weight norm_out_w, norm_out_b, conv_out_w, conv_out_b;
} vae_coder;

struct pd_vae {
    pd_vae_config cfg;
    const pd_model *model;       /* for pd_model_release                     */
    const char *path;            /* the model's, for messages                */
    int has_encoder;             /* a decoder-only VAE can still decode      */
    vae_coder enc, dec;
    const volatile int *cancel;  /* pd_vae_set_cancel; NULL: never           */
    pd_weight quant_w, quant_b;  /* encoder side: [2L, 2L, 1, 1]             */
    pd_weight post_quant_w, post_quant_b; /* decoder side: [L, L, 1, 1]      */
};

/* ---- loading ------------------------------------------------------------ */

static const pd_model_tensor *find(const pd_model *m, const char *name)
{
    return g_hash_table_lookup(m->weights[PD_COMPONENT_VAE], name);
}

/* Looks up "<prefix>.<suffix>" with the given shape. */
static pd_status get(const pd_model *m, const char *prefix, const char *suffix, int ndim,
                     int64_t d0, int64_t d1, int64_t k, pd_weight *w, pd_error *err)
{
    char name[VAE_NAME];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    int64_t shape[4] = {d0, d1, k, k};
    return pd_model_weight(m, PD_COMPONENT_VAE, name, ndim, shape, w, err);
}

/* A convolution [cout, cin, k, k] and its bias [cout]. */
static pd_status get_conv(const pd_model *m, const char *prefix, int cout, int cin, int k,
                          pd_weight *w, pd_weight *b, pd_error *err)
{
    pd_status st = get(m, prefix, "weight", 4, cout, cin, k, w, err);
    return st ? st : get(m, prefix, "bias", 1, cout, 0, 0, b, err);
}

/* A group norm's gamma and beta, [c] each. */
static pd_status get_norm(const pd_model *m, const char *prefix, int c, pd_weight *w,
                          pd_weight *b, pd_error *err)
{
    pd_status st = get(m, prefix, "weight", 1, c, 0, 0, w, err);
    return st ? st : get(m, prefix, "bias", 1, c, 0, 0, b, err);
}

/* A linear [c, c] and its bias. Single files store the VAE attention
 * projections as 1×1 convolutions [c, c, 1, 1]; pd_model_weight ignores
 * the trailing 1s and pd_gemm reads either as c rows of c. */
static pd_status get_linear(const pd_model *m, const char *prefix, int c, pd_weight *w,
                            pd_weight *b, pd_error *err)
{
    pd_status st = get(m, prefix, "weight", 2, c, c, 0, w, err);
    return st ? st : get(m, prefix, "bias", 1, c, 0, 0, b, err);
}

/* "<prefix>.<s>" in the local buffer p, for the loaders below. */
#define SUB(s) (snprintf(p, sizeof p, "%s.%s", prefix, s), p)

static pd_status load_resnet(const pd_model *m, const char *prefix, int cin, int cout,
                             vae_resnet *r, pd_error *err)
{
    char p[VAE_LAYER_NAME];
    pd_status st;
    r->cin = cin;
    r->cout = cout;
    if ((st = get_norm(m, SUB("norm1"), cin, &r->norm1_w, &r->norm1_b, err)) ||
        (st = get_conv(m, SUB("conv1"), cout, cin, 3, &r->conv1_w, &r->conv1_b, err)) ||
        (st = get_norm(m, SUB("norm2"), cout, &r->norm2_w, &r->norm2_b, err)) ||
        (st = get_conv(m, SUB("conv2"), cout, cout, 3, &r->conv2_w, &r->conv2_b, err)))
        return st;
    if (cin != cout &&
        (st = get_conv(m, SUB("conv_shortcut"), cout, cin, 1, &r->shortcut_w, &r->shortcut_b, err)))
        return st;
    return PD_OK;
}

static pd_status load_attention(const pd_model *m, const char *prefix, int c, vae_attention *a,
                                pd_error *err)
{
    char p[VAE_LAYER_NAME];
    pd_status st;
    if ((st = get_norm(m, SUB("group_norm"), c, &a->norm_w, &a->norm_b, err)) ||
        (st = get_linear(m, SUB("to_q"), c, &a->q_w, &a->q_b, err)) ||
        (st = get_linear(m, SUB("to_k"), c, &a->k_w, &a->k_b, err)) ||
        (st = get_linear(m, SUB("to_v"), c, &a->v_w, &a->v_b, err)) ||
        (st = get_linear(m, SUB("to_out.0"), c, &a->out_w, &a->out_b, err)))
        return st;
    return PD_OK;
}
#undef SUB

/* UNetMidBlock2D: ResNet, attention, ResNet, all at the deepest width. */
static pd_status load_mid(const pd_model *m, const char *coder, int c, vae_mid *mid, pd_error *err)
{
    char p[VAE_BLOCK_NAME];
    pd_status st;
    snprintf(p, sizeof p, "%s.mid_block.resnets.0", coder);
    if ((st = load_resnet(m, p, c, c, &mid->res0, err)))
        return st;
    snprintf(p, sizeof p, "%s.mid_block.attentions.0", coder);
    if ((st = load_attention(m, p, c, &mid->attn, err)))
        return st;
    snprintf(p, sizeof p, "%s.mid_block.resnets.1", coder);
    return load_resnet(m, p, c, c, &mid->res1, err);
}

/* Encoder: conv_in → down blocks (DownEncoderBlock2D: layers_per_block
 * ResNets, then a stride-2 conv but in the last) → mid block → norm, SiLU,
 * conv_out to 2·latent channels (mean and log-variance). */
static pd_status load_encoder(const pd_model *m, const pd_vae_config *c, vae_coder *e, pd_error *err)
{
    const int *ch = c->block_channels, last = ch[c->blocks - 1];
    char p[VAE_BLOCK_NAME];
    pd_status st;
    if ((st = get_conv(m, "encoder.conv_in", ch[0], c->in_channels, 3, &e->conv_in_w, &e->conv_in_b, err)))
        return st;
    int cin = ch[0];
    for (int i = 0; i < c->blocks; i++) {
        vae_level *L = &e->level[i];
        L->nres = c->layers_per_block;
        for (int j = 0; j < L->nres; j++) {
            snprintf(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", i, j);
            if ((st = load_resnet(m, p, j ? ch[i] : cin, ch[i], &L->res[j], err)))
                return st;
        }
        L->resample = i < c->blocks - 1;
        snprintf(p, sizeof p, "encoder.down_blocks.%d.downsamplers.0.conv", i);
        if (L->resample && (st = get_conv(m, p, ch[i], ch[i], 3, &L->resample_w, &L->resample_b, err)))
            return st;
        cin = ch[i];
    }
    if ((st = load_mid(m, "encoder", last, &e->mid, err)) ||
        (st = get_norm(m, "encoder.conv_norm_out", last, &e->norm_out_w, &e->norm_out_b, err)) ||
        (st = get_conv(m, "encoder.conv_out", 2 * c->latent_channels, last, 3, &e->conv_out_w,
                       &e->conv_out_b, err)))
        return st;
    return PD_OK;
}

/* Decoder: conv_in → mid block → up blocks in reversed channel order
 * (UpDecoderBlock2D: layers_per_block + 1 ResNets, then nearest ×2 and a
 * conv but in the last) → norm, SiLU, conv_out. */
static pd_status load_decoder(const pd_model *m, const pd_vae_config *c, vae_coder *d, pd_error *err)
{
    const int *ch = c->block_channels, last = ch[c->blocks - 1];
    char p[VAE_BLOCK_NAME];
    pd_status st;
    if ((st = get_conv(m, "decoder.conv_in", last, c->latent_channels, 3, &d->conv_in_w,
                       &d->conv_in_b, err)) ||
        (st = load_mid(m, "decoder", last, &d->mid, err)))
        return st;
    int cin = last;
    for (int i = 0; i < c->blocks; i++) {
        vae_level *L = &d->level[i];
        int cout = ch[c->blocks - 1 - i];
        L->nres = c->layers_per_block + 1;
        for (int j = 0; j < L->nres; j++) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, j);
            if ((st = load_resnet(m, p, j ? cout : cin, cout, &L->res[j], err)))
                return st;
        }
        L->resample = i < c->blocks - 1;
        snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", i);
        if (L->resample && (st = get_conv(m, p, cout, cout, 3, &L->resample_w, &L->resample_b, err)))
            return st;
        cin = cout;
    }
    if ((st = get_norm(m, "decoder.conv_norm_out", ch[0], &d->norm_out_w, &d->norm_out_b, err)) ||
        (st = get_conv(m, "decoder.conv_out", c->out_channels, ch[0], 3, &d->conv_out_w,
                       &d->conv_out_b, err)))
        return st;
    return PD_OK;
}

/* dimension i of a tensor if it is there with at least i+1 dimensions, else 0. */
static int64_t dim(const pd_model *m, const char *name, int i)
{
    const pd_model_tensor *t = find(m, name);
    return t && t->w.ndim > i ? t->w.shape[i] : 0;
}

/* Hyper-parameters without a config: what the shapes tell (levels, widths,
 * ResNets per level, image and latent channels), and SD's values for the
 * rest (32 groups, scaling 0.18215). The decoder is always there, so it is
 * what the shapes are read from. Out-of-range values are caught later. */
static void infer_config(const pd_model *m, pd_vae_config *c)
{
    char name[VAE_NAME];
    memset(c, 0, sizeof *c);
    int64_t up[VAE_MAX_BLOCKS];
    int n = 0;
    for (; n < VAE_MAX_BLOCKS; n++) {
        snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.0.conv1.weight", n);
        if (!(up[n] = dim(m, name, 0)))
            break;
    }
    c->blocks = n;
    for (int i = 0; i < n; i++)   /* up block i has width block_channels[n - 1 - i] */
        c->block_channels[n - 1 - i] = (int)(up[i] < INT_MAX ? up[i] : INT_MAX);
    int r = 0;
    for (; r < VAE_MAX_LAYERS + 2; r++) {
        snprintf(name, sizeof name, "decoder.up_blocks.0.resnets.%d.conv1.weight", r);
        if (!find(m, name))
            break;
    }
    c->layers_per_block = r - 1;
    int64_t in = dim(m, "encoder.conv_in.weight", 1), out = dim(m, "decoder.conv_out.weight", 0),
            lat = dim(m, "decoder.conv_in.weight", 1);
    c->in_channels = in > 0 && in < INT_MAX ? (int)in : 3;
    c->out_channels = out > 0 && out < INT_MAX ? (int)out : 3;
    c->latent_channels = lat > 0 && lat < INT_MAX ? (int)lat : 4;
    c->groups = 32;
    c->eps = 1e-6f;
    c->scaling_factor = 0.18215f;
}

/* vae/config.json overrides what the shapes suggested, key by key. */
static pd_status read_config(const pd_config *cf, pd_vae_config *c, pd_error *err)
{
    const char *path = pd_config_path(cf);
    int64_t v, list[VAE_MAX_BLOCKS + 1];
    int n;
    pd_status st;
#define INT_KEY(key, lo, hi, field)                                          \
    do {                                                                     \
        v = c->field;                                                        \
        if ((st = pd_config_int(cf, key, lo, hi, &v, err)))                  \
            return st;                                                       \
        c->field = (int)v;                                                   \
    } while (0)
    INT_KEY("in_channels", 1, PD_NORM_MAX_CHANNELS, in_channels);
    INT_KEY("out_channels", 1, PD_NORM_MAX_CHANNELS, out_channels);
    INT_KEY("latent_channels", 1, PD_NORM_MAX_CHANNELS, latent_channels);
    INT_KEY("layers_per_block", 1, VAE_MAX_LAYERS, layers_per_block);
    INT_KEY("norm_num_groups", 1, PD_NORM_MAX_CHANNELS, groups);
#undef INT_KEY
    if ((st = pd_config_ints(cf, "block_out_channels", 1, PD_NORM_MAX_CHANNELS, list,
                             VAE_MAX_BLOCKS + 1, &n, err)))
        return st;
    if (n > VAE_MAX_BLOCKS)
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: block_out_channels has more than %d levels",
                       path, VAE_MAX_BLOCKS);
    if (n) {
        c->blocks = n;
        for (int i = 0; i < n; i++)
            c->block_channels[i] = (int)list[i];
    }
    double sf = c->scaling_factor;
    if ((st = pd_config_double(cf, "scaling_factor", &sf, err)))
        return st;
    if (!(sf > 0 && sf < 1e6))
        return pd_fail(err, PD_E_FORMAT, "%s: scaling_factor %g is not a positive scale", path, sf);
    c->scaling_factor = (float)sf;

    /* What the code below does not implement is refused, not approximated. */
    static const struct { const char *key, *want; } types[] = {
        {"down_block_types", "DownEncoderBlock2D"}, {"up_block_types", "UpDecoderBlock2D"}};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const char *s[VAE_MAX_BLOCKS + 1];
        if ((st = pd_config_strings(cf, types[t].key, s, VAE_MAX_BLOCKS + 1, &n, err)))
            return st;
        for (int i = 0; i < n; i++)
            if (strcmp(s[i], types[t].want))
                return pd_fail(err, PD_E_UNSUPPORTED, "%s: %s[%d] is %s; paldiff runs only %s",
                               path, types[t].key, i, s[i], types[t].want);
        if (n && n != c->blocks)
            return pd_fail(err, PD_E_FORMAT, "%s: %s has %d entries, block_out_channels %d",
                           path, types[t].key, n, c->blocks);
    }
    const char *act = "silu";
    if ((st = pd_config_string(cf, "act_fn", &act, err)))
        return st;
    if (strcmp(act, "silu") && strcmp(act, "swish"))
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: act_fn %s; paldiff's VAE runs only silu", path, act);
    /* Keys of later diffusers versions; their default is what runs here. */
    static const char *const on[] = {"mid_block_add_attention", "use_quant_conv", "use_post_quant_conv"};
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        int b = 1;
        if ((st = pd_config_bool(cf, on[i], &b, err)))
            return st;
        if (!b)
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: %s is false; paldiff's VAE needs it", path, on[i]);
    }
    return PD_OK;
}

/* Ranges the kernels and the forward functions rely on. */
static pd_status check_config(const pd_model *m, const pd_vae_config *c, pd_error *err)
{
    const char *src = m->configs[PD_COMPONENT_VAE] ? pd_config_path(m->configs[PD_COMPONENT_VAE]) : m->path;
    if (c->blocks < 1)
        return pd_fail(err, PD_E_MODEL, "%s: VAE tensor 'decoder.up_blocks.0.resnets.0.conv1.weight' "
                       "is missing", m->path);
    if (c->layers_per_block < 1 || c->layers_per_block > VAE_MAX_LAYERS)
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: VAE with %d layers per block (1..%d supported)",
                       src, c->layers_per_block, VAE_MAX_LAYERS);
    if (c->in_channels < 1 || c->out_channels < 1 || c->latent_channels < 1 ||
        c->in_channels > PD_NORM_MAX_CHANNELS || c->out_channels > PD_NORM_MAX_CHANNELS ||
        c->latent_channels > PD_NORM_MAX_CHANNELS / 2)
        return pd_fail(err, PD_E_MODEL, "%s: VAE with %d image, %d output and %d latent channels",
                       src, c->in_channels, c->out_channels, c->latent_channels);
    for (int i = 0; i < c->blocks; i++) {
        if (c->block_channels[i] < 1 || c->block_channels[i] > PD_NORM_MAX_CHANNELS)
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: VAE level %d has %d channels (1..%d supported)",
                           src, i, c->block_channels[i], PD_NORM_MAX_CHANNELS);
        if (c->groups < 1 || c->block_channels[i] % c->groups)
            return pd_fail(err, PD_E_MODEL, "%s: VAE level %d has %d channels, not a multiple of "
                           "%d norm groups%s", src, i, c->block_channels[i], c->groups,
                           m->configs[PD_COMPONENT_VAE] ? "" : " (SD's number, assumed without a "
                           "vae/config.json: give the model's config folder)");
    }
    if (c->block_channels[c->blocks - 1] > PD_ATTENTION_MAX_D)
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: VAE mid-block attention over %d channels "
                       "(paldiff's attention takes at most %d per head)", src,
                       c->block_channels[c->blocks - 1], PD_ATTENTION_MAX_D);
    return PD_OK;
}

pd_status pd_vae_load(const pd_model *m, pd_vae **out, pd_error *err)
{
    *out = NULL;
    pd_vae_config cfg;
    infer_config(m, &cfg);
    const int levels = cfg.blocks;
    const pd_config *cf = m->configs[PD_COMPONENT_VAE];
    pd_status st;
    if ((cf && (st = read_config(cf, &cfg, err))) || (st = check_config(m, &cfg, err)))
        return st;
    /* A config with fewer levels than the weights would run a truncated model. */
    if (cf && cfg.blocks != levels)
        return pd_fail(err, PD_E_MODEL, "%s: block_out_channels gives %d levels, the VAE decoder "
                       "in %s has %d", pd_config_path(cf), cfg.blocks, m->path, levels);
    pd_vae *v = calloc(1, sizeof *v);
    if (!v)
        return pd_fail(err, PD_E_NOMEM, "VAE: out of memory");
    v->cfg = cfg;
    v->model = m;
    v->path = m->path;
    const int L = cfg.latent_channels;
    st = get_conv(m, "post_quant_conv", L, L, 1, &v->post_quant_w, &v->post_quant_b, err);
    if (!st)
        st = load_decoder(m, &cfg, &v->dec, err);
    /* Without an encoder the model still decodes; pd_vae_encode says why it cannot encode. */
    v->has_encoder = find(m, "encoder.conv_in.weight") != NULL;
    if (!st && v->has_encoder)
        st = load_encoder(m, &cfg, &v->enc, err);
    if (!st && v->has_encoder)
        st = get_conv(m, "quant_conv", 2 * L, 2 * L, 1, &v->quant_w, &v->quant_b, err);
    if (st) {
        free(v);
        return st;
    }
    *out = v;
    return PD_OK;
}

void pd_vae_free(pd_vae *vae)
{
    free(vae);
}

const pd_vae_config *pd_vae_get_config(const pd_vae *vae)
{
    return &vae->cfg;
}

/* ---- forward ------------------------------------------------------------ */

/* An activation [B, H, W, C], channels-last, owned by whoever holds it. */
typedef struct act {
    float *d;
    int B, H, W, C;
} act;

static const int PAD0[4] = {0, 0, 0, 0}, PAD1[4] = {1, 1, 1, 1};

static float *new_act(int B, int H, int W, int C)
{
    return pd_alloc_large((size_t)B * (size_t)H * (size_t)W * (size_t)C * sizeof(float));
}

/* Every block below consumes x->d and leaves its output in *x. They return
 * 0, or -1 when an allocation failed — then x->d has been freed (and set to
 * NULL), so the caller only has to report it. */

/* ResnetBlock2D, temb = None: h = conv2(silu(norm2(conv1(silu(norm1(x)))))),
 * out = shortcut(x) + h, the shortcut a 1×1 conv when the width changes
 * (output_scale_factor 1, so no division). conv2 adds onto the residual in
 * place, so the sum costs no extra pass or buffer. */
static int resnet_forward(const pd_vae_config *c, const vae_resnet *r, act *x)
{
    const int B = x->B, H = x->H, W = x->W;
    const int64_t HW = (int64_t)H * W;
    float *res = x->d, *a = NULL, *h = NULL;
    if (r->cin != r->cout) {
        /* Project the residual first: x is then dead and norm1 can run in
         * place, so the block holds cin + 2·cout channels instead of
         * 2·cin + cout (at 512×512, the decoder's 256 → 128 block: 512 MB
         * instead of 640 MB). */
        if (!(res = new_act(B, H, W, r->cout)))
            goto oom;
        pd_conv2d(B, H, W, r->cin, x->d, &r->shortcut_w, &r->shortcut_b, 1, PAD0, res, 0);
        a = x->d;
    } else if (!(a = new_act(B, H, W, r->cin))) {
        goto oom;
    }
    if (!(h = new_act(B, H, W, r->cout)))
        goto oom;
    pd_group_norm(B, HW, r->cin, c->groups, x->d, &r->norm1_w, &r->norm1_b, c->eps, 1, a);
    pd_conv2d(B, H, W, r->cin, a, &r->conv1_w, &r->conv1_b, 1, PAD1, h, 0);
    free(a);                      /* with a shortcut, this is x */
    pd_group_norm(B, HW, r->cout, c->groups, h, &r->norm2_w, &r->norm2_b, c->eps, 1, h);
    pd_conv2d(B, H, W, r->cout, h, &r->conv2_w, &r->conv2_b, 1, PAD1, res, 1);
    free(h);
    x->d = res;
    x->C = r->cout;
    return 0;
oom:
    if (a != x->d)
        free(a);
    if (res != x->d)
        free(res);
    free(x->d);
    x->d = NULL;
    return -1;
}

/* diffusers' Attention with heads = 1, dim_head = C: group norm, q/k/v
 * linears over the H·W tokens of each image, softmax(q·kᵀ/√C)·v, to_out.0,
 * plus the residual (rescale_output_factor 1). The attention kernel is
 * tiled: never an HW × HW matrix, even at 64×64 latents (4096 tokens). */
static int attention_forward(const pd_vae_config *c, const vae_attention *at, act *x)
{
    const int64_t C = x->C, T = (int64_t)x->H * x->W, N = (int64_t)x->B * T;
    float *buf = malloc((size_t)(4 * N * C) * sizeof(float));
    if (!buf) {
        free(x->d);
        x->d = NULL;
        return -1;
    }
    float *h = buf, *q = h + N * C, *k = q + N * C, *v = k + N * C;
    pd_group_norm(x->B, T, x->C, c->groups, x->d, &at->norm_w, &at->norm_b, c->eps, 0, h);
    pd_gemm(N, C, C, h, C, &at->q_w, &at->q_b, q, C, 0);
    pd_gemm(N, C, C, h, C, &at->k_w, &at->k_b, k, C, 0);
    pd_gemm(N, C, C, h, C, &at->v_w, &at->v_b, v, C, 0);
    /* Tokens attend within their own image only; h is free again for the result. */
    for (int b = 0; b < x->B; b++) {
        int64_t o = b * T * C;
        pd_attention(1, T, T, C, q + o, C, k + o, C, v + o, C, h + o, C, 1.0f / sqrtf((float)C), 0);
    }
    pd_gemm(N, C, C, h, C, &at->out_w, &at->out_b, x->d, C, 1);
    free(buf);
    return 0;
}

static int mid_forward(const pd_vae_config *c, const vae_mid *mid, act *x)
{
    return resnet_forward(c, &mid->res0, x) || attention_forward(c, &mid->attn, x) ||
           resnet_forward(c, &mid->res1, x) ? -1 : 0;
}

/* A convolution into a new activation; the input stays (the caller frees it). */
static int conv_new(const act *x, const pd_weight *w, const pd_weight *b, int cout, int k,
                    int stride, const int pad[4], act *y)
{
    int Ho = pd_conv_out(x->H, k, stride, pad[0], pad[2]);
    int Wo = pd_conv_out(x->W, k, stride, pad[1], pad[3]);
    float *d = new_act(x->B, Ho, Wo, cout);
    if (!d)
        return -1;
    pd_conv2d(x->B, x->H, x->W, x->C, x->d, w, b, stride, pad, d, 0);
    *y = (act){d, x->B, Ho, Wo, cout};
    return 0;
}

/* conv_new that consumes x. */
static int conv_step(act *x, const pd_weight *w, const pd_weight *b, int cout, int k, int stride,
                     const int pad[4])
{
    act y;
    int r = conv_new(x, w, b, cout, k, stride, pad, &y);
    free(x->d);
    x->d = NULL;
    if (!r)
        *x = y;
    return r;
}

/* Downsample2D(padding = 0): zero-pad right and bottom by one, then a 3×3
 * conv of stride 2 without padding — (H + 1 − 3)/2 + 1 = H/2 for even H. */
static int downsample_forward(const vae_level *L, act *x)
{
    static const int pad[4] = {0, 0, 1, 1};   /* top, left, bottom, right */
    return conv_step(x, &L->resample_w, &L->resample_b, x->C, 3, 2, pad);
}

/* Upsample2D: nearest ×2, then a 3×3 conv with padding 1 — one fused
 * conv, so the ×4 larger upsampled image is never stored. */
static int upsample_forward(const vae_level *L, act *x)
{
    act u = {new_act(x->B, 2 * x->H, 2 * x->W, x->C), x->B, 2 * x->H, 2 * x->W, x->C};
    if (u.d)
        pd_conv2d_up2(x->B, x->H, x->W, x->C, x->d, &L->resample_w, &L->resample_b, 1, PAD1,
                      u.d, 0);
    free(x->d);
    x->d = NULL;
    if (!u.d)
        return -1;
    *x = u;
    return 0;
}

/* Encoder up to conv_out's input: the caller runs the last conv. */
static int encoder_forward(const pd_vae *v, const float *image, act *x)
{
    const pd_vae_config *c = &v->cfg;
    const vae_coder *e = &v->enc;
    act in = {(float *)image, x->B, x->H, x->W, c->in_channels};  /* read only */
    if (conv_new(&in, &e->conv_in_w, &e->conv_in_b, c->block_channels[0], 3, 1, PAD1, x))
        return -1;
    for (int i = 0; i < c->blocks; i++) {
        const vae_level *L = &e->level[i];
        for (int j = 0; j < L->nres; j++)
            if (resnet_forward(c, &L->res[j], x))
                return -1;
        if (L->resample && downsample_forward(L, x))
            return -1;
    }
    if (mid_forward(c, &e->mid, x))
        return -1;
    pd_group_norm(x->B, (int64_t)x->H * x->W, x->C, c->groups, x->d, &e->norm_out_w,
                  &e->norm_out_b, c->eps, 1, x->d);
    return 0;
}

/* After a block has run, its convolutions' pages may leave memory: the
 * decoder's peak comes at its last, full-resolution level, when the wide
 * 64×64 and 128×128 levels (most of the weights) are done. */
static size_t resnet_weights(const vae_resnet *r, const pd_weight **w)
{
    w[0] = &r->conv1_w, w[1] = &r->conv2_w, w[2] = r->cin != r->cout ? &r->shortcut_w : NULL;
    return 3;
}

static void release_level(const pd_vae *v, const vae_level *L)
{
    const pd_weight *w[3 * (VAE_MAX_LAYERS + 1) + 1];
    size_t n = 0;
    for (int j = 0; j < L->nres; j++)
        n += resnet_weights(&L->res[j], w + n);
    if (L->resample)
        w[n++] = &L->resample_w;
    pd_model_release(v->model, w, n);
}

static void release_mid(const pd_vae *v, const vae_mid *mid)
{
    const pd_weight *w[10] = {&mid->attn.q_w, &mid->attn.k_w, &mid->attn.v_w, &mid->attn.out_w};
    size_t n = 4;
    n += resnet_weights(&mid->res0, w + n);
    n += resnet_weights(&mid->res1, w + n);
    pd_model_release(v->model, w, n);
}

void pd_vae_set_cancel(pd_vae *vae, const volatile int *cancel)
{
    vae->cancel = cancel;
}

/* Whether to stop between the decoder's blocks; then x's buffer is freed. */
static int stop_here(const pd_vae *v, act *x)
{
    if (!v->cancel || !*v->cancel)
        return 0;
    free(x->d);
    x->d = NULL;
    return 1;
}

/* Decoder from the scaled latents up to conv_out's input: 0, -1 when an
 * allocation failed, 1 when cancelled (x's buffer freed in both cases). */
static int decoder_forward(const pd_vae *v, const float *latents, act *x)
{
    const pd_vae_config *c = &v->cfg;
    const vae_coder *d = &v->dec;
    /* z = latents / scaling_factor (a division, as the pipeline does it). */
    const size_t n = (size_t)x->B * x->H * x->W * c->latent_channels;
    act z = {new_act(x->B, x->H, x->W, c->latent_channels), x->B, x->H, x->W, c->latent_channels};
    if (!z.d)
        return -1;
    for (size_t i = 0; i < n; i++)
        z.d[i] = latents[i] / c->scaling_factor;
    if (conv_step(&z, &v->post_quant_w, &v->post_quant_b, c->latent_channels, 1, 1, PAD0) ||
        conv_step(&z, &d->conv_in_w, &d->conv_in_b, c->block_channels[c->blocks - 1], 3, 1, PAD1))
        return -1;
    *x = z;
    if (mid_forward(c, &d->mid, x))
        return -1;
    release_mid(v, &d->mid);
    /* The cancel flag is read between blocks: at 512 × 512 a block is a
     * fraction of a second, the whole decode several seconds. */
    for (int i = 0; i < c->blocks; i++) {
        const vae_level *L = &d->level[i];
        for (int j = 0; j < L->nres; j++) {
            if (stop_here(v, x))
                return 1;
            if (resnet_forward(c, &L->res[j], x))
                return -1;
        }
        if (L->resample && upsample_forward(L, x))
            return -1;
        release_level(v, L);
    }
    pd_group_norm(x->B, (int64_t)x->H * x->W, x->C, c->groups, x->d, &d->norm_out_w,
                  &d->norm_out_b, c->eps, 1, x->d);
    return 0;
}

/* Checks a batch of B images of H × W pixels: the kernels index with int
 * sides, and the widest activation (B·H·W·max width floats) must be
 * addressable; memory itself is malloc's to refuse. */
static pd_status check_size(const pd_vae_config *c, int B, int64_t H, int64_t W, pd_error *err)
{
    int widest = c->in_channels > c->out_channels ? c->in_channels : c->out_channels;
    for (int i = 0; i < c->blocks; i++)
        widest = c->block_channels[i] > widest ? c->block_channels[i] : widest;
    double floats = 4.0 * B * (double)H * (double)W * widest;   /* attention: 4 buffers */
    if (H > INT_MAX / 2 || W > INT_MAX / 2 || floats * sizeof(float) > (double)PTRDIFF_MAX / 2)
        return pd_fail(err, PD_E_ARG, "VAE: %d image(s) of %lld × %lld pixels are too large",
                       B, (long long)W, (long long)H);
    return PD_OK;
}

pd_status pd_vae_decode(const pd_vae *vae, int B, int h, int w, const float *latents,
                        float *image, pd_error *err)
{
    if (!vae || !latents || !image)
        return pd_fail(err, PD_E_ARG, "VAE decode: NULL argument");
    const pd_vae_config *c = &vae->cfg;
    const int f = 1 << (c->blocks - 1);
    if (B < 1 || h < 1 || w < 1)
        return pd_fail(err, PD_E_ARG, "VAE decode: %d latent(s) of %d × %d: expected at least 1 × 1",
                       B, w, h);
    pd_status st = check_size(c, B, (int64_t)h * f, (int64_t)w * f, err);
    if (st)
        return st;
    act x = {NULL, B, h, w, c->latent_channels};
    int r = decoder_forward(vae, latents, &x);
    if (r > 0)
        return pd_fail(err, PD_E_CANCELLED, "VAE decode cancelled");
    if (r < 0)
        return pd_fail(err, PD_E_NOMEM, "VAE decode: out of memory for the activations of "
                       "%d image(s) of %d × %d", B, w * f, h * f);
    /* The last step cannot fail, so the output is written all or not at all. */
    pd_conv2d(B, x.H, x.W, x.C, x.d, &vae->dec.conv_out_w, &vae->dec.conv_out_b, 1, PAD1, image, 0);
    free(x.d);
    return PD_OK;
}

pd_status pd_vae_encode(const pd_vae *vae, int B, int H, int W, const float *image,
                        float *mean, float *logvar, pd_error *err)
{
    if (!vae || !image || !mean || !logvar)
        return pd_fail(err, PD_E_ARG, "VAE encode: NULL argument");
    const pd_vae_config *c = &vae->cfg;
    const int f = 1 << (c->blocks - 1), L = c->latent_channels;
    if (!vae->has_encoder)
        return pd_fail(err, PD_E_MODEL, "%s: the VAE has no encoder ('encoder.conv_in.weight' is "
                       "missing), so it cannot encode images", vae->path);
    if (B < 1 || H < f || W < f || H % f || W % f)
        return pd_fail(err, PD_E_ARG, "VAE encode: %d image(s) of %d × %d: sides must be "
                       "positive multiples of %d", B, W, H, f);
    pd_status st = check_size(c, B, H, W, err);
    if (st)
        return st;
    act x = {NULL, B, H, W, c->in_channels};
    if (encoder_forward(vae, image, &x) ||
        conv_step(&x, &vae->enc.conv_out_w, &vae->enc.conv_out_b, 2 * L, 3, 1, PAD1) ||
        conv_step(&x, &vae->quant_w, &vae->quant_b, 2 * L, 1, 1, PAD0))
        return pd_fail(err, PD_E_NOMEM, "VAE encode: out of memory for the activations of "
                       "%d image(s) of %d × %d", B, W, H);
    /* The moments' first L channels are the mean, the last L the log-variance,
     * clamped to [−30, 20] as DiagonalGaussianDistribution does (NaN stays NaN). */
    const int64_t n = (int64_t)B * x.H * x.W;
    for (int64_t p = 0; p < n; p++)
        for (int ch = 0; ch < L; ch++) {
            float lv = x.d[p * 2 * L + L + ch];
            mean[p * L + ch] = x.d[p * 2 * L + ch];
            logvar[p * L + ch] = lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
        }
    free(x.d);
    return PD_OK;
}
