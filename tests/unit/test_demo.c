/* test_demo.c — the demo model (io/demo.h): written, it opens as SD 1.x,
 * tokenizes byte by byte, runs every component with finite, well-scaled
 * values, and is the same bytes every time; plus the folder rules (atomic,
 * kept when complete, never over a user's folder) and the CLI's default-model
 * lookup (cli/models.c), which needs no golden data. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli/cli.h"
#include "io/demo.h"
#include "io/model.h"
#include "io/synth.h"
#include "models/unet.h"
#include "models/vae.h"
#include "paldiff.h"
#include "sched/rng.h"
#include "text/tokenizer.h"

/* SHA-256 of the three weight files, in the order text, UNet, VAE, each
 * digest followed by a newline. A change here changes the folder: bump
 * PD_DEMO_VERSION with it, so that caches written before are not taken
 * for the new model. */
static const char WEIGHTS_SHA256[] = "6ecee46b695e22b6e5ce2cec0506fd34201a9bb6f072a82492e28412f08f1731";

static const char *const weight_files[] = {
    "text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors"};

static char *tmp;

/* The id CLIP's byte-level vocabulary gives `byte`: printable bytes first,
 * in order, then the others; the word-final copies follow at 256. */
static int32_t byte_id(unsigned byte, int end)
{
    int printable[256], id = 0, ids[256];
    for (int b = 0; b < 256; b++)
        printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++)
            if (printable[b] == !pass)
                ids[b] = id++;
    return ids[byte] + (end ? 256 : 0);
}

/* Appends the ids of one pre-token (its bytes, the last word-final). */
static void expect_word(int32_t *want, int *n, const char *word)
{
    size_t len = strlen(word);
    for (size_t i = 0; i < len; i++)
        want[(*n)++] = byte_id((unsigned char)word[i], i + 1 == len);
}

static void test_tokenizer(const pd_model *m)
{
    CHECK(m->tokenizer != NULL);
    if (!m->tokenizer)
        return;
    CHECK(pd_tokenizer_vocab_size(m->tokenizer) == 514);
    CHECK(pd_tokenizer_bos(m->tokenizer) == 512 && pd_tokenizer_eos(m->tokenizer) == 513);
    CHECK(pd_tokenizer_pad(m->tokenizer) == 513);

    /* Lower-cased, split by CLIP's pattern, one token per UTF-8 byte. */
    int32_t ids[PD_TOKENS], want[PD_TOKENS];
    pd_error err;
    pd_status st = pd_tokenize(m, "Crème BRÛLÉE, 🦊 42", ids, &err);
    CHECK_MSG(st == PD_OK, "tokenize: %s", err.message);
    int n = 0;
    want[n++] = 512;
    const char *words[] = {"crème", "brûlée", ",", "🦊", "4", "2"};
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
        expect_word(want, &n, words[i]);
    want[n++] = 513;
    while (n < PD_TOKENS)
        want[n++] = 513;
    int same = 1;
    for (int i = 0; i < PD_TOKENS; i++)
        if (ids[i] != want[i]) {
            CHECK_MSG(0, "token %d: %d, want %d", i, ids[i], want[i]);
            same = 0;
            break;
        }
    CHECK(same);
    CHECK(ids[1] == byte_id('c', 0) && ids[3] == byte_id(0xC3, 0) && ids[4] == byte_id(0xA8, 0));

    /* 100 bytes: the first 75 are kept, then EOS (no padding left). */
    char long_prompt[101];
    memset(long_prompt, 'x', 100);
    long_prompt[100] = '\0';
    CHECK(pd_tokenize(m, long_prompt, ids, &err) == PD_OK);
    CHECK(ids[0] == 512 && ids[1] == byte_id('x', 0) && ids[75] == byte_id('x', 0) && ids[76] == 513);
    /* The special strings keep their ids. */
    CHECK(pd_tokenize(m, "a<|endoftext|>", ids, &err) == PD_OK);
    CHECK(ids[1] == byte_id('a', 1) && ids[2] == 513 && ids[3] == 513);
}

static void stats(const float *x, size_t n, double *mean, double *sd, int *finite)
{
    double s = 0, s2 = 0;
    *finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            *finite = 0;
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    *mean = s / (double)n;
    *sd = sqrt(fmax(s2 / (double)n - *mean * *mean, 0));
}

