/* model_chooser.h — the model field: a combo box bound to a string property
 * holding a model's path, "" meaning the default model.
 *
 *     char *dir = cli_models_dir();   // ~/.local/share/paldiff/models
 *     GtkWidget *w = paldiff_model_chooser_new(G_OBJECT(config), "model", dir);
 *     g_free(dir);
 *
 * Rows: "Default model" (""), then every folder and .safetensors file in
 * models_dir (by name; hidden entries and other files are left out), then
 * any other path the property has held, then "Other file…" and "Other
 * folder…", which open a file chooser and set the property to the file or
 * folder picked (cancelling keeps the value). The row and the property
 * follow each other both ways while the widget lives. The folder is read
 * once, here; a missing folder lists nothing. The widget holds no reference
 * on the object and copies models_dir. Main thread only.
 */
#ifndef PALDIFF_UI_MODEL_CHOOSER_H
#define PALDIFF_UI_MODEL_CHOOSER_H

#include <gtk/gtk.h>

/* Returns a floating GtkComboBoxText. */
GtkWidget *paldiff_model_chooser_new(GObject *object, const char *property, const char *models_dir);

#endif
