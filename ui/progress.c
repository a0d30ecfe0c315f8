/* progress.c — see progress.h. */
#include <string.h>

#include "ui/progress.h"

struct _PaldiffProgress {
    GtkBox parent_instance;
    int size;
    GtkWidget *image, *bar, *status;
};

G_DEFINE_TYPE(PaldiffProgress, paldiff_progress, GTK_TYPE_BOX)

static void paldiff_progress_class_init(PaldiffProgressClass *klass)
{
    (void)klass;
}

static void paldiff_progress_init(PaldiffProgress *panel)
{
    (void)panel;
}

GtkWidget *paldiff_progress_new(int preview_size)
{
    PaldiffProgress *panel = g_object_new(PALDIFF_TYPE_PROGRESS, "orientation", GTK_ORIENTATION_VERTICAL,
                                          "spacing", 6, NULL);
    panel->size = MAX(preview_size, 16);
    /* A frame of fixed size, so the dialog does not jump when a preview comes. */
    GtkWidget *frame = gtk_frame_new(NULL);
    gtk_frame_set_shadow_type(GTK_FRAME(frame), GTK_SHADOW_IN);
    panel->image = gtk_image_new();
    gtk_widget_set_size_request(panel->image, panel->size, panel->size);
    gtk_container_add(GTK_CONTAINER(frame), panel->image);
    panel->bar = gtk_progress_bar_new();
    gtk_progress_bar_set_show_text(GTK_PROGRESS_BAR(panel->bar), TRUE);
    gtk_progress_bar_set_text(GTK_PROGRESS_BAR(panel->bar), "");
    panel->status = gtk_label_new(NULL);
    gtk_label_set_line_wrap(GTK_LABEL(panel->status), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(panel->status), 36);
    gtk_label_set_selectable(GTK_LABEL(panel->status), TRUE); /* errors can be copied */
    gtk_label_set_xalign(GTK_LABEL(panel->status), 0);
    gtk_box_pack_start(GTK_BOX(panel), frame, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(panel), panel->bar, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(panel), panel->status, FALSE, FALSE, 0);
    gtk_widget_show_all(GTK_WIDGET(panel));
    return GTK_WIDGET(panel);
}

void paldiff_progress_set_step(PaldiffProgress *panel, const char *phase, int step, int total)
{
    g_return_if_fail(PALDIFF_IS_PROGRESS(panel) && phase);
    GtkProgressBar *bar = GTK_PROGRESS_BAR(panel->bar);
    if (total <= 0) {
        gtk_progress_bar_set_fraction(bar, 0);
        gtk_progress_bar_set_text(bar, phase);
        return;
    }
    char *text = g_strdup_printf("%s %d / %d", phase, step, total);
    gtk_progress_bar_set_fraction(bar, CLAMP((double)step / total, 0.0, 1.0));
    gtk_progress_bar_set_text(bar, text);
    g_free(text);
}

void paldiff_progress_set_preview(PaldiffProgress *panel, const guint8 *rgb, int width, int height)
{
    g_return_if_fail(PALDIFF_IS_PROGRESS(panel) && rgb);
    g_return_if_fail(width >= 1 && width <= 8192 && height >= 1 && height <= 8192);
    GdkPixbuf *full = gdk_pixbuf_new(GDK_COLORSPACE_RGB, FALSE, 8, width, height);
    const int stride = gdk_pixbuf_get_rowstride(full);
    guint8 *dst = gdk_pixbuf_get_pixels(full);
    for (int y = 0; y < height; y++)
        memcpy(dst + (size_t)y * stride, rgb + (size_t)y * width * 3, (size_t)width * 3);
    /* Fit the longer side to the preview box. */
    const double f = (double)panel->size / MAX(width, height);
    GdkPixbuf *shown = gdk_pixbuf_scale_simple(full, MAX(1, (int)(width * f + 0.5)),
                                               MAX(1, (int)(height * f + 0.5)), GDK_INTERP_BILINEAR);
    gtk_image_set_from_pixbuf(GTK_IMAGE(panel->image), shown);
    g_object_unref(shown);
    g_object_unref(full);
}

void paldiff_progress_set_status(PaldiffProgress *panel, const char *text)
{
    g_return_if_fail(PALDIFF_IS_PROGRESS(panel) && text);
    gtk_label_set_text(GTK_LABEL(panel->status), text);
}
