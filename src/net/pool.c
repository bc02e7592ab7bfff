#include "pool.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define POOL_MAX_THREADS 64

typedef struct job {
    struct job *next;
    net_work_fn work;
    net_work_fn done;
    void *arg;
} job;

struct net_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *todo_head;
    job *todo_tail;
    job *done_head; /* completed, waiting for the loop */
    size_t pending;
    bool stopping;
    struct event *wake; /* activated from workers, runs completions on the loop */
    unsigned nthreads;
    pthread_t threads[POOL_MAX_THREADS];
};

static void run_completions(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    net_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    job *list = p->done_head;
    p->done_head = NULL;
    pthread_mutex_unlock(&p->mu);
    /* Reverse to completion order. */
    job *rev = NULL;
    while (list) {
        job *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        job *n = rev->next;
        rev->done(rev->arg);
        pthread_mutex_lock(&p->mu);
        p->pending--;
        pthread_mutex_unlock(&p->mu);
        free(rev);
        rev = n;
    }
}

static void *worker(void *arg) {
    net_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->todo_head && !p->stopping) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (!p->todo_head) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        job *j = p->todo_head;
        p->todo_head = j->next;
        if (!p->todo_head) {
            p->todo_tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        j->work(j->arg);
        pthread_mutex_lock(&p->mu);
        j->next = p->done_head;
        p->done_head = j;
        pthread_mutex_unlock(&p->mu);
        event_active(p->wake, EV_READ, 0);
    }
}

net_pool *net_pool_new(net_loop *l, unsigned nthreads) {
    if (nthreads == 0 || nthreads > POOL_MAX_THREADS) {
        return NULL;
    }
    net_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->wake = event_new(net_loop_base(l), -1, EV_READ | EV_PERSIST, run_completions, p);
    if (!p->wake) {
        free(p);
        return NULL;
    }
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            break;
        }
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        net_pool_free(p);
        return NULL;
    }
    return p;
}

void net_pool_free(net_pool *p) {
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    /* Completions of finished work still owe their callers an answer. */
    run_completions(-1, 0, p);
    event_free(p->wake);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

err_t net_pool_submit(net_pool *p, net_work_fn work, net_work_fn done, void *arg) {
    job *j = calloc(1, sizeof(*j));
    if (!j) {
        return ERR_NOMEM;
    }
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        free(j);
        return err_fail(ERR_BAD_STATE, "pool is stopping");
    }
    if (p->todo_tail) {
        p->todo_tail->next = j;
    } else {
        p->todo_head = j;
    }
    p->todo_tail = j;
    p->pending++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return ERR_OK;
}

size_t net_pool_pending(net_pool *p) {
    pthread_mutex_lock(&p->mu);
    size_t n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}
