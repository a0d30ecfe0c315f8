/* bench.c — `paldiff bench text|unet|vae|gemm|palette|forms`: speed on full-size weights.
 *
 * Figures are reported against the machine's float32 FMA peak, measured in
 * the same run (and GEMM against OpenBLAS, also in the same run), because
 * absolute seconds drift on shared machines. Models are built once from
 * golden/shapes/<arch>.json with random weights and cached outside the
 * checkout, under $PALDIFF_CACHE or the user cache folder. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli/cli.h"
#include "convert/convert.h"
#include "io/model.h"
#include "io/palettized.h"
#include "io/synth.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/palette.h"
#include "kernels/palette_internal.h"
#include "kernels/pool.h"
#include "kernels/stats.h"
#include "models/unet.h"
#include "models/vae.h"

typedef struct {
    const char *what, *arch, *shapes;
    pd_st_dtype dtype;
    int width, height, repeat;
    int bits;              /* forms: the palettized form's width */
    const cli_model_args *model; /* forms: how to open the F32 and F16 models */
    double peak;
} bench;

static char *bench_model(const bench *b)
{
    const char *cache = getenv("PALDIFF_CACHE");
    char *root = cache && *cache ? g_strdup(cache) : g_build_filename(g_get_user_cache_dir(), "paldiff", NULL);
    char *dir = g_strdup_printf("%s/bench/%s-%s-v2", root, b->arch, pd_st_dtype_name(b->dtype));
    char *done = g_build_filename(dir, ".complete", NULL);
    g_free(root);
    if (!g_file_test(done, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "building %s from %s (once; a few GB) ...\n", dir, b->shapes);
        pd_synth_options o = {.layout = PD_LAYOUT_DIFFUSERS, .dtype = b->dtype, .random = {1, 1, 1}, .seed = 1};
        pd_error err;
        if (pd_synth_model(b->shapes, dir, &o, &err) || !g_file_set_contents(done, "", 0, NULL)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            g_free(dir);
            dir = NULL;
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

static void fill_random(float *x, size_t n, float scale)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = scale * ((float)(s >> 8) * 0x1p-23f - 1.0f);
    }
}

typedef pd_status (*run_fn)(void *ctx, pd_error *err);

/* Seconds of one run; 1 (message printed) when it fails. */
static int timed_run(run_fn run, void *ctx, double *seconds)
{
    pd_error err;
    gint64 t0 = g_get_monotonic_time();
    if (run(ctx, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        return 1;
    }
    *seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    return 0;
}

/* One warm-up, then b->repeat timed runs; prints median, best, GFLOP/s. */
static int time_runs(const bench *b, const char *label, run_fn run, void *ctx)
{
    double *t = g_new(double, b->repeat), s;
    uint64_t flops = 0;
    for (int r = -1; r < b->repeat; r++) {
        uint64_t f0 = pd_flops();
        if (timed_run(run, ctx, &s)) {
            g_free(t);
            return 1;
        }
        if (r >= 0)
            t[r] = s;
        flops = pd_flops() - f0;
    }
    qsort(t, (size_t)b->repeat, sizeof *t, cmp_double);
    double med = t[b->repeat / 2], gf = (double)flops / 1e9 / med;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  %s: median %.3f s, best %.3f s over %d runs\n", label, med, t[0], b->repeat);
    printf("  %.1f GFLOP per run, %.1f GFLOP/s = %.0f %% of the FMA peak\n", (double)flops / 1e9, gf,
           100 * gf / b->peak);
    printf("  peak RSS %.0f MiB (the whole process)\n", (double)ru.ru_maxrss / 1024);
    g_free(t);
    return 0;
}

/* ---- components ----------------------------------------------------------- */

typedef struct {
    const pd_model *m;
    int32_t ids[PD_TOKENS];
} text_ctx;

static pd_status run_text(void *ctx, pd_error *err)
{
    text_ctx *c = ctx;
    pd_embedding e;
    pd_status st = pd_encode_ids(c->m, c->ids, PD_CLIP_SKIP_NONE, &e, err);
    pd_embedding_free(&e);
    return st;
}

typedef struct {
    pd_unet *u;
    int h, w, tokens;
    float *sample, *context, *out;
} unet_ctx;

static pd_status run_unet(void *ctx, pd_error *err)
{
    unet_ctx *c = ctx;
    return pd_unet_forward(c->u, 2, c->h, c->w, c->sample, 500.0f, c->context, c->tokens, c->out, err);
}

/* Loads m's UNet and random inputs for one CFG step on h × w latents;
 * 1 (message printed) on failure. */
static int unet_setup(pd_model *m, int h, int w, unet_ctx *c)
{
    pd_error err;
    *c = (unet_ctx){.h = h, .w = w, .tokens = PD_TOKENS};
    if (pd_unet_load(m, &c->u, &err)) {
        fprintf(stderr, "paldiff: %s\n", err.message);
        return 1;
    }
    const pd_unet_config *cfg = pd_unet_get_config(c->u);
    size_t ns = (size_t)2 * h * w * cfg->in_channels, nc = (size_t)2 * PD_TOKENS * cfg->cross_dim;
    c->sample = g_new(float, ns);
    c->context = g_new(float, nc);
    c->out = g_new(float, (size_t)2 * h * w * cfg->out_channels);
    fill_random(c->sample, ns, 1.0f);
    fill_random(c->context, nc, 1.0f);
    return 0;
}

static void unet_teardown(unet_ctx *c)
{
    g_free(c->sample), g_free(c->context), g_free(c->out);
    pd_unet_free(c->u);
}

typedef struct {
    pd_vae *v;
    int h, w;
    float *latents, *image;
} vae_ctx;

static pd_status run_vae(void *ctx, pd_error *err)
{
    vae_ctx *c = ctx;
    return pd_vae_decode(c->v, 1, c->h, c->w, c->latents, c->image, err);
}

static int bench_component(const bench *b, pd_model *m)
{
    pd_error err;
    int rc = 1;
    if (!strcmp(b->what, "text")) {
        text_ctx c = {.m = m};
        for (int i = 0; i < PD_TOKENS; i++) /* a plausible prompt: BOS, words, EOS, padding */
            c.ids[i] = i == 0 ? 49406 : i < 12 ? 320 + 37 * i : 49407;
        printf("bench text: %s, %s weights, width %d, %d layers, one prompt of 77 tokens\n", b->arch,
               pd_st_dtype_name(b->dtype), m->text_cfg.width, m->text_cfg.run_layers);
        return time_runs(b, "encode", run_text, &c);
    }
    if (b->width % 8 || b->height % 8) {
        fprintf(stderr, "paldiff: --size %dx%d: width and height must be multiples of 8\n", b->width, b->height);
        return 2;
    }
    int h = b->height / 8, w = b->width / 8;
    if (!strcmp(b->what, "unet")) {
        unet_ctx c;
        if (unet_setup(m, h, w, &c))
            return 1;
        printf("bench unet: %s, %s weights, %dx%d (latents %dx%d), batch 2 = one CFG step\n", b->arch,
               pd_st_dtype_name(b->dtype), b->width, b->height, w, h);
        rc = time_runs(b, "UNet step", run_unet, &c);
        unet_teardown(&c);
    } else if (!strcmp(b->what, "vae")) {
        vae_ctx c = {.h = h, .w = w};
        if (pd_vae_load(m, &c.v, &err)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            return 1;
        }
        size_t nl = (size_t)h * w * 4;
        c.latents = g_new(float, nl);
        c.image = g_new(float, (size_t)b->width * b->height * 3);
        fill_random(c.latents, nl, 4.0f);
        printf("bench vae: %s, %s weights, decode %dx%d\n", b->arch, pd_st_dtype_name(b->dtype), b->width, b->height);
        rc = time_runs(b, "VAE decode", run_vae, &c);
        g_free(c.latents), g_free(c.image);
        pd_vae_free(c.v);
    } else {
        fprintf(stderr, "paldiff: bench %s: expected text, unet, vae, gemm or palette\n", b->what);
        rc = 2;
    }
    return rc;
}

/* ---- GEMM against OpenBLAS ------------------------------------------------ */

/* cblas_sgemm, looked up at run time: OpenBLAS is a peer to compare with,
 * never a dependency of paldiff. */
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                         int lda, const float *b, int ldb, float beta, float *c, int ldc);

static sgemm_fn load_openblas(void)
{
    /* Its AVX-512 kernels: some machines set these to work around old builds. */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("OPENBLAS_L2_SIZE");
    char n[16];
    snprintf(n, sizeof n, "%d", pd_threads());
    setenv("OPENBLAS_NUM_THREADS", n, 1);
    const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        sgemm_fn f = h ? (sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
        if (f)
            return f;
    }
    return NULL;
}

static double best_seconds(int repeat, void (*fn)(void *), void *ctx)
{
    double best = 1e30;
    for (int r = -1; r < repeat; r++) {
        gint64 t0 = g_get_monotonic_time();
        fn(ctx);
        double dt = (double)(g_get_monotonic_time() - t0) / 1e6;
        if (r >= 0 && dt < best)
            best = dt;
    }
    return best;
}

typedef struct {
    int M, N, K;
    const float *x;
    float *y;
    pd_weight w;
    sgemm_fn blas;
} gemm_ctx;

static void ours(void *p)
{
    gemm_ctx *c = p;
    pd_gemm(c->M, c->N, c->K, c->x, c->K, &c->w, NULL, c->y, c->N, 0);
}

static void theirs(void *p)
{
    gemm_ctx *c = p; /* row-major Y = X · Wᵀ */
    c->blas(101, 111, 112, c->M, c->N, c->K, 1.0f, c->x, c->K, c->w.data, c->K, 0.0f, c->y, c->N);
}

/* The UNet's products at 512×512 with batch 2 (M = pixels × 2). */
typedef struct { int M, N, K; const char *what; } gemm_shape;
static const gemm_shape unet_gemms[] = {
    {8192, 320, 2880, "conv 3x3 320, 64x64"},
    {8192, 320, 320, "attention projection 320"},
    {8192, 2560, 320, "GEGLU in 320"},
    {8192, 320, 1280, "GEGLU out 320"},
    {2048, 640, 5760, "conv 3x3 640, 32x32"},
    {512, 1280, 11520, "conv 3x3 1280, 16x16"},
    {128, 1280, 11520, "conv 3x3 1280, 8x8"},
    {154, 320, 768, "cross-attention keys (77 tokens × 2)"},
};

static int bench_gemm(const bench *b)
{
    const gemm_shape *shapes = unet_gemms;
    sgemm_fn blas = load_openblas();
    printf("bench gemm: F32, Y = X·Wᵀ, %d threads, %s kernels; OpenBLAS %s\n", pd_threads(),
           pd_isa_name(pd_cpu_isa()), blas ? "loaded (OPENBLAS_CORETYPE unset)" : "not found (apt install libopenblas0)");
    printf("  %-38s %8s %8s %7s %7s\n", "shape (M N K)", "ours", "OpenBLAS", "ratio", "%peak");
    double sum_ratio = 0;
    int n = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(unet_gemms); i++) {
        gemm_ctx c = {shapes[i].M, shapes[i].N, shapes[i].K, NULL, NULL, {0}, blas};
        float *x = g_new(float, (size_t)c.M * c.K), *w = g_new(float, (size_t)c.N * c.K);
        c.y = g_new(float, (size_t)c.M * c.N);
        fill_random(x, (size_t)c.M * c.K, 1), fill_random(w, (size_t)c.N * c.K, 0.05f);
        c.x = x;
        c.w = (pd_weight){.dtype = PD_F32, .ndim = 2, .shape = {c.N, c.K}, .data = w};
        double gflop = 2.0 * c.M * c.N * c.K / 1e9;
        double us = gflop / best_seconds(b->repeat, ours, &c);
        double them = blas ? gflop / best_seconds(b->repeat, theirs, &c) : 0;
        char label[80];
        snprintf(label, sizeof label, "%d %d %d %s", c.M, c.N, c.K, shapes[i].what);
        printf("  %-38.38s %8.1f %8.1f %6.0f%% %6.0f%%\n", label, us, them, them ? 100 * us / them : 0,
               100 * us / b->peak);
        if (them)
            sum_ratio += us / them, n++;
        g_free(x), g_free(w), g_free(c.y);
    }
    if (n)
        printf("  mean ratio to OpenBLAS: %.0f %%\n", 100 * sum_ratio / n);
    return 0;
}

