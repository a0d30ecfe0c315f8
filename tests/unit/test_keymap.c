/* test_keymap.c — the key map, proved on real names.
 *
 * A few hand-written cases pin the edges (index arithmetic, fused q/k/v,
 * strictness, lengths). The proof is the golden data: for every layout pair
 * it finds — each shapes/ file (full-size names and shapes) and each tiny
 * model's single-file source beside its diffusers folder — every original key
 * must map onto the diffusers names with matching shapes, and every diffusers
 * weight must be produced exactly once. Files are walked generically; no
 * golden file or model name appears here.
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/keymap.h"

/* The diffusers sub-folder of each component, and its weight file. */
static const char *const comp_dir[PD_COMPONENT_COUNT] = {
    [PD_COMPONENT_TEXT] = "text_encoder",
    [PD_COMPONENT_UNET] = "unet",
    [PD_COMPONENT_VAE] = "vae",
};
static const char *const comp_file[PD_COMPONENT_COUNT] = {
    [PD_COMPONENT_TEXT] = "model.safetensors",
    [PD_COMPONENT_UNET] = "diffusion_pytorch_model.safetensors",
    [PD_COMPONENT_VAE] = "diffusion_pytorch_model.safetensors",
};

/* ---- hand-written cases ------------------------------------------------ */

static void expect_one(const char *key, int component, const char *name)
{
    pd_key_target t[3];
    int n = pd_keymap_original(key, 320, t);
    CHECK_MSG(n == 1 && t[0].component == component && strcmp(t[0].name, name) == 0 &&
                  t[0].row0 == 0 && t[0].rows == -1,
              "%s → %d targets, first %s (wanted %s)", key, n, n > 0 ? t[0].name : "-", name);
}

static void expect_none(const char *key, int64_t shape0)
{
    pd_key_target t[3];
    int n = pd_keymap_original(key, shape0, t);
    CHECK_MSG(n == 0, "%s → %d targets, first %s (wanted none)", key, n, n > 0 ? t[0].name : "-");
}

static void expect_diffusers(int component, const char *key, const char *name)
{
    pd_key_target t[1];
    int n = pd_keymap_diffusers(component, key, t);
    if (!name) {
        CHECK_MSG(n == 0, "diffusers %d %s → %d targets (wanted none)", component, key, n);
        return;
    }
    CHECK_MSG(n == 1 && t[0].component == component && strcmp(t[0].name, name) == 0 &&
                  t[0].row0 == 0 && t[0].rows == -1,
              "diffusers %d %s → %d, %s (wanted %s)", component, key, n, n ? t[0].name : "-", name);
}

