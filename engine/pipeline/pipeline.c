/* pipeline.c — pd_generate: txt2img, img2img and inpainting with
 * classifier-free guidance, step for step as diffusers 0.27's
 * StableDiffusion{,Img2Img,Inpaint}Pipeline (see paldiff.h for the API).
 *
 * A run: check every argument; build the schedule; encode the prompts (then
 * let the text encoder's pages go); prepare the initial latents — drawing
 * the random tensors in diffusers' order, so a seed gives its images; denoise
 * (UNet rows [unconditional × N, conditional × N] when guidance is on); let
 * the UNet's pages go; decode image by image. Latents are channels-last
 * [N, h, w, 4]; the generator's draws come in PyTorch's NCHW order and are
 * permuted on arrival.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "error.h"
#include "io/config.h"
#include "io/model.h"
#include "models/unet.h"
#include "models/vae.h"
#include "pipeline/preview.h"
#include "sched/rng.h"
#include "sched/scheduler.h"

#define LATENT_CHANNELS 4
#define VAE_SCALE 8          /* image pixels per latent pixel, per side */
#define MAX_SIDE 8192

void pd_generate_params_init(pd_generate_params *p)
{
    memset(p, 0, sizeof *p);
    p->mode = PD_MODE_TXT2IMG;
    p->steps = 20;
    p->guidance = 7.5f;
    p->num_images = 1;
    p->clip_skip = PD_CLIP_SKIP_NONE;
    p->strength = 0.8;
}

void pd_result_free(pd_result *r)
{
    if (r) {
        g_free(r->pixels);
        g_free(r->latents);
        memset(r, 0, sizeof *r);
    }
}

void pd_result_to_rgb8(const pd_result *r, int i, uint8_t *rgb)
{
    size_t n = (size_t)r->width * r->height * 3;
    const float *x = r->pixels + (size_t)i * n;
    for (size_t k = 0; k < n; k++) /* as diffusers: (x · 255).round(), x already in [0, 1] */
        rgb[k] = (uint8_t)lrintf(x[k] * 255.0f);
}

/* ---- one run ------------------------------------------------------------- */

typedef struct run {
    const pd_model *m;
    const pd_generate_params *p;
    int N, H, W, h, w;       /* images, image size, latent size           */
    int cfg;                 /* classifier-free guidance on               */
    int unet_channels;       /* 4, or 9 (inpainting UNet)                 */
    size_t n;                /* floats in N latents: N·h·w·4              */
    pd_sched *sched;
    pd_sched_config sched_cfg;
    pd_unet *unet;
    pd_vae *vae;
    float scaling;           /* VAE scaling_factor                        */
    pd_rng rng;
    int noise_draws;         /* "noise" draws so far (index for p->draw)  */
    float *context;          /* [rows, 77, D]                             */
    float *latents;          /* [N, h, w, 4]                              */
    float *noise;            /* latents_init's draw: [N, h, w, 4]         */
    float *image_latents;    /* [1, h, w, 4] init image's latents         */
    float *mask;             /* [h, w] 1 = repaint (inpaint)              */
    float *masked_latents;   /* [1, h, w, 4] (inpaint)                    */
} run;

static void run_free(run *r)
{
    pd_sched_free(r->sched);
    pd_unet_free(r->unet);
    pd_vae_free(r->vae);
    g_free(r->context);
    g_free(r->latents);
    g_free(r->noise);
    g_free(r->image_latents);
    g_free(r->mask);
    g_free(r->masked_latents);
}

static int cancelled(const run *r)
{
    return r->p->cancel && *r->p->cancel;
}

static pd_status stop(pd_error *err)
{
    return pd_fail(err, PD_E_CANCELLED, "generation cancelled");
}

