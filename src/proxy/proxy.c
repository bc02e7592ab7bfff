/* Proxy role (see proxy.h). One loop thread owns everything here. */
#include "proxy/proxy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/cur.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "http/evidence.h"
#include "http/stats.h"
#include "link/link.h"
#include "net/sock.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/tl.h"

#define MAGIC_PROXY 0x50525859u
#define MAGIC_WORKER 0x574b5252u
#define MAGIC_CLIENT 0x434c4e54u
#define PROXY_MAX_TRIES 8
#define EWMA_ALPHA 0.2
#define PROXY_REP_HALF_LIFE_S 60.0 /* an outcome counts half after a minute */

typedef struct preq preq;

typedef struct pworker {
    uint32_t magic;
    proxy *p;
    link_conn *c;
    bool ready;
    bool disabled;
    char model[256];
    char base[256];
    int32_t coefficient;
    int32_t max_active;
    int32_t active;
    uint8_t image[32];
    bool revoked;        /* no longer allowed by the registry: closing */
    double ewma_ttfb_ms; /* time to the answer head */
    uint64_t ok, failed;
    /* The worker's evidence certificate as it last sent it in full, and its id (hex SHA-256
     * of the header value): later heads name it by id (http/evidence.h). */
    char *cert64;
    char cert_id[65];
    /* Reputation (docs/network.md): outcomes weighted by age (half-life PROXY_REP_HALF_LIFE_S)
     * and the time of the last head measured and of the last pick, for exploration. */
    double rep_ok, rep_fail;
    uint64_t rep_ms, ttfb_ms_at, picked_ms;
    uint8_t key[32]; /* its RA-TLS key: the reputation outlives the link (rep_memory) */
    struct pworker *next;
} pworker;

/* Reputation of workers whose link closed, by RA-TLS key, so a worker that breaks its link
 * (bad frames, a crash) comes back with its record instead of a clean slate. */
#define PROXY_REP_MEMORY 256
typedef struct {
    bool used;
    uint8_t key[32];
    double rep_ok, rep_fail, ewma_ttfb_ms;
    uint64_t rep_ms, ttfb_ms_at, picked_ms;
} rep_memory;

typedef struct pclient {
    uint32_t magic;
    proxy *p;
    link_conn *c;
    bool ready;
    int32_t active;
    /* Ids of the worker certificates this client link has had in full, oldest replaced first
     * (the client keeps the same window). */
    char cert_ids[EVIDENCE_LINK_CERTS][65];
    size_t ncert_ids, cert_next;
    struct pclient *next;
} pclient;

struct preq {
    proxy *p;
    pclient *cl;
    pworker *w;
    uint8_t client_id[32];
    uint8_t worker_id[32];
    buf query;
    char model[256];
    int32_t max_coefficient;
    double timeout;
    int attempts;
    pworker *tried[PROXY_MAX_TRIES];
    bool head_sent;
    uint64_t sent_ns;
    double start;
    net_timer *timer;
    preq *next;
};

struct proxy {
    uint32_t magic;
    proxy_config cfg;
    net_loop *loop;
    link_server *wsrv;
    link_server *csrv;
    pworker *workers;
    pclient *clients;
    preq *reqs;
    size_t nreqs;
    char owner[256];
    rep_memory rep_mem[PROXY_REP_MEMORY];
    size_t rep_next;
    /* counters */
    uint64_t n_requests, n_ok, n_failed, n_retries, n_cancelled, n_timeouts, n_explored;
    int64_t prompt_tokens, completion_tokens, total_tokens;
};

void proxy_config_init(proxy_config *c) {
    memset(c, 0, sizeof(*c));
    c->worker_listen = "127.0.0.1:0";
    c->client_listen = "127.0.0.1:0";
    c->owner_address = "";
    c->pow_difficulty = 20;
    c->max_attempts = 3;
    c->explore_ms = 10000;
    c->max_client_active = 256;
    c->max_timeout = 600;
}

/* First 8 bytes of a request id in hex: the key that ties log lines of one request together
 * (the client's id at the client and proxy, the proxy's id for it at the worker). */
static const char *rid(const uint8_t id[32], char out[17]) {
    hex_encode(id, 8, out);
    return out;
}

static err_t answer_msg(link_conn *c, uint64_t qid, const tlo_desc *d, const void *m) {
    buf b;
    buf_init(&b, PROTO_FRAME_MAX);
    err_t e = tlo_encode(&b, d, m);
    if (e == ERR_OK) {
        e = link_answer(c, qid, b.data, b.len);
    }
    buf_free(&b);
    return e;
}

static void fill_params(proxy *p, cm_proxy_params *pp) {
    memset(pp, 0, sizeof(*pp));
    pp->flags = 3;
    if (p->cfg.public_key) {
        memcpy(pp->proxy_public_key, p->cfg.public_key, 32);
    }
    pp->proxy_owner_address = tl_bytes_str(p->owner);
    pp->proxy_sc_address = tl_bytes_str("");
    pp->is_test = p->cfg.is_test;
    pp->proto_version = 1;
}

/* ---- requests ---- */

