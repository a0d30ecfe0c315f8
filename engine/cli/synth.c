/* synth.c — `paldiff synth SHAPES OUT`: a full-size model with made-up weights. */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "cli/cli.h"
#include "io/synth.h"

int cmd_synth(int argc, char **argv)
{
    char *layout = NULL, *dtype = NULL, *random = NULL;
    gint64 seed = 1;
    GOptionEntry e[] = {
        {"layout", 0, 0, G_OPTION_ARG_STRING, &layout, "diffusers (a folder, default) or original (one file)", "L"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype, "F32 (default) or F16", "T"},
        {"random", 0, 0, G_OPTION_ARG_STRING, &random,
         "components with random weights: any of text,unet,vae (default all); the others read as zeros "
         "and take no disk space", "LIST"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the random weights (default 1)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    if (!cli_parse(&argc, &argv, "SHAPES.json OUT",
                   "Write a model with every tensor of a golden/shapes manifest, for benchmarks "
                   "and tests (no trained weights are needed).", e, NULL))
        return 2;
    if (argc != 3) {
        fprintf(stderr, "usage: paldiff synth [OPTIONS] SHAPES.json OUT\n");
        return 2;
    }
    pd_synth_options o = {.layout = PD_LAYOUT_DIFFUSERS, .dtype = PD_ST_F32, .seed = (uint64_t)seed};
    int bad = 0;
    if (layout && !strcmp(layout, "original"))
        o.layout = PD_LAYOUT_ORIGINAL;
    else if (layout && strcmp(layout, "diffusers"))
        bad = fprintf(stderr, "paldiff: --layout %s: expected diffusers or original\n", layout);
    if (dtype && !strcmp(dtype, "F16"))
        o.dtype = PD_ST_F16;
    else if (dtype && strcmp(dtype, "F32"))
        bad = fprintf(stderr, "paldiff: --dtype %s: expected F32 or F16\n", dtype);
    static const char *const names[PD_COMPONENT_COUNT] = {"text", "unet", "vae"};
    char **parts = g_strsplit(random ? random : "text,unet,vae", ",", -1);
    for (char **p = parts; *p && !bad; p++) {
        int found = 0;
        for (int c = 0; c < PD_COMPONENT_COUNT; c++)
            if (!strcmp(*p, names[c]))
                found = o.random[c] = 1;
        if (!found && **p)
            bad = fprintf(stderr, "paldiff: --random: unknown component '%s' (text, unet, vae)\n", *p);
    }
    g_strfreev(parts);
    g_free(layout);
    g_free(dtype);
    g_free(random);
    if (bad)
        return 2;
    pd_error err;
    if (pd_synth_model(argv[1], argv[2], &o, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        return 1;
    }
    printf("wrote %s\n", argv[2]);
    return 0;
}
