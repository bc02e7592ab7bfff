#include "link.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/cur.h"
#include "base/log.h"
#include "net/sock.h"
#include "net/stream.h"
#include "proto/limits.h"
#include "proto/pow.h"
#include "proto/rpc.h"

#define DEFAULT_HANDSHAKE_MS 15000u
#define OUTPUT_HIGH_WATER ((size_t)8 << 20)

typedef enum { L_CONNECTING, L_POW, L_SOLVE, L_TLS, L_LINK, L_READY, L_CLOSING } link_phase;

typedef struct pending {
    struct pending *next;
    struct pending *prev;
    link_answer_cb cb;
    void *arg;
    uint64_t qid;
} pending;

struct link_server {
    net_loop *loop;
    struct evconnlistener *lev;
    uint16_t port;
    link_config cfg;
    link_handlers h;
    void *arg;
    size_t count;
    link_conn *conns; /* accepted links still alive */
};

struct link_conn {
    net_loop *loop;
    link_server *server; /* NULL for dialed links */
    link_conn *snext;    /* in server->conns */
    link_conn *sprev;
    net_stream *s;
    link_config cfg;
    link_handlers h;
    void *arg;
    link_phase phase;
    /* proof of work */
    uint8_t pow_buf[POW_CHALLENGE_LEN];
    size_t pow_have;
    pow_challenge ch;
    pow_solver solver;
    net_timer *work;
    struct event *reaper; /* destroys the link from the loop, never inside a caller's stack */
    /* attested link */
    ratls_peer peer;
    rpc *rpc;
    net_timer *tick;
    pending *queries;
    err_t close_why;
    /* full (collateral) verification of the peer on the pool */
    struct full_check *check;
    bool orphaned; /* destroyed while the check runs: the check's completion frees it */
};

typedef struct full_check {
    link_conn *c;
    const ratls_policy *pol;
    buf quote;
    int64_t now;
    ratls_peer peer;
    err_t result;
    char detail[256]; /* err_detail() is per thread: carry the worker's back to the loop */
} full_check;

static void conn_destroy(link_conn *c, err_t why);

void link_config_init(link_config *cfg, ratls_ctx *tls) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->tls = tls;
    cfg->pow_difficulty = 20;
    cfg->pow_max_difficulty = POW_MAX_DIFFICULTY_DEFAULT;
    cfg->handshake_ms = DEFAULT_HANDSHAKE_MS;
    cfg->max_frame = PROTO_FRAME_MAX;
}

/* Every way a link ends goes through here. The link stays allocated until the reaper runs
 * from the loop, so no caller ever holds a freed link. */
static void fail(link_conn *c, err_t e) {
    if (c->phase == L_CLOSING) {
        return;
    }
    c->phase = L_CLOSING;
    c->close_why = e;
    if (c->s) {
        net_stream_deadline(c->s, 0);
        net_stream_pause(c->s, true);
    }
    net_timer_cancel(c->work);
    net_timer_cancel(c->tick);
    event_active(c->reaper, EV_TIMEOUT, 0);
}

/* Writes what the rpc queued and re-arms its timer. */
static void pump(link_conn *c) {
    buf *out = rpc_output(c->rpc);
    if (out->len > 0) {
        err_t e = net_stream_write(c->s, out->data, out->len);
        if (e != ERR_OK) {
            fail(c, e);
            return;
        }
        buf_consume(out, out->len);
    }
    uint64_t next = rpc_next_deadline(c->rpc);
    uint64_t now = clock_mono_ms();
    if (next != UINT64_MAX) {
        net_timer_arm(c->tick, next > now ? next - now : 0);
    }
}

static pending *take_pending(link_conn *c, uint64_t tag) {
    pending *p = (pending *)(uintptr_t)tag;
    for (pending *q = c->queries; q; q = q->next) {
        if (q == p) {
            if (p->prev) {
                p->prev->next = p->next;
            } else {
                c->queries = p->next;
            }
            if (p->next) {
                p->next->prev = p->prev;
            }
            return p;
        }
    }
    return NULL;
}

