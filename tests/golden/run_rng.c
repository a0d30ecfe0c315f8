/* run_rng.c — golden "rng" cases: one generator seeded once, then
 * torch.randn(shape) per call in order, each compared with `call<i>`. */
#include <math.h>
#include <stdio.h>

#include "runner.h"
#include "sched/rng.h"

void run_rng(const manifest *mf, JsonObject *c)
{
    const char *id = json_object_get_string_member(c, "id");
    const source s = {.name = "-"};
    JsonObject *tols = json_object_get_object_member(c, "tol");
    double tol = tols && json_object_has_member(tols, "max_abs") ? json_object_get_double_member(tols, "max_abs") : 0;
    /* Seeds reach 2^63 − 1: json-glib keeps them exact as int64. */
    uint64_t seed = (uint64_t)json_object_get_int_member(c, "seed");
    JsonArray *calls = json_object_get_array_member(c, "calls");
    char *file = g_build_filename(mf->dir, json_object_get_string_member(c, "file"), NULL);
    pd_safetensors *st;
    pd_error err;
    if (pd_st_open(file, &st, &err)) {
        report(0, mf->rel, id, s.name, "%s", err.message);
        g_free(file);
        return;
    }
    g_free(file);

    pd_rng r;
    pd_rng_seed(&r, seed);
    double worst = 0;
    guint ncalls = json_array_get_length(calls);
    for (guint i = 0; i < ncalls; i++) {
        JsonArray *shape = json_object_get_array_member(json_array_get_object_element(calls, i), "shape");
        int64_t n = 1;
        for (guint d = 0; d < json_array_get_length(shape); d++)
            n *= json_array_get_int_element(shape, d);
        char name[32];
        snprintf(name, sizeof name, "call%u", i);
        const pd_st_tensor *want;
        if (!case_tensors(mf, id, &s, st, name, PD_ST_F32, &want, NULL))
            goto done;
        if (want->numel != n) {
            report(0, mf->rel, id, s.name, "'%s' has %lld values, the call's shape %lld", name,
                   (long long)want->numel, (long long)n);
            goto done;
        }
        /* Draw every call, even after a mismatch: later calls depend on the
         * stream position (and the cache) that this one leaves behind. */
        float *got = g_new(float, n ? n : 1);
        pd_rng_randn(&r, got, n);
        double d = max_abs_diff(got, want->data, n);
        g_free(got);
        if (!(d <= worst))
            worst = isnan(d) ? INFINITY : d;
    }
    report(worst <= tol, mf->rel, id, s.name, "%u calls max_abs %.2g %s %.2g", ncalls, worst,
           worst <= tol ? "<=" : ">", tol);
done:
    pd_st_close(st);
}
