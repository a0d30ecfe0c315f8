/* st_writer.h — writes .safetensors files atomically, streaming the data.
 *
 *     pd_st_writer *w;
 *     pd_stw_begin("out.safetensors", &w, &err);
 *     pd_stw_metadata(w, "format", "pt", &err);
 *     pd_stw_add(w, "a", PD_ST_F32, 2, (int64_t[]){2, 3}, &err);
 *     pd_stw_add(w, "b", PD_ST_F16, 1, (int64_t[]){4}, &err);
 *     pd_stw_write_header(w, &err);
 *     pd_stw_write(w, a_data, 24, &err);      // tensors' bytes in declaration order
 *     pd_stw_skip(w, 8, &err);                // or a hole that reads as zeros (sparse)
 *     pd_stw_finish(w, &err);                 // fsync + rename over "out.safetensors"
 *
 * Data goes to a temporary file beside `path`; only pd_stw_finish makes it
 * visible, so a failed or aborted write never leaves a partial file. Every
 * call after a failure fails; pd_stw_abort (or a failed finish) removes the
 * temporary file and frees the writer. One writer per thread.
 *
 * Misuse is PD_E_ARG: an empty, repeated, non-UTF-8 or "__metadata__" name,
 * a negative or overflowing shape, calls out of order, or more or fewer data
 * bytes than declared. The header is padded with spaces to a multiple of 8,
 * so every tensor's data is 8-byte aligned in the file.
 */
#ifndef PD_ST_WRITER_H
#define PD_ST_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"

typedef struct pd_st_writer pd_st_writer;

pd_status pd_stw_begin(const char *path, pd_st_writer **out, pd_error *err);
/* A `__metadata__` entry (both UTF-8). */
pd_status pd_stw_metadata(pd_st_writer *w, const char *key, const char *value, pd_error *err);
/* Declares the next tensor; data offsets follow declaration order. */
pd_status pd_stw_add(pd_st_writer *w, const char *name, pd_st_dtype dtype, int ndim,
                     const int64_t *shape, pd_error *err);
pd_status pd_stw_write_header(pd_st_writer *w, pd_error *err);
pd_status pd_stw_write(pd_st_writer *w, const void *data, size_t n, pd_error *err);
pd_status pd_stw_skip(pd_st_writer *w, uint64_t n, pd_error *err);
/* Checks that exactly the declared bytes were written, then fsync, rename,
 * fsync of the folder. Frees the writer in every case. */
pd_status pd_stw_finish(pd_st_writer *w, pd_error *err);
void pd_stw_abort(pd_st_writer *w);

#endif
