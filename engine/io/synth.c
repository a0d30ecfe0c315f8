#include "io/synth.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "io/keymap.h"
#include "io/st_writer.h"

static const char *const component_dir[PD_COMPONENT_COUNT] = {"text_encoder", "unet", "vae"};

/* xorshift64*: fast, deterministic, good enough for benchmark weights. */
static uint64_t next_u64(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t hash_name(const char *s, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h ? h : 1;
}

/* Writes n values of one tensor in chunks: norm scales (1-D "…weight") are 1,
 * everything else uniform with standard deviation 0.02. */
static pd_status write_random(pd_st_writer *w, const char *name, int ndim, int64_t n,
                              pd_st_dtype dtype, uint64_t seed, pd_error *err)
{
    enum { CHUNK = 1 << 16 };
    static float f[CHUNK];
    static uint16_t h[CHUNK];
    uint64_t s = hash_name(name, seed);
    int ones = ndim == 1 && g_str_has_suffix(name, "weight");
    const float a = 0.02f * sqrtf(3.0f);
    for (int64_t done = 0; done < n;) {
        int64_t k = n - done < CHUNK ? n - done : CHUNK;
        for (int64_t i = 0; i < k; i++)
            f[i] = ones ? 1.0f : a * (2.0f * (float)(next_u64(&s) >> 40) * 0x1p-24f - 1.0f);
        pd_status st;
        if (dtype == PD_ST_F16) {
            for (int64_t i = 0; i < k; i++)
                h[i] = pd_f32_to_f16(f[i]);
            st = pd_stw_write(w, h, (size_t)k * 2, err);
        } else {
            st = pd_stw_write(w, f, (size_t)k * 4, err);
        }
        if (st)
            return st;
        done += k;
    }
    return PD_OK;
}

static pd_status parse_dtype(const char *s, pd_st_dtype *out)
{
    for (int d = 0; d < PD_ST_DTYPE_COUNT; d++)
        if (!strcmp(pd_st_dtype_name((pd_st_dtype)d), s)) {
            *out = (pd_st_dtype)d;
            return PD_OK;
        }
    return PD_E_FORMAT;
}

typedef struct {
    const char *name;
    int ndim, component, extra;
    int64_t shape[PD_ST_MAX_DIMS];
    pd_st_dtype dtype;
} spec;

static gint cmp_spec(gconstpointer a, gconstpointer b)
{
    return strcmp(((const spec *)a)->name, ((const spec *)b)->name);
}

/* Collects `shapes` (name → [dims]) or `extras` (name → {shape, dtype}). */
static pd_status collect(const char *label, JsonObject *obj, int extra, int component,
                         const pd_synth_options *o, GArray *out, pd_error *err)
{
    GList *names = json_object_get_members(obj);
    pd_status st = PD_OK;
    for (GList *l = names; l && !st; l = l->next) {
        spec s = {.name = l->data, .extra = extra, .component = component, .dtype = o->dtype};
        JsonNode *n = json_object_get_member(obj, s.name);
        JsonArray *dims = NULL;
        if (extra && JSON_NODE_HOLDS_OBJECT(n)) {
            JsonObject *e = json_node_get_object(n);
            dims = json_object_get_array_member(e, "shape");
            if (parse_dtype(json_object_get_string_member_with_default(e, "dtype", ""), &s.dtype))
                st = pd_fail(err, PD_E_FORMAT, "%s: '%s': unknown dtype", label, s.name);
        } else if (!extra && JSON_NODE_HOLDS_ARRAY(n)) {
            dims = json_node_get_array(n);
        }
        if (!st && (!dims || json_array_get_length(dims) > PD_ST_MAX_DIMS))
            st = pd_fail(err, PD_E_FORMAT, "%s: '%s': expected a shape", label, s.name);
        for (guint i = 0; !st && i < json_array_get_length(dims); i++) {
            s.shape[i] = json_array_get_int_element(dims, i);
            if (s.shape[i] < 0 || s.shape[i] > (1 << 30))
                st = pd_fail(err, PD_E_FORMAT, "%s: '%s': bad dimension", label, s.name);
        }
        s.ndim = dims ? (int)json_array_get_length(dims) : 0;
        if (!st && component < 0 && !extra) { /* original layout: which component is it? */
            pd_key_target t[3];
            s.component = pd_keymap_original(s.name, s.ndim ? s.shape[0] : 0, t) ? t[0].component : -1;
        }
        if (!st)
            g_array_append_val(out, s);
    }
    g_list_free(names);
    return st;
}

static pd_status write_file(const char *path, GArray *specs, const pd_synth_options *o, pd_error *err)
{
    g_array_sort(specs, cmp_spec);
    pd_st_writer *w;
    pd_status st = pd_stw_begin(path, &w, err);
    if (st)
        return st;
    st = pd_stw_metadata(w, "format", "pt", err);
    for (guint i = 0; !st && i < specs->len; i++) {
        const spec *s = &g_array_index(specs, spec, i);
        st = pd_stw_add(w, s->name, s->dtype, s->ndim, s->shape, err);
    }
    if (!st)
        st = pd_stw_write_header(w, err);
    for (guint i = 0; !st && i < specs->len; i++) {
        const spec *s = &g_array_index(specs, spec, i);
        int64_t n = 1;
        for (int d = 0; d < s->ndim; d++)
            n *= s->shape[d];
        if (!s->extra && s->component >= 0 && o->random[s->component])
            st = write_random(w, s->name, s->ndim, n, s->dtype, o->seed, err);
        else
            st = pd_stw_skip(w, (uint64_t)n * pd_st_dtype_size(s->dtype), err);
    }
    if (st) {
        pd_stw_abort(w);
        return st;
    }
    return pd_stw_finish(w, err);
}

static pd_status write_json(const char *path, JsonNode *node, pd_error *err)
{
    JsonGenerator *g = json_generator_new();
    json_generator_set_pretty(g, TRUE);
    json_generator_set_root(g, node);
    GError *gerr = NULL;
    pd_status st = PD_OK;
    if (!json_generator_to_file(g, path, &gerr)) {
        st = pd_fail(err, PD_E_IO, "%s: cannot write: %s", path, gerr->message);
        g_error_free(gerr);
    }
    g_object_unref(g);
    return st;
}

static JsonObject *member_object(JsonObject *o, const char *key)
{
    JsonNode *n = o ? json_object_get_member(o, key) : NULL;
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static pd_status synth_diffusers(JsonObject *root, const char *label, const char *out,
                                 const pd_synth_options *o, pd_error *err)
{
    JsonObject *shapes = member_object(root, "diffusers"), *extras = member_object(root, "diffusers_extras");
    JsonObject *config = member_object(root, "config");
    if (!shapes || !config)
        return pd_fail(err, PD_E_FORMAT, "%s: no \"diffusers\" shapes or \"config\"", label);
    if (g_mkdir_with_parents(out, 0755))
        return pd_fail(err, PD_E_IO, "%s: cannot create the folder", out);
    pd_status st = PD_OK;
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "_class_name");
    json_builder_add_string_value(b, "StableDiffusionPipeline");
    json_builder_end_object(b);
    JsonNode *index = json_builder_get_root(b);
    char *p = g_build_filename(out, "model_index.json", NULL);
    st = write_json(p, index, err);
    g_free(p);
    json_node_unref(index);
    g_object_unref(b);

    for (int c = 0; !st && c < PD_COMPONENT_COUNT; c++) {
        char *dir = g_build_filename(out, component_dir[c], NULL);
        JsonObject *s = member_object(shapes, component_dir[c]), *e = member_object(extras, component_dir[c]);
        JsonObject *cfg = member_object(config, component_dir[c]);
        if (!s || !cfg)
            st = pd_fail(err, PD_E_FORMAT, "%s: no %s shapes or config", label, component_dir[c]);
        else if (g_mkdir_with_parents(dir, 0755))
            st = pd_fail(err, PD_E_IO, "%s: cannot create the folder", dir);
        if (!st) {
            JsonNode *n = json_node_init_object(json_node_alloc(), cfg);
            char *cp = g_build_filename(dir, "config.json", NULL);
            st = write_json(cp, n, err);
            g_free(cp);
            json_node_unref(n);
        }
        GArray *specs = g_array_new(FALSE, FALSE, sizeof(spec));
        if (!st)
            st = collect(label, s, 0, c, o, specs, err);
        if (!st && e)
            st = collect(label, e, 1, c, o, specs, err);
        if (!st) {
            char *f = g_strdup_printf("%s/%s.safetensors", dir,
                                      c == PD_COMPONENT_TEXT ? "model" : "diffusion_pytorch_model");
            st = write_file(f, specs, o, err);
            g_free(f);
        }
        g_array_free(specs, TRUE);
        g_free(dir);
    }
    /* The published scheduler config, with the prediction type the manifest names. */
    JsonObject *sched = member_object(config, "scheduler");
    if (!st && sched) {
        char *dir = g_build_filename(out, "scheduler", NULL);
        char *sp = g_build_filename(dir, "scheduler_config.json", NULL);
        JsonObject *copy = json_object_new();
        GList *keys = json_object_get_members(sched);
        for (GList *l = keys; l; l = l->next)
            json_object_set_member(copy, l->data, json_node_copy(json_object_get_member(sched, l->data)));
        g_list_free(keys);
        if (json_object_has_member(root, "prediction_type"))
            json_object_set_member(copy, "prediction_type",
                                   json_node_copy(json_object_get_member(root, "prediction_type")));
        JsonNode *n = json_node_init_object(json_node_alloc(), copy);
        st = g_mkdir_with_parents(dir, 0755) ? pd_fail(err, PD_E_IO, "%s: cannot create the folder", dir)
                                             : write_json(sp, n, err);
        json_node_unref(n);
        json_object_unref(copy);
        g_free(sp);
        g_free(dir);
    }
    return st;
}

pd_status pd_synth_model(const char *shapes_json, const char *out, const pd_synth_options *o,
                         pd_error *err)
{
    if (o->dtype != PD_ST_F32 && o->dtype != PD_ST_F16)
        return pd_fail(err, PD_E_ARG, "synthetic weights are F32 or F16");
    JsonParser *p = json_parser_new();
    GError *gerr = NULL;
    if (!json_parser_load_from_file(p, shapes_json, &gerr)) {
        pd_fail(err, PD_E_FORMAT, "%s: %s", shapes_json, gerr->message);
        g_error_free(gerr);
        g_object_unref(p);
        return PD_E_FORMAT;
    }
    JsonNode *rn = json_parser_get_root(p);
    JsonObject *root = rn && JSON_NODE_HOLDS_OBJECT(rn) ? json_node_get_object(rn) : NULL;
    pd_status st;
    if (!root) {
        st = pd_fail(err, PD_E_FORMAT, "%s: expected a JSON object", shapes_json);
    } else if (o->layout == PD_LAYOUT_DIFFUSERS) {
        st = synth_diffusers(root, shapes_json, out, o, err);
    } else {
        JsonObject *s = member_object(root, "original"), *e = member_object(root, "original_extras");
        GArray *specs = g_array_new(FALSE, FALSE, sizeof(spec));
        st = s ? collect(shapes_json, s, 0, -1, o, specs, err)
               : pd_fail(err, PD_E_FORMAT, "%s: no \"original\" shapes", shapes_json);
        if (!st && e)
            st = collect(shapes_json, e, 1, -1, o, specs, err);
        if (!st)
            st = write_file(out, specs, o, err);
        g_array_free(specs, TRUE);
    }
    g_object_unref(p);
    return st;
}
