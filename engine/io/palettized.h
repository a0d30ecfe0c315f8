/* palettized.h — paldiff's palettized model file: its names, and the check
 * a reader runs before trusting one (docs/palettized-format.md).
 *
 *     if (pd_st_metadata(st, PD_PALF_KEY_FORMAT))             // a paldiff file
 *         s = pd_palf_check(st, add_weight, model, &err);      // every weight, validated
 *
 * The file is a .safetensors file: for each palettized weight NAME the
 * tensors NAME.palette (F16, [groups, 2^bits]) and NAME.indices (U8, [rows,
 * row bytes], kernels/palette.h's layout), described in the JSON metadata
 * string "paldiff.tensors"; every other weight is F16 under its own name.
 * NAME is "<component>.<internal name>": text_encoder., unet. or vae., then
 * the diffusers name the loader uses (io/keymap.h).
 *
 * Pure functions of their arguments; thread-safe.
 */
#ifndef PD_PALETTIZED_H
#define PD_PALETTIZED_H

#include "io/safetensors.h"
#include "kernels/weight.h"
#include "paldiff.h"

#define PD_PALF_KEY_FORMAT "paldiff.format"
#define PD_PALF_FORMAT "paldiff-palettized"
#define PD_PALF_KEY_VERSION "paldiff.format_version"
#define PD_PALF_VERSION "1"
#define PD_PALF_KEY_ARCH "paldiff.architecture"
#define PD_PALF_KEY_PREDICTION "paldiff.prediction_type"
#define PD_PALF_KEY_TENSORS "paldiff.tensors"
#define PD_PALF_KEY_SOURCE "paldiff.source"
#define PD_PALF_KEY_CONVERSION "paldiff.conversion"
#define PD_PALF_SUFFIX_PALETTE ".palette"
#define PD_PALF_SUFFIX_INDICES ".indices"

/* Bit widths the format allows: 2, 3, 4, 6 and 8. */
static inline int pd_palf_bits_ok(int bits)
{
    return bits == 2 || bits == 3 || bits == 4 || bits == 6 || bits == 8;
}

/* "text_encoder", "unet", "vae": the tensor name prefix of a component. */
const char *pd_palf_component_prefix(int component);

/* The metadata key of a component's config.json (component < PD_COMPONENT_COUNT)
 * or, for component == PD_COMPONENT_COUNT, of scheduler_config.json. */
const char *pd_palf_config_key(int component);

/* The tokenizer files a file may embed: 0 vocab.json and 1 merges.txt
 * (both or neither), 2 tokenizer_config.json, 3 special_tokens_map.json. */
#define PD_PALF_TOKENIZER_FILES 4
const char *pd_palf_tokenizer_file(int i);   /* "vocab.json", ...            */
const char *pd_palf_tokenizer_key(int i);    /* "paldiff.tokenizer.vocab.json", ... */

/* Receives one validated weight: component, its internal name, the file's
 * tensor name (for messages; owned by st) and the descriptor pointing into
 * st (PD_PAL, or PD_F16). A non-OK return stops the check with that status. */
typedef pd_status (*pd_palf_weight_fn)(void *user, int component, const char *name, const char *key,
                                       const pd_weight *w, pd_error *err);

/* Validates the format version, "paldiff.tensors" (strict JSON) and every
 * tensor against it: the palette and index tensors of each entry present
 * with the dtypes and exact shapes its bits, group size and shape imply,
 * palette entries finite, plain tensors F16 and aligned, no name both
 * palettized and plain, no tensor left unexplained. Calls fn for every
 * weight, palettized ones first. Errors are PD_E_FORMAT (PD_E_UNSUPPORTED for
 * a newer format version) naming the file and the tensor. Does not look at
 * the configs, the tokenizer or the architecture (the model loader does). */
pd_status pd_palf_check(const pd_safetensors *st, pd_palf_weight_fn fn, void *user, pd_error *err);

#endif
