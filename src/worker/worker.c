/* Worker role (see worker.h). One loop thread owns everything here. */
#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/cur.h"
#include "base/log.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "http/evidence.h"
#include "http/openai.h"
#include "http/server.h"
#include "http/upstream.h"
#include "link/link.h"
#include "net/sock.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/tl.h"
#include "worker/builtin.h"

#define WORKER_RETRY_MS 1000
#define WORKER_RETRY_MAX_MS 10000
#define WORKER_QUERY_MS 30000 /* handshake queries, as the reference */
#define WORKER_PART_MAX ((size_t)1 << 20)
#define MAC_KEYS 64 /* evidence MAC keys remembered (one X25519 agreement per client key) */
/* A JSON (not SSE) answer is held until complete, up to this size, and goes to the proxy as one
 * message: head, body and final info together. */
#define WORKER_HOLD_MAX ((size_t)1 << 20)

enum { WL_IDLE, WL_DIALING, WL_HANDSHAKE, WL_READY };

typedef struct wlink {
    worker *w;
    bool in_use;                  /* the registry lists this proxy (else the slot is free) */
    char addr[REGISTRY_ADDR_MAX]; /* the proxy's worker address */
    uint8_t image[32];            /* the proxy's image hash, once attested */
    link_conn *c;
    int state;
    net_timer *retry;
    uint64_t backoff;
    /* The certificate (rotation count + 1) whose full text went to this proxy link: later
     * answer heads on the link name it by id only (see http/evidence.h). 0: none yet. */
    uint64_t cert_sent;
} wlink;

typedef struct wreq {
    worker *w;
    wlink *l;
    uint8_t id[32];
    http_call *call;
    builtin_call *bcall;
    openai_usage_counter uc;
    bool head_sent;
    double start;
    /* evidence (http/evidence.h) */
    bool evidence;
    ed25519_key key;    /* the certificate key in force when the head went out */
    bool has_client_kx; /* the client sent X-Cocoon-Evidence-Key: answer with a MAC */
    uint8_t client_kx[X25519_LEN];
    bool mac;
    uint8_t mac_key[32];
    uint64_t gen; /* the certificate generation (rotation + 1) of key */
    /* The answer head (http.response TL without payload and evidence certificate header), kept
     * until sent; a JSON answer's body is held with it (WORKER_HOLD_MAX). */
    buf head;
    bool hold;
    buf held;
    /* A stream's head and body bytes wait for the end of the loop pass (flush, deferred), so
     * what one pass brought from the upstream leaves as one message, and the last bytes travel
     * with the final info. */
    bool head_ready;
    buf pend;
    net_timer *flush;
    uint8_t query_hash[32];
    hash_ctx *answer_hash;
    struct wreq *next;
} wreq;

typedef struct {
    bool used;
    uint8_t client_kx[X25519_LEN];
    uint8_t worker_pub[ED25519_PUB_LEN];
    uint8_t key[32];
} mac_key_entry;

struct worker {
    worker_config cfg;
    /* The certificate in force as base64 (the X-Cocoon-Worker-Cert value) and its id, made
     * once per rotation rather than per answer. */
    char *cert64;
    uint64_t cert64_for; /* rotation count + 1 */
    char cert_id[65];
    /* The one before, for answers whose head was built before a rotation. */
    char *cert64_prev;
    uint64_t cert64_prev_for;
    char cert_id_prev[65];
    mac_key_entry mac_keys[MAC_KEYS];
    size_t mac_next; /* replaced next when the table is full (oldest first) */
    net_loop *loop;
    char model_base[256];
    http_upstream *up;
    builtin *bi;
    size_t nlinks;
    wlink links[REGISTRY_MAX_PROXIES];
    wreq *reqs;
    size_t active;
    uint64_t n_requests, n_ok, n_failed, n_refused, n_cancelled;
    int64_t prompt_tokens, completion_tokens;
    bool stopping;
    /* uplink monitor */
    net_timer *uplink;
    http_call *uplink_call;
    int uplink_status;
    bool uplink_down;
    uint64_t uplink_changes;
};

void worker_config_init(worker_config *c) {
    memset(c, 0, sizeof(*c));
    c->coefficient = 1000;
    c->max_active = 200;
    c->max_tokens = 4096;
    c->owner_address = "";
    c->upstream_timeout_ms = 120000;
    c->uplink_check_ms = 2000;
    c->pow_max_difficulty = 28;
}

/* First 8 bytes of a request id in hex: the key that ties log lines of one request together
 * (the client's id at the client and proxy, the proxy's id for it at the worker). */
static const char *rid(const uint8_t id[32], char out[17]) {
    hex_encode(id, 8, out);
    return out;
}

static void send_error(wlink *l, const uint8_t id[32], int32_t code, const char *msg) {
    if (l) {
        if (code >= 400 && code < 500) {
            l->w->n_refused++;
        } else {
            l->w->n_failed++;
        }
    }
    if (!l || !l->c) {
        return;
    }
    cm_proxy_query_answer_error_ex m;
    memset(&m, 0, sizeof(m));
    memcpy(m.request_id, id, 32);
    m.error_code = code;
    m.error = tl_bytes_str(msg);
    err_t e = link_send_msg(l->c, &cm_proxy_query_answer_error_ex_desc, &m);
    if (e != ERR_OK) {
        LOGW("worker", "error answer not sent: %s", err_describe(e));
    }
}

