/* progress.h — the dialog's progress panel: a preview image, a progress
 * bar saying the phase and the step, and a status line.
 *
 *     GtkWidget *panel = paldiff_progress_new(256);
 *     paldiff_progress_set_step(PALDIFF_PROGRESS(panel), "Denoising", 3, 20);
 *     paldiff_progress_set_preview(PALDIFF_PROGRESS(panel), rgb, 64, 64);
 *     paldiff_progress_set_status(PALDIFF_PROGRESS(panel), "Cancelled.");
 *
 * Unlike the other ui/ widgets it is bound to no property: the plug-in feeds
 * it from the engine's progress reports, which arrive on a worker thread
 * and must be handed to the main thread first (g_idle_add): every function
 * here is main-thread only. It copies what it is given.
 */
#ifndef PALDIFF_UI_PROGRESS_H
#define PALDIFF_UI_PROGRESS_H

#include <gtk/gtk.h>

#define PALDIFF_TYPE_PROGRESS (paldiff_progress_get_type())
G_DECLARE_FINAL_TYPE(PaldiffProgress, paldiff_progress, PALDIFF, PROGRESS, GtkBox)

/* preview_size: the preview's width and height in pixels (>= 16); images
 * are scaled to fit it, keeping their aspect. Returns a floating widget. */
GtkWidget *paldiff_progress_new(int preview_size);

/* The bar: `phase` and "step / total", filled step/total (total <= 0:
 * empty, phase alone). */
void paldiff_progress_set_step(PaldiffProgress *panel, const char *phase, int step, int total);

/* The preview: width × height RGB pixels, 3 bytes each, rows packed.
 * Sizes outside 1 .. 8192 are refused (critical warning, nothing shown). */
void paldiff_progress_set_preview(PaldiffProgress *panel, const guint8 *rgb, int width, int height);

/* The status line under the bar (an outcome or an error); "" clears it. */
void paldiff_progress_set_status(PaldiffProgress *panel, const char *text);

#endif
