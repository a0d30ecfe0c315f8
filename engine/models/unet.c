/* unet.c — UNet2DConditionModel as SD 1.x/2.x use it (see unet.h).
 *
 * Activations are channels-last: an image of h×w pixels with C channels is
 * B·h·w rows of C floats, so every 1×1 convolution, projection and linear
 * layer is one pd_gemm over those rows, and attention tokens are pixels. */
#include "models/unet.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/model.h"
#include "mem.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/resize.h"

#define TRANSFORMER_EPS 1e-6f   /* Transformer2DModel's group norm */
#define LN_EPS 1e-5f            /* BasicTransformerBlock's layer norms */
#define NAME_LEN 192            /* longest internal tensor name, with room */

typedef struct {
    int cin, cout, has_shortcut;
    pd_weight norm1_w, norm1_b, conv1_w, conv1_b, temb_w, temb_b;
    pd_weight norm2_w, norm2_b, conv2_w, conv2_b, short_w, short_b;
} resnet;

typedef struct {
    pd_weight q, k, v, out_w, out_b;
} attention;

typedef struct {
    int channels, heads;
    pd_weight norm_w, norm_b, proj_in_w, proj_in_b, proj_out_w, proj_out_b;
    pd_weight ln1_w, ln1_b, ln2_w, ln2_b, ln3_w, ln3_b, ff1_w, ff1_b, ff2_w, ff2_b;
    attention self, cross;
} transformer;

struct pd_unet {
    pd_unet_config cfg;
    int time_dim;               /* 4 · block_channels[0]: the time embedding's width */
    pd_weight time1_w, time1_b, time2_w, time2_b;
    pd_weight conv_in_w, conv_in_b, norm_out_w, norm_out_b, conv_out_w, conv_out_b;
    resnet down_res[PD_UNET_MAX_BLOCKS][2];
    transformer down_tf[PD_UNET_MAX_BLOCKS][2];
    pd_weight down_w[PD_UNET_MAX_BLOCKS], down_b[PD_UNET_MAX_BLOCKS];
    resnet mid_res[2];
    transformer mid_tf;
    resnet up_res[PD_UNET_MAX_BLOCKS][3];
    transformer up_tf[PD_UNET_MAX_BLOCKS][3];
    pd_weight up_w[PD_UNET_MAX_BLOCKS], up_b[PD_UNET_MAX_BLOCKS];
};

/* ---- loading -------------------------------------------------------------- */

typedef struct {
    const pd_model *m;
    pd_error *err;
    pd_status st;               /* the first failure; later lookups do nothing */
} loader;

/* Looks up printf(name) with shape {a, b, c, d} (trailing zeros end the shape). */
static void get(loader *L, pd_weight *w, int64_t a, int64_t b, int64_t c, int64_t d,
                const char *fmt, ...) PD_PRINTF(7, 8);
