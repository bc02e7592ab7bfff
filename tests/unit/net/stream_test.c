/* The TLS phase of net_stream over real sockets, both ends on one loop: what a user of a link
 * would notice. Several messages written in one callback leave in one send (a SOCK_SEQPACKET
 * relay counts the sends); pausing keeps data back and resuming delivers it from the loop; a
 * peer closing inside a record is ERR_EOF; megabytes arrive intact through a small socket
 * buffer; pending_output reports the backlog while the reader stalls; version and certificate
 * failures keep their error codes; an owner may free the stream inside its callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/loop.h"
#include "net/stream.h"

static EVP_PKEY *g_key;
static X509 *g_cert;

typedef struct pair pair;

typedef struct {
    pair *p;
    net_stream *s;
    int ready;
    int data_calls;
    int drained;
    size_t pending_at_drain;
    int errors;
    err_t err;
    uint8_t *got;
    size_t got_len;
    size_t got_cap;
} end;

struct pair {
    net_loop *loop;
    SSL_CTX *sctx;
    SSL_CTX *cctx;
    end a; /* server */
    end b; /* client */
    net_timer *guard;
    bool timed_out;
    /* relay: A <-SOCK_SEQPACKET-> relay <-SOCK_STREAM-> B; one message per send() of A */
    int ra_fd;
    int rb_fd;
    struct event *ra;
    struct event *rb;
    int a_sends;
    bool counting;
    size_t cut; /* forward this much of B's next chunk to A, then close A's socket */
    /* per-test hooks */
    void (*on_ready)(end *e);
    void (*on_data)(end *e);
    bool (*done)(pair *p);
    bool free_on_error;
    /* pause test */
    net_timer *t1;
    net_timer *t2;
    bool in_resume;
    bool a_paused;
    bool sent;
};

static uint8_t pattern(size_t i) {
    return (uint8_t)(i * 131 + (i >> 11));
}

static void take(end *e) {
    struct evbuffer *in = net_stream_input(e->s);
    size_t n = evbuffer_get_length(in);
    if (e->got_len + n > e->got_cap) {
        size_t cap = e->got_cap ? e->got_cap : 4096;
        while (cap < e->got_len + n) {
            cap *= 2;
        }
        e->got = realloc(e->got, cap);
        assert_non_null(e->got);
        e->got_cap = cap;
    }
    assert_int_equal(evbuffer_remove(in, e->got + e->got_len, n), (int)n);
    e->got_len += n;
}

static void check_done(pair *p) {
    if (p->done && p->done(p)) {
        net_loop_stop(p->loop);
    }
}

static void e_ready(net_stream *s, void *arg) {
    (void)s;
    end *e = arg;
    e->ready++;
    if (e->p->on_ready) {
        e->p->on_ready(e);
    }
    check_done(e->p);
}

static void e_data(net_stream *s, void *arg) {
    (void)s;
    end *e = arg;
    pair *p = e->p;
    assert_false(p->in_resume); /* never delivered from inside net_stream_pause */
    e->data_calls++;
    if (p->on_data) {
        p->on_data(e);
    } else {
        take(e);
    }
    check_done(p);
}

static void e_drained(net_stream *s, void *arg) {
    end *e = arg;
    e->drained++;
    e->pending_at_drain = net_stream_pending_output(s);
    check_done(e->p);
}

static void e_error(net_stream *s, err_t err, void *arg) {
    end *e = arg;
    pair *p = e->p;
    e->errors++;
    e->err = err;
    if (p->free_on_error) {
        net_stream_free(s);
        e->s = NULL;
    }
    check_done(p);
}

static const net_stream_cbs CBS = {
    .on_tls_ready = e_ready,
    .on_data = e_data,
    .on_drained = e_drained,
    .on_error = e_error,
};

static void on_guard(void *arg) {
    pair *p = arg;
    p->timed_out = true;
    net_loop_stop(p->loop);
}

