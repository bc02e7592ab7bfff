/* crypto/x509: bundle parsing limits and formats, pinned-key chain verification (real Intel
 * root file, Intel's QVL fake-root sample, freshly issued chains), key PEM round trips.
 * Data: tests/data/tdx (provenance in tests/data/tdx/SOURCE.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/codec.h"
#include "base/file.h"
#include "crypto/ecdsa.h"
#include "crypto/x509.h"

#define T0 1750000000 /* 2025-06-15 */
#define DAY 86400

static void td_read(const char *rel, buf *b) {
    const char *dir = getenv("COCOON_TESTDATA");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    buf_init(b, 1 << 20);
    assert_int_equal(file_read(path, 1 << 20, b), ERR_OK);
}

static void test_intel_root_file(void **state) {
    (void)state;
    buf b;
    td_read("tdx/intel_sgx_root_ca.pem", &b);
    x509_cert *c = NULL;
    assert_int_equal(x509_cert_from_pem(b.data, b.len, &c), ERR_OK);
    uint8_t pub[64];
    assert_int_equal(x509_cert_p256_pub(c, pub), ERR_OK);
    char hex[129];
    hex_encode(pub, 64, hex);
    /* attestation.md §1.6 */
    assert_string_equal(hex, "0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5"
                             "67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394");
    char cn[X509_CN_MAX + 1];
    assert_int_equal(x509_cert_subject_cn(c, cn), ERR_OK);
    assert_string_equal(cn, "Intel SGX Root CA");
    int64_t nb = 0;
    int64_t na = 0;
    assert_int_equal(x509_cert_validity(c, &nb, &na), ERR_OK);
    assert_int_equal(nb, 1526899510); /* 2018-05-21 10:45:10Z */
    assert_int_equal(na, 2524607999); /* 2049-12-31 23:59:59Z */
    /* A self-signed root alone is a chain of one: it anchors itself. */
    x509_chain *ch = NULL;
    assert_int_equal(x509_chain_parse(b.data, b.len, &ch), ERR_OK);
    size_t idx = 99;
    assert_int_equal(x509_chain_verify_pinned(ch, (const uint8_t(*)[64])pub, 1, T0, &idx), ERR_OK);
    assert_int_equal(idx, 0);
    x509_chain_free(ch);
    x509_cert_free(c);
    buf_free(&b);
}

/* Intel's QVL sample: root named "Intel SGX Root CA" that is not Intel's key. */
static void test_fake_named_root(void **state) {
    (void)state;
    buf chain;
    buf leaf;
    buf root;
    td_read("tdx/intel-fake-root/pckSignChain.pem", &chain);
    td_read("tdx/intel-fake-root/pckCert.pem", &leaf);
    td_read("tdx/intel-fake-root/trustedRootCaCert.pem", &root);
    buf all;
    buf_init(&all, 1 << 20);
    assert_int_equal(buf_append(&all, leaf.data, leaf.len), ERR_OK);
    assert_int_equal(buf_append(&all, chain.data, chain.len), ERR_OK);
    x509_chain *ch = NULL;
    assert_int_equal(x509_chain_parse(all.data, all.len, &ch), ERR_OK);
    assert_int_equal(x509_chain_count(ch), 3);
    char cn[X509_CN_MAX + 1];
    assert_int_equal(x509_cert_subject_cn(x509_chain_leaf(ch), cn), ERR_OK);
    assert_string_equal(cn, "Intel SGX PCK Certificate");

    x509_cert *rc = NULL;
    assert_int_equal(x509_cert_from_pem(root.data, root.len, &rc), ERR_OK);
    uint8_t roots[2][64];
    assert_int_equal(x509_cert_p256_pub(rc, roots[1]), ERR_OK);
    buf intel;
    td_read("tdx/intel_sgx_root_ca.pem", &intel);
    x509_cert *ic = NULL;
    assert_int_equal(x509_cert_from_pem(intel.data, intel.len, &ic), ERR_OK);
    assert_int_equal(x509_cert_p256_pub(ic, roots[0]), ERR_OK);

    const uint8_t(*r)[64] = (const uint8_t(*)[64])roots;
    assert_int_equal(x509_chain_verify_pinned(ch, r, 1, T0, NULL), ERR_CHAIN_UNTRUSTED);
    size_t idx = 0;
    assert_int_equal(x509_chain_verify_pinned(ch, r + 1, 1, T0, &idx), ERR_OK);
    assert_int_equal(x509_chain_verify_pinned(ch, r, 2, T0, &idx), ERR_OK);
    assert_int_equal(idx, 1);
    /* Its PCK leaf expires 2028-08-06 13:55:14Z; the root was issued 2021-08-06. */
    assert_int_equal(x509_chain_verify_pinned(ch, r + 1, 1, 1849182914, NULL), ERR_CERT_EXPIRED);
    assert_int_equal(x509_chain_verify_pinned(ch, r + 1, 1, 1600000000, NULL),
                     ERR_CERT_NOT_YET_VALID);
    x509_cert_free(ic);
    x509_cert_free(rc);
    x509_chain_free(ch);
    buf_free(&all);
    buf_free(&intel);
    buf_free(&chain);
    buf_free(&leaf);
    buf_free(&root);
}

