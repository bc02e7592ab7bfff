/* Built-in upstream over the engine queue (see builtin.h). */
#include "worker/builtin.h"

#include <event2/event.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "crypto/rand.h"
#include "engine/engine.h"
#include "engine/queue.h"

#define BUILTIN_MAX_PENDING 256
#define BUILTIN_MAX_MESSAGES 1024

enum { EV_TEXT, EV_DONE };

typedef struct bev {
    struct bev *next;
    builtin_call *c;
    int kind;
    err_t e;
    engine_usage u;
    size_t len;
    char text[];
} bev;

struct builtin {
    net_loop *loop;
    engine *eng;
    engine_queue *q;
    struct event *wake;
    pthread_mutex_t mu;
    bev *head, *tail;
};

struct builtin_call {
    builtin *b;
    uint64_t qid;
    http_call_handlers h;
    void *arg;
    bool detached;
    bool chat, stream, include_usage;
    bool head_sent;
    char id[48];
    long long created;
    char model[256];
    buf text; /* non-streaming answer */
};

static void push(builtin *b, builtin_call *c, int kind, err_t e, const engine_usage *u,
                 const char *text, size_t len) {
    bev *v = malloc(sizeof(*v) + len);
    if (!v) {
        LOGE("builtin", "out of memory: answer text lost");
        if (kind == EV_TEXT) {
            return;
        }
        /* A lost DONE would leak the call: retry once the allocator recovers. */
        while (!(v = malloc(sizeof(*v)))) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        len = 0;
    }
    v->next = NULL;
    v->c = c;
    v->kind = kind;
    v->e = e;
    if (u) {
        v->u = *u;
    } else {
        memset(&v->u, 0, sizeof(v->u));
    }
    v->len = len;
    if (len) {
        memcpy(v->text, text, len);
    }
    pthread_mutex_lock(&b->mu);
    if (b->tail) {
        b->tail->next = v;
    } else {
        b->head = v;
    }
    b->tail = v;
    pthread_mutex_unlock(&b->mu);
    event_active(b->wake, EV_READ, 0); /* thread-safe: net_loop enables libevent threading */
}

/* Session thread. */
static int on_text(void *user, const char *text, size_t len) {
    builtin_call *c = user;
    push(c->b, c, EV_TEXT, ERR_OK, NULL, text, len);
    return 0;
}

/* Session thread. */
static void on_engine_done(void *user, err_t e, const engine_usage *u) {
    builtin_call *c = user;
    push(c->b, c, EV_DONE, e, u, NULL, 0);
}

static void call_free(builtin_call *c) {
    buf_free(&c->text);
    free(c);
}

static int dump_cb(const char *p, size_t n, void *arg) {
    return buf_append(arg, p, n) == ERR_OK ? 0 : -1;
}

static void emit_json(builtin_call *c, json_t *o, bool sse) {
    buf b;
    buf_init(&b, OPENAI_ANSWER_MAX);
    if (o && (!sse || buf_append(&b, "data: ", 6) == ERR_OK) &&
        json_dump_callback(o, dump_cb, &b, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 &&
        (!sse || buf_append(&b, "\n\n", 2) == ERR_OK)) {
        c->h.on_body(c->arg, b.data, b.len);
    }
    json_decref(o);
    buf_free(&b);
}

static void head(builtin_call *c, int status, bool sse) {
    if (c->head_sent) {
        return;
    }
    c->head_sent = true;
    http_hdr h[2] = {
        {"content-type", sse ? "text/event-stream; charset=utf-8" : "application/json"},
        {"cache-control", "no-cache"}};
    c->h.on_head(c->arg, status, status == 200 ? "OK" : "Bad Request", h, sse ? 2 : 1);
}

static json_t *chunk(builtin_call *c, const char *text, size_t len, const char *finish) {
    json_t *choice;
    if (c->chat) {
        json_t *delta = json_object();
        if (text) {
            json_object_set_new(delta, "content", json_stringn(text, len));
        }
        choice = json_pack("{s:i,s:o,s:n,s:o}", "index", 0, "delta", delta, "logprobs",
                           "finish_reason", finish ? json_string(finish) : json_null());
    } else {
        choice =
            json_pack("{s:i,s:s%,s:n,s:o}", "index", 0, "text", text ? text : "", text ? len : 0,
                      "logprobs", "finish_reason", finish ? json_string(finish) : json_null());
    }
    return json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", c->id, "object",
                     c->chat ? "chat.completion.chunk" : "text_completion", "created",
                     (json_int_t)c->created, "model", c->model, "choices", choice);
}

