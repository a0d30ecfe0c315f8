/* activation.h — element-wise activations, in place on n contiguous floats.
 *
 *     pd_activate(PD_ACT_GELU, h, 77 * 3072);
 *
 * GELU:       x · Φ(x) with the exact erf (torch's default "none" approximation)
 * QUICK_GELU: x · sigmoid(1.702 x)  (OpenAI CLIP, SD 1.x text encoder)
 * SILU:       x · sigmoid(x)        (the UNet and VAE)
 * The _ref twins are the single-threaded specification; the others split
 * the array over the thread pool. No scratch.
 */
#ifndef PD_ACTIVATION_H
#define PD_ACTIVATION_H

#include <stdint.h>

typedef enum { PD_ACT_GELU, PD_ACT_QUICK_GELU, PD_ACT_SILU } pd_activation;

void pd_activate(pd_activation act, float *x, int64_t n);
void pd_activate_ref(pd_activation act, float *x, int64_t n);

/* GEGLU, the UNet transformers' feed-forward gate: h is [rows, 2·n] (the
 * projection's output: value then gate); out[r, j] = h[r, j] · gelu(h[r, n + j]).
 * out is [rows, n] and may not overlap h. */
void pd_geglu(int64_t rows, int64_t n, const float *h, float *out);
void pd_geglu_ref(int64_t rows, int64_t n, const float *h, float *out);

#endif
