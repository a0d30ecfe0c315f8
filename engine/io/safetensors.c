/* safetensors.c — the strict .safetensors reader (see safetensors.h).
 *
 * Validation happens in four passes over the header, each trusting only what
 * the previous one proved:
 *
 *   1. the 8-byte length prefix against the file size and the 100 MB cap of
 *      the reference implementation (huggingface/safetensors);
 *   2. the header bytes: UTF-8, then RFC 8259 JSON syntax, because json-glib
 *      1.6 is lenient and recursive (io/json.c explains and does this);
 *   3. json-glib builds the tree, refusing a repeated key, which it would
 *      otherwise resolve silently (also io/json.c);
 *   4. every entry: dtype, shape, offsets, sizes; then the tensors, sorted
 *      by offset, must tile the data area exactly as the reference requires.
 *
 * Members of a tensor entry other than dtype/shape/data_offsets are ignored,
 * as the reference (serde without deny_unknown_fields) ignores them.
 */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "error.h"
#include "io/json.h"

/* The reference implementation refuses larger headers (MAX_HEADER_SIZE). */
#define ST_MAX_HEADER 100000000u

/* Nesting a header may use. A safetensors header needs 3 levels
 * ({ → { → [); the margin admits unknown members while keeping json-glib's
 * recursive descent far from the end of any thread's stack. */
#define ST_MAX_DEPTH 32

struct pd_safetensors {
    char *path;                 /* or the label given to pd_st_parse          */
    const uint8_t *base;        /* the whole file image                       */
    uint64_t size;
    void *map;                  /* non-NULL when pd_st_open mapped the file   */
    size_t map_len;
    pd_st_tensor *tensors;      /* sorted by data offset                      */
    size_t count;
    GHashTable *by_name;        /* name → pd_st_tensor *                      */
    GHashTable *meta;           /* key → value                                */
    const char **meta_keys;     /* sorted, meta_count of them                 */
    size_t meta_count;
    GStringChunk *strings;      /* every name, key and value above            */
};

static const struct {
    const char *name;
    size_t size;
} dtypes[PD_ST_DTYPE_COUNT] = {
    [PD_ST_BOOL] = {"BOOL", 1},       [PD_ST_U8] = {"U8", 1},
    [PD_ST_I8] = {"I8", 1},           [PD_ST_F8_E4M3] = {"F8_E4M3", 1},
    [PD_ST_F8_E5M2] = {"F8_E5M2", 1}, [PD_ST_I16] = {"I16", 2},
    [PD_ST_U16] = {"U16", 2},         [PD_ST_F16] = {"F16", 2},
    [PD_ST_BF16] = {"BF16", 2},       [PD_ST_I32] = {"I32", 4},
    [PD_ST_U32] = {"U32", 4},         [PD_ST_F32] = {"F32", 4},
    [PD_ST_I64] = {"I64", 8},         [PD_ST_U64] = {"U64", 8},
    [PD_ST_F64] = {"F64", 8},
};

const char *pd_st_dtype_name(pd_st_dtype dtype)
{
    return (unsigned)dtype < PD_ST_DTYPE_COUNT ? dtypes[dtype].name : "?";
}

