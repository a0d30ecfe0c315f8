/* choice.c — see choice.h. */
#include <glib/gi18n-lib.h>

#include "ui/choice.h"

const paldiff_choice paldiff_schedulers[] = {
    {"default", N_("Model's default")},
    {"ddim", "DDIM"},
    {"pndm", "PNDM (PLMS)"},
    {"euler", "Euler"},
    {"euler_a", "Euler a"},
    {"dpmpp_2m", "DPM++ 2M"},
    {"dpmpp_2m_karras", "DPM++ 2M Karras"},
    {"lcm", "LCM"},
};
const int paldiff_n_schedulers = G_N_ELEMENTS(paldiff_schedulers);

GtkWidget *paldiff_choice_new(GObject *object, const char *property, const paldiff_choice *choices, int n)
{
    GtkWidget *combo = gtk_combo_box_text_new();
    for (int i = 0; i < n; i++)
        gtk_combo_box_text_append(GTK_COMBO_BOX_TEXT(combo), choices[i].name, _(choices[i].label));
    /* The row ids are the names, so "active-id" is the property's value. */
    g_object_bind_property(object, property, combo, "active-id", G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
    gtk_widget_show(combo);
    return combo;
}
