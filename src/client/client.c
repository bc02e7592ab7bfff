/* Client role (see client.h). One loop thread owns everything here. */
#include "client/client.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <sys/socket.h>

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
#include "http/stats.h"
#include "link/link.h"
#include "net/sock.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/tl.h"
#include "ratls/cache.h"
#include "ratls/cert.h"

#define CLIENT_RETRY_MS 500
#define CLIENT_RETRY_MAX_MS 10000
#define CLIENT_QUERY_MS 30000
#define CLIENT_MODELS_MS 10000
#define CLIENT_MAC_KEYS 64 /* evidence MAC keys remembered, one per worker certificate */

enum { CL_IDLE, CL_DIALING, CL_HANDSHAKE, CL_READY };

typedef struct clink {
    client *cl;
    bool in_use;                  /* the registry lists this proxy (else the slot is free) */
    char addr[REGISTRY_ADDR_MAX]; /* the proxy's client address */
    uint8_t image[32];            /* the proxy's image hash, once attested */
    link_conn *c;
    int state;
    net_timer *retry;
    uint64_t backoff;
    net_timer *poll;        /* next client.updatePaymentStatus while ready */
    bool polling;           /* a poll query is in flight */
    uint64_t payment_polls; /* answered */
    /* Worker certificates received in full on this link, by id (hex SHA-256 of the header
     * value), with the verdict of their verification: heads name them by id afterwards. The
     * proxy keeps the same window, filled in the same order (http/evidence.h). */
    struct {
        char id[65];
        err_t verdict;
        ratls_peer peer;
    } certs[EVIDENCE_LINK_CERTS];
    size_t ncerts, cert_next;
} clink;

typedef struct creq {
    client *cl;
    clink *l;
    const client_sink *sink; /* NULL once the app went away or the answer ended */
    void *sink_arg;
    uint8_t id[32];
    bool head_sent;
    bool sse;
    bool models; /* a /v1/models query */
    net_timer *timer;
    /* evidence (http/evidence.h) */
    uint8_t query_hash[32];
    hash_ctx *answer_hash;
    bool worker_verified;
    uint8_t worker_pub[32];
    bool has_worker_kx;
    uint8_t worker_kx[32];
    evidence_kind proof; /* of the verified answer (0 until then) */
    char model[EVIDENCE_MODEL_MAX + 1];
    /* SSE: a trailing `data: [DONE]` (or a prefix of it) is held back until the evidence has
     * verified, so an app never sees a stream complete whose answer is then rejected. */
    uint8_t held[16];
    size_t nheld;
    struct creq *next;
} creq;

struct client {
    client_config cfg;
    net_loop *loop;
    struct evhttp *http;
    uint16_t port;
    size_t nlinks;
    clink links[REGISTRY_MAX_PROXIES];
    size_t next_link;
    creq *reqs;
    bool stopping;
    char api_key[256];
    /* Worker certificates already verified (evidence): SHA-256(DER) -> what they proved, so a
     * worker's quote chain is checked once, not on every answer. */
    ratls_cache *worker_certs;
    /* Evidence MACs: our X25519 key, sent with every request, and the keys agreed with the
     * workers' certified keys (oldest replaced first). */
    x25519_key evidence_kx;
    struct {
        bool used;
        uint8_t worker_pub[32];
        uint8_t worker_kx[32];
        uint8_t key[32];
    } mac[CLIENT_MAC_KEYS];
    size_t mac_next;
    /* stats */
    uint64_t requests, ok, failed, cancelled;
    int64_t prompt_tokens, completion_tokens, total_tokens;
};

void client_config_init(client_config *c) {
    memset(c, 0, sizeof(*c));
    c->http_listen = "127.0.0.1:0";
    c->owner_address = "";
    c->pow_max_difficulty = 28;
    c->timeout = 120;
    c->max_coefficient = 4000;
    c->require_evidence = true;
}

/* First 8 bytes of a request id in hex: the key that ties log lines of one request together
 * (the client's id at the client and proxy, the proxy's id for it at the worker). */
static const char *rid(const uint8_t id[32], char out[17]) {
    hex_encode(id, 8, out);
    return out;
}

/* ---- requests ---- */

