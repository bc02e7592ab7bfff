/* The event loop of a daemon (libevent): one thread owns it and all protocol state on it.
 * Timers, signals and deferred calls are the only ways other code gets time on the loop. */
#ifndef COCOON_NET_LOOP_H
#define COCOON_NET_LOOP_H

#include <stdint.h>

#include "base/err.h"

struct event_base;
typedef struct net_loop net_loop;
typedef struct net_timer net_timer;
typedef void (*net_cb)(void *arg);

net_loop *net_loop_new(void);
void net_loop_free(net_loop *l);
/* Runs until net_loop_stop or until nothing is left to wait for. */
MUST_CHECK err_t net_loop_run(net_loop *l);
void net_loop_stop(net_loop *l);
struct event_base *net_loop_base(net_loop *l);

net_timer *net_timer_new(net_loop *l, net_cb cb, void *arg);
/* (Re)arms a one-shot timer. */
void net_timer_arm(net_timer *t, uint64_t ms);
/* Runs the callback once later in the current loop pass, after the callbacks already due
 * (no syscall, no wait): work produced by several callbacks of one pass is done once. Arming it
 * again before it ran changes nothing; net_timer_cancel undoes it. */
void net_timer_defer(net_timer *t);
void net_timer_cancel(net_timer *t);
void net_timer_free(net_timer *t);

/* Calls cb on the loop when signo arrives (SIGINT, SIGTERM, ...). */
MUST_CHECK err_t net_loop_on_signal(net_loop *l, int signo, net_cb cb, void *arg);

#endif
