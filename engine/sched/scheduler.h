/* scheduler.h — the denoising schedulers, with diffusers 0.27's semantics.
 *
 *     pd_sched_config cfg;
 *     pd_sched_config_defaults(&cfg);                 // SD's: scaled_linear, leading, offset 1
 *     if (pd_sched_config_read(&cfg, "DDIMScheduler", config, &err)) ...  // scheduler_config.json
 *     pd_sched *s;
 *     if (pd_sched_create(&cfg, 20, 1.0, &s, &err)) ...   // 20 steps, strength 1 (txt2img)
 *     scale(latents, pd_sched_init_noise_sigma(s));
 *     for (int i = 0; i < pd_sched_steps(s); i++) {
 *         pd_sched_scale_input(s, i, latents, scaled, n);
 *         model_output = unet(scaled, pd_sched_timestep(s, i));
 *         const float *noise = NULL;
 *         if (pd_sched_draws_noise(s, i)) { draw n normals into buf; noise = buf; }
 *         pd_sched_step(s, i, model_output, noise, latents, NULL, n);  // latents ← prev_sample
 *     }
 *     pd_sched_free(s);
 *
 * A pd_sched is the schedule of one run (timesteps, sigmas, alphas) plus the
 * state multistep solvers carry between steps (PNDM's past model outputs,
 * DPM-Solver++'s previous output). Steps must be taken in order 0, 1, ...
 * on one sample array of n floats; the arithmetic is element-wise, so the
 * layout (NCHW or NHWC) does not matter as long as sample, model output and
 * noise share it. The schedule holds diffusers' float32 values; a step
 * computes in double and rounds to float once per element (diffusers
 * computes in float32; the golden tolerances cover the difference). Calls
 * with i outside 0..pd_sched_steps−1 do nothing.
 *
 * Strength (img2img, inpainting): with strength s < 1 the run keeps the last
 * min(int(steps·s), steps) steps of the full schedule (diffusers'
 * get_timesteps + set_begin_index); pd_sched_steps counts the kept steps and
 * index 0 is the first kept one. strength 1 keeps everything.
 *
 * The schedule is diffusers' to the bit where integers come from it: tables
 * follow PyTorch's float32 roundings, spacings NumPy's. This includes its
 * quirks: "trailing" spacing gives one step more for some step counts (61,
 * 103, ... of 1000: NumPy's arange length), PNDM runs one step more than
 * asked (none more for 1 step), and a run whose DDIM/PNDM/LCM timesteps
 * would leave 0..num_train_timesteps−1 is refused (PD_E_ARG) where diffusers
 * would fail or index backwards.
 *
 * Ownership: the caller owns the pd_sched (pd_sched_free). Not thread-safe;
 * one run at a time per pd_sched.
 */
#ifndef PD_SCHEDULER_H
#define PD_SCHEDULER_H

#include <stdint.h>

#include "paldiff.h"

struct pd_config;
typedef struct pd_sched pd_sched;

typedef enum pd_sched_kind {
    PD_SCHED_DDIM,      /* DDIMScheduler                                   */
    PD_SCHED_PNDM,      /* PNDMScheduler (PLMS; skip_prk_steps is required) */
    PD_SCHED_EULER,     /* EulerDiscreteScheduler                          */
    PD_SCHED_EULER_A,   /* EulerAncestralDiscreteScheduler                 */
    PD_SCHED_DPMPP_2M,  /* DPMSolverMultistepScheduler, dpmsolver++ order 2 */
    PD_SCHED_LCM,       /* LCMScheduler                                    */
    PD_SCHED_KIND_COUNT
} pd_sched_kind;

typedef enum { PD_BETAS_LINEAR, PD_BETAS_SCALED_LINEAR, PD_BETAS_SQUAREDCOS } pd_beta_schedule;
typedef enum { PD_SPACING_LEADING, PD_SPACING_TRAILING, PD_SPACING_LINSPACE } pd_spacing;

/* Every config key paldiff honours; the names are diffusers'. */
typedef struct pd_sched_config {
    pd_sched_kind kind;
    int num_train_timesteps;        /* 1000                                  */
    double beta_start, beta_end;    /* 0.00085, 0.012                        */
    pd_beta_schedule beta_schedule; /* scaled_linear                         */
    pd_prediction prediction;       /* prediction_type: EPSILON or V         */
    pd_spacing spacing;             /* timestep_spacing: leading             */
    int steps_offset;               /* 1                                     */
    int set_alpha_to_one;           /* 0 (DDIM, PNDM, LCM final alpha)       */
    int use_karras_sigmas;          /* 0 (Euler, DPM++)                      */
    int lower_order_final;          /* 1 (DPM++)                             */
    int euler_at_final;             /* 0 (DPM++)                             */
    int final_sigmas_zero;          /* 1: final_sigmas_type "zero", 0: "sigma_min" */
    int original_inference_steps;   /* 50 (LCM)                              */
    double timestep_scaling;        /* 10 (LCM)                              */
    double eta;                     /* 0: DDIM's eta in [0, 1] (a step argument in diffusers) */
    double sigma_min, sigma_max;    /* NAN: Karras between the schedule's own ends (Euler, DPM++) */
} pd_sched_config;

/* A scheduler name → kind, or -1 when unknown. Case-insensitive; names:
 *   ddim  pndm  plms  euler  euler_a  dpmpp_2m  dpmpp_2m_karras  lcm
 * and the diffusers class names (DDIMScheduler, PNDMScheduler,
 * EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
 * DPMSolverMultistepScheduler, LCMScheduler). *karras (when karras is not
 * NULL) is set to 1 for "dpmpp_2m_karras", else 0. */