static void req_free(wreq *r) {
    worker *w = r->w;
    for (wreq **p = &w->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    w->active--;
    openai_usage_free(&r->uc);
    hash_free(r->answer_hash);
    buf_free(&r->head);
    buf_free(&r->held);
    buf_free(&r->pend);
    net_timer_free(r->flush);
    ed25519_wipe(&r->key);
    ct_wipe(r->mac_key, sizeof(r->mac_key));
    free(r);
}

static void req_cancel(wreq *r) {
    http_call_cancel(r->call);
    r->call = NULL;
    builtin_call_cancel(r->bcall);
    r->bcall = NULL;
    req_free(r);
}

/* The MAC key agreed with this client key under the certificate key in force: one X25519
 * agreement per (client key, certificate), remembered for the next answers. */
static err_t mac_key_for(worker *w, const uint8_t client_kx[X25519_LEN],
                         const uint8_t worker_pub[ED25519_PUB_LEN], uint8_t key[32]) {
    for (size_t i = 0; i < MAC_KEYS; i++) {
        const mac_key_entry *m = &w->mac_keys[i];
        if (m->used && memcmp(m->client_kx, client_kx, X25519_LEN) == 0 &&
            memcmp(m->worker_pub, worker_pub, ED25519_PUB_LEN) == 0) {
            memcpy(key, m->key, 32);
            return ERR_OK;
        }
    }
    TRY(evidence_mac_key(w->cfg.evidence_kx, client_kx, worker_pub, true, key));
    mac_key_entry *m = &w->mac_keys[w->mac_next];
    w->mac_next = (w->mac_next + 1) % MAC_KEYS;
    m->used = true;
    memcpy(m->client_kx, client_kx, X25519_LEN);
    memcpy(m->worker_pub, worker_pub, ED25519_PUB_LEN);
    memcpy(m->key, key, 32);
    return ERR_OK;
}

/* ---- upstream callbacks ---- */

/* Sends the kept head with this payload (and the final info when the answer is complete): the
 * evidence certificate is added now, in full if this link has not had it, so a head that is
 * never sent marks nothing. */
static void send_head(wreq *r, const uint8_t *payload, size_t n,
                      const cm_proxy_query_final_info *final) {
    worker *w = r->w;
    if (w->cfg.fault && strcmp(w->cfg.fault, "badframe") == 0) {
        uint8_t bad[7] = {CM_PROXY_QUERY_ANSWER_EX_ID & 0xff,
                          (CM_PROXY_QUERY_ANSWER_EX_ID >> 8) & 0xff,
                          (CM_PROXY_QUERY_ANSWER_EX_ID >> 16) & 0xff,
                          CM_PROXY_QUERY_ANSWER_EX_ID >> 24,
                          1,
                          2,
                          3};
        (void)!link_send_packet(r->l->c, bad, sizeof(bad));
        r->head_sent = true;
        buf_free(&r->head);
        return;
    }
    cm_http_response hr;
    cur c;
    cur_init(&c, r->head.data, r->head.len);
    err_t e = cm_http_response_decode(&c, &hr);
    if (e != ERR_OK) {
        LOGW("worker", "answer head lost: %s", err_describe(e));
        return;
    }
    cm_http_header *decoded = hr.headers; /* owned by hr: put back before the free */
    uint32_t ndecoded = hr.headers_count;
    cm_http_header *hv = calloc(hr.headers_count + 1, sizeof(*hv));
    buf b;
    buf_init(&b, PROTO_FRAME_MAX);
    bool full = false;
    if (!hv) {
        e = ERR_NOMEM;
        goto out;
    }
    memcpy(hv, hr.headers, hr.headers_count * sizeof(*hv));
    uint32_t k = hr.headers_count;
    if (r->evidence) {
        const char *text = NULL, *id = NULL;
        if (w->cert64_for == r->gen) {
            text = w->cert64;
            id = w->cert_id;
        } else if (w->cert64_prev_for == r->gen) {
            text = w->cert64_prev;
            id = w->cert_id_prev;
        }
        if (text) {
            full = r->l->cert_sent != r->gen;
            hv[k].name = tl_bytes_str(full ? EVIDENCE_CERT_HEADER : EVIDENCE_CERT_ID_HEADER);
            hv[k].value = tl_bytes_str(full ? text : id);
            k++;
        }
    }
    hr.headers = hv;
    hr.headers_count = k;
    hr.payload = tl_bytes_of(payload, n);
    if ((e = cm_http_response_encode(&b, &hr)) == ERR_OK) {
        cm_proxy_query_answer_ex m;
        memset(&m, 0, sizeof(m));
        memcpy(m.request_id, r->id, 32);
        m.answer = tl_bytes_of(b.data, b.len);
        if (final) {
            m.flags = 1;
            m.final_info = *final;
        }
        e = link_send_msg(r->l->c, &cm_proxy_query_answer_ex_desc, &m);
    }
    if (e == ERR_OK && full) {
        r->l->cert_sent = r->gen;
    }
out:
    free(hv);
    buf_free(&b);
    hr.headers = decoded;
    hr.headers_count = ndecoded;
    cm_http_response_free(&hr);
    r->head_sent = true;
    buf_free(&r->head);
    if (e != ERR_OK) {
        LOGW("worker", "answer head not sent: %s", err_describe(e));
    }
}

static void up_head(void *arg, int status, const char *reason, const http_hdr *hdrs, size_t n) {
    wreq *r = arg;
    cm_http_header hv[132];
    size_t k = 0;
    bool sse = false;
    for (size_t i = 0; i < n && k < 128; i++) {
        if (http_hop_header(hdrs[i].name)) {
            continue;
        }
        if (strcasecmp(hdrs[i].name, "content-type") == 0 &&
            strstr(hdrs[i].value, "text/event-stream")) {
            sse = true;
        }
        hv[k].name = tl_bytes_str(hdrs[i].name);
        hv[k].value = tl_bytes_str(hdrs[i].value);
        k++;
    }
    char start[32];
    snprintf(start, sizeof(start), "%.3f", r->start);
    hv[k].name = tl_bytes_str("X-Cocoon-Worker-Start");
    hv[k].value = tl_bytes_str(start);
    k++;
    /* Evidence: the attested certificate whose key will sign the answer (in full the first
     * time on this link, then by id), and the model. */
    const cert_rotor *rot = r->w->cfg.rotor;
    if (rot) {
        worker *w = r->w;
        const ratls_identity *id = cert_rotor_identity(rot);
        uint64_t gen = cert_rotor_count(rot) + 1;
        size_t cl = b64_encoded_len(id->cert_der.len);
        if (w->cert64_for != gen && cl < PROTO_MAX_HTTP_FIELD) {
            char *t = malloc(cl + 1);
            if (t) {
                b64_encode(id->cert_der.data, id->cert_der.len, t, false);
                uint8_t h[32];
                sha256(t, strlen(t), h);
                free(w->cert64_prev);
                w->cert64_prev = w->cert64;
                w->cert64_prev_for = w->cert64_for;
                memcpy(w->cert_id_prev, w->cert_id, sizeof(w->cert_id));
                hex_encode(h, 32, w->cert_id);
                w->cert64 = t;
                w->cert64_for = gen;
            }
        }
        r->answer_hash = hash_new(HASH_SHA256);
        if (w->cert64_for == gen && r->answer_hash) {
            r->key = id->key;
            r->evidence = true;
            if (r->has_client_kx && r->w->cfg.evidence_kx) {
                err_t me = mac_key_for(r->w, r->client_kx, id->key.pub, r->mac_key);
                r->mac = me == ERR_OK;
                if (me != ERR_OK) {
                    LOGW("worker", "client evidence key refused (%s): answer signed instead",
                         err_describe(me));
                }
            }
            r->gen = gen;
            hv[k].name = tl_bytes_str(EVIDENCE_MODEL_HEADER);
            hv[k].value = tl_bytes_str(r->w->cfg.model);
            k++;
        } else {
            LOGW("worker", "certificate too large for the evidence header: answer unsigned");
        }
    }
    openai_usage_free(&r->uc);
    openai_usage_init(&r->uc, sse);
    cm_http_response resp = {
        tl_bytes_str("HTTP/1.1"), status, tl_bytes_str(reason), hv, (uint32_t)k,
        tl_bytes_of(NULL, 0)};
    buf_free(&r->head);
    buf_init(&r->head, PROTO_FRAME_MAX);
    err_t e = cm_http_response_encode(&r->head, &resp);
    if (e != ERR_OK) {
        LOGW("worker", "answer head not encoded: %s", err_describe(e));
        return;
    }
    if (sse) {
        r->head_ready = true; /* a stream goes out as it comes, once per loop pass */
        net_timer_defer(r->flush);
    } else {
        r->hold = true;
        buf_free(&r->held);
        buf_init(&r->held, WORKER_HOLD_MAX);
    }
}

static void send_parts(wreq *r, const uint8_t *data, size_t n) {
    while (n > 0) {
        size_t k = n > WORKER_PART_MAX ? WORKER_PART_MAX : n;
        cm_proxy_query_answer_part_ex m;
        memset(&m, 0, sizeof(m));
        memcpy(m.request_id, r->id, 32);
        m.answer = tl_bytes_of(data, k);
        err_t e = link_send_msg(r->l->c, &cm_proxy_query_answer_part_ex_desc, &m);
        if (e != ERR_OK) {
            LOGW("worker", "answer part not sent: %s", err_describe(e));
        }
        data += k;
        n -= k;
    }
}

/* End of the loop pass: the head (with what came so far) or one part with what came since. */
static void flush_stream(void *arg) {
    wreq *r = arg;
    if (r->head_ready && !r->head_sent) {
        send_head(r, r->pend.data, r->pend.len, NULL);
    } else if (r->pend.len > 0) {
        send_parts(r, r->pend.data, r->pend.len);
    }
    buf_reset(&r->pend);
}

static void up_body(void *arg, const uint8_t *data, size_t n) {
    wreq *r = arg;
    openai_usage_feed(&r->uc, data, n);
    if (r->answer_hash) {
        hash_update(r->answer_hash, data, n);
    }
    if (r->hold) {
        if (buf_append(&r->held, data, n) == ERR_OK) {
            return;
        }
        /* Larger than we hold: the head goes with what we have, the rest as parts. */
        r->hold = false;
        send_head(r, r->held.data, r->held.len, NULL);
        buf_free(&r->held);
    }
    if (buf_append(&r->pend, data, n) == ERR_OK) {
        net_timer_defer(r->flush);
        return;
    }
    flush_stream(r); /* more than a part in one pass: what waits goes first, then this */
    send_parts(r, data, n);
}

static void up_done(void *arg, err_t e) {
    wreq *r = arg;
    r->call = NULL; /* gone after this callback */
    r->bcall = NULL;
    if (e != ERR_OK) {
        char k[17];
        LOGW("worker", "wreq=%s upstream failed: %s", rid(r->id, k), err_describe(e));
        send_error(r->l, r->id, e == ERR_TIMEOUT ? 504 : 502,
                   r->head_sent ? "upstream failed mid-answer" : "upstream unavailable");
        req_free(r);
        return;
    }
    openai_usage u;
    openai_usage_finish(&r->uc, &u);
    cm_proxy_query_answer_part_ex m;
    memset(&m, 0, sizeof(m));
    memcpy(m.request_id, r->id, 32);
    m.flags = 1;
    m.final_info.flags = 2;
    m.final_info.tokens_used.prompt_tokens_used = u.prompt - u.cached;
    m.final_info.tokens_used.cached_tokens_used = u.cached;
    m.final_info.tokens_used.completion_tokens_used = u.completion - u.reasoning;
    m.final_info.tokens_used.reasoning_tokens_used = u.reasoning;
    m.final_info.tokens_used.total_tokens_used = u.total;
    m.final_info.worker_start_time = r->start;
    m.final_info.worker_end_time = clock_unix_f();
    buf dbg;
    buf_init(&dbg, 1024);
    if (r->evidence) {
        evidence_claim ec;
        memset(&ec, 0, sizeof(ec));
        memcpy(ec.query_hash, r->query_hash, 32);
        hash_final_free(r->answer_hash, ec.answer_hash);
        r->answer_hash = NULL;
        ec.model = r->w->cfg.model;
        ec.model_len = strlen(r->w->cfg.model);
        const cm_tokens_used *t = &m.final_info.tokens_used;
        ec.prompt = t->prompt_tokens_used;
        ec.cached = t->cached_tokens_used;
        ec.completion = t->completion_tokens_used;
        ec.reasoning = t->reasoning_tokens_used;
        ec.total = t->total_tokens_used;
        evidence_proof pf;
        memset(&pf, 0, sizeof(pf));
        pf.kind = r->mac ? EVIDENCE_HMAC : EVIDENCE_SIGNATURE;
        err_t pe = r->mac ? evidence_mac(r->mac_key, &ec, pf.bytes)
                          : evidence_sign(&r->key, &ec, pf.bytes);
        if (pe == ERR_OK && evidence_debug_json(&pf, &dbg) == ERR_OK) {
            m.final_info.flags |= 1;
            m.final_info.worker_debug = tl_bytes_of(dbg.data, dbg.len);
        }
    }
    err_t se = ERR_OK;
    net_timer_cancel(r->flush);
    if (r->hold) {
        send_head(r, r->held.data, r->held.len, &m.final_info); /* the whole answer at once */
    } else if (!r->head_sent) {
        send_head(r, r->pend.data, r->pend.len, &m.final_info); /* all in one pass */
    } else {
        m.answer = tl_bytes_of(r->pend.data, r->pend.len); /* the last bytes with the end */
        se = link_send_msg(r->l->c, &cm_proxy_query_answer_part_ex_desc, &m);
    }
    buf_free(&dbg);
    if (se != ERR_OK) {
        LOGW("worker", "final part not sent: %s", err_describe(se));
    }
    r->w->n_ok++;
    r->w->prompt_tokens += u.prompt;
    r->w->completion_tokens += u.completion;
    char k[17];
    LOGI("worker", "wreq=%s done: %lld prompt + %lld completion tokens", rid(r->id, k),
         (long long)u.prompt, (long long)u.completion);
    req_free(r);
}

static const http_call_handlers up_handlers = {up_head, up_body, up_done};

/* ---- requests from the proxy ---- */

static void run_query(wlink *l, const uint8_t *data, size_t n) {
    worker *w = l->w;
    cur c;
    cur_init(&c, data, n);
    cm_proxy_run_query_ex q;
    err_t e = cm_proxy_run_query_ex_decode(&c, &q);
    if (e != ERR_OK || cur_left(&c) != 0) {
        LOGW("worker", "bad proxy.runQueryEx from %s: %s", link_peer_addr(l->c),
             e != ERR_OK ? err_describe(e) : "trailing bytes");
        if (e == ERR_OK) {
            cm_proxy_run_query_ex_free(&q);
        }
        link_close(l->c);
        return;
    }
    cm_http_request hr;
    cur hc;
    cur_init(&hc, q.query.p, q.query.len);
    e = cm_http_request_decode(&hc, &hr);
    if (e != ERR_OK || cur_left(&hc) != 0) {
        send_error(l, q.request_id, 400, "query is not an http.request");
        if (e == ERR_OK) {
            cm_http_request_free(&hr);
        }
        cm_proxy_run_query_ex_free(&q);
        return;
    }
    w->n_requests++;
    char path[512];
    snprintf(path, sizeof(path), "%.*s", (int)(hr.url.len < 511 ? hr.url.len : 511),
             (const char *)hr.url.p);
    openai_kind kind;
    buf body;
    buf_init(&body, OPENAI_BODY_MAX + 4096);
    openai_req_info info;
    wreq *r = NULL;
    if (w->active >= (size_t)w->cfg.max_active) {
        send_error(l, q.request_id, 429, "too many active queries");
        goto out;
    }
    if (!(hr.method.len == 4 && memcmp(hr.method.p, "POST", 4) == 0) ||
        openai_path_kind(path, &kind) != ERR_OK) {
        send_error(l, q.request_id, 404, "only POST /v1/chat/completions and /v1/completions");
        goto out;
    }
    e = openai_rewrite_request(kind, hr.payload.p, hr.payload.len, w->model_base, w->cfg.max_tokens,
                               &body, &info);
    if (e != ERR_OK) {
        send_error(l, q.request_id, e == ERR_NOT_FOUND ? 404 : 400, err_describe(e));
        goto out;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        send_error(l, q.request_id, 500, "out of memory");
        goto out;
    }
    r->w = w;
    r->l = l;
    buf_init(&r->pend, WORKER_PART_MAX);
    r->flush = net_timer_new(w->loop, flush_stream, r);
    if (!r->flush) {
        free(r);
        r = NULL;
        send_error(l, q.request_id, 500, "out of memory");
        goto out;
    }
    memcpy(r->id, q.request_id, 32);
    r->start = clock_unix_f();
    sha256(q.query.p, q.query.len, r->query_hash);
    openai_usage_init(&r->uc, info.stream);
    r->next = w->reqs;
    w->reqs = r;
    w->active++;
    /* Request headers pass through except hop-by-hop ones and Host (set for the upstream). */
    http_hdr hh[64];
    size_t nh = 0;
    char names[64][128];
    char values[64][1024];
    for (uint32_t i = 0; i < hr.headers_count && nh < 64; i++) {
        const cm_http_header *h = &hr.headers[i];
        if (h->name.len >= sizeof(names[0]) || h->value.len >= sizeof(values[0])) {
            continue;
        }
        memcpy(names[nh], h->name.p, h->name.len);
        names[nh][h->name.len] = 0;
        memcpy(values[nh], h->value.p, h->value.len);
        values[nh][h->value.len] = 0;
        if (strcasecmp(names[nh], EVIDENCE_KEY_HEADER) == 0) {
            size_t got = 0;
            r->has_client_kx = b64_decode(values[nh], h->value.len, r->client_kx, X25519_LEN, &got,
                                          false) == ERR_OK &&
                               got == X25519_LEN;
            continue;
        }
        if (strncasecmp(names[nh], "X-Cocoon-", 9) == 0) {
            continue; /* ours, not the upstream's */
        }
        if (http_hop_header(names[nh]) || strcasecmp(names[nh], "host") == 0 ||
            strcasecmp(names[nh], "authorization") == 0 || strlen(names[nh]) != h->name.len ||
            strlen(values[nh]) != h->value.len) {
            continue;
        }
        hh[nh].name = names[nh];
        hh[nh].value = values[nh];
        nh++;
    }
    uint64_t tmo = w->cfg.upstream_timeout_ms;
    if (q.timeout > 0 && q.timeout * 950.0 < (double)tmo) {
        tmo = (uint64_t)(q.timeout * 950.0); /* ×0.95 per hop, as the reference */
    }
    if (tmo < 1000) {
        tmo = 1000;
    }
    if (w->bi) {
        e = builtin_call_start(w->bi, kind, body.data, body.len, &up_handlers, r, &r->bcall);
    } else {
        e = http_upstream_call(w->up, "POST", path, hh, nh, body.data, body.len, tmo, &up_handlers,
                               r, &r->call);
    }
    if (e != ERR_OK) {
        send_error(l, q.request_id, 502, err_describe(e));
        req_free(r);
        goto out;
    }
    char k[17];
    LOGI("worker", "wreq=%s request for %s started (stream %d, max_tokens %lld)",
         rid(q.request_id, k), info.model, info.stream, (long long)info.max_tokens);
out:
    buf_free(&body);
    cm_http_request_free(&hr);
    cm_proxy_run_query_ex_free(&q);
}

static void cancel_query(wlink *l, const uint8_t *data, size_t n) {
    cur c;
    cur_init(&c, data, n);
    cm_proxy_query_answer_error_ex m;
    if (cm_proxy_query_answer_error_ex_decode(&c, &m) != ERR_OK) {
        return;
    }
    for (wreq *r = l->w->reqs; r; r = r->next) {
        if (r->l == l && memcmp(r->id, m.request_id, 32) == 0) {
            char k[17];
            LOGI("worker", "wreq=%s cancelled by the proxy", rid(r->id, k));
            l->w->n_cancelled++;
            req_cancel(r);
            break;
        }
    }
    cm_proxy_query_answer_error_ex_free(&m);
}

/* ---- links ---- */

static void dial(void *arg);

static void schedule_retry(wlink *l) {
    l->state = WL_IDLE;
    l->c = NULL;
    if (l->w->stopping || !l->in_use) {
        return;
    }
    l->backoff = l->backoff ? l->backoff * 2 : WORKER_RETRY_MS;
    if (l->backoff > WORKER_RETRY_MAX_MS) {
        l->backoff = WORKER_RETRY_MAX_MS;
    }
    net_timer_arm(l->retry, l->backoff);
}

static void on_handshake_done(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    wlink *l = arg;
    (void)code;
    if (e != ERR_OK || n != 4 || tl_peek_id(data, n) != CM_WORKER_PROXY_HANDSHAKE_COMPLETED_ID) {
        LOGW("worker", "proxy refused the handshake: %s", e ? err_describe(e) : "bad answer");
        if (l->c) {
            link_close(l->c);
        }
        return;
    }
    l->state = WL_READY;
    l->backoff = 0;
    LOGI("worker", "registered with proxy %s", l->addr);
}

/* The proxy's side of the balance comparison: with nothing paid yet, a proxy that reports
 * committed tokens, a voucher, or an error is not one this worker can reconcile with. */
static void on_balance_compared(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    wlink *l = arg;
    (void)code;
    cur c;
    cur_init(&c, data, n);
    cm_worker_compare_balance_with_proxy_result r;
    if (e == ERR_OK) {
        e = cm_worker_compare_balance_with_proxy_result_decode(&c, &r);
        if (e == ERR_OK) {
            if (cur_left(&c) != 0 || r.error_code != 0 || r.tokens_committed_to_db != 0 ||
                r.max_tokens != 0 || r.signed_payment.id != CM_PROXY_SIGNED_PAYMENT_EMPTY_ID) {
                e = err_fail(ERR_MALFORMED,
                             "proxy balance (db %lld, max %lld, error %d) is not "
                             "the zero balance of an unpaid worker",
                             (long long)r.tokens_committed_to_db, (long long)r.max_tokens,
                             r.error_code);
            }
            cm_worker_compare_balance_with_proxy_result_free(&r);
        }
    }
    if (e != ERR_OK) {
        LOGW("worker", "balance comparison with the proxy failed: %s", err_describe(e));
        if (l->c) {
            link_close(l->c);
        }
        return;
    }
    cm_worker_proxy_handshake_complete hc = {l->w->uplink_down};
    buf b;
    buf_init(&b, 1024);
    e = cm_worker_proxy_handshake_complete_encode(&b, &hc);
    if (e == ERR_OK) {
        e = link_query(l->c, b.data, b.len, WORKER_QUERY_MS, on_handshake_done, l);
    }
    buf_free(&b);
    if (e != ERR_OK) {
        link_close(l->c);
    }
}

static void on_connected(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    wlink *l = arg;
    (void)code;
    if (e != ERR_OK) {
        LOGW("worker", "worker.connectToProxy failed: %s", err_describe(e));
        if (l->c) {
            link_close(l->c);
        }
        return;
    }
    cur c;
    cur_init(&c, data, n);
    cm_worker_connected_to_proxy m;
    if (cm_worker_connected_to_proxy_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        LOGW("worker", "bad worker.connectedToProxy");
        link_close(l->c);
        return;
    }
    cm_worker_connected_to_proxy_free(&m);
    /* §1.7 step 4: compare balances (rollback detection). Price is 0 until payments land, so
     * this worker has never been paid: it claims nothing and expects nothing. */
    cm_worker_compare_balance_with_proxy q = {0, 0, 0};
    buf b;
    buf_init(&b, 1024);
    e = cm_worker_compare_balance_with_proxy_encode(&b, &q);
    if (e == ERR_OK) {
        e = link_query(l->c, b.data, b.len, WORKER_QUERY_MS, on_balance_compared, l);
    }
    buf_free(&b);
    if (e != ERR_OK) {
        link_close(l->c);
    }
}

static void l_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    wlink *l = arg;
    worker *w = l->w;
    /* Reference §1.7 step 1: the proxy's image must be registered. */
    err_t e = peer->attested ? registry_check_proxy_image(w->cfg.reg, peer->image_hash)
                             : err_fail(ERR_NO_QUOTE, "proxy without a quote");
    if (e != ERR_OK) {
        LOGW("worker", "refusing proxy %s: %s", link_peer_addr(c), err_describe(e));
        link_close(c);
        return;
    }
    memcpy(l->image, peer->image_hash, 32);
    l->state = WL_HANDSHAKE;
    l->cert_sent = 0;
    cm_worker_connect_to_proxy m;
    memset(&m, 0, sizeof(m));
    m.params.flags = 3;
    m.params.worker_owner_address = tl_bytes_str(w->cfg.owner_address);
    m.params.model = tl_bytes_str(w->cfg.model);
    m.params.coefficient = w->cfg.coefficient;
    m.params.is_test = w->cfg.is_test;
    m.params.proxy_cnt = (int32_t)registry_proxy_count(w->cfg.reg);
    m.params.max_active_requests = w->cfg.max_active;
    m.params.min_proto_version = 1;
    m.params.max_proto_version = 1;
    buf b;
    buf_init(&b, 1 << 16);
    e = cm_worker_connect_to_proxy_encode(&b, &m);
    if (e == ERR_OK) {
        e = link_query(c, b.data, b.len, WORKER_QUERY_MS, on_connected, l);
    }
    buf_free(&b);
    if (e != ERR_OK) {
        link_close(c);
    }
}

