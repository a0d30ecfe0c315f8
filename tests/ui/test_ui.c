/* test_ui.c — ui/'s widgets bound to a test object: each property and its
 * widget follow each other both ways; the model chooser lists the model
 * folder found through $XDG_DATA_HOME; the progress panel shows what it is
 * fed. Needs an X display (xvfb-run); without one it fails. */
#include <string.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "cli/cli.h"
#include "ui/choice.h"
#include "ui/model_chooser.h"
#include "ui/progress.h"
#include "ui/prompt.h"
#include "ui/seed.h"
#include "ui/spin.h"

/* ---- the test object: the properties the plug-in's config has ---------- */

typedef struct {
    GObject parent_instance;
    char *prompt, *model, *scheduler;
    int seed, steps;
    double guidance;
} TestConfig;
typedef struct {
    GObjectClass parent_class;
} TestConfigClass;
GType test_config_get_type(void);
G_DEFINE_TYPE(TestConfig, test_config, G_TYPE_OBJECT)

enum { PROP_0, PROP_PROMPT, PROP_MODEL, PROP_SCHEDULER, PROP_SEED, PROP_STEPS, PROP_GUIDANCE };

static char **string_field(TestConfig *c, guint id)
{
    return id == PROP_PROMPT ? &c->prompt : id == PROP_MODEL ? &c->model : &c->scheduler;
}

static void set_property(GObject *o, guint id, const GValue *v, GParamSpec *spec)
{
    TestConfig *c = (TestConfig *)o;
    (void)spec;
    if (id == PROP_SEED)
        c->seed = g_value_get_int(v);
    else if (id == PROP_STEPS)
        c->steps = g_value_get_int(v);
    else if (id == PROP_GUIDANCE)
        c->guidance = g_value_get_double(v);
    else {
        g_free(*string_field(c, id));
        *string_field(c, id) = g_value_dup_string(v);
    }
}

static void get_property(GObject *o, guint id, GValue *v, GParamSpec *spec)
{
    TestConfig *c = (TestConfig *)o;
    (void)spec;
    if (id == PROP_SEED)
        g_value_set_int(v, c->seed);
    else if (id == PROP_STEPS)
        g_value_set_int(v, c->steps);
    else if (id == PROP_GUIDANCE)
        g_value_set_double(v, c->guidance);
    else
        g_value_set_string(v, *string_field(c, id));
}

static void finalize(GObject *o)
{
    TestConfig *c = (TestConfig *)o;
    g_free(c->prompt);
    g_free(c->model);
    g_free(c->scheduler);
    G_OBJECT_CLASS(test_config_parent_class)->finalize(o);
}

static void test_config_class_init(TestConfigClass *k)
{
    GObjectClass *oc = G_OBJECT_CLASS(k);
    oc->set_property = set_property;
    oc->get_property = get_property;
    oc->finalize = finalize;
    const GParamFlags rw = G_PARAM_READWRITE;
    g_object_class_install_property(oc, PROP_PROMPT, g_param_spec_string("prompt", NULL, NULL, "", rw));
    g_object_class_install_property(oc, PROP_MODEL, g_param_spec_string("model", NULL, NULL, "", rw));
    g_object_class_install_property(oc, PROP_SCHEDULER,
                                    g_param_spec_string("scheduler", NULL, NULL, "default", rw));
    g_object_class_install_property(oc, PROP_SEED, g_param_spec_int("seed", NULL, NULL, -1, G_MAXINT, 0, rw));
    g_object_class_install_property(oc, PROP_STEPS, g_param_spec_int("steps", NULL, NULL, 1, 1000, 20, rw));
    g_object_class_install_property(oc, PROP_GUIDANCE,
                                    g_param_spec_double("guidance", NULL, NULL, 0, 30, 7.5, rw));
}

static void test_config_init(TestConfig *c)
{
    c->prompt = g_strdup("");
    c->model = g_strdup("");
    c->scheduler = g_strdup("default");
    c->steps = 20;
    c->guidance = 7.5;
}

static GObject *new_config(void)
{
    return g_object_new(test_config_get_type(), NULL);
}

