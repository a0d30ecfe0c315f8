/* model.c — opening a model: find its files, map their tensors to internal
 * names, tell the architecture from shapes, read the hyper-parameters. */
#include "io/model.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "io/keymap.h"
#include "io/palettized.h"
#include "kernels/norm.h"

static const char *const component_dir[PD_COMPONENT_COUNT] = {"text_encoder", "unet", "vae"};

const char *pd_component_label(int component)
{
    static const char *const label[PD_COMPONENT_COUNT] = {"text encoder", "UNet", "VAE"};
    return component >= 0 && component < PD_COMPONENT_COUNT ? label[component] : "?";
}

static int is_dir(const char *p) { return g_file_test(p, G_FILE_TEST_IS_DIR); }
static int is_file(const char *p) { return g_file_test(p, G_FILE_TEST_IS_REGULAR); }

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

/* ---- registering tensors ------------------------------------------------ */

static void tensor_free(gpointer p) { g_free(p); }

static pd_status add_tensor(pd_model *m, const pd_safetensors *st, const pd_st_tensor *t,
                            const pd_key_target *tg, pd_error *err)
{
    const char *file = pd_st_path(st);
    pd_dtype dtype;
    switch (t->dtype) {
    case PD_ST_F32: dtype = PD_F32; break;
    case PD_ST_F16: dtype = PD_F16; break;
    case PD_ST_BF16: dtype = PD_BF16; break;
    default:
        return pd_fail(err, PD_E_MODEL, "%s: tensor '%s' is %s; paldiff reads weights as F32, F16 or BF16",
                       file, t->name, pd_st_dtype_name(t->dtype));
    }
    if (t->ndim > 4)
        return pd_fail(err, PD_E_MODEL, "%s: tensor '%s' has %d dimensions; a weight has at most 4",
                       file, t->name, t->ndim);
    size_t esize = pd_st_dtype_size(t->dtype);
    if ((uintptr_t)t->data % esize)
        return pd_fail(err, PD_E_FORMAT,
                       "%s: tensor '%s' is not aligned to its element size in the file; "
                       "rewrite the file with a standard safetensors writer",
                       file, t->name);
    pd_model_tensor *e = g_new0(pd_model_tensor, 1);
    e->key = t->name;
    e->file = file;
    e->w.dtype = dtype;
    e->w.ndim = t->ndim;
    e->w.data = t->data;
    for (int i = 0; i < t->ndim; i++)
        e->w.shape[i] = t->shape[i];
    if (tg->rows >= 0) { /* a row range of a fused tensor (OpenCLIP's q/k/v) */
        if (t->ndim < 1 || tg->row0 + tg->rows > t->shape[0]) {
            g_free(e);
            return pd_fail(err, PD_E_MODEL, "%s: tensor '%s' is too small to split into '%s'",
                           file, t->name, tg->name);
        }
        int64_t cols = 1;
        for (int i = 1; i < t->ndim; i++)
            cols *= t->shape[i];
        e->w.data = (const char *)t->data + (size_t)(tg->row0 * cols) * esize;
        e->w.shape[0] = tg->rows;
    }
    GHashTable *h = m->weights[tg->component];
    const pd_model_tensor *old = g_hash_table_lookup(h, tg->name);
    if (old) {
        pd_status st2 = pd_fail(err, PD_E_MODEL, "%s: tensors '%s' and '%s' both give the %s's '%s'",
                                file, old->key, t->name, pd_component_label(tg->component), tg->name);
        g_free(e);
        return st2;
    }
    g_hash_table_insert(h, g_strdup(tg->name), e);
    return PD_OK;
}

static pd_status open_file(pd_model *m, const char *path, pd_safetensors **st, pd_error *err)
{
    pd_status s = pd_st_open(path, st, err);
    if (s == PD_OK)
        g_ptr_array_add(m->files, *st);
    return s;
}

/* ---- diffusers folders --------------------------------------------------- */

static char *find_component_file(const char *dir, const char *stem)
{
    const char *variants[] = {"%s/%s.safetensors", "%s/%s.fp16.safetensors"};
    for (size_t i = 0; i < G_N_ELEMENTS(variants); i++) {
        char *p = g_strdup_printf(variants[i], dir, stem);
        if (is_file(p))
            return p;
        g_free(p);
    }
    return NULL;
}