/* ---- palettes ------------------------------------------------------------- */

/* A [N, K] palettized weight: random indices, one random palette per
 * `group` rows (small values, as a trained layer's). */
static pd_weight random_pal(int64_t N, int64_t K, int bits, int64_t group, uint8_t **data, uint16_t **pal)
{
    pd_weight w = {.dtype = PD_PAL, .ndim = 2, .shape = {N, K}, .bits = bits, .group_size = group};
    size_t bytes = (size_t)pd_weight_bytes(&w), entries = (size_t)(N / group) << bits;
    *data = g_malloc(bytes);
    uint32_t s = 777;
    for (size_t i = 0; i < bytes; i++)
        (*data)[i] = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
    for (int64_t r = 0; r < N; r++) /* zero padding bits, as the format says */
        if (K * bits % 8)
            (*data)[(r + 1) * pd_pal_row_bytes(K, bits) - 1] &= (uint8_t)((1u << (K * bits % 8)) - 1);
    float *f = g_new(float, entries);
    fill_random(f, entries, 0.05f);
    *pal = g_new(uint16_t, entries);
    for (size_t i = 0; i < entries; i++)
        (*pal)[i] = pd_f32_to_f16(f[i]);
    g_free(f);
    w.data = *data, w.palette = *pal;
    return w;
}