typedef struct {
    p256_key root_key, ca_key, leaf_key;
    x509_cert *root, *ca, *leaf;
} pki;

static x509_cert *issue(const char *cn, const p256_key *subject, const x509_cert *issuer,
                        const p256_key *issuer_key, int64_t nb, int64_t na, bool ca, int pathlen) {
    x509_issue_params p = {
        .cn = cn,
        .org = "Test",
        .subject_pub = subject->pub,
        .issuer = issuer,
        .issuer_key = issuer_key,
        .not_before = nb,
        .not_after = na,
        .ca = ca,
        .pathlen = pathlen,
    };
    x509_cert *c = NULL;
    err_t e = x509_cert_issue(&p, &c);
    if (e != ERR_OK) {
        fail_msg("issue %s: %s", cn, err_describe(e));
    }
    return c;
}

static void pki_make(pki *k, int64_t leaf_nb, int64_t leaf_na) {
    assert_int_equal(p256_generate(&k->root_key), ERR_OK);
    assert_int_equal(p256_generate(&k->ca_key), ERR_OK);
    assert_int_equal(p256_generate(&k->leaf_key), ERR_OK);
    k->root =
        issue("Test Root CA", &k->root_key, NULL, &k->root_key, T0 - DAY, T0 + 3650 * DAY, true, 1);
    k->ca = issue("Test PCK Platform CA", &k->ca_key, k->root, &k->root_key, T0 - DAY,
                  T0 + 3650 * DAY, true, 0);
    k->leaf = issue("Test SGX PCK Certificate", &k->leaf_key, k->ca, &k->ca_key, leaf_nb, leaf_na,
                    false, -1);
}

static void pki_free(pki *k) {
    x509_cert_free(k->root);
    x509_cert_free(k->ca);
    x509_cert_free(k->leaf);
}

static void bundle(buf *out, x509_cert *const *certs, size_t n, bool nul) {
    buf_init(out, 1 << 20);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(x509_cert_to_pem(certs[i], out), ERR_OK);
    }
    if (nul) {
        assert_int_equal(buf_u8(out, 0), ERR_OK);
    }
}

static err_t verify_bundle(const buf *b, const uint8_t *root_pub, int64_t now) {
    x509_chain *ch = NULL;
    TRY(x509_chain_parse(b->data, b->len, &ch));
    err_t e = x509_chain_verify_pinned(ch, (const uint8_t(*)[64])root_pub, 1, now, NULL);
    x509_chain_free(ch);
    return e;
}

static void test_issued_chain(void **state) {
    (void)state;
    pki k;
    pki_make(&k, T0 - DAY, T0 + 365 * DAY);
    x509_cert *order[3] = {k.leaf, k.ca, k.root};
    buf b;
    bundle(&b, order, 3, true); /* Intel's layout: leaf first, trailing NUL */
    assert_int_equal(verify_bundle(&b, k.root_key.pub, T0), ERR_OK);
    assert_int_equal(verify_bundle(&b, k.ca_key.pub, T0), ERR_CHAIN_UNTRUSTED);
    assert_int_equal(verify_bundle(&b, k.leaf_key.pub, T0), ERR_CHAIN_UNTRUSTED);
    assert_int_equal(verify_bundle(&b, k.root_key.pub, T0 - 2 * DAY), ERR_CERT_NOT_YET_VALID);
    assert_int_equal(verify_bundle(&b, k.root_key.pub, T0 + 366 * DAY), ERR_CERT_EXPIRED);
    /* Root in the middle and leaf last: order does not matter, the leaf is found by name. */
    x509_cert *shuffled[3] = {k.root, k.leaf, k.ca};
    buf s;
    bundle(&s, shuffled, 3, false);
    assert_int_equal(verify_bundle(&s, k.root_key.pub, T0), ERR_OK);
    /* The bundle without its intermediate has no path. */
    x509_cert *gap[2] = {k.leaf, k.root};
    buf g;
    bundle(&g, gap, 2, false);
    assert_int_equal(verify_bundle(&g, k.root_key.pub, T0), ERR_CHAIN_UNTRUSTED);
    /* Two leaves: no unique end-entity. */
    x509_cert *two[4] = {k.leaf, k.leaf, k.ca, k.root};
    buf t;
    bundle(&t, two, 4, false);
    assert_int_equal(verify_bundle(&t, k.root_key.pub, T0), ERR_CERT_FORMAT);
    buf_free(&b);
    buf_free(&s);
    buf_free(&g);
    buf_free(&t);
    pki_free(&k);
}

