/* recipe.c — mixed-bit recipes: sensitivity, choice, check (recipe.h). */
#include "convert/recipe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "convert/palettize.h"
#include "error.h"
#include "eval/eval.h"
#include "io/model.h"
#include "kernels/palette.h"
#include "kernels/pool.h"

const int pd_recipe_widths[PD_RECIPE_WIDTHS] = {2, 3, 4, 6, 8, 16};
enum {
    FLOAT16 = PD_RECIPE_WIDTHS - 1, /* the last width keeps the weight float16        */
    MEASURED = 2                    /* 4 bits: the width measured (without every_width) */
};

void pd_recipe_options_init(pd_recipe_options *o)
{
    *o = (pd_recipe_options){.target_bits = 4.5, .granularity = PD_GRANULARITY_TENSOR, .group_size = 16,
                             .mode = PD_PAL_KMEANS, .size = 128};
}

void pd_recipe_free(pd_recipe *r)
{
    if (!r)
        return;
    for (int l = 0; l < r->n_layers; l++)
        g_free(r->layers[l].name);
    g_free(r->layers);
    if (r->by_name)
        g_hash_table_destroy(r->by_name);
    g_free(r);
}

const pd_recipe_layer *pd_recipe_find(const pd_recipe *r, const char *name)
{
    int i = GPOINTER_TO_INT(g_hash_table_lookup(r->by_name, name));
    return i ? &r->layers[i - 1] : NULL;
}

/* ---- weights palettized in memory ------------------------------------------ */

typedef struct pal_weight {
    const char *name;             /* internal name (no "unet.")              */
    const pd_weight *src;
    int bits;
    pd_weight w;                  /* PD_PAL over palette and packed           */
    uint16_t *palette;
    uint8_t *packed;
    int keep;                     /* keep the form (else only its error)    */
    double weight_sq;             /* Σ (palettized − source)²                */
    pd_status st;
    pd_error err;
} pal_weight;

static pd_status keep_group(int64_t g, const uint16_t *palette, const uint8_t *packed, void *user, pd_error *err)
{
    (void)err;
    pal_weight *p = user;
    int64_t K = (int64_t)1 << p->bits, bytes = p->w.group_size * pd_pal_row_bytes(pd_weight_cols(p->src), p->bits);
    memcpy(p->palette + g * K, palette, (size_t)K * 2);
    memcpy(p->packed + g * bytes, packed, (size_t)bytes);
    return PD_OK;
}

static void pal_weight_clear(pal_weight *p)
{
    g_clear_pointer(&p->palette, g_free);
    g_clear_pointer(&p->packed, g_free);
}

/* Squared difference between the palettized weight and its source. */
static double weight_sq_err(const pal_weight *p)
{
    int64_t rows = pd_weight_rows(p->src), cols = pd_weight_cols(p->src);
    float *a = g_new(float, cols), *b = g_new(float, cols);
    double sq = 0;
    for (int64_t r = 0; r < rows; r++) {
        pd_weight_read(p->src, r, 0, cols, a);
        pd_weight_read(&p->w, r, 0, cols, b);
        for (int64_t c = 0; c < cols; c++)
            sq += (double)(a[c] - b[c]) * (a[c] - b[c]);
    }
    g_free(a);
    g_free(b);
    return sq;
}

typedef struct pal_batch {
    pal_weight *p;
    int64_t *order;               /* task → weight, largest first            */
    const pd_recipe_options *o;
    GMutex lock;                  /* progress                                */
    int64_t done, total;
} pal_batch;

/* Task t: palettizes its weight, measures its error, keeps the form if
 * asked (status in st). */
static void pal_task(void *ctx, int64_t t, int thread)
{
    (void)thread;
    pal_batch *b = ctx;
    pal_weight *p = &b->p[b->order[t]];
    int64_t rows = pd_weight_rows(p->src), cols = pd_weight_cols(p->src);
    int64_t G = pd_convert_group_rows(b->o->granularity, b->o->group_size, rows);
    p->w = *p->src;
    p->w.dtype = PD_PAL, p->w.bits = p->bits, p->w.group_size = G;
    p->palette = g_try_malloc((size_t)((rows / G) << p->bits) * 2);
    p->packed = g_try_malloc((size_t)(rows * pd_pal_row_bytes(cols, p->bits)));
    p->st = p->palette && p->packed ? PD_OK
                                    : pd_fail(&p->err, PD_E_NOMEM, "out of memory palettizing '%s'", p->name);
    if (!p->st)
        p->st = pd_palettize_weight(p->src, p->name, p->bits, G, b->o->mode, keep_group, p, &p->err);
    p->w.palette = p->palette, p->w.data = p->packed;
    if (!p->st)
        p->weight_sq = weight_sq_err(p);
    if (p->st || !p->keep)
        pal_weight_clear(p);
    g_mutex_lock(&b->lock);
    b->done++;
    if (b->o->progress)
        b->o->progress(b->done, b->total, p->name, b->o->progress_user);
    g_mutex_unlock(&b->lock);
}

