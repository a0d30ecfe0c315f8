/* make_image_corpus.c — writes the image fuzz target's seeds (corpus/image/):
 * one small file of each kind the reader handles, each a few hundred bytes
 * so that mutations reach past the headers.
 *
 *     ninja -C build tests/fuzz/make-image-corpus
 *     build/tests/fuzz/make-image-corpus tests/fuzz/corpus/image
 *
 * libpng and libjpeg(-turbo) write the same bytes for the same calls, so
 * running it again changes nothing unless those libraries change.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "imagegen.h"

static int failed;

static void save(const char *dir, const char *name, GByteArray *b)
{
    char *path = g_build_filename(dir, name, NULL);
    if (!b || !gen_write_file(path, b)) {
        fprintf(stderr, "make-image-corpus: %s not written\n", path);
        failed = 1;
    } else {
        printf("%s: %u bytes\n", path, b->len);
    }
    g_free(path);
    if (b)
        g_byte_array_free(b, TRUE);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    uint8_t px[16 * 16 * 4 * 2];
    for (size_t i = 0; i < sizeof px; i++) /* smooth, so it compresses */
        px[i] = (uint8_t)(i % 64 * 3 + i / 64 * 2);

    save(dir, "rgb8.png", gen_png_bytes(&(gen_png){.width = 8, .height = 8,
        .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8, .rows = px}));
    static const uint8_t bits[4] = {0xA5, 0x5A, 0xF0, 0x0F};
    save(dir, "gray1.png", gen_png_bytes(&(gen_png){.width = 8, .height = 4,
        .color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 1, .rows = bits}));
    static const uint8_t pal[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
    static const uint8_t trns[3] = {0, 128, 255};
    static const uint8_t idx[4 * 3] = {0x01, 0x23, 0x12, 0x30, 0x32, 0x10, 0, 0, 0, 0, 0, 0};
    save(dir, "palette4-trns.png", gen_png_bytes(&(gen_png){.width = 4, .height = 3,
        .color_type = PNG_COLOR_TYPE_PALETTE, .bit_depth = 4, .rows = idx, .palette = pal,
        .palette_len = 4, .trns = trns, .trns_len = 3}));
    save(dir, "gray-alpha16.png", gen_png_bytes(&(gen_png){.width = 4, .height = 4,
        .color_type = PNG_COLOR_TYPE_GRAY_ALPHA, .bit_depth = 16, .rows = px}));
    save(dir, "rgba16-interlaced.png", gen_png_bytes(&(gen_png){.width = 5, .height = 5,
        .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .bit_depth = 16, .interlace = true,
        .rows = px}));
    save(dir, "text.png", gen_png_bytes(&(gen_png){.width = 3, .height = 2,
        .color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 8, .rows = px, .text_key = "parameters",
        .text = "a fox\nSteps: 20, Seed: 1", .text_compression = PNG_TEXT_COMPRESSION_NONE}));
    save(dir, "ztxt.png", gen_png_bytes(&(gen_png){.width = 3, .height = 2,
        .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8, .rows = px, .text_key = "Comment",
        .text = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", .text_compression = PNG_TEXT_COMPRESSION_zTXt}));

    save(dir, "rgb.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 16, .height = 16, .components = 3,
        .in_space = JCS_RGB, .jpeg_space = JCS_UNKNOWN, .optimize = true, .pixels = px}));
    save(dir, "gray.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 8, .height = 8, .components = 1,
        .in_space = JCS_GRAYSCALE, .jpeg_space = JCS_UNKNOWN, .optimize = true, .pixels = px}));
    save(dir, "progressive.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 16, .height = 8,
        .components = 3, .in_space = JCS_RGB, .jpeg_space = JCS_UNKNOWN, .progressive = true,
        .pixels = px}));
    save(dir, "arith.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 16, .height = 16,
        .components = 3, .in_space = JCS_RGB, .jpeg_space = JCS_UNKNOWN, .arith = true,
        .pixels = px}));
    save(dir, "restart-comment.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 16, .height = 16,
        .components = 3, .in_space = JCS_RGB, .jpeg_space = JCS_UNKNOWN, .optimize = true,
        .restart_rows = 1, .comment = "a fox\nSteps: 20", .pixels = px}));
    save(dir, "rgb-not-ycbcr.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 8, .height = 8,
        .components = 3, .in_space = JCS_RGB, .jpeg_space = JCS_RGB, .optimize = true,
        .pixels = px}));
    /* EXIF (big-endian TIFF): IFD0 of one entry, Orientation = 6. */
    static const uint8_t exif[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                   0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
    save(dir, "exif-orientation.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 16, .height = 8,
        .components = 3, .in_space = JCS_RGB, .jpeg_space = JCS_UNKNOWN, .optimize = true,
        .pixels = px, .app1 = exif, .app1_len = sizeof exif}));
    save(dir, "cmyk.jpg", gen_jpeg_bytes(&(gen_jpeg){.width = 8, .height = 8, .components = 4,
        .in_space = JCS_CMYK, .jpeg_space = JCS_UNKNOWN, .optimize = true, .pixels = px}));
    return failed;
}
