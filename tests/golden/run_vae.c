/* run_vae.c — golden "vae_decode" and "vae_encode" cases.
 *
 * Case tensors are NCHW (PyTorch's); paldiff's VAE is channels-last, so
 * inputs are transposed in and outputs transposed back before comparing.
 */
#include "models/vae.h"
#include "runner.h"

/* Loads the source's VAE, or reports why not and returns NULL. */
static pd_vae *load(const manifest *mf, const char *id, const source *s)
{
    pd_vae *vae;
    pd_error err;
    if (pd_vae_load(s->model, &vae, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
        return NULL;
    }
    return vae;
}

/* t is [B, C, H, W] with the given C (and H, W unless negative). */
static int nchw(const pd_st_tensor *t, int64_t B, int64_t C, int64_t H, int64_t W)
{
    return t->ndim == 4 && (B < 0 || t->shape[0] == B) && t->shape[1] == C &&
           (H < 0 || t->shape[2] == H) && (W < 0 || t->shape[3] == W) && t->shape[0] >= 1 &&
           t->shape[2] >= 1 && t->shape[3] >= 1 && t->shape[2] <= 1 << 16 && t->shape[3] <= 1 << 16;
}

/* latents [B, L, h, w] → image [B, 3, 8h, 8w] = decoder(latents / scaling_factor). */
void run_vae_decode(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st,
                    double tol)
{
    const char *id = json_object_get_string_member(c, "id");
    const pd_st_tensor *lat, *want;
    if (!case_tensors(mf, id, s, st, "latents", PD_ST_F32, &lat, "image", PD_ST_F32, &want, NULL))
        return;
    pd_vae *vae = load(mf, id, s);
    if (!vae)
        return;
    const pd_vae_config *cfg = pd_vae_get_config(vae);
    const int f = 1 << (cfg->blocks - 1);
    if (!nchw(lat, -1, cfg->latent_channels, -1, -1) ||
        !nchw(want, lat->shape[0], cfg->out_channels, lat->shape[2] * f, lat->shape[3] * f)) {
        report(0, mf->rel, id, s->name, "latents/image shapes do not fit a VAE of %d latent and "
               "%d image channels, ×%d", cfg->latent_channels, cfg->out_channels, f);
        pd_vae_free(vae);
        return;
    }
    const int B = (int)lat->shape[0], h = (int)lat->shape[2], w = (int)lat->shape[3];
    const int H = h * f, W = w * f, C = cfg->out_channels;
    float *z = nchw_to_nhwc(lat->data, B, cfg->latent_channels, h, w);
    float *img = g_new(float, (size_t)B * H * W * C);
    pd_error err;
    if (pd_vae_decode(vae, B, h, w, z, img, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
    } else {
        float *got = nhwc_to_nchw(img, B, H, W, C);
        report_diff(mf, id, s, want, got, want->numel, tol);
        g_free(got);
    }
    g_free(img);
    g_free(z);
    pd_vae_free(vae);
}

/* image [B, 3, H, W] → the posterior's mean and logvar [B, L, H/8, W/8];
 * one report covering both (the larger of the two differences). */
void run_vae_encode(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st,
                    double tol)
{
    const char *id = json_object_get_string_member(c, "id");
    const pd_st_tensor *image, *mean, *logvar;
    if (!case_tensors(mf, id, s, st, "image", PD_ST_F32, &image, "mean", PD_ST_F32, &mean,
                      "logvar", PD_ST_F32, &logvar, NULL))
        return;
    pd_vae *vae = load(mf, id, s);
    if (!vae)
        return;
    const pd_vae_config *cfg = pd_vae_get_config(vae);
    const int f = 1 << (cfg->blocks - 1), L = cfg->latent_channels;
    if (!nchw(image, -1, cfg->in_channels, -1, -1) || image->shape[2] % f || image->shape[3] % f ||
        !nchw(mean, image->shape[0], L, image->shape[2] / f, image->shape[3] / f) ||
        !nchw(logvar, image->shape[0], L, image->shape[2] / f, image->shape[3] / f)) {
        report(0, mf->rel, id, s->name, "image/mean/logvar shapes do not fit a VAE of %d image "
               "and %d latent channels, ÷%d", cfg->in_channels, L, f);
        pd_vae_free(vae);
        return;
    }
    const int B = (int)image->shape[0], H = (int)image->shape[2], W = (int)image->shape[3];
    const int h = H / f, w = W / f;
    const size_t n = (size_t)B * h * w * L;
    float *x = nchw_to_nhwc(image->data, B, cfg->in_channels, H, W);
    float *m = g_new(float, n), *lv = g_new(float, n);
    pd_error err;
    if (pd_vae_encode(vae, B, H, W, x, m, lv, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
    } else {
        float *gm = nhwc_to_nchw(m, B, h, w, L), *glv = nhwc_to_nchw(lv, B, h, w, L);
        double dm = max_abs_diff(gm, mean->data, (int64_t)n);
        double dl = max_abs_diff(glv, logvar->data, (int64_t)n);
        double d = dm > dl ? dm : dl;
        report(d <= tol, mf->rel, id, s->name, "mean max_abs %.2g, logvar max_abs %.2g %s %.2g",
               dm, dl, d <= tol ? "<=" : ">", tol);
        g_free(gm);
        g_free(glv);
    }
    g_free(m);
    g_free(lv);
    g_free(x);
    pd_vae_free(vae);
}