static void l_packet(link_conn *c, const uint8_t *data, size_t n, void *arg) {
    wlink *l = arg;
    (void)c;
    if (l->state != WL_READY || n < 4) {
        return;
    }
    uint32_t id = tl_peek_id(data, n);
    if (id == CM_PROXY_RUN_QUERY_EX_ID) {
        run_query(l, data, n);
    } else if (id == CM_PROXY_QUERY_ANSWER_ERROR_EX_ID) {
        cancel_query(l, data, n);
    } else {
        LOGD("worker", "ignoring message 0x%08x", id);
    }
}

static void l_query(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg) {
    (void)data;
    (void)n;
    (void)arg;
    if (link_answer_error(c, qid, 400, "no queries served by workers yet") != ERR_OK) {
        link_close(c);
    }
}

static void l_close(link_conn *c, err_t why, void *arg) {
    wlink *l = arg;
    (void)c;
    worker *w = l->w;
    LOGI("worker", "link to proxy %s closed: %s", l->addr,
         why == ERR_OK ? "ok" : err_describe(why));
    for (wreq *r = w->reqs, *next; r; r = next) {
        next = r->next;
        if (r->l == l) {
            req_cancel(r);
        }
    }
    schedule_retry(l);
}

static const link_handlers handlers = {l_ready, l_packet, l_query, l_close};

