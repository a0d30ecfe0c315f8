/* schedule.c — the tables and spacings every scheduler shares (see schedule.h). */
#include "sched/schedule.h"

#include <glib.h>
#include <math.h>

/* torch.linspace(start, end, steps, dtype=float32) as PyTorch's CPU kernel
 * computes it on an AVX2 machine (the golden data's): pairs of 8-lane
 * vectors whose lane j is base + j·step, base counted from whichever end is
 * nearer, then the tail one element at a time; the compiler fused each
 * a + b·c into one FMA. A plain formula is one ulp off for a third of SD's
 * betas, which moves sigmas (checked bit for bit against the golden ones). */
static void torch_linspace_f32(double start_d, double end_d, int steps, float *out)
{
    enum { LANES = 8 };
    const float start = (float)start_d, end = (float)end_d;
    if (steps == 1) {
        out[0] = start;
        return;
    }
    const float step = (end - start) / (float)(steps - 1);
    const int halfway = steps / 2;
#define PD_LINSPACE_AT(k) \
    ((k) < halfway ? fmaf(step, (float)(k), start) : fmaf(-step, (float)(steps - (k)-1), end))
    int i = 0;
    for (; i + 2 * LANES <= steps; i += 2 * LANES)
        for (int v = i; v < i + 2 * LANES; v += LANES) {
            const float base = PD_LINSPACE_AT(v);
            for (int j = 0; j < LANES; j++)
                out[v + j] = fmaf((float)j, step, base);
        }
    for (; i < steps; i++)
        out[i] = PD_LINSPACE_AT(i);
#undef PD_LINSPACE_AT
}

/* diffusers' betas_for_alpha_bar (cosine), in Python's double, then float32. */
static void cosine_betas(int T, float *betas)
{
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < T; i++) {
        double t1 = (double)i / T, t2 = (double)(i + 1) / T;
        double a1 = cos((t1 + 0.008) / 1.008 * pi / 2), a2 = cos((t2 + 0.008) / 1.008 * pi / 2);
        double b = 1 - (a2 * a2) / (a1 * a1);
        betas[i] = (float)(b < 0.999 ? b : 0.999);
    }
}

void pd_schedule_alphas_cumprod(const pd_sched_config *cfg, double *ac)
{
    const int T = cfg->num_train_timesteps;
    float *betas = g_new(float, T);
    switch (cfg->beta_schedule) {
    case PD_BETAS_LINEAR:
        torch_linspace_f32(cfg->beta_start, cfg->beta_end, T, betas);
        break;
    case PD_BETAS_SCALED_LINEAR: /* linspace of the square roots, squared in float32 */
        torch_linspace_f32(pow(cfg->beta_start, 0.5), pow(cfg->beta_end, 0.5), T, betas);
        for (int i = 0; i < T; i++)
            betas[i] = betas[i] * betas[i];
        break;
    case PD_BETAS_SQUAREDCOS:
        cosine_betas(T, betas);
        break;
    }
    /* alphas = 1 − betas in float32; torch.cumprod of float32 on the CPU
     * accumulates in double and stores float32. */
    double p = 1;
    for (int i = 0; i < T; i++) {
        p *= (float)(1.0f - betas[i]);
        ac[i] = (float)p;
    }
    g_free(betas);
}

void pd_schedule_train_sigmas(const double *ac, int T, double *sigmas)
{
    for (int t = 0; t < T; t++) {
        float a = (float)ac[t];
        sigmas[t] = sqrtf((1.0f - a) / a);
    }
}

void pd_schedule_log_sigmas(const double *sigmas, int T, double *log_sigmas)
{
    for (int t = 0; t < T; t++)
        log_sigmas[t] = pd_f32(log(sigmas[t]));
}

double pd_np_linspace(double start, double stop, int num, int endpoint, int i)
{
    int div = endpoint ? num - 1 : num;
    if (div <= 0)
        return start;
    if (endpoint && i == num - 1)
        return stop;
    double delta = stop - start, step = delta / div;
    return step == 0 ? (double)i / div * delta + start : (double)i * step + start;
}

/* np.arange(start, 0, −step) for a float step > 0: NumPy takes
 * ceil(−start / −step) values (one more than expected when the division
 * rounds up past an integer) and fills value i as start + i·delta with
 * delta = (start − step) − start. */
static int np_arange_down(double start, double step, double *out)
{
    double len = ceil((0.0 - start) / -step);
    int n = len > 0 ? (int)len : 0;
    double next = start + -step, delta = next - start;
    for (int i = 0; i < n; i++)
        out[i] = i == 0 ? start : i == 1 ? next : start + i * delta;
    return n;
}

int pd_schedule_spacing(pd_spacing spacing, int T, int n, int steps_offset, int round, double *out)
{
    switch (spacing) {
    case PD_SPACING_LINSPACE:
        for (int i = 0; i < n; i++) {
            double v = pd_np_linspace(0, T - 1, n, 1, n - 1 - i);
            out[i] = round ? nearbyint(v) : v; /* np.round: half to even */
        }
        return n;
    case PD_SPACING_LEADING: { /* integer arithmetic */
        int ratio = T / n;
        for (int i = 0; i < n; i++)
            out[i] = (double)(n - 1 - i) * ratio + steps_offset;
        return n;
    }
    case PD_SPACING_TRAILING: {
        int m = np_arange_down(T, (double)T / n, out);
        for (int i = 0; i < m; i++)
            out[i] = nearbyint(out[i]) - 1;
        return m;
    }
    }
    return 0;
}

double pd_schedule_interp(double t, const double *table, int T)
{
    if (!(t > 0))
        return table[0];
    if (t >= T - 1)
        return table[T - 1];
    int j = (int)floor(t);
    if (t == j)
        return table[j];
    return (table[j + 1] - table[j]) * (t - j) + table[j];
}

void pd_schedule_karras(double sigma_min, double sigma_max, int n, double *out)
{
    const double rho = 7.0;
    double min_inv = pow(sigma_min, 1 / rho), max_inv = pow(sigma_max, 1 / rho);
    for (int i = 0; i < n; i++) {
        /* one NumPy operation per statement: no fused multiply-add */
        double ramp = pd_np_linspace(0, 1, n, 1, i), step = ramp * (min_inv - max_inv);
        out[i] = pow(max_inv + step, rho);
    }
}

double pd_schedule_sigma_to_t(double sigma, const double *log_sigmas, int T)
{
    double log_sigma = log(sigma > 1e-10 ? sigma : 1e-10);
    /* argmax of cumsum(log_sigma − log_sigmas >= 0): the last table entry at
     * or below log_sigma, 0 when none is. The table never decreases (alphas
     * only shrink, and float32 rounding keeps order), so bisect. */
    int lo = 0, hi = T; /* entries [0, lo) are <= log_sigma, [hi, T) above */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log_sigma - log_sigmas[mid] >= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int low = lo > 0 ? lo - 1 : 0;
    if (low > T - 2)
        low = T - 2;
    int high = low + 1;
    /* low − high is a float32 difference in NumPy (both float32 scalars). */
    float span = (float)log_sigmas[low] - (float)log_sigmas[high];
    double w = (log_sigmas[low] - log_sigma) / span;
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    return (1 - w) * low + w * high;
}
