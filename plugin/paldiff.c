/* paldiff.c — the GIMP 3 plug-in: registers plug-in-paldiff-txt2img,
 * plug-in-paldiff-img2img and plug-in-paldiff-inpaint (Filters ▸ Render ▸
 * paldiff) and runs them.
 *
 * One run function serves all three, reading every argument from the
 * GimpProcedureConfig, so interactive runs (a GimpProcedureDialog of the
 * same arguments), last-used values and Script-Fu share one path. Every
 * check and the whole generation happen before the image is touched; the
 * result is then added as one undo step. On any error the image is left as
 * it was and the procedure returns an execution error saying why.
 */
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>
#include <glib/gi18n-lib.h>

#include "plugin/layers.h"
#include "plugin/run.h"

#define PROC_TXT2IMG "plug-in-paldiff-txt2img"
#define PROC_IMG2IMG "plug-in-paldiff-img2img"
#define PROC_INPAINT "plug-in-paldiff-inpaint"
#define PLUG_IN_BINARY "paldiff"

typedef struct {
    GimpPlugIn parent_instance;
} PaldiffPlugIn;
typedef struct {
    GimpPlugInClass parent_class;
} PaldiffPlugInClass;

GType paldiff_plug_in_get_type(void) G_GNUC_CONST;
G_DEFINE_TYPE(PaldiffPlugIn, paldiff_plug_in, GIMP_TYPE_PLUG_IN)

/* The --scheduler names of the CLI; "default" is the model's own. */
static GimpChoice *scheduler_choice(void)
{
    return gimp_choice_new_with_values("default", 0, _("Model's default"), NULL,
                                       "ddim", 1, "DDIM", NULL,
                                       "pndm", 2, "PNDM (PLMS)", NULL,
                                       "euler", 3, "Euler", NULL,
                                       "euler_a", 4, "Euler a", NULL,
                                       "dpmpp_2m", 5, "DPM++ 2M", NULL,
                                       "dpmpp_2m_karras", 6, "DPM++ 2M Karras", NULL,
                                       "lcm", 7, "LCM", NULL,
                                       NULL);
}

/* ---- reading the arguments ---------------------------------------------------- */

static pd_mode mode_of(GimpProcedure *proc)
{
    const char *name = gimp_procedure_get_name(proc);
    return !strcmp(name, PROC_TXT2IMG) ? PD_MODE_TXT2IMG : !strcmp(name, PROC_IMG2IMG) ? PD_MODE_IMG2IMG
                                                                                         : PD_MODE_INPAINT;
}

static void read_args(GimpProcedureConfig *config, pd_mode mode, paldiff_args *a)
{
    int seed;
    char *scheduler = NULL;
    memset(a, 0, sizeof *a);
    a->mode = mode;
    g_object_get(config, "prompt", &a->prompt, "negative-prompt", &a->negative, "model", &a->model, "steps",
                 &a->steps, "guidance", &a->guidance, "seed", &seed, "scheduler", &scheduler, NULL);
    if (mode == PD_MODE_TXT2IMG)
        g_object_get(config, "width", &a->width, "height", &a->height, NULL);
    else
        g_object_get(config, "strength", &a->strength, NULL);
    if (scheduler && strcmp(scheduler, "default"))
        a->scheduler = g_steal_pointer(&scheduler);
    g_free(scheduler);
    /* -1: a random seed, as the CLI draws one (PyTorch keeps 32 bits). */
    a->seed = seed >= 0 ? (guint64)seed : (guint64)g_random_int_range(0, G_MAXINT);
}

/* ---- progress ------------------------------------------------------------------- */

static void on_progress(const pd_progress *p, void *user)
{
    (void)user;
    static const char *const what[] = {N_("paldiff: encoding"), N_("paldiff: denoising"),
                                       N_("paldiff: decoding")};
    static int shown = -1;
    if ((int)p->phase != shown && (unsigned)p->phase < G_N_ELEMENTS(what)) {
        gimp_progress_set_text(_(what[p->phase]));
        shown = (int)p->phase;
    }
    if (p->total > 0)
        gimp_progress_update((double)p->step / p->total);
}

