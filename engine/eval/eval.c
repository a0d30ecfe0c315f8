/* eval.c — per-component PSNR of a model against a reference (eval.h).
 *
 * One code path runs a model over the cases: the reference's run stores
 * each output, a test model's run scores each output against the stored
 * one and drops it. Stages run component by component (text, UNet, images,
 * VAE), letting each component's pages go when its turn is over, so a
 * full-size model's peak memory stays that of a txt2img. The VAE stage
 * comes last because its input is the reference's final latents.
 */
#include "eval/eval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "error.h"
#include "io/model.h"
#include "models/unet.h"
#include "models/vae.h"
#include "sched/rng.h"

#define LATENT_CHANNELS 4
#define VAE_SCALE 8

/* Short prompts of different kinds; two seeds each. */
static const char *const default_prompts[] = {
    "a red fox in the snow, watercolor",
    "a photograph of an old lighthouse on a rocky coast at sunset",
};
static const uint64_t default_seeds[] = {1, 42};

void pd_eval_options_init(pd_eval_options *o)
{
    *o = (pd_eval_options){.width = 256, .height = 256, .steps = 10, .guidance = 7.5f, .timestep = 999.0f,
                           .n_prompts = G_N_ELEMENTS(default_prompts), .prompts = default_prompts,
                           .n_seeds = G_N_ELEMENTS(default_seeds), .seeds = default_seeds,
                           .components = (1u << PD_EVAL_COUNT) - 1};
}

const char *pd_eval_component_name(int c)
{
    static const char *const name[PD_EVAL_COUNT] = {"text encoder", "UNet (1 step)", "VAE decoder", "image"};
    return c >= 0 && c < PD_EVAL_COUNT ? name[c] : "?";
}

/* What two models must share for their outputs to be compared. */
typedef struct signature {
    const char *path, *arch;
    pd_clip_config text;
    int64_t unet_params, vae_params;
} signature;

static signature signature_of(const pd_model *m)
{
    return (signature){.path = m->path, .arch = m->info.arch, .text = m->text_cfg,
                       .unet_params = m->info.components[PD_COMPONENT_UNET].params,
                       .vae_params = m->info.components[PD_COMPONENT_VAE].params};
}

static pd_status check_same_architecture(const signature *r, const signature *t, pd_error *err)
{
    const pd_clip_config *a = &r->text, *b = &t->text;
    const char *what = NULL;
    if (strcmp(r->arch, t->arch))
        what = "architecture";
    else if (a->vocab != b->vocab || a->positions != b->positions || a->width != b->width || a->heads != b->heads ||
             a->intermediate != b->intermediate || a->run_layers != b->run_layers)
        what = "text encoder";
    else if (r->unet_params != t->unet_params)
        what = "UNet";
    else if (r->vae_params != t->vae_params)
        what = "VAE";
    if (!what)
        return PD_OK;
    return pd_fail(err, PD_E_ARG,
                   "%s is not the same model as %s (%s differs: %s with %lld UNet parameters, %s with %lld): "
                   "compare a model with its own conversions",
                   t->path, r->path, what, t->arch, (long long)t->unet_params, r->arch, (long long)r->unet_params);
}

/* The stages size images as 8 pixels per latent pixel (as the pipeline
 * does); a VAE of another depth would write past them. */
static pd_status check_vae_scale(const pd_model *m, pd_error *err)
{
    pd_vae *vae;
    pd_status s = pd_vae_load(m, &vae, err);
    if (s)
        return s;
    int blocks = pd_vae_get_config(vae)->blocks;
    pd_vae_free(vae);
    if (blocks != 4) /* 2^(blocks − 1) = VAE_SCALE */
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: its VAE has %d levels; Stable Diffusion's has 4 (8 pixels "
                       "per latent pixel), which eval needs", m->path, blocks);
    return PD_OK;
}

pd_status pd_eval_check_models(const pd_model *ref, const pd_model *test, pd_error *err)
{
    signature r = signature_of(ref), t = signature_of(test);
    pd_status s = check_same_architecture(&r, &t, err);
    return s ? s : check_vae_scale(test, err);
}

struct pd_eval_ref {
    char *path;                       /* the reference model, for messages       */
    int W, H, h, w, steps, rows;      /* rows: the UNet call's batch (1 or 2)     */
    float guidance, timestep;
    int n_prompts, n_seeds, cases;    /* case i: prompt i / n_seeds, seed i % n_seeds */
    unsigned measured, needed;        /* components: compared; run by the reference */
    int keep_resident;
    char **prompts;
    uint64_t *seeds;
    signature sig;                    /* what a test model must share with it    */
    /* inputs */
    int32_t *ids;                     /* per prompt PD_TOKENS ids (the reference's tokenizer) */
    float *uncond;                    /* the empty prompt's embedding [77, D]    */
    float *final_latents;             /* per case [h, w, 4] (the VAE's input)    */
    /* the reference's outputs, per component: units × unit floats */
    float *out[PD_EVAL_COUNT];
    size_t unit[PD_EVAL_COUNT];
    int units[PD_EVAL_COUNT];
    pd_eval_progress_fn progress;
    void *progress_user;
};