/* Delivers one rpc event. Returns false if the connection was destroyed meanwhile. */
static bool deliver(link_conn *c, const rpc_event *ev) {
    pending *p;
    switch (ev->kind) {
    case RPC_EV_NONE:
        return true;
    case RPC_EV_READY:
        c->phase = L_READY;
        net_stream_deadline(c->s, 0);
        rpc_set_frame_max_in(c->rpc, c->cfg.max_frame);
        if (c->h.on_ready) {
            c->h.on_ready(c, &c->peer, c->arg);
        }
        return c->phase != L_CLOSING;
    case RPC_EV_PACKET:
        if (c->h.on_packet) {
            c->h.on_packet(c, ev->data.p, ev->data.len, c->arg);
        }
        return c->phase != L_CLOSING;
    case RPC_EV_QUERY:
        if (c->h.on_query) {
            c->h.on_query(c, ev->query_id, ev->data.p, ev->data.len, c->arg);
        } else if (rpc_error(c->rpc, ev->query_id, 621, "queries not supported") != ERR_OK) {
            return true;
        }
        return c->phase != L_CLOSING;
    case RPC_EV_ANSWER:
    case RPC_EV_ERROR:
    case RPC_EV_TIMEOUT:
        p = take_pending(c, ev->tag);
        if (p) {
            err_t e = ev->kind == RPC_EV_ANSWER ? ERR_OK
                      : ev->kind == RPC_EV_ERROR
                          ? err_fail(ERR_REMOTE, "peer error %d: %.*s", ev->code,
                                     (int)(ev->data.len > 200 ? 200 : ev->data.len),
                                     (const char *)ev->data.p)
                          : err_fail(ERR_TIMEOUT, "query timed out");
            p->cb(e, ev->code, ev->data.p, ev->data.len, p->arg);
            free(p);
        }
        return c->phase != L_CLOSING;
    }
    return true;
}

static void on_tick(void *arg) {
    link_conn *c = arg;
    for (;;) {
        rpc_event ev;
        err_t e = rpc_tick(c->rpc, clock_mono_ms(), &ev);
        if (e != ERR_OK) {
            fail(c, e);
            return;
        }
        if (ev.kind == RPC_EV_NONE) {
            break;
        }
        if (!deliver(c, &ev)) {
            return;
        }
    }
    pump(c);
}

static void on_data(net_stream *s, void *arg) {
    (void)s;
    link_conn *c = arg;
    if (!c->rpc) {
        return; /* bytes before our verdict are left unread */
    }
    struct evbuffer *in = net_stream_input(c->s);
    while (evbuffer_get_length(in) > 0 && c->phase != L_CLOSING) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) {
            break;
        }
        size_t used = 0;
        rpc_event ev;
        err_t e = rpc_recv(c->rpc, v.iov_base, v.iov_len, &used, clock_mono_ms(), &ev);
        if (e != ERR_OK && e != ERR_AGAIN) {
            fail(c, e);
            return;
        }
        /* The event borrows from the input: deliver before draining. */
        bool alive = e == ERR_OK ? deliver(c, &ev) : true;
        if (!alive) {
            return;
        }
        evbuffer_drain(in, used);
    }
    if (c->phase != L_CLOSING) {
        pump(c);
    }
}

/* The peer is verified: start the link layer (tcp.connect / tcp.connected). */
static void start_link(link_conn *c) {
    rpc_config rc;
    memset(&rc, 0, sizeof(rc));
    rc.role = c->server ? RPC_ACCEPTOR : RPC_DIALER;
    rc.frame_max_in = PROTO_FRAME_MAX_UNAUTH; /* raised once the link is up */
    rc.frame_max_out = c->cfg.max_frame;
    c->rpc = rpc_new(&rc, clock_mono_ms());
    c->tick = net_timer_new(c->loop, on_tick, c);
    if (!c->rpc || !c->tick) {
        fail(c, ERR_NOMEM);
        return;
    }
    c->phase = L_LINK;
    pump(c);
    if (c->phase != L_CLOSING) {
        on_data(c->s, c); /* frames that arrived with the handshake */
    }
}

static void check_work(void *arg) {
    full_check *fc = arg;
    err_clear_detail();
    fc->result =
        ratls_verify_collateral(fc->pol, fc->quote.data, fc->quote.len, fc->now, &fc->peer);
    snprintf(fc->detail, sizeof(fc->detail), "%s", err_detail());
}

