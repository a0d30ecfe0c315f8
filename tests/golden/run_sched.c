/* run_sched.c — golden "scheduler" cases: one diffusers scheduler built from
 * the case's class and config, its schedule compared with `timesteps`,
 * `sigmas`, `init_noise_sigma` (and, with strength, `timesteps_all`,
 * `timestep`, `noised`), then a rollout fed the recorded model outputs:
 * `scaled<i>`, `prev<i>` and `denoised<i>` compared step by step.
 *
 * Step noise is drawn from the project's generator seeded `noise_seed` and
 * compared with `noise<i>`; the recorded noise is what goes into the step,
 * so the rollout checks scheduler arithmetic alone. Integer tensors must
 * match exactly, float ones within the case's tol. Every tensor of the file
 * must be either an input or checked: a tensor the runner does not know
 * fails the case. One report line per case. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/config.h"
#include "runner.h"
#include "sched/rng.h"
#include "sched/scheduler.h"

typedef struct {
    const manifest *mf;
    const char *id;
    const pd_safetensors *st;
    double tol;
    GHashTable *seen;    /* tensor names used or checked */
    int checked;
    double worst;        /* largest max_abs / tol among float checks */
    char worst_name[64];
    char fail[512];      /* the first failure, "" while none */
} checker;

static void failf(checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(checker *k, const char *fmt, ...)
{
    if (k->fail[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->fail, sizeof k->fail, fmt, ap);
    va_end(ap);
}

/* The named tensor with `numel` values (any numel when < 0), or NULL after
 * recording why not. */
static const pd_st_tensor *tensor(checker *k, const char *name, int64_t numel)
{
    const pd_st_tensor *t = pd_st_find(k->st, name);
    if (!t) {
        failf(k, "no tensor '%s'", name);
        return NULL;
    }
    g_hash_table_add(k->seen, g_strdup(name));
    if (numel >= 0 && t->numel != numel) {
        failf(k, "'%s' has %lld values, paldiff gives %lld", name, (long long)t->numel, (long long)numel);
        return NULL;
    }
    return t;
}

/* An input tensor: F32 with n values. */
static const float *input(checker *k, const char *name, int64_t n)
{
    const pd_st_tensor *t = tensor(k, name, n);
    if (t && t->dtype != PD_ST_F32) {
        failf(k, "'%s' is %s, expected F32", name, pd_st_dtype_name(t->dtype));
        return NULL;
    }
    return t ? t->data : NULL;
}

static void check_floats(checker *k, const char *name, const float *got, int64_t n)
{
    const float *want = input(k, name, n);
    if (!want)
        return;
    double d = max_abs_diff(got, want, n);
    k->checked++;
    if (d / k->tol > k->worst || isnan(d)) {
        k->worst = isnan(d) ? INFINITY : d / k->tol;
        snprintf(k->worst_name, sizeof k->worst_name, "%s", name);
    }
    if (!(d <= k->tol))
        failf(k, "%s max_abs %.2g > %.2g", name, d, k->tol);
}

/* Schedule values: I64 exactly, F32 within tol. */
static void check_values(checker *k, const char *name, const double *got, int n)
{
    const pd_st_tensor *t = tensor(k, name, n);
    if (!t)
        return;
    if (t->dtype == PD_ST_I64) {
        k->checked++;
        for (int i = 0; i < n; i++) {
            int64_t want; /* case files need not align I64 data to 8 bytes */
            memcpy(&want, (const char *)t->data + (size_t)i * sizeof want, sizeof want);
            if (!(got[i] == (double)want)) {
                failf(k, "%s[%d] is %lld, paldiff gives %.9g", name, i, (long long)want, got[i]);
                return;
            }
        }
    } else if (t->dtype == PD_ST_F32) {
        float *f = g_new(float, n ? n : 1);
        for (int i = 0; i < n; i++)
            f[i] = (float)got[i];
        check_floats(k, name, f, n);
        g_free(f);
    } else {
        failf(k, "'%s' is %s, expected I64 or F32", name, pd_st_dtype_name(t->dtype));
    }
}

static double member_double(JsonObject *c, const char *key, double def)
{
    return json_object_has_member(c, key) ? json_object_get_double_member(c, key) : def;
}

/* The case's config object as a pd_config (it is strict JSON already). */
static pd_status case_config(checker *k, JsonObject *c, pd_config **out, pd_error *err)
{
    JsonNode *node = json_object_get_member(c, "config");
    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        *out = NULL;
        return PD_OK;
    }
    char *text = json_to_string(node, FALSE);
    char label[160];
    snprintf(label, sizeof label, "%s config", k->id);
    pd_status st = pd_config_parse(label, text, strlen(text), out, err);
    g_free(text);
    return st;
}

/* The schedule: timesteps (kept, and all), sigmas, init_noise_sigma. */
static void check_schedule(checker *k, JsonObject *c, const pd_sched *s)
{
    int steps = pd_sched_steps(s);
    double *kept = g_new(double, steps);
    for (int i = 0; i < steps; i++)
        kept[i] = pd_sched_timestep(s, i);
    check_values(k, "timesteps", kept, steps);
    g_free(kept);
    if (json_object_has_member(c, "rollout_steps") && json_object_get_int_member(c, "rollout_steps") != steps)
        failf(k, "rollout_steps is %lld, paldiff runs %d steps",
              (long long)json_object_get_int_member(c, "rollout_steps"), steps);
    if (json_object_has_member(c, "begin_index") &&
        json_object_get_int_member(c, "begin_index") != pd_sched_begin_index(s))
        failf(k, "begin_index is %lld, paldiff's %d", (long long)json_object_get_int_member(c, "begin_index"),
              pd_sched_begin_index(s));
    if (pd_st_find(k->st, "timesteps_all")) {
        const double *all;
        int n = pd_sched_all_timesteps(s, &all);
        check_values(k, "timesteps_all", all, n);
    }
    const double *sigmas;
    int ns = pd_sched_sigmas(s, &sigmas);
    if (ns)
        check_values(k, "sigmas", sigmas, ns);
    else if (pd_st_find(k->st, "sigmas"))
        failf(k, "the case has sigmas, paldiff's scheduler none");
    double init = pd_sched_init_noise_sigma(s);
    check_values(k, "init_noise_sigma", &init, 1);
}

/* With strength: noised = add_noise(original, noise) at step 0's level. */
static void check_add_noise(checker *k, const pd_sched *s, int64_t n)
{
    if (!pd_st_find(k->st, "noised"))
        return;
    double t0 = pd_sched_timestep(s, 0);
    check_values(k, "timestep", &t0, 1);
    const float *x0 = input(k, "original", n), *noise = input(k, "noise", n);
    if (!x0 || !noise)
        return;
    float *got = g_new(float, n);
    pd_sched_add_noise(s, 0, x0, noise, got, n);
    check_floats(k, "noised", got, n);
    g_free(got);
}

static void rollout(checker *k, JsonObject *c, pd_sched *s, int64_t n)
{
    const float *x0 = input(k, "sample0", n);
    if (!x0)
        return;
    float *x = g_new(float, n), *scaled = g_new(float, n), *drawn = g_new(float, n),
          *denoised = g_new(float, n);
    memcpy(x, x0, (size_t)n * sizeof *x);
    pd_rng rng;
    int seeded = json_object_has_member(c, "noise_seed");
    if (seeded) /* seeds may reach 2^63 − 1: json-glib keeps them exact as int64 */
        pd_rng_seed(&rng, (uint64_t)json_object_get_int_member(c, "noise_seed"));
    char name[48];
    for (int i = 0; i < pd_sched_steps(s) && !k->fail[0]; i++) {
        pd_sched_scale_input(s, i, x, scaled, n);
        snprintf(name, sizeof name, "scaled%d", i);
        check_floats(k, name, scaled, n);
        snprintf(name, sizeof name, "model_output%d", i);
        const float *out = input(k, name, n);
        snprintf(name, sizeof name, "noise%d", i);
        const float *noise = NULL;
        if (pd_sched_draws_noise(s, i)) {
            if (!seeded) {
                failf(k, "step %d draws noise but the case has no noise_seed", i);
                break;
            }
            pd_rng_randn(&rng, drawn, n);
            check_floats(k, name, drawn, n);
            noise = input(k, name, n);
        } else if (pd_st_find(k->st, name)) {
            failf(k, "the case has '%s', paldiff's step %d draws no noise", name, i);
        }
        if (!out || k->fail[0])
            break;
        pd_sched_step(s, i, out, noise, x, denoised, n);
        snprintf(name, sizeof name, "prev%d", i);
        check_floats(k, name, x, n);
        snprintf(name, sizeof name, "denoised%d", i);
        if (pd_st_find(k->st, name))
            check_floats(k, name, denoised, n);
    }
    g_free(x);
    g_free(scaled);
    g_free(drawn);
    g_free(denoised);
}

void run_sched(const manifest *mf, JsonObject *c)
{
    const char *id = json_object_get_string_member(c, "id");
    JsonObject *tols = json_object_get_object_member(c, "tol");
    checker k = {.mf = mf, .id = id, .worst_name = "-"};
    k.tol = tols && json_object_has_member(tols, "max_abs") ? json_object_get_double_member(tols, "max_abs") : 0;
    const char *cls = json_object_has_member(c, "class") ? json_object_get_string_member(c, "class") : NULL;
    const char *fname = json_object_has_member(c, "file") ? json_object_get_string_member(c, "file") : NULL;
    if (!cls || !fname || !json_object_has_member(c, "steps")) {
        report(0, mf->rel, id, "-", "the case lacks class, file or steps");
        return;
    }
    char *file = g_build_filename(mf->dir, fname, NULL);
    pd_safetensors *st;
    pd_error err;
    pd_status status = pd_st_open(file, &st, &err);
    g_free(file);
    if (status) {
        report(0, mf->rel, id, "-", "%s", err.message);
        return;
    }
    k.st = st;
    k.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    pd_config *config = NULL;
    pd_sched *s = NULL;
    pd_sched_config cfg;
    pd_sched_config_defaults(&cfg);
    cfg.eta = member_double(c, "eta", 0);
    if ((status = case_config(&k, c, &config, &err)) ||
        (status = pd_sched_config_read(&cfg, cls, config, &err)) ||
        (status = pd_sched_create(&cfg, (int)json_object_get_int_member(c, "steps"),
                                  member_double(c, "strength", 1), &s, &err))) {
        failf(&k, "%s", err.message);
    } else {
        const pd_st_tensor *x0 = pd_st_find(st, "sample0");
        int64_t n = x0 ? x0->numel : 0;
        check_schedule(&k, c, s);
        check_add_noise(&k, s, n);
        rollout(&k, c, s, n);
        for (size_t i = 0; i < pd_st_count(st) && !k.fail[0]; i++)
            if (!g_hash_table_contains(k.seen, pd_st_at(st, i)->name))
                failf(&k, "tensor '%s' is not checked by the runner", pd_st_at(st, i)->name);
    }
    if (k.fail[0])
        report(0, mf->rel, id, "-", "%s", k.fail);
    else
        report(1, mf->rel, id, "-", "%s %d steps, %d tensors, worst %s at %.2g of tol %.2g",
               pd_sched_class_name(cfg.kind), pd_sched_steps(s), k.checked, k.worst_name, k.worst, k.tol);
    pd_sched_free(s);
    pd_config_free(config);
    g_hash_table_destroy(k.seen);
    pd_st_close(st);
}
