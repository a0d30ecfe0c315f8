/* imagegen.h — PNG and JPEG files made directly with libpng and libjpeg,
 * for the tests: the kinds paldiff never writes itself (16-bit, palettes,
 * alpha, interlacing, CMYK, progressive, arithmetic coding).
 *
 *     gen_png p = {.width = 4, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY,
 *                  .bit_depth = 16, .rows = samples};
 *     GByteArray *png = gen_png_bytes(&p);      // NULL if libpng refused
 *
 * Used by tests/unit/test_imagefile.c, tests/hostile/hostile_images.c and
 * tests/fuzz/make_image_corpus.c. Single-threaded is enough.
 */
#ifndef PD_TEST_IMAGEGEN_H
#define PD_TEST_IMAGEGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>
#include <jpeglib.h>
#include <png.h>

typedef struct gen_png {
    int width, height;
    int color_type, bit_depth;   /* PNG_COLOR_TYPE_*, 1 .. 16            */
    bool interlace;              /* Adam7                                 */
    const uint8_t *rows;         /* height rows as libpng packs them: 16-bit
                                    samples big-endian, small depths MSB
                                    first; rows padded to whole bytes      */
    const uint8_t *palette;      /* palette_len RGB triples               */
    int palette_len;
    const uint8_t *trns;         /* tRNS: palette alphas                  */
    int trns_len;
    const char *text_key, *text; /* an optional text chunk ...            */
    int text_compression;        /* ... PNG_TEXT_COMPRESSION_NONE etc.     */
} gen_png;

typedef struct gen_jpeg {
    int width, height, components;
    J_COLOR_SPACE in_space;      /* of pixels                             */
    J_COLOR_SPACE jpeg_space;    /* in the file; JCS_UNKNOWN: the default */
    int quality;                 /* 0: 90                                 */
    bool progressive, arith;
    bool optimize;               /* Huffman tables fitted to the image    */
    int restart_rows;            /* 0: no restart markers                 */
    const uint8_t *pixels;       /* width × height × components           */
    const char *comment;         /* an optional COM marker                */
    const uint8_t *app1;         /* an optional APP1 marker (EXIF) ...     */
    unsigned app1_len;           /* ... of this many bytes                */
} gen_jpeg;

/* The whole file, or NULL when the library refused (message on stderr). */
GByteArray *gen_png_bytes(const gen_png *p);
GByteArray *gen_jpeg_bytes(const gen_jpeg *j);

/* Bytes of a packed row of width samples of `depth` bits each. */
size_t gen_png_rowbytes(int width, int samples_per_pixel, int depth);

/* Writes b to path; false (message on stderr) on failure. */
bool gen_write_file(const char *path, const GByteArray *b);

#endif
