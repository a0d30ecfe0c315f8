/* test_safetensors.c — writer → reader round trips, the writer's own errors,
 * and every .safetensors file of the golden folder when it is present.
 * Malformed files are tests/hostile/'s job.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "check.h"
#include "error.h"
#include "io/safetensors.h"
#include "io/st_writer.h"

static char *tmpdir;

static char *tmp_file(const char *name) { return g_build_filename(tmpdir, name, NULL); }

static void check_shape(const pd_st_tensor *t, pd_st_dtype dtype, int ndim, const int64_t *shape)
{
    CHECK_MSG(t != NULL, "tensor missing");
    if (!t)
        return;
    CHECK_MSG(t->dtype == dtype, "%s: dtype %s", t->name, pd_st_dtype_name(t->dtype));
    CHECK_MSG(t->ndim == ndim, "%s: ndim %d, want %d", t->name, t->ndim, ndim);
    int64_t numel = 1;
    for (int d = 0; d < ndim && d < t->ndim; d++) {
        CHECK_MSG(t->shape[d] == shape[d], "%s: shape[%d] = %" PRId64, t->name, d, t->shape[d]);
        numel *= shape[d];
    }
    CHECK_MSG(t->numel == numel, "%s: numel %" PRId64 ", want %" PRId64, t->name, t->numel, numel);
    CHECK(t->nbytes == (uint64_t)numel * pd_st_dtype_size(dtype));
}

static void test_dtype_table(void)
{
    static const char *const names[] = {"BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "I16", "U16",
                                        "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64"};
    static const size_t sizes[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
    for (int d = 0; d < PD_ST_DTYPE_COUNT; d++) {
        CHECK_MSG(strcmp(pd_st_dtype_name(d), names[d]) == 0, "dtype %d: %s", d, pd_st_dtype_name(d));
        CHECK(pd_st_dtype_size(d) == sizes[d]);
    }
    CHECK(pd_st_dtype_size(PD_ST_DTYPE_COUNT) == 0);
}

/* Checks everything the round-trip file below holds; used for both the
 * mapped and the in-memory path. */
static void check_roundtrip(const pd_safetensors *st, int *order_ok)
{
    const float a[6] = {1, 2, 3, 4, 5, 6};
    const uint16_t b[4] = {0x3c00, 0x4000, 0x4200, 0x4400};

    CHECK_MSG(pd_st_count(st) == 5 + PD_ST_DTYPE_COUNT, "count %zu", pd_st_count(st));
    const pd_st_tensor *t = pd_st_find(st, "a");
    check_shape(t, PD_ST_F32, 2, (int64_t[]){2, 3});
    CHECK(t && memcmp(t->data, a, sizeof a) == 0);
    CHECK(t && ((uintptr_t)t->data % 8) == 0);            /* header padded to 8 */
    t = pd_st_find(st, "名前.weight");
    check_shape(t, PD_ST_F16, 1, (int64_t[]){4});
    CHECK(t && memcmp(t->data, b, sizeof b) == 0);
    t = pd_st_find(st, "scalar");
    check_shape(t, PD_ST_F64, 0, NULL);
    CHECK(t && *(const double *)t->data == 2.5);
    check_shape(pd_st_find(st, "empty"), PD_ST_I32, 2, (int64_t[]){0, 5});
    t = pd_st_find(st, "hole");
    check_shape(t, PD_ST_U8, 2, (int64_t[]){3, 1000});
    bool zero = t != NULL;
    for (uint64_t i = 0; t && i < t->nbytes; i++)
        zero &= ((const uint8_t *)t->data)[i] == 0;
    CHECK_MSG(zero, "skipped bytes read as zeros");
    for (int d = 0; d < PD_ST_DTYPE_COUNT; d++) {
        char name[32];
        snprintf(name, sizeof name, "dtype.%s", pd_st_dtype_name(d));
        t = pd_st_find(st, name);
        check_shape(t, d, 1, (int64_t[]){3});
        bool ok = t != NULL;
        for (uint64_t i = 0; t && i < t->nbytes; i++)
            ok &= ((const uint8_t *)t->data)[i] == (uint8_t)(d * 16 + i);
        CHECK_MSG(ok, "%s bytes", name);
    }
    CHECK(pd_st_find(st, "absent") == NULL);
    CHECK(pd_st_find(st, "__metadata__") == NULL);

    /* pd_st_at: ascending offsets, contiguous. */
    const uint8_t *prev_end = NULL;
    *order_ok = 1;
    for (size_t i = 0; i < pd_st_count(st); i++) {
        t = pd_st_at(st, i);
        if (prev_end && (const uint8_t *)t->data != prev_end)
            *order_ok = 0;
        prev_end = (const uint8_t *)t->data + t->nbytes;
    }
    CHECK_MSG(*order_ok, "pd_st_at not in offset order");
    CHECK(strcmp(pd_st_at(st, 0)->name, "a") == 0);      /* declaration order */

    CHECK(pd_st_metadata(st, "format") && strcmp(pd_st_metadata(st, "format"), "pt") == 0);
    const char *note = pd_st_metadata(st, "note");
    CHECK_MSG(note && strcmp(note, "ä \"quoted\" \\ \x1f\n/end") == 0, "note: %s", note);
    CHECK(pd_st_metadata(st, "missing") == NULL);
    CHECK(pd_st_metadata_count(st) == 2);
    CHECK(pd_st_metadata_key(st, 0) && strcmp(pd_st_metadata_key(st, 0), "format") == 0);
    CHECK(pd_st_metadata_key(st, 1) && strcmp(pd_st_metadata_key(st, 1), "note") == 0);
    CHECK(pd_st_metadata_key(st, 2) == NULL);
}

