/* conv_internal.h — a hook for tests. Not an engine API. */
#ifndef PD_CONV_INTERNAL_H
#define PD_CONV_INTERNAL_H

#include "kernels/cpu.h"
#include "kernels/weight.h"

/* pd_conv2d (up = 0) or pd_conv2d_up2 (up = 1) on a chosen GEMM path
 * (capped at pd_cpu_isa_supported(), as pd_gemm_isa), so one test run
 * covers every path whatever PALDIFF_ISA says. Counts no FLOPs. */
void pd_conv2d_isa(pd_isa isa, int up, int B, int H, int W, int C, const float *x,
                   const pd_weight *w, const pd_weight *bias, int stride, const int pad[4],
                   float *y, int accumulate);

#endif
