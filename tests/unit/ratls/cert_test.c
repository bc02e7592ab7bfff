/* RA-TLS certificate verification: the negative suite tries each attack for real and asserts
 * the specific error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/verify.h"
#include "fixture.h"
#include "ratls/claims.h"

static void honest(ed25519_key *k, buf *der) {
    assert_int_equal(ed25519_generate(k), ERR_OK);
    buf_init(der, RATLS_CERT_MAX);
    assert_int_equal(fixture_cert(&F, k, k, F.now, F.now + 3600, der), ERR_OK);
}

static void test_honest_certificate_verifies_with_measurements(void **state) {
    (void)state;
    ed25519_key k;
    buf der;
    honest(&k, &der);
    ratls_policy p;
    fixture_policy(&F, &p);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_OK);
    assert_true(peer.attested);
    assert_memory_equal(peer.pubkey, k.pub, 32);
    uint8_t mrtd[48];
    memset(mrtd, 0x11, 48);
    assert_memory_equal(peer.mrtd, mrtd, 48);
    uint8_t want_id[48];
    attest_root_key_id(fake_ca_root_pub(F.ca), want_id);
    assert_memory_equal(peer.root_key_id, want_id, 48);
    /* image hash: the same formula over the quote the certificate carries */
    buf q;
    buf_init(&q, 65536);
    assert_int_equal(ratls_cert_quote(der.data, der.len, &q), ERR_OK);
    quote qq;
    assert_int_equal(quote_parse(q.data, q.len, &qq), ERR_OK);
    uint8_t ih[32];
    quote_image_hash(&qq, ih);
    assert_memory_equal(peer.image_hash, ih, 32);
    buf_free(&q);
    ratls_policy_cleanup(&p);
    buf_free(&der);
}

static void test_fake_quote_rejected_against_real_intel_root(void **state) {
    (void)state;
    ed25519_key k;
    buf der;
    honest(&k, &der);
    ratls_policy p;
    ratls_policy_init(&p); /* pins Intel's root only */
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_CHAIN_UNTRUSTED);
    ratls_policy_cleanup(&p);
    buf_free(&der);
}

static void test_quote_bound_to_another_key(void **state) {
    (void)state;
    ed25519_key mine;
    ed25519_key victim;
    assert_int_equal(ed25519_generate(&mine), ERR_OK);
    assert_int_equal(ed25519_generate(&victim), ERR_OK);
    buf der;
    buf_init(&der, RATLS_CERT_MAX);
    /* An attacker lifts a genuine quote made for the victim's key into its own certificate. */
    assert_int_equal(fixture_cert(&F, &mine, &victim, F.now, F.now + 3600, &der), ERR_OK);
    ratls_policy p;
    fixture_policy(&F, &p);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer),
                     ERR_REPORTDATA_MISMATCH);
    ratls_policy_cleanup(&p);
    buf_free(&der);
}

static void test_image_mrtd_rtmr_allow_lists(void **state) {
    (void)state;
    ed25519_key k;
    buf der;
    honest(&k, &der);
    ratls_policy p;
    fixture_policy(&F, &p);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_OK);
    uint8_t good_image[32];
    memcpy(good_image, peer.image_hash, 32);
    uint8_t other[48];
    memset(other, 0x99, sizeof(other));

    assert_int_equal(ratls_policy_add_image(&p, other), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(ratls_policy_add_image(&p, good_image), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_OK);

    assert_int_equal(ratls_policy_add_mrtd(&p, other), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_MRTD_NOT_ALLOWED);
    uint8_t mrtd[48];
    memset(mrtd, 0x11, 48);
    assert_int_equal(ratls_policy_add_mrtd(&p, mrtd), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_OK);

    uint8_t rtmrs[4][48];
    memset(rtmrs, 0, sizeof(rtmrs));
    assert_int_equal(ratls_policy_add_rtmrs(&p, rtmrs), ERR_OK); /* RTMR0 differs */
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_RTMR_NOT_ALLOWED);
    memset(rtmrs[0], 0x22, 48);
    assert_int_equal(ratls_policy_add_rtmrs(&p, rtmrs), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_OK);
    ratls_policy_cleanup(&p);
    buf_free(&der);
}

static void test_debug_td_rejected_unless_allowed(void **state) {
    (void)state;
    fixture dbg;
    assert_int_equal(fixture_open(&dbg, 0x10000001), 0);
    ed25519_key k;
    assert_int_equal(ed25519_generate(&k), ERR_OK);
    buf der;
    buf_init(&der, RATLS_CERT_MAX);
    assert_int_equal(fixture_cert(&dbg, &k, &k, dbg.now, dbg.now + 3600, &der), ERR_OK);
    ratls_policy p;
    fixture_policy(&dbg, &p);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, dbg.now, &peer), ERR_DEBUG_TD);
    p.allow_debug = true;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, dbg.now, &peer), ERR_OK);
    ratls_policy_cleanup(&p);
    buf_free(&der);
    fixture_close(&dbg);
}

