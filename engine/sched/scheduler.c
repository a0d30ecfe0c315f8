/* scheduler.c — scheduler names, config reading, and the life of a pd_sched:
 * build the tables, keep the strength tail, dispatch to the kind
 * (see scheduler.h for the contract, schedule.h for the split). */
#include "sched/scheduler.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "io/config.h"
#include "sched/schedule.h"

/* ---- names ------------------------------------------------------------- */

static const char *const class_names[PD_SCHED_KIND_COUNT] = {
    [PD_SCHED_DDIM] = "DDIMScheduler",
    [PD_SCHED_PNDM] = "PNDMScheduler",
    [PD_SCHED_EULER] = "EulerDiscreteScheduler",
    [PD_SCHED_EULER_A] = "EulerAncestralDiscreteScheduler",
    [PD_SCHED_DPMPP_2M] = "DPMSolverMultistepScheduler",
    [PD_SCHED_LCM] = "LCMScheduler",
};

static const struct {
    const char *name;
    pd_sched_kind kind;
    int karras;
} aliases[] = {
    {"ddim", PD_SCHED_DDIM, 0},         {"pndm", PD_SCHED_PNDM, 0},
    {"plms", PD_SCHED_PNDM, 0},         {"euler", PD_SCHED_EULER, 0},
    {"euler_a", PD_SCHED_EULER_A, 0},   {"dpmpp_2m", PD_SCHED_DPMPP_2M, 0},
    {"dpmpp_2m_karras", PD_SCHED_DPMPP_2M, 1}, {"lcm", PD_SCHED_LCM, 0},
};

#define KNOWN_NAMES                                                                              \
    "ddim, pndm, plms, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lcm, DDIMScheduler, "          \
    "PNDMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, "                   \
    "DPMSolverMultistepScheduler, LCMScheduler"

int pd_sched_kind_from_name(const char *name, int *karras)
{
    if (karras)
        *karras = 0;
    if (!name)
        return -1;
    for (int k = 0; k < PD_SCHED_KIND_COUNT; k++)
        if (!g_ascii_strcasecmp(name, class_names[k]))
            return k;
    for (size_t i = 0; i < G_N_ELEMENTS(aliases); i++)
        if (!g_ascii_strcasecmp(name, aliases[i].name)) {
            if (karras)
                *karras = aliases[i].karras;
            return (int)aliases[i].kind;
        }
    return -1;
}

const char *pd_sched_class_name(pd_sched_kind kind)
{
    return (unsigned)kind < PD_SCHED_KIND_COUNT ? class_names[kind] : NULL;
}

/* diffusers' default timestep_spacing per class: what from_config gives a
 * config that does not name one (SD's own scheduler_config.json does not). */
static pd_spacing default_spacing(pd_sched_kind kind)
{
    switch (kind) {
    case PD_SCHED_EULER:
    case PD_SCHED_EULER_A:
    case PD_SCHED_DPMPP_2M:
        return PD_SPACING_LINSPACE;
    default:
        return PD_SPACING_LEADING;
    }
}

void pd_sched_config_defaults(pd_sched_config *cfg)
{
    *cfg = (pd_sched_config){
        .kind = PD_SCHED_PNDM,
        .num_train_timesteps = 1000,
        .beta_start = 0.00085,
        .beta_end = 0.012,
        .beta_schedule = PD_BETAS_SCALED_LINEAR,
        .prediction = PD_PREDICT_EPSILON,
        .spacing = PD_SPACING_LEADING,
        .steps_offset = 1,
        .set_alpha_to_one = 0,
        .use_karras_sigmas = 0,
        .lower_order_final = 1,
        .euler_at_final = 0,
        .final_sigmas_zero = 1,
        .original_inference_steps = 50,
        .timestep_scaling = 10,
        .eta = 0,
        .sigma_min = NAN,
        .sigma_max = NAN,
    };
}

/* ---- reading scheduler_config.json --------------------------------------- */

typedef struct {
    const char *name;
    int value;
} choice;

/* A string key whose value must be one of `choices` (anything else is not
 * something paldiff runs: PD_E_UNSUPPORTED listing what it does run). */
static pd_status read_choice(const pd_config *c, const char *key, const choice *choices, int count,
                             int *out, int *given, pd_error *err)
{
    const char *v = NULL;
    pd_status st = pd_config_string(c, key, &v, err);
    if (st || !v)
        return st;
    for (int i = 0; i < count; i++)
        if (!strcmp(v, choices[i].name)) {
            *out = choices[i].value;
            if (given)
                *given = 1;
            return PD_OK;
        }
    char list[256] = "";
    for (int i = 0; i < count; i++) {
        if (i)
            g_strlcat(list, ", ", sizeof list);
        g_strlcat(list, choices[i].name, sizeof list);
    }
    return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"%s\" is \"%s\"; paldiff runs %s", pd_config_path(c), key,
                   v, list);
}