typedef struct {
    const pd_weight *w;
    pd_isa isa;
    float *row;
} decode_ctx;

static void decode_all(void *p)
{
    decode_ctx *c = p;
    const int64_t N = c->w->shape[0], K = c->w->shape[1];
#if defined(__x86_64__) || defined(__i386__)
    pd_pal_table t = {.src = NULL};
    for (int64_t r = 0; r < N; r++)
        if (c->isa == PD_ISA_AVX512)
            pd_pal_decode_row_avx512(c->w, r, 0, K, &t, c->row);
        else if (c->isa == PD_ISA_AVX2)
            pd_pal_decode_row_avx2(c->w, r, 0, K, &t, c->row);
        else
            pd_pal_decode_row(c->w, r, 0, K, c->row);
#else
    for (int64_t r = 0; r < N; r++)
        pd_pal_decode_row(c->w, r, 0, K, c->row);
#endif
}

/* Decode throughput on one thread (a [320, 2880] weight, a row at a time
 * into an L1-resident buffer: the packers' inner step), then pd_gemm with
 * 6-bit weights against F32 on the UNet's products. */
static int bench_palette(const bench *b)
{
    static const int widths[] = {2, 3, 4, 6, 8};
    const int64_t N = 320, K = 2880;
    float *row = g_new(float, K);
    printf("bench palette: decode one thread, [%lld, %lld] weight, row by row; "
           "G weights/s (GB/s of float32 written)\n", (long long)N, (long long)K);
    printf("  %-5s", "bits");
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++)
        printf(" %20s", pd_isa_name((pd_isa)isa));
    printf("\n");
    for (size_t i = 0; i < G_N_ELEMENTS(widths); i++) {
        uint8_t *data;
        uint16_t *pal;
        pd_weight w = random_pal(N, K, widths[i], N, &data, &pal);
        printf("  %-5d", widths[i]);
        for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++) {
            decode_ctx c = {&w, (pd_isa)isa, row};
            double g = (double)N * K / 1e9 / best_seconds(b->repeat + 2, decode_all, &c);
            char cell[32];
            snprintf(cell, sizeof cell, "%.2f (%.1f)", g, 4 * g);
            printf(" %20s", cell);
        }
        printf("\n");
        g_free(data), g_free(pal);
    }
    g_free(row);

    printf("bench palette: pd_gemm, %d threads, %s kernels, GFLOP/s; time ratio = F32 / palettized\n",
           pd_threads(), pd_isa_name(pd_cpu_isa()));
    printf("  %-38s %7s %7s %7s %7s %7s\n", "shape (M N K)", "F32", "6b", "ratio", "6b g16", "ratio");
    double sum[2] = {0};
    for (size_t i = 0; i < G_N_ELEMENTS(unet_gemms); i++) {
        const gemm_shape *sh = &unet_gemms[i];
        gemm_ctx c = {sh->M, sh->N, sh->K, NULL, NULL, {0}, NULL};
        float *x = g_new(float, (size_t)c.M * c.K), *wf = g_new(float, (size_t)c.N * c.K);
        c.y = g_new(float, (size_t)c.M * c.N);
        fill_random(x, (size_t)c.M * c.K, 1), fill_random(wf, (size_t)c.N * c.K, 0.05f);
        c.x = x;
        double gflop = 2.0 * c.M * c.N * c.K / 1e9, rate[3];
        uint8_t *data[2];
        uint16_t *pal[2];
        pd_weight ws[3] = {
            {.dtype = PD_F32, .ndim = 2, .shape = {c.N, c.K}, .data = wf},
            random_pal(c.N, c.K, 6, c.N, &data[0], &pal[0]),
            random_pal(c.N, c.K, 6, 16, &data[1], &pal[1]),
        };
        /* interleaved, best of each: on a shared machine the load drifts
         * between runs, and consecutive runs of one variant would see a
         * different machine from the other's */
        double best[3] = {1e30, 1e30, 1e30};
        for (int r = 0; r < b->repeat; r++)
            for (int v = 0; v < 3; v++) {
                c.w = ws[v];
                double t = best_seconds(1, ours, &c);
                best[v] = t < best[v] ? t : best[v];
            }
        for (int v = 0; v < 3; v++)
            rate[v] = gflop / best[v];
        char label[80];
        snprintf(label, sizeof label, "%d %d %d %s", c.M, c.N, c.K, sh->what);
        printf("  %-38.38s %7.1f %7.1f %6.0f%% %7.1f %6.0f%%\n", label, rate[0], rate[1],
               100 * rate[1] / rate[0], rate[2], 100 * rate[2] / rate[0]);
        sum[0] += rate[1] / rate[0], sum[1] += rate[2] / rate[0];
        g_free(x), g_free(wf), g_free(c.y);
        for (int v = 0; v < 2; v++)
            g_free(data[v]), g_free(pal[v]);
    }
    printf("  mean speed of 6-bit weights relative to F32: %.1f %% per tensor, %.1f %% groups of 16\n",
           100 * sum[0] / G_N_ELEMENTS(unet_gemms), 100 * sum[1] / G_N_ELEMENTS(unet_gemms));
    return 0;
}