/* ---- the three procedures -------------------------------------------------------- */

static GimpValueArray *fail(GimpProcedure *proc, GError *error)
{
    return gimp_procedure_new_return_values(proc, GIMP_PDB_EXECUTION_ERROR, error);
}

static GimpValueArray *fail_with(GimpProcedure *proc, const char *message)
{
    return fail(proc, g_error_new_literal(PALDIFF_ERROR, 0, message));
}

/* The drawable img2img and inpaint start from: the one layer chosen (the
 * layer of a chosen mask). NULL, with *why set, otherwise. */
static GimpLayer *source_layer(GimpDrawable **drawables, const char **why)
{
    if (!drawables || !drawables[0] || drawables[1]) {
        *why = _("paldiff: choose exactly one layer to start from.");
        return NULL;
    }
    if (GIMP_IS_LAYER_MASK(drawables[0]))
        return gimp_layer_from_mask(GIMP_LAYER_MASK(drawables[0]));
    if (!GIMP_IS_LAYER(drawables[0])) {
        *why = _("paldiff: the active drawable is a channel; choose a layer to start from.");
        return NULL;
    }
    return GIMP_LAYER(drawables[0]);
}

/* Tests only: PALDIFF_DIALOG_AUTO_OK_MS=N presses OK N ms after the dialog opens. */
static gboolean press_ok(gpointer dialog)
{
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    return G_SOURCE_REMOVE;
}

