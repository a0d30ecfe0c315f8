/* test_convert.c — palettizing models (convert/convert.h) and loading the
 * result (io/palettized.h): every golden model source, found by walking the
 * manifests, at every width, per tensor and per group. The result opens as a
 * palettized model of the same architecture; every palettized weight decodes
 * to values of its palettes; plain weights are the source's rounded to F16;
 * at 8 bits the UNet's output stays close to the source's; two conversions
 * give the same bytes; misuse is refused. Also the SHA-256 fast path against
 * GChecksum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "check.h"
#include "convert/convert.h"
#include "convert/sha256.h"
#include "io/model.h"
#include "io/palettized.h"
#include "kernels/palette.h"
#include "models/unet.h"

static char *tmpdir;

/* ---- SHA-256 ------------------------------------------------------------- */

static void test_sha256(void)
{
    size_t max = 3 * 64 * 1024 + 77;
    guint8 *buf = g_malloc(max);
    for (size_t i = 0; i < max; i++)
        buf[i] = (guint8)(i * 2654435761u >> 13);
    const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, max};
    for (size_t k = 0; k < G_N_ELEMENTS(lens); k++) {
        char want[65], got[65];
        GChecksum *gc = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(gc, buf, (gssize)lens[k]);
        g_strlcpy(want, g_checksum_get_string(gc), sizeof want);
        g_checksum_free(gc);
        for (int ni = 0; ni < 2; ni++) {
            pd_sha256 h;
            pd_sha256_init_with(&h, ni);
            /* in uneven pieces */
            for (size_t off = 0, step = 1; off < lens[k]; off += step, step = step * 3 + 1) {
                size_t n = lens[k] - off < step ? lens[k] - off : step;
                pd_sha256_update(&h, buf + off, n);
            }
            pd_sha256_hex(&h, got);
            CHECK_MSG(!strcmp(want, got), "sha256 of %zu bytes (ni %d): %s, want %s", lens[k], ni, got, want);
        }
    }
    g_free(buf);
}

/* ---- checking a converted file ---------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Every element of every PD_PAL weight is an entry of its row's palette. */
static int64_t check_decodes(const pd_model *m, const char *label)
{
    int64_t checked = 0;
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, m->weights[c]);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const pd_weight *w = &((const pd_model_tensor *)v)->w;
            if (w->dtype != PD_PAL)
                continue;
            int64_t rows = pd_weight_rows(w), cols = pd_weight_cols(w), K = (int64_t)1 << w->bits;
            float *pal = g_new(float, K), *row = g_new(float, cols);
            int bad = 0;
            for (int64_t r = 0; r < rows && !bad; r++) {
                if (r % w->group_size == 0) {
                    for (int64_t i = 0; i < K; i++)
                        pal[i] = pd_f16_to_f32(w->palette[(r / w->group_size) * K + i]);
                    qsort(pal, (size_t)K, sizeof *pal, cmp_float);
                }
                pd_weight_read(w, r, 0, cols, row);
                for (int64_t j = 0; j < cols && !bad; j++)
                    bad = !bsearch(&row[j], pal, (size_t)K, sizeof *pal, cmp_float);
            }
            CHECK_MSG(!bad, "%s: %s: a decoded value is not in its palette", label, (const char *)k);
            checked++;
            g_free(pal);
            g_free(row);
        }
    }
    return checked;
}

/* Plain weights equal the source's, rounded to F16; palettized ones keep the
 * source's shape. */
static void check_against_source(const pd_model *src, const pd_model *dst, const char *label)
{
    int64_t missing = 0, wrong = 0;
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, dst->weights[c]);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const pd_weight *w = &((const pd_model_tensor *)v)->w;
            const pd_model_tensor *s = g_hash_table_lookup(src->weights[c], k);
            if (!s) {
                missing++;
                continue;
            }
            if (w->ndim != s->w.ndim || memcmp(w->shape, s->w.shape, sizeof(int64_t) * (size_t)w->ndim)) {
                wrong++;
                continue;
            }
            if (w->dtype != PD_F16)
                continue;
            int64_t cols = pd_weight_cols(w);
            float *a = g_new(float, cols), *b = g_new(float, cols);
            for (int64_t r = 0; r < pd_weight_rows(w); r++) {
                pd_weight_read(w, r, 0, cols, a);
                pd_weight_read(&s->w, r, 0, cols, b);
                for (int64_t j = 0; j < cols; j++)
                    if (a[j] != pd_f16_to_f32(pd_f32_to_f16(b[j]))) {
                        wrong++;
                        r = pd_weight_rows(w);
                        break;
                    }
            }
            g_free(a);
            g_free(b);
        }
    }
    CHECK_MSG(missing == 0 && wrong == 0, "%s: %lld weights not in the source, %lld differ", label,
              (long long)missing, (long long)wrong);
}

