/* Attested links over real loopback sockets: the happy path (PoW, mutual RA-TLS, connect
 * handshake, queries and packets both ways) and attacks from a hand-written client thread:
 * bad proof of work, stalling, a skipped frame seqno, an oversize frame, an untrusted quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/cur.h"
#include "fixture.h"
#include "attest/collateral.h"
#include "link/link.h"
#include "link/rotor.h"
#include "proto/pow.h"
#include "ratls/tls.h"

typedef struct {
    net_loop *loop;
    ratls_identity sid;
    ratls_identity cid;
    ratls_policy pol;
    ratls_ctx *sctx;
    ratls_ctx *cctx;
    link_server *srv;
    /* observations */
    int server_ready;
    int client_ready;
    err_t server_close;
    err_t client_close;
    int server_closed;
    int client_closed;
    int answers;
    int packets_at_client;
    uint8_t server_saw_key[32];
    net_timer *guard;
} world;

static void make_identity(ratls_identity *id) {
    assert_int_equal(fixture_identity(&F, id), ERR_OK);
}

static void s_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    world *w = arg;
    w->server_ready++;
    memcpy(w->server_saw_key, peer->pubkey, 32);
    static const uint8_t hello[] = "welcome";
    assert_int_equal(link_send_packet(c, hello, sizeof(hello)), ERR_OK);
}

static void s_query(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg) {
    (void)arg;
    uint8_t reply[64];
    assert_true(n < 60);
    memcpy(reply, "re:", 3);
    memcpy(reply + 3, data, n);
    assert_int_equal(link_answer(c, qid, reply, n + 3), ERR_OK);
}

static void s_close(link_conn *c, err_t why, void *arg) {
    (void)c;
    world *w = arg;
    w->server_closed++;
    w->server_close = why;
    if (getenv("LINK_TEST_DEBUG")) {
        fprintf(stderr, "server close: %s (%s)\n", err_name(why), err_describe(why));
    }
    if (w->client_closed || w->server_closed > 0) {
        net_loop_stop(w->loop);
    }
}

static const link_handlers SERVER_H = {s_ready, NULL, s_query, s_close};

static void guard_fire(void *arg) {
    world *w = arg;
    fail_msg("test timed out (server closes %d, client closes %d)", w->server_closed,
             w->client_closed);
}

/* Collateral the next world_open gives the server's policy (NULL: none). */
static const collateral *next_server_coll;
static bool next_require_coll;

static void world_open(world *w, int difficulty, uint64_t handshake_ms) {
    memset(w, 0, sizeof(*w));
    w->loop = net_loop_new();
    assert_non_null(w->loop);
    make_identity(&w->sid);
    make_identity(&w->cid);
    fixture_policy(&F, &w->pol);
    ratls_policy spol;
    fixture_policy(&F, &spol);
    if (next_server_coll) {
        assert_int_equal(ratls_policy_add_collateral(&spol, next_server_coll), ERR_OK);
    }
    spol.require_collateral = next_require_coll;
    assert_int_equal(ratls_ctx_new(RATLS_SERVER, &w->sid, &spol, &w->sctx), ERR_OK);
    ratls_policy_cleanup(&spol);
    assert_int_equal(ratls_ctx_new(RATLS_CLIENT, &w->cid, &w->pol, &w->cctx), ERR_OK);
    link_config cfg;
    link_config_init(&cfg, w->sctx);
    cfg.pow_difficulty = difficulty;
    cfg.handshake_ms = handshake_ms;
    assert_int_equal(link_listen(w->loop, "127.0.0.1", 0, &cfg, &SERVER_H, w, &w->srv), ERR_OK);
    w->guard = net_timer_new(w->loop, guard_fire, w);
    net_timer_arm(w->guard, 20000);
}

static void world_close(world *w) {
    net_timer_free(w->guard);
    link_server_free(w->srv);
    ratls_ctx_free(w->sctx);
    ratls_ctx_free(w->cctx);
    ratls_policy_cleanup(&w->pol);
    ratls_identity_cleanup(&w->sid);
    ratls_identity_cleanup(&w->cid);
    net_loop_free(w->loop);
}