static void dial(void *arg) {
    wlink *l = arg;
    worker *w = l->w;
    char host[256];
    uint16_t port;
    if (!l->in_use || w->stopping) {
        return;
    }
    const char *addr = l->addr;
    err_t e = net_parse_hostport(addr, host, sizeof(host), &port, 0);
    if (e == ERR_OK) {
        link_config lc;
        link_config_init(&lc, w->cfg.tls);
        lc.pow_max_difficulty = w->cfg.pow_max_difficulty;
        e = link_dial(w->loop, host, port, &lc, &handlers, l, &l->c);
    }
    if (e != ERR_OK) {
        LOGW("worker", "dial %s: %s", addr, err_describe(e));
        schedule_retry(l);
        return;
    }
    l->state = WL_DIALING;
}

/* ---- uplink monitor ---- */

static void tell_proxies(worker *w) {
    cm_worker_enabled_disabled m = {w->uplink_down ? 1 : 0};
    for (size_t i = 0; i < w->nlinks; i++) {
        wlink *l = &w->links[i];
        if (l->c && l->state == WL_READY &&
            link_send_msg(l->c, &cm_worker_enabled_disabled_desc, &m) != ERR_OK) {
            LOGW("worker", "worker.enabledDisabled not sent to %s", l->addr);
        }
    }
}