static void progress(const run *r, pd_phase phase, int step, int total, const float *preview_latents)
{
    if (!r->p->progress)
        return;
    pd_progress pr = {.phase = phase, .step = step, .total = total};
    uint8_t *rgb = NULL;
    if (r->p->preview && preview_latents && (rgb = g_try_malloc((size_t)r->h * r->w * 3))) {
        pd_preview_rgb8(preview_latents, r->h, r->w, rgb);
        pr.preview_width = r->w;
        pr.preview_height = r->h;
        pr.preview = rgb;
    }
    r->p->progress(&pr, r->p->progress_user);
    g_free(rgb);
}

static float *alloc_floats(size_t n, const char *what, pd_error *err)
{
    float *x = g_try_new(float, n);
    if (!x)
        pd_fail(err, PD_E_NOMEM, "out of memory for the %s (%zu MB)", what, n * sizeof(float) >> 20);
    return x;
}

/* Draws `count` × [4, h, w] standard normals named `name` (from the seeded
 * generator, or the caller's draw function) into channels-last out. */
static pd_status draw(run *r, const char *name, int count, float *out, pd_error *err)
{
    size_t px = (size_t)r->h * r->w, n = (size_t)count * px * LATENT_CHANNELS;
    float *nchw = alloc_floats(n, "random draws", err);
    if (!nchw)
        return PD_E_NOMEM;
    pd_status s = PD_OK;
    if (r->p->draw) {
        int index = strcmp(name, "noise") ? 0 : r->noise_draws;
        const int64_t shape[4] = {count, LATENT_CHANNELS, r->h, r->w};
        pd_error mine = {0}; /* the caller's err may be NULL */
        if ((s = r->p->draw(r->p->draw_user, name, index, shape, nchw, &mine)))
            pd_fail(err, s, "%s", mine.message[0] ? mine.message : "the draw function failed");
    } else {
        pd_rng_randn(&r->rng, nchw, (int64_t)n);
    }
    if (!strcmp(name, "noise"))
        r->noise_draws++;
    for (int b = 0; !s && b < count; b++)
        for (int c = 0; c < LATENT_CHANNELS; c++)
            for (size_t p = 0; p < px; p++)
                out[((size_t)b * px + p) * LATENT_CHANNELS + c] = nchw[((size_t)b * LATENT_CHANNELS + c) * px + p];
    g_free(nchw);
    return s;
}

/* ---- arguments ----------------------------------------------------------- */

static int default_side(const pd_model *m)
{
    int64_t sample = m->family == PD_FAMILY_SD2 && m->prediction == PD_PREDICT_V ? 96 : 64;
    const pd_config *c = m->configs[PD_COMPONENT_UNET];
    if (c && pd_config_int(c, "sample_size", 1, MAX_SIDE / VAE_SCALE, &sample, NULL))
        sample = 64;
    return (int)sample * VAE_SCALE;
}

static pd_status check_image(const pd_image *im, const char *what, int W, int H, pd_error *err)
{
    if (!im || !im->pixels)
        return pd_fail(err, PD_E_ARG, "this mode needs %s", what);
    if (im->width != W || im->height != H)
        return pd_fail(err, PD_E_ARG, "%s is %d×%d but the output is %d×%d: resize it first, or "
                       "ask for its size", what, im->width, im->height, W, H);
    if (im->channels != 1 && im->channels != 3 && im->channels != 4)
        return pd_fail(err, PD_E_ARG, "%s has %d channels; give gray (1), RGB (3) or RGBA (4)",
                       what, im->channels);
    return PD_OK;
}

