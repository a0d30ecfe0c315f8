/* activation_simd.h — the body of one pd_vm_kernels table (see
 * activation_internal.h). Included once per instruction set by a file that
 * first defines PD_VM_TABLE, the table's name; that file's compiler flags
 * choose the vector width. Plain loops over vmath.h's functions. */
#include "kernels/activation_internal.h"
#include "kernels/vmath.h"

static void vm_silu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = pd_vm_xsigmoid(x[i], 1.0f);
}

static void vm_quick_gelu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = pd_vm_xsigmoid(x[i], 1.702f);
}

static void vm_gelu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = pd_vm_gelu(x[i]);
}

static void vm_geglu_row(int64_t n, const float *restrict h, float *restrict out)
{
    const float *gate = h + n;
    for (int64_t j = 0; j < n; j++)
        out[j] = h[j] * pd_vm_gelu(gate[j]);
}

static void norm_silu_inplace(int64_t n, float *restrict y, const float *restrict mu,
                              const float *restrict scale, const float *restrict beta)
{
    for (int64_t c = 0; c < n; c++)
        y[c] = pd_vm_xsigmoid((y[c] - mu[c]) * scale[c] + beta[c], 1.0f);
}

static void norm_silu_copy(int64_t n, const float *restrict x, const float *restrict mu,
                           const float *restrict scale, const float *restrict beta,
                           float *restrict y)
{
    for (int64_t c = 0; c < n; c++)
        y[c] = pd_vm_xsigmoid((x[c] - mu[c]) * scale[c] + beta[c], 1.0f);
}

/* y == x is allowed. Two loops, so that neither needs the compiler's
 * run-time overlap check (which would send in place to a scalar loop). */
static void vm_norm_silu(int64_t n, const float *x, const float *mu, const float *scale,
                         const float *beta, float *y)
{
    if (x == y)
        norm_silu_inplace(n, y, mu, scale, beta);
    else
        norm_silu_copy(n, x, mu, scale, beta, y);
}

const pd_vm_kernels PD_VM_TABLE = {
    .act = {[PD_ACT_GELU] = vm_gelu, [PD_ACT_QUICK_GELU] = vm_quick_gelu, [PD_ACT_SILU] = vm_silu},
    .geglu_row = vm_geglu_row,
    .norm_silu = vm_norm_silu,
};
