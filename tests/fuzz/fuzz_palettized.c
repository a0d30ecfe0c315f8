/* fuzz_palettized.c — libFuzzer target for the palettized model format
 * (io/palettized.h) on top of the safetensors reader.
 *
 * Any input must either be refused with a message naming the buffer, or
 * give weights that lie inside the input: every palettized weight is decoded
 * in full here (each row's packed indices, each index looked up in its
 * group's palette) and every plain weight read, so ASan catches a descriptor
 * that escapes. The embedded configs are parsed too. Seeds: corpus/palettized/,
 * cut from a converted tiny golden model by make_palettized_corpus.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/palettized.h"
#include "io/safetensors.h"
#include "kernels/palette.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

static void broken(const char *what, const char *name)
{
    fprintf(stderr, "fuzz-palettized: %s (%s)\n", what, name ? name : "");
    abort();
}

typedef struct ctx {
    const uint8_t *lo, *hi;
    uint32_t acc;
} ctx;

static void inside(const ctx *c, const void *p, uint64_t n, const char *name)
{
    const uint8_t *q = p;
    if (q < c->lo || q > c->hi || n > (uint64_t)(c->hi - q))
        broken("accepted a weight outside the input", name);
}

static pd_status visit(void *user, int component, const char *name, const char *key, const pd_weight *w,
                       pd_error *err)
{
    (void)err;
    ctx *c = user;
    if (component < 0 || component >= PD_COMPONENT_COUNT || !name[0] || w->ndim < 0 || w->ndim > 4)
        broken("accepted a malformed weight", key);
    int64_t rows = w->ndim ? w->shape[0] : 1, cols = 1; /* kernels/weight.c stays out of the fuzzer */
    for (int d = 1; d < w->ndim; d++)
        cols *= w->shape[d];
    if (w->dtype == PD_F16) {
        inside(c, w->data, (uint64_t)(rows * cols) * 2, key);
        const uint16_t *v = w->data;
        for (int64_t i = 0; i < rows * cols; i++)
            c->acc += v[i];
        return PD_OK;
    }
    if (w->dtype != PD_PAL || w->bits < 1 || w->bits > 8 || w->group_size < 1 || rows % w->group_size)
        broken("accepted an inconsistent palettized weight", key);
    int64_t rb = pd_pal_row_bytes(cols, w->bits), K = (int64_t)1 << w->bits;
    inside(c, w->data, (uint64_t)(rows * rb), key);
    inside(c, w->palette, (uint64_t)(rows / w->group_size * K) * 2, key);
    const uint8_t *ix = w->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t bit = j * w->bits;
            uint32_t v = ix[r * rb + (bit >> 3)];
            if ((bit & 7) + w->bits > 8)
                v |= (uint32_t)ix[r * rb + (bit >> 3) + 1] << 8;
            v = (v >> (bit & 7)) & (uint32_t)(K - 1);
            c->acc += w->palette[(r / w->group_size) * K + v];
        }
    return PD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pd_safetensors *st = NULL;
    pd_error err;
    if (pd_st_parse("fuzz", data, size, &st, &err) != PD_OK)
        return 0;
    ctx c = {data, data + size, 0};
    pd_status s = pd_palf_check(st, visit, &c, &err);
    if (s != PD_OK && strncmp(err.message, "fuzz: ", 6) != 0)
        broken("refused with a message that does not name the buffer", err.message);
    for (int k = 0; s == PD_OK && k <= PD_COMPONENT_COUNT; k++) {
        const char *text = pd_st_metadata(st, pd_palf_config_key(k));
        pd_config *cfg = NULL;
        if (text && pd_config_parse("fuzz: config", text, strlen(text), &cfg, &err) == PD_OK)
            c.acc += (uint32_t)pd_config_has(cfg, "sample_size");
        pd_config_free(cfg);
    }
    sink = c.acc;
    pd_st_close(st);
    return 0;
}
