/* generate.c — `paldiff generate [MODEL] -p PROMPT`: images from a prompt
 * (txt2img), from an init image (img2img) or into its masked part (inpaint).
 *
 * Everything the command line says is checked before the model is opened.
 * Files are written only after the whole run succeeded (the image writer is
 * atomic), so a failed or cancelled run leaves no output file. Exit status:
 * 0 success, 1 runtime error, 2 usage error, 130 cancelled (Ctrl-C).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli/cli.h"
#include "cli/imagefile.h"
#include "error.h"
#include "io/config.h"
#include "io/safetensors.h"

/* ---- schedulers ------------------------------------------------------------ */

/* The names --scheduler takes, the diffusers class each runs, and the
 * sampler name AUTOMATIC1111 writes for it (its "Sampler:" field). */
static const struct {
    const char *name, *cls, *a1111;
} samplers[] = {
    {"ddim", "DDIMScheduler", "DDIM"},
    {"pndm", "PNDMScheduler", "PLMS"},
    {"euler", "EulerDiscreteScheduler", "Euler"},
    {"euler_a", "EulerAncestralDiscreteScheduler", "Euler a"},
    {"dpmpp_2m", "DPMSolverMultistepScheduler", "DPM++ 2M"},
    {"dpmpp_2m_karras", NULL, "DPM++ 2M Karras"},
    {"lcm", "LCMScheduler", "LCM"},
};

/* The sampler label of a --scheduler name or class name; NULL when unknown. */
static const char *sampler_label(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(samplers); i++)
        if (!strcmp(name, samplers[i].name) || (samplers[i].cls && !strcmp(name, samplers[i].cls)))
            return samplers[i].a1111;
    return NULL;
}

/* The AUTOMATIC1111 name of the sampler a run used. */
static const char *sampler_name(const pd_result *r)
{
    const char *label = sampler_label(r->scheduler);
    return label && !strcmp(label, "DPM++ 2M") && r->karras_sigmas ? "DPM++ 2M Karras" : label;
}

/* ---- recorded draws (--draws FILE.safetensors) ------------------------------- */

static void format_shape(char *buf, size_t size, const int64_t *shape, int ndim)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* pd_draw_fn over a safetensors file (a golden pipeline case file is one):
 * "noise" is [draws, N, 4, h, w] and the index-th draw its index-th slice;
 * every other name is drawn whole. */
static pd_status draw_recorded(void *user, const char *name, int index, const int64_t shape[4],
                               float *out, pd_error *err)
{
    const pd_safetensors *st = user;
    const char *path = pd_st_path(st);
    const pd_st_tensor *t = pd_st_find(st, name);
    const int sliced = !strcmp(name, "noise");
    char want[96], have[96];
    format_shape(want, sizeof want, shape, 4);
    if (!t)
        return pd_fail(err, PD_E_ARG, "--draws %s: no tensor '%s'; this run draws it (shape %s%s)", path,
                       name, want, sliced ? " per step" : "");
    if (t->dtype != PD_ST_F32)
        return pd_fail(err, PD_E_ARG, "--draws %s: tensor '%s' is %s, expected F32", path, name,
                       pd_st_dtype_name(t->dtype));
    format_shape(have, sizeof have, t->shape, t->ndim);
    if (t->ndim != 4 + sliced || memcmp(t->shape + sliced, shape, 4 * sizeof *shape))
        return pd_fail(err, PD_E_ARG, "--draws %s: tensor '%s' has shape %s; this run needs %s%s", path,
                       name, have, sliced ? "[steps] + " : "", want);
    if (sliced && (index < 0 || index >= t->shape[0]))
        return pd_fail(err, PD_E_ARG, "--draws %s: tensor '%s' holds %lld draws; this run takes draw %d",
                       path, name, (long long)t->shape[0], index + 1);
    size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]) * sizeof(float);
    memcpy(out, (const char *)t->data + (sliced ? (size_t)index * n : 0), n);
    return PD_OK;
}

/* ---- progress ----------------------------------------------------------------- */

typedef struct {
    int tty, quiet;        /* a bar on a terminal; else one line per phase */
    int phase;             /* the phase shown, -1 before the first call      */
    gint64 phase_start, last; /* when the phase began; the last report */
    int drawn;             /* a bar is on the line                           */
    int want_preview;
    uint8_t *preview;      /* the last denoising step's preview (--preview) */
    int preview_width, preview_height;
} progress_state;

