/* palettized.c — validating a palettized model file (palettized.h). */
#include "io/palettized.h"

#include <string.h>

#include <glib.h>

#include "error.h"
#include "io/json.h"
#include "io/keymap.h"
#include "kernels/palette.h"

static const char *const prefix[PD_COMPONENT_COUNT] = {"text_encoder", "unet", "vae"};
static const char *const tok_files[PD_PALF_TOKENIZER_FILES] = {
    "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};
static const char *const tok_keys[PD_PALF_TOKENIZER_FILES] = {
    "paldiff.tokenizer.vocab.json", "paldiff.tokenizer.merges.txt", "paldiff.tokenizer.tokenizer_config.json",
    "paldiff.tokenizer.special_tokens_map.json"};
static const char *const config_keys[PD_COMPONENT_COUNT + 1] = {
    "paldiff.config.text_encoder", "paldiff.config.unet", "paldiff.config.vae", "paldiff.config.scheduler"};

const char *pd_palf_component_prefix(int c) { return c >= 0 && c < PD_COMPONENT_COUNT ? prefix[c] : NULL; }
const char *pd_palf_config_key(int c) { return c >= 0 && c <= PD_COMPONENT_COUNT ? config_keys[c] : NULL; }
const char *pd_palf_tokenizer_file(int i) { return i >= 0 && i < PD_PALF_TOKENIZER_FILES ? tok_files[i] : NULL; }
const char *pd_palf_tokenizer_key(int i) { return i >= 0 && i < PD_PALF_TOKENIZER_FILES ? tok_keys[i] : NULL; }

/* A weight's name: "<component>.<internal>"; the internal part non-empty
 * and short enough for the loader's tables. */
static int split_name(const char *name, int *component, const char **internal)
{
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        size_t n = strlen(prefix[c]);
        if (!strncmp(name, prefix[c], n) && name[n] == '.' && name[n + 1] && strlen(name + n + 1) < PD_KEY_MAX) {
            *component = c;
            *internal = name + n + 1;
            return 1;
        }
    }
    return 0;
}

/* One entry of "paldiff.tensors". */
typedef struct entry {
    const char *name;          /* owned by the parser */
    int bits;
    int64_t group_size;
    int ndim;
    int64_t shape[4];
} entry;

/* The largest dimension and element count accepted: far beyond any model,
 * small enough that no size computed from them overflows. */
#define MAX_DIM ((int64_t)1 << 31)
#define MAX_NUMEL ((int64_t)1 << 40)

static pd_status read_entry(const char *file, const char *name, JsonNode *node, entry *e, pd_error *err)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return pd_fail(err, PD_E_FORMAT, "%s: paldiff.tensors: '%s' is not an object", file, name);
    JsonObject *o = json_node_get_object(node);
    JsonObjectIter it;
    const char *key;
    JsonNode *v;
    int have = 0;
    json_object_iter_init(&it, o);
    while (json_object_iter_next(&it, &key, &v)) {
        int is_int = JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_INT64;
        if (!strcmp(key, "bits") && is_int) {
            int64_t b = json_node_get_int(v);
            if (b < 1 || b > 8 || !pd_palf_bits_ok((int)b))
                return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': bits %lld; the format allows 2, 3, 4, 6 "
                               "or 8", file, name, (long long)b);
            e->bits = (int)b;
            have |= 1;
        } else if (!strcmp(key, "group_size") && is_int) {
            e->group_size = json_node_get_int(v);
            have |= 2;
        } else if (!strcmp(key, "shape") && JSON_NODE_HOLDS_ARRAY(v)) {
            JsonArray *a = json_node_get_array(v);
            guint n = json_array_get_length(a);
            if (n < 1 || n > 4)
                return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape of %u dimensions; 1 to 4 expected",
                               file, name, n);
            int64_t numel = 1;
            for (guint i = 0; i < n; i++) {
                JsonNode *d = json_array_get_element(a, i);
                if (!JSON_NODE_HOLDS_VALUE(d) || json_node_get_value_type(d) != G_TYPE_INT64 ||
                    json_node_get_int(d) < 1 || json_node_get_int(d) > MAX_DIM)
                    return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape dimension %u is not an integer "
                                   "in 1 .. 2^31", file, name, i);
                e->shape[i] = json_node_get_int(d);
                if (numel > MAX_NUMEL / e->shape[i])
                    return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': more than 2^40 elements", file, name);
                numel *= e->shape[i];
            }
            e->ndim = (int)n;
            have |= 4;
        } else {
            return pd_fail(err, PD_E_FORMAT, "%s: paldiff.tensors: '%s' has %s \"%s\"; expected the integers "
                           "bits and group_size and the array shape", file, name,
                           strcmp(key, "bits") && strcmp(key, "group_size") && strcmp(key, "shape")
                               ? "the unknown member" : "a wrong type for", key);
        }
    }
    if (have != 7)
        return pd_fail(err, PD_E_FORMAT, "%s: paldiff.tensors: '%s' lacks %s", file, name,
                       !(have & 1) ? "bits" : !(have & 2) ? "group_size" : "shape");
    if (e->group_size < 1 || e->group_size > e->shape[0] || e->shape[0] % e->group_size)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': group size %lld does not divide its %lld output "
                       "channels", file, name, (long long)e->group_size, (long long)e->shape[0]);
    return PD_OK;
}