static pd_status check_params(run *r, pd_error *err)
{
    const pd_generate_params *p = r->p;
    if (p->mode != PD_MODE_TXT2IMG && p->mode != PD_MODE_IMG2IMG && p->mode != PD_MODE_INPAINT)
        return pd_fail(err, PD_E_ARG, "mode %d: give txt2img, img2img or inpaint", (int)p->mode);
    if (!p->prompt)
        return pd_fail(err, PD_E_ARG, "no prompt given (NULL)");
    int W = p->width, H = p->height;
    if (p->mode != PD_MODE_TXT2IMG && p->init_image && (!W || !H)) {
        W = W ? W : p->init_image->width;
        H = H ? H : p->init_image->height;
    }
    W = W ? W : default_side(r->m);
    H = H ? H : default_side(r->m);
    if (W < VAE_SCALE || H < VAE_SCALE || W % VAE_SCALE || H % VAE_SCALE || W > MAX_SIDE || H > MAX_SIDE)
        return pd_fail(err, PD_E_ARG, "size %d×%d: width and height must be multiples of 8 from 8 to %d",
                       W, H, MAX_SIDE);
    if ((int64_t)W * H > PD_MAX_PIXELS)
        return pd_fail(err, PD_E_ARG, "size %d×%d is %.1f megapixels; paldiff makes at most %.1f "
                       "(e.g. 2048×2048): generate smaller and upscale", W, H, W * (double)H / 1e6,
                       PD_MAX_PIXELS / 1e6);
    if (p->num_images < 1 || p->num_images > PD_MAX_IMAGES)
        return pd_fail(err, PD_E_ARG, "number of images %d: give 1 to %d", p->num_images, PD_MAX_IMAGES);
    if (!isfinite(p->guidance) || p->guidance < 0 || p->guidance > 100)
        return pd_fail(err, PD_E_ARG, "guidance %g: give a number from 0 to 100 (7.5 is usual; 1 or "
                       "less turns guidance off)", p->guidance);
    if (p->mode != PD_MODE_TXT2IMG) {
        if (!(p->strength > 0 && p->strength <= 1))
            return pd_fail(err, PD_E_ARG, "strength %g: give a number above 0 and at most 1", p->strength);
        pd_status s = check_image(p->init_image, "an init image", W, H, err);
        if (s)
            return s;
    }
    if (p->mode == PD_MODE_INPAINT) {
        pd_status s = check_image(p->mask, "a mask", W, H, err);
        if (s)
            return s;
    } else if (r->unet_channels == 9) {
        return pd_fail(err, PD_E_ARG, "%s is an inpainting model: use it to inpaint (an init image "
                       "and a mask), or pick an ordinary model", r->m->path);
    }
    r->N = p->num_images;
    r->W = W;
    r->H = H;
    r->w = W / VAE_SCALE;
    r->h = H / VAE_SCALE;
    r->n = (size_t)r->N * r->h * r->w * LATENT_CHANNELS;
    r->cfg = p->guidance > 1;
    return PD_OK;
}

/* The scheduler: the caller's config, else the model's, else SD's defaults;
 * the caller's choice of scheduler over the config's class. */
static pd_status make_scheduler(run *r, pd_error *err)
{
    const pd_generate_params *p = r->p;
    pd_sched_config cfg;
    pd_sched_config_defaults(&cfg);
    cfg.prediction = r->m->prediction;
    pd_config *own = NULL;
    const pd_config *c = r->m->sched_config;
    int karras;
    if (p->scheduler && pd_sched_kind_from_name(p->scheduler, &karras) < 0)
        return pd_fail(err, PD_E_ARG, "scheduler \"%s\": give ddim, pndm, euler, euler_a, dpmpp_2m, "
                       "dpmpp_2m_karras or lcm", p->scheduler);
    pd_status s = PD_OK;
    if (p->scheduler_config) {
        s = pd_config_parse("scheduler config", p->scheduler_config, strlen(p->scheduler_config), &own, err);
        c = own;
    }
    const char *cls = NULL;
    if (!s && c)
        s = pd_config_string(c, "_class_name", &cls, err);
    const char *name = p->scheduler ? p->scheduler : cls ? cls : pd_sched_class_name(cfg.kind);
    if (!s)
        s = pd_sched_config_read(&cfg, name, c, err);
    if (!s && !strcmp(r->m->prediction_source, "user option"))
        cfg.prediction = r->m->prediction;
    if (!s)
        s = pd_sched_create(&cfg, p->steps, r->p->mode == PD_MODE_TXT2IMG ? 1.0 : p->strength,
                            &r->sched, err);
    r->sched_cfg = cfg;
    pd_config_free(own);
    return s;
}

