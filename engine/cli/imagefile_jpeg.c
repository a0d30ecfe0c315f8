/* imagefile_jpeg.c — JPEG through libjpeg(-turbo).
 *
 * libjpeg's default error manager prints and calls exit(); ours fills the
 * pd_error and longjmps back to the entry point, as libjpeg's example.c
 * does. The libjpeg structs live in the caller's frame (a *_ctx), not as
 * locals of the function holding the setjmp, so the jump never leaves them
 * indeterminate (C11 7.13.2.1); that function's one local changed after
 * setjmp, the pixel buffer, is volatile.
 *
 * Warnings matter too: at the end of the data libjpeg warns (JWRN_JPEG_EOF),
 * inserts a fake EOI and returns the image padded with gray. A truncated or
 * corrupt file is refused instead; only harmless warnings are ignored.
 *
 * The pixels come back upright: the EXIF orientation a camera recorded is
 * applied (imagefile_exif.c), as viewers and GIMP apply it.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jpeglib.h first: jerror.h's list of codes depends on jconfig.h (e.g.
 * JWRN_ARITH_BAD_CODE exists only where arithmetic coding is built in). */
#include <jpeglib.h>
#include <jerror.h>

#include "error.h"
#include "imagefile_internal.h"

/* A progressive JPEG can repeat cheap scans that each walk the whole image:
 * a few kilobytes could keep the decoder busy for minutes. Encoders write
 * about ten; libjpeg-turbo's own tools suggest a limit of 500. */
#define JPEG_MAX_SCANS 500
/* libjpeg's own allocations (a progressive image keeps every coefficient:
 * 2 bytes a sample, 384 MiB at the pixel limit); more is refused. */
#define JPEG_MAX_MEMORY (512L * 1024 * 1024)
#define JPEG_QUALITY 95
/* A marker's length field (16 bits) counts itself: 65535 − 2 data bytes. */
#define JPEG_MAX_COM 65533

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands back a pointer to it */
    jmp_buf jump;
    const char *label;
    bool writing;
    pd_status status;          /* set together with *err before a jump    */
    pd_error *err;
} jpeg_err;

typedef struct jpeg_read_ctx {
    jpeg_err e;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
} jpeg_read_ctx;

typedef struct jpeg_write_ctx {
    jpeg_err e;
    struct jpeg_compress_struct cinfo;
} jpeg_write_ctx;

static void on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    int code = cinfo->err->msg_code;
    if (code == JERR_IMAGE_TOO_BIG && cinfo->is_decompressor) {
        /* Sides above 65500, refused inside jpeg_read_header: the same
         * message as for any image beyond our limits. */
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        e->status = pd_image_check_size(e->label, "JPEG", d->image_width, d->image_height,
                                        e->err);
        if (e->status != PD_OK)
            longjmp(e->jump, 1);
    }
    if (code == JERR_OUT_OF_MEMORY || code == JERR_NO_BACKING_STORE)
        e->status = pd_fail(e->err, PD_E_NOMEM, "%s: libjpeg ran out of memory (%s); it may "
                            "use %ld MiB for a JPEG", e->label, msg, JPEG_MAX_MEMORY >> 20);
    else if (e->writing)
        e->status = pd_fail(e->err, PD_E_IO, "%s: writing the JPEG failed (libjpeg: %s); "
                            "check the free space", e->label, msg);
    else if (code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED ||
             code == JERR_ARITH_NOTIMPL || code == JERR_CONVERSION_NOTIMPL)
        /* Well-formed, but 12-bit, lossless or the like. */
        e->status = pd_fail(e->err, PD_E_UNSUPPORTED, "%s: a kind of JPEG libjpeg does not "
                            "decode (%s); convert it to an 8-bit JPEG or a PNG first", e->label,
                            msg);
    else
        e->status = pd_fail(e->err, PD_E_FORMAT, "%s: corrupt JPEG (libjpeg: %s); re-export "
                            "the image or use another file", e->label, msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) /* trace messages */
        return;
    jpeg_err *e = (jpeg_err *)cinfo->err;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF: /* the source ran out: the rest would be gray */
        e->status = pd_fail(e->err, PD_E_FORMAT, "%s: truncated JPEG: the file ends before "
                            "its image data does; copy or download it again", e->label);
        longjmp(e->jump, 1);
    case JWRN_HIT_MARKER:     /* a scan stops short: missing pixels */
    case JWRN_HUFF_BAD_CODE:  /* entropy data that decodes to garbage */
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC: {  /* data lost up to the next restart marker */
        char msg[JMSG_LENGTH_MAX];
        cinfo->err->format_message(cinfo, msg);
        e->status = pd_fail(e->err, PD_E_FORMAT, "%s: corrupt JPEG (libjpeg: %s); re-export "
                            "the image or use another file", e->label, msg);
        longjmp(e->jump, 1);
    }
    default: /* stray bytes between markers, odd JFIF versions: harmless */
        cinfo->err->num_warnings++;
    }
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        e->status = pd_fail(e->err, PD_E_UNSUPPORTED, "%s: a JPEG of more than %d scans; "
                            "re-export it", e->label, JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

static void init_err(jpeg_err *e, const char *label, bool writing, pd_error *err)
{
    e->label = label;
    e->writing = writing;
    e->status = PD_OK;
    e->err = err;
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = on_error;
    e->mgr.emit_message = on_message;
}

static pd_status decode(jpeg_read_ctx *c, const uint8_t *data, size_t len, int channels,
                        pd_pixels *out)
{
    struct jpeg_decompress_struct *cinfo = &c->cinfo;
    uint8_t *volatile pixels = NULL;
    cinfo->err = &c->e.mgr;
    if (setjmp(c->e.jump)) {
        jpeg_destroy_decompress(cinfo);
        free(pixels);
        return c->e.status;
    }
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF); /* EXIF (and XMP) */
    jpeg_read_header(cinfo, TRUE);
    /* Now: the saved markers live in the image's pool, which
     * jpeg_finish_decompress frees. */
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m && orientation == 1; m = m->next)
        if (m->marker == JPEG_APP0 + 1)
            orientation = pd_exif_orientation(m->data, m->data_length);

    const char *label = c->e.label;
    pd_error *err = c->e.err;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        c->e.status = pd_fail(err, PD_E_UNSUPPORTED, "%s: a CMYK JPEG (made for print); "
                              "paldiff reads gray, RGB and YCbCr JPEGs: convert it to RGB "
                              "first", label);
        longjmp(c->e.jump, 1);
    default:
        c->e.status = pd_fail(err, PD_E_UNSUPPORTED, "%s: a JPEG of %d components in an "
                              "unknown colour space; convert it to RGB first", label,
                              cinfo->num_components);
        longjmp(c->e.jump, 1);
    }
    /* Before jpeg_start_decompress, which allocates for the whole image. */
    c->e.status = pd_image_check_size(label, "JPEG", cinfo->image_width, cinfo->image_height,
                                      err);
    if (c->e.status != PD_OK)
        longjmp(c->e.jump, 1);

    cinfo->out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    cinfo->mem->max_memory_to_use = JPEG_MAX_MEMORY;
    c->progress = (struct jpeg_progress_mgr){.progress_monitor = on_progress};
    cinfo->progress = &c->progress;
    jpeg_start_decompress(cinfo);
    if (cinfo->output_width != cinfo->image_width ||
        cinfo->output_height != cinfo->image_height || cinfo->output_components != channels) {
        c->e.status = pd_fail(err, PD_E_UNSUPPORTED, "%s: libjpeg cannot convert this JPEG "
                              "to %d channels; re-export it as RGB", label, channels);
        longjmp(c->e.jump, 1);
    }

    int w = (int)cinfo->output_width, h = (int)cinfo->output_height;
    pixels = pd_image_alloc(w, h, channels);
    if (!pixels) {
        c->e.status = pd_fail(err, PD_E_NOMEM, "%s: out of memory for %d × %d pixels", label,
                              w, h);
        longjmp(c->e.jump, 1);
    }
    size_t stride = (size_t)w * (size_t)channels;
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = pixels + (size_t)cinfo->output_scanline * stride;
        /* 0 only from a suspending source; the memory source never is one,
         * but a loop must not hang on it. */
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            c->e.status = pd_fail(err, PD_E_FORMAT, "%s: truncated JPEG; copy or download "
                                  "it again", label);
            longjmp(c->e.jump, 1);
        }
    }
    /* Reads on to EOI: a file cut after its last row is refused too. */
    jpeg_finish_decompress(cinfo);
    jpeg_destroy_decompress(cinfo);
    pd_pixels img = {.width = w, .height = h, .channels = channels, .data = pixels};
    if (pd_pixels_orient(&img, orientation, err)) {
        free(img.data);
        return PD_E_NOMEM;
    }
    *out = img;
    return PD_OK;
}