/* An attacker's root with the same NAME and its own key, and an intermediate signed by the
 * wrong key: both refused. */
static void test_forged_chains(void **state) {
    (void)state;
    pki k;
    pki_make(&k, T0 - DAY, T0 + 365 * DAY);
    p256_key evil;
    assert_int_equal(p256_generate(&evil), ERR_OK);
    x509_cert *evil_root =
        issue("Test Root CA", &evil, NULL, &evil, T0 - DAY, T0 + 3650 * DAY, true, 1);
    x509_cert *evil_ca =
        issue("Test PCK Platform CA", &k.ca_key, evil_root, &evil, T0 - DAY, T0 + DAY, true, 0);
    x509_cert *c1[3] = {k.leaf, evil_ca, evil_root};
    buf b1;
    bundle(&b1, c1, 3, false);
    assert_int_equal(verify_bundle(&b1, k.root_key.pub, T0), ERR_CHAIN_UNTRUSTED);
    /* Intermediate claims the real root as issuer but is signed by the evil key. */
    x509_cert *forged =
        issue("Test PCK Platform CA", &k.ca_key, k.root, &evil, T0 - DAY, T0 + DAY, true, 0);
    x509_cert *c2[3] = {k.leaf, forged, k.root};
    buf b2;
    bundle(&b2, c2, 3, false);
    assert_int_equal(verify_bundle(&b2, k.root_key.pub, T0), ERR_CHAIN_UNTRUSTED);
    /* A leaf that is itself a CA with pathlen 0 below the CA violates pathlen of the CA. */
    x509_cert *sub = issue("Test SGX PCK Certificate", &k.leaf_key, k.ca, &k.ca_key, T0 - DAY,
                           T0 + DAY, true, 0);
    p256_key l2;
    assert_int_equal(p256_generate(&l2), ERR_OK);
    x509_cert *deep = issue("Deep leaf", &l2, sub, &k.leaf_key, T0 - DAY, T0 + DAY, false, -1);
    x509_cert *c3[4] = {deep, sub, k.ca, k.root};
    buf b3;
    bundle(&b3, c3, 4, false);
    assert_int_equal(verify_bundle(&b3, k.root_key.pub, T0), ERR_CHAIN_UNTRUSTED);
    buf_free(&b1);
    buf_free(&b2);
    buf_free(&b3);
    x509_cert_free(evil_root);
    x509_cert_free(evil_ca);
    x509_cert_free(forged);
    x509_cert_free(sub);
    x509_cert_free(deep);
    pki_free(&k);
}