static void test_validity_window(void **state) {
    (void)state;
    ed25519_key k;
    buf der;
    honest(&k, &der); /* valid [now, now + 1 h] */
    ratls_policy p;
    fixture_policy(&F, &p);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now + 3600, &peer), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now + 3601, &peer),
                     ERR_CERT_EXPIRED);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now - RATLS_CLOCK_SKEW, &peer),
                     ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now - RATLS_CLOCK_SKEW - 1, &peer),
                     ERR_CERT_NOT_YET_VALID);
    buf_free(&der);

    /* a certificate that lives longer than a day */
    buf_init(&der, RATLS_CERT_MAX);
    assert_int_equal(fixture_cert(&F, &k, &k, F.now, F.now + 86400 + RATLS_CLOCK_SKEW, &der),
                     ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_OK);
    buf_reset(&der);
    assert_int_equal(fixture_cert(&F, &k, &k, F.now, F.now + 365 * 86400, &der), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_CERT_VALIDITY);
    ratls_policy_cleanup(&p);
    buf_free(&der);
}

/* Builds a self-signed certificate with OpenSSL directly: key of any type, extra extension. */
static void craft(EVP_PKEY *pk, const char *extra_oid, int extra_crit, buf *out) {
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"x", -1, -1, 0);
    X509_set_issuer_name(x, n);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)F.now);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)F.now + 3600);
    X509_set_pubkey(x, pk);
    if (extra_oid) {
        ASN1_OBJECT *o = OBJ_txt2obj(extra_oid, 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2);
        X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, o, extra_crit, os);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(o);
    }
    int is_ed = EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519;
    assert_true(X509_sign(x, pk, is_ed ? NULL : EVP_sha256()) > 0);
    unsigned char *d = NULL;
    int dl = i2d_X509(x, &d);
    assert_true(dl > 0);
    buf_init(out, RATLS_CERT_MAX);
    assert_int_equal(buf_append(out, d, (size_t)dl), ERR_OK);
    OPENSSL_free(d);
    X509_free(x);
}

static void test_unknown_critical_extension_and_key_types(void **state) {
    (void)state;
    ratls_policy any;
    ratls_policy_init(&any);
    any.require_tdx = false;
    ratls_peer peer;
    buf der;

    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    craft(ed, NULL, 0, &der);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &any, F.now, &peer), ERR_OK);
    assert_false(peer.attested);
    buf_free(&der);

    craft(ed, "1.2.3.4.5.6", 1, &der);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &any, F.now, &peer),
                     ERR_UNKNOWN_CRIT_EXT);
    buf_free(&der);
    craft(ed, "1.2.3.4.5.6", 0, &der); /* the same, non-critical: ignored */
    assert_int_equal(ratls_verify_cert(der.data, der.len, &any, F.now, &peer), ERR_OK);
    buf_free(&der);

    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    craft(ec, NULL, 0, &der);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &any, F.now, &peer), ERR_CERT_KEY_TYPE);
    buf_free(&der);

    /* a plain certificate where TDX is required */
    craft(ed, NULL, 0, &der);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &any, F.now, &peer), ERR_OK);
    ratls_policy tdx;
    fixture_policy(&F, &tdx);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &tdx, F.now, &peer), ERR_NO_QUOTE);
    buf_free(&der);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(ec);
    ratls_policy_cleanup(&any);
    ratls_policy_cleanup(&tdx);
}

static void test_signature_by_another_key_is_not_self_signed(void **state) {
    (void)state;
    ed25519_key k;
    buf der;
    honest(&k, &der);
    /* Flip a bit of the certificate signature (the last bytes of the DER). */
    der.data[der.len - 1] ^= 1;
    ratls_policy p;
    fixture_policy(&F, &p);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_NOT_SELF_SIGNED);
    /* trailing garbage after the certificate */
    der.data[der.len - 1] ^= 1;
    assert_int_equal(buf_u8(&der, 0), ERR_OK);
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_CERT_FORMAT);
    ratls_policy_cleanup(&p);
    buf_free(&der);
}

