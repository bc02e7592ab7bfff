#include "rpc.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/rand.h"
#include "frame.h"
#include "limits.h"
#include "msg.h"

typedef struct {
    uint64_t id;
    uint64_t deadline_ms;
    uint64_t tag;
} pending_query;

struct rpc {
    rpc_role role;
    rpc_state state;
    err_t failed;
    uint64_t connect_id;
    uint64_t last_recv_ms;
    uint64_t last_ping_ms; /* last time we sent anything that solicits traffic */
    uint32_t ping_idle_ms;
    uint32_t timeout_ms;
    uint32_t max_outstanding;
    uint64_t unknown_answers;
    frame_enc fenc;
    frame_dec fdec;
    buf out;
    /* Outstanding queries: unordered array, swap-remove. Linear scans are fine at the few
     * thousand entries max_outstanding allows; inference traffic uses one-way packets. */
    pending_query *q;
    size_t nq;
    size_t cap_q;
};

static err_t send_packet(rpc *r, const cmt_tcp_packet *p) {
    size_t mark;
    TRY(frame_enc_begin(&r->fenc, &r->out, &mark));
    err_t e = cmt_tcp_packet_encode(&r->out, p);
    if (e == ERR_OK) {
        e = frame_enc_end(&r->fenc, &r->out, mark);
    }
    if (e != ERR_OK) {
        r->out.len = mark;
    }
    return e;
}

static err_t send_id_packet(rpc *r, uint32_t ctor, uint64_t id) {
    cmt_tcp_packet p;
    memset(&p, 0, sizeof(p));
    p.id = ctor;
    /* ping, pong, connect and connected all have the single field id:long */
    switch (ctor) {
    case CM_TCP_PING_ID:
        p.u.ping.id = (int64_t)id;
        break;
    case CM_TCP_PONG_ID:
        p.u.pong.id = (int64_t)id;
        break;
    case CM_TCP_CONNECT_ID:
        p.u.connect.id = (int64_t)id;
        break;
    default:
        p.u.connected.id = (int64_t)id;
        break;
    }
    return send_packet(r, &p);
}

rpc *rpc_new(const rpc_config *cfg, uint64_t now_ms) {
    rpc *r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    r->role = cfg->role;
    r->state = RPC_CONNECTING;
    r->failed = ERR_OK;
    r->last_recv_ms = now_ms;
    r->last_ping_ms = now_ms;
    r->ping_idle_ms = cfg->ping_idle_ms ? cfg->ping_idle_ms : PROTO_PING_IDLE_MS;
    r->timeout_ms = cfg->timeout_ms           ? cfg->timeout_ms
                    : cfg->role == RPC_DIALER ? PROTO_DIALER_TIMEOUT_MS
                                              : PROTO_ACCEPTOR_TIMEOUT_MS;
    r->max_outstanding =
        cfg->max_outstanding ? cfg->max_outstanding : PROTO_MAX_OUTSTANDING_QUERIES;
    frame_enc_init(&r->fenc, cfg->frame_max_out ? cfg->frame_max_out : PROTO_FRAME_MAX);
    frame_dec_init(&r->fdec, cfg->frame_max_in ? cfg->frame_max_in : PROTO_FRAME_MAX);
    buf_init(&r->out, cfg->out_max ? cfg->out_max : BUF_DEFAULT_MAX);
    if (r->role == RPC_DIALER) {
        r->connect_id = rand_u64();
        if (send_id_packet(r, CM_TCP_CONNECT_ID, r->connect_id) != ERR_OK) {
            rpc_free(r);
            return NULL;
        }
    }
    return r;
}

void rpc_free(rpc *r) {
    if (!r) {
        return;
    }
    frame_dec_free(&r->fdec);
    buf_free(&r->out);
    free(r->q);
    free(r);
}

rpc_state rpc_get_state(const rpc *r) {
    return r->state;
}

buf *rpc_output(rpc *r) {
    return &r->out;
}