static void req_free(creq *r) {
    client *cl = r->cl;
    for (creq **p = &cl->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    net_timer_free(r->timer);
    hash_free(r->answer_hash);
    free(r);
}

/* Error codes from the network are HTTP statuses (ours) or TON ErrorCodes (reference §1.9:
 * timeout 652 → 504, notready 651 → 502, else 500). */
static int status_of(int32_t code) {
    if (code >= 400 && code <= 599) {
        return code;
    }
    return code == 652 ? 504 : code == 651 ? 502 : 500;
}

static void fail_req(creq *r, int32_t code, const char *msg) {
    client *cl = r->cl;
    char k[17];
    LOGI("client", "req=%s failed: %d %s", rid(r->id, k), code, msg);
    cl->failed++;
    const client_sink *sk = r->sink;
    r->sink = NULL;
    if (sk) {
        sk->on_error(r->sink_arg, status_of(code), msg, r->head_sent);
    }
    req_free(r);
}

static void on_req_timeout(void *arg) {
    creq *r = arg;
    if (r->l && r->l->c && !r->models) {
        cm_client_query_answer_error_ex m;
        memset(&m, 0, sizeof(m));
        memcpy(m.request_id, r->id, 32);
        m.error_code = 504;
        m.error = tl_bytes_str("timed out");
        (void)!link_send_msg(r->l->c, &cm_client_query_answer_error_ex_desc, &m);
    }
    fail_req(r, 504, "request timed out");
}

void client_req_cancel(creq *r) {
    client *cl = r->cl;
    r->sink = NULL;
    if (r->models) {
        return; /* its model-list query is still out: on_models frees it */
    }
    cl->cancelled++;
    char k[17];
    LOGI("client", "req=%s app went away: cancelling", rid(r->id, k));
    if (r->l && r->l->c && !r->models) {
        cm_client_query_answer_error_ex m;
        memset(&m, 0, sizeof(m));
        memcpy(m.request_id, r->id, 32);
        m.error_code = 499;
        m.error = tl_bytes_str("client went away");
        err_t e = link_send_msg(r->l->c, &cm_client_query_answer_error_ex_desc, &m);
        if (e != ERR_OK) {
            LOGW("client", "cancel not sent: %s", err_describe(e));
        }
    }
    req_free(r);
}

static void usage_of(uint32_t flags, const cm_client_query_final_info *fi, client_usage *u) {
    memset(u, 0, sizeof(*u));
    if (flags & 1) {
        const cm_tokens_used *t = &fi->tokens_used;
        u->known = true;
        u->prompt = t->prompt_tokens_used;
        u->cached = t->cached_tokens_used;
        u->completion = t->completion_tokens_used;
        u->reasoning = t->reasoning_tokens_used;
        u->total = t->total_tokens_used;
    }
}

/* Ends a request whose answer is complete: counters, the sink's on_end, free. */
static void end_req(creq *r, uint32_t flags, const cm_client_query_final_info *fi);

static creq *find_req(client *cl, clink *l, const uint8_t id[32]) {
    for (creq *r = cl->reqs; r; r = r->next) {
        if (r->l == l && !r->models && memcmp(r->id, id, 32) == 0) {
            return r;
        }
    }
    return NULL;
}

static void end_req(creq *r, uint32_t flags, const cm_client_query_final_info *fi) {
    client *cl = r->cl;
    char k[17];
    rid(r->id, k);
    cl->ok++;
    if (flags & 1) {
        const cm_tokens_used *t = &fi->tokens_used;
        cl->prompt_tokens += t->prompt_tokens_used + t->cached_tokens_used;
        cl->completion_tokens += t->completion_tokens_used + t->reasoning_tokens_used;
        cl->total_tokens += t->total_tokens_used;
        LOGI("client", "req=%s done: %lld prompt + %lld completion tokens", k,
             (long long)(t->prompt_tokens_used + t->cached_tokens_used),
             (long long)(t->completion_tokens_used + t->reasoning_tokens_used));
    }
    const client_sink *sk = r->sink;
    r->sink = NULL;
    if (sk) {
        client_usage u;
        usage_of(flags, fi, &u);
        sk->on_end(r->sink_arg, &u);
    }
    req_free(r);
}

static const cm_http_header *find_header(const cm_http_response *hr, const char *name) {
    for (uint32_t i = 0; i < hr->headers_count; i++) {
        const cm_http_header *h = &hr->headers[i];
        if (tl_bytes_eq_nocase(h->name, name)) {
            return h;
        }
    }
    return NULL;
}

/* A worker certificate sent in full: verified under the worker policy (a TD quote to a pinned
 * root, policy lists) and entered in the link's window with its verdict, whether or not the
 * head belongs to a request still waiting (later heads may name it). */
static void take_worker_cert(client *cl, clink *l, const cm_http_response *hr) {
    const cm_http_header *cert = find_header(hr, EVIDENCE_CERT_HEADER);
    if (!cert) {
        return;
    }
    uint8_t key[32];
    sha256(cert->value.p, cert->value.len, key);
    size_t slot = l->cert_next;
    l->cert_next = (slot + 1) % EVIDENCE_LINK_CERTS;
    if (l->ncerts < EVIDENCE_LINK_CERTS) {
        l->ncerts++;
    }
    hex_encode(key, 32, l->certs[slot].id);
    ratls_peer *peer = &l->certs[slot].peer;
    memset(peer, 0, sizeof(*peer));
    /* The global cache is keyed by the same hash: base64 decoding is deterministic, so the
     * text names the certificate as well as its DER does, and a certificate another link
     * already brought is neither decoded nor parsed again. */
    int64_t now = clock_unix();
    err_t e = ERR_OK;
    if (!cl->worker_certs || !ratls_cache_get(cl->worker_certs, key, now, peer)) {
        uint8_t *der = malloc(cert->value.len ? cert->value.len : 1);
        size_t dl = 0;
        e = der ? b64_decode((const char *)cert->value.p, cert->value.len, der, cert->value.len,
                             &dl, false)
                : ERR_NOMEM;
        if (e == ERR_OK) {
            e = ratls_verify_cert(der, dl, cl->cfg.worker_policy, now, peer);
        }
        free(der);
        if (e == ERR_OK && cl->worker_certs) {
            ratls_cache_put(cl->worker_certs, key, now, peer);
        }
    }
    if (e != ERR_OK) {
        LOGW("client", "worker certificate from %s rejected: %s", link_peer_addr(l->c),
             err_describe(e));
    }
    l->certs[slot].verdict = e;
}

/* The worker's certificate (in full, or by id from the link's window) and model from the
 * answer head: the certificate must have verified and be valid now, and its image and the
 * model must be in the registry. */
static err_t check_worker(client *cl, creq *r, const cm_http_response *hr, ratls_peer *peer) {
    const cm_http_header *cert = find_header(hr, EVIDENCE_CERT_HEADER);
    const cm_http_header *cid = find_header(hr, EVIDENCE_CERT_ID_HEADER);
    const cm_http_header *model = find_header(hr, EVIDENCE_MODEL_HEADER);
    if ((!cert && !cid) || !model) {
        return err_fail(ERR_NOT_FOUND, "the answer carries no worker evidence");
    }
    if (model->value.len == 0 || model->value.len > EVIDENCE_MODEL_MAX ||
        memchr(model->value.p, 0, model->value.len)) {
        return err_fail(ERR_MALFORMED, "bad model in the evidence");
    }
    char id[65];
    if (cert) {
        uint8_t key[32];
        sha256(cert->value.p, cert->value.len, key);
        hex_encode(key, 32, id);
    } else if (cid->value.len == 64) {
        memcpy(id, cid->value.p, 64);
        id[64] = 0;
    } else {
        return err_fail(ERR_MALFORMED, "bad worker certificate id");
    }
    const clink *l = r->l;
    size_t i = 0;
    while (i < l->ncerts && strcmp(l->certs[i].id, id) != 0) {
        i++;
    }
    if (i == l->ncerts) {
        return err_fail(ERR_NOT_FOUND,
                        "the answer names a worker certificate not seen on this link");
    }
    if (l->certs[i].verdict != ERR_OK) {
        return err_fail(l->certs[i].verdict, "the worker's certificate was rejected");
    }
    *peer = l->certs[i].peer;
    int64_t now = clock_unix();
    if (peer->not_after < now) {
        return err_fail(ERR_CERT_EXPIRED, "worker certificate expired");
    }
    TRY(ratls_policy_check(cl->cfg.worker_policy, peer));
    TRY(registry_check_worker_image(cl->cfg.reg, peer->image_hash));
    TRY(registry_check_model(cl->cfg.reg, (const char *)model->value.p, model->value.len));
    memcpy(r->model, model->value.p, model->value.len);
    r->model[model->value.len] = 0;
    memcpy(r->worker_pub, peer->pubkey, 32);
    r->has_worker_kx = peer->has_evidence_key;
    memcpy(r->worker_kx, peer->evidence_key, 32);
    r->worker_verified = true;
    return ERR_OK;
}

/* The MAC key agreed with this worker certificate (one X25519 agreement per certificate). */
static err_t mac_key_for(client *cl, const creq *r, uint8_t key[32]) {
    for (size_t i = 0; i < CLIENT_MAC_KEYS; i++) {
        if (cl->mac[i].used && memcmp(cl->mac[i].worker_pub, r->worker_pub, 32) == 0 &&
            memcmp(cl->mac[i].worker_kx, r->worker_kx, 32) == 0) {
            memcpy(key, cl->mac[i].key, 32);
            return ERR_OK;
        }
    }
    TRY(evidence_mac_key(&cl->evidence_kx, r->worker_kx, r->worker_pub, false, key));
    size_t i = cl->mac_next;
    cl->mac_next = (i + 1) % CLIENT_MAC_KEYS;
    cl->mac[i].used = true;
    memcpy(cl->mac[i].worker_pub, r->worker_pub, 32);
    memcpy(cl->mac[i].worker_kx, r->worker_kx, 32);
    memcpy(cl->mac[i].key, key, 32);
    return ERR_OK;
}

/* The worker's signature over query, answer, model and usage (final info). */
static err_t check_answer(creq *r, uint32_t flags, const cm_client_query_final_info *fi) {
    if (!r->worker_verified) {
        return ERR_OK; /* evidence not required */
    }
    if (!(flags & 1) || !(fi->flags & 1)) {
        return err_fail(ERR_NOT_FOUND, "the answer ends without the worker's evidence");
    }
    evidence_proof pf;
    TRY(evidence_from_debug(fi->worker_debug.p, fi->worker_debug.len, &pf));
    r->proof = pf.kind;
    uint8_t mk[32];
    if (pf.kind == EVIDENCE_HMAC) {
        /* Only valid under the key we agreed with the certified worker key; a signature is
         * accepted either way (it proves more). */
        if (r->cl->cfg.evidence_signatures || !r->has_worker_kx) {
            return err_fail(ERR_BAD_SIGNATURE, "a MAC where a signature was asked for");
        }
        TRY(mac_key_for(r->cl, r, mk));
    }
    evidence_claim ec;
    memset(&ec, 0, sizeof(ec));
    memcpy(ec.query_hash, r->query_hash, 32);
    hash_final_free(r->answer_hash, ec.answer_hash);
    r->answer_hash = NULL;
    ec.model = r->model;
    ec.model_len = strlen(r->model);
    ec.prompt = fi->tokens_used.prompt_tokens_used;
    ec.cached = fi->tokens_used.cached_tokens_used;
    ec.completion = fi->tokens_used.completion_tokens_used;
    ec.reasoning = fi->tokens_used.reasoning_tokens_used;
    ec.total = fi->tokens_used.total_tokens_used;
    if (pf.kind == EVIDENCE_HMAC) {
        err_t e = evidence_mac_verify(mk, &ec, pf.bytes);
        ct_wipe(mk, sizeof(mk));
        return e;
    }
    return evidence_verify(r->worker_pub, &ec, pf.bytes);
}

static void cancel_upstream(creq *r, int32_t code, const char *why) {
    if (!r->l || !r->l->c || r->models) {
        return;
    }
    cm_client_query_answer_error_ex m;
    memset(&m, 0, sizeof(m));
    memcpy(m.request_id, r->id, 32);
    m.error_code = code;
    m.error = tl_bytes_str(why);
    if (link_send_msg(r->l->c, &cm_client_query_answer_error_ex_desc, &m) != ERR_OK) {
        LOGW("client", "cancel not sent");
    }
}

/* The JSON extension of a whole, verified JSON answer: `"cocoon":{...}` as the object's first
 * member, naming the request, the worker image, the model and the kind of evidence checked.
 * Everything else stays byte for byte as the worker sent it. NULL when the body is not a JSON
 * object (or on allocation failure): the answer then goes as it came. */
static char *with_extension(const creq *r, const uint8_t img[32], const uint8_t *body, size_t n,
                            size_t *out_len) {
    size_t i = 0;
    while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) {
        i++;
    }
    if (i == n || body[i] != '{') {
        return NULL;
    }
    size_t j = i + 1;
    while (j < n && (body[j] == ' ' || body[j] == '\t' || body[j] == '\r' || body[j] == '\n')) {
        j++;
    }
    char rid[65], image[65];
    hex_encode(r->id, 32, rid);
    hex_encode(img, 32, image);
    const char *kind = r->proof == EVIDENCE_HMAC ? "hmac-sha256" : "ed25519";
    bool plain = true; /* a model id needing no JSON escape (the usual name@commit:verity) */
    for (const char *m = r->model; *m && plain; m++) {
        plain = *m >= 0x20 && *m < 0x7f && *m != '"' && *m != '\\';
    }
    char *ext = NULL;
    if (plain) {
        size_t cap = strlen(r->model) + 256;
        ext = malloc(cap);
        if (ext) {
            snprintf(ext, cap,
                     "{\"request_id\":\"%s\",\"worker_image\":\"%s\",\"model\":\"%s\","
                     "\"evidence\":\"%s\"}",
                     rid, image, r->model, kind);
        }
    } else {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "request_id", rid, "worker_image", image,
                              "model", r->model, "evidence", kind);
        ext = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
    }
    if (!ext) {
        return NULL;
    }
    bool empty = j < n && body[j] == '}';
    size_t el = strlen(ext);
    char *out = malloc(n + el + 16);
    if (out) {
        size_t k = 0;
        memcpy(out, body, i + 1);
        k = i + 1;
        memcpy(out + k, "\"cocoon\":", 9);
        k += 9;
        memcpy(out + k, ext, el);
        k += el;
        if (!empty) {
            out[k++] = ',';
        }
        memcpy(out + k, body + i + 1, n - i - 1);
        k += n - i - 1;
        *out_len = k;
    }
    free(ext);
    return out;
}

