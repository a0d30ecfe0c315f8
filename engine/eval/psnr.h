/* psnr.h — signal integrity as Apple measures palettized Stable Diffusion:
 * PSNR = 20·log10(max|ref| / RMSE) in dB, the RMSE over every element.
 *
 *     pd_psnr acc = {0};
 *     pd_psnr_add(&acc, ref_out, test_out, n);   // as many blocks as there are cases
 *     pd_psnr_add(&acc, ref_out2, test_out2, n2);
 *     printf("%.1f dB\n", pd_psnr_db(&acc));     // INFINITY when every element is equal
 *
 * Accumulating blocks gives the PSNR of their concatenation: the peak is the
 * largest |ref| of all blocks, the RMSE over all their elements. Apple's
 * compute_psnr (ml-stable-diffusion) adds 1e-5 to the peak and 1e-10 to the
 * RMSE, so equal outputs score about 200 dB; here they score +inf, so that
 * "bit-identical" is visible. The peak is always the reference's.
 *
 * A pd_psnr is a plain value owned by the caller; not thread-safe.
 */
#ifndef PD_PSNR_H
#define PD_PSNR_H

#include <stddef.h>

typedef struct pd_psnr {
    double sq;      /* sum of squared differences                    */
    double n;       /* elements summed                               */
    double peak;    /* largest |ref| seen                            */
} pd_psnr;

/* Adds n elements of a reference and the output under test. A NaN in
 * either makes the result NaN (a broken model must not look good). */
void pd_psnr_add(pd_psnr *acc, const float *ref, const float *test, size_t n);

/* The PSNR in dB: +INFINITY if nothing differs (or nothing was added),
 * −INFINITY if the reference is all zeros but the test is not. */
double pd_psnr_db(const pd_psnr *acc);

#endif
