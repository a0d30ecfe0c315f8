/* The element-wise fast paths compiled for avx512 (engine/meson.build sets the flags). */
#define PD_VM_TABLE pd_vm_kernels_avx512
#include "kernels/activation_simd.h"