static void a_head(clink *l, const uint8_t *data, size_t n) {
    client *cl = l->cl;
    cur c;
    cur_init(&c, data, n);
    cm_client_query_answer_ex m;
    if (cm_client_query_answer_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        LOGW("client", "bad client.queryAnswerEx");
        link_close(l->c);
        return;
    }
    creq *r = find_req(cl, l, m.request_id);
    cm_http_response hr;
    cur hc;
    cur_init(&hc, m.answer.p, m.answer.len);
    bool ok = cm_http_response_decode(&hc, &hr) == ERR_OK;
    if (ok && cur_left(&hc) != 0) {
        cm_http_response_free(&hr);
        ok = false;
    }
    if (ok && cl->cfg.worker_policy) {
        take_worker_cert(cl, l, &hr);
    }
    if (!r || r->head_sent) {
        goto out;
    }
    if (!ok) {
        fail_req(r, 502, "malformed answer from the network");
        goto out;
    }
    ratls_peer peer;
    memset(&peer, 0, sizeof(peer));
    if (cl->cfg.worker_policy && hr.status_code < 400) {
        err_t ve = check_worker(cl, r, &hr, &peer);
        if (ve != ERR_OK && cl->cfg.require_evidence) {
            char why[300];
            snprintf(why, sizeof(why), "worker evidence rejected: %s", err_describe(ve));
            cancel_upstream(r, 502, why);
            fail_req(r, 502, why);
            goto out;
        }
    }
    r->head_sent = true;
    if (r->answer_hash) {
        hash_update(r->answer_hash, hr.payload.p, hr.payload.len);
    }
    if ((m.flags & 1) && hr.status_code < 400) {
        err_t ae = check_answer(r, m.flags, &m.final_info);
        if (ae != ERR_OK) {
            r->head_sent = false;
            char why[300];
            snprintf(why, sizeof(why), "answer evidence rejected: %s", err_describe(ae));
            fail_req(r, 502, why);
            goto out;
        }
    }
    if (!r->sink) {
        goto done;
    }
    /* Headers for the app: at most the count received plus our two; strings packed in one
     * block (names < 256 bytes, values < 4096, NUL-free, as before). */
    client_header *hv = calloc((size_t)hr.headers_count + 3, sizeof(*hv));
    size_t room = 256;
    for (uint32_t i = 0; i < hr.headers_count; i++) {
        room += hr.headers[i].name.len + hr.headers[i].value.len + 2;
    }
    char *store = malloc(room);
    if (!hv || !store) {
        free(hv);
        free(store);
        fail_req(r, 500, "out of memory");
        goto out;
    }
    size_t nh = 0, used = 0;
    for (uint32_t i = 0; i < hr.headers_count; i++) {
        const cm_http_header *h = &hr.headers[i];
        if (h->name.len >= 256 || h->value.len >= 4096 || memchr(h->name.p, 0, h->name.len) ||
            memchr(h->value.p, 0, h->value.len)) {
            continue;
        }
        char *name = store + used;
        memcpy(name, h->name.p, h->name.len);
        name[h->name.len] = 0;
        char *value = name + h->name.len + 1;
        memcpy(value, h->value.p, h->value.len);
        value[h->value.len] = 0;
        if (http_hop_header(name) || strcasecmp(name, EVIDENCE_CERT_HEADER) == 0 ||
            strcasecmp(name, EVIDENCE_CERT_ID_HEADER) == 0) {
            continue;
        }
        used += h->name.len + h->value.len + 2;
        if (strcasecmp(name, "content-type") == 0 && strstr(value, "text/event-stream")) {
            r->sse = true;
        }
        hv[nh++] = (client_header){name, value};
    }
    /* The request's id: the key of its log lines and of the body's "cocoon" extension. */
    char *rid_hex = store + used;
    hex_encode(r->id, 32, rid_hex);
    used += 65;
    hv[nh++] = (client_header){"X-Cocoon-Request-Id", rid_hex};
    if (r->worker_verified) {
        /* Which attested worker image served the answer (the model header came with it). */
        char *img = store + used;
        hex_encode(peer.image_hash, 32, img);
        hv[nh++] = (client_header){"X-Cocoon-Worker-Image", img};
        hv[nh++] = (client_header){"X-Cocoon-Evidence", "worker certificate verified"};
    }
    int status = hr.status_code >= 100 && hr.status_code <= 999 ? hr.status_code : 502;
    const uint8_t *body = hr.payload.p;
    size_t blen = hr.payload.len;
    size_t xlen = 0;
    char *ext = r->worker_verified && r->proof && !r->sse && (m.flags & 1) && status == 200
                    ? with_extension(r, peer.image_hash, body, blen, &xlen)
                    : NULL;
    if (ext) {
        body = (const uint8_t *)ext;
        blen = xlen;
    }
    r->sink->on_head(r->sink_arg, status, hv, nh, r->sse, body, blen, (m.flags & 1) != 0);
    free(ext);
    free(hv);
    free(store);
done:
    if (m.flags & 1) {
        end_req(r, m.flags, &m.final_info);
    }
out:
    if (ok) {
        cm_http_response_free(&hr);
    }
    cm_client_query_answer_ex_free(&m);
}

