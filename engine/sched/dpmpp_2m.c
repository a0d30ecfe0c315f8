/* dpmpp_2m.c — DPMSolverMultistepScheduler as "DPM++ 2M": dpmsolver++,
 * order 2, midpoint (Lu et al. 2022), optionally on Karras sigmas.
 *
 * It steps in log-SNR lambda = log(alpha/sigma) on the data prediction x0:
 * first order (DDIM in disguise) at the first step, at the last step when
 * lower_order_final or euler_at_final asks, and always onto a final sigma of
 * 0; otherwise second order from this step's and the previous step's x0. */
#include <math.h>

#include "sched/schedule.h"

enum { PREV_X0 = 0 };

static pd_status dpm_build(pd_sched *s, pd_error *err)
{
    (void)err;
    const int T = s->T, n = s->inference_steps;
    double *train = g_new(double, T);
    pd_schedule_train_sigmas(s->ac, T, train);
    s->timesteps = g_new(double, n + 3);
    /* lambda_min_clipped is −inf: the schedule spans all T timesteps.
     * linspace and leading lay out n + 1 points and drop the last (0). */
    int m = s->cfg.spacing == PD_SPACING_TRAILING
                ? pd_schedule_spacing(PD_SPACING_TRAILING, T, n, s->cfg.steps_offset, 1, s->timesteps)
                : pd_schedule_spacing(s->cfg.spacing, T, n + 1, s->cfg.steps_offset, 1, s->timesteps) - 1;
    double *sig = g_new(double, (m > n ? m : n) + 1);
    if (s->cfg.use_karras_sigmas) {
        /* Karras between the training ends; integer timesteps rounded back
         * from each sigma (these may repeat near t = 0). */
        double lo = isnan(s->cfg.sigma_min) ? train[0] : s->cfg.sigma_min;
        double hi = isnan(s->cfg.sigma_max) ? train[T - 1] : s->cfg.sigma_max;
        double *logs = g_new(double, T);
        pd_schedule_log_sigmas(train, T, logs);
        pd_schedule_karras(lo, hi, n, sig);
        for (int i = 0; i < n; i++)
            s->timesteps[i] = nearbyint(pd_schedule_sigma_to_t(sig[i], logs, T));
        g_free(logs);
        m = n;
    } else {
        for (int i = 0; i < m; i++)
            sig[i] = pd_schedule_interp(s->timesteps[i], train, T);
    }
    for (int i = 0; i < m; i++)
        sig[i] = pd_f32(sig[i]);
    sig[m] = s->cfg.final_sigmas_zero ? 0 : train[0]; /* "sigma_min": the first training sigma */
    s->n_all = m;
    s->sigmas = sig;
    s->n_sigmas = m + 1;
    s->init_noise_sigma = 1;
    g_free(train);
    return PD_OK;
}

/* alpha_t, sigma_t of the variance-preserving process at sigma (k-diffusion's
 * sigma is sigma_t / alpha_t), and lambda = log alpha_t − log sigma_t. */
static void vp(double sigma, double *alpha, double *sigma_t, double *lambda)
{
    *alpha = 1 / sqrt(sigma * sigma + 1);
    *sigma_t = sigma * *alpha;
    *lambda = log(*alpha) - log(*sigma_t);
}

static void dpm_step(pd_sched *s, int i, const float *out, const float *noise, float *x, float *denoised,
                     int64_t n)
{
    (void)noise;
    if (i == 0 || s->state_n != n) {
        pd_sched_state_size(s, 1, n);
        s->counter = 0; /* diffusers' lower_order_nums */
    }
    const int idx = s->begin + i;
    const int last = idx == s->n_all - 1;
    const int first_order =
        s->counter < 1 ||
        (last && (s->cfg.euler_at_final || (s->cfg.lower_order_final && s->n_all < 15) || s->cfg.final_sigmas_zero));
    double a_s, s_s, l_s, a_t, s_t, l_t;
    vp(s->sigmas[idx], &a_s, &s_s, &l_s);
    const double sigma_next = s->sigmas[idx + 1];
    /* Sample and x0 weights of the update x = cx·x + c0·x0 + c1·(x0 − x0_prev). */
    double cx, c0, c1 = 0;
    if (sigma_next == 0) { /* lambda_t = +inf: the update is x0 itself */
        cx = 0, c0 = 1;
    } else {
        vp(sigma_next, &a_t, &s_t, &l_t);
        double h = l_t - l_s, em1 = expm1(-h); /* exp(−h) − 1 */
        cx = s_t / s_s;
        c0 = -a_t * em1;
        if (!first_order) {
            double a_1, s_1, l_1;
            vp(s->sigmas[idx - 1], &a_1, &s_1, &l_1);
            double r0 = (l_s - l_1) / h; /* D1 = (x0 − x0_prev) / r0, weighted by −½·a_t·em1 */
            c1 = -0.5 * a_t * em1 / r0;
        }
    }
    const int v = s->cfg.prediction == PD_PREDICT_V;
    float *prev_x0 = s->state[PREV_X0];
    for (int64_t k = 0; k < n; k++) {
        double xk = x[k], m = out[k];
        double x0 = v ? a_s * xk - s_s * m : (xk - s_s * m) / a_s;
        double y = cx * xk + c0 * x0;
        if (c1 != 0)
            y += c1 * (x0 - prev_x0[k]);
        prev_x0[k] = (float)x0; /* diffusers keeps model outputs as float32 */
        if (denoised)
            denoised[k] = (float)x0;
        x[k] = (float)y;
    }
    if (s->counter < 2)
        s->counter++;
}

static void dpm_add_noise(const pd_sched *s, int i, const float *x0, const float *noise, float *out,
                          int64_t n)
{
    double a, st, l;
    vp(s->sigmas[s->begin + i], &a, &st, &l);
    for (int64_t k = 0; k < n; k++)
        out[k] = (float)(a * x0[k] + st * noise[k]);
}

const pd_sched_ops pd_dpmpp_2m_ops = {
    .build = dpm_build,
    .step = dpm_step,
    .add_noise = dpm_add_noise,
};