static void uplink_head(void *arg, int status, const char *reason, const http_hdr *hdrs, size_t n) {
    (void)reason;
    (void)hdrs;
    (void)n;
    ((worker *)arg)->uplink_status = status;
}

static void uplink_body(void *arg, const uint8_t *data, size_t n) {
    (void)arg;
    (void)data;
    (void)n;
}

static void uplink_done(void *arg, err_t e) {
    worker *w = arg;
    w->uplink_call = NULL;
    bool down = e != ERR_OK || w->uplink_status != 200;
    if (down != w->uplink_down) {
        w->uplink_down = down;
        w->uplink_changes++;
        if (down) {
            LOGW("worker", "upstream down (%s): disabled at every proxy",
                 e != ERR_OK ? err_describe(e) : "GET /v1/models not 200");
        } else {
            LOGI("worker", "upstream up again: enabled at every proxy");
        }
        tell_proxies(w);
    }
    if (!w->stopping) {
        net_timer_arm(w->uplink, w->cfg.uplink_check_ms);
    }
}

static const http_call_handlers uplink_handlers = {uplink_head, uplink_body, uplink_done};

static void uplink_check(void *arg) {
    worker *w = arg;
    if (w->uplink_call || w->stopping) {
        return;
    }
    w->uplink_status = 0;
    uint64_t tmo = w->cfg.uplink_check_ms * 5 < 10000 ? w->cfg.uplink_check_ms * 5 : 10000;
    err_t e = http_upstream_call(w->up, "GET", "/v1/models", NULL, 0, NULL, 0, tmo,
                                 &uplink_handlers, w, &w->uplink_call);
    if (e != ERR_OK) {
        w->uplink_call = NULL;
        uplink_done(w, e);
    }
}