static void get(loader *L, pd_weight *w, int64_t a, int64_t b, int64_t c, int64_t d,
                const char *fmt, ...)
{
    if (L->st)
        return;
    char name[NAME_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[4] = {a, b, c, d};
    int ndim = d ? 4 : c ? 3 : b ? 2 : 1;
    L->st = pd_model_weight(L->m, PD_COMPONENT_UNET, name, ndim, shape, w, L->err);
}

static int has(const pd_model *m, const char *fmt, int i, int j)
{
    char name[NAME_LEN];
    snprintf(name, sizeof name, fmt, i, j);
    return g_hash_table_contains(m->weights[PD_COMPONENT_UNET], name);
}

static void load_resnet(loader *L, resnet *r, int cin, int cout, int temb, const char *prefix)
{
    r->cin = cin, r->cout = cout, r->has_shortcut = cin != cout;
    get(L, &r->norm1_w, cin, 0, 0, 0, "%s.norm1.weight", prefix);
    get(L, &r->norm1_b, cin, 0, 0, 0, "%s.norm1.bias", prefix);
    get(L, &r->conv1_w, cout, cin, 3, 3, "%s.conv1.weight", prefix);
    get(L, &r->conv1_b, cout, 0, 0, 0, "%s.conv1.bias", prefix);
    get(L, &r->temb_w, cout, temb, 0, 0, "%s.time_emb_proj.weight", prefix);
    get(L, &r->temb_b, cout, 0, 0, 0, "%s.time_emb_proj.bias", prefix);
    get(L, &r->norm2_w, cout, 0, 0, 0, "%s.norm2.weight", prefix);
    get(L, &r->norm2_b, cout, 0, 0, 0, "%s.norm2.bias", prefix);
    get(L, &r->conv2_w, cout, cout, 3, 3, "%s.conv2.weight", prefix);
    get(L, &r->conv2_b, cout, 0, 0, 0, "%s.conv2.bias", prefix);
    if (r->has_shortcut) {
        get(L, &r->short_w, cout, cin, 1, 1, "%s.conv_shortcut.weight", prefix);
        get(L, &r->short_b, cout, 0, 0, 0, "%s.conv_shortcut.bias", prefix);
    }
}

static void load_attention(loader *L, attention *a, int c, int kv_dim, const char *prefix)
{
    get(L, &a->q, c, c, 0, 0, "%s.to_q.weight", prefix);
    get(L, &a->k, c, kv_dim, 0, 0, "%s.to_k.weight", prefix);
    get(L, &a->v, c, kv_dim, 0, 0, "%s.to_v.weight", prefix);
    get(L, &a->out_w, c, c, 0, 0, "%s.to_out.0.weight", prefix);
    get(L, &a->out_b, c, 0, 0, 0, "%s.to_out.0.bias", prefix);
}

static void load_transformer(loader *L, transformer *t, int c, int heads, int cross,
                             const char *prefix)
{
    t->channels = c, t->heads = heads;
    if (!L->st && (heads <= 0 || c % heads || c / heads > PD_ATTENTION_MAX_D)) {
        L->st = pd_fail(L->err, PD_E_MODEL, "%s: UNet transformer %s: %d channels in %d heads "
                        "is not a layout paldiff runs", L->m->path, prefix, c, heads);
        return;
    }
    /* 1×1 convolutions [C, C, 1, 1] (SD 1.x) and linear layers [C, C] (SD 2.x)
     * are the same matrix to pd_gemm; the shape check ignores trailing 1s. */
    get(L, &t->norm_w, c, 0, 0, 0, "%s.norm.weight", prefix);
    get(L, &t->norm_b, c, 0, 0, 0, "%s.norm.bias", prefix);
    get(L, &t->proj_in_w, c, c, 0, 0, "%s.proj_in.weight", prefix);
    get(L, &t->proj_in_b, c, 0, 0, 0, "%s.proj_in.bias", prefix);
    get(L, &t->proj_out_w, c, c, 0, 0, "%s.proj_out.weight", prefix);
    get(L, &t->proj_out_b, c, 0, 0, 0, "%s.proj_out.bias", prefix);
    char b[NAME_LEN];
    snprintf(b, sizeof b, "%s.transformer_blocks.0", prefix);
    get(L, &t->ln1_w, c, 0, 0, 0, "%s.norm1.weight", b);
    get(L, &t->ln1_b, c, 0, 0, 0, "%s.norm1.bias", b);
    get(L, &t->ln2_w, c, 0, 0, 0, "%s.norm2.weight", b);
    get(L, &t->ln2_b, c, 0, 0, 0, "%s.norm2.bias", b);
    get(L, &t->ln3_w, c, 0, 0, 0, "%s.norm3.weight", b);
    get(L, &t->ln3_b, c, 0, 0, 0, "%s.norm3.bias", b);
    get(L, &t->ff1_w, 8 * c, c, 0, 0, "%s.ff.net.0.proj.weight", b); /* GEGLU: value and gate */
    get(L, &t->ff1_b, 8 * c, 0, 0, 0, "%s.ff.net.0.proj.bias", b);
    get(L, &t->ff2_w, c, 4 * c, 0, 0, "%s.ff.net.2.weight", b);
    get(L, &t->ff2_b, c, 0, 0, 0, "%s.ff.net.2.bias", b);
    char a[NAME_LEN + 8];
    snprintf(a, sizeof a, "%s.attn1", b);
    load_attention(L, &t->self, c, c, a);
    snprintf(a, sizeof a, "%s.attn2", b);
    load_attention(L, &t->cross, c, cross, a);
}

/* Hyper-parameters from shapes, with SD's standard values for what shapes can't tell. */
static pd_status infer_config(const pd_model *m, pd_unet_config *c, pd_error *err)
{
    GHashTable *w = m->weights[PD_COMPONENT_UNET];
    const pd_model_tensor *conv_in = g_hash_table_lookup(w, "conv_in.weight");
    const pd_model_tensor *conv_out = g_hash_table_lookup(w, "conv_out.weight");
    if (!conv_in || !conv_out)
        return pd_fail(err, PD_E_MODEL, "%s: UNet tensor '%s' is missing", m->path,
                       conv_in ? "conv_out.weight" : "conv_in.weight");
    c->in_channels = (int)conv_in->w.shape[1];
    c->out_channels = (int)conv_out->w.shape[0];
    c->blocks = 0;
    while (c->blocks < PD_UNET_MAX_BLOCKS && has(m, "down_blocks.%d.resnets.%d.conv1.weight", c->blocks, 0)) {
        char name[NAME_LEN];
        snprintf(name, sizeof name, "down_blocks.%d.resnets.0.conv1.weight", c->blocks);
        c->block_channels[c->blocks] = (int)((const pd_model_tensor *)g_hash_table_lookup(w, name))->w.shape[0];
        c->blocks++;
    }
    c->layers_per_block = 0;
    while (c->layers_per_block < 2 && has(m, "down_blocks.%d.resnets.%d.conv1.weight", 0, c->layers_per_block))
        c->layers_per_block++;
    for (int i = 0; i < c->blocks; i++) {
        c->down_attn[i] = has(m, "down_blocks.%d.attentions.%d.proj_in.weight", i, 0);
        c->up_attn[i] = has(m, "up_blocks.%d.attentions.%d.proj_in.weight", i, 0);
    }
    const pd_model_tensor *k = g_hash_table_lookup(w, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    const pd_model_tensor *proj = g_hash_table_lookup(w, "mid_block.attentions.0.proj_in.weight");
    if (!k || !proj || k->w.ndim != 2)
        return pd_fail(err, PD_E_MODEL, "%s: the UNet's mid-block transformer is missing", m->path);
    c->cross_dim = (int)k->w.shape[1];
    c->linear_proj = proj->w.ndim == 2;
    for (int i = 0; i < c->blocks; i++) /* SD 1.x: 8 heads; SD 2.x: 64 channels per head */
        c->heads[i] = c->linear_proj ? c->block_channels[i] / 64 : 8;
    c->groups = 32;
    c->eps = 1e-5f;
    c->flip_sin_to_cos = 1;
    c->freq_shift = 0;
    return PD_OK;
}

/* Overrides from unet/config.json; refuses what this UNet does not implement. */
static pd_status read_config(const pd_config *cf, pd_unet_config *c, pd_error *err)
{
    pd_status st;
    int64_t v[PD_UNET_MAX_BLOCKS], in = c->in_channels, out = c->out_channels, lpb = c->layers_per_block;
    int64_t cross = c->cross_dim, groups = c->groups, layers = 1;
    double eps = c->eps, shift = c->freq_shift;
    int lin = c->linear_proj, flip = c->flip_sin_to_cos, n = 0, nh = 0, only = 0, center = 0;
    const char *types[PD_UNET_MAX_BLOCKS + 1], *s = NULL;
    if ((st = pd_config_int(cf, "in_channels", 1, 64, &in, err)) ||
        (st = pd_config_int(cf, "out_channels", 1, 64, &out, err)) ||
        (st = pd_config_int(cf, "layers_per_block", 1, 2, &lpb, err)) ||
        (st = pd_config_int(cf, "cross_attention_dim", 1, 1 << 16, &cross, err)) ||
        (st = pd_config_int(cf, "norm_num_groups", 1, 1024, &groups, err)) ||
        (st = pd_config_int(cf, "transformer_layers_per_block", 1, 1, &layers, err)) ||
        (st = pd_config_double(cf, "norm_eps", &eps, err)) ||
        (st = pd_config_double(cf, "freq_shift", &shift, err)) ||
        (st = pd_config_bool(cf, "use_linear_projection", &lin, err)) ||
        (st = pd_config_bool(cf, "flip_sin_to_cos", &flip, err)) ||
        (st = pd_config_bool(cf, "only_cross_attention", &only, err)) ||
        (st = pd_config_bool(cf, "center_input_sample", &center, err)))
        return st;
    /* Features of other UNets that SD 1.x/2.x do not use. */
    static const char *const must_be_null[] = {"class_embed_type", "addition_embed_type",
        "time_cond_proj_dim", "encoder_hid_dim", "num_class_embeds"};
    for (size_t i = 0; i < G_N_ELEMENTS(must_be_null); i++)
        if (pd_config_has(cf, must_be_null[i]))
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"%s\" is set; paldiff runs SD 1.x/2.x UNets, "
                           "which have none", pd_config_path(cf), must_be_null[i]);
    static const struct { const char *key, *want; } fixed[] = {
        {"resnet_time_scale_shift", "default"}, {"time_embedding_type", "positional"},
        {"act_fn", "silu"}, {"mid_block_type", "UNetMidBlock2DCrossAttn"}, {"attention_type", "default"}};
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++) {
        s = fixed[i].want;
        if ((st = pd_config_string(cf, fixed[i].key, &s, err)))
            return st;
        if (strcmp(s, fixed[i].want))
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: %s \"%s\": paldiff runs \"%s\" only",
                           pd_config_path(cf), fixed[i].key, s, fixed[i].want);
    }
    if (only || center)
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: %s is true; paldiff runs SD 1.x/2.x UNets",
                       pd_config_path(cf), only ? "only_cross_attention" : "center_input_sample");
    if ((st = pd_config_ints(cf, "block_out_channels", 1, 1 << 14, v, PD_UNET_MAX_BLOCKS, &n, err)))
        return st;
    if (n && n != c->blocks)
        return pd_fail(err, PD_E_MODEL, "%s: %d block_out_channels, but the weights have %d down blocks",
                       pd_config_path(cf), n, c->blocks);
    for (int i = 0; i < n; i++)
        if (v[i] != c->block_channels[i])
            return pd_fail(err, PD_E_MODEL, "%s: block_out_channels[%d] is %lld, the weights say %d",
                           pd_config_path(cf), i, (long long)v[i], c->block_channels[i]);
    /* diffusers' quirk: attention_head_dim is the number of heads, unless
     * num_attention_heads is given. One value stands for every block. */
    const char *heads_key = pd_config_has(cf, "num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
    if ((st = pd_config_ints(cf, heads_key, 1, 1 << 12, v, PD_UNET_MAX_BLOCKS, &nh, err)))
        return st;
    if (nh && nh != 1 && nh != c->blocks)
        return pd_fail(err, PD_E_MODEL, "%s: %s has %d entries for %d blocks", pd_config_path(cf),
                       heads_key, nh, c->blocks);
    for (int i = 0; nh && i < c->blocks; i++)
        c->heads[i] = (int)v[nh == 1 ? 0 : i];
    for (int dir = 0; dir < 2; dir++) {
        const char *key = dir ? "up_block_types" : "down_block_types";
        if ((st = pd_config_strings(cf, key, types, PD_UNET_MAX_BLOCKS + 1, &n, err)))
            return st;
        if (n && n != c->blocks)
            return pd_fail(err, PD_E_MODEL, "%s: %d %s for %d blocks", pd_config_path(cf), n, key, c->blocks);
        for (int i = 0; i < n; i++) {
            const char *plain = dir ? "UpBlock2D" : "DownBlock2D";
            const char *attn = dir ? "CrossAttnUpBlock2D" : "CrossAttnDownBlock2D";
            if (strcmp(types[i], plain) && strcmp(types[i], attn))
                return pd_fail(err, PD_E_UNSUPPORTED, "%s: %s[%d] \"%s\": paldiff runs %s and %s",
                               pd_config_path(cf), key, i, types[i], plain, attn);
            (dir ? c->up_attn : c->down_attn)[i] = !strcmp(types[i], attn);
        }
    }
    if (in != c->in_channels || out != c->out_channels || lpb != c->layers_per_block ||
        cross != c->cross_dim || lin != c->linear_proj)
        return pd_fail(err, PD_E_MODEL, "%s: in/out channels, layers_per_block, cross_attention_dim "
                       "or use_linear_projection disagree with the weights", pd_config_path(cf));
    c->groups = (int)groups;
    c->eps = (float)eps;
    c->freq_shift = (float)shift;
    c->flip_sin_to_cos = flip;
    return PD_OK;
}