/* ---- stages -------------------------------------------------------------- */

/* context = [negative × N, prompt × N] with guidance, else [prompt × N]. */
static pd_status encode_prompts(run *r, pd_error *err)
{
    const pd_generate_params *p = r->p;
    pd_embedding cond, uncond = {0};
    pd_status s = pd_encode_prompt(r->m, p->prompt, p->clip_skip, &cond, err);
    if (s)
        return s;
    /* diffusers encodes the negative prompt without clip skip. */
    if (r->cfg && (s = pd_encode_prompt(r->m, p->negative_prompt ? p->negative_prompt : "",
                                        PD_CLIP_SKIP_NONE, &uncond, err))) {
        pd_embedding_free(&cond);
        return s;
    }
    size_t row = (size_t)cond.tokens * cond.width;
    int rows = r->cfg ? 2 * r->N : r->N;
    if ((r->context = alloc_floats(rows * row, "text embeddings", err))) {
        for (int i = 0; i < rows; i++)
            memcpy(r->context + i * row, r->cfg && i < r->N ? uncond.data : cond.data, row * sizeof(float));
    }
    pd_embedding_free(&cond);
    pd_embedding_free(&uncond);
    pd_model_release_component(r->m, PD_COMPONENT_TEXT);
    return r->context ? PD_OK : PD_E_NOMEM;
}

/* u8 pixels → [-1, 1] RGB channels-last, as diffusers' image processor does
 * (x / 255, then 2x − 1). keep (inpainting's masked image): pixels the mask
 * repaints become 0. */
static float *image_to_float(const pd_image *im, const float *repaint_full, pd_error *err)
{
    size_t px = (size_t)im->width * im->height;
    float *x = alloc_floats(px * 3, "init image", err);
    if (!x)
        return NULL;
    for (size_t i = 0; i < px; i++)
        for (int c = 0; c < 3; c++) {
            float v = (float)im->pixels[i * im->channels + (im->channels == 1 ? 0 : c)] / 255.0f;
            v = 2.0f * v - 1.0f;
            x[i * 3 + c] = repaint_full && repaint_full[i] >= 0.5f ? 0.0f : v;
        }
    return x;
}

/* The mask at full size, binarized: 1 where it repaints (>= 0.5 after
 * / 255; luminance of colour masks, as PIL's convert("L")). */
static float *mask_full(const pd_image *im, pd_error *err)
{
    size_t px = (size_t)im->width * im->height;
    float *m = alloc_floats(px, "mask", err);
    if (!m)
        return NULL;
    for (size_t i = 0; i < px; i++) {
        const uint8_t *q = im->pixels + i * im->channels;
        int l = im->channels == 1 ? q[0] : (q[0] * 299 + q[1] * 587 + q[2] * 114) / 1000;
        m[i] = (float)l / 255.0f >= 0.5f ? 1.0f : 0.0f;
    }
    return m;
}

/* One image [H, W, 3] → scaling · (mean + exp(logvar / 2) · noise), the
 * posterior sample diffusers' _encode_vae_image takes; draws `name`. */
static pd_status encode_image(run *r, const float *image, const char *name, float **out, pd_error *err)
{
    size_t n = (size_t)r->h * r->w * LATENT_CHANNELS;
    float *mean = alloc_floats(n, "image latents", err), *logvar = alloc_floats(n, "image latents", err);
    float *noise = alloc_floats(n, "image latents", err);
    pd_status s = mean && logvar && noise ? PD_OK : PD_E_NOMEM;
    if (!s)
        s = pd_vae_encode(r->vae, 1, r->H, r->W, image, mean, logvar, err);
    if (!s)
        s = draw(r, name, 1, noise, err);
    if (!s) {
        for (size_t i = 0; i < n; i++)
            mean[i] = r->scaling * (mean[i] + expf(0.5f * logvar[i]) * noise[i]);
        *out = mean;
        mean = NULL;
    }
    g_free(mean);
    g_free(logvar);
    g_free(noise);
    return s;
}

