/* fuzz_safetensors.c — libFuzzer target for the safetensors reader.
 *
 * Any input must either be refused with a message naming the buffer, or give
 * a handle whose every tensor lies inside the input; reading every byte and
 * every metadata string lets ASan catch a pointer that escapes. Built two
 * ways (tests/fuzz/meson.build): with -fsanitize=fuzzer under clang, and
 * with replay.c's main for every compiler.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads below from being optimized away. */
static volatile uint8_t sink;

static void broken(const char *what, const char *name)
{
    fprintf(stderr, "fuzz-safetensors: %s (%s)\n", what, name ? name : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pd_safetensors *st = NULL;
    pd_error err;
    if (pd_st_parse("fuzz", data, size, &st, &err) != PD_OK) {
        if (strncmp(err.message, "fuzz: ", 6) != 0)
            broken("refused with a message that does not name the buffer", err.message);
        return 0;
    }
    uint8_t acc = 0;
    const uint8_t *end = data + size, *prev_end = NULL;
    for (size_t i = 0; i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        const uint8_t *p = t->data;
        if (p < data || p > end || t->nbytes > (uint64_t)(end - p))
            broken("accepted data outside the input", t->name);
        if (prev_end && p != prev_end)
            broken("accepted tensors that do not tile the data area", t->name);
        if (t->ndim < 0 || t->ndim > PD_ST_MAX_DIMS ||
            t->nbytes != (uint64_t)t->numel * pd_st_dtype_size(t->dtype))
            broken("accepted an inconsistent shape", t->name);
        if (pd_st_find(st, t->name) != t)
            broken("accepted a name pd_st_find does not return", t->name);
        prev_end = p + t->nbytes;
        for (uint64_t b = 0; b < t->nbytes; b++)
            acc ^= p[b];
        acc ^= (uint8_t)strlen(t->name);
    }
    if (prev_end && prev_end != end)
        broken("accepted tensors that stop short of the end", NULL);
    for (size_t i = 0; i < pd_st_metadata_count(st); i++) {
        const char *key = pd_st_metadata_key(st, i);
        acc ^= (uint8_t)(strlen(key) + strlen(pd_st_metadata(st, key)));
    }
    sink = acc;
    pd_st_close(st);
    return 0;
}
