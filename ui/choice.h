/* choice.h — a combo box of fixed choices bound to a string property, and
 * the one list of choices paldiff has: its schedulers.
 *
 *     GtkWidget *w = paldiff_choice_new(G_OBJECT(config), "scheduler",
 *                                       paldiff_schedulers, paldiff_n_schedulers);
 *
 * The property holds a choice's name; the combo shows its translated
 * label. The active row and the property follow each other both ways while
 * the widget lives (a value not in the list shows no row). The widget holds
 * no reference on the object; `choices` must outlive it (static tables).
 * Main thread only.
 */
#ifndef PALDIFF_UI_CHOICE_H
#define PALDIFF_UI_CHOICE_H

#include <gtk/gtk.h>

typedef struct paldiff_choice {
    const char *name;  /* the property's value, e.g. "euler_a"               */
    const char *label; /* untranslated (N_()); shown through _()             */
} paldiff_choice;

/* The `paldiff generate --scheduler` names; "default" is the model's own. */
extern const paldiff_choice paldiff_schedulers[];
extern const int paldiff_n_schedulers;

/* Returns a floating GtkComboBoxText. */
GtkWidget *paldiff_choice_new(GObject *object, const char *property, const paldiff_choice *choices, int n);

#endif