static const char *const phase_names[] = {"encode", "denoise", "decode"};

static void format_secs(char *buf, size_t size, double s)
{
    if (s < 60)
        snprintf(buf, size, "%.1f s", s);
    else
        snprintf(buf, size, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
}

static void on_progress(const pd_progress *p, void *user)
{
    progress_state *ps = user;
    gint64 now = g_get_monotonic_time();
    int new_phase = (int)p->phase != ps->phase;
    if (new_phase) /* a phase begins where the one before it ended (its last report) */
        ps->phase_start = ps->phase < 0 ? now : ps->last;
    ps->phase = (int)p->phase;
    ps->last = now;
    if (ps->want_preview && p->preview && p->phase == PD_PHASE_DENOISE) {
        size_t n = (size_t)p->preview_width * (size_t)p->preview_height * 3;
        ps->preview = g_realloc(ps->preview, n);
        memcpy(ps->preview, p->preview, n);
        ps->preview_width = p->preview_width;
        ps->preview_height = p->preview_height;
    }
    if (ps->quiet || (unsigned)p->phase >= G_N_ELEMENTS(phase_names))
        return;
    const char *name = phase_names[p->phase];
    if (!ps->tty) {
        if (new_phase && p->phase == PD_PHASE_ENCODE)
            fprintf(stderr, "paldiff: encoding\n");
        else if (new_phase)
            fprintf(stderr, "paldiff: %s, %d %s\n", p->phase == PD_PHASE_DENOISE ? "denoising" : "decoding",
                    p->total, p->phase == PD_PHASE_DENOISE ? (p->total == 1 ? "step" : "steps")
                                                                    : p->total == 1 ? "image" : "images");
        return;
    }
    enum { BAR = 24 };
    char bar[BAR + 1], el[16], eta[16] = "?";
    int fill = p->total > 0 ? (int)((int64_t)BAR * p->step / p->total) : 0;
    for (int i = 0; i < BAR; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR] = '\0';
    double secs = (double)(now - ps->phase_start) / 1e6;
    format_secs(el, sizeof el, secs);
    if (p->step > 0 && p->total >= p->step)
        format_secs(eta, sizeof eta, secs / p->step * (p->total - p->step));
    fprintf(stderr, "\r%-7s %3d/%-3d [%s] %s, ETA %s\033[K", name, p->step, p->total, bar, el, eta);
    fflush(stderr);
    ps->drawn = 1;
}

/* ---- Ctrl-C ---------------------------------------------------------------- */

/* Set by the SIGINT handler, read by the engine between steps. The engine
 * takes a volatile int; sig_atomic_t is int with glibc and musl. */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "the cancel flag is written from a signal handler");
static volatile int cancel_requested;

static void on_sigint(int sig)
{
    (void)sig;
    cancel_requested = 1;
}

/* ---- the infotext other Stable Diffusion tools read ------------------------------ */

/* A value as AUTOMATIC1111 writes one: quoted as a JSON string when it holds
 * a comma, colon or line break (which would split the line's fields). */
static void append_value(GString *s, const char *v)
{
    if (!strpbrk(v, ",:\n\r\"")) {
        g_string_append(s, v);
        return;
    }
    g_string_append_c(s, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(s, "\\%c", *p);
        else if (*p == '\n')
            g_string_append(s, "\\n");
        else if ((unsigned char)*p < 0x20)
            g_string_append_printf(s, "\\u%04x", (unsigned char)*p);
        else
            g_string_append_c(s, *p);
    }
    g_string_append_c(s, '"');
}

/* "<prompt>\nNegative prompt: <neg>\nSteps: 20, Sampler: Euler a, CFG scale: 7.5,
 * Seed: 42, Size: 512x512, Model: <name>[, Denoising strength: 0.6][, Clip skip: 2]" */