/* The initial latents, drawing as diffusers does: img2img encodes the image
 * (posterior_noise) then draws latents_init; inpainting encodes the image
 * only when it needs its latents (4-channel UNet, or strength < 1), then the
 * masked image (masked_posterior_noise) after latents_init. */
static pd_status prepare_latents(run *r, pd_error *err)
{
    const pd_generate_params *p = r->p;
    size_t one = (size_t)r->h * r->w * LATENT_CHANNELS;
    int full = p->mode == PD_MODE_TXT2IMG || (p->mode == PD_MODE_INPAINT && p->strength >= 1.0);
    float *mask = NULL, *image = NULL;
    pd_status s = PD_OK;
    if (!(r->latents = alloc_floats(r->n, "latents", err)) || !(r->noise = alloc_floats(r->n, "latents", err)))
        return PD_E_NOMEM;
    if (p->mode == PD_MODE_INPAINT && !(mask = mask_full(p->mask, err)))
        return PD_E_NOMEM;
    if (p->mode != PD_MODE_TXT2IMG && (!full || r->unet_channels == 4)) {
        if (!(image = image_to_float(p->init_image, NULL, err)))
            s = PD_E_NOMEM;
        if (!s)
            s = encode_image(r, image, "posterior_noise", &r->image_latents, err);
        g_free(image);
    }
    if (!s)
        s = draw(r, "latents_init", r->N, r->noise, err);
    if (!s && full) {
        float sigma = (float)pd_sched_init_noise_sigma(r->sched);
        for (size_t i = 0; i < r->n; i++)
            r->latents[i] = r->noise[i] * sigma;
    } else if (!s) {
        for (int b = 0; b < r->N; b++)
            memcpy(r->latents + b * one, r->image_latents, one * sizeof(float));
        pd_sched_add_noise(r->sched, 0, r->latents, r->noise, r->latents, (int64_t)r->n);
    }
    if (!s && p->mode == PD_MODE_INPAINT) {
        /* The mask at latent size: nearest neighbour, as torch's interpolate. */
        if (!(r->mask = alloc_floats((size_t)r->h * r->w, "mask", err)))
            s = PD_E_NOMEM;
        for (int y = 0; !s && y < r->h; y++)
            for (int x = 0; x < r->w; x++)
                r->mask[(size_t)y * r->w + x] = mask[(size_t)y * VAE_SCALE * r->W + (size_t)x * VAE_SCALE];
        if (!s && !(image = image_to_float(p->init_image, mask, err)))
            s = PD_E_NOMEM;
        /* A 4-channel UNet does not use the masked image, but diffusers still
         * samples its posterior: draw the same numbers, skip the encoder. */
        if (!s && r->unet_channels == 9) {
            s = encode_image(r, image, "masked_posterior_noise", &r->masked_latents, err);
        } else if (!s) {
            float *unused = alloc_floats(one, "latents", err);
            s = unused ? draw(r, "masked_posterior_noise", 1, unused, err) : PD_E_NOMEM;
            g_free(unused);
        }
        g_free(image);
    }
    g_free(mask);
    return s;
}

/* The UNet input of step i: [rows, h, w, C] with C = 4, or 9 for inpainting
 * UNets (scaled latents, mask, masked-image latents). */
