/* main.c — `paldiff`: the engine on the command line. */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "cli/cli.h"
#include "error.h"

static const struct {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"generate", "generate images from a prompt (txt2img), an init image (img2img) or a mask (inpaint)", cmd_generate},
    {"convert", "palettize a model's weights (2 to 8 bits) into one self-contained file", cmd_convert},
    {"eval", "measure how far models drift from a reference: PSNR per component, in dB", cmd_eval},
    {"inspect", "describe a model: architecture, prediction type, parameters, dtypes, files", cmd_inspect},
    {"encode-prompt", "tokenize and encode a prompt; print the ids, the shape and a checksum", cmd_encode_prompt},
    {"synth", "write a full-size model with made-up weights from a shape manifest", cmd_synth},
    {"bench", "time a component on full-size random weights (text)", cmd_bench},
    {"demo-model", "write the tiny demo model (random weights) and print where", cmd_demo_model},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: paldiff COMMAND [OPTIONS] ...\n\ncommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'paldiff COMMAND --help' describes a command's options.\n"
               "Environment: PALDIFF_THREADS (threads; default all cores), "
               "PALDIFF_ISA (ref, avx2, avx512: cap the kernels' instruction set).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("paldiff 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "paldiff: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/* ---- shared by the commands ------------------------------------------------ */

const void *cli_model_entries(cli_model_args *a)
{
    static GOptionEntry e[4];
    GOptionEntry rows[] = {
        {"tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &a->tokenizer,
         "tokenizer folder (vocab.json, merges.txt) for a single-file checkpoint", "DIR"},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &a->config,
         "diffusers folder whose config.json files give hyper-parameters a single file cannot tell", "DIR"},
        {"prediction", 0, 0, G_OPTION_ARG_STRING, &a->prediction,
         "epsilon or v: how the model was trained (single files don't say)", "TYPE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    memcpy(e, rows, sizeof rows);
    return e;
}

void cli_model_args_clear(cli_model_args *a)
{
    g_clear_pointer(&a->tokenizer, g_free);
    g_clear_pointer(&a->config, g_free);
    g_clear_pointer(&a->prediction, g_free);
}

pd_model *cli_open_model(const char *path, const cli_model_args *a)
{
    pd_model_options o = {.tokenizer_dir = a->tokenizer, .config_dir = a->config};
    if (a->prediction) {
        if (!strcmp(a->prediction, "epsilon"))
            o.prediction = PD_PREDICT_EPSILON;
        else if (!strcmp(a->prediction, "v") || !strcmp(a->prediction, "v_prediction"))
            o.prediction = PD_PREDICT_V;
        else {
            fprintf(stderr, "paldiff: --prediction %s: expected epsilon or v\n", a->prediction);
            return NULL;
        }
    }
    pd_model *m;
    pd_error err;
    if (pd_model_open(path, &o, &m, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        return NULL;
    }
    return m;
}

pd_model *cli_model_command(int *argc, char ***argv, const char *params, const char *summary,
                            const void *more, int nargs, int *status)
{
    cli_model_args a = {0};
    const char *name = (*argv)[0];
    pd_model *m = NULL;
    *status = 2;
    if (cli_parse(argc, argv, params, summary, cli_model_entries(&a), more)) {
        if (*argc != nargs + 1)
            fprintf(stderr, "usage: paldiff %s [OPTIONS] %s\n", name, params);
        else if (!(m = cli_open_model((*argv)[1], &a)))
            *status = 1;
    }
    cli_model_args_clear(&a);
    return m;
}

int cli_parse(int *argc, char ***argv, const char *params, const char *summary,
              const void *entries, const void *more_entries)
{
    char *prg = g_strdup_printf("paldiff %s", (*argv)[0]);
    g_set_prgname(prg);
    g_free(prg);
    GOptionContext *ctx = g_option_context_new(params);
    g_option_context_set_summary(ctx, summary);
    if (entries)
        g_option_context_add_main_entries(ctx, entries, NULL);
    if (more_entries)
        g_option_context_add_main_entries(ctx, more_entries, NULL);
    GError *gerr = NULL;
    int ok = g_option_context_parse(ctx, argc, argv, &gerr);
    if (!ok) {
        fprintf(stderr, "paldiff: %s\n", gerr->message);
        g_error_free(gerr);
    }
    g_option_context_free(ctx);
    return ok;
}
