/* layers.c — pixels in and out of GIMP (see layers.h). */
#include <string.h>

#include "plugin/layers.h"

void paldiff_read_drawable(GimpDrawable *drawable, pd_pixels *rgb, guint8 **alpha)
{
    const int w = gimp_drawable_get_width(drawable), h = gimp_drawable_get_height(drawable);
    const size_t n = (size_t)w * h;
    guint8 *rgba = g_malloc(n * 4);
    GeglBuffer *buf = gimp_drawable_get_buffer(drawable);
    gegl_buffer_get(buf, GEGL_RECTANGLE(0, 0, w, h), 1.0, babl_format("R'G'B'A u8"), rgba,
                    GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_object_unref(buf);
    *rgb = (pd_pixels){w, h, 3, g_malloc(n * 3)};
    *alpha = g_malloc(n);
    for (size_t i = 0; i < n; i++) {
        memcpy(rgb->data + i * 3, rgba + i * 4, 3);
        (*alpha)[i] = rgba[i * 4 + 3];
    }
    g_free(rgba);
}

gboolean paldiff_read_selection(GimpImage *image, GimpDrawable *drawable, pd_pixels *mask)
{
    memset(mask, 0, sizeof *mask);
    if (gimp_selection_is_empty(image))
        return FALSE;
    int x, y;
    gimp_drawable_get_offsets(drawable, &x, &y);
    const int w = gimp_drawable_get_width(drawable), h = gimp_drawable_get_height(drawable);
    guint8 *cov = g_malloc0((size_t)w * h);
    /* The selection covers the image; outside it (a layer may reach beyond
     * the canvas) the abyss reads as unselected. */
    GeglBuffer *buf = gimp_drawable_get_buffer(GIMP_DRAWABLE(gimp_image_get_selection(image)));
    gegl_buffer_get(buf, GEGL_RECTANGLE(x, y, w, h), 1.0, babl_format("Y u8"), cov, GEGL_AUTO_ROWSTRIDE,
                    GEGL_ABYSS_NONE);
    g_object_unref(buf);
    gboolean any = FALSE;
    for (size_t i = 0; i < (size_t)w * h && !any; i++)
        any = cov[i] != 0;
    if (!any) {
        g_free(cov);
        return FALSE;
    }
    *mask = (pd_pixels){w, h, 1, cov};
    return TRUE;
}

static inline guint8 blend(unsigned gen, unsigned orig, unsigned s)
{
    return (guint8)((gen * s + orig * (255 - s) + 127) / 255);
}

void paldiff_composite(const pd_pixels *gen, const pd_pixels *orig, const guint8 *orig_alpha,
                       const pd_pixels *sel, guint8 *rgba)
{
    const size_t n = (size_t)orig->width * orig->height;
    for (size_t i = 0; i < n; i++) {
        const unsigned s = sel->data[i];
        for (int c = 0; c < 3; c++)
            rgba[i * 4 + c] = blend(gen->data[i * 3 + c], orig->data[i * 3 + c], s);
        rgba[i * 4 + 3] = blend(255, orig_alpha[i], s);
    }
}

GimpLayer *paldiff_add_layer(GimpImage *image, GimpLayer *below, const char *name, int x, int y,
                             int width, int height, const guint8 *rgba, const char *parameters)
{
    const gboolean gray = gimp_image_get_base_type(image) == GIMP_GRAY;
    gimp_image_undo_group_start(image);
    GimpLayer *layer = gimp_layer_new(image, name, width, height, gray ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE,
                                      100.0, GIMP_LAYER_MODE_NORMAL);
    GimpItem *parent = below ? gimp_item_get_parent(GIMP_ITEM(below)) : NULL;
    int position = below ? gimp_image_get_item_position(image, GIMP_ITEM(below)) : 0;
    /* Inserting at an item's position puts the new one above it. */
    gimp_image_insert_layer(image, layer, parent ? GIMP_LAYER(parent) : NULL, position);
    gimp_layer_set_offsets(layer, x, y);
    GeglBuffer *buf = gimp_drawable_get_buffer(GIMP_DRAWABLE(layer));
    gegl_buffer_set(buf, GEGL_RECTANGLE(0, 0, width, height), 0, babl_format("R'G'B'A u8"), rgba,
                    GEGL_AUTO_ROWSTRIDE);
    g_object_unref(buf); /* flushes the pixels to the core */
    gimp_drawable_update(GIMP_DRAWABLE(layer), 0, 0, width, height);
    GimpParasite *p = gimp_parasite_new(PALDIFF_PARASITE, GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                        (guint32)strlen(parameters) + 1, parameters);
    gimp_item_attach_parasite(GIMP_ITEM(layer), p);
    gimp_parasite_free(p);
    gimp_image_undo_group_end(image);
    return layer;
}
