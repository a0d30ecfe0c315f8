/* seed.h — the seed field: a spin button and a "Random" button, bound to an
 * int property whose -1 means "a new random seed at each generation".
 *
 *     GtkWidget *seed = paldiff_seed_new(G_OBJECT(config), "seed");
 *
 * "Random" sets the property to -1; typing a seed sets that seed. The range
 * is the property's (it must include -1). The widget holds no reference on
 * the object. Main thread only.
 */
#ifndef PALDIFF_UI_SEED_H
#define PALDIFF_UI_SEED_H

#include <gtk/gtk.h>

/* Returns a floating horizontal GtkBox: the spin button, then the button. */
GtkWidget *paldiff_seed_new(GObject *object, const char *property);

#endif