bool worker_uplink_down(const worker *w) {
    return w->uplink_down;
}

err_t worker_new(net_loop *loop, const worker_config *cfg, worker **out) {
    *out = NULL;
    if (!cfg->model || !*cfg->model || !cfg->upstream || !cfg->reg || !cfg->tls) {
        return err_fail(ERR_CONFIG, "worker: model, upstream, registry and TLS are required");
    }
    if (cfg->coefficient < 0 || cfg->coefficient >= 1000000000 || cfg->max_active < 1) {
        return err_fail(ERR_CONFIG, "worker: coefficient in [0, 1e9), max_active >= 1");
    }
    size_t base = registry_model_base_len(cfg->model, strlen(cfg->model));
    if (base == 0 || base >= 256 || registry_proxy_count(cfg->reg) == 0) {
        return err_fail(ERR_CONFIG, "worker: bad model name or no proxies in the registry");
    }
    worker *w = calloc(1, sizeof(*w));
    if (!w) {
        return ERR_NOMEM;
    }
    w->cfg = *cfg;
    w->loop = loop;
    memcpy(w->model_base, cfg->model, base);
    err_t e;
    if (strncmp(cfg->upstream, "builtin:", 8) == 0) {
        e = builtin_new(loop, cfg->upstream + 8, cfg->builtin_sessions, cfg->builtin_threads,
                        &w->bi);
    } else {
        e = http_upstream_new(loop, cfg->upstream, &w->up);
    }
    if (e != ERR_OK) {
        free(w);
        return e;
    }
    w->nlinks = REGISTRY_MAX_PROXIES;
    for (size_t i = 0; i < w->nlinks; i++) {
        w->links[i].w = w;
        w->links[i].retry = net_timer_new(loop, dial, &w->links[i]);
        if (!w->links[i].retry) {
            worker_free(w);
            return ERR_NOMEM;
        }
    }
    if (w->up && cfg->uplink_check_ms > 0) {
        w->uplink = net_timer_new(loop, uplink_check, w);
        if (!w->uplink) {
            worker_free(w);
            return ERR_NOMEM;
        }
        net_timer_arm(w->uplink, 0);
    }
    worker_registry_changed(w);
    *out = w;
    return ERR_OK;
}