static const char SSE_DONE[] = "data: [DONE]\n\n";

/* Sends answer bytes to the app. For an SSE answer under evidence, the longest tail that is a
 * prefix of the [DONE] event (starting an event) stays in r->held until the last part. */
static void relay(creq *r, const uint8_t *p, size_t n, bool last) {
    size_t tot = r->nheld + n;
    uint8_t *all = malloc(tot ? tot : 1);
    if (!all) {
        return;
    }
    memcpy(all, r->held, r->nheld);
    memcpy(all + r->nheld, p, n);
    size_t keep = 0;
    if (r->sse && r->worker_verified && !last) {
        size_t dl = sizeof(SSE_DONE) - 1;
        for (size_t k = tot < dl ? tot : dl; k > 0; k--) {
            if (memcmp(all + tot - k, SSE_DONE, k) == 0 && (tot == k || all[tot - k - 1] == '\n')) {
                keep = k;
                break;
            }
        }
    }
    if (tot - keep > 0) {
        r->sink->on_data(r->sink_arg, all, tot - keep);
    }
    memcpy(r->held, all + tot - keep, keep);
    r->nheld = keep;
    free(all);
}

static void a_part(clink *l, const uint8_t *data, size_t n) {
    client *cl = l->cl;
    cur c;
    cur_init(&c, data, n);
    cm_client_query_answer_part_ex m;
    if (cm_client_query_answer_part_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        LOGW("client", "bad client.queryAnswerPartEx");
        link_close(l->c);
        return;
    }
    creq *r = find_req(cl, l, m.request_id);
    if (!r || !r->head_sent) {
        goto out;
    }
    if (r->answer_hash) {
        hash_update(r->answer_hash, m.answer.p, m.answer.len);
    }
    if (m.flags & 1) {
        /* Verified before the last bytes and the end of the answer reach the app. */
        err_t ae = check_answer(r, m.flags, &m.final_info);
        if (ae != ERR_OK) {
            char why[300];
            snprintf(why, sizeof(why), "answer evidence rejected: %s", err_describe(ae));
            fail_req(r, 502, why);
            goto out;
        }
    }
    if (r->sink && (m.answer.len || ((m.flags & 1) && r->nheld))) {
        relay(r, m.answer.p, m.answer.len, (m.flags & 1) != 0);
    }
    if (m.flags & 1) {
        end_req(r, m.flags, &m.final_info);
    }
out:
    cm_client_query_answer_part_ex_free(&m);
}

static void a_error(clink *l, const uint8_t *data, size_t n) {
    cur c;
    cur_init(&c, data, n);
    cm_client_query_answer_error_ex m;
    if (cm_client_query_answer_error_ex_decode(&c, &m) != ERR_OK || cur_left(&c) != 0) {
        link_close(l->c);
        return;
    }
    creq *r = find_req(l->cl, l, m.request_id);
    if (r) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%.*s", (int)(m.error.len < 512 ? m.error.len : 512),
                 (const char *)m.error.p);
        fail_req(r, m.error_code, msg);
    }
    cm_client_query_answer_error_ex_free(&m);
}

/* ---- proxy links ---- */

static void dial(void *arg);

static void schedule_retry(clink *l) {
    l->state = CL_IDLE;
    l->c = NULL;
    net_timer_cancel(l->poll);
    l->polling = false;
    if (l->cl->stopping || !l->in_use) {
        return;
    }
    l->backoff = l->backoff ? l->backoff * 2 : CLIENT_RETRY_MS;
    if (l->backoff > CLIENT_RETRY_MAX_MS) {
        l->backoff = CLIENT_RETRY_MAX_MS;
    }
    net_timer_arm(l->retry, l->backoff);
}