static pd_status open_diffusers(pd_model *m, pd_error *err)
{
    pd_status s;
    char *index = g_build_filename(m->path, "model_index.json", NULL);
    pd_config *cfg = NULL;
    s = pd_config_load(index, &cfg, err);
    pd_config_free(cfg);
    g_free(index);
    if (s)
        return s;
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        char *dir = g_build_filename(m->path, component_dir[c], NULL);
        char *file = find_component_file(dir, c == PD_COMPONENT_TEXT ? "model" : "diffusion_pytorch_model");
        if (!file) {
            char *bin = g_strdup_printf("%s/%s", dir, c == PD_COMPONENT_TEXT ? "pytorch_model.bin"
                                                                             : "diffusion_pytorch_model.bin");
            s = is_file(bin)
                    ? pd_fail(err, PD_E_UNSUPPORTED,
                              "%s: only pickled weights (.bin), which can run code when loaded; "
                              "convert the model to .safetensors first", dir)
                    : pd_fail(err, PD_E_MODEL, "%s: no %s weights (expected %s.safetensors)", dir,
                              pd_component_label(c), c == PD_COMPONENT_TEXT ? "model" : "diffusion_pytorch_model");
            g_free(bin);
            g_free(dir);
            return s;
        }
        char *config = g_build_filename(dir, "config.json", NULL);
        s = pd_config_load(config, &m->configs[c], err);
        g_free(config);
        g_free(dir);
        pd_safetensors *st = NULL;
        if (!s)
            s = open_file(m, file, &st, err);
        g_free(file);
        for (size_t i = 0; !s && i < pd_st_count(st); i++) {
            const pd_st_tensor *t = pd_st_at(st, i);
            pd_key_target tg;
            if (pd_keymap_diffusers(c, t->name, &tg))
                s = add_tensor(m, st, t, &tg, err);
        }
        if (s)
            return s;
    }
    char *tok = g_build_filename(m->path, "tokenizer", NULL);
    if (is_dir(tok))
        m->tokenizer_dir = tok;
    else
        g_free(tok);
    return PD_OK;
}

/* ---- single files ------------------------------------------------------- */

static pd_status refuse_pickle(const char *path, pd_error *err)
{
    static const char *const ext[] = {".ckpt", ".pt", ".pth", ".bin", ".pkl"};
    for (size_t i = 0; i < G_N_ELEMENTS(ext); i++)
        if (g_str_has_suffix(path, ext[i]))
            return pd_fail(err, PD_E_UNSUPPORTED,
                           "%s: pickled checkpoints can run code when loaded, so paldiff does not "
                           "open them; convert it to .safetensors first", path);
    return PD_OK;
}

/* ---- paldiff's palettized files ----------------------------------------- */

static pd_status add_palettized(void *user, int component, const char *name, const char *key,
                                const pd_weight *w, pd_error *err)
{
    pd_model *m = user;
    GHashTable *h = m->weights[component];
    const pd_model_tensor *old = g_hash_table_lookup(h, name);
    if (old)
        return pd_fail(err, PD_E_FORMAT, "%s: tensors '%s' and '%s' both give the %s's '%s'", m->path,
                       old->key, key, pd_component_label(component), name);
    pd_model_tensor *e = g_new0(pd_model_tensor, 1);
    e->w = *w;
    e->key = key;
    e->file = m->path;
    g_hash_table_insert(h, g_strdup(name), e);
    return PD_OK;
}

/* Weights (validated by pd_palf_check), then configs, tokenizer and
 * prediction type from the metadata; options name what a file lacks. */
