#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    struct job *next;
    uint64_t id;
    engine_request r; /* points into this allocation */
    engine_done_cb done;
    void *user;
    atomic_bool cancelled;
} job;

typedef struct {
    engine_queue *q;
    engine_session *s;
    pthread_t th;
    job *running;
    bool started;
} slot;

struct engine_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head;
    job *tail;
    uint32_t n_pending;
    uint32_t max_pending;
    uint64_t next_id;
    bool stop;
    unsigned n;
    slot slots[ENGINE_QUEUE_MAX_SESSIONS];
};

static void finish_cancelled(job *j) {
    engine_usage u = {.finish = ENGINE_FINISH_CANCELLED};
    if (j->done) {
        j->done(j->user, ERR_OK, &u);
    }
    free(j);
}

static void *slot_main(void *arg) {
    slot *sl = arg;
    engine_queue *q = sl->q;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stop) {
            pthread_cond_wait(&q->cv, &q->mu);
        }
        job *j = q->head;
        if (!j) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->head = j->next;
        if (!q->head) {
            q->tail = NULL;
        }
        q->n_pending--;
        bool cancelled = atomic_load(&j->cancelled) || q->stop;
        if (!cancelled) {
            sl->running = j;
        }
        pthread_mutex_unlock(&q->mu);
        if (cancelled) {
            finish_cancelled(j);
            continue;
        }
        engine_usage u;
        err_t e = engine_generate(sl->s, &j->r, &u);
        pthread_mutex_lock(&q->mu);
        sl->running = NULL;
        pthread_mutex_unlock(&q->mu);
        if (j->done) {
            j->done(j->user, e, &u);
        }
        free(j);
    }
}

void engine_queue_free(engine_queue *q) {
    if (!q) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    for (unsigned i = 0; i < q->n; i++) {
        if (q->slots[i].running) {
            atomic_store(&q->slots[i].running->cancelled, true);
        }
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->n; i++) {
        if (q->slots[i].started) {
            pthread_join(q->slots[i].th, NULL);
        }
    }
    /* with no thread running, whatever is still queued is cancelled here */
    while (q->head) {
        job *j = q->head;
        q->head = j->next;
        finish_cancelled(j);
    }
    for (unsigned i = 0; i < q->n; i++) {
        engine_session_free(q->slots[i].s);
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

err_t engine_queue_new(engine *e, unsigned n_sessions, const engine_session_opts *o,
                       uint32_t max_pending, engine_queue **out) {
    *out = NULL;
    if (n_sessions == 0 || n_sessions > ENGINE_QUEUE_MAX_SESSIONS || max_pending == 0) {
        return err_fail(ERR_CONFIG, "queue of %u sessions, %u pending", n_sessions, max_pending);
    }
    engine_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        return err_fail(ERR_NOMEM, "queue");
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->max_pending = max_pending;
    q->next_id = 1;
    err_t r = ERR_OK;
    for (unsigned i = 0; i < n_sessions; i++) {
        slot *sl = &q->slots[i];
        sl->q = q;
        r = engine_session_new(e, o, &sl->s);
        if (r != ERR_OK) {
            break;
        }
        q->n++;
        if (pthread_create(&sl->th, NULL, slot_main, sl) != 0) {
            r = err_fail(ERR_INTERNAL, "pthread_create");
            break;
        }
        sl->started = true;
    }
    if (r != ERR_OK) {
        engine_queue_free(q);
        return r;
    }
    *out = q;
    return ERR_OK;
}

/* One allocation holds the job and copies of every string of the request. */
static err_t copy_request(const engine_request *r, job **out) {
    size_t need = sizeof(job);
    need += r->n_messages * sizeof(chat_msg);
    need += r->n_stop * sizeof(char *);
    for (size_t i = 0; r->messages && i < r->n_messages; i++) {
        need += strlen(r->messages[i].role) + 1 + strlen(r->messages[i].content) + 1;
    }
    for (size_t i = 0; i < r->n_stop; i++) {
        need += strlen(r->stop[i]) + 1;
    }
    if (r->prompt) {
        if (r->prompt_len > TOK_MAX_TEXT) {
            return err_fail(ERR_TOO_LARGE, "prompt of %zu bytes", r->prompt_len);
        }
        need += r->prompt_len + 1;
    }
    if (r->n_messages > (1u << 16) || r->n_stop > ENGINE_MAX_STOP) {
        return err_fail(ERR_TOO_MANY, "%zu messages, %zu stop sequences", r->n_messages, r->n_stop);
    }
    job *j = calloc(1, need);
    if (!j) {
        return err_fail(ERR_NOMEM, "request");
    }
    j->r = *r;
    char *p = (char *)(j + 1);
    chat_msg *msgs = (chat_msg *)(void *)p;
    p += r->n_messages * sizeof(chat_msg);
    const char **stops = (const char **)(void *)p;
    p += r->n_stop * sizeof(char *);
    if (r->messages) {
        for (size_t i = 0; i < r->n_messages; i++) {
            size_t a = strlen(r->messages[i].role) + 1;
            size_t b = strlen(r->messages[i].content) + 1;
            memcpy(p, r->messages[i].role, a);
            msgs[i].role = p;
            p += a;
            memcpy(p, r->messages[i].content, b);
            msgs[i].content = p;
            p += b;
        }
        j->r.messages = msgs;
    }
    for (size_t i = 0; i < r->n_stop; i++) {
        size_t a = strlen(r->stop[i]) + 1;
        memcpy(p, r->stop[i], a);
        stops[i] = p;
        p += a;
    }
    j->r.stop = r->n_stop ? stops : NULL;
    if (r->prompt) {
        memcpy(p, r->prompt, r->prompt_len);
        p[r->prompt_len] = 0;
        j->r.prompt = p;
    }
    *out = j;
    return ERR_OK;
}

err_t engine_queue_submit(engine_queue *q, const engine_request *r, engine_done_cb done, void *user,
                          uint64_t *id) {
    job *j = NULL;
    TRY(copy_request(r, &j));
    j->done = done;
    j->user = user;
    j->r.cancel = &j->cancelled;
    pthread_mutex_lock(&q->mu);
    if (q->n_pending >= q->max_pending || q->stop) {
        uint32_t n = q->n_pending;
        pthread_mutex_unlock(&q->mu);
        free(j);
        return err_fail(ERR_TOO_MANY, "%u requests already queued", n);
    }
    j->id = q->next_id++;
    if (q->tail) {
        q->tail->next = j;
    } else {
        q->head = j;
    }
    q->tail = j;
    q->n_pending++;
    if (id) {
        *id = j->id;
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return ERR_OK;
}

bool engine_queue_cancel(engine_queue *q, uint64_t id) {
    bool found = false;
    pthread_mutex_lock(&q->mu);
    for (job *j = q->head; j; j = j->next) {
        if (j->id == id && !atomic_load(&j->cancelled)) {
            atomic_store(&j->cancelled, true); /* the next free session thread reports it */
            found = true;
        }
    }
    for (unsigned i = 0; i < q->n && !found; i++) {
        job *j = q->slots[i].running;
        if (j && j->id == id) {
            atomic_store(&j->cancelled, true); /* engine_generate checks it every token */
            found = true;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return found;
}

uint32_t engine_queue_pending(engine_queue *q) {
    pthread_mutex_lock(&q->mu);
    uint32_t n = q->n_pending;
    pthread_mutex_unlock(&q->mu);
    return n;
}
