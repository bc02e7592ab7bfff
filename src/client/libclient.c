/* libcocoon-client (include/cocoon/client.h): the client role (client.h) with no HTTP API,
 * driven from the application's threads through a command queue onto one loop thread.
 *
 * Threads: the application's threads only touch the command queue (mutex) and two atomics; the
 * loop thread owns the client role, the registry, the request table and every callback. A
 * command wakes the loop with event_active() (net_loop enables libevent's pthread locking).
 * With a refreshed registry a third thread (registry/refresher.h, shared with the daemons'
 * node.c) re-reads the source (blocking: HTTP for a chain) and leaves the result under its
 * mutex; the loop's tick adopts it (registry_replace). */
#include <cocoon/client.h>

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "attest/fake.h"
#include "base/clock.h"
#include "base/log.h"
#include "client/client.h"
#include "link/rotor.h"
#include "registry/refresher.h"
#include "registry/source.h"

#define LIB_CERT_SECS (24u * 3600u)
#define LIB_STOP_MS 5000
#define LIB_TICK_MS 20
#define LIB_REFRESH_MAX_S 86400
#define LIB_CHAIN_REFRESH_S 30

typedef enum { CMD_SUBMIT, CMD_CANCEL, CMD_STOP } cmd_kind;

typedef struct cmd {
    cmd_kind kind;
    uint64_t id;
    char path[64];
    char *body;
    size_t len;
    cocoon_callbacks cb;
    void *arg;
    struct cmd *next;
} cmd;

/* A request on the loop thread. */
typedef struct lreq {
    cocoon_client *c;
    uint64_t id;
    client_req *r;
    cocoon_callbacks cb;
    void *arg;
    int status;
    struct lreq *next;
} lreq;

struct cocoon_client {
    net_loop *loop;
    cert_rotor *rotor;
    registry *reg;
    ratls_ctx *tls;
    ratls_policy proxy_pol, worker_pol;
    client *cl;
    char owner[256];

    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    cmd *head, **tail; /* under mu */
    bool closed;       /* under mu: no more commands */
    uint64_t next_id;  /* under mu */
    struct event *wake;
    net_timer *tick;
    atomic_int ready;

    registry_refresher *rf; /* NULL when the registry is not refreshed */

    /* loop thread only */
    lreq *reqs;
    bool stopping;
    uint64_t stop_deadline;
};

void cocoon_client_config_init(cocoon_client_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_s = 120;
    cfg->require_evidence = 1;
    cfg->registry_refresh_s = -1;
}

/* The registry source and refresh period a config names (same syntax and defaults as the
 * daemons' --registry and --registry-refresh). ERR_CONFIG with a detail when it names none,
 * both, or a bad period; ERR_USAGE from registry_source_parse for a malformed spec. */
static err_t lib_registry_source(const cocoon_client_config *cfg, registry_source *src,
                                 unsigned *every_s) {
    if (cfg->registry && cfg->registry_file) {
        return err_fail(ERR_CONFIG, "set registry or registry_file, not both");
    }
    if (!cfg->registry && !cfg->registry_file) {
        return err_fail(ERR_CONFIG, "registry (file:PATH | chain:API_URL#ROOT) is required");
    }
    if (cfg->registry_refresh_s < -1 || cfg->registry_refresh_s > LIB_REFRESH_MAX_S) {
        return err_fail(ERR_CONFIG, "registry_refresh_s must be -1 (default), 0 or 1..%d",
                        LIB_REFRESH_MAX_S);
    }
    if (cfg->registry_file) {
        /* Taken as a path even when it looks like a spec ("chain:..." is a valid file name). */
        memset(src, 0, sizeof(*src));
        src->kind = REGISTRY_SOURCE_FILE;
        if (strlen(cfg->registry_file) >= sizeof(src->path)) {
            return err_fail(ERR_CONFIG, "registry_file: path too long");
        }
        snprintf(src->path, sizeof(src->path), "%s", cfg->registry_file);
    } else {
        TRY(registry_source_parse(cfg->registry, src));
    }
    *every_s = cfg->registry_refresh_s >= 0         ? (unsigned)cfg->registry_refresh_s
               : src->kind == REGISTRY_SOURCE_CHAIN ? LIB_CHAIN_REFRESH_S
                                                    : 0;
    return ERR_OK;
}

/* ---- loop thread ---- */

static void lreq_unlink(lreq *q) {
    for (lreq **p = &q->c->reqs; *p; p = &(*p)->next) {
        if (*p == q) {
            *p = q->next;
            return;
        }
    }
}