static void req_free(preq *r) {
    proxy *p = r->p;
    for (preq **pp = &p->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    p->nreqs--;
    if (r->w) {
        r->w->active--;
    }
    if (r->cl) {
        r->cl->active--;
    }
    net_timer_free(r->timer);
    buf_free(&r->query);
    free(r);
}

static void client_error(preq *r, int32_t code, const char *msg) {
    r->p->n_failed++;
    char k[17];
    LOGI("proxy", "req=%s failed: %d %s", rid(r->client_id, k), code, msg);
    if (!r->cl || !r->cl->c) {
        return;
    }
    cm_client_query_answer_error_ex m;
    memset(&m, 0, sizeof(m));
    memcpy(m.request_id, r->client_id, 32);
    m.error_code = code;
    m.error = tl_bytes_str(msg);
    err_t e = link_send_msg(r->cl->c, &cm_client_query_answer_error_ex_desc, &m);
    if (e != ERR_OK) {
        LOGW("proxy", "error answer not sent to client: %s", err_describe(e));
    }
}

/* Tells the worker to stop (our extension: proxy.queryAnswerErrorEx towards the worker). */
static void worker_cancel(preq *r) {
    if (!r->w || !r->w->c) {
        return;
    }
    cm_proxy_query_answer_error_ex m;
    memset(&m, 0, sizeof(m));
    memcpy(m.request_id, r->worker_id, 32);
    m.error_code = 499;
    m.error = tl_bytes_str("cancelled");
    err_t e = link_send_msg(r->w->c, &cm_proxy_query_answer_error_ex_desc, &m);
    if (e != ERR_OK) {
        LOGW("proxy", "cancel not sent to worker: %s", err_describe(e));
    }
}

static bool tried(const preq *r, const pworker *w) {
    for (int i = 0; i < r->attempts && i < PROXY_MAX_TRIES; i++) {
        if (r->tried[i] == w) {
            return true;
        }
    }
    return false;
}

/* Counts an outcome: the lifetime counters for stats, and the decayed ones for selection. */
static void outcome(pworker *w, bool ok) {
    uint64_t now = clock_mono_ms();
    double f = exp2(-(double)(now - w->rep_ms) / (1000.0 * PROXY_REP_HALF_LIFE_S));
    w->rep_ok = w->rep_ok * f + (ok ? 1 : 0);
    w->rep_fail = w->rep_fail * f + (ok ? 0 : 1);
    w->rep_ms = now;
    if (ok) {
        w->ok++;
    } else {
        w->failed++;
    }
}

/* Reference §3.1 filters (model base name, not disabled, not full, coefficient ≤ max), then
 * the least loaded worker; ties go to the lower failure share failed / (ok + failed + 1), then
 * the lower EWMA of the time to the answer head (docs/network.md). */
static pworker *choose(proxy *p, preq *r, int *why) {
    pworker *best = NULL, *explore = NULL;
    double best_score = 0;
    uint64_t now = clock_mono_ms();
    *why = 404;
    for (pworker *w = p->workers; w; w = w->next) {
        if (!w->ready || strcmp(w->base, r->model) != 0) {
            continue;
        }
        if (*why == 404) {
            *why = 503;
        }
        if (w->disabled || w->active >= w->max_active || w->coefficient > r->max_coefficient ||
            tried(r, w)) {
            continue;
        }
        /* Exploration: an idle worker not picked for explore_ms gets this request, so one
         * that was slow or failing and has recovered is measured again (its stale figures are
         * then replaced, not averaged: w_answer_head). */
        if (w->active == 0 && now - w->picked_ms >= p->cfg.explore_ms && w->picked_ms != 0) {
            explore = explore ? explore : w;
        }
        /* A worker never measured scores 0 on both terms, so it gets tried. */
        double f = exp2(-(double)(now - w->rep_ms) / (1000.0 * PROXY_REP_HALF_LIFE_S));
        double fail = w->rep_fail * f / (w->rep_ok * f + w->rep_fail * f + 1);
        double score = (double)w->active * 1e6 + fail * 1e5 + w->ewma_ttfb_ms;
        if (!best || score < best_score) {
            best = w;
            best_score = score;
        }
    }
    if (explore && explore != best && p->cfg.explore_ms > 0) {
        p->n_explored++;
        best = explore;
    }
    if (best) {
        best->picked_ms = now;
    }
    return best;
}

static void dispatch(preq *r);

static void on_req_timeout(void *arg) {
    preq *r = arg;
    char k[17];
    LOGW("proxy", "req=%s timed out after %.1f s", rid(r->client_id, k), r->timeout);
    r->p->n_timeouts++;
    if (r->w) {
        outcome(r->w, false);
    }
    worker_cancel(r);
    client_error(r, 504, "request timed out");
    req_free(r);
}

static void retry_or_fail(preq *r, int32_t code, const char *msg) {
    if (r->w) {
        outcome(r->w, false);
        r->w->active--;
        r->w = NULL;
    }
    if (!r->head_sent && r->attempts < r->p->cfg.max_attempts && r->attempts < PROXY_MAX_TRIES) {
        char k[17];
        LOGI("proxy", "req=%s retrying on another worker after: %s", rid(r->client_id, k), msg);
        r->p->n_retries++;
        dispatch(r);
        return;
    }
    client_error(r, code, msg);
    req_free(r);
}

static void dispatch(preq *r) {
    proxy *p = r->p;
    int why;
    pworker *w = choose(p, r, &why);
    if (!w) {
        if (r->attempts > 0) {
            client_error(r, 502, "no other worker could take the request");
        } else if (why == 404) {
            char msg[300];
            snprintf(msg, sizeof(msg), "model \"%s\" not found", r->model);
            client_error(r, 404, msg);
        } else {
            client_error(r, 503, "no ready workers for this model");
        }
        req_free(r);
        return;
    }
    r->tried[r->attempts++] = w;
    rand_id(r->worker_id, 32);
    cm_proxy_run_query_ex m;
    memset(&m, 0, sizeof(m));
    m.query = tl_bytes_of(r->query.data, r->query.len);
    m.signed_payment.id = CM_PROXY_SIGNED_PAYMENT_EMPTY_ID;
    m.coefficient = w->coefficient;
    m.timeout = r->timeout * 0.95;
    memcpy(m.request_id, r->worker_id, 32);
    err_t e = link_send_msg(w->c, &cm_proxy_run_query_ex_desc, &m);
    if (e != ERR_OK) {
        outcome(w, false);
        LOGW("proxy", "could not send to worker: %s", err_describe(e));
        r->w = NULL;
        retry_or_fail(r, 502, "worker unreachable");
        return;
    }
    r->w = w;
    w->active++;
    char k[17], kw[17];
    LOGI("proxy", "req=%s model %s -> worker %s as wreq=%s (attempt %d)", rid(r->client_id, k),
         r->model, link_peer_addr(w->c), rid(r->worker_id, kw), r->attempts);
    r->sent_ns = clock_mono_ns();
}

static preq *find_by_worker(proxy *p, pworker *w, const uint8_t id[32]) {
    for (preq *r = p->reqs; r; r = r->next) {
        if (r->w == w && memcmp(r->worker_id, id, 32) == 0) {
            return r;
        }
    }
    return NULL;
}

static void conv_final(const cm_proxy_query_final_info *in, preq *r,
                       cm_client_query_final_info *o) {
    memset(o, 0, sizeof(*o));
    o->flags = 2;
    o->tokens_used = in->tokens_used;
    o->proxy_start_time = r->start;
    o->proxy_end_time = clock_unix_f();
    if (in->flags & 1) {
        /* The worker's debug JSON carries its signed evidence: relay it untouched. */
        o->flags |= 1;
        o->worker_debug = in->worker_debug;
        o->proxy_debug = tl_bytes_str("");
    }
    if (in->flags & 2) {
        o->worker_start_time = in->worker_start_time;
        o->worker_end_time = in->worker_end_time;
    }
}

static void finish_ok(preq *r, const cm_proxy_query_final_info *fi) {
    outcome(r->w, true);
    proxy *p = r->p;
    p->n_ok++;
    const cm_tokens_used *t = &fi->tokens_used;
    p->prompt_tokens += t->prompt_tokens_used + t->cached_tokens_used;
    p->completion_tokens += t->completion_tokens_used + t->reasoning_tokens_used;
    p->total_tokens += t->total_tokens_used;
    char k[17];
    LOGI("proxy", "req=%s done: %lld tokens", rid(r->client_id, k),
         (long long)fi->tokens_used.total_tokens_used);
    req_free(r);
}

/* Keeps the worker's certificate when a head carries it in full. Called before the request is
 * looked up: a head for a request gone meanwhile still introduces the certificate that later
 * heads name by id. */
static void remember_worker_cert(pworker *w, const cm_http_response *hr) {
    for (uint32_t i = 0; i < hr->headers_count; i++) {
        const cm_http_header *h = &hr->headers[i];
        if (!tl_bytes_eq_nocase(h->name, EVIDENCE_CERT_HEADER)) {
            continue;
        }
        if (w->cert64 && strlen(w->cert64) == h->value.len &&
            memcmp(w->cert64, h->value.p, h->value.len) == 0) {
            return;
        }
        char *t = malloc(h->value.len + 1);
        if (!t) {
            return;
        }
        memcpy(t, h->value.p, h->value.len);
        t[h->value.len] = 0;
        uint8_t id[32];
        sha256(h->value.p, h->value.len, id);
        hex_encode(id, 32, w->cert_id);
        free(w->cert64);
        w->cert64 = t;
        return;
    }
}

static bool client_has_cert(const pclient *cl, const char *id) {
    for (size_t i = 0; i < cl->ncert_ids; i++) {
        if (strcmp(cl->cert_ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static void client_add_cert(pclient *cl, const char *id) {
    snprintf(cl->cert_ids[cl->cert_next], sizeof(cl->cert_ids[0]), "%s", id);
    cl->cert_next = (cl->cert_next + 1) % EVIDENCE_LINK_CERTS;
    if (cl->ncert_ids < EVIDENCE_LINK_CERTS) {
        cl->ncert_ids++;
    }
}

/* A measurement older than the exploration interval says little about the worker now. */
static bool p_explore_stale(const pworker *w, uint64_t now) {
    return w->p->cfg.explore_ms > 0 && now - w->ttfb_ms_at >= w->p->cfg.explore_ms;
}

static void w_answer_head(pworker *w, const uint8_t *data, size_t n) {
    cur c;
    cur_init(&c, data, n);
    cm_proxy_query_answer_ex m;
    if (cm_proxy_query_answer_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        LOGW("proxy", "bad proxy.queryAnswerEx from worker %s", link_peer_addr(w->c));
        outcome(w, false);
        link_close(w->c);
        return;
    }
    cm_http_response hr;
    cur hc;
    cur_init(&hc, m.answer.p, m.answer.len);
    bool hok = cm_http_response_decode(&hc, &hr) == ERR_OK;
    if (hok && (cur_left(&hc) != 0 || hr.headers_count >= 256)) {
        cm_http_response_free(&hr);
        hok = false;
    }
    if (hok) {
        remember_worker_cert(w, &hr);
    }
    preq *r = find_by_worker(w->p, w, m.request_id);
    if (!r || r->head_sent) {
        if (hok) {
            cm_http_response_free(&hr);
        }
        cm_proxy_query_answer_ex_free(&m);
        return;
    }
    double ttfb = (double)(clock_mono_ns() - r->sent_ns) / 1e6;
    uint64_t now = clock_mono_ms();
    bool stale = p_explore_stale(w, now);
    w->ewma_ttfb_ms = w->ewma_ttfb_ms == 0 || stale
                          ? ttfb
                          : (1 - EWMA_ALPHA) * w->ewma_ttfb_ms + EWMA_ALPHA * ttfb;
    w->ttfb_ms_at = now;
    r->head_sent = true;
    buf_free(&r->query); /* no retry after the first byte */
    /* The head for the client: X-Cocoon-Proxy-Start added (reference §1.8 step 4), and the
     * worker's certificate in full the first time on this client link, by id afterwards. */
    buf nb;
    buf_init(&nb, PROTO_FRAME_MAX);
    tl_bytes answer = m.answer;
    cm_http_header *hv = NULL;
    uint8_t *altered = NULL;
    const char *added_id = NULL;
    if (hok && (hv = calloc(hr.headers_count + 2, sizeof(*hv))) != NULL) {
        uint32_t k = 0;
        bool evidence = false;
        for (uint32_t i = 0; i < hr.headers_count; i++) {
            const cm_http_header *h = &hr.headers[i];
            if (tl_bytes_eq_nocase(h->name, EVIDENCE_CERT_HEADER)) {
                evidence = true; /* remembered above */
                continue;
            }
            if (tl_bytes_eq_nocase(h->name, EVIDENCE_CERT_ID_HEADER)) {
                /* Only the certificate we hold for this worker link can be named. */
                evidence =
                    w->cert64 && h->value.len == 64 && memcmp(h->value.p, w->cert_id, 64) == 0;
                continue;
            }
            hv[k++] = *h;
        }
        char st[32];
        snprintf(st, sizeof(st), "%.3f", r->start);
        hv[k].name = tl_bytes_str("X-Cocoon-Proxy-Start");
        hv[k].value = tl_bytes_str(st);
        k++;
        if (evidence && w->cert64 && r->cl) {
            const char *fault = w->p->cfg.fault;
            if (client_has_cert(r->cl, w->cert_id) || (fault && strcmp(fault, "cert") == 0)) {
                hv[k].name = tl_bytes_str(EVIDENCE_CERT_ID_HEADER);
                hv[k].value = tl_bytes_str(w->cert_id);
            } else {
                hv[k].name = tl_bytes_str(EVIDENCE_CERT_HEADER);
                hv[k].value = tl_bytes_str(w->cert64);
                added_id = w->cert_id;
            }
            k++;
        }
        cm_http_response h2 = hr;
        h2.headers = hv;
        h2.headers_count = k;
        const char *fault = w->p->cfg.fault;
        if (fault && strcmp(fault, "body") == 0 && hr.payload.len > 0 &&
            (altered = malloc(hr.payload.len)) != NULL) {
            memcpy(altered, hr.payload.p, hr.payload.len);
            altered[hr.payload.len / 2] ^= 0x01;
            h2.payload = tl_bytes_of(altered, hr.payload.len);
        }
        if (cm_http_response_encode(&nb, &h2) == ERR_OK) {
            answer = tl_bytes_of(nb.data, nb.len);
        } else {
            added_id = NULL;
        }
    }
    cm_client_query_answer_ex out;
    memset(&out, 0, sizeof(out));
    memcpy(out.request_id, r->client_id, 32);
    out.answer = answer;
    out.flags = m.flags & 1;
    if (m.flags & 1) {
        conv_final(&m.final_info, r, &out.final_info);
        const char *fault = w->p->cfg.fault;
        if (fault && strcmp(fault, "usage") == 0) {
            out.final_info.tokens_used.completion_tokens_used++;
            out.final_info.tokens_used.total_tokens_used++;
        }
    }
    err_t e = r->cl && r->cl->c ? link_send_msg(r->cl->c, &cm_client_query_answer_ex_desc, &out)
                                : ERR_EOF;
    free(altered);
    if (e == ERR_OK && added_id) {
        client_add_cert(r->cl, added_id);
    }
    free(hv);
    buf_free(&nb);
    if (hok) {
        cm_http_response_free(&hr);
    }
    if (e != ERR_OK) {
        LOGW("proxy", "answer head not relayed: %s", err_describe(e));
    }
    if (m.flags & 1) {
        finish_ok(r, &m.final_info);
    }
    cm_proxy_query_answer_ex_free(&m);
}

static void w_answer_part(pworker *w, const uint8_t *data, size_t n) {
    cur c;
    cur_init(&c, data, n);
    cm_proxy_query_answer_part_ex m;
    if (cm_proxy_query_answer_part_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        LOGW("proxy", "bad proxy.queryAnswerPartEx from worker %s", link_peer_addr(w->c));
        outcome(w, false);
        link_close(w->c);
        return;
    }
    preq *r = find_by_worker(w->p, w, m.request_id);
    if (!r || !r->head_sent) {
        cm_proxy_query_answer_part_ex_free(&m);
        return;
    }
    cm_client_query_answer_part_ex out;
    memset(&out, 0, sizeof(out));
    memcpy(out.request_id, r->client_id, 32);
    out.answer = m.answer;
    out.flags = m.flags & 1;
    if (m.flags & 1) {
        conv_final(&m.final_info, r, &out.final_info);
    }
    uint8_t *altered = NULL;
    const char *fault = w->p->cfg.fault;
    if (fault && strcmp(fault, "usage") == 0 && (m.flags & 1)) {
        out.final_info.tokens_used.completion_tokens_used++;
        out.final_info.tokens_used.total_tokens_used++;
    } else if (fault && strcmp(fault, "body") == 0 && m.answer.len > 0 &&
               (altered = malloc(m.answer.len)) != NULL) {
        memcpy(altered, m.answer.p, m.answer.len);
        altered[m.answer.len / 2] ^= 0x01;
        out.answer = tl_bytes_of(altered, m.answer.len);
    }
    err_t e = r->cl && r->cl->c
                  ? link_send_msg(r->cl->c, &cm_client_query_answer_part_ex_desc, &out)
                  : ERR_EOF;
    free(altered);
    if (e != ERR_OK) {
        LOGW("proxy", "answer part not relayed: %s", err_describe(e));
    }
    if (m.flags & 1) {
        finish_ok(r, &m.final_info);
    }
    cm_proxy_query_answer_part_ex_free(&m);
}

static void w_answer_error(pworker *w, const uint8_t *data, size_t n) {
    cur c;
    cur_init(&c, data, n);
    cm_proxy_query_answer_error_ex m;
    if (cm_proxy_query_answer_error_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        outcome(w, false);
        link_close(w->c);
        return;
    }
    preq *r = find_by_worker(w->p, w, m.request_id);
    if (r) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%.*s", (int)(m.error.len < 500 ? m.error.len : 500),
                 (const char *)m.error.p);
        int32_t code = m.error_code;
        if (code >= 400 && code < 500 && code != 429) {
            /* The request itself is refused: another worker would say the same. */
            outcome(w, true);
            client_error(r, code, msg);
            req_free(r);
        } else {
            retry_or_fail(r, code >= 400 && code < 600 ? code : 502, msg);
        }
    }
    cm_proxy_query_answer_error_ex_free(&m);
}

/* ---- worker links ---- */

static err_t check_worker_params(proxy *p, const ratls_peer *peer, const cm_worker_params *wp) {
    /* Reference §1.7 worker checks. */
    TRY(registry_check_worker_image(p->cfg.reg, peer->image_hash));
    if (!(wp->flags & 1)) {
        return err_fail(ERR_MALFORMED, "worker.params without flags.0");
    }
    if (wp->is_test != p->cfg.is_test) {
        return err_fail(ERR_MALFORMED, "is_test differs");
    }
    if (wp->model.len == 0 || wp->model.len >= 256 || memchr(wp->model.p, 0, wp->model.len)) {
        return err_fail(ERR_MALFORMED, "bad model name");
    }
    if (wp->coefficient < 0 || wp->coefficient >= 1000000000 || wp->max_active_requests < 1 ||
        wp->proxy_cnt < 1) {
        return err_fail(ERR_MALFORMED,
                        "coefficient, max_active_requests or proxy_cnt out of range");
    }
    if ((wp->flags & 2) && (wp->min_proto_version > 1 || wp->max_proto_version < 1)) {
        return err_fail(ERR_MALFORMED, "no common protocol version");
    }
    return registry_check_model(p->cfg.reg, (const char *)wp->model.p, wp->model.len);
}

static void w_query(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg) {
    pworker *w = arg;
    proxy *p = w->p;
    uint32_t id = tl_peek_id(data, n);
    cur cu;
    cur_init(&cu, data, n);
    err_t e;
    if (id == CM_WORKER_CONNECT_TO_PROXY_ID && !w->model[0]) {
        cm_worker_connect_to_proxy m;
        e = cm_worker_connect_to_proxy_decode(&cu, &m);
        if (e == ERR_OK && cur_left(&cu) != 0) {
            e = err_fail(ERR_TRAILING, "worker.connectToProxy");
        }
        if (e == ERR_OK) {
            e = check_worker_params(p, link_peer(c), &m.params);
        }
        if (e == ERR_OK) {
            memcpy(w->model, m.params.model.p, m.params.model.len);
            w->model[m.params.model.len] = 0;
            size_t bl = registry_model_base_len(w->model, m.params.model.len);
            memcpy(w->base, w->model, bl);
            w->base[bl] = 0;
            w->coefficient = m.params.coefficient;
            /* Per-connection share, as the reference: ceil(max_active / proxy_cnt). */
            w->max_active =
                (m.params.max_active_requests + m.params.proxy_cnt - 1) / m.params.proxy_cnt;
            memcpy(w->image, link_peer(c)->image_hash, 32);
            cm_worker_connected_to_proxy a;
            memset(&a, 0, sizeof(a));
            fill_params(p, &a.params);
            a.worker_sc_address = tl_bytes_str("");
            e = answer_msg(c, qid, &cm_worker_connected_to_proxy_desc, &a);
        }
        if (id == CM_WORKER_CONNECT_TO_PROXY_ID) {
            cm_worker_connect_to_proxy_free(&m);
        }
        if (e != ERR_OK) {
            LOGW("proxy", "worker %s refused: %s", link_peer_addr(c), err_describe(e));
            if (link_answer_error(c, qid, 403, err_describe(e)) != ERR_OK) {
                link_close(c);
            }
            w->model[0] = 0;
        }
        return;
    }
    if (id == CM_WORKER_PROXY_HANDSHAKE_COMPLETE_ID && w->model[0] && !w->ready) {
        cm_worker_proxy_handshake_complete m;
        if (cm_worker_proxy_handshake_complete_decode(&cu, &m) != ERR_OK || cur_left(&cu) != 0) {
            link_close(c);
            return;
        }
        w->ready = true;
        w->disabled = m.is_disabled;
        static const uint8_t done[4] = {CM_WORKER_PROXY_HANDSHAKE_COMPLETED_ID & 0xff,
                                        (CM_WORKER_PROXY_HANDSHAKE_COMPLETED_ID >> 8) & 0xff,
                                        (CM_WORKER_PROXY_HANDSHAKE_COMPLETED_ID >> 16) & 0xff,
                                        CM_WORKER_PROXY_HANDSHAKE_COMPLETED_ID >> 24};
        if (link_answer(c, qid, done, 4) != ERR_OK) {
            link_close(c);
            return;
        }
        LOGI("proxy", "worker %s ready: model %s, coefficient %d, max active %d", link_peer_addr(c),
             w->model, w->coefficient, w->max_active);
        return;
    }
    /* Payments at price 0 (reference §1.7 step 4, §2.4): nothing is owed either way, so the
     * proxy signs nothing and its counters are zero. A worker claiming tokens we never committed
     * gets error_code 1 (the reference's "the worker knows more"), not a crash as in the
     * reference, and the claim is logged. */
    if (id == CM_WORKER_COMPARE_BALANCE_WITH_PROXY_ID && w->model[0] && !w->ready) {
        cm_worker_compare_balance_with_proxy m;
        if (cm_worker_compare_balance_with_proxy_decode(&cu, &m) != ERR_OK || cur_left(&cu) != 0) {
            link_close(c);
            return;
        }
        cm_worker_compare_balance_with_proxy_result a;
        memset(&a, 0, sizeof(a));
        a.signed_payment.id = CM_PROXY_SIGNED_PAYMENT_EMPTY_ID;
        if (m.tokens_committed_to_blockchain > 0 || m.tokens_committed_to_db > 0 ||
            m.max_tokens > 0) {
            a.error_code = 1;
            LOGW("proxy",
                 "worker %s claims tokens this proxy never committed (chain %lld, db %lld)",
                 link_peer_addr(c), (long long)m.tokens_committed_to_blockchain,
                 (long long)m.tokens_committed_to_db);
        }
        if (answer_msg(c, qid, &cm_worker_compare_balance_with_proxy_result_desc, &a) != ERR_OK) {
            link_close(c);
        }
        return;
    }
    if (id == CM_WORKER_UPDATE_PAYMENT_STATUS_ID && w->model[0] && n == 4) {
        cm_worker_payment_status a;
        memset(&a, 0, sizeof(a));
        a.signed_payment.id = CM_PROXY_SIGNED_PAYMENT_EMPTY_ID;
        if (answer_msg(c, qid, &cm_worker_payment_status_desc, &a) != ERR_OK) {
            link_close(c);
        }
        return;
    }
    if (link_answer_error(c, qid, 400, "unexpected query") != ERR_OK) {
        link_close(c);
    }
}

static void w_packet(link_conn *c, const uint8_t *data, size_t n, void *arg) {
    pworker *w = arg;
    if (!w->ready || n < 4) {
        link_close(c);
        return;
    }
    switch (tl_peek_id(data, n)) {
    case CM_PROXY_QUERY_ANSWER_EX_ID:
        w_answer_head(w, data, n);
        break;
    case CM_PROXY_QUERY_ANSWER_PART_EX_ID:
        w_answer_part(w, data, n);
        break;
    case CM_PROXY_QUERY_ANSWER_ERROR_EX_ID:
        w_answer_error(w, data, n);
        break;
    case CM_WORKER_ENABLED_DISABLED_ID: {
        /* The worker's uplink monitor (reference §6): a disabled worker gets no requests. */
        cur cu;
        cur_init(&cu, data, n);
        cm_worker_enabled_disabled m;
        if (cm_worker_enabled_disabled_decode(&cu, &m) != ERR_OK || cur_left(&cu) != 0) {
            LOGW("proxy", "bad worker.enabledDisabled from %s", link_peer_addr(c));
            link_close(c);
            return;
        }
        if (w->disabled != (m.disabled != 0)) {
            LOGI("proxy", "worker %s %s", link_peer_addr(c),
                 m.disabled ? "disabled (its upstream is down)" : "enabled again");
        }
        w->disabled = m.disabled != 0;
        break;
    }
    default:
        LOGD("proxy", "ignoring worker message 0x%08x", tl_peek_id(data, n));
    }
}

static rep_memory *rep_find(proxy *p, const uint8_t key[32]) {
    for (size_t i = 0; i < PROXY_REP_MEMORY; i++) {
        if (p->rep_mem[i].used && memcmp(p->rep_mem[i].key, key, 32) == 0) {
            return &p->rep_mem[i];
        }
    }
    return NULL;
}

static void w_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    proxy *p = arg;
    pworker *w = calloc(1, sizeof(*w));
    if (!w) {
        link_close(c);
        return;
    }
    w->magic = MAGIC_WORKER;
    w->p = p;
    w->c = c;
    memcpy(w->key, peer->pubkey, 32);
    const rep_memory *m = rep_find(p, w->key);
    if (m) {
        w->rep_ok = m->rep_ok;
        w->rep_fail = m->rep_fail;
        w->rep_ms = m->rep_ms;
        w->ewma_ttfb_ms = m->ewma_ttfb_ms;
        w->ttfb_ms_at = m->ttfb_ms_at;
        w->picked_ms = m->picked_ms;
    }
    w->next = p->workers;
    p->workers = w;
    link_set_arg(c, w);
}

static void w_close(link_conn *c, err_t why, void *arg) {
    (void)c;
    if (!arg || *(uint32_t *)arg != MAGIC_WORKER) {
        return;
    }
    pworker *w = arg;
    proxy *p = w->p;
    LOGI("proxy", "worker link closed: %s", why == ERR_OK ? "ok" : err_describe(why));
    w->c = NULL;
    w->ready = false;
    for (preq *r = p->reqs, *next; r; r = next) {
        next = r->next;
        if (r->w == w) {
            retry_or_fail(r, 502, "worker disconnected");
        }
    }
    for (preq *r = p->reqs; r; r = r->next) {
        for (int i = 0; i < r->attempts && i < PROXY_MAX_TRIES; i++) {
            if (r->tried[i] == w) {
                r->tried[i] = NULL;
            }
        }
    }
    /* Requests it held have counted against it above; keep the record. */
    rep_memory *m = rep_find(p, w->key);
    if (!m) {
        m = &p->rep_mem[p->rep_next];
        p->rep_next = (p->rep_next + 1) % PROXY_REP_MEMORY;
    }
    *m = (rep_memory){true,      {0},           w->rep_ok,   w->rep_fail, w->ewma_ttfb_ms,
                      w->rep_ms, w->ttfb_ms_at, w->picked_ms};
    memcpy(m->key, w->key, 32);
    for (pworker **pp = &p->workers; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    free(w->cert64);
    free(w);
}

/* ---- client links ---- */

static void c_run_query(pclient *cl, const uint8_t *data, size_t n) {
    proxy *p = cl->p;
    cur c;
    cur_init(&c, data, n);
    cm_client_run_query_ex m;
    if (cm_client_run_query_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        LOGW("proxy", "bad client.runQueryEx from %s", link_peer_addr(cl->c));
        link_close(cl->c);
        return;
    }
    preq *r = calloc(1, sizeof(*r));
    if (!r) {
        cm_client_run_query_ex_free(&m);
        return;
    }
    r->p = p;
    r->cl = cl;
    cl->active++;
    memcpy(r->client_id, m.request_id, 32);
    buf_init(&r->query, PROTO_FRAME_MAX);
    r->max_coefficient = m.max_coefficient;
    r->timeout = m.timeout > 0 && m.timeout < p->cfg.max_timeout ? m.timeout : p->cfg.max_timeout;
    r->start = clock_unix_f();
    r->next = p->reqs;
    p->reqs = r;
    p->nreqs++;
    p->n_requests++;
    size_t ml = m.model_name.len < 255 ? m.model_name.len : 255;
    memcpy(r->model, m.model_name.p, ml);
    r->model[ml] = 0;
    err_t e = buf_append(&r->query, m.query.p, m.query.len);
    cm_client_run_query_ex_free(&m);
    r->timer = net_timer_new(p->loop, on_req_timeout, r);
    if (e != ERR_OK || !r->timer) {
        client_error(r, 500, "out of memory");
        req_free(r);
        return;
    }
    if (cl->active > p->cfg.max_client_active) {
        client_error(r, 429, "too many concurrent requests from this client");
        req_free(r);
        return;
    }
    net_timer_arm(r->timer, (uint64_t)(r->timeout * 1000.0));
    dispatch(r);
}

static void c_cancel(pclient *cl, const uint8_t *data, size_t n) {
    cur c;
    cur_init(&c, data, n);
    cm_client_query_answer_error_ex m;
    if (cm_client_query_answer_error_ex_decode(&c, &m) != ERR_OK) {
        return;
    }
    for (preq *r = cl->p->reqs; r; r = r->next) {
        if (r->cl == cl && memcmp(r->client_id, m.request_id, 32) == 0) {
            char k[17];
            LOGI("proxy", "req=%s cancelled by the client", rid(r->client_id, k));
            cl->p->n_cancelled++;
            worker_cancel(r);
            req_free(r);
            break;
        }
    }
    cm_client_query_answer_error_ex_free(&m);
}

static void c_packet(link_conn *c, const uint8_t *data, size_t n, void *arg) {
    pclient *cl = arg;
    if (!cl->ready || n < 4) {
        link_close(c);
        return;
    }
    switch (tl_peek_id(data, n)) {
    case CM_CLIENT_RUN_QUERY_EX_ID:
        c_run_query(cl, data, n);
        break;
    case CM_CLIENT_QUERY_ANSWER_ERROR_EX_ID:
        c_cancel(cl, data, n);
        break;
    default:
        LOGD("proxy", "ignoring client message 0x%08x", tl_peek_id(data, n));
    }
}

static err_t worker_types(proxy *p, link_conn *c, uint64_t qid) {
    /* client.getWorkerTypesV2 (reference §5): ready, enabled workers grouped by model. */
    size_t nw = 0;
    for (pworker *w = p->workers; w; w = w->next) {
        nw++;
    }
    cm_client_worker_type_v2 *types = calloc(nw + 1, sizeof(*types));
    cm_client_worker_instance_v2 *inst = calloc(nw + 1, sizeof(*inst));
    err_t e = ERR_NOMEM;
    if (!types || !inst) {
        goto out;
    }
    size_t nt = 0, ni = 0;
    for (pworker *w = p->workers; w; w = w->next) {
        if (!w->ready || w->disabled) {
            continue;
        }
        size_t t = 0;
        while (t < nt && !tl_bytes_eq(types[t].name, tl_bytes_str(w->base))) {
            t++;
        }
        if (t == nt) {
            types[nt].name = tl_bytes_str(w->base);
            types[nt].workers = &inst[ni];
            nt++;
        }
        /* Instances of one type must be contiguous: rebuild below. */
        (void)t;
    }
    ni = 0;
    for (size_t t = 0; t < nt; t++) {
        types[t].workers = &inst[ni];
        types[t].workers_count = 0;
        for (pworker *w = p->workers; w; w = w->next) {
            if (w->ready && !w->disabled && tl_bytes_eq(types[t].name, tl_bytes_str(w->base))) {
                inst[ni].coefficient = w->coefficient;
                inst[ni].active_requests = w->active;
                inst[ni].max_active_requests = w->max_active;
                ni++;
                types[t].workers_count++;
            }
        }
    }
    cm_client_worker_types_v2 m = {types, (uint32_t)nt};
    e = answer_msg(c, qid, &cm_client_worker_types_v2_desc, &m);
out:
    free(types);
    free(inst);
    return e;
}

static void c_query(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg) {
    pclient *cl = arg;
    proxy *p = cl->p;
    uint32_t id = tl_peek_id(data, n);
    cur cu;
    cur_init(&cu, data, n);
    err_t e = ERR_OK;
    if (id == CM_CLIENT_CONNECT_TO_PROXY_ID && !cl->ready) {
        cm_client_connect_to_proxy m;
        e = cm_client_connect_to_proxy_decode(&cu, &m);
        if (e == ERR_OK) {
            if (cur_left(&cu) != 0 || m.params.is_test != p->cfg.is_test ||
                m.min_config_version > registry_version(p->cfg.reg) ||
                ((m.params.flags & 2) &&
                 (m.params.min_proto_version > 1 || m.params.max_proto_version < 1))) {
                e = err_fail(ERR_MALFORMED, "client parameters not acceptable");
            }
            cm_client_connect_to_proxy_free(&m);
        }
        if (e == ERR_OK) {
            /* Price 0 until payments land: no authorization round, an empty voucher. */
            cm_client_connected_to_proxy a;
            memset(&a, 0, sizeof(a));
            fill_params(p, &a.params);
            a.client_sc_address = tl_bytes_str("");
            a.auth.id = CM_CLIENT_PROXY_CONNECTION_AUTH_LONG_ID;
            a.auth.u.proxy_connection_auth_long.nonce = (int64_t)rand_u64();
            a.signed_payment.id = CM_PROXY_SIGNED_PAYMENT_EMPTY_ID;
            e = answer_msg(c, qid, &cm_client_connected_to_proxy_desc, &a);
            cl->ready = e == ERR_OK;
        }
    } else if (id == CM_CLIENT_GET_WORKER_TYPES_V2_ID && cl->ready && n == 4) {
        e = worker_types(p, c, qid);
    } else if (id == CM_CLIENT_UPDATE_PAYMENT_STATUS_ID && cl->ready && n == 4) {
        /* Price 0 until payments land: no voucher, zero counters. */
        cm_client_payment_status a;
        memset(&a, 0, sizeof(a));
        a.signed_payment.id = CM_PROXY_SIGNED_PAYMENT_EMPTY_ID;
        e = answer_msg(c, qid, &cm_client_payment_status_desc, &a);
    } else {
        e = err_fail(ERR_BAD_STATE, "unexpected query 0x%08x", id);
    }
    if (e != ERR_OK) {
        LOGW("proxy", "client %s: %s", link_peer_addr(c), err_describe(e));
        if (link_answer_error(c, qid, 400, err_describe(e)) != ERR_OK) {
            link_close(c);
        }
    }
}

static void c_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    proxy *p = arg;
    (void)peer;
    pclient *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        link_close(c);
        return;
    }
    cl->magic = MAGIC_CLIENT;
    cl->p = p;
    cl->c = c;
    cl->next = p->clients;
    p->clients = cl;
    link_set_arg(c, cl);
}

static void c_close(link_conn *c, err_t why, void *arg) {
    (void)c;
    (void)why;
    if (!arg || *(uint32_t *)arg != MAGIC_CLIENT) {
        return;
    }
    pclient *cl = arg;
    proxy *p = cl->p;
    cl->c = NULL;
    for (preq *r = p->reqs, *next; r; r = next) {
        next = r->next;
        if (r->cl == cl) {
            worker_cancel(r);
            req_free(r);
        }
    }
    for (pclient **pp = &p->clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    free(cl);
}

static const link_handlers worker_handlers = {w_ready, w_packet, w_query, w_close};
static const link_handlers client_handlers = {c_ready, c_packet, c_query, c_close};

static err_t listen_on(proxy *p, const char *addr, ratls_ctx *tls, const link_handlers *h,
                       link_server **out) {
    char host[256];
    uint16_t port;
    TRY(net_parse_hostport(addr, host, sizeof(host), &port, 1));
    link_config lc;
    link_config_init(&lc, tls);
    lc.pow_difficulty = p->cfg.pow_difficulty;
    return link_listen(p->loop, host, port, &lc, h, p, out);
}

size_t proxy_registry_changed(proxy *p) {
    size_t dropped = 0;
    for (pworker *w = p->workers; w; w = w->next) {
        if (!w->c || w->revoked || !w->model[0]) {
            continue; /* closing, or not through the handshake (checked there) */
        }
        err_t e = registry_check_worker_image(p->cfg.reg, w->image);
        if (e == ERR_OK) {
            e = registry_check_model(p->cfg.reg, w->model, strlen(w->model));
        }
        if (e != ERR_OK) {
            LOGW("proxy", "worker %s (%s) is no longer allowed by the registry: %s",
                 link_peer_addr(w->c), w->model, err_describe(e));
            w->revoked = true;
            w->ready = false;
            link_close(w->c);
            dropped++;
        }
    }
    return dropped;
}

err_t proxy_new(net_loop *l, const proxy_config *cfg, proxy **out) {
    *out = NULL;
    if (!cfg->reg || !cfg->worker_tls || !cfg->client_tls || cfg->max_attempts < 1) {
        return err_fail(ERR_CONFIG, "proxy: registry, both TLS contexts and max_attempts >= 1");
    }
    proxy *p = calloc(1, sizeof(*p));
    if (!p) {
        return ERR_NOMEM;
    }
    p->magic = MAGIC_PROXY;
    p->cfg = *cfg;
    p->loop = l;
    snprintf(p->owner, sizeof(p->owner), "%s", cfg->owner_address ? cfg->owner_address : "");
    err_t e = listen_on(p, cfg->worker_listen, cfg->worker_tls, &worker_handlers, &p->wsrv);
    if (e == ERR_OK) {
        e = listen_on(p, cfg->client_listen, cfg->client_tls, &client_handlers, &p->csrv);
    }
    if (e != ERR_OK) {
        proxy_free(p);
        return e;
    }
    *out = p;
    return ERR_OK;
}

void proxy_free(proxy *p) {
    if (!p) {
        return;
    }
    while (p->reqs) {
        preq *r = p->reqs;
        worker_cancel(r);
        client_error(r, 503, "proxy shutting down");
        req_free(r);
    }
    /* Synchronous: each link's on_close runs now and frees its peer. */
    link_server_free(p->wsrv);
    link_server_free(p->csrv);
    free(p);
}

uint16_t proxy_worker_port(const proxy *p) {
    return link_server_port(p->wsrv);
}

uint16_t proxy_client_port(const proxy *p) {
    return link_server_port(p->csrv);
}

size_t proxy_ready_workers(const proxy *p) {
    size_t n = 0;
    for (const pworker *w = p->workers; w; w = w->next) {
        n += w->ready;
    }
    return n;
}

size_t proxy_active_requests(const proxy *p) {
    return p->nreqs;
}

size_t proxy_metrics(void *arg, http_metric *m, size_t cap) {
    const proxy *p = arg;
    size_t nw = 0, nc = 0, nd = 0;
    for (const pworker *w = p->workers; w; w = w->next) {
        nw += w->ready;
        nd += w->ready && w->disabled;
    }
    for (const pclient *c = p->clients; c; c = c->next) {
        nc += c->ready;
    }
    const http_metric all[] = {
        {"workers_ready", "workers that completed the handshake", false, (double)nw},
        {"workers_disabled", "ready workers that disabled themselves (upstream down)", false,
         (double)nd},
        {"clients", "client links that completed the handshake", false, (double)nc},
        {"requests_active", "requests in flight", false, (double)p->nreqs},
        {"requests_total", "requests received from clients", true, (double)p->n_requests},
        {"requests_ok_total", "requests answered completely", true, (double)p->n_ok},
        {"requests_failed_total", "requests answered with an error", true, (double)p->n_failed},
        {"retries_total", "requests re-sent to another worker before the first byte", true,
         (double)p->n_retries},
        {"cancelled_total", "requests cancelled by their client", true, (double)p->n_cancelled},
        {"explored_total", "requests sent to an idle worker to measure it again", true,
         (double)p->n_explored},
        {"timeouts_total", "requests past their timeout", true, (double)p->n_timeouts},
        {"prompt_tokens_total", "prompt tokens reported by workers", true,
         (double)p->prompt_tokens},
        {"completion_tokens_total", "completion tokens reported by workers", true,
         (double)p->completion_tokens},
        {"tokens_total", "total tokens reported by workers", true, (double)p->total_tokens},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap) {
        n = cap;
    }
    memcpy(m, all, n * sizeof(*m));
    return n;
}