static gint larger_first(gconstpointer a, gconstpointer b, gpointer p)
{
    const pal_weight *x = (const pal_weight *)p + *(const int64_t *)a, *y = (const pal_weight *)p + *(const int64_t *)b;
    int64_t nx = pd_weight_numel(x->src) * x->bits, ny = pd_weight_numel(y->src) * y->bits;
    return nx != ny ? (nx > ny ? -1 : 1) : (*(const int64_t *)a > *(const int64_t *)b) - (*(const int64_t *)a < *(const int64_t *)b);
}

/* Palettizes the n weights in parallel, the largest first so the threads
 * finish together; the first failure is returned. Progress counts from
 * `done` of `total`. */
static pd_status pal_all(pal_weight *p, int64_t n, const pd_recipe_options *o, int64_t done, int64_t total,
                         pd_error *err)
{
    pal_batch b = {.p = p, .order = g_new(int64_t, n ? n : 1), .o = o, .done = done, .total = total};
    for (int64_t t = 0; t < n; t++)
        b.order[t] = t;
    g_qsort_with_data(b.order, (gint)n, sizeof *b.order, larger_first, p);
    g_mutex_init(&b.lock);
    pd_parallel_for(n, pal_task, &b);
    g_mutex_clear(&b.lock);
    g_free(b.order);
    for (int64_t t = 0; t < n; t++)
        if (p[t].st) {
            *err = p[t].err;
            return p[t].st;
        }
    return PD_OK;
}

/* Swaps the n weights into (or back out of) the model's UNet. */
static void swap_all(pd_model *m, pal_weight *p, int64_t n)
{
    for (int64_t t = 0; t < n; t++) {
        pd_error e;
        pd_status s = pd_model_swap_weight(m, PD_COMPONENT_UNET, p[t].name, &p[t].w, &e);
        g_assert(s == PD_OK); /* same name, same shape: it cannot fail */
    }
}

/* The one-step UNet output with the n weights swapped in. */
static pd_status measure(pd_model *m, const pd_eval_ref *ref, pal_weight *p, int64_t n, pd_recipe *r,
                         pd_psnr *out, pd_error *err)
{
    swap_all(m, p, n);
    pd_eval_result res;
    pd_status s = pd_eval_compare(ref, m, &res, err);
    swap_all(m, p, n);
    r->unet_calls++;
    *out = res.psnr[PD_EVAL_UNET];
    return s;
}

/* ---- the choice ------------------------------------------------------------- */

static double err_at(const pd_recipe_layer *L, int w)
{
    double e = w == FLOAT16 ? 0 : L->sq_err[w];
    return isfinite(e) ? e : INFINITY;
}

/* Width index minimising error + λ · bits; ties to fewer bits. */
static int pick(const pd_recipe_layer *L, double lambda)
{
    int best = 0;
    double bv = INFINITY;
    for (int w = 0; w < PD_RECIPE_WIDTHS; w++) {
        double v = err_at(L, w) + lambda * (double)L->numel * pd_recipe_widths[w];
        if (v < bv)
            bv = v, best = w;
    }
    return best;
}

static double bits_at(const pd_recipe *r, double lambda, int *choice)
{
    double total = 0;
    for (int l = 0; l < r->n_layers; l++) {
        choice[l] = pick(&r->layers[l], lambda);
        total += (double)r->layers[l].numel * pd_recipe_widths[choice[l]];
    }
    return total;
}

/* Least total error within the budget: the Lagrangian's choice at the
 * smallest λ that fits, then the upgrades buying most error per bit. */