uint64_t rpc_unknown_answers(const rpc *r) {
    return r->unknown_answers;
}

size_t rpc_outstanding(const rpc *r) {
    return r->nq;
}

void rpc_set_frame_max_in(rpc *r, size_t max) {
    frame_dec_set_max(&r->fdec, max);
}

static err_t fail(rpc *r, err_t e) {
    r->failed = e;
    r->state = RPC_CLOSED;
    return e;
}

static pending_query *find_query(rpc *r, uint64_t id) {
    for (size_t i = 0; i < r->nq; i++) {
        if (r->q[i].id == id) {
            return &r->q[i];
        }
    }
    return NULL;
}

static void remove_query(rpc *r, pending_query *q) {
    *q = r->q[--r->nq];
}

/* ---- receive: one handler per (state, role, constructor), looked up in a table ---- */

typedef err_t (*rpc_handler)(rpc *r, const cmt_tcp_packet *p, rpc_event *ev);

static err_t on_connect(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    TRY(send_id_packet(r, CM_TCP_CONNECTED_ID, (uint64_t)p->u.connect.id));
    r->state = RPC_READY;
    ev->kind = RPC_EV_READY;
    return ERR_OK;
}

static err_t on_connected(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    if ((uint64_t)p->u.connected.id != r->connect_id) {
        return err_fail(ERR_BAD_STATE, "tcp.connected for id %016llx, we sent %016llx",
                        (unsigned long long)p->u.connected.id, (unsigned long long)r->connect_id);
    }
    r->state = RPC_READY;
    ev->kind = RPC_EV_READY;
    return ERR_OK;
}

static err_t on_ping(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    (void)ev;
    return send_id_packet(r, CM_TCP_PONG_ID, (uint64_t)p->u.ping.id);
}

static err_t on_pong(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    /* Receiving it already refreshed last_recv_ms; that is all a pong is for. */
    (void)r;
    (void)p;
    (void)ev;
    return ERR_OK;
}

static err_t on_packet(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    (void)r;
    ev->kind = RPC_EV_PACKET;
    ev->data = p->u.packet.data;
    return ERR_OK;
}

static err_t on_query(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    (void)r;
    ev->kind = RPC_EV_QUERY;
    ev->query_id = (uint64_t)p->u.query.id;
    ev->data = p->u.query.data;
    return ERR_OK;
}

static err_t on_answer(rpc *r, const cmt_tcp_packet *p, rpc_event *ev) {
    bool is_error = p->id == CM_TCP_QUERY_ERROR_ID;
    uint64_t id = (uint64_t)(is_error ? p->u.query_error.id : p->u.query_answer.id);
    pending_query *q = find_query(r, id);
    if (!q) {
        r->unknown_answers++;
        return ERR_OK;
    }
    ev->kind = is_error ? RPC_EV_ERROR : RPC_EV_ANSWER;
    ev->query_id = id;
    ev->tag = q->tag;
    if (is_error) {
        ev->code = p->u.query_error.code;
        ev->data = p->u.query_error.message;
    } else {
        ev->data = p->u.query_answer.data;
    }
    remove_query(r, q);
    return ERR_OK;
}

#define ROLE_DIALER (1u << RPC_DIALER)
#define ROLE_ACCEPTOR (1u << RPC_ACCEPTOR)
#define ROLE_ANY (ROLE_DIALER | ROLE_ACCEPTOR)

