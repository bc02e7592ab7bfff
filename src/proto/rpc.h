/* Sans-I/O link layer over tcp.Packet (cocoon-internals.md §1.5): connect handshake, liveness
 * pings and timeouts, queries with 64-bit ids and per-query deadlines, one-way packets.
 *
 * The caller owns the socket and the clock:
 *   - received stream bytes go to rpc_recv (which frames them, see proto/frame.h), or already
 *     unframed tcp.Packet payloads to rpc_feed; each call yields at most one rpc_event;
 *   - rpc_tick(now) reports expired queries and link timeouts and sends pings;
 *   - everything to send is appended, already FRAMED (len ‖ seqno ‖ payload), to rpc_output();
 *     the caller writes it out and drops what was written with buf_consume.
 * Event data borrows from the input of the call that produced it (or from the link's frame
 * buffer when a frame arrived in pieces): valid until the next rpc_recv/rpc_feed.
 *
 * Rules: the dialer sends tcp.connect{random id} at creation; the acceptor answers the first
 * packet, which must be tcp.connect, with tcp.connected{same id}; anything else before the link is
 * ready, or a second connect/connected, is ERR_BAD_STATE. The dialer pings after 10 s without
 * traffic and gives up after 20 s without a received frame; the acceptor gives up after 60 s.
 * Pings are answered with pongs. Answers and errors for unknown query ids are dropped and counted
 * (the reference drops them too: a late answer after our timeout is normal). Any error returned
 * by rpc_recv/rpc_feed/rpc_tick other than ERR_AGAIN is fatal: the link is closed and keeps
 * returning that error.
 */
#ifndef COCOON_PROTO_RPC_H
#define COCOON_PROTO_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "proto/tl.h"

typedef enum { RPC_DIALER, RPC_ACCEPTOR } rpc_role;

typedef enum {
    RPC_CONNECTING,
    RPC_READY,
    RPC_CLOSED,
} rpc_state;

typedef struct {
    rpc_role role;
    size_t frame_max_in;      /* 0: PROTO_FRAME_MAX */
    size_t frame_max_out;     /* 0: PROTO_FRAME_MAX */
    uint32_t ping_idle_ms;    /* 0: PROTO_PING_IDLE_MS (dialer only) */
    uint32_t timeout_ms;      /* 0: 20 s dialer, 60 s acceptor */
    uint32_t max_outstanding; /* 0: PROTO_MAX_OUTSTANDING_QUERIES */
    size_t out_max;           /* 0: BUF_DEFAULT_MAX bytes of unsent output */
} rpc_config;

typedef enum {
    RPC_EV_NONE,    /* nothing for the application (ping, pong, dropped answer) */
    RPC_EV_READY,   /* handshake complete */
    RPC_EV_PACKET,  /* one-way tcp.packet: data */
    RPC_EV_QUERY,   /* peer's tcp.query: query_id, data; reply with rpc_answer/rpc_error */
    RPC_EV_ANSWER,  /* answer to our query: query_id, tag, data */
    RPC_EV_ERROR,   /* error answer to our query: query_id, tag, code, data = message */
    RPC_EV_TIMEOUT, /* our query passed its deadline: query_id, tag (from rpc_tick) */
} rpc_event_kind;

typedef struct {
    rpc_event_kind kind;
    uint64_t query_id;
    uint64_t tag; /* caller's value given to rpc_query */
    int32_t code;
    tl_bytes data;
} rpc_event;

typedef struct rpc rpc;

/* A dialer queues tcp.connect immediately. NULL only on allocation failure. */
rpc *rpc_new(const rpc_config *cfg, uint64_t now_ms);
void rpc_free(rpc *r);
rpc_state rpc_get_state(const rpc *r);
/* Framed bytes waiting to be written. */
buf *rpc_output(rpc *r);
/* Answers/errors that matched no outstanding query, since creation. */
uint64_t rpc_unknown_answers(const rpc *r);
size_t rpc_outstanding(const rpc *r);
/* Change the inbound frame limit (e.g. raise it once the peer is attested). */
void rpc_set_frame_max_in(rpc *r, size_t max);

/* Stream bytes from the transport: consumes up to one frame (*used set) and returns its event.
 * ERR_AGAIN when all bytes were consumed without completing a frame. */
MUST_CHECK err_t rpc_recv(rpc *r, const uint8_t *data, size_t n, size_t *used, uint64_t now_ms,
                          rpc_event *ev);
/* One complete tcp.Packet payload (for callers that frame themselves). */
MUST_CHECK err_t rpc_feed(rpc *r, const uint8_t *payload, size_t n, uint64_t now_ms, rpc_event *ev);
/* Timers: returns one event per call (RPC_EV_TIMEOUT for each expired query; call until
 * RPC_EV_NONE), sends a ping when due, and ERR_TIMEOUT when the link itself timed out. */
MUST_CHECK err_t rpc_tick(rpc *r, uint64_t now_ms, rpc_event *ev);
/* Earliest time rpc_tick has something to do. */
uint64_t rpc_next_deadline(const rpc *r);

/* Sending (ERR_BAD_STATE unless ready; on failure nothing is queued). */
MUST_CHECK err_t rpc_query(rpc *r, const void *data, size_t n, uint32_t timeout_ms, uint64_t now_ms,
                           uint64_t tag, uint64_t *query_id);
MUST_CHECK err_t rpc_answer(rpc *r, uint64_t query_id, const void *data, size_t n);
MUST_CHECK err_t rpc_error(rpc *r, uint64_t query_id, int32_t code, const char *message);
MUST_CHECK err_t rpc_send(rpc *r, const void *data, size_t n);
/* Forget an outstanding query (its answer will then count as unknown). ERR_NOT_FOUND if none. */
MUST_CHECK err_t rpc_cancel(rpc *r, uint64_t query_id);

#endif