/* ---- one model in three forms ----------------------------------------------- */

/* The forms of `bench forms`: F32, F16 and palettized weights of one model. */
enum { FORMS = 3 };

typedef struct {
    char label[16];
    pd_model *m;
    unet_ctx c;
    double t[64];   /* step seconds, one per round */
} form;

/* Bytes of the UNet's weights as loaded: every descriptor's data plus its
 * palettes (the maps a step reads; nothing is copied at load). */
static int64_t unet_weight_bytes(const pd_model *m)
{
    GHashTableIter it;
    gpointer k, v;
    int64_t sum = 0;
    g_hash_table_iter_init(&it, m->weights[PD_COMPONENT_UNET]);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const pd_weight *w = &((const pd_model_tensor *)v)->w;
        sum += pd_weight_bytes(w);
        if (w->dtype == PD_PAL)
            sum += pd_weight_rows(w) / w->group_size * ((int64_t)2 << w->bits);
    }
    return sum;
}

/* The UNet's largest weight of 2 or more dimensions (ties: the first name). */
static const char *largest_unet_weight(const pd_model *m)
{
    GHashTableIter it;
    gpointer k, v;
    const char *best = NULL;
    int64_t most = 0;
    g_hash_table_iter_init(&it, m->weights[PD_COMPONENT_UNET]);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const pd_weight *w = &((const pd_model_tensor *)v)->w;
        int64_t n = pd_weight_numel(w);
        if (w->ndim >= 2 && (n > most || (n == most && strcmp(k, best) < 0)))
            best = k, most = n;
    }
    return best;
}

