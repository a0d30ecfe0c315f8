/* paldiff.h — Stable Diffusion on the CPU, with palettized weights.
 *
 * The only public header of libpaldiff. Today it opens models (diffusers
 * folders and single-file checkpoints of SD 1.x, SD 2.x and their inpainting
 * variants), describes them, and turns a prompt into the text embeddings the
 * UNet conditions on. Image generation arrives with the pipeline.
 *
 * Example — open, encode, free:
 *
 *     #include <paldiff.h>
 *
 *     pd_error err;
 *     pd_model *model;
 *     if (pd_model_open("models/sd15", NULL, &model, &err) != PD_OK) {
 *         fprintf(stderr, "%s\n", err.message);   // says what failed and what to do
 *         return 1;
 *     }
 *     pd_embedding emb;
 *     if (pd_encode_prompt(model, "a red fox in the snow", PD_CLIP_SKIP_NONE,
 *                          &emb, &err) != PD_OK) { ... }
 *     // emb.data holds emb.tokens × emb.width floats, row-major
 *     pd_embedding_free(&emb);
 *     pd_model_free(model);
 *
 * Error model: every call that can fail returns a pd_status and, on failure,
 * fills the caller's pd_error with the same status and a sentence naming the
 * file, tensor or argument at fault. On failure, outputs are left empty
 * (NULL / zero) — never partially written.
 *
 * Ownership: a pd_model owns its memory maps and everything pd_model_info
 * points into; those pointers stay valid until pd_model_free. A pd_embedding
 * owns its data; free it with pd_embedding_free.
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

#ifdef __cplusplus
}
#endif
#endif
