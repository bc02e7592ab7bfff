#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/codec.h"

/* RFC 4648 §10 test vectors */
static const char *const PLAIN[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const B64V[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_base64_rfc4648_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        char enc[16];
        b64_encode((const uint8_t *)PLAIN[i], strlen(PLAIN[i]), enc, false);
        assert_string_equal(enc, B64V[i]);
        uint8_t dec[16];
        size_t n = 0;
        assert_int_equal(b64_decode(B64V[i], strlen(B64V[i]), dec, sizeof(dec), &n, false), ERR_OK);
        assert_int_equal(n, strlen(PLAIN[i]));
        assert_memory_equal(dec, PLAIN[i], n);
    }
}

static void test_base64_rejects_noncanonical(void **state) {
    (void)state;
    uint8_t out[16];
    size_t n;
    const char *bad[] = {"Zh==", "Zm9=", "Zm9", "Z===", "Zm 9", "Zm9v\n", "Zg=a", "====", "Z-8="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n, false),
                         ERR_BAD_ENCODING);
    }
    assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5, &n, false), ERR_TOO_LARGE);
}

static void test_base64_url(void **state) {
    (void)state;
    const uint8_t d[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    b64_encode(d, 3, enc, true);
    assert_string_equal(enc, "-_-_");
    uint8_t out[4];
    size_t n;
    assert_int_equal(b64_decode("-_-_", 4, out, sizeof(out), &n, true), ERR_OK);
    assert_memory_equal(out, d, 3);
    assert_int_equal(b64_decode("+/+/", 4, out, sizeof(out), &n, true), ERR_BAD_ENCODING);
}

static void test_hex(void **state) {
    (void)state;
    const uint8_t d[] = {0x00, 0xab, 0xff};
    char s[7];
    hex_encode(d, 3, s);
    assert_string_equal(s, "00abff");
    uint8_t out[3];
    size_t n;
    assert_int_equal(hex_decode("00ABff", 6, out, 3, &n), ERR_OK);
    assert_memory_equal(out, d, 3);
    assert_int_equal(hex_decode("0", 1, out, 3, &n), ERR_BAD_ENCODING);
    assert_int_equal(hex_decode("0g", 2, out, 3, &n), ERR_BAD_ENCODING);
    assert_int_equal(hex_decode("00112233", 8, out, 3, &n), ERR_TOO_LARGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_rejects_noncanonical),
        cmocka_unit_test(test_base64_url),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