static void unet_input(const run *r, int i, float *in)
{
    size_t px = (size_t)r->h * r->w;
    int C = r->unet_channels, rows = r->cfg ? 2 * r->N : r->N;
    for (int row = 0; row < rows; row++) {
        const float *lat = r->latents + (size_t)(row % r->N) * px * LATENT_CHANNELS;
        float *o = in + (size_t)row * px * C;
        if (C == LATENT_CHANNELS) {
            pd_sched_scale_input(r->sched, i, lat, o, (int64_t)(px * C));
            continue;
        }
        for (size_t p = 0; p < px; p++) {
            float *q = o + p * C;
            pd_sched_scale_input(r->sched, i, lat + p * LATENT_CHANNELS, q, LATENT_CHANNELS);
            q[4] = r->mask[p];
            memcpy(q + 5, r->masked_latents + p * LATENT_CHANNELS, LATENT_CHANNELS * sizeof(float));
        }
    }
}

/* 4-channel inpainting: keep the known region by putting the image's
 * latents, noised to the next step's level, back outside the mask. */
static pd_status blend_known(run *r, int i, pd_error *err)
{
    size_t px = (size_t)r->h * r->w, one = px * LATENT_CHANNELS;
    float *known = alloc_floats(r->n, "latents", err);
    if (!known)
        return PD_E_NOMEM;
    for (int b = 0; b < r->N; b++)
        memcpy(known + b * one, r->image_latents, one * sizeof(float));
    if (i + 1 < pd_sched_steps(r->sched))
        pd_sched_add_noise(r->sched, i + 1, known, r->noise, known, (int64_t)r->n);
    for (size_t k = 0; k < r->n; k++) {
        float m = r->mask[(k / LATENT_CHANNELS) % px];
        r->latents[k] = (1 - m) * known[k] + m * r->latents[k];
    }
    g_free(known);
    return PD_OK;
}

static pd_status denoise(run *r, pd_error *err)
{
    int steps = pd_sched_steps(r->sched), rows = r->cfg ? 2 * r->N : r->N;
    size_t px = (size_t)r->h * r->w;
    float *in = alloc_floats((size_t)rows * px * r->unet_channels, "UNet input", err);
    float *out = alloc_floats((size_t)rows * px * LATENT_CHANNELS, "UNet output", err);
    float *noise = alloc_floats(r->n, "step noise", err);
    float *denoised = r->p->preview ? alloc_floats(r->n, "preview", err) : NULL;
    pd_status s = in && out && noise && (denoised || !r->p->preview) ? PD_OK : PD_E_NOMEM;
    int tokens = PD_TOKENS;
    for (int i = 0; !s && i < steps; i++) {
        if (cancelled(r)) {
            s = stop(err);
            break;
        }
        unet_input(r, i, in);
        s = pd_unet_forward(r->unet, rows, r->h, r->w, in, (float)pd_sched_timestep(r->sched, i),
                            r->context, tokens, out, err);
        if (s)
            break;
        if (r->cfg) { /* uncond + g · (cond − uncond) */
            float g = r->p->guidance;
            for (size_t k = 0; k < r->n; k++)
                out[k] = out[k] + g * (out[r->n + k] - out[k]);
        }
        const float *step_noise = NULL;
        if (pd_sched_draws_noise(r->sched, i)) {
            if ((s = draw(r, "noise", r->N, noise, err)))
                break;
            step_noise = noise;
        }
        pd_sched_step(r->sched, i, out, step_noise, r->latents, denoised, (int64_t)r->n);
        if (r->mask && r->unet_channels == LATENT_CHANNELS && (s = blend_known(r, i, err)))
            break;
        progress(r, PD_PHASE_DENOISE, i + 1, steps, denoised);
    }
    g_free(in);
    g_free(out);
    g_free(noise);
    g_free(denoised);
    return s;
}

/* Decodes image by image (the decoder's activations are the run's largest)
 * into [N, H, W, 3] in [0, 1]: (x / 2 + 0.5) clamped, as diffusers. */