/* Reference §5: a client polls its payment status every 10–20 s while connected. */
static void arm_poll(clink *l) {
    uint64_t ms = l->cl->cfg.payment_poll_ms;
    if (ms == 0) {
        uint8_t b[2];
        rand_bytes(b, 2);
        ms = 10000 + (uint64_t)((b[0] << 8 | b[1]) % 10001);
    }
    net_timer_arm(l->poll, ms);
}

static void on_payment_status(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    clink *l = arg;
    (void)code;
    l->polling = false;
    cur c;
    cur_init(&c, data, n);
    cm_client_payment_status st;
    if (e == ERR_OK && (e = cm_client_payment_status_decode(&c, &st)) == ERR_OK) {
        if (cur_left(&c) != 0 || st.db_tokens != 0 || st.max_tokens != 0 ||
            st.signed_payment.id != CM_PROXY_SIGNED_PAYMENT_EMPTY_ID) {
            e = err_fail(ERR_MALFORMED,
                         "payment status (db %lld, max %lld) is not that of an "
                         "unpaid network (price 0)",
                         (long long)st.db_tokens, (long long)st.max_tokens);
        }
        cm_client_payment_status_free(&st);
    }
    if (e != ERR_OK) {
        LOGW("client", "client.updatePaymentStatus: %s", err_describe(e));
        if (l->c) {
            link_close(l->c);
        }
        return;
    }
    l->payment_polls++;
    arm_poll(l);
    if (l->state == CL_READY) {
        return; /* a periodic poll: nothing changed */
    }
    l->state = CL_READY;
    l->backoff = 0;
    LOGI("client", "connected to proxy %s", l->addr);
}

static void poll_payment(void *arg) {
    clink *l = arg;
    if (!l->c || l->polling || l->cl->stopping) {
        return;
    }
    uint8_t q[4];
    for (int i = 0; i < 4; i++) {
        q[i] = (uint8_t)(CM_CLIENT_UPDATE_PAYMENT_STATUS_ID >> (8 * i));
    }
    l->polling = true;
    if (link_query(l->c, q, sizeof(q), 30000, on_payment_status, l) != ERR_OK) {
        l->polling = false;
        link_close(l->c);
    }
}

static void on_connected(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    clink *l = arg;
    (void)code;
    cm_client_connected_to_proxy m;
    cur c;
    cur_init(&c, data, n);
    if (e != ERR_OK || cm_client_connected_to_proxy_decode(&c, &m) != ERR_OK) {
        LOGW("client", "client.connectToProxy failed: %s", e ? err_describe(e) : "bad answer");
        if (l->c) {
            link_close(l->c);
        }
        return;
    }
    bool trailing = cur_left(&c) != 0;
    cm_client_connected_to_proxy_free(&m);
    if (trailing) {
        link_close(l->c);
        return;
    }
    /* Ask for the payment status before sending work, then every 10–20 s (reference §5). At
     * price 0 a proxy owes no voucher and counts nothing; anything else is not a proxy this
     * client can reconcile with. */
    poll_payment(l);
}

static void l_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    clink *l = arg;
    client *cl = l->cl;
    err_t e = peer->attested ? registry_check_proxy_image(cl->cfg.reg, peer->image_hash)
                             : err_fail(ERR_NO_QUOTE, "proxy without a quote");
    if (e != ERR_OK) {
        LOGW("client", "refusing proxy %s: %s", link_peer_addr(c), err_describe(e));
        link_close(c);
        return;
    }
    memcpy(l->image, peer->image_hash, 32);
    l->state = CL_HANDSHAKE;
    l->ncerts = 0; /* a new link: the proxy starts a new window too */
    l->cert_next = 0;
    cm_client_connect_to_proxy m;
    memset(&m, 0, sizeof(m));
    m.params.flags = 3;
    m.params.client_owner_address = tl_bytes_str(cl->cfg.owner_address);
    m.params.is_test = cl->cfg.is_test;
    m.params.min_proto_version = 1;
    m.params.max_proto_version = 1;
    m.min_config_version = 0;
    buf b;
    buf_init(&b, 1 << 16);
    e = cm_client_connect_to_proxy_encode(&b, &m);
    if (e == ERR_OK) {
        e = link_query(c, b.data, b.len, CLIENT_QUERY_MS, on_connected, l);
    }
    buf_free(&b);
    if (e != ERR_OK) {
        link_close(c);
    }
}

static void l_packet(link_conn *c, const uint8_t *data, size_t n, void *arg) {
    clink *l = arg;
    (void)c;
    if (l->state != CL_READY || n < 4) {
        return;
    }
    switch (tl_peek_id(data, n)) {
    case CM_CLIENT_QUERY_ANSWER_EX_ID:
        a_head(l, data, n);
        break;
    case CM_CLIENT_QUERY_ANSWER_PART_EX_ID:
        a_part(l, data, n);
        break;
    case CM_CLIENT_QUERY_ANSWER_ERROR_EX_ID:
        a_error(l, data, n);
        break;
    default:
        LOGD("client", "ignoring message 0x%08x", tl_peek_id(data, n));
    }
}

static void l_query(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg) {
    (void)data;
    (void)n;
    (void)arg;
    if (link_answer_error(c, qid, 400, "clients serve no queries") != ERR_OK) {
        link_close(c);
    }
}

static void l_close(link_conn *c, err_t why, void *arg) {
    clink *l = arg;
    (void)c;
    client *cl = l->cl;
    LOGI("client", "link to proxy closed: %s", why == ERR_OK ? "ok" : err_describe(why));
    for (creq *r = cl->reqs, *next; r; r = next) {
        next = r->next;
        if (r->l == l) {
            r->l = NULL;
            if (!r->models) {
                fail_req(r, 502, "connection to the proxy lost");
            }
        }
    }
    schedule_retry(l);
}

static const link_handlers handlers = {l_ready, l_packet, l_query, l_close};

static void dial(void *arg) {
    clink *l = arg;
    client *cl = l->cl;
    char host[256];
    uint16_t port;
    if (!l->in_use || cl->stopping) {
        return;
    }
    const char *addr = l->addr;
    err_t e = net_parse_hostport(addr, host, sizeof(host), &port, 0);
    if (e == ERR_OK) {
        link_config lc;
        link_config_init(&lc, cl->cfg.tls);
        lc.pow_max_difficulty = cl->cfg.pow_max_difficulty;
        e = link_dial(cl->loop, host, port, &lc, &handlers, l, &l->c);
    }
    if (e != ERR_OK) {
        LOGD("client", "dial %s: %s", addr, err_describe(e));
        schedule_retry(l);
        return;
    }
    l->state = CL_DIALING;
}

