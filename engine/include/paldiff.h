/* paldiff.h — Stable Diffusion on the CPU, with palettized weights.
 *
 * The only public header of libpaldiff. It opens models (diffusers folders
 * and single-file checkpoints of SD 1.x, SD 2.x and their inpainting
 * variants), describes them, encodes prompts, and generates images: txt2img,
 * img2img and inpainting. Load a model once, generate many times.
 *
 * Example — open, generate, free:
 *
 *     #include <paldiff.h>
 *
 *     pd_error err;
 *     pd_model *model;
 *     if (pd_model_open("models/sd15", NULL, &model, &err) != PD_OK) {
 *         fprintf(stderr, "%s\n", err.message);   // says what failed and what to do
 *         return 1;
 *     }
 *     pd_generate_params p;
 *     pd_generate_params_init(&p);                // 20 steps, guidance 7.5, ...
 *     p.prompt = "a red fox in the snow, watercolor";
 *     p.width = p.height = 512;
 *     p.seed = 42;
 *     p.progress = on_progress;                   // optional: step, total, preview
 *     p.cancel = &stop_flag;                      // optional: set from another thread
 *     pd_result r;
 *     if (pd_generate(model, &p, &r, &err) == PD_OK) {
 *         // r.pixels: r.count × r.height × r.width × 3 floats, RGB in [0, 1]
 *         pd_result_free(&r);
 *     }
 *     pd_model_free(model);
 *
 * Error model: every call that can fail returns a pd_status and, on failure,
 * fills the caller's pd_error with the same status and a sentence naming the
 * file, tensor or argument at fault. On failure, outputs are left empty
 * (NULL / zero) — never partially written.
 *
 * Ownership: a pd_model owns its memory maps and everything pd_model_info
 * points into; those pointers stay valid until pd_model_free. A pd_embedding
 * owns its data (pd_embedding_free), a pd_result its images and latents
 * (pd_result_free). Images passed in (pd_image) are only read during the call.
 *
 * Threading: a pd_model is immutable after pd_model_open. Calls on one model
 * must not overlap; different models may be used from different threads.
 * The engine runs its kernels on one process-wide thread pool sized by
 * PALDIFF_THREADS (default: all cores).
 */
#ifndef PALDIFF_H
#define PALDIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pd_status {
    PD_OK = 0,
    PD_E_ARG,         /* an argument is out of range or malformed        */
    PD_E_IO,          /* a file could not be opened, read or mapped      */
    PD_E_FORMAT,      /* a file is malformed (header, JSON, offsets ...) */
    PD_E_MODEL,       /* a model lacks a tensor, has a wrong shape, or is of an unknown kind */
    PD_E_UNSUPPORTED, /* well-formed, but not something paldiff runs    */
    PD_E_NOMEM,       /* an allocation failed                            */
    PD_E_CANCELLED    /* the caller asked to stop                        */
} pd_status;

typedef struct pd_error {
    pd_status status;
    char message[1024];
} pd_error;

/* A short English name of a status ("format error", ...). Static storage. */
const char *pd_status_name(pd_status status);

typedef enum pd_prediction {
    PD_PREDICT_AUTO = 0,  /* options only: from the scheduler config, else epsilon */
    PD_PREDICT_EPSILON,
    PD_PREDICT_V
} pd_prediction;

typedef struct pd_model_options {
    /* Folder holding vocab.json + merges.txt. NULL: the model's own tokenizer/
     * (diffusers folder), else tokenizer/ beside a single file, else
     * config_dir/tokenizer. */
    const char *tokenizer_dir;
    /* A diffusers folder whose config.json files give the hyper-parameters a
     * single file cannot tell (head counts, norm groups). NULL: infer the
     * standard ones from tensor shapes. */
    const char *config_dir;
    /* Single files do not say how they were trained; diffusers folders say it
     * in scheduler/scheduler_config.json. A value other than AUTO wins. */
    pd_prediction prediction;
} pd_model_options;

typedef struct pd_model pd_model;

/* Opens a diffusers folder (model_index.json + unet/ text_encoder/ vae/
 * tokenizer/ scheduler/) or a single-file .safetensors checkpoint. Weights are
 * memory-mapped, not copied. `options` may be NULL. */
pd_status pd_model_open(const char *path, const pd_model_options *options,
                        pd_model **model, pd_error *err);
void pd_model_free(pd_model *model);