int pd_sched_kind_from_name(const char *name, int *karras);
/* The diffusers class name of a kind ("DDIMScheduler"); NULL if invalid. */
const char *pd_sched_class_name(pd_sched_kind kind);

/* SD 1.x/2.x defaults (the values in the comments above), kind PNDM,
 * sigma_min and sigma_max NAN. */
void pd_sched_config_defaults(pd_sched_config *cfg);

/* Sets cfg->kind from `class_name` (as pd_sched_kind_from_name; NULL keeps
 * cfg->kind) and reads the keys of a diffusers scheduler_config.json over
 * cfg's current values; keys absent or null keep them, keys the class does
 * not have are ignored (as diffusers' from_config ignores them). Two
 * exceptions follow diffusers: without "timestep_spacing" the class's own
 * default applies (linspace for Euler, Euler a and DPM++; leading for DDIM,
 * PNDM, LCM — SD's scheduler_config.json has none), and "dpmpp_2m_karras"
 * sets use_karras_sigmas whatever the config says.
 * A value that would change the result in a way not implemented
 * (trained_betas, thresholding, clip_sample, rescale_betas_zero_snr,
 * skip_prk_steps false, interpolation_type other than linear, solver_order
 * ≠ 2, algorithm_type other than dpmsolver++, solver_type heun,
 * use_lu_lambdas, a finite lambda_min_clipped, learned variance_type, a
 * prediction_type other than epsilon and v_prediction, an unknown string)
 * is PD_E_UNSUPPORTED naming the key; a value of the wrong type or range is
 * PD_E_FORMAT naming the key. lambda_min_clipped may be the strings "-inf"
 * and "inf". `config` may be NULL (defaults only). On failure cfg is left
 * as it was. */
pd_status pd_sched_config_read(pd_sched_config *cfg, const char *class_name,
                               const struct pd_config *config, pd_error *err);

/* Builds the schedule of a run of `steps` inference steps
 * (1..num_train_timesteps; LCM: 1..original_inference_steps) at `strength`
 * in (0, 1]. PD_E_ARG when steps, strength or a field of cfg is out of
 * range, when strength leaves no step (the message says to raise steps or
 * strength), or when the schedule leaves the trained timesteps (see above).
 * prediction AUTO counts as epsilon. */
pd_status pd_sched_create(const pd_sched_config *cfg, int steps, double strength,
                          pd_sched **out, pd_error *err);
void pd_sched_free(pd_sched *s);

/* Steps of the run (after strength); PNDM runs one more than asked. */
int pd_sched_steps(const pd_sched *s);
/* The timestep fed to the UNet at step i (fractional for Euler schedulers);
 * NAN when i is not in 0..steps−1. */
double pd_sched_timestep(const pd_sched *s, int i);
/* The whole schedule before the strength cut (diffusers' scheduler.timesteps
 * after set_timesteps): *timesteps points into s; returns its length. */
int pd_sched_all_timesteps(const pd_sched *s, const double **timesteps);
/* Index of step 0 in that schedule (diffusers' begin_index; 0 at strength 1). */
int pd_sched_begin_index(const pd_sched *s);
/* The whole sigma array of the sigma-based kinds (Euler, Euler a, DPM++),
 * final sigma included, float32 values: *sigmas points into s; returns its
 * length (all timesteps + 1). 0 and NULL for the others. */
int pd_sched_sigmas(const pd_sched *s, const double **sigmas);
/* The standard deviation txt2img's initial noise is scaled by. */
double pd_sched_init_noise_sigma(const pd_sched *s);

/* scaled = scale_model_input(sample, timestep i); may alias sample. */
void pd_sched_scale_input(const pd_sched *s, int i, const float *sample, float *scaled, int64_t n);

/* Whether step i takes a draw of n standard normals: Euler a at every step,
 * LCM at every step but the schedule's last, DDIM when eta > 0; never the
 * others. Plain Euler (s_churn 0) reports 0: diffusers draws there too but
 * multiplies the draw by nothing, and no draw follows it in a pipeline, so
 * skipping it changes nothing. */
int pd_sched_draws_noise(const pd_sched *s, int i);

/* One step: sample ← prev_sample of step(model_output, timestep i, sample).
 * noise: n normals when pd_sched_draws_noise(s, i), else NULL (NULL where a
 * draw is due counts as zeros). denoised, if not NULL, receives the step's
 * estimate of the clean sample (LCM's `denoised`, the others'
 * pred_original_sample; PNDM, which has none, gives x0 of its combined
 * epsilon). Steps must come in order; step 0 clears the multistep history,
 * so a schedule may be run again from the start. Every call of a run must
 * pass the same n. */
void pd_sched_step(pd_sched *s, int i, const float *model_output, const float *noise,
                   float *sample, float *denoised, int64_t n);

/* out = add_noise(original, noise, t) with t the noise level at the start of
 * step i (diffusers' timesteps[i] for DDPM-family schedulers, the sigma at
 * begin_index + i for the sigma-based ones). img2img uses i = 0; inpainting
 * with a 4-channel UNet re-noises the known latents to step i + 1. out may
 * alias original. */
void pd_sched_add_noise(const pd_sched *s, int i, const float *original, const float *noise,
                        float *out, int64_t n);

#endif
