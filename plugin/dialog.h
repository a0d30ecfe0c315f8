/* dialog.h — the procedures' interactive run: a GimpProcedureDialog holding
 * ui/'s widgets bound to the procedure's config, a progress panel with a
 * preview, and Generate, Cancel and Close.
 *
 *     gimp_ui_init("paldiff");
 *     GimpPDBStatusType status = paldiff_dialog_run(procedure, config, image, drawables, mode);
 *
 * Generate reads the layer and selection (main thread), generates on a
 * worker thread while the panel shows each step and a preview, then adds
 * the layer as one undo step; the dialog stays open for another Generate.
 * Cancel stops a generation within one step and leaves the image as it
 * was; errors show in the panel. Close returns GIMP_PDB_SUCCESS if a layer
 * was added (GIMP then saves the config as the last-used values), else
 * GIMP_PDB_CANCEL. Main thread only; every libgimp and GTK call stays there.
 *
 * Tests only: PALDIFF_DIALOG_TEST="ACTION …" performs the actions in turn,
 * each once the dialog is idle: "generate" presses Generate, "cancel"
 * presses Generate then Cancel at the first denoising step, "shot:FILE"
 * saves the dialog window as a PNG, "close" presses Close.
 */
#ifndef PALDIFF_DIALOG_H
#define PALDIFF_DIALOG_H

#include <libgimp/gimp.h>

#include "paldiff.h"

GimpPDBStatusType paldiff_dialog_run(GimpProcedure *procedure, GimpProcedureConfig *config, GimpImage *image,
                                     GimpDrawable **drawables, pd_mode mode);

#endif
