/* run_unet.c — golden "unet" cases: one UNet evaluation (a CFG batch). */
#include "models/unet.h"
#include "runner.h"

void run_unet(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st, double tol)
{
    const char *id = json_object_get_string_member(c, "id");
    const pd_st_tensor *sample, *t, *ctx, *want;
    if (!case_tensors(mf, id, s, st, "sample", PD_ST_F32, &sample, "timestep", PD_ST_F32, &t,
                      "encoder_hidden_states", PD_ST_F32, &ctx, "out", PD_ST_F32, &want, NULL))
        return;
    if (sample->ndim != 4 || ctx->ndim != 3 || t->numel != 1 || want->ndim != 4) {
        report(0, mf->rel, id, s->name, "unexpected tensor shapes in the case file");
        return;
    }
    int B = (int)sample->shape[0], C = (int)sample->shape[1], h = (int)sample->shape[2], w = (int)sample->shape[3];
    pd_unet *u;
    pd_error err;
    if (pd_unet_load(s->model, &u, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
        return;
    }
    float *x = nchw_to_nhwc(sample->data, B, C, h, w);
    int oc = pd_unet_get_config(u)->out_channels;
    float *y = g_new0(float, (size_t)B * h * w * oc);
    if (pd_unet_forward(u, B, h, w, x, *(const float *)t->data, ctx->data, (int)ctx->shape[1], y, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
    } else {
        float *got = nhwc_to_nchw(y, B, h, w, oc);
        report_diff(mf, id, s, want, got, (int64_t)B * oc * h * w, tol);
        g_free(got);
    }
    g_free(x);
    g_free(y);
    pd_unet_free(u);
}
