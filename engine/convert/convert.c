/* convert.c — a model in, one palettized .safetensors file out
 * (convert.h, docs/palettized-format.md).
 *
 * The header must hold the SHA-256 of the source, known only once the whole
 * source has been read, and the pool palettizes tensors in whatever order
 * its threads take them. So the tensors' bytes go first to a spool file at
 * their final offsets (every output size follows from the shapes), one pool
 * task per tensor, while another task hashes the source files; then the
 * header is written and the spool copied behind it.
 */
#include "convert/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "convert/palettize.h"
#include "convert/recipe.h"
#include "convert/sha256.h"
#include "error.h"
#include "io/keymap.h"
#include "io/model.h"
#include "io/palettized.h"
#include "io/st_writer.h"
#include "kernels/palette.h"
#include "kernels/pool.h"

void pd_convert_options_init(pd_convert_options *o)
{
    *o = (pd_convert_options){.bits = 6, .granularity = PD_GRANULARITY_TENSOR, .group_size = 16,
                              .mode = PD_PAL_KMEANS};
}

/* One output weight. */
typedef struct item {
    char name[PD_KEY_MAX + 16];  /* "<component>.<internal name>"            */
    const pd_model_tensor *src;
    int pal;                     /* palettized, else plain F16              */
    int bits;                    /* of a palettized one                     */
    int64_t rows, cols, group_size, groups;
    uint64_t off_pal, off_idx;   /* data offsets (off_pal: the F16 tensor)  */
} item;

typedef struct job {
    const pd_model *m;
    const pd_convert_options *o;
    item *items;
    size_t n_items;
    int64_t *order;              /* tasks 1.. → items, largest first        */
    int spool;                   /* fd                                      */
    const char *spool_label;
    /* hashing (task 0) */
    char **hash_paths;
    char (*hash_hex)[65];
    guint n_hash;
    /* shared state */
    GMutex lock;
    int failed;
    pd_error err;
    pd_convert_progress prog;
    pd_convert_progress_fn progress;
    void *user;
} job;

static void job_fail(job *j, const pd_error *e)
{
    g_mutex_lock(&j->lock);
    if (!j->failed) {
        j->failed = 1;
        j->err = *e;
    }
    g_mutex_unlock(&j->lock);
}

static int job_failed(job *j)
{
    g_mutex_lock(&j->lock);
    int f = j->failed;
    g_mutex_unlock(&j->lock);
    return f;
}

static void job_progress(job *j, int64_t tensors, uint64_t hashed)
{
    g_mutex_lock(&j->lock);
    j->prog.tensors_done += tensors;
    j->prog.hashed += hashed;
    if (j->progress)
        j->progress(&j->prog, j->user);
    g_mutex_unlock(&j->lock);
}

