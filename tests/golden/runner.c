/* runner.c — the golden runner: checks paldiff against the reference data.
 *
 *   golden-runner --kind text [--default DIR] [--only ID]
 *
 * The golden folder is $PALDIFF_GOLDEN, else --default. Every folder below it
 * holding a manifest.json is read generically (its README is the contract):
 * each case of the requested kind runs once per model source (diffusers
 * folder, single files) whose dtype has an expectation, and prints one line:
 *
 *   PASS sd15-tiny/text04 [single-f16] max_abs 3.1e-06 <= 2.5e-05
 *
 * The last line is "golden-<kind>: N passed, M failed". Exit status: 0 when
 * every case passed, 1 when one failed — or when no case of the kind ran, or
 * the runner cannot run that kind yet — and 77 (skipped) when the golden
 * folder does not exist.
 */
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"
#include "paldiff.h"

typedef struct {
    const char *dir;        /* the manifest's folder          */
    const char *rel;        /* dir relative to the golden root */
    JsonObject *manifest;
} manifest;

typedef struct {
    const char *name, *dtype;
    pd_model *model;        /* NULL when it failed to open     */
    char open_error[1024];
} source;

static int passed, failed;
static const char *only_id;

static void report(int ok, const char *rel, const char *id, const char *src, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(int ok, const char *rel, const char *id, const char *src, const char *fmt, ...)
{
    va_list ap;
    printf("%s %s/%s [%s] ", ok ? "PASS" : "FAIL", rel, id, src);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    ok ? passed++ : failed++;
}

/* ---- case files ------------------------------------------------------ */

static const pd_st_tensor *case_tensor(const pd_safetensors *st, const char *name, pd_st_dtype dtype,
                                       char *why, size_t cap)
{
    const pd_st_tensor *t = pd_st_find(st, name);
    if (!t)
        snprintf(why, cap, "%s: no tensor '%s'", pd_st_path(st), name);
    else if (t->dtype != dtype)
        snprintf(why, cap, "%s: '%s' is %s, expected %s", pd_st_path(st), name,
                 pd_st_dtype_name(t->dtype), pd_st_dtype_name(dtype));
    else
        return t;
    return NULL;
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) /* NaN counts as infinitely wrong */
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* ---- kinds --------------------------------------------------------------- */

static void run_tokenizer(const manifest *mf, JsonObject *c, const source *s)
{
    const char *id = json_object_get_string_member(c, "id");
    const char *text = json_object_get_string_member(c, "text");
    JsonArray *want = json_object_get_array_member(c, "ids");
    int32_t ids[PD_TOKENS];
    pd_error err;
    if (pd_tokenize(s->model, text, ids, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
        return;
    }
    if (json_array_get_length(want) != PD_TOKENS) {
        report(0, mf->rel, id, s->name, "manifest gives %u ids, expected %d",
               json_array_get_length(want), PD_TOKENS);
        return;
    }
    for (int i = 0; i < PD_TOKENS; i++) {
        int64_t w = json_array_get_int_element(want, (guint)i);
        if (ids[i] != w) {
            report(0, mf->rel, id, s->name, "id %d is %d, expected %lld", i, ids[i], (long long)w);
            return;
        }
    }
    report(1, mf->rel, id, s->name, "77 ids exact");
}

static void run_text(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st,
                     double tol)
{
    const char *id = json_object_get_string_member(c, "id");
    char why[512];
    const pd_st_tensor *in = case_tensor(st, "input_ids", PD_ST_I64, why, sizeof why);
    const pd_st_tensor *want = in ? case_tensor(st, "hidden_states", PD_ST_F32, why, sizeof why) : NULL;
    if (!want) {
        report(0, mf->rel, id, s->name, "%s", why);
        return;
    }
    if (in->numel != PD_TOKENS) {
        report(0, mf->rel, id, s->name, "input_ids has %lld ids", (long long)in->numel);
        return;
    }
    int clip_skip = PD_CLIP_SKIP_NONE;
    JsonNode *skip = json_object_get_member(c, "clip_skip");
    if (skip && !JSON_NODE_HOLDS_NULL(skip))
        clip_skip = (int)json_node_get_int(skip);

    int32_t ids[PD_TOKENS], tok[PD_TOKENS];
    for (int i = 0; i < PD_TOKENS; i++) {
        int64_t v;
        memcpy(&v, (const char *)in->data + 8 * i, 8);
        ids[i] = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
    }
    /* The case's text must tokenize to its input_ids, then encode to hidden_states. */
    pd_error err;
    const char *text = json_object_get_string_member(c, "text");
    if (pd_tokenize(s->model, text, tok, &err)) {
        report(0, mf->rel, id, s->name, "tokenizing: %s", err.message);
        return;
    }
    if (memcmp(tok, ids, sizeof ids)) {
        report(0, mf->rel, id, s->name, "the text does not tokenize to the case's input_ids");
        return;
    }
    pd_embedding emb;
    if (pd_encode_ids(s->model, ids, clip_skip, &emb, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
        return;
    }
    if (want->numel != (int64_t)emb.tokens * emb.width) {
        report(0, mf->rel, id, s->name, "hidden_states has %lld values, paldiff gives %d × %d",
               (long long)want->numel, emb.tokens, emb.width);
    } else {
        double d = max_abs_diff(emb.data, want->data, want->numel);
        report(d <= tol, mf->rel, id, s->name, "max_abs %.2g %s %.2g", d, d <= tol ? "<=" : ">", tol);
    }
    pd_embedding_free(&emb);
}

/* ---- walking manifests --------------------------------------------------- */

static const char *requested_kind;

static int kind_supported(const char *kind)
{
    return !strcmp(kind, "tokenizer") || !strcmp(kind, "text");
}

static void open_sources(const manifest *mf, JsonArray *arr, source *src, guint n)
{
    for (guint i = 0; i < n; i++) {
        JsonObject *so = json_array_get_object_element(arr, i);
        source *s = &src[i];
        s->name = json_object_get_string_member(so, "name");
        s->dtype = json_object_get_string_member(so, "dtype");
        char *path = g_build_filename(mf->dir, json_object_get_string_member(so, "path"), NULL);
        char *tok = NULL, *cfg = NULL;
        if (json_object_has_member(so, "tokenizer"))
            tok = g_build_filename(mf->dir, json_object_get_string_member(so, "tokenizer"), NULL);
        if (json_object_has_member(so, "config"))
            cfg = g_build_filename(mf->dir, json_object_get_string_member(so, "config"), NULL);
        pd_model_options o = {.tokenizer_dir = tok, .config_dir = cfg};
        pd_error err;
        if (pd_model_open(path, &o, &s->model, &err))
            snprintf(s->open_error, sizeof s->open_error, "%s", err.message);
        g_free(path);
        g_free(tok);
        g_free(cfg);
    }
}

static void run_case(const manifest *mf, JsonObject *c, const source *s)
{
    const char *id = json_object_get_string_member(c, "id");
    const char *kind = json_object_get_string_member(c, "kind");
    if (!strcmp(kind, "tokenizer")) {
        if (!s->model)
            report(0, mf->rel, id, s->name, "model did not open: %s", s->open_error);
        else
            run_tokenizer(mf, c, s);
        return;
    }
    /* Kinds with expectations run only for sources whose dtype has one. */
    JsonObject *exp = json_object_get_object_member(c, "expected");
    JsonObject *tols = json_object_get_object_member(c, "tol");
    if (!exp || !json_object_has_member(exp, s->dtype))
        return;
    if (!kind_supported(kind)) {
        report(0, mf->rel, id, s->name, "the runner cannot run '%s' cases yet", kind);
        return;
    }
    if (!s->model) {
        report(0, mf->rel, id, s->name, "model did not open: %s", s->open_error);
        return;
    }
    JsonObject *t = tols ? json_object_get_object_member(tols, s->dtype) : NULL;
    double tol = t && json_object_has_member(t, "max_abs") ? json_object_get_double_member(t, "max_abs") : 0;
    char *file = g_build_filename(mf->dir, json_object_get_string_member(exp, s->dtype), NULL);
    pd_safetensors *st;
    pd_error err;
    if (pd_st_open(file, &st, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
    } else {
        run_text(mf, c, s, st, tol);
        pd_st_close(st);
    }
    g_free(file);
}

static void run_manifest(const char *root, const char *dir)
{
    char *path = g_build_filename(dir, "manifest.json", NULL);
    JsonParser *p = json_parser_new();
    GError *gerr = NULL;
    const char *rel = dir + strlen(root) + (dir[strlen(root)] == '/');
    if (!json_parser_load_from_file(p, path, &gerr)) {
        report(0, rel, "manifest", "-", "%s: %s", path, gerr->message);
        g_error_free(gerr);
        goto out;
    }
    JsonObject *m = json_node_get_object(json_parser_get_root(p));
    manifest mf = {dir, rel, m};
    JsonArray *cases = json_object_get_array_member(m, "cases");
    const char *mkind = json_object_get_string_member(m, "kind");
    guint ncases = json_array_get_length(cases);
    int wanted = 0;
    for (guint i = 0; i < ncases; i++) {
        JsonObject *c = json_array_get_object_element(cases, i);
        const char *k = json_object_get_string_member(c, "kind");
        if (!strcmp(k, requested_kind) && (!only_id || !strcmp(only_id, json_object_get_string_member(c, "id"))))
            wanted++;
    }
    if (!wanted)
        goto out;
    if (strcmp(mkind, "model")) { /* rng and scheduler manifests: not runnable yet */
        for (guint i = 0; i < ncases; i++) {
            JsonObject *c = json_array_get_object_element(cases, i);
            if (!strcmp(json_object_get_string_member(c, "kind"), requested_kind))
                report(0, rel, json_object_get_string_member(c, "id"), "-",
                       "the runner cannot run '%s' cases yet", requested_kind);
        }
        goto out;
    }
    JsonArray *srcs = json_object_get_array_member(m, "sources");
    guint nsrc = json_array_get_length(srcs);
    source *src = g_new0(source, nsrc);
    open_sources(&mf, srcs, src, nsrc);
    for (guint i = 0; i < ncases; i++) {
        JsonObject *c = json_array_get_object_element(cases, i);
        if (strcmp(json_object_get_string_member(c, "kind"), requested_kind) ||
            (only_id && strcmp(only_id, json_object_get_string_member(c, "id"))))
            continue;
        for (guint k = 0; k < nsrc; k++)
            run_case(&mf, c, &src[k]);
    }
    for (guint k = 0; k < nsrc; k++)
        pd_model_free(src[k].model);
    g_free(src);
out:
    g_object_unref(p);
    g_free(path);
}

static gint cmp_path(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Visits folders below root in sorted order, at most 4 levels deep. */
static void walk(const char *root, const char *dir, int depth)
{
    char *mpath = g_build_filename(dir, "manifest.json", NULL);
    if (g_file_test(mpath, G_FILE_TEST_IS_REGULAR))
        run_manifest(root, dir);
    g_free(mpath);
    if (depth >= 4)
        return;
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_build_filename(dir, n, NULL));
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_path);
    for (guint i = 0; i < names->len; i++) {
        const char *sub = g_ptr_array_index(names, i);
        if (g_file_test(sub, G_FILE_TEST_IS_DIR) && !g_file_test(sub, G_FILE_TEST_IS_SYMLINK))
            walk(root, sub, depth + 1);
    }
    g_ptr_array_free(names, TRUE);
}

int main(int argc, char **argv)
{
    const char *def = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kind"))
            requested_kind = argv[i + 1];
        else if (!strcmp(argv[i], "--default"))
            def = argv[i + 1];
        else if (!strcmp(argv[i], "--only"))
            only_id = argv[i + 1];
    }
    if (!requested_kind) {
        fprintf(stderr, "usage: golden-runner --kind KIND [--default DIR] [--only ID]\n");
        return 2;
    }
    const char *env = getenv("PALDIFF_GOLDEN");
    const char *root = env && *env ? env : def;
    if (!root || !g_file_test(root, G_FILE_TEST_IS_DIR)) {
        printf("SKIP golden-%s: no golden folder at %s (set PALDIFF_GOLDEN)\n", requested_kind,
               root ? root : "(none given)");
        return 77;
    }
    char *canon = g_canonicalize_filename(root, NULL);
    walk(canon, canon, 0);
    g_free(canon);
    if (passed + failed == 0) {
        printf("FAIL golden-%s: no case of this kind under %s\n", requested_kind, root);
        failed = 1;
    }
    printf("golden-%s: %d passed, %d failed\n", requested_kind, passed, failed);
    return failed ? 1 : 0;
}