static SSL_CTX *make_ctx(bool server, int client_max_version, bool client_verifies) {
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(c);
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
    if (server) {
        assert_int_equal(SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION), 1);
        assert_int_equal(SSL_CTX_use_certificate(c, g_cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(c, g_key), 1);
        SSL_CTX_set_num_tickets(c, 0);
    } else {
        assert_int_equal(SSL_CTX_set_max_proto_version(c, client_max_version), 1);
        /* Verifying against an empty trust store refuses our self-signed certificate. */
        SSL_CTX_set_verify(c, client_verifies ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    }
    return c;
}

static void close_fd(int *fd) {
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void relay_stop_a(pair *p) {
    if (p->ra) {
        event_free(p->ra);
        p->ra = NULL;
    }
    close_fd(&p->ra_fd);
}

static void relay_stop_b(pair *p) {
    if (p->rb) {
        event_free(p->rb);
        p->rb = NULL;
    }
    close_fd(&p->rb_fd);
}

static void send_all(int fd, const uint8_t *d, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            usleep(1000); /* test data fits the socket buffers; this does not spin long */
            continue;
        }
        assert_true(w > 0);
        d += w;
        n -= (size_t)w;
    }
}

/* One recv() on a SOCK_SEQPACKET socket is one send() of A. */
static void relay_from_a(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    pair *p = arg;
    static uint8_t msg[1 << 20];
    ssize_t n = recv(fd, msg, sizeof(msg), 0);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n <= 0) {
        relay_stop_a(p);
        relay_stop_b(p); /* B sees A's close */
        return;
    }
    if (p->counting) {
        p->a_sends++;
    }
    send_all(p->rb_fd, msg, (size_t)n);
}

static void relay_from_b(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    pair *p = arg;
    uint8_t chunk[16384];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n <= 0) {
        relay_stop_b(p);
        relay_stop_a(p);
        return;
    }
    if (p->cut > 0) {
        assert_true((size_t)n > p->cut);
        send_all(p->ra_fd, chunk, p->cut);
        p->cut = 0;
        relay_stop_a(p); /* A's peer closes in the middle of a record */
        return;
    }
    send_all(p->ra_fd, chunk, (size_t)n);
}

enum { DIRECT, RELAY };

static void pair_open(pair *p, int mode, int sndbuf, int client_max, bool client_verifies) {
    memset(p, 0, sizeof(*p));
    p->ra_fd = p->rb_fd = -1;
    p->loop = net_loop_new();
    assert_non_null(p->loop);
    p->a.p = p->b.p = p;
    p->sctx = make_ctx(true, 0, false);
    p->cctx = make_ctx(false, client_max, client_verifies);
    p->guard = net_timer_new(p->loop, on_guard, p);
    net_timer_arm(p->guard, 20000);
    int afd, bfd;
    if (mode == DIRECT) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        afd = sv[0];
        bfd = sv[1];
    } else {
        int sp[2], ss[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ss), 0);
        afd = sp[0];
        p->ra_fd = sp[1];
        bfd = ss[0];
        p->rb_fd = ss[1];
        struct event_base *base = net_loop_base(p->loop);
        p->ra = event_new(base, p->ra_fd, EV_READ | EV_PERSIST, relay_from_a, p);
        p->rb = event_new(base, p->rb_fd, EV_READ | EV_PERSIST, relay_from_b, p);
        assert_non_null(p->ra);
        assert_non_null(p->rb);
        event_add(p->ra, NULL);
        event_add(p->rb, NULL);
    }
    if (sndbuf > 0) {
        assert_int_equal(setsockopt(afd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
        assert_int_equal(setsockopt(bfd, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf)), 0);
    }
    p->a.s = net_stream_new(p->loop, afd, false, &CBS, &p->a);
    p->b.s = net_stream_new(p->loop, bfd, false, &CBS, &p->b);
    assert_non_null(p->a.s);
    assert_non_null(p->b.s);
    assert_int_equal(net_stream_start_tls(p->a.s, SSL_new(p->sctx), true), ERR_OK);
    assert_int_equal(net_stream_start_tls(p->b.s, SSL_new(p->cctx), false), ERR_OK);
}

static void pair_run(pair *p) {
    assert_int_equal(net_loop_run(p->loop), ERR_OK);
    assert_false(p->timed_out);
}

static void pair_close(pair *p) {
    net_stream_free(p->a.s);
    net_stream_free(p->b.s);
    relay_stop_a(p);
    relay_stop_b(p);
    net_timer_free(p->guard);
    net_timer_free(p->t1);
    net_timer_free(p->t2);
    net_loop_free(p->loop);
    SSL_CTX_free(p->sctx);
    SSL_CTX_free(p->cctx);
    free(p->a.got);
    free(p->b.got);
}