static pd_status pwrite_all(job *j, const void *buf, size_t n, uint64_t off, pd_error *err)
{
    const char *p = buf;
    while (n) {
        ssize_t k = pwrite(j->spool, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return pd_fail(err, PD_E_IO, "%s: cannot write: %s", j->spool_label,
                           k < 0 ? g_strerror(errno) : "no space written");
        p += k, n -= (size_t)k, off += (uint64_t)k;
    }
    return PD_OK;
}

static pd_status convert_plain(job *j, const item *it, pd_error *err)
{
    const pd_weight *w = &it->src->w;
    int64_t rows = it->rows, cols = it->cols;
    if (w->dtype == PD_F16) /* already the output bytes */
        return pwrite_all(j, w->data, (size_t)(rows * cols * 2), it->off_pal, err);
    /* about 1 M elements at a time */
    int64_t chunk = cols >= (1 << 20) ? 1 : (1 << 20) / cols;
    uint16_t *buf = g_try_malloc((size_t)(chunk * cols) * 2);
    float *row = g_try_malloc((size_t)cols * sizeof(float));
    pd_status s = buf && row ? PD_OK : pd_fail(err, PD_E_NOMEM, "out of memory converting '%s'", it->name);
    for (int64_t r = 0; !s && r < rows; r += chunk) {
        int64_t n = rows - r < chunk ? rows - r : chunk;
        pd_weight_rows_f16(w, r, n, buf, row);
        s = pwrite_all(j, buf, (size_t)(n * cols) * 2, it->off_pal + (uint64_t)(r * cols) * 2, err);
    }
    g_free(buf);
    g_free(row);
    return s;
}

/* Where convert_pal's groups go: packed rows to the spool, palettes kept
 * until the last group (they are one tensor). */
typedef struct pal_out {
    job *j;
    const item *it;
    uint16_t *palettes;          /* groups × 2^bits */
} pal_out;

static pd_status spool_group(int64_t g, const uint16_t *palette, const uint8_t *packed, void *user, pd_error *err)
{
    pal_out *o = user;
    const item *it = o->it;
    int64_t K = (int64_t)1 << it->bits, group_bytes = it->group_size * pd_pal_row_bytes(it->cols, it->bits);
    memcpy(o->palettes + g * K, palette, (size_t)K * 2);
    return pwrite_all(o->j, packed, (size_t)group_bytes, it->off_idx + (uint64_t)(g * group_bytes), err);
}

static pd_status convert_pal(job *j, const item *it, pd_error *err)
{
    int64_t K = (int64_t)1 << it->bits;
    pal_out o = {j, it, g_try_malloc((size_t)(it->groups * K) * 2)};
    if (!o.palettes)
        return pd_fail(err, PD_E_NOMEM, "out of memory palettizing '%s'", it->name);
    pd_error e;
    pd_status s = pd_palettize_weight(&it->src->w, it->name, it->bits, it->group_size, j->o->mode, spool_group, &o, &e);
    if (s)
        pd_fail(err, s, "%s: %s", j->m->path, e.message);
    else
        s = pwrite_all(j, o.palettes, (size_t)(it->groups * K) * 2, it->off_pal, err);
    g_free(o.palettes);
    return s;
}

static pd_status hash_files(job *j, pd_error *err)
{
    enum { CHUNK = 8 << 20, REPORT = 64 << 20 };
    uint8_t *buf = g_try_malloc(CHUNK);
    if (!buf)
        return pd_fail(err, PD_E_NOMEM, "out of memory for hashing");
    pd_status s = PD_OK;
    for (guint f = 0; !s && f < j->n_hash; f++) {
        const char *path = j->hash_paths[f];
        int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            s = pd_fail(err, PD_E_IO, "%s: cannot open: %s", path, g_strerror(errno));
            break;
        }
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
        pd_sha256 h;
        pd_sha256_init(&h);
        uint64_t unreported = 0;
        for (;;) {
            ssize_t k = read(fd, buf, CHUNK);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                s = pd_fail(err, PD_E_IO, "%s: cannot read: %s", path, g_strerror(errno));
                break;
            }
            if (k == 0)
                break;
            pd_sha256_update(&h, buf, (size_t)k);
            unreported += (uint64_t)k;
            if (unreported >= REPORT) {
                job_progress(j, 0, unreported);
                unreported = 0;
                if (job_failed(j))
                    break;
            }
        }
        close(fd);
        pd_sha256_hex(&h, j->hash_hex[f]);
        if (unreported)
            job_progress(j, 0, unreported);
    }
    g_free(buf);
    return s;
}

static void task(void *ctx, int64_t t, int thread)
{
    (void)thread;
    job *j = ctx;
    if (job_failed(j))
        return;
    pd_error e;
    pd_status s;
    if (t == 0) {
        s = hash_files(j, &e);
    } else {
        const item *it = &j->items[j->order[t - 1]];
        s = it->pal ? convert_pal(j, it, &e) : convert_plain(j, it, &e);
        const pd_weight *w = &it->src->w;
        pd_model_release(j->m, &w, 1); /* the source's pages: read once, not kept */
        if (!s)
            job_progress(j, 1, 0);
    }
    if (s)
        job_fail(j, &e);
}

/* ---- what goes where ------------------------------------------------------ */

static const char *const component_prefix[PD_COMPONENT_COUNT] = {"text_encoder", "unet", "vae"};

/* Text encoder layers the model does not run (an SD 2.x single file keeps
 * OpenCLIP's last layer) are left out. */
static int text_layer_unused(const pd_model *m, const char *name)
{
    int layer;
    return sscanf(name, "text_model.encoder.layers.%d.", &layer) == 1 && layer >= m->text_cfg.run_layers;
}

