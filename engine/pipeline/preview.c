/* preview.c — latents → rough RGB by a fixed linear map (see preview.h). */
#include "pipeline/preview.h"

#include <math.h>

/* Least-squares fit of SD's decoded RGB (in [-1, 1]) to the four latent
 * channels, as the community measured it on SD 1.x; SD 2.x shares the VAE.
 * Row c: the weights of latent channel c for R, G, B. */
static const float latent_to_rgb[4][3] = {
    {0.298f, 0.207f, 0.208f},
    {0.187f, 0.286f, 0.173f},
    {-0.158f, 0.189f, 0.264f},
    {-0.184f, -0.271f, -0.473f},
};

void pd_preview_rgb8(const float *latents, int h, int w, uint8_t *rgb)
{
    for (long p = 0; p < (long)h * w; p++) {
        const float *l = latents + p * 4;
        for (int k = 0; k < 3; k++) {
            float v = 0;
            for (int c = 0; c < 4; c++)
                v += l[c] * latent_to_rgb[c][k];
            v = (v + 1.0f) * 127.5f;          /* [-1, 1] → [0, 255] */
            rgb[p * 3 + k] = (uint8_t)(v > 0 ? (v < 255 ? lrintf(v) : 255) : 0);
        }
    }
}
