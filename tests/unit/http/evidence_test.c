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
    uint8_t sig[ED25519_SIG_LEN], back[ED25519_SIG_LEN];
    for (size_t i = 0; i < sizeof(sig); i++) {
        sig[i] = (uint8_t)(i * 7 + 1);
    }
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(evidence_debug_json(sig, &b), ERR_OK);
    assert_int_equal(evidence_from_debug(b.data, b.len, back), ERR_OK);
    assert_memory_equal(sig, back, sizeof(sig));
    buf_free(&b);
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
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err_t e = evidence_from_debug((const uint8_t *)cases[i].json, strlen(cases[i].json), back);
        if (e != cases[i].want) {
            fail_msg("case %zu: got %s", i, err_name(e));
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_is_bound),
        cmocka_unit_test(test_model_length_limit),
        cmocka_unit_test(test_carrier_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
