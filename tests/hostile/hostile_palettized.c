/* hostile_palettized.c — forged palettized model files, one table row each.
 *
 * A tiny golden model (the first source of the first model manifest) is
 * converted at 4 bits; each row rewrites that file with one thing broken — a
 * tensor dropped, resized, retyped or added, a member of one
 * "paldiff.tensors" entry changed, a metadata value replaced — and opens it
 * with pd_model_open. The row's status must come back, with a message that
 * starts with the file's path and contains every '|'-separated piece of
 * `expect`; under ASan any read outside the file fails the run.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "convert/convert.h"
#include "hostile.h"
#include "io/palettized.h"
#include "io/safetensors.h"
#include "io/st_writer.h"

enum { A_NONE, A_DROP, A_SHAPE, A_DTYPE, A_NAN, A_ADD_PLAIN, A_ADD_STRAY };

typedef struct row {
    const char *what;
    const char *suffix;        /* the tensor acted on: the target entry's name + this */
    int act;
    int64_t d0, d1;            /* A_SHAPE: added to shape[0], shape[1]               */
    const char *member;        /* sets this member of the target entry …             */
    const char *value;         /* … to this JSON (NULL: removes it)                  */
    const char *meta_key;      /* sets this metadata key …                           */
    const char *meta_value;    /* … to this (NULL: removes it)                       */
    pd_status want;
    const char *expect;
} row;