static void choose(pd_recipe *r)
{
    double budget = r->target_bits * (double)r->numel;
    int *w = g_new(int, r->n_layers);
    double lo = 0, hi = 1e-30;
    if (bits_at(r, lo, w) > budget) {
        while (bits_at(r, hi, w) > budget && hi < 1e300)
            lo = hi, hi *= 4;
        for (int it = 0; it < 200 && hi > lo * (1 + 1e-12); it++) {
            double mid = lo > 0 ? sqrt(lo * hi) : hi / 4;
            if (bits_at(r, mid, w) > budget)
                lo = mid;
            else
                hi = mid;
        }
        bits_at(r, hi, w);
    }
    double used = 0;
    for (int l = 0; l < r->n_layers; l++)
        used += (double)r->layers[l].numel * pd_recipe_widths[w[l]];
    for (;;) {
        int bl = -1, bw = 0;
        double best = 0;
        for (int l = 0; l < r->n_layers; l++)
            for (int v = w[l] + 1; v < PD_RECIPE_WIDTHS; v++) {
                const pd_recipe_layer *L = &r->layers[l];
                double extra = (double)L->numel * (pd_recipe_widths[v] - pd_recipe_widths[w[l]]);
                double gain = err_at(L, w[l]) - err_at(L, v);
                if (used + extra <= budget && gain > 0 && gain / extra > best)
                    best = gain / extra, bl = l, bw = v;
            }
        if (bl < 0)
            break;
        used += (double)r->layers[bl].numel * (pd_recipe_widths[bw] - pd_recipe_widths[w[bl]]);
        w[bl] = bw;
    }
    /* The Lagrangian and the upgrades are not an exact knapsack: never do
     * worse than one width for all that fits. */
    double err = 0;
    for (int l = 0; l < r->n_layers; l++)
        err += err_at(&r->layers[l], w[l]);
    for (int v = 0; v < PD_RECIPE_WIDTHS && pd_recipe_widths[v] * (double)r->numel <= budget; v++) {
        double uni = 0;
        for (int l = 0; l < r->n_layers; l++)
            uni += err_at(&r->layers[l], v);
        if (uni < err) {
            err = uni, used = pd_recipe_widths[v] * (double)r->numel;
            for (int l = 0; l < r->n_layers; l++)
                w[l] = v;
        }
    }
    for (int l = 0; l < r->n_layers; l++)
        r->layers[l].bits = pd_recipe_widths[w[l]];
    r->average_bits = used / (double)r->numel;
    g_free(w);
}

/* ---- the float16 UNet the analysis runs on ----------------------------------- */

/* A float32 (or bfloat16) UNet weight copied to float16 and swapped into
 * the model for the search: palettes are made from float16 values anyway,
 * each UNet call then reads half the bytes, and the file's pages can go. */
typedef struct f16_copy {
    const char *name;             /* the model's key                          */
    pd_weight w;                  /* the copy; while swapped in: the original */
    uint16_t *data;
} f16_copy;

typedef struct f16_batch {
    const pd_model *m;
    f16_copy *c;
} f16_batch;

/* Copies weight t, then lets its file pages go: the float32 UNet and its
 * copy are never resident together. */
static void f16_task(void *ctx, int64_t t, int thread)
{
    (void)thread;
    f16_batch *b = ctx;
    f16_copy *c = &b->c[t];
    const pd_weight *src = &c->w;
    float *row = g_new(float, pd_weight_cols(src));
    pd_weight_rows_f16(src, 0, pd_weight_rows(src), c->data, row);
    g_free(row);
    pd_model_release(b->m, &src, 1);
    c->w.dtype = PD_F16, c->w.data = c->data;
}

/* Puts the originals back and frees the copies. */
static void f16_unet_undo(pd_model *m, f16_copy *c, int64_t n)
{
    for (int64_t t = 0; t < n; t++) {
        pd_error e;
        pd_model_swap_weight(m, PD_COMPONENT_UNET, c[t].name, &c[t].w, &e);
        g_free(c[t].data);
    }
    g_free(c);
}

static pd_status f16_unet(pd_model *m, f16_copy **out, int64_t *n_out, pd_error *err)
{
    GHashTable *h = m->weights[PD_COMPONENT_UNET];
    f16_copy *c = g_new0(f16_copy, g_hash_table_size(h) + 1);
    int64_t n = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const pd_weight *w = &((const pd_model_tensor *)v)->w;
        if (w->dtype != PD_F32 && w->dtype != PD_BF16)
            continue;
        c[n] = (f16_copy){.name = k, .w = *w, .data = g_try_malloc((size_t)pd_weight_numel(w) * 2)};
        if (!c[n++].data) {
            for (int64_t t = 0; t < n; t++)
                g_free(c[t].data);
            g_free(c);
            return pd_fail(err, PD_E_NOMEM, "out of memory for a float16 copy of the UNet (%s)", m->path);
        }
    }
    f16_batch b = {m, c};
    pd_parallel_for(n, f16_task, &b);
    for (int64_t t = 0; t < n; t++) {
        pd_error e;
        pd_model_swap_weight(m, PD_COMPONENT_UNET, c[t].name, &c[t].w, &e); /* same shape: cannot fail */
    }
    *out = c, *n_out = n;
    return PD_OK;
}