static void check_done(void *arg) {
    full_check *fc = arg;
    link_conn *c = fc->c;
    c->check = NULL;
    err_t e = fc->result;
    if (e != ERR_OK) {
        e = err_fail(e, "%s", fc->detail);
    }
    if (e == ERR_OK) {
        c->peer.tcb_status = fc->peer.tcb_status;
        c->peer.tcb_expiry = fc->peer.tcb_expiry;
    }
    buf_free(&fc->quote);
    free(fc);
    if (c->orphaned) {
        free(c);
        return;
    }
    if (c->phase == L_CLOSING) {
        return;
    }
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    start_link(c);
}

/* Collateral evaluation of the peer's quote (TCB level, QE identity, CRLs): off the loop when
 * a pool is configured. Nothing is read from or written to the peer meanwhile. */
static void start_full_check(link_conn *c) {
    full_check *fc = calloc(1, sizeof(*fc));
    if (!fc) {
        fail(c, ERR_NOMEM);
        return;
    }
    fc->c = c;
    fc->pol = ratls_ctx_policy(c->cfg.tls);
    fc->now = ratls_ctx_now(c->cfg.tls);
    buf_init(&fc->quote, RATLS_QUOTE_MAX);
    X509 *x = SSL_get0_peer_certificate(net_stream_ssl(c->s));
    unsigned char *der = NULL;
    int dlen = x ? i2d_X509(x, &der) : -1;
    err_t e = dlen > 0 ? ratls_cert_quote(der, (size_t)dlen, &fc->quote)
                       : err_fail(ERR_CERT_FORMAT, "no peer certificate");
    OPENSSL_free(der);
    if (e != ERR_OK) {
        buf_free(&fc->quote);
        free(fc);
        fail(c, e);
        return;
    }
    c->check = fc;
    if (!c->cfg.pool || net_pool_submit(c->cfg.pool, check_work, check_done, fc) != ERR_OK) {
        check_work(fc);
        check_done(fc);
    }
}

static void on_tls_ready(net_stream *s, void *arg) {
    link_conn *c = arg;
    err_t e = ratls_ssl_verdict(net_stream_ssl(s), &c->peer);
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    if (c->peer.attested && ratls_policy_wants_collateral(ratls_ctx_policy(c->cfg.tls))) {
        start_full_check(c);
        return;
    }
    start_link(c);
}

static void on_error(net_stream *s, err_t e, void *arg) {
    link_conn *c = arg;
    /* A refused certificate surfaces as a TLS alert; report the verdict's reason instead. */
    SSL *ssl = net_stream_ssl(s);
    if (ssl) {
        err_t v = ratls_ssl_verdict(ssl, NULL);
        if (v != ERR_OK && v != ERR_PEER_NOT_VERIFIED) {
            e = v;
        }
    }
    fail(c, e);
}

static void start_tls(link_conn *c) {
    SSL *ssl = ratls_ssl_new(c->cfg.tls);
    if (!ssl) {
        fail(c, err_fail(ERR_TLS, "cannot create a TLS session"));
        return;
    }
    c->phase = L_TLS;
    err_t e = net_stream_start_tls(c->s, ssl, c->server != NULL);
    if (e != ERR_OK) {
        fail(c, e);
    }
}

/* Dialer: solve in batches so the loop keeps serving other links. */
static void solve_step(void *arg) {
    link_conn *c = arg;
    int64_t nonce;
    err_t e = pow_solve_step(&c->solver, 20000, &nonce);
    if (e == ERR_AGAIN) {
        net_timer_arm(c->work, 0);
        return;
    }
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    uint8_t resp[POW_RESPONSE_LEN];
    pow_response_encode(nonce, resp);
    e = net_stream_raw_write(c->s, resp, sizeof(resp));
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    start_tls(c);
}

