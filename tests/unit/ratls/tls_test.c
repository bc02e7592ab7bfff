/* RA-TLS over real TLS 1.3 handshakes (memory BIO pairs, no sockets): mutual verification,
 * TLS version and chain-depth attacks, certificate rotation with live connections, the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fixture.h"
#include "ratls/tls.h"

static void make_identity(ratls_identity *id) {
    assert_int_equal(fixture_identity(&F, id), ERR_OK);
}

typedef struct {
    SSL *s;
    SSL *c;
    err_t serr;
    err_t cerr;
} pair;

/* Drives both ends until each finished or failed. */
static void run_handshake(SSL *s, SSL *c, pair *p) {
    BIO *bs;
    BIO *bc;
    assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    p->s = s;
    p->c = c;
    p->serr = ERR_AGAIN;
    p->cerr = ERR_AGAIN;
    for (int i = 0; i < 20 && (p->serr == ERR_AGAIN || p->cerr == ERR_AGAIN); i++) {
        if (p->cerr == ERR_AGAIN) {
            int r = SSL_do_handshake(c);
            p->cerr = r == 1 ? ERR_OK : ratls_ssl_error(c, r);
        }
        if (p->serr == ERR_AGAIN) {
            int r = SSL_do_handshake(s);
            p->serr = r == 1 ? ERR_OK : ratls_ssl_error(s, r);
        }
    }
}

static void pair_free(pair *p) {
    SSL_free(p->s);
    SSL_free(p->c);
}

static void exchange(pair *p, const char *msg) {
    size_t n = strlen(msg);
    assert_int_equal(SSL_write(p->c, msg, (int)n), (int)n);
    char got[64] = {0};
    assert_int_equal(SSL_read(p->s, got, sizeof(got)), (int)n);
    assert_memory_equal(got, msg, n);
    assert_int_equal(SSL_write(p->s, msg, (int)n), (int)n);
    memset(got, 0, sizeof(got));
    assert_int_equal(SSL_read(p->c, got, sizeof(got)), (int)n);
    assert_memory_equal(got, msg, n);
}

typedef struct {
    ratls_identity sid;
    ratls_identity cid;
    ratls_policy pol;
    ratls_ctx *sctx;
    ratls_ctx *cctx;
} world;

static void world_open(world *w) {
    make_identity(&w->sid);
    make_identity(&w->cid);
    fixture_policy(&F, &w->pol);
    assert_int_equal(ratls_ctx_new(RATLS_SERVER, &w->sid, &w->pol, &w->sctx), ERR_OK);
    assert_int_equal(ratls_ctx_new(RATLS_CLIENT, &w->cid, &w->pol, &w->cctx), ERR_OK);
}

static void world_close(world *w) {
    ratls_ctx_free(w->sctx);
    ratls_ctx_free(w->cctx);
    ratls_policy_cleanup(&w->pol);
    ratls_identity_cleanup(&w->sid);
    ratls_identity_cleanup(&w->cid);
}

static void test_mutual_handshake_verifies_both_directions(void **state) {
    (void)state;
    world w;
    world_open(&w);
    pair p;
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_OK);
    assert_int_equal(p.cerr, ERR_OK);
    ratls_peer sp;
    ratls_peer cp;
    assert_int_equal(ratls_ssl_verdict(p.s, &sp), ERR_OK);
    assert_int_equal(ratls_ssl_verdict(p.c, &cp), ERR_OK);
    assert_true(sp.attested && cp.attested);
    assert_memory_equal(sp.pubkey, w.cid.key.pub, 32); /* the server saw the client's key */
    assert_memory_equal(cp.pubkey, w.sid.key.pub, 32);
    assert_int_equal(SSL_version(p.s), TLS1_3_VERSION);
    const char *suite = SSL_CIPHER_get_name(SSL_get_current_cipher(p.s));
    assert_true(strcmp(suite, "TLS_AES_256_GCM_SHA384") == 0 ||
                strcmp(suite, "TLS_AES_128_GCM_SHA256") == 0);
    exchange(&p, "hello");
    pair_free(&p);
    world_close(&w);
}

static void test_server_refuses_client_of_untrusted_root(void **state) {
    (void)state;
    world w;
    world_open(&w);
    ratls_policy intel;
    ratls_policy_init(&intel);
    ratls_ctx *strict;
    assert_int_equal(ratls_ctx_new(RATLS_SERVER, &w.sid, &intel, &strict), ERR_OK);
    pair p;
    run_handshake(ratls_ssl_new(strict), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_CHAIN_UNTRUSTED);
    assert_int_not_equal(p.cerr, ERR_AGAIN);
    ratls_peer peer;
    assert_int_equal(ratls_ssl_verdict(p.s, &peer), ERR_CHAIN_UNTRUSTED);
    pair_free(&p);
    ratls_ctx_free(strict);
    ratls_policy_cleanup(&intel);
    world_close(&w);
}