size_t pd_st_dtype_size(pd_st_dtype dtype)
{
    return (unsigned)dtype < PD_ST_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

/* ---- pass 4: entries ---------------------------------------------------- */

static void shape_text(char *buf, size_t len, const int64_t *shape, int ndim)
{
    size_t o = g_snprintf(buf, len, "[");
    for (int d = 0; d < ndim && o < len; d++)
        o += g_snprintf(buf + o, len - o, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (o < len)
        g_snprintf(buf + o, len - o, "]");
}

/* A JSON integer ≥ 0, or -1 with *what saying why not. */
static int64_t json_count(JsonNode *node, const char **what)
{
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
        *what = JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_DOUBLE
                    ? "a fraction or exponent, not an integer" : "not an integer";
        return -1;
    }
    int64_t v = json_node_get_int(node);
    if (v < 0)
        *what = "negative";
    return v;
}

static pd_status parse_tensor(const char *path, const char *name, JsonNode *node,
                              const uint8_t *data_area, uint64_t data_size,
                              pd_st_tensor *t, pd_error *err)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': entry is not a JSON object "
                       "with dtype, shape and data_offsets", path, name);
    JsonObject *o = json_node_get_object(node);
    static const char *const need[] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; k++)
        if (!json_object_has_member(o, need[k]))
            return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': \"%s\" is missing",
                           path, name, need[k]);

    JsonNode *dt = json_object_get_member(o, "dtype");
    const char *dts = JSON_NODE_HOLDS_VALUE(dt) && json_node_get_value_type(dt) == G_TYPE_STRING
                          ? json_node_get_string(dt) : NULL;
    if (!dts)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': dtype is not a string", path, name);
    int dtype = 0;
    while (dtype < PD_ST_DTYPE_COUNT && strcmp(dts, dtypes[dtype].name) != 0)
        dtype++;
    if (dtype == PD_ST_DTYPE_COUNT)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': unknown dtype \"%s\" (known: BOOL U8 "
                       "I8 F8_E4M3 F8_E5M2 I16 U16 F16 BF16 I32 U32 F32 I64 U64 F64)",
                       path, name, dts);
    t->dtype = (pd_st_dtype)dtype;

    JsonNode *sh = json_object_get_member(o, "shape");
    if (!JSON_NODE_HOLDS_ARRAY(sh))
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape is not an array", path, name);
    JsonArray *sa = json_node_get_array(sh);
    guint ndim = json_array_get_length(sa);
    if (ndim > PD_ST_MAX_DIMS)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape has %u dimensions, at most %d",
                       path, name, ndim, PD_ST_MAX_DIMS);
    t->ndim = (int)ndim;
    int64_t numel = 1;
    bool overflow = false;
    for (guint d = 0; d < ndim; d++) {
        const char *what = NULL;
        int64_t v = json_count(json_array_get_element(sa, d), &what);
        if (what)
            return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape[%u] is %s", path, name,
                           d, what);
        t->shape[d] = v;
        overflow |= __builtin_mul_overflow(numel, v, &numel);
    }
    char shape_buf[256];
    shape_text(shape_buf, sizeof shape_buf, t->shape, t->ndim);
    int64_t nbytes;
    if (overflow || __builtin_mul_overflow(numel, (int64_t)dtypes[dtype].size, &nbytes))
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape %s × %s overflows 64 bits",
                       path, name, shape_buf, dts);
    t->numel = numel;

    JsonNode *off = json_object_get_member(o, "data_offsets");
    if (!JSON_NODE_HOLDS_ARRAY(off) || json_array_get_length(json_node_get_array(off)) != 2)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': data_offsets is not an array of "
                       "two integers [begin, end]", path, name);
    int64_t be[2];
    for (int k = 0; k < 2; k++) {
        const char *what = NULL;
        be[k] = json_count(json_array_get_element(json_node_get_array(off), k), &what);
        if (what)
            return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': data_offsets[%d] is %s",
                           path, name, k, what);
    }
    if (be[0] > be[1])
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                       "] begin after end", path, name, be[0], be[1]);
    if ((uint64_t)be[1] > data_size)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': data_offsets end %" PRId64
                       " is beyond the data area (%" PRIu64 " bytes); the file may be truncated",
                       path, name, be[1], data_size);
    if (be[1] - be[0] != nbytes)
        return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': shape %s × %s (%zu bytes) is %" PRId64
                       " bytes, but data_offsets [%" PRId64 ", %" PRId64 "] hold %" PRId64,
                       path, name, shape_buf, dts, dtypes[dtype].size, nbytes, be[0], be[1],
                       be[1] - be[0]);
    t->data = data_area + be[0];
    t->nbytes = (uint64_t)nbytes;
    return PD_OK;
}

/* Offset order; ties (zero-size tensors) by size, then name, so the order is
 * the same whatever order the header lists them in. */
static int by_offset(const void *a, const void *b)
{
    const pd_st_tensor *x = a, *y = b;
    if (x->data != y->data)
        return (const uint8_t *)x->data < (const uint8_t *)y->data ? -1 : 1;
    if (x->nbytes != y->nbytes)
        return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static pd_status parse_metadata(pd_safetensors *st, JsonNode *node, pd_error *err)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return pd_fail(err, PD_E_FORMAT, "%s: __metadata__ is not a JSON object of strings",
                       st->path);
    JsonObject *o = json_node_get_object(node);
    st->meta_keys = g_new(const char *, json_object_get_size(o) + 1);
    JsonObjectIter it;
    const char *key;
    JsonNode *v;
    json_object_iter_init_ordered(&it, o);
    while (json_object_iter_next_ordered(&it, &key, &v)) {
        if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING)
            return pd_fail(err, PD_E_FORMAT, "%s: __metadata__ \"%s\" is not a string "
                           "(metadata values must be strings)", st->path, key);
        char *k = g_string_chunk_insert(st->strings, key);
        g_hash_table_insert(st->meta, k, g_string_chunk_insert(st->strings, json_node_get_string(v)));
        st->meta_keys[st->meta_count++] = k;
    }
    qsort(st->meta_keys, st->meta_count, sizeof *st->meta_keys, by_string);
    return PD_OK;
}