static json_t *usage_obj(const engine_usage *u) {
    json_t *details =
        u->cached_tokens ? json_pack("{s:i}", "cached_tokens", u->cached_tokens) : json_null();
    return json_pack("{s:i,s:i,s:i,s:o}", "prompt_tokens", u->prompt_tokens, "total_tokens",
                     u->prompt_tokens + u->completion_tokens, "completion_tokens",
                     u->completion_tokens, "prompt_tokens_details", details);
}

static void finish(builtin_call *c, err_t e, const engine_usage *u) {
    if (e != ERR_OK) {
        /* The engine refused the request itself (prompt too long, bad sampling values): a
         * client error, answered as vLLM does, so the proxy does not retry elsewhere. */
        if (!c->head_sent) {
            head(c, 400, false);
            /* The engine's detail lives on its own thread: say what the code means. */
            char msg[512];
            snprintf(msg, sizeof(msg), "%s",
                     e == ERR_TOO_MANY ? "the prompt does not fit in the model's context"
                     : e == ERR_CONFIG ? "sampling parameters or stop sequences out of range"
                                       : err_str(e));
            emit_json(c,
                      json_pack("{s:s,s:s,s:s,s:n,s:i}", "object", "error", "message", msg, "type",
                                "BadRequestError", "param", "code", 400),
                      false);
        } else if (c->stream) {
            emit_json(c,
                      json_pack("{s:{s:s,s:s,s:i}}", "error", "message", err_describe(e), "type",
                                "InternalServerError", "code", 500),
                      true);
        }
        c->h.on_done(c->arg, ERR_OK);
        return;
    }
    const char *fr = u->finish == ENGINE_FINISH_LENGTH ? "length" : "stop";
    if (c->stream) {
        head(c, 200, true);
        emit_json(c, chunk(c, "", 0, fr), true);
        if (c->include_usage) {
            emit_json(c,
                      json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", c->id, "object",
                                c->chat ? "chat.completion.chunk" : "text_completion", "created",
                                (json_int_t)c->created, "model", c->model, "choices", "usage",
                                usage_obj(u)),
                      true);
        }
        static const char done[] = "data: [DONE]\n\n";
        c->h.on_body(c->arg, (const uint8_t *)done, sizeof(done) - 1);
    } else {
        head(c, 200, false);
        json_t *choice;
        const char *t = c->text.len ? (const char *)c->text.data : "";
        if (c->chat) {
            choice =
                json_pack("{s:i,s:{s:s,s:s%},s:n,s:s}", "index", 0, "message", "role", "assistant",
                          "content", t, c->text.len, "logprobs", "finish_reason", fr);
        } else {
            choice = json_pack("{s:i,s:s%,s:n,s:s}", "index", 0, "text", t, c->text.len, "logprobs",
                               "finish_reason", fr);
        }
        emit_json(c,
                  json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", c->id, "object",
                            c->chat ? "chat.completion" : "text_completion", "created",
                            (json_int_t)c->created, "model", c->model, "choices", choice, "usage",
                            usage_obj(u)),
                  false);
    }
    c->h.on_done(c->arg, ERR_OK);
}

