/* psnr.c — PSNR with Apple's definition (psnr.h). */
#include "eval/psnr.h"

#include <math.h>

void pd_psnr_add(pd_psnr *acc, const float *ref, const float *test, size_t n)
{
    double sq = 0, peak = acc->peak;
    for (size_t i = 0; i < n; i++) {
        double d = (double)test[i] - (double)ref[i], a = fabs((double)ref[i]);
        sq += d * d;
        if (a > peak || isnan(a)) /* a NaN peak sticks: fmax would drop it */
            peak = a;
    }
    acc->sq += sq;
    acc->n += (double)n;
    acc->peak = peak;
}

double pd_psnr_db(const pd_psnr *acc)
{
    if (isnan(acc->sq) || isnan(acc->peak))
        return NAN;
    if (acc->sq == 0)
        return INFINITY;
    return 20.0 * log10(acc->peak / sqrt(acc->sq / acc->n));
}