static pd_status open_palettized(pd_model *m, const pd_safetensors *st, const pd_model_options *o,
                                 pd_error *err)
{
    m->layout = PD_LAYOUT_PALETTIZED;
    pd_status s = pd_palf_check(st, add_palettized, m, err);
    for (int c = 0; !s && c <= PD_COMPONENT_COUNT; c++) {
        pd_config **dst = c < PD_COMPONENT_COUNT ? &m->configs[c] : &m->sched_config;
        const char *key = pd_palf_config_key(c);
        const char *text = pd_st_metadata(st, key);
        if (text) {
            char *label = g_strdup_printf("%s: metadata %s", m->path, key);
            s = pd_config_parse(label, text, strlen(text), dst, err);
            g_free(label);
        } else if (o->config_dir) {
            char *p = c < PD_COMPONENT_COUNT
                          ? g_build_filename(o->config_dir, component_dir[c], "config.json", NULL)
                          : g_build_filename(o->config_dir, "scheduler", "scheduler_config.json", NULL);
            s = is_file(p) ? pd_config_load(p, dst, err) : PD_OK;
            g_free(p);
        }
    }
    const char *pred = pd_st_metadata(st, PD_PALF_KEY_PREDICTION);
    if (!s && (!pred || (strcmp(pred, "epsilon") && strcmp(pred, "v_prediction"))))
        s = pd_fail(err, PD_E_FORMAT, "%s: metadata %s is %s; expected \"epsilon\" or \"v_prediction\"",
                    m->path, PD_PALF_KEY_PREDICTION, pred ? "another value" : "missing");
    if (!s) {
        m->prediction = !strcmp(pred, "v_prediction") ? PD_PREDICT_V : PD_PREDICT_EPSILON;
        m->prediction_source = "palettized file";
    }
    if (!s && !o->tokenizer_dir) {
        pd_tokenizer_files f;
        memset(&f, 0, sizeof f);
        pd_tokenizer_file *slot[PD_PALF_TOKENIZER_FILES] = {&f.vocab, &f.merges, &f.tokenizer_config,
                                                            &f.special_tokens_map};
        char *label[PD_PALF_TOKENIZER_FILES];
        for (int i = 0; i < PD_PALF_TOKENIZER_FILES; i++) {
            label[i] = g_strdup_printf("%s: metadata %s", m->path, pd_palf_tokenizer_key(i));
            slot[i]->label = label[i];
            slot[i]->text = pd_st_metadata(st, pd_palf_tokenizer_key(i));
            slot[i]->len = slot[i]->text ? strlen(slot[i]->text) : 0;
        }
        if (f.vocab.text || f.merges.text)
            s = pd_tokenizer_load_files(&f, &m->tokenizer, err);
        for (int i = 0; i < PD_PALF_TOKENIZER_FILES; i++)
            g_free(label[i]);
    }
    return s;
}

static pd_status open_original(pd_model *m, const pd_model_options *o, pd_error *err)
{
    pd_status s;
    pd_safetensors *st;
    if ((s = refuse_pickle(m->path, err)) || (s = open_file(m, m->path, &st, err)))
        return s;
    if (pd_st_metadata(st, PD_PALF_KEY_FORMAT))
        return open_palettized(m, st, o, err);
    for (size_t i = 0; i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        pd_key_target tg[3];
        int n = pd_keymap_original(t->name, t->ndim ? t->shape[0] : 0, tg);
        for (int k = 0; k < n; k++)
            if ((s = add_tensor(m, st, t, &tg[k], err)))
                return s;
    }
    if (o->config_dir)
        for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
            char *p = g_build_filename(o->config_dir, component_dir[c], "config.json", NULL);
            s = is_file(p) ? pd_config_load(p, &m->configs[c], err) : PD_OK;
            g_free(p);
            if (s)
                return s;
        }
    /* The tokenizer: tokenizer/ beside the file, else the config folder's. */
    char *base = g_path_get_dirname(m->path);
    char *tok = g_build_filename(base, "tokenizer", NULL);
    g_free(base);
    if (!is_dir(tok) && o->config_dir) {
        g_free(tok);
        tok = g_build_filename(o->config_dir, "tokenizer", NULL);
    }
    if (is_dir(tok))
        m->tokenizer_dir = tok;
    else
        g_free(tok);
    return PD_OK;
}

/* ---- architecture and hyper-parameters ----------------------------------- */

static const pd_model_tensor *find(const pd_model *m, int c, const char *name)
{
    return g_hash_table_lookup(m->weights[c], name);
}

