/* mem.h — large activation buffers.
 *
 *     float *x = pd_alloc_large(n * sizeof(float));   // NULL when out of memory
 *     ...
 *     free(x);                                        // plain free()
 *
 * Buffers of 2 MiB and more are 2 MiB-aligned and marked for transparent
 * huge pages (where the kernel offers them on request), so a fresh 128 MB
 * activation costs 64 page faults instead of 32 768 — on a virtual machine
 * those faults were a tenth of the VAE decoder's time. Smaller ones are
 * plain malloc. Thread-safe, as malloc is.
 */
#ifndef PD_MEM_H
#define PD_MEM_H

#include <stddef.h>

void *pd_alloc_large(size_t bytes);

#endif
