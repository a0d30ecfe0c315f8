/* demo_model.c — `paldiff demo-model [DIR]`: write the demo model (io/demo.h). */
#include <stdio.h>

#include <glib.h>

#include "cli/cli.h"
#include "io/demo.h"

int cmd_demo_model(int argc, char **argv)
{
    if (!cli_parse(&argc, &argv, "[DIR]",
                   "Write paldiff's demo model: a tiny Stable Diffusion 1.x diffusers folder with random "
                   "weights, so that everything runs without a download. Its images are noise-like art, "
                   "not a trained model's. DIR defaults to the cache folder that commands fall back to "
                   "when no model is given or installed.", NULL, NULL))
        return 2;
    if (argc > 2) {
        fprintf(stderr, "usage: paldiff demo-model [DIR]\n");
        return 2;
    }
    char *dir = argc == 2 ? g_strdup(argv[1]) : cli_demo_dir();
    int had = pd_demo_model_present(dir);
    pd_error err;
    int status = 0;
    if (!had && pd_demo_model_write(dir, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        status = 1;
    } else {
        printf("%s the demo model (version %d) at %s\n"
               "Its weights are random: it draws noise-like art, not a trained model's pictures.\n",
               had ? "found" : "wrote", PD_DEMO_VERSION, dir);
    }
    g_free(dir);
    return status;
}
