/* lcm.c — LCMScheduler (Luo et al. 2023): each step predicts x0, blends it
 * with the sample by the consistency-model boundary condition (c_skip,
 * c_out), then re-noises to the next timestep with fresh noise — except
 * the last step, whose `denoised` is the result. */
#include <math.h>

#include "sched/schedule.h"

enum { SQRT_A, SQRT_1MA, SQRT_AP, SQRT_1MAP, C_SKIP, C_OUT, LAST };

/* Timesteps: the distillation schedule k−1, 2k−1, ..., original·k − 1
 * (k = T // original_inference_steps), newest first, sampled at
 * floor(linspace(0, original, steps, endpoint=False)). */
static pd_status lcm_build(pd_sched *s, pd_error *err)
{
    (void)err;
    const int orig = s->cfg.original_inference_steps, k = s->T / orig, n = s->inference_steps;
    s->timesteps = g_new(double, n);
    for (int i = 0; i < n; i++) {
        int j = (int)floor(pd_np_linspace(0, orig, n, 0, i)); /* index into the reversed schedule */
        s->timesteps[i] = (double)(orig - j) * k - 1;
    }
    s->n_all = n;
    s->init_noise_sigma = 1;
    return PD_OK;
}

static pd_status lcm_prepare(pd_sched *s, pd_error *err)
{
    const double sigma_data = 0.5;
    for (int i = 0; i < s->steps; i++) {
        int idx = s->begin + i;
        double t = s->timesteps[idx], prev = idx + 1 < s->n_all ? s->timesteps[idx + 1] : t;
        pd_status st = pd_sched_check_timestep(s, t, err);
        if (st)
            return st;
        double a = s->ac[(int)t], ap = prev >= 0 ? s->ac[(int)prev] : s->final_ac;
        double st_ = t * s->cfg.timestep_scaling, d2 = sigma_data * sigma_data;
        double *c = s->coef[i];
        c[SQRT_A] = sqrt(a);
        c[SQRT_1MA] = sqrt(1 - a);
        c[SQRT_AP] = sqrt(ap);
        c[SQRT_1MAP] = sqrt(1 - ap);
        c[C_SKIP] = d2 / (st_ * st_ + d2);
        c[C_OUT] = st_ / sqrt(st_ * st_ + d2);
        c[LAST] = idx == s->inference_steps - 1;
    }
    return PD_OK;
}

static void lcm_step(pd_sched *s, int i, const float *out, const float *noise, float *x, float *denoised,
                     int64_t n)
{
    const double *c = s->coef[i];
    const int v = s->cfg.prediction == PD_PREDICT_V, last = c[LAST] != 0;
    for (int64_t k = 0; k < n; k++) {
        double xk = x[k], m = out[k];
        double x0 = v ? c[SQRT_A] * xk - c[SQRT_1MA] * m : (xk - c[SQRT_1MA] * m) / c[SQRT_A];
        double den = c[C_OUT] * x0 + c[C_SKIP] * xk;
        if (denoised)
            denoised[k] = (float)den;
        x[k] = (float)(last ? den : c[SQRT_AP] * den + (noise ? c[SQRT_1MAP] * noise[k] : 0));
    }
}

static int lcm_draws(const pd_sched *s, int i)
{
    return s->begin + i != s->inference_steps - 1;
}

const pd_sched_ops pd_lcm_ops = {
    .build = lcm_build,
    .prepare = lcm_prepare,
    .step = lcm_step,
    .add_noise = pd_ddpm_add_noise,
    .draws_noise = lcm_draws,
};
