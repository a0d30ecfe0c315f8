/* palettize.c — one weight tensor palettized, group by group (palettize.h). */
#include "convert/palettize.h"

#include <string.h>

#include <glib.h>

#include "error.h"
#include "kernels/palette.h"

void pd_weight_rows_f16(const pd_weight *w, int64_t r0, int64_t nrows, uint16_t *out, float *row)
{
    int64_t cols = pd_weight_cols(w);
    for (int64_t r = 0; r < nrows; r++) {
        if (w->dtype == PD_F16) {
            memcpy(out + r * cols, (const uint16_t *)w->data + (r0 + r) * cols, (size_t)cols * 2);
            continue;
        }
        pd_weight_read(w, r0 + r, 0, cols, row);
        for (int64_t c = 0; c < cols; c++)
            out[r * cols + c] = pd_f32_to_f16(row[c]);
    }
}

pd_status pd_palettize_weight(const pd_weight *w, const char *label, int bits, int64_t group_size,
                              pd_pal_mode mode, pd_palettize_emit_fn emit, void *user, pd_error *err)
{
    int64_t rows = pd_weight_rows(w), cols = pd_weight_cols(w), G = group_size;
    if (G < 1 || rows % G)
        return pd_fail(err, PD_E_ARG, "tensor '%s': %lld output channels do not split into groups of %lld",
                       label, (long long)rows, (long long)G);
    int64_t n = G * cols, rb = pd_pal_row_bytes(cols, bits);
    int direct = w->dtype == PD_F16; /* the group's values straight from the map */
    uint16_t *vals = direct ? NULL : g_try_malloc((size_t)n * 2);
    float *row = direct ? NULL : g_try_malloc((size_t)cols * sizeof(float));
    uint8_t *idx = g_try_malloc((size_t)n);
    uint8_t *packed = g_try_malloc((size_t)(G * rb));
    uint16_t palette[256];
    pd_status s = (direct || (vals && row)) && idx && packed
                      ? PD_OK
                      : pd_fail(err, PD_E_NOMEM, "out of memory palettizing '%s' (%lld values)", label, (long long)n);
    for (int64_t g = 0; !s && g < rows / G; g++) {
        const uint16_t *v = vals;
        if (direct)
            v = (const uint16_t *)w->data + g * n;
        else
            pd_weight_rows_f16(w, g * G, G, vals, row);
        pd_error e;
        if ((s = pd_palettize(v, n, bits, mode, palette, idx, &e))) {
            pd_fail(err, s, "tensor '%s': %s", label, e.message);
            break;
        }
        for (int64_t r = 0; r < G; r++)
            pd_pal_pack_row(idx + r * cols, cols, bits, packed + r * rb);
        s = emit(g, palette, packed, user, err);
    }
    g_free(vals);
    g_free(row);
    g_free(idx);
    g_free(packed);
    return s;
}
