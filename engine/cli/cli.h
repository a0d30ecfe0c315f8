/* cli.h — the `paldiff` command's subcommands and what they share.
 * Each command parses its own options (GOptionContext) and returns the
 * process exit status: 0 success, 1 failure (message on stderr), 2 usage. */
#ifndef PD_CLI_H
#define PD_CLI_H

#include "paldiff.h"

int cmd_inspect(int argc, char **argv);
int cmd_encode_prompt(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo_model(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Options every model-opening command takes. */
typedef struct cli_model_args {
    char *tokenizer, *config, *prediction;
} cli_model_args;

/* Frees the strings option parsing filled in. */
void cli_model_args_clear(cli_model_args *a);
/* GOptionEntry rows for cli_model_args (static storage, NULL-terminated). */
const void *cli_model_entries(cli_model_args *a);
/* Opens MODEL with those options; prints the error and returns NULL on failure. */
pd_model *cli_open_model(const char *path, const cli_model_args *a);

/* A command on one model: parses the model options plus `more`, checks for
 * nargs positional arguments (argv[1] the model) and opens the model. On
 * failure prints why and returns NULL with *status 2 (usage) or 1. */
pd_model *cli_model_command(int *argc, char ***argv, const char *params, const char *summary,
                            const void *more, int nargs, int *status);

/* The model to use when the command line names none (models.c):
 * $PALDIFF_MODEL if set; else $XDG_DATA_HOME/paldiff/models/default
 * (~/.local/share/...: a diffusers folder, a .safetensors file, or a link to
 * either, resolved so that a tokenizer/ beside the file is found); else the
 * demo model (io/demo.h) in cli_demo_dir(), written on first use with a note
 * on stderr. Returns the path (g_free it) and sets *is_demo; NULL, with the
 * reason on stderr, when the named model is missing or cannot be written. */
char *cli_default_model(int *is_demo);
/* paldiff's model folder: $XDG_DATA_HOME/paldiff/models, else
 * ~/.local/share/paldiff/models (it may not exist). Its entry "default" is
 * the installed default; the plug-in's model chooser lists all of them.
 * g_free it. */
char *cli_models_dir(void);
/* Where the demo model lives: $PALDIFF_CACHE/demo-vN, else
 * $XDG_CACHE_HOME/paldiff/demo-vN (~/.cache/paldiff/...). g_free it. */
char *cli_demo_dir(void);

/* Parses argv with the entries; prints usage and returns 0 on failure. */
int cli_parse(int *argc, char ***argv, const char *params, const char *summary,
              const void *entries, const void *more_entries);

#endif
