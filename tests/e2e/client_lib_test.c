/* libcocoon-client against a real local network (driven by client_lib_test.js, which starts the
 * upstream fixture and `cocoon up`). Linked against libcocoon-client.a and system libraries
 * only: it sees include/cocoon/client.h and nothing else of COCOON.
 *
 *   client_lib_test REGISTRY FAKE_CA BAD_IMAGE_REGISTRY OTHER_CA_DIR
 *
 * Checks what an application sees: a stream and a JSON answer byte-compatible with the
 * upstream's, usage, errors with their statuses, cancellation (the driver then checks the
 * upstream saw it), concurrent requests from two threads, on_done exactly once, a free with a
 * request in flight, and proxies that must be refused (image not in the registry, quote from an
 * unpinned CA): never ready, requests answered 503. Prints "ok - ..." per case; exit 0 = pass. */
#include <cocoon/client.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MODEL "fortune-llama-7m"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int heads, dones, status, head_status;
    char ctype[128];
    char error[512];
    char *body;
    size_t len;
    cocoon_usage usage;
    int have_usage;
    /* cancel test: the id to cancel once the first chunk arrived */
    cocoon_client *cancel_c;
    uint64_t cancel_id;
    int cancel_sent;
} result;

static void res_init(result *r) {
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void res_free(result *r) {
    free(r->body);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void on_head(void *arg, int status, const char *ct) {
    result *r = arg;
    pthread_mutex_lock(&r->mu);
    r->heads++;
    r->head_status = status;
    snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
    pthread_mutex_unlock(&r->mu);
}

static void on_chunk(void *arg, const char *d, size_t n) {
    result *r = arg;
    pthread_mutex_lock(&r->mu);
    char *nb = realloc(r->body, r->len + n + 1);
    if (nb) {
        memcpy(nb + r->len, d, n);
        r->len += n;
        nb[r->len] = 0;
        r->body = nb;
    }
    if (r->cancel_c && !r->cancel_sent) {
        r->cancel_sent = 1;
        cocoon_client_cancel(r->cancel_c, r->cancel_id); /* from a callback: allowed */
    }
    pthread_mutex_unlock(&r->mu);
}

static void on_done(void *arg, int status, const char *error, const cocoon_usage *u) {
    result *r = arg;
    pthread_mutex_lock(&r->mu);
    r->dones++;
    r->status = status;
    snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
    if (u) {
        r->usage = *u;
        r->have_usage = 1;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static const cocoon_callbacks cbs = {on_head, on_chunk, on_done};

static int wait_done(result *r, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->dones) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0) {
            break;
        }
    }
    int d = r->dones;
    pthread_mutex_unlock(&r->mu);
    return d;
}

static uint64_t chat(cocoon_client *c, const char *prompt, int stream, result *r) {
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"model\":\"" MODEL "\",\"stream\":%s,\"messages\":[{\"role\":\"user\","
             "\"content\":\"%s\"}]}",
             stream ? "true" : "false", prompt);
    return cocoon_client_submit(c, "/v1/chat/completions", body, strlen(body), &cbs, r);
}

/* The content the fixture streams: the words of "echo: PROMPT", one per chunk. */
static void check_stream(const result *r, const char *prompt) {
    CHECK(r->status == 200 && r->error[0] == 0, "status %d error %s", r->status, r->error);
    CHECK(r->heads == 1 && r->head_status == 200, "heads %d status %d", r->heads, r->head_status);
    CHECK(strstr(r->ctype, "text/event-stream") != NULL, "content type %s", r->ctype);
    CHECK(r->body && strstr(r->body, "\"content\":\"echo:\""), "no echo chunk");
    char want[256];
    const char *w = prompt;
    int words = 1;
    while (r->body && *w) {
        const char *sp = strchr(w, ' ');
        size_t wl = sp ? (size_t)(sp - w) : strlen(w);
        snprintf(want, sizeof(want), "\"content\":\" %.*s\"", (int)wl, w);
        CHECK(strstr(r->body, want) != NULL, "missing %s", want);
        words++;
        w += wl;
        while (*w == ' ') {
            w++;
        }
    }
    size_t dl = strlen("data: [DONE]\n\n");
    CHECK(r->len >= dl && memcmp(r->body + r->len - dl, "data: [DONE]\n\n", dl) == 0,
          "stream does not end with [DONE]");
    CHECK(r->have_usage && r->usage.known, "no usage");
    CHECK(r->usage.completion_tokens == words, "completion tokens %lld, want %d",
          (long long)r->usage.completion_tokens, words);
    CHECK(r->usage.total_tokens == r->usage.prompt_tokens + r->usage.completion_tokens,
          "total %lld", (long long)r->usage.total_tokens);
}