#define F PD_E_FORMAT
static const row rows[] = {
    {"the converted file itself", .want = PD_OK},
    {"index data too short", ".indices", A_SHAPE, 0, -1, .want = F, .expect = "indices|expected U8"},
    {"index rows missing", ".indices", A_SHAPE, -1, 0, .want = F, .expect = "indices|expected U8"},
    {"index data too long", ".indices", A_SHAPE, 0, 1, .want = F, .expect = "indices|expected U8"},
    {"indices as F16", ".indices", A_DTYPE, .want = F, .expect = "indices|expected U8"},
    {"palette of the wrong size", ".palette", A_SHAPE, 0, -8, .want = F, .expect = "palette|expected F16"},
    {"palette with an extra group", ".palette", A_SHAPE, 1, 0, .want = F, .expect = "palette|expected F16"},
    {"palette as U8", ".palette", A_DTYPE, .want = F, .expect = "palette|expected F16"},
    {"palette entry NaN", ".palette", A_NAN, .want = F, .expect = "not finite"},
    {"missing palette", ".palette", A_DROP, .want = F, .expect = "palette|is missing"},
    {"missing indices", ".indices", A_DROP, .want = F, .expect = "indices|are missing"},
    {"bits = 7", .member = "bits", .value = "7", .want = F, .expect = "bits 7|2, 3, 4, 6 or 8"},
    {"bits = 0", .member = "bits", .value = "0", .want = F, .expect = "bits 0"},
    {"bits = 300", .member = "bits", .value = "300", .want = F, .expect = "bits 300"},
    {"bits = 6 (sizes of 4)", .member = "bits", .value = "6", .want = F, .expect = "expected F16"},
    {"bits as a string", .member = "bits", .value = "\"4\"", .want = F, .expect = "wrong type|bits"},
    {"group size not dividing the channels", .member = "group_size", .value = "3", .want = F,
     .expect = "group size 3|does not divide"},
    {"group size 0", .member = "group_size", .value = "0", .want = F, .expect = "group size 0"},
    {"group size negative", .member = "group_size", .value = "-16", .want = F, .expect = "group size -16"},
    {"group size above the channels", .member = "group_size", .value = "4096", .want = F,
     .expect = "does not divide"},
    {"shape with a zero", .member = "shape", .value = "[0,4]", .want = F, .expect = "shape dimension 0"},
    {"shape of 5 dimensions", .member = "shape", .value = "[1,1,1,1,1]", .want = F, .expect = "5 dimensions"},
    {"shape of 2^62 elements", .member = "shape", .value = "[2147483648,2147483648,2]", .want = F,
     .expect = "2^40"},
    {"shape disagreeing with the indices", .member = "shape", .value = "+1", .want = F,
     .expect = "indices|expected U8"},
    {"shape missing", .member = "shape", .value = NULL, .want = F, .expect = "lacks shape"},
    {"unknown member", .member = "scale", .value = "1", .want = F, .expect = "unknown member \"scale\""},
    {"entry not an object", .member = "", .value = "[]", .want = F, .expect = "not an object"},
    {"tensor both palettized and plain", "", A_ADD_PLAIN, .want = F, .expect = "both palettized"},
    {"palette without an entry", ".palette", A_ADD_STRAY, .want = F, .expect = "has no entry"},
    {"metadata not JSON", .meta_key = PD_PALF_KEY_TENSORS, .meta_value = "{\"a\":", .want = F,
     .expect = "paldiff.tensors|not valid JSON"},
    {"metadata JSON with a repeated key", .meta_key = PD_PALF_KEY_TENSORS,
     .meta_value = "{\"unet.a\":{},\"unet.a\":{}}", .want = F, .expect = "paldiff.tensors"},
    {"metadata JSON with trailing data", .meta_key = PD_PALF_KEY_TENSORS, .meta_value = "{} x", .want = F,
     .expect = "paldiff.tensors"},
    {"metadata JSON nested too deep", .meta_key = PD_PALF_KEY_TENSORS,
     .meta_value = "{\"unet.a\":{\"bits\":[[[[1]]]]}}", .want = F, .expect = "paldiff.tensors"},
    {"metadata tensors missing", .meta_key = PD_PALF_KEY_TENSORS, .meta_value = NULL, .want = F,
     .expect = "paldiff.tensors is missing"},
    {"metadata tensors empty (indices left over)", .meta_key = PD_PALF_KEY_TENSORS, .meta_value = "{}", .want = F,
     .expect = "has no entry"},
    {"format version 2", .meta_key = PD_PALF_KEY_VERSION, .meta_value = "2", .want = PD_E_UNSUPPORTED,
     .expect = "version \"2\""},
    {"format version missing", .meta_key = PD_PALF_KEY_VERSION, .meta_value = NULL, .want = F,
     .expect = "format_version is missing"},
    {"format name wrong", .meta_key = PD_PALF_KEY_FORMAT, .meta_value = "paldiff-other", .want = F,
     .expect = "paldiff.format"},
    {"architecture wrong", .meta_key = PD_PALF_KEY_ARCH, .meta_value = "sd21-inpaint", .want = F,
     .expect = "another architecture"},
    {"prediction type wrong", .meta_key = PD_PALF_KEY_PREDICTION, .meta_value = "sample", .want = F,
     .expect = "prediction_type"},
    {"UNet config not JSON", .meta_key = "paldiff.config.unet", .meta_value = "{", .want = F,
     .expect = "paldiff.config.unet"},
    {"vocabulary without merges", .meta_key = "paldiff.tokenizer.merges.txt", .meta_value = NULL,
     .want = PD_E_ARG, .expect = "vocab.json and merges.txt"},
    {"vocabulary not JSON", .meta_key = "paldiff.tokenizer.vocab.json", .meta_value = "[1]", .want = F,
     .expect = "paldiff.tokenizer.vocab.json"},
};

/* The first palettized weight of the UNet: the rows' target. */
static char *pick_target(const pd_safetensors *st)
{
    for (size_t i = 0; i < pd_st_count(st); i++) {
        const char *n = pd_st_at(st, i)->name;
        if (g_str_has_prefix(n, "unet.") && g_str_has_suffix(n, PD_PALF_SUFFIX_INDICES))
            return g_strndup(n, strlen(n) - strlen(PD_PALF_SUFFIX_INDICES));
    }
    return NULL;
}

static char *edit_entry(const char *json, const char *target, const row *r)
{
    JsonParser *p = json_parser_new();
    json_parser_load_from_data(p, json, -1, NULL);
    JsonObject *root = json_node_get_object(json_parser_get_root(p));
    if (!*r->member) {
        json_object_set_member(root, target, json_from_string(r->value, NULL));
    } else {
        JsonObject *e = json_object_get_object_member(root, target);
        if (r->value && !strcmp(r->value, "+1")) { /* one more column */
            JsonArray *a = json_object_get_array_member(e, "shape");
            guint n = json_array_get_length(a);
            JsonArray *b = json_array_new();
            for (guint i = 0; i < n; i++)
                json_array_add_int_element(b, json_array_get_int_element(a, i) + (i == n - 1));
            json_object_set_array_member(e, "shape", b);
        } else if (r->value)
            json_object_set_member(e, r->member, json_from_string(r->value, NULL));
        else
            json_object_remove_member(e, r->member);
    }
    JsonGenerator *g = json_generator_new();
    json_generator_set_root(g, json_parser_get_root(p));
    char *out = json_generator_to_data(g, NULL);
    g_object_unref(g);
    g_object_unref(p);
    return out;
}