/* Calls on_done once and forgets the request. */
static void lreq_done(lreq *q, int status, const char *error, const cocoon_usage *u) {
    lreq_unlink(q);
    q->cb.on_done(q->arg, status, error, u);
    free(q);
}

static void s_head(void *arg, int status, const client_header *h, size_t nh, bool sse,
                   const uint8_t *body, size_t n, bool final) {
    lreq *q = arg;
    (void)sse;
    (void) final;
    q->status = status;
    if (q->cb.on_head) {
        const char *ct = "";
        for (size_t i = 0; i < nh; i++) {
            if (strcasecmp(h[i].name, "content-type") == 0) {
                ct = h[i].value;
            }
        }
        q->cb.on_head(q->arg, status, ct);
    }
    if (n && q->cb.on_chunk) {
        q->cb.on_chunk(q->arg, (const char *)body, n);
    }
}

static void s_data(void *arg, const uint8_t *p, size_t n) {
    lreq *q = arg;
    if (q->cb.on_chunk) {
        q->cb.on_chunk(q->arg, (const char *)p, n);
    }
}

static void s_end(void *arg, const client_usage *u) {
    lreq *q = arg;
    cocoon_usage cu = {u->known, u->prompt, u->cached, u->completion, u->reasoning, u->total};
    /* An answer with an error status (a 4xx/5xx from the upstream) is complete but failed. */
    lreq_done(q, q->status, q->status >= 400 ? "the upstream answered with an error" : NULL, &cu);
}

static void s_error(void *arg, int status, const char *msg, bool after_head) {
    (void)after_head;
    lreq_done(arg, status, msg, NULL);
}

static const client_sink lib_sink = {s_head, s_data, s_end, s_error};

static void do_submit(cocoon_client *c, cmd *k) {
    lreq *q = calloc(1, sizeof(*q));
    if (!q) {
        k->cb.on_done(k->arg, 500, "out of memory", NULL);
        return;
    }
    q->c = c;
    q->id = k->id;
    q->cb = k->cb;
    q->arg = k->arg;
    q->next = c->reqs;
    c->reqs = q;
    int status = 500;
    err_t e = client_submit(c->cl, k->path, (const uint8_t *)k->body, k->len, NULL, &lib_sink, q,
                            &q->r, &status);
    if (e != ERR_OK) {
        lreq_done(q, status, err_describe(e), NULL);
    }
}

static void do_cancel(cocoon_client *c, uint64_t id) {
    for (lreq *q = c->reqs; q; q = q->next) {
        if (q->id == id) {
            client_req_cancel(q->r); /* no sink callback follows */
            lreq_done(q, 499, "cancelled", NULL);
            return;
        }
    }
}

static void on_tick(void *arg) {
    cocoon_client *c = arg;
    if (registry_refresher_poll(c->rf, c->reg, "libclient")) {
        client_registry_changed(c->cl);
    }
    atomic_store(&c->ready, (int)client_ready_proxies(c->cl));
    if (c->stopping && (client_stopped(c->cl) || clock_mono_ms() > c->stop_deadline)) {
        net_loop_stop(c->loop);
        return;
    }
    net_timer_arm(c->tick, c->stopping ? 5 : LIB_TICK_MS);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
    cocoon_client *c = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&c->mu);
    cmd *list = c->head;
    c->head = NULL;
    c->tail = &c->head;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        cmd *k = list;
        list = k->next;
        if (k->kind == CMD_SUBMIT) {
            do_submit(c, k);
        } else if (k->kind == CMD_CANCEL) {
            do_cancel(c, k->id);
        } else if (!c->stopping) {
            c->stopping = true;
            c->stop_deadline = clock_mono_ms() + LIB_STOP_MS;
            client_stop(c->cl); /* fails open requests: on_done(503) through the sink */
            net_timer_arm(c->tick, 0);
        }
        free(k->body);
        free(k);
    }
}

static void *loop_main(void *arg) {
    cocoon_client *c = arg;
    if (net_loop_run(c->loop) != ERR_OK) {
        LOGE("libclient", "event loop failed");
    }
    return NULL;
}

/* ---- application threads ---- */

static void post(cocoon_client *c, cmd *k) {
    k->next = NULL;
    *c->tail = k;
    c->tail = &k->next;
}

static int set_err(char *err, size_t errlen, const char *what, err_t e) {
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s", what, err_describe(e));
    }
    return -1;
}