void pd_eval_ref_free(pd_eval_ref *r)
{
    if (!r)
        return;
    g_free((char *)r->sig.path);
    g_free((char *)r->sig.arch);
    g_strfreev(r->prompts);
    g_free(r->seeds);
    g_free(r->ids);
    g_free(r->uncond);
    g_free(r->final_latents);
    for (int c = 0; c < PD_EVAL_COUNT; c++)
        g_free(r->out[c]);
    g_free(r);
}

static float *alloc_floats(size_t n, const char *what, pd_error *err)
{
    float *x = g_try_new(float, n ? n : 1);
    if (!x)
        pd_fail(err, PD_E_NOMEM, "out of memory for the %s (%zu MB)", what, n * sizeof(float) >> 20);
    return x;
}

/* ---- one model over the cases ------------------------------------------- */

typedef struct runner {
    const pd_model *m;
    pd_eval_ref *r;
    const char *label;                /* "reference" or "test"                  */
    int storing;                      /* the reference's run: keep the outputs  */
    pd_eval_result *res;              /* a test's run: score them               */
    pd_unet *unet;
    pd_vae *vae;
    float *context;                   /* [rows, 77, D]: the reference's embeddings */
    float *scratch;                   /* one unit's output (test runs)          */
} runner;

/* The case's latents as pd_generate draws them: torch.randn([1, 4, h, w])
 * from the seed, permuted to channels-last. */
static void draw_latents(const pd_eval_ref *r, int i, float *nchw, float *out)
{
    size_t px = (size_t)r->h * r->w;
    pd_rng g;
    pd_rng_seed(&g, r->seeds[i % r->n_seeds]);
    pd_rng_randn(&g, nchw, (int64_t)(px * LATENT_CHANNELS));
    for (int c = 0; c < LATENT_CHANNELS; c++)
        for (size_t p = 0; p < px; p++)
            out[p * LATENT_CHANNELS + c] = nchw[c * px + p];
}

static pd_status run_unet(runner *x, int i, float *out, pd_error *err)
{
    pd_eval_ref *r = x->r;
    size_t row = (size_t)PD_TOKENS * r->sig.text.width, one = (size_t)r->h * r->w * LATENT_CHANNELS;
    const float *cond = r->out[PD_EVAL_TEXT] + (size_t)(i / r->n_seeds) * row;
    if (r->rows == 2)
        memcpy(x->context, r->uncond, row * sizeof(float));
    memcpy(x->context + (size_t)(r->rows - 1) * row, cond, row * sizeof(float));
    float *nchw = alloc_floats(one, "latents", err), *in = alloc_floats(one * r->rows, "UNet input", err);
    pd_status s = nchw && in ? PD_OK : PD_E_NOMEM;
    if (!s) {
        draw_latents(r, i, nchw, in);
        if (r->rows == 2)
            memcpy(in + one, in, one * sizeof(float));
        s = pd_unet_forward(x->unet, r->rows, r->h, r->w, in, r->timestep, x->context, PD_TOKENS, out, err);
    }
    g_free(nchw);
    g_free(in);
    return s;
}

static pd_status run_image(runner *x, int i, float *out, pd_error *err)
{
    pd_eval_ref *r = x->r;
    pd_generate_params p;
    pd_generate_params_init(&p);
    p.prompt = r->prompts[i / r->n_seeds];
    p.seed = r->seeds[i % r->n_seeds];
    p.width = r->W;
    p.height = r->H;
    p.steps = r->steps;
    p.guidance = r->guidance;
    pd_result res;
    pd_status s = pd_generate(x->m, &p, &res, err);
    if (s)
        return s;
    memcpy(out, res.pixels, r->unit[PD_EVAL_IMAGE] * sizeof(float));
    if (x->storing) /* the VAE stage decodes these in both models */
        memcpy(r->final_latents + (size_t)i * r->h * r->w * LATENT_CHANNELS, res.latents,
               (size_t)r->h * r->w * LATENT_CHANNELS * sizeof(float));
    pd_result_free(&res);
    return PD_OK;
}

