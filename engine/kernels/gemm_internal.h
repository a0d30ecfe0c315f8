/* gemm_internal.h — what gemm.c (blocking, threads) needs from each
 * instruction-set file, and a hook for tests. Not an engine API.
 *
 * The product is Y[M,N] = X[M,K] · W[N,K]ᵀ. A micro-kernel computes one
 * mr × nr tile of Y from two packed micro-panels over kc steps of k:
 *
 *     xp: kc × mr floats, xp[k·mr + i] = X[i, k]   (rows past M are zero)
 *     wp: kc × nr floats, wp[k·nr + j] = W[j, k]   (columns past N are zero)
 *
 * so each k step is mr broadcasts of X times nr/16 (or nr/8) vector loads
 * of W. Packing W is where dtypes are widened and palettes decoded.
 */
#ifndef PD_GEMM_INTERNAL_H
#define PD_GEMM_INTERNAL_H

#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/weight.h"

/* Upper bounds over every kernel table below (they size stack buffers and
 * the per-thread scratch). */
#define PD_GEMM_MR_MAX 12
#define PD_GEMM_NR_MAX 32
#define PD_GEMM_KC_MAX 384
#define PD_GEMM_NC_MAX 320

/* Rows of X that the micro-kernel should pull toward the cache while it
 * multiplies: x[r·ldx + k] for r < rows and k < kc, the part of the next X
 * micro-panel this call is responsible for. Packing reads each X row for
 * only kc floats, too short a run for hardware prefetchers, and a burst of
 * software prefetches outside the k loop overflows the miss buffers; spread
 * over the k loop they cost nothing. */
typedef struct {
    const float *x;
    int64_t ldx;
    int rows;
} pd_gemm_prefetch;

/* One full mr × nr tile: y[i·ldy + j] = (load_y ? y[i·ldy + j] : 0)
 * + Σ_k xp[k·mr + i]·wp[k·nr + j] + (bias ? bias[j] : 0). bias, when given,
 * holds nr floats; pf may be NULL, and kernels may ignore it. The caller
 * handles partial tiles (through a scratch tile). */
typedef void (*pd_gemm_micro_fn)(int64_t kc, const float *xp, const float *wp,
                                 float *y, int64_t ldy, const float *bias, int load_y,
                                 const pd_gemm_prefetch *pf);

/* One X micro-panel: rows x[0..m) (m <= mr, row stride ldx), columns
 * [0, kc), into dst as kc × mr, rows m..mr-1 zero. */
typedef void (*pd_gemm_pack_x_fn)(const float *x, int64_t ldx, int m, int64_t kc, float *dst);

/* W rows [n0, n0 + n) and columns [k0, k0 + kc) into ceil(n / nr)
 * consecutive micro-panels of kc × nr floats; columns past n are zero. */
typedef void (*pd_gemm_pack_w_fn)(const pd_weight *w, int64_t n0, int64_t n,
                                  int64_t k0, int64_t kc, float *dst);

typedef struct pd_gemm_kernel {
    pd_isa isa;
    int mr, nr;       /* micro-tile: rows of X × rows of W                        */
    int kc;           /* most k per packed panel (the X micro-panel sits in L1)    */
    int nc;           /* most W rows per packed block (the block sits in L2)      */
    int mc;           /* preferred X rows per task: sets how often W is re-packed */
    pd_gemm_micro_fn micro;
    pd_gemm_pack_x_fn pack_x;        /* NULL: the portable packer              */
    pd_gemm_pack_w_fn pack_w[4];     /* by pd_dtype; NULL: via pd_weight_read  */
} pd_gemm_kernel;

/* Bias elements [n0, n0 + n) as float32. A bias is any N-element weight:
 * [N] (element n is row n) or [1, N]. */
static inline void pd_gemm_read_bias(const pd_weight *bias, int64_t n0, int64_t n, float *dst)
{
    if (pd_weight_rows(bias) == 1) {
        pd_weight_read(bias, 0, n0, n, dst);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        pd_weight_read(bias, n0 + i, 0, 1, dst + i);
}

/* Where X comes from. pd_gemm's X is a matrix; a convolution's X is the
 * patches of an image, which its provider packs straight from the image
 * (conv.c), so no patch matrix ever exists. pack writes rows [m0, m0 + m)
 * (1 <= m <= kern->mr) and columns [k0, k0 + kc) of the virtual X[M, K]
 * into dst as one kc × kern->mr micro-panel (xp above), rows m.. zero. It
 * runs inside pool tasks, on several threads at once. */
typedef struct pd_gemm_x pd_gemm_x;
struct pd_gemm_x {
    void (*pack)(const pd_gemm_x *x, const pd_gemm_kernel *kern, int64_t m0, int m,
                 int64_t k0, int64_t kc, float *dst);
    const void *ctx;      /* the provider's own description of X */
    /* A plain matrix (row stride ld), or NULL: only matrices get the
     * prefetch hints of pd_gemm_prefetch. */
    const float *mat;
    int64_t ld;
};

extern const pd_gemm_kernel pd_gemm_kernel_ref;
extern const pd_gemm_kernel pd_gemm_kernel_avx2;
extern const pd_gemm_kernel pd_gemm_kernel_avx512;

/* The kernel of a path, capped at pd_cpu_isa_supported(). */
const pd_gemm_kernel *pd_gemm_kernel_for(pd_isa isa);

/* W rows [n0, n0 + n) (n <= kern->nc), columns [k0, k0 + kc) (kc <= kern->kc)
 * into dst as pd_gemm_pack_w_fn says, with the kernel's packer for W's dtype,
 * else the portable one (pd_weight_read a row at a time): what pd_gemm does
 * for each block of W, and what `paldiff bench forms` times. */
void pd_gemm_pack_w(const pd_gemm_kernel *kern, const pd_weight *w, int64_t n0, int64_t n, int64_t k0,
                    int64_t kc, float *dst);

/* pd_gemm on a chosen path (capped at pd_cpu_isa_supported()), so one test
 * run covers every path whatever PALDIFF_ISA says. */
void pd_gemm_isa(pd_isa isa, int64_t M, int64_t N, int64_t K, const float *X, int64_t ldx,
                 const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
                 int accumulate);

/* The same product with X from a provider: what pd_gemm_isa runs, with a
 * matrix provider. Does not count FLOPs (the caller does). */
void pd_gemm_x_isa(pd_isa isa, int64_t M, int64_t N, int64_t K, const pd_gemm_x *X,
                   const pd_weight *W, const pd_weight *bias, float *Y, int64_t ldy,
                   int accumulate);

#endif