static GimpValueArray *run(GimpProcedure *proc, GimpRunMode run_mode, GimpImage *image,
                           GimpDrawable **drawables, GimpProcedureConfig *config, gpointer data)
{
    (void)data;
    const pd_mode mode = mode_of(proc);
    if (run_mode == GIMP_RUN_INTERACTIVE) {
        gimp_ui_init(PLUG_IN_BINARY);
        GtkWidget *dialog = gimp_procedure_dialog_new(proc, config, gimp_procedure_get_menu_label(proc));
        gimp_procedure_dialog_fill(GIMP_PROCEDURE_DIALOG(dialog), NULL);
        const char *auto_ok = g_getenv("PALDIFF_DIALOG_AUTO_OK_MS");
        if (auto_ok && *auto_ok)
            g_timeout_add((guint)g_ascii_strtoull(auto_ok, NULL, 10), press_ok, dialog);
        gboolean ok = gimp_procedure_dialog_run(GIMP_PROCEDURE_DIALOG(dialog));
        gtk_widget_destroy(dialog);
        if (!ok)
            return gimp_procedure_new_return_values(proc, GIMP_PDB_CANCEL, NULL);
    }

    /* Everything is checked before anything is generated or changed. */
    if (gimp_image_get_base_type(image) == GIMP_INDEXED)
        return fail_with(proc, _("paldiff: indexed images are not supported; convert the image to RGB "
                                 "first (Image ▸ Mode ▸ RGB)."));
    const char *why = NULL;
    GimpLayer *source = NULL;
    if (mode != PD_MODE_TXT2IMG && !(source = source_layer(drawables, &why)))
        return fail_with(proc, why);

    paldiff_args a;
    read_args(config, mode, &a);
    if (mode == PD_MODE_TXT2IMG && (a.width % 8 || a.height % 8 || (!a.width) != (!a.height))) {
        paldiff_args_clear(&a);
        return fail_with(proc, _("paldiff: width and height are multiples of 8, or both 0 to take the size "
                                 "from the selection or the image."));
    }

    pd_pixels orig = {0}, mask = {0}, gen = {0}, placed = {0};
    guint8 *alpha = NULL, *rgba = NULL;
    char *model_path = NULL, *name = NULL, *text = NULL;
    const char *scheduler = NULL;
    GError *error = NULL;
    int x = 0, y = 0, w, h, gw, gh;
    if (mode == PD_MODE_TXT2IMG) {
        gboolean selected;
        int x2, y2;
        gimp_selection_bounds(image, &selected, &x, &y, &x2, &y2);
        if (selected) {
            w = x2 - x;
            h = y2 - y;
        } else {
            x = y = 0;
            w = gimp_image_get_width(image);
            h = gimp_image_get_height(image);
        }
        if (a.width) {
            gw = a.width;
            gh = a.height;
        } else {
            paldiff_model_size(w, h, &gw, &gh);
        }
    } else {
        GimpDrawable *d = GIMP_DRAWABLE(source);
        gimp_drawable_get_offsets(d, &x, &y);
        paldiff_read_drawable(d, &orig, &alpha);
        w = orig.width;
        h = orig.height;
        if (mode == PD_MODE_INPAINT && !paldiff_read_selection(image, d, &mask)) {
            error = g_error_new_literal(PALDIFF_ERROR, 0,
                                        _("paldiff: inpainting repaints the selection, and nothing of the "
                                          "layer is selected; select the part to repaint first."));
            goto out;
        }
        /* The CLI's size for an init image: rounded down to multiples of 8. */
        gw = w / 8 * 8;
        gh = h / 8 * 8;
        if (gw < 8 || gh < 8 || (gint64)gw * gh > PD_MAX_PIXELS)
            paldiff_model_size(w, h, &gw, &gh);
    }

    gimp_progress_init(_("paldiff"));
    a.progress = on_progress;
    if (!paldiff_generate(&a, gw, gh, mode == PD_MODE_TXT2IMG ? NULL : &orig,
                          mode == PD_MODE_INPAINT ? &mask : NULL, &gen, &model_path, &scheduler, &error))
        goto out;
    /* Back to the size of the place it goes. */
    if (gen.width != w || gen.height != h) {
        pd_error err;
        if (pd_pixels_resize(&gen, w, h, &placed, &err)) {
            error = g_error_new(PALDIFF_ERROR, err.status, "paldiff: %s", err.message);
            goto out;
        }
        pd_pixels_free(&gen);
        gen = placed;
        placed = (pd_pixels){0};
    }
    rgba = g_malloc((size_t)w * h * 4);
    if (mode == PD_MODE_INPAINT) {
        paldiff_composite(&gen, &orig, alpha, &mask, rgba);
    } else {
        for (size_t i = 0; i < (size_t)w * h; i++) {
            memcpy(rgba + i * 4, gen.data + i * 3, 3);
            rgba[i * 4 + 3] = 255;
        }
    }
    name = paldiff_layer_name(&a);
    text = paldiff_parameters_text(&a, gw, gh, model_path, scheduler);
    paldiff_add_layer(image, source, name, x, y, w, h, rgba, text);
    gimp_progress_end();
    if (run_mode != GIMP_RUN_NONINTERACTIVE)
        gimp_displays_flush();
out:
    pd_pixels_free(&orig);
    pd_pixels_free(&mask);
    pd_pixels_free(&gen);
    g_free(alpha);
    g_free(rgba);
    g_free(model_path);
    g_free(name);
    g_free(text);
    paldiff_args_clear(&a);
    if (error)
        return fail(proc, error);
    return gimp_procedure_new_return_values(proc, GIMP_PDB_SUCCESS, NULL);
}

/* ---- registration ------------------------------------------------------------------ */

static GList *query_procedures(GimpPlugIn *plug_in)
{
    (void)plug_in;
    GList *list = g_list_append(NULL, g_strdup(PROC_TXT2IMG));
    list = g_list_append(list, g_strdup(PROC_IMG2IMG));
    return g_list_append(list, g_strdup(PROC_INPAINT));
}