static void test_tls12_client_is_refused(void **state) {
    (void)state;
    world w;
    world_open(&w);
    SSL_CTX *old = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION);
    SSL_CTX_set_verify(old, SSL_VERIFY_NONE, NULL);
    SSL *c = SSL_new(old);
    SSL_set_connect_state(c);
    pair p;
    run_handshake(ratls_ssl_new(w.sctx), c, &p);
    assert_int_equal(p.serr, ERR_TLS_VERSION);
    assert_int_not_equal(p.cerr, ERR_OK);
    pair_free(&p);
    SSL_CTX_free(old);
    world_close(&w);
}

static void test_client_chain_deeper_than_one_is_refused(void **state) {
    (void)state;
    world w;
    world_open(&w);
    /* The client sends its certificate plus an extra "issuer" certificate. */
    ratls_identity extra;
    make_identity(&extra);
    const unsigned char *d = extra.cert_der.data;
    X509 *x = d2i_X509(NULL, &d, (long)extra.cert_der.len);
    assert_non_null(x);
    assert_int_equal(SSL_CTX_add1_chain_cert(ratls_ctx_ssl_ctx(w.cctx), x), 1);
    X509_free(x);
    pair p;
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_CERT_CHAIN_DEPTH);
    pair_free(&p);
    ratls_identity_cleanup(&extra);
    world_close(&w);
}

static int64_t future_clock(void *arg) {
    return *(int64_t *)arg;
}

static void test_expired_peer_certificate_is_refused(void **state) {
    (void)state;
    world w;
    world_open(&w);
    int64_t later = F.now + 7200; /* the certificates live one hour */
    ratls_ctx_set_clock(w.sctx, future_clock, &later);
    pair p;
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_CERT_EXPIRED);
    pair_free(&p);
    world_close(&w);
}

static void test_rotation_keeps_live_connections(void **state) {
    (void)state;
    world w;
    world_open(&w);
    pair a;
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &a);
    assert_int_equal(a.serr, ERR_OK);
    assert_int_equal(a.cerr, ERR_OK);

    ratls_identity fresh;
    make_identity(&fresh);
    assert_int_equal(ratls_ctx_set_identity(w.sctx, &fresh), ERR_OK);

    pair b;
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &b);
    assert_int_equal(b.serr, ERR_OK);
    assert_int_equal(b.cerr, ERR_OK);
    ratls_peer seen;
    assert_int_equal(ratls_ssl_verdict(b.c, &seen), ERR_OK);
    assert_memory_equal(seen.pubkey, fresh.key.pub, 32); /* new connections: new certificate */
    assert_int_equal(ratls_ssl_verdict(a.c, &seen), ERR_OK);
    assert_memory_equal(seen.pubkey, w.sid.key.pub, 32);
    exchange(&a, "still alive"); /* the old connection keeps working */
    exchange(&b, "new one");
    pair_free(&a);
    pair_free(&b);
    ratls_identity_cleanup(&fresh);
    world_close(&w);
}

static void test_cache_skips_repeat_verification_but_not_policy(void **state) {
    (void)state;
    world w;
    world_open(&w);
    ratls_cache *cache = ratls_cache_new(64, 600);
    ratls_ctx_set_cache(w.sctx, cache);
    pair p;
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_OK);
    pair_free(&p);
    uint64_t before = ratls_quotes_verified();
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_OK);
    pair_free(&p);
    /* The client still verified the server's quote; the server used its cache. */
    assert_int_equal(ratls_quotes_verified() - before, 1);
    uint64_t hits;
    uint64_t misses;
    ratls_cache_stats(cache, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);

    /* Entries expire: past the TTL the quote is verified again. */
    int64_t later = F.now + 601;
    ratls_ctx_set_clock(w.sctx, future_clock, &later);
    before = ratls_quotes_verified();
    run_handshake(ratls_ssl_new(w.sctx), ratls_ssl_new(w.cctx), &p);
    assert_int_equal(p.serr, ERR_OK);
    pair_free(&p);
    assert_int_equal(ratls_quotes_verified() - before, 2);
    ratls_ctx_free(w.sctx);
    w.sctx = NULL;
    ratls_cache_free(cache);
    world_close(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_handshake_verifies_both_directions),
        cmocka_unit_test(test_server_refuses_client_of_untrusted_root),
        cmocka_unit_test(test_tls12_client_is_refused),
        cmocka_unit_test(test_client_chain_deeper_than_one_is_refused),
        cmocka_unit_test(test_expired_peer_certificate_is_refused),
        cmocka_unit_test(test_rotation_keeps_live_connections),
        cmocka_unit_test(test_cache_skips_repeat_verification_but_not_policy),
    };
    return cmocka_run_group_tests(tests, fixture_group_setup, fixture_group_teardown);
}
