/* An attested COCOON link: TCP, proof-of-work admission, mutual RA-TLS 1.3, then framed TL
 * tcp.Packet messages (cocoon-internals.md §1.1, §1.3, §1.5), driven by the daemon's loop.
 *
 *   acceptor                               dialer
 *   ── challenge (24 B, plaintext) ──────▶
 *   ◀───────────────── response (12 B) ──   (solved in batches; the loop keeps running)
 *   ◀═══════════ TLS 1.3, both certificates verified (ratls) ═══════════▶
 *   (each side, if its policy has collateral: full DCAP evaluation of the peer's quote on the
 *    worker pool; the link stays silent until the verdict)
 *   ◀────────────────── tcp.connect{id} ──
 *   ── tcp.connected{id} ───────────────▶   on_ready on both sides
 *   ◀══════════ tcp.packet / tcp.query / tcp.queryAnswer / ping ═════════▶
 *
 * Nothing but the handshake is read or written before the peer's certificate verdict is OK,
 * and frames from a peer stay capped at PROTO_FRAME_MAX_UNAUTH until then. Every phase has a
 * deadline; a peer that stalls, sends bad PoW, a bad certificate or a bad frame is dropped
 * with a specific error passed to on_close. */
#ifndef COCOON_LINK_LINK_H
#define COCOON_LINK_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "net/loop.h"
#include "net/pool.h"
#include "proto/tlobj.h"
#include "ratls/policy.h"
#include "ratls/tls.h"

typedef struct link_conn link_conn;
typedef struct link_server link_server;

typedef struct {
    ratls_ctx *tls;         /* server context for link_listen, client for link_dial */
    int pow_difficulty;     /* acceptor: bits demanded (reference default 20) */
    int pow_max_difficulty; /* dialer: refuse harder challenges (default 28) */
    uint64_t handshake_ms;  /* PoW + TLS + connect must finish within this (default 15 s) */
    size_t max_frame;       /* after attestation (default PROTO_FRAME_MAX) */
    /* Where the collateral part of a peer's verification runs when the TLS policy wants it
     * (ratls_policy_wants_collateral): a worker pool keeps the loop free; NULL runs it inline. */
    net_pool *pool;
} link_config;

typedef struct {
    void (*on_ready)(link_conn *c, const ratls_peer *peer, void *arg);
    void (*on_packet)(link_conn *c, const uint8_t *data, size_t n, void *arg);
    /* Answer with link_answer / link_answer_error (now or later, while c lives). */
    void (*on_query)(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg);
    /* The link is gone (why != ERR_OK) or was closed locally (ERR_OK). c is freed right after
     * this returns; do not use it afterwards. */
    void (*on_close)(link_conn *c, err_t why, void *arg);
} link_handlers;

/* Answer callback of link_query: e == ERR_OK with the answer bytes, or an error (ERR_TIMEOUT,
 * ERR_EOF when the link closed first, or the peer's tcp.queryError as ERR_REMOTE with code). */
typedef void (*link_answer_cb)(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg);

void link_config_init(link_config *cfg, ratls_ctx *tls);

/* Listens on host:port (port 0 picks one; see link_server_port). Each accepted link gets its
 * own handler argument from accept_arg(server_arg) if set, else server_arg. */
MUST_CHECK err_t link_listen(net_loop *l, const char *host, uint16_t port, const link_config *cfg,
                             const link_handlers *h, void *arg, link_server **out);
uint16_t link_server_port(const link_server *s);
/* Stops listening and closes every link accepted by this server (on_close(ERR_OK) each). */
void link_server_free(link_server *s);
/* Connections currently open on this server (any phase). */
size_t link_server_count(const link_server *s);

MUST_CHECK err_t link_dial(net_loop *l, const char *host, uint16_t port, const link_config *cfg,
                           const link_handlers *h, void *arg, link_conn **out);

MUST_CHECK err_t link_send_packet(link_conn *c, const uint8_t *data, size_t n);
/* Encodes a boxed TL message (proto/tlobj.h) and sends it as one tcp.packet. */
MUST_CHECK err_t link_send_msg(link_conn *c, const tlo_desc *d, const void *m);
MUST_CHECK err_t link_query(link_conn *c, const uint8_t *data, size_t n, uint64_t timeout_ms,
                            link_answer_cb cb, void *arg);
MUST_CHECK err_t link_answer(link_conn *c, uint64_t qid, const uint8_t *data, size_t n);
MUST_CHECK err_t link_answer_error(link_conn *c, uint64_t qid, int32_t code, const char *msg);
/* Closes the link; on_close(ERR_OK) runs from the loop shortly after. */
void link_close(link_conn *c);
const ratls_peer *link_peer(const link_conn *c);
const char *link_peer_addr(link_conn *c);
void link_set_arg(link_conn *c, void *arg);

#endif