static GimpProcedure *create_procedure(GimpPlugIn *plug_in, const gchar *name)
{
    pd_mode mode;
    const char *label, *blurb, *help;
    if (!strcmp(name, PROC_TXT2IMG)) {
        mode = PD_MODE_TXT2IMG;
        label = _("_Text to Image...");
        blurb = _("Generate a new layer from a prompt with Stable Diffusion");
        help = _("Adds a layer generated from the prompt on top of the image, at the selection's bounds "
                 "when there is a selection, else covering the image.");
    } else if (!strcmp(name, PROC_IMG2IMG)) {
        mode = PD_MODE_IMG2IMG;
        label = _("_Image to Image...");
        blurb = _("Repaint the active layer with Stable Diffusion");
        help = _("Adds a layer above the active one, generated from its pixels and the prompt; "
                 "strength says how much of it is repainted.");
    } else if (!strcmp(name, PROC_INPAINT)) {
        mode = PD_MODE_INPAINT;
        label = _("I_npaint Selection...");
        blurb = _("Repaint the selected part of the active layer with Stable Diffusion");
        help = _("Adds a layer above the active one in which only the selection is repainted (feathered "
                 "edges blend); everything outside it is the layer's own pixels.");
    } else {
        return NULL;
    }
    GimpProcedure *p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run, NULL, NULL);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*, INDEXED*"); /* indexed: a clear error */
    gimp_procedure_set_sensitivity_mask(p, mode == PD_MODE_TXT2IMG
                                               ? GIMP_PROCEDURE_SENSITIVE_DRAWABLE |
                                                     GIMP_PROCEDURE_SENSITIVE_DRAWABLES |
                                                     GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES
                                               : GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
    gimp_procedure_set_menu_label(p, label);
    gimp_procedure_add_menu_path(p, "<Image>/Filters/Render/paldiff");
    gimp_procedure_set_documentation(p, blurb, help, name);
    gimp_procedure_set_attribution(p, "The paldiff authors", "The paldiff authors", "2026");

    gimp_procedure_add_string_argument(p, "prompt", _("_Prompt"), _("What to draw"), "",
                                       G_PARAM_READWRITE);
    gimp_procedure_add_string_argument(p, "negative-prompt", _("_Negative prompt"),
                                       _("What to steer away from"), "", G_PARAM_READWRITE);
    gimp_procedure_add_string_argument(p, "model", _("_Model"),
                                       _("A diffusers folder or .safetensors file; empty: the default "
                                         "model ($PALDIFF_MODEL, the installed default, else the demo)"),
                                       "", G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "steps", _("S_teps"), _("Denoising steps"), 1, 1000, 20,
                                    G_PARAM_READWRITE);
    gimp_procedure_add_double_argument(p, "guidance", _("_Guidance"),
                                       _("Classifier-free guidance scale (1 or less: off)"), 0.0, 30.0, 7.5,
                                       G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "seed", _("S_eed"),
                                    _("The same seed and settings give the same image; -1: random"), -1,
                                    G_MAXINT, -1, G_PARAM_READWRITE);
    gimp_procedure_add_choice_argument(p, "scheduler", _("Sc_heduler"), _("The sampler"), scheduler_choice(),
                                       "default", G_PARAM_READWRITE);
    if (mode == PD_MODE_TXT2IMG) {
        gimp_procedure_add_int_argument(p, "width", _("_Width"),
                                        _("Width to generate at (multiple of 8; 0: from the selection or "
                                          "image)"), 0, 2048, 0, G_PARAM_READWRITE);
        gimp_procedure_add_int_argument(p, "height", _("H_eight"),
                                        _("Height to generate at (multiple of 8; 0: from the selection or "
                                          "image)"), 0, 2048, 0, G_PARAM_READWRITE);
    } else {
        gimp_procedure_add_double_argument(p, "strength", _("St_rength"),
                                           _("How much to repaint: near 0 keeps the layer, 1 repaints it "
                                             "fully"), 0.01, 1.0, 0.8, G_PARAM_READWRITE);
    }
    return p;
}

/* Translations arrive with the dialog (po/); until then none are looked for. */
static gboolean set_i18n(GimpPlugIn *plug_in, const gchar *procedure, gchar **domain, gchar **catalog_dir)
{
    (void)plug_in, (void)procedure, (void)domain, (void)catalog_dir;
    return FALSE;
}

static void paldiff_plug_in_class_init(PaldiffPlugInClass *klass)
{
    GimpPlugInClass *pc = GIMP_PLUG_IN_CLASS(klass);
    pc->query_procedures = query_procedures;
    pc->create_procedure = create_procedure;
    pc->set_i18n = set_i18n;
}

static void paldiff_plug_in_init(PaldiffPlugIn *self)
{
    (void)self;
}

GIMP_MAIN(paldiff_plug_in_get_type())
