/* test_model.c — opening models: architecture detection, prediction type,
 * parameter counts against the full-size shape manifests, and the errors a
 * broken model must give (by name, never a crash). */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "check.h"
#include "io/model.h"
#include "io/st_writer.h"
#include "io/synth.h"
#include "paldiff.h"

static char *tmp;

static JsonObject *load_json(JsonParser *p, const char *path)
{
    if (!json_parser_load_from_file(p, path, NULL))
        return NULL;
    return json_node_get_object(json_parser_get_root(p));
}

/* Full-size models from golden/shapes/ (every manifest), in both layouts, as sparse files. */
static void test_shape_manifests(const char *golden)
{
    char *dir = g_build_filename(golden, "shapes", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    int seen = 0;
    while (d && (name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".json"))
            continue;
        seen++;
        char *path = g_build_filename(dir, name, NULL);
        JsonParser *p = json_parser_new();
        JsonObject *man = load_json(p, path);
        CHECK_MSG(man != NULL, "%s parses", path);
        if (!man) {
            g_object_unref(p);
            g_free(path);
            continue;
        }
        const char *arch = json_object_get_string_member(man, "arch");
        const char *pred = json_object_get_string_member(man, "prediction_type");
        JsonObject *params = json_object_get_object_member(man, "params");
        for (int layout = PD_LAYOUT_DIFFUSERS; layout <= PD_LAYOUT_ORIGINAL; layout++) {
            char *out = g_strdup_printf("%s/%s-%d%s", tmp, name, layout, layout ? ".safetensors" : "");
            pd_synth_options o = {.layout = (pd_layout)layout, .dtype = PD_ST_F16};
            pd_error err;
            pd_model *m = NULL;
            pd_status st = pd_synth_model(path, out, &o, &err);
            CHECK_MSG(st == PD_OK, "synth %s: %s", out, err.message);
            if (!st)
                st = pd_model_open(out, NULL, &m, &err);
            CHECK_MSG(st == PD_OK, "open %s: %s", out, err.message);
            if (m) {
                pd_model_info in;
                pd_model_get_info(m, &in);
                CHECK_MSG(!strcmp(in.arch, arch), "%s: arch %s, manifest says %s", out, in.arch, arch);
                if (layout == PD_LAYOUT_DIFFUSERS)
                    CHECK_MSG((in.prediction == PD_PREDICT_V) == !strcmp(pred, "v_prediction"),
                              "%s: prediction", out);
                static const char *const comp[] = {"text_encoder", "unet", "vae"};
                for (int c = PD_COMPONENT_UNET; c < PD_COMPONENT_COUNT; c++)
                    CHECK_MSG(in.components[c].params == json_object_get_int_member(params, comp[c]),
                              "%s: %s has %lld params, manifest %lld", out, comp[c],
                              (long long)in.components[c].params,
                              (long long)json_object_get_int_member(params, comp[c]));
                int64_t text = json_object_get_int_member(params, "text_encoder");
                /* A single file keeps OpenCLIP's last layer, which SD 2.x does not run. */
                CHECK_MSG(layout == PD_LAYOUT_DIFFUSERS ? in.components[0].params == text
                                                        : in.components[0].params >= text,
                          "%s: text encoder has %lld params, manifest %lld", out,
                          (long long)in.components[0].params, (long long)text);
                JsonObject *tc = json_object_get_object_member(
                    json_object_get_object_member(man, "config"), "text_encoder");
                CHECK_MSG(in.text_layers == json_object_get_int_member(tc, "num_hidden_layers") &&
                          in.text_width == json_object_get_int_member(tc, "hidden_size"),
                          "%s: text encoder runs %d layers of width %d", out, in.text_layers, in.text_width);
                pd_model_free(m);
            }
            g_free(out);
        }
        g_object_unref(p);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    CHECK_MSG(seen > 0, "no shape manifests in %s", dir);
    g_free(dir);
}

/* Every source of every golden model opens and is recognized. */
static void test_golden_models(const char *golden)
{
    GDir *d = g_dir_open(golden, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *mdir = g_build_filename(golden, name, NULL);
        char *mpath = g_build_filename(mdir, "manifest.json", NULL);
        JsonParser *p = json_parser_new();
        JsonObject *man = g_file_test(mpath, G_FILE_TEST_IS_REGULAR) ? load_json(p, mpath) : NULL;
        if (man && !strcmp(json_object_get_string_member(man, "kind"), "model")) {
            JsonArray *srcs = json_object_get_array_member(man, "sources");
            for (guint i = 0; i < json_array_get_length(srcs); i++) {
                JsonObject *s = json_array_get_object_element(srcs, i);
                char *path = g_build_filename(mdir, json_object_get_string_member(s, "path"), NULL);
                char *cfg = json_object_has_member(s, "config")
                                ? g_build_filename(mdir, json_object_get_string_member(s, "config"), NULL) : NULL;
                pd_model_options o = {.config_dir = cfg};
                pd_model *m;
                pd_error err;
                pd_status st = pd_model_open(path, &o, &m, &err);
                CHECK_MSG(st == PD_OK, "open %s: %s", path, err.message);
                if (!st) {
                    pd_model_info in;
                    pd_model_get_info(m, &in);
                    CHECK_MSG(!strcmp(in.arch, json_object_get_string_member(man, "arch")), "%s: arch %s", path, in.arch);
                    CHECK_MSG((in.prediction == PD_PREDICT_V) ==
                              !strcmp(json_object_get_string_member(man, "prediction_type"), "v_prediction"),
                              "%s: prediction", path);
                    CHECK_MSG(!strcmp(in.layout, json_object_get_string_member(s, "layout")), "%s: layout", path);
                    /* Single files: no tokenizer/ beside them and none named, so prompts can't be encoded. */
                    int32_t ids[PD_TOKENS];
                    if (!in.tokenizer_dir) {
                        st = pd_tokenize(m, "a cat", ids, &err);
                        CHECK_MSG(st == PD_E_MODEL && strstr(err.message, "tokenizer"), "%s: %s", path, err.message);
                    }
                    pd_model_free(m);
                }
                g_free(cfg);
                g_free(path);
            }
        }
        g_object_unref(p);
        g_free(mpath);
        g_free(mdir);
    }
    if (d)
        g_dir_close(d);
}

/* Copies a single file, dropping `drop` and giving `reshape` a wrong first dimension. */
static int copy_altered(const char *src, const char *dst, const char *drop, const char *reshape)
{
    pd_safetensors *st;
    pd_st_writer *w;
    pd_error err;
    if (pd_st_open(src, &st, &err) || pd_stw_begin(dst, &w, &err))
        return 0;
    int ok = 1;
    for (size_t i = 0; i < pd_st_count(st) && ok; i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        if (drop && !strcmp(t->name, drop))
            continue;
        int64_t shape[PD_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if (reshape && !strcmp(t->name, reshape))
            shape[0] = 1;
        ok = !pd_stw_add(w, t->name, t->dtype, t->ndim, shape, &err);
    }
    ok = ok && !pd_stw_write_header(w, &err);
    for (size_t i = 0; i < pd_st_count(st) && ok; i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        if (drop && !strcmp(t->name, drop))
            continue;
        size_t n = t->nbytes;
        if (reshape && !strcmp(t->name, reshape))
            n /= (size_t)t->shape[0];
        ok = !pd_stw_write(w, t->data, n, &err);
    }
    if (ok)
        ok = !pd_stw_finish(w, &err);
    else
        pd_stw_abort(w);
    pd_st_close(st);
    return ok;
}

static void expect_error(const char *path, const pd_model_options *o, pd_status want, const char *needle)
{
    pd_model *m;
    pd_error err;
    pd_status st = pd_model_open(path, o, &m, &err);
    CHECK_MSG(st == want && strstr(err.message, needle), "%s: got %s \"%s\", expected %s with '%s'", path,
              pd_status_name(st), st ? err.message : "", pd_status_name(want), needle);
    if (!st)
        pd_model_free(m);
}

static void test_broken_models(const char *golden)
{
    char *src = g_build_filename(golden, "sd15-tiny", "model-f32.safetensors", NULL);
    char *cfg = g_build_filename(golden, "sd15-tiny", "diffusers", NULL);
    pd_model_options o = {.config_dir = cfg};
    if (!g_file_test(src, G_FILE_TEST_IS_REGULAR)) {
        printf("(%s absent: broken-model cases need it)\n", src);
        CHECK(0);
    } else {
        char *dst = g_build_filename(tmp, "broken.safetensors", NULL);
        const char *fc1 = "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc1.weight";
        CHECK(copy_altered(src, dst, fc1, NULL));
        expect_error(dst, &o, PD_E_MODEL, "text_model.encoder.layers.1.mlp.fc1.weight' is missing");
        CHECK(copy_altered(src, dst, NULL, fc1));
        expect_error(dst, &o, PD_E_MODEL, "has shape [1, 8], expected [32, 8]");
        CHECK(copy_altered(src, dst, "model.diffusion_model.input_blocks.0.0.weight", NULL));
        expect_error(dst, &o, PD_E_MODEL, "no Stable Diffusion UNet");
        g_free(dst);
    }
    char *ckpt = g_build_filename(tmp, "model.ckpt", NULL);
    g_file_set_contents(ckpt, "\x80\x02}q\x00.", 6, NULL);
    expect_error(ckpt, NULL, PD_E_UNSUPPORTED, "pickled");
    char *empty = g_build_filename(tmp, "emptydir", NULL);
    g_mkdir(empty, 0755);
    expect_error(empty, NULL, PD_E_MODEL, "model_index.json");
    expect_error("/nonexistent/model", NULL, PD_E_IO, "no such file");
    g_free(ckpt);
    g_free(empty);
    g_free(src);
    g_free(cfg);
}

int main(void)
{
    const char *golden = check_golden_dir();
    if (!golden) {
        printf("unit-model: skipped, no golden folder (set PALDIFF_GOLDEN)\n");
        return 77;
    }
    tmp = g_dir_make_tmp("paldiff-model-XXXXXX", NULL);
    test_golden_models(golden);
    test_broken_models(golden);
    test_shape_manifests(golden);
    pd_synth_remove_folder(tmp);
    g_free(tmp);
    return check_summary("unit-model");
}