/* Loop thread: deliver what the session threads produced. */
static void on_wake(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    builtin *b = arg;
    pthread_mutex_lock(&b->mu);
    bev *v = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    while (v) {
        bev *next = v->next;
        builtin_call *c = v->c;
        if (v->kind == EV_DONE) {
            if (!c->detached) {
                finish(c, v->e, &v->u);
            }
            call_free(c);
        } else if (!c->detached) {
            if (c->stream) {
                if (!c->head_sent) {
                    head(c, 200, true);
                    if (c->chat) {
                        json_t *o = chunk(c, "", 0, NULL);
                        json_t *delta = json_object_get(
                            json_array_get(json_object_get(o, "choices"), 0), "delta");
                        /* vLLM's first chunk: {"role":"assistant","content":""} */
                        json_t *nd = json_pack("{s:s,s:s}", "role", "assistant", "content", "");
                        json_object_update(delta, nd);
                        json_object_del(delta, "content");
                        json_object_set_new(delta, "role", json_string("assistant"));
                        json_object_set_new(delta, "content", json_string(""));
                        json_decref(nd);
                        emit_json(c, o, true);
                    }
                }
                emit_json(c, chunk(c, v->text, v->len, NULL), true);
            } else if (buf_append(&c->text, v->text, v->len) != ERR_OK) {
                LOGW("builtin", "answer longer than %zu bytes: truncated", OPENAI_ANSWER_MAX);
            }
        }
        free(v);
        v = next;
    }
}

err_t builtin_new(net_loop *l, const char *gguf_path, unsigned sessions, unsigned threads,
                  builtin **out) {
    *out = NULL;
    builtin *b = calloc(1, sizeof(*b));
    if (!b) {
        return ERR_NOMEM;
    }
    b->loop = l;
    pthread_mutex_init(&b->mu, NULL);
    b->wake = event_new(net_loop_base(l), -1, 0, on_wake, b);
    err_t e = b->wake ? engine_open(gguf_path, &b->eng) : ERR_NOMEM;
    if (e == ERR_OK) {
        engine_session_opts so = {0, threads ? threads : 1, NULL};
        e = engine_queue_new(b->eng, sessions ? sessions : 1, &so, BUILTIN_MAX_PENDING, &b->q);
    }
    if (e != ERR_OK) {
        builtin_free(b);
        return e;
    }
    *out = b;
    return ERR_OK;
}