static pd_status run_unit(runner *x, int c, int i, float *out, pd_error *err)
{
    pd_eval_ref *r = x->r;
    switch (c) {
    case PD_EVAL_TEXT: {
        pd_embedding e;
        pd_status s = pd_encode_ids(x->m, r->ids + (size_t)i * PD_TOKENS, PD_CLIP_SKIP_NONE, &e, err);
        if (!s)
            memcpy(out, e.data, r->unit[c] * sizeof(float));
        pd_embedding_free(&e);
        return s;
    }
    case PD_EVAL_UNET:
        return run_unet(x, i, out, err);
    case PD_EVAL_IMAGE:
        return run_image(x, i, out, err);
    default:
        return pd_vae_decode(x->vae, 1, r->h, r->w, r->final_latents + (size_t)i * r->h * r->w * LATENT_CHANNELS,
                             out, err);
    }
}

/* Loads what component c needs, runs its units, lets its pages go. */
static pd_status run_component(runner *x, int c, pd_error *err)
{
    pd_eval_ref *r = x->r;
    pd_status s = PD_OK;
    if (c == PD_EVAL_UNET) {
        s = pd_unet_load(x->m, &x->unet, err);
        if (!s && !(x->context = alloc_floats((size_t)r->rows * PD_TOKENS * r->sig.text.width, "text embeddings", err)))
            s = PD_E_NOMEM;
    }
    if (c == PD_EVAL_VAE)
        s = pd_vae_load(x->m, &x->vae, err);
    if (!s && !x->storing && !(x->scratch = alloc_floats(r->unit[c], "outputs", err)))
        s = PD_E_NOMEM;
    for (int i = 0; !s && i < r->units[c]; i++) {
        if (r->progress) {
            char stage[96];
            snprintf(stage, sizeof stage, "%s: %s %d/%d", x->label, pd_eval_component_name(c), i + 1, r->units[c]);
            r->progress(stage, r->progress_user);
        }
        float *out = x->storing ? r->out[c] + (size_t)i * r->unit[c] : x->scratch;
        s = run_unit(x, c, i, out, err);
        if (!s && !x->storing)
            pd_psnr_add(&x->res->psnr[c], r->out[c] + (size_t)i * r->unit[c], out, r->unit[c]);
    }
    g_clear_pointer(&x->unet, pd_unet_free);
    g_clear_pointer(&x->vae, pd_vae_free);
    g_clear_pointer(&x->context, g_free);
    g_clear_pointer(&x->scratch, g_free);
    static const int model_component[PD_EVAL_COUNT] = {PD_COMPONENT_TEXT, PD_COMPONENT_UNET, PD_COMPONENT_VAE, -1};
    if (model_component[c] >= 0 && !r->keep_resident)
        pd_model_release_component(x->m, model_component[c]);
    return s;
}

static pd_status run_all(runner *x, pd_error *err)
{
    static const int order[] = {PD_EVAL_TEXT, PD_EVAL_UNET, PD_EVAL_IMAGE, PD_EVAL_VAE};
    unsigned run = x->storing ? x->r->needed : x->r->measured;
    pd_status s = PD_OK;
    for (size_t k = 0; !s && k < G_N_ELEMENTS(order); k++)
        if (run & (1u << order[k]))
            s = run_component(x, order[k], err);
    return s;
}

/* ---- the reference ------------------------------------------------------- */

static pd_status check_options(const pd_eval_options *o, pd_error *err)
{
    if (o->width < 8 || o->height < 8 || o->width % 8 || o->height % 8 || (int64_t)o->width * o->height > PD_MAX_PIXELS)
        return pd_fail(err, PD_E_ARG, "size %d×%d: give multiples of 8, at most %d pixels in all (256×256 is usual)",
                       o->width, o->height, PD_MAX_PIXELS);
    if (o->steps < 1 || o->steps > 1000)
        return pd_fail(err, PD_E_ARG, "steps %d: give 1 to 1000", o->steps);
    if (!isfinite(o->guidance) || o->guidance < 0 || o->guidance > 100)
        return pd_fail(err, PD_E_ARG, "guidance %g: give 0 to 100 (7.5 is usual)", o->guidance);
    if (!(o->timestep >= 0 && o->timestep <= 999))
        return pd_fail(err, PD_E_ARG, "timestep %g: give 0 to 999", o->timestep);
    if (o->n_prompts < 1 || o->n_seeds < 1 || !o->prompts || !o->seeds ||
        (int64_t)o->n_prompts * o->n_seeds > PD_EVAL_MAX_CASES)
        return pd_fail(err, PD_E_ARG, "%d prompts × %d seeds: give at least one of each, at most %d cases",
                       o->n_prompts, o->n_seeds, PD_EVAL_MAX_CASES);
    for (int i = 0; i < o->n_prompts; i++)
        if (!o->prompts[i])
            return pd_fail(err, PD_E_ARG, "prompt %d is NULL", i + 1);
    if (!o->components || o->components >> PD_EVAL_COUNT)
        return pd_fail(err, PD_E_ARG, "components 0x%x: set bits 0 .. %d (PD_EVAL_*)", o->components,
                       PD_EVAL_COUNT - 1);
    return PD_OK;
}

