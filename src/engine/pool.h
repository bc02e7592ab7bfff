/* A small fork-join thread pool for the forward pass: pool_run(p, n, fn, ctx) calls fn(ctx, i,
 * worker) for every i in [0, n) across the caller and the pool's threads, and returns when all
 * calls have finished. Tasks are handed out through an atomic counter, so which thread runs a
 * task never changes its result. Workers spin briefly between jobs (a decode step issues
 * dozens of jobs) and then sleep on a condition variable. */
#ifndef COCOON_ENGINE_POOL_H
#define COCOON_ENGINE_POOL_H

#include <stddef.h>

#include "base/err.h"

#define POOL_MAX_THREADS 64

typedef struct pool pool;
typedef void (*pool_fn)(void *ctx, size_t task, unsigned worker);

/* n_threads counts the caller: 1 creates no threads. */
MUST_CHECK err_t pool_new(unsigned n_threads, pool **out);
void pool_free(pool *p);
unsigned pool_threads(const pool *p);
void pool_run(pool *p, size_t n_tasks, pool_fn fn, void *ctx);

#endif
