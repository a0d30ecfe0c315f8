/* dialog.c — the interactive run (see dialog.h).
 *
 * Threads: the worker thread runs paldiff_job_generate() only. It reports
 * progress by g_idle_add() of a copy (the engine's preview is valid only
 * during its callback) and its end by one more g_idle_add(); idles of one
 * priority run in the order they were added, so the end comes after the
 * last report. The main thread waits in a nested main loop meanwhile, so
 * the dialog stays live, and joins the thread before it reads the outcome.
 */
#include <string.h>

#include <libgimp/gimpui.h>
#include <glib/gi18n-lib.h>

#include "plugin/dialog.h"
#include "plugin/job.h"
#include "ui/choice.h"
#include "ui/model_chooser.h"
#include "ui/progress.h"
#include "ui/prompt.h"
#include "ui/seed.h"
#include "ui/spin.h"
#include "cli/cli.h"

typedef struct dialog {
    GtkWidget *window;          /* the GimpProcedureDialog                       */
    GtkWidget *body;            /* ours: the arguments and the progress side     */
    GtkWidget *controls;        /* the arguments: insensitive while generating   */
    GtkWidget *buttons;         /* Generate, Close, Reset: likewise              */
    GtkWidget *cancel;          /* the one live button while generating          */
    PaldiffProgress *progress;
    GimpProcedureConfig *config;
    GimpImage *image;
    GimpDrawable **drawables;
    pd_mode mode;
    int layers;                 /* added so far                                  */
    /* the generation under way */
    gboolean generating;
    gint cancel_flag;           /* read by the engine on the worker thread       */
    paldiff_job job;
    GThread *worker;
    gboolean ok;                /* the worker's outcome: read after joining it   */
    GError *error;
    GMainLoop *wait;
    /* tests: PALDIFF_DIALOG_TEST */
    char **actions;
    int next_action;
    guint action_timer;
    gboolean cancel_at_step;
    char *shot;                 /* a screenshot's file, waiting for a paint     */
} dialog;

/* ---- progress, from the worker to the main thread ------------------------------ */

typedef struct report {
    dialog *d;
    pd_phase phase;
    int step, total;
    int preview_width, preview_height;
    guint8 *preview; /* NULL: none this time */
} report;

static void report_free(gpointer data)
{
    report *r = data;
    g_free(r->preview);
    g_free(r);
}

static gboolean show_report(gpointer data)
{
    const report *r = data;
    static const char *const phases[] = {N_("Encoding"), N_("Denoising"), N_("Decoding")};
    dialog *d = r->d;
    if ((unsigned)r->phase < G_N_ELEMENTS(phases))
        paldiff_progress_set_step(d->progress, _(phases[r->phase]), r->step, r->total);
    if (r->preview)
        paldiff_progress_set_preview(d->progress, r->preview, r->preview_width, r->preview_height);
    if (d->cancel_at_step && r->phase == PD_PHASE_DENOISE && r->step >= 1) {
        d->cancel_at_step = FALSE;
        gtk_button_clicked(GTK_BUTTON(d->cancel));
    }
    return G_SOURCE_REMOVE;
}

/* The engine's progress callback: runs on the worker thread. */
static void on_progress(const pd_progress *p, void *user)
{
    report *r = g_new0(report, 1);
    r->d = user;
    r->phase = p->phase;
    r->step = p->step;
    r->total = p->total;
    if (p->preview) {
        r->preview_width = p->preview_width;
        r->preview_height = p->preview_height;
        r->preview = g_memdup2(p->preview, (gsize)p->preview_width * p->preview_height * 3);
    }
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, show_report, r, report_free);
}

/* ---- one generation ---------------------------------------------------------------- */

static void set_generating(dialog *d, gboolean on)
{
    d->generating = on;
    /* GIMP's own rows (its settings buttons) beside ours */
    GList *rows = gtk_container_get_children(GTK_CONTAINER(gtk_dialog_get_content_area(GTK_DIALOG(d->window))));
    for (GList *r = rows; r; r = r->next)
        if (r->data != d->body)
            gtk_widget_set_sensitive(r->data, !on);
    g_list_free(rows);
    gtk_widget_set_sensitive(d->controls, !on);
    gtk_widget_set_sensitive(d->buttons, !on);
    gtk_widget_set_sensitive(d->cancel, on);
}