static void test_roundtrip(void)
{
    char *path = tmp_file("rt.safetensors");
    pd_error err;
    pd_st_writer *w = NULL;
    const float a[6] = {1, 2, 3, 4, 5, 6};
    const uint16_t b[4] = {0x3c00, 0x4000, 0x4200, 0x4400};
    const double s = 2.5;

    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_metadata(w, "note", "ä \"quoted\" \\ \x1f\n/end", &err) == PD_OK);
    CHECK(pd_stw_metadata(w, "format", "pt", &err) == PD_OK);
    CHECK(pd_stw_add(w, "a", PD_ST_F32, 2, (int64_t[]){2, 3}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "名前.weight", PD_ST_F16, 1, (int64_t[]){4}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "scalar", PD_ST_F64, 0, NULL, &err) == PD_OK);
    CHECK(pd_stw_add(w, "empty", PD_ST_I32, 2, (int64_t[]){0, 5}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "hole", PD_ST_U8, 2, (int64_t[]){3, 1000}, &err) == PD_OK);
    for (int d = 0; d < PD_ST_DTYPE_COUNT; d++) {
        char name[32];
        snprintf(name, sizeof name, "dtype.%s", pd_st_dtype_name(d));
        CHECK(pd_stw_add(w, name, d, 1, (int64_t[]){3}, &err) == PD_OK);
    }
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_write(w, a, sizeof a, &err) == PD_OK);
    CHECK(pd_stw_write(w, b, sizeof b, &err) == PD_OK);
    CHECK(pd_stw_write(w, &s, sizeof s, &err) == PD_OK);
    CHECK(pd_stw_write(w, NULL, 0, &err) == PD_OK);      /* the empty tensor */
    CHECK(pd_stw_skip(w, 3000, &err) == PD_OK);
    for (int d = 0; d < PD_ST_DTYPE_COUNT; d++) {
        uint8_t bytes[24];
        for (size_t i = 0; i < sizeof bytes; i++)
            bytes[i] = (uint8_t)(d * 16 + i);
        CHECK(pd_stw_write(w, bytes, 3 * pd_st_dtype_size(d), &err) == PD_OK);
    }
    CHECK_MSG(pd_stw_finish(w, &err) == PD_OK, "%s", err.message);
    CHECK_MSG(check_dir_entries(tmpdir) == 1, "temporary file left behind");

    pd_safetensors *st = NULL;
    int order_ok = 0;
    CHECK_MSG(pd_st_open(path, &st, &err) == PD_OK, "%s", err.message);
    if (st) {
        CHECK(strcmp(pd_st_path(st), path) == 0);
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && pd_st_file_size(st) == (uint64_t)sb.st_size);
        check_roundtrip(st, &order_ok);
        pd_st_close(st);
    }

    /* The same image from memory. */
    char *buf = NULL;
    gsize len = 0;
    CHECK(g_file_get_contents(path, &buf, &len, NULL));
    st = NULL;
    CHECK_MSG(pd_st_parse("memory", buf, len, &st, &err) == PD_OK, "%s", err.message);
    if (st) {
        CHECK(strcmp(pd_st_path(st), "memory") == 0);
        check_roundtrip(st, &order_ok);
        pd_st_close(st);
    }
    g_free(buf);
    g_unlink(path);
    g_free(path);
}

