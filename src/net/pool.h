/* A small pool of worker threads for blocking or CPU-heavy work (quote verification with
 * collateral, SQLite fsync, chain RPC, inference). Work runs on a worker thread; its completion
 * runs on the loop thread, so protocol state is only ever touched by the loop. */
#ifndef COCOON_NET_POOL_H
#define COCOON_NET_POOL_H

#include <stddef.h>

#include "base/err.h"
#include "net/loop.h"

typedef struct net_pool net_pool;
typedef void (*net_work_fn)(void *arg);

/* nthreads 1..64. NULL on failure. */
net_pool *net_pool_new(net_loop *l, unsigned nthreads);
/* Lets the workers finish every job already submitted, then runs the completions still queued,
 * so every submitted job gets its done call. */
void net_pool_free(net_pool *p);
/* work(arg) on a worker thread, then done(arg) on the loop thread. */
MUST_CHECK err_t net_pool_submit(net_pool *p, net_work_fn work, net_work_fn done, void *arg);
/* Jobs submitted and not yet completed. */
size_t net_pool_pending(net_pool *p);

#endif
