/* prompt.c — see prompt.h. */
#include "ui/prompt.h"

/* A NULL string property (GObject allows it) shows as an empty text. */
static gboolean null_as_empty(GBinding *binding, const GValue *from, GValue *to, gpointer data)
{
    (void)binding, (void)data;
    const char *text = g_value_get_string(from);
    g_value_set_string(to, text ? text : "");
    return TRUE;
}

GtkWidget *paldiff_prompt_new(GObject *object, const char *property, int lines)
{
    GtkWidget *view = gtk_text_view_new();
    gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(view), GTK_WRAP_WORD_CHAR);
    gtk_text_view_set_accepts_tab(GTK_TEXT_VIEW(view), FALSE); /* Tab moves to the next field */
    /* GtkTextBuffer's "text" property notifies on every change, so one
     * two-way binding keeps both sides equal (GBinding stops the echo). */
    g_object_bind_property_full(object, property, gtk_text_view_get_buffer(GTK_TEXT_VIEW(view)), "text",
                                G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE, null_as_empty, NULL, NULL,
                                NULL);

    GtkWidget *scrolled = gtk_scrolled_window_new(NULL, NULL);
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
    gtk_scrolled_window_set_shadow_type(GTK_SCROLLED_WINDOW(scrolled), GTK_SHADOW_IN);
    /* Height for `lines` lines of the view's font, measured, not guessed. */
    PangoLayout *layout = gtk_widget_create_pango_layout(view, "Ag");
    int line_height;
    pango_layout_get_pixel_size(layout, NULL, &line_height);
    g_object_unref(layout);
    gtk_scrolled_window_set_min_content_height(GTK_SCROLLED_WINDOW(scrolled), MAX(lines, 1) * line_height + 6);
    gtk_container_add(GTK_CONTAINER(scrolled), view);
    gtk_widget_show_all(scrolled);
    return scrolled;
}
