/* Link layer: connect handshake, out-of-state packets, query/answer/error matching, unknown and
 * late answers, per-query deadlines, ping after idle, link timeouts for both roles, and failures
 * that stick. Two state machines talk through their output buffers; time is a parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/err.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/rpc.h"

#define MAX_EVENTS 16

typedef struct {
    rpc_event ev[MAX_EVENTS];
    size_t n;
    err_t err;
} events;

/* Move everything `from` has queued into `to`, collecting the events `to` reports. */
static events pump(rpc *from, rpc *to, uint64_t now) {
    events out = {.n = 0, .err = ERR_OK};
    buf *b = rpc_output(from);
    size_t off = 0;
    while (off < b->len) {
        size_t used;
        rpc_event ev;
        err_t e = rpc_recv(to, b->data + off, b->len - off, &used, now, &ev);
        off += used;
        if (e == ERR_AGAIN) {
            break;
        }
        if (e != ERR_OK) {
            out.err = e;
            break;
        }
        assert_true(out.n < MAX_EVENTS);
        out.ev[out.n++] = ev;
    }
    buf_consume(b, b->len);
    return out;
}

/* The tcp.Packet constructors queued in r's output (frames are decoded, not consumed). */
static size_t queued_ctors(rpc *r, uint32_t *ids, size_t max, cmt_tcp_packet *last) {
    buf *b = rpc_output(r);
    frame_dec d;
    frame_dec_init(&d, PROTO_FRAME_MAX);
    /* the output continues the sender's numbering: skip the check by reading raw headers */
    size_t n = 0;
    size_t off = 0;
    while (off + 8 <= b->len && n < max) {
        uint32_t len = b->data[off] | b->data[off + 1] << 8 | b->data[off + 2] << 16 |
                       (uint32_t)b->data[off + 3] << 24;
        cur c;
        cur_init(&c, b->data + off + 8, len);
        cmt_tcp_packet p;
        assert_int_equal(cmt_tcp_packet_decode(&c, &p), ERR_OK);
        ids[n++] = p.id;
        if (last) {
            *last = p;
        }
        off += 8 + len;
    }
    frame_dec_free(&d);
    return n;
}

static void make_pair(rpc **dialer, rpc **acceptor, uint64_t now) {
    rpc_config dc = {.role = RPC_DIALER};
    rpc_config ac = {.role = RPC_ACCEPTOR};
    *dialer = rpc_new(&dc, now);
    *acceptor = rpc_new(&ac, now);
    assert_non_null(*dialer);
    assert_non_null(*acceptor);
}

static void connect_pair(rpc **dialer, rpc **acceptor, uint64_t now) {
    make_pair(dialer, acceptor, now);
    events e = pump(*dialer, *acceptor, now);
    assert_int_equal(e.err, ERR_OK);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, RPC_EV_READY);
    e = pump(*acceptor, *dialer, now);
    assert_int_equal(e.err, ERR_OK);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, RPC_EV_READY);
}

static void test_handshake(void **state) {
    (void)state;
    rpc *d;
    rpc *a;
    make_pair(&d, &a, 1000);
    /* the dialer speaks first, with tcp.connect in frame 0; the acceptor is silent */
    uint32_t ids[4];
    cmt_tcp_packet connect;
    assert_int_equal(queued_ctors(d, ids, 4, &connect), 1);
    assert_int_equal(ids[0], CM_TCP_CONNECT_ID);
    assert_int_equal(rpc_output(d)->data[4], 0); /* seqno 0 */
    assert_int_equal(rpc_output(a)->len, 0);
    assert_int_equal(rpc_get_state(d), RPC_CONNECTING);
    assert_int_equal(rpc_send(d, "x", 1), ERR_BAD_STATE);

    events e = pump(d, a, 1000);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, RPC_EV_READY);
    assert_int_equal(rpc_get_state(a), RPC_READY);
    cmt_tcp_packet connected;
    assert_int_equal(queued_ctors(a, ids, 4, &connected), 1);
    assert_int_equal(ids[0], CM_TCP_CONNECTED_ID);
    assert_true(connected.u.connected.id == connect.u.connect.id);
    e = pump(a, d, 1000);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, RPC_EV_READY);
    assert_int_equal(rpc_get_state(d), RPC_READY);
    rpc_free(d);
    rpc_free(a);
}

static void feed_packet(rpc *r, const cmt_tcp_packet *p, err_t want) {
    buf b;
    buf_init(&b, 4096);
    assert_int_equal(cmt_tcp_packet_encode(&b, p), ERR_OK);
    rpc_event ev;
    assert_int_equal(rpc_feed(r, b.data, b.len, 0, &ev), want);
    buf_free(&b);
}