enum { PD_COMPONENT_TEXT, PD_COMPONENT_UNET, PD_COMPONENT_VAE, PD_COMPONENT_COUNT };
enum { PD_WDTYPE_F32, PD_WDTYPE_F16, PD_WDTYPE_BF16, PD_WDTYPE_PAL, PD_WDTYPE_COUNT };

typedef struct pd_component_info {
    const char *name;                      /* "text_encoder", "unet", "vae"     */
    int64_t tensors;                       /* weight tensors paldiff maps       */
    int64_t params;                        /* their elements                    */
    int64_t params_by_dtype[PD_WDTYPE_COUNT];
    uint64_t bytes;                        /* their bytes in the file(s)        */
} pd_component_info;

typedef struct pd_file_info {
    const char *path;
    uint64_t bytes;
} pd_file_info;

typedef struct pd_model_info {
    const char *arch;            /* "sd15", "sd21", "sd15-inpaint", "sd21-inpaint" */
    int sd_version;              /* 1 (SD 1.x) or 2 (SD 2.x)                       */
    const char *layout;          /* "diffusers" or "original"                      */
    pd_prediction prediction;    /* EPSILON or V                                   */
    const char *prediction_source; /* "scheduler config", "user option", "default" */
    int text_width;              /* embedding width: 768 (SD 1.x), 1024 (SD 2.x)   */
    int text_layers;             /* layers the encoder runs                        */
    int unet_in_channels;        /* 4, or 9 for inpainting                         */
    const char *tokenizer_dir;   /* where the tokenizer was found                  */
    pd_component_info components[PD_COMPONENT_COUNT];
    int n_files;
    const pd_file_info *files;
} pd_model_info;

/* Fills `info` with pointers owned by `model`. Never fails. */
void pd_model_get_info(const pd_model *model, pd_model_info *info);

#define PD_TOKENS 77            /* CLIP's context: BOS + at most 75 + EOS, padded */
#define PD_CLIP_SKIP_NONE (-1)

/* Tokenizes `prompt` (UTF-8, at most 16 KiB; invalid bytes or a longer
 * prompt are PD_E_ARG) as the model's CLIP
 * tokenizer does: cleaned, lower-cased, BPE, BOS/EOS, truncated and padded
 * to PD_TOKENS as the model family pads. */
pd_status pd_tokenize(const pd_model *model, const char *prompt,
                      int32_t ids[PD_TOKENS], pd_error *err);

typedef struct pd_embedding {
    int tokens;                  /* PD_TOKENS                    */
    int width;                   /* 768 or 1024                  */
    int32_t ids[PD_TOKENS];      /* the token ids encoded        */
    float *data;                 /* tokens × width, row-major    */
} pd_embedding;

/* The text embedding that conditions the UNet. clip_skip: PD_CLIP_SKIP_NONE
 * for the last layer, k >= 1 for the layer k places before it (diffusers'
 * meaning); the final layer norm is applied in both cases. */
pd_status pd_encode_prompt(const pd_model *model, const char *prompt, int clip_skip,
                           pd_embedding *out, pd_error *err);
/* Encodes given token ids (e.g. from pd_tokenize) instead of a prompt. */
pd_status pd_encode_ids(const pd_model *model, const int32_t ids[PD_TOKENS], int clip_skip,
                        pd_embedding *out, pd_error *err);
void pd_embedding_free(pd_embedding *emb);

/* ---- generation --------------------------------------------------------- */

typedef enum pd_mode {
    PD_MODE_TXT2IMG,   /* from noise                                        */
    PD_MODE_IMG2IMG,   /* from init_image, keeping (1 − strength) of it     */
    PD_MODE_INPAINT    /* repaint where mask is white, keep the rest        */
} pd_mode;

/* An 8-bit image the caller lends: rows top to bottom, channels interleaved,
 * no row padding. */
typedef struct pd_image {
    int width, height;
    int channels;               /* 1 (gray), 3 (RGB) or 4 (RGBA, alpha ignored) */
    const uint8_t *pixels;      /* width × height × channels bytes             */
} pd_image;

typedef enum pd_phase {
    PD_PHASE_ENCODE,            /* prompt and init image being encoded          */
    PD_PHASE_DENOISE,           /* step of total denoising steps done           */
    PD_PHASE_DECODE             /* image step of total being decoded            */
} pd_phase;

typedef struct pd_progress {
    pd_phase phase;
    int step, total;            /* done so far, out of total (in this phase)    */
    /* With pd_generate_params.preview: a rough RGB preview of the first image
     * at latent resolution (a linear map of the latents), else NULL. Valid
     * only during the callback. */
    int preview_width, preview_height;
    const uint8_t *preview;     /* preview_width × preview_height × 3 bytes     */
} pd_progress;