static gboolean generation_done(gpointer data)
{
    dialog *d = data;
    g_thread_join(d->worker);
    d->worker = NULL;
    GimpLayer *layer = d->ok ? paldiff_job_finish(&d->job) : NULL;
    if (d->ok && !layer) {
        paldiff_progress_set_status(d->progress, _("paldiff: the image or the layer was closed or removed "
                                                   "while generating; nothing was added."));
    } else if (layer) {
        gimp_displays_flush();
        d->layers++;
        paldiff_progress_set_preview(d->progress, d->job.result.data, d->job.result.width, d->job.result.height);
        char *name = gimp_item_get_name(GIMP_ITEM(layer));
        char *text = g_strdup_printf(_("Added the layer “%s”."), name);
        paldiff_progress_set_status(d->progress, text);
        g_free(text);
        g_free(name);
    } else if (g_error_matches(d->error, PALDIFF_ERROR, PD_E_CANCELLED)) {
        paldiff_progress_set_step(d->progress, "", 0, 0);
        paldiff_progress_set_status(d->progress, _("Cancelled; the image is unchanged."));
    } else {
        paldiff_progress_set_status(d->progress, d->error->message);
    }
    g_clear_error(&d->error);
    paldiff_job_clear(&d->job);
    set_generating(d, FALSE);
    g_main_loop_quit(d->wait);
    return G_SOURCE_REMOVE;
}

/* The worker thread: the engine, then the outcome to the main thread. */
static gpointer worker_main(gpointer data)
{
    dialog *d = data;
    d->ok = paldiff_job_generate(&d->job, &d->error);
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, generation_done, d, NULL);
    return NULL;
}

/* Generate: read GIMP's pixels here, generate on the worker, wait for it
 * with the dialog live. */
static void generate(dialog *d)
{
    GError *error = NULL;
    if (!paldiff_job_prepare(&d->job, d->image, d->drawables, d->config, d->mode, &error)) {
        paldiff_progress_set_status(d->progress, error->message);
        g_error_free(error);
        paldiff_job_clear(&d->job);
        return;
    }
    g_atomic_int_set(&d->cancel_flag, 0);
    d->job.args.progress = on_progress;
    d->job.args.progress_user = d;
    d->job.args.preview = 1;
    d->job.args.cancel = (const volatile int *)&d->cancel_flag;
    paldiff_progress_set_status(d->progress, "");
    set_generating(d, TRUE);
    d->worker = g_thread_new("paldiff-generate", worker_main, d);
    g_main_loop_run(d->wait);
}

static void on_cancel(GtkButton *button, dialog *d)
{
    (void)button;
    g_atomic_int_set(&d->cancel_flag, 1); /* the engine stops at its next step */
    gtk_widget_set_sensitive(d->cancel, FALSE);
}

/* Closing the window while generating cancels instead: the worker must end
 * before the dialog goes. */
static gboolean on_delete(GtkWidget *window, GdkEvent *event, dialog *d)
{
    (void)window, (void)event;
    if (!d->generating)
        return FALSE;
    on_cancel(NULL, d);
    return TRUE;
}

/* ---- tests: PALDIFF_DIALOG_TEST ----------------------------------------------------- */

/* Saves the window as d->shot once GTK has painted it: a timer can fire
 * between a change (the end of a generation) and its repaint, and the X
 * server would then give the pixels of before. */