/* registry_follow's view of the links (see registry.h). */
static const char *slot_addr(void *role, size_t i, bool *linked, const uint8_t **image) {
    wlink *l = &((worker *)role)->links[i];
    *linked = l->c != NULL;
    *image = l->c && l->state >= WL_HANDSHAKE ? l->image : NULL;
    return l->in_use ? l->addr : NULL;
}

static void slot_drop(void *role, size_t i, bool retire) {
    wlink *l = &((worker *)role)->links[i];
    if (retire) {
        l->in_use = false;
        net_timer_cancel(l->retry);
    }
    if (l->c) {
        link_close(l->c);
    }
}

static void slot_take(void *role, size_t i, const char *addr) {
    wlink *l = &((worker *)role)->links[i];
    l->in_use = true;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->state = WL_IDLE;
    l->backoff = 0;
    net_timer_arm(l->retry, 0);
}

static const registry_slot_ops slot_ops = {slot_addr, slot_drop, slot_take};

void worker_registry_changed(worker *w) {
    registry_follow(w->cfg.reg, true, w->nlinks, &slot_ops, w, "worker");
}

void worker_stop(worker *w) {
    w->stopping = true;
    net_timer_cancel(w->uplink);
    http_call_cancel(w->uplink_call);
    w->uplink_call = NULL;
    while (w->reqs) {
        send_error(w->reqs->l, w->reqs->id, 503, "worker shutting down");
        req_cancel(w->reqs);
    }
    for (size_t i = 0; i < w->nlinks; i++) {
        net_timer_cancel(w->links[i].retry);
        if (w->links[i].c) {
            link_close(w->links[i].c);
        }
    }
}