typedef struct {
    world *w;
    link_conn *c;
} client_ctx;

static void c_answer2(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    (void)code;
    client_ctx *cc = arg;
    assert_int_equal(e, ERR_OK);
    assert_int_equal(n, 7);
    assert_memory_equal(data, "re:ping", 7);
    cc->w->answers++;
    link_close(cc->c);
}

static void c_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    client_ctx *cc = arg;
    cc->w->client_ready++;
    assert_memory_equal(peer->pubkey, cc->w->sid.key.pub, 32);
    assert_true(peer->attested);
    assert_int_equal(link_query(c, (const uint8_t *)"ping", 4, 5000, c_answer2, cc), ERR_OK);
}

static void c_packet(link_conn *c, const uint8_t *data, size_t n, void *arg) {
    (void)c;
    client_ctx *cc = arg;
    assert_int_equal(n, 8);
    assert_memory_equal(data, "welcome", 8);
    cc->w->packets_at_client++;
}

static void c_close(link_conn *c, err_t why, void *arg) {
    (void)c;
    client_ctx *cc = arg;
    cc->w->client_closed++;
    cc->w->client_close = why;
    if (cc->w->server_closed) {
        net_loop_stop(cc->w->loop);
    }
}

/* Runs the loop until the client link is gone too (the server side stops the loop first). */
static void finish_client(world *w, client_ctx *cc) {
    if (!w->client_closed) {
        link_close(cc->c);
        assert_int_equal(net_loop_run(w->loop), ERR_OK);
    }
    assert_int_equal(w->client_closed, 1);
}

static const link_handlers CLIENT_H = {c_ready, c_packet, NULL, c_close};

static void dial(world *w, client_ctx *cc, int max_difficulty) {
    link_config cfg;
    link_config_init(&cfg, w->cctx);
    cfg.pow_max_difficulty = max_difficulty;
    cc->w = w;
    assert_int_equal(
        link_dial(w->loop, "127.0.0.1", link_server_port(w->srv), &cfg, &CLIENT_H, cc, &cc->c),
        ERR_OK);
}

static void test_attested_link_query_and_packets(void **state) {
    (void)state;
    world w;
    world_open(&w, 12, 10000);
    client_ctx cc;
    dial(&w, &cc, 28);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    assert_int_equal(w.client_ready, 1);
    assert_int_equal(w.server_ready, 1);
    assert_int_equal(w.answers, 1);
    assert_int_equal(w.packets_at_client, 1);
    assert_memory_equal(w.server_saw_key, w.cid.key.pub, 32);
    assert_int_equal(w.client_close, ERR_OK); /* closed locally after the answer */
    assert_int_equal(w.server_close, ERR_EOF);
    assert_int_equal(link_server_count(w.srv), 0);
    world_close(&w);
}

static void test_client_refuses_too_hard_pow(void **state) {
    (void)state;
    world w;
    world_open(&w, 29, 10000);
    client_ctx cc;
    dial(&w, &cc, 28);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    finish_client(&w, &cc);
    assert_int_equal(w.client_close, ERR_POW_TOO_HARD);
    assert_int_equal(w.server_ready, 0);
    world_close(&w);
}

static void test_untrusted_client_is_refused_with_reason(void **state) {
    (void)state;
    world w;
    world_open(&w, 4, 10000);
    /* The client's quote comes from another fake CA that the server does not pin. */
    fixture other;
    assert_int_equal(fixture_open(&other, 0x10000000), 0);
    ratls_identity stranger;
    ratls_identity_init(&stranger);
    assert_int_equal(ed25519_generate(&stranger.key), ERR_OK);
    assert_int_equal(fixture_cert(&other, &stranger.key, &stranger.key, other.now, other.now + 3600,
                                  &stranger.cert_der),
                     ERR_OK);
    assert_int_equal(ratls_ctx_set_identity(w.cctx, &stranger), ERR_OK);
    client_ctx cc;
    dial(&w, &cc, 28);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    assert_int_equal(w.server_close, ERR_CHAIN_UNTRUSTED);
    assert_int_equal(w.server_ready, 0);
    finish_client(&w, &cc);
    ratls_identity_cleanup(&stranger);
    fixture_close(&other);
    world_close(&w);
}

