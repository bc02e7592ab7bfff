/* quote_verify_signatures on Intel-signed quotes (tests/data/tdx/SOURCE.md) at times inside and
 * outside their PCK certificate validity, against the real and a fake root, and after
 * tampering. The fake-CA quotes are exercised in fake_test.c. */
#include "testutil.h"

#include "attest/quote.h"
#include "attest/verify.h"
#include "crypto/x509.h"

#define T_2025_01_01 1735689600
#define T_2025_07_01 1751328000
#define T_2026_03_01 1772323200

static const char INTEL_KEY_ID[] = "46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d"
                                   "5dcf58eef31463613de1570d516200993";

static void test_root_key_id(void **state) {
    (void)state;
    uint8_t id[48];
    attest_root_key_id(ATTEST_INTEL_ROOT_PUB, id);
    assert_hex_eq(id, 48, INTEL_KEY_ID);
    /* The pinned constant is the key of the real root certificate file. */
    buf b;
    td_read("tdx/intel_sgx_root_ca.pem", &b);
    x509_cert *c = NULL;
    assert_int_equal(x509_cert_from_pem(b.data, b.len, &c), ERR_OK);
    uint8_t pub[64];
    assert_int_equal(x509_cert_p256_pub(c, pub), ERR_OK);
    assert_memory_equal(pub, ATTEST_INTEL_ROOT_PUB, 64);
    x509_cert_free(c);
    buf_free(&b);
}

typedef struct {
    const char *file;
    int64_t inside; /* inside every certificate's validity */
    int64_t before; /* one second before the PCK leaf's notBefore */
    int64_t after;  /* the PCK leaf's notAfter: OpenSSL counts t == notAfter as expired */
} real_case;

/* PCK validity windows read with `openssl x509 -dates` from each quote's embedded chain. */
static const real_case REAL[] = {
    /* PCK 2025-07-20 11:37:12 .. 2032-07-20 11:37:12 */
    {"tdx/cocoon_quote_v4.dat", T_2026_03_01, 1753011431, 1973936232},
    /* PCK 2025-02-06 23:25:51 .. 2032-02-06 23:25:51 */
    {"tdx/dcapqvl_tdx_quote_v4.dat", T_2025_07_01, 1738884350, 1959722751},
    /* PCK 2026-01-27 14:36:27 .. 2033-01-27 14:36:27 */
    {"tdx/gotdx_quote_v5.dat", T_2026_03_01, 1769524586, 1990449387},
    /* PCK 2026-01-23 18:09:41 .. 2033-01-23 18:09:41 */
    {"tdx/dcapqvl_tdx_quote_outdated.dat", T_2026_03_01, 1769191780, 1990116581},
    /* PCK 2024-07-02 12:07:37 .. 2031-07-02 12:07:37 */
    {"tdx/cos-113-tdx-quote.dat", T_2025_01_01, 1719922056, 1940760457},
    /* SGX v3, PCK 2023-09-20 21:53:43 .. 2030-09-20 21:53:43 */
    {"tdx/dcapqvl_sgx_quote_v3.dat", T_2025_07_01, 1695246822, 1916171623},
};

static const uint8_t (*intel(void))[64] {
    return (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB;
}

static err_t verify_file_at(const char *file, const uint8_t (*roots)[64], size_t n, int64_t t,
                            uint8_t id[48]) {
    buf b;
    td_read(file, &b);
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    err_t e = quote_verify_signatures(&q, roots, n, t, id);
    buf_free(&b);
    return e;
}

static void test_real_quotes_verify(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(REAL) / sizeof(REAL[0]); i++) {
        uint8_t id[48] = {0};
        err_t e = verify_file_at(REAL[i].file, intel(), 1, REAL[i].inside, id);
        if (e != ERR_OK) {
            fail_msg("%s: %s", REAL[i].file, err_describe(e));
        }
        assert_hex_eq(id, 48, INTEL_KEY_ID);
        assert_int_equal(verify_file_at(REAL[i].file, intel(), 1, REAL[i].before, NULL),
                         ERR_CERT_NOT_YET_VALID);
        assert_int_equal(verify_file_at(REAL[i].file, intel(), 1, REAL[i].before + 1, NULL),
                         ERR_OK);
        assert_int_equal(verify_file_at(REAL[i].file, intel(), 1, REAL[i].after - 1, NULL), ERR_OK);
        assert_int_equal(verify_file_at(REAL[i].file, intel(), 1, REAL[i].after, NULL),
                         ERR_CERT_EXPIRED);
        /* No pinned roots, or only an unrelated one: nothing is trusted. */
        assert_int_equal(verify_file_at(REAL[i].file, NULL, 0, REAL[i].inside, NULL),
                         ERR_CHAIN_UNTRUSTED);
    }
}

/* Several pinned roots: the id reported is the one that matched. */
static void test_second_root_matches(void **state) {
    (void)state;
    uint8_t roots[2][64];
    memset(roots[0], 0x11, 64);
    memcpy(roots[1], ATTEST_INTEL_ROOT_PUB, 64);
    uint8_t id[48];
    assert_int_equal(
        verify_file_at("tdx/cocoon_quote_v4.dat", (const uint8_t(*)[64])roots, 2, T_2026_03_01, id),
        ERR_OK);
    assert_hex_eq(id, 48, INTEL_KEY_ID);
}

static void load_root_pub(const char *file, uint8_t pub[64]) {
    buf b;
    td_read(file, &b);
    x509_cert *c = NULL;
    assert_int_equal(x509_cert_from_pem(b.data, b.len, &c), ERR_OK);
    assert_int_equal(x509_cert_p256_pub(c, pub), ERR_OK);
    x509_cert_free(c);
    buf_free(&b);
}