static char *infotext(const pd_generate_params *p, const char *sampler, const char *model_name,
                      const pd_result *r, int index)
{
    GString *s = g_string_new(p->prompt);
    if (p->negative_prompt && *p->negative_prompt)
        g_string_append_printf(s, "\nNegative prompt: %s", p->negative_prompt);
    g_string_append_printf(s, "\nSteps: %d, Sampler: ", p->steps);
    append_value(s, sampler);
    g_string_append_printf(s, ", CFG scale: %g, Seed: %" G_GUINT64_FORMAT ", Size: %dx%d, Model: ",
                           (double)p->guidance, p->seed, r->width, r->height);
    append_value(s, model_name);
    if (p->mode != PD_MODE_TXT2IMG)
        g_string_append_printf(s, ", Denoising strength: %g", p->strength);
    /* AUTOMATIC1111 counts clip skip from 1 (= the last layer, no skip), so
     * diffusers' clip_skip k (k layers before the last) is its k + 1. */
    if (p->clip_skip >= 1)
        g_string_append_printf(s, ", Clip skip: %d", p->clip_skip + 1);
    /* One seed makes the whole batch; the position tells the images apart. */
    if (r->count > 1)
        g_string_append_printf(s, ", Batch size: %d, Batch pos: %d", r->count, index);
    return g_string_free(s, FALSE);
}

/* ---- files -------------------------------------------------------------------- */

static int image_extension(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) &&
           (!g_ascii_strcasecmp(dot, ".png") || !g_ascii_strcasecmp(dot, ".jpg") ||
            !g_ascii_strcasecmp(dot, ".jpeg"));
}

/* FILE for one image; FILE-1.png ... FILE-N.png (before the extension) for several. */
static char *output_name(const char *base, int i, int n)
{
    if (n == 1)
        return g_strdup(base);
    const char *dot = strrchr(base, '.');
    return g_strdup_printf("%.*s-%d%s", (int)(dot - base), base, i + 1, dot);
}

/* The folder a file is to be written into exists. */
static int folder_exists(const char *path)
{
    char *dir = g_path_get_dirname(path);
    int ok = g_file_test(dir, G_FILE_TEST_IS_DIR);
    g_free(dir);
    return ok;
}

#define MAX_SCHEDULER_CONFIG (1 << 20)

/* Reads a scheduler config, checked to be one strict JSON object. */
static int read_config(const char *opt, const char *path, char **text)
{
    GStatBuf sb;
    GError *gerr = NULL;
    if (g_stat(path, &sb) == 0 && sb.st_size > MAX_SCHEDULER_CONFIG) {
        fprintf(stderr, "paldiff: %s %s: larger than %d bytes; a scheduler config is a small JSON object\n", opt,
                path, MAX_SCHEDULER_CONFIG);
        return 0;
    }
    gsize len;
    if (!g_file_get_contents(path, text, &len, &gerr)) {
        fprintf(stderr, "paldiff: %s %s: %s\n", opt, path, gerr->message);
        g_error_free(gerr);
        return 0;
    }
    /* Parsed here too, so that a broken file is named before the model loads. */
    pd_config *c;
    pd_error err;
    if (pd_config_parse(path, *text, len, &c, &err)) {
        fprintf(stderr, "paldiff: %s %s\n", opt, err.message);
        return 0;
    }
    pd_config_free(c);
    return 1;
}

/* ---- the command --------------------------------------------------------------- */

typedef struct {
    char *prompt, *negative, *model, *scheduler, *scheduler_config, *init, *mask, *output, *draws, *preview,
        *seed, *strength;
    int steps, width, height, clip_skip, num_images, quiet;
    double guidance;
} gen_args;

static void gen_args_clear(gen_args *a)
{
    char **strings[] = {&a->prompt, &a->negative, &a->model, &a->scheduler, &a->scheduler_config, &a->init,
                        &a->mask, &a->output, &a->draws, &a->preview, &a->seed, &a->strength};
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
        g_clear_pointer(strings[i], g_free);
}

#define USAGE(...) (fprintf(stderr, "paldiff: " __VA_ARGS__), fputc('\n', stderr), 2)

/* A prompt is cut to CLIP's 75 tokens. The API gives the 77 ids after the
 * cut, so a prompt of exactly 75 tokens cannot be told from a longer one:
 * say so when the 75 are full. */
