/* eval.c — `paldiff eval REF TEST...`: how far each TEST model's outputs
 * drift from REF's, per component, in dB (engine/eval/eval.h). */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include <glib.h>

#include "cli/cli.h"
#include "eval/eval.h"

static void on_progress(const char *stage, void *user)
{
    if (*(const int *)user)
        fprintf(stderr, "\r%-60s", stage);
}

static void print_db(double db)
{
    if (isnan(db))
        printf(" %14s", "nan");
    else if (isinf(db))
        printf(" %14s", db > 0 ? "inf" : "-inf");
    else
        printf(" %14.2f", db);
}

static double model_mb(const pd_model *m)
{
    pd_model_info in;
    pd_model_get_info(m, &in);
    uint64_t bytes = 0;
    for (int i = 0; i < in.n_files; i++)
        bytes += in.files[i].bytes;
    return (double)bytes / 1e6;
}

int cmd_eval(int argc, char **argv)
{
    pd_eval_options o;
    pd_eval_options_init(&o);
    double guidance = o.guidance, timestep = o.timestep;
    gboolean quiet = FALSE;
    cli_model_args a = {0};
    GOptionEntry entries[] = {
        {"width", 'W', 0, G_OPTION_ARG_INT, &o.width, "image width, a multiple of 8 (default 256)", "W"},
        {"height", 'H', 0, G_OPTION_ARG_INT, &o.height, "image height, a multiple of 8 (default 256)", "H"},
        {"steps", 's', 0, G_OPTION_ARG_INT, &o.steps, "denoising steps of the final images (default 10)", "N"},
        {"guidance", 'g', 0, G_OPTION_ARG_DOUBLE, &guidance, "classifier-free guidance (default 7.5)", "G"},
        {"timestep", 0, 0, G_OPTION_ARG_DOUBLE, &timestep, "timestep of the one-step UNet call (default 999)", "T"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress display", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    int status = 2;
    pd_model *ref = NULL, **tests = NULL;
    pd_eval_ref *er = NULL;
    if (!cli_parse(&argc, &argv, "REF TEST...",
                   "Measures how far each TEST model (e.g. a palettized conversion of REF) drifts from\n"
                   "REF: PSNR in dB = 20·log10(max|REF output| / RMSE) of the text encoder, one UNet\n"
                   "call and the VAE decoder (each fed the same inputs in both models) and of the\n"
                   "final txt2img images, over built-in prompts and seeds. inf: identical outputs.\n"
                   "Model options apply to every model.",
                   entries, cli_model_entries(&a)))
        goto out;
    if (argc < 3) {
        fprintf(stderr, "usage: paldiff eval [OPTIONS] REF TEST...\n");
        goto out;
    }
    o.guidance = (float)guidance;
    o.timestep = (float)timestep;
    int tty = !quiet && isatty(2);
    o.progress = on_progress;
    o.progress_user = &tty;
    /* every model is opened and checked before the reference's long run */
    status = 1;
    int n_tests = argc - 2;
    tests = g_new0(pd_model *, n_tests);
    pd_error err;
    if (!(ref = cli_open_model(argv[1], &a)))
        goto out;
    for (int t = 0; t < n_tests; t++) {
        if (!(tests[t] = cli_open_model(argv[t + 2], &a)))
            goto out;
        if (pd_eval_check_models(ref, tests[t], &err)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            goto out;
        }
    }
    if (pd_eval_reference(ref, &o, &er, &err)) {
        fprintf(stderr, "%spaldiff: %s\n", tty ? "\n" : "", err.message);
        status = err.status == PD_E_ARG ? 2 : 1;
        goto out;
    }
    if (tty)
        fprintf(stderr, "\r%-60s\r", "");
    pd_model_info in;
    pd_model_get_info(ref, &in);
    printf("reference: %s (%s, %.1f MB)\n", argv[1], in.arch, model_mb(ref));
    printf("cases: %d prompts × %d seeds, %d×%d, %d steps, guidance %g; UNet: one call at t=%g on the %s\n",
           o.n_prompts, o.n_seeds, o.width, o.height, o.steps, guidance, timestep,
           guidance > 1 ? "guidance batch [unconditional, conditional]" : "conditional row");
    printf("PSNR in dB (20·log10(max|ref| / RMSE) over all elements of all cases; inf: identical)\n\n");
    printf("%-32s %10s", "model", "MB");
    for (int c = 0; c < PD_EVAL_COUNT; c++)
        printf(" %14s", pd_eval_component_name(c));
    printf(" %9s\n", "seconds");
    status = 0;
    for (int t = 0; t < n_tests; t++) {
        pd_eval_result res;
        if (pd_eval_compare(er, tests[t], &res, &err)) {
            fprintf(stderr, "%spaldiff: %s\n", tty ? "\n" : "", err.message);
            status = 1;
            continue;
        }
        if (tty)
            fprintf(stderr, "\r%-60s\r", "");
        char *base = g_path_get_basename(argv[t + 2]);
        printf("%-32s %10.1f", base, model_mb(tests[t]));
        g_free(base);
        for (int c = 0; c < PD_EVAL_COUNT; c++)
            print_db(pd_psnr_db(&res.psnr[c]));
        printf(" %9.1f\n", res.seconds);
        fflush(stdout);
        g_clear_pointer(&tests[t], pd_model_free);
    }
out:
    pd_eval_ref_free(er);
    for (int t = 0; tests && t < argc - 2; t++)
        pd_model_free(tests[t]);
    g_free(tests);
    pd_model_free(ref);
    cli_model_args_clear(&a);
    return status;
}