static void test_tampered_quote_inside_certificate(void **state) {
    (void)state;
    ed25519_key k;
    assert_int_equal(ed25519_generate(&k), ERR_OK);
    uint8_t rd[64];
    sha512(k.pub, 32, rd);
    buf q;
    buf_init(&q, 65536);
    assert_int_equal(fake_td_quote(F.td, rd, &q), ERR_OK);
    ratls_policy p;
    fixture_policy(&F, &p);
    /* Change the MRTD (a signed body byte) and re-sign the certificate: the quote signature
     * must catch it although the certificate itself is perfectly self-signed. */
    q.data[48 + 136] ^= 0x01;
    buf der;
    buf_init(&der, RATLS_CERT_MAX);
    assert_int_equal(ratls_cert_build(&k, q.data, q.len, NULL, 0, F.now, F.now + 60, &der), ERR_OK);
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &p, F.now, &peer), ERR_QUOTE_SIG);
    buf_free(&der);
    buf_free(&q);
    ratls_policy_cleanup(&p);
}

static void test_claims_must_name_the_certificate_key(void **state) {
    (void)state;
    ed25519_key k;
    ed25519_key other;
    assert_int_equal(ed25519_generate(&k), ERR_OK);
    assert_int_equal(ed25519_generate(&other), ERR_OK);
    buf claims;
    buf_init(&claims, RATLS_CLAIMS_MAX);
    ratls_claim sw = {RATLS_CLAIM_SOFTWARE, (const uint8_t *)"cocoon 0.1", 10};
    assert_int_equal(ratls_claims_encode(other.pub, &sw, 1, &claims), ERR_OK);
    buf der;
    buf_init(&der, RATLS_CERT_MAX);
    assert_int_equal(
        ratls_cert_build(&k, NULL, 0, claims.data, claims.len, F.now, F.now + 60, &der), ERR_OK);
    ratls_policy any;
    ratls_policy_init(&any);
    any.require_tdx = false;
    ratls_peer peer;
    assert_int_equal(ratls_verify_cert(der.data, der.len, &any, F.now, &peer), ERR_CERT_FORMAT);

    /* decoding: records round-trip; repeated tags, oversize and truncation are refused */
    ratls_claims cl;
    assert_int_equal(ratls_claims_decode(claims.data, claims.len, &cl), ERR_OK);
    assert_int_equal(cl.count, 1);
    assert_non_null(ratls_claims_find(&cl, RATLS_CLAIM_SOFTWARE));
    for (size_t cut = 0; cut < claims.len; cut++) {
        if (cut == 32) {
            continue; /* the bare key is a valid claims value */
        }
        assert_int_equal(ratls_claims_decode(claims.data, cut, &cl), ERR_TRUNCATED);
    }
    ratls_claim twice[2] = {sw, sw};
    buf_reset(&claims);
    assert_int_equal(ratls_claims_encode(other.pub, twice, 2, &claims), ERR_OK);
    assert_int_equal(ratls_claims_decode(claims.data, claims.len, &cl), ERR_MALFORMED);
    ratls_policy_cleanup(&any);
    buf_free(&der);
    buf_free(&claims);
}

static void test_policy_json(void **state) {
    (void)state;
    ratls_policy p;
    ratls_policy_init(&p);
    const char *good = "{\"require_tdx\": true, \"allow_debug\": false, \"roots\": [\"intel\"],"
                       " \"image_hashes\": [\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"],"
                       " \"max_validity_hours\": 12}";
    assert_int_equal(ratls_policy_from_json(&p, good, strlen(good)), ERR_OK);
    assert_int_equal(p.nimage, 1);
    assert_int_equal(p.max_validity, 12 * 3600);
    ratls_policy_cleanup(&p);
    const char *bad[] = {
        "[]",
        "{\"require_tdx\": 1}",
        "{\"image_hashes\": [\"abcd\"]}",
        "{\"roots\": []}",
        "{\"mystery\": true}",
        "{\"rtmrs\": [[\"00\"]]}",
        "{\"max_validity_hours\": 25}",
        "{\"allow_debug\": true, \"allow_debug\": false}",
        "{",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ratls_policy_init(&p);
        assert_int_equal(ratls_policy_from_json(&p, bad[i], strlen(bad[i])), ERR_CONFIG);
        ratls_policy_cleanup(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_honest_certificate_verifies_with_measurements),
        cmocka_unit_test(test_fake_quote_rejected_against_real_intel_root),
        cmocka_unit_test(test_quote_bound_to_another_key),
        cmocka_unit_test(test_image_mrtd_rtmr_allow_lists),
        cmocka_unit_test(test_debug_td_rejected_unless_allowed),
        cmocka_unit_test(test_validity_window),
        cmocka_unit_test(test_unknown_critical_extension_and_key_types),
        cmocka_unit_test(test_signature_by_another_key_is_not_self_signed),
        cmocka_unit_test(test_tampered_quote_inside_certificate),
        cmocka_unit_test(test_claims_must_name_the_certificate_key),
        cmocka_unit_test(test_policy_json),
    };
    return cmocka_run_group_tests(tests, fixture_group_setup, fixture_group_teardown);
}
