/* Answer evidence: a signature verifies for exactly the signed claim; changing any field (the
 * query, one answer byte, the model, each usage counter) or the key breaks it; the carrier JSON
 * round-trips and malformed carriers are refused with their exact errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "crypto/hash.h"
#include "http/evidence.h"

static void claim(evidence_claim *c) {
    memset(c, 0, sizeof(*c));
    sha256("query", 5, c->query_hash);
    sha256("answer", 6, c->answer_hash);
    c->model = "Qwen3-8B@abc:def";
    c->model_len = strlen(c->model);
    c->prompt = 12;
    c->cached = 4;
    c->completion = 14;
    c->reasoning = 3;
    c->total = 33;
}

static void test_every_field_is_bound(void **state) {
    (void)state;
    ed25519_key k, other;
    assert_int_equal(ed25519_generate(&k), ERR_OK);
    assert_int_equal(ed25519_generate(&other), ERR_OK);
    evidence_claim c;
    claim(&c);
    uint8_t sig[ED25519_SIG_LEN];
    assert_int_equal(evidence_sign(&k, &c, sig), ERR_OK);
    assert_int_equal(evidence_verify(k.pub, &c, sig), ERR_OK);
    assert_int_equal(evidence_verify(other.pub, &c, sig), ERR_BAD_SIGNATURE);
    for (int f = 0; f < 9; f++) {
        evidence_claim d;
        claim(&d);
        switch (f) {
        case 0:
            d.query_hash[31] ^= 1;
            break;
        case 1:
            d.answer_hash[0] ^= 0x80;
            break;
        case 2:
            d.model = "Qwen3-8B@abc:deg";
            break;
        case 3:
            d.model_len--;
            break;
        case 4:
            d.prompt++;
            break;
        case 5:
            d.cached--;
            break;
        case 6:
            d.completion++;
            break;
        case 7:
            d.reasoning++;
            break;
        default:
            d.total--;
        }
        if (evidence_verify(k.pub, &d, sig) != ERR_BAD_SIGNATURE) {
            fail_msg("field %d altered but the signature still verifies", f);
        }
    }
    sig[10] ^= 1;
    assert_int_equal(evidence_verify(k.pub, &c, sig), ERR_BAD_SIGNATURE);
}

static void test_model_length_limit(void **state) {
    (void)state;
    ed25519_key k;
    assert_int_equal(ed25519_generate(&k), ERR_OK);
    char m[EVIDENCE_MODEL_MAX + 2];
    memset(m, 'm', sizeof(m));
    evidence_claim c;
    claim(&c);
    c.model = m;
    c.model_len = EVIDENCE_MODEL_MAX;
    uint8_t sig[ED25519_SIG_LEN];
    assert_int_equal(evidence_sign(&k, &c, sig), ERR_OK);
    assert_int_equal(evidence_verify(k.pub, &c, sig), ERR_OK);
    c.model_len = EVIDENCE_MODEL_MAX + 1;
    assert_int_equal(evidence_sign(&k, &c, sig), ERR_TOO_LARGE);
    assert_int_equal(evidence_verify(k.pub, &c, sig), ERR_TOO_LARGE);
}

static void test_carrier_json(void **state) {
    (void)state;
    for (int kind = EVIDENCE_SIGNATURE; kind <= EVIDENCE_HMAC; kind++) {
        evidence_proof p, back;
        memset(&p, 0, sizeof(p));
        p.kind = (evidence_kind)kind;
        size_t n = kind == EVIDENCE_HMAC ? EVIDENCE_MAC_LEN : ED25519_SIG_LEN;
        for (size_t i = 0; i < n; i++) {
            p.bytes[i] = (uint8_t)(i * 7 + 1);
        }
        buf b;
        buf_init(&b, 1024);
        assert_int_equal(evidence_debug_json(&p, &b), ERR_OK);
        assert_int_equal(evidence_from_debug(b.data, b.len, &back), ERR_OK);
        assert_int_equal(back.kind, kind);
        assert_memory_equal(p.bytes, back.bytes, sizeof(p.bytes));
        buf_free(&b);
    }
    static const struct {
        const char *json;
        err_t want;
    } cases[] = {
        {"", ERR_NOT_FOUND},
        {"{}", ERR_NOT_FOUND},
        {"{\"other\":1}", ERR_NOT_FOUND},
        {"{\"evidence\":1}", ERR_MALFORMED},
        {"{\"evidence\":\"AAAA\"}", ERR_MALFORMED},
        {"{\"evidence\":\"!!!!\"}", ERR_MALFORMED},
        /* 65 and 63 bytes of base64 payload */
        {"{\"evidence\":"
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "=\"}",
         ERR_MALFORMED},
        {"{\"evidence\":"
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""
         "}",
         ERR_MALFORMED},
        /* a MAC is 32 bytes: 33 and 31 refused, a 64-byte signature under the MAC name too */
        {"{\"evidence_mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", ERR_MALFORMED},
        {"{\"evidence_mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}", ERR_MALFORMED},
        {"{\"evidence_mac\":"
         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""
         "}",
         ERR_MALFORMED},
        /* one of the two, never both */
        {"{\"evidence_mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"evidence\":\"x\"}",
         ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evidence_proof back;
        err_t e = evidence_from_debug((const uint8_t *)cases[i].json, strlen(cases[i].json), &back);
        if (e != cases[i].want) {
            fail_msg("case %zu: got %s", i, err_name(e));
        }
    }
    evidence_proof ok;
    static const char mac32[] =
        "{\"evidence_mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}";
    assert_int_equal(evidence_from_debug((const uint8_t *)mac32, strlen(mac32), &ok), ERR_OK);
    assert_int_equal(ok.kind, EVIDENCE_HMAC);
}