pd_status pd_eval_reference(const pd_model *m, const pd_eval_options *o, pd_eval_ref **out, pd_error *err)
{
    *out = NULL;
    pd_status s = check_options(o, err);
    if (s)
        return s;
    if (m->inpaint) /* its UNet takes a mask and an image: not a txt2img's inputs */
        return pd_fail(err, PD_E_UNSUPPORTED, "%s is an inpainting model; eval measures txt2img models "
                       "(convert and compare the ordinary model of the same family)", m->path);
    if ((s = check_vae_scale(m, err)))
        return s;
    pd_eval_ref *r = g_new0(pd_eval_ref, 1);
    r->sig = signature_of(m);
    r->sig.path = g_strdup(m->path);
    r->sig.arch = g_strdup(m->info.arch);
    r->W = o->width, r->H = o->height, r->w = o->width / VAE_SCALE, r->h = o->height / VAE_SCALE;
    r->steps = o->steps, r->guidance = o->guidance, r->timestep = o->timestep;
    r->rows = o->guidance > 1 ? 2 : 1; /* the pipeline's batch */
    r->n_prompts = o->n_prompts, r->n_seeds = o->n_seeds, r->cases = o->n_prompts * o->n_seeds;
    r->measured = r->needed = o->components;
    r->keep_resident = o->keep_resident;
    if (r->needed & (1u << PD_EVAL_UNET))
        r->needed |= 1u << PD_EVAL_TEXT;
    if (r->needed & (1u << PD_EVAL_VAE))
        r->needed |= 1u << PD_EVAL_IMAGE;
    r->prompts = g_new0(char *, o->n_prompts + 1);
    for (int i = 0; i < o->n_prompts; i++)
        r->prompts[i] = g_strdup(o->prompts[i]);
    r->seeds = g_memdup2(o->seeds, sizeof *o->seeds * (size_t)o->n_seeds);
    r->progress = o->progress, r->progress_user = o->progress_user;

    size_t D = (size_t)m->text_cfg.width, lat = (size_t)r->h * r->w * LATENT_CHANNELS, px = (size_t)r->W * r->H * 3;
    r->units[PD_EVAL_TEXT] = r->n_prompts, r->unit[PD_EVAL_TEXT] = PD_TOKENS * D;
    r->units[PD_EVAL_UNET] = r->cases, r->unit[PD_EVAL_UNET] = (size_t)r->rows * lat;
    r->units[PD_EVAL_VAE] = r->cases, r->unit[PD_EVAL_VAE] = px;
    r->units[PD_EVAL_IMAGE] = r->cases, r->unit[PD_EVAL_IMAGE] = px;
    for (int c = 0; !s && c < PD_EVAL_COUNT; c++)
        if ((r->needed & (1u << c)) && !(r->out[c] = alloc_floats(r->unit[c] * r->units[c], "reference outputs", err)))
            s = PD_E_NOMEM;
    if (!s && !(r->final_latents = alloc_floats(lat * r->cases, "latents", err)))
        s = PD_E_NOMEM;
    /* token ids once, from the reference's tokenizer: both encoders see the same */
    r->ids = g_new(int32_t, (size_t)r->n_prompts * PD_TOKENS);
    for (int i = 0; !s && i < r->n_prompts; i++)
        s = pd_tokenize(m, r->prompts[i], r->ids + (size_t)i * PD_TOKENS, err);
    pd_embedding e;
    if (!s && r->rows == 2 && !(s = pd_encode_prompt(m, "", PD_CLIP_SKIP_NONE, &e, err))) {
        r->uncond = g_memdup2(e.data, PD_TOKENS * D * sizeof(float));
        pd_embedding_free(&e);
    }
    runner x = {.m = m, .r = r, .label = "reference", .storing = 1};
    if (!s)
        s = run_all(&x, err);
    if (s) {
        pd_eval_ref_free(r);
        return s;
    }
    *out = r;
    return PD_OK;
}

/* ---- a model under test -------------------------------------------------- */

pd_status pd_eval_compare(const pd_eval_ref *ref, const pd_model *m, pd_eval_result *res, pd_error *err)
{
    memset(res, 0, sizeof *res);
    signature t = signature_of(m);
    pd_status s = check_same_architecture(&ref->sig, &t, err);
    if (!s)
        s = check_vae_scale(m, err);
    if (s)
        return s;
    gint64 t0 = g_get_monotonic_time();
    /* the stages read the reference's outputs but never write them */
    runner x = {.m = m, .r = (pd_eval_ref *)ref, .label = "test", .res = res};
    s = run_all(&x, err);
    if (s) {
        memset(res, 0, sizeof *res);
        return s;
    }
    res->seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    return PD_OK;
}