pd_status pd_unet_load(const pd_model *m, pd_unet **out, pd_error *err)
{
    *out = NULL;
    pd_unet *u = g_try_new0(pd_unet, 1);
    if (!u)
        return pd_fail(err, PD_E_NOMEM, "out of memory for the UNet");
    pd_unet_config *c = &u->cfg;
    pd_status st = infer_config(m, c, err);
    if (!st && m->configs[PD_COMPONENT_UNET])
        st = read_config(m->configs[PD_COMPONENT_UNET], c, err);
    if (!st && (c->blocks < 2 || c->layers_per_block != 2))
        st = pd_fail(err, PD_E_UNSUPPORTED, "%s: a UNet of %d blocks with %d ResNets each is not "
                     "SD 1.x/2.x's", m->path, c->blocks, c->layers_per_block);
    for (int i = 0; !st && i < c->blocks; i++)
        if (c->block_channels[i] % c->groups || c->block_channels[i] > PD_NORM_MAX_CHANNELS / 2)
            st = pd_fail(err, PD_E_MODEL, "%s: %d channels do not split into %d groups", m->path,
                         c->block_channels[i], c->groups);
    if (st) {
        g_free(u);
        return st;
    }
    loader L = {m, err, PD_OK};
    const int *ch = c->block_channels, nb = c->blocks, last = ch[nb - 1];
    u->time_dim = 4 * ch[0];
    get(&L, &u->time1_w, u->time_dim, ch[0], 0, 0, "time_embedding.linear_1.weight");
    get(&L, &u->time1_b, u->time_dim, 0, 0, 0, "time_embedding.linear_1.bias");
    get(&L, &u->time2_w, u->time_dim, u->time_dim, 0, 0, "time_embedding.linear_2.weight");
    get(&L, &u->time2_b, u->time_dim, 0, 0, 0, "time_embedding.linear_2.bias");
    get(&L, &u->conv_in_w, ch[0], c->in_channels, 3, 3, "conv_in.weight");
    get(&L, &u->conv_in_b, ch[0], 0, 0, 0, "conv_in.bias");
    get(&L, &u->norm_out_w, ch[0], 0, 0, 0, "conv_norm_out.weight");
    get(&L, &u->norm_out_b, ch[0], 0, 0, 0, "conv_norm_out.bias");
    get(&L, &u->conv_out_w, c->out_channels, ch[0], 3, 3, "conv_out.weight");
    get(&L, &u->conv_out_b, c->out_channels, 0, 0, 0, "conv_out.bias");
    char p[NAME_LEN];
    for (int i = 0; i < nb; i++) {
        for (int j = 0; j < 2; j++) {
            snprintf(p, sizeof p, "down_blocks.%d.resnets.%d", i, j);
            load_resnet(&L, &u->down_res[i][j], j ? ch[i] : i ? ch[i - 1] : ch[0], ch[i], u->time_dim, p);
            snprintf(p, sizeof p, "down_blocks.%d.attentions.%d", i, j);
            if (c->down_attn[i])
                load_transformer(&L, &u->down_tf[i][j], ch[i], c->heads[i], c->cross_dim, p);
        }
        if (i < nb - 1) {
            get(&L, &u->down_w[i], ch[i], ch[i], 3, 3, "down_blocks.%d.downsamplers.0.conv.weight", i);
            get(&L, &u->down_b[i], ch[i], 0, 0, 0, "down_blocks.%d.downsamplers.0.conv.bias", i);
        }
    }
    load_resnet(&L, &u->mid_res[0], last, last, u->time_dim, "mid_block.resnets.0");
    load_transformer(&L, &u->mid_tf, last, c->heads[nb - 1], c->cross_dim, "mid_block.attentions.0");
    load_resnet(&L, &u->mid_res[1], last, last, u->time_dim, "mid_block.resnets.1");
    /* Up block i works at the level of down block r = nb−1−i, in reverse. */
    for (int i = 0; i < nb; i++) {
        int r = nb - 1 - i, prev = i ? ch[r + 1] : last;
        for (int j = 0; j < 3; j++) {
            /* Skips popped in order: the level's outputs, then the level below's last. */
            int skip = j < 2 ? ch[r] : r ? ch[r - 1] : ch[0];
            snprintf(p, sizeof p, "up_blocks.%d.resnets.%d", i, j);
            load_resnet(&L, &u->up_res[i][j], (j ? ch[r] : prev) + skip, ch[r], u->time_dim, p);
            snprintf(p, sizeof p, "up_blocks.%d.attentions.%d", i, j);
            if (c->up_attn[i])
                load_transformer(&L, &u->up_tf[i][j], ch[r], c->heads[r], c->cross_dim, p);
        }
        if (i < nb - 1) {
            get(&L, &u->up_w[i], ch[r], ch[r], 3, 3, "up_blocks.%d.upsamplers.0.conv.weight", i);
            get(&L, &u->up_b[i], ch[r], 0, 0, 0, "up_blocks.%d.upsamplers.0.conv.bias", i);
        }
    }
    if (L.st) {
        g_free(u);
        return L.st;
    }
    *out = u;
    return PD_OK;
}

