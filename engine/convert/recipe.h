/* recipe.h — mixed-bit palettization: a bit width for each UNet weight,
 * chosen from how much palettizing that weight disturbs the UNet's output.
 *
 *     pd_recipe_options ro;
 *     pd_recipe_options_init(&ro);
 *     ro.target_bits = 4.5;
 *     pd_recipe *r;
 *     if (pd_recipe_search(model, &ro, &r, &err)) return err.status;
 *     printf("%.2f bits, %.1f dB\n", r->average_bits, r->measured_db);
 *     conv.recipe = r;              // pd_convert writes these widths
 *     pd_convert(src, &conv, "sd15-mixed.safetensors", NULL, NULL, &err);
 *     pd_recipe_free(r);
 *
 * Apple's method (ml-stable-diffusion's mixed-bit pre-analysis), in minutes
 * on a CPU:
 * 1. Sensitivity. The yardstick is one UNet call as a txt2img's first step
 *    (eval.h, PD_EVAL_UNET; the conditional row) at a small size. Each
 *    palettizable UNet weight is palettized alone, in memory, at 2, 3, 4, 6
 *    and 8 bits (pd_model_swap_weight; no file is written), and the call's
 *    squared error against the unaltered model's is taken — Apple measures
 *    every width (5 calls per weight: every_width). By default we measure 4
 *    bits only and scale to the other widths by the weight's own squared
 *    error (exact, from its palettes): for errors this small the UNet's
 *    response is linear in them, and 5× fewer calls is most of the time
 *    saved. Per weight, the scaled errors
 *    differ from measured ones by a few dB either way (docs/fidelity.md);
 *    the check in step 3 measures the result.
 * 2. Choice. Apple then palettizes the weights cumulatively in order of
 *    sensitivity (as many calls again, per width) and sweeps a PSNR
 *    threshold over those curves. We use what the cumulative curves show
 *    instead of measuring them: errors from different weights are
 *    independent, so their energies add — the output's squared error with
 *    widths b_l is about Σ_l e_l(b_l), e_l(b) measured in step 1. Minimising
 *    that for a budget of Σ_l n_l·b_l bits (n_l the weight's elements) is a
 *    multiple-choice knapsack: its Lagrangian (each weight takes
 *    argmin_b e_l(b) + λ·n_l·b, λ bisected to the budget), then spare bits to
 *    the upgrades that remove most error per bit. Unlike a threshold on
 *    PSNR, this weighs each weight's size, so a large robust weight yields
 *    bits to a small sensitive one. Widths: 2, 3, 4, 6, 8, and 16 (kept
 *    float16, error taken as 0).
 * 3. Check. The whole recipe is applied in memory and measured once; both
 *    the additive model's prediction and the measurement are reported, and
 *    the prediction for uniform palettization at each width beside them.
 *
 * The average is Apple's: index bits per element over the palettizable UNet
 * weights (palettes and the other components not counted). The analysis
 * uses the granularity and mode the conversion will use.
 *
 * The analysis runs on a float16 copy of the UNet swapped into the model
 * (float32 and bfloat16 weights; palettes are made from float16 values
 * anyway, so the recipe is the same): each call reads half the bytes, and
 * the file's pages go as each weight is copied. SD 1.5 here: 2.2 minutes,
 * peak RSS 2.2 GB (docs/fidelity.md).
 *
 * Memory: that copy, resident during the search (the calls repeat), plus
 * the UNet palettized at 4 bits (every_width: at every width, about 1.4
 * times the copy's size), plus the whole recipe's palettized UNet for the
 * check (about n·b/8 bytes).
 * Ownership: a pd_recipe is the caller's (pd_recipe_free); it holds no
 * pointer into the model. Not thread-safe: the search alters the model's
 * descriptors while it runs (and restores them), so nothing else may use
 * that model meanwhile.
 */
#ifndef PD_RECIPE_H
#define PD_RECIPE_H

#include <stdint.h>

#include <glib.h>

#include "convert/convert.h"
#include "paldiff.h"

enum { PD_RECIPE_WIDTHS = 6 };
extern const int pd_recipe_widths[PD_RECIPE_WIDTHS]; /* 2, 3, 4, 6, 8, 16 */

typedef void (*pd_recipe_progress_fn)(int64_t done, int64_t total, const char *stage, void *user);

typedef struct pd_recipe_options {
    double target_bits;          /* average bits per element, 2 .. 16 (default 4.5) */
    pd_granularity granularity;  /* as the conversion will use (default per tensor) */
    int64_t group_size;
    pd_pal_mode mode;            /* default k-means                                 */
    /* Side of the analysis image in pixels, a multiple of 8 (default 128:
     * 16×16 latents, so the UNet's deepest level is 2×2 and every tap of its
     * 3×3 convolutions meets the image). */
    int size;
    int every_width;             /* 1: measure each width (Apple's way, 5× the calls) */
    /* May be NULL; one call at a time, from any of the pool's threads. */
    pd_recipe_progress_fn progress;
    void *progress_user;
} pd_recipe_options;

void pd_recipe_options_init(pd_recipe_options *o);

typedef struct pd_recipe_layer {
    char *name;                        /* "unet.<internal name>", as pd_convert names it */
    int64_t numel;
    double weight_sq_err[PD_RECIPE_WIDTHS]; /* the weight's own, palettized at each width */
    double sq_err[PD_RECIPE_WIDTHS];   /* output's, this weight alone at each width (measured
                                        * or scaled; the float16 width's: 0)               */
    int bits;                          /* the recipe's width                              */
} pd_recipe_layer;

typedef struct pd_recipe {
    int n_layers;
    pd_recipe_layer *layers;           /* in name order                                   */
    int64_t numel;                     /* elements of all of them                         */
    double target_bits, average_bits;
    /* PSNR (dB) of the one-step UNet output against the float16 UNet's:
     * the recipe's by the additive model and measured, uniform
     * palettization's by the model. */
    double predicted_db, measured_db, uniform_db[PD_RECIPE_WIDTHS];
    int64_t unet_calls;
    double seconds;
    GHashTable *by_name;               /* name → layer index + 1                          */
} pd_recipe;

/* Options out of range are PD_E_ARG; a model eval cannot measure (an
 * inpainting UNet) is PD_E_UNSUPPORTED. On failure *out is NULL and the
 * model's descriptors are as they were. */
pd_status pd_recipe_search(struct pd_model *m, const pd_recipe_options *o, pd_recipe **out, pd_error *err);

/* The recipe's entry for weight `name` ("unet.…"), or NULL. */
const pd_recipe_layer *pd_recipe_find(const pd_recipe *r, const char *name);

void pd_recipe_free(pd_recipe *r);

#endif
