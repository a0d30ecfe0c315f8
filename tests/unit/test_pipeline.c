/* test_pipeline.c — pd_generate's contract on the self-made demo model:
 * arguments refused before work with PD_E_ARG (and a zeroed result),
 * progress and previews, cancellation (inside the VAE decode too), the draw hook, determinism per seed,
 * and inpainting keeping what the mask does not repaint. The numbers
 * themselves are proven by golden-pipeline.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "io/demo.h"
#include "models/vae.h"
#include "paldiff.h"

enum { S = 64 }; /* image side: 8×8 latents, quick */

static pd_model *model;

static void base(pd_generate_params *p)
{
    pd_generate_params_init(p);
    p->prompt = "a lighthouse at dusk";
    p->width = p->height = S;
    p->steps = 3;
    p->seed = 7;
}

static int zeroed(const pd_result *r)
{
    static const pd_result zero;
    return !memcmp(r, &zero, sizeof zero);
}

/* Runs p expecting status `want`; on success the result is returned to the caller. */
static pd_status run(const pd_generate_params *p, pd_status want, pd_result *r, const char *what)
{
    pd_error err = {0};
    pd_status s = pd_generate(model, p, r, &err);
    CHECK_MSG(s == want, "%s: status %s (want %s): %s", what, pd_status_name(s), pd_status_name(want),
              err.message);
    if (s != PD_OK) {
        CHECK_MSG(zeroed(r), "%s: a failed run left a partial result", what);
        CHECK_MSG(err.message[0], "%s: no message", what);
    }
    return s;
}

static uint8_t gray[S * S], small_gray[32 * 32], rgb[S * S * 3];

static void test_arguments(void)
{
    static char long_prompt[10001];
    memset(long_prompt, 'a', 10000);
    for (int i = 9; i < 10000; i += 10)
        long_prompt[i] = ' ';
    const pd_image init = {S, S, 3, rgb}, small_mask = {32, 32, 1, small_gray};
    const pd_image two_channel = {S, S, 2, gray};
    static const struct {
        const char *what;
        pd_status want;
        int field;
    } rows[] = {
        {"NULL prompt", PD_E_ARG, 0},          {"0 steps", PD_E_ARG, 1},
        {"100000 steps", PD_E_ARG, 2},         {"width 100", PD_E_ARG, 3},
        {"13 megapixels", PD_E_ARG, 4},        {"guidance NaN", PD_E_ARG, 5},
        {"0 images", PD_E_ARG, 6},             {"17 images", PD_E_ARG, 7},
        {"img2img strength 0", PD_E_ARG, 8},   {"img2img without image", PD_E_ARG, 9},
        {"inpaint mask 32x32", PD_E_ARG, 10},  {"inpaint mask 2 channels", PD_E_ARG, 11},
        {"non-UTF-8 prompt", PD_E_ARG, 12},    {"unknown scheduler", PD_E_ARG, 13},
        {"malformed scheduler config", PD_E_FORMAT, 14},
        {"unsupported scheduler config", PD_E_UNSUPPORTED, 15},
        {"mode 7", PD_E_ARG, 16},              {"10,000-character prompt", PD_OK, 17},
        {"non-UTF-8 negative prompt", PD_E_ARG, 18},
        {"strength NaN", PD_E_ARG, 19},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        pd_generate_params p;
        base(&p);
        p.steps = 1;
        switch (rows[i].field) {
        case 0: p.prompt = NULL; break;
        case 1: p.steps = 0; break;
        case 2: p.steps = 100000; break;
        case 3: p.width = 100; break;
        case 4: p.width = 4096; p.height = 3200; break;
        case 5: p.guidance = NAN; break;
        case 6: p.num_images = 0; break;
        case 7: p.num_images = 17; break;
        case 8: p.mode = PD_MODE_IMG2IMG; p.init_image = &init; p.strength = 0; break;
        case 9: p.mode = PD_MODE_IMG2IMG; break;
        case 10: p.mode = PD_MODE_INPAINT; p.init_image = &init; p.mask = &small_mask; break;
        case 11: p.mode = PD_MODE_INPAINT; p.init_image = &init; p.mask = &two_channel; break;
        case 12: p.prompt = "caf\xc3\x28"; break;
        case 13: p.scheduler = "no-such-scheduler"; break;
        case 14: p.scheduler_config = "{\"beta_start\": "; break;
        case 15: p.scheduler_config = "{\"_class_name\": \"DDIMScheduler\", \"trained_betas\": [0.1, 0.2]}"; break;
        case 16: p.mode = (pd_mode)7; break;
        case 17: p.prompt = long_prompt; break;
        case 18: p.negative_prompt = "\xff\xfe"; break;
        case 19: p.mode = PD_MODE_IMG2IMG; p.init_image = &init; p.strength = NAN; break;
        }
        pd_result r;
        if (run(&p, rows[i].want, &r, rows[i].what) == PD_OK)
            pd_result_free(&r);
    }
}