typedef struct {
    cocoon_client *c;
    int idx;
    int ok;
} thr;

static void *many(void *arg) {
    thr *t = arg;
    enum { N = 6 };
    result rs[N];
    char prompts[N][64];
    for (int i = 0; i < N; i++) {
        res_init(&rs[i]);
        snprintf(prompts[i], sizeof(prompts[i]), "thread %d request %d", t->idx, i);
        if (!chat(t->c, prompts[i], 1, &rs[i])) {
            rs[i].dones = -100;
        }
    }
    int before = failures;
    for (int i = 0; i < N; i++) {
        CHECK(wait_done(&rs[i], 30000) == 1, "request %d of thread %d", i, t->idx);
        check_stream(&rs[i], prompts[i]);
        res_free(&rs[i]);
    }
    t->ok = failures == before;
    return NULL;
}

static cocoon_client *open_client_ev(const char *reg, const char *ca, int signatures) {
    cocoon_client_config cfg;
    cocoon_client_config_init(&cfg);
    cfg.evidence_signatures = signatures;
    cfg.registry_file = reg;
    cfg.fake_ca_dir = ca;
    cfg.timeout_s = 20;
    cocoon_client *c = NULL;
    char err[512] = "";
    int rc = cocoon_client_new(&cfg, &c, err, sizeof(err));
    CHECK(rc == 0 && c, "cocoon_client_new: %s", err);
    return c;
}

static cocoon_client *open_client(const char *reg, const char *ca) {
    return open_client_ev(reg, ca, 0);
}

