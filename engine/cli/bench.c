/* bench.c — `paldiff bench text`: timings on full-size random weights.
 *
 * The model is built once from golden/shapes/<arch>.json (random text
 * encoder; the UNet and VAE are sparse zeros) and cached outside the
 * checkout, under $PALDIFF_CACHE or the user cache folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <glib.h>

#include "cli/cli.h"
#include "io/model.h"
#include "io/synth.h"
#include "kernels/cpu.h"
#include "kernels/pool.h"

static char *bench_model(const char *arch, const char *shapes, pd_st_dtype dtype)
{
    const char *cache = getenv("PALDIFF_CACHE");
    char *dir = g_strdup_printf("%s/bench/%s-text-%s-v1", cache && *cache ? cache : g_get_user_cache_dir(),
                                arch, pd_st_dtype_name(dtype));
    if (cache == NULL || !*cache) { /* g_get_user_cache_dir has no paldiff component */
        char *d = g_strdup_printf("%s/paldiff/bench/%s-text-%s-v1", g_get_user_cache_dir(), arch,
                                  pd_st_dtype_name(dtype));
        g_free(dir);
        dir = d;
    }
    char *done = g_build_filename(dir, ".complete", NULL);
    if (!g_file_test(done, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "building %s from %s (once) ...\n", dir, shapes);
        pd_synth_options o = {.layout = PD_LAYOUT_DIFFUSERS, .dtype = dtype, .random = {1, 0, 0}, .seed = 1};
        pd_error err;
        if (pd_synth_model(shapes, dir, &o, &err) ||
            !g_file_set_contents(done, "", 0, NULL)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            g_free(done);
            g_free(dir);
            return NULL;
        }
    }
    g_free(done);
    return dir;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv)
{
    char *arch = NULL, *shapes = NULL, *dtype = NULL;
    int threads = 0, repeat = 5;
    GOptionEntry e[] = {
        {"arch", 0, 0, G_OPTION_ARG_STRING, &arch, "sd15 (default) or sd21", "A"},
        {"shapes", 0, 0, G_OPTION_ARG_FILENAME, &shapes,
         "shape manifest (default: $PALDIFF_GOLDEN/shapes/ARCH.json)", "FILE"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype, "weights: F32 (default) or F16", "T"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default: PALDIFF_THREADS or all cores)", "N"},
        {"repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "timed runs after one warm-up (default 5)", "R"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    if (!cli_parse(&argc, &argv, "text",
                   "Time the text encoder on full-size random weights (one prompt, 77 tokens).", e, NULL))
        return 2;
    if (argc != 2 || strcmp(argv[1], "text") || repeat < 1 || threads < 0) {
        fprintf(stderr, "usage: paldiff bench text [--arch sd15|sd21] [--dtype F32|F16] [--threads N] [--repeat R]\n");
        return 2;
    }
    const char *a = arch ? arch : "sd15";
    if (threads) {
        char n[16];
        snprintf(n, sizeof n, "%d", threads);
        setenv("PALDIFF_THREADS", n, 1);
    }
    char *man = shapes ? g_strdup(shapes) : NULL;
    if (!man) {
        const char *g = getenv("PALDIFF_GOLDEN");
        man = g_strdup_printf("%s/shapes/%s.json", g && *g ? g : "../shared/golden", a);
    }
    pd_st_dtype dt = dtype && !strcmp(dtype, "F16") ? PD_ST_F16 : PD_ST_F32;
    char *dir = bench_model(a, man, dt);
    int rc = 1;
    pd_model *m = NULL;
    if (dir && (m = cli_open_model(dir, &(cli_model_args){0}))) {
        const pd_clip_config *c = &m->text_cfg;
        int32_t ids[PD_TOKENS];
        for (int i = 0; i < PD_TOKENS; i++) /* a plausible prompt: BOS, words, EOS, padding */
            ids[i] = i == 0 ? 49406 : i < 12 ? 320 + 37 * i : 49407;
        pd_embedding emb;
        pd_error err;
        double *t = g_new(double, repeat);
        rc = 0;
        for (int r = -1; r < repeat && !rc; r++) {
            gint64 t0 = g_get_monotonic_time();
            rc = pd_encode_ids(m, ids, PD_CLIP_SKIP_NONE, &emb, &err) ? 1 : 0;
            if (r >= 0)
                t[r] = (double)(g_get_monotonic_time() - t0) / 1e6;
            pd_embedding_free(&emb);
        }
        if (rc) {
            fprintf(stderr, "paldiff: %s\n", err.message);
        } else {
            qsort(t, (size_t)repeat, sizeof *t, cmp_double);
            double T = PD_TOKENS, D = c->width, I = c->intermediate;
            double flops = c->run_layers * (2 * T * (4 * D * D + 2 * D * I) + 4 * T * T * D);
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            printf("bench text: %s, %s weights, width %d, %d layers, %d threads, %s kernels\n", a,
                   pd_st_dtype_name(dt), c->width, c->run_layers, pd_threads(), pd_isa_name(pd_cpu_isa()));
            printf("  encode 77 tokens: median %.4f s, best %.4f s over %d runs\n", t[repeat / 2], t[0], repeat);
            printf("  %.1f GFLOP per encode, %.1f GFLOP/s (median)\n", flops / 1e9, flops / 1e9 / t[repeat / 2]);
            printf("  peak RSS %.0f MiB\n", (double)ru.ru_maxrss / 1024);
        }
        g_free(t);
        pd_model_free(m);
    }
    g_free(dir);
    g_free(man);
    g_free(arch);
    g_free(shapes);
    g_free(dtype);
    return rc;
}
