/* model.h — the inside of a pd_model: its files, its weights by internal
 * name, its architecture. Model code (text/, models/) reads weights through
 * pd_model_weight and never sees layouts or dtypes.
 *
 *     pd_weight w;
 *     int64_t shape[2] = {3072, 768};
 *     if (pd_model_weight(m, PD_COMPONENT_TEXT,
 *                         "text_model.encoder.layers.0.mlp.fc1.weight", 2, shape, &w, &err))
 *         return err.status;   // "…: tensor '…' is missing" / "has shape [..], expected [..]"
 *
 * Everything here is owned by the pd_model and immutable after pd_model_open,
 * except through pd_model_swap_weight (measuring tools only).
 */
#ifndef PD_MODEL_H
#define PD_MODEL_H

#include <glib.h>

#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/weight.h"
#include "paldiff.h"
#include "text/clip.h"
#include "text/tokenizer.h"

/* PALETTIZED: paldiff's own file (io/palettized.h), internal names throughout. */
typedef enum { PD_LAYOUT_DIFFUSERS, PD_LAYOUT_ORIGINAL, PD_LAYOUT_PALETTIZED } pd_layout;
typedef enum { PD_FAMILY_SD1 = 1, PD_FAMILY_SD2 = 2 } pd_family;

/* One mapped weight: the descriptor and where it came from (for messages). */
typedef struct pd_model_tensor {
    pd_weight w;
    const char *key;            /* name in the file                     */
    const char *file;           /* the file's path                      */
} pd_model_tensor;

struct pd_model {
    char *path;
    pd_layout layout;
    pd_family family;
    int inpaint;                /* 9-channel UNet                       */
    pd_prediction prediction;
    const char *prediction_source;
    GPtrArray *files;           /* pd_safetensors *, owned              */
    GHashTable *weights[PD_COMPONENT_COUNT]; /* internal name → pd_model_tensor * */
    pd_config *configs[PD_COMPONENT_COUNT];  /* diffusers config.json or NULL */
    pd_config *sched_config;    /* scheduler/scheduler_config.json or NULL */
    pd_clip_config text_cfg;
    pd_clip clip;
    char *tokenizer_dir;        /* NULL: none found                     */
    pd_tokenizer *tokenizer;    /* NULL: none found                     */
    pd_model_info info;
    pd_file_info *file_info;
};

/* Finds `name` in `component` and checks its shape: `shape` has `ndim`
 * dimensions; trailing 1s on either side are ignored ([512,512,1,1] is
 * [512,512]). shape[i] < 0 matches any size. */
pd_status pd_model_weight(const struct pd_model *m, int component, const char *name,
                          int ndim, const int64_t *shape, pd_weight *out, pd_error *err);

/* Exchanges the model's descriptor of `name` with *w (same shape, else
 * PD_E_ARG): code loading the component afterwards (pd_unet_load) reads *w's
 * weight; a second call with the same *w puts the original back. For tools
 * that measure one altered layer at a time without writing a file (the
 * mixed-bit recipe search); the caller keeps w's data alive while it is in
 * the model and must not call this while the model runs. */
pd_status pd_model_swap_weight(struct pd_model *m, int component, const char *name, pd_weight *w,
                               pd_error *err);

/* Lets the OS drop the resident pages of weights the caller is done with for
 * now (a block whose turn has passed): they fault back in from the file when
 * next read. Keeps peak memory to the blocks in use. Weights not mapped from
 * this model's files are left alone. */
void pd_model_release(const struct pd_model *m, const pd_weight *const *w, size_t n);

/* pd_model_release for every weight of a component (its turn is over). */
void pd_model_release_component(const struct pd_model *m, int component);

/* "text encoder", "UNet", "VAE" — for messages. */
const char *pd_component_label(int component);

#endif