static pd_status decode(run *r, float *pixels, pd_error *err)
{
    size_t one = (size_t)r->h * r->w * LATENT_CHANNELS, img = (size_t)r->H * r->W * 3;
    for (int b = 0; b < r->N; b++) {
        if (cancelled(r))
            return stop(err);
        progress(r, PD_PHASE_DECODE, b, r->N, NULL);
        float *x = pixels + b * img;
        pd_status s = pd_vae_decode(r->vae, 1, r->h, r->w, r->latents + b * one, x, err);
        if (s == PD_E_CANCELLED)
            return stop(err);
        if (s)
            return s;
        for (size_t k = 0; k < img; k++) {
            float v = x[k] / 2 + 0.5f;
            x[k] = v > 0 ? (v < 1 ? v : 1) : 0; /* NaN → 0 */
        }
    }
    progress(r, PD_PHASE_DECODE, r->N, r->N, NULL);
    return PD_OK;
}

pd_status pd_generate(const pd_model *m, const pd_generate_params *p, pd_result *result, pd_error *err)
{
    if (!result)
        return pd_fail(err, PD_E_ARG, "no result to fill (NULL)");
    memset(result, 0, sizeof *result);
    if (!m || !p)
        return pd_fail(err, PD_E_ARG, "pd_generate needs a model and parameters (NULL given)");
    run r = {.m = m, .p = p, .unet_channels = m->info.unet_in_channels};
    pd_rng_seed(&r.rng, p->seed);
    float *pixels = NULL;
    int32_t ids[PD_TOKENS];
    /* Everything that can be refused is refused before the long work. */
    pd_status s = check_params(&r, err);
    if (!s)
        s = make_scheduler(&r, err);
    if (!s)
        s = pd_tokenize(m, p->prompt, ids, err);
    if (!s && r.cfg && p->negative_prompt)
        s = pd_tokenize(m, p->negative_prompt, ids, err);
    if (!s && !(pixels = alloc_floats((size_t)r.N * r.H * r.W * 3, "images", err)))
        s = PD_E_NOMEM;
    if (!s && !(s = pd_unet_load(m, &r.unet, err)) && !(s = pd_vae_load(m, &r.vae, err))) {
        r.scaling = pd_vae_get_config(r.vae)->scaling_factor;
        pd_vae_set_cancel(r.vae, p->cancel); /* a decode stops between its blocks */
        const pd_vae_config *vc = pd_vae_get_config(r.vae);
        if (pd_unet_get_config(r.unet)->out_channels != LATENT_CHANNELS ||
            vc->latent_channels != LATENT_CHANNELS)
            s = pd_fail(err, PD_E_UNSUPPORTED, "%s: UNet and VAE must have 4 latent channels", m->path);
        /* The sizes above are 8 pixels a latent: a VAE of another depth
         * would decode past them. */
        else if (vc->blocks != 4)
            s = pd_fail(err, PD_E_UNSUPPORTED, "%s: a VAE of %d levels scales latents by %d; "
                        "paldiff runs Stable Diffusion's, of 4 levels (8 pixels a latent)",
                        m->path, vc->blocks, 1 << (vc->blocks - 1));
    }
    if (!s) {
        progress(&r, PD_PHASE_ENCODE, 0, 1, NULL);
        s = encode_prompts(&r, err);
    }
    if (!s && cancelled(&r))
        s = stop(err);
    if (!s)
        s = prepare_latents(&r, err);
    if (!s) {
        progress(&r, PD_PHASE_ENCODE, 1, 1, NULL);
        s = denoise(&r, err);
    }
    pd_model_release_component(m, PD_COMPONENT_UNET);
    if (!s)
        s = decode(&r, pixels, err);
    if (!s) {
        result->count = r.N;
        result->width = r.W;
        result->height = r.H;
        result->pixels = pixels;
        result->latent_width = r.w;
        result->latent_height = r.h;
        result->latent_channels = LATENT_CHANNELS;
        result->latents = r.latents;
        result->scheduler = pd_sched_class_name(r.sched_cfg.kind);
        result->karras_sigmas = r.sched_cfg.use_karras_sigmas;
        pixels = NULL;
        r.latents = NULL;
    }
    g_free(pixels);
    run_free(&r);
    return s;
}