static void warn_if_cut(const pd_model *m, const char *what, const char *text)
{
    int32_t ids[PD_TOKENS], empty[PD_TOKENS];
    if (!text || !*text || pd_tokenize(m, "", empty, NULL) || pd_tokenize(m, text, ids, NULL))
        return; /* an invalid prompt is pd_generate's to report */
    const int32_t eos = empty[1];
    if (ids[PD_TOKENS - 2] != eos && ids[PD_TOKENS - 1] == eos)
        fprintf(stderr, "paldiff: warning: the %s fills the %d tokens CLIP reads; anything past them is "
                        "cut off\n", what, PD_TOKENS - 2);
}

/* Reads, checks and (where the size differs) resizes the init image and mask;
 * decides the output size. Returns the exit status on failure, else 0. */
static int load_images(const gen_args *a, int *width, int *height, pd_pixels *init, pd_pixels *mask)
{
    pd_error err;
    if (pd_image_read(a->init, 3, init, &err))
        return fprintf(stderr, "paldiff: --init: %s\n", err.message), 1;
    if (a->mask) {
        if (pd_image_read(a->mask, 1, mask, &err))
            return fprintf(stderr, "paldiff: --mask: %s\n", err.message), 1;
        if (mask->width != init->width || mask->height != init->height) {
            fprintf(stderr, "paldiff: --mask %s is %d×%d but the init image %s is %d×%d: the mask must cover "
                            "the init image pixel for pixel; scale it to %d×%d\n", a->mask, mask->width,
                    mask->height, a->init, init->width, init->height, init->width, init->height);
            return 1;
        }
    }
    if (!*width)
        *width = init->width / 8 * 8;
    if (!*height)
        *height = init->height / 8 * 8;
    if (!*width || !*height)
        return fprintf(stderr, "paldiff: --init %s is %d×%d; images are at least 8×8\n", a->init, init->width,
                       init->height), 1;
    if ((int64_t)*width * *height > PD_MAX_PIXELS) {
        fprintf(stderr, "paldiff: --init %s makes the output %d×%d (%.1f megapixels), more than paldiff "
                        "generates (%.1f); give --width and --height to scale it down\n", a->init, *width,
                *height, (double)*width * *height / 1e6, PD_MAX_PIXELS / 1e6);
        return 2;
    }
    const int w0 = init->width, h0 = init->height;
    if (w0 == *width && h0 == *height)
        return 0;
    for (int i = 0; i < 2; i++) {
        pd_pixels *p = i ? mask : init, resized;
        if (!p->data)
            continue;
        if (pd_pixels_resize(p, *width, *height, &resized, &err))
            return fprintf(stderr, "paldiff: %s\n", err.message), 1;
        pd_pixels_free(p);
        *p = resized;
    }
    fprintf(stderr, "paldiff: note: the init image%s resized from %d×%d to %d×%d\n", a->mask ? " and mask" : "",
            w0, h0, *width, *height);
    return 0;
}

