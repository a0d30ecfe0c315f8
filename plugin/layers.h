/* layers.h — pixels in and out of GIMP for the paldiff procedures: a
 * drawable's pixels and the selection as 8-bit planes, the inpainting
 * composite, and the result layer (name, parasite, position).
 * Main thread only (libgimp).
 */
#ifndef PALDIFF_LAYERS_H
#define PALDIFF_LAYERS_H

#include <libgimp/gimp.h>

#include "cli/imagefile.h"

/* The drawable's pixels as 8-bit sRGB R'G'B' (rgb, pd_pixels_free) and its
 * alpha as one byte a pixel (*alpha, g_free; 255 where it has none). */
void paldiff_read_drawable(GimpDrawable *drawable, pd_pixels *rgb, guint8 **alpha);

/* The selection over the drawable's area (its offsets, its size) as 8-bit
 * coverage, 0 = unselected, 255 = fully selected (feathered edges between).
 * Returns FALSE, with *mask zeroed, when nothing of the drawable is
 * selected. */
gboolean paldiff_read_selection(GimpImage *image, GimpDrawable *drawable, pd_pixels *mask);

/* Inpainting's result: gen where selected, orig elsewhere, blended by the
 * coverage: out = (gen·s + orig·(255 − s) + 127) / 255 per channel, alpha
 * likewise from 255 and orig_alpha. Writes width × height × 4 bytes (RGBA).
 * All planes are width × height. */
void paldiff_composite(const pd_pixels *gen, const pd_pixels *orig, const guint8 *orig_alpha,
                       const pd_pixels *sel, guint8 *rgba);

/* Adds the result: a new layer named `name` at (x, y) holding `rgba`
 * (width × height × 4 bytes, R'G'B'A), put above `below` (NULL: on top of
 * the image), carrying `parameters` as the "paldiff-parameters" parasite.
 * One undo step. Returns the layer. */
GimpLayer *paldiff_add_layer(GimpImage *image, GimpLayer *below, const char *name, int x, int y,
                             int width, int height, const guint8 *rgba, const char *parameters);

#define PALDIFF_PARASITE "paldiff-parameters"

#endif
