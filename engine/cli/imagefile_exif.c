/* imagefile_exif.c — the EXIF orientation of a JPEG, and turning pixels
 * upright by it.
 *
 * Cameras and phones store the sensor's pixels as they came and record how
 * to turn them in the EXIF Orientation tag (0x0112 of IFD0); every viewer
 * and GIMP's importer apply it, so an init image or mask must be turned the
 * same way or it would not match what the user sees. EXIF blocks come from
 * strangers: every offset is checked against the block, and a malformed or
 * missing one means "as stored" (orientation 1), as viewers treat it —
 * the pixels themselves are fine.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "imagefile_internal.h"

/* TIFF: "II" little-endian or "MM" big-endian, then 42, then IFD0's offset. */
static unsigned tiff_u16(const uint8_t *p, bool little)
{
    return little ? p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static uint32_t tiff_u32(const uint8_t *p, bool little)
{
    return little ? tiff_u16(p, true) | (uint32_t)tiff_u16(p + 2, true) << 16
                  : (uint32_t)tiff_u16(p, false) << 16 | tiff_u16(p + 2, false);
}

int pd_exif_orientation(const uint8_t *app1, size_t len)
{
    static const uint8_t magic[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (!app1 || len < sizeof magic + 8 || memcmp(app1, magic, sizeof magic))
        return 1;
    const uint8_t *t = app1 + sizeof magic; /* offsets count from here */
    size_t n = len - sizeof magic;
    bool little;
    if (t[0] == 'I' && t[1] == 'I')
        little = true;
    else if (t[0] == 'M' && t[1] == 'M')
        little = false;
    else
        return 1;
    if (tiff_u16(t + 2, little) != 42)
        return 1;
    uint32_t ifd = tiff_u32(t + 4, little);
    if (ifd > n || n - ifd < 2)
        return 1;
    unsigned entries = tiff_u16(t + ifd, little);
    for (unsigned i = 0; i < entries; i++) {
        size_t at = ifd + 2 + (size_t)i * 12;
        if (at > n || n - at < 12)
            return 1;
        const uint8_t *e = t + at;
        /* Tag, type 3 (SHORT), count 1, the value in the entry's first 2 bytes. */
        if (tiff_u16(e, little) == 0x0112) {
            if (tiff_u16(e + 2, little) != 3 || tiff_u32(e + 4, little) != 1)
                return 1;
            unsigned v = tiff_u16(e + 8, little);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

pd_status pd_pixels_orient(pd_pixels *img, int orientation, pd_error *err)
{
    if (orientation <= 1 || orientation > 8)
        return PD_OK;
    const int w = img->width, h = img->height, c = img->channels;
    const bool swap = orientation >= 5; /* a quarter turn or a transposition */
    const int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = pd_image_alloc(ow, oh, c);
    if (!out)
        return pd_fail(err, PD_E_NOMEM, "out of memory turning %d × %d pixels upright", w, h);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            /* Where the displayed pixel (x, y) is stored (EXIF 2.3, table of
             * Orientation values: 2 mirrors, 3 turns 180°, 6 turns 90°
             * clockwise, 8 counter-clockwise, 5 and 7 transpose). */
            int sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break; /* 8 */
            }
            memcpy(out + ((size_t)y * ow + x) * c, img->data + ((size_t)sy * w + sx) * c, (size_t)c);
        }
    free(img->data);
    *img = (pd_pixels){.width = ow, .height = oh, .channels = c, .data = out};
    return PD_OK;
}