static void write_pattern(net_stream *s, size_t from, size_t n, size_t piece) {
    uint8_t *d = malloc(n);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) {
        d[i] = pattern(from + i);
    }
    for (size_t off = 0; off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        assert_int_equal(net_stream_write(s, d + off, k), ERR_OK);
    }
    free(d);
}

static void check_pattern(const end *e, size_t n) {
    assert_int_equal(e->got_len, n);
    for (size_t i = 0; i < n; i++) {
        if (e->got[i] != pattern(i)) {
            fail_msg("byte %zu differs", i);
        }
    }
}

/* ---- several writes in one callback: one send ---- */

#define ONE_SEND_SMALL 5
#define ONE_SEND_TOTAL (ONE_SEND_SMALL * 100 + 20000)

static void one_send_ready(end *e) {
    if (e == &e->p->b) {
        assert_int_equal(net_stream_write(e->s, "go", 2), ERR_OK);
    }
}

static void one_send_data(end *e) {
    pair *p = e->p;
    take(e);
    if (e == &p->a && e->got_len == 2 && !p->sent) {
        p->sent = true;
        p->counting = true;
        p->a_sends = 0;
        for (size_t i = 0; i < ONE_SEND_SMALL; i++) {
            write_pattern(e->s, i * 100, 100, 100);
        }
        /* more than one TLS record's worth, still one send */
        write_pattern(e->s, ONE_SEND_SMALL * 100, 20000, 20000);
        assert_int_equal(net_stream_pending_output(e->s), ONE_SEND_TOTAL); /* nothing sent yet */
    }
}

static bool one_send_done(pair *p) {
    return p->b.got_len == ONE_SEND_TOTAL;
}

static void test_writes_in_one_callback_leave_in_one_send(void **state) {
    (void)state;
    pair p;
    pair_open(&p, RELAY, 0, TLS1_3_VERSION, false);
    p.on_ready = one_send_ready;
    p.on_data = one_send_data;
    p.done = one_send_done;
    pair_run(&p);
    assert_int_equal(p.a.ready, 1);
    assert_int_equal(p.b.ready, 1);
    check_pattern(&p.b, ONE_SEND_TOTAL);
    assert_int_equal(p.a_sends, 1);
    assert_int_equal(p.a.drained, 1);
    assert_int_equal(p.a.pending_at_drain, 0);
    pair_close(&p);
}

/* ---- pause / resume ---- */

static void resume_a(void *arg) {
    pair *p = arg;
    p->a_paused = false;
    p->in_resume = true;
    net_stream_pause(p->a.s, false);
    p->in_resume = false;
}

static void second_batch(void *arg) {
    pair *p = arg;
    assert_int_equal(net_stream_write(p->b.s, "four", 4), ERR_OK);
}

static void pause_ready(end *e) {
    pair *p = e->p;
    if (e == &p->b) {
        /* three messages in one callback: they arrive together */
        assert_int_equal(net_stream_write(e->s, "one", 3), ERR_OK);
        assert_int_equal(net_stream_write(e->s, "two", 3), ERR_OK);
        assert_int_equal(net_stream_write(e->s, "three", 5), ERR_OK);
    }
}

static void pause_data(end *e) {
    pair *p = e->p;
    assert_true(e == &p->a);
    assert_false(p->a_paused); /* nothing is delivered while paused */
    if (e->data_calls == 1) {
        /* leave the bytes in the input and stop reading; more arrives meanwhile */
        assert_int_equal(evbuffer_get_length(net_stream_input(e->s)), 11);
        net_stream_pause(e->s, true);
        p->a_paused = true;
        net_timer_arm(p->t2, 10);
        net_timer_arm(p->t1, 80);
        return;
    }
    take(e);
}

static bool pause_done(pair *p) {
    return p->a.got_len == 15;
}

static void test_resume_delivers_buffered_input(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 0, TLS1_3_VERSION, false);
    p.t1 = net_timer_new(p.loop, resume_a, &p);
    p.t2 = net_timer_new(p.loop, second_batch, &p);
    p.on_ready = pause_ready;
    p.on_data = pause_data;
    p.done = pause_done;
    pair_run(&p);
    assert_memory_equal(p.a.got, "onetwothreefour", 15);
    /* the buffered "onetwothree" once more after resume (from the loop), then "four" */
    assert_int_equal(p.a.data_calls, 3);
    pair_close(&p);
}