static const struct {
    rpc_state state;
    unsigned roles;
    uint32_t ctor;
    rpc_handler handler;
    const char *name;
} rpc_transitions[] = {
    {RPC_CONNECTING, ROLE_ACCEPTOR, CM_TCP_CONNECT_ID, on_connect, "connect"},
    {RPC_CONNECTING, ROLE_DIALER, CM_TCP_CONNECTED_ID, on_connected, "connected"},
    {RPC_READY, ROLE_ANY, CM_TCP_PING_ID, on_ping, "ping"},
    {RPC_READY, ROLE_ANY, CM_TCP_PONG_ID, on_pong, "pong"},
    {RPC_READY, ROLE_ANY, CM_TCP_PACKET_ID, on_packet, "packet"},
    {RPC_READY, ROLE_ANY, CM_TCP_QUERY_ID, on_query, "query"},
    {RPC_READY, ROLE_ANY, CM_TCP_QUERY_ANSWER_ID, on_answer, "queryAnswer"},
    {RPC_READY, ROLE_ANY, CM_TCP_QUERY_ERROR_ID, on_answer, "queryError"},
};

static err_t dispatch(rpc *r, const uint8_t *payload, size_t n, uint64_t now_ms, rpc_event *ev) {
    cur c;
    cur_init(&c, payload, n);
    cmt_tcp_packet p;
    TRY(cmt_tcp_packet_decode(&c, &p));
    TRY(cur_expect_end(&c));
    r->last_recv_ms = now_ms;
    for (size_t i = 0; i < sizeof(rpc_transitions) / sizeof(rpc_transitions[0]); i++) {
        if (rpc_transitions[i].state == r->state && rpc_transitions[i].ctor == p.id &&
            (rpc_transitions[i].roles & (1u << r->role))) {
            return rpc_transitions[i].handler(r, &p, ev);
        }
    }
    const tlo_desc *d = tlo_type_ctor(&cmt_tcp_packet_type, p.id);
    return err_fail(ERR_BAD_STATE, "%s not allowed while %s (%s)", d ? d->name : "?",
                    r->state == RPC_CONNECTING ? "connecting" : "ready",
                    r->role == RPC_DIALER ? "dialer" : "acceptor");
}

err_t rpc_feed(rpc *r, const uint8_t *payload, size_t n, uint64_t now_ms, rpc_event *ev) {
    memset(ev, 0, sizeof(*ev));
    if (r->failed != ERR_OK) {
        return r->failed;
    }
    err_t e = dispatch(r, payload, n, now_ms, ev);
    if (e != ERR_OK) {
        memset(ev, 0, sizeof(*ev));
        return fail(r, e);
    }
    return ERR_OK;
}

err_t rpc_recv(rpc *r, const uint8_t *data, size_t n, size_t *used, uint64_t now_ms,
               rpc_event *ev) {
    memset(ev, 0, sizeof(*ev));
    *used = 0;
    if (r->failed != ERR_OK) {
        return r->failed;
    }
    frame f;
    err_t e = frame_dec_feed(&r->fdec, data, n, used, &f);
    if (e == ERR_AGAIN) {
        return e;
    }
    if (e != ERR_OK) {
        return fail(r, e);
    }
    return rpc_feed(r, f.payload, f.len, now_ms, ev);
}

/* ---- timers ---- */

uint64_t rpc_next_deadline(const rpc *r) {
    uint64_t t = r->last_recv_ms + r->timeout_ms;
    if (r->role == RPC_DIALER && r->state == RPC_READY) {
        uint64_t idle = r->last_recv_ms > r->last_ping_ms ? r->last_recv_ms : r->last_ping_ms;
        if (idle + r->ping_idle_ms < t) {
            t = idle + r->ping_idle_ms;
        }
    }
    for (size_t i = 0; i < r->nq; i++) {
        if (r->q[i].deadline_ms < t) {
            t = r->q[i].deadline_ms;
        }
    }
    return t;
}