/* Both ends derive the same key; a third party holding only the public keys (the proxy)
 * derives a different one with its own key, and any field change breaks the tag. */
static void test_mac_agreement_and_binding(void **state) {
    (void)state;
    x25519_key worker_kx, client_kx, proxy_kx;
    ed25519_key wk;
    assert_int_equal(x25519_generate(&worker_kx), ERR_OK);
    assert_int_equal(x25519_generate(&client_kx), ERR_OK);
    assert_int_equal(x25519_generate(&proxy_kx), ERR_OK);
    assert_int_equal(ed25519_generate(&wk), ERR_OK);
    uint8_t kw[32], kc[32], kp[32], kother[32];
    assert_int_equal(evidence_mac_key(&worker_kx, client_kx.pub, wk.pub, true, kw), ERR_OK);
    assert_int_equal(evidence_mac_key(&client_kx, worker_kx.pub, wk.pub, false, kc), ERR_OK);
    assert_memory_equal(kw, kc, 32);
    /* the proxy swaps in its own key towards the worker: the worker's key differs */
    assert_int_equal(evidence_mac_key(&worker_kx, proxy_kx.pub, wk.pub, true, kp), ERR_OK);
    assert_memory_not_equal(kp, kc, 32);
    /* bound to the certificate key: another worker Ed25519 key gives another MAC key */
    ed25519_key wk2;
    assert_int_equal(ed25519_generate(&wk2), ERR_OK);
    assert_int_equal(evidence_mac_key(&worker_kx, client_kx.pub, wk2.pub, true, kother), ERR_OK);
    assert_memory_not_equal(kother, kc, 32);
    /* small-order peer key (all zero) refused */
    uint8_t zero[32] = {0};
    assert_int_equal(evidence_mac_key(&worker_kx, zero, wk.pub, true, kother), ERR_BAD_KEY);

    evidence_claim c;
    claim(&c);
    uint8_t tag[EVIDENCE_MAC_LEN];
    assert_int_equal(evidence_mac(kw, &c, tag), ERR_OK);
    assert_int_equal(evidence_mac_verify(kc, &c, tag), ERR_OK);
    assert_int_equal(evidence_mac_verify(kp, &c, tag), ERR_BAD_SIGNATURE);
    evidence_claim d = c;
    d.total++;
    assert_int_equal(evidence_mac_verify(kc, &d, tag), ERR_BAD_SIGNATURE);
    d = c;
    d.answer_hash[5] ^= 4;
    assert_int_equal(evidence_mac_verify(kc, &d, tag), ERR_BAD_SIGNATURE);
    tag[31] ^= 1;
    assert_int_equal(evidence_mac_verify(kc, &c, tag), ERR_BAD_SIGNATURE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_is_bound),
        cmocka_unit_test(test_model_length_limit),
        cmocka_unit_test(test_carrier_json),
        cmocka_unit_test(test_mac_agreement_and_binding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
