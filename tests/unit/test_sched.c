/* test_sched.c — the schedulers' inputs (sched/scheduler.h); their numbers
 * are golden-sched's:
 *
 *  1. names: aliases, class names, the Karras flag;
 *  2. scheduler_config.json reading, one table row per config: values
 *     paldiff does not run (PD_E_UNSUPPORTED), wrong types and ranges
 *     (PD_E_FORMAT), keys a class ignores; every message names the key and
 *     a failure leaves the config as it was;
 *  3. pd_sched_create on hostile arguments: steps, strength, eta and config
 *     fields out of range, schedules that leave the trained timesteps;
 *  4. the step contract: who draws noise, in-place scaling and add_noise,
 *     index checks, a run repeated from step 0.
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "io/config.h"
#include "paldiff.h"
#include "sched/scheduler.h"

/* ---- 1. names -------------------------------------------------------------- */

static void test_names(void)
{
    static const struct {
        const char *name;
        int kind, karras;
    } rows[] = {
        {"ddim", PD_SCHED_DDIM, 0},
        {"DDIMScheduler", PD_SCHED_DDIM, 0},
        {"pndm", PD_SCHED_PNDM, 0},
        {"plms", PD_SCHED_PNDM, 0},
        {"PNDMScheduler", PD_SCHED_PNDM, 0},
        {"euler", PD_SCHED_EULER, 0},
        {"EulerDiscreteScheduler", PD_SCHED_EULER, 0},
        {"euler_a", PD_SCHED_EULER_A, 0},
        {"EulerAncestralDiscreteScheduler", PD_SCHED_EULER_A, 0},
        {"dpmpp_2m", PD_SCHED_DPMPP_2M, 0},
        {"dpmpp_2m_karras", PD_SCHED_DPMPP_2M, 1},
        {"DPM++_2M_KARRAS", -1, 0},
        {"DPMPP_2M_Karras", PD_SCHED_DPMPP_2M, 1},
        {"DPMSolverMultistepScheduler", PD_SCHED_DPMPP_2M, 0},
        {"lcm", PD_SCHED_LCM, 0},
        {"LCMScheduler", PD_SCHED_LCM, 0},
        {"", -1, 0},
        {"ddim ", -1, 0},
        {"DDPMScheduler", -1, 0},
        {"UniPCMultistepScheduler", -1, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        int karras = 7;
        int kind = pd_sched_kind_from_name(rows[i].name, &karras);
        CHECK_MSG(kind == rows[i].kind && karras == rows[i].karras, "\"%s\": kind %d karras %d", rows[i].name, kind,
                  karras);
    }
    CHECK(pd_sched_kind_from_name("euler_a", NULL) == PD_SCHED_EULER_A);
    CHECK(pd_sched_kind_from_name(NULL, NULL) == -1);
    for (int k = 0; k < PD_SCHED_KIND_COUNT; k++)
        CHECK(pd_sched_kind_from_name(pd_sched_class_name(k), NULL) == k);
    CHECK(pd_sched_class_name(PD_SCHED_KIND_COUNT) == NULL);
    CHECK(pd_sched_class_name((pd_sched_kind)-1) == NULL);
}

/* ---- 2. config reading ----------------------------------------------------- */

static pd_status read_json(pd_sched_config *cfg, const char *cls, const char *json, pd_error *err)
{
    pd_config *c = NULL;
    pd_status st = pd_config_parse("sched.json", json, strlen(json), &c, err);
    if (st == PD_OK)
        st = pd_sched_config_read(cfg, cls, c, err);
    pd_config_free(c);
    return st;
}

static void test_config_table(void)
{
    static const struct {
        const char *cls, *json;
        pd_status want;
        const char *msg; /* pieces the message must hold */
    } rows[] = {
        /* SD 1.5's own file, and the values the golden configs carry */
        {"PNDMScheduler",
         "{\"_class_name\": \"PNDMScheduler\", \"beta_end\": 0.012, \"beta_schedule\": \"scaled_linear\", "
         "\"beta_start\": 0.00085, \"num_train_timesteps\": 1000, \"set_alpha_to_one\": false, "
         "\"skip_prk_steps\": true, \"steps_offset\": 1, \"trained_betas\": null, \"clip_sample\": false}",
         PD_OK, ""},
        {"DPMSolverMultistepScheduler", "{\"lambda_min_clipped\": \"-inf\", \"variance_type\": null}", PD_OK, ""},
        {"DPMSolverMultistepScheduler", "{\"algorithm_type\": \"deis\", \"solver_type\": \"bh2\"}", PD_OK, ""},
        {"EulerDiscreteScheduler", "{\"sigma_min\": null, \"sigma_max\": null, \"timestep_type\": \"continuous\"}",
         PD_OK, ""},
        /* keys a class does not have are ignored, whatever they hold */
        {"PNDMScheduler", "{\"clip_sample\": true, \"thresholding\": true, \"rescale_betas_zero_snr\": true}", PD_OK,
         ""},
        {"EulerAncestralDiscreteScheduler", "{\"solver_order\": 3, \"use_karras_sigmas\": true}", PD_OK, ""},
        {"DDIMScheduler", "{\"skip_prk_steps\": false, \"interpolation_type\": \"log_linear\"}", PD_OK, ""},
        {"LCMScheduler", "{\"algorithm_type\": \"sde-dpmsolver++\", \"sigma_min\": -1}", PD_OK, ""},
        /* values paldiff does not run */
        {"DDIMScheduler", "{\"trained_betas\": [0.1, 0.2]}", PD_E_UNSUPPORTED, "trained_betas"},
        {"DDIMScheduler", "{\"clip_sample\": true}", PD_E_UNSUPPORTED, "clip_sample|true"},
        {"LCMScheduler", "{\"thresholding\": true}", PD_E_UNSUPPORTED, "thresholding"},
        {"EulerDiscreteScheduler", "{\"rescale_betas_zero_snr\": true}", PD_E_UNSUPPORTED, "rescale_betas_zero_snr"},
        {"PNDMScheduler", "{\"skip_prk_steps\": false}", PD_E_UNSUPPORTED, "skip_prk_steps|false"},
        {"DDIMScheduler", "{\"beta_schedule\": \"sigmoid\"}", PD_E_UNSUPPORTED, "beta_schedule|sigmoid|scaled_linear"},
        {"DDIMScheduler", "{\"prediction_type\": \"sample\"}", PD_E_UNSUPPORTED, "prediction_type|sample|v_prediction"},
        {"EulerDiscreteScheduler", "{\"timestep_spacing\": \"random\"}", PD_E_UNSUPPORTED, "timestep_spacing|random"},
        {"EulerDiscreteScheduler", "{\"interpolation_type\": \"log_linear\"}", PD_E_UNSUPPORTED, "interpolation_type"},
        {"EulerDiscreteScheduler", "{\"prediction_type\": \"v_prediction\", \"timestep_type\": \"continuous\"}",
         PD_E_UNSUPPORTED, "timestep_type"},
        {"DPMSolverMultistepScheduler", "{\"solver_order\": 3}", PD_E_UNSUPPORTED, "solver_order|3"},
        {"DPMSolverMultistepScheduler", "{\"solver_order\": 1}", PD_E_UNSUPPORTED, "solver_order|1"},
        {"DPMSolverMultistepScheduler", "{\"algorithm_type\": \"sde-dpmsolver++\"}", PD_E_UNSUPPORTED, "algorithm_type"},
        {"DPMSolverMultistepScheduler", "{\"algorithm_type\": \"dpmsolver\"}", PD_E_UNSUPPORTED, "algorithm_type"},
        {"DPMSolverMultistepScheduler", "{\"solver_type\": \"heun\"}", PD_E_UNSUPPORTED, "solver_type|heun"},
        {"DPMSolverMultistepScheduler", "{\"use_lu_lambdas\": true}", PD_E_UNSUPPORTED, "use_lu_lambdas"},
        {"DPMSolverMultistepScheduler", "{\"lambda_min_clipped\": -5.1}", PD_E_UNSUPPORTED, "lambda_min_clipped"},
        {"DPMSolverMultistepScheduler", "{\"lambda_min_clipped\": \"inf\"}", PD_E_UNSUPPORTED, "lambda_min_clipped"},
        {"DPMSolverMultistepScheduler", "{\"variance_type\": \"learned_range\"}", PD_E_UNSUPPORTED, "variance_type"},
        {"DPMSolverMultistepScheduler", "{\"final_sigmas_type\": \"denoise_to_zero\"}", PD_E_UNSUPPORTED,
         "final_sigmas_type"},
        {"DPMSolverMultistepScheduler", "{\"thresholding\": true}", PD_E_UNSUPPORTED, "thresholding"},
        /* wrong types and ranges */
        {"DDIMScheduler", "{\"num_train_timesteps\": 0}", PD_E_FORMAT, "num_train_timesteps"},
        {"DDIMScheduler", "{\"num_train_timesteps\": 1}", PD_E_FORMAT, "num_train_timesteps"},
        {"DDIMScheduler", "{\"num_train_timesteps\": 1000000000000}", PD_E_FORMAT, "num_train_timesteps"},
        {"DDIMScheduler", "{\"num_train_timesteps\": 9223372036854775807}", PD_E_FORMAT, "num_train_timesteps"},
        {"DDIMScheduler", "{\"num_train_timesteps\": 1000.5}", PD_E_FORMAT, "num_train_timesteps"},
        {"DDIMScheduler", "{\"num_train_timesteps\": \"1000\"}", PD_E_FORMAT, "num_train_timesteps"},
        {"DDIMScheduler", "{\"beta_start\": 0}", PD_E_FORMAT, "beta_start"},
        {"DDIMScheduler", "{\"beta_start\": 1.5}", PD_E_FORMAT, "beta_start"},
        {"DDIMScheduler", "{\"beta_end\": -0.012}", PD_E_FORMAT, "beta_end"},
        {"DDIMScheduler", "{\"beta_end\": 1e400}", PD_E_FORMAT, "beta_end"},
        {"DDIMScheduler", "{\"beta_start\": \"0.00085\"}", PD_E_FORMAT, "beta_start"},
        {"DDIMScheduler", "{\"beta_schedule\": 3}", PD_E_FORMAT, "beta_schedule"},
        {"DDIMScheduler", "{\"beta_schedule\": [\"linear\"]}", PD_E_FORMAT, "beta_schedule"},
        {"DDIMScheduler", "{\"steps_offset\": -1}", PD_E_FORMAT, "steps_offset"},
        {"DDIMScheduler", "{\"steps_offset\": 5000}", PD_E_FORMAT, "steps_offset"},
        {"DDIMScheduler", "{\"num_train_timesteps\": 100, \"steps_offset\": 101}", PD_E_FORMAT, "steps_offset"},
        {"DDIMScheduler", "{\"set_alpha_to_one\": \"yes\"}", PD_E_FORMAT, "set_alpha_to_one"},
        {"DDIMScheduler", "{\"set_alpha_to_one\": 1}", PD_E_FORMAT, "set_alpha_to_one"},
        {"DDIMScheduler", "{\"clip_sample\": 0}", PD_E_FORMAT, "clip_sample"},
        {"EulerDiscreteScheduler", "{\"use_karras_sigmas\": \"true\"}", PD_E_FORMAT, "use_karras_sigmas"},
        {"EulerDiscreteScheduler", "{\"sigma_min\": -1}", PD_E_FORMAT, "sigma_min"},
        {"EulerDiscreteScheduler", "{\"sigma_max\": 0}", PD_E_FORMAT, "sigma_max"},
        {"DPMSolverMultistepScheduler", "{\"solver_order\": 7}", PD_E_FORMAT, "solver_order"},
        {"DPMSolverMultistepScheduler", "{\"lambda_min_clipped\": \"nan\"}", PD_E_FORMAT, "lambda_min_clipped"},
        {"DPMSolverMultistepScheduler", "{\"lambda_min_clipped\": true}", PD_E_FORMAT, "lambda_min_clipped"},
        {"DPMSolverMultistepScheduler", "{\"euler_at_final\": 1}", PD_E_FORMAT, "euler_at_final"},
        {"DPMSolverMultistepScheduler", "{\"variance_type\": 2}", PD_E_FORMAT, "variance_type"},
        {"LCMScheduler", "{\"original_inference_steps\": 0}", PD_E_FORMAT, "original_inference_steps"},
        {"LCMScheduler", "{\"original_inference_steps\": 1001}", PD_E_FORMAT, "original_inference_steps"},
        {"LCMScheduler", "{\"timestep_scaling\": -1}", PD_E_FORMAT, "timestep_scaling"},
        {"LCMScheduler", "{\"timestep_scaling\": 1e300}", PD_E_FORMAT, "timestep_scaling"},
        /* unknown classes */
        {"DDPMScheduler", "{}", PD_E_UNSUPPORTED, "DDPMScheduler|dpmpp_2m_karras"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        pd_sched_config cfg, before;
        pd_sched_config_defaults(&cfg);
        before = cfg;
        pd_error err = {0};
        pd_status st = read_json(&cfg, rows[i].cls, rows[i].json, &err);
        CHECK_MSG(st == rows[i].want, "row %zu %s %s: status %d, want %d (%s)", i, rows[i].cls, rows[i].json, st,
                  rows[i].want, err.message);
        if (st == PD_OK)
            continue;
        CHECK_MSG(check_has_all(err.message, rows[i].msg), "row %zu: \"%s\" should name %s", i, err.message,
                  rows[i].msg);
        CHECK_MSG(!memcmp(&cfg, &before, sizeof cfg), "row %zu: a failed read changed the config", i);
    }
}

static void test_config_values(void)
{
    pd_sched_config cfg;
    pd_error err;

    /* NULL config: the class and its default spacing; Karras from the name */
    pd_sched_config_defaults(&cfg);
    CHECK(cfg.kind == PD_SCHED_PNDM && cfg.spacing == PD_SPACING_LEADING && isnan(cfg.sigma_min));
    CHECK(pd_sched_config_read(&cfg, "euler", NULL, &err) == PD_OK);
    CHECK(cfg.kind == PD_SCHED_EULER && cfg.spacing == PD_SPACING_LINSPACE && !cfg.use_karras_sigmas);
    CHECK(pd_sched_config_read(&cfg, "dpmpp_2m_karras", NULL, &err) == PD_OK);
    CHECK(cfg.kind == PD_SCHED_DPMPP_2M && cfg.use_karras_sigmas && cfg.spacing == PD_SPACING_LINSPACE);
    CHECK(pd_sched_config_read(&cfg, "ddim", NULL, &err) == PD_OK);
    CHECK(cfg.kind == PD_SCHED_DDIM && cfg.spacing == PD_SPACING_LEADING);
    /* NULL class: the kind stays */
    CHECK(pd_sched_config_read(&cfg, NULL, NULL, &err) == PD_OK && cfg.kind == PD_SCHED_DDIM);

    /* a config's keys land in their fields */
    pd_sched_config_defaults(&cfg);
    CHECK(read_json(&cfg, "DPMSolverMultistepScheduler",
                    "{\"num_train_timesteps\": 500, \"beta_start\": 0.0001, \"beta_end\": 0.02, "
                    "\"beta_schedule\": \"linear\", \"prediction_type\": \"v_prediction\", "
                    "\"timestep_spacing\": \"trailing\", \"steps_offset\": 0, \"use_karras_sigmas\": true, "
                    "\"lower_order_final\": false, \"euler_at_final\": true, \"final_sigmas_type\": \"sigma_min\", "
                    "\"sigma_min\": 0.1, \"sigma_max\": 10}",
                    &err) == PD_OK);
    CHECK(cfg.num_train_timesteps == 500 && cfg.beta_start == 0.0001 && cfg.beta_end == 0.02);
    CHECK(cfg.beta_schedule == PD_BETAS_LINEAR && cfg.prediction == PD_PREDICT_V);
    CHECK(cfg.spacing == PD_SPACING_TRAILING && cfg.steps_offset == 0 && cfg.use_karras_sigmas);
    CHECK(!cfg.lower_order_final && cfg.euler_at_final && !cfg.final_sigmas_zero);
    CHECK(cfg.sigma_min == 0.1 && cfg.sigma_max == 10);

    /* "dpmpp_2m_karras" wins over the config; Euler a ignores Karras */
    pd_sched_config_defaults(&cfg);
    CHECK(read_json(&cfg, "dpmpp_2m_karras", "{\"use_karras_sigmas\": false}", &err) == PD_OK && cfg.use_karras_sigmas);
    pd_sched_config_defaults(&cfg);
    CHECK(read_json(&cfg, "euler_a", "{\"use_karras_sigmas\": true}", &err) == PD_OK && !cfg.use_karras_sigmas);

    /* LCM's keys */
    pd_sched_config_defaults(&cfg);
    CHECK(read_json(&cfg, "lcm", "{\"original_inference_steps\": 25, \"timestep_scaling\": 0}", &err) == PD_OK);
    CHECK(cfg.original_inference_steps == 25 && cfg.timestep_scaling == 0);

    /* pd_config_double_inf itself */
    pd_config *c;
    CHECK(pd_config_parse("inf.json", "{\"a\": \"-inf\", \"b\": \"inf\", \"c\": 2, \"d\": \"Infinity\", \"e\": null}",
                          strlen("{\"a\": \"-inf\", \"b\": \"inf\", \"c\": 2, \"d\": \"Infinity\", \"e\": null}"),
                          &c, &err) == PD_OK);
    double v = 0;
    CHECK(pd_config_double_inf(c, "a", &v, &err) == PD_OK && v == -INFINITY);
    CHECK(pd_config_double_inf(c, "b", &v, &err) == PD_OK && v == INFINITY);
    CHECK(pd_config_double_inf(c, "c", &v, &err) == PD_OK && v == 2);
    CHECK(pd_config_double_inf(c, "d", &v, &err) == PD_E_FORMAT && strstr(err.message, "\"d\""));
    v = 5;
    CHECK(pd_config_double_inf(c, "e", &v, &err) == PD_OK && v == 5); /* null: absent */
    CHECK(pd_config_double_inf(c, "absent", &v, &err) == PD_OK && v == 5);
    pd_config_free(c);
}

/* ---- 3. hostile create arguments ------------------------------------------- */

static pd_status create(pd_sched_kind kind, int steps, double strength, pd_sched_config *over, pd_sched **s,
                        pd_error *err)
{
    pd_sched_config cfg;
    if (over) {
        cfg = *over;
    } else {
        pd_sched_config_defaults(&cfg);
        pd_sched_config_read(&cfg, pd_sched_class_name(kind), NULL, err);
    }
    *s = (pd_sched *)1;
    pd_status st = pd_sched_create(&cfg, steps, strength, s, err);
    CHECK_MSG(st == PD_OK || *s == NULL, "*out must be NULL on failure");
    return st;
}

static void test_create_hostile(void)
{
    pd_sched *s;
    pd_error err;
    static const struct {
        int steps;
        double strength;
        const char *msg;
    } args[] = {
        {0, 1, "steps|0"},           {-1, 1, "steps"},           {1001, 1, "steps|1001|1000"},
        {100000, 1, "steps"},        {2147483647, 1, "steps"},   {20, 0, "strength"},
        {20, 1.5, "strength|1.5"},   {20, -0.1, "strength"},     {20, NAN, "strength"},
        {20, INFINITY, "strength"},  {20, 0.01, "raise steps or strength"},
        {1, 0.999, "raise steps or strength"},
    };
    for (int k = 0; k < PD_SCHED_KIND_COUNT; k++)
        for (size_t i = 0; i < G_N_ELEMENTS(args); i++) {
            pd_status st = create(k, args[i].steps, args[i].strength, NULL, &s, &err);
            CHECK_MSG(st == PD_E_ARG && check_has_all(err.message, args[i].msg), "%s steps %d strength %g: %d \"%s\"",
                      pd_sched_class_name(k), args[i].steps, args[i].strength, st, err.message);
            pd_sched_free(s);
        }

    /* struct fields filled by hand */
    pd_sched_config bad;
#define BAD(stmt, want)                                                                        \
    do {                                                                                       \
        pd_sched_config_defaults(&bad);                                                        \
        stmt;                                                                                  \
        pd_status st_ = create(bad.kind, 10, 1, &bad, &s, &err);                               \
        CHECK_MSG(st_ == PD_E_ARG && check_has_all(err.message, want), "%s: %d \"%s\"", #stmt, st_, \
                  err.message);                                                                \
        pd_sched_free(s);                                                                      \
    } while (0)
    BAD(bad.kind = (pd_sched_kind)99, "kind");
    BAD(bad.kind = (pd_sched_kind)-1, "kind");
    BAD(bad.num_train_timesteps = 1 << 30, "num_train_timesteps");
    BAD(bad.num_train_timesteps = 1, "num_train_timesteps");
    BAD(bad.beta_start = NAN, "beta_start");
    BAD(bad.beta_end = 1, "beta_end");
    BAD(bad.beta_schedule = (pd_beta_schedule)7, "beta_schedule");
    BAD(bad.spacing = (pd_spacing)-2, "timestep_spacing");
    BAD(bad.prediction = (pd_prediction)9, "prediction");
    BAD(bad.steps_offset = -3, "steps_offset");
    BAD(bad.eta = 2, "eta");
    BAD(bad.eta = NAN, "eta");
    BAD(bad.timestep_scaling = -INFINITY, "timestep_scaling");
    BAD(bad.sigma_min = -1, "sigma_min");
    BAD(bad.sigma_max = INFINITY, "sigma_max");
    BAD((bad.num_train_timesteps = 100000, bad.beta_end = 0.5), "alphas_cumprod");
    BAD((bad.beta_schedule = PD_BETAS_LINEAR, bad.beta_start = 0.99999999), "alphas_cumprod");
    BAD((bad.kind = PD_SCHED_LCM, bad.original_inference_steps = 0), "original_inference_steps");
    BAD((bad.kind = PD_SCHED_LCM, bad.original_inference_steps = 8), "original_inference_steps|10");
#undef BAD

    /* schedules that leave 0..T−1: leading with steps_offset 1 at T steps
     * needs timestep 1000; trailing at 61 steps has a 62nd timestep, −1 */
    CHECK(create(PD_SCHED_DDIM, 1000, 1, NULL, &s, &err) == PD_E_ARG && check_has_all(err.message, "1000|leading"));
    pd_sched_free(s);
    pd_sched_config cfg;
    pd_sched_config_defaults(&cfg);
    cfg.kind = PD_SCHED_DDIM;
    cfg.spacing = PD_SPACING_TRAILING;
    CHECK(create(0, 61, 1, &cfg, &s, &err) == PD_E_ARG && check_has_all(err.message, "-1|trailing|61"));
    pd_sched_free(s);
    cfg.kind = PD_SCHED_PNDM;
    CHECK(create(0, 61, 1, &cfg, &s, &err) == PD_E_ARG);
    pd_sched_free(s);
    CHECK(create(0, 60, 1, &cfg, &s, &err) == PD_OK && pd_sched_steps(s) == 61);
    pd_sched_free(s);
    /* the sigma-based kinds interpolate there, as diffusers: 62 steps */
    cfg.kind = PD_SCHED_EULER;
    CHECK(create(0, 61, 1, &cfg, &s, &err) == PD_OK && pd_sched_steps(s) == 62);
    CHECK(pd_sched_timestep(s, 61) == -1);
    pd_sched_free(s);

    /* the largest runs accepted build quickly */
    cfg.kind = PD_SCHED_DDIM;
    cfg.spacing = PD_SPACING_LEADING;
    cfg.steps_offset = 0;
    CHECK(create(0, 1000, 1, &cfg, &s, &err) == PD_OK && pd_sched_steps(s) == 1000);
    pd_sched_free(s);
    cfg.num_train_timesteps = 100000; /* with betas that keep some signal to the end */
    cfg.beta_schedule = PD_BETAS_LINEAR;
    cfg.beta_start = 1e-6;
    cfg.beta_end = 2e-5;
    for (int k = 0; k < PD_SCHED_KIND_COUNT; k++) {
        cfg.kind = k;
        int steps = k == PD_SCHED_LCM ? cfg.original_inference_steps : 100000;
        pd_status st = create(0, steps, 1, &cfg, &s, &err);
        CHECK_MSG(st == PD_OK && pd_sched_steps(s) >= steps, "%s at T = 100000: %s", pd_sched_class_name(k),
                  err.message);
        pd_sched_free(s);
    }
    cfg.kind = PD_SCHED_DPMPP_2M; /* Karras: a bisection per sigma, not a scan */
    cfg.use_karras_sigmas = 1;
    CHECK(create(0, 100000, 1, &cfg, &s, &err) == PD_OK);
    pd_sched_free(s);
    pd_sched_free(NULL);
}

/* ---- 4. the step contract ------------------------------------------------------ */

static void test_contract(void)
{
    pd_sched *s;
    pd_error err;
    /* who draws: Euler a always, LCM but last, DDIM with eta, never the rest */
    for (int k = 0; k < PD_SCHED_KIND_COUNT; k++) {
        CHECK(create(k, 4, 1, NULL, &s, &err) == PD_OK);
        int n = pd_sched_steps(s), draws = 0;
        for (int i = 0; i < n; i++)
            draws += pd_sched_draws_noise(s, i);
        int want = k == PD_SCHED_EULER_A ? n : k == PD_SCHED_LCM ? n - 1 : 0;
        CHECK_MSG(draws == want, "%s draws %d of %d steps", pd_sched_class_name(k), draws, n);
        CHECK(!pd_sched_draws_noise(s, -1) && !pd_sched_draws_noise(s, n));
        CHECK(isnan(pd_sched_timestep(s, -1)) && isnan(pd_sched_timestep(s, n)));
        const double *sig;
        int ns = pd_sched_sigmas(s, &sig);
        int sigma_based = k == PD_SCHED_EULER || k == PD_SCHED_EULER_A || k == PD_SCHED_DPMPP_2M;
        CHECK(sigma_based ? ns == n + 1 && sig[n] == 0 : ns == 0 && !sig);
        pd_sched_free(s);
    }
    pd_sched_config cfg;
    pd_sched_config_defaults(&cfg);
    cfg.kind = PD_SCHED_DDIM;
    cfg.eta = 0.5;
    CHECK(create(0, 4, 1, &cfg, &s, &err) == PD_OK && pd_sched_draws_noise(s, 0) && pd_sched_draws_noise(s, 3));
    pd_sched_free(s);
    /* strength cuts LCM's draws at the schedule's last step, not the run's */
    CHECK(create(PD_SCHED_LCM, 4, 0.5, NULL, &s, &err) == PD_OK && pd_sched_steps(s) == 2);
    CHECK(pd_sched_begin_index(s) == 2 && pd_sched_draws_noise(s, 0) && !pd_sched_draws_noise(s, 1));
    pd_sched_free(s);

    /* in place: scaling, add_noise; a second run from step 0 repeats the first */
    enum { N = 37 };
    float x[N], out[N], noise[N], a[N], b[N], tmp[N];
    for (int i = 0; i < N; i++) {
        x[i] = sinf((float)i * 0.7f);
        out[i] = cosf((float)i * 1.3f);
        noise[i] = sinf((float)i * 2.1f + 1);
    }
    for (int k = 0; k < PD_SCHED_KIND_COUNT; k++) {
        CHECK(create(k, 6, 0.7, NULL, &s, &err) == PD_OK);
        pd_sched_scale_input(s, 1, x, tmp, N);
        memcpy(a, x, sizeof a);
        pd_sched_scale_input(s, 1, a, a, N);
        CHECK(!memcmp(a, tmp, sizeof a));
        pd_sched_add_noise(s, 0, x, noise, tmp, N);
        memcpy(a, x, sizeof a);
        pd_sched_add_noise(s, 0, a, noise, a, N);
        CHECK(!memcmp(a, tmp, sizeof a));
        float *runs[2] = {a, b};
        for (int r = 0; r < 2; r++) {
            memcpy(runs[r], x, sizeof a);
            for (int i = 0; i < pd_sched_steps(s); i++)
                pd_sched_step(s, i, out, pd_sched_draws_noise(s, i) ? noise : NULL, runs[r], NULL, N);
        }
        CHECK_MSG(!memcmp(a, b, sizeof a), "%s: a run repeated from step 0 differs", pd_sched_class_name(k));
        int finite = 1;
        for (int i = 0; i < N; i++)
            finite &= isfinite(a[i]);
        CHECK_MSG(finite, "%s: non-finite result", pd_sched_class_name(k));
        /* out-of-range steps leave the sample alone */
        memcpy(tmp, a, sizeof a);
        pd_sched_step(s, -1, out, noise, a, NULL, N);
        pd_sched_step(s, pd_sched_steps(s), out, noise, a, NULL, N);
        CHECK(!memcmp(a, tmp, sizeof a));
        pd_sched_free(s);
    }
}

/* Euler with Karras sigmas has no golden case: it must give DPM++'s Karras
 * sigmas (same ends at linspace spacing) and, unrounded, its timesteps. */
static void test_euler_karras(void)
{
    pd_sched_config e, d;
    pd_error err;
    pd_sched_config_defaults(&e);
    pd_sched_config_defaults(&d);
    CHECK(pd_sched_config_read(&e, "euler", NULL, &err) == PD_OK);
    CHECK(pd_sched_config_read(&d, "dpmpp_2m_karras", NULL, &err) == PD_OK);
    e.use_karras_sigmas = 1;
    for (int steps = 2; steps <= 41; steps += 13) { /* 1 step: linspace gives Euler t = 0 alone */
        pd_sched *se, *sd;
        CHECK(pd_sched_create(&e, steps, 1, &se, &err) == PD_OK);
        CHECK(pd_sched_create(&d, steps, 1, &sd, &err) == PD_OK);
        const double *ge, *gd;
        int ne = pd_sched_sigmas(se, &ge), nd = pd_sched_sigmas(sd, &gd);
        CHECK(ne == steps + 1 && nd == steps + 1);
        for (int i = 0; i < ne && i < nd; i++)
            CHECK_MSG(ge[i] == gd[i], "%d steps: sigma %d %.9g vs %.9g", steps, i, ge[i], gd[i]);
        for (int i = 0; i < steps; i++) {
            double te = pd_sched_timestep(se, i), td = pd_sched_timestep(sd, i);
            CHECK_MSG(te != floor(te) || te == td, "step %d: %g", i, te);
            CHECK_MSG(fabs(te - td) <= 0.5 + 1e-4, "%d steps: timestep %d %.9g vs %g", steps, i, te, td);
        }
        CHECK(pd_sched_init_noise_sigma(se) == (float)ge[0]);
        pd_sched_free(se);
        pd_sched_free(sd);
    }
}

int main(void)
{
    test_names();
    test_config_table();
    test_config_values();
    test_create_hostile();
    test_contract();
    test_euler_karras();
    return check_summary("unit-sched");
}