static void test_bundle_formats_and_limits(void **state) {
    (void)state;
    pki k;
    pki_make(&k, T0 - DAY, T0 + DAY);
    x509_cert *max[X509_CHAIN_MAX_CERTS + 1];
    for (size_t i = 0; i <= X509_CHAIN_MAX_CERTS; i++) {
        max[i] = k.root;
    }
    buf b;
    x509_chain *ch = NULL;
    bundle(&b, max, X509_CHAIN_MAX_CERTS, true);
    assert_int_equal(x509_chain_parse(b.data, b.len, &ch), ERR_OK);
    assert_int_equal(x509_chain_count(ch), X509_CHAIN_MAX_CERTS);
    assert_null(x509_chain_get(ch, X509_CHAIN_MAX_CERTS));
    x509_chain_free(ch);
    buf_free(&b);
    bundle(&b, max, X509_CHAIN_MAX_CERTS + 1, true);
    assert_int_equal(x509_chain_parse(b.data, b.len, &ch), ERR_TOO_MANY);
    buf_free(&b);

    /* Garbage before, between or after the blocks is refused; whitespace/NUL is not. */
    x509_cert *two[2] = {k.leaf, k.ca};
    bundle(&b, two, 2, false);
    static const char *ins[] = {"x", "\n\n \t\r\n", "\0\0"};
    static const err_t want[] = {ERR_CERT_FORMAT, ERR_OK, ERR_OK};
    for (size_t i = 0; i < 3; i++) {
        size_t il = i == 2 ? 2 : strlen(ins[i]);
        for (int where = 0; where < 3; where++) {
            buf m;
            buf_init(&m, 1 << 20);
            size_t split = where == 0 ? 0 : where == 1 ? b.len / 2 : b.len;
            if (where == 1) {
                /* just after the first END line */
                split = (size_t)((uint8_t *)strstr((char *)b.data, "-----END CERTIFICATE-----\n") -
                                 b.data) +
                        26;
            }
            assert_int_equal(buf_append(&m, b.data, split), ERR_OK);
            assert_int_equal(buf_append(&m, ins[i], il), ERR_OK);
            assert_int_equal(buf_append(&m, b.data + split, b.len - split), ERR_OK);
            err_t e = x509_chain_parse(m.data, m.len, &ch);
            if (e != want[i]) {
                fail_msg("insert %zu at %d: %s", i, where, err_name(e));
            }
            x509_chain_free(e == ERR_OK ? ch : NULL);
            buf_free(&m);
        }
    }
    /* Truncated PEM at every 50th byte. */
    for (size_t n = 0; n + 30 < b.len; n += 50) {
        err_t e = x509_chain_parse(b.data, n, &ch);
        if (e == ERR_OK) {
            /* cutting exactly after a block is a valid shorter bundle */
            x509_chain_free(ch);
        } else {
            assert_int_equal(e, ERR_CERT_FORMAT);
        }
    }
    buf_free(&b);
    assert_int_equal(x509_chain_parse("", 0, &ch), ERR_CERT_FORMAT);
    assert_int_equal(x509_chain_parse("\0", 1, &ch), ERR_CERT_FORMAT);
    static uint8_t huge[(64 << 10) + 1];
    assert_int_equal(x509_chain_parse(huge, sizeof(huge), &ch), ERR_TOO_LARGE);
    pki_free(&k);
}

static void test_key_pem_roundtrip(void **state) {
    (void)state;
    p256_key k;
    assert_int_equal(p256_generate(&k), ERR_OK);
    buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(x509_p256_key_to_pem(&k, &b), ERR_OK);
    assert_non_null(strstr((char *)b.data, "-----BEGIN PRIVATE KEY-----"));
    p256_key back;
    assert_int_equal(x509_p256_key_from_pem(b.data, b.len, &back), ERR_OK);
    assert_memory_equal(back.priv, k.priv, 32);
    assert_memory_equal(back.pub, k.pub, 64);
    /* The reloaded key signs verifiably. */
    uint8_t sig[64];
    assert_int_equal(p256_sign(&back, "m", 1, sig), ERR_OK);
    assert_int_equal(ecdsa_verify(ECDSA_P256_SHA256, k.pub, "m", 1, sig), ERR_OK);
    assert_int_equal(x509_p256_key_from_pem("junk", 4, &back), ERR_BAD_KEY);
    buf_free(&b);
    /* A certificate is not a private key. */
    buf c;
    td_read("tdx/intel_sgx_root_ca.pem", &c);
    assert_int_equal(x509_p256_key_from_pem(c.data, c.len, &back), ERR_BAD_KEY);
    buf_free(&c);
}

static void test_issue_refuses_mismatched_self_signed(void **state) {
    (void)state;
    p256_key a;
    p256_key b;
    assert_int_equal(p256_generate(&a), ERR_OK);
    assert_int_equal(p256_generate(&b), ERR_OK);
    x509_issue_params p = {.cn = "x",
                           .subject_pub = a.pub,
                           .issuer_key = &b,
                           .not_before = T0,
                           .not_after = T0 + 1,
                           .pathlen = -1};
    x509_cert *c = NULL;
    assert_int_equal(x509_cert_issue(&p, &c), ERR_BAD_KEY);
    assert_null(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intel_root_file),
        cmocka_unit_test(test_fake_named_root),
        cmocka_unit_test(test_issued_chain),
        cmocka_unit_test(test_forged_chains),
        cmocka_unit_test(test_bundle_formats_and_limits),
        cmocka_unit_test(test_key_pem_roundtrip),
        cmocka_unit_test(test_issue_refuses_mismatched_self_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