/* Checks what the command line says; returns 0 or the exit status. */
static int check_args(const gen_args *a, uint64_t *seed, double *strength)
{
    if (!a->prompt)
        return USAGE("generate: give a prompt: -p \"a red fox in the snow\"");
    if (!g_utf8_validate(a->prompt, -1, NULL))
        return USAGE("--prompt: not valid UTF-8 (prompts are read as UTF-8 text)");
    if (a->negative && !g_utf8_validate(a->negative, -1, NULL))
        return USAGE("--negative: not valid UTF-8 (prompts are read as UTF-8 text)");
    if (a->steps < 1)
        return USAGE("--steps %d: expected at least 1", a->steps);
    if (!isfinite(a->guidance))
        return USAGE("--guidance: expected a finite number");
    if (a->num_images < 1 || a->num_images > PD_MAX_IMAGES)
        return USAGE("--num-images %d: expected 1..%d", a->num_images, PD_MAX_IMAGES);
    if (a->clip_skip < PD_CLIP_SKIP_NONE)
        return USAGE("--clip-skip %d: expected k >= 1 layers before the last (0: none)", a->clip_skip);
    if (a->scheduler && !sampler_label(a->scheduler))
        return USAGE("--scheduler %s: expected ddim, pndm, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lcm, "
                     "or the diffusers class name of one", a->scheduler);
    if (a->mask && !a->init)
        return USAGE("--mask needs --init: the mask says which part of the init image to repaint");
    if (a->strength && !a->init)
        return USAGE("--strength needs --init: it says how much of the init image to repaint");
    const char *dims[2] = {"width", "height"};
    int vals[2] = {a->width, a->height};
    for (int i = 0; i < 2; i++) {
        if (vals[i] < 0 || vals[i] % 8)
            return USAGE("--%s %d: expected a positive multiple of 8 (e.g. %d)", dims[i], vals[i],
                         vals[i] > 8 ? vals[i] / 8 * 8 : 8);
    }
    if ((int64_t)a->width * a->height > PD_MAX_PIXELS)
        return USAGE("%d×%d is %.1f megapixels; paldiff generates at most %.1f (e.g. 2048×2048)", a->width,
                     a->height, (double)a->width * a->height / 1e6, PD_MAX_PIXELS / 1e6);
    if (a->output && !image_extension(a->output))
        return USAGE("--output %s: give a .png or .jpg name", a->output);
    if (a->preview && !image_extension(a->preview))
        return USAGE("--preview %s: give a .png name", a->preview);
    const char *outs[2] = {a->output, a->preview};
    for (int i = 0; i < 2; i++)
        if (outs[i] && !folder_exists(outs[i]))
            return USAGE("--%s %s: its folder does not exist", i ? "preview" : "output", outs[i]);
    *strength = 0.8;
    if (a->strength) {
        char *end;
        double s = g_ascii_strtod(a->strength, &end);
        if (end == a->strength || *end || !(s > 0 && s <= 1))
            return USAGE("--strength %s: expected a number in (0, 1]", a->strength);
        *strength = s;
    }
    if (a->seed) {
        guint64 v;
        if (!g_ascii_string_to_unsigned(a->seed, 10, 0, G_MAXUINT64, &v, NULL))
            return USAGE("--seed %s: expected an integer 0..%" G_GUINT64_FORMAT, a->seed, G_MAXUINT64);
        *seed = v;
    } else {
        /* PyTorch's CPU generator keeps only a seed's low 32 bits: a 32-bit
         * seed is every seed there is, and short to type again. */
        uint32_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = g_random_int();
        *seed = r;
    }
    return 0;
}

/* Runs pd_generate with Ctrl-C wired to its cancel flag: the first asks the
 * engine to stop within a step, a second ends the process (SA_RESETHAND).
 * Where SIGINT is ignored (a background job of a script, nohup) it stays so. */
static pd_status generate_cancellable(const pd_model *m, pd_generate_params *p, pd_result *r, pd_error *err)
{
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = SA_RESETHAND}, old;
    sigemptyset(&sa.sa_mask);
    cancel_requested = 0;
    p->cancel = &cancel_requested;
    sigaction(SIGINT, NULL, &old);
    int catch = old.sa_handler != SIG_IGN;
    if (catch)
        sigaction(SIGINT, &sa, NULL);
    pd_status s = pd_generate(m, p, r, err);
    if (catch)
        sigaction(SIGINT, &old, NULL);
    if (!s && cancel_requested) { /* too late for the engine, not for the files */
        pd_result_free(r);
        s = pd_fail(err, PD_E_CANCELLED, "cancelled");
    }
    return s;
}

/* Writes every image (and the preview), or — when one fails — none.
 * Returns the exit status. */