static void test_components(const pd_model *m)
{
    pd_error err;
    pd_embedding cond = {0}, uncond = {0};
    pd_status st = pd_encode_prompt(m, "a red fox in the snow", PD_CLIP_SKIP_NONE, &cond, &err);
    CHECK_MSG(st == PD_OK, "encode: %s", err.message);
    st = pd_encode_prompt(m, "", PD_CLIP_SKIP_NONE, &uncond, &err);
    CHECK_MSG(st == PD_OK, "encode \"\": %s", err.message);
    if (!cond.data || !uncond.data)
        goto out;
    CHECK(cond.tokens == PD_TOKENS && cond.width == 64);
    double mean, sd;
    int finite;
    stats(cond.data, (size_t)PD_TOKENS * 64, &mean, &sd, &finite);
    CHECK_MSG(finite && fabs(mean) < 0.1 && sd > 0.9 && sd < 1.1, "embedding: mean %g, sd %g", mean, sd);

    /* One CFG step: batch 2 (unconditional, conditional) at 32×32 latents. */
    pd_unet *unet = NULL;
    st = pd_unet_load(m, &unet, &err);
    CHECK_MSG(st == PD_OK, "UNet: %s", err.message);
    if (!unet)
        goto out;
    const pd_unet_config *uc = pd_unet_get_config(unet);
    CHECK(uc->in_channels == 4 && uc->out_channels == 4 && uc->blocks == 4 && uc->groups == 8);
    CHECK(uc->block_channels[0] == 32 && uc->block_channels[3] == 64 && uc->cross_dim == 64);
    CHECK(uc->heads[0] == 4 && !uc->linear_proj && uc->down_attn[0] && !uc->down_attn[3] && !uc->up_attn[0]);
    enum { H = 32, W = 32, C = 4 };
    const size_t n = (size_t)2 * H * W * C;
    float *latents = g_new(float, n), *out = g_new(float, n);
    float *context = g_new(float, (size_t)2 * PD_TOKENS * 64);
    memcpy(context, uncond.data, sizeof(float) * PD_TOKENS * 64);
    memcpy(context + PD_TOKENS * 64, cond.data, sizeof(float) * PD_TOKENS * 64);
    pd_rng rng;
    pd_rng_seed(&rng, 0);
    pd_rng_randn(&rng, latents, (int64_t)n / 2);
    memcpy(latents + n / 2, latents, sizeof(float) * n / 2);
    pd_unet_forward(unet, 2, H, W, latents, 999.0f, context, PD_TOKENS, out, &err); /* warm-up */
    gint64 t0 = g_get_monotonic_time();
    st = pd_unet_forward(unet, 2, H, W, latents, 999.0f, context, PD_TOKENS, out, &err);
    double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
    CHECK_MSG(st == PD_OK, "UNet forward: %s", err.message);
    stats(out, n, &mean, &sd, &finite);
    printf("UNet, batch 2 at 32x32 latents: %.1f ms; output mean %.3f, sd %.3f\n", ms, mean, sd);
    CHECK_MSG(finite && sd > 0.05 && sd < 10, "UNet output: mean %g, sd %g", mean, sd);
    /* The prompt matters: the two rows differ. */
    double diff = 0;
    for (size_t i = 0; i < n / 2; i++)
        diff += fabs(out[i] - out[n / 2 + i]);
    CHECK_MSG(diff / (double)(n / 2) > 1e-3, "conditional and unconditional rows are alike (%g)",
              diff / (double)(n / 2));
    pd_unet_free(unet);

    /* Decode one latent to a 256×256 image. */
    pd_vae *vae = NULL;
    st = pd_vae_load(m, &vae, &err);
    CHECK_MSG(st == PD_OK, "VAE: %s", err.message);
    if (vae) {
        const pd_vae_config *vc = pd_vae_get_config(vae);
        CHECK(vc->blocks == 4 && vc->block_channels[0] == 16 && vc->groups == 8 && vc->latent_channels == 4);
        float *img = g_new(float, (size_t)8 * H * 8 * W * 3);
        t0 = g_get_monotonic_time();
        st = pd_vae_decode(vae, 1, H, W, latents, img, &err);
        ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
        CHECK_MSG(st == PD_OK, "VAE decode: %s", err.message);
        stats(img, (size_t)8 * H * 8 * W * 3, &mean, &sd, &finite);
        printf("VAE decode, 256x256: %.1f ms; pixels mean %.3f, sd %.3f\n", ms, mean, sd);
        CHECK_MSG(finite && fabs(mean) < 1 && sd > 0.05 && sd < 2, "VAE output: mean %g, sd %g", mean, sd);
        g_free(img);
        pd_vae_free(vae);
    }
    g_free(latents);
    g_free(out);
    g_free(context);
out:
    pd_embedding_free(&cond);
    pd_embedding_free(&uncond);
}