static pd_status detect_family(pd_model *m, pd_error *err)
{
    const pd_model_tensor *conv_in = find(m, PD_COMPONENT_UNET, "conv_in.weight");
    const pd_model_tensor *proj_in = find(m, PD_COMPONENT_UNET, "down_blocks.0.attentions.0.proj_in.weight");
    const pd_model_tensor *tok = find(m, PD_COMPONENT_TEXT, "text_model.embeddings.token_embedding.weight");
    if (!conv_in || !proj_in || conv_in->w.ndim != 4)
        return pd_fail(err, PD_E_MODEL,
                       "%s: no Stable Diffusion UNet found (conv_in and the first transformer's "
                       "proj_in are missing); is this an SD 1.x or 2.x model?", m->path);
    if (!tok || tok->w.ndim != 2)
        return pd_fail(err, PD_E_MODEL, "%s: no CLIP text encoder found (token embedding missing)", m->path);
    if (!find(m, PD_COMPONENT_VAE, "decoder.conv_in.weight"))
        return pd_fail(err, PD_E_MODEL, "%s: no VAE decoder found (decoder.conv_in missing)", m->path);
    int64_t in = conv_in->w.shape[1];
    if (in != 4 && in != 9)
        return pd_fail(err, PD_E_UNSUPPORTED,
                       "%s: the UNet takes %lld input channels; paldiff runs 4 (text/image to "
                       "image) and 9 (inpainting)", m->path, (long long)in);
    m->inpaint = in == 9;
    /* SD 2.x projects into its transformers with linear layers, SD 1.x with 1×1 convolutions. */
    m->family = proj_in->w.ndim == 2 ? PD_FAMILY_SD2 : PD_FAMILY_SD1;

    /* The text tower must agree: OpenCLIP (gelu) for SD 2.x, OpenAI CLIP (quick_gelu) for SD 1.x. */
    int openclip;
    const char *act = NULL;
    if (m->configs[PD_COMPONENT_TEXT] &&
        pd_config_has(m->configs[PD_COMPONENT_TEXT], "hidden_act")) {
        pd_status s = pd_config_string(m->configs[PD_COMPONENT_TEXT], "hidden_act", &act, err);
        if (s)
            return s;
        if (strcmp(act, "gelu") && strcmp(act, "quick_gelu"))
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: hidden_act \"%s\": paldiff runs gelu and quick_gelu",
                           pd_config_path(m->configs[PD_COMPONENT_TEXT]), act);
        openclip = !strcmp(act, "gelu");
    } else if (m->layout == PD_LAYOUT_ORIGINAL) {
        openclip = g_str_has_prefix(tok->key, "cond_stage_model.model.");
    } else {
        openclip = m->family == PD_FAMILY_SD2;
    }
    if (openclip != (m->family == PD_FAMILY_SD2))
        return pd_fail(err, PD_E_UNSUPPORTED,
                       "%s: the UNet is SD %d.x but the text encoder is %s; paldiff runs the "
                       "standard pairs only", m->path, m->family,
                       openclip ? "OpenCLIP's (SD 2.x)" : "OpenAI CLIP's (SD 1.x)");
    return PD_OK;
}

static pd_status text_config(pd_model *m, pd_error *err)
{
    const pd_model_tensor *tok = find(m, PD_COMPONENT_TEXT, "text_model.embeddings.token_embedding.weight");
    const pd_model_tensor *pos = find(m, PD_COMPONENT_TEXT, "text_model.embeddings.position_embedding.weight");
    const pd_model_tensor *fc1 = find(m, PD_COMPONENT_TEXT, "text_model.encoder.layers.0.mlp.fc1.weight");
    if (!pos || !fc1)
        return pd_fail(err, PD_E_MODEL, "%s: text encoder tensor '%s' is missing", m->path,
                       !pos ? "text_model.embeddings.position_embedding.weight"
                            : "text_model.encoder.layers.0.mlp.fc1.weight");
    /* Bounds before narrowing to int; pd_clip_load checks the rest. */
    if (tok->w.shape[0] > 1 << 24 || tok->w.shape[1] > PD_NORM_MAX_CHANNELS ||
        pos->w.shape[0] > 1 << 20 || fc1->w.ndim != 2 || fc1->w.shape[0] > 1 << 20)
        return pd_fail(err, PD_E_MODEL, "%s: text encoder of vocabulary %lld, width %lld, %lld "
                       "positions is not a CLIP text encoder paldiff can run", m->path,
                       (long long)tok->w.shape[0], (long long)tok->w.shape[1], (long long)pos->w.shape[0]);
    pd_clip_config *c = &m->text_cfg;
    c->vocab = (int)tok->w.shape[0];
    c->width = (int)tok->w.shape[1];
    c->positions = (int)pos->w.shape[0];
    c->intermediate = (int)fc1->w.shape[0];
    c->heads = c->width / 64 ? c->width / 64 : 1; /* CLIP-L and OpenCLIP-H: 64 channels per head */
    c->act = m->family == PD_FAMILY_SD2 ? PD_ACT_GELU : PD_ACT_QUICK_GELU;
    c->eps = 1e-5f;
    c->layers = 0;
    for (;; c->layers++) {
        char name[96];
        snprintf(name, sizeof name, "text_model.encoder.layers.%d.layer_norm1.weight", c->layers);
        if (!find(m, PD_COMPONENT_TEXT, name))
            break;
    }
    /* A single file keeps OpenCLIP's whole tower; SD 2.x conditions on its penultimate layer. */
    c->run_layers = m->layout == PD_LAYOUT_ORIGINAL && m->family == PD_FAMILY_SD2 ? c->layers - 1 : c->layers;

    const pd_config *cf = m->configs[PD_COMPONENT_TEXT];
    if (cf) {
        int64_t heads = c->heads, layers = c->run_layers, width = c->width, inter = c->intermediate;
        double eps = c->eps;
        pd_status s;
        if ((s = pd_config_int(cf, "num_attention_heads", 1, 4096, &heads, err)) ||
            (s = pd_config_double(cf, "layer_norm_eps", &eps, err)) ||
            (s = pd_config_int(cf, "hidden_size", 1, 1 << 20, &width, err)) ||
            (s = pd_config_int(cf, "intermediate_size", 1, 1 << 24, &inter, err)))
            return s;
        if (width != c->width || inter != c->intermediate)
            return pd_fail(err, PD_E_MODEL,
                           "%s: hidden_size %lld and intermediate_size %lld disagree with the "
                           "weights (%d and %d)", pd_config_path(cf), (long long)width,
                           (long long)inter, c->width, c->intermediate);
        if (m->layout != PD_LAYOUT_ORIGINAL) {
            if ((s = pd_config_int(cf, "num_hidden_layers", 1, PD_CLIP_MAX_LAYERS, &layers, err)))
                return s;
            c->run_layers = (int)layers;
        }
        c->heads = (int)heads;
        c->eps = (float)eps;
    }
    return pd_clip_load(m, c, &m->clip, err);
}

