/* convert.c — `paldiff convert SRC DST`: palettize a model into one file
 * (engine/convert/convert.h, docs/palettized-format.md). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli/cli.h"
#include "convert/convert.h"
#include "convert/recipe.h"
#include "io/palettized.h"

typedef struct progress_state {
    int tty;
    gint64 start, last;
} progress_state;

static void on_progress(const pd_convert_progress *p, void *user)
{
    progress_state *ps = user;
    gint64 now = g_get_monotonic_time();
    if (!ps->tty || (now - ps->last < 100000 && p->tensors_done < p->tensors))
        return;
    ps->last = now;
    fprintf(stderr, "\r%s: %lld/%lld tensors, source hashed %.0f%%, %.1f s   ", p->phase,
            (long long)p->tensors_done, (long long)p->tensors,
            p->hash_total ? 100.0 * (double)p->hashed / (double)p->hash_total : 100.0,
            (double)(now - ps->start) / 1e6);
}

static void on_recipe_progress(int64_t done, int64_t total, const char *stage, void *user)
{
    progress_state *ps = user;
    if (ps->tty)
        fprintf(stderr, "\r\033[Kmixed-bit analysis: %lld/%lld, %.0f s: %s", (long long)done, (long long)total,
                (double)(g_get_monotonic_time() - ps->start) / 1e6, stage);
}

/* "mixed:4.5" → 4.5; 0 if it is not such a recipe. */
static double parse_recipe(const char *spec)
{
    if (!g_str_has_prefix(spec, "mixed:"))
        return 0;
    char *end;
    double b = g_ascii_strtod(spec + 6, &end);
    return end != spec + 6 && !*end ? b : 0;
}

static void print_recipe(const pd_recipe *r, int size)
{
    int count[PD_RECIPE_WIDTHS] = {0};
    double values[PD_RECIPE_WIDTHS] = {0};
    for (int l = 0; l < r->n_layers; l++)
        for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
            if (pd_recipe_widths[w] == r->layers[l].bits)
                count[w]++, values[w] += (double)r->layers[l].numel / 1e6;
    printf("mixed-bit recipe: %.2f bits on average (asked %.2f) over %d UNet weights, %.1f M values\n",
           r->average_bits, r->target_bits, r->n_layers, (double)r->numel / 1e6);
    printf("  bits     ");
    for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
        printf("%8d", pd_recipe_widths[w]);
    printf("\n  weights  ");
    for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
        printf("%8d", count[w]);
    printf("\n  M values ");
    for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
        printf("%8.1f", values[w]);
    printf("\none-step UNet PSNR at %d×%d: %.2f dB measured, %.2f dB predicted; uniform (predicted):", size, size,
           r->measured_db, r->predicted_db);
    for (int w = 0; w < PD_RECIPE_WIDTHS - 1; w++)
        printf(" %d b %.2f dB%s", pd_recipe_widths[w], r->uniform_db[w], w < PD_RECIPE_WIDTHS - 2 ? "," : "\n");
    printf("analysis: %lld UNet calls in %.1f s\n", (long long)r->unet_calls, r->seconds);
}