static void test_cases(void)
{
    /* The header's example, and the places where the layouts count differently. */
    expect_one("model.diffusion_model.input_blocks.0.0.weight", PD_COMPONENT_UNET, "conv_in.weight");
    expect_one("model.diffusion_model.input_blocks.3.0.op.weight", PD_COMPONENT_UNET,
               "down_blocks.0.downsamplers.0.conv.weight");
    expect_one("model.diffusion_model.input_blocks.4.0.skip_connection.bias", PD_COMPONENT_UNET,
               "down_blocks.1.resnets.0.conv_shortcut.bias");
    expect_one("model.diffusion_model.input_blocks.11.0.out_layers.3.weight", PD_COMPONENT_UNET,
               "down_blocks.3.resnets.1.conv2.weight");
    expect_one("model.diffusion_model.middle_block.2.emb_layers.1.weight", PD_COMPONENT_UNET,
               "mid_block.resnets.1.time_emb_proj.weight");
    expect_one("model.diffusion_model.output_blocks.2.1.conv.weight", PD_COMPONENT_UNET,
               "up_blocks.0.upsamplers.0.conv.weight");
    expect_one("model.diffusion_model.output_blocks.5.2.conv.bias", PD_COMPONENT_UNET,
               "up_blocks.1.upsamplers.0.conv.bias");
    expect_one("model.diffusion_model.output_blocks.11.1.transformer_blocks.0.attn2.to_k.weight",
               PD_COMPONENT_UNET, "up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_k.weight");
    expect_one("first_stage_model.decoder.up.0.block.0.nin_shortcut.weight", PD_COMPONENT_VAE,
               "decoder.up_blocks.3.resnets.0.conv_shortcut.weight");
    expect_one("first_stage_model.decoder.up.3.upsample.conv.bias", PD_COMPONENT_VAE,
               "decoder.up_blocks.0.upsamplers.0.conv.bias");
    expect_one("first_stage_model.encoder.mid.attn_1.proj_out.weight", PD_COMPONENT_VAE,
               "encoder.mid_block.attentions.0.to_out.0.weight");
    /* Older CLIP checkpoints without the text_model level. */
    expect_one("cond_stage_model.transformer.encoder.layers.11.mlp.fc2.bias", PD_COMPONENT_TEXT,
               "text_model.encoder.layers.11.mlp.fc2.bias");
    expect_one("cond_stage_model.transformer.final_layer_norm.weight", PD_COMPONENT_TEXT,
               "text_model.final_layer_norm.weight");

    /* Fused q/k/v: three row ranges. */
    pd_key_target t[3];
    int n = pd_keymap_original("cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight",
                               3072, t);
    CHECK(n == 3);
    for (int i = 0; i < n; i++) {
        char want[PD_KEY_MAX];
        g_snprintf(want, sizeof want, "text_model.encoder.layers.23.self_attn.%c_proj.weight", "qkv"[i]);
        CHECK_MSG(t[i].component == PD_COMPONENT_TEXT && strcmp(t[i].name, want) == 0 &&
                      t[i].row0 == 1024 * i && t[i].rows == 1024,
                  "split %d: %s rows %lld+%lld", i, t[i].name, (long long)t[i].row0, (long long)t[i].rows);
    }
    expect_none("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias", 3073);
    expect_none("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias", 0);

    /* Nothing for what paldiff does not run, and for what it does not know. */
    const char *none[] = {
        "model_ema.decay",
        "model_ema.diffusion_modelinput_blocks00weight",
        "alphas_cumprod",
        "betas",
        "cond_stage_model.model.text_projection",
        "cond_stage_model.model.logit_scale",
        "cond_stage_model.transformer.text_model.embeddings.position_ids",
        "cond_stage_model.model.visual.proj",
        "first_stage_model.loss.discriminator.main.0.weight",
        "model.diffusion_model.label_emb.0.0.weight",
        "",
        "model.diffusion_model.",
        "model.diffusion_model.out.0",                                    /* no tail    */
        "model.diffusion_model.out.0.",                                   /* empty tail */
        "model.diffusion_model.input_blocks.01.0.in_layers.0.weight",     /* not canonical */
        "model.diffusion_model.input_blocks.9999999.0.in_layers.0.weight",
        "model.diffusion_model.input_blocks.12.0.in_layers.0.weight",     /* past SD's blocks */
        "model.diffusion_model.input_blocks.0.1.norm.weight",
        "model.diffusion_model.output_blocks.12.0.in_layers.0.weight",
        "model.diffusion_model.input_blocks.1.0.in_layers.1.weight",      /* SiLU: no weights */
        "first_stage_model.decoder.up.4.block.0.conv1.weight",
        "first_stage_model.encoder.mid.attn_1.x.weight",
        "cond_stage_model.model.positional_embedding.weight",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(none); i++)
        expect_none(none[i], 768);

    /* Names up to PD_KEY_MAX - 1 bytes fit; longer ones map to nothing. */
    const char *pre = "model.diffusion_model.input_blocks.1.1.";
    const size_t out_pre = strlen("down_blocks.0.attentions.0.");
    for (size_t tail = PD_KEY_MAX - 1 - out_pre; tail <= PD_KEY_MAX - out_pre; tail++) {
        GString *key = g_string_new(pre);
        for (size_t i = 0; i < tail; i++)
            g_string_append_c(key, 'a');
        n = pd_keymap_original(key->str, 1, t);
        CHECK_MSG(n == (out_pre + tail < PD_KEY_MAX ? 1 : 0), "length %zu → %d", out_pre + tail, n);
        g_string_free(key, TRUE);
    }

    /* Diffusers folders: identity, legacy VAE attention names, no buffers. */
    expect_diffusers(PD_COMPONENT_UNET, "conv_in.weight", "conv_in.weight");
    expect_diffusers(PD_COMPONENT_UNET, "foo.key.weight", "foo.key.weight");
    expect_diffusers(PD_COMPONENT_VAE, "encoder.mid_block.attentions.0.query.weight",
                     "encoder.mid_block.attentions.0.to_q.weight");
    expect_diffusers(PD_COMPONENT_VAE, "decoder.mid_block.attentions.0.value.bias",
                     "decoder.mid_block.attentions.0.to_v.bias");
    expect_diffusers(PD_COMPONENT_VAE, "decoder.mid_block.attentions.0.proj_attn.bias",
                     "decoder.mid_block.attentions.0.to_out.0.bias");
    expect_diffusers(PD_COMPONENT_VAE, "decoder.mid_block.attentions.0.to_k.weight",
                     "decoder.mid_block.attentions.0.to_k.weight");
    expect_diffusers(PD_COMPONENT_TEXT, "text_model.embeddings.position_ids", NULL);
    expect_diffusers(PD_COMPONENT_COUNT, "conv_in.weight", NULL);
    expect_diffusers(-1, "conv_in.weight", NULL);
    expect_diffusers(PD_COMPONENT_UNET, "", NULL);
}