/* ---- a hand-written hostile client on its own thread ---- */

typedef enum {
    EVIL_BAD_MAGIC,
    EVIL_BAD_NONCE,
    EVIL_SILENT,
    EVIL_SKIP_SEQNO,
    EVIL_OVERSIZE
} evil_kind;

typedef struct {
    uint16_t port;
    evil_kind kind;
    ratls_ctx *cctx;
} evil;

static int read_full(int fd, uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, 0);
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void *evil_main(void *arg) {
    evil *ev = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ev->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The server may stop its loop before its close reaches us: do not wait forever. */
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return NULL;
    }
    uint8_t ch[POW_CHALLENGE_LEN];
    if (read_full(fd, ch, sizeof(ch)) != 0) {
        close(fd);
        return NULL;
    }
    if (ev->kind == EVIL_SILENT) {
        uint8_t x;
        (void)recv(fd, &x, 1, 0); /* until the server gives up */
        close(fd);
        return NULL;
    }
    cur c;
    cur_init(&c, ch, sizeof(ch));
    pow_challenge pc;
    if (pow_challenge_parse(&c, 64, &pc) != ERR_OK) {
        close(fd);
        return NULL;
    }
    int64_t nonce = 0;
    if (ev->kind == EVIL_BAD_NONCE) {
        while (pow_check(&pc, nonce) == ERR_OK) {
            nonce++; /* find one that does NOT meet the difficulty */
        }
    } else {
        pow_solver s;
        pow_solver_init(&s, &pc);
        while (pow_solve_step(&s, 100000, &nonce) == ERR_AGAIN) {
        }
    }
    uint8_t resp[POW_RESPONSE_LEN];
    pow_response_encode(nonce, resp);
    if (ev->kind == EVIL_BAD_MAGIC) {
        resp[0] ^= 0xff;
    }
    if (send(fd, resp, sizeof(resp), MSG_NOSIGNAL) != (ssize_t)sizeof(resp)) {
        close(fd);
        return NULL;
    }
    if (ev->kind == EVIL_BAD_MAGIC || ev->kind == EVIL_BAD_NONCE) {
        uint8_t x;
        (void)recv(fd, &x, 1, 0);
        close(fd);
        return NULL;
    }
    SSL *ssl = ratls_ssl_new(ev->cctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        /* tcp.connect{id} in frame 0, then a frame with seqno 2 (skipping 1) or a header
         * announcing more than an unauthenticated peer may send. */
        uint8_t f[8 + 12];
        if (ev->kind == EVIL_SKIP_SEQNO) {
            put32(f, 12);
            put32(f + 4, 0);
            put32(f + 8, 0xa57c4261u);
            memset(f + 12, 7, 8);
            SSL_write(ssl, f, sizeof(f));
            put32(f, 12);
            put32(f + 4, 2);
            put32(f + 8, 0xbbe9627cu); /* tcp.ping */
            memset(f + 12, 1, 8);
        } else {
            /* Before tcp.connect the peer is held to the unauthenticated limit (64 KiB). */
            put32(f, (uint32_t)(1u << 16) + 1u);
            put32(f + 4, 0);
            memset(f + 8, 0, 12);
        }
        SSL_write(ssl, f, sizeof(f));
        uint8_t x[256];
        while (SSL_read(ssl, x, sizeof(x)) > 0) {
        }
    }
    SSL_free(ssl);
    close(fd);
    return NULL;
}

static err_t run_evil(evil_kind kind, int difficulty, uint64_t handshake_ms, int ready_expected) {
    world w;
    world_open(&w, difficulty, handshake_ms);
    evil ev = {link_server_port(w.srv), kind, w.cctx};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, evil_main, &ev), 0);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    pthread_join(t, NULL);
    err_t why = w.server_close;
    assert_int_equal(w.server_ready, ready_expected);
    world_close(&w);
    return why;
}

