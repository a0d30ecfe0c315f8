/* convert.h — palettizing a model into paldiff's own file.
 *
 *     pd_convert_options o;
 *     pd_convert_options_init(&o);             // 6 bits, per tensor, k-means
 *     o.bits = 4;
 *     if (pd_convert("models/sd15", &o, "sd15-4bit.safetensors", on_progress, NULL, &err))
 *         fprintf(stderr, "%s\n", err.message);
 *
 * The source is anything pd_model_open opens (a diffusers folder, a single
 * .safetensors checkpoint, or a palettized file). Every conv/linear weight of
 * at least PD_CONVERT_MIN_ELEMENTS elements (a weight of 2 or 4 dimensions
 * outside the text encoder's embeddings) becomes a palette of 2^bits float16
 * values per group of output channels plus packed bits-bit indices; every
 * other tensor is kept as float16. The result is one self-contained
 * .safetensors file (docs/palettized-format.md) holding the weights under
 * their internal (diffusers) names, the configs, the tokenizer, the
 * prediction type and the SHA-256 of every source file.
 *
 * Memory: tensor by tensor, never the whole model. Each of the pool's
 * threads holds at most one group's values at a time: 4 bytes per element
 * of the largest group (14.7 M elements, 59 MB, for SD 1.5's biggest
 * per-tensor convolution). The tensors' data goes to a spool file beside
 * `dst` (unlinked at once) as it is made, then behind the header into the
 * final file, which appears atomically (temporary file, fsync, rename). The
 * source is only read. The same source and options give the same bytes.
 */
#ifndef PD_CONVERT_H
#define PD_CONVERT_H

#include <stdint.h>

#include "convert/kmeans.h"
#include "kernels/weight.h"
#include "paldiff.h"

/* Weights with fewer elements stay float16 (coremltools' default). */
#define PD_CONVERT_MIN_ELEMENTS 2048

typedef enum { PD_GRANULARITY_TENSOR, PD_GRANULARITY_GROUP } pd_granularity;

struct pd_recipe;

typedef struct pd_convert_options {
    int bits;                    /* 8, 6, 4, 3 or 2                                  */
    pd_granularity granularity;  /* one palette per tensor, or per group_size rows   */
    /* PD_GRANULARITY_GROUP: output channels per palette, >= 1. A weight with
     * fewer output channels than that is one group; otherwise group_size must
     * divide them (else PD_E_ARG naming the tensor). */
    int64_t group_size;
    pd_pal_mode mode;            /* PD_PAL_KMEANS or PD_PAL_UNIFORM                  */
    /* A mixed-bit recipe (recipe.h) made for this source, or NULL: the
     * weights it names take its widths (16: kept float16), the others `bits`. */
    const struct pd_recipe *recipe;
    /* How to open the source (tokenizer, config folder, prediction type for a
     * single file); NULL: pd_model_open's defaults. What it yields is embedded. */
    const pd_model_options *model;
} pd_convert_options;

/* 6 bits, per tensor, k-means, group_size 16 (used with GROUP only). */
void pd_convert_options_init(pd_convert_options *o);

typedef struct pd_convert_progress {
    int64_t tensors_done, tensors;   /* tensors written to the spool, of all     */
    uint64_t hashed, hash_total;     /* source bytes hashed (SHA-256), of all    */
    const char *phase;               /* "converting", "writing" (static)         */
} pd_convert_progress;

/* The palette options' check (granularity, group size, mode): PD_E_ARG
 * naming the first out of range. */
pd_status pd_convert_check_palettes(pd_granularity granularity, int64_t group_size, pd_pal_mode mode, pd_error *err);

/* Rows (output channels) sharing one palette in a weight of `rows` rows:
 * group_size per group, or the whole weight (per tensor, or fewer rows
 * than a group). */
int64_t pd_convert_group_rows(pd_granularity granularity, int64_t group_size, int64_t rows);

/* Whether the converter palettizes this weight of `component` (internal
 * name): a conv/linear weight (2 or 4 dimensions, named *.weight, not the
 * text encoder's embeddings) of at least PD_CONVERT_MIN_ELEMENTS elements. */
int pd_convert_palettizable(int component, const char *name, const pd_weight *w);

/* Called one call at a time, from any of the pool's threads (the caller's
 * included): keep it short. */
typedef void (*pd_convert_progress_fn)(const pd_convert_progress *p, void *user);

/* Converts `src` into `dst` (replaced atomically if it exists; must not be
 * the source). Options out of range are PD_E_ARG; errors name the file and
 * the tensor. On failure nothing is left at dst. */
pd_status pd_convert(const char *src, const pd_convert_options *o, const char *dst,
                     pd_convert_progress_fn progress, void *user, pd_error *err);

#endif
