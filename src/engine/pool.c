#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_ITERS 20000

struct pool {
    unsigned n;
    pthread_t th[POOL_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen; /* bumped for each job */
    atomic_bool stop;
    atomic_size_t next; /* next task index */
    atomic_uint active; /* workers still inside the current job */
    size_t n_tasks;
    pool_fn fn;
    void *ctx;
};

typedef struct {
    pool *p;
    unsigned id;
} worker_arg;

static void work(pool *p, unsigned id) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n_tasks) {
            return;
        }
        p->fn(p->ctx, i, id);
    }
}

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    pool *p = wa->p;
    unsigned id = wa->id;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop) && spins < SPIN_ITERS) {
            if (spins % 1024 == 1023) {
                sched_yield();
            } else {
                CPU_RELAX();
            }
            spins++;
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop)) {
                pthread_cond_wait(&p->cv, &p->mu);
            }
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) {
            return NULL;
        }
        seen = g;
        work(p, id);
        atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel);
    }
}

err_t pool_new(unsigned n_threads, pool **out) {
    *out = NULL;
    if (n_threads == 0 || n_threads > POOL_MAX_THREADS) {
        return err_fail(ERR_CONFIG, "thread count %u (1 to %u)", n_threads, POOL_MAX_THREADS);
    }
    pool *p = calloc(1, sizeof(*p));
    if (!p) {
        return err_fail(ERR_NOMEM, "pool");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->n = 1;
    for (unsigned i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof(*wa));
        if (!wa) {
            pool_free(p);
            return err_fail(ERR_NOMEM, "pool worker");
        }
        wa->p = p;
        wa->id = i;
        if (pthread_create(&p->th[i], NULL, worker_main, wa) != 0) {
            free(wa);
            pool_free(p);
            return err_fail(ERR_INTERNAL, "pthread_create");
        }
        p->n++;
    }
    *out = p;
    return ERR_OK;
}

void pool_free(pool *p) {
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 1; i < p->n; i++) {
        pthread_join(p->th[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

unsigned pool_threads(const pool *p) {
    return p->n;
}

void pool_run(pool *p, size_t n_tasks, pool_fn fn, void *ctx) {
    if (n_tasks == 0) {
        return;
    }
    if (p->n == 1 || n_tasks == 1) {
        for (size_t i = 0; i < n_tasks; i++) {
            fn(ctx, i, 0);
        }
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->active, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    /* a worker descheduled mid-task (a busy machine) must get the CPU back: yield, don't spin */
    for (unsigned spins = 0; atomic_load_explicit(&p->active, memory_order_acquire) != 0; spins++) {
        if (spins < 2000) {
            CPU_RELAX();
        } else {
            sched_yield();
        }
    }
}