static pd_status check_entry(const pd_safetensors *st, const entry *e, pd_palf_weight_fn fn, void *user,
                             pd_error *err)
{
    const char *file = pd_st_path(st);
    const char *name = e->name;
    int component;
    const char *internal;
    if (!split_name(name, &component, &internal))
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': the name does not start with text_encoder., unet. "
                       "or vae. followed by a weight's name", file, name);
    if (pd_st_find(st, name))
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' is both palettized (in paldiff.tensors) and a plain "
                       "tensor", file, name);
    int64_t rows = e->shape[0], cols = 1;
    for (int d = 1; d < e->ndim; d++)
        cols *= e->shape[d];
    int64_t K = (int64_t)1 << e->bits, groups = rows / e->group_size;
    int64_t row_bytes = pd_pal_row_bytes(cols, e->bits);

    char *pname = g_strconcat(name, PD_PALF_SUFFIX_PALETTE, NULL);
    char *iname = g_strconcat(name, PD_PALF_SUFFIX_INDICES, NULL);
    const pd_st_tensor *p = pd_st_find(st, pname), *ix = pd_st_find(st, iname);
    pd_status s = PD_OK;
    if (!p)
        s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' is palettized but its palette '%s' is missing", file,
                    name, pname);
    else if (!ix)
        s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' is palettized but its indices '%s' are missing", file,
                    name, iname);
    else if (p->dtype != PD_ST_F16 || p->ndim != 2 || p->shape[0] != groups || p->shape[1] != K)
        s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': palette '%s' is %s of %d dimensions; expected F16 "
                    "[%lld, %lld] (%lld groups of %lld channels, %d bits)", file, name, pname,
                    pd_st_dtype_name(p->dtype), p->ndim, (long long)groups, (long long)K, (long long)groups,
                    (long long)e->group_size, e->bits);
    else if (ix->dtype != PD_ST_U8 || ix->ndim != 2 || ix->shape[0] != rows || ix->shape[1] != row_bytes)
        s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': indices '%s' are %s of %llu bytes; expected U8 [%lld, "
                    "%lld] (%lld rows of %lld %d-bit indices)", file, name, iname, pd_st_dtype_name(ix->dtype),
                    (unsigned long long)ix->nbytes, (long long)rows, (long long)row_bytes, (long long)rows,
                    (long long)cols, e->bits);
    else if ((uintptr_t)p->data % 2)
        s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': palette '%s' is not 2-byte aligned in the file", file,
                    name, pname);
    if (!s) {
        const uint16_t *pal = p->data;
        for (int64_t i = 0; i < groups * K; i++)
            if ((pal[i] & 0x7c00) == 0x7c00) {
                s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': palette entry %lld of group %lld is not finite",
                            file, name, (long long)(i % K), (long long)(i / K));
                break;
            }
    }
    if (!s) {
        pd_weight w = {.dtype = PD_PAL, .ndim = e->ndim, .data = ix->data, .bits = e->bits,
                       .group_size = e->group_size, .palette = p->data};
        for (int d = 0; d < e->ndim; d++)
            w.shape[d] = e->shape[d];
        s = fn(user, component, internal, ix->name, &w, err);
    }
    g_free(pname);
    g_free(iname);
    return s;
}