/* ---- the peer closes inside a record ---- */

static void cut_ready(end *e) {
    if (e == &e->p->a) {
        assert_int_equal(net_stream_write(e->s, "hi", 2), ERR_OK);
    }
}

static void cut_data(end *e) {
    pair *p = e->p;
    take(e);
    if (e == &p->b) {
        p->cut = 10; /* record header and 5 bytes of the next record */
        write_pattern(e->s, 0, 1000, 1000);
    }
}

static bool cut_done(pair *p) {
    return p->a.errors > 0;
}

static void test_peer_closing_inside_a_record_is_eof(void **state) {
    (void)state;
    pair p;
    pair_open(&p, RELAY, 0, TLS1_3_VERSION, false);
    p.on_ready = cut_ready;
    p.on_data = cut_data;
    p.done = cut_done;
    pair_run(&p);
    assert_int_equal(p.a.errors, 1);
    assert_int_equal(p.a.err, ERR_EOF);
    assert_int_equal(p.a.data_calls, 0);
    assert_int_equal(p.b.got_len, 2);
    /* writing to a failed stream is refused */
    assert_int_equal(net_stream_write(p.a.s, "x", 1), ERR_IO);
    pair_close(&p);
}

/* ---- megabytes through a small socket buffer ---- */

#define BIG_ONE ((size_t)3 << 20)
#define BIG_PIECES ((size_t)1000 * 1000)

static void big_ready(end *e) {
    if (e == &e->p->a) {
        write_pattern(e->s, 0, BIG_ONE, BIG_ONE);
        write_pattern(e->s, BIG_ONE, BIG_PIECES, 1000);
        assert_int_equal(net_stream_pending_output(e->s), BIG_ONE + BIG_PIECES);
    }
}

static bool big_done(pair *p) {
    return p->b.got_len == BIG_ONE + BIG_PIECES && p->a.drained > 0;
}

static void test_large_writes_arrive_intact(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 32 << 10, TLS1_3_VERSION, false);
    p.on_ready = big_ready;
    p.done = big_done;
    pair_run(&p);
    check_pattern(&p.b, BIG_ONE + BIG_PIECES);
    assert_int_equal(p.a.pending_at_drain, 0);
    assert_int_equal(net_stream_pending_output(p.a.s), 0);
    assert_int_equal(p.a.errors + p.b.errors, 0);
    pair_close(&p);
}

/* ---- backpressure: pending_output while the reader stalls ---- */

static size_t bp_pending;

static void bp_check(void *arg) {
    pair *p = arg;
    bp_pending = net_stream_pending_output(p->a.s);
    assert_int_equal(p->a.drained, 0);
    assert_int_equal(p->b.data_calls, 0);
    net_stream_pause(p->b.s, false);
}

static void bp_ready(end *e) {
    pair *p = e->p;
    if (e == &p->b) {
        net_stream_pause(e->s, true);
        net_timer_arm(p->t1, 100);
    } else {
        write_pattern(e->s, 0, (size_t)4 << 20, (size_t)64 << 10);
    }
}

static bool bp_done(pair *p) {
    return p->b.got_len == ((size_t)4 << 20) && p->a.drained > 0;
}

static void test_pending_output_while_reader_stalls(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 64 << 10, TLS1_3_VERSION, false);
    p.t1 = net_timer_new(p.loop, bp_check, &p);
    p.on_ready = bp_ready;
    p.done = bp_done;
    bp_pending = 0;
    pair_run(&p);
    /* the kernel took part of it, the rest waited (plaintext plus ciphertext ahead) */
    assert_true(bp_pending > ((size_t)2 << 20));
    assert_true(bp_pending < ((size_t)4 << 20));
    check_pattern(&p.b, (size_t)4 << 20);
    assert_int_equal(net_stream_pending_output(p.a.s), 0);
    pair_close(&p);
}

/* ---- handshake failures keep their codes ---- */

static bool both_failed(pair *p) {
    return p->a.errors > 0 && p->b.errors > 0;
}

