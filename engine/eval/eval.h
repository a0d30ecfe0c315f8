/* eval.h — how far a model's outputs drift from a reference model's:
 * PSNR (psnr.h) per component, over a fixed set of prompts and seeds.
 *
 *     pd_eval_options o;
 *     pd_eval_options_init(&o);                  // 256×256, 10 steps, 2 prompts × 2 seeds
 *     pd_eval_ref *ref;
 *     if (pd_eval_reference(f32_model, &o, &ref, &err)) return err.status;
 *     pd_eval_result r;
 *     if (pd_eval_compare(ref, palettized_model, &r, &err) == PD_OK)
 *         printf("UNet: %.1f dB\n", pd_psnr_db(&r.psnr[PD_EVAL_UNET]));
 *     pd_eval_ref_free(ref);
 *
 * Each component is fed the same inputs in both models, so it is measured
 * alone:
 * - PD_EVAL_TEXT: the text encoder's output for each prompt's token ids (the
 *   reference's tokenizer).
 * - PD_EVAL_UNET: one UNet call as the first step of a txt2img makes it —
 *   the classifier-free-guidance batch [unconditional, conditional], latents
 *   N(0, 1) drawn from the seed as pd_generate draws them, timestep
 *   o.timestep, text embeddings from the reference's encoder — over both
 *   rows of the raw output (before guidance mixes them).
 * - PD_EVAL_VAE: the decoder on the reference's final latents of each case's
 *   txt2img, raw output (about [−1, 1], before clamping).
 * - PD_EVAL_IMAGE: the final images of pd_generate with each model (same
 *   prompt, seed, size, steps, guidance, the model's scheduler), as float
 *   RGB in [0, 1].
 * The reference's outputs are computed once (pd_eval_reference) and compared
 * with any number of models. A case is a (prompt, seed) pair; the text
 * encoder runs once per prompt.
 *
 * Ownership: a pd_eval_ref owns copies of everything it needs (not the
 * model; it may be freed after pd_eval_reference). Calls on one model must
 * not overlap (pd_generate's rule).
 */
#ifndef PD_EVAL_H
#define PD_EVAL_H

#include <stdint.h>

#include "eval/psnr.h"
#include "paldiff.h"

enum { PD_EVAL_TEXT, PD_EVAL_UNET, PD_EVAL_VAE, PD_EVAL_IMAGE, PD_EVAL_COUNT };

#define PD_EVAL_MAX_CASES 64

/* Called before each stage with a short phrase ("reference: UNet, case
 * 2/4"); keep it short. */
typedef void (*pd_eval_progress_fn)(const char *stage, void *user);

typedef struct pd_eval_options {
    int width, height;            /* image size, multiples of 8 (default 256 × 256)  */
    int steps;                    /* txt2img steps (default 10)                       */
    float guidance;               /* txt2img and the UNet call's batch (default 7.5)  */
    float timestep;               /* of the one-step UNet call, 0 .. 999 (default 999) */
    int n_prompts;                /* 1 .. PD_EVAL_MAX_CASES (default: the built-in set) */
    const char *const *prompts;   /* borrowed until pd_eval_reference returns         */
    int n_seeds;                  /* n_prompts · n_seeds <= PD_EVAL_MAX_CASES         */
    const uint64_t *seeds;
    /* Bit c set: measure component c (default: all). The reference also runs
     * what the measured ones need: the text encoder for the UNet, the images
     * (their final latents) for the VAE. */
    unsigned components;
    /* 1: keep the weights' pages after each stage (a tool comparing many
     * altered versions of one model); default 0, each component's pages go
     * when its stage ends, so peak memory stays a txt2img's. */
    int keep_resident;
    pd_eval_progress_fn progress; /* may be NULL                                      */
    void *progress_user;
} pd_eval_options;

/* The defaults above and the built-in prompts and seeds. */
void pd_eval_options_init(pd_eval_options *o);

typedef struct pd_eval_ref pd_eval_ref;

typedef struct pd_eval_result {
    pd_psnr psnr[PD_EVAL_COUNT];  /* over every element of every case (zero: not measured) */
    double seconds;               /* the test model's share of the work              */
} pd_eval_result;

/* Runs the reference model over the cases and keeps what the comparisons
 * need (for SD 1.5 at 256×256: a few MB). Options out of range are PD_E_ARG
 * naming the option; an inpainting model, or a VAE other than SD's 4
 * levels, is PD_E_UNSUPPORTED. */
pd_status pd_eval_reference(const pd_model *ref, const pd_eval_options *o, pd_eval_ref **out, pd_error *err);

/* Runs `test` on the reference's inputs. A model of another architecture
 * (SD version, inpainting, text encoder shape, UNet or VAE parameter count)
 * is PD_E_ARG naming both models (a VAE other than SD's 4 levels:
 * PD_E_UNSUPPORTED). On failure *res is zeroed. */
pd_status pd_eval_compare(const pd_eval_ref *ref, const pd_model *test, pd_eval_result *res, pd_error *err);

void pd_eval_ref_free(pd_eval_ref *ref);

/* The check pd_eval_compare makes, on two open models: to refuse a model
 * before the reference's long run. */
pd_status pd_eval_check_models(const pd_model *ref, const pd_model *test, pd_error *err);

/* "text encoder", "UNet (1 step)", "VAE decoder", "image". */
const char *pd_eval_component_name(int component);

#endif