pd_status pd_palf_check(const pd_safetensors *st, pd_palf_weight_fn fn, void *user, pd_error *err)
{
    const char *file = pd_st_path(st);
    const char *fmt = pd_st_metadata(st, PD_PALF_KEY_FORMAT);
    const char *ver = pd_st_metadata(st, PD_PALF_KEY_VERSION);
    if (!fmt || strcmp(fmt, PD_PALF_FORMAT))
        return pd_fail(err, PD_E_FORMAT, "%s: metadata paldiff.format is not \"" PD_PALF_FORMAT "\"", file);
    if (!ver)
        return pd_fail(err, PD_E_FORMAT, "%s: metadata paldiff.format_version is missing", file);
    if (strcmp(ver, PD_PALF_VERSION))
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: palettized format version \"%.16s\"; this paldiff reads "
                       "version " PD_PALF_VERSION ": update paldiff or convert the model again", file, ver);
    const char *tj = pd_st_metadata(st, PD_PALF_KEY_TENSORS);
    if (!tj)
        return pd_fail(err, PD_E_FORMAT, "%s: metadata paldiff.tensors is missing", file);
    JsonParser *parser = NULL;
    pd_status s = pd_json_parse(file, "metadata paldiff.tensors", tj, strlen(tj), 3, 0, &parser, err);
    if (s)
        return s;
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    GHashTable *entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    JsonObjectIter it;
    const char *name;
    JsonNode *node;
    json_object_iter_init(&it, root);
    while (!s && json_object_iter_next(&it, &name, &node)) {
        entry *e = g_new0(entry, 1);
        e->name = name;
        s = read_entry(file, name, node, e, err);
        if (s)
            g_free(e);
        else
            g_hash_table_insert(entries, (gpointer)name, e);
    }
    /* the entries in file order of their indices, so that callers see a fixed order */
    for (size_t i = 0; !s && i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        size_t n = strlen(t->name), ni = strlen(PD_PALF_SUFFIX_INDICES);
        if (n > ni && !strcmp(t->name + n - ni, PD_PALF_SUFFIX_INDICES)) {
            char *base = g_strndup(t->name, n - ni);
            const entry *e = g_hash_table_lookup(entries, base);
            if (e)
                s = check_entry(st, e, fn, user, err);
            g_free(base);
        }
    }
    /* entries whose indices are missing (check_entry names what lacks) */
    GHashTableIter hi;
    gpointer v;
    g_hash_table_iter_init(&hi, entries);
    while (!s && g_hash_table_iter_next(&hi, NULL, &v)) {
        const entry *e = v;
        char *iname = g_strconcat(e->name, PD_PALF_SUFFIX_INDICES, NULL);
        if (!pd_st_find(st, iname))
            s = check_entry(st, e, fn, user, err);
        g_free(iname);
    }
    /* every other tensor: a plain F16 weight */
    for (size_t i = 0; !s && i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        size_t n = strlen(t->name);
        const char *suffix[2] = {PD_PALF_SUFFIX_PALETTE, PD_PALF_SUFFIX_INDICES};
        int part = 0;
        for (int k = 0; k < 2; k++) {
            size_t ns = strlen(suffix[k]);
            if (n > ns && !strcmp(t->name + n - ns, suffix[k])) {
                char *base = g_strndup(t->name, n - ns);
                part = 1;
                if (!g_hash_table_contains(entries, base))
                    s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' has no entry '%s' in paldiff.tensors", file,
                                t->name, base);
                g_free(base);
            }
        }
        if (s || part)
            continue;
        int component;
        const char *internal;
        if (!split_name(t->name, &component, &internal))
            s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': the name does not start with text_encoder., unet. "
                        "or vae. followed by a weight's name", file, t->name);
        else if (t->dtype != PD_ST_F16 || t->ndim > 4)
            s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' is %s of %d dimensions; plain weights of a "
                        "palettized file are F16 of at most 4", file, t->name, pd_st_dtype_name(t->dtype),
                        t->ndim);
        else if ((uintptr_t)t->data % 2)
            s = pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' is not 2-byte aligned in the file", file, t->name);
        else {
            pd_weight w = {.dtype = PD_F16, .ndim = t->ndim, .data = t->data};
            for (int d = 0; d < t->ndim; d++)
                w.shape[d] = t->shape[d];
            s = fn(user, component, internal, t->name, &w, err);
        }
    }
    g_hash_table_destroy(entries);
    g_object_unref(parser);
    return s;
}
