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

typedef void (*pd_task_fn)(void *ctx, int64_t task, int thread);

int pd_threads(void);
void pd_parallel_for(int64_t n_tasks, pd_task_fn fn, void *ctx);

#endif
