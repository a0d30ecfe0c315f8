/* paldiff.c — the GIMP 3 plug-in: registers plug-in-paldiff-txt2img,
 * plug-in-paldiff-img2img and plug-in-paldiff-inpaint (Filters ▸ Render ▸
 * paldiff) and runs them.
 *
 * One run function serves all three, reading every argument from the
 * GimpProcedureConfig, so interactive runs (dialog.c: ui/'s widgets bound to
 * that config), last-used values and Script-Fu share one path: job.c.
 * Every check and the whole generation happen before the image is touched;
 * the result is then added as one undo step. On any error the image is left
 * as it was and the procedure returns an execution error saying why.
 */
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>
#include <glib/gi18n-lib.h>

#include "plugin/dialog.h"
#include "plugin/job.h"
#include "ui/choice.h"

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

/* ui/'s scheduler list (the CLI's --scheduler names), which the dialog's
 * combo shows too. */
static GimpChoice *scheduler_choice(void)
{
    GimpChoice *choice = gimp_choice_new();
    for (int i = 0; i < paldiff_n_schedulers; i++)
        gimp_choice_add(choice, paldiff_schedulers[i].name, i, _(paldiff_schedulers[i].label), NULL);
    return choice;
}

static pd_mode mode_of(GimpProcedure *proc)
{
    const char *name = gimp_procedure_get_name(proc);
    return !strcmp(name, PROC_TXT2IMG) ? PD_MODE_TXT2IMG : !strcmp(name, PROC_IMG2IMG) ? PD_MODE_IMG2IMG
                                                                                         : PD_MODE_INPAINT;
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

/* Script-Fu and "Repeat": one generation on this thread, progress in
 * GIMP's own bar (GIMP's cancel there ends the process: the image is only
 * changed at the end, in one step, so nothing is half-written). */
static gboolean generate_here(GimpImage *image, GimpDrawable **drawables, GimpProcedureConfig *config,
                              pd_mode mode, GError **error)
{
    paldiff_job job;
    gboolean ok = paldiff_job_prepare(&job, image, drawables, config, mode, error);
    if (ok) {
        gimp_progress_init(_("paldiff"));
        job.args.progress = on_progress;
        ok = paldiff_job_generate(&job, error);
        gimp_progress_end();
    }
    if (ok)
        paldiff_job_finish(&job); /* nothing else ran meanwhile: the image is there */
    paldiff_job_clear(&job);
    return ok;
}

static GimpValueArray *run(GimpProcedure *proc, GimpRunMode run_mode, GimpImage *image,
                           GimpDrawable **drawables, GimpProcedureConfig *config, gpointer data)
{
    (void)data;
    const pd_mode mode = mode_of(proc);
    if (run_mode == GIMP_RUN_INTERACTIVE) {
        gimp_ui_init(PLUG_IN_BINARY);
        return gimp_procedure_new_return_values(proc, paldiff_dialog_run(proc, config, image, drawables, mode),
                                                NULL);
    }
    GError *error = NULL;
    if (!generate_here(image, drawables, config, mode, &error))
        return gimp_procedure_new_return_values(proc, GIMP_PDB_EXECUTION_ERROR, error);
    if (run_mode != GIMP_RUN_NONINTERACTIVE)
        gimp_displays_flush();
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

/* Translations (po/): installed beside the executable as
 * plug-ins/paldiff/locale/LANG/LC_MESSAGES/paldiff.mo. libgimp binds the
 * domain before create_procedure (labels are translated at query time) and
 * before every run. The domain is named as GETTEXT_PACKAGE, the one _() looks
 * up, rather than left to libgimp's guess from the folder name; catalog_dir
 * must be relative, and libgimp resolves it against the plug-in's own folder
 * (not the working directory; checked in GIMP 3.0.4). */
static gboolean set_i18n(GimpPlugIn *plug_in, const gchar *procedure, gchar **domain, gchar **catalog_dir)
{
    (void)plug_in, (void)procedure;
    *domain = g_strdup(GETTEXT_PACKAGE);
    *catalog_dir = g_strdup("locale");
    return TRUE;
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