/* Zero-size tensors share offsets; the order must not depend on the header's. */
static void test_zero_size_order(void)
{
    char *path = tmp_file("zero.safetensors");
    pd_error err;
    pd_st_writer *w = NULL;
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "z2", PD_ST_F32, 1, (int64_t[]){0}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "z1", PD_ST_F32, 1, (int64_t[]){0}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "x", PD_ST_U8, 1, (int64_t[]){8}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "z0", PD_ST_F32, 2, (int64_t[]){4, 0}, &err) == PD_OK);
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_write(w, "12345678", 8, &err) == PD_OK);
    CHECK_MSG(pd_stw_finish(w, &err) == PD_OK, "%s", err.message);

    pd_safetensors *st = NULL;
    CHECK_MSG(pd_st_open(path, &st, &err) == PD_OK, "%s", err.message);
    if (st) {
        const char *want[] = {"z1", "z2", "x", "z0"};
        CHECK(pd_st_count(st) == 4);
        for (size_t i = 0; i < 4 && i < pd_st_count(st); i++)
            CHECK_MSG(strcmp(pd_st_at(st, i)->name, want[i]) == 0, "at(%zu) = %s", i,
                      pd_st_at(st, i)->name);
        pd_st_close(st);
    }
    g_unlink(path);
    g_free(path);

    /* No tensors at all is a valid file too. */
    path = tmp_file("none.safetensors");
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_finish(w, &err) == PD_OK);
    st = NULL;
    CHECK_MSG(pd_st_open(path, &st, &err) == PD_OK, "%s", err.message);
    CHECK(st && pd_st_count(st) == 0 && pd_st_at(st, 0) == NULL && pd_st_metadata_count(st) == 0);
    pd_st_close(st);
    g_unlink(path);
    g_free(path);
}

/* A 5 GiB tensor made of one hole: cheap to write, reads as zeros. */
static void test_sparse_large(void)
{
    char *path = tmp_file("big.safetensors");
    pd_error err;
    pd_st_writer *w = NULL;
    const int64_t rows = 5 * 1024, cols = 1024 * 1024 / 4;  /* F32: 5 GiB */
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "big", PD_ST_F32, 2, (int64_t[]){rows, cols}, &err) == PD_OK);
    CHECK(pd_stw_add(w, "tail", PD_ST_U8, 1, (int64_t[]){3}, &err) == PD_OK);
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_skip(w, (uint64_t)rows * cols * 4, &err) == PD_OK);
    CHECK(pd_stw_skip(w, 3, &err) == PD_OK);               /* a trailing hole */
    CHECK_MSG(pd_stw_finish(w, &err) == PD_OK, "%s", err.message);

    pd_safetensors *st = NULL;
    CHECK_MSG(pd_st_open(path, &st, &err) == PD_OK, "%s", err.message);
    if (st) {
        const pd_st_tensor *t = pd_st_find(st, "big");
        check_shape(t, PD_ST_F32, 2, (int64_t[]){rows, cols});
        if (t) {
            const float *f = t->data;
            CHECK(f[0] == 0 && f[t->numel / 2] == 0 && f[t->numel - 1] == 0);
        }
        t = pd_st_find(st, "tail");
        CHECK(t && memcmp(t->data, "\0\0\0", 3) == 0);
        pd_st_close(st);
    }
    struct stat sb;
    if (stat(path, &sb) == 0)
        printf("sparse 5 GiB file: %" PRId64 " bytes, %" PRId64 " bytes on disk\n",
               (int64_t)sb.st_size, (int64_t)sb.st_blocks * 512);
    g_unlink(path);
    g_free(path);
}