static char *file_sha256(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL), *data = NULL;
    gsize len = 0;
    char *sum = NULL;
    if (g_file_get_contents(path, &data, &len, NULL))
        sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
    g_free(data);
    g_free(path);
    return sum;
}

/* Every file of a against b, by checksum (b's listing must be the same). */
static void expect_same_tree(const char *a, const char *b, const char *rel)
{
    char *da = g_build_filename(a, rel, NULL), *db = g_build_filename(b, rel, NULL);
    GDir *d = g_dir_open(da, 0, NULL);
    const char *name;
    int files = 0;
    while (d && (name = g_dir_read_name(d))) {
        char *r = g_build_filename(rel, name, NULL), *p = g_build_filename(a, r, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            expect_same_tree(a, b, r);
        } else {
            char *x = file_sha256(a, r), *y = file_sha256(b, r);
            CHECK_MSG(x && y && !strcmp(x, y), "%s differs between two writes", r);
            g_free(x);
            g_free(y);
            files++;
        }
        g_free(p);
        g_free(r);
    }
    if (d)
        g_dir_close(d);
    CHECK_MSG(files > 0 || *rel, "%s: no files", da);
    g_free(da);
    g_free(db);
}

static int count_leftovers(void)
{
    GDir *d = g_dir_open(tmp, 0, NULL);
    const char *name;
    int n = 0;
    while (d && (name = g_dir_read_name(d)))
        n += strstr(name, ".tmp-") != NULL;
    if (d)
        g_dir_close(d);
    return n;
}

static void test_folder(const char *first)
{
    pd_error err;
    /* Twice, the same bytes; and the same as every other machine's. */
    char *second = g_build_filename(tmp, "again", NULL);
    pd_status st = pd_demo_model_write(second, &err);
    CHECK_MSG(st == PD_OK, "second write: %s", err.message);
    expect_same_tree(first, second, "");
    GString *sums = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(weight_files); i++) {
        char *s = file_sha256(first, weight_files[i]);
        g_string_append_printf(sums, "%s\n", s ? s : "missing");
        g_free(s);
    }
    char *all = g_compute_checksum_for_string(G_CHECKSUM_SHA256, sums->str, -1);
    CHECK_MSG(!strcmp(all, WEIGHTS_SHA256), "the weights' checksum is %s, was %s: see WEIGHTS_SHA256",
              all, WEIGHTS_SHA256);
    printf("weights:\n%s", sums->str);
    g_free(all);
    g_string_free(sums, TRUE);

    /* A complete folder is kept as it is. */
    char *readme = g_build_filename(first, "README.txt", NULL);
    g_file_set_contents(readme, "touched", -1, NULL);
    CHECK(pd_demo_model_write(first, &err) == PD_OK);
    char *text = NULL;
    g_file_get_contents(readme, &text, NULL, NULL);
    CHECK(text && !strcmp(text, "touched"));
    g_free(text);
    g_free(readme);

    /* Never over a folder of the user's; an empty one is filled; a trailing
     * slash is the same folder. */
    char *mine = g_build_filename(tmp, "mine", NULL), *note = g_build_filename(mine, "note", NULL);
    g_mkdir(mine, 0755);
    g_file_set_contents(note, "keep me", -1, NULL);
    st = pd_demo_model_write(mine, &err);
    CHECK_MSG(st == PD_E_IO && strstr(err.message, "not a paldiff demo model") && strstr(err.message, mine),
              "over a user's folder: %d %s", st, err.message);
    CHECK(g_file_test(note, G_FILE_TEST_IS_REGULAR) && !pd_demo_model_present(mine));
    char *empty = g_build_filename(tmp, "empty", NULL), *slash = g_strconcat(empty, "/", NULL);
    g_mkdir(empty, 0755);
    st = pd_demo_model_write(slash, &err);
    CHECK_MSG(st == PD_OK && pd_demo_model_present(empty), "into an empty folder: %s", err.message);
    CHECK(pd_demo_model_write("", &err) == PD_E_ARG);
    CHECK_MSG(count_leftovers() == 0, "temporary folders left behind");
    g_free(empty);
    g_free(slash);
    g_free(mine);
    g_free(note);
    g_free(second);
}

