/* test_recipe.c — mixed-bit recipes (convert/recipe.h) on every golden model
 * (the first source of each manifest), with what they rest on:
 * pd_model_swap_weight and eval's UNet-only comparisons.
 * - The search leaves the model's descriptors as they were; widths are
 *   allowed ones; the average never exceeds the target and comes within one
 *   width step of it; 2 and 16 bits are all-2 and all-float16; the
 *   prediction never falls below uniform palettization that fits the same
 *   budget; more bits never predict worse.
 * - Converting with the recipe writes exactly its widths (16: float16), and
 *   the file generates an image.
 * - Measured, not predicted: the mixed 4-bit file's one-step UNet output
 *   beats the uniform 4-bit file's (PSNR against the float model).
 * - Bad targets and sizes, a recipe for another model or with a width the
 *   format lacks, an inpainting model are refused with messages.
 */
#include <math.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "check.h"
#include "convert/convert.h"
#include "convert/recipe.h"
#include "eval/eval.h"
#include "io/model.h"

static char *tmpdir;

static void test_swap(pd_model *m, const char *label)
{
    pd_error err;
    pd_weight orig;
    int64_t shape[2] = {-1, -1};
    if (pd_model_weight(m, PD_COMPONENT_UNET, "time_embedding.linear_2.weight", 2, shape, &orig, &err)) {
        CHECK_MSG(0, "%s: %s", label, err.message);
        return;
    }
    float dummy = 0;
    pd_weight w = orig;
    w.data = &dummy;
    pd_weight wrong = w;
    wrong.shape[0]++;
    CHECK(pd_model_swap_weight(m, PD_COMPONENT_UNET, "time_embedding.linear_2.weight", &wrong, &err) == PD_E_ARG &&
          strstr(err.message, "another shape"));
    CHECK(pd_model_swap_weight(m, PD_COMPONENT_UNET, "no.such.weight", &w, &err) == PD_E_ARG &&
          strstr(err.message, "missing"));
    CHECK(pd_model_swap_weight(m, PD_COMPONENT_UNET, "time_embedding.linear_2.weight", &w, &err) == PD_OK);
    pd_weight now;
    pd_model_weight(m, PD_COMPONENT_UNET, "time_embedding.linear_2.weight", 2, shape, &now, &err);
    CHECK_MSG(now.data == &dummy && w.data == orig.data, "%s: swap did not exchange", label);
    CHECK(pd_model_swap_weight(m, PD_COMPONENT_UNET, "time_embedding.linear_2.weight", &w, &err) == PD_OK);
    pd_model_weight(m, PD_COMPONENT_UNET, "time_embedding.linear_2.weight", 2, shape, &now, &err);
    CHECK_MSG(now.data == orig.data && w.data == &dummy, "%s: a second swap did not restore", label);
}

/* Every UNet descriptor's data pointer, to see that a search restores them. */
static GHashTable *unet_pointers(const pd_model *m)
{
    GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, m->weights[PD_COMPONENT_UNET]);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(h, k, (gpointer)((const pd_model_tensor *)v)->w.data);
    return h;
}

static int same_pointers(const pd_model *m, GHashTable *before)
{
    GHashTable *now = unet_pointers(m);
    int same = g_hash_table_size(now) == g_hash_table_size(before);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, before);
    while (same && g_hash_table_iter_next(&it, &k, &v))
        same = g_hash_table_lookup(now, k) == v;
    g_hash_table_destroy(now);
    return same;
}

static pd_recipe *search(pd_model *m, double target, const char *label)
{
    pd_recipe_options o;
    pd_recipe_options_init(&o);
    o.target_bits = target;
    o.size = 32;
    pd_recipe *r = NULL;
    pd_error err;
    GHashTable *before = unet_pointers(m);
    pd_status s = pd_recipe_search(m, &o, &r, &err);
    CHECK_MSG(s == PD_OK && r, "%s at %g bits: %s", label, target, s ? err.message : "");
    CHECK_MSG(same_pointers(m, before), "%s at %g bits: the model's descriptors were not restored", label, target);
    g_hash_table_destroy(before);
    if (!r)
        return NULL;
    double sum = 0;
    for (int l = 0; l < r->n_layers; l++) {
        int b = r->layers[l].bits, ok = 0;
        for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
            ok |= b == pd_recipe_widths[w];
        CHECK_MSG(ok, "%s: %s at %d bits", label, r->layers[l].name, b);
        CHECK(pd_recipe_find(r, r->layers[l].name) == &r->layers[l]);
        sum += (double)b * (double)r->layers[l].numel;
    }
    CHECK(pd_recipe_find(r, "unet.no.such.weight") == NULL);
    CHECK_MSG(fabs(sum / (double)r->numel - r->average_bits) < 1e-9, "%s: average %g, layers say %g", label,
              r->average_bits, sum / (double)r->numel);
    /* within budget, and close: the largest width step is 8 (8 → 16) */
    CHECK_MSG(r->average_bits <= target + 1e-9 && r->average_bits >= target - 8, "%s: %g bits for a target of %g",
              label, r->average_bits, target);
    for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
        if (pd_recipe_widths[w] <= target)
            CHECK_MSG(r->predicted_db >= r->uniform_db[w] - 1e-9, "%s at %g bits: predicted %.2f dB, uniform %d-bit %.2f",
                      label, target, r->predicted_db, pd_recipe_widths[w], r->uniform_db[w]);
    CHECK_MSG(!isnan(r->measured_db) && r->unet_calls > r->n_layers / 2, "%s: measured %g dB in %lld calls", label,
              r->measured_db, (long long)r->unet_calls);
    return r;
}

