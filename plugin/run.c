/* run.c — the engine call behind every paldiff procedure (see run.h). */
#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cli/cli.h"
#include "plugin/run.h"

G_DEFINE_QUARK(paldiff-error-quark, paldiff_error)

void paldiff_args_clear(paldiff_args *a)
{
    g_clear_pointer(&a->prompt, g_free);
    g_clear_pointer(&a->negative, g_free);
    g_clear_pointer(&a->model, g_free);
    g_clear_pointer(&a->scheduler, g_free);
}

void paldiff_model_size(int width, int height, int *gen_width, int *gen_height)
{
    double w = width, h = height;
    if (w * h > PD_MAX_PIXELS) {
        double f = sqrt(PD_MAX_PIXELS / (w * h));
        w *= f;
        h *= f;
        /* rounding down keeps the area within the limit */
        *gen_width = MAX(8, (int)(w / 8) * 8);
        *gen_height = MAX(8, (int)(h / 8) * 8);
        return;
    }
    *gen_width = MAX(8, (int)lround(w / 8) * 8);
    *gen_height = MAX(8, (int)lround(h / 8) * 8);
}

/* The model a procedure's `model` argument names: the path itself, or — when
 * empty — the one the CLI would take ($PALDIFF_MODEL, the installed default,
 * the demo model written on first use). */
static char *resolve_model(const char *arg, GError **error)
{
    if (arg && *arg) {
        if (!g_file_test(arg, G_FILE_TEST_EXISTS)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                        _("paldiff: model %s: no such file or folder. Give a diffusers folder or a "
                          ".safetensors file, or leave the model empty to use the default one."), arg);
            return NULL;
        }
        return g_strdup(arg);
    }
    const char *env = g_getenv("PALDIFF_MODEL");
    if (env && *env && !g_file_test(env, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    _("paldiff: PALDIFF_MODEL=%s: no such file or folder. Set it to a model, or unset it "
                      "to use the default one."), env);
        return NULL;
    }
    int is_demo;
    char *path = cli_default_model(&is_demo); /* says why on stderr when it fails */
    if (!path)
        g_set_error(error, PALDIFF_ERROR, PD_E_IO,
                    _("paldiff: no model given and the default model could not be used (the reason "
                      "is on GIMP's terminal). Give the path of a model."));
    return path;
}

void paldiff_set_engine_error(GError **error, const pd_error *err)
{
    /* The engine's messages are English and name the file, tensor or
     * argument; a translated sentence for each kind of failure comes first. */
    const char *lead;
    switch (err->status) {
    case PD_E_ARG: lead = _("paldiff: a setting was refused: %s"); break;
    case PD_E_IO: lead = _("paldiff: a file could not be read or written: %s"); break;
    case PD_E_FORMAT: lead = _("paldiff: a file is damaged or not in the expected format: %s"); break;
    case PD_E_MODEL: lead = _("paldiff: the model is incomplete or of an unknown kind: %s"); break;
    case PD_E_UNSUPPORTED: lead = _("paldiff: this is not supported: %s"); break;
    case PD_E_NOMEM:
        lead = _("paldiff: out of memory; close other programs or generate a smaller image: %s");
        break;
    case PD_E_CANCELLED:
        g_set_error_literal(error, PALDIFF_ERROR, err->status, _("paldiff: generation cancelled"));
        return;
    default: lead = "paldiff: %s"; break;
    }
    g_set_error(error, PALDIFF_ERROR, err->status, lead, err->message);
}

static gboolean fail(GError **error, const pd_error *err)
{
    paldiff_set_engine_error(error, err);
    return FALSE;
}