/* A boolean key that changes the result in a way paldiff does not implement
 * unless it holds `want`. */
static pd_status require_bool(const pd_config *c, const char *key, int want, pd_error *err)
{
    int v = want;
    pd_status st = pd_config_bool(c, key, &v, err);
    if (st)
        return st;
    if (v != want)
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"%s\": %s is not supported (only %s)",
                       pd_config_path(c), key, v ? "true" : "false", want ? "true" : "false");
    return PD_OK;
}

static pd_status read_int(const pd_config *c, const char *key, int64_t min, int64_t max, int *out,
                          pd_error *err)
{
    int64_t v = *out;
    pd_status st = pd_config_int(c, key, min, max, &v, err);
    if (!st)
        *out = (int)v;
    return st;
}

/* A number in [min, max] (open ends where `open` says so). */
static pd_status read_range(const pd_config *c, const char *key, double min, double max, int open,
                            double *out, pd_error *err)
{
    double v = *out;
    pd_status st = pd_config_double(c, key, &v, err);
    if (st || !pd_config_has(c, key))
        return st;
    if (open ? !(v > min && v < max) : !(v >= min && v <= max))
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" is %g, expected %s%g, %g%s", pd_config_path(c), key, v,
                       open ? "(" : "[", min, max, open ? ")" : "]");
    *out = v;
    return PD_OK;
}

#define KIND(k) (1u << PD_SCHED_##k)

