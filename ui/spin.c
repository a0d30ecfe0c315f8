/* spin.c — see spin.h. */
#include "ui/spin.h"

GtkWidget *paldiff_spin_new(GObject *object, const char *property, double step, int digits)
{
    GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(object), property);
    double lo, hi;
    if (spec && G_IS_PARAM_SPEC_INT(spec)) {
        lo = G_PARAM_SPEC_INT(spec)->minimum;
        hi = G_PARAM_SPEC_INT(spec)->maximum;
    } else if (spec && G_IS_PARAM_SPEC_DOUBLE(spec)) {
        lo = G_PARAM_SPEC_DOUBLE(spec)->minimum;
        hi = G_PARAM_SPEC_DOUBLE(spec)->maximum;
    } else {
        g_critical("paldiff_spin_new: %s has no int or double property \"%s\"", G_OBJECT_TYPE_NAME(object),
                   property);
        return NULL;
    }
    GtkAdjustment *adj = gtk_adjustment_new(lo, lo, hi, step, step * 10, 0);
    GtkWidget *spin = gtk_spin_button_new(adj, step, digits);
    gtk_spin_button_set_numeric(GTK_SPIN_BUTTON(spin), TRUE);
    /* GBinding converts int <-> double with GValue's transforms. */
    g_object_bind_property(object, property, spin, "value", G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
    gtk_widget_show(spin);
    return spin;
}
