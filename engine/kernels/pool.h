/* pool.h — the process-wide thread pool and its parallel-for.
 *
 *     static void body(void *ctx, int64_t task, int thread) { ... }
 *     pd_parallel_for(n_tiles, body, &ctx);   // returns when every task is done
 *
 * Tasks 0..n-1 are spread over pd_threads() threads (the caller is one of
 * them); `thread` is in [0, pd_threads()) and lets a task use per-thread
 * scratch. The pool starts on first use with PALDIFF_THREADS threads
 * (default: the cores available to the process) and is never torn down.
 * One job runs at a time: calls from several threads are thread-safe and run
 * one after the other. A task must not call pd_parallel_for (it would wait
 * for itself: this aborts with a message). Waiting threads spin for about
 * 0.2 ms, then sleep.
 */
#ifndef PD_POOL_H
#define PD_POOL_H

#include <stdint.h>

#include <stddef.h>

#define PD_MAX_THREADS 256

typedef void (*pd_task_fn)(void *ctx, int64_t task, int thread);

int pd_threads(void);
void pd_parallel_for(int64_t n_tasks, pd_task_fn fn, void *ctx);

/* Per-thread scratch that lives for the process, for kernels whose tasks
 * need a bounded work area:
 *
 *     static pd_scratch packs = PD_SCRATCH("GEMM packing", WORK_FLOATS);
 *     float *wp = pd_scratch_get(&packs, thread);     // inside a task
 *
 * Each pool thread gets its own 64-byte-aligned buffer, allocated on its
 * first task (so its pages sit near the core that uses them) and kept. Only
 * tasks running as `thread` touch its slot and the pool runs one job at a
 * time, so no lock is needed. The buffers stay reachable (leak checkers do
 * not report them). An allocation failure aborts with a message naming
 * `what`: the sizes are small and fixed. */
typedef struct pd_scratch {
    const char *what;
    size_t floats;
    float *slot[PD_MAX_THREADS];
} pd_scratch;
#define PD_SCRATCH(what, floats) {(what), (floats), {0}}

float *pd_scratch_get(pd_scratch *s, int thread);

#endif