/* Lets GTK handle what the calls queued. */
static void settle(void)
{
    while (gtk_events_pending())
        gtk_main_iteration();
}

/* ---- cases ------------------------------------------------------------ */

static void test_prompt(void)
{
    GObject *config = new_config();
    g_object_set(config, "prompt", "a red fox\nin the snow", NULL);
    GtkWidget *w = g_object_ref_sink(paldiff_prompt_new(config, "prompt", 3));
    GtkTextBuffer *buf = gtk_text_view_get_buffer(GTK_TEXT_VIEW(gtk_bin_get_child(GTK_BIN(w))));
    char *text;
    g_object_get(buf, "text", &text, NULL);
    g_assert_cmpstr(text, ==, "a red fox\nin the snow"); /* property -> view, at creation */
    g_free(text);

    g_object_set(config, "prompt", "a lighthouse", NULL); /* property -> view */
    g_object_get(buf, "text", &text, NULL);
    g_assert_cmpstr(text, ==, "a lighthouse");
    g_free(text);

    GtkTextIter end;
    gtk_text_buffer_get_end_iter(buf, &end);
    gtk_text_buffer_insert(buf, &end, "\nat dusk", -1); /* typing: view -> property */
    g_assert_cmpstr(((TestConfig *)config)->prompt, ==, "a lighthouse\nat dusk");

    g_object_set(config, "prompt", NULL, NULL); /* NULL shows as empty */
    g_object_get(buf, "text", &text, NULL);
    g_assert_cmpstr(text, ==, "");
    g_free(text);

    gtk_widget_destroy(w); /* the object outlives the widget: no more binding */
    g_object_unref(w);
    g_object_set(config, "prompt", "after", NULL);
    g_object_unref(config);
}

static void test_seed(void)
{
    GObject *config = new_config();
    g_object_set(config, "seed", 7, NULL);
    GtkWidget *w = g_object_ref_sink(paldiff_seed_new(config, "seed"));
    GList *kids = gtk_container_get_children(GTK_CONTAINER(w));
    GtkSpinButton *spin = GTK_SPIN_BUTTON(kids->data);
    GtkButton *random = GTK_BUTTON(kids->next->data);
    g_list_free(kids);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(spin), ==, 7);

    gtk_spin_button_set_value(spin, 1234567); /* widget -> property */
    g_assert_cmpint(((TestConfig *)config)->seed, ==, 1234567);
    g_object_set(config, "seed", 42, NULL); /* property -> widget */
    g_assert_cmpint(gtk_spin_button_get_value_as_int(spin), ==, 42);

    gtk_button_clicked(random); /* "Random": -1, shown as -1 */
    g_assert_cmpint(((TestConfig *)config)->seed, ==, -1);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(spin), ==, -1);

    gtk_spin_button_set_value(spin, -5); /* below the property's range: clamped to -1 */
    g_assert_cmpint(((TestConfig *)config)->seed, ==, -1);
    g_object_set(config, "seed", G_MAXINT, NULL); /* the whole range shows */
    g_assert_cmpint(gtk_spin_button_get_value_as_int(spin), ==, G_MAXINT);
    gtk_widget_destroy(w);
    g_object_unref(w);
    g_object_unref(config);
}

static void test_spin(void)
{
    GObject *config = new_config();
    GtkWidget *steps = g_object_ref_sink(paldiff_spin_new(config, "steps", 1, 0));
    GtkWidget *guidance = g_object_ref_sink(paldiff_spin_new(config, "guidance", 0.5, 1));
    double lo, hi;
    gtk_spin_button_get_range(GTK_SPIN_BUTTON(steps), &lo, &hi);
    g_assert_cmpfloat(lo, ==, 1);
    g_assert_cmpfloat(hi, ==, 1000);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(steps)), ==, 20);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(steps), 35);
    g_assert_cmpint(((TestConfig *)config)->steps, ==, 35);
    g_object_set(config, "guidance", 4.5, NULL);
    g_assert_cmpfloat(gtk_spin_button_get_value(GTK_SPIN_BUTTON(guidance)), ==, 4.5);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(guidance), 12.0);
    g_assert_cmpfloat(((TestConfig *)config)->guidance, ==, 12.0);
    g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*no int or double property \"prompt\"*");
    g_assert_null(paldiff_spin_new(config, "prompt", 1, 0));
    g_test_assert_expected_messages();
    gtk_widget_destroy(steps);
    gtk_widget_destroy(guidance);
    g_object_unref(steps);
    g_object_unref(guidance);
    g_object_unref(config);
}