void pd_unet_free(pd_unet *u) { g_free(u); }

const pd_unet_config *pd_unet_get_config(const pd_unet *u) { return &u->cfg; }

/* ---- the forward pass ----------------------------------------------------- */

/* Buffers of one forward pass, sized once from the batch and latent size. */
typedef struct {
    int B, tokens;
    const float *context;
    const float *temb;          /* silu(time embedding): [time_dim]           */
    float *h, *t;               /* scratch activations, `cap` floats each     */
    float *q, *k, *v, *a, *ff;  /* transformer scratch                       */
    float *tproj;               /* a ResNet's projected time embedding [Cmax] */
} work;

static const int pad1[4] = {1, 1, 1, 1}, pad0[4] = {0, 0, 0, 0};

/* x [B, h, w, cin] → y [B, h, w, cout]; y must not alias x. */
static void run_resnet(const pd_unet *u, const resnet *r, work *wk, int h, int w,
                       const float *x, float *y)
{
    const int B = wk->B, G = u->cfg.groups;
    const int64_t hw = (int64_t)h * w;
    /* y starts as the shortcut; conv2 then accumulates onto it. */
    if (r->has_shortcut)
        pd_conv2d(B, h, w, r->cin, x, &r->short_w, &r->short_b, 1, pad0, y, 0);
    else
        memcpy(y, x, sizeof(float) * (size_t)(B * hw * r->cin));
    pd_group_norm(B, hw, r->cin, G, x, &r->norm1_w, &r->norm1_b, u->cfg.eps, 1, wk->h);
    pd_conv2d(B, h, w, r->cin, wk->h, &r->conv1_w, &r->conv1_b, 1, pad1, wk->t, 0);
    /* + time_emb_proj(silu(temb)), the same for every pixel of every image */
    pd_gemm(1, r->cout, u->time_dim, wk->temb, u->time_dim, &r->temb_w, &r->temb_b, wk->tproj, r->cout, 0);
    for (int64_t p = 0; p < B * hw; p++)
        for (int c = 0; c < r->cout; c++)
            wk->t[p * r->cout + c] += wk->tproj[c];
    pd_group_norm(B, hw, r->cout, G, wk->t, &r->norm2_w, &r->norm2_b, u->cfg.eps, 1, wk->t);
    pd_conv2d(B, h, w, r->cout, wk->t, &r->conv2_w, &r->conv2_b, 1, pad1, y, 1);
}