/* ---- tensor tables ----------------------------------------------------- */

typedef struct {
    int ndim;
    int64_t d[8];
} shape;

/* name → shape, both owned by the table. */
static GHashTable *table_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static bool has(GHashTable *t, const char *key)
{
    return t && g_hash_table_contains(t, key);
}

/* A shape is a JSON array of sizes, or an object with one in "shape" (the
 * extras lists and safetensors headers). */
static bool shape_from_node(JsonNode *node, shape *s)
{
    if (JSON_NODE_HOLDS_OBJECT(node))
        node = json_object_get_member(json_node_get_object(node), "shape");
    if (!node || !JSON_NODE_HOLDS_ARRAY(node))
        return false;
    JsonArray *a = json_node_get_array(node);
    guint n = json_array_get_length(a);
    if (n > G_N_ELEMENTS(s->d))
        return false;
    s->ndim = (int)n;
    for (guint i = 0; i < n; i++) {
        s->d[i] = json_array_get_int_element(a, i);
        if (s->d[i] < 0)
            return false;
    }
    return true;
}

/* Every member of `o` except "__metadata__" (safetensors' string map). */
static GHashTable *table_from_object(JsonObject *o, const char *what)
{
    GHashTable *t = table_new();
    GList *members = json_object_get_members(o);
    for (GList *m = members; m; m = m->next) {
        const char *name = m->data;
        shape s;
        if (strcmp(name, "__metadata__") == 0)
            continue;
        if (!shape_from_node(json_object_get_member(o, name), &s)) {
            CHECK_MSG(false, "%s: %s has no readable shape", what, name);
            continue;
        }
        g_hash_table_insert(t, g_strdup(name), g_memdup2(&s, sizeof s));
    }
    g_list_free(members);
    return t;
}

