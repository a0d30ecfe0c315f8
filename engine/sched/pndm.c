/* pndm.c — PNDMScheduler with skip_prk_steps: PLMS (Liu et al. 2022), a
 * linear multistep method over the past four model outputs ("ets").
 *
 * The schedule is DDIM's with its second timestep repeated: step 0 is an
 * Euler-like step from t0 to t1, step 1 redoes it from the same sample with
 * the average of both model outputs (a second-order start), then each step
 * extrapolates from the outputs so far. Which formula a step uses depends
 * only on its position in the run, as in diffusers (also after a strength
 * cut, where the repeat is then not where step 1 is). */
#include <math.h>
#include <string.h>

#include "sched/schedule.h"

enum { SQRT_A, SQRT_1MA, SAMPLE_COEF, OUT_COEF };
enum { ETS = 4, CUR = 4 }; /* state[0..3]: ets, oldest first; state[4]: step 0's sample */

static pd_status pndm_build(pd_sched *s, pd_error *err)
{
    (void)err;
    const int n = s->inference_steps;
    double *base = g_new(double, n + 2);
    int m = pd_schedule_spacing(s->cfg.spacing, s->T, n, s->cfg.steps_offset, 1, base);
    /* descending d0, d1, d1, d2, ...: diffusers' plms_timesteps (a single
     * step has nothing to repeat) */
    s->timesteps = g_new(double, m + 1);
    s->n_all = 0;
    for (int j = 0; j < m; j++) {
        s->timesteps[s->n_all++] = base[j];
        if (j == 1)
            s->timesteps[s->n_all++] = base[j];
    }
    g_free(base);
    s->init_noise_sigma = 1;
    return PD_OK;
}

/* diffusers' _get_prev_sample from t to prev, prev = t − T // steps; step 1
 * goes from t + T // steps to t instead. */
static pd_status pndm_prepare(pd_sched *s, pd_error *err)
{
    const int ratio = s->T / s->inference_steps;
    for (int i = 0; i < s->steps; i++) {
        double t = s->timesteps[s->begin + i], prev = t - ratio;
        pd_status st = pd_sched_check_timestep(s, t, err);
        if (!st && i == 1) {
            prev = t;
            t = t + ratio;
            st = pd_sched_check_timestep(s, t, err);
        }
        if (st)
            return st;
        double a = s->ac[(int)t], ap = prev >= 0 ? s->ac[(int)prev] : s->final_ac;
        double *c = s->coef[i];
        c[SQRT_A] = sqrt(a);
        c[SQRT_1MA] = sqrt(1 - a);
        c[SAMPLE_COEF] = sqrt(ap / a);
        c[OUT_COEF] = (ap - a) / (a * sqrt(1 - ap) + sqrt(a * (1 - a) * ap));
    }
    return PD_OK;
}

static void pndm_step(pd_sched *s, int i, const float *out, const float *noise, float *x, float *denoised,
                      int64_t n)
{
    (void)noise;
    if (i == 0 || s->state_n != n) {
        pd_sched_state_size(s, ETS + 1, n);
        s->counter = 0; /* ets held */
        if (i != 0) /* out of order: start from here rather than read garbage */
            memcpy(s->state[CUR], x, (size_t)n * sizeof *x);
    }
    float **ets = s->state, *cur = s->state[CUR];
    if (i != 1) { /* step 1 re-evaluates step 0's point: not a new history entry */
        if (s->counter == ETS) {
            float *oldest = ets[0];
            memmove(ets, ets + 1, (ETS - 1) * sizeof *ets);
            ets[ETS - 1] = oldest;
            s->counter--;
        }
        memcpy(ets[s->counter++], out, (size_t)n * sizeof *out);
    }
    const int ne = s->counter;
    const float *e1 = ne ? ets[ne - 1] : out, *e2 = ne > 1 ? ets[ne - 2] : NULL, *e3 = ne > 2 ? ets[ne - 3] : NULL,
                *e4 = ne > 3 ? ets[ne - 4] : NULL;
    const double *c = s->coef[i];
    const int v = s->cfg.prediction == PD_PREDICT_V;
    for (int64_t k = 0; k < n; k++) {
        double xk = x[k], m;
        if (i == 0)
            cur[k] = x[k];
        if (i == 1) {
            m = ((double)out[k] + e1[k]) / 2;
            xk = cur[k];
        } else if (ne <= 1) {
            m = e1[k];
        } else if (ne == 2) {
            m = (3.0 * e1[k] - e2[k]) / 2;
        } else if (ne == 3) {
            m = (23.0 * e1[k] - 16.0 * e2[k] + 5.0 * e3[k]) / 12;
        } else {
            m = (55.0 * e1[k] - 59.0 * e2[k] + 37.0 * e3[k] - 9.0 * e4[k]) / 24;
        }
        if (v) /* the combined output, turned into epsilon at this step's t */
            m = c[SQRT_A] * m + c[SQRT_1MA] * xk;
        if (denoised) /* not in diffusers: x0 of the combined epsilon, for previews */
            denoised[k] = (float)((xk - c[SQRT_1MA] * m) / c[SQRT_A]);
        x[k] = (float)(c[SAMPLE_COEF] * xk - c[OUT_COEF] * m);
    }
}

const pd_sched_ops pd_pndm_ops = {
    .build = pndm_build,
    .prepare = pndm_prepare,
    .step = pndm_step,
    .add_noise = pd_ddpm_add_noise,
};