typedef struct {
    const pd_gemm_kernel *kern;
    const pd_weight *w;
    float *dst;
} pack_ctx;

/* The whole weight through the GEMM's W packer, block by block. */
static void pack_all(void *p)
{
    const pack_ctx *c = p;
    const int64_t N = pd_weight_rows(c->w), K = pd_weight_cols(c->w);
    for (int64_t n0 = 0; n0 < N; n0 += c->kern->nc)
        for (int64_t k0 = 0; k0 < K; k0 += c->kern->kc)
            pd_gemm_pack_w(c->kern, c->w, n0, N - n0 < c->kern->nc ? N - n0 : c->kern->nc, k0,
                           K - k0 < c->kern->kc ? K - k0 : c->kern->kc, c->dst);
}

/* The palettized form of the F32 model `f32`: `cached` when it exists, else
 * converted into it (k-means, per tensor, `bits` bits). */
static pd_model *palettized_form(const char *f32, const char *cached, int bits)
{
    if (!g_file_test(cached, G_FILE_TEST_EXISTS)) {
        fflush(stdout);
        fprintf(stderr, "converting %s to %d bits into %s ...\n", f32, bits, cached);
        pd_convert_options o;
        pd_convert_options_init(&o);
        o.bits = bits;
        pd_error err;
        if (pd_convert(f32, &o, cached, NULL, NULL, &err)) {
            fprintf(stderr, "paldiff: %s\n", err.message);
            return NULL;
        }
    }
    return cli_open_model(cached, &(cli_model_args){0});
}

