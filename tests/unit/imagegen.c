#include "imagegen.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

static void png_write_mem(png_structp png, png_bytep data, size_t n)
{
    g_byte_array_append(png_get_io_ptr(png), data, (guint)n);
}

static void png_flush_mem(png_structp png)
{
    (void)png;
}

size_t gen_png_rowbytes(int width, int samples_per_pixel, int depth)
{
    return ((size_t)width * (size_t)samples_per_pixel * (size_t)depth + 7) / 8;
}

static int png_samples(int color_type)
{
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* palette indices */
    }
}

/* The setjmp's frame keeps nothing that changes after it but `out`, kept
 * in the caller's frame. */
static bool png_encode(const gen_png *p, GByteArray *out)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, out, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)p->width, (png_uint_32)p->height, p->bit_depth,
                 p->color_type, p->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (p->palette) {
        png_color pal[256];
        for (int i = 0; i < p->palette_len; i++)
            pal[i] = (png_color){p->palette[3 * i], p->palette[3 * i + 1], p->palette[3 * i + 2]};
        png_set_PLTE(png, info, pal, p->palette_len);
    }
    if (p->trns)
        png_set_tRNS(png, info, p->trns, p->trns_len, NULL);
    if (p->text) {
        png_text t = {.compression = p->text_compression, .key = (png_charp)p->text_key,
                      .text = (png_charp)p->text, .text_length = strlen(p->text)};
        png_set_text(png, info, &t, 1);
    }
    png_write_info(png, info);
    size_t stride = gen_png_rowbytes(p->width, png_samples(p->color_type), p->bit_depth);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < p->height; y++)
            png_write_row(png, p->rows + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return true;
}

GByteArray *gen_png_bytes(const gen_png *p)
{
    GByteArray *out = g_byte_array_new();
    if (!png_encode(p, out)) {
        fprintf(stderr, "imagegen: libpng refused the PNG\n");
        g_byte_array_free(out, TRUE);
        return NULL;
    }
    return out;
}

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jerr;

static void jpeg_fail(j_common_ptr cinfo)
{
    cinfo->err->output_message(cinfo);
    longjmp(((jerr *)cinfo->err)->jump, 1);
}

typedef struct jctx {
    jerr e;
    struct jpeg_compress_struct cinfo;
    unsigned char *buf;
    unsigned long len;
} jctx;

static bool jpeg_encode(jctx *c, const gen_jpeg *j)
{
    struct jpeg_compress_struct *cinfo = &c->cinfo;
    cinfo->err = jpeg_std_error(&c->e.mgr);
    c->e.mgr.error_exit = jpeg_fail;
    if (setjmp(c->e.jump)) {
        jpeg_destroy_compress(cinfo);
        return false;
    }
    jpeg_create_compress(cinfo);
    jpeg_mem_dest(cinfo, &c->buf, &c->len);
    cinfo->image_width = (JDIMENSION)j->width;
    cinfo->image_height = (JDIMENSION)j->height;
    cinfo->input_components = j->components;
    cinfo->in_color_space = j->in_space;
    jpeg_set_defaults(cinfo);
    if (j->jpeg_space != JCS_UNKNOWN)
        jpeg_set_colorspace(cinfo, j->jpeg_space);
    jpeg_set_quality(cinfo, j->quality ? j->quality : 90, TRUE);
    if (j->progressive)
        jpeg_simple_progression(cinfo);
    cinfo->arith_code = j->arith;
    cinfo->optimize_coding = j->optimize;
    cinfo->restart_in_rows = j->restart_rows;
    jpeg_start_compress(cinfo, TRUE);
    if (j->comment)
        jpeg_write_marker(cinfo, JPEG_COM, (const JOCTET *)j->comment,
                          (unsigned)strlen(j->comment));
    if (j->app1)
        jpeg_write_marker(cinfo, JPEG_APP0 + 1, j->app1, j->app1_len);
    size_t stride = (size_t)j->width * (size_t)j->components;
    while (cinfo->next_scanline < cinfo->image_height) {
        JSAMPROW row = (JSAMPROW)(j->pixels + cinfo->next_scanline * stride);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    jpeg_destroy_compress(cinfo);
    return true;
}

GByteArray *gen_jpeg_bytes(const gen_jpeg *j)
{
    jctx c;
    memset(&c, 0, sizeof c);
    if (!jpeg_encode(&c, j)) {
        free(c.buf);
        fprintf(stderr, "imagegen: libjpeg refused the JPEG\n");
        return NULL;
    }
    GByteArray *out = g_byte_array_sized_new((guint)c.len);
    g_byte_array_append(out, c.buf, (guint)c.len);
    free(c.buf);
    return out;
}

bool gen_write_file(const char *path, const GByteArray *b)
{
    GError *gerr = NULL;
    if (!g_file_set_contents(path, (const char *)b->data, b->len, &gerr)) {
        fprintf(stderr, "imagegen: %s\n", gerr->message);
        g_error_free(gerr);
        return false;
    }
    return true;
}