/* Runs the mixed-bit analysis on the source; prints the recipe. */
static int make_recipe(const char *src, const pd_convert_options *o, double target, int size, int every_width,
                       progress_state *ps, pd_recipe **out)
{
    pd_error err;
    pd_model *m;
    if (pd_model_open(src, o->model, &m, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        return 1;
    }
    pd_recipe_options ro;
    pd_recipe_options_init(&ro);
    ro.target_bits = target;
    ro.granularity = o->granularity;
    ro.group_size = o->group_size;
    ro.mode = o->mode;
    ro.size = size;
    ro.every_width = every_width;
    ro.progress = on_recipe_progress;
    ro.progress_user = ps;
    pd_status s = pd_recipe_search(m, &ro, out, &err);
    pd_model_free(m);
    if (ps->tty)
        fputs("\r\033[K", stderr);
    if (s) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        return 1;
    }
    print_recipe(*out, size);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    int bits = 0, recipe_size = 128;
    gboolean every_width = FALSE;
    char *recipe_spec = NULL;
    gint64 group_size = 16;
    char *granularity = NULL, *mode = NULL;
    gboolean quiet = FALSE;
    cli_model_args a = {0};
    GOptionEntry entries[] = {
        {"bits", 'b', 0, G_OPTION_ARG_INT, &bits,
         "bits per index: 8, 6, 4, 3 or 2 (default 6; with --recipe, the text encoder's and VAE's, default "
         "the allowed width nearest the recipe's, rounding up)", "N"},
        {"recipe", 0, 0, G_OPTION_ARG_STRING, &recipe_spec,
         "mixed:B: a width per UNet weight from a sensitivity analysis of this model, B bits on average "
         "(2 to 16; Apple's mixed-bit palettization)", "mixed:B"},
        {"recipe-size", 0, 0, G_OPTION_ARG_INT, &recipe_size,
         "the analysis image's side in pixels (default 128)", "PX"},
        {"recipe-every-width", 0, 0, G_OPTION_ARG_NONE, &every_width,
         "measure each weight at every width, as Apple does (5 times the UNet calls; default: at 4 bits, "
         "scaled to the others)", NULL},
        {"granularity", 0, 0, G_OPTION_ARG_STRING, &granularity,
         "tensor (one palette per weight, the default) or group (one per --group-size output channels)",
         "tensor|group"},
        {"group-size", 0, 0, G_OPTION_ARG_INT64, &group_size,
         "output channels per palette with --granularity group (default 16)", "G"},
        {"mode", 0, 0, G_OPTION_ARG_STRING, &mode,
         "kmeans (optimal 1-D k-means, the default) or uniform (evenly spaced values)", "kmeans|uniform"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress display", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    int status = 2;
    pd_convert_options o;
    pd_convert_options_init(&o);
    if (!cli_parse(&argc, &argv, "SRC DST",
                   "Palettizes every conv/linear weight of a model (diffusers folder or .safetensors\n"
                   "checkpoint) and writes one self-contained .safetensors file with the configs\n"
                   "and the tokenizer inside; `paldiff generate DST` then runs it.",
                   entries, cli_model_entries(&a)))
        goto out;
    if (argc != 3) {
        fprintf(stderr, "usage: paldiff convert [OPTIONS] SRC DST\n");
        goto out;
    }
    double target = 0;
    if (recipe_spec && !(target = parse_recipe(recipe_spec))) {
        fprintf(stderr, "paldiff: --recipe %s: expected mixed:BITS, such as mixed:4.5\n", recipe_spec);
        goto out;
    }
    o.bits = bits ? bits : 6;
    if (!bits && target) { /* the other components: the allowed width at or above the target */
        o.bits = 8;
        for (int b = 8; b >= 2; b--)
            if (pd_palf_bits_ok(b) && b >= target - 1e-9)
                o.bits = b;
    }
    o.group_size = group_size;
    if (granularity && !strcmp(granularity, "group"))
        o.granularity = PD_GRANULARITY_GROUP;
    else if (granularity && strcmp(granularity, "tensor")) {
        fprintf(stderr, "paldiff: --granularity %s: expected tensor or group\n", granularity);
        goto out;
    }
    if (mode && !strcmp(mode, "uniform"))
        o.mode = PD_PAL_UNIFORM;
    else if (mode && strcmp(mode, "kmeans")) {
        fprintf(stderr, "paldiff: --mode %s: expected kmeans or uniform\n", mode);
        goto out;
    }
    pd_model_options mo = {.tokenizer_dir = a.tokenizer, .config_dir = a.config};
    if (a.prediction) {
        if (!strcmp(a.prediction, "epsilon"))
            mo.prediction = PD_PREDICT_EPSILON;
        else if (!strcmp(a.prediction, "v") || !strcmp(a.prediction, "v_prediction"))
            mo.prediction = PD_PREDICT_V;
        else {
            fprintf(stderr, "paldiff: --prediction %s: expected epsilon or v\n", a.prediction);
            goto out;
        }
    }
    o.model = &mo;
    progress_state ps = {.tty = !quiet && isatty(2), .start = g_get_monotonic_time()};
    pd_recipe *recipe = NULL;
    if (target && make_recipe(argv[1], &o, target, recipe_size, every_width, &ps, &recipe)) {
        status = 1;
        goto out;
    }
    o.recipe = recipe;
    pd_error err;
    pd_status s = pd_convert(argv[1], &o, argv[2], on_progress, &ps, &err);
    pd_recipe_free(recipe);
    if (ps.tty)
        fputc('\n', stderr);
    if (s) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        status = 1;
        goto out;
    }
    GStatBuf sb;
    char width[32];
    snprintf(width, sizeof width, target ? "mixed %.2f-bit" : "%.0f-bit", target ? target : o.bits);
    printf("wrote %s (%.1f MB, %s %s %s) in %.1f s\n", argv[2],
           g_stat(argv[2], &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0, width,
           o.granularity == PD_GRANULARITY_GROUP ? "per-group" : "per-tensor",
           o.mode == PD_PAL_UNIFORM ? "uniform" : "k-means",
           (double)(g_get_monotonic_time() - ps.start) / 1e6);
    status = 0;
out:
    g_free(granularity);
    g_free(mode);
    g_free(recipe_spec);
    cli_model_args_clear(&a);
    return status;
}