static void on_raw(net_stream *s, void *arg) {
    link_conn *c = arg;
    if (c->phase != L_POW) {
        return;
    }
    size_t want = (c->server ? POW_RESPONSE_LEN : POW_CHALLENGE_LEN) - c->pow_have;
    size_t got = 0;
    err_t e = net_stream_raw_read(s, c->pow_buf + c->pow_have, want, &got);
    if (e == ERR_AGAIN) {
        return;
    }
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    c->pow_have += got;
    if (got < want) {
        return;
    }
    cur cu;
    cur_init(&cu, c->pow_buf, c->pow_have);
    if (c->server) {
        int64_t nonce;
        e = pow_response_parse(&cu, &nonce);
        if (e == ERR_OK) {
            e = pow_check(&c->ch, nonce);
        }
        if (e != ERR_OK) {
            fail(c, e);
            return;
        }
        start_tls(c);
        return;
    }
    e = pow_challenge_parse(&cu, c->cfg.pow_max_difficulty, &c->ch);
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    pow_solver_init(&c->solver, &c->ch);
    c->phase = L_SOLVE;
    net_timer_arm(c->work, 0);
}

static void on_connected(net_stream *s, void *arg) {
    (void)s;
    link_conn *c = arg;
    c->phase = L_POW;
}

static const net_stream_cbs STREAM_CBS = {
    .on_connected = on_connected,
    .on_raw = on_raw,
    .on_tls_ready = on_tls_ready,
    .on_data = on_data,
    .on_drained = NULL,
    .on_error = on_error,
};

static void reap(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    link_conn *c = arg;
    conn_destroy(c, c->close_why);
}

static link_conn *conn_new(net_loop *l, const link_config *cfg, const link_handlers *h, void *arg) {
    link_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->loop = l;
    c->cfg = *cfg;
    c->h = *h;
    c->arg = arg;
    c->work = net_timer_new(l, solve_step, c);
    c->reaper = event_new(net_loop_base(l), -1, 0, reap, c);
    if (!c->work || !c->reaper) {
        net_timer_free(c->work);
        if (c->reaper) {
            event_free(c->reaper);
        }
        free(c);
        return NULL;
    }
    return c;
}

static void conn_destroy(link_conn *c, err_t why) {
    c->phase = L_CLOSING;
    /* Outstanding queries learn that the link is gone. */
    while (c->queries) {
        pending *p = c->queries;
        c->queries = p->next;
        p->cb(err_fail(ERR_EOF, "link closed: %s", err_str(why)), 0, NULL, 0, p->arg);
        free(p);
    }
    if (c->h.on_close) {
        c->h.on_close(c, why, c->arg);
    }
    if (c->server) {
        c->server->count--;
        if (c->sprev) {
            c->sprev->snext = c->snext;
        } else {
            c->server->conns = c->snext;
        }
        if (c->snext) {
            c->snext->sprev = c->sprev;
        }
    }
    net_timer_free(c->work);
    net_timer_free(c->tick);
    event_free(c->reaper);
    rpc_free(c->rpc);
    net_stream_free(c->s);
    if (c->check) {
        c->orphaned = true; /* the pool still holds the check; its completion frees c */
        return;
    }
    free(c);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
    (void)lev;
    (void)sa;
    (void)salen;
    link_server *srv = arg;
    /* As on dialed sockets (net_dial): frames are small and written as they come; with Nagle
     * on, a second frame waits for the peer's delayed ACK (40 ms on Linux). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    link_conn *c = conn_new(srv->loop, &srv->cfg, &srv->h, srv->arg);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->server = srv;
    srv->count++;
    c->snext = srv->conns;
    if (srv->conns) {
        srv->conns->sprev = c;
    }
    srv->conns = c;
    c->s = net_stream_new(srv->loop, fd, false, &STREAM_CBS, c);
    if (!c->s) {
        conn_destroy(c, ERR_NOMEM);
        return;
    }
    net_stream_deadline(c->s, c->cfg.handshake_ms);
    uint8_t msg[POW_CHALLENGE_LEN];
    err_t e = pow_challenge_make(c->cfg.pow_difficulty, &c->ch);
    if (e == ERR_OK) {
        pow_challenge_encode(&c->ch, msg);
        e = net_stream_raw_write(c->s, msg, sizeof(msg));
    }
    if (e != ERR_OK) {
        fail(c, e);
        return;
    }
    c->phase = L_POW;
}

err_t link_listen(net_loop *l, const char *host, uint16_t port, const link_config *cfg,
                  const link_handlers *h, void *arg, link_server **out) {
    if (cfg->pow_difficulty < 0 || cfg->pow_difficulty > POW_DIFFICULTY_LIMIT) {
        return err_fail(ERR_CONFIG, "PoW difficulty %d outside 0..64", cfg->pow_difficulty);
    }
    int fd;
    uint16_t bound;
    TRY(net_listen(host, port, &fd, &bound));
    link_server *s = calloc(1, sizeof(*s));
    if (!s) {
        evutil_closesocket(fd);
        return ERR_NOMEM;
    }
    s->loop = l;
    s->cfg = *cfg;
    s->h = *h;
    s->arg = arg;
    s->port = bound;
    s->lev = evconnlistener_new(net_loop_base(l), on_accept, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!s->lev) {
        evutil_closesocket(fd);
        free(s);
        return err_fail(ERR_IO, "cannot watch the listening socket");
    }
    *out = s;
    return ERR_OK;
}

uint16_t link_server_port(const link_server *s) {
    return s->port;
}

size_t link_server_count(const link_server *s) {
    return s->count;
}

void link_server_free(link_server *s) {
    if (!s) {
        return;
    }
    /* The server's links end with it (on_close(ERR_OK) for each). */
    while (s->conns) {
        conn_destroy(s->conns, ERR_OK);
    }
    evconnlistener_free(s->lev);
    free(s);
}

