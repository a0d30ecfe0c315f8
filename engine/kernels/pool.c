/* pool.c — a fork-join pool: one job at a time, tasks handed out through
 * an atomic counter so uneven tasks balance themselves.
 *
 * A job is published by bumping `gen`. Every worker takes part in every job
 * (even when there are fewer tasks than threads) and signs off by
 * decrementing `busy`; the caller returns only when busy reaches 0, so no
 * worker still reads the job's fn/ctx when the next job overwrites them.
 *
 * Waiting spins for a while first — a model runs thousands of short
 * kernels back to back and a condition-variable wake-up costs tens of
 * microseconds — and then sleeps, so an idle pool costs no CPU. The
 * sleep/wake hand-over is the usual store-then-check pattern on both sides
 * (sequentially consistent atomics): the sleeper announces itself before
 * re-checking, the waker publishes before checking for sleepers, so one of
 * the two always sees the other.
 */
#include "kernels/pool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* How long a waiter spins before it sleeps: longer than the gap between
 * two kernels of a forward pass, short enough not to matter when idle. */
#define SPIN_NS 200000

/* True while a waiter should keep spinning. The clock is read every 64
 * pauses: a pause lasts from ~10 cycles (Haswell) to ~140 (Skylake-SP). */
static int keep_spinning(int *spins, int64_t *deadline)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (++*spins % 64)
        return 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (!*deadline)
        *deadline = t + SPIN_NS;
    return t < *deadline;
}

static struct {
    int n;                       /* threads, the caller included */
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* workers wait here for the next job */
    pthread_cond_t done;         /* the caller waits here for the last worker */
    atomic_uint gen;             /* job number; bumped to publish a job */
    atomic_int sleepers;         /* workers blocked on `wake` */
    atomic_int caller_sleeping;  /* the caller is blocked on `done` */
    atomic_int busy;             /* workers that have not finished the job */
    pthread_mutex_t call;        /* one job at a time: callers queue here */
    /* the current job; written before `gen` is bumped */
    pd_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_llong next;           /* next task to hand out */
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .call = PTHREAD_MUTEX_INITIALIZER,
};
/* Set on pool threads and on a caller while it runs tasks: a task that
 * calls pd_parallel_for would wait for itself. */
static _Thread_local int in_task;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void run_tasks(int thread)
{
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (t >= pool.n_tasks)
            return;
        pool.fn(pool.ctx, t, thread);
    }
}

static void *worker(void *arg)
{
    int thread = (int)(intptr_t)arg;
    unsigned seen = 0;
    in_task = 1;
    for (;;) {
        unsigned g;
        int spins = 0;
        int64_t deadline = 0;
        while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen) {
            if (keep_spinning(&spins, &deadline))
                continue;
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while (atomic_load(&pool.gen) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = g;
        run_tasks(thread);
        if (atomic_fetch_sub(&pool.busy, 1) == 1 && atomic_load(&pool.caller_sleeping)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

static int default_threads(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void start(void)
{
    int n = default_threads();
    const char *env = getenv("PALDIFF_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1)
            n = v < PD_MAX_THREADS ? (int)v : PD_MAX_THREADS;
        else
            fprintf(stderr, "paldiff: PALDIFF_THREADS=%s is not a positive number; using %d\n",
                    env, n);
    }
    if (n > PD_MAX_THREADS)
        n = PD_MAX_THREADS;

    /* Workers block every signal: signals belong to the application's
     * threads (GIMP's, the CLI's), never to a worker halfway through a tile. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = 1;
    for (; started < n; started++) {
        pthread_t id;
        int err = pthread_create(&id, &attr, worker, (void *)(intptr_t)started);
        if (err) {
            /* Fewer threads is slower, not wrong. */
            fprintf(stderr, "paldiff: could not start thread %d of %d (error %d); using %d\n",
                    started + 1, n, err, started);
            break;
        }
        char name[16];
        snprintf(name, sizeof name, "paldiff-%d", started);
        pthread_setname_np(id, name);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pool.n = started;
}

int pd_threads(void)
{
    pthread_once(&pool_once, start);
    return pool.n;
}

void pd_parallel_for(int64_t n_tasks, pd_task_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (in_task) {
        fprintf(stderr, "paldiff: pd_parallel_for called from inside a pool task\n");
        abort();
    }
    int n = pd_threads();
    pthread_mutex_lock(&pool.call);
    in_task = 1;
    if (n == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        in_task = 0;
        pthread_mutex_unlock(&pool.call);
        return;
    }

    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.busy, n - 1, memory_order_relaxed);
    atomic_fetch_add(&pool.gen, 1); /* publishes the stores above */
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }

    run_tasks(0);

    int spins = 0;
    int64_t deadline = 0;
    while (atomic_load_explicit(&pool.busy, memory_order_acquire) != 0) {
        if (keep_spinning(&spins, &deadline))
            continue;
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.caller_sleeping, 1);
        while (atomic_load(&pool.busy) != 0)
            pthread_cond_wait(&pool.done, &pool.lock);
        atomic_store(&pool.caller_sleeping, 0);
        pthread_mutex_unlock(&pool.lock);
    }
    in_task = 0;
    pthread_mutex_unlock(&pool.call);
}

float *pd_scratch_get(pd_scratch *s, int thread)
{
    if (!s->slot[thread]) {
        /* floats is a multiple of 16 in every caller, as aligned_alloc wants */
        s->slot[thread] = aligned_alloc(64, s->floats * sizeof(float));
        if (!s->slot[thread]) {
            fprintf(stderr, "paldiff: out of memory for %s scratch (%zu bytes)\n", s->what,
                    s->floats * sizeof(float));
            abort();
        }
    }
    return s->slot[thread];
}