/* Anything but the expected handshake packet is a protocol error, and it sticks. */
static void test_out_of_state_packets(void **state) {
    (void)state;
    static const uint32_t all[] = {CM_TCP_PING_ID,    CM_TCP_PONG_ID,         CM_TCP_PACKET_ID,
                                   CM_TCP_QUERY_ID,   CM_TCP_QUERY_ANSWER_ID, CM_TCP_QUERY_ERROR_ID,
                                   CM_TCP_CONNECT_ID, CM_TCP_CONNECTED_ID};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        for (int role = 0; role < 2; role++) {
            rpc_config cfg = {.role = role == 0 ? RPC_DIALER : RPC_ACCEPTOR};
            rpc *r = rpc_new(&cfg, 0);
            cmt_tcp_packet p;
            memset(&p, 0, sizeof(p));
            p.id = all[i];
            bool expected = (role == 1 && all[i] == CM_TCP_CONNECT_ID);
            if (role == 0 && all[i] == CM_TCP_CONNECTED_ID) {
                /* right packet, wrong id: not an answer to our connect */
                expected = false;
            }
            feed_packet(r, &p, expected ? ERR_OK : ERR_BAD_STATE);
            if (!expected) {
                assert_int_equal(rpc_get_state(r), RPC_CLOSED);
                /* even the correct packet is refused now */
                p.id = role == 0 ? CM_TCP_CONNECTED_ID : CM_TCP_CONNECT_ID;
                feed_packet(r, &p, ERR_BAD_STATE);
            }
            rpc_free(r);
        }
    }
    /* after the handshake, connect/connected are out of place on both sides */
    rpc *d;
    rpc *a;
    connect_pair(&d, &a, 0);
    cmt_tcp_packet p;
    memset(&p, 0, sizeof(p));
    p.id = CM_TCP_CONNECT_ID;
    feed_packet(a, &p, ERR_BAD_STATE);
    p.id = CM_TCP_CONNECTED_ID;
    feed_packet(d, &p, ERR_BAD_STATE);
    rpc_free(d);
    rpc_free(a);
}

static void test_query_answer_and_error(void **state) {
    (void)state;
    rpc *d;
    rpc *a;
    connect_pair(&d, &a, 0);
    uint64_t q1;
    uint64_t q2;
    assert_int_equal(rpc_query(d, "hello", 5, 30000, 0, 11, &q1), ERR_OK);
    assert_int_equal(rpc_query(d, "world", 5, 30000, 0, 22, &q2), ERR_OK);
    assert_true(q1 != q2);
    assert_int_equal(rpc_outstanding(d), 2);
    events e = pump(d, a, 5);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.ev[0].kind, RPC_EV_QUERY);
    assert_true(e.ev[0].query_id == q1);
    assert_int_equal(e.ev[0].data.len, 5);
    assert_memory_equal(e.ev[0].data.p, "hello", 5);
    /* answered out of order */
    assert_int_equal(rpc_error(a, q2, 652, "too slow"), ERR_OK);
    assert_int_equal(rpc_answer(a, q1, "HELLO", 5), ERR_OK);
    e = pump(a, d, 6);
    assert_int_equal(e.err, ERR_OK);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.ev[0].kind, RPC_EV_ERROR);
    assert_true(e.ev[0].query_id == q2);
    assert_true(e.ev[0].tag == 22);
    assert_int_equal(e.ev[0].code, 652);
    assert_memory_equal(e.ev[0].data.p, "too slow", 8);
    assert_int_equal(e.ev[1].kind, RPC_EV_ANSWER);
    assert_true(e.ev[1].tag == 11);
    assert_memory_equal(e.ev[1].data.p, "HELLO", 5);
    assert_int_equal(rpc_outstanding(d), 0);
    /* a duplicate answer is now unknown: dropped, counted, not fatal */
    assert_int_equal(rpc_answer(a, q1, "again", 5), ERR_OK);
    assert_int_equal(rpc_answer(a, 12345, "never asked", 11), ERR_OK);
    e = pump(a, d, 7);
    assert_int_equal(e.err, ERR_OK);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.ev[0].kind, RPC_EV_NONE);
    assert_int_equal(e.ev[1].kind, RPC_EV_NONE);
    assert_int_equal(rpc_unknown_answers(d), 2);
    assert_int_equal(rpc_get_state(d), RPC_READY);
    /* the acceptor can query the dialer too, and one-way packets arrive as events */
    uint64_t q3;
    assert_int_equal(rpc_query(a, "q", 1, 1000, 7, 33, &q3), ERR_OK);
    assert_int_equal(rpc_send(a, "oneway", 6), ERR_OK);
    e = pump(a, d, 8);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.ev[0].kind, RPC_EV_QUERY);
    assert_int_equal(e.ev[1].kind, RPC_EV_PACKET);
    assert_memory_equal(e.ev[1].data.p, "oneway", 6);
    assert_int_equal(rpc_cancel(a, q3), ERR_OK);
    assert_int_equal(rpc_cancel(a, q3), ERR_NOT_FOUND);
    rpc_free(d);
    rpc_free(a);
}

