/* seed.c — see seed.h. */
#include <glib/gi18n-lib.h>

#include "ui/seed.h"
#include "ui/spin.h"

static void on_random(GtkButton *button, GtkSpinButton *spin)
{
    (void)button;
    /* Through the spin button, so the binding carries it to the property. */
    gtk_spin_button_set_value(spin, -1);
}

GtkWidget *paldiff_seed_new(GObject *object, const char *property)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *spin = paldiff_spin_new(object, property, 1, 0);
    gtk_widget_set_tooltip_text(spin, _("The same seed and settings give the same image; -1: a new random "
                                        "seed each time"));
    GtkWidget *random = gtk_button_new_with_mnemonic(_("Ran_dom"));
    gtk_widget_set_tooltip_text(random, _("A new random seed at each generation (-1); the layer's name "
                                          "tells which one was drawn"));
    g_signal_connect_object(random, "clicked", G_CALLBACK(on_random), spin, 0);
    gtk_box_pack_start(GTK_BOX(box), spin, TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(box), random, FALSE, FALSE, 0);
    gtk_widget_show_all(box);
    return box;
}