/* Multi-head attention of n tokens of x ([B·n, C]) on kv_n tokens of kv
 * ([B·kv_n, kv_dim]); the result is added to out ([B·n, C]). */
static void run_attention(const attention *at, int heads, int C, work *wk, int64_t n,
                          const float *x, const float *kv, int64_t kv_n, int kv_dim, float *out)
{
    const int B = wk->B;
    const int64_t d = C / heads;
    pd_gemm(B * n, C, C, x, C, &at->q, NULL, wk->q, C, 0);
    pd_gemm(B * kv_n, C, kv_dim, kv, kv_dim, &at->k, NULL, wk->k, C, 0);
    pd_gemm(B * kv_n, C, kv_dim, kv, kv_dim, &at->v, NULL, wk->v, C, 0);
    for (int b = 0; b < B; b++)
        pd_attention(heads, n, kv_n, d, wk->q + b * n * C, C, wk->k + b * kv_n * C, C,
                     wk->v + b * kv_n * C, C, wk->a + b * n * C, C, 1.0f / sqrtf((float)d), 0);
    pd_gemm(B * n, C, C, wk->a, C, &at->out_w, &at->out_b, out, C, 1);
}

/* Transformer2DModel with one BasicTransformerBlock; x [B, h, w, C] → y. */
static void run_transformer(const transformer *t, work *wk, int h, int w, const float *x,
                            float *y, const pd_unet *u)
{
    const int B = wk->B, C = t->channels;
    const int64_t n = (int64_t)h * w, rows = B * n;
    float *s = wk->t; /* the token stream [B·n, C]; wk->h holds its normed copy */
    pd_group_norm(B, n, C, u->cfg.groups, x, &t->norm_w, &t->norm_b, TRANSFORMER_EPS, 0, wk->h);
    pd_gemm(rows, C, C, wk->h, C, &t->proj_in_w, &t->proj_in_b, s, C, 0);

    pd_layer_norm(rows, C, s, C, &t->ln1_w, &t->ln1_b, LN_EPS, wk->h, C);
    run_attention(&t->self, t->heads, C, wk, n, wk->h, wk->h, n, C, s);
    pd_layer_norm(rows, C, s, C, &t->ln2_w, &t->ln2_b, LN_EPS, wk->h, C);
    run_attention(&t->cross, t->heads, C, wk, n, wk->h, wk->context, wk->tokens, u->cfg.cross_dim, s);
    pd_layer_norm(rows, C, s, C, &t->ln3_w, &t->ln3_b, LN_EPS, wk->h, C);
    float *gate_in = wk->ff, *gated = wk->ff + rows * 8 * C; /* [rows, 8C] → [rows, 4C] */
    pd_gemm(rows, 8 * C, C, wk->h, C, &t->ff1_w, &t->ff1_b, gate_in, 8 * C, 0);
    pd_geglu(rows, 4 * C, gate_in, gated);
    pd_gemm(rows, C, 4 * C, gated, 4 * C, &t->ff2_w, &t->ff2_b, s, C, 1);

    memcpy(y, x, sizeof(float) * (size_t)(rows * C));
    pd_gemm(rows, C, C, s, C, &t->proj_out_w, &t->proj_out_b, y, C, 1);
}

