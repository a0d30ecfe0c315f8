/* prompt.h — a multi-line prompt box bound to a string property.
 *
 *     GtkWidget *w = paldiff_prompt_new(G_OBJECT(config), "prompt", 4);
 *     gtk_container_add(GTK_CONTAINER(box), w);
 *
 * A GtkTextView in a scrolled window whose text and the property follow
 * each other both ways for as long as the widget lives. The widget holds no
 * reference on the object; the caller keeps the object alive at least as
 * long as the widget. Main (GTK) thread only.
 */
#ifndef PALDIFF_UI_PROMPT_H
#define PALDIFF_UI_PROMPT_H

#include <gtk/gtk.h>

/* lines: how many lines of text show before it scrolls (>= 1). Returns a
 * floating GtkScrolledWindow; the text view is its child. */
GtkWidget *paldiff_prompt_new(GObject *object, const char *property, int lines);

#endif