int pd_convert_palettizable(int component, const char *name, const pd_weight *w)
{
    if (w->ndim != 2 && w->ndim != 4)
        return 0;
    if (!g_str_has_suffix(name, ".weight"))
        return 0;
    if (component == PD_COMPONENT_TEXT && g_str_has_prefix(name, "text_model.embeddings."))
        return 0;
    return pd_weight_numel(w) >= PD_CONVERT_MIN_ELEMENTS;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const item *)a)->name, ((const item *)b)->name);
}

static gint size_cmp(gconstpointer a, gconstpointer b, gpointer items)
{
    const item *x = (const item *)items + *(const int64_t *)a, *y = (const item *)items + *(const int64_t *)b;
    int64_t nx = x->rows * x->cols, ny = y->rows * y->cols;
    if (nx != ny)
        return nx > ny ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void json_str(GString *s, const char *v)
{
    g_string_append_c(s, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(s, "\\%c", *p);
        else if (*p < 0x20)
            g_string_append_printf(s, "\\u%04x", *p);
        else
            g_string_append_c(s, (char)*p);
    }
    g_string_append_c(s, '"');
}

/* The text of a file the source model was opened with (a config or a
 * tokenizer file): from the source's own metadata when it is a palettized
 * file that embeds it, else read from `path`. *out NULL: none (an optional
 * file absent, or no path). */
static pd_status source_text(const pd_model *m, const char *meta_key, const char *path, int required,
                             char **out, pd_error *err)
{
    *out = NULL;
    if (m->layout == PD_LAYOUT_PALETTIZED && meta_key) {
        const char *v = pd_st_metadata(g_ptr_array_index(m->files, 0), meta_key);
        if (v) {
            *out = g_strdup(v);
            return PD_OK;
        }
    }
    if (!path || (!required && !g_file_test(path, G_FILE_TEST_EXISTS)))
        return PD_OK;
    GError *ge = NULL;
    gsize len;
    if (!g_file_get_contents(path, out, &len, &ge)) {
        pd_status s = pd_fail(err, PD_E_IO, "%s: cannot read: %s", path, ge->message);
        g_error_free(ge);
        return s;
    }
    if (strlen(*out) != len || !g_utf8_validate(*out, (gssize)len, NULL)) {
        g_clear_pointer(out, g_free);
        return pd_fail(err, PD_E_FORMAT, "%s: not UTF-8 text; it cannot be embedded", path);
    }
    return PD_OK;
}

static pd_status add_metadata(pd_st_writer *w, const pd_model *m, const pd_convert_options *o, const item *items,
                              size_t n_items, const char *src, char **hash_paths, char (*hash_hex)[65],
                              guint n_hash, pd_error *err)
{
    pd_status s;
    pd_model_info in;
    pd_model_get_info(m, &in);
    GString *t = g_string_new("{");
    int first = 1;
    for (size_t i = 0; i < n_items; i++) {
        const item *it = &items[i];
        if (!it->pal)
            continue;
        if (!first)
            g_string_append_c(t, ',');
        first = 0;
        json_str(t, it->name);
        g_string_append_printf(t, ":{\"bits\":%d,\"group_size\":%lld,\"shape\":[", it->bits,
                               (long long)it->group_size);
        for (int d = 0; d < it->src->w.ndim; d++)
            g_string_append_printf(t, d ? ",%lld" : "%lld", (long long)it->src->w.shape[d]);
        g_string_append(t, "]}");
    }
    g_string_append_c(t, '}');

    GString *srcj = g_string_new("{\"name\":");
    char *base = g_path_get_basename(src);
    json_str(srcj, base);
    g_free(base);
    g_string_append(srcj, ",\"files\":[");
    for (guint f = 0; f < n_hash; f++) {
        const char *p = hash_paths[f];
        const char *rel = p;
        if (g_str_has_prefix(p, src) && p[strlen(src)] == G_DIR_SEPARATOR)
            rel = p + strlen(src) + 1;
        else
            rel = strrchr(p, G_DIR_SEPARATOR) ? strrchr(p, G_DIR_SEPARATOR) + 1 : p;
        GStatBuf sb;
        long long bytes = g_stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
        g_string_append(srcj, f ? ",{\"path\":" : "{\"path\":");
        json_str(srcj, rel);
        g_string_append_printf(srcj, ",\"bytes\":%lld,\"sha256\":\"%s\"}", bytes, hash_hex[f]);
    }
    g_string_append(srcj, "]}");

    char recipe[96] = "null";
    if (o->recipe)
        snprintf(recipe, sizeof recipe, "{\"target_bits\":%.4g,\"average_bits\":%.4g,\"component\":\"unet\"}",
                 o->recipe->target_bits, o->recipe->average_bits);
    char *conv = g_strdup_printf("{\"bits\":%d,\"granularity\":\"%s\",\"group_size\":%lld,\"mode\":\"%s\","
                                 "\"min_elements\":%d,\"recipe\":%s,\"paldiff\":\"0.1.0\"}",
                                 o->bits, o->granularity == PD_GRANULARITY_GROUP ? "group" : "tensor",
                                 (long long)(o->granularity == PD_GRANULARITY_GROUP ? o->group_size : 0),
                                 o->mode == PD_PAL_UNIFORM ? "uniform" : "kmeans", PD_CONVERT_MIN_ELEMENTS, recipe);
    s = pd_stw_metadata(w, PD_PALF_KEY_FORMAT, PD_PALF_FORMAT, err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_VERSION, PD_PALF_VERSION, err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_ARCH, in.arch, err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_PREDICTION,
                            m->prediction == PD_PREDICT_V ? "v_prediction" : "epsilon", err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_TENSORS, t->str, err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_SOURCE, srcj->str, err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_CONVERSION, conv, err);
    g_string_free(t, TRUE);
    g_string_free(srcj, TRUE);
    g_free(conv);

    /* configs: a palettized source's own, else the files the source was opened with */
    for (int c = 0; !s && c <= PD_COMPONENT_COUNT; c++) {
        const pd_config *cf = c < PD_COMPONENT_COUNT ? m->configs[c] : m->sched_config;
        char *text = NULL;
        if (cf)
            s = source_text(m, pd_palf_config_key(c), pd_config_path(cf), 1, &text, err);
        if (!s && text)
            s = pd_stw_metadata(w, pd_palf_config_key(c), text, err);
        g_free(text);
    }
    /* the tokenizer: the folder it was loaded from, else a palettized source's own */
    for (int i = 0; m->tokenizer && !s && i < PD_PALF_TOKENIZER_FILES; i++) {
        char *path = m->tokenizer_dir ? g_build_filename(m->tokenizer_dir, pd_palf_tokenizer_file(i), NULL) : NULL;
        char *text = NULL;
        s = source_text(m, m->tokenizer_dir ? NULL : pd_palf_tokenizer_key(i), path, i < 2, &text, err);
        if (!s && text)
            s = pd_stw_metadata(w, pd_palf_tokenizer_key(i), text, err);
        g_free(text);
        g_free(path);
    }
    return s;
}

/* ---- the conversion -------------------------------------------------------- */

pd_status pd_convert_check_palettes(pd_granularity granularity, int64_t group_size, pd_pal_mode mode, pd_error *err)
{
    if (granularity != PD_GRANULARITY_TENSOR && granularity != PD_GRANULARITY_GROUP)
        return pd_fail(err, PD_E_ARG, "granularity %d: expected tensor or group", (int)granularity);
    if (granularity == PD_GRANULARITY_GROUP && (group_size < 1 || group_size > (1 << 24)))
        return pd_fail(err, PD_E_ARG, "group size %lld: expected 1 .. 16777216 output channels",
                       (long long)group_size);
    if (mode != PD_PAL_KMEANS && mode != PD_PAL_UNIFORM)
        return pd_fail(err, PD_E_ARG, "mode %d: expected kmeans or uniform", (int)mode);
    return PD_OK;
}

int64_t pd_convert_group_rows(pd_granularity granularity, int64_t group_size, int64_t rows)
{
    return granularity == PD_GRANULARITY_GROUP && group_size < rows ? group_size : rows;
}

static pd_status check_options(const pd_convert_options *o, pd_error *err)
{
    if (!pd_palf_bits_ok(o->bits))
        return pd_fail(err, PD_E_ARG, "bits %d: palettized files use 2, 3, 4, 6 or 8 bits", o->bits);
    return pd_convert_check_palettes(o->granularity, o->group_size, o->mode, err);
}

static int same_file(const char *a, const char *b)
{
    GStatBuf sa, sb;
    return g_stat(a, &sa) == 0 && g_stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

pd_status pd_convert(const char *src, const pd_convert_options *o, const char *dst,
                     pd_convert_progress_fn progress, void *user, pd_error *err)
{
    pd_error_clear(err);
    if (!src || !*src || !dst || !*dst || !o)
        return pd_fail(err, PD_E_ARG, "pd_convert: no source, destination or options given");
    pd_status s = check_options(o, err);
    if (s)
        return s;
    if (same_file(src, dst))
        return pd_fail(err, PD_E_ARG, "%s: the destination is the source; name another file", dst);
    if (g_file_test(dst, G_FILE_TEST_IS_DIR))
        return pd_fail(err, PD_E_ARG, "%s: is a folder; name the .safetensors file to write", dst);

    pd_model *m = NULL;
    if ((s = pd_model_open(src, o->model, &m, err)))
        return s;

    /* the items, in name order */
    size_t cap = 0;
    for (int c = 0; c < PD_COMPONENT_COUNT; c++)
        cap += g_hash_table_size(m->weights[c]);
    item *items = g_new0(item, cap ? cap : 1);
    size_t n = 0;
    int recipe_found = 0, unet_pal = 0;
    for (int c = 0; c < PD_COMPONENT_COUNT && !s; c++) {
        GHashTableIter hi;
        gpointer k, v;
        g_hash_table_iter_init(&hi, m->weights[c]);
        while (g_hash_table_iter_next(&hi, &k, &v)) {
            const char *name = k;
            const pd_model_tensor *t = v;
            if (c == PD_COMPONENT_TEXT && text_layer_unused(m, name))
                continue;
            item *it = &items[n++];
            snprintf(it->name, sizeof it->name, "%s.%s", component_prefix[c], name);
            it->src = t;
            it->rows = pd_weight_rows(&t->w);
            it->cols = pd_weight_cols(&t->w);
            it->pal = pd_convert_palettizable(c, name, &t->w);
            it->bits = o->bits;
            unet_pal += it->pal && c == PD_COMPONENT_UNET;
            const pd_recipe_layer *rl = it->pal && o->recipe ? pd_recipe_find(o->recipe, it->name) : NULL;
            int rb = rl && rl->numel == pd_weight_numel(&t->w) ? rl->bits : 0; /* else: another model's */
            if (rb && rb != 16 && !pd_palf_bits_ok(rb)) {
                s = pd_fail(err, PD_E_ARG, "mixed-bit recipe: %d bits for '%s'; use 2, 3, 4, 6, 8 or 16", rb,
                            it->name);
                break;
            }
            if (rb) {
                it->pal = rb != 16;
                it->bits = rb;
                recipe_found++;
            }
            if (it->pal) {
                int64_t G = pd_convert_group_rows(o->granularity, o->group_size, it->rows);
                if (it->rows % G) {
                    s = pd_fail(err, PD_E_ARG, "%s: tensor '%s' has %lld output channels, which groups of %lld "
                                "do not divide; choose a group size dividing it", src, it->name,
                                (long long)it->rows, (long long)G);
                    break;
                }
                it->group_size = G;
                it->groups = it->rows / G;
            }
        }
    }
    if (!s && o->recipe && (recipe_found != o->recipe->n_layers || unet_pal != recipe_found))
        s = pd_fail(err, PD_E_ARG, "%s: the mixed-bit recipe has widths for %d UNet weights; this model has %d, "
                    "%d of them alike: the recipe was made for another model", src, o->recipe->n_layers, unet_pal,
                    recipe_found);
    qsort(items, n, sizeof *items, item_cmp);

    /* data layout: every F16 tensor (palettes and plain weights) first, so that
     * each is 2-byte aligned; then the U8 indices */
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].off_pal = off;
        off += (uint64_t)(items[i].pal ? items[i].groups << items[i].bits : items[i].rows * items[i].cols) * 2;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].pal) {
            items[i].off_idx = off;
            off += (uint64_t)(items[i].rows * pd_pal_row_bytes(items[i].cols, items[i].bits));
        }
    uint64_t data_bytes = off;

    /* the spool, beside dst (same file system), unlinked at once */
    job j = {.m = m, .o = o, .items = items, .n_items = n, .spool = -1, .progress = progress, .user = user};
    g_mutex_init(&j.lock);
    char *spool_path = g_strdup_printf("%s.spool-XXXXXX", dst);
    if (!s) {
        j.spool = g_mkstemp_full(spool_path, O_RDWR | O_CLOEXEC, 0600);
        if (j.spool < 0)
            s = pd_fail(err, PD_E_IO, "%s: cannot create a temporary file beside it: %s", dst, g_strerror(errno));
        else
            g_unlink(spool_path);
    }
    j.spool_label = dst;

    /* files to hash: the source's weight files */
    j.n_hash = m->files->len;
    j.hash_paths = g_new0(char *, j.n_hash + 1);
    j.hash_hex = g_malloc0(sizeof *j.hash_hex * (j.n_hash + 1));
    uint64_t hash_total = 0;
    for (guint f = 0; f < j.n_hash; f++) {
        const pd_safetensors *st = g_ptr_array_index(m->files, f);
        j.hash_paths[f] = g_strdup(pd_st_path(st));
        hash_total += pd_st_file_size(st);
    }
    j.prog = (pd_convert_progress){.tensors = (int64_t)n, .hash_total = hash_total, .phase = "converting"};

    if (!s) {
        j.order = g_new(int64_t, n ? n : 1);
        for (size_t i = 0; i < n; i++)
            j.order[i] = (int64_t)i;
        g_qsort_with_data(j.order, (gint)n, sizeof *j.order, size_cmp, items);
        pd_parallel_for((int64_t)n + 1, task, &j);
        if (j.failed) {
            *err = j.err;
            s = j.err.status;
        }
    }

    /* header, then the spool behind it */
    pd_st_writer *w = NULL;
    if (!s)
        s = pd_stw_begin(dst, &w, err);
    if (!s)
        s = add_metadata(w, m, o, items, n, src, j.hash_paths, j.hash_hex, j.n_hash, err);
    for (int pass = 0; pass < 2 && !s; pass++) /* the same order as the offsets above */
        for (size_t i = 0; i < n && !s; i++) {
            const item *it = &items[i];
            char name[PD_KEY_MAX + 32];
            if (pass == 0 && it->pal) {
                snprintf(name, sizeof name, "%s" PD_PALF_SUFFIX_PALETTE, it->name);
                s = pd_stw_add(w, name, PD_ST_F16, 2, (int64_t[]){it->groups, (int64_t)1 << it->bits}, err);
            } else if (pass == 0) {
                int64_t shape[4];
                for (int d = 0; d < it->src->w.ndim; d++)
                    shape[d] = it->src->w.shape[d];
                s = pd_stw_add(w, it->name, PD_ST_F16, it->src->w.ndim, shape, err);
            } else if (it->pal) {
                snprintf(name, sizeof name, "%s" PD_PALF_SUFFIX_INDICES, it->name);
                s = pd_stw_add(w, name, PD_ST_U8, 2,
                               (int64_t[]){it->rows, pd_pal_row_bytes(it->cols, it->bits)}, err);
            }
        }
    if (!s)
        s = pd_stw_write_header(w, err);
    if (!s) {
        j.prog.phase = "writing";
        enum { CHUNK = 8 << 20 };
        uint8_t *buf = g_try_malloc(CHUNK);
        if (!buf)
            s = pd_fail(err, PD_E_NOMEM, "out of memory copying into %s", dst);
        for (uint64_t pos = 0; !s && pos < data_bytes;) {
            size_t want = data_bytes - pos < CHUNK ? (size_t)(data_bytes - pos) : CHUNK;
            ssize_t k = pread(j.spool, buf, want, (off_t)pos);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                s = pd_fail(err, PD_E_IO, "%s: cannot read back its temporary file: %s", dst,
                            k < 0 ? g_strerror(errno) : "too short");
                break;
            }
            s = pd_stw_write(w, buf, (size_t)k, err);
            pos += (uint64_t)k;
        }
        g_free(buf);
    }
    if (w) {
        if (!s)
            s = pd_stw_finish(w, err);
        else
            pd_stw_abort(w);
    }

    if (j.spool >= 0)
        close(j.spool);
    g_free(spool_path);
    g_strfreev(j.hash_paths);
    g_free(j.hash_hex);
    g_free(j.order);
    g_mutex_clear(&j.lock);
    g_free(items);
    pd_model_free(m);
    return s;
}