static JsonObject *member_object(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* The tensor table of a .safetensors file's header: an 8-byte little-endian
 * length, then that many bytes of JSON. NULL (and a failure) if unreadable. */
static GHashTable *read_header(const char *path)
{
    GHashTable *t = NULL;
    char *json = NULL;
    JsonParser *parser = json_parser_new();
    GError *err = NULL;
    guint8 len8[8];
    guint64 len = 0;
    FILE *f = fopen(path, "rb");
    if (!f || fread(len8, 1, 8, f) != 8)
        goto out;
    for (int i = 7; i >= 0; i--)
        len = len << 8 | len8[i];
    if (len == 0 || len > (100u << 20))
        goto out;
    json = g_malloc(len);
    if (fread(json, 1, len, f) != len || !json_parser_load_from_data(parser, json, (gssize)len, &err))
        goto out;
    JsonNode *root = json_parser_get_root(parser);
    if (root && JSON_NODE_HOLDS_OBJECT(root))
        t = table_from_object(json_node_get_object(root), path);
out:
    CHECK_MSG(t != NULL, "%s: unreadable safetensors header%s%s", path, err ? ": " : "",
              err ? err->message : "");
    g_clear_error(&err);
    g_free(json);
    g_object_unref(parser);
    if (f)
        fclose(f);
    return t;
}

/* ---- one layout pair --------------------------------------------------- */

typedef struct {
    const char *label;
    GHashTable *orig, *orig_extras;                  /* extras may be NULL */
    GHashTable *diff[PD_COMPONENT_COUNT];
    GHashTable *diff_extras[PD_COMPONENT_COUNT];     /* may be NULL        */
} layouts;

/* What paldiff does not run, stated independently of the table: LDM's
 * schedule buffers (top-level names), EMA copies, the text encoder's position
 * ids and CLIP's image-matching head. */
static bool expected_unused(const char *key)
{
    const char *dot = strrchr(key, '.');
    const char *last = dot ? dot + 1 : key;
    return !dot || g_str_has_prefix(key, "model_ema.") || strcmp(last, "position_ids") == 0 ||
           strcmp(last, "text_projection") == 0 || strcmp(last, "logit_scale") == 0;
}

/* Equal up to trailing 1×1 dimensions (LDM's 1×1 convolutions where
 * diffusers has linear layers). */
static bool shape_equal(const shape *a, const shape *b)
{
    int na = a->ndim, nb = b->ndim;
    while (na > 2 && a->d[na - 1] == 1)
        na--;
    while (nb > 2 && b->d[nb - 1] == 1)
        nb--;
    return na == nb && memcmp(a->d, b->d, (size_t)na * sizeof a->d[0]) == 0;
}

static char *shape_str(const shape *s)
{
    GString *g = g_string_new("[");
    for (int i = 0; i < s->ndim; i++)
        g_string_append_printf(g, "%s%lld", i ? "," : "", (long long)s->d[i]);
    g_string_append_c(g, ']');
    return g_string_free(g, FALSE);
}

#define LAYERS_PREFIX "text_model.encoder.layers."

/* The text layer a name belongs to, or -1. */
static int layer_of(const char *name)
{
    if (!g_str_has_prefix(name, LAYERS_PREFIX))
        return -1;
    char *end;
    long v = strtol(name + strlen(LAYERS_PREFIX), &end, 10);
    return *end == '.' && v >= 0 && v < 10000 ? (int)v : -1;
}

/* The same name in layer `layer`. */
static char *in_layer(const char *name, int layer)
{
    const char *rest = strchr(name + strlen(LAYERS_PREFIX), '.');
    return g_strdup_printf(LAYERS_PREFIX "%d%s", layer, rest);
}

typedef struct {
    shape s;
    int produced;
} wanted;

typedef struct {
    GHashTable *want;        /* "component/name" → wanted */
    int text_layers;         /* layers in the diffusers text encoder */
    int per_layer;           /* its tensors per layer */
    int targets, extra, extra_wrong_layer, unused;
} tally;

static char *target_id(int component, const char *name)
{
    return g_strdup_printf("%d/%s", component, name);
}

/* Checks one target of `key` (the i-th of n) against the diffusers side. */
static void check_target(const layouts *L, tally *T, const char *key, const shape *src,
                         const pd_key_target *t, int i, int n)
{
    shape s = *src;
    T->targets++;
    if (t->rows >= 0) {
        CHECK_MSG(n == 3 && s.ndim >= 1 && 3 * t->rows == s.d[0] && t->row0 == i * t->rows,
                  "%s: %s takes rows %lld+%lld of %lld", L->label, t->name, (long long)t->row0,
                  (long long)t->rows, s.ndim ? (long long)s.d[0] : -1LL);
        s.d[0] = t->rows;
    } else {
        CHECK_MSG(n == 1 && t->row0 == 0, "%s: %s → %s has a row range", L->label, key, t->name);
    }

    char *id = target_id(t->component, t->name);
    wanted *w = g_hash_table_lookup(T->want, id);
    int layer = t->component == PD_COMPONENT_TEXT ? layer_of(t->name) : -1;
    if (w) {
        w->produced++;
        char *a = shape_str(&s), *b = shape_str(&w->s);
        CHECK_MSG(shape_equal(&s, &w->s), "%s: %s %s → %s %s", L->label, key, a, t->name, b);
        g_free(a);
        g_free(b);
    } else if (T->text_layers > 0 && layer >= T->text_layers) {
        /* The original text tower may run deeper than the diffusers folder
         * (SD 2.x); such a layer must look like the folder's last one. */
        T->extra++;
        if (layer != T->text_layers)
            T->extra_wrong_layer++;
        char *twin = in_layer(t->name, T->text_layers - 1);
        char *twin_id = target_id(t->component, twin);
        wanted *tw = g_hash_table_lookup(T->want, twin_id);
        CHECK_MSG(tw && shape_equal(&s, &tw->s), "%s: %s → %s: unlike %s", L->label, key, t->name,
                  twin);
        g_free(twin_id);
        g_free(twin);
    } else {
        CHECK_MSG(false, "%s: %s → %s (%s): not in the diffusers folder", L->label, key, t->name,
                  comp_dir[t->component]);
    }
    g_free(id);
}

/* The CLIP text model without its "text_model." level must map the same. */
static void check_older_clip(const layouts *L, const char *key, const shape *s,
                             const pd_key_target *t, int n)
{
    const char *full = "cond_stage_model.transformer.text_model.";
    if (!g_str_has_prefix(key, full))
        return;
    char *old = g_strconcat("cond_stage_model.transformer.", key + strlen(full), NULL);
    pd_key_target o[3];
    int m = pd_keymap_original(old, s->ndim ? s->d[0] : 0, o);
    CHECK_MSG(m == n && (n == 0 || strcmp(o[0].name, t[0].name) == 0),
              "%s: %s maps unlike %s", L->label, old, key);
    g_free(old);
}

static void check_layouts(const layouts *L)
{
    tally T = {.want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)};
    GHashTableIter it;
    gpointer k, v;

    /* What the diffusers side provides, under its internal names. */
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        g_hash_table_iter_init(&it, L->diff[c]);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            pd_key_target t[1];
            int n = pd_keymap_diffusers(c, k, t);
            if (has(L->diff_extras[c], k) || expected_unused(k)) {
                CHECK_MSG(n == 0, "%s: diffusers %s/%s should map to nothing", L->label, comp_dir[c],
                          (char *)k);
                continue;
            }
            CHECK_MSG(n == 1 && t[0].component == c, "%s: diffusers %s/%s → %d targets", L->label,
                      comp_dir[c], (char *)k, n);
            if (n != 1)
                continue;
            wanted w = {*(shape *)v, 0};
            bool fresh = g_hash_table_insert(T.want, target_id(c, t[0].name), g_memdup2(&w, sizeof w));
            CHECK_MSG(fresh, "%s: two diffusers tensors named %s", L->label, t[0].name);
            int layer = c == PD_COMPONENT_TEXT ? layer_of(t[0].name) : -1;
            if (layer + 1 > T.text_layers)
                T.text_layers = layer + 1;
            if (layer == 0)
                T.per_layer++;
        }
    }

    /* Every original key: onto those names, or knowingly nowhere. */
    g_hash_table_iter_init(&it, L->orig);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *key = k;
        const shape *s = v;
        pd_key_target t[3];
        int n = pd_keymap_original(key, s->ndim ? s->d[0] : 0, t);
        if (has(L->orig_extras, key) || expected_unused(key)) {
            CHECK_MSG(n == 0, "%s: %s should map to nothing, maps to %s", L->label, key,
                      n ? t[0].name : "-");
            T.unused++;
            continue;
        }
        CHECK_MSG(n >= 1, "%s: %s maps to nothing", L->label, key);
        for (int i = 0; i < n; i++)
            check_target(L, &T, key, s, &t[i], i, n);
        check_older_clip(L, key, s, t, n);
    }
    /* Extras listed apart from `original` must map to nothing too. */
    if (L->orig_extras) {
        g_hash_table_iter_init(&it, L->orig_extras);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            pd_key_target t[3];
            CHECK_MSG(pd_keymap_original(k, 1, t) == 0, "%s: extra %s maps", L->label, (char *)k);
        }
    }

    /* Every diffusers weight exactly once. */
    g_hash_table_iter_init(&it, T.want);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const wanted *w = v;
        CHECK_MSG(w->produced == 1, "%s: %s produced %d times", L->label, (char *)k, w->produced);
    }
    /* At most one extra text layer, complete, just past the folder's last. */
    CHECK_MSG(T.extra == 0 || (T.extra == T.per_layer && T.extra_wrong_layer == 0),
              "%s: %d extra-layer targets (%d in a wrong layer), one layer has %d", L->label,
              T.extra, T.extra_wrong_layer, T.per_layer);

    printf("%s: %u original keys → %d targets (%d in an extra text layer), %d unused; "
           "%u diffusers weights\n",
           L->label, g_hash_table_size(L->orig), T.targets, T.extra, T.unused,
           g_hash_table_size(T.want));
    g_hash_table_destroy(T.want);
}