static void test_scheduler(void)
{
    GObject *config = new_config();
    g_object_set(config, "scheduler", "euler_a", NULL);
    GtkWidget *w = g_object_ref_sink(paldiff_choice_new(config, "scheduler", paldiff_schedulers,
                                                        paldiff_n_schedulers));
    GtkComboBox *combo = GTK_COMBO_BOX(w);
    g_assert_cmpint(gtk_tree_model_iter_n_children(gtk_combo_box_get_model(combo), NULL), ==, 8);
    g_assert_cmpstr(gtk_combo_box_get_active_id(combo), ==, "euler_a");
    char *label = gtk_combo_box_text_get_active_text(GTK_COMBO_BOX_TEXT(w));
    g_assert_cmpstr(label, ==, "Euler a");
    g_free(label);
    gtk_combo_box_set_active_id(combo, "dpmpp_2m_karras"); /* widget -> property */
    g_assert_cmpstr(((TestConfig *)config)->scheduler, ==, "dpmpp_2m_karras");
    g_object_set(config, "scheduler", "default", NULL); /* property -> widget */
    g_assert_cmpint(gtk_combo_box_get_active(combo), ==, 0);
    /* every name is one `paldiff generate --scheduler` takes */
    const char *names[] = {"default", "ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "lcm"};
    for (int i = 0; i < paldiff_n_schedulers; i++)
        g_assert_cmpstr(paldiff_schedulers[i].name, ==, names[i]);
    gtk_widget_destroy(w);
    g_object_unref(w);
    g_object_unref(config);
}

static void touch(const char *path)
{
    g_assert_true(g_file_set_contents(path, "x", 1, NULL));
}

/* The rows' ids and texts as "id=text|id=text|…". */
static char *rows_of(GtkComboBox *combo)
{
    GtkTreeModel *m = gtk_combo_box_get_model(combo);
    GString *s = g_string_new(NULL);
    GtkTreeIter it;
    for (gboolean ok = gtk_tree_model_get_iter_first(m, &it); ok; ok = gtk_tree_model_iter_next(m, &it)) {
        char *text, *id;
        gtk_tree_model_get(m, &it, gtk_combo_box_get_entry_text_column(combo), &text,
                           gtk_combo_box_get_id_column(combo), &id, -1);
        g_string_append_printf(s, "%s%s=%s", s->len ? "|" : "", id, text);
        g_free(text);
        g_free(id);
    }
    return g_string_free(s, FALSE);
}

/* Answers the file chooser the chooser opens with Cancel. */
static gboolean cancel_file_chooser(gpointer data)
{
    int *seen = data;
    GList *tops = gtk_window_list_toplevels();
    for (GList *l = tops; l; l = l->next)
        if (GTK_IS_FILE_CHOOSER_DIALOG(l->data)) {
            (*seen)++;
            gtk_dialog_response(GTK_DIALOG(l->data), GTK_RESPONSE_CANCEL);
        }
    g_list_free(tops);
    return G_SOURCE_CONTINUE;
}

static void test_model_chooser(void)
{
    /* A model folder where $XDG_DATA_HOME (set in main) says, as the
     * plug-in finds it. */
    const char *data = g_getenv("XDG_DATA_HOME");
    char *dir = cli_models_dir();
    char *expect_dir = g_build_filename(data, "paldiff", "models", NULL);
    g_assert_cmpstr(dir, ==, expect_dir);
    g_free(expect_dir);
    char *paths[6];
    const char *names[6] = {"sd15", "b.safetensors", "notes.txt", ".hidden", "old.ckpt", "Anime"};
    for (int i = 0; i < 6; i++)
        paths[i] = g_build_filename(dir, names[i], NULL);
    g_assert_cmpint(g_mkdir_with_parents(paths[0], 0700), ==, 0);
    g_assert_cmpint(g_mkdir(paths[3], 0700), ==, 0);
    g_assert_cmpint(g_mkdir(paths[5], 0700), ==, 0);
    touch(paths[1]);
    touch(paths[2]);
    touch(paths[4]);

    GObject *config = new_config();
    g_object_set(config, "model", paths[0], NULL);
    GtkWidget *w = g_object_ref_sink(paldiff_model_chooser_new(config, "model", dir));
    GtkComboBox *combo = GTK_COMBO_BOX(w);
    char *rows = rows_of(combo);
    char *expect = g_strdup_printf("=Default model|%s=Anime|%s=b.safetensors|%s=sd15|"
                                   "<other-file>=Other file…|<other-folder>=Other folder…",
                                   paths[5], paths[1], paths[0]);
    g_assert_cmpstr(rows, ==, expect);
    g_free(rows);
    g_free(expect);
    g_assert_cmpstr(gtk_combo_box_get_active_id(combo), ==, paths[0]); /* the property's value */

    gtk_combo_box_set_active(combo, 2); /* widget -> property */
    g_assert_cmpstr(((TestConfig *)config)->model, ==, paths[1]);
    gtk_combo_box_set_active(combo, 0);
    g_assert_cmpstr(((TestConfig *)config)->model, ==, "");

    /* a path from elsewhere (Script-Fu, last values) gets a row of its own */
    g_object_set(config, "model", "/elsewhere/my-model.safetensors", NULL);
    g_assert_cmpstr(gtk_combo_box_get_active_id(combo), ==, "/elsewhere/my-model.safetensors");
    char *text = gtk_combo_box_text_get_active_text(GTK_COMBO_BOX_TEXT(w));
    g_assert_cmpstr(text, ==, "my-model.safetensors");
    g_free(text);
    g_assert_cmpint(gtk_tree_model_iter_n_children(gtk_combo_box_get_model(combo), NULL), ==, 7);

    /* "Other file…" opens a chooser; cancelling it keeps the value */
    int seen = 0;
    guint poll = g_timeout_add(50, cancel_file_chooser, &seen);
    gtk_combo_box_set_active_id(combo, "<other-file>");
    g_source_remove(poll);
    g_assert_cmpint(seen, ==, 1);
    g_assert_cmpstr(((TestConfig *)config)->model, ==, "/elsewhere/my-model.safetensors");
    g_assert_cmpstr(gtk_combo_box_get_active_id(combo), ==, "/elsewhere/my-model.safetensors");
    settle();

    gtk_widget_destroy(w);
    g_object_unref(w);
    g_object_set(config, "model", "", NULL); /* the widget is gone: nothing listens */
    g_object_unref(config);
    for (int i = 0; i < 6; i++) {
        g_assert_cmpint(g_remove(paths[i]), ==, 0);
        g_free(paths[i]);
    }
    g_assert_cmpint(g_rmdir(dir), ==, 0);
    char *pd = g_path_get_dirname(dir);
    g_assert_cmpint(g_rmdir(pd), ==, 0);
    g_free(pd);
    g_free(dir);
}

static void test_missing_model_folder(void)
{
    GObject *config = new_config();
    GtkWidget *w = g_object_ref_sink(paldiff_model_chooser_new(config, "model", "/nonexistent/paldiff/models"));
    char *rows = rows_of(GTK_COMBO_BOX(w));
    g_assert_cmpstr(rows, ==, "=Default model|<other-file>=Other file…|<other-folder>=Other folder…");
    g_free(rows);
    g_assert_cmpint(gtk_combo_box_get_active(GTK_COMBO_BOX(w)), ==, 0);
    gtk_widget_destroy(w);
    g_object_unref(w);
    g_object_unref(config);
}

static void test_progress(void)
{
    GtkWidget *w = g_object_ref_sink(paldiff_progress_new(128));
    PaldiffProgress *panel = PALDIFF_PROGRESS(w);
    GList *kids = gtk_container_get_children(GTK_CONTAINER(w));
    GtkImage *image = GTK_IMAGE(gtk_bin_get_child(GTK_BIN(kids->data)));
    GtkProgressBar *bar = GTK_PROGRESS_BAR(kids->next->data);
    GtkLabel *status = GTK_LABEL(kids->next->next->data);
    g_list_free(kids);

    paldiff_progress_set_step(panel, "Denoising", 5, 20);
    g_assert_cmpfloat(gtk_progress_bar_get_fraction(bar), ==, 0.25);
    g_assert_cmpstr(gtk_progress_bar_get_text(bar), ==, "Denoising 5 / 20");
    paldiff_progress_set_step(panel, "Encoding", 0, 0);
    g_assert_cmpstr(gtk_progress_bar_get_text(bar), ==, "Encoding");
    g_assert_cmpfloat(gtk_progress_bar_get_fraction(bar), ==, 0);

    /* an 8×4 preview (a latent-sized one): left half red, right half blue */
    guint8 rgb[8 * 4 * 3];
    for (int i = 0; i < 8 * 4; i++) {
        const gboolean left = i % 8 < 4;
        rgb[i * 3] = left ? 255 : 0;
        rgb[i * 3 + 1] = 0;
        rgb[i * 3 + 2] = left ? 0 : 255;
    }
    paldiff_progress_set_preview(panel, rgb, 8, 4);
    GdkPixbuf *shown = gtk_image_get_pixbuf(image);
    g_assert_nonnull(shown);
    g_assert_cmpint(gdk_pixbuf_get_width(shown), ==, 128); /* fitted, aspect kept */
    g_assert_cmpint(gdk_pixbuf_get_height(shown), ==, 64);
    const guint8 *px = gdk_pixbuf_get_pixels(shown);
    const int stride = gdk_pixbuf_get_rowstride(shown), nc = gdk_pixbuf_get_n_channels(shown);
    const guint8 *l = px + 32 * stride + 4 * nc, *r = px + 32 * stride + 120 * nc;
    g_assert_cmpint(l[0], ==, 255);
    g_assert_cmpint(l[2], ==, 0);
    g_assert_cmpint(r[0], ==, 0);
    g_assert_cmpint(r[2], ==, 255);

    g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*width >= 1*");
    paldiff_progress_set_preview(panel, rgb, 0, 4); /* refused, the last preview stays */
    g_test_assert_expected_messages();
    g_assert_true(gtk_image_get_pixbuf(image) == shown);

    paldiff_progress_set_status(panel, "Cancelled.");
    g_assert_cmpstr(gtk_label_get_text(status), ==, "Cancelled.");

    /* shown in a window and drawn: the panel takes at least its preview's size */
    GtkWidget *win = gtk_window_new(GTK_WINDOW_TOPLEVEL);
    gtk_container_add(GTK_CONTAINER(win), w);
    gtk_widget_show_all(win);
    settle();
    g_assert_cmpint(gtk_widget_get_allocated_width(GTK_WIDGET(image)), >=, 128);
    gtk_widget_destroy(win);
    g_object_unref(w);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Before any thread starts (setenv is not thread-safe): a throw-away
     * data folder for the model chooser, and settings in memory, as the
     * file chooser would otherwise try to reach dconf over D-Bus. */
    char *data = g_dir_make_tmp("paldiff-ui-XXXXXX", NULL);
    g_assert_nonnull(data);
    g_setenv("XDG_DATA_HOME", data, TRUE);
    g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
    if (!gtk_init_check(&argc, &argv)) {
        g_printerr("test_ui: no X display; run it under xvfb-run (tests/plugin/in-root.sh does)\n");
        return 1;
    }
    g_test_add_func("/ui/prompt", test_prompt);
    g_test_add_func("/ui/seed", test_seed);
    g_test_add_func("/ui/spin", test_spin);
    g_test_add_func("/ui/scheduler", test_scheduler);
    g_test_add_func("/ui/model-chooser", test_model_chooser);
    g_test_add_func("/ui/model-chooser-missing-folder", test_missing_model_folder);
    g_test_add_func("/ui/progress", test_progress);
    int status = g_test_run();
    g_rmdir(data); /* gone if the cases passed; else left to look at */
    g_free(data);
    return status;
}