/* The scheduler config (kept for the pipeline) and the prediction type. */
static pd_status prediction(pd_model *m, const pd_model_options *o, pd_error *err)
{
    if (m->layout == PD_LAYOUT_PALETTIZED) { /* from the file (open_palettized) */
        if (o->prediction != PD_PREDICT_AUTO) {
            m->prediction = o->prediction;
            m->prediction_source = "user option";
        }
        return PD_OK;
    }
    m->prediction = PD_PREDICT_EPSILON;
    m->prediction_source = "default: single files don't say; give --prediction v for v-models";
    const char *dir = m->layout == PD_LAYOUT_DIFFUSERS ? m->path : o->config_dir;
    if (dir) {
        char *p = g_build_filename(dir, "scheduler", "scheduler_config.json", NULL);
        pd_status s = is_file(p) ? pd_config_load(p, &m->sched_config, err) : PD_OK;
        g_free(p);
        if (s)
            return s;
    }
    if (o->prediction != PD_PREDICT_AUTO) {
        m->prediction = o->prediction;
        m->prediction_source = "user option";
        return PD_OK;
    }
    if (!m->sched_config)
        return PD_OK;
    const char *type = "epsilon";
    pd_status s = pd_config_string(m->sched_config, "prediction_type", &type, err);
    if (!s && strcmp(type, "epsilon") && strcmp(type, "v_prediction"))
        s = pd_fail(err, PD_E_UNSUPPORTED, "%s: prediction_type \"%s\": paldiff runs epsilon "
                    "and v_prediction", pd_config_path(m->sched_config), type);
    if (!s) {
        m->prediction = !strcmp(type, "v_prediction") ? PD_PREDICT_V : PD_PREDICT_EPSILON;
        m->prediction_source = "scheduler config";
    }
    return s;
}

/* ---- info ------------------------------------------------------------ */

