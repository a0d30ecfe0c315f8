/* spin.h — a spin button bound to an int or double property.
 *
 *     GtkWidget *steps = paldiff_spin_new(G_OBJECT(config), "steps", 1, 0);
 *     GtkWidget *cfg   = paldiff_spin_new(G_OBJECT(config), "guidance", 0.5, 1);
 *
 * The range is the property's own (its GParamSpec's minimum and maximum);
 * the value and the property follow each other both ways while the widget
 * lives. The widget holds no reference on the object. Main thread only.
 */
#ifndef PALDIFF_UI_SPIN_H
#define PALDIFF_UI_SPIN_H

#include <gtk/gtk.h>

/* step: the arrows' increment; digits: decimals shown (0 for an int
 * property). Returns a floating GtkSpinButton, or NULL (with a critical
 * warning) when the property is not an int or double property. */
GtkWidget *paldiff_spin_new(GObject *object, const char *property, double step, int digits);

#endif
