/* imagefile_internal.h — what imagefile.c shares with its two codecs,
 * imagefile_png.c (libpng) and imagefile_jpeg.c (libjpeg-turbo).
 *
 * Decoders get the whole file in memory and fill *out only on success.
 * Writers get a stdio stream on the temporary file; imagefile.c closes,
 * renames or unlinks it. `label` (the path) starts every message.
 */
#ifndef PD_IMAGEFILE_INTERNAL_H
#define PD_IMAGEFILE_INTERNAL_H

#include <stdio.h>

#include "imagefile.h"

pd_status pd_png_decode(const uint8_t *data, size_t len, const char *label, int channels,
                        pd_pixels *out, pd_error *err);
pd_status pd_jpeg_decode(const uint8_t *data, size_t len, const char *label, int channels,
                         pd_pixels *out, pd_error *err);

pd_status pd_png_write(FILE *fp, const char *label, const pd_pixels *img,
                       const char *parameters, pd_error *err);
pd_status pd_jpeg_write(FILE *fp, const char *label, const pd_pixels *img,
                        const char *parameters, pd_error *err);

/* Refuses a header's size before anything is allocated for it: 0 is
 * PD_E_FORMAT, beyond PD_IMAGEFILE_MAX_SIDE / _MAX_PIXELS PD_E_UNSUPPORTED. */
pd_status pd_image_check_size(const char *label, const char *format, uint64_t width,
                              uint64_t height, pd_error *err);

/* Zeroed width × height × channels bytes (checked sizes), or NULL. Zeroed so
 * that an interlaced PNG's passes never read uninitialized bytes; calloc
 * gets large blocks as fresh zero pages, at no cost. */
uint8_t *pd_image_alloc(int width, int height, int channels);

/* The EXIF Orientation (1–8) in a JPEG's APP1 payload of len bytes ("Exif\0\0"
 * and a TIFF block); 1 (as stored) when there is none or it is malformed. */
int pd_exif_orientation(const uint8_t *app1, size_t len);

/* Turns img's pixels upright for an EXIF orientation (2–8; else nothing
 * happens): 5–8 swap width and height. img is left as it was on failure
 * (PD_E_NOMEM). */
pd_status pd_pixels_orient(pd_pixels *img, int orientation, pd_error *err);

#endif