typedef struct {
    int calls, last_step, in_order, previews, cancel_at;
    volatile int *cancel;
} watch;

static void on_progress(const pd_progress *pr, void *user)
{
    watch *w = user;
    if (pr->phase != PD_PHASE_DENOISE)
        return;
    w->calls++;
    w->in_order &= pr->step == w->last_step + 1 && pr->step <= pr->total;
    w->last_step = pr->step;
    w->previews += pr->preview && pr->preview_width == S / 8 && pr->preview_height == S / 8;
    if (w->cancel && pr->step == w->cancel_at)
        *w->cancel = 1;
}

static void test_progress_and_cancel(void)
{
    pd_generate_params p;
    base(&p);
    watch w = {.in_order = 1};
    p.progress = on_progress;
    p.progress_user = &w;
    p.preview = 1;
    pd_result r;
    if (run(&p, PD_OK, &r, "progress") == PD_OK) {
        CHECK_MSG(w.calls == p.steps && w.in_order && w.previews == p.steps,
                  "progress: %d calls, in order %d, %d previews for %d steps", w.calls, w.in_order,
                  w.previews, p.steps);
        CHECK(r.count == 1 && r.width == S && r.height == S && r.latent_channels == 4);
        pd_result_free(&r);
    }
    /* Cancelled from the callback after step 1: stops before step 2. */
    volatile int flag = 0;
    watch c = {.in_order = 1, .cancel = &flag, .cancel_at = 1};
    p.progress_user = &c;
    p.cancel = &flag;
    run(&p, PD_E_CANCELLED, &r, "cancel");
    CHECK_MSG(c.calls == 1, "cancel: %d steps ran after the flag was set at step 1", c.calls);
    /* A flag already set: nothing runs. */
    watch d = {.in_order = 1};
    p.progress_user = &d;
    run(&p, PD_E_CANCELLED, &r, "cancel before start");
    CHECK(d.calls == 0);
}

/* The decode, the run's longest step after the UNet's, stops between its
 * blocks: with the flag set it writes no pixel; cleared, it decodes. */
static void test_vae_cancel(void)
{
    pd_vae *vae = NULL;
    pd_error err;
    CHECK_MSG(pd_vae_load(model, &vae, &err) == PD_OK, "%s", err.message);
    if (!vae)
        return;
    enum { L = S / 8 };
    static float latents[L * L * 4], image[S * S * 3];
    for (int i = 0; i < L * L * 4; i++)
        latents[i] = (float)sin(i * 0.37);
    for (int i = 0; i < S * S * 3; i++)
        image[i] = 1234.5f;
    volatile int flag = 1;
    pd_vae_set_cancel(vae, &flag);
    pd_status s = pd_vae_decode(vae, 1, L, L, latents, image, &err);
    CHECK_MSG(s == PD_E_CANCELLED, "decode with the flag set: %s", pd_status_name(s));
    int untouched = 1;
    for (int i = 0; i < S * S * 3; i++)
        untouched &= image[i] == 1234.5f;
    CHECK_MSG(untouched, "a cancelled decode wrote pixels");
    flag = 0;
    CHECK_MSG(pd_vae_decode(vae, 1, L, L, latents, image, &err) == PD_OK, "%s", err.message);
    pd_vae_free(vae);
}

static pd_status failing_draw(void *user, const char *name, int index, const int64_t shape[4],
                              float *out, pd_error *err)
{
    (void)user, (void)name, (void)index, (void)shape, (void)out;
    err->status = PD_E_IO;
    snprintf(err->message, sizeof err->message, "recorded noise file is gone");
    return PD_E_IO;
}

