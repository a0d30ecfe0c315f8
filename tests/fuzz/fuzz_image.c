/* fuzz_image.c — libFuzzer target for the image reader (cli/imagefile.h:
 * libpng and libjpeg behind pd_image_decode).
 *
 * Any input must either be refused — PD_E_FORMAT, PD_E_UNSUPPORTED or
 * PD_E_NOMEM, with a message naming the buffer and nothing returned — or
 * give an image within the limits whose every byte can be read (ASan sees
 * a short buffer) and resampled. The input's length picks gray or RGB.
 * Built two ways (tests/fuzz/meson.build): with -fsanitize=fuzzer under
 * clang, and with replay.c's main for every compiler.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cli/imagefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads below from being optimized away. */
static volatile uint8_t sink;

static void broken(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz-image: %s (%s)\n", what, detail ? detail : "");
    abort();
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A mutation almost never keeps a PNG chunk's CRC right, and libpng stops
 * at the first bad one: mending them lets the fuzzer reach the code behind
 * (tests/hostile checks bad CRCs). */
static void mend_png_crcs(uint8_t *p, size_t size)
{
    if (size < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0)
        return;
    for (size_t at = 8; at + 12 <= size;) {
        uint32_t n = get32(p + at);
        if (n > size - at - 12)
            break;
        uint32_t crc = (uint32_t)crc32(0, p + at + 4, 4 + n);
        for (int i = 0; i < 4; i++)
            p[at + 8 + n + i] = (uint8_t)(crc >> (24 - 8 * i));
        at += 12 + (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exactly sized: overreads show */
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    mend_png_crcs(copy, size);
    int channels = size % 2 ? 1 : 3;
    pd_pixels px = {7, 7, 7, (uint8_t *)"x"}; /* must come back zeroed on failure */
    pd_error err;
    pd_status st = pd_image_decode(copy, size, "fuzz", channels, &px, &err);
    free(copy);
    if (st != PD_OK) {
        if (st != PD_E_FORMAT && st != PD_E_UNSUPPORTED && st != PD_E_NOMEM)
            broken("refused with an unexpected status", err.message);
        if (strncmp(err.message, "fuzz: ", 6) != 0)
            broken("refused with a message that does not name the buffer", err.message);
        if (px.data || px.width || px.height || px.channels)
            broken("refused but returned something", err.message);
        return 0;
    }
    if (px.width < 1 || px.height < 1 || px.width > PD_IMAGEFILE_MAX_SIDE ||
        px.height > PD_IMAGEFILE_MAX_SIDE ||
        (int64_t)px.width * px.height > PD_IMAGEFILE_MAX_PIXELS || px.channels != channels ||
        !px.data)
        broken("accepted an image outside the limits", NULL);
    uint8_t acc = 0;
    size_t n = (size_t)px.width * (size_t)px.height * (size_t)channels;
    for (size_t i = 0; i < n; i++)
        acc ^= px.data[i];
    /* Resampling what was decoded; skipped for large images, for speed. */
    if ((int64_t)px.width * px.height <= (1 << 20)) {
        pd_pixels small;
        int w = 1 + (int)(size % 13), h = 1 + (int)(size % 11);
        if (pd_pixels_resize(&px, w, h, &small, &err) != PD_OK)
            broken("resize failed", err.message);
        for (size_t i = 0; i < (size_t)w * (size_t)h * (size_t)channels; i++)
            acc ^= small.data[i];
        pd_pixels_free(&small);
    }
    sink = acc;
    pd_pixels_free(&px);
    return 0;
}