/* One-step UNet PSNR of a converted file against the float model. */
static double unet_db(const pd_eval_ref *ref, const char *path, const char *label)
{
    pd_model *m;
    pd_error err;
    if (pd_model_open(path, NULL, &m, &err)) {
        CHECK_MSG(0, "%s: %s", label, err.message);
        return NAN;
    }
    pd_eval_result res;
    pd_status s = pd_eval_compare(ref, m, &res, &err);
    CHECK_MSG(s == PD_OK, "%s: %s", label, err.message);
    pd_model_free(m);
    return s ? NAN : pd_psnr_db(&res.psnr[PD_EVAL_UNET]);
}

static void check_file(const pd_recipe *r, const char *path, const char *label)
{
    pd_model *m;
    pd_error err;
    if (pd_model_open(path, NULL, &m, &err)) {
        CHECK_MSG(0, "%s: %s", label, err.message);
        return;
    }
    for (int l = 0; l < r->n_layers; l++) {
        const char *name = r->layers[l].name + strlen("unet.");
        const pd_model_tensor *t = g_hash_table_lookup(m->weights[PD_COMPONENT_UNET], name);
        CHECK_MSG(t, "%s: %s missing", label, name);
        if (!t)
            continue;
        pd_weight w = t->w;
        int want = r->layers[l].bits;
        CHECK_MSG(want == 16 ? w.dtype == PD_F16 : (w.dtype == PD_PAL && w.bits == want), "%s: %s is %d/%d, recipe %d",
                  label, name, (int)w.dtype, w.bits, want);
    }
    pd_generate_params p;
    pd_generate_params_init(&p);
    p.prompt = "a fox";
    p.width = p.height = 32;
    p.steps = 2;
    pd_result res;
    pd_status s = pd_generate(m, &p, &res, &err);
    CHECK_MSG(s == PD_OK, "%s: generate: %s", label, err.message);
    if (!s)
        pd_result_free(&res);
    pd_model_free(m);
}

