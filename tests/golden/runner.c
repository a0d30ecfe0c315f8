/* runner.c — the golden runner: checks paldiff against the reference data.
 *
 *   golden-runner --kind text [--default DIR] [--only ID] [--paldiff PATH]
 *
 * The golden folder is $PALDIFF_GOLDEN, else --default. Every folder below it
 * holding a manifest.json is read generically (its README is the contract):
 * each case of the requested kind (or of its sub-kinds: --kind vae runs
 * vae_decode and vae_encode; --kind generate runs the pipeline cases through
 * the paldiff command given by --paldiff) runs once per model source (diffusers
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

#include "runner.h"

static int passed, failed;
static const char *only_id;
const char *paldiff_command;

void report(int ok, const char *rel, const char *id, const char *src, const char *fmt, ...)
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

int case_tensors(const manifest *mf, const char *id, const source *s, const pd_safetensors *st, ...)
{
    va_list ap;
    va_start(ap, st);
    const char *name;
    int ok = 1;
    while (ok && (name = va_arg(ap, const char *))) {
        pd_st_dtype dtype = va_arg(ap, pd_st_dtype);
        const pd_st_tensor **out = va_arg(ap, const pd_st_tensor **);
        *out = pd_st_find(st, name);
        if (!*out)
            report(0, mf->rel, id, s->name, "%s: no tensor '%s'", pd_st_path(st), name);
        else if ((*out)->dtype != dtype)
            report(0, mf->rel, id, s->name, "%s: '%s' is %s, expected %s", pd_st_path(st), name,
                   pd_st_dtype_name((*out)->dtype), pd_st_dtype_name(dtype));
        ok = *out && (*out)->dtype == dtype;
    }
    va_end(ap);
    return ok;
}

double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) /* NaN counts as infinitely wrong */
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

float *nchw_to_nhwc(const float *x, int B, int C, int H, int W)
{
    float *y = g_new(float, (size_t)B * C * H * W);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++)
                y[((size_t)b * H * W + p) * C + c] = x[((size_t)b * C + c) * H * W + p];
    return y;
}

float *nhwc_to_nchw(const float *x, int B, int H, int W, int C)
{
    float *y = g_new(float, (size_t)B * C * H * W);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++)
                y[((size_t)b * C + c) * H * W + p] = x[((size_t)b * H * W + p) * C + c];
    return y;
}

void report_diff(const manifest *mf, const char *id, const source *s, const pd_st_tensor *want,
                 const float *got, int64_t n, double tol)
{
    if (want->numel != n) {
        report(0, mf->rel, id, s->name, "'%s' has %lld values, paldiff gives %lld", want->name,
               (long long)want->numel, (long long)n);
        return;
    }
    double d = max_abs_diff(got, want->data, n);
    report(d <= tol, mf->rel, id, s->name, "%s max_abs %.2g %s %.2g", want->name, d, d <= tol ? "<=" : ">", tol);
}

/* ---- walking manifests --------------------------------------------------- */

static const char *requested_kind;

/* Requested kinds that run another kind's cases their own way: "generate"
 * runs the pipeline cases through the paldiff command (run_pipeline runs
 * them in process); "sched" is the short name of the "scheduler" cases
 * (no run: model-free kinds dispatch in run_manifest). */
static const struct {
    const char *requested, *kind;
    case_fn run;
} aliases[] = {
    {"generate", "pipeline", run_generate},
    {"sched", "scheduler", NULL},
};
static const char *case_kind; /* the kind whose cases run: requested_kind's, or its alias's */
static case_fn alias_run;

/* A requested kind runs the cases of that kind and of its sub-kinds:
 * "vae" runs "vae_decode" and "vae_encode". */
static int kind_matches(const char *kind)
{
    size_t n = strlen(case_kind);
    return !strncmp(kind, case_kind, n) && (kind[n] == '\0' || kind[n] == '_');
}

/* The kinds with an expected file that this runner can run. */
static const struct {
    const char *kind;
    case_fn run;
} kinds[] = {
    {"text", run_text},
    {"unet", run_unet},
    {"vae_decode", run_vae_decode},
    {"vae_encode", run_vae_encode},
    {"pipeline", run_pipeline},
};

static case_fn kind_fn(const char *kind)
{
    if (alias_run && !strcmp(kind, case_kind))
        return alias_run;
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        if (!strcmp(kinds[i].kind, kind))
            return kinds[i].run;
    return NULL;
}

static void open_sources(const manifest *mf, JsonArray *arr, source *src, guint n)
{
    for (guint i = 0; i < n; i++) {
        JsonObject *so = json_array_get_object_element(arr, i);
        source *s = &src[i];
        s->name = json_object_get_string_member(so, "name");
        s->dtype = json_object_get_string_member(so, "dtype");
        s->entry = so;
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
    case_fn run = kind_fn(kind);
    if (!run) {
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
        run(mf, c, s, st, tol);
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
        if (kind_matches(k) && (!only_id || !strcmp(only_id, json_object_get_string_member(c, "id"))))
            wanted++;
    }
    if (!wanted)
        goto out;
    if (strcmp(mkind, "model")) { /* model-free manifests: rng, scheduler */
        for (guint i = 0; i < ncases; i++) {
            JsonObject *c = json_array_get_object_element(cases, i);
            const char *k = json_object_get_string_member(c, "kind");
            if (!kind_matches(k) || (only_id && strcmp(only_id, json_object_get_string_member(c, "id"))))
                continue;
            if (!strcmp(k, "rng"))
                run_rng(&mf, c);
            else if (!strcmp(k, "scheduler"))
                run_sched(&mf, c);
            else
                report(0, rel, json_object_get_string_member(c, "id"), "-",
                       "the runner cannot run '%s' cases yet", k);
        }
        goto out;
    }
    JsonArray *srcs = json_object_get_array_member(m, "sources");
    guint nsrc = json_array_get_length(srcs);
    source *src = g_new0(source, nsrc);
    open_sources(&mf, srcs, src, nsrc);
    for (guint i = 0; i < ncases; i++) {
        JsonObject *c = json_array_get_object_element(cases, i);
        if (!kind_matches(json_object_get_string_member(c, "kind")) ||
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
        else if (!strcmp(argv[i], "--paldiff"))
            paldiff_command = argv[i + 1];
    }
    if (!requested_kind) {
        fprintf(stderr, "usage: golden-runner --kind KIND [--default DIR] [--only ID] [--paldiff PATH]\n");
        return 2;
    }
    case_kind = requested_kind;
    for (size_t i = 0; i < G_N_ELEMENTS(aliases); i++)
        if (!strcmp(requested_kind, aliases[i].requested)) {
            case_kind = aliases[i].kind;
            alias_run = aliases[i].run;
        }
    if (!paldiff_command && getenv("PALDIFF_EXE") && *getenv("PALDIFF_EXE"))
        paldiff_command = getenv("PALDIFF_EXE");
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