err_t link_dial(net_loop *l, const char *host, uint16_t port, const link_config *cfg,
                const link_handlers *h, void *arg, link_conn **out) {
    int fd;
    TRY(net_dial(host, port, &fd));
    link_conn *c = conn_new(l, cfg, h, arg);
    if (!c) {
        evutil_closesocket(fd);
        return ERR_NOMEM;
    }
    c->phase = L_CONNECTING;
    c->s = net_stream_new(l, fd, true, &STREAM_CBS, c);
    if (!c->s) {
        conn_destroy(c, ERR_NOMEM);
        return ERR_NOMEM;
    }
    net_stream_deadline(c->s, c->cfg.handshake_ms);
    *out = c;
    return ERR_OK;
}

static err_t ready(link_conn *c) {
    if (c->phase != L_READY) {
        return err_fail(ERR_BAD_STATE, "link is not ready");
    }
    if (net_stream_pending_output(c->s) > OUTPUT_HIGH_WATER) {
        return err_fail(ERR_AGAIN, "link output is full");
    }
    return ERR_OK;
}

err_t link_send_packet(link_conn *c, const uint8_t *data, size_t n) {
    TRY(ready(c));
    TRY(rpc_send(c->rpc, data, n));
    pump(c);
    return ERR_OK;
}

err_t link_send_msg(link_conn *c, const tlo_desc *d, const void *m) {
    buf b;
    buf_init(&b, c->cfg.max_frame);
    err_t e = tlo_encode(&b, d, m);
    if (e == ERR_OK) {
        e = link_send_packet(c, b.data, b.len);
    }
    buf_free(&b);
    return e;
}

err_t link_query(link_conn *c, const uint8_t *data, size_t n, uint64_t timeout_ms,
                 link_answer_cb cb, void *arg) {
    TRY(ready(c));
    pending *p = calloc(1, sizeof(*p));
    if (!p) {
        return ERR_NOMEM;
    }
    p->cb = cb;
    p->arg = arg;
    uint32_t t = timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)timeout_ms;
    err_t e = rpc_query(c->rpc, data, n, t, clock_mono_ms(), (uint64_t)(uintptr_t)p, &p->qid);
    if (e != ERR_OK) {
        free(p);
        return e;
    }
    p->next = c->queries;
    if (c->queries) {
        c->queries->prev = p;
    }
    c->queries = p;
    pump(c);
    return ERR_OK;
}

err_t link_answer(link_conn *c, uint64_t qid, const uint8_t *data, size_t n) {
    TRY(ready(c));
    TRY(rpc_answer(c->rpc, qid, data, n));
    pump(c);
    return ERR_OK;
}

err_t link_answer_error(link_conn *c, uint64_t qid, int32_t code, const char *msg) {
    TRY(ready(c));
    TRY(rpc_error(c->rpc, qid, code, msg));
    pump(c);
    return ERR_OK;
}

void link_close(link_conn *c) {
    fail(c, ERR_OK);
}

const ratls_peer *link_peer(const link_conn *c) {
    return &c->peer;
}

const char *link_peer_addr(link_conn *c) {
    return net_stream_peer(c->s);
}

void link_set_arg(link_conn *c, void *arg) {
    c->arg = arg;
}
