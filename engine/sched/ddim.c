/* ddim.c — DDIMScheduler (Song et al. 2020): the deterministic step at
 * eta 0, with eta·sigma_t of fresh noise above it. */
#include <math.h>

#include "sched/schedule.h"

enum { SQRT_A, SQRT_1MA, SQRT_AP, DIRECTION, STD };

static pd_status ddim_build(pd_sched *s, pd_error *err)
{
    (void)err;
    s->timesteps = g_new(double, s->inference_steps + 2);
    s->n_all = pd_schedule_spacing(s->cfg.spacing, s->T, s->inference_steps, s->cfg.steps_offset, 1,
                                   s->timesteps);
    s->init_noise_sigma = 1;
    return PD_OK;
}

/* Per step: the alphas of t and of t − T // steps (the previous timestep of
 * an evenly spaced schedule, whatever the spacing), and eta's noise level. */
static pd_status ddim_prepare(pd_sched *s, pd_error *err)
{
    const int ratio = s->T / s->inference_steps;
    for (int i = 0; i < s->steps; i++) {
        double t = s->timesteps[s->begin + i];
        pd_status st = pd_sched_check_timestep(s, t, err);
        if (st)
            return st;
        int prev = (int)t - ratio;
        double a = s->ac[(int)t], ap = prev >= 0 ? s->ac[prev] : s->final_ac;
        double variance = (1 - ap) / (1 - a) * (1 - a / ap);
        double std = s->cfg.eta * sqrt(variance);
        double dir = 1 - ap - std * std; /* >= 0 for eta <= 1, up to rounding */
        double *c = s->coef[i];
        c[SQRT_A] = sqrt(a);
        c[SQRT_1MA] = sqrt(1 - a);
        c[SQRT_AP] = sqrt(ap);
        c[DIRECTION] = sqrt(dir > 0 ? dir : 0);
        c[STD] = std;
    }
    return PD_OK;
}

static void ddim_step(pd_sched *s, int i, const float *out, const float *noise, float *x, float *denoised,
                      int64_t n)
{
    const double *c = s->coef[i];
    const int v = s->cfg.prediction == PD_PREDICT_V;
    const int add = s->cfg.eta > 0 && noise;
    for (int64_t k = 0; k < n; k++) {
        double xk = x[k], m = out[k], x0, eps;
        if (v) {
            x0 = c[SQRT_A] * xk - c[SQRT_1MA] * m;
            eps = c[SQRT_A] * m + c[SQRT_1MA] * xk;
        } else {
            x0 = (xk - c[SQRT_1MA] * m) / c[SQRT_A];
            eps = m;
        }
        double prev = c[SQRT_AP] * x0 + c[DIRECTION] * eps;
        if (add)
            prev += c[STD] * noise[k];
        if (denoised)
            denoised[k] = (float)x0;
        x[k] = (float)prev;
    }
}

/* diffusers draws only when eta > 0. */
static int ddim_draws(const pd_sched *s, int i)
{
    (void)i;
    return s->cfg.eta > 0;
}

void pd_ddpm_add_noise(const pd_sched *s, int i, const float *x0, const float *noise, float *out, int64_t n)
{
    double a = s->ac[(int)s->timesteps[s->begin + i]];
    double ca = sqrt(a), cn = sqrt(1 - a);
    for (int64_t k = 0; k < n; k++)
        out[k] = (float)(ca * x0[k] + cn * noise[k]);
}

const pd_sched_ops pd_ddim_ops = {
    .build = ddim_build,
    .prepare = ddim_prepare,
    .step = ddim_step,
    .add_noise = pd_ddpm_add_noise,
    .draws_noise = ddim_draws,
};