static pd_status forge(const pd_safetensors *st, const char *target, const row *r, const char *path,
                       pd_error *err)
{
    pd_st_writer *w;
    pd_status s = pd_stw_begin(path, &w, err);
    if (s)
        return s;
    char *acted = r->suffix ? g_strconcat(target, r->suffix, NULL) : NULL;
    for (size_t i = 0; !s && i < pd_st_metadata_count(st); i++) {
        const char *k = pd_st_metadata_key(st, i), *v = pd_st_metadata(st, k);
        char *edited = NULL;
        if (r->meta_key && !strcmp(k, r->meta_key)) {
            if (!r->meta_value)
                continue;
            v = r->meta_value;
        } else if (r->member && !strcmp(k, PD_PALF_KEY_TENSORS)) {
            v = edited = edit_entry(v, target, r);
        }
        s = pd_stw_metadata(w, k, v, err);
        g_free(edited);
    }
    /* the tensors, with the row's change; [name, dtype, shape, data or NULL (zeros)] */
    typedef struct {
        const char *name;
        pd_st_dtype dtype;
        int ndim;
        int64_t shape[PD_ST_MAX_DIMS];
        const void *data;
        int nan;
    } out_t;
    GArray *outs = g_array_new(FALSE, TRUE, sizeof(out_t));
    for (size_t i = 0; i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        out_t o = {t->name, t->dtype, t->ndim, {0}, t->data, 0};
        memcpy(o.shape, t->shape, sizeof o.shape);
        if (acted && !strcmp(t->name, acted)) {
            if (r->act == A_DROP)
                continue;
            if (r->act == A_SHAPE) {
                o.shape[0] += r->d0, o.shape[1] += r->d1, o.data = NULL;
            } else if (r->act == A_DTYPE) {
                o.dtype = t->dtype == PD_ST_U8 ? PD_ST_F16 : PD_ST_U8;
                o.data = NULL;
            } else if (r->act == A_NAN) {
                o.nan = 1;
            }
        }
        g_array_append_val(outs, o);
    }
    char *extra = NULL;
    if (r->act == A_ADD_PLAIN || r->act == A_ADD_STRAY) { /* an F16 tensor of 16 elements, first */
        extra = r->act == A_ADD_PLAIN ? g_strdup(target) : g_strdup("unet.not_a_weight.palette");
        out_t o = {extra, PD_ST_F16, 2, {4, 4}, NULL, 0};
        g_array_prepend_val(outs, o);
    }
    for (guint i = 0; !s && i < outs->len; i++) {
        out_t *o = &g_array_index(outs, out_t, i);
        s = pd_stw_add(w, o->name, o->dtype, o->ndim, o->shape, err);
    }
    if (!s)
        s = pd_stw_write_header(w, err);
    for (guint i = 0; !s && i < outs->len; i++) {
        out_t *o = &g_array_index(outs, out_t, i);
        uint64_t n = pd_st_dtype_size(o->dtype);
        for (int d = 0; d < o->ndim; d++)
            n *= (uint64_t)o->shape[d];
        if (o->nan) {
            guint8 *copy = g_memdup2(o->data, n);
            copy[n - 1] = 0x7e; /* the last entry: 0x7e.. is a NaN half */
            s = pd_stw_write(w, copy, n, err);
            g_free(copy);
        } else if (o->data) {
            s = pd_stw_write(w, o->data, n, err);
        } else {
            guint8 *zeros = g_malloc0(n ? n : 1);
            s = pd_stw_write(w, zeros, n, err);
            g_free(zeros);
        }
    }
    g_array_free(outs, TRUE);
    g_free(extra);
    g_free(acted);
    if (s) {
        pd_stw_abort(w);
        return s;
    }
    return pd_stw_finish(w, err);
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first source of the first model manifest under the golden folder. */
static int golden_source(char **path, char **tokenizer, char **config)
{
    const char *dirs[] = {g_getenv("PALDIFF_GOLDEN"), g_getenv("PALDIFF_GOLDEN_DEFAULT")};
    for (size_t d = 0; d < 2; d++) {
        if (!dirs[d] || !g_file_test(dirs[d], G_FILE_TEST_IS_DIR))
            continue;
        GDir *dir = g_dir_open(dirs[d], 0, NULL);
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        const char *e;
        while (dir && (e = g_dir_read_name(dir)))
            g_ptr_array_add(names, g_strdup(e));
        if (dir)
            g_dir_close(dir);
        g_ptr_array_sort(names, cmp_names);
        int found = 0;
        for (guint i = 0; i < names->len && !found; i++) {
            char *mdir = g_build_filename(dirs[d], g_ptr_array_index(names, i), NULL);
            char *man = g_build_filename(mdir, "manifest.json", NULL);
            JsonParser *p = json_parser_new();
            if (json_parser_load_from_file(p, man, NULL)) {
                JsonObject *root = json_node_get_object(json_parser_get_root(p));
                if (json_object_has_member(root, "kind") &&
                    !strcmp(json_object_get_string_member(root, "kind"), "model")) {
                    JsonObject *so = json_array_get_object_element(json_object_get_array_member(root, "sources"), 0);
                    *path = g_build_filename(mdir, json_object_get_string_member(so, "path"), NULL);
                    *tokenizer = json_object_has_member(so, "tokenizer")
                                     ? g_build_filename(mdir, json_object_get_string_member(so, "tokenizer"), NULL)
                                     : NULL;
                    *config = json_object_has_member(so, "config")
                                  ? g_build_filename(mdir, json_object_get_string_member(so, "config"), NULL)
                                  : NULL;
                    found = 1;
                }
            }
            g_object_unref(p);
            g_free(man);
            g_free(mdir);
        }
        g_ptr_array_free(names, TRUE);
        if (found)
            return 1;
    }
    return 0;
}

int main(void)
{
    hostile_tally tally = {0};
    char *src = NULL, *tok = NULL, *cfg = NULL;
    if (!golden_source(&src, &tok, &cfg)) {
        printf("hostile-palettized: skipped, no golden model\n");
        return 77;
    }
    char *dir = g_dir_make_tmp("paldiff-hostile-pal-XXXXXX", NULL);
    char *good = g_build_filename(dir, "good.safetensors", NULL);
    char *path = g_build_filename(dir, "forged.safetensors", NULL);
    pd_model_options mo = {.tokenizer_dir = tok, .config_dir = cfg};
    pd_convert_options o;
    pd_convert_options_init(&o);
    o.bits = 4;
    o.model = &mo;
    pd_error err;
    pd_safetensors *st = NULL;
    char *target = NULL;
    if (pd_convert(src, &o, good, NULL, NULL, &err) || pd_st_open(good, &st, &err) || !(target = pick_target(st))) {
        fprintf(stderr, "hostile-palettized: cannot make the file to forge: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        const row *r = &rows[i];
        pd_error e = {0};
        const char *bad = NULL;
        if (forge(st, target, r, path, &e)) {
            bad = e.message;
        } else {
            pd_model *m = NULL;
            pd_status got = pd_model_open(path, NULL, &m, &e);
            bad = hostile_verdict(r->want, r->expect, path, got, &e);
            pd_model_free(m);
        }
        hostile_report(&tally, i + 1, r->what, r->want, e.message, 150, bad);
        if (g_getenv("HOSTILE_KEEP") && atoi(g_getenv("HOSTILE_KEEP")) == (int)i + 1) {
            char *keep = g_strconcat(path, ".kept", NULL);
            g_rename(path, keep);
            printf("kept %s\n", keep);
            g_free(keep);
        }
        g_unlink(path);
    }
    pd_st_close(st);
    g_unlink(good);
    g_rmdir(dir);
    g_free(target);
    g_free(good);
    g_free(path);
    g_free(dir);
    g_free(src);
    g_free(tok);
    g_free(cfg);
    return hostile_summary(&tally, "hostile-palettized");
}