/* One model as F32, F16 and palettized weights, side by side in one run:
 * the UNet's weight bytes, its CFG step (interleaved rounds, so that the
 * machine's drift falls on every form alike), and how fast the GEMM's W
 * packer decodes the UNet's largest weight on each instruction set (one
 * thread; F32 is a copy, F16 a widening, palettes a table look-up). */
static int bench_forms(const bench *b, const char *const paths[FORMS])
{
    if (b->width % 8 || b->height % 8 || b->repeat > 64) {
        fprintf(stderr, "paldiff: bench forms: --size must be multiples of 8 and --repeat at most 64\n");
        return 2;
    }
    form f[FORMS] = {{.label = "F32"}, {.label = "F16"}, {.label = ""}};
    snprintf(f[2].label, sizeof f[2].label, "%d-bit", b->bits);
    int rc = 1, loaded = 0;
    for (; loaded < FORMS; loaded++) {
        form *x = &f[loaded];
        x->m = loaded < 2 ? cli_open_model(paths[loaded], b->model)
                          : palettized_form(paths[0], paths[2], b->bits);
        if (!x->m || unet_setup(x->m, b->height / 8, b->width / 8, &x->c)) {
            pd_model_free(x->m);
            goto out;
        }
    }
    const char *name = largest_unet_weight(f[0].m);
    pd_weight w[FORMS];
    for (int i = 0; i < FORMS; i++) {
        const pd_model_tensor *t = name ? g_hash_table_lookup(f[i].m->weights[PD_COMPONENT_UNET], name) : NULL;
        if (!t) {
            fprintf(stderr, "paldiff: bench forms: the %s model has no UNet weight %s\n", f[i].label,
                    name ? name : "of 2 or more dimensions");
            goto out;
        }
        w[i] = t->w;
    }

    printf("bench forms: %s; UNet at %dx%d (latents %dx%d), batch 2 = one CFG step; %d threads, %s kernels\n",
           paths[0], b->width, b->height, b->width / 8, b->height / 8, pd_threads(), pd_isa_name(pd_cpu_isa()));
    for (int r = -1; r < b->repeat; r++) /* r = -1: the warm-up round */
        for (int i = 0; i < FORMS; i++) {
            double sec;
            if (timed_run(run_unet, &f[i].c, &sec))
                goto out;
            if (r >= 0)
                f[i].t[r] = sec;
        }
    printf("  %-44s %12s %12s %12s\n", "", f[0].label, f[1].label, f[2].label);
    printf("  %-44s", "UNet weights, MB (descriptors: data + palettes)");
    for (int i = 0; i < FORMS; i++)
        printf(" %12.1f", (double)unet_weight_bytes(f[i].m) / 1e6);
    printf("\n  %-44s", "UNet step, s (median)");
    double med[FORMS];
    for (int i = 0; i < FORMS; i++) {
        qsort(f[i].t, (size_t)b->repeat, sizeof *f[i].t, cmp_double);
        med[i] = f[i].t[b->repeat / 2];
        printf(" %12.3f", med[i]);
    }
    printf("\n  %-44s", "UNet step, % of F32's time");
    for (int i = 0; i < FORMS; i++)
        printf(" %11.1f%%", 100 * med[i] / med[0]);
    /* the best run: what a busy machine disturbs least */
    printf("\n  %-44s", "UNet step, s (best), % of F32's best");
    for (int i = 0; i < FORMS; i++)
        printf(" %5.2f %5.1f%%", f[i].t[0], 100 * f[i].t[0] / f[0].t[0]);
    printf("\n");
    int64_t N = pd_weight_rows(&w[0]), K = pd_weight_cols(&w[0]);
    float *dst = g_new(float, PD_GEMM_NC_MAX * PD_GEMM_KC_MAX);
    for (int isa = PD_ISA_REF; isa <= (int)pd_cpu_isa_supported(); isa++) {
        char label[80];
        snprintf(label, sizeof label, "decode, G weights/s: %s", pd_isa_name((pd_isa)isa));
        printf("  %-44s", label);
        for (int i = 0; i < FORMS; i++) {
            pack_ctx c = {pd_gemm_kernel_for((pd_isa)isa), &w[i], dst};
            printf(" %12.2f", (double)N * K / 1e9 / best_seconds(b->repeat + 2, pack_all, &c));
        }
        printf("\n");
    }
    printf("  (decode: the UNet's %s [%lld, %lld], one thread)\n", name, (long long)N, (long long)K);
    g_free(dst);
    rc = 0;
out:
    for (int i = 0; i < loaded; i++) {
        unet_teardown(&f[i].c);
        pd_model_free(f[i].m);
    }
    return rc;
}