static void test_bad_pow_magic(void **state) {
    (void)state;
    assert_int_equal(run_evil(EVIL_BAD_MAGIC, 8, 10000, 0), ERR_POW_BAD_MAGIC);
}

static void test_bad_pow_nonce(void **state) {
    (void)state;
    assert_int_equal(run_evil(EVIL_BAD_NONCE, 8, 10000, 0), ERR_POW_INVALID);
}

static void test_silent_peer_times_out(void **state) {
    (void)state;
    assert_int_equal(run_evil(EVIL_SILENT, 8, 300, 0), ERR_TIMEOUT);
}

static void test_skipped_frame_seqno(void **state) {
    (void)state;
    assert_int_equal(run_evil(EVIL_SKIP_SEQNO, 0, 10000, 1), ERR_BAD_SEQNO);
}

static void test_oversize_frame(void **state) {
    (void)state;
    assert_int_equal(run_evil(EVIL_OVERSIZE, 0, 10000, 0), ERR_FRAME_TOO_LARGE);
}

/* ---- certificate rotation with a live link ---- */

typedef struct {
    world *w;
    cert_rotor *rotor;
    link_conn *a;
    link_conn *b;
    uint8_t key_a[32];
    uint8_t key_b[32];
    int a_answers;
    int phase;
    net_timer *step;
} rot_ctx;

static void rot_answer(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    (void)code;
    (void)data;
    (void)n;
    rot_ctx *r = arg;
    assert_int_equal(e, ERR_OK);
    r->a_answers++;
    if (r->phase == 2) {
        net_loop_stop(r->w->loop); /* the old link answered after the rotation */
    }
}

static void rot_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    rot_ctx *r = arg;
    if (c == r->a) {
        memcpy(r->key_a, peer->pubkey, 32);
        net_timer_arm(r->step, 2500); /* the rotor rotates at 3/4 of 3 s */
    } else {
        memcpy(r->key_b, peer->pubkey, 32);
        r->phase = 2;
        assert_int_equal(link_query(r->a, (const uint8_t *)"ping", 4, 3000, rot_answer, r), ERR_OK);
    }
}

static void rot_close(link_conn *c, err_t why, void *arg) {
    (void)c;
    (void)why;
    (void)arg;
}

static const link_handlers ROT_H = {rot_ready, NULL, NULL, rot_close};

static void rot_step(void *arg) {
    rot_ctx *r = arg;
    assert_int_equal(cert_rotor_count(r->rotor), 1);
    link_config cfg;
    link_config_init(&cfg, r->w->cctx);
    assert_int_equal(
        link_dial(r->w->loop, "127.0.0.1", link_server_port(r->w->srv), &cfg, &ROT_H, r, &r->b),
        ERR_OK);
}

static void test_rotation_keeps_live_links(void **state) {
    (void)state;
    world w;
    world_open(&w, 0, 10000);
    /* Replace the server's identity source with a rotor over a fake provider (3 s lifetime). */
    attest_provider_config pc;
    memset(&pc, 0, sizeof(pc));
    pc.kind = ATTEST_PROVIDER_FAKE;
    char ca_dir[96];
    snprintf(ca_dir, sizeof(ca_dir), "%s/ca", F.dir);
    pc.fake_ca_dir = ca_dir;
    attest_provider *prov;
    assert_int_equal(attest_provider_open(&pc, &prov), ERR_OK);
    rot_ctx r;
    memset(&r, 0, sizeof(r));
    r.w = &w;
    assert_int_equal(cert_rotor_new(w.loop, prov, 3, NULL, 0, &r.rotor), ERR_OK);
    assert_int_equal(ratls_ctx_set_identity(w.sctx, cert_rotor_identity(r.rotor)), ERR_OK);
    assert_int_equal(cert_rotor_attach(r.rotor, w.sctx), ERR_OK);
    uint8_t first[32];
    memcpy(first, cert_rotor_identity(r.rotor)->key.pub, 32);
    r.step = net_timer_new(w.loop, rot_step, &r);
    link_config cfg;
    link_config_init(&cfg, w.cctx);
    assert_int_equal(
        link_dial(w.loop, "127.0.0.1", link_server_port(w.srv), &cfg, &ROT_H, &r, &r.a), ERR_OK);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    assert_memory_equal(r.key_a, first, 32);
    assert_memory_not_equal(r.key_b, first, 32); /* new links see the new certificate */
    assert_memory_equal(r.key_b, cert_rotor_identity(r.rotor)->key.pub, 32);
    assert_int_equal(r.a_answers, 1); /* and the old link still works */
    link_close(r.a);
    link_close(r.b);
    net_timer_free(r.step);
    r.step = NULL;
    /* let the links close */
    net_timer *stop = net_timer_new(w.loop, (net_cb)net_loop_stop, w.loop);
    net_timer_arm(stop, 200);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    net_timer_free(stop);
    cert_rotor_free(r.rotor);
    attest_provider_free(prov);
    world_close(&w);
}

