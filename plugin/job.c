/* job.c — one generation in three parts (see job.h). */
#include <string.h>

#include <glib/gi18n-lib.h>

#include "plugin/job.h"
#include "plugin/layers.h"

static void read_args(GimpProcedureConfig *config, pd_mode mode, paldiff_args *a)
{
    int seed;
    char *scheduler = NULL;
    memset(a, 0, sizeof *a);
    a->mode = mode;
    g_object_get(config, "prompt", &a->prompt, "negative-prompt", &a->negative, "model", &a->model, "steps",
                 &a->steps, "guidance", &a->guidance, "seed", &seed, "scheduler", &scheduler, NULL);
    if (mode == PD_MODE_TXT2IMG)
        g_object_get(config, "width", &a->width, "height", &a->height, NULL);
    else
        g_object_get(config, "strength", &a->strength, NULL);
    if (scheduler && strcmp(scheduler, "default"))
        a->scheduler = g_steal_pointer(&scheduler);
    g_free(scheduler);
    /* -1: a random seed, as the CLI draws one (PyTorch keeps 32 bits). */
    a->seed = seed >= 0 ? (guint64)seed : (guint64)g_random_int_range(0, G_MAXINT);
}

/* The drawable img2img and inpaint start from: the one layer chosen (the
 * layer of a chosen mask). NULL, with *why set, otherwise. */
static GimpLayer *source_layer(GimpDrawable **drawables, const char **why)
{
    if (!drawables || !drawables[0] || drawables[1]) {
        *why = _("paldiff: choose exactly one layer to start from.");
        return NULL;
    }
    if (GIMP_IS_LAYER_MASK(drawables[0]))
        return gimp_layer_from_mask(GIMP_LAYER_MASK(drawables[0]));
    if (!GIMP_IS_LAYER(drawables[0])) {
        *why = _("paldiff: the active drawable is a channel; choose a layer to start from.");
        return NULL;
    }
    return GIMP_LAYER(drawables[0]);
}

static gboolean fail_with(GError **error, const char *message)
{
    g_set_error_literal(error, PALDIFF_ERROR, 0, message);
    return FALSE;
}

gboolean paldiff_job_prepare(paldiff_job *job, GimpImage *image, GimpDrawable **drawables,
                             GimpProcedureConfig *config, pd_mode mode, GError **error)
{
    memset(job, 0, sizeof *job);
    job->image = image;
    /* Everything is checked before anything is generated or changed. */
    if (gimp_image_get_base_type(image) == GIMP_INDEXED)
        return fail_with(error, _("paldiff: indexed images are not supported; convert the image to RGB "
                                  "first (Image ▸ Mode ▸ RGB)."));
    const char *why = NULL;
    if (mode != PD_MODE_TXT2IMG && !(job->source = source_layer(drawables, &why)))
        return fail_with(error, why);

    paldiff_args *a = &job->args;
    read_args(config, mode, a);
    if (mode == PD_MODE_TXT2IMG && (a->width % 8 || a->height % 8 || (!a->width) != (!a->height)))
        return fail_with(error, _("paldiff: width and height are multiples of 8, or both 0 to take the size "
                                  "from the selection or the image."));

    if (mode == PD_MODE_TXT2IMG) {
        gboolean selected;
        int x2, y2;
        gimp_selection_bounds(image, &selected, &job->x, &job->y, &x2, &y2);
        if (selected) {
            job->width = x2 - job->x;
            job->height = y2 - job->y;
        } else {
            job->x = job->y = 0;
            job->width = gimp_image_get_width(image);
            job->height = gimp_image_get_height(image);
        }
        if (a->width) {
            job->gen_width = a->width;
            job->gen_height = a->height;
        } else {
            paldiff_model_size(job->width, job->height, &job->gen_width, &job->gen_height);
        }
        return TRUE;
    }
    GimpDrawable *d = GIMP_DRAWABLE(job->source);
    gimp_drawable_get_offsets(d, &job->x, &job->y);
    paldiff_read_drawable(d, &job->orig, &job->alpha);
    job->width = job->orig.width;
    job->height = job->orig.height;
    if (mode == PD_MODE_INPAINT && !paldiff_read_selection(image, d, &job->mask))
        return fail_with(error, _("paldiff: inpainting repaints the selection, and nothing of the layer is "
                                  "selected; select the part to repaint first."));
    /* The CLI's size for an init image: rounded down to multiples of 8. */
    job->gen_width = job->width / 8 * 8;
    job->gen_height = job->height / 8 * 8;
    if (job->gen_width < 8 || job->gen_height < 8 || (gint64)job->gen_width * job->gen_height > PD_MAX_PIXELS)
        paldiff_model_size(job->width, job->height, &job->gen_width, &job->gen_height);
    return TRUE;
}

gboolean paldiff_job_generate(paldiff_job *job, GError **error)
{
    const pd_mode mode = job->args.mode;
    pd_pixels placed = {0};
    if (!paldiff_generate(&job->args, job->gen_width, job->gen_height, mode == PD_MODE_TXT2IMG ? NULL : &job->orig,
                          mode == PD_MODE_INPAINT ? &job->mask : NULL, &job->result, &job->model_path,
                          &job->scheduler, error))
        return FALSE;
    /* Back to the size of the place it goes. */
    const int w = job->width, h = job->height;
    const pd_pixels *gen = &job->result;
    if (gen->width != w || gen->height != h) {
        pd_error err;
        if (pd_pixels_resize(gen, w, h, &placed, &err)) {
            paldiff_set_engine_error(error, &err);
            return FALSE;
        }
        gen = &placed;
    }
    job->rgba = g_malloc((size_t)w * h * 4);
    if (mode == PD_MODE_INPAINT) {
        paldiff_composite(gen, &job->orig, job->alpha, &job->mask, job->rgba);
    } else {
        for (size_t i = 0; i < (size_t)w * h; i++) {
            memcpy(job->rgba + i * 4, gen->data + i * 3, 3);
            job->rgba[i * 4 + 3] = 255;
        }
    }
    pd_pixels_free(&placed);
    return TRUE;
}

GimpLayer *paldiff_job_finish(paldiff_job *job)
{
    /* The dialog leaves GIMP usable while it generates. */
    if (!gimp_image_is_valid(job->image) || (job->source && !gimp_item_is_valid(GIMP_ITEM(job->source))))
        return NULL;
    char *name = paldiff_layer_name(&job->args);
    char *text = paldiff_parameters_text(&job->args, job->gen_width, job->gen_height, job->model_path,
                                         job->scheduler);
    GimpLayer *layer = paldiff_add_layer(job->image, job->source, name, job->x, job->y, job->width, job->height,
                                         job->rgba, text);
    g_free(name);
    g_free(text);
    return layer;
}

void paldiff_job_clear(paldiff_job *job)
{
    paldiff_args_clear(&job->args);
    pd_pixels_free(&job->orig);
    pd_pixels_free(&job->mask);
    pd_pixels_free(&job->result);
    g_clear_pointer(&job->alpha, g_free);
    g_clear_pointer(&job->rgba, g_free);
    g_clear_pointer(&job->model_path, g_free);
}