/* The UNet on a fixed made-up input; out: B·h·w·4 floats. */
static int unet_run(const pd_model *m, int B, int h, int w, float *out, const char *label)
{
    pd_unet *u;
    pd_error err;
    if (pd_unet_load(m, &u, &err)) {
        CHECK_MSG(0, "%s: %s", label, err.message);
        return 0;
    }
    const pd_unet_config *cfg = pd_unet_get_config(u);
    int C = cfg->in_channels, D = cfg->cross_dim, T = 77;
    float *x = g_new(float, (size_t)B * h * w * C), *ctx = g_new(float, (size_t)B * T * D);
    for (size_t i = 0; i < (size_t)B * h * w * C; i++)
        x[i] = sinf((float)i * 0.37f);
    for (size_t i = 0; i < (size_t)B * T * D; i++)
        ctx[i] = cosf((float)i * 0.11f);
    pd_status s = pd_unet_forward(u, B, h, w, x, 500.0f, ctx, T, out, &err);
    CHECK_MSG(s == PD_OK, "%s: unet: %s", label, err.message);
    g_free(x);
    g_free(ctx);
    pd_unet_free(u);
    return s == PD_OK;
}

static gboolean file_bytes_equal(const char *a, const char *b)
{
    gchar *x = NULL, *y = NULL;
    gsize nx = 0, ny = 0;
    gboolean eq = g_file_get_contents(a, &x, &nx, NULL) && g_file_get_contents(b, &y, &ny, NULL) && nx == ny &&
                  memcmp(x, y, nx) == 0;
    g_free(x);
    g_free(y);
    return eq;
}

typedef struct source {
    char *label, *path, *tokenizer, *config, *arch;
} source;

static void convert_source(const source *s)
{
    pd_model_options mo = {.tokenizer_dir = s->tokenizer, .config_dir = s->config};
    pd_model *src;
    pd_error err;
    if (pd_model_open(s->path, &mo, &src, &err)) {
        CHECK_MSG(0, "%s: %s", s->label, err.message);
        return;
    }
    enum { B = 1, H = 8, W = 8 };
    float *ref = g_new(float, B * H * W * 4), *got = g_new(float, B * H * W * 4);
    int have_ref = unet_run(src, B, H, W, ref, s->label);
    static const int widths[] = {8, 6, 4, 3, 2};
    for (int g = 0; g < 2; g++)
        for (size_t bi = 0; bi < G_N_ELEMENTS(widths); bi++) {
            pd_convert_options o;
            pd_convert_options_init(&o);
            o.bits = widths[bi];
            o.granularity = g ? PD_GRANULARITY_GROUP : PD_GRANULARITY_TENSOR;
            o.group_size = 8;
            /* k-means per tensor, uniform grids per group: both modes and both
             * layouts, at half the k-means work of every combination */
            o.mode = g ? PD_PAL_UNIFORM : PD_PAL_KMEANS;
            o.model = &mo;
            char *label = g_strdup_printf("%s at %d bits per %s (%s)", s->label, o.bits, g ? "group" : "tensor",
                                          g ? "uniform" : "k-means");
            char *dst = g_build_filename(tmpdir, "out.safetensors", NULL);
            pd_status st = pd_convert(s->path, &o, dst, NULL, NULL, &err);
            CHECK_MSG(st == PD_OK, "%s: %s", label, err.message);
            pd_model *m = NULL;
            if (!st && (st = pd_model_open(dst, NULL, &m, &err)))
                CHECK_MSG(0, "%s: reopening: %s", label, err.message);
            if (m) {
                pd_model_info in;
                pd_model_get_info(m, &in);
                CHECK_MSG(!strcmp(in.layout, "palettized") && !strcmp(in.arch, s->arch), "%s: layout %s arch %s",
                          label, in.layout, in.arch);
                int64_t pal = 0;
                for (int c = 0; c < PD_COMPONENT_COUNT; c++)
                    pal += in.components[c].params_by_dtype[PD_WDTYPE_PAL];
                CHECK_MSG(pal > 0 && in.components[PD_COMPONENT_UNET].params_by_dtype[PD_WDTYPE_PAL] > 0,
                          "%s: no palettized parameters", label);
                CHECK_MSG(in.prediction == src->prediction, "%s: prediction type lost", label);
                CHECK_MSG(m->text_cfg.run_layers == src->text_cfg.run_layers &&
                              m->text_cfg.heads == src->text_cfg.heads,
                          "%s: text encoder runs %d layers of %d heads, the source %d of %d", label,
                          m->text_cfg.run_layers, m->text_cfg.heads, src->text_cfg.run_layers, src->text_cfg.heads);
                CHECK_MSG((m->tokenizer != NULL) == (src->tokenizer != NULL), "%s: tokenizer lost", label);
                for (int c = 0; c < PD_COMPONENT_COUNT; c++)
                    CHECK_MSG(!src->configs[c] || m->configs[c], "%s: %s config lost", label,
                              pd_component_label(c));
                CHECK_MSG(check_decodes(m, label) > 0, "%s: no PD_PAL weight", label);
                if (widths[bi] == 6 && !g)
                    check_against_source(src, m, label);
                if (widths[bi] == 8 && have_ref && unet_run(m, B, H, W, got, label)) {
                    double amax = 0, emax = 0;
                    for (int i = 0; i < B * H * W * 4; i++) {
                        amax = fmax(amax, fabs(ref[i]));
                        emax = fmax(emax, fabs(ref[i] - got[i]));
                    }
                    /* 8-bit palettes: the output moves by a few percent of its range at most
                     * (random tiny weights amplify: 3.2 % seen) */
                    CHECK_MSG(emax <= 0.08 * amax, "%s: UNet output differs by %g (max |ref| %g)", label, emax,
                              amax);
                }
                if (widths[bi] == 4 && g) { /* determinism */
                    char *again = g_build_filename(tmpdir, "again.safetensors", NULL);
                    CHECK_MSG(pd_convert(s->path, &o, again, NULL, NULL, &err) == PD_OK, "%s: %s", label,
                              err.message);
                    CHECK_MSG(file_bytes_equal(dst, again), "%s: two conversions differ", label);
                    g_unlink(again);
                    g_free(again);
                }
                pd_model_free(m);
            }
            g_unlink(dst);
            g_free(dst);
            g_free(label);
        }
    g_free(ref);
    g_free(got);
    pd_model_free(src);
}