static void test_query_deadline(void **state) {
    (void)state;
    rpc *d;
    rpc *a;
    connect_pair(&d, &a, 0);
    uint64_t q;
    assert_int_equal(rpc_query(d, "x", 1, 1000, 100, 7, &q), ERR_OK);
    assert_true(rpc_next_deadline(d) == 1100);
    rpc_event ev;
    assert_int_equal(rpc_tick(d, 1099, &ev), ERR_OK);
    assert_int_equal(ev.kind, RPC_EV_NONE);
    assert_int_equal(rpc_tick(d, 1100, &ev), ERR_OK);
    assert_int_equal(ev.kind, RPC_EV_TIMEOUT);
    assert_true(ev.query_id == q);
    assert_true(ev.tag == 7);
    assert_int_equal(rpc_tick(d, 1100, &ev), ERR_OK);
    assert_int_equal(ev.kind, RPC_EV_NONE);
    /* the late answer is an unknown one */
    pump(d, a, 1100);
    assert_int_equal(rpc_answer(a, q, "late", 4), ERR_OK);
    events e = pump(a, d, 1200);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, RPC_EV_NONE);
    assert_int_equal(rpc_unknown_answers(d), 1);
    rpc_free(d);
    rpc_free(a);
}

static void test_dialer_pings_after_idle_and_pong_keeps_link(void **state) {
    (void)state;
    rpc *d;
    rpc *a;
    connect_pair(&d, &a, 0);
    rpc_event ev;
    assert_true(rpc_next_deadline(d) == PROTO_PING_IDLE_MS);
    assert_int_equal(rpc_tick(d, PROTO_PING_IDLE_MS - 1, &ev), ERR_OK);
    assert_int_equal(rpc_output(d)->len, 0);
    assert_int_equal(rpc_tick(d, PROTO_PING_IDLE_MS, &ev), ERR_OK);
    uint32_t ids[4];
    assert_int_equal(queued_ctors(d, ids, 4, NULL), 1);
    assert_int_equal(ids[0], CM_TCP_PING_ID);
    /* no second ping until another idle period */
    assert_int_equal(rpc_tick(d, PROTO_PING_IDLE_MS + 1, &ev), ERR_OK);
    assert_int_equal(queued_ctors(d, ids, 4, NULL), 1);
    events e = pump(d, a, PROTO_PING_IDLE_MS + 5);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.ev[0].kind, RPC_EV_NONE);
    assert_int_equal(queued_ctors(a, ids, 4, NULL), 1);
    assert_int_equal(ids[0], CM_TCP_PONG_ID);
    e = pump(a, d, 15000);
    assert_int_equal(e.ev[0].kind, RPC_EV_NONE);
    /* the pong at 15 s moved the dialer's timeout to 35 s */
    assert_int_equal(rpc_tick(d, 34999, &ev), ERR_OK);
    assert_int_equal(rpc_get_state(d), RPC_READY);
    /* the acceptor never pings */
    assert_int_equal(rpc_tick(a, 30000, &ev), ERR_OK);
    assert_int_equal(rpc_output(a)->len, 0);
    rpc_free(d);
    rpc_free(a);
}

