#include "io/synth.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
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

/* synth's values: norm scales (1-D "…weight") are 1, everything else
 * uniform with standard deviation 0.02, from a stream keyed by the name. */
typedef struct {
    uint64_t seed, state;
} synth_values;

static void fill_synth(void *user, const pd_synth_tensor *t, int64_t done, float *out, int64_t n)
{
    synth_values *v = user;
    if (done == 0)
        v->state = hash_name(t->name, v->seed);
    int ones = t->ndim == 1 && g_str_has_suffix(t->name, "weight");
    const float a = 0.02f * sqrtf(3.0f);
    for (int64_t i = 0; i < n; i++)
        out[i] = ones ? 1.0f : a * (2.0f * (float)(next_u64(&v->state) >> 40) * 0x1p-24f - 1.0f);
}

/* Streams one filled tensor in chunks, converting to its dtype. */
static pd_status write_values(pd_st_writer *w, const pd_synth_tensor *t, int64_t n,
                              pd_synth_fill_fn fill, void *user, float *f, uint16_t *h, int64_t chunk,
                              pd_error *err)
{
    for (int64_t done = 0; done < n;) {
        int64_t k = n - done < chunk ? n - done : chunk;
        fill(user, t, done, f, k);
        pd_status st;
        if (t->dtype == PD_ST_F16) {
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

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const pd_synth_tensor *)a)->name, ((const pd_synth_tensor *)b)->name);
}

pd_status pd_synth_write_tensors(const char *path, pd_synth_tensor *tensors, size_t n,
                                 pd_synth_fill_fn fill, void *user, pd_error *err)
{
    enum { CHUNK = 1 << 16 };
    for (size_t i = 0; i < n; i++)
        if (tensors[i].fill && tensors[i].dtype != PD_ST_F32 && tensors[i].dtype != PD_ST_F16)
            return pd_fail(err, PD_E_ARG, "%s: tensor '%s': made-up values are F32 or F16", path,
                           tensors[i].name);
    qsort(tensors, n, sizeof *tensors, cmp_tensor);
    pd_st_writer *w;
    pd_status st = pd_stw_begin(path, &w, err);
    if (st)
        return st;
    st = pd_stw_metadata(w, "format", "pt", err);
    for (size_t i = 0; !st && i < n; i++)
        st = pd_stw_add(w, tensors[i].name, tensors[i].dtype, tensors[i].ndim, tensors[i].shape, err);
    if (!st)
        st = pd_stw_write_header(w, err);
    float *f = g_new(float, CHUNK);
    uint16_t *h = g_new(uint16_t, CHUNK);
    for (size_t i = 0; !st && i < n; i++) {
        const pd_synth_tensor *t = &tensors[i];
        int64_t count = 1;
        for (int d = 0; d < t->ndim; d++)
            count *= t->shape[d];
        st = t->fill ? write_values(w, t, count, fill, user, f, h, CHUNK, err)
                     : pd_stw_skip(w, (uint64_t)count * pd_st_dtype_size(t->dtype), err);
    }
    g_free(f);
    g_free(h);
    if (st) {
        pd_stw_abort(w);
        return st;
    }
    return pd_stw_finish(w, err);
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

/* Collects `shapes` (name → [dims]) or `extras` (name → {shape, dtype}). */
static pd_status collect(const char *label, JsonObject *obj, int extra, int component,
                         const pd_synth_options *o, GArray *out, pd_error *err)
{
    GList *names = json_object_get_members(obj);
    pd_status st = PD_OK;
    for (GList *l = names; l && !st; l = l->next) {
        pd_synth_tensor s = {.name = l->data, .dtype = o->dtype};
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
        int c = component;
        if (!st && c < 0 && !extra) { /* original layout: which component is it? */
            pd_key_target t[3];
            c = pd_keymap_original(s.name, s.ndim ? s.shape[0] : 0, t) ? t[0].component : -1;
        }
        s.fill = !extra && c >= 0 && o->random[c]; /* extras are holes */
        if (!st)
            g_array_append_val(out, s);
    }
    g_list_free(names);
    return st;
}

static pd_status write_file(const char *path, GArray *specs, const pd_synth_options *o, pd_error *err)
{
    synth_values v = {.seed = o->seed};
    return pd_synth_write_tensors(path, (pd_synth_tensor *)(void *)specs->data, specs->len, fill_synth, &v,
                                  err);
}

pd_status pd_synth_write_text(const char *path, const char *text, pd_error *err)
{
    GError *gerr = NULL;
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, &gerr)) {
        pd_status st = pd_fail(err, PD_E_IO, "%s: cannot write: %s", path, gerr->message);
        g_error_free(gerr);
        return st;
    }
    return PD_OK;
}

pd_status pd_synth_write_json(const char *path, JsonNode *node, pd_error *err)
{
    JsonGenerator *g = json_generator_new();
    json_generator_set_pretty(g, TRUE);
    json_generator_set_root(g, node);
    char *text = json_generator_to_data(g, NULL);
    GString *s = g_string_new(text);
    g_string_append_c(s, '\n');
    pd_status st = pd_synth_write_text(path, s->str, err);
    g_string_free(s, TRUE);
    g_free(text);
    g_object_unref(g);
    return st;
}

void pd_synth_remove_folder(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(path, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            pd_synth_remove_folder(p);
        else
            g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(path);
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
    st = pd_synth_write_json(p, index, err);
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
            st = pd_synth_write_json(cp, n, err);
            g_free(cp);
            json_node_unref(n);
        }
        GArray *specs = g_array_new(FALSE, FALSE, sizeof(pd_synth_tensor));
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
                                             : pd_synth_write_json(sp, n, err);
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
        GArray *specs = g_array_new(FALSE, FALSE, sizeof(pd_synth_tensor));
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
