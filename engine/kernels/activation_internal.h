/* activation_internal.h — the element-wise fast paths of activation.c and
 * norm.c, one table per instruction set, and hooks for tests. Not an
 * engine API.
 *
 * Each table is the same source, activation_simd.h, compiled with that
 * set's flags (activation_generic.c, _avx2.c, _avx512.c): the loops call
 * vmath.h's inline functions and the compiler vectorizes them, so the
 * paths differ only in vector width and FMA contraction. */
#ifndef PD_ACTIVATION_INTERNAL_H
#define PD_ACTIVATION_INTERNAL_H

#include <stdint.h>

#include "kernels/activation.h"
#include "kernels/cpu.h"
#include "kernels/weight.h"

typedef struct pd_vm_kernels {
    void (*act[3])(float *x, int64_t n);      /* indexed by pd_activation, in place */
    void (*geglu_row)(int64_t n, const float *h, float *out);
    /* y[c] = silu((x[c] − mu[c])·scale[c] + beta[c]): group norm's apply. */
    void (*norm_silu)(int64_t n, const float *x, const float *mu, const float *scale,
                      const float *beta, float *y);
} pd_vm_kernels;

extern const pd_vm_kernels pd_vm_kernels_generic;
extern const pd_vm_kernels pd_vm_kernels_avx2;
extern const pd_vm_kernels pd_vm_kernels_avx512;

/* The table for isa, capped at pd_cpu_isa_supported(); PD_ISA_REF gets
 * the generic (baseline-compiled) one. */
const pd_vm_kernels *pd_vm_kernels_for(pd_isa isa);

/* pd_activate, pd_geglu and pd_group_norm on a chosen path, so one test
 * run covers every path whatever PALDIFF_ISA says. */
void pd_activate_isa(pd_isa isa, pd_activation act, float *x, int64_t n);
void pd_geglu_isa(pd_isa isa, int64_t rows, int64_t n, const float *h, float *out);
void pd_group_norm_isa(pd_isa isa, int B, int64_t HW, int C, int groups, const float *x,
                       const pd_weight *gamma, const pd_weight *beta, float eps, int silu,
                       float *y);

#endif