/* `bench forms` on the cached synthesized model (its F16 form is synthesized
 * from the same random stream, so it is the F32 model rounded to float16; the
 * palettized form is converted from the F32 model once, beside it), or on the
 * F32 and F16 models given, palettized into `pal` (kept) or a temporary file. */
static int forms_command(bench *b, const char *f32, const char *f16, const char *pal)
{
    if (!f32 != !f16) {
        fprintf(stderr, "paldiff: bench forms: give both --f32 and --f16, or neither\n");
        return 2;
    }
    char *paths[FORMS] = {NULL}, *tmp = NULL;
    if (f32) {
        paths[0] = g_strdup(f32);
        paths[1] = g_strdup(f16);
        tmp = pal ? NULL : g_dir_make_tmp("paldiff-bench-XXXXXX", NULL);
        paths[2] = pal ? g_strdup(pal) : tmp ? g_build_filename(tmp, "palettized.safetensors", NULL) : NULL;
    } else {
        b->dtype = PD_ST_F32;
        paths[0] = bench_model(b);
        b->dtype = PD_ST_F16;
        paths[1] = bench_model(b);
        paths[2] = pal ? g_strdup(pal) : paths[0] ? g_strdup_printf("%s-%dbit.safetensors", paths[0], b->bits) : NULL;
    }
    int rc = paths[0] && paths[1] && paths[2] ? bench_forms(b, (const char *const *)paths) : 1;
    if (tmp) {
        g_unlink(paths[2]);
        g_rmdir(tmp);
    }
    for (int i = 0; i < FORMS; i++)
        g_free(paths[i]);
    g_free(tmp);
    return rc;
}

/* ---- the command ---------------------------------------------------------- */