static pd_status read_keys(pd_sched_config *cfg, const pd_config *c, int *spacing_given, pd_error *err)
{
    const unsigned kb = 1u << cfg->kind;
    const char *path = pd_config_path(c);
    pd_status st;
    int v;
#define TRY(x)              \
    do {                    \
        if ((st = (x)))     \
            return st;      \
    } while (0)

    TRY(read_int(c, "num_train_timesteps", 2, PD_SCHED_MAX_TRAIN, &cfg->num_train_timesteps, err));
    TRY(read_range(c, "beta_start", 0, 1, 1, &cfg->beta_start, err));
    TRY(read_range(c, "beta_end", 0, 1, 1, &cfg->beta_end, err));
    if (pd_config_has(c, "trained_betas"))
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"trained_betas\" is not supported (only null)", path);
    static const choice betas[] = {{"linear", PD_BETAS_LINEAR},
                                   {"scaled_linear", PD_BETAS_SCALED_LINEAR},
                                   {"squaredcos_cap_v2", PD_BETAS_SQUAREDCOS}};
    v = cfg->beta_schedule;
    TRY(read_choice(c, "beta_schedule", betas, 3, &v, NULL, err));
    cfg->beta_schedule = v;
    static const choice preds[] = {{"epsilon", PD_PREDICT_EPSILON}, {"v_prediction", PD_PREDICT_V}};
    v = cfg->prediction;
    TRY(read_choice(c, "prediction_type", preds, 2, &v, NULL, err));
    cfg->prediction = v;
    static const choice spacings[] = {{"leading", PD_SPACING_LEADING},
                                      {"trailing", PD_SPACING_TRAILING},
                                      {"linspace", PD_SPACING_LINSPACE}};
    v = cfg->spacing;
    TRY(read_choice(c, "timestep_spacing", spacings, 3, &v, spacing_given, err));
    cfg->spacing = v;
    TRY(read_int(c, "steps_offset", 0, cfg->num_train_timesteps, &cfg->steps_offset, err));

    /* Keys only some classes have: the others ignore them, as diffusers'
     * from_config does. */
    if (kb & ~KIND(PNDM))
        TRY(require_bool(c, "rescale_betas_zero_snr", 0, err));
    if (kb & (KIND(DDIM) | KIND(PNDM) | KIND(LCM)))
        TRY(pd_config_bool(c, "set_alpha_to_one", &cfg->set_alpha_to_one, err));
    if (kb & (KIND(DDIM) | KIND(LCM)))
        TRY(require_bool(c, "clip_sample", 0, err));
    if (kb & (KIND(DDIM) | KIND(DPMPP_2M) | KIND(LCM)))
        TRY(require_bool(c, "thresholding", 0, err));
    if (kb & KIND(PNDM))
        TRY(require_bool(c, "skip_prk_steps", 1, err));
    if (kb & (KIND(EULER) | KIND(DPMPP_2M))) {
        TRY(pd_config_bool(c, "use_karras_sigmas", &cfg->use_karras_sigmas, err));
        /* DPM++ has no such arguments but reads them from its config when a
         * compatible class left them there. */
        TRY(read_range(c, "sigma_min", 0, INFINITY, 1, &cfg->sigma_min, err));
        TRY(read_range(c, "sigma_max", 0, INFINITY, 1, &cfg->sigma_max, err));
    }
    if (kb & KIND(EULER)) {
        static const choice interp[] = {{"linear", 0}};
        static const choice ttype[] = {{"discrete", 0}, {"continuous", 1}};
        int dummy = 0, continuous = 0;
        TRY(read_choice(c, "interpolation_type", interp, 1, &dummy, NULL, err));
        TRY(read_choice(c, "timestep_type", ttype, 2, &continuous, NULL, err));
        if (continuous && cfg->prediction == PD_PREDICT_V)
            return pd_fail(err, PD_E_UNSUPPORTED,
                           "%s: \"timestep_type\" \"continuous\" with v_prediction is not supported", path);
    }
    if (kb & KIND(DPMPP_2M)) {
        int order = 2;
        TRY(read_int(c, "solver_order", 1, 3, &order, err));
        if (order != 2)
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"solver_order\" is %d; paldiff runs 2", path, order);
        /* diffusers itself maps "deis" and the UniPC solver types onto these. */
        static const choice algos[] = {{"dpmsolver++", 0}, {"deis", 0}};
        static const choice solvers[] = {{"midpoint", 0}, {"logrho", 0}, {"bh1", 0}, {"bh2", 0}};
        static const choice finals[] = {{"zero", 1}, {"sigma_min", 0}};
        int dummy = 0;
        TRY(read_choice(c, "algorithm_type", algos, 2, &dummy, NULL, err));
        TRY(read_choice(c, "solver_type", solvers, 4, &dummy, NULL, err));
        TRY(pd_config_bool(c, "lower_order_final", &cfg->lower_order_final, err));
        TRY(pd_config_bool(c, "euler_at_final", &cfg->euler_at_final, err));
        TRY(require_bool(c, "use_lu_lambdas", 0, err));
        TRY(read_choice(c, "final_sigmas_type", finals, 2, &cfg->final_sigmas_zero, NULL, err));
        double clip = -INFINITY;
        TRY(pd_config_double_inf(c, "lambda_min_clipped", &clip, err));
        if (clip != -INFINITY)
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"lambda_min_clipped\" is %g; paldiff runs only \"-inf\"",
                           path, clip);
        const char *var = NULL;
        TRY(pd_config_string(c, "variance_type", &var, err));
        if (var && (!strcmp(var, "learned") || !strcmp(var, "learned_range")))
            return pd_fail(err, PD_E_UNSUPPORTED, "%s: \"variance_type\" \"%s\" is not supported (only null)",
                           path, var);
    }
    if (kb & KIND(LCM)) {
        TRY(read_int(c, "original_inference_steps", 1, cfg->num_train_timesteps,
                     &cfg->original_inference_steps, err));
        TRY(read_range(c, "timestep_scaling", 0, 1e6, 0, &cfg->timestep_scaling, err));
    }
#undef TRY
    return PD_OK;
}

pd_status pd_sched_config_read(pd_sched_config *cfg, const char *class_name, const struct pd_config *config,
                               pd_error *err)
{
    pd_sched_config c = *cfg;
    int karras = 0, spacing_given = 0;
    if (class_name) {
        int kind = pd_sched_kind_from_name(class_name, &karras);
        if (kind < 0)
            return pd_fail(err, PD_E_UNSUPPORTED, "unknown scheduler \"%s\"; paldiff runs %s", class_name,
                           KNOWN_NAMES);
        c.kind = kind;
    }
    if ((unsigned)c.kind >= PD_SCHED_KIND_COUNT)
        return pd_fail(err, PD_E_ARG, "scheduler kind %d is not one of pd_sched_kind", (int)c.kind);
    if (config) {
        pd_status st = read_keys(&c, config, &spacing_given, err);
        if (st)
            return st;
    }
    if (!spacing_given)
        c.spacing = default_spacing(c.kind);
    if (karras)
        c.use_karras_sigmas = 1;
    *cfg = c;
    return PD_OK;
}

/* ---- a run's schedule ---------------------------------------------------- */

