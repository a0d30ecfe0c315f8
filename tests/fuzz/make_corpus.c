/* make_corpus.c — writes the seed corpus under corpus/safetensors/.
 *
 *     ninja -C build tests/fuzz/make-fuzz-corpus
 *     build/tests/fuzz/make-fuzz-corpus tests/fuzz/corpus/safetensors
 *
 * Valid seeds come from the writer; broken ones are written byte by byte.
 * Each stays under 4 KB so libFuzzer mutates them quickly. Not run by the
 * tests: the seeds are committed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "io/st_writer.h"

static const char *out_dir;

static int fail(const char *what, const pd_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err ? err->message : "failed");
    return 1;
}

/* A file from a header and a data area of `data` patterned bytes. */
static int raw(const char *name, const char *header, size_t data)
{
    GString *s = g_string_new(NULL);
    uint64_t n = strlen(header);
    for (int i = 0; i < 8; i++)
        g_string_append_c(s, (char)(n >> (8 * i)));
    g_string_append(s, header);
    for (size_t i = 0; i < data; i++)
        g_string_append_c(s, (char)(i * 13 + 1));
    char *path = g_build_filename(out_dir, name, NULL);
    gboolean ok = g_file_set_contents(path, s->str, (gssize)s->len, NULL);
    g_free(path);
    g_string_free(s, TRUE);
    return ok ? 0 : fail(name, NULL);
}

static int written(const char *name, int variant)
{
    char *path = g_build_filename(out_dir, name, NULL);
    pd_error err;
    pd_st_writer *w;
    uint8_t bytes[256];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 7 + 3);
    if (pd_stw_begin(path, &w, &err) != PD_OK)
        return g_free(path), fail(name, &err);
    g_free(path);
    uint64_t total = 0;
    if (variant == 0) {
        pd_stw_metadata(w, "format", "pt", &err);
        pd_stw_add(w, "model.weight", PD_ST_F32, 2, (int64_t[]){2, 3}, &err);
        pd_stw_add(w, "model.bias", PD_ST_F16, 1, (int64_t[]){4}, &err);
        total = 24 + 8;
    } else if (variant == 1) {
        for (int d = 0; d < PD_ST_DTYPE_COUNT; d++) {
            char t[32];
            snprintf(t, sizeof t, "t.%s", pd_st_dtype_name(d));
            pd_stw_add(w, t, d, 1, (int64_t[]){2}, &err);
            total += 2 * pd_st_dtype_size(d);
        }
    } else if (variant == 2) {
        pd_stw_metadata(w, "note", "ümlaut \"quoted\"\n", &err);
        pd_stw_add(w, "scalar", PD_ST_F64, 0, NULL, &err);
        pd_stw_add(w, "empty", PD_ST_I32, 2, (int64_t[]){0, 3}, &err);
        pd_stw_add(w, "名前", PD_ST_BOOL, 1, (int64_t[]){3}, &err);
        pd_stw_add(w, "deep", PD_ST_U8, 8, (int64_t[]){1, 2, 1, 2, 1, 2, 1, 2}, &err);
        total = 8 + 0 + 3 + 16;
    }
    if (pd_stw_write_header(w, &err) != PD_OK || pd_stw_write(w, bytes, total, &err) != PD_OK)
        return pd_stw_abort(w), fail(name, &err);
    return pd_stw_finish(w, &err) == PD_OK ? 0 : fail(name, &err);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    int bad = 0;
    bad |= written("valid-basic.safetensors", 0);
    bad |= written("valid-all-dtypes.safetensors", 1);
    bad |= written("valid-scalar-empty-unicode.safetensors", 2);
    bad |= written("valid-no-tensors.safetensors", 3);
    bad |= raw("valid-escapes.safetensors",
               "{\"__metadata__\":{\"k\\u00e9\":\"\\ud83d\\ude00\\/\\t\"},"
               "\"a\\\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4],\"x\":[1.5e3,null]}}   ",
               4);
    bad |= raw("bad-overlap.safetensors",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12);
    bad |= raw("bad-duplicate.safetensors",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    bad |= raw("bad-size.safetensors",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    bad |= raw("bad-dtype-shape.safetensors",
               "{\"a\":{\"dtype\":\"F12\",\"shape\":[-1,2.5,\"3\"],\"data_offsets\":[0,10]}}", 8);
    bad |= raw("bad-metadata.safetensors", "{\"__metadata__\":{\"n\":1,\"o\":{}}}", 0);
    bad |= raw("bad-deep.safetensors",
               "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0);
    bad |= raw("bad-nul-name.safetensors",
               "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    /* A length prefix larger than the file. */
    char *path = g_build_filename(out_dir, "bad-length.safetensors", NULL);
    bad |= !g_file_set_contents(path, "\xff\x00\x00\x00\x00\x00\x00\x00{}", 10, NULL);
    g_free(path);
    return bad;
}