int cmd_bench(int argc, char **argv)
{
    char *arch = NULL, *shapes = NULL, *dtype = NULL, *size = NULL, *f32 = NULL, *f16 = NULL, *pal = NULL;
    int threads = 0, repeat = 3, bits = 6;
    cli_model_args ma = {0};
    GOptionEntry e[] = {
        {"arch", 0, 0, G_OPTION_ARG_STRING, &arch, "sd15 (default), sd21 or sd15-inpaint", "A"},
        {"size", 0, 0, G_OPTION_ARG_STRING, &size, "image size WxH for unet and vae (default 512x512)", "WxH"},
        {"shapes", 0, 0, G_OPTION_ARG_FILENAME, &shapes,
         "shape manifest (default: $PALDIFF_GOLDEN/shapes/ARCH.json, else ../shared/golden/...)", "FILE"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype, "weights: F32 (default) or F16", "T"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default: PALDIFF_THREADS or all cores)", "N"},
        {"repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "timed runs after one warm-up (default 3)", "R"},
        {"bits", 0, 0, G_OPTION_ARG_INT, &bits, "forms: the palettized form's bits, 8, 6, 4, 3 or 2 (default 6)", "N"},
        {"f32", 0, 0, G_OPTION_ARG_FILENAME, &f32, "forms: this F32 model instead of the synthesized one", "MODEL"},
        {"f16", 0, 0, G_OPTION_ARG_FILENAME, &f16, "forms: its F16 form (with --f32)", "MODEL"},
        {"pal", 0, 0, G_OPTION_ARG_FILENAME, &pal,
         "forms: its palettized form, converted into FILE if absent (default: cached beside the synthesized "
         "model; with --f32, a temporary file)", "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    if (!cli_parse(&argc, &argv, "text|unet|vae|gemm|palette|forms",
                   "Time a component on full-size random weights, against the FMA peak measured in "
                   "the same run (gemm: against OpenBLAS too; palette: decode speed, 6-bit GEMMs against F32; "
                   "forms: one model as F32, F16 and palettized weights side by side — UNet weight bytes, "
                   "UNet step time, decode speed per instruction set).", e, cli_model_entries(&ma))) {
        cli_model_args_clear(&ma);
        return 2;
    }
    bench b = {.arch = arch ? arch : "sd15", .dtype = dtype && !strcmp(dtype, "F16") ? PD_ST_F16 : PD_ST_F32,
               .width = 512, .height = 512, .repeat = repeat, .bits = bits, .model = &ma};
    if (argc != 2 || repeat < 1 || threads < 0 || (size && sscanf(size, "%dx%d", &b.width, &b.height) != 2) ||
        b.width < 8 || b.height < 8 || b.width > 4096 || b.height > 4096 || !pd_palf_bits_ok(bits)) {
        fprintf(stderr, "usage: paldiff bench text|unet|vae|gemm|palette|forms [--arch A] [--size WxH] "
                        "[--dtype F32|F16] [--threads N] [--repeat R] [--bits N] [--f32 MODEL --f16 MODEL] "
                        "[--pal FILE] [model options for --f32 and --f16]\n");
        cli_model_args_clear(&ma);
        return 2;
    }
    b.what = argv[1];
    if (threads) {
        char n[16];
        snprintf(n, sizeof n, "%d", threads);
        setenv("PALDIFF_THREADS", n, 1);
    }
    b.peak = pd_fma_peak(0.5);
    printf("machine: %d threads, %s kernels, float32 FMA peak %.1f GFLOP/s (measured now)\n", pd_threads(),
           pd_isa_name(pd_cpu_isa()), b.peak);
    int rc;
    if (!strcmp(b.what, "gemm")) {
        rc = bench_gemm(&b);
    } else if (!strcmp(b.what, "palette")) {
        rc = bench_palette(&b);
    } else {
        const char *g = getenv("PALDIFF_GOLDEN");
        char *man = shapes ? g_strdup(shapes) : g_strdup_printf("%s/shapes/%s.json", g && *g ? g : "../shared/golden", b.arch);
        b.shapes = man;
        if (!strcmp(b.what, "forms")) {
            rc = forms_command(&b, f32, f16, pal);
        } else {
            char *dir = bench_model(&b);
            pd_model *m = dir ? cli_open_model(dir, &(cli_model_args){0}) : NULL;
            rc = m ? bench_component(&b, m) : 1;
            pd_model_free(m);
            g_free(dir);
        }
        g_free(man);
    }
    g_free(arch), g_free(shapes), g_free(dtype), g_free(size), g_free(f32), g_free(f16), g_free(pal);
    cli_model_args_clear(&ma);
    return rc;
}
