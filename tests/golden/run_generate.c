/* run_generate.c — golden "pipeline" cases through the `paldiff generate`
 * command (--kind generate): the command as a user runs it, end to end.
 *
 * For each case and source the real binary runs with the case's settings as
 * options: the source's model (plus its tokenizer and config folders), the
 * scheduler class with the case's scheduler config written to a temporary
 * JSON file, the init image and mask, and --draws the case file, whose
 * recorded latents_init / posterior_noise / noise tensors replace the
 * generator's draws. The PNGs it writes must match the case's image_png
 * files within tol "u8". One report per case and source.
 */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/imagefile.h"
#include "runner.h"

static void add(GPtrArray *argv, const char *arg)
{
    g_ptr_array_add(argv, g_strdup(arg));
}

static void add_path(GPtrArray *argv, const char *option, const manifest *mf, const char *rel)
{
    add(argv, option);
    g_ptr_array_add(argv, g_build_filename(mf->dir, rel, NULL));
}

static const char *str(JsonObject *o, const char *key)
{
    return json_object_has_member(o, key) && !json_object_get_null_member(o, key)
               ? json_object_get_string_member(o, key) : NULL;
}

/* The command line of a case: paldiff generate MODEL [options]. */
static GPtrArray *command(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st,
                          const char *tmp)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    add(argv, paldiff_command);
    add(argv, "generate");
    g_ptr_array_add(argv, g_build_filename(mf->dir, str(s->entry, "path"), NULL));
    if (str(s->entry, "tokenizer"))
        add_path(argv, "--tokenizer", mf, str(s->entry, "tokenizer"));
    if (str(s->entry, "config"))
        add_path(argv, "--config", mf, str(s->entry, "config"));
    add(argv, "--prompt");
    add(argv, str(c, "prompt") ? str(c, "prompt") : "");
    if (str(c, "negative_prompt")) {
        add(argv, "--negative");
        add(argv, str(c, "negative_prompt"));
    }
    static const char *const ints[][2] = {
        {"steps", "--steps"}, {"seed", "--seed"}, {"width", "--width"}, {"height", "--height"},
        {"num_images", "--num-images"}, {"clip_skip", "--clip-skip"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ints); i++)
        if (json_object_has_member(c, ints[i][0]) && !json_object_get_null_member(c, ints[i][0])) {
            add(argv, ints[i][1]);
            g_ptr_array_add(argv, g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(c, ints[i][0])));
        }
    char num[G_ASCII_DTOSTR_BUF_SIZE];
    add(argv, "--guidance");
    add(argv, g_ascii_dtostr(num, sizeof num, json_object_get_double_member(c, "guidance")));
    if (json_object_has_member(c, "strength")) {
        add(argv, "--strength");
        add(argv, g_ascii_dtostr(num, sizeof num, json_object_get_double_member(c, "strength")));
    }
    if (str(c, "scheduler")) {
        add(argv, "--scheduler");
        add(argv, str(c, "scheduler"));
    }
    if (json_object_has_member(c, "scheduler_config")) {
        char *path = g_build_filename(tmp, "scheduler_config.json", NULL);
        char *json = json_to_string(json_object_get_member(c, "scheduler_config"), TRUE);
        g_file_set_contents(path, json, -1, NULL);
        add(argv, "--scheduler-config");
        g_ptr_array_add(argv, path);
        g_free(json);
    }
    if (str(c, "init_image"))
        add_path(argv, "--init", mf, str(c, "init_image"));
    if (str(c, "mask"))
        add_path(argv, "--mask", mf, str(c, "mask"));
    add(argv, "--draws");
    add(argv, pd_st_path(st));
    add(argv, "--output");
    g_ptr_array_add(argv, g_build_filename(tmp, "out.png", NULL));
    add(argv, "--quiet");
    g_ptr_array_add(argv, NULL);
    return argv;
}