/* ---- the golden folder ------------------------------------------------- */

/* The names in `dir` ending in `suffix` (empty: all), sorted. */
static GPtrArray *list_dir(const char *dir, const char *suffix)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, suffix))
            g_ptr_array_add(names, g_strdup(name));
    if (d)
        g_dir_close(d);
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    return names;
}

static JsonParser *parse_file(const char *path)
{
    JsonParser *p = json_parser_new();
    GError *err = NULL;
    if (!json_parser_load_from_file(p, path, &err) || !json_parser_get_root(p) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        CHECK_MSG(false, "%s: %s", path, err ? err->message : "not a JSON object");
        g_clear_error(&err);
        g_object_unref(p);
        return NULL;
    }
    return p;
}

static void free_layouts(layouts *L)
{
    g_clear_pointer(&L->orig, g_hash_table_destroy);
    g_clear_pointer(&L->orig_extras, g_hash_table_destroy);
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        g_clear_pointer(&L->diff[c], g_hash_table_destroy);
        g_clear_pointer(&L->diff_extras[c], g_hash_table_destroy);
    }
}

/* shapes/ *.json: the full-size names, with both layouts in one file. */
static int check_shapes(const char *golden)
{
    char *dir = g_build_filename(golden, "shapes", NULL);
    GPtrArray *files = list_dir(dir, ".json");
    int checked = 0;
    for (guint i = 0; i < files->len; i++) {
        char *path = g_build_filename(dir, files->pdata[i], NULL);
        JsonParser *p = parse_file(path);
        if (p) {
            JsonObject *root = json_node_get_object(json_parser_get_root(p));
            JsonObject *orig = member_object(root, "original");
            JsonObject *orig_extras = member_object(root, "original_extras");
            JsonObject *diff = member_object(root, "diffusers");
            JsonObject *diff_extras = member_object(root, "diffusers_extras");
            layouts L = {.label = path};
            bool ok = orig && diff;
            if (ok) {
                L.orig = table_from_object(orig, path);
                L.orig_extras = orig_extras ? table_from_object(orig_extras, path) : NULL;
            }
            for (int c = 0; ok && c < PD_COMPONENT_COUNT; c++) {
                JsonObject *o = member_object(diff, comp_dir[c]);
                JsonObject *x = member_object(diff_extras, comp_dir[c]);
                ok = o != NULL;
                L.diff[c] = o ? table_from_object(o, path) : NULL;
                L.diff_extras[c] = x ? table_from_object(x, path) : NULL;
            }
            CHECK_MSG(ok, "%s: lacks original or diffusers tables", path);
            if (ok) {
                check_layouts(&L);
                checked++;
            }
            free_layouts(&L);
            g_object_unref(p);
        }
        g_free(path);
    }
    g_ptr_array_free(files, TRUE);
    g_free(dir);
    return checked;
}

