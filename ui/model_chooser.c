/* model_chooser.c — see model_chooser.h. */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "ui/model_chooser.h"

/* The two last rows open a file chooser; these ids cannot be a path's
 * (paths a chooser gives are absolute). */
#define OTHER_FILE "<other-file>"
#define OTHER_FOLDER "<other-folder>"

typedef struct chooser {
    GObject *object; /* not owned: the caller keeps it alive */
    char *property;
    GtkComboBoxText *combo;
    gboolean syncing; /* property -> combo in progress: ignore "changed" */
} chooser;

static void chooser_free(gpointer data)
{
    chooser *c = data;
    g_free(c->property);
    g_free(c);
}

static gboolean is_model(const char *dir, const char *name)
{
    if (name[0] == '.')
        return FALSE;
    char *path = g_build_filename(dir, name, NULL);
    gboolean yes = g_file_test(path, G_FILE_TEST_IS_DIR) ||
                   (g_str_has_suffix(name, ".safetensors") && g_file_test(path, G_FILE_TEST_IS_REGULAR));
    g_free(path);
    return yes;
}

static int by_name(gconstpointer a, gconstpointer b)
{
    return g_utf8_collate(*(const char *const *)a, *(const char *const *)b);
}

static void list_models(GtkComboBoxText *combo, const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL); /* no folder yet: nothing installed */
    if (!d)
        return;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)))
        if (is_model(dir, name))
            g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, by_name);
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, names->pdata[i], NULL);
        gtk_combo_box_text_append(combo, path, names->pdata[i]);
        g_free(path);
    }
    g_ptr_array_unref(names);
}

/* Shows the property's value, adding a row (before the two "Other" rows)
 * for a path not listed yet. */
static void show_value(chooser *c)
{
    char *value = NULL;
    g_object_get(c->object, c->property, &value, NULL);
    if (!value)
        value = g_strdup("");
    c->syncing = TRUE;
    if (!gtk_combo_box_set_active_id(GTK_COMBO_BOX(c->combo), value)) {
        GtkTreeModel *rows = gtk_combo_box_get_model(GTK_COMBO_BOX(c->combo));
        char *base = g_path_get_basename(value);
        gtk_combo_box_text_insert(c->combo, gtk_tree_model_iter_n_children(rows, NULL) - 2, value, base);
        g_free(base);
        gtk_combo_box_set_active_id(GTK_COMBO_BOX(c->combo), value);
    }
    c->syncing = FALSE;
    g_free(value);
}

static void on_notify(GObject *object, GParamSpec *spec, gpointer combo)
{
    (void)object, (void)spec;
    show_value(g_object_get_data(combo, "paldiff-chooser"));
}

/* Runs a file chooser; returns the path picked (g_free) or NULL. */
static char *pick(GtkWidget *near, gboolean folder)
{
    GtkWidget *top = gtk_widget_get_toplevel(near);
    GtkWidget *dialog = gtk_file_chooser_dialog_new(
        folder ? _("Choose a model folder (diffusers layout)") : _("Choose a model file (.safetensors)"),
        GTK_IS_WINDOW(top) ? GTK_WINDOW(top) : NULL,
        folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER : GTK_FILE_CHOOSER_ACTION_OPEN, _("_Cancel"),
        GTK_RESPONSE_CANCEL, _("_Select"), GTK_RESPONSE_ACCEPT, NULL);
    char *path = NULL;
    if (gtk_dialog_run(GTK_DIALOG(dialog)) == GTK_RESPONSE_ACCEPT)
        path = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(dialog));
    gtk_widget_destroy(dialog);
    return path;
}

static void on_changed(GtkComboBox *combo, gpointer data)
{
    chooser *c = data;
    const char *id = gtk_combo_box_get_active_id(combo);
    if (c->syncing || !id)
        return;
    const gboolean file = !strcmp(id, OTHER_FILE), folder = !strcmp(id, OTHER_FOLDER);
    char *path = file || folder ? pick(GTK_WIDGET(combo), folder) : g_strdup(id);
    if (path)
        g_object_set(c->object, c->property, path, NULL); /* notify shows it */
    else
        show_value(c); /* cancelled: back to the value the property holds */
    g_free(path);
}

GtkWidget *paldiff_model_chooser_new(GObject *object, const char *property, const char *models_dir)
{
    chooser *c = g_new0(chooser, 1);
    c->object = object;
    c->property = g_strdup(property);
    c->combo = GTK_COMBO_BOX_TEXT(gtk_combo_box_text_new());
    g_object_set_data_full(G_OBJECT(c->combo), "paldiff-chooser", c, chooser_free);

    gtk_combo_box_text_append(c->combo, "", _("Default model"));
    list_models(c->combo, models_dir);
    gtk_combo_box_text_append(c->combo, OTHER_FILE, _("Other file…"));
    gtk_combo_box_text_append(c->combo, OTHER_FOLDER, _("Other folder…"));
    gtk_widget_set_tooltip_text(GTK_WIDGET(c->combo),
                                _("The default model is $PALDIFF_MODEL, else the one installed as "
                                  "\"default\" in the model folder, else the demo model"));
    show_value(c);
    /* Disconnected when the combo goes, as the object may outlive it. */
    char *signal = g_strconcat("notify::", property, NULL);
    g_signal_connect_object(object, signal, G_CALLBACK(on_notify), c->combo, 0);
    g_free(signal);
    g_signal_connect(c->combo, "changed", G_CALLBACK(on_changed), c);
    gtk_widget_show(GTK_WIDGET(c->combo));
    return GTK_WIDGET(c->combo);
}
