/* libcocoon-client with its registry named as the daemons name theirs (cocoon_client_config's
 * `registry`), driven by client_lib_chain_test.js on a `cocoon up --chain` network (localton).
 * Linked against libcocoon-client.a and system libraries only.
 *
 *   client_lib_chain_test CHAIN_SPEC FAKE_CA REGISTRY_JSON
 *
 * 1. Config errors come back from cocoon_client_new: both registry and registry_file, a
 *    malformed spec, registry_refresh_s out of range (-2, 86401), a chain whose API is down.
 * 2. registry = "file:REGISTRY_JSON" (refresh 86400, the maximum): ready, a chat answers 200.
 * 3. registry = CHAIN_SPEC ("chain:URL#ROOT"), refreshed every second: ready, a chat answers
 *    200; prints CHAIN_OK and waits for a line on stdin (the driver removes the worker image
 *    from the root meanwhile); then requests fail within 20 s; prints REFUSED and waits for a
 *    second line while the driver looks in the library's own log (stderr, log_level info) for
 *    the registry it read from the root and then its update.
 * Prints "ok - ..." per case; exit 0 = pass. */
#include <cocoon/client.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    int done, status;
    char error[512];
} result;

static void on_done(void *arg, int status, const char *error, const cocoon_usage *u) {
    result *r = arg;
    (void)u;
    pthread_mutex_lock(&r->mu);
    r->done++;
    r->status = status;
    snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* One non-streaming chat: its status (0 when not submitted or no answer in 30 s). */
static int chat(cocoon_client *c, char *error, size_t cap) {
    static const char body[] = "{\"model\":\"fortune-llama-7m\",\"max_tokens\":4,"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    result r;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    cocoon_callbacks cb = {NULL, NULL, on_done};
    int status = 0;
    if (cocoon_client_submit(c, "/v1/chat/completions", body, sizeof(body) - 1, &cb, &r) != 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 30;
        pthread_mutex_lock(&r.mu);
        while (!r.done && pthread_cond_timedwait(&r.cv, &r.mu, &until) == 0) {
        }
        status = r.done ? r.status : 0;
        snprintf(error, cap, "%s", r.error);
        pthread_mutex_unlock(&r.mu);
        if (!r.done) {
            cocoon_client_free(c); /* never returns with the callback pending */
            fprintf(stderr, "FAIL: no answer in 30 s\n");
            exit(1);
        }
    }
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return status;
}

static void refused_config(const char *what, const cocoon_client_config *cfg, const char *want) {
    cocoon_client *c = NULL;
    char err[512] = "";
    CHECK(cocoon_client_new(cfg, &c, err, sizeof(err)) == -1 && !c && strstr(err, want),
          "%s: got \"%s\", want \"%s\"", what, err, want);
    if (c) {
        cocoon_client_free(c);
    }
    printf("ok - config refused: %s (%s)\n", what, err);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: client_lib_chain_test CHAIN_SPEC FAKE_CA REGISTRY_JSON\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *spec = argv[1], *ca = argv[2], *file = argv[3];
    cocoon_client_config cfg;

    /* 1 */
    cocoon_client_config_init(&cfg);
    CHECK(cfg.registry_refresh_s == -1, "default refresh %d", cfg.registry_refresh_s);
    cfg.fake_ca_dir = ca;
    cfg.registry = spec;
    cfg.registry_file = file;
    refused_config("registry and registry_file", &cfg, "not both");
    cfg.registry_file = NULL;
    cfg.registry = "chain:http://127.0.0.1:1/api/v2"; /* no #ROOT */
    refused_config("chain spec without a root", &cfg, "registry");
    const char *hash = strchr(spec, '#');
    char dead[1024];
    snprintf(dead, sizeof(dead), "chain:http://127.0.0.1:1/api/v2%s", hash ? hash : "#");
    cfg.registry = dead;
    refused_config("chain API down", &cfg, "registry");
    cfg.registry = spec;
    cfg.registry_refresh_s = -2;
    refused_config("registry_refresh_s -2", &cfg, "registry_refresh_s");
    cfg.registry_refresh_s = 86401;
    refused_config("registry_refresh_s 86401", &cfg, "registry_refresh_s");

    /* 2 */
    char fspec[4200];
    snprintf(fspec, sizeof(fspec), "file:%s", file);
    cocoon_client_config_init(&cfg);
    cfg.fake_ca_dir = ca;
    cfg.registry = fspec;
    cfg.registry_refresh_s = 86400;
    cfg.timeout_s = 20;
    cocoon_client *c = NULL;
    char err[512] = "";
    CHECK(cocoon_client_new(&cfg, &c, err, sizeof(err)) == 0 && c, "file: spec: %s", err);
    if (!c) {
        return 1;
    }
    CHECK(cocoon_client_wait_ready(c, 20000) == 1, "file: spec: no proxy ready");
    int st = chat(c, err, sizeof(err));
    CHECK(st == 200, "file: spec: chat %d %s", st, err);
    cocoon_client_free(c);
    printf("ok - registry \"file:PATH\" (refresh 86400 s): chat %d\n", st);

    /* 3 */
    cocoon_client_config_init(&cfg);
    cfg.fake_ca_dir = ca;
    cfg.registry = spec;
    cfg.registry_refresh_s = 1;
    cfg.timeout_s = 20;
    cfg.log_level = "info";
    c = NULL;
    CHECK(cocoon_client_new(&cfg, &c, err, sizeof(err)) == 0 && c, "chain spec: %s", err);
    if (!c) {
        return 1;
    }
    CHECK(cocoon_client_wait_ready(c, 20000) == 1, "chain: no proxy ready");
    st = chat(c, err, sizeof(err));
    CHECK(st == 200, "chain: chat %d %s", st, err);
    printf("ok - registry from the root on chain: chat %d\n", st);
    printf("CHAIN_OK\n");
    char line[64];
    if (!fgets(line, sizeof(line), stdin)) {
        fprintf(stderr, "FAIL: the driver went away\n");
        cocoon_client_free(c);
        return 1;
    }
    /* The worker image is no longer in the root: answers stop within the refresh. */
    time_t end = time(NULL) + 20;
    while ((st = chat(c, err, sizeof(err))) == 200 && time(NULL) < end) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK(st != 200, "chain: still answered 20 s after the worker image was removed");
    printf("ok - worker image removed from the root: chat %d (%s)\n", st, err);
    /* The proxy may have dropped the workers before our own refresh ran: the driver waits for
     * the library's "registry updated" line before it lets us stop. */
    printf("REFUSED\n");
    if (!fgets(line, sizeof(line), stdin)) {
        line[0] = 0;
    }
    cocoon_client_free(c);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}