/* A model folder: each single-file source against the diffusers source. */
static int check_model(const char *model_dir, JsonObject *manifest)
{
    JsonNode *sn = json_object_get_member(manifest, "sources");
    if (!sn || !JSON_NODE_HOLDS_ARRAY(sn))
        return 0;
    JsonArray *sources = json_node_get_array(sn);
    const char *diffusers = NULL;
    for (guint i = 0; i < json_array_get_length(sources); i++) {
        JsonObject *src = json_array_get_object_element(sources, i);
        if (g_strcmp0(json_object_get_string_member_with_default(src, "layout", ""), "diffusers") == 0)
            diffusers = json_object_get_string_member_with_default(src, "path", NULL);
    }

    int checked = 0;
    for (guint i = 0; i < json_array_get_length(sources); i++) {
        JsonObject *src = json_array_get_object_element(sources, i);
        const char *path = json_object_get_string_member_with_default(src, "path", NULL);
        if (g_strcmp0(json_object_get_string_member_with_default(src, "layout", ""), "original") != 0)
            continue;
        CHECK_MSG(path && diffusers, "%s: an original source without a path or a diffusers folder",
                  model_dir);
        if (!path || !diffusers)
            continue;
        char *file = g_build_filename(model_dir, path, NULL);
        layouts L = {.label = file, .orig = read_header(file)};
        bool ok = L.orig != NULL;
        for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
            char *f = g_build_filename(model_dir, diffusers, comp_dir[c], comp_file[c], NULL);
            L.diff[c] = read_header(f);
            ok = ok && L.diff[c];
            g_free(f);
        }
        if (ok) {
            check_layouts(&L);
            checked++;
        }
        free_layouts(&L);
        g_free(file);
    }
    return checked;
}