static void shoot_after_paint(GdkFrameClock *clock, dialog *d)
{
    g_signal_handlers_disconnect_by_func(clock, shoot_after_paint, d);
    GdkWindow *w = gtk_widget_get_window(d->window);
    GdkPixbuf *shot = gdk_pixbuf_get_from_window(w, 0, 0, gdk_window_get_width(w), gdk_window_get_height(w));
    GError *error = NULL;
    if (!shot || !gdk_pixbuf_save(shot, d->shot, "png", &error, NULL))
        g_printerr("paldiff: PALDIFF_DIALOG_TEST: could not save the screenshot %s: %s\n", d->shot,
                   error ? error->message : "the window could not be read");
    g_clear_error(&error);
    g_clear_object(&shot);
    g_clear_pointer(&d->shot, g_free);
}

static gboolean next_action(gpointer data)
{
    dialog *d = data;
    if (d->generating || d->shot)
        return G_SOURCE_CONTINUE;
    const char *a = d->actions[d->next_action++];
    if (!strcmp(a, "generate") || !strcmp(a, "cancel")) {
        d->cancel_at_step = !strcmp(a, "cancel");
        gtk_dialog_response(GTK_DIALOG(d->window), GTK_RESPONSE_OK);
    } else if (g_str_has_prefix(a, "shot:")) {
        d->shot = g_strdup(a + strlen("shot:"));
        g_signal_connect(gtk_widget_get_frame_clock(d->window), "after-paint", G_CALLBACK(shoot_after_paint), d);
        gtk_widget_queue_draw(d->window);
    } else if (!strcmp(a, "close")) {
        gtk_dialog_response(GTK_DIALOG(d->window), GTK_RESPONSE_CANCEL);
    } else {
        g_printerr("paldiff: PALDIFF_DIALOG_TEST: unknown action \"%s\"; the actions are generate, cancel, "
                   "shot:FILE and close\n", a);
    }
    if (d->actions[d->next_action])
        return G_SOURCE_CONTINUE;
    d->action_timer = 0;
    return G_SOURCE_REMOVE;
}

/* ---- the dialog ------------------------------------------------------------------------- */

/* One labelled row; the label is the argument's own (translated) nick, its
 * mnemonic focusing `focus`, and its blurb is the tooltip. */
static void add_row(GtkGrid *grid, GimpProcedureConfig *config, const char *property, GtkWidget *field,
                    GtkWidget *focus)
{
    GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(config), property);
    GtkWidget *label = gtk_label_new_with_mnemonic(g_param_spec_get_nick(spec));
    gtk_label_set_mnemonic_widget(GTK_LABEL(label), focus);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_widget_set_valign(label, GTK_ALIGN_START);
    if (!gtk_widget_get_has_tooltip(focus))
        gtk_widget_set_tooltip_text(focus, g_param_spec_get_blurb(spec));
    gtk_widget_set_hexpand(field, TRUE);
    int row = 0;
    while (gtk_grid_get_child_at(grid, 0, row))
        row++;
    gtk_grid_attach(grid, label, 0, row, 1, 1);
    gtk_grid_attach(grid, field, 1, row, 1, 1);
}

static void add_spin(GtkGrid *grid, GimpProcedureConfig *config, const char *property, double step, int digits)
{
    GtkWidget *spin = paldiff_spin_new(G_OBJECT(config), property, step, digits);
    add_row(grid, config, property, spin, spin);
}

static GtkWidget *arguments(GimpProcedureConfig *config, pd_mode mode)
{
    GObject *c = G_OBJECT(config);
    GtkGrid *grid = GTK_GRID(gtk_grid_new());
    gtk_grid_set_row_spacing(grid, 6);
    gtk_grid_set_column_spacing(grid, 12);
    GtkWidget *prompt = paldiff_prompt_new(c, "prompt", 4);
    add_row(grid, config, "prompt", prompt, gtk_bin_get_child(GTK_BIN(prompt)));
    GtkWidget *negative = paldiff_prompt_new(c, "negative-prompt", 2);
    add_row(grid, config, "negative-prompt", negative, gtk_bin_get_child(GTK_BIN(negative)));
    char *models = cli_models_dir();
    GtkWidget *model = paldiff_model_chooser_new(c, "model", models);
    g_free(models);
    add_row(grid, config, "model", model, model);
    GtkWidget *scheduler = paldiff_choice_new(c, "scheduler", paldiff_schedulers, paldiff_n_schedulers);
    add_row(grid, config, "scheduler", scheduler, scheduler);
    add_spin(grid, config, "steps", 1, 0);
    add_spin(grid, config, "guidance", 0.5, 1);
    GtkWidget *seed = paldiff_seed_new(c, "seed");
    GList *kids = gtk_container_get_children(GTK_CONTAINER(seed));
    add_row(grid, config, "seed", seed, kids->data); /* the spin button */
    g_list_free(kids);
    if (mode == PD_MODE_TXT2IMG) {
        add_spin(grid, config, "width", 8, 0);
        add_spin(grid, config, "height", 8, 0);
    } else {
        add_spin(grid, config, "strength", 0.05, 2);
    }
    gtk_widget_show_all(GTK_WIDGET(grid));
    return GTK_WIDGET(grid);
}

