/* activation.h — element-wise activations, in place on n contiguous floats.
 *
 *     pd_gelu(h, 77 * 3072);
 *
 * pd_gelu:       x · Φ(x) with the exact erf (torch's default "none" approximation)
 * pd_quick_gelu: x · sigmoid(1.702 x)  (OpenAI CLIP, SD 1.x text encoder)
 * The _ref twins are the single-threaded specification; the others split
 * the array over the thread pool. No scratch.
 */
#ifndef PD_ACTIVATION_H
#define PD_ACTIVATION_H

#include <stdint.h>

typedef enum { PD_ACT_GELU, PD_ACT_QUICK_GELU } pd_activation;

void pd_activate(pd_activation act, float *x, int64_t n);
void pd_activate_ref(pd_activation act, float *x, int64_t n);

#endif