static clink *pick_link(client *cl) {
    /* Round robin over the ready proxies (failover: a lost link is skipped). */
    for (size_t k = 0; k < cl->nlinks; k++) {
        clink *l = &cl->links[(cl->next_link + k) % cl->nlinks];
        if (l->state == CL_READY) {
            cl->next_link = (size_t)(l - cl->links) + 1;
            return l;
        }
    }
    return NULL;
}

/* ---- HTTP API ---- */

static creq *new_req(client *cl, clink *l, const client_sink *sink, void *arg) {
    creq *r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    r->cl = cl;
    r->l = l;
    r->sink = sink;
    r->sink_arg = arg;
    r->timer = net_timer_new(cl->loop, on_req_timeout, r);
    if (!r->timer) {
        free(r);
        return NULL;
    }
    rand_id(r->id, 32);
    r->next = cl->reqs;
    cl->reqs = r;
    net_timer_arm(r->timer, (uint64_t)(cl->cfg.timeout * 1000.0));
    return r;
}

/* ---- the HTTP API: one sink per app request ---- */

typedef struct {
    struct evhttp_request *req; /* NULL once the reply is complete */
    creq *r;
    bool sse;
} hreq;

static void h_detach(hreq *h) {
    if (h->req) {
        struct evhttp_connection *ec = evhttp_request_get_connection(h->req);
        if (ec) {
            evhttp_connection_set_closecb(ec, NULL, NULL);
        }
    }
}

static void on_http_close(struct evhttp_connection *ec, void *arg) {
    hreq *h = arg;
    (void)ec;
    /* libevent detaches a request the app abandoned before we answered (its connection
     * becomes NULL) and leaves it to us; one still attached is freed with the connection. */
    if (h->req && !evhttp_request_get_connection(h->req)) {
        evhttp_request_free(h->req);
    }
    h->req = NULL;
    client_req_cancel(h->r);
    free(h);
}

static void h_head(void *arg, int status, const client_header *hv, size_t nh, bool sse,
                   const uint8_t *body, size_t n, bool final) {
    hreq *h = arg;
    h->sse = sse;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(h->req);
    for (size_t i = 0; i < nh; i++) {
        evhttp_add_header(oh, hv[i].name, hv[i].value);
    }
    struct evbuffer *eb = evbuffer_new();
    if (eb) {
        evbuffer_add(eb, body, n);
    }
    if (final) {
        h_detach(h);
        evhttp_send_reply(h->req, status, http_reason(status), eb);
        h->req = NULL;
    } else {
        evhttp_send_reply_start(h->req, status, http_reason(status));
        if (eb && n) {
            evhttp_send_reply_chunk(h->req, eb);
        }
    }
    if (eb) {
        evbuffer_free(eb);
    }
}

static void h_data(void *arg, const uint8_t *p, size_t n) {
    hreq *h = arg;
    struct evbuffer *eb = evbuffer_new();
    if (eb) {
        evbuffer_add(eb, p, n);
        evhttp_send_reply_chunk(h->req, eb);
        evbuffer_free(eb);
    }
}

static void h_end(void *arg, const client_usage *u) {
    hreq *h = arg;
    (void)u;
    if (h->req) {
        h_detach(h);
        evhttp_send_reply_end(h->req);
    }
    free(h);
}

static void h_error(void *arg, int status, const char *msg, bool after_head) {
    hreq *h = arg;
    if (h->req) {
        struct evhttp_connection *ec = evhttp_request_get_connection(h->req);
        h_detach(h);
        if (!after_head) {
            http_reply_error(h->req, status, status == 404 ? "model_not_found" : NULL, "%s", msg);
        } else if (h->sse) {
            buf b;
            buf_init(&b, 1 << 16);
            struct evbuffer *eb = evbuffer_new();
            if (buf_append(&b, "data: ", 6) == ERR_OK &&
                openai_error_json(&b, msg, "server_error", NULL) == ERR_OK &&
                buf_append(&b, "\n\n", 2) == ERR_OK && eb) {
                evbuffer_add(eb, b.data, b.len);
                evhttp_send_reply_chunk(h->req, eb);
            }
            if (eb) {
                evbuffer_free(eb);
            }
            buf_free(&b);
            evhttp_send_reply_end(h->req);
        } else {
            /* A JSON body cut short: drop the connection so the app cannot take it as whole. */
            evhttp_connection_free(ec);
        }
    }
    free(h);
}

static const client_sink http_sink = {h_head, h_data, h_end, h_error};

static hreq *h_new(struct evhttp_request *req) {
    hreq *h = calloc(1, sizeof(*h));
    if (h) {
        h->req = req;
    }
    return h;
}

static void h_attach(hreq *h, creq *r) {
    h->r = r;
    evhttp_connection_set_closecb(evhttp_request_get_connection(h->req), on_http_close, h);
}

static int dump_cb(const char *p, size_t n, void *arg) {
    return buf_append(arg, p, n) == ERR_OK ? 0 : -1;
}

static void on_models(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    creq *r = arg;
    (void)code;
    if (!r->sink) {
        req_free(r);
        return;
    }
    hreq *h = r->sink_arg;
    cur c;
    cur_init(&c, data, n);
    cm_client_worker_types_v2 m;
    if (e != ERR_OK || cm_client_worker_types_v2_decode(&c, &m) != ERR_OK) {
        fail_req(r, 502, "the proxy did not list its models");
        return;
    }
    /* OpenAI list shape plus the reference's per-worker details (§5). */
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < m.types_count; i++) {
        json_t *ws = json_array();
        for (uint32_t k = 0; ws && k < m.types[i].workers_count; k++) {
            const cm_client_worker_instance_v2 *w = &m.types[i].workers[k];
            json_array_append_new(ws, json_pack("{s:i,s:i,s:i}", "coefficient", w->coefficient,
                                                "running_requests", w->active_requests,
                                                "max_running_requests", w->max_active_requests));
        }
        json_array_append_new(list, json_pack("{s:s%,s:s,s:i,s:s,s:o}", "id",
                                              (const char *)m.types[i].name.p, m.types[i].name.len,
                                              "object", "model", "created", 0, "owned_by", "cocoon",
                                              "workers", ws ? ws : json_array()));
    }
    cm_client_worker_types_v2_free(&m);
    json_t *doc = json_pack("{s:s,s:o}", "object", "list", "data", list ? list : json_array());
    buf b;
    buf_init(&b, 1 << 24);
    if (!doc || json_dump_callback(doc, dump_cb, &b, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
        json_decref(doc);
        buf_free(&b);
        fail_req(r, 500, "out of memory");
        return;
    }
    json_decref(doc);
    h_detach(h);
    http_reply_json(h->req, 200, (const char *)b.data, b.len);
    free(h);
    r->sink = NULL;
    buf_free(&b);
    req_free(r);
}