/* The last non-empty line of a command's output (its error message). */
static char *last_line(const char *text)
{
    char *t = g_strstrip(g_strdup(text ? text : ""));
    char *nl = strrchr(t, '\n');
    char *line = g_strdup(nl ? nl + 1 : t);
    g_free(t);
    return line;
}

/* Compares the written PNGs with the expected ones; reports. */
static void compare(const manifest *mf, const char *id, const source *s, JsonArray *want, const char *tmp,
                    int u8)
{
    guint n = json_array_get_length(want);
    int worst = 0;
    for (guint i = 0; i < n; i++) {
        char *got_name = n == 1 ? g_strdup("out.png") : g_strdup_printf("out-%u.png", i + 1);
        char *got_path = g_build_filename(tmp, got_name, NULL);
        char *want_path = g_build_filename(mf->dir, json_array_get_string_element(want, i), NULL);
        pd_pixels got = {0}, exp = {0};
        pd_error err;
        int ok = 0;
        if (pd_image_read(got_path, 3, &got, &err) || pd_image_read(want_path, 3, &exp, &err))
            report(0, mf->rel, id, s->name, "%s", err.message);
        else if (got.width != exp.width || got.height != exp.height)
            report(0, mf->rel, id, s->name, "%s is %d×%d, expected %d×%d", got_name, got.width, got.height,
                   exp.width, exp.height);
        else
            ok = 1;
        for (size_t k = 0; ok && k < (size_t)got.width * got.height * 3; k++) {
            int d = abs((int)got.data[k] - (int)exp.data[k]);
            worst = d > worst ? d : worst;
        }
        pd_pixels_free(&got);
        pd_pixels_free(&exp);
        g_free(got_name);
        g_free(got_path);
        g_free(want_path);
        if (!ok)
            return;
    }
    report(worst <= u8, mf->rel, id, s->name, "paldiff generate: %u image%s, u8 max diff %d %s %d", n,
           n == 1 ? "" : "s", worst, worst <= u8 ? "<=" : ">", u8);
}

static void remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        g_remove(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

void run_generate(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol)
{
    (void)tol; /* images are compared in 8 bits: tol's "u8" */
    const char *id = json_object_get_string_member(c, "id");
    JsonObject *pngs = json_object_get_object_member(c, "image_png");
    JsonObject *tols = json_object_get_object_member(c, "tol");
    JsonObject *t = tols && json_object_has_member(tols, s->dtype) ? json_object_get_object_member(tols, s->dtype)
                                                                    : NULL;
    if (!paldiff_command) {
        report(0, mf->rel, id, s->name, "no paldiff command to run: give --paldiff PATH or set PALDIFF_EXE");
        return;
    }
    if (!pngs || !json_object_has_member(pngs, s->dtype) || !t || !json_object_has_member(t, "u8")) {
        report(0, mf->rel, id, s->name, "the case has no image_png or tol u8 for %s", s->dtype);
        return;
    }
    GError *gerr = NULL;
    char *tmp = g_dir_make_tmp("paldiff-generate-XXXXXX", &gerr);
    if (!tmp) {
        report(0, mf->rel, id, s->name, "temporary folder: %s", gerr->message);
        g_error_free(gerr);
        return;
    }
    GPtrArray *argv = command(mf, c, s, st, tmp);
    char *out = NULL, *err_text = NULL;
    int wait_status;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err_text,
                      &wait_status, &gerr)) {
        report(0, mf->rel, id, s->name, "cannot run %s: %s", paldiff_command, gerr->message);
        g_error_free(gerr);
    } else if (!g_spawn_check_wait_status(wait_status, &gerr)) {
        char *line = last_line(err_text);
        report(0, mf->rel, id, s->name, "paldiff generate: %s: %s", gerr->message, line);
        g_free(line);
        g_error_free(gerr);
    } else {
        compare(mf, id, s, json_object_get_array_member(pngs, s->dtype), tmp,
                (int)json_object_get_int_member(t, "u8"));
    }
    g_free(out);
    g_free(err_text);
    g_ptr_array_free(argv, TRUE);
    remove_dir(tmp);
    g_free(tmp);
}
