#include "loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#define MAX_SIGNALS 8

struct net_timer {
    struct event *ev;
    net_cb cb;
    void *arg;
};

typedef struct {
    struct event *ev;
    net_cb cb;
    void *arg;
} sig_slot;

struct net_loop {
    struct event_base *base;
    sig_slot sigs[MAX_SIGNALS];
    int nsigs;
};

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void threads_init(void) {
    /* Worker-pool threads hand results back with event_active(); libevent must lock. */
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
}

net_loop *net_loop_new(void) {
    pthread_once(&threads_once, threads_init);
    net_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        return NULL;
    }
    /* epoll changelist: libevent applies event additions and removals at the next epoll_wait,
     * so the disable/enable pairs evhttp makes around every request (read off while a request
     * is served, write on while a reply drains) cancel out instead of costing an epoll_ctl
     * each. Its documented hazard, one fd dup()ed into several events, does not occur here
     * (docs/architecture.md). */
    struct event_config *cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        l->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    if (!l->base) {
        free(l);
        return NULL;
    }
    return l;
}

void net_loop_free(net_loop *l) {
    if (!l) {
        return;
    }
    for (int i = 0; i < l->nsigs; i++) {
        event_free(l->sigs[i].ev);
    }
    event_base_free(l->base);
    free(l);
}

err_t net_loop_run(net_loop *l) {
    return event_base_dispatch(l->base) < 0 ? err_fail(ERR_IO, "event loop failed") : ERR_OK;
}

void net_loop_stop(net_loop *l) {
    event_base_loopbreak(l->base);
}

struct event_base *net_loop_base(net_loop *l) {
    return l->base;
}

static void timer_fire(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_timer *t = arg;
    t->cb(t->arg);
}

net_timer *net_timer_new(net_loop *l, net_cb cb, void *arg) {
    net_timer *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->cb = cb;
    t->arg = arg;
    t->ev = evtimer_new(l->base, timer_fire, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    return t;
}

void net_timer_arm(net_timer *t, uint64_t ms) {
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(t->ev, &tv);
}

void net_timer_defer(net_timer *t) {
    if (t) {
        evtimer_del(t->ev); /* a pending timeout is replaced, like net_timer_arm */
        event_active(t->ev, EV_TIMEOUT, 1);
    }
}

void net_timer_cancel(net_timer *t) {
    if (t) {
        evtimer_del(t->ev);
    }
}

void net_timer_free(net_timer *t) {
    if (!t) {
        return;
    }
    event_free(t->ev);
    free(t);
}

static void sig_fire(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sig_slot *s = arg;
    s->cb(s->arg);
}

err_t net_loop_on_signal(net_loop *l, int signo, net_cb cb, void *arg) {
    if (l->nsigs == MAX_SIGNALS) {
        return err_fail(ERR_TOO_MANY, "too many signal handlers");
    }
    sig_slot *s = &l->sigs[l->nsigs];
    s->cb = cb;
    s->arg = arg;
    s->ev = evsignal_new(l->base, signo, sig_fire, s);
    if (!s->ev || evsignal_add(s->ev, NULL) != 0) {
        return err_fail(ERR_IO, "cannot watch signal %d", signo);
    }
    l->nsigs++;
    return ERR_OK;
}