static void serve_models(client *cl, struct evhttp_request *req) {
    clink *l = pick_link(cl);
    if (!l) {
        http_reply_error(req, 503, NULL, "no proxy connection is ready");
        return;
    }
    hreq *h = h_new(req);
    creq *r = h ? new_req(cl, l, &http_sink, h) : NULL;
    if (!r) {
        free(h);
        http_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    h_attach(h, r);
    r->models = true;
    uint8_t q[4] = {
        CM_CLIENT_GET_WORKER_TYPES_V2_ID & 0xff, (CM_CLIENT_GET_WORKER_TYPES_V2_ID >> 8) & 0xff,
        (CM_CLIENT_GET_WORKER_TYPES_V2_ID >> 16) & 0xff, CM_CLIENT_GET_WORKER_TYPES_V2_ID >> 24};
    if (link_query(l->c, q, 4, CLIENT_MODELS_MS, on_models, r) != ERR_OK) {
        fail_req(r, 502, "could not ask the proxy");
    }
}

size_t client_metrics(void *arg, http_metric *m, size_t cap) {
    const client *cl = arg;
    uint64_t polls = 0;
    for (size_t i = 0; i < cl->nlinks; i++) {
        polls += cl->links[i].payment_polls;
    }
    const http_metric all[] = {
        {"ready_proxies", "proxy links ready", false, (double)client_ready_proxies(cl)},
        {"payment_polls", "payment status answers received from proxies", true, (double)polls},
        {"requests", "inference requests sent", true, (double)cl->requests},
        {"ok", "answers received completely", true, (double)cl->ok},
        {"failed", "requests that ended with an error", true, (double)cl->failed},
        {"cancelled", "requests abandoned by the app", true, (double)cl->cancelled},
        {"prompt_tokens", "prompt tokens reported by workers", true, (double)cl->prompt_tokens},
        {"completion_tokens", "completion tokens reported by workers", true,
         (double)cl->completion_tokens},
        {"total_tokens", "total tokens reported by workers", true, (double)cl->total_tokens},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap) {
        n = cap;
    }
    memcpy(m, all, n * sizeof(*m));
    return n;
}

err_t client_submit(client *cl, const char *path, const uint8_t *body, size_t n, const char *accept,
                    const client_sink *sink, void *arg, client_req **out, int *status) {
    *out = NULL;
    openai_kind kind;
    if (cl->stopping) {
        *status = 503;
        return err_fail(ERR_BAD_STATE, "the client is shutting down");
    }
    if (openai_path_kind(path, &kind) != ERR_OK) {
        *status = 404;
        return err_fail(ERR_NOT_FOUND, "unknown path %s", path);
    }
    openai_req_info info;
    err_t e = openai_peek_request(body, n, &info);
    if (e != ERR_OK) {
        *status = 400;
        return e;
    }
    clink *l = pick_link(cl);
    if (!l) {
        *status = 503;
        return err_fail(ERR_IO, "no proxy connection is ready");
    }
    creq *r = new_req(cl, l, sink, arg);
    if (!r) {
        *status = 500;
        return ERR_NOMEM;
    }
    /* Evidence: our MAC key (unless signatures are asked for) and this request's id, so the
     * query hash the worker authenticates is unique to this request. */
    char kx64[64], rid64[65];
    cm_http_header hh[4];
    size_t nh = 0;
    hex_encode(r->id, 32, rid64);
    hh[nh].name = tl_bytes_str(EVIDENCE_RID_HEADER);
    hh[nh].value = tl_bytes_str(rid64);
    nh++;
    if (!cl->cfg.evidence_signatures) {
        b64_encode(cl->evidence_kx.pub, X25519_LEN, kx64, false);
        hh[nh].name = tl_bytes_str(EVIDENCE_KEY_HEADER);
        hh[nh].value = tl_bytes_str(kx64);
        nh++;
    }
    hh[nh].name = tl_bytes_str("Content-Type");
    hh[nh].value = tl_bytes_str("application/json");
    nh++;
    if (accept) {
        hh[nh].name = tl_bytes_str("Accept");
        hh[nh].value = tl_bytes_str(accept);
        nh++;
    }
    cm_http_request hr = {tl_bytes_str("POST"), tl_bytes_str(path),  tl_bytes_str("HTTP/1.1"), hh,
                          (uint32_t)nh,         tl_bytes_of(body, n)};
    buf q;
    buf_init(&q, PROTO_FRAME_MAX);
    e = cm_http_request_encode(&q, &hr);
    if (e != ERR_OK) {
        buf_free(&q);
        r->sink = NULL;
        req_free(r);
        *status = 500;
        return e;
    }
    cl->requests++;
    sha256(q.data, q.len, r->query_hash);
    r->answer_hash = cl->cfg.worker_policy ? hash_new(HASH_SHA256) : NULL;
    char k[17];
    LOGD("client", "req=%s %s model %s stream %d", rid(r->id, k), path, info.model, info.stream);
    cm_client_run_query_ex m;
    memset(&m, 0, sizeof(m));
    m.model_name = tl_bytes_str(info.model);
    m.query = tl_bytes_of(q.data, q.len);
    m.max_coefficient = cl->cfg.max_coefficient;
    m.max_tokens = info.max_tokens > INT32_MAX ? INT32_MAX : (int32_t)info.max_tokens;
    m.timeout = cl->cfg.timeout * 0.95;
    memcpy(m.request_id, r->id, 32);
    e = link_send_msg(l->c, &cm_client_run_query_ex_desc, &m);
    buf_free(&q);
    if (e != ERR_OK) {
        cl->requests--;
        r->sink = NULL;
        req_free(r);
        *status = 502;
        return err_fail(e, "could not send the request to the proxy");
    }
    *out = r;
    return ERR_OK;
}

static void serve_inference(client *cl, struct evhttp_request *req, const char *path) {
    buf body;
    buf_init(&body, OPENAI_BODY_MAX);
    err_t e = http_req_body(req, OPENAI_BODY_MAX, &body);
    if (e != ERR_OK) {
        http_reply_error(req, 413, NULL, "%s", err_describe(e));
        goto out;
    }
    hreq *h = h_new(req);
    if (!h) {
        http_reply_error(req, 500, NULL, "out of memory");
        goto out;
    }
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
    creq *r = NULL;
    int status = 500;
    e = client_submit(cl, path, body.data, body.len, accept, &http_sink, h, &r, &status);
    if (e != ERR_OK) {
        free(h);
        http_reply_error(req, status, NULL, "%s", err_describe(e));
        goto out;
    }
    h_attach(h, r);
out:
    buf_free(&body);
}

static bool authorized(client *cl, struct evhttp_request *req) {
    if (!cl->api_key[0]) {
        return true;
    }
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    size_t kl = strlen(cl->api_key);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != kl) {
        return false;
    }
    return ct_eq(h + 7, cl->api_key, kl);
}