static int check_models(const char *golden)
{
    GPtrArray *dirs = list_dir(golden, "");
    int checked = 0;
    for (guint i = 0; i < dirs->len; i++) {
        char *dir = g_build_filename(golden, dirs->pdata[i], NULL);
        char *path = g_build_filename(dir, "manifest.json", NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            JsonParser *p = parse_file(path);
            JsonObject *m = p ? json_node_get_object(json_parser_get_root(p)) : NULL;
            if (m && g_strcmp0(json_object_get_string_member_with_default(m, "kind", ""), "model") == 0)
                checked += check_model(dir, m);
            if (p)
                g_object_unref(p);
        }
        g_free(path);
        g_free(dir);
    }
    g_ptr_array_free(dirs, TRUE);
    return checked;
}

int main(void)
{
    test_cases();

    const char *golden = check_golden_dir();
    if (!golden) {
        printf("unit-keymap: no golden folder (set PALDIFF_GOLDEN); golden checks skipped\n");
        return check_failed ? check_summary("unit-keymap") : 77;
    }
    int shapes = check_shapes(golden);
    int models = check_models(golden);
    CHECK_MSG(shapes > 0, "%s: no shapes/*.json", golden);
    CHECK_MSG(models > 0, "%s: no model with an original single-file source", golden);
    return check_summary("unit-keymap");
}
