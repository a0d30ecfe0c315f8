/* imagefile_png.c — PNG through libpng 1.6.
 *
 * libpng reports errors by longjmp to the setjmp in the function that
 * called it. So each entry point here keeps its state (png_ctx) in its own
 * frame and calls a worker holding the setjmp: the worker's only local
 * changed after setjmp is the pixel buffer, which is volatile, and nothing
 * the error path reads is indeterminate after the jump (C11 7.13.2.1).
 */
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "error.h"
#include "imagefile_internal.h"

/* The largest ancillary chunk libpng may allocate; larger ones are skipped
 * with a warning. Nothing this reads needs more than PLTE's 768 bytes. */
#define PNG_CHUNK_MALLOC_MAX (1 << 20)
/* How many ancillary chunks libpng keeps (sPLT, unknown ...): a file of a
 * million tiny chunks must not become a million allocations. */
#define PNG_CHUNK_CACHE_MAX 64

typedef struct png_ctx {
    const uint8_t *data;   /* reading: the whole file               */
    size_t len, pos;
    const char *label;
    bool writing;
    pd_status status;      /* set together with *err before a jump  */
    pd_error *err;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c->status == PD_OK) { /* else a callback below already said why */
        if (c->writing)
            c->status = pd_fail(c->err, PD_E_IO, "%s: writing the PNG failed (libpng: %s); "
                                "check the free space", c->label, msg);
        else
            c->status = pd_fail(c->err, PD_E_FORMAT, "%s: corrupt PNG (libpng: %s); "
                                "re-export the image or use another file", c->label, msg);
    }
    png_longjmp(png, 1);
}

/* Warnings (a bad CRC in an ancillary chunk, which libpng skips) change
 * nothing we return; libpng's default would print them to stderr. */
static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

static void read_mem(png_structp png, png_bytep dst, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) {
        c->status = pd_fail(c->err, PD_E_FORMAT, "%s: truncated PNG: the file ends before "
                            "its image data does; copy or download it again", c->label);
        png_error(png, "truncated");
    }
    memcpy(dst, c->data + c->pos, n);
    c->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IHDR is the first chunk (PNG spec 5.6), at a fixed offset. Checking its
 * size here says which limit a file breaks; libpng's own user limits
 * (set below as well) would only say "Invalid IHDR data". A file whose
 * first chunk is not a 13-byte IHDR is left to libpng to refuse. */
static pd_status check_ihdr(const uint8_t *data, size_t len, const char *label, pd_error *err)
{
    if (len < 8 + 8 + 13 || be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0)
        return PD_OK;
    return pd_image_check_size(label, "PNG", be32(data + 16), be32(data + 20), err);
}