/* Misuse: refused, naming what is wrong, leaving nothing behind. */
static void test_refusals(const source *s)
{
    pd_model_options mo = {.tokenizer_dir = s->tokenizer, .config_dir = s->config};
    pd_convert_options o;
    pd_convert_options_init(&o);
    o.model = &mo;
    pd_error err;
    char *dst = g_build_filename(tmpdir, "refused.safetensors", NULL);
    o.bits = 7;
    CHECK(pd_convert(s->path, &o, dst, NULL, NULL, &err) == PD_E_ARG && strstr(err.message, "bits 7"));
    o.bits = 4;
    o.granularity = PD_GRANULARITY_GROUP;
    o.group_size = 3; /* divides none of the tiny models' channel counts */
    pd_status st = pd_convert(s->path, &o, dst, NULL, NULL, &err);
    CHECK_MSG(st == PD_E_ARG && strstr(err.message, "tensor '") && strstr(err.message, "groups of 3"), "%s: %s",
              s->label, err.message);
    CHECK(!g_file_test(dst, G_FILE_TEST_EXISTS));
    o.group_size = 0;
    CHECK(pd_convert(s->path, &o, dst, NULL, NULL, &err) == PD_E_ARG);
    o.granularity = PD_GRANULARITY_TENSOR;
    CHECK(pd_convert(s->path, &o, s->path, NULL, NULL, &err) == PD_E_ARG);
    /* nothing but the refused names in the folder: no spool or temporary file */
    int n = check_dir_entries(tmpdir);
    CHECK_MSG(n == 0, "%d files left in %s", n, tmpdir);
    g_free(dst);
}

static void source_free(source *s)
{
    g_free(s->label);
    g_free(s->path);
    g_free(s->tokenizer);
    g_free(s->config);
    g_free(s->arch);
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    test_sha256();
    const char *golden = check_golden_dir();
    if (!golden) {
        fprintf(stderr, "unit-convert: no golden folder; model conversions skipped\n");
        return check_summary("unit-convert");
    }
    tmpdir = g_dir_make_tmp("paldiff-convert-XXXXXX", NULL);
    GDir *dir = g_dir_open(golden, 0, NULL);
    const char *entry;
    int models = 0, refusals = 0;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    while (dir && (entry = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(entry));
    if (dir)
        g_dir_close(dir);
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len; i++) {
        char *mdir = g_build_filename(golden, g_ptr_array_index(names, i), NULL);
        char *manifest = g_build_filename(mdir, "manifest.json", NULL);
        JsonParser *p = json_parser_new();
        if (g_file_test(manifest, G_FILE_TEST_IS_REGULAR) && json_parser_load_from_file(p, manifest, NULL)) {
            JsonObject *root = json_node_get_object(json_parser_get_root(p));
            if (json_object_has_member(root, "kind") &&
                !strcmp(json_object_get_string_member(root, "kind"), "model")) {
                JsonArray *srcs = json_object_get_array_member(root, "sources");
                for (guint k = 0; k < json_array_get_length(srcs); k++) {
                    JsonObject *so = json_array_get_object_element(srcs, k);
                    source s = {0};
                    s.label = g_strdup_printf("%s/%s", (const char *)g_ptr_array_index(names, i),
                                              json_object_get_string_member(so, "name"));
                    s.path = g_build_filename(mdir, json_object_get_string_member(so, "path"), NULL);
                    if (json_object_has_member(so, "tokenizer"))
                        s.tokenizer = g_build_filename(mdir, json_object_get_string_member(so, "tokenizer"), NULL);
                    if (json_object_has_member(so, "config"))
                        s.config = g_build_filename(mdir, json_object_get_string_member(so, "config"), NULL);
                    s.arch = g_strdup(json_object_get_string_member(root, "arch"));
                    convert_source(&s);
                    if (!refusals++)
                        test_refusals(&s);
                    source_free(&s);
                }
                models++;
            }
        }
        g_object_unref(p);
        g_free(manifest);
        g_free(mdir);
    }
    g_ptr_array_free(names, TRUE);
    CHECK_MSG(models > 0, "no model manifests under %s", golden);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return check_summary("unit-convert");
}
