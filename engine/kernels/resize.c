/* resize.c — nearest-neighbour resizing of channels-last images.
 *
 * NHWC makes every output pixel one memcpy of C floats. Tasks are bands of
 * output rows over B·Ho. The index rule is in resize.h.
 */
#include "kernels/resize.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "kernels/pool.h"

/* The input index output index `dst` copies (resize.h). The float product
 * and floorf are the point: in double, 7 → 13 would pick other pixels. */
static int src_index(int dst, int in, int out)
{
    float scale = (float)in / (float)out;
    int s = (int)floorf((float)dst * scale);
    return s < in - 1 ? s : in - 1;
}

typedef struct {
    int H, W, C, Ho, Wo;
    const float *x;
    float *y;
    int64_t rows_per_task;  /* output rows, over B·Ho */
    int64_t rows;
} resize_job;

static void resize_rows(const resize_job *j, int64_t r0, int64_t r1)
{
    const size_t bytes = (size_t)j->C * sizeof(float);
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / j->Ho;
        int oy = (int)(r % j->Ho);
        const float *src = j->x + (b * j->H + src_index(oy, j->H, j->Ho)) * j->W * j->C;
        float *dst = j->y + r * j->Wo * j->C;
        for (int ox = 0; ox < j->Wo; ox++) {
            int sx = src_index(ox, j->W, j->Wo);
            memcpy(dst + (int64_t)ox * j->C, src + (int64_t)sx * j->C, bytes);
        }
    }
}

static void resize_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const resize_job *j = ctx;
    int64_t r0 = task * j->rows_per_task;
    resize_rows(j, r0, r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows);
}

void pd_upsample_nearest(int B, int H, int W, int C, const float *x, int Ho, int Wo, float *y)
{
    assert(H > 0 && W > 0 && C > 0 && Ho >= 0 && Wo >= 0);
    int64_t row_floats = (int64_t)Wo * C;
    if (B <= 0 || row_floats == 0 || Ho == 0)
        return;
    /* About 16 Ki floats per task: enough to hide the hand-off. */
    int64_t per = 16384 / row_floats > 0 ? 16384 / row_floats : 1;
    resize_job j = {H, W, C, Ho, Wo, x, y, per, (int64_t)B * Ho};
    pd_parallel_for((j.rows + per - 1) / per, resize_task, &j);
}
