/* imagefile.h — PNG and JPEG files for the CLI and the tests (libpng,
 * libjpeg-turbo). The engine itself never touches files of pixels: the CLI
 * and the GIMP plug-in hand it pd_image views.
 *
 *     pd_pixels img;
 *     if (pd_image_read("init.jpg", 3, &img, &err)) return err.status;   // any PNG/JPEG → RGB8
 *     pd_pixels small;
 *     if (pd_pixels_resize(&img, 512, 512, &small, &err)) ...
 *     pd_image_write("out.png", &small, "a fox\nSteps: 20, Seed: 1", &err);
 *     pd_pixels_free(&small);
 *     pd_pixels_free(&img);
 *
 * Reading goes by the file's signature, not its name. Every PNG colour type
 * and bit depth is converted to 8-bit gray (channels 1) or RGB (channels 3)
 * as asked (alpha dropped, not composited; 16-bit rounded); JPEGs in gray,
 * YCbCr or RGB are converted likewise (CMYK is PD_E_UNSUPPORTED) and turned
 * upright by their EXIF orientation, as viewers show them. A file
 * that is truncated (a JPEG too: libjpeg would pad it with gray), corrupt,
 * not an image, larger than PD_IMAGEFILE_MAX_FILE bytes, or larger than
 * PD_IMAGEFILE_MAX_SIDE on a side or PD_IMAGEFILE_MAX_PIXELS in all (checked
 * from the header, before any pixel memory) is refused with an error naming
 * the file; *out is then left zeroed. Statuses: PD_E_IO (cannot open or
 * read, a folder), PD_E_FORMAT (not PNG/JPEG, truncated, corrupt),
 * PD_E_UNSUPPORTED (too large; CMYK, 12-bit or lossless JPEG; GIF, WebP),
 * PD_E_NOMEM.
 *
 * Writing picks the format from the extension (.png, .jpg/.jpeg, any case;
 * else PD_E_ARG) and is atomic: a temporary file beside the target (mode
 * 0666 through the umask) renamed over it, so a failed write leaves neither
 * a partial file nor the temporary one (PD_E_IO then, PD_E_ARG for a bad
 * image or name). PNGs carry `parameters` (UTF-8; if not NULL) in a tEXt
 * chunk of keyword "parameters", the convention other Stable Diffusion
 * tools read; text beyond printable ASCII and newlines goes in an iTXt
 * chunk of the same keyword instead (tEXt is Latin-1, so UTF-8 bytes there
 * would read as mojibake). JPEGs (quality 95) carry it in a COM marker, cut
 * at a character boundary to the marker's 65533 bytes.
 *
 * Ownership: pd_pixels owns its data (pd_pixels_free). Thread-safe: no
 * shared state.
 */
#ifndef PD_IMAGEFILE_H
#define PD_IMAGEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "paldiff.h"

#define PD_IMAGEFILE_MAX_SIDE 32768
#define PD_IMAGEFILE_MAX_PIXELS (64 * 1024 * 1024)
/* The largest file read (whole, into memory): a PNG at the pixel limit
 * stored 16-bit RGB without compression still fits. */
#define PD_IMAGEFILE_MAX_FILE (512 * 1024 * 1024)

typedef struct pd_pixels {
    int width, height;
    int channels;          /* 1 (gray) or 3 (RGB)                       */
    uint8_t *data;         /* width × height × channels, rows top first */
} pd_pixels;

/* Reads a PNG or JPEG as `channels` (1 or 3) 8-bit channels. */
pd_status pd_image_read(const char *path, int channels, pd_pixels *out, pd_error *err);

/* The same from len bytes in memory (what pd_image_read does after reading
 * the file; the fuzz harness calls it). `label` starts every message. */
pd_status pd_image_decode(const void *data, size_t len, const char *label, int channels,
                          pd_pixels *out, pd_error *err);

/* Writes img (1 or 3 channels) as PNG or JPEG (quality 95) by extension. */
pd_status pd_image_write(const char *path, const pd_pixels *img, const char *parameters,
                         pd_error *err);

/* Resamples to width × height (≥ 1, within the limits above): a triangle
 * filter widened by the scale when shrinking (no aliasing), bilinear when
 * enlarging; per channel, pixel centres aligned, edges clamped — PIL's
 * BILINEAR resize. out must not be in; on failure *out is zeroed. */
pd_status pd_pixels_resize(const pd_pixels *in, int width, int height, pd_pixels *out,
                           pd_error *err);

/* Frees p's data and zeroes *p; NULL or a zeroed pd_pixels is fine. */
void pd_pixels_free(pd_pixels *p);

#endif