static int write_files(const gen_args *a, const pd_generate_params *p, const pd_result *r,
                       const char *model_path, const progress_state *ps)
{
    char *base = a->output ? g_strdup(a->output) : g_strdup_printf("paldiff-%" G_GUINT64_FORMAT ".png", p->seed);
    char *model_name = g_path_get_basename(model_path);
    if (g_str_has_suffix(model_name, ".safetensors"))
        *strrchr(model_name, '.') = '\0';
    const char *sampler = sampler_name(r);
    pd_pixels px = {r->width, r->height, 3, g_malloc((size_t)r->width * r->height * 3)};
    char **written = g_new0(char *, (size_t)r->count + 1);
    int nw = 0, status = 0;
    pd_error err;
    for (int i = 0; i < r->count && !status; i++) {
        char *name = output_name(base, i, r->count);
        char *text = infotext(p, sampler ? sampler : "unknown", model_name, r, i);
        pd_result_to_rgb8(r, i, px.data);
        if (pd_image_write(name, &px, text, &err)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            status = 1;
            g_free(name);
        } else {
            written[nw++] = name;
        }
        g_free(text);
    }
    if (!status && a->preview && !ps->preview)
        fprintf(stderr, "paldiff: note: the engine gave no preview; %s not written\n", a->preview);
    if (!status && a->preview && ps->preview) {
        pd_pixels pv = {ps->preview_width, ps->preview_height, 3, ps->preview};
        if (pd_image_write(a->preview, &pv, NULL, &err)) {
            fprintf(stderr, "paldiff: --preview: %s\n", err.message);
            status = 1;
        }
    }
    for (int i = 0; i < nw; i++) {
        if (status)
            g_unlink(written[i]);
        else
            printf("wrote %s\n", written[i]);
        g_free(written[i]);
    }
    if (!status && a->preview && ps->preview)
        printf("wrote %s\n", a->preview);
    g_free(written);
    g_free(px.data);
    g_free(model_name);
    g_free(base);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    gen_args a = {.steps = 20, .guidance = 7.5, .clip_skip = PD_CLIP_SKIP_NONE, .num_images = 1};
    cli_model_args ma = {0};
    GOptionEntry e[] = {
        {"prompt", 'p', 0, G_OPTION_ARG_FILENAME, &a.prompt, "what to draw (UTF-8; CLIP reads 75 tokens)", "TEXT"},
        {"negative", 'n', 0, G_OPTION_ARG_FILENAME, &a.negative, "what to steer away from", "TEXT"},
        {"model", 0, 0, G_OPTION_ARG_FILENAME, &a.model,
         "the model, also given as the first argument (default: $PALDIFF_MODEL, the installed default, "
         "else the demo model)", "MODEL"},
        {"steps", 0, 0, G_OPTION_ARG_INT, &a.steps, "denoising steps (default 20)", "N"},
        {"guidance", 0, 0, G_OPTION_ARG_DOUBLE, &a.guidance,
         "classifier-free guidance scale (default 7.5; 1 or less: off)", "G"},
        {"cfg", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_DOUBLE, &a.guidance, "same as --guidance", "G"},
        {"seed", 0, 0, G_OPTION_ARG_STRING, &a.seed,
         "the same seed and options give the same image (default: random, printed)", "N"},
        {"width", 0, 0, G_OPTION_ARG_INT, &a.width,
         "multiple of 8 (default: the init image's, rounded down to a multiple of 8, else the model's)", "W"},
        {"height", 0, 0, G_OPTION_ARG_INT, &a.height, "multiple of 8 (default as for --width)", "H"},
        {"scheduler", 0, 0, G_OPTION_ARG_STRING, &a.scheduler,
         "ddim, pndm, euler, euler_a, dpmpp_2m, dpmpp_2m_karras or lcm (default: the model's)", "NAME"},
        {"scheduler-config", 0, 0, G_OPTION_ARG_FILENAME, &a.scheduler_config,
         "a diffusers scheduler_config.json to use instead of the model's", "FILE"},
        {"clip-skip", 0, 0, G_OPTION_ARG_INT, &a.clip_skip,
         "condition on the layer K places before the text encoder's last (diffusers' clip_skip)", "K"},
        {"init", 0, 0, G_OPTION_ARG_FILENAME, &a.init, "start from this image (img2img; PNG or JPEG)", "IMAGE"},
        {"strength", 0, 0, G_OPTION_ARG_STRING, &a.strength,
         "with --init: how much to repaint, in (0, 1] (default 0.8)", "S"},
        {"mask", 0, 0, G_OPTION_ARG_FILENAME, &a.mask,
         "with --init: repaint where this gray image is white (inpainting); same size as the init image", "MASK"},
        {"num-images", 'N', 0, G_OPTION_ARG_INT, &a.num_images, "images made in one batch (default 1)", "N"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &a.output,
         "the image file, .png or .jpg (default paldiff-SEED.png); with -N 2 or more: FILE-1.png .. FILE-N.png",
         "FILE"},
        {"draws", 0, 0, G_OPTION_ARG_FILENAME, &a.draws,
         "replay the random draws recorded in this safetensors file (latents_init, posterior_noise, "
         "masked_posterior_noise, noise) instead of drawing from the seed", "FILE"},
        {"preview", 0, 0, G_OPTION_ARG_FILENAME, &a.preview,
         "also write the last denoising step's rough preview (latent resolution)", "FILE.png"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &a.quiet, "no progress display", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    pd_model *m = NULL;
    char *model_path = NULL;
    pd_safetensors *draws = NULL;
    pd_pixels init = {0}, mask = {0};
    char *sched_text = NULL;
    pd_generate_params p;
    pd_result r = {0};
    progress_state ps = {.phase = -1};
    pd_error err;
    int status = 2;
    pd_generate_params_init(&p);
    if (!cli_parse(&argc, &argv, "[MODEL]",
                   "Generate images from a prompt (txt2img), from an init image (--init: img2img) or into\n"
                   "the white part of a mask (--init, --mask: inpainting). The seed is printed; the PNG\n"
                   "carries the settings in the `parameters` text other Stable Diffusion tools read.\n"
                   "With -N 3 -o out.png the images are out-1.png, out-2.png, out-3.png.",
                   e, cli_model_entries(&ma)))
        goto out;
    if (argc > 2 || (argc == 2 && a.model && strcmp(a.model, argv[1]))) {
        fprintf(stderr, "usage: paldiff generate [OPTIONS] [MODEL] -p PROMPT (one model)\n");
        goto out;
    }
    if ((status = check_args(&a, &p.seed, &p.strength)))
        goto out;
    status = 1;
    if (a.scheduler_config && !read_config("--scheduler-config", a.scheduler_config, &sched_text))
        goto out;
    if (a.init && (status = load_images(&a, &a.width, &a.height, &init, &mask)))
        goto out;
    status = 1;
    if (a.draws && pd_st_open(a.draws, &draws, &err)) {
        fprintf(stderr, "paldiff: --draws: %s\n", err.message);
        goto out;
    }
    /* No model named: $PALDIFF_MODEL, the installed default, or the demo model. */
    int is_demo;
    model_path = argc == 2 ? g_strdup(argv[1]) : a.model ? g_strdup(a.model) : cli_default_model(&is_demo);
    if (!model_path || !(m = cli_open_model(model_path, &ma)))
        goto out;
    warn_if_cut(m, "prompt", a.prompt);
    warn_if_cut(m, "negative prompt", a.negative);

    pd_image init_view = {init.width, init.height, 3, init.data};
    pd_image mask_view = {mask.width, mask.height, 1, mask.data};
    p.mode = a.mask ? PD_MODE_INPAINT : a.init ? PD_MODE_IMG2IMG : PD_MODE_TXT2IMG;
    p.prompt = a.prompt;
    p.negative_prompt = a.negative;
    p.width = a.width;
    p.height = a.height;
    p.steps = a.steps;
    p.guidance = (float)a.guidance;
    p.num_images = a.num_images;
    p.scheduler = a.scheduler;
    p.scheduler_config = sched_text;
    p.clip_skip = a.clip_skip;
    p.init_image = a.init ? &init_view : NULL;
    p.mask = a.mask ? &mask_view : NULL;
    ps.tty = isatty(2);
    ps.quiet = a.quiet;
    ps.want_preview = a.preview != NULL;
    p.progress = on_progress;
    p.progress_user = &ps;
    p.preview = ps.want_preview;
    p.draw = draws ? draw_recorded : NULL;
    p.draw_user = draws;
    printf("seed %" G_GUINT64_FORMAT "\n", p.seed);
    fflush(stdout);

    gint64 t0 = g_get_monotonic_time();
    pd_status s = generate_cancellable(m, &p, &r, &err);
    if (ps.drawn)
        fputs("\r\033[K", stderr);
    if (s == PD_E_CANCELLED) {
        fprintf(stderr, "cancelled\n");
        status = 130;
    } else if (s) {
        fprintf(stderr, "paldiff: %s\n", err.message);
    } else {
        if (!a.quiet)
            fprintf(stderr, "paldiff: %d image%s %d×%d in %.1f s\n", r.count, r.count > 1 ? "s" : "", r.width,
                    r.height, (double)(g_get_monotonic_time() - t0) / 1e6);
        status = write_files(&a, &p, &r, model_path, &ps);
    }
out:
    pd_result_free(&r);
    pd_model_free(m);
    if (draws)
        pd_st_close(draws);
    pd_pixels_free(&init);
    pd_pixels_free(&mask);
    g_free(sched_text);
    g_free(model_path);
    g_free(ps.preview);
    gen_args_clear(&a);
    cli_model_args_clear(&ma);
    return status;
}