static void fill_info(pd_model *m)
{
    pd_model_info *in = &m->info;
    static const char *const arch[2][2] = {{"sd15", "sd15-inpaint"}, {"sd21", "sd21-inpaint"}};
    in->arch = arch[m->family - 1][m->inpaint];
    in->sd_version = m->family;
    static const char *const layout[] = {"diffusers", "original", "palettized"};
    in->layout = layout[m->layout];
    in->prediction = m->prediction;
    in->prediction_source = m->prediction_source;
    in->text_width = m->text_cfg.width;
    in->text_layers = m->text_cfg.run_layers;
    in->unet_in_channels = m->inpaint ? 9 : 4;
    /* a palettized file's own tokenizer: the file */
    in->tokenizer_dir = m->tokenizer_dir ? m->tokenizer_dir : m->tokenizer ? m->path : NULL;
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        pd_component_info *ci = &in->components[c];
        ci->name = component_dir[c];
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, m->weights[c]);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            const pd_weight *w = &((const pd_model_tensor *)v)->w;
            int64_t n = pd_weight_numel(w);
            ci->tensors++;
            ci->params += n;
            ci->params_by_dtype[w->dtype] += n;
            ci->bytes += (uint64_t)pd_weight_bytes(w);
            if (w->dtype == PD_PAL) /* and its palettes */
                ci->bytes += (uint64_t)(pd_weight_rows(w) / w->group_size) << w->bits << 1;
        }
    }
    m->file_info = g_new0(pd_file_info, m->files->len);
    for (guint i = 0; i < m->files->len; i++) {
        const pd_safetensors *st = g_ptr_array_index(m->files, i);
        m->file_info[i] = (pd_file_info){pd_st_path(st), pd_st_file_size(st)};
    }
    in->n_files = (int)m->files->len;
    in->files = m->file_info;
}

/* ---- public ------------------------------------------------------------ */

pd_status pd_model_open(const char *path, const pd_model_options *options, pd_model **out,
                        pd_error *err)
{
    static const pd_model_options defaults = {0};
    const pd_model_options *o = options ? options : &defaults;
    *out = NULL;
    pd_error_clear(err);
    if (!path || !*path)
        return pd_fail(err, PD_E_ARG, "no model path given");
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return pd_fail(err, PD_E_IO, "%s: no such file or folder", path);
    pd_model *m = g_new0(pd_model, 1);
    m->path = g_strdup(path);
    m->files = g_ptr_array_new_with_free_func((GDestroyNotify)pd_st_close);
    for (int c = 0; c < PD_COMPONENT_COUNT; c++)
        m->weights[c] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, tensor_free);

    pd_status s;
    if (is_dir(path)) {
        char *index = g_build_filename(path, "model_index.json", NULL);
        int diffusers = is_file(index);
        g_free(index);
        m->layout = PD_LAYOUT_DIFFUSERS;
        s = diffusers ? open_diffusers(m, err)
                      : pd_fail(err, PD_E_MODEL, "%s: a folder without model_index.json; give a "
                                "diffusers model folder or a .safetensors file", path);
    } else {
        m->layout = PD_LAYOUT_ORIGINAL;
        s = open_original(m, o, err);
    }
    if (!s && o->tokenizer_dir) {
        g_free(m->tokenizer_dir);
        m->tokenizer_dir = g_strdup(o->tokenizer_dir);
    }
    if (!s)
        s = detect_family(m, err);
    if (!s && m->layout == PD_LAYOUT_PALETTIZED) {
        static const char *const arch[2][2] = {{"sd15", "sd15-inpaint"}, {"sd21", "sd21-inpaint"}};
        const char *want = pd_st_metadata(g_ptr_array_index(m->files, 0), PD_PALF_KEY_ARCH);
        if (!want || strcmp(want, arch[m->family - 1][m->inpaint]))
            s = pd_fail(err, PD_E_FORMAT, "%s: metadata %s %s, but the weights are %s's",
                        path, PD_PALF_KEY_ARCH, want ? "names another architecture" : "is missing",
                        arch[m->family - 1][m->inpaint]);
    }
    if (!s)
        s = text_config(m, err);
    if (!s)
        s = prediction(m, o, err);
    if (!s && m->tokenizer_dir && !m->tokenizer)
        s = pd_tokenizer_load(m->tokenizer_dir, &m->tokenizer, err);
    if (s) {
        pd_model_free(m);
        return s;
    }
    fill_info(m);
    *out = m;
    return PD_OK;
}

void pd_model_free(pd_model *m)
{
    if (!m)
        return;
    pd_tokenizer_free(m->tokenizer);
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        g_hash_table_destroy(m->weights[c]);
        pd_config_free(m->configs[c]);
    }
    pd_config_free(m->sched_config);
    g_ptr_array_free(m->files, TRUE);
    g_free(m->file_info);
    g_free(m->tokenizer_dir);
    g_free(m->path);
    g_free(m);
}

void pd_model_get_info(const pd_model *m, pd_model_info *info) { *info = m->info; }

