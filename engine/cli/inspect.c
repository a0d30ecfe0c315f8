/* inspect.c — `paldiff inspect MODEL`: what a model is, in numbers. */
#include <stdio.h>

#include <glib.h>

#include "cli/cli.h"

static void print_bytes(uint64_t b)
{
    if (b >= (1ull << 30))
        printf("%.2f GiB", (double)b / (1 << 30));
    else
        printf("%.1f MiB", (double)b / (1 << 20));
}

int cmd_inspect(int argc, char **argv)
{
    int status;
    pd_model *m = cli_model_command(&argc, &argv, "MODEL", "Describe a diffusers folder or a single-file checkpoint.",
                                    NULL, 1, &status);
    if (!m)
        return status;
    pd_model_info in;
    pd_model_get_info(m, &in);
    static const char *const dtype_name[PD_WDTYPE_COUNT] = {"F32", "F16", "BF16", "palettized"};
    int sd2 = in.sd_version == 2;
    printf("model:       %s\n", argv[1]);
    printf("layout:      %s\n", in.layout);
    printf("arch:        %s (Stable Diffusion %s%s)\n", in.arch, sd2 ? "2.x" : "1.x",
           in.unet_in_channels == 9 ? ", inpainting UNet with 9 input channels" : "");
    printf("prediction:  %s (%s)\n", in.prediction == PD_PREDICT_V ? "v_prediction" : "epsilon", in.prediction_source);
    printf("text:        %s, width %d, %d layers used\n",
           sd2 ? "OpenCLIP text tower (gelu, penultimate layer)" : "OpenAI CLIP text model (quick_gelu)",
           in.text_width, in.text_layers);
    printf("tokenizer:   %s\n", in.tokenizer_dir ? in.tokenizer_dir
                                                 : "none (give --tokenizer DIR to encode prompts)");
    printf("components:\n");
    for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
        const pd_component_info *ci = &in.components[c];
        printf("  %-13s %5lld tensors %13lld params  ", ci->name, (long long)ci->tensors,
               (long long)ci->params);
        print_bytes(ci->bytes);
        for (int d = 0; d < PD_WDTYPE_COUNT; d++)
            if (ci->params_by_dtype[d])
                printf("  %s %lld", dtype_name[d], (long long)ci->params_by_dtype[d]);
        printf("\n");
    }
    printf("files:\n");
    for (int i = 0; i < in.n_files; i++) {
        printf("  ");
        print_bytes(in.files[i].bytes);
        printf("  %s\n", in.files[i].path);
    }
    pd_model_free(m);
    return 0;
}