/* Intel's QVL sample quote chains to a root NAMED "Intel SGX Root CA" with another key. Pinning
 * by key rejects it; pinning its own root instead shows the rest of the quote is sound, so the
 * rejection really comes from the root check. */
static void test_intel_fake_root(void **state) {
    (void)state;
    const char *f = "tdx/intel-fake-root/quote.dat";
    assert_int_equal(verify_file_at(f, intel(), 1, T_2025_01_01, NULL), ERR_CHAIN_UNTRUSTED);
    uint8_t fake[1][64];
    load_root_pub("tdx/intel-fake-root/trustedRootCaCert.pem", fake[0]);
    uint8_t id[48];
    assert_int_equal(verify_file_at(f, (const uint8_t(*)[64])fake, 1, T_2025_01_01, id), ERR_OK);
    uint8_t want[48];
    attest_root_key_id(fake[0], want);
    assert_memory_equal(id, want, 48);
    /* Both roots pinned: it anchors at the one it carries. */
    uint8_t both[2][64];
    memcpy(both[0], ATTEST_INTEL_ROOT_PUB, 64);
    memcpy(both[1], fake[0], 64);
    assert_int_equal(verify_file_at(f, (const uint8_t(*)[64])both, 2, T_2025_01_01, id), ERR_OK);
    assert_memory_equal(id, want, 48);
}

typedef struct {
    const char *name;
    size_t off; /* byte to flip in cocoon_quote_v4.dat */
    err_t want;
} flip_case;

/* Layout of cocoon_quote_v4.dat: signed region [0,632), sig_data_len at 632, quote signature
 * 636, attestation key 700, cert type 764, size 766, QE report 770, QE report signature 1154,
 * auth size 1218, auth data 1220, PCK type 1252, size 1254, PEM 1258.. */
static const flip_case FLIPS[] = {
    {"att key type", 2, ERR_QUOTE_VERSION},
    {"vendor id", 12, ERR_QUOTE_VERSION},
    {"user data", 30, ERR_QUOTE_SIG},
    {"mrtd", 184, ERR_QUOTE_SIG},
    {"rtmr3", 520, ERR_QUOTE_SIG},
    {"report data", 631, ERR_QUOTE_SIG},
    {"quote signature r", 636, ERR_QUOTE_SIG},
    {"quote signature s", 699, ERR_QUOTE_SIG},
    {"attestation key", 700, ERR_QE_BINDING},
    {"QE report cpusvn", 770, ERR_QE_REPORT_SIG},
    {"QE report reportdata", 770 + 320, ERR_QE_REPORT_SIG},
    {"QE report signature", 1154, ERR_QE_REPORT_SIG},
    {"QE auth data", 1220, ERR_QE_BINDING},
    {"PCK type", 1252, ERR_QUOTE_VERSION},
};

static void test_real_quote_tamper(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(FLIPS) / sizeof(FLIPS[0]); i++) {
        buf b;
        td_read("tdx/cocoon_quote_v4.dat", &b);
        b.data[FLIPS[i].off] ^= 0x01;
        quote q;
        assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
        err_t e = quote_verify_signatures(&q, intel(), 1, T_2026_03_01, NULL);
        if (e != FLIPS[i].want) {
            fail_msg("%s: got %s (%s), want %s", FLIPS[i].name, err_name(e), err_detail(),
                     err_name(FLIPS[i].want));
        }
        buf_free(&b);
    }
}

/* A byte flipped inside the base64 of a certificate: the chain no longer verifies or parses. */
static void test_real_chain_tamper(void **state) {
    (void)state;
    buf b;
    td_read("tdx/cocoon_quote_v4.dat", &b);
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    size_t pem_off = 1258;
    assert_int_equal(memcmp(b.data + pem_off, "-----BEGIN CERTIFICATE-----", 27), 0);
    size_t bad = 0;
    /* Every 7th character of the first certificate's body (changed to another base64 char). */
    for (size_t i = pem_off + 40; i < pem_off + 1000; i += 7) {
        uint8_t old = b.data[i];
        if (old == '\n') {
            continue;
        }
        b.data[i] = old == 'A' ? 'B' : 'A';
        assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
        err_t e = quote_verify_signatures(&q, intel(), 1, T_2026_03_01, NULL);
        if (e != ERR_CHAIN_UNTRUSTED && e != ERR_CERT_FORMAT) {
            fail_msg("PEM byte %zu: %s", i, err_name(e));
        }
        bad++;
        b.data[i] = old;
    }
    assert_true(bad > 100);
    buf_free(&b);
}

/* Header checks need no signature: a v4 quote with certification data type 5 (which Intel
 * refuses for v4) is rejected before any chain work. */
static void test_cert_type_refused(void **state) {
    (void)state;
    buf b;
    td_read("tdx/cocoon_quote_v4.dat", &b);
    b.data[764] = 5;
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    assert_int_equal(quote_verify_signatures(&q, intel(), 1, T_2026_03_01, NULL),
                     ERR_QUOTE_VERSION);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_key_id),         cmocka_unit_test(test_real_quotes_verify),
        cmocka_unit_test(test_second_root_matches), cmocka_unit_test(test_intel_fake_root),
        cmocka_unit_test(test_real_quote_tamper),   cmocka_unit_test(test_real_chain_tamper),
        cmocka_unit_test(test_cert_type_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
