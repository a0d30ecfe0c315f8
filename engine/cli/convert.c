/* convert.c — `paldiff convert SRC DST`: palettize a model into one file
 * (engine/convert/convert.h, docs/palettized-format.md). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli/cli.h"
#include "convert/convert.h"

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

int cmd_convert(int argc, char **argv)
{
    int bits = 6;
    gint64 group_size = 16;
    char *granularity = NULL, *mode = NULL;
    gboolean quiet = FALSE;
    cli_model_args a = {0};
    GOptionEntry entries[] = {
        {"bits", 'b', 0, G_OPTION_ARG_INT, &bits, "bits per index: 8, 6, 4, 3 or 2 (default 6)", "N"},
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
    o.bits = bits;
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
    pd_error err;
    pd_status s = pd_convert(argv[1], &o, argv[2], on_progress, &ps, &err);
    if (ps.tty)
        fputc('\n', stderr);
    if (s) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        status = 1;
        goto out;
    }
    GStatBuf sb;
    printf("wrote %s (%.1f MB, %d-bit %s %s) in %.1f s\n", argv[2],
           g_stat(argv[2], &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0, o.bits,
           o.granularity == PD_GRANULARITY_GROUP ? "per-group" : "per-tensor",
           o.mode == PD_PAL_UNIFORM ? "uniform" : "k-means",
           (double)(g_get_monotonic_time() - ps.start) / 1e6);
    status = 0;
out:
    g_free(granularity);
    g_free(mode);
    cli_model_args_clear(&a);
    return status;
}
