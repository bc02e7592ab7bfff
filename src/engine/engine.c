#include "engine.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct engine {
    model *m;
    tok *t;
    chat_format chat;
    char name[128];
};

struct engine_session {
    engine *e;
    model_ctx *ctx;
    float *logits;
    tok_vec hist; /* tokens whose keys and values are in the cache */
    atomic_bool cancel;
};

err_t engine_open(const char *path, engine **out) {
    *out = NULL;
    engine *e = calloc(1, sizeof(*e));
    if (!e) {
        return err_fail(ERR_NOMEM, "engine");
    }
    err_t r = model_load(path, &e->m);
    if (r == ERR_OK) {
        r = tok_from_gguf(model_gguf(e->m), &e->t);
    }
    if (r == ERR_OK && tok_n_vocab(e->t) != model_params(e->m)->n_vocab) {
        r = err_fail(ERR_MALFORMED, "tokenizer has %u tokens, the model %u", tok_n_vocab(e->t),
                     model_params(e->m)->n_vocab);
    }
    if (r == ERR_OK && chat_detect(model_gguf(e->m), e->t, &e->chat) != ERR_OK) {
        e->chat = CHAT_CHATML; /* completion requests still work; chat ones fail below */
    }
    if (r != ERR_OK) {
        engine_free(e);
        return r;
    }
    gguf_str nm;
    if (gguf_get_str(model_gguf(e->m), "general.name", &nm) == ERR_OK) {
        size_t n = nm.len < sizeof(e->name) - 1 ? nm.len : sizeof(e->name) - 1;
        memcpy(e->name, nm.p, n);
    }
    *out = e;
    return ERR_OK;
}

void engine_free(engine *e) {
    if (!e) {
        return;
    }
    tok_free(e->t);
    model_free(e->m);
    free(e);
}

const model *engine_model(const engine *e) {
    return e->m;
}
const tok *engine_tok(const engine *e) {
    return e->t;
}
chat_format engine_chat_format(const engine *e) {
    return e->chat;
}
const char *engine_name(const engine *e) {
    return e->name;
}

const char *engine_finish_name(engine_finish f) {
    switch (f) {
    case ENGINE_FINISH_STOP:
        return "stop";
    case ENGINE_FINISH_LENGTH:
        return "length";
    default:
        return "cancelled";
    }
}

err_t engine_session_new(engine *e, const engine_session_opts *o, engine_session **out) {
    *out = NULL;
    engine_session *s = calloc(1, sizeof(*s));
    if (!s) {
        return err_fail(ERR_NOMEM, "session");
    }
    s->e = e;
    model_ctx_opts mo = {0};
    if (o) {
        mo.n_ctx = o->n_ctx;
        mo.n_threads = o->n_threads;
        mo.kern = o->kern;
    }
    err_t r = model_ctx_new(e->m, &mo, &s->ctx);
    if (r == ERR_OK) {
        s->logits = malloc(model_params(e->m)->n_vocab * sizeof(float));
        if (!s->logits) {
            r = err_fail(ERR_NOMEM, "logits");
        }
    }
    if (r != ERR_OK) {
        engine_session_free(s);
        return r;
    }
    *out = s;
    return ERR_OK;
}

void engine_session_free(engine_session *s) {
    if (!s) {
        return;
    }
    model_ctx_free(s->ctx);
    free(s->logits);
    tok_vec_free(&s->hist);
    free(s);
}

void engine_cancel(engine_session *s) {
    atomic_store(&s->cancel, true);
}

err_t engine_prompt_tokens(const engine *e, const engine_request *r, tok_vec *out) {
    if (r->messages) {
        chat_format f;
        TRY(chat_detect(model_gguf(e->m), e->t, &f));
        return chat_tokenize(f, e->t, r->messages, r->n_messages, true, out);
    }
    if (tok_add_bos(e->t)) {
        TRY(tok_vec_push(out, tok_bos(e->t)));
    }
    return tok_encode(e->t, r->prompt ? r->prompt : "", r->prompt ? r->prompt_len : 0, false, out);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Streams generated text: holds back an incomplete UTF-8 character and any tail that could
 * still become a stop sequence. */
typedef struct {
    const engine_request *r;
    char pend[4 * ENGINE_MAX_STOP_LEN + 64];
    size_t n;
    bool stopped;
    bool cancelled;
} streamer;

static size_t utf8_incomplete_tail(const char *s, size_t n) {
    /* length of a trailing sequence that has started but not finished */
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = (uint8_t)s[n - k];
        if ((c & 0xc0) == 0x80) {
            continue;
        }
        size_t need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return need > k ? k : 0;
    }
    return 0;
}

static void emit(streamer *st, size_t len) {
    if (len == 0) {
        return;
    }
    if (st->r->on_text && st->r->on_text(st->r->user, st->pend, len) != 0) {
        st->cancelled = true;
    }
    memmove(st->pend, st->pend + len, st->n - len);
    st->n -= len;
}

