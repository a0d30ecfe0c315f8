/* safetensors.h — strict, zero-copy reader of .safetensors files.
 *
 *     pd_safetensors *st;
 *     if (pd_st_open("model.safetensors", &st, &err) != PD_OK) return err.status;
 *     const pd_st_tensor *t = pd_st_find(st, "text_model.final_layer_norm.weight");
 *     if (t && t->dtype == PD_ST_F32) use((const float *)t->data, t->shape[0]);
 *     pd_st_close(st);
 *
 * The file is memory-mapped read-only; tensor data points into the map and
 * is valid until pd_st_close. Everything is validated before the handle is
 * returned: the header length against the file size, the JSON (io/json.h),
 * UTF-8 names, known dtypes, shape × dtype size == byte range without
 * overflow, offsets inside the data area, no two tensors overlapping, and
 * `__metadata__` as a string → string map. Any violation is PD_E_FORMAT
 * with a message naming the file and the tensor.
 *
 * Strictness follows the reference implementation (huggingface/safetensors):
 * a header of at most 100,000,000 bytes that starts with '{', strict RFC 8259
 * JSON (trailing spaces allowed, nesting at most 32 deep, no repeated keys,
 * no "\u0000"), and tensors that, sorted by offset, tile the data area with
 * no gap and no overlap. Unknown members of a tensor entry are ignored, as
 * the reference ignores them. Data is aligned to its dtype only when the
 * writer padded the header to a multiple of 8 (current writers, and
 * pd_st_writer, do); check before casting if the file may be old.
 *
 * A handle is immutable after opening; reading it from several threads is safe.
 */
#ifndef PD_SAFETENSORS_H
#define PD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "paldiff.h"

typedef enum {
    PD_ST_BOOL, PD_ST_U8, PD_ST_I8, PD_ST_F8_E4M3, PD_ST_F8_E5M2,
    PD_ST_I16, PD_ST_U16, PD_ST_F16, PD_ST_BF16,
    PD_ST_I32, PD_ST_U32, PD_ST_F32,
    PD_ST_I64, PD_ST_U64, PD_ST_F64,
    PD_ST_DTYPE_COUNT
} pd_st_dtype;

#define PD_ST_MAX_DIMS 8

typedef struct pd_st_tensor {
    const char *name;          /* UTF-8, owned by the handle          */
    pd_st_dtype dtype;
    int ndim;                  /* 0 (scalar) .. PD_ST_MAX_DIMS         */
    int64_t shape[PD_ST_MAX_DIMS];
    int64_t numel;
    const void *data;          /* into the map; nbytes long            */
    uint64_t nbytes;
} pd_st_tensor;

typedef struct pd_safetensors pd_safetensors;

/* Maps and validates `path`. */
pd_status pd_st_open(const char *path, pd_safetensors **out, pd_error *err);

/* Validates a whole file image held in memory (the fuzzing entry point).
 * `label` names the buffer in messages. `buf` must outlive the handle. */
pd_status pd_st_parse(const char *label, const void *buf, size_t size,
                      pd_safetensors **out, pd_error *err);

void pd_st_close(pd_safetensors *st);

const char *pd_st_path(const pd_safetensors *st);
uint64_t pd_st_file_size(const pd_safetensors *st);
size_t pd_st_count(const pd_safetensors *st);
/* Tensors in file order of their data offsets. i < pd_st_count. */
const pd_st_tensor *pd_st_at(const pd_safetensors *st, size_t i);
/* NULL when absent. */
const pd_st_tensor *pd_st_find(const pd_safetensors *st, const char *name);
/* A `__metadata__` value, or NULL when absent. */
const char *pd_st_metadata(const pd_safetensors *st, const char *key);
/* The `__metadata__` keys, sorted by strcmp: i < pd_st_metadata_count. */
size_t pd_st_metadata_count(const pd_safetensors *st);
const char *pd_st_metadata_key(const pd_safetensors *st, size_t i);

/* Lets the OS drop the resident pages of bytes [p, p + n) of the map — data
 * the caller is done with for now; a later read faults them back in from the
 * file. Only whole pages inside the range are dropped; a range outside the
 * map, or a handle from pd_st_parse, is left alone. The data stays valid. */
void pd_st_release(const pd_safetensors *st, const void *p, size_t n);

/* "F32", "F16", ... (static storage) and bytes per element. */
const char *pd_st_dtype_name(pd_st_dtype dtype);
size_t pd_st_dtype_size(pd_st_dtype dtype);

#endif