/* ---- full (collateral) verification of the peer on the worker pool ---- */

static collateral *make_collateral(const fake_collateral_opts *opts) {
    buf json;
    buf_init(&json, 1 << 20);
    assert_int_equal(fake_ca_collateral(F.ca, F.now, opts, &json), ERR_OK);
    collateral *c = NULL;
    assert_int_equal(collateral_from_json(json.data, json.len, &c), ERR_OK);
    buf_free(&json);
    return c;
}

/* Runs the happy-path client against a server whose policy evaluates collateral. */
static err_t run_with_collateral(const collateral *coll, bool require, int *ready) {
    world w;
    next_server_coll = coll;
    next_require_coll = require;
    world_open(&w, 4, 10000);
    net_pool *pool = net_pool_new(w.loop, 2);
    assert_non_null(pool);
    /* The listener was created with next_pool == NULL; rebuild it with the pool. */
    link_server_free(w.srv);
    link_config cfg;
    link_config_init(&cfg, w.sctx);
    cfg.pow_difficulty = 4;
    cfg.pool = pool;
    assert_int_equal(link_listen(w.loop, "127.0.0.1", 0, &cfg, &SERVER_H, &w, &w.srv), ERR_OK);
    client_ctx cc;
    dial(&w, &cc, 28);
    assert_int_equal(net_loop_run(w.loop), ERR_OK);
    finish_client(&w, &cc);
    *ready = w.server_ready;
    err_t why = w.server_close;
    link_server_free(w.srv);
    w.srv = NULL;
    net_pool_free(pool);
    next_server_coll = NULL;
    next_require_coll = false;
    world_close(&w);
    return why;
}

static void test_full_verification_with_collateral(void **state) {
    (void)state;
    collateral *good = make_collateral(NULL);
    int ready = 0;
    /* UpToDate platform: the link comes up after the pool's verdict. */
    assert_int_equal(run_with_collateral(good, true, &ready), ERR_EOF);
    assert_int_equal(ready, 1);

    /* The same quote with a revoked PCK certificate in the CRL: refused with the reason. */
    fake_collateral_opts opts;
    memset(&opts, 0, sizeof(opts));
    opts.revoke_pck = true;
    collateral *revoked = make_collateral(&opts);
    assert_int_equal(run_with_collateral(revoked, true, &ready), ERR_CERT_REVOKED);
    assert_int_equal(ready, 0);

    /* Collateral required but none configured. */
    assert_int_equal(run_with_collateral(NULL, true, &ready), ERR_COLLATERAL_MISMATCH);
    assert_int_equal(ready, 0);
    collateral_free(good);
    collateral_free(revoked);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attested_link_query_and_packets),
        cmocka_unit_test(test_client_refuses_too_hard_pow),
        cmocka_unit_test(test_untrusted_client_is_refused_with_reason),
        cmocka_unit_test(test_bad_pow_magic),
        cmocka_unit_test(test_bad_pow_nonce),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_skipped_frame_seqno),
        cmocka_unit_test(test_oversize_frame),
        cmocka_unit_test(test_rotation_keeps_live_links),
        cmocka_unit_test(test_full_verification_with_collateral),
    };
    return cmocka_run_group_tests(tests, fixture_group_setup, fixture_group_teardown);
}