void builtin_free(builtin *b) {
    if (!b) {
        return;
    }
    if (b->q) {
        engine_queue_free(b->q); /* done callbacks run before it returns */
    }
    if (b->wake) {
        on_wake(-1, 0, b); /* frees what is left (all detached by now) */
        event_free(b->wake);
    }
    engine_free(b->eng);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void builtin_call_cancel(builtin_call *c) {
    if (!c) {
        return;
    }
    c->detached = true; /* freed when its done event arrives */
    engine_queue_cancel(c->b->q, c->qid);
}

static const char *content_text(json_t *v, buf *tmp) {
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    /* [{"type":"text","text":…}, …] parts, concatenated */
    size_t i;
    json_t *p;
    buf_reset(tmp);
    json_array_foreach(v, i, p) {
        json_t *t = json_object_get(p, "text");
        if (json_is_string(t) &&
            buf_append(tmp, json_string_value(t), json_string_length(t)) != ERR_OK) {
            return NULL;
        }
    }
    if (buf_u8(tmp, 0) != ERR_OK) {
        return NULL;
    }
    return (const char *)tmp->data;
}

err_t builtin_call_start(builtin *b, openai_kind kind, const uint8_t *body, size_t len,
                         const http_call_handlers *h, void *arg, builtin_call **out) {
    *out = NULL;
    json_t *o = json_loadb((const char *)body, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return err_fail(ERR_MALFORMED, "request body is not a JSON object");
    }
    err_t e = ERR_OK;
    builtin_call *c = calloc(1, sizeof(*c));
    chat_msg *msgs = NULL;
    buf *parts = NULL;
    size_t nmsg = 0;
    const char *stops[ENGINE_MAX_STOP];
    size_t nstop = 0;
    if (!c) {
        e = ERR_NOMEM;
        goto out;
    }
    c->b = b;
    c->h = *h;
    c->arg = arg;
    c->chat = kind == OPENAI_CHAT;
    c->stream = json_is_true(json_object_get(o, "stream"));
    c->include_usage =
        json_is_true(json_object_get(json_object_get(o, "stream_options"), "include_usage"));
    c->created = (long long)time(NULL);
    uint8_t rid[12];
    rand_bytes(rid, sizeof(rid));
    snprintf(c->id, sizeof(c->id), "%s-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
             c->chat ? "chatcmpl" : "cmpl", rid[0], rid[1], rid[2], rid[3], rid[4], rid[5], rid[6],
             rid[7], rid[8], rid[9], rid[10], rid[11]);
    snprintf(c->model, sizeof(c->model), "%s",
             json_string_value(json_object_get(o, "model"))
                 ? json_string_value(json_object_get(o, "model"))
                 : "");
    buf_init(&c->text, OPENAI_ANSWER_MAX);

    engine_request r;
    memset(&r, 0, sizeof(r));
    r.sampling.temperature = 1.0f;
    r.sampling.top_p = 1.0f;
    r.sampling.seed = rand_u64();
    json_t *v;
    if ((v = json_object_get(o, "temperature")) && json_is_number(v)) {
        r.sampling.temperature = (float)json_number_value(v);
    }
    if ((v = json_object_get(o, "top_p")) && json_is_number(v)) {
        r.sampling.top_p = (float)json_number_value(v);
    }
    if ((v = json_object_get(o, "seed")) && json_is_integer(v)) {
        r.sampling.seed = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(o, "max_tokens");
    if (!json_is_integer(v)) {
        v = json_object_get(o, "max_completion_tokens");
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= UINT32_MAX) {
        r.max_tokens = (uint32_t)json_integer_value(v);
    }
    v = json_object_get(o, "stop");
    if (json_is_string(v)) {
        stops[nstop++] = json_string_value(v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s) || nstop == ENGINE_MAX_STOP) {
                e = err_fail(ERR_MALFORMED, "\"stop\": at most %d strings", ENGINE_MAX_STOP);
                goto out;
            }
            stops[nstop++] = json_string_value(s);
        }
    }
    r.stop = stops;
    r.n_stop = nstop;
    if (c->chat) {
        json_t *m = json_object_get(o, "messages");
        size_t n = json_array_size(m);
        if (n == 0 || n > BUILTIN_MAX_MESSAGES) {
            e = err_fail(ERR_MALFORMED, "\"messages\": 1..%d messages", BUILTIN_MAX_MESSAGES);
            goto out;
        }
        msgs = calloc(n, sizeof(*msgs));
        parts = calloc(n, sizeof(*parts));
        if (!msgs || !parts) {
            e = ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            buf_init(&parts[i], OPENAI_BODY_MAX);
        }
        nmsg = n;
        for (size_t i = 0; i < n; i++) {
            json_t *mi = json_array_get(m, i);
            msgs[i].role = json_string_value(json_object_get(mi, "role"));
            msgs[i].content = content_text(json_object_get(mi, "content"), &parts[i]);
            if (!msgs[i].role || !msgs[i].content) {
                e = err_fail(ERR_MALFORMED, "messages[%zu] needs a role and text content", i);
                goto out;
            }
        }
        r.messages = msgs;
        r.n_messages = n;
    } else {
        v = json_object_get(o, "prompt");
        if (json_is_array(v)) {
            v = json_array_get(v, 0);
        }
        if (!json_is_string(v)) {
            e = err_fail(ERR_MALFORMED, "\"prompt\" must be a string");
            goto out;
        }
        r.prompt = json_string_value(v);
        r.prompt_len = json_string_length(v);
    }
    r.on_text = on_text;
    r.user = c;
    /* The queue copies the request, so the JSON may go away after submit. */
    e = engine_queue_submit(b->q, &r, on_engine_done, c, &c->qid);
out:
    for (size_t i = 0; i < nmsg; i++) {
        buf_free(&parts[i]);
    }
    free(parts);
    free(msgs);
    json_decref(o);
    if (e != ERR_OK) {
        if (c) {
            call_free(c);
        }
        return e;
    }
    *out = c;
    return ERR_OK;
}