/* The tensors, sorted, must cover [0, data_size) without gap or overlap. */
static pd_status check_tiling(const pd_safetensors *st, const uint8_t *data_area,
                              uint64_t data_size, pd_error *err)
{
    uint64_t end = 0;
    const pd_st_tensor *prev = NULL;
    for (size_t i = 0; i < st->count; i++) {
        const pd_st_tensor *t = &st->tensors[i];
        uint64_t b = (uint64_t)((const uint8_t *)t->data - data_area);
        if (b < end)
            return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s' (bytes %" PRIu64 "..%" PRIu64
                           ") overlaps tensor '%s' (ending at byte %" PRIu64 ")", st->path,
                           t->name, b, b + t->nbytes, prev->name, end);
        if (b > end) {
            if (prev)
                return pd_fail(err, PD_E_FORMAT, "%s: gap of %" PRIu64 " unused bytes between "
                               "tensor '%s' and tensor '%s' (at byte %" PRIu64 ")", st->path,
                               b - end, prev->name, t->name, b);
            return pd_fail(err, PD_E_FORMAT, "%s: gap of %" PRIu64 " unused bytes before the "
                           "first tensor '%s'", st->path, b, t->name);
        }
        end = b + t->nbytes;
        prev = t;
    }
    if (end != data_size)
        return pd_fail(err, PD_E_FORMAT, "%s: the data area is %" PRIu64 " bytes but the "
                       "tensors end at byte %" PRIu64 " (%" PRIu64 " bytes belong to no tensor)",
                       st->path, data_size, end, data_size - end);
    return PD_OK;
}

/* Passes 2 and 3 (pd_json_parse), then pass 4. */
static pd_status parse_json(pd_safetensors *st, const char *hdr, size_t n, pd_error *err)
{
    const uint8_t *data_area = st->base + 8 + n;
    uint64_t data_size = st->size - 8 - n;
    JsonParser *parser = NULL;
    /* The reference requires '{' at byte 0; writers pad with spaces after. */
    pd_status status = pd_json_parse(st->path, "header", hdr, n, ST_MAX_DEPTH,
                                     PD_JSON_OBJECT_AT_START, &parser, err);
    if (status != PD_OK)
        return status;
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *top = json_node_get_object(root);
    st->tensors = g_try_new0(pd_st_tensor, json_object_get_size(top) + 1);
    if (!st->tensors) {
        status = pd_fail(err, PD_E_NOMEM, "%s: out of memory for %u tensors", st->path,
                         json_object_get_size(top));
        goto done;
    }

    JsonObjectIter it;
    const char *name;
    JsonNode *node;
    json_object_iter_init_ordered(&it, top);
    while (status == PD_OK && json_object_iter_next_ordered(&it, &name, &node)) {
        if (strcmp(name, "__metadata__") == 0) {
            status = parse_metadata(st, node, err);
            continue;
        }
        if (!name[0]) {
            status = pd_fail(err, PD_E_FORMAT, "%s: a tensor has an empty name", st->path);
            break;
        }
        /* Pass 2 proved the header UTF-8 and its escapes well formed; this
         * guards the assumption that json-glib decoded them faithfully. */
        if (!g_utf8_validate(name, -1, NULL)) {
            status = pd_fail(err, PD_E_FORMAT, "%s: a tensor name is not valid UTF-8", st->path);
            break;
        }
        pd_st_tensor *t = &st->tensors[st->count];
        t->name = g_string_chunk_insert(st->strings, name);
        status = parse_tensor(st->path, t->name, node, data_area, data_size, t, err);
        if (status == PD_OK)
            st->count++;
    }
    if (status != PD_OK)
        goto done;

    qsort(st->tensors, st->count, sizeof *st->tensors, by_offset);
    status = check_tiling(st, data_area, data_size, err);
    for (size_t i = 0; status == PD_OK && i < st->count; i++)
        g_hash_table_insert(st->by_name, (gpointer)st->tensors[i].name, &st->tensors[i]);
done:
    g_object_unref(parser);
    return status;
}

/* ---- pass 1 ------------------------------------------------------------- */