/* A proxy the client must refuse: never ready, and a request is answered 503 (never sent). */
static void refused(const char *what, const char *reg, const char *ca) {
    cocoon_client *c = open_client(reg, ca);
    if (!c) {
        return;
    }
    CHECK(!cocoon_client_wait_ready(c, 2500), "%s: a proxy became ready", what);
    result r;
    res_init(&r);
    CHECK(chat(c, "refused", 1, &r) != 0, "submit");
    CHECK(wait_done(&r, 5000) == 1 && r.status == 503 && r.heads == 0 && r.len == 0,
          "%s: status %d heads %d", what, r.status, r.heads);
    cocoon_client_free(c);
    res_free(&r);
    printf("ok - refused: %s\n", what);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: client_lib_test REGISTRY FAKE_CA BAD_REGISTRY OTHER_CA\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Config errors come back as messages, before any thread starts. */
    {
        cocoon_client_config cfg;
        cocoon_client_config_init(&cfg);
        cocoon_client *c = NULL;
        char err[256] = "";
        CHECK(cocoon_client_new(&cfg, &c, err, sizeof(err)) == -1 && !c && strstr(err, "registry"),
              "no registry: %s", err);
        cfg.registry_file = "/nonexistent/registry.json";
        CHECK(cocoon_client_new(&cfg, &c, err, sizeof(err)) == -1 && !c, "missing file");
        printf("ok - config errors\n");
    }

    cocoon_client *c = open_client(argv[1], argv[2]);
    if (!c) {
        return 1;
    }
    CHECK(cocoon_client_wait_ready(c, 20000), "no proxy ready");
    CHECK(cocoon_client_ready_proxies(c) == 1, "ready %d", cocoon_client_ready_proxies(c));
    printf("ok - proxy attested and ready\n");

    /* A stream. */
    result r;
    res_init(&r);
    const char *p = "hello from the library";
    CHECK(chat(c, p, 1, &r) != 0, "submit");
    CHECK(wait_done(&r, 20000) == 1, "stream not done");
    check_stream(&r, p);
    res_free(&r);
    printf("ok - streamed chat completion with usage\n");

    /* The same with Ed25519 signatures asked for instead of MACs (evidence_signatures). */
    {
        cocoon_client *cs = open_client_ev(argv[1], argv[2], 1);
        CHECK(cs && cocoon_client_wait_ready(cs, 20000), "signature client not ready");
        if (cs) {
            res_init(&r);
            CHECK(chat(cs, "signed please", 1, &r) != 0, "submit");
            CHECK(wait_done(&r, 20000) == 1, "signed stream not done");
            check_stream(&r, "signed please");
            res_free(&r);
            /* A whole JSON answer names the evidence checked in its "cocoon" member. */
            res_init(&r);
            const char *sb = "{\"model\":\"" MODEL "\",\"prompt\":\"signed json\"}";
            CHECK(cocoon_client_submit(cs, "/v1/completions", sb, strlen(sb), &cbs, &r) != 0,
                  "submit");
            CHECK(wait_done(&r, 20000) == 1 && r.status == 200, "status %d", r.status);
            CHECK(r.body && strncmp(r.body, "{\"cocoon\":{\"request_id\":\"", 25) == 0 &&
                      strstr(r.body, "\"evidence\":\"ed25519\"}") &&
                      strstr(r.body, "\"text\":\"echo: signed json\""),
                  "body %s", r.body ? r.body : "(none)");
            res_free(&r);
            cocoon_client_free(cs);
        }
        printf("ok - streamed chat completion with signed evidence\n");
    }

    /* A JSON answer (completions endpoint). */
    res_init(&r);
    const char *cb = "{\"model\":\"" MODEL "\",\"prompt\":\"json please\"}";
    CHECK(cocoon_client_submit(c, "/v1/completions", cb, strlen(cb), &cbs, &r) != 0, "submit");
    CHECK(wait_done(&r, 20000) == 1 && r.status == 200, "status %d %s", r.status, r.error);
    CHECK(strstr(r.ctype, "application/json") != NULL, "ctype %s", r.ctype);
    CHECK(r.body && strstr(r.body, "\"evidence\":\"hmac-sha256\"") &&
              strstr(r.body, "\"text\":\"echo: json please\"") &&
              strstr(r.body, "\"object\":\"text_completion\""),
          "body %s", r.body ? r.body : "(none)");
    CHECK(r.usage.known && r.usage.completion_tokens == 3, "completion %lld",
          (long long)r.usage.completion_tokens);
    res_free(&r);
    printf("ok - JSON completion\n");

    /* Errors: bad JSON (never sent), unknown path, unknown model (from the network). */
    res_init(&r);
    CHECK(cocoon_client_submit(c, "/v1/chat/completions", "{not json", 9, &cbs, &r) != 0, "s");
    CHECK(wait_done(&r, 5000) == 1 && r.status == 400 && r.heads == 0 && r.error[0], "bad json: %d",
          r.status);
    res_free(&r);
    res_init(&r);
    CHECK(cocoon_client_submit(c, "/v1/embeddings", cb, strlen(cb), &cbs, &r) != 0, "s");
    CHECK(wait_done(&r, 5000) == 1 && r.status == 404, "unknown path: %d", r.status);
    res_free(&r);
    res_init(&r);
    const char *um = "{\"model\":\"no-such-model\",\"messages\":[]}";
    CHECK(cocoon_client_submit(c, "/v1/chat/completions", um, strlen(um), &cbs, &r) != 0, "s");
    CHECK(wait_done(&r, 10000) == 1 && r.status == 404 && !r.have_usage, "unknown model: %d %s",
          r.status, r.error);
    res_free(&r);
    CHECK(cocoon_client_submit(c, "/v1/completions", cb, strlen(cb), NULL, NULL) == 0, "no cb");
    printf("ok - errors with their statuses\n");

    /* Cancellation from the first chunk's callback: on_done 499 once, nothing after. */
    res_init(&r);
    r.cancel_c = c;
    pthread_mutex_lock(&r.mu);
    r.cancel_id = chat(c, "SLOW stream to cancel", 1, &r);
    pthread_mutex_unlock(&r.mu);
    CHECK(r.cancel_id != 0, "submit");
    CHECK(wait_done(&r, 10000) == 1 && r.status == 499, "cancel: %d %s", r.status, r.error);
    size_t got = r.len;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK(r.dones == 1 && r.len == got, "callbacks after cancel: dones %d", r.dones);
    cocoon_client_cancel(c, r.cancel_id); /* already ended: nothing happens */
    nanosleep(&ts, NULL);
    CHECK(r.dones == 1, "second cancel called on_done again");
    res_free(&r);
    printf("ok - cancelled (CANCEL_SENT)\n");

    /* Two application threads, six concurrent streams each. */
    pthread_t th[2];
    thr t[2] = {{c, 0, 0}, {c, 1, 0}};
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, many, &t[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    CHECK(t[0].ok && t[1].ok, "concurrent requests");
    printf("ok - 12 concurrent streams from two threads\n");

    /* Freeing with a request in flight ends it with 503, once. */
    res_init(&r);
    CHECK(chat(c, "SLOW stream at shutdown", 1, &r) != 0, "submit");
    nanosleep(&ts, NULL);
    cocoon_client_free(c);
    CHECK(r.dones == 1 && r.status == 503, "in flight at free: dones %d status %d", r.dones,
          r.status);
    res_free(&r);
    printf("ok - free with a request in flight\n");

    refused("proxy image not in the registry", argv[3], argv[2]);
    refused("proxy quote from an unpinned CA", argv[1], argv[4]);

    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}