pd_status pd_model_weight(const pd_model *m, int component, const char *name, int ndim,
                          const int64_t *shape, pd_weight *out, pd_error *err)
{
    const pd_model_tensor *t = find(m, component, name);
    if (!t)
        return pd_fail(err, PD_E_MODEL, "%s: %s tensor '%s' is missing", m->path,
                       pd_component_label(component), name);
    int a = t->w.ndim, b = ndim;
    while (a > 0 && t->w.shape[a - 1] == 1 && a > b)
        a--;
    while (b > 0 && shape[b - 1] == 1 && b > a)
        b--;
    int ok = a == b;
    for (int i = 0; ok && i < a; i++)
        ok = shape[i] < 0 || shape[i] == t->w.shape[i];
    if (!ok) {
        char have[96], want[96];
        format_shape(have, sizeof have, t->w.ndim, t->w.shape);
        format_shape(want, sizeof want, ndim, shape);
        return pd_fail(err, PD_E_MODEL, "%s: %s tensor '%s' (%s in %s) has shape %s, expected %s",
                       m->path, pd_component_label(component), name, t->key, t->file, have, want);
    }
    *out = t->w;
    return PD_OK;
}

pd_status pd_model_swap_weight(pd_model *m, int component, const char *name, pd_weight *w, pd_error *err)
{
    pd_model_tensor *t = (pd_model_tensor *)find(m, component, name);
    if (!t)
        return pd_fail(err, PD_E_ARG, "%s: %s tensor '%s' is missing", m->path, pd_component_label(component), name);
    int same = t->w.ndim == w->ndim;
    for (int d = 0; same && d < w->ndim; d++)
        same = t->w.shape[d] == w->shape[d];
    if (!same)
        return pd_fail(err, PD_E_ARG, "%s: %s tensor '%s': the replacement has another shape", m->path,
                       pd_component_label(component), name);
    pd_weight old = t->w;
    t->w = *w;
    *w = old;
    return PD_OK;
}

void pd_model_release(const pd_model *m, const pd_weight *const *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!w[i] || !w[i]->data)
            continue;
        for (guint f = 0; f < m->files->len; f++) /* pd_st_release ignores other maps */
            pd_st_release(g_ptr_array_index(m->files, f), w[i]->data, (size_t)pd_weight_bytes(w[i]));
    }
}

void pd_model_release_component(const pd_model *m, int component)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, m->weights[component]);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const pd_weight *w = &((const pd_model_tensor *)value)->w;
        pd_model_release(m, &w, 1);
    }
}

/* ---- prompts ------------------------------------------------------------ */

pd_status pd_tokenize(const pd_model *m, const char *prompt, int32_t ids[PD_TOKENS], pd_error *err)
{
    if (!m->tokenizer)
        return pd_fail(err, PD_E_MODEL,
                       "%s: no tokenizer found; single-file checkpoints carry none: put a "
                       "tokenizer/ folder (vocab.json, merges.txt) beside the file or name one",
                       m->path);
    if (!prompt)
        return pd_fail(err, PD_E_ARG, "no prompt given (NULL)");
    return pd_tokenizer_encode(m->tokenizer, prompt, ids, err);
}

pd_status pd_encode_ids(const pd_model *m, const int32_t ids[PD_TOKENS], int clip_skip,
                        pd_embedding *out, pd_error *err)
{
    memset(out, 0, sizeof *out);
    float *data = g_try_malloc((size_t)PD_TOKENS * (size_t)m->text_cfg.width * sizeof(float));
    if (!data)
        return pd_fail(err, PD_E_NOMEM, "out of memory for the text embedding");
    pd_status s = pd_clip_encode(&m->clip, ids, clip_skip, data, err);
    if (s) {
        g_free(data);
        return s;
    }
    out->tokens = PD_TOKENS;
    out->width = m->text_cfg.width;
    memcpy(out->ids, ids, sizeof out->ids);
    out->data = data;
    return PD_OK;
}

pd_status pd_encode_prompt(const pd_model *m, const char *prompt, int clip_skip,
                           pd_embedding *out, pd_error *err)
{
    int32_t ids[PD_TOKENS];
    memset(out, 0, sizeof *out);
    pd_status s = pd_tokenize(m, prompt, ids, err);
    return s ? s : pd_encode_ids(m, ids, clip_skip, out, err);
}

void pd_embedding_free(pd_embedding *emb)
{
    if (emb) {
        g_free(emb->data);
        memset(emb, 0, sizeof *emb);
    }
}