static void test_old_protocol_is_a_version_error(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 0, TLS1_2_VERSION, false);
    p.done = both_failed;
    pair_run(&p);
    assert_int_equal(p.a.err, ERR_TLS_VERSION);
    assert_int_equal(p.b.err, ERR_TLS_VERSION); /* the alert reached the client */
    assert_int_equal(p.a.ready + p.b.ready, 0);
    pair_close(&p);
}

static void test_untrusted_certificate_is_a_tls_error(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 0, TLS1_3_VERSION, true);
    p.done = both_failed;
    pair_run(&p);
    assert_int_equal(p.b.err, ERR_TLS);
    assert_int_equal(p.a.err, ERR_TLS); /* the client's alert */
    assert_int_equal(p.a.ready + p.b.ready, 0);
    pair_close(&p);
}

static bool a_failed(pair *p) {
    return p->a.errors > 0;
}

static void test_close_during_handshake_is_eof(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 0, TLS1_3_VERSION, false);
    net_stream_free(p.b.s); /* before the client hello leaves */
    p.b.s = NULL;
    p.done = a_failed;
    pair_run(&p);
    assert_int_equal(p.a.err, ERR_EOF);
    pair_close(&p);
}

/* ---- the owner frees the stream inside its callbacks ---- */

static void free_ready(end *e) {
    if (e == &e->p->b) {
        /* records in one send: A decrypts all of them in one pass and frees itself at once */
        for (int i = 0; i < 8; i++) {
            write_pattern(e->s, 0, 1000, 1000);
        }
    }
}

static void free_data(end *e) {
    pair *p = e->p;
    assert_true(e == &p->a);
    assert_int_equal(net_stream_write(e->s, "bye", 3), ERR_OK); /* queued, never flushed */
    net_stream_free(e->s);
    e->s = NULL;
}

static bool b_failed(pair *p) {
    return p->b.errors > 0;
}

static void test_free_inside_callbacks(void **state) {
    (void)state;
    pair p;
    pair_open(&p, DIRECT, 0, TLS1_3_VERSION, false);
    p.on_ready = free_ready;
    p.on_data = free_data;
    p.done = b_failed;
    p.free_on_error = true;
    pair_run(&p);
    assert_int_equal(p.a.data_calls, 1);
    assert_int_equal(p.a.errors, 0);
    assert_int_equal(p.a.drained, 0);
    assert_int_equal(p.b.err, ERR_EOF);
    assert_null(p.a.s);
    assert_null(p.b.s);
    pair_close(&p);
}

static void test_write_before_tls_is_refused(void **state) {
    (void)state;
    net_loop *l = net_loop_new();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    net_stream *s = net_stream_new(l, sv[0], false, &CBS, NULL);
    assert_non_null(s);
    assert_int_equal(net_stream_write(s, "x", 1), ERR_INTERNAL);
    assert_null(net_stream_input(s));
    assert_null(net_stream_ssl(s));
    net_stream_free(s);
    close(sv[1]);
    net_loop_free(l);
}

static int group_setup(void **state) {
    (void)state;
    g_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    g_cert = X509_new();
    if (!g_key || !g_cert) {
        return -1;
    }
    X509_set_version(g_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(g_cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(g_cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(g_cert), 3600);
    X509_NAME *n = X509_get_subject_name(g_cert);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"stream-test", -1, -1,
                               0);
    X509_set_issuer_name(g_cert, n);
    X509_set_pubkey(g_cert, g_key);
    return X509_sign(g_cert, g_key, NULL) > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    X509_free(g_cert);
    EVP_PKEY_free(g_key);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_in_one_callback_leave_in_one_send),
        cmocka_unit_test(test_resume_delivers_buffered_input),
        cmocka_unit_test(test_peer_closing_inside_a_record_is_eof),
        cmocka_unit_test(test_large_writes_arrive_intact),
        cmocka_unit_test(test_pending_output_while_reader_stalls),
        cmocka_unit_test(test_old_protocol_is_a_version_error),
        cmocka_unit_test(test_untrusted_certificate_is_a_tls_error),
        cmocka_unit_test(test_close_during_handshake_is_eof),
        cmocka_unit_test(test_free_inside_callbacks),
        cmocka_unit_test(test_write_before_tls_is_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