static void test_writer_errors(void)
{
    char *path = tmp_file("bad.safetensors");
    pd_error err;
    pd_st_writer *w = NULL;

    /* More bytes than declared: fails, and so does everything after. */
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "a", PD_ST_U8, 1, (int64_t[]){2}, &err) == PD_OK);
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_write(w, "abc", 3, &err) == PD_E_ARG);
    CHECK(strstr(err.message, path) != NULL);
    CHECK(pd_stw_write(w, "ab", 2, &err) != PD_OK);
    CHECK(pd_stw_finish(w, &err) != PD_OK);
    CHECK_MSG(check_dir_entries(tmpdir) == 0, "failed finish left a file");

    /* Fewer bytes than declared. */
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "a", PD_ST_U8, 1, (int64_t[]){2}, &err) == PD_OK);
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_write(w, "a", 1, &err) == PD_OK);
    CHECK(pd_stw_finish(w, &err) == PD_E_ARG && strstr(err.message, "declared"));
    CHECK(check_dir_entries(tmpdir) == 0);

    /* Declarations the format cannot hold. */
    struct {
        const char *name;
        int dtype, ndim;
        int64_t shape[9];
    } bad[] = {
        {"", PD_ST_F32, 1, {1}},
        {"__metadata__", PD_ST_F32, 1, {1}},
        {"\xff", PD_ST_F32, 1, {1}},
        {"neg", PD_ST_F32, 1, {-1}},
        {"dims", PD_ST_F32, 9, {1, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"huge", PD_ST_F64, 2, {INT64_MAX / 2, 2}},
        {"dtype", PD_ST_DTYPE_COUNT, 1, {1}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
        CHECK_MSG(pd_stw_add(w, bad[i].name, bad[i].dtype, bad[i].ndim, bad[i].shape, &err) == PD_E_ARG,
                  "row %zu accepted", i);
        pd_stw_abort(w);
    }
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "a", PD_ST_F32, 0, NULL, &err) == PD_OK);
    CHECK(pd_stw_add(w, "a", PD_ST_F32, 0, NULL, &err) == PD_E_ARG && strstr(err.message, "'a'"));
    pd_stw_abort(w);
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_metadata(w, "k", "v", &err) == PD_OK);
    CHECK(pd_stw_metadata(w, "k", "w", &err) == PD_E_ARG);
    pd_stw_abort(w);
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_write_header(w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "late", PD_ST_F32, 0, NULL, &err) == PD_E_ARG);
    pd_stw_abort(w);
    CHECK(pd_stw_begin(path, &w, &err) == PD_OK);
    CHECK(pd_stw_add(w, "a", PD_ST_F32, 0, NULL, &err) == PD_OK);
    CHECK(pd_stw_write(w, "1234", 4, &err) == PD_E_ARG);   /* before the header */
    pd_stw_abort(w);
    CHECK_MSG(check_dir_entries(tmpdir) == 0, "abort left a file");

    /* A folder that does not exist. */
    char *nowhere = g_build_filename(tmpdir, "no", "such", "x.safetensors", NULL);
    w = NULL;
    CHECK(pd_stw_begin(nowhere, &w, &err) == PD_E_IO && w == NULL && strstr(err.message, nowhere));
    g_free(nowhere);
    g_free(path);
}

static void test_open_errors(void)
{
    pd_error err;
    pd_safetensors *st = (pd_safetensors *)&err;       /* must be reset to NULL */
    char *missing = tmp_file("missing.safetensors");
    CHECK(pd_st_open(missing, &st, &err) == PD_E_IO && st == NULL);
    CHECK(strstr(err.message, missing) != NULL);
    g_free(missing);

    CHECK(pd_st_open(tmpdir, &st, &err) == PD_E_IO && strstr(err.message, "folder"));

    char *empty = tmp_file("empty.safetensors");
    CHECK(g_file_set_contents(empty, "", 0, NULL));
    CHECK(pd_st_open(empty, &st, &err) == PD_E_FORMAT && st == NULL);
    CHECK(strstr(err.message, empty) && strstr(err.message, "0 bytes"));
    g_unlink(empty);
    g_free(empty);

    CHECK(pd_st_parse("nothing", NULL, 0, &st, &err) == PD_E_FORMAT);
    CHECK(strncmp(err.message, "nothing: ", 9) == 0);
}

static int golden_files;

static void open_all(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            open_all(p);
        } else if (g_str_has_suffix(name, ".safetensors")) {
            pd_safetensors *st = NULL;
            pd_error err;
            CHECK_MSG(pd_st_open(p, &st, &err) == PD_OK, "%s", err.message);
            pd_st_close(st);
            golden_files++;
        }
        g_free(p);
    }
    if (d)
        g_dir_close(d);
}

static void test_golden(void)
{
    const char *golden = check_golden_dir();
    if (!golden) {
        printf("golden folder not found: skipping real files\n");
        return;
    }
    open_all(golden);
    printf("golden: opened %d .safetensors files\n", golden_files);

    char *p = g_build_filename(golden, "sd15-tiny", "diffusers", "text_encoder",
                               "model.safetensors", NULL);
    if (g_file_test(p, G_FILE_TEST_EXISTS)) {
        pd_safetensors *st = NULL;
        pd_error err;
        CHECK_MSG(pd_st_open(p, &st, &err) == PD_OK, "%s", err.message);
        if (st) {
            check_shape(pd_st_find(st, "text_model.final_layer_norm.weight"), PD_ST_F32, 1,
                        (int64_t[]){8});
            CHECK(pd_st_metadata(st, "format") && !strcmp(pd_st_metadata(st, "format"), "pt"));
            pd_st_close(st);
        }
    }
    g_free(p);
}

int main(void)
{
    tmpdir = g_dir_make_tmp("paldiff-st-XXXXXX", NULL);
    if (!tmpdir) {
        fprintf(stderr, "cannot create a temporary folder\n");
        return 1;
    }
    test_dtype_table();
    test_roundtrip();
    test_zero_size_order();
    test_sparse_large();
    test_writer_errors();
    test_open_errors();
    test_golden();
    CHECK_MSG(check_dir_entries(tmpdir) == 0, "files left in %s", tmpdir);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return check_summary("unit-safetensors");
}
