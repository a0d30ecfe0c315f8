/* run_pipeline.c — golden "pipeline" cases: pd_generate end to end.
 *
 * The case's settings become pd_generate_params (the scheduler config as the
 * case gives it, init image and mask read from their PNGs). The random draws
 * are checked, not trusted: a draw function generates each one with the
 * project's generator seeded as the case says, requires it to match the
 * recorded tensor of that name (so the draw order and shapes are diffusers'),
 * then hands over the recorded values, so that the comparison of `latents`
 * and `image` isolates the model arithmetic from the generator's last-ulp
 * differences (which the rng cases bound). One report per case and source:
 * latents and image within max_abs, and the 8-bit image within `u8`.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/imagefile.h"
#include "runner.h"
#include "sched/rng.h"

/* How far a draw may be from the recorded one: the vectorised normal path's
 * vector-math differences (golden README, rng cases). */
#define DRAW_TOL 5e-6

typedef struct {
    const pd_safetensors *st;
    pd_rng rng;
} replay;

static pd_status replay_draw(void *user, const char *name, int index, const int64_t shape[4],
                             float *out, pd_error *err)
{
    replay *r = user;
    int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    const pd_st_tensor *t = pd_st_find(r->st, name);
    int sliced = !strcmp(name, "noise"); /* [steps, N, 4, h, w]: one slice per draw */
    const int64_t *dims = t ? t->shape + sliced : NULL;
    if (!t || t->dtype != PD_ST_F32 || t->ndim != 4 + sliced || (sliced && index >= t->shape[0]) ||
        memcmp(dims, shape, 4 * sizeof *shape)) {
        err->status = PD_E_ARG;
        snprintf(err->message, sizeof err->message,
                 "draw '%s' #%d of [%lld, %lld, %lld, %lld]: the case has no such recorded tensor",
                 name, index, (long long)shape[0], (long long)shape[1], (long long)shape[2],
                 (long long)shape[3]);
        return PD_E_ARG;
    }
    const float *want = (const float *)t->data + (sliced ? index * n : 0);
    pd_rng_randn(&r->rng, out, n);
    double d = max_abs_diff(out, want, n);
    if (d > DRAW_TOL) {
        err->status = PD_E_ARG;
        snprintf(err->message, sizeof err->message, "draw '%s' #%d: the seeded generator gives "
                 "values %.2g away from the recorded ones (order or shape differs)", name, index, d);
        return PD_E_ARG;
    }
    memcpy(out, want, (size_t)n * sizeof(float));
    return PD_OK;
}

static const char *str(JsonObject *c, const char *key)
{
    return json_object_has_member(c, key) && !json_object_get_null_member(c, key)
               ? json_object_get_string_member(c, key) : NULL;
}

/* Reads an image the case names (relative to the manifest's folder). */
static int read_image(const manifest *mf, const char *id, const source *s, const char *rel,
                      int channels, pd_pixels *px)
{
    char *path = g_build_filename(mf->dir, rel, NULL);
    pd_error err;
    int ok = !pd_image_read(path, channels, px, &err);
    if (!ok)
        report(0, mf->rel, id, s->name, "%s", err.message);
    g_free(path);
    return ok;
}

void run_pipeline(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st,
                  double tol)
{
    const char *id = json_object_get_string_member(c, "id");
    const pd_st_tensor *want_lat, *want_img;
    if (!case_tensors(mf, id, s, st, "latents", PD_ST_F32, &want_lat, "image", PD_ST_F32, &want_img, NULL))
        return;
    const char *mode = json_object_get_string_member(c, "mode");
    pd_generate_params p;
    pd_generate_params_init(&p);
    p.mode = !strcmp(mode, "img2img") ? PD_MODE_IMG2IMG : !strcmp(mode, "inpaint") ? PD_MODE_INPAINT
                                                                                     : PD_MODE_TXT2IMG;
    p.prompt = str(c, "prompt");
    p.negative_prompt = str(c, "negative_prompt");
    p.steps = (int)json_object_get_int_member(c, "steps");
    p.guidance = (float)json_object_get_double_member(c, "guidance");
    p.seed = (uint64_t)json_object_get_int_member(c, "seed");
    p.width = (int)json_object_get_int_member(c, "width");
    p.height = (int)json_object_get_int_member(c, "height");
    p.num_images = (int)json_object_get_int_member(c, "num_images");
    p.scheduler = str(c, "scheduler");
    if (json_object_has_member(c, "clip_skip") && !json_object_get_null_member(c, "clip_skip"))
        p.clip_skip = (int)json_object_get_int_member(c, "clip_skip");
    if (json_object_has_member(c, "strength"))
        p.strength = json_object_get_double_member(c, "strength");
    char *config = json_to_string(json_object_get_member(c, "scheduler_config"), FALSE);
    p.scheduler_config = config;

    pd_pixels init = {0}, mask = {0};
    pd_image init_view, mask_view;
    int ok = 1;
    if (p.mode != PD_MODE_TXT2IMG && (ok = read_image(mf, id, s, str(c, "init_image"), 3, &init))) {
        init_view = (pd_image){init.width, init.height, init.channels, init.data};
        p.init_image = &init_view;
    }
    if (ok && p.mode == PD_MODE_INPAINT && (ok = read_image(mf, id, s, str(c, "mask"), 1, &mask))) {
        mask_view = (pd_image){mask.width, mask.height, mask.channels, mask.data};
        p.mask = &mask_view;
    }
    replay rp = {.st = st};
    pd_rng_seed(&rp.rng, p.seed);
    p.draw = replay_draw;
    p.draw_user = &rp;

    pd_result res;
    pd_error err;
    if (ok && pd_generate(s->model, &p, &res, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
    } else if (ok) {
        JsonObject *tols = json_object_get_object_member(json_object_get_object_member(c, "tol"), s->dtype);
        int u8_tol = json_object_has_member(tols, "u8") ? (int)json_object_get_int_member(tols, "u8") : 0;
        int64_t nimg = (int64_t)res.count * res.height * res.width * 3;
        int64_t nlat = (int64_t)res.count * res.latent_height * res.latent_width * res.latent_channels;
        if (nimg != want_img->numel || nlat != want_lat->numel) {
            report(0, mf->rel, id, s->name, "paldiff made %lld image and %lld latent values, the case "
                   "has %lld and %lld", (long long)nimg, (long long)nlat, (long long)want_img->numel,
                   (long long)want_lat->numel);
        } else {
            float *lat = nhwc_to_nchw(res.latents, res.count, res.latent_height, res.latent_width,
                                      res.latent_channels);
            double dl = max_abs_diff(lat, want_lat->data, nlat);
            double di = max_abs_diff(res.pixels, want_img->data, nimg);
            /* 8-bit: paldiff's rounding against the reference's round(image · 255). */
            uint8_t *rgb = g_new(uint8_t, (size_t)nimg);
            for (int i = 0; i < res.count; i++)
                pd_result_to_rgb8(&res, i, rgb + (size_t)i * res.height * res.width * 3);
            int du = 0;
            for (int64_t k = 0; k < nimg; k++)
                du = MAX(du, abs((int)rgb[k] - (int)lrintf(((const float *)want_img->data)[k] * 255.0f)));
            int pass = dl <= tol && di <= tol && du <= u8_tol;
            report(pass, mf->rel, id, s->name, "latents max_abs %.2g, image %.2g (tol %.2g), u8 %d (tol %d)",
                   dl, di, tol, du, u8_tol);
            g_free(rgb);
            g_free(lat);
        }
        pd_result_free(&res);
    }
    pd_pixels_free(&init);
    pd_pixels_free(&mask);
    g_free(config);
}