/* sinusoidal embedding of t, computed in float32 in the reference's order */
static void timestep_embedding(float t, int dim, int flip, float shift, float *out)
{
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        float exponent = -9.210340371976184f * (float)i / ((float)half - shift); /* −ln 10000 */
        float arg = t * expf(exponent);
        out[flip ? half + i : i] = sinf(arg);
        out[flip ? i : half + i] = cosf(arg);
    }
    if (dim % 2)
        out[dim - 1] = 0;
}

pd_status pd_unet_forward(const pd_unet *u, int B, int h, int w, const float *sample,
                          float timestep, const float *context, int tokens, float *out,
                          pd_error *err)
{
    const pd_unet_config *c = &u->cfg;
    const int nb = c->blocks, *ch = c->block_channels;
    if (B < 1 || B > 64 || h < 1 || w < 1 || h > 1024 || w > 1024 || tokens < 1 || tokens > 1024)
        return pd_fail(err, PD_E_ARG, "UNet: batch %d of %d×%d latents with %d tokens is out of range",
                       B, w, h, tokens);
    if (!isfinite(timestep))
        return pd_fail(err, PD_E_ARG, "UNet: timestep is not a finite number");

    /* Level l works at hl[l] × wl[l] (each downsampling halves, rounding up). */
    int hl[PD_UNET_MAX_BLOCKS], wl[PD_UNET_MAX_BLOCKS];
    int64_t cap = 0, attn_cap = 0, ff_cap = 0, skip_total = 0, cmax = 0;
    for (int l = 0; l < nb; l++) {
        hl[l] = l ? (hl[l - 1] + 1) / 2 : h;
        wl[l] = l ? (wl[l - 1] + 1) / 2 : w;
        int64_t px = (int64_t)B * hl[l] * wl[l];
        int wide = ch[l] + (l + 1 < nb ? ch[l + 1] : ch[l]); /* an up block's concatenation */
        cap = MAX(cap, px * MAX(wide, c->in_channels));
        if (c->down_attn[l] || c->up_attn[nb - 1 - l] || l == nb - 1) {
            attn_cap = MAX(attn_cap, MAX(px, (int64_t)B * tokens) * ch[l]);
            ff_cap = MAX(ff_cap, px * 12 * ch[l]); /* GEGLU in (8C) and out (4C) */
        }
        /* skips: conv_in's output (level 0) or the downsampler's (channels of the
         * level above), then the two ResNet outputs */
        skip_total += px * (2 * ch[l] + (l ? ch[l - 1] : ch[0]));
        cmax = MAX(cmax, ch[l]);
    }
    size_t total = (size_t)(4 * cap + 4 * attn_cap + ff_cap + skip_total + 2 * u->time_dim + cmax);
    float *mem = pd_alloc_large(total * sizeof(float));
    if (!mem)
        return pd_fail(err, PD_E_NOMEM, "UNet: out of memory for %zu MiB of activations (batch %d, %d×%d)",
                       total * sizeof(float) >> 20, B, w, h);
    float *x = mem, *y = x + cap, *p = y + cap; /* x: the stream; y: its next value */
    work wk = {.B = B, .tokens = tokens, .context = context};
    wk.h = p, p += cap;
    wk.t = p, p += cap;
    wk.q = p, p += attn_cap;
    wk.k = p, p += attn_cap;
    wk.v = p, p += attn_cap;
    wk.a = p, p += attn_cap;
    wk.ff = p, p += ff_cap;
    float *temb = p, *emb = p + u->time_dim;
    p += 2 * u->time_dim;
    wk.tproj = p, p += cmax;
    wk.temb = temb;
    float *skips = p, *skip_at[3 * PD_UNET_MAX_BLOCKS];
    int nskip = 0;

    /* time embedding: linear_1 → SiLU → linear_2, then the SiLU every ResNet applies */
    timestep_embedding(timestep, ch[0], c->flip_sin_to_cos, c->freq_shift, emb);
    pd_gemm(1, u->time_dim, ch[0], emb, ch[0], &u->time1_w, &u->time1_b, temb, u->time_dim, 0);
    pd_activate(PD_ACT_SILU, temb, u->time_dim);
    memcpy(emb, temb, sizeof(float) * (size_t)u->time_dim);
    pd_gemm(1, u->time_dim, u->time_dim, emb, u->time_dim, &u->time2_w, &u->time2_b, temb, u->time_dim, 0);
    pd_activate(PD_ACT_SILU, temb, u->time_dim);

#define PUSH(src, l, channels)                                                          \
    do {                                                                                \
        size_t n_ = (size_t)B * hl[l] * wl[l] * (channels);                             \
        skip_at[nskip++] = skips;                                                       \
        memcpy(skips, src, n_ * sizeof(float));                                         \
        skips += n_;                                                                    \
    } while (0)

    pd_conv2d(B, h, w, c->in_channels, sample, &u->conv_in_w, &u->conv_in_b, 1, pad1, x, 0);
    PUSH(x, 0, ch[0]);
    for (int l = 0; l < nb; l++) {
        for (int j = 0; j < 2; j++) {
            run_resnet(u, &u->down_res[l][j], &wk, hl[l], wl[l], x, y);
            if (c->down_attn[l])
                run_transformer(&u->down_tf[l][j], &wk, hl[l], wl[l], y, x, u);
            else
                memcpy(x, y, sizeof(float) * (size_t)B * hl[l] * wl[l] * ch[l]);
            PUSH(x, l, ch[l]);
        }
        if (l < nb - 1) {
            pd_conv2d(B, hl[l], wl[l], ch[l], x, &u->down_w[l], &u->down_b[l], 2, pad1, y, 0);
            memcpy(x, y, sizeof(float) * (size_t)B * hl[l + 1] * wl[l + 1] * ch[l]);
            PUSH(x, l + 1, ch[l]);
        }
    }
    int L = nb - 1;
    run_resnet(u, &u->mid_res[0], &wk, hl[L], wl[L], x, y);
    run_transformer(&u->mid_tf, &wk, hl[L], wl[L], y, x, u);
    run_resnet(u, &u->mid_res[1], &wk, hl[L], wl[L], x, y);
    memcpy(x, y, sizeof(float) * (size_t)B * hl[L] * wl[L] * ch[L]);

    int cx = ch[L]; /* channels of x */
    for (int i = 0; i < nb; i++) {
        int l = nb - 1 - i;
        const int64_t px = (int64_t)B * hl[l] * wl[l];
        for (int j = 0; j < 3; j++) {
            /* the down path's outputs come back in reverse: concatenate [x, skip] per pixel */
            const float *sk = skip_at[--nskip];
            int cs = u->up_res[i][j].cin - cx;
            float *cat = y;
            for (int64_t q = 0; q < px; q++) {
                memcpy(cat + q * (cx + cs), x + q * cx, sizeof(float) * (size_t)cx);
                memcpy(cat + q * (cx + cs) + cx, sk + q * cs, sizeof(float) * (size_t)cs);
            }
            run_resnet(u, &u->up_res[i][j], &wk, hl[l], wl[l], cat, x);
            cx = ch[l];
            if (c->up_attn[i]) {
                run_transformer(&u->up_tf[i][j], &wk, hl[l], wl[l], x, y, u);
                memcpy(x, y, sizeof(float) * (size_t)(px * cx));
            }
        }
        if (i < nb - 1 && hl[l - 1] == 2 * hl[l] && wl[l - 1] == 2 * wl[l]) {
            /* nearest ×2 and the conv in one, the upsampled image unstored */
            pd_conv2d_up2(B, hl[l], wl[l], cx, x, &u->up_w[i], &u->up_b[i], 1, pad1, y, 0);
            memcpy(x, y, sizeof(float) * (size_t)B * hl[l - 1] * wl[l - 1] * cx);
        } else if (i < nb - 1) { /* nearest to the next skip's (odd) size, then a conv */
            pd_upsample_nearest(B, hl[l], wl[l], cx, x, hl[l - 1], wl[l - 1], y);
            pd_conv2d(B, hl[l - 1], wl[l - 1], cx, y, &u->up_w[i], &u->up_b[i], 1, pad1, x, 0);
        }
    }
#undef PUSH
    pd_group_norm(B, (int64_t)h * w, ch[0], c->groups, x, &u->norm_out_w, &u->norm_out_b, c->eps, 1, y);
    pd_conv2d(B, h, w, ch[0], y, &u->conv_out_w, &u->conv_out_b, 1, pad1, out, 0);
    free(mem);
    return PD_OK;
}