err_t rpc_tick(rpc *r, uint64_t now_ms, rpc_event *ev) {
    memset(ev, 0, sizeof(*ev));
    if (r->failed != ERR_OK) {
        return r->failed;
    }
    for (size_t i = 0; i < r->nq; i++) {
        if (now_ms >= r->q[i].deadline_ms) {
            ev->kind = RPC_EV_TIMEOUT;
            ev->query_id = r->q[i].id;
            ev->tag = r->q[i].tag;
            remove_query(r, &r->q[i]);
            return ERR_OK;
        }
    }
    if (now_ms >= r->last_recv_ms + r->timeout_ms) {
        return fail(r, err_fail(ERR_TIMEOUT, "no frame for %llu ms",
                                (unsigned long long)(now_ms - r->last_recv_ms)));
    }
    if (r->role == RPC_DIALER && r->state == RPC_READY) {
        uint64_t idle = r->last_recv_ms > r->last_ping_ms ? r->last_recv_ms : r->last_ping_ms;
        if (now_ms >= idle + r->ping_idle_ms) {
            TRY(send_id_packet(r, CM_TCP_PING_ID, rand_u64()));
            r->last_ping_ms = now_ms;
        }
    }
    return ERR_OK;
}

/* ---- send ---- */

static err_t need_ready(const rpc *r) {
    if (r->failed != ERR_OK) {
        return r->failed;
    }
    if (r->state != RPC_READY) {
        return err_fail(ERR_BAD_STATE, "link not ready");
    }
    return ERR_OK;
}

err_t rpc_query(rpc *r, const void *data, size_t n, uint32_t timeout_ms, uint64_t now_ms,
                uint64_t tag, uint64_t *query_id) {
    TRY(need_ready(r));
    if (r->nq >= r->max_outstanding) {
        return err_fail(ERR_TOO_MANY, "%zu queries outstanding", r->nq);
    }
    uint64_t id;
    do {
        id = rand_u64();
    } while (find_query(r, id) != NULL);
    if (r->nq == r->cap_q) {
        size_t cap = r->cap_q ? r->cap_q * 2 : 4;
        pending_query *nq = realloc(r->q, cap * sizeof(*nq));
        if (!nq) {
            return err_fail(ERR_NOMEM, "query table");
        }
        r->q = nq;
        r->cap_q = cap;
    }
    cmt_tcp_packet p;
    memset(&p, 0, sizeof(p));
    p.id = CM_TCP_QUERY_ID;
    p.u.query.id = (int64_t)id;
    p.u.query.data = tl_bytes_of(data, n);
    TRY(send_packet(r, &p));
    r->q[r->nq].id = id;
    r->q[r->nq].deadline_ms = now_ms + timeout_ms;
    r->q[r->nq].tag = tag;
    r->nq++;
    *query_id = id;
    return ERR_OK;
}

err_t rpc_answer(rpc *r, uint64_t query_id, const void *data, size_t n) {
    TRY(need_ready(r));
    cmt_tcp_packet p;
    memset(&p, 0, sizeof(p));
    p.id = CM_TCP_QUERY_ANSWER_ID;
    p.u.query_answer.id = (int64_t)query_id;
    p.u.query_answer.data = tl_bytes_of(data, n);
    return send_packet(r, &p);
}

err_t rpc_error(rpc *r, uint64_t query_id, int32_t code, const char *message) {
    TRY(need_ready(r));
    cmt_tcp_packet p;
    memset(&p, 0, sizeof(p));
    p.id = CM_TCP_QUERY_ERROR_ID;
    p.u.query_error.id = (int64_t)query_id;
    p.u.query_error.code = code;
    p.u.query_error.message = tl_bytes_str(message);
    return send_packet(r, &p);
}

err_t rpc_send(rpc *r, const void *data, size_t n) {
    TRY(need_ready(r));
    cmt_tcp_packet p;
    memset(&p, 0, sizeof(p));
    p.id = CM_TCP_PACKET_ID;
    p.u.packet.data = tl_bytes_of(data, n);
    return send_packet(r, &p);
}

err_t rpc_cancel(rpc *r, uint64_t query_id) {
    pending_query *q = find_query(r, query_id);
    if (!q) {
        return err_fail(ERR_NOT_FOUND, "no query %016llx", (unsigned long long)query_id);
    }
    remove_query(r, q);
    return ERR_OK;
}