/* cli_default_model: PALDIFF_MODEL, then the installed default, then the demo. */
static void test_default_model(const char *demo)
{
    char *data = g_build_filename(tmp, "data", NULL), *cache = g_build_filename(tmp, "cache", NULL);
    g_setenv("XDG_DATA_HOME", data, TRUE);
    g_setenv("XDG_CACHE_HOME", cache, TRUE);
    g_unsetenv("PALDIFF_CACHE");
    g_unsetenv("PALDIFF_MODEL");
    int is_demo = -1;

    char *path = cli_default_model(&is_demo);
    char *want = g_build_filename(cache, "paldiff", "demo-v1", NULL), *dir = cli_demo_dir();
    CHECK_MSG(path && !strcmp(path, want) && is_demo == 1, "demo: %s", path ? path : "NULL");
    CHECK(!strcmp(dir, want) && pd_demo_model_present(want));
    g_free(path);
    g_free(dir);

    g_setenv("PALDIFF_MODEL", demo, TRUE);
    path = cli_default_model(&is_demo);
    CHECK(path && !strcmp(path, demo) && is_demo == 0);
    g_free(path);
    g_setenv("PALDIFF_MODEL", "/nonexistent/model", TRUE);
    CHECK(cli_default_model(&is_demo) == NULL);
    g_unsetenv("PALDIFF_MODEL");

    /* models/default as a link: resolved, so a tokenizer beside a file is found */
    char *models = g_build_filename(data, "paldiff", "models", NULL), *link = g_build_filename(models, "default", NULL);
    g_mkdir_with_parents(models, 0755);
    CHECK(symlink(demo, link) == 0);
    path = cli_default_model(&is_demo);
    char *real = realpath(demo, NULL);
    CHECK_MSG(path && real && !strcmp(path, real) && is_demo == 0, "installed: %s", path ? path : "NULL");
    g_free(path);
    free(real);
    g_unlink(link);
    CHECK(symlink("/nonexistent/model", link) == 0);
    CHECK(cli_default_model(&is_demo) == NULL); /* a broken default is reported, not skipped */
    g_unlink(link);

    g_setenv("PALDIFF_CACHE", "/somewhere", TRUE);
    dir = cli_demo_dir();
    CHECK(!strcmp(dir, "/somewhere/demo-v1"));
    g_free(dir);
    g_unsetenv("PALDIFF_CACHE");
    g_free(link);
    g_free(models);
    g_free(want);
    g_free(data);
    g_free(cache);
}

int main(void)
{
    tmp = g_dir_make_tmp("paldiff-demo-XXXXXX", NULL);
    char *dir = g_build_filename(tmp, "nested", "demo", NULL);
    pd_error err;
    gint64 t0 = g_get_monotonic_time();
    pd_status st = pd_demo_model_write(dir, &err);
    printf("writing the demo model: %.0f ms\n", (double)(g_get_monotonic_time() - t0) / 1000.0);
    CHECK_MSG(st == PD_OK, "write: %s", err.message);
    CHECK(pd_demo_model_present(dir));

    pd_model *m = NULL;
    st = pd_model_open(dir, NULL, &m, &err);
    CHECK_MSG(st == PD_OK, "open: %s", err.message);
    if (m) {
        pd_model_info in;
        pd_model_get_info(m, &in);
        CHECK(!strcmp(in.arch, "sd15") && in.sd_version == 1 && !strcmp(in.layout, "diffusers"));
        CHECK(in.unet_in_channels == 4 && in.text_width == 64 && in.text_layers == 2);
        CHECK(in.prediction == PD_PREDICT_EPSILON && !strcmp(in.prediction_source, "scheduler config"));
        CHECK(in.tokenizer_dir != NULL);
        uint64_t bytes = 0;
        for (int i = 0; i < in.n_files; i++)
            bytes += in.files[i].bytes;
        int64_t params = 0;
        for (int c = 0; c < PD_COMPONENT_COUNT; c++) {
            params += in.components[c].params;
            CHECK(in.components[c].params == in.components[c].params_by_dtype[PD_WDTYPE_F16]);
        }
        printf("demo model: %lld parameters (text %lld, UNet %lld, VAE %lld), weights %.1f MiB\n",
               (long long)params, (long long)in.components[0].params, (long long)in.components[1].params,
               (long long)in.components[2].params, (double)bytes / (1 << 20));
        CHECK(m->text_cfg.heads == 4 && m->text_cfg.vocab == 514);
        test_tokenizer(m);
        test_components(m);
        pd_model_free(m);
    }
    test_folder(dir);
    test_default_model(dir);
    pd_synth_remove_folder(tmp);
    g_free(dir);
    g_free(tmp);
    return check_summary("unit-demo");
}