/* ---- the search ------------------------------------------------------------- */

static pd_status check_options(const pd_recipe_options *o, pd_error *err)
{
    if (!(o->target_bits >= 2 && o->target_bits <= 16))
        return pd_fail(err, PD_E_ARG, "mixed-bit target %g: give an average of 2 to 16 bits (4.5 is usual)",
                       o->target_bits);
    if (o->size < 16 || o->size > 1024 || o->size % 8)
        return pd_fail(err, PD_E_ARG, "analysis size %d: give a multiple of 8 from 16 to 1024 (128 is usual)",
                       o->size);
    return pd_convert_check_palettes(o->granularity, o->group_size, o->mode, err);
}

static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The palettizable UNet weights, in name order. */
static void collect_layers(const pd_model *m, pd_recipe *r)
{
    GPtrArray *names = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, m->weights[PD_COMPONENT_UNET]);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (pd_convert_palettizable(PD_COMPONENT_UNET, k, &((const pd_model_tensor *)v)->w))
            g_ptr_array_add(names, k);
    g_ptr_array_sort(names, name_cmp);
    r->n_layers = (int)names->len;
    r->layers = g_new0(pd_recipe_layer, names->len ? names->len : 1);
    r->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint l = 0; l < names->len; l++) {
        const pd_model_tensor *t = g_hash_table_lookup(m->weights[PD_COMPONENT_UNET], names->pdata[l]);
        r->layers[l].name = g_strdup_printf("unet.%s", (const char *)names->pdata[l]);
        r->layers[l].numel = pd_weight_numel(&t->w);
        r->numel += r->layers[l].numel;
        g_hash_table_insert(r->by_name, r->layers[l].name, GINT_TO_POINTER(l + 1));
    }
    g_ptr_array_free(names, TRUE);
}

static const pd_weight *source_of(const pd_model *m, const pd_recipe_layer *L)
{
    const pd_model_tensor *t = g_hash_table_lookup(m->weights[PD_COMPONENT_UNET], L->name + strlen("unet."));
    return &t->w;
}

/* Step 1: every weight palettized at every width (their own errors), then
 * the UNet called with each alone at the measured width(s). */
static pd_status measure_layers(pd_model *m, const pd_eval_ref *ref, const pd_recipe_options *o, pd_recipe *r,
                                pd_psnr *yardstick, pd_error *err)
{
    int64_t n = (int64_t)r->n_layers * FLOAT16, total = n + r->n_layers + 1;
    pal_weight *p = g_new0(pal_weight, n);
    for (int l = 0; l < r->n_layers; l++)
        for (int w = 0; w < FLOAT16; w++)
            p[l * FLOAT16 + w] = (pal_weight){.name = r->layers[l].name + strlen("unet."),
                                              .src = source_of(m, &r->layers[l]), .bits = pd_recipe_widths[w],
                                              .keep = o->every_width || w == MEASURED};
    pd_status s = pal_all(p, n, o, 0, total, err);
    for (int l = 0; !s && l < r->n_layers; l++) {
        pd_recipe_layer *L = &r->layers[l];
        pal_weight *pl = p + l * FLOAT16;
        if (o->progress)
            o->progress(n + l, total, L->name, o->progress_user);
        for (int w = 0; w < FLOAT16; w++)
            L->weight_sq_err[w] = pl[w].weight_sq;
        if (o->every_width) {
            for (int w = 0; !s && w < FLOAT16; w++) {
                s = measure(m, ref, &pl[w], 1, r, yardstick, err);
                L->sq_err[w] = yardstick->sq;
            }
        } else {
            /* One call, at 4 bits unless the weight is exact there (then
             * the widest width that is not: its form is made again): the
             * response is linear in the weight's error, so the other
             * widths scale by that error. */
            int a = MEASURED;
            while (a > 0 && !(L->weight_sq_err[a] > 0))
                a--;
            double per_unit = 0;
            if (a != MEASURED && L->weight_sq_err[a] > 0) {
                pl[a].keep = 1;
                s = pal_all(&pl[a], 1, o, n + l, total, err);
            }
            if (!s && L->weight_sq_err[a] > 0) {
                s = measure(m, ref, &pl[a], 1, r, yardstick, err);
                per_unit = yardstick->sq / L->weight_sq_err[a];
            }
            for (int w = 0; w < FLOAT16; w++)
                L->sq_err[w] = per_unit * L->weight_sq_err[w];
        }
        for (int w = 0; w < FLOAT16; w++)
            pal_weight_clear(&pl[w]);
    }
    for (int64_t t = 0; t < n; t++)
        pal_weight_clear(&p[t]);
    g_free(p);
    return s;
}

