/* test_eval.c — eval/psnr.h against hand-computed values (equal outputs,
 * a known RMSE, NaN, a zero reference, blocks = their concatenation) and
 * eval/eval.h on a golden model: itself scores +inf on every component;
 * bad options and another architecture are refused. Conversions' finite
 * scores are tests/cli/eval-smoke.sh's. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "check.h"
#include "eval/eval.h"

static void test_psnr(void)
{
    const float ref[4] = {2, 0, 0, -1}, same[4] = {2, 0, 0, -1}, off[4] = {2, 1, 0, -1};
    pd_psnr a = {0};
    CHECK(isinf(pd_psnr_db(&a)) && pd_psnr_db(&a) > 0); /* nothing added: nothing differs */
    pd_psnr_add(&a, ref, same, 4);
    CHECK(isinf(pd_psnr_db(&a)) && pd_psnr_db(&a) > 0);
    /* RMSE sqrt(1/4) = 0.5, peak 2: 20·log10(4) */
    pd_psnr b = {0};
    pd_psnr_add(&b, ref, off, 4);
    CHECK_MSG(fabs(pd_psnr_db(&b) - 20 * log10(4.0)) < 1e-12, "%.15g", pd_psnr_db(&b));
    /* blocks accumulate as their concatenation: peak 2 over 8 elements, one off */
    pd_psnr c = {0};
    pd_psnr_add(&c, ref, same, 4);
    pd_psnr_add(&c, ref, off, 4);
    CHECK_MSG(fabs(pd_psnr_db(&c) - 20 * log10(2 / sqrt(1.0 / 8))) < 1e-12, "%.15g", pd_psnr_db(&c));
    /* the peak is the reference's, not the test's */
    const float big[4] = {2, 9, 0, -1};
    pd_psnr d = {0};
    pd_psnr_add(&d, ref, big, 4);
    CHECK_MSG(fabs(pd_psnr_db(&d) - 20 * log10(2 / sqrt(81.0 / 4))) < 1e-12, "%.15g", pd_psnr_db(&d));
    /* NaN anywhere is NaN, whatever comes after */
    const float nan_test[4] = {2, NAN, 0, -1};
    pd_psnr e = {0};
    pd_psnr_add(&e, ref, nan_test, 4);
    pd_psnr_add(&e, ref, same, 4);
    CHECK(isnan(pd_psnr_db(&e)));
    pd_psnr f = {0};
    pd_psnr_add(&f, nan_test, ref, 4);
    CHECK(isnan(pd_psnr_db(&f)));
    /* a zero reference against a non-zero output */
    const float zero[4] = {0};
    pd_psnr g = {0};
    pd_psnr_add(&g, zero, off, 4);
    CHECK(isinf(pd_psnr_db(&g)) && pd_psnr_db(&g) < 0);
}

static void test_eval(const char *golden)
{
    char *sd15 = g_build_filename(golden, "sd15-tiny", "diffusers", NULL);
    char *sd21 = g_build_filename(golden, "sd21v-tiny", "diffusers", NULL);
    pd_model *m = NULL, *other = NULL;
    pd_error err;
    if (!g_file_test(sd15, G_FILE_TEST_IS_DIR) || pd_model_open(sd15, NULL, &m, &err)) {
        printf("unit-eval: no %s, model cases skipped\n", sd15);
        goto out;
    }
    pd_eval_options o;
    pd_eval_options_init(&o);
    o.width = o.height = 32;
    o.steps = 2;
    static const char *const prompts[] = {"a fox"};
    static const uint64_t seeds[] = {3};
    o.prompts = prompts, o.n_prompts = 1, o.seeds = seeds, o.n_seeds = 1;

    pd_eval_options bad = o;
    pd_eval_ref *ref = NULL;
    bad.width = 30;
    CHECK(pd_eval_reference(m, &bad, &ref, &err) == PD_E_ARG && strstr(err.message, "size 30") && !ref);
    bad = o, bad.timestep = NAN;
    CHECK(pd_eval_reference(m, &bad, &ref, &err) == PD_E_ARG && strstr(err.message, "timestep") && !ref);
    bad = o, bad.n_seeds = 0;
    CHECK(pd_eval_reference(m, &bad, &ref, &err) == PD_E_ARG && !ref);

    pd_status s = pd_eval_reference(m, &o, &ref, &err);
    CHECK_MSG(s == PD_OK, "%s", err.message);
    pd_eval_result r;
    if (!s) {
        s = pd_eval_compare(ref, m, &r, &err);
        CHECK_MSG(s == PD_OK, "%s", err.message);
        for (int c = 0; !s && c < PD_EVAL_COUNT; c++)
            CHECK_MSG(isinf(pd_psnr_db(&r.psnr[c])) && pd_psnr_db(&r.psnr[c]) > 0, "%s: %g",
                      pd_eval_component_name(c), pd_psnr_db(&r.psnr[c]));
    }
    if (!pd_model_open(sd21, NULL, &other, &err)) {
        CHECK(pd_eval_check_models(m, other, &err) == PD_E_ARG && check_has_all(err.message, "not the same model|sd21|sd15"));
        if (ref) {
            memset(&r, 1, sizeof r);
            CHECK(pd_eval_compare(ref, other, &r, &err) == PD_E_ARG && strstr(err.message, "not the same model"));
            CHECK(r.seconds == 0 && r.psnr[0].n == 0); /* zeroed on failure */
        }
    }
    pd_eval_ref_free(ref);
out:
    pd_model_free(m);
    pd_model_free(other);
    g_free(sd15);
    g_free(sd21);
}

int main(void)
{
    test_psnr();
    const char *golden = check_golden_dir();
    if (golden)
        test_eval(golden);
    else
        printf("unit-eval: no golden folder, model cases skipped\n");
    return check_summary("unit-eval");
}