static const pd_sched_ops *const kind_ops[PD_SCHED_KIND_COUNT] = {
    [PD_SCHED_DDIM] = &pd_ddim_ops,
    [PD_SCHED_PNDM] = &pd_pndm_ops,
    [PD_SCHED_EULER] = &pd_euler_ops,
    [PD_SCHED_EULER_A] = &pd_euler_a_ops,
    [PD_SCHED_DPMPP_2M] = &pd_dpmpp_2m_ops,
    [PD_SCHED_LCM] = &pd_lcm_ops,
};

/* A caller may fill the struct by hand: everything the tables and steps
 * rely on is checked again here. */
static pd_status check_config(const pd_sched_config *c, pd_error *err)
{
    if ((unsigned)c->kind >= PD_SCHED_KIND_COUNT)
        return pd_fail(err, PD_E_ARG, "scheduler kind %d is not one of pd_sched_kind", (int)c->kind);
    if (c->num_train_timesteps < 2 || c->num_train_timesteps > PD_SCHED_MAX_TRAIN)
        return pd_fail(err, PD_E_ARG, "num_train_timesteps is %d, expected 2..%d", c->num_train_timesteps,
                       PD_SCHED_MAX_TRAIN);
    if (!(c->beta_start > 0 && c->beta_start < 1 && c->beta_end > 0 && c->beta_end < 1))
        return pd_fail(err, PD_E_ARG, "beta_start %g and beta_end %g must lie in (0, 1)", c->beta_start,
                       c->beta_end);
    if ((unsigned)c->beta_schedule > PD_BETAS_SQUAREDCOS || (unsigned)c->spacing > PD_SPACING_LINSPACE)
        return pd_fail(err, PD_E_ARG, "beta_schedule or timestep_spacing is not one of their enums");
    if (c->prediction != PD_PREDICT_AUTO && c->prediction != PD_PREDICT_EPSILON && c->prediction != PD_PREDICT_V)
        return pd_fail(err, PD_E_ARG, "prediction %d is not one of pd_prediction", (int)c->prediction);
    if (c->steps_offset < 0 || c->steps_offset > c->num_train_timesteps)
        return pd_fail(err, PD_E_ARG, "steps_offset is %d, expected 0..%d", c->steps_offset,
                       c->num_train_timesteps);
    if (c->kind == PD_SCHED_LCM &&
        (c->original_inference_steps < 1 || c->original_inference_steps > c->num_train_timesteps))
        return pd_fail(err, PD_E_ARG, "original_inference_steps is %d, expected 1..%d",
                       c->original_inference_steps, c->num_train_timesteps);
    if (!(c->timestep_scaling >= 0 && c->timestep_scaling <= 1e6))
        return pd_fail(err, PD_E_ARG, "timestep_scaling is %g, expected 0..1e6", c->timestep_scaling);
    if (!(c->eta >= 0 && c->eta <= 1))
        return pd_fail(err, PD_E_ARG, "eta is %g, expected 0..1", c->eta);
    if (!isnan(c->sigma_min) && !(c->sigma_min > 0 && isfinite(c->sigma_min)))
        return pd_fail(err, PD_E_ARG, "sigma_min is %g, expected NAN or a positive number", c->sigma_min);
    if (!isnan(c->sigma_max) && !(c->sigma_max > 0 && isfinite(c->sigma_max)))
        return pd_fail(err, PD_E_ARG, "sigma_max is %g, expected NAN or a positive number", c->sigma_max);
    return PD_OK;
}

pd_status pd_sched_check_timestep(const pd_sched *s, double t, pd_error *err)
{
    if (t >= 0 && t < s->T)
        return PD_OK;
    static const char *const spacing[] = {"leading", "trailing", "linspace"};
    return pd_fail(err, PD_E_ARG,
                   "%s with %d steps, %s spacing and steps_offset %d needs timestep %g, outside 0..%d "
                   "(diffusers would fail or index from the end); choose another number of steps",
                   class_names[s->cfg.kind], s->inference_steps, spacing[s->cfg.spacing], s->cfg.steps_offset,
                   t, s->T - 1);
}

