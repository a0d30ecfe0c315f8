/* The element-wise fast paths with the baseline flags: every x86-64 CPU (SSE2). */
#define PD_VM_TABLE pd_vm_kernels_generic
#include "kernels/activation_simd.h"
