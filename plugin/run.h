/* run.h — one generation for the plug-in: the arguments a procedure was
 * given, the model they name, the engine call, and the sizes in between.
 * Nothing here touches libgimp or GTK: the engine sees pixels only, so this
 * part could run on a worker thread unchanged.
 */
#ifndef PALDIFF_RUN_H
#define PALDIFF_RUN_H

#include <glib.h>

#include "paldiff.h"
#include "cli/imagefile.h"

/* What a procedure was asked to do (from its GimpProcedureConfig). */
typedef struct paldiff_args {
    pd_mode mode;
    char *prompt, *negative, *model; /* model: a path, or "" for the default     */
    char *scheduler;                 /* NULL: the model's own                   */
    int steps;
    double guidance;
    guint64 seed;                    /* resolved: never "random" here            */
    double strength;                 /* img2img, inpaint: (0, 1]                 */
    int width, height;               /* txt2img: the size to generate, 0: auto   */
    pd_progress_fn progress;         /* may be NULL; called on the generating thread */
    void *progress_user;
    int preview;                     /* non-zero: progress carries a preview image */
    const volatile int *cancel;      /* may be NULL                             */
} paldiff_args;

void paldiff_args_clear(paldiff_args *a);

/* The size to generate at for a target of width × height pixels: each side
 * rounded to the nearest multiple of 8 (at least 8), both scaled down
 * together when the area exceeds PD_MAX_PIXELS. */
void paldiff_model_size(int width, int height, int *gen_width, int *gen_height);

/* Generates one image of gen_width × gen_height RGB pixels (multiples of 8).
 * init (RGB, any size: resized to the generation size as the CLI resizes
 * it) for img2img and inpaint; mask (gray, init's size, >= 128 repaints) for
 * inpaint. On success *out holds the image (pd_pixels_free), *model_path
 * the model used (g_free) and *scheduler the diffusers class that ran
 * (static); on failure a GError in
 * G_FILE_ERROR/PALDIFF_ERROR says what and what to do, nothing is returned. */
gboolean paldiff_generate(const paldiff_args *a, int gen_width, int gen_height,
                          const pd_pixels *init, const pd_pixels *mask,
                          pd_pixels *out, char **model_path, const char **scheduler, GError **error);

/* The text attached to the result layer ("paldiff-parameters" parasite): the
 * CLI's infotext, "<prompt>\nNegative prompt: …\nSteps: 20, Sampler: …". */
char *paldiff_parameters_text(const paldiff_args *a, int gen_width, int gen_height,
                              const char *model_path, const char *scheduler);

/* The new layer's name: the start of the prompt and the seed. */
char *paldiff_layer_name(const paldiff_args *a);

/* Sets *error from an engine failure: PALDIFF_ERROR, code = err->status,
 * a translated sentence for the kind of failure, then the engine's own
 * (English) message naming the file, tensor or argument. */
void paldiff_set_engine_error(GError **error, const pd_error *err);

#define PALDIFF_ERROR (paldiff_error_quark())
GQuark paldiff_error_quark(void);

#endif