static void on_http(struct evhttp_request *req, void *arg) {
    client *cl = arg;
    const char *uri = evhttp_request_get_uri(req);
    char path[256];
    size_t pl = strcspn(uri, "?#");
    if (pl >= sizeof(path)) {
        http_reply_error(req, 404, NULL, "unknown path");
        return;
    }
    memcpy(path, uri, pl);
    path[pl] = 0;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cl->stopping) {
        http_reply_error(req, 503, NULL, "shutting down");
        return;
    }
    if (!authorized(cl, req)) {
        http_reply_error(req, 401, "invalid_api_key", "missing or wrong API key");
        return;
    }
    openai_kind kind;
    if (strcmp(path, "/v1/models") == 0 && cmd == EVHTTP_REQ_GET) {
        serve_models(cl, req);
    } else if (http_stats_serve(req, "client", client_metrics, cl)) {
        /* /stats, /jsonstats, /metrics */
    } else if (openai_path_kind(path, &kind) == ERR_OK) {
        if (cmd != EVHTTP_REQ_POST) {
            http_reply_error(req, 405, NULL, "use POST");
            return;
        }
        serve_inference(cl, req, path);
    } else {
        http_reply_error(req, 404, NULL, "unknown path %s", path);
    }
}

static bool loopback(const char *host) {
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0;
}

err_t client_new(net_loop *loop, const client_config *cfg, client **out) {
    *out = NULL;
    if (!cfg->tls || !cfg->reg || registry_proxy_count(cfg->reg) == 0 || cfg->timeout <= 0) {
        return err_fail(ERR_CONFIG, "client: TLS, a registry with proxies and a timeout");
    }
    char host[256] = "127.0.0.1";
    uint16_t port = 0;
    if (cfg->http_listen) {
        TRY(net_parse_hostport(cfg->http_listen, host, sizeof(host), &port, 1));
    }
    if ((!cfg->api_key || !*cfg->api_key) && !loopback(host)) {
        return err_fail(ERR_CONFIG, "client: an API key is required to listen beyond loopback");
    }
    if (cfg->api_key && strlen(cfg->api_key) >= 256) {
        return err_fail(ERR_CONFIG, "client: API key too long");
    }
    client *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        return ERR_NOMEM;
    }
    cl->cfg = *cfg;
    cl->loop = loop;
    cl->worker_certs = ratls_cache_new(256, 3600);
    if (!cl->worker_certs || x25519_generate(&cl->evidence_kx) != ERR_OK) {
        ratls_cache_free(cl->worker_certs);
        free(cl);
        return ERR_NOMEM;
    }
    snprintf(cl->api_key, sizeof(cl->api_key), "%s", cfg->api_key ? cfg->api_key : "");
    if (cfg->http_listen) {
        cl->http = evhttp_new(net_loop_base(loop));
        if (!cl->http) {
            ratls_cache_free(cl->worker_certs);
            free(cl);
            return ERR_NOMEM;
        }
        /* Bodies up to twice our limit reach the handler (which answers 413 in OpenAI's shape);
         * beyond that evhttp refuses them itself. */
        evhttp_set_max_body_size(cl->http, (ev_ssize_t)(2 * OPENAI_BODY_MAX));
        evhttp_set_max_headers_size(cl->http, 64 * 1024);
        evhttp_set_allowed_methods(cl->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
        evhttp_set_gencb(cl->http, on_http, cl);
        struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(cl->http, host, port);
        if (!bs) {
            evhttp_free(cl->http);
            ratls_cache_free(cl->worker_certs);
            free(cl);
            return err_fail(ERR_IO, "client: cannot listen on %s", cfg->http_listen);
        }
        /* Streamed answers go out in small chunked writes: Nagle would hold each one until the
         * app's delayed ACK. Linux copies TCP_NODELAY from the listening socket to every socket
         * it accepts, so it is set once here rather than per request. */
        int one = 1;
        setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
            cl->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                      : ((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    cl->nlinks = REGISTRY_MAX_PROXIES;
    for (size_t i = 0; i < cl->nlinks; i++) {
        cl->links[i].cl = cl;
        cl->links[i].retry = net_timer_new(loop, dial, &cl->links[i]);
        cl->links[i].poll = net_timer_new(loop, poll_payment, &cl->links[i]);
        if (!cl->links[i].retry || !cl->links[i].poll) {
            client_free(cl);
            return ERR_NOMEM;
        }
    }
    client_registry_changed(cl);
    *out = cl;
    return ERR_OK;
}

/* registry_follow's view of the links (see registry.h). */
static const char *slot_addr(void *role, size_t i, bool *linked, const uint8_t **image) {
    clink *l = &((client *)role)->links[i];
    *linked = l->c != NULL;
    *image = l->c && l->state >= CL_HANDSHAKE ? l->image : NULL;
    return l->in_use ? l->addr : NULL;
}

static void slot_drop(void *role, size_t i, bool retire) {
    clink *l = &((client *)role)->links[i];
    if (retire) {
        l->in_use = false;
        net_timer_cancel(l->retry);
    }
    if (l->c) {
        link_close(l->c);
    }
}

static void slot_take(void *role, size_t i, const char *addr) {
    clink *l = &((client *)role)->links[i];
    l->in_use = true;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->state = CL_IDLE;
    l->backoff = 0;
    net_timer_arm(l->retry, 0);
}

static const registry_slot_ops slot_ops = {slot_addr, slot_drop, slot_take};

void client_registry_changed(client *cl) {
    registry_follow(cl->cfg.reg, false, cl->nlinks, &slot_ops, cl, "client");
}

void client_stop(client *cl) {
    cl->stopping = true;
    while (cl->reqs) {
        fail_req(cl->reqs, 503, "client shutting down");
    }
    for (size_t i = 0; i < cl->nlinks; i++) {
        net_timer_cancel(cl->links[i].retry);
        if (cl->links[i].c) {
            link_close(cl->links[i].c);
        }
    }
}

bool client_stopped(const client *cl) {
    for (size_t i = 0; i < cl->nlinks; i++) {
        if (cl->links[i].c) {
            return false;
        }
    }
    return true;
}

void client_free(client *cl) {
    if (!cl) {
        return;
    }
    while (cl->reqs) {
        cl->reqs->sink = NULL;
        req_free(cl->reqs);
    }
    for (size_t i = 0; i < cl->nlinks; i++) {
        net_timer_free(cl->links[i].retry);
        net_timer_free(cl->links[i].poll);
    }
    if (cl->http) {
        evhttp_free(cl->http);
    }
    ct_wipe(&cl->evidence_kx, sizeof(cl->evidence_kx));
    ct_wipe(cl->mac, sizeof(cl->mac));
    ratls_cache_free(cl->worker_certs);
    free(cl);
}

uint16_t client_http_port(const client *cl) {
    return cl->port;
}

size_t client_ready_proxies(const client *cl) {
    size_t n = 0;
    for (size_t i = 0; i < cl->nlinks; i++) {
        n += cl->links[i].state == CL_READY;
    }
    return n;
}