/* Step 3: the whole recipe at once. */
static pd_status check_recipe(pd_model *m, const pd_eval_ref *ref, const pd_recipe_options *o, pd_recipe *r,
                              pd_psnr *out, pd_error *err)
{
    if (o->progress)
        o->progress(0, 1, "the whole recipe", o->progress_user);
    pal_weight *p = g_new0(pal_weight, r->n_layers ? r->n_layers : 1);
    int64_t n = 0;
    for (int l = 0; l < r->n_layers; l++)
        if (r->layers[l].bits != 16)
            p[n++] = (pal_weight){.name = r->layers[l].name + strlen("unet."), .src = source_of(m, &r->layers[l]),
                                  .bits = r->layers[l].bits, .keep = 1};
    pd_status s = pal_all(p, n, o, 0, n, err);
    if (!s)
        s = measure(m, ref, p, n, r, out, err);
    for (int64_t t = 0; t < n; t++)
        pal_weight_clear(&p[t]);
    g_free(p);
    return s;
}

pd_status pd_recipe_search(pd_model *m, const pd_recipe_options *o, pd_recipe **out, pd_error *err)
{
    *out = NULL;
    pd_status s = check_options(o, err);
    if (s)
        return s;
    gint64 t0 = g_get_monotonic_time();
    pd_recipe *r = g_new0(pd_recipe, 1);
    r->target_bits = o->target_bits;
    collect_layers(m, r);
    if (!r->n_layers) {
        pd_recipe_free(r);
        return pd_fail(err, PD_E_MODEL, "%s: its UNet has no weight to palettize (none of %d or more elements)",
                       m->path, PD_CONVERT_MIN_ELEMENTS);
    }
    /* One case: the first built-in prompt and seed, as a txt2img's first
     * step; only the conditional row (guidance 1), for half the work: both
     * rows run the same weights. */
    pd_eval_options eo;
    pd_eval_options_init(&eo);
    eo.width = eo.height = o->size;
    eo.n_prompts = eo.n_seeds = 1;
    eo.guidance = 1;
    eo.components = 1u << PD_EVAL_UNET;
    eo.keep_resident = 1;
    pd_eval_ref *ref = NULL;
    pd_psnr yardstick = {0};
    f16_copy *copies = NULL;
    int64_t n_copies = 0;
    s = f16_unet(m, &copies, &n_copies, err);
    if (!s)
        s = pd_eval_reference(m, &eo, &ref, err);
    pd_model_release_component(m, PD_COMPONENT_TEXT); /* its outputs are in ref */
    if (!s)
        s = measure_layers(m, ref, o, r, &yardstick, err);
    if (!s) {
        choose(r);
        for (int w = 0; w < PD_RECIPE_WIDTHS; w++) {
            pd_psnr u = yardstick;
            u.sq = 0;
            for (int l = 0; l < r->n_layers; l++)
                u.sq += err_at(&r->layers[l], w);
            r->uniform_db[w] = pd_psnr_db(&u);
        }
        pd_psnr pred = yardstick;
        pred.sq = 0;
        for (int l = 0; l < r->n_layers; l++)
            for (int w = 0; w < PD_RECIPE_WIDTHS; w++)
                if (pd_recipe_widths[w] == r->layers[l].bits)
                    pred.sq += err_at(&r->layers[l], w);
        r->predicted_db = pd_psnr_db(&pred);
        pd_psnr got;
        s = check_recipe(m, ref, o, r, &got, err);
        r->measured_db = pd_psnr_db(&got);
    }
    pd_eval_ref_free(ref);
    if (copies)
        f16_unet_undo(m, copies, n_copies);
    pd_model_release_component(m, PD_COMPONENT_UNET);
    r->seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    if (s) {
        pd_recipe_free(r);
        return s;
    }
    *out = r;
    return PD_OK;
}