static void test_link_timeouts(void **state) {
    (void)state;
    rpc *d;
    rpc *a;
    connect_pair(&d, &a, 1000);
    rpc_event ev;
    assert_int_equal(rpc_tick(d, 1000 + PROTO_DIALER_TIMEOUT_MS - 1, &ev), ERR_OK);
    assert_int_equal(rpc_tick(d, 1000 + PROTO_DIALER_TIMEOUT_MS, &ev), ERR_TIMEOUT);
    assert_int_equal(rpc_get_state(d), RPC_CLOSED);
    assert_int_equal(rpc_tick(d, 1000 + PROTO_DIALER_TIMEOUT_MS + 1, &ev), ERR_TIMEOUT);
    assert_int_equal(rpc_send(d, "x", 1), ERR_TIMEOUT);
    assert_int_equal(rpc_tick(a, 1000 + PROTO_ACCEPTOR_TIMEOUT_MS - 1, &ev), ERR_OK);
    assert_int_equal(rpc_tick(a, 1000 + PROTO_ACCEPTOR_TIMEOUT_MS, &ev), ERR_TIMEOUT);
    rpc_free(d);
    rpc_free(a);
    /* a dialer whose connect is never answered times out too */
    make_pair(&d, &a, 0);
    assert_int_equal(rpc_tick(d, PROTO_DIALER_TIMEOUT_MS, &ev), ERR_TIMEOUT);
    rpc_free(d);
    rpc_free(a);
}

static void test_malformed_input_is_fatal(void **state) {
    (void)state;
    rpc *d;
    rpc *a;
    connect_pair(&d, &a, 0);
    /* trailing byte after a tcp.ping */
    const uint8_t trailing[] = {0x7c, 0x62, 0xe9, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0};
    rpc_event ev;
    assert_int_equal(rpc_feed(a, trailing, sizeof(trailing), 0, &ev), ERR_TRAILING);
    assert_int_equal(rpc_get_state(a), RPC_CLOSED);
    /* not a tcp.Packet */
    const uint8_t other[] = {0xb0, 0x92, 0xf0, 0x6a, 5, 0, 0, 0};
    assert_int_equal(rpc_feed(d, other, sizeof(other), 0, &ev), ERR_BAD_CONSTRUCTOR);
    rpc_free(d);
    rpc_free(a);

    /* a skipped frame seqno through the stream interface */
    connect_pair(&d, &a, 0);
    assert_int_equal(rpc_send(d, "one", 3), ERR_OK);
    assert_int_equal(rpc_send(d, "two", 3), ERR_OK);
    buf *out = rpc_output(d);
    size_t first = 8 + (out->data[0] | out->data[1] << 8);
    buf_consume(out, first); /* drop frame 1 on the floor: frame 2 arrives next */
    events e = pump(d, a, 0);
    assert_int_equal(e.err, ERR_BAD_SEQNO);
    rpc_free(d);
    rpc_free(a);
}

static void test_limits(void **state) {
    (void)state;
    rpc_config dc = {.role = RPC_DIALER, .max_outstanding = 2};
    rpc_config ac = {.role = RPC_ACCEPTOR, .frame_max_in = 64};
    rpc *d = rpc_new(&dc, 0);
    rpc *a = rpc_new(&ac, 0);
    events e = pump(d, a, 0);
    assert_int_equal(e.ev[0].kind, RPC_EV_READY);
    e = pump(a, d, 0);
    assert_int_equal(e.ev[0].kind, RPC_EV_READY);
    uint64_t q;
    assert_int_equal(rpc_query(d, "1", 1, 100, 0, 0, &q), ERR_OK);
    assert_int_equal(rpc_query(d, "2", 1, 100, 0, 0, &q), ERR_OK);
    size_t before = rpc_output(d)->len;
    assert_int_equal(rpc_query(d, "3", 1, 100, 0, 0, &q), ERR_TOO_MANY);
    assert_int_equal(rpc_output(d)->len, before);
    e = pump(d, a, 0);
    assert_int_equal(e.err, ERR_OK);
    /* tcp.packet with 59 data bytes = id 4 + (1 + 59 + 0 pad) = 64-byte payload: at the limit;
     * 60 data bytes = 4 + (1 + 60 + 3 pad) = 68: beyond */
    uint8_t data[60] = {0};
    assert_int_equal(rpc_send(d, data, 59), ERR_OK);
    e = pump(d, a, 0);
    assert_int_equal(e.err, ERR_OK);
    assert_int_equal(e.ev[0].kind, RPC_EV_PACKET);
    assert_int_equal(rpc_send(d, data, 60), ERR_OK);
    e = pump(d, a, 0);
    assert_int_equal(e.err, ERR_FRAME_TOO_LARGE);
    rpc_free(d);
    rpc_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_out_of_state_packets),
        cmocka_unit_test(test_query_answer_and_error),
        cmocka_unit_test(test_query_deadline),
        cmocka_unit_test(test_dialer_pings_after_idle_and_pong_keeps_link),
        cmocka_unit_test(test_link_timeouts),
        cmocka_unit_test(test_malformed_input_is_fatal),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