static void stream_push(streamer *st, const char *p, size_t len, bool final) {
    while (len > 0 || final) {
        size_t room = sizeof(st->pend) - st->n;
        size_t take = len < room ? len : room;
        memcpy(st->pend + st->n, p, take);
        st->n += take;
        p += take;
        len -= take;
        /* a stop sequence anywhere in the pending text ends the answer before it */
        size_t cut = st->n + 1;
        for (size_t k = 0; k < st->r->n_stop; k++) {
            const char *sq = st->r->stop[k];
            size_t sl = strlen(sq);
            for (size_t i = 0; i + sl <= st->n && i < cut; i++) {
                if (memcmp(st->pend + i, sq, sl) == 0) {
                    cut = i;
                    break;
                }
            }
        }
        if (cut <= st->n) {
            st->n = cut;
            emit(st, cut);
            st->stopped = true;
            return;
        }
        if (final && len == 0) {
            emit(st, st->n);
            return;
        }
        /* keep the longest tail that is a proper prefix of a stop sequence */
        size_t keep = utf8_incomplete_tail(st->pend, st->n);
        for (size_t k = 0; k < st->r->n_stop; k++) {
            const char *sq = st->r->stop[k];
            size_t sl = strlen(sq);
            for (size_t t = sl - 1; t > keep; t--) {
                if (t <= st->n && memcmp(st->pend + st->n - t, sq, t) == 0) {
                    keep = t;
                    break;
                }
            }
        }
        emit(st, st->n - keep);
        if (st->cancelled || len == 0) {
            return;
        }
    }
}

err_t engine_generate(engine_session *s, const engine_request *r, engine_usage *u) {
    memset(u, 0, sizeof(*u));
    atomic_store(&s->cancel, false);
    if (r->n_stop > ENGINE_MAX_STOP) {
        return err_fail(ERR_CONFIG, "%zu stop sequences (max %u)", r->n_stop, ENGINE_MAX_STOP);
    }
    for (size_t k = 0; k < r->n_stop; k++) {
        size_t sl = strlen(r->stop[k]);
        if (sl == 0 || sl > ENGINE_MAX_STOP_LEN) {
            return err_fail(ERR_CONFIG, "stop sequence of %zu bytes (1 to %u)", sl,
                            ENGINE_MAX_STOP_LEN);
        }
    }
    const model_hparams *hp = model_params(s->e->m);
    sampler *smp = NULL;
    tok_vec prompt = {0};
    err_t e = sampler_new(&r->sampling, hp->n_vocab, &smp);
    if (e == ERR_OK) {
        e = engine_prompt_tokens(s->e, r, &prompt);
    }
    if (e != ERR_OK) {
        goto out;
    }
    uint32_t n_ctx = model_ctx_n_ctx(s->ctx);
    if (prompt.n == 0) {
        e = err_fail(ERR_CONFIG, "empty prompt");
        goto out;
    }
    if (prompt.n >= n_ctx) {
        e = err_fail(ERR_TOO_MANY, "prompt of %zu tokens leaves no room in a context of %u",
                     prompt.n, n_ctx);
        goto out;
    }
    u->prompt_tokens = (uint32_t)prompt.n;
    /* reuse the cached prefix; at least one token is evaluated to get logits */
    size_t keep = 0;
    while (keep < s->hist.n && keep < prompt.n - 1 && s->hist.ids[keep] == prompt.ids[keep]) {
        keep++;
    }
    model_ctx_truncate(s->ctx, (uint32_t)keep);
    s->hist.n = keep;
    u->cached_tokens = (uint32_t)keep;
    double t0 = now_s();
    /* prefill in chunks so that a cancellation does not wait for a whole long prompt */
    for (size_t i = keep; i < prompt.n;) {
        if (atomic_load(&s->cancel) || (r->cancel && atomic_load(r->cancel))) {
            u->finish = ENGINE_FINISH_CANCELLED;
            u->prefill_seconds = now_s() - t0;
            goto out;
        }
        size_t len = prompt.n - i < MODEL_BATCH ? prompt.n - i : MODEL_BATCH;
        if ((e = model_eval(s->ctx, prompt.ids + i, len, s->logits)) != ERR_OK) {
            goto out;
        }
        for (size_t k = i; k < i + len; k++) {
            if ((e = tok_vec_push(&s->hist, prompt.ids[k])) != ERR_OK) {
                goto out;
            }
        }
        i += len;
    }
    double t1 = now_s();
    u->prefill_seconds = t1 - t0;
    streamer st = {.r = r};
    u->finish = ENGINE_FINISH_LENGTH;
    for (;;) {
        if (atomic_load(&s->cancel) || st.cancelled || (r->cancel && atomic_load(r->cancel))) {
            u->finish = ENGINE_FINISH_CANCELLED;
            break;
        }
        if (r->max_tokens && u->completion_tokens >= r->max_tokens) {
            break;
        }
        int32_t id = sampler_next(smp, s->logits);
        u->completion_tokens++;
        if (tok_is_eog(s->e->t, id)) {
            u->finish = ENGINE_FINISH_STOP;
            break;
        }
        if (!tok_is_control(s->e->t, id)) {
            size_t len;
            const char *p = tok_piece(s->e->t, id, &len);
            stream_push(&st, p, len, false);
            if (st.stopped) {
                u->finish = ENGINE_FINISH_STOP;
                break;
            }
        }
        if (model_ctx_n_past(s->ctx) >= n_ctx) {
            break;
        }
        if ((e = model_eval(s->ctx, &id, 1, s->logits)) != ERR_OK) {
            goto out;
        }
        if ((e = tok_vec_push(&s->hist, id)) != ERR_OK) {
            goto out;
        }
    }
    if (!st.stopped && !st.cancelled) {
        stream_push(&st, "", 0, true);
    }
    if (st.cancelled) {
        u->finish = ENGINE_FINISH_CANCELLED;
    }
    u->decode_seconds = now_s() - t1;
out:
    if (e != ERR_OK) {
        /* the cache may hold a half-evaluated prompt: forget it */
        model_ctx_truncate(s->ctx, 0);
        s->hist.n = 0;
    }
    sampler_free(smp);
    tok_vec_free(&prompt);
    return e;
}
