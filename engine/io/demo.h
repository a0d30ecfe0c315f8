/* demo.h — paldiff's own tiny Stable Diffusion model, with random weights.
 *
 *     if (pd_demo_model_write("/home/me/.cache/paldiff/demo-v1", &err)) ...
 *     pd_model_open("/home/me/.cache/paldiff/demo-v1", NULL, &model, &err);
 *
 * No trained weights can be shipped or downloaded with paldiff, yet a first
 * command should end in an image. The demo model is a complete SD 1.x
 * diffusers folder with the real topology at toy sizes: a CLIP text encoder
 * (width 64, 2 layers, 4 heads) behind a byte-level tokenizer (the 512 byte
 * symbols and the two special tokens, no merges: one token per UTF-8 byte),
 * a UNet with blocks of 32, 64, 64, 64 channels (8 norm groups, 4 heads,
 * cross-attention on the text), a VAE with 16, 32, 64, 64, and the Euler
 * scheduler on SD's betas: 4.7 M parameters, a 9 MB folder. A 256×256
 * image in 8 steps with guidance takes under half a second on two cores.
 *
 * The weights are random, scaled so that activations stay of order one:
 * every matrix and kernel is drawn with standard deviation 1/sqrt(fan_in),
 * norm scales are 1, biases 0. What it draws is noise-like art, not a
 * trained model's picture; README.txt in the folder says so. Values come
 * from the project's MT19937 (sched/rng.h) by integer arithmetic and one
 * IEEE-exact scaling (no libm), stored as F16: the folder is byte-for-byte
 * the same on every machine.
 *
 * Writing is atomic: the folder is built beside `dir` as "<dir>.tmp-XXXXXX"
 * and renamed to `dir` once complete, its version stamp written last. A
 * `dir` that already holds this version is left as it is (PD_OK); an empty
 * folder is replaced; any other existing `dir` is an error (nothing of the
 * user's is overwritten). Two processes writing the same `dir` at once both
 * succeed, and one folder remains. Anything written changes → bump
 * PD_DEMO_VERSION (the CLI's cache folder is named after it).
 */
#ifndef PD_DEMO_H
#define PD_DEMO_H

#include "paldiff.h"

#define PD_DEMO_VERSION 1

/* Writes the demo model to the folder `dir` (its parents are created). */
pd_status pd_demo_model_write(const char *dir, pd_error *err);

/* Non-zero when `dir` holds a complete demo model of PD_DEMO_VERSION. */
int pd_demo_model_present(const char *dir);

#endif