pd_status pd_sched_create(const pd_sched_config *cfg, int steps, double strength, pd_sched **out,
                          pd_error *err)
{
    *out = NULL;
    pd_status st = check_config(cfg, err);
    if (st)
        return st;
    const int T = cfg->num_train_timesteps;
    if (steps < 1 || steps > T)
        return pd_fail(err, PD_E_ARG, "steps is %d, expected 1..%d (the scheduler's num_train_timesteps)", steps, T);
    if (!(strength > 0 && strength <= 1))
        return pd_fail(err, PD_E_ARG, "strength is %g, expected a number in (0, 1]", strength);
    if (cfg->kind == PD_SCHED_LCM && steps > cfg->original_inference_steps)
        return pd_fail(err, PD_E_ARG, "LCMScheduler runs at most original_inference_steps (%d) steps, not %d",
                       cfg->original_inference_steps, steps);
    /* diffusers' get_timesteps: keep the last int(steps · strength) steps. */
    double keep = floor((double)steps * strength);
    int init = keep < steps ? (int)keep : steps;
    if (init < 1)
        return pd_fail(err, PD_E_ARG, "strength %g of %d steps leaves no step to run; raise steps or strength",
                       strength, steps);

    pd_sched *s = g_new0(pd_sched, 1);
    s->cfg = *cfg;
    if (s->cfg.prediction == PD_PREDICT_AUTO)
        s->cfg.prediction = PD_PREDICT_EPSILON;
    s->ops = kind_ops[cfg->kind];
    s->T = T;
    s->inference_steps = steps;
    s->ac = g_new(double, T);
    pd_schedule_alphas_cumprod(&s->cfg, s->ac);
    if (!(s->ac[T - 1] > 0)) { /* float32 underflow: sigmas would be infinite */
        st = pd_fail(err, PD_E_ARG, "betas %g..%g over %d timesteps leave no signal (alphas_cumprod reaches 0)",
                     cfg->beta_start, cfg->beta_end, T);
        goto fail;
    }
    s->final_ac = cfg->set_alpha_to_one ? 1.0 : s->ac[0];
    if ((st = s->ops->build(s, err)))
        goto fail;
    s->begin = steps - init; /* t_start · order, and every order here is 1 */
    s->steps = s->n_all - s->begin;
    s->coef = g_malloc0_n((gsize)s->steps, sizeof *s->coef);
    if (s->ops->prepare && (st = s->ops->prepare(s, err)))
        goto fail;
    *out = s;
    return PD_OK;
fail:
    pd_sched_free(s);
    return st;
}

void pd_sched_free(pd_sched *s)
{
    if (!s)
        return;
    g_free(s->ac);
    g_free(s->timesteps);
    g_free(s->sigmas);
    g_free(s->coef);
    for (size_t k = 0; k < G_N_ELEMENTS(s->state); k++)
        g_free(s->state[k]);
    g_free(s);
}

void pd_sched_state_size(pd_sched *s, int count, int64_t n)
{
    if (s->state_n == n && s->state[count - 1])
        return;
    for (int k = 0; k < count; k++) {
        g_free(s->state[k]);
        s->state[k] = g_new0(float, (size_t)n);
    }
    s->state_n = n;
}

/* ---- accessors and dispatch ---------------------------------------------- */

int pd_sched_steps(const pd_sched *s) { return s->steps; }
int pd_sched_begin_index(const pd_sched *s) { return s->begin; }
double pd_sched_init_noise_sigma(const pd_sched *s) { return s->init_noise_sigma; }

double pd_sched_timestep(const pd_sched *s, int i)
{
    return i >= 0 && i < s->steps ? s->timesteps[s->begin + i] : NAN;
}

int pd_sched_all_timesteps(const pd_sched *s, const double **timesteps)
{
    *timesteps = s->timesteps;
    return s->n_all;
}

int pd_sched_sigmas(const pd_sched *s, const double **sigmas)
{
    *sigmas = s->sigmas;
    return s->n_sigmas;
}

void pd_sched_scale_input(const pd_sched *s, int i, const float *sample, float *scaled, int64_t n)
{
    if (i < 0 || i >= s->steps || n <= 0)
        return;
    if (s->ops->scale)
        s->ops->scale(s, i, sample, scaled, n);
    else if (scaled != sample)
        memmove(scaled, sample, (size_t)n * sizeof *scaled);
}

int pd_sched_draws_noise(const pd_sched *s, int i)
{
    return i >= 0 && i < s->steps && s->ops->draws_noise && s->ops->draws_noise(s, i);
}

void pd_sched_step(pd_sched *s, int i, const float *model_output, const float *noise, float *sample,
                   float *denoised, int64_t n)
{
    if (i < 0 || i >= s->steps || n <= 0)
        return;
    s->ops->step(s, i, model_output, noise, sample, denoised, n);
}

void pd_sched_add_noise(const pd_sched *s, int i, const float *original, const float *noise, float *out,
                        int64_t n)
{
    if (i < 0 || i >= s->steps || n <= 0)
        return;
    s->ops->add_noise(s, i, original, noise, out, n);
}