GimpPDBStatusType paldiff_dialog_run(GimpProcedure *procedure, GimpProcedureConfig *config, GimpImage *image,
                                     GimpDrawable **drawables, pd_mode mode)
{
    dialog d = {.config = config, .image = image, .drawables = drawables, .mode = mode};
    d.window = gimp_procedure_dialog_new(procedure, config, gimp_procedure_get_menu_label(procedure));
    gimp_procedure_dialog_set_ok_label(GIMP_PROCEDURE_DIALOG(d.window), _("Gener_ate"));
    GtkWidget *close = gtk_dialog_get_widget_for_response(GTK_DIALOG(d.window), GTK_RESPONSE_CANCEL);
    gtk_button_set_label(GTK_BUTTON(close), _("_Close"));
    /* The box GIMP put its buttons in (action area or header bar). */
    d.buttons = gtk_widget_get_parent(close);

    d.controls = arguments(config, mode);
    d.progress = PALDIFF_PROGRESS(paldiff_progress_new(256));
    d.cancel = gtk_button_new_with_mnemonic(_("Cance_l"));
    gtk_widget_set_tooltip_text(d.cancel, _("Stop the generation; the image stays as it was"));
    gtk_widget_set_sensitive(d.cancel, FALSE);
    g_signal_connect(d.cancel, "clicked", G_CALLBACK(on_cancel), &d);
    GtkWidget *side = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    gtk_box_pack_start(GTK_BOX(side), GTK_WIDGET(d.progress), FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(side), d.cancel, FALSE, FALSE, 0);
    d.body = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 18);
    gtk_container_set_border_width(GTK_CONTAINER(d.body), 12);
    gtk_box_pack_start(GTK_BOX(d.body), d.controls, TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(d.body), side, FALSE, FALSE, 0);
    gtk_widget_show_all(d.body);
    gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(d.window))), d.body, TRUE, TRUE, 0);
    g_signal_connect(d.window, "delete-event", G_CALLBACK(on_delete), &d);

    const char *test = g_getenv("PALDIFF_DIALOG_TEST");
    if (test && *test) {
        /* Screenshots show settled states, not CSS transitions half-way. */
        g_object_set(gtk_settings_get_default(), "gtk-enable-animations", FALSE, NULL);
        d.actions = g_strsplit_set(test, " ", -1);
        if (d.actions[0])
            d.action_timer = g_timeout_add(500, next_action, &d);
    }
    d.wait = g_main_loop_new(NULL, FALSE);
    while (gimp_procedure_dialog_run(GIMP_PROCEDURE_DIALOG(d.window))) /* Generate */
        generate(&d);
    if (d.action_timer)
        g_source_remove(d.action_timer);
    if (d.shot) /* closed before the paint it waited for */
        g_signal_handlers_disconnect_by_func(gtk_widget_get_frame_clock(d.window), shoot_after_paint, &d);
    g_free(d.shot);
    g_strfreev(d.actions);
    g_main_loop_unref(d.wait);
    gtk_widget_destroy(d.window);
    return d.layers ? GIMP_PDB_SUCCESS : GIMP_PDB_CANCEL;
}