bool worker_stopped(const worker *w) {
    for (size_t i = 0; i < w->nlinks; i++) {
        if (w->links[i].c) {
            return false;
        }
    }
    return true;
}

void worker_free(worker *w) {
    if (!w) {
        return;
    }
    while (w->reqs) {
        req_cancel(w->reqs);
    }
    for (size_t i = 0; i < w->nlinks; i++) {
        net_timer_free(w->links[i].retry);
    }
    http_upstream_free(w->up);
    builtin_free(w->bi);
    http_call_cancel(w->uplink_call);
    net_timer_free(w->uplink);
    free(w->cert64);
    free(w->cert64_prev);
    free(w);
}

size_t worker_ready_proxies(const worker *w) {
    size_t n = 0;
    for (size_t i = 0; i < w->nlinks; i++) {
        n += w->links[i].state == WL_READY;
    }
    return n;
}

size_t worker_active(const worker *w) {
    return w->active;
}

size_t worker_metrics(void *arg, http_metric *m, size_t cap) {
    const worker *w = arg;
    const http_metric all[] = {
        {"proxies_ready", "proxies with which the handshake completed", false,
         (double)worker_ready_proxies(w)},
        {"requests_active", "requests running on the upstream", false, (double)w->active},
        {"uplink_down", "1 while the upstream fails its uplink check", false,
         w->uplink_down ? 1.0 : 0.0},
        {"uplink_changes_total", "uplink state changes (up/down)", true, (double)w->uplink_changes},
        {"requests_total", "requests received from proxies", true, (double)w->n_requests},
        {"requests_ok_total", "requests answered completely", true, (double)w->n_ok},
        {"requests_refused_total", "requests refused (4xx: validation, limits)", true,
         (double)w->n_refused},
        {"requests_failed_total", "requests failed (upstream errors, shutdown)", true,
         (double)w->n_failed},
        {"cancelled_total", "requests cancelled by the proxy", true, (double)w->n_cancelled},
        {"prompt_tokens_total", "prompt tokens counted from upstream answers", true,
         (double)w->prompt_tokens},
        {"completion_tokens_total", "completion tokens counted from upstream answers", true,
         (double)w->completion_tokens},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap) {
        n = cap;
    }
    memcpy(m, all, n * sizeof(*m));
    return n;
}