static void lib_free(cocoon_client *c) {
    registry_refresher_free(c->rf);
    if (c->tick) {
        net_timer_free(c->tick);
    }
    if (c->wake) {
        event_free(c->wake);
    }
    client_free(c->cl);
    ratls_ctx_free(c->tls);
    ratls_policy_cleanup(&c->proxy_pol);
    ratls_policy_cleanup(&c->worker_pol);
    cert_rotor_free(c->rotor);
    registry_free(c->reg);
    net_loop_free(c->loop);
    for (cmd *k = c->head, *n; k; k = n) {
        n = k->next;
        free(k->body);
        free(k);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Pinned roots: the fake CA's when given (test networks), Intel's otherwise. */
static err_t make_policy(const uint8_t *root, ratls_policy *p) {
    ratls_policy_init(p);
    if (root) {
        p->nroots = 0;
        TRY(ratls_policy_add_root(p, root));
    }
    p->require_tdx = true;
    return ERR_OK;
}

int cocoon_client_new(const cocoon_client_config *cfg, cocoon_client **out, char *err,
                      size_t errlen) {
    *out = NULL;
    if (!cfg) {
        return set_err(err, errlen, "config", err_fail(ERR_CONFIG, "no config"));
    }
    registry_source src;
    unsigned every_s = 0;
    err_t se = lib_registry_source(cfg, &src, &every_s);
    if (se != ERR_OK) {
        return set_err(err, errlen, "registry", se);
    }
    const char *key = cfg->ton_api_key ? cfg->ton_api_key : getenv("COCOON_TON_API_KEY");
    if (key && strlen(key) >= REGISTRY_REFRESH_API_KEY_MAX) {
        return set_err(err, errlen, "config", err_fail(ERR_CONFIG, "ton_api_key too long"));
    }
    int lvl = log_level_parse(cfg->log_level ? cfg->log_level : "warn");
    if (lvl < 0) {
        return set_err(err, errlen, "config", err_fail(ERR_CONFIG, "bad log_level"));
    }
    log_set_level((log_level_t)lvl);
    cocoon_client *c = calloc(1, sizeof(*c));
    if (!c) {
        return set_err(err, errlen, "client", ERR_NOMEM);
    }
    pthread_mutex_init(&c->mu, NULL);
    c->tail = &c->head;
    c->next_id = 1;
    ratls_policy_init(&c->proxy_pol);
    ratls_policy_init(&c->worker_pol);
    snprintf(c->owner, sizeof(c->owner), "%s", cfg->owner_address ? cfg->owner_address : "");
    uint8_t root[64];
    bool have_root = false;
    const char *what = "registry";
    err_t e = registry_source_load(&src, key, 0, &c->reg);
    if (e == ERR_OK) {
        char desc[1200];
        registry_source_describe(&src, desc, sizeof(desc));
        LOGI("libclient", "registry from %s: version %lld, %zu proxies%s", desc,
             (long long)registry_version(c->reg), registry_proxy_count(c->reg),
             every_s ? ", refreshed" : "");
    }
    if (e == ERR_OK && cfg->fake_ca_dir) {
        what = "fake CA";
        fake_ca *ca = NULL;
        e = fake_ca_open(cfg->fake_ca_dir, clock_unix(), &ca);
        if (e == ERR_OK) {
            memcpy(root, fake_ca_root_pub(ca), 64);
            have_root = true;
            fake_ca_free(ca);
        }
    }
    if (e == ERR_OK) {
        what = "event loop";
        c->loop = net_loop_new();
        e = c->loop ? ERR_OK : ERR_NOMEM;
    }
    if (e == ERR_OK) {
        /* The application is not in a TD: its certificate carries no quote (no provider; the
         * proxies' client port accepts any peer, reference §1.7). */
        what = "certificate";
        static const char sw[] = "libcocoon-client";
        static const char role[] = "client";
        static const ratls_claim claims[2] = {
            {RATLS_CLAIM_SOFTWARE, (const uint8_t *)sw, sizeof(sw) - 1},
            {RATLS_CLAIM_ROLE, (const uint8_t *)role, sizeof(role) - 1}};
        e = cert_rotor_new(c->loop, NULL, LIB_CERT_SECS, claims, 2, &c->rotor);
    }
    if (e == ERR_OK) {
        what = "policy";
        ratls_policy_cleanup(&c->proxy_pol);
        ratls_policy_cleanup(&c->worker_pol);
        e = make_policy(have_root ? root : NULL, &c->proxy_pol);
        if (e == ERR_OK) {
            e = make_policy(have_root ? root : NULL, &c->worker_pol);
        }
    }
    if (e == ERR_OK) {
        what = "TLS";
        e = ratls_ctx_new(RATLS_CLIENT, cert_rotor_identity(c->rotor), &c->proxy_pol, &c->tls);
        if (e == ERR_OK) {
            e = cert_rotor_attach(c->rotor, c->tls);
        }
    }
    if (e == ERR_OK) {
        what = "client";
        client_config cc;
        client_config_init(&cc);
        cc.tls = c->tls;
        cc.reg = c->reg;
        cc.http_listen = NULL; /* no HTTP API: requests come through client_submit */
        cc.owner_address = c->owner;
        cc.is_test = cfg->is_test != 0;
        if (cfg->timeout_s > 0) {
            cc.timeout = cfg->timeout_s;
        }
        cc.worker_policy = &c->worker_pol;
        cc.require_evidence = cfg->require_evidence != 0;
        cc.evidence_signatures = cfg->evidence_signatures != 0;
        e = client_new(c->loop, &cc, &c->cl);
    }
    if (e == ERR_OK) {
        what = "event loop";
        c->wake = event_new(net_loop_base(c->loop), -1, 0, on_wake, c);
        c->tick = net_timer_new(c->loop, on_tick, c);
        e = c->wake && c->tick ? ERR_OK : ERR_NOMEM;
    }
    if (e == ERR_OK) {
        net_timer_arm(c->tick, 0);
        /* The loop thread and the registry refresh thread take no signals (they inherit this
         * mask): signals stay with the application's threads, and a write to a closed socket
         * gets EPIPE instead of killing the process. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (every_s) {
            what = "registry refresh";
            e = registry_refresher_start(&src, every_s, key, &c->rf);
        }
        if (e == ERR_OK) {
            what = "event loop";
            int rc = pthread_create(&c->th, NULL, loop_main, c);
            c->started = rc == 0;
            e = rc == 0 ? ERR_OK : err_fail(ERR_INTERNAL, "pthread_create failed");
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (e != ERR_OK) {
        set_err(err, errlen, what, e);
        lib_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int cocoon_client_ready_proxies(cocoon_client *c) {
    return atomic_load(&c->ready);
}

int cocoon_client_wait_ready(cocoon_client *c, int timeout_ms) {
    uint64_t end = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (atomic_load(&c->ready) > 0) {
            return 1;
        }
        if (clock_mono_ms() >= end) {
            return 0;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

uint64_t cocoon_client_submit(cocoon_client *c, const char *path, const char *json, size_t len,
                              const cocoon_callbacks *cb, void *arg) {
    if (!cb || !cb->on_done || !path || (!json && len)) {
        return 0;
    }
    cmd *k = calloc(1, sizeof(*k));
    char *body = malloc(len ? len : 1);
    if (!k || !body) {
        free(k);
        free(body);
        return 0;
    }
    k->kind = CMD_SUBMIT;
    snprintf(k->path, sizeof(k->path), "%s", path);
    if (strlen(path) >= sizeof(k->path)) {
        k->path[0] = 0; /* unknown path: answered with 404 */
    }
    if (len) {
        memcpy(body, json, len);
    }
    k->body = body;
    k->len = len;
    k->cb = *cb;
    k->arg = arg;
    pthread_mutex_lock(&c->mu);
    if (c->closed) {
        pthread_mutex_unlock(&c->mu);
        free(body);
        free(k);
        return 0;
    }
    k->id = c->next_id++;
    uint64_t id = k->id;
    post(c, k);
    pthread_mutex_unlock(&c->mu);
    event_active(c->wake, EV_READ, 0);
    return id;
}

void cocoon_client_cancel(cocoon_client *c, uint64_t id) {
    cmd *k = calloc(1, sizeof(*k));
    if (!k) {
        return;
    }
    k->kind = CMD_CANCEL;
    k->id = id;
    pthread_mutex_lock(&c->mu);
    if (c->closed) {
        pthread_mutex_unlock(&c->mu);
        free(k);
        return;
    }
    post(c, k);
    pthread_mutex_unlock(&c->mu);
    event_active(c->wake, EV_READ, 0);
}

void cocoon_client_free(cocoon_client *c) {
    if (!c) {
        return;
    }
    if (c->started) {
        cmd *k = calloc(1, sizeof(*k));
        pthread_mutex_lock(&c->mu);
        c->closed = true;
        if (k) {
            k->kind = CMD_STOP;
            post(c, k);
        }
        pthread_mutex_unlock(&c->mu);
        if (!k) {
            net_loop_stop(c->loop); /* out of memory: stop without the graceful close */
        }
        event_active(c->wake, EV_READ, 0);
        pthread_join(c->th, NULL);
        /* Requests the stop could not fail (it timed out) end here, still exactly once. */
        while (c->reqs) {
            lreq *q = c->reqs;
            lreq_done(q, 503, "client shutting down", NULL);
        }
    }
    lib_free(c);
}
