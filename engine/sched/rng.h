/* rng.h — torch.Generator("cpu")-compatible normal noise.
 *
 *     pd_rng r;
 *     pd_rng_seed(&r, 42);                       // = torch.Generator().manual_seed(42)
 *     float *x = malloc(4 * 64 * 64 * sizeof(float));
 *     pd_rng_randn(&r, x, 4 * 64 * 64);          // = torch.randn([1,4,64,64], generator=g)
 *
 * The values come in PyTorch's memory order (row-major NCHW for latents);
 * callers that keep channels-last data permute afterwards. Consecutive calls
 * continue the stream exactly as consecutive torch.randn calls on one
 * generator do (see the golden README's "rng cases" for the contract).
 *
 * A pd_rng is a plain value (about 2.5 KB, no heap): the caller owns it and
 * may copy it to fork the stream. Not thread-safe: one generator per thread,
 * or serialise calls on a shared one.
 */
#ifndef PD_RNG_H
#define PD_RNG_H

#include <stdint.h>

typedef struct pd_rng {
    uint32_t mt[624];   /* MT19937 state                                   */
    int index;          /* next word of mt to temper; 624 = regenerate     */
    int has_cached;     /* Box-Muller's second value of the double path... */
    double cached;      /* ...kept across calls, as PyTorch's generator does */
} pd_rng;

/* Seeds as torch's manual_seed(seed): only the low 32 bits reach MT19937.
 * Clears the cached normal. */
void pd_rng_seed(pd_rng *r, uint64_t seed);

/* out[0..n) = torch.randn([n], generator=g) as float32. n <= 0 draws nothing. */
void pd_rng_randn(pd_rng *r, float *out, int64_t n);

/* The next raw 32-bit MT19937 word (torch's generator.random()). */
uint32_t pd_rng_u32(pd_rng *r);

#endif
