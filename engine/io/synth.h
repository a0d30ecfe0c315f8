/* synth.h — full-size models with made-up weights, from a shape manifest.
 *
 *     pd_synth_options o = { .layout = PD_LAYOUT_DIFFUSERS, .dtype = PD_ST_F32,
 *                            .random = {1, 0, 0}, .seed = 1 };   // random text encoder
 *     pd_synth_model("golden/shapes/sd15.json", "/tmp/sd15-bench", &o, &err);
 *
 * No trained weights can be downloaded here, so benchmarks and tests build
 * models from golden/shapes/ARCH.json: every tensor the manifest lists, in
 * either layout, with its real name and shape. A component asked for as
 * `random` gets deterministic values from `seed` (uniform, standard
 * deviation 0.02; 1-D weights — norm scales — 1.0; biases small); the
 * others are left as sparse holes that read as zeros and take no disk space.
 * The layout's non-weight extras (position_ids, LDM schedule buffers) are
 * written too, as real files carry them. Output appears atomically per file.
 * Touches only `out`.
 *
 * The pieces below serve other writers of made-up models (io/demo.c): a
 * list of tensors whose values come from a callback, and small files
 * written durably.
 */
#ifndef PD_SYNTH_H
#define PD_SYNTH_H

#include <json-glib/json-glib.h>

#include "io/model.h"
#include "io/safetensors.h"

typedef struct pd_synth_options {
    pd_layout layout;            /* diffusers folder or one original file */
    pd_st_dtype dtype;           /* PD_ST_F32 or PD_ST_F16               */
    int random[PD_COMPONENT_COUNT];
    uint64_t seed;
} pd_synth_options;

pd_status pd_synth_model(const char *shapes_json, const char *out, const pd_synth_options *o,
                         pd_error *err);

/* One tensor of a file to write. */
typedef struct pd_synth_tensor {
    const char *name;                /* borrowed: must outlive the write     */
    int ndim;
    int64_t shape[PD_ST_MAX_DIMS];
    pd_st_dtype dtype;               /* F32 or F16 when filled; any for holes */
    int fill;                        /* 0: a sparse hole that reads as zeros */
} pd_synth_tensor;

/* Gives the next n values of t (as float; the writer converts to t->dtype);
 * done counts the values already given, 0 on a tensor's first call. Called
 * tensor by tensor in file order, each tensor's values in order. */
typedef void (*pd_synth_fill_fn)(void *user, const pd_synth_tensor *t, int64_t done, float *out,
                                 int64_t n);

/* Writes one .safetensors file (metadata format=pt) with the tensors in name
 * order (sorts `tensors` in place), atomically (io/st_writer.h). */
pd_status pd_synth_write_tensors(const char *path, pd_synth_tensor *tensors, size_t n,
                                 pd_synth_fill_fn fill, void *user, pd_error *err);

/* Writes `text` (NUL-terminated) to path, replacing it atomically and durably. */
pd_status pd_synth_write_text(const char *path, const char *text, pd_error *err);
/* Writes `node` as pretty-printed JSON, as pd_synth_write_text does. */
pd_status pd_synth_write_json(const char *path, JsonNode *node, pd_error *err);

/* Removes a folder a writer made, with everything in it; links inside are
 * removed, never followed. Best effort: what cannot be removed stays. */
void pd_synth_remove_folder(const char *path);

#endif