pd_status pd_jpeg_decode(const uint8_t *data, size_t len, const char *label, int channels,
                         pd_pixels *out, pd_error *err)
{
    jpeg_read_ctx c;
    /* Zeroed: jpeg_destroy_* after a jpeg_create_* that failed early reads
     * cinfo.mem. */
    memset(&c, 0, sizeof c);
    init_err(&c.e, label, false, err);
    return decode(&c, data, len, channels, out);
}

/* The COM marker's length: all of text up to 65533 bytes, cut before a
 * UTF-8 character rather than through it. */
static unsigned com_length(const char *text)
{
    size_t n = strlen(text);
    if (n <= JPEG_MAX_COM)
        return (unsigned)n;
    n = JPEG_MAX_COM; /* text[n] is the first byte left out */
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return (unsigned)n;
}

static pd_status encode(jpeg_write_ctx *c, FILE *fp, const pd_pixels *img, const char *text)
{
    struct jpeg_compress_struct *cinfo = &c->cinfo;
    cinfo->err = &c->e.mgr;
    if (setjmp(c->e.jump)) {
        jpeg_destroy_compress(cinfo);
        return c->e.status;
    }
    jpeg_create_compress(cinfo);
    jpeg_stdio_dest(cinfo, fp);
    cinfo->image_width = (JDIMENSION)img->width;
    cinfo->image_height = (JDIMENSION)img->height;
    cinfo->input_components = img->channels;
    cinfo->in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, JPEG_QUALITY, TRUE);
    cinfo->optimize_coding = TRUE; /* a few % smaller, the same pixels */
    jpeg_start_compress(cinfo, TRUE);
    if (text) /* after the JFIF APP0 marker, before the image */
        jpeg_write_marker(cinfo, JPEG_COM, (const JOCTET *)text, com_length(text));
    size_t stride = (size_t)img->width * (size_t)img->channels;
    while (cinfo->next_scanline < cinfo->image_height) {
        /* libjpeg only reads the rows; JSAMPROW is not const. */
        JSAMPROW row = (JSAMPROW)(img->data + (size_t)cinfo->next_scanline * stride);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo); /* flushes, and fails on a short write */
    jpeg_destroy_compress(cinfo);
    return PD_OK;
}

pd_status pd_jpeg_write(FILE *fp, const char *label, const pd_pixels *img,
                        const char *parameters, pd_error *err)
{
    jpeg_write_ctx c;
    memset(&c, 0, sizeof c);
    init_err(&c.e, label, true, err);
    return encode(&c, fp, img, parameters);
}
