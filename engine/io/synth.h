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
 * Single-threaded; touches only `out`.
 */
#ifndef PD_SYNTH_H
#define PD_SYNTH_H

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

#endif