/* Called on the generating thread; keep it short (update a bar, post the
 * preview to the UI thread). */
typedef void (*pd_progress_fn)(const pd_progress *progress, void *user);

/* Supplies a run's random draws instead of the seeded generator (to replay
 * recorded noise). name: "latents_init", "posterior_noise",
 * "masked_posterior_noise" or "noise"; index: how many draws of that name came
 * before; shape: PyTorch's [N, 4, h, w]; out: N·4·h·w floats in that (NCHW)
 * order. Return PD_OK, or fail through err (the run stops with that error). */
typedef pd_status (*pd_draw_fn)(void *user, const char *name, int index, const int64_t shape[4],
                                float *out, pd_error *err);

typedef struct pd_generate_params {
    pd_mode mode;
    const char *prompt;          /* UTF-8, at most 16 KiB; past 75 tokens it is cut */
    const char *negative_prompt; /* NULL or "": the unconditional (empty) prompt */
    int width, height;           /* multiples of 8, at most PD_MAX_PIXELS in all;
                                    0: the init image's size, else the model's default */
    int steps;                   /* 1 .. the scheduler's training steps (1000)  */
    float guidance;              /* classifier-free guidance; <= 1: off (one UNet row) */
    uint64_t seed;               /* PyTorch's: the same seed, the same noise    */
    int num_images;              /* 1 .. PD_MAX_IMAGES, generated as one batch  */
    /* NULL: the model's own scheduler. Else "ddim", "pndm", "euler", "euler_a",
     * "dpmpp_2m", "dpmpp_2m_karras", "lcm" or a diffusers class name. */
    const char *scheduler;
    /* NULL: the model's scheduler_config.json (SD defaults for single files).
     * Else the JSON text of a diffusers scheduler config to use instead. */
    const char *scheduler_config;
    int clip_skip;               /* PD_CLIP_SKIP_NONE or k >= 1 (prompt only, as diffusers) */
    double strength;             /* img2img, inpaint: (0, 1]; 1 repaints fully  */
    const pd_image *init_image;  /* img2img, inpaint: RGB(A) of width × height  */
    const pd_image *mask;        /* inpaint: gray, width × height, >= 128 repaints */
    pd_progress_fn progress;     /* may be NULL                                 */
    void *progress_user;
    int preview;                 /* non-zero: progress carries a preview        */
    /* Set *cancel non-zero from any thread (e.g. g_atomic_int_set) to stop the
     * run within one denoising step; pd_generate then returns PD_E_CANCELLED. */
    const volatile int *cancel;
    pd_draw_fn draw;             /* NULL: draw from the seeded generator        */
    void *draw_user;
} pd_generate_params;

#define PD_MAX_PIXELS (2048 * 2048)
#define PD_MAX_IMAGES 16

/* Fills p with defaults: txt2img, size from the model, 20 steps, guidance
 * 7.5, seed 0, one image, the model's scheduler, no clip skip, strength 0.8,
 * no progress, no cancel flag. */
void pd_generate_params_init(pd_generate_params *p);

typedef struct pd_result {
    int count;                   /* images: num_images                          */
    int width, height;
    float *pixels;               /* count × height × width × 3, RGB in [0, 1]   */
    int latent_width, latent_height, latent_channels;
    float *latents;              /* count × latent_height × latent_width × channels:
                                    the final latents (before decoding)         */
    const char *scheduler;       /* the diffusers class that ran (static)       */
    int karras_sigmas;           /* it ran on Karras sigmas                     */
} pd_result;

/* Generates params->num_images images. Every argument is checked before any
 * work starts (PD_E_ARG naming it). Components are loaded as needed and their
 * weights released when their turn has passed. On success fills *result (free
 * it with pd_result_free); on any failure or cancellation *result is left
 * zeroed — no partial images. Calls on one model must not overlap. */
pd_status pd_generate(const pd_model *model, const pd_generate_params *params,
                      pd_result *result, pd_error *err);
void pd_result_free(pd_result *result);

/* Image i of a result as 8-bit RGB (round(x · 255), as diffusers saves it).
 * rgb holds width × height × 3 bytes. */
void pd_result_to_rgb8(const pd_result *result, int i, uint8_t *rgb);

#ifdef __cplusplus
}
#endif
#endif
