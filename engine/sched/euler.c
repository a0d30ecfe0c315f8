/* euler.c — EulerDiscreteScheduler and EulerAncestralDiscreteScheduler
 * (Karras et al. 2022, k-diffusion's sample_euler / sample_euler_ancestral).
 *
 * Both work in sigma space: the model input is scaled by 1/sqrt(sigma² + 1),
 * timesteps are fractional (float32) and sigmas are the training sigmas
 * interpolated at them, then stored as float32 with a final 0. Plain Euler
 * runs with s_churn = 0, where the noise diffusers draws each step is
 * multiplied by nothing: it reports no draw. */
#include <math.h>

#include "sched/schedule.h"

static pd_status euler_build(pd_sched *s, pd_error *err)
{
    (void)err;
    const int T = s->T, n = s->inference_steps;
    double *train = g_new(double, T);
    pd_schedule_train_sigmas(s->ac, T, train);
    s->timesteps = g_new(double, n + 2);
    int m = pd_schedule_spacing(s->cfg.spacing, T, n, s->cfg.steps_offset, 0, s->timesteps);
    for (int i = 0; i < m; i++)
        s->timesteps[i] = pd_f32(s->timesteps[i]); /* .astype(np.float32) */
    double *sig = g_new(double, (m > n ? m : n) + 1);
    for (int i = 0; i < m; i++)
        sig[i] = pd_schedule_interp(s->timesteps[i], train, T);
    if (s->cfg.kind == PD_SCHED_EULER && s->cfg.use_karras_sigmas) {
        /* Karras between the interpolated ends; timesteps back from sigmas,
         * unrounded. */
        double lo = isnan(s->cfg.sigma_min) ? sig[m - 1] : s->cfg.sigma_min;
        double hi = isnan(s->cfg.sigma_max) ? sig[0] : s->cfg.sigma_max;
        double *logs = g_new(double, T);
        pd_schedule_log_sigmas(train, T, logs);
        pd_schedule_karras(lo, hi, n, sig);
        for (int i = 0; i < n; i++)
            s->timesteps[i] = pd_f32(pd_schedule_sigma_to_t(sig[i], logs, T));
        g_free(logs);
        m = n;
    }
    double max = 0;
    for (int i = 0; i < m; i++) {
        sig[i] = pd_f32(sig[i]);
        max = sig[i] > max ? sig[i] : max;
    }
    sig[m] = 0;
    s->n_all = m;
    s->sigmas = sig;
    s->n_sigmas = m + 1;
    /* float32 arithmetic on the largest sigma, as the property computes it
     * (one tensor operation per statement: no fused multiply-add) */
    float fmax = (float)max, sq = fmax * fmax;
    s->init_noise_sigma = s->cfg.spacing == PD_SPACING_LEADING ? sqrtf(sq + 1.0f) : fmax;
    g_free(train);
    return PD_OK;
}

static void euler_scale(const pd_sched *s, int i, const float *x, float *out, int64_t n)
{
    double sigma = s->sigmas[s->begin + i], c = 1 / sqrt(sigma * sigma + 1);
    for (int64_t k = 0; k < n; k++)
        out[k] = (float)(x[k] * c);
}

/* x0 from the model output at sigma (epsilon or v). */
static inline double euler_x0(double x, double m, double sigma, int v)
{
    if (!v)
        return x - sigma * m;
    return m * (-sigma / sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
}

static void euler_step(pd_sched *s, int i, const float *out, const float *noise, float *x, float *denoised,
                       int64_t n)
{
    (void)noise;
    const double sigma = s->sigmas[s->begin + i], dt = s->sigmas[s->begin + i + 1] - sigma;
    const int v = s->cfg.prediction == PD_PREDICT_V;
    for (int64_t k = 0; k < n; k++) {
        double xk = x[k], x0 = euler_x0(xk, out[k], sigma, v);
        if (denoised)
            denoised[k] = (float)x0;
        x[k] = (float)(xk + (xk - x0) / sigma * dt);
    }
}

/* The step to sigma_down, then sigma_up of fresh noise: together they reach
 * the next sigma's variance. */
static void euler_a_step(pd_sched *s, int i, const float *out, const float *noise, float *x, float *denoised,
                         int64_t n)
{
    const double from = s->sigmas[s->begin + i], to = s->sigmas[s->begin + i + 1];
    const double up = sqrt(to * to * (from * from - to * to) / (from * from));
    const double down = sqrt(to * to - up * up), dt = down - from;
    const int v = s->cfg.prediction == PD_PREDICT_V;
    for (int64_t k = 0; k < n; k++) {
        double xk = x[k], x0 = euler_x0(xk, out[k], from, v);
        double prev = xk + (xk - x0) / from * dt;
        if (noise)
            prev += noise[k] * up;
        if (denoised)
            denoised[k] = (float)x0;
        x[k] = (float)prev;
    }
}

static void euler_add_noise(const pd_sched *s, int i, const float *x0, const float *noise, float *out,
                            int64_t n)
{
    double sigma = s->sigmas[s->begin + i];
    for (int64_t k = 0; k < n; k++)
        out[k] = (float)(x0[k] + noise[k] * sigma);
}

static int euler_a_draws(const pd_sched *s, int i)
{
    (void)s, (void)i;
    return 1;
}

const pd_sched_ops pd_euler_ops = {
    .build = euler_build,
    .scale = euler_scale,
    .step = euler_step,
    .add_noise = euler_add_noise,
};

const pd_sched_ops pd_euler_a_ops = {
    .build = euler_build,
    .scale = euler_scale,
    .step = euler_a_step,
    .add_noise = euler_add_noise,
    .draws_noise = euler_a_draws,
};
