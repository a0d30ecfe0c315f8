/* schedule.h — what the schedulers share; internal to engine/sched/.
 *
 * scheduler.c owns a pd_sched's life: it checks the config, builds the
 * training tables, asks the kind's `build` for the run's timesteps (and
 * sigmas), keeps the strength tail, then lets the kind's `prepare` turn
 * every kept step into a few scalars. The kinds (ddim.c, pndm.c, euler.c,
 * dpmpp_2m.c, lcm.c) only fill in a pd_sched_ops.
 *
 * Tables are built the way diffusers 0.27 builds them, down to the float32
 * roundings of PyTorch and NumPy: DPM-Solver++ rounds Karras timesteps from
 * them, and a table one ulp off can move a timestep. They are held in double;
 * "float32 values" below are doubles that a float represents exactly. Step
 * arithmetic is then done in double and rounded to float once per element.
 */
#ifndef PD_SCHEDULE_H
#define PD_SCHEDULE_H

#include <glib.h>
#include <stdint.h>

#include "paldiff.h"
#include "sched/scheduler.h"

/* num_train_timesteps accepted (diffusers models use 1000). */
#define PD_SCHED_MAX_TRAIN 100000
/* Scalars a kind may keep per kept step. */
#define PD_SCHED_COEFS 8

typedef struct pd_sched_ops {
    /* Fills n_all, timesteps, n_sigmas/sigmas (sigma-based kinds) and
     * init_noise_sigma from cfg, T, ac and inference_steps. */
    pd_status (*build)(pd_sched *s, pd_error *err);
    /* After begin/steps are known: fills coef, checks every index a step
     * will read. NULL: nothing to do. */
    pd_status (*prepare)(pd_sched *s, pd_error *err);
    /* NULL: scale_model_input is the identity. */
    void (*scale)(const pd_sched *s, int i, const float *x, float *out, int64_t n);
    void (*step)(pd_sched *s, int i, const float *eps, const float *noise, float *x,
                 float *denoised, int64_t n);
    void (*add_noise)(const pd_sched *s, int i, const float *x0, const float *noise, float *out,
                      int64_t n);
    int (*draws_noise)(const pd_sched *s, int i);
} pd_sched_ops;

extern const pd_sched_ops pd_ddim_ops, pd_pndm_ops, pd_euler_ops, pd_euler_a_ops, pd_dpmpp_2m_ops,
    pd_lcm_ops;

struct pd_sched {
    pd_sched_config cfg;
    const pd_sched_ops *ops;
    int T;                  /* num_train_timesteps                              */
    double *ac;             /* alphas_cumprod[T], float32 values                */
    double final_ac;        /* final_alpha_cumprod: 1 or ac[0]                  */
    int inference_steps;    /* the steps asked for (diffusers' num_inference_steps) */
    int n_all;              /* length of the whole schedule                     */
    double *timesteps;      /* [n_all]                                          */
    int n_sigmas;           /* 0, or the sigma array's length, final one included */
    double *sigmas;         /* [n_sigmas], float32 values                       */
    int begin;              /* first kept index (set_begin_index)               */
    int steps;              /* kept steps: n_all − begin                        */
    double init_noise_sigma;
    double (*coef)[PD_SCHED_COEFS]; /* [steps], the kind's per-step scalars      */
    /* Multistep state (PNDM's ets and stored sample, DPM++'s previous x0),
     * sized on the first step; step 0 starts afresh. */
    int64_t state_n;
    float *state[5];
    int counter;
};

/* PD_E_ARG unless 0 <= t < T: a timestep whose alphas_cumprod a step reads. */
pd_status pd_sched_check_timestep(const pd_sched *s, double t, pd_error *err);

/* Makes state[0..count) n floats each, zeroed, unless they already are. */
void pd_sched_state_size(pd_sched *s, int count, int64_t n);

/* add_noise of the DDPM-family kinds (DDIM, PNDM, LCM): sqrt(ac[t])·x0 +
 * sqrt(1 − ac[t])·noise at t = timesteps[begin + i]. */
void pd_ddpm_add_noise(const pd_sched *s, int i, const float *x0, const float *noise, float *out, int64_t n);

/* alphas_cumprod of cfg's betas as diffusers stores them (float32). */
void pd_schedule_alphas_cumprod(const pd_sched_config *cfg, double *ac);

/* sigma_t = sqrt((1 − ac)/ac) in float32 arithmetic, as diffusers' float32
 * tensors compute it; sigmas[t] for t in 0..T−1 (ascending). */
void pd_schedule_train_sigmas(const double *ac, int T, double *sigmas);

/* The descending timesteps of DDIM-style spacing (DDIMScheduler.set_timesteps):
 *   linspace: round(linspace(0, T−1, n))         (rounded when `round` is set)
 *   leading:  arange(n) · (T // n) + steps_offset
 *   trailing: round(arange(T, 0, −T/n)) − 1
 * Returns the count: n, except that NumPy's arange length rule gives
 * trailing n + 1 values for some n (61 of 1000, ...), as diffusers then has.
 * out holds n + 2. */
int pd_schedule_spacing(pd_spacing spacing, int T, int n, int steps_offset, int round, double *out);

/* np.linspace(start, stop, num, endpoint)[i], NumPy's formula. */
double pd_np_linspace(double start, double stop, int num, int endpoint, int i);

/* np.interp(t, arange(T), table): linear, clamped at both ends. */
double pd_schedule_interp(double t, const double *table, int T);

/* Karras et al. (2022), rho 7: n sigmas from sigma_max down to sigma_min
 * (float64, as diffusers' _convert_to_karras). */
void pd_schedule_karras(double sigma_min, double sigma_max, int n, double *out);

/* diffusers' _sigma_to_t: the fractional training timestep of a sigma,
 * interpolating log sigma in `log_sigmas` (float32 values, ascending, T). */
double pd_schedule_sigma_to_t(double sigma, const double *log_sigmas, int T);

/* float32 log of each training sigma (np.log of a float32 array). */
void pd_schedule_log_sigmas(const double *sigmas, int T, double *log_sigmas);

/* Rounds to a float32 value. */
static inline double pd_f32(double x) { return (double)(float)x; }

#endif