static pd_status validate(pd_safetensors *st, pd_error *err)
{
    const char *path = st->path;
    if (st->size < 8)
        return pd_fail(err, PD_E_FORMAT, "%s: file is %" PRIu64 " bytes, too short for the "
                       "8-byte header length of a safetensors file", path, st->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | st->base[i];
    if (n == 0)
        return pd_fail(err, PD_E_FORMAT, "%s: header length is 0; not a safetensors file", path);
    if (n > ST_MAX_HEADER)
        return pd_fail(err, PD_E_FORMAT, "%s: header length %" PRIu64 " exceeds the safetensors "
                       "limit of %u bytes; the file is damaged or not a safetensors file",
                       path, n, ST_MAX_HEADER);
    if (n > st->size - 8)
        return pd_fail(err, PD_E_FORMAT, "%s: header length %" PRIu64 " exceeds the %" PRIu64
                       " bytes after the length; the file is truncated or not a safetensors file",
                       path, n, st->size - 8);

    /* pd_json_parse works on a private copy, so the syntax check and the
     * parser see the same bytes even if the file changes under the map. */
    return parse_json(st, (const char *)st->base + 8, (size_t)n, err);
}

static pd_safetensors *handle_new(const char *path)
{
    pd_safetensors *st = g_new0(pd_safetensors, 1);
    st->path = g_strdup(path ? path : "(buffer)");
    st->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    st->meta = g_hash_table_new(g_str_hash, g_str_equal);
    st->strings = g_string_chunk_new(4096);
    return st;
}

pd_status pd_st_parse(const char *label, const void *buf, size_t size,
                      pd_safetensors **out, pd_error *err)
{
    if (!out)
        return pd_fail(err, PD_E_ARG, "pd_st_parse: out is NULL");
    *out = NULL;
    if (!buf && size)
        return pd_fail(err, PD_E_ARG, "%s: pd_st_parse: buffer is NULL", label ? label : "");
    pd_safetensors *st = handle_new(label);
    st->base = buf;
    st->size = size;
    pd_status status = validate(st, err);
    if (status != PD_OK) {
        pd_st_close(st);
        return status;
    }
    pd_error_clear(err);
    *out = st;
    return PD_OK;
}

pd_status pd_st_open(const char *path, pd_safetensors **out, pd_error *err)
{
    if (!out || !path)
        return pd_fail(err, PD_E_ARG, "pd_st_open: path or out is NULL");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pd_fail(err, PD_E_IO, "%s: cannot open: %s", path, g_strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return pd_fail(err, PD_E_IO, "%s: cannot stat: %s", path, g_strerror(e));
    }
    if (S_ISDIR(sb.st_mode) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pd_fail(err, PD_E_IO, "%s: is %s, not a .safetensors file", path,
                       S_ISDIR(sb.st_mode) ? "a folder" : "a special file");
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return pd_fail(err, PD_E_IO, "%s: too large to map on this system", path);
    }

    pd_safetensors *st = handle_new(path);
    st->size = (uint64_t)sb.st_size;
    /* Too short for the length prefix: nothing to map (mmap of 0 bytes fails);
     * validate() reports it without reading. */
    if (st->size >= 8) {
        void *map = mmap(NULL, (size_t)st->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            pd_st_close(st);
            return pd_fail(err, PD_E_IO, "%s: cannot map %" PRIu64 " bytes: %s", path,
                           (uint64_t)sb.st_size, g_strerror(e));
        }
        st->map = map;
        st->map_len = (size_t)st->size;
        st->base = map;
    }
    close(fd);   /* the map keeps the file */

    pd_status status = validate(st, err);
    if (status != PD_OK) {
        pd_st_close(st);
        return status;
    }
    pd_error_clear(err);
    *out = st;
    return PD_OK;
}

void pd_st_close(pd_safetensors *st)
{
    if (!st)
        return;
    if (st->map)
        munmap(st->map, st->map_len);
    g_hash_table_destroy(st->by_name);
    g_hash_table_destroy(st->meta);
    g_string_chunk_free(st->strings);
    g_free(st->meta_keys);
    g_free(st->tensors);
    g_free(st->path);
    g_free(st);
}

void pd_st_release(const pd_safetensors *st, const void *p, size_t n)
{
    const uint8_t *begin = p, *map = st->map;
    if (!map || begin < map || n > st->map_len || (size_t)(begin - map) > st->map_len - n)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)begin + page - 1) & ~(page - 1), hi = ((uintptr_t)begin + n) & ~(page - 1);
    if (lo < hi) /* a read-only private file map: dropped pages re-read from the file */
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

const char *pd_st_path(const pd_safetensors *st) { return st->path; }
uint64_t pd_st_file_size(const pd_safetensors *st) { return st->size; }
size_t pd_st_count(const pd_safetensors *st) { return st->count; }

const pd_st_tensor *pd_st_at(const pd_safetensors *st, size_t i)
{
    return i < st->count ? &st->tensors[i] : NULL;
}

const pd_st_tensor *pd_st_find(const pd_safetensors *st, const char *name)
{
    return name ? g_hash_table_lookup(st->by_name, name) : NULL;
}

const char *pd_st_metadata(const pd_safetensors *st, const char *key)
{
    return key ? g_hash_table_lookup(st->meta, key) : NULL;
}

size_t pd_st_metadata_count(const pd_safetensors *st) { return st->meta_count; }

const char *pd_st_metadata_key(const pd_safetensors *st, size_t i)
{
    return i < st->meta_count ? st->meta_keys[i] : NULL;
}
