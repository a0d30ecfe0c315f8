/* models.c — which model a command uses when the command line names none
 * (see cli.h): the user's choice if there is one, else paldiff's own demo
 * model, so that a first command ends in an image.
 *
 * The XDG variables are read on every call (GLib's g_get_user_*_dir cache
 * theirs), and, as the XDG spec says, ignored unless absolute. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli/cli.h"
#include "io/demo.h"

/* $var if it is an absolute path, else ~/fallback. */
static char *xdg_dir(const char *var, const char *fallback)
{
    const char *v = g_getenv(var);
    if (v && g_path_is_absolute(v))
        return g_strdup(v);
    return g_build_filename(g_get_home_dir(), fallback, NULL);
}

char *cli_demo_dir(void)
{
    char name[32];
    snprintf(name, sizeof name, "demo-v%d", PD_DEMO_VERSION);
    const char *cache = g_getenv("PALDIFF_CACHE");
    if (cache && *cache)
        return g_build_filename(cache, name, NULL);
    char *root = xdg_dir("XDG_CACHE_HOME", ".cache");
    char *dir = g_build_filename(root, "paldiff", name, NULL);
    g_free(root);
    return dir;
}

char *cli_models_dir(void)
{
    char *data = xdg_dir("XDG_DATA_HOME", ".local/share");
    char *dir = g_build_filename(data, "paldiff", "models", NULL);
    g_free(data);
    return dir;
}

/* The installed default: the entry itself, or what its link points to. */
static char *installed_default(int *failed)
{
    char *models = cli_models_dir();
    char *entry = g_build_filename(models, "default", NULL);
    g_free(models);
    GStatBuf sb;
    char *found = NULL;
    *failed = 0;
    if (g_lstat(entry, &sb) == 0) {
        char *real = realpath(entry, NULL); /* the link's target, so tokenizer/ beside it is found */
        if (!real) {
            fprintf(stderr, "paldiff: %s: %s; point it at a model (a diffusers folder or a .safetensors "
                    "file), or remove it to use the demo model\n", entry,
                    errno == ENOENT ? "a link to nothing" : g_strerror(errno));
            *failed = 1;
        } else {
            found = g_strdup(real);
            free(real);
        }
    }
    g_free(entry);
    return found;
}

char *cli_default_model(int *is_demo)
{
    *is_demo = 0;
    const char *env = g_getenv("PALDIFF_MODEL");
    if (env && *env) {
        if (g_file_test(env, G_FILE_TEST_EXISTS))
            return g_strdup(env);
        fprintf(stderr, "paldiff: PALDIFF_MODEL=%s: no such file or folder; set it to a model, or unset "
                "it to use the default one\n", env);
        return NULL;
    }
    int failed;
    char *installed = installed_default(&failed);
    if (installed || failed)
        return installed;

    char *demo = cli_demo_dir();
    if (!pd_demo_model_present(demo)) {
        fprintf(stderr, "paldiff: no model given or installed; writing the demo model to %s (once, a few "
                "MB). Its weights are random: what it draws is noise-like art, not a trained model's "
                "picture.\n", demo);
        pd_error err;
        if (pd_demo_model_write(demo, &err)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            g_free(demo);
            return NULL;
        }
    }
    *is_demo = 1;
    return demo;
}
