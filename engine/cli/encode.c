/* encode.c — `paldiff encode-prompt MODEL TEXT`: the conditioning, for debugging. */
#include <stdio.h>

#include <glib.h>

#include "cli/cli.h"

/* FNV-1a over the float bits: equal checksums mean bit-identical embeddings. */
static uint64_t checksum(const float *x, size_t n)
{
    const unsigned char *p = (const unsigned char *)x;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n * sizeof(float); i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int cmd_encode_prompt(int argc, char **argv)
{
    int clip_skip = PD_CLIP_SKIP_NONE;
    GOptionEntry more[] = {
        {"clip-skip", 0, 0, G_OPTION_ARG_INT, &clip_skip,
         "stop this many layers before the last (diffusers' clip_skip)", "K"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    int status;
    pd_model *m = cli_model_command(&argc, &argv, "MODEL TEXT", "Tokenize and encode a prompt as the UNet sees it.",
                                    more, 2, &status);
    if (!m)
        return status;
    pd_embedding e;
    pd_error err;
    gint64 t0 = g_get_monotonic_time();
    if (pd_encode_prompt(m, argv[2], clip_skip, &e, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        pd_model_free(m);
        return 1;
    }
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    printf("ids:");
    int last = PD_TOKENS - 1; /* the trailing run of padding is summarized */
    while (last > 0 && e.ids[last - 1] == e.ids[PD_TOKENS - 1])
        last--;
    for (int i = 0; i < last; i++)
        printf(" %d", e.ids[i]);
    printf(" + %d × %d", PD_TOKENS - last, e.ids[PD_TOKENS - 1]);
    size_t n = (size_t)e.tokens * (size_t)e.width;
    double sum = 0, abs = 0;
    for (size_t i = 0; i < n; i++) {
        sum += e.data[i];
        abs += e.data[i] < 0 ? -e.data[i] : e.data[i];
    }
    printf("\nembedding: [1, %d, %d] float32\n", e.tokens, e.width);
    printf("checksum:  fnv1a64 %016llx  sum %.6f  mean|x| %.6f\n", (unsigned long long)checksum(e.data, n),
           sum, abs / (double)n);
    printf("time:      %.3f s\n", secs);
    pd_embedding_free(&e);
    pd_model_free(m);
    return 0;
}
