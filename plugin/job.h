/* job.h — one generation as the procedures and the dialog run it, in three
 * parts so that only the middle one, the slow one, may leave the main
 * thread:
 *
 *     paldiff_job job;
 *     if (paldiff_job_prepare(&job, image, drawables, config, mode, &error)   // main thread
 *         && paldiff_job_generate(&job, &error))                              // any thread
 *         paldiff_job_finish(&job);                                           // main thread
 *     paldiff_job_clear(&job);
 *
 * prepare checks everything and reads the arguments and the pixels (layer,
 * selection) from GIMP; generate runs the engine and builds the layer's
 * pixels, touching neither libgimp nor GTK; finish adds the layer as one
 * undo step. Until finish the image is unchanged, so a failed or cancelled
 * job leaves it exactly as it was. The job owns everything it holds.
 */
#ifndef PALDIFF_JOB_H
#define PALDIFF_JOB_H

#include <libgimp/gimp.h>

#include "plugin/run.h"

typedef struct paldiff_job {
    paldiff_args args;              /* progress, cancel: set them before generate */
    GimpImage *image;               /* main thread only                          */
    GimpLayer *source;              /* img2img, inpaint: the layer started from  */
    int x, y, width, height;        /* where the new layer goes, image pixels    */
    int gen_width, gen_height;      /* the size generated at (multiples of 8)    */
    pd_pixels orig, mask;           /* img2img, inpaint: the layer's RGB; inpaint: the selection */
    guint8 *alpha;                  /* the layer's alpha                         */
    guint8 *rgba;                   /* after generate: width × height × 4 bytes  */
    pd_pixels result;               /* after generate: the image at gen size      */
    char *model_path;               /* after generate: the model used             */
    const char *scheduler;          /* after generate: the class that ran (static) */
} paldiff_job;

/* Reads the procedure's arguments from config (a seed of -1 drawn here) and
 * the pixels the mode needs. FALSE with *error (PALDIFF_ERROR, saying what
 * to do) when the image or the arguments cannot be used; the job is then
 * still to be cleared. */
gboolean paldiff_job_prepare(paldiff_job *job, GimpImage *image, GimpDrawable **drawables,
                             GimpProcedureConfig *config, pd_mode mode, GError **error);

/* Runs the engine. FALSE with *error on failure, or PALDIFF_ERROR /
 * PD_E_CANCELLED when args.cancel was set. No libgimp, no GTK. */
gboolean paldiff_job_generate(paldiff_job *job, GError **error);

/* Adds the result as a new layer (one undo step); returns it. NULL, the
 * image untouched, when the image or the source layer has gone since
 * prepare (the dialog lets the user edit meanwhile). Main thread. */
GimpLayer *paldiff_job_finish(paldiff_job *job);

void paldiff_job_clear(paldiff_job *job);

#endif