static void test_seeds(void)
{
    pd_generate_params p;
    base(&p);
    p.num_images = 2;
    pd_result a, b, c;
    if (run(&p, PD_OK, &a, "seed 7") || run(&p, PD_OK, &b, "seed 7 again"))
        return;
    size_t n = (size_t)a.count * a.width * a.height * 3;
    CHECK_MSG(!memcmp(a.pixels, b.pixels, n * sizeof(float)), "the same seed gave different images");
    CHECK_MSG(memcmp(a.pixels, a.pixels + n / 2, n / 2 * sizeof(float)),
              "the two images of one batch are identical");
    p.seed = 8;
    if (!run(&p, PD_OK, &c, "seed 8")) {
        CHECK_MSG(memcmp(a.pixels, c.pixels, n * sizeof(float)), "seeds 7 and 8 gave the same images");
        pd_result_free(&c);
    }
    uint8_t *px = g_new(uint8_t, n / 2);
    pd_result_to_rgb8(&a, 1, px);
    CHECK(px[0] == (uint8_t)lrintf(a.pixels[n / 2] * 255));
    g_free(px);
    pd_result_free(&a);
    pd_result_free(&b);
    p.draw = failing_draw;
    run(&p, PD_E_IO, &a, "failing draw");
}

/* Inpainting with a 4-channel UNet: outside the mask the final latents are
 * the init image's, whatever the prompt. */
static void test_inpaint_keeps_unmasked(void)
{
    const pd_image init = {S, S, 3, rgb}, mask = {S, S, 1, gray};
    pd_generate_params p;
    base(&p);
    p.mode = PD_MODE_INPAINT;
    p.init_image = &init;
    p.mask = &mask;
    p.strength = 1.0f;
    p.scheduler = "euler_a";
    pd_result a, b;
    if (run(&p, PD_OK, &a, "inpaint"))
        return;
    p.prompt = "a completely different prompt";
    if (!run(&p, PD_OK, &b, "inpaint, other prompt")) {
        int same_kept = 1, repainted_differs = 0;
        for (int y = 0; y < S / 8; y++)
            for (int x = 0; x < S / 8; x++)
                for (int c = 0; c < 4; c++) {
                    size_t k = ((size_t)y * (S / 8) + x) * 4 + c;
                    if (x < S / 16) /* the mask repaints the right half */
                        same_kept &= a.latents[k] == b.latents[k];
                    else
                        repainted_differs |= a.latents[k] != b.latents[k];
                }
        CHECK_MSG(same_kept, "inpaint: latents outside the mask depend on the prompt");
        CHECK_MSG(repainted_differs, "inpaint: the repainted half ignores the prompt");
        pd_result_free(&b);
    }
    pd_result_free(&a);
    p.mode = PD_MODE_IMG2IMG;
    p.strength = 0.5f;
    if (!run(&p, PD_OK, &a, "img2img"))
        pd_result_free(&a);
}

int main(void)
{
    for (int i = 0; i < S * S; i++) {
        gray[i] = i % S >= S / 2 ? 255 : 0; /* right half white: repaint */
        for (int c = 0; c < 3; c++)
            rgb[i * 3 + c] = (uint8_t)(i * 7 + c * 80);
    }
    char *dir = g_dir_make_tmp("paldiff-pipeline-XXXXXX", NULL);
    char *demo = g_build_filename(dir, "demo", NULL);
    pd_error err;
    pd_status s = pd_demo_model_write(demo, &err);
    CHECK_MSG(s == PD_OK, "demo model: %s", err.message);
    if (!s && !(s = pd_model_open(demo, NULL, &model, &err))) {
        test_arguments();
        test_progress_and_cancel();
        test_vae_cancel();
        test_seeds();
        test_inpaint_keeps_unmasked();
        pd_model_free(model);
    }
    CHECK_MSG(s == PD_OK, "%s", err.message);
    char *argv[] = {"rm", "-rf", dir, NULL};
    g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    g_free(demo);
    g_free(dir);
    return check_summary("unit-pipeline");
}