gboolean paldiff_generate(const paldiff_args *a, int gen_width, int gen_height,
                          const pd_pixels *init, const pd_pixels *mask,
                          pd_pixels *out, char **model_path, const char **scheduler, GError **error)
{
    pd_error err;
    pd_pixels init_sized = {0}, mask_sized = {0};
    pd_model *model = NULL;
    pd_result r = {0};
    gboolean ok = FALSE;
    char *path = NULL;
    memset(out, 0, sizeof *out);
    *model_path = NULL;

    /* The init image and mask at the generation size, resized as the CLI
     * resizes them, so that both give the same image. */
    const pd_pixels *in[2] = {init, mask};
    pd_pixels *sized[2] = {&init_sized, &mask_sized};
    for (int i = 0; i < 2; i++) {
        if (!in[i] || (in[i]->width == gen_width && in[i]->height == gen_height))
            continue;
        if (pd_pixels_resize(in[i], gen_width, gen_height, sized[i], &err)) {
            fail(error, &err);
            goto out;
        }
        in[i] = sized[i];
    }
    if (!(path = resolve_model(a->model, error)))
        goto out;
    if (pd_model_open(path, NULL, &model, &err)) {
        fail(error, &err);
        goto out;
    }

    pd_generate_params p;
    pd_generate_params_init(&p);
    pd_image init_view = {0}, mask_view = {0};
    p.mode = a->mode;
    p.prompt = a->prompt ? a->prompt : "";
    p.negative_prompt = a->negative;
    p.width = gen_width;
    p.height = gen_height;
    p.steps = a->steps;
    p.guidance = (float)a->guidance;
    p.seed = a->seed;
    p.scheduler = a->scheduler;
    p.strength = a->strength;
    if (in[0]) {
        init_view = (pd_image){in[0]->width, in[0]->height, 3, in[0]->data};
        p.init_image = &init_view;
    }
    if (in[1]) {
        mask_view = (pd_image){in[1]->width, in[1]->height, 1, in[1]->data};
        p.mask = &mask_view;
    }
    p.progress = a->progress;
    p.progress_user = a->progress_user;
    p.preview = a->preview;
    p.cancel = a->cancel;
    if (pd_generate(model, &p, &r, &err)) {
        fail(error, &err);
        goto out;
    }
    out->width = r.width;
    out->height = r.height;
    out->channels = 3;
    out->data = g_malloc((size_t)r.width * r.height * 3);
    pd_result_to_rgb8(&r, 0, out->data);
    *model_path = g_steal_pointer(&path);
    *scheduler = r.scheduler;
    ok = TRUE;
out:
    pd_result_free(&r);
    pd_model_free(model);
    pd_pixels_free(&init_sized);
    pd_pixels_free(&mask_sized);
    g_free(path);
    return ok;
}

char *paldiff_parameters_text(const paldiff_args *a, int gen_width, int gen_height, const char *model_path,
                              const char *scheduler)
{
    static const char *const modes[] = {"txt2img", "img2img", "inpaint"};
    char *model_name = g_path_get_basename(model_path);
    GString *s = g_string_new(a->prompt);
    if (a->negative && *a->negative)
        g_string_append_printf(s, "\nNegative prompt: %s", a->negative);
    g_string_append_printf(s, "\nSteps: %d, Sampler: %s, CFG scale: %g, Seed: %" G_GUINT64_FORMAT
                           ", Size: %dx%d, Model: %s", a->steps, a->scheduler ? a->scheduler : scheduler,
                           a->guidance, a->seed, gen_width, gen_height, model_name);
    if (a->mode != PD_MODE_TXT2IMG)
        g_string_append_printf(s, ", Denoising strength: %g", a->strength);
    g_string_append_printf(s, ", Mode: %s", modes[a->mode]);
    g_free(model_name);
    return g_string_free(s, FALSE);
}

char *paldiff_layer_name(const paldiff_args *a)
{
    enum { MAX_CHARS = 40 };
    const char *prompt = a->prompt && *a->prompt ? a->prompt : "paldiff";
    char *line = g_strndup(prompt, strcspn(prompt, "\r\n"));
    if (g_utf8_strlen(line, -1) > MAX_CHARS) {
        char *cut = g_utf8_substring(line, 0, MAX_CHARS - 1);
        g_free(line);
        line = g_strconcat(cut, "…", NULL);
        g_free(cut);
    }
    /* The seed as text: a G_GUINT64_FORMAT inside the message would hide it from xgettext. */
    char seed[24];
    g_snprintf(seed, sizeof seed, "%" G_GUINT64_FORMAT, a->seed);
    /* TRANSLATORS: a new layer's name: the prompt's first line, then the seed. */
    char *name = g_strdup_printf(_("%s (seed %s)"), line, seed);
    g_free(line);
    return name;
}