static pd_status decode(png_ctx *c, int channels, pd_pixels *out)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return pd_fail(c->err, PD_E_NOMEM, "%s: out of memory starting libpng", c->label);
    }
    uint8_t *volatile pixels = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return c->status;
    }
    png_set_read_fn(png, c, read_mem);
    png_set_user_limits(png, PD_IMAGEFILE_MAX_SIDE, PD_IMAGEFILE_MAX_SIDE);
    png_set_chunk_malloc_max(png, PNG_CHUNK_MALLOC_MAX);
    png_set_chunk_cache_max(png, PNG_CHUNK_CACHE_MAX);
    /* Pixels are all we return: skip text, profiles and other metadata
     * unparsed (their inflating included). */
    static const png_byte skip[] = "iCCP\0iTXt\0tEXt\0zTXt\0sPLT\0eXIf\0tIME\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skip, (int)(sizeof skip / 5));

    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, type;
    png_get_IHDR(png, info, &w, &h, &depth, &type, NULL, NULL, NULL);
    c->status = pd_image_check_size(c->label, "PNG", w, h, c->err); /* libpng allowed it */
    if (c->status != PD_OK)
        png_longjmp(png, 1);

    png_set_expand(png);      /* palette → RGB, gray of 1-4 bits → 8, tRNS → alpha */
    png_set_scale_16(png);    /* 16 → 8 bits rounded (png_set_strip_16 truncates)   */
    png_set_strip_alpha(png); /* dropped, not composited: the header says so         */
    bool colour = (type & PNG_COLOR_MASK_COLOR) != 0; /* palettes included */
    if (channels == 3 && !colour)
        png_set_gray_to_rgb(png);
    if (channels == 1 && colour) /* libpng's default (sRGB) weights, silently */
        png_set_rgb_to_gray_fixed(png, PNG_ERROR_ACTION_NONE, -1, -1);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = (size_t)w * (size_t)channels;
    if (png_get_bit_depth(png, info) != 8 || png_get_channels(png, info) != channels ||
        png_get_rowbytes(png, info) != stride) { /* a transform libpng did not do */
        c->status = pd_fail(c->err, PD_E_UNSUPPORTED, "%s: libpng cannot convert this PNG "
                            "(colour type %d, %d bits) to %d channels; re-export it as 8-bit "
                            "RGB", c->label, type, depth, channels);
        png_longjmp(png, 1);
    }

    pixels = pd_image_alloc((int)w, (int)h, channels);
    if (!pixels) {
        c->status = pd_fail(c->err, PD_E_NOMEM, "%s: out of memory for %u × %u pixels",
                            c->label, (unsigned)w, (unsigned)h);
        png_longjmp(png, 1);
    }
    /* An interlaced image comes in 7 passes over the whole image, each
     * filling in its own pixels (what png_read_image does, without its
     * array of row pointers). */
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(png, pixels + y * stride, NULL);
    /* Reads up to IEND, checking the rest of the zlib stream and its CRCs:
     * a file cut after its last row is still an incomplete file. */
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);

    *out = (pd_pixels){.width = (int)w, .height = (int)h, .channels = channels, .data = pixels};
    return PD_OK;
}

pd_status pd_png_decode(const uint8_t *data, size_t len, const char *label, int channels,
                        pd_pixels *out, pd_error *err)
{
    pd_status status = check_ihdr(data, len, label, err);
    if (status != PD_OK)
        return status;
    png_ctx c = {.data = data, .len = len, .label = label, .err = err};
    return decode(&c, channels, out);
}

/* tEXt is Latin-1 (PNG spec 11.3.4.3): only printable ASCII and newlines
 * mean the same there as in UTF-8. */
static bool plain_ascii(const char *s)
{
    for (; *s; s++)
        if (*s != '\n' && (*s < 0x20 || *s > 0x7e))
            return false;
    return true;
}

static pd_status encode(png_ctx *c, FILE *fp, const pd_pixels *img, const char *text)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return pd_fail(c->err, PD_E_NOMEM, "%s: out of memory starting libpng", c->label);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return c->status;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (text) {
        /* png_set_text copies; the casts only satisfy its non-const fields. */
        png_text t = {.key = (png_charp) "parameters", .text = (png_charp)text};
        if (plain_ascii(text)) {
            t.compression = PNG_TEXT_COMPRESSION_NONE;
            t.text_length = strlen(text);
        } else {
            t.compression = PNG_ITXT_COMPRESSION_NONE; /* UTF-8, no language tag */
        }
        png_set_text(png, info, &t, 1);
    }
    png_write_info(png, info); /* the text goes before IDAT, where readers look first */
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++)
        png_write_row(png, img->data + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return PD_OK;
}

pd_status pd_png_write(FILE *fp, const char *label, const pd_pixels *img,
                       const char *parameters, pd_error *err)
{
    png_ctx c = {.label = label, .writing = true, .err = err};
    /* iTXt must be UTF-8: keep the image, mend the text (U+FFFD). */
    char *mended = NULL;
    if (parameters && !g_utf8_validate(parameters, -1, NULL))
        parameters = mended = g_utf8_make_valid(parameters, -1);
    pd_status status = encode(&c, fp, img, parameters);
    g_free(mended);
    return status;
}
