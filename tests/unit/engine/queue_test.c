#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common.h"
#include "engine/queue.h"

static const char *FORTUNE = "The only thing that is not the most important thing to do.\n\t\t-- "
                             "Mikhail Bakunin";

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char text[512];
    size_t len;
    int done_calls;
    err_t err;
    engine_usage u;
    engine_queue *q;
    uint64_t cancel_id; /* cancel this id from inside the text callback */
} result;

static int on_text(void *user, const char *t, size_t n) {
    result *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->len + n < sizeof(r->text)) {
        memcpy(r->text + r->len, t, n);
        r->len += n;
    }
    uint64_t id = r->cancel_id;
    pthread_mutex_unlock(&r->mu);
    if (id) {
        engine_queue_cancel(r->q, id);
    }
    return 0;
}

static void on_done(void *user, err_t e, const engine_usage *u) {
    result *r = user;
    pthread_mutex_lock(&r->mu);
    r->done_calls++;
    r->err = e;
    r->u = *u;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void wait_done(result *r) {
    pthread_mutex_lock(&r->mu);
    while (r->done_calls == 0) {
        pthread_cond_wait(&r->cv, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
}

static void init(result *r, engine_queue *q) {
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->q = q;
}

static engine_request request(result *r, char *content_copy) {
    static chat_msg m;
    m.role = "user";
    m.content = content_copy;
    engine_request req = {.messages = &m,
                          .n_messages = 1,
                          .sampling = {.temperature = 0.0f, .top_p = 1.0f},
                          .max_tokens = 64,
                          .on_text = on_text,
                          .user = r};
    return req;
}

/* Six requests on two sessions all complete with the greedy answer; the request is copied, so
 * the caller's buffer is overwritten right after submit. */
static void test_requests_complete(void **state) {
    (void)state;
    engine *e;
    assert_int_equal(engine_open(models_path(DEMO_GGUF), &e), ERR_OK);
    engine_queue *q;
    engine_session_opts o = {.n_ctx = 128};
    assert_int_equal(engine_queue_new(e, 2, &o, 8, &q), ERR_OK);
    result res[6];
    for (int i = 0; i < 6; i++) {
        init(&res[i], q);
        char content[64];
        snprintf(content, sizeof(content), "Tell me a fortune about computers.");
        engine_request r = request(&res[i], content);
        uint64_t id;
        assert_int_equal(engine_queue_submit(q, &r, on_done, &res[i], &id), ERR_OK);
        assert_int_equal(id, (uint64_t)i + 1);
        memset(content, 'x', sizeof(content) - 1);
    }
    for (int i = 0; i < 6; i++) {
        wait_done(&res[i]);
        assert_int_equal(res[i].err, ERR_OK);
        assert_int_equal(res[i].done_calls, 1);
        assert_int_equal(res[i].u.finish, ENGINE_FINISH_STOP);
        assert_int_equal(res[i].len, strlen(FORTUNE));
        assert_memory_equal(res[i].text, FORTUNE, res[i].len);
    }
    engine_queue_free(q);
    engine_free(e);
}

/* A running request cancelled (here from its own text callback) ends "cancelled"; a queued
 * one cancelled before it runs never produces text; unknown ids are refused. */
static void test_cancel(void **state) {
    (void)state;
    engine *e;
    assert_int_equal(engine_open(models_path(DEMO_GGUF), &e), ERR_OK);
    engine_queue *q;
    assert_int_equal(engine_queue_new(e, 1, NULL, 8, &q), ERR_OK);
    result a;
    result b;
    init(&a, q);
    init(&b, q);
    char ca[] = "Tell me a fortune about computers.";
    char cb[] = "Say something wise.";
    engine_request ra = request(&a, ca);
    uint64_t ida;
    uint64_t idb;
    a.cancel_id = 1; /* the id the queue will assign */
    assert_int_equal(engine_queue_submit(q, &ra, on_done, &a, &ida), ERR_OK);
    engine_request rb = request(&b, cb);
    assert_int_equal(engine_queue_submit(q, &rb, on_done, &b, &idb), ERR_OK);
    assert_true(engine_queue_cancel(q, idb));
    assert_false(engine_queue_cancel(q, 999));
    wait_done(&a);
    wait_done(&b);
    assert_int_equal(a.u.finish, ENGINE_FINISH_CANCELLED);
    assert_true(a.len > 0 && a.len < strlen(FORTUNE));
    assert_int_equal(b.u.finish, ENGINE_FINISH_CANCELLED);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.done_calls, 1);
    assert_false(engine_queue_cancel(q, ida)); /* finished */
    engine_queue_free(q);
    engine_free(e);
}

/* The pending limit at max and max + 1; freeing the queue reports every outstanding request. */
static void test_limit_and_free(void **state) {
    (void)state;
    engine *e;
    assert_int_equal(engine_open(models_path(DEMO_GGUF), &e), ERR_OK);
    engine_queue *q;
    assert_int_equal(engine_queue_new(e, 0, NULL, 2, &q), ERR_CONFIG);
    assert_int_equal(engine_queue_new(e, 1, NULL, 0, &q), ERR_CONFIG);
    assert_int_equal(engine_queue_new(e, 1, NULL, 2, &q), ERR_OK);
    result r[8];
    char c[] = "Tell me a joke about law.";
    int accepted = 0;
    int refused = 0;
    for (int i = 0; i < 8; i++) {
        init(&r[i], q);
        engine_request req = request(&r[i], c);
        req.max_tokens = 200;
        err_t err = engine_queue_submit(q, &req, on_done, &r[i], NULL);
        if (err == ERR_OK) {
            accepted++;
        } else {
            assert_int_equal(err, ERR_TOO_MANY);
            refused++;
        }
        assert_true(engine_queue_pending(q) <= 2);
    }
    assert_true(accepted >= 2 && refused >= 1);
    engine_queue_free(q);
    for (int i = 0; i < accepted + refused; i++) {
        if (r[i].done_calls == 0) {
            continue; /* refused */
        }
        assert_int_equal(r[i].done_calls, 1);
    }
    int done = 0;
    for (int i = 0; i < 8; i++) {
        done += r[i].done_calls;
    }
    assert_int_equal(done, accepted);
    engine_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_complete),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_limit_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