static void test_model(const char *path, const char *label)
{
    pd_model *m;
    pd_error err;
    if (pd_model_open(path, NULL, &m, &err)) {
        CHECK_MSG(0, "%s: %s", label, err.message);
        return;
    }
    test_swap(m, label);
    pd_recipe_options o;
    pd_recipe_options_init(&o);
    o.size = 32;
    pd_recipe *r = NULL;
    if (m->inpaint) {
        CHECK_MSG(pd_recipe_search(m, &o, &r, &err) == PD_E_UNSUPPORTED && !r && strstr(err.message, "inpainting"),
                  "%s: %s", label, err.message);
        pd_model_free(m);
        return;
    }
    static const double bad_targets[] = {1.99, 16.5, NAN};
    for (size_t i = 0; i < G_N_ELEMENTS(bad_targets); i++) {
        o.target_bits = bad_targets[i];
        CHECK(pd_recipe_search(m, &o, &r, &err) == PD_E_ARG && !r && strstr(err.message, "target"));
    }
    pd_recipe_options_init(&o);
    o.size = 12;
    CHECK(pd_recipe_search(m, &o, &r, &err) == PD_E_ARG && !r && strstr(err.message, "size 12"));

    double last = -INFINITY;
    static const double targets[] = {2, 3.5, 4, 4.5, 8, 16};
    for (size_t i = 0; i < G_N_ELEMENTS(targets); i++) {
        pd_recipe *x = search(m, targets[i], label);
        if (!x)
            continue;
        CHECK_MSG(x->predicted_db >= last - 1e-9, "%s: %g bits predict %.2f dB, fewer bits %.2f", label, targets[i],
                  x->predicted_db, last);
        last = x->predicted_db;
        for (int l = 0; l < x->n_layers; l++)
            if (targets[i] == 2 || targets[i] == 16)
                CHECK_MSG(x->layers[l].bits == targets[i], "%s: %s at %d bits for a target of %g", label,
                          x->layers[l].name, x->layers[l].bits, targets[i]);
        if (targets[i] == 16) { /* every UNet weight kept float16 in the file */
            pd_convert_options co;
            pd_convert_options_init(&co);
            co.recipe = x;
            char *dst = g_build_filename(tmpdir, "f16.safetensors", NULL);
            CHECK_MSG(pd_convert(path, &co, dst, NULL, NULL, &err) == PD_OK, "%s: %s", label, err.message);
            check_file(x, dst, label);
            g_unlink(dst);
            g_free(dst);
        }
        if (targets[i] == 4)
            r = x;
        else
            pd_recipe_free(x);
    }
    if (r) {
        /* the recipe's widths in the file; it generates; it beats uniform 4-bit */
        pd_convert_options co;
        pd_convert_options_init(&co);
        co.bits = 4;
        co.recipe = r;
        char *mixed = g_build_filename(tmpdir, "mixed.safetensors", NULL);
        char *uniform = g_build_filename(tmpdir, "uniform.safetensors", NULL);
        CHECK_MSG(pd_convert(path, &co, mixed, NULL, NULL, &err) == PD_OK, "%s: %s", label, err.message);
        check_file(r, mixed, label);
        co.recipe = NULL;
        CHECK_MSG(pd_convert(path, &co, uniform, NULL, NULL, &err) == PD_OK, "%s: %s", label, err.message);
        pd_eval_options eo;
        pd_eval_options_init(&eo);
        eo.width = eo.height = 32;
        eo.components = 1u << PD_EVAL_UNET;
        pd_eval_ref *ref = NULL;
        if (pd_eval_reference(m, &eo, &ref, &err) == PD_OK) {
            double dm = unet_db(ref, mixed, label), du = unet_db(ref, uniform, label);
            printf("%s: one-step UNet PSNR, mixed 4-bit %.2f dB (%.3f bits), uniform 4-bit %.2f dB\n", label, dm,
                   r->average_bits, du);
            CHECK_MSG(dm > du, "%s: mixed 4-bit %.2f dB does not beat uniform 4-bit %.2f dB", label, dm, du);
        } else {
            CHECK_MSG(0, "%s: %s", label, err.message);
        }
        pd_eval_ref_free(ref);
        g_unlink(mixed);
        g_unlink(uniform);
        g_free(mixed);
        g_free(uniform);
    }
    pd_model_free(m);

    /* a recipe for another model (a weight of another size), a width the
     * format does not have: refused, nothing written */
    if (r) {
        char *dst = g_build_filename(tmpdir, "refused.safetensors", NULL);
        pd_convert_options co;
        pd_convert_options_init(&co);
        co.recipe = r;
        r->layers[0].numel++;
        CHECK_MSG(pd_convert(path, &co, dst, NULL, NULL, &err) == PD_E_ARG && strstr(err.message, "another model") &&
                      !g_file_test(dst, G_FILE_TEST_EXISTS),
                  "%s: %s", label, err.message);
        r->layers[0].numel--;
        int b = r->layers[0].bits;
        r->layers[0].bits = 5;
        CHECK_MSG(pd_convert(path, &co, dst, NULL, NULL, &err) == PD_E_ARG && strstr(err.message, "5 bits") &&
                      !g_file_test(dst, G_FILE_TEST_EXISTS),
                  "%s: %s", label, err.message);
        r->layers[0].bits = b;
        g_free(dst);
    }
    pd_recipe_free(r);
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    const char *golden = check_golden_dir();
    CHECK_MSG(golden, "no golden folder: set PALDIFF_GOLDEN");
    if (!golden)
        return check_summary("unit-recipe");
    tmpdir = g_dir_make_tmp("paldiff-recipe-XXXXXX", NULL);
    GDir *dir = g_dir_open(golden, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;
    while (dir && (entry = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(entry));
    if (dir)
        g_dir_close(dir);
    g_ptr_array_sort(names, cmp_names);
    int models = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        char *manifest = g_build_filename(golden, name, "manifest.json", NULL);
        JsonParser *p = json_parser_new();
        if (g_file_test(manifest, G_FILE_TEST_IS_REGULAR) && json_parser_load_from_file(p, manifest, NULL)) {
            JsonObject *root = json_node_get_object(json_parser_get_root(p));
            if (json_object_has_member(root, "kind") && !strcmp(json_object_get_string_member(root, "kind"), "model")) {
                JsonArray *srcs = json_object_get_array_member(root, "sources");
                JsonObject *so = json_array_get_object_element(srcs, 0);
                char *path = g_build_filename(golden, name, json_object_get_string_member(so, "path"), NULL);
                test_model(path, name);
                g_free(path);
                models++;
            }
        }
        g_object_unref(p);
        g_free(manifest);
    }
    g_ptr_array_free(names, TRUE);
    CHECK_MSG(models > 0, "no model manifests under %s", golden);
    CHECK_MSG(check_dir_entries(tmpdir) == 0, "files left in %s", tmpdir);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return check_summary("unit-recipe");
}
