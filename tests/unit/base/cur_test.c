#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/crc.h"
#include "base/cur.h"
#include "base/err.h"

static void test_reads_little_and_big_endian(void **state) {
    (void)state;
    const uint8_t d[] = {1, 2, 3, 4, 5, 6, 7, 8};
    cur c;
    cur_init(&c, d, sizeof(d));
    uint32_t le;
    uint32_t be;
    assert_int_equal(cur_u32le(&c, &le), ERR_OK);
    assert_int_equal(cur_u32be(&c, &be), ERR_OK);
    assert_int_equal(le, 0x04030201u);
    assert_int_equal(be, 0x05060708u);
    assert_int_equal(cur_expect_end(&c), ERR_OK);
}

static void test_failed_read_leaves_cursor_unchanged_at_every_offset(void **state) {
    (void)state;
    const uint8_t d[8] = {0};
    for (size_t len = 0; len < 8; len++) {
        cur c;
        cur_init(&c, d, len);
        uint64_t v = 0xdead;
        assert_int_equal(cur_u64le(&c, &v), ERR_TRUNCATED);
        assert_int_equal(c.pos, 0);
        assert_int_equal(v, 0xdead);
        assert_int_equal(cur_left(&c), len);
    }
}

static void test_sub_cursor_is_bounded(void **state) {
    (void)state;
    const uint8_t d[] = {0xaa, 0xbb, 0xcc};
    cur c;
    cur_init(&c, d, sizeof(d));
    cur s;
    assert_int_equal(cur_sub(&c, 2, &s), ERR_OK);
    uint8_t a;
    uint8_t b;
    uint8_t x;
    assert_int_equal(cur_u8(&s, &a), ERR_OK);
    assert_int_equal(cur_expect_end(&s), ERR_TRAILING);
    assert_int_equal(cur_u8(&s, &b), ERR_OK);
    assert_int_equal(cur_u8(&s, &x), ERR_TRUNCATED);
    assert_int_equal(cur_expect_end(&s), ERR_OK);
    assert_int_equal(cur_left(&c), 1);
    assert_int_equal(cur_sub(&c, 2, &s), ERR_TRUNCATED);
    assert_int_equal(cur_left(&c), 1);
}

static void test_zero_padding(void **state) {
    (void)state;
    const uint8_t ok[] = {1, 0, 0, 0};
    const uint8_t bad[] = {1, 0, 7, 0};
    cur c;
    uint8_t v;
    cur_init(&c, ok, sizeof(ok));
    assert_int_equal(cur_u8(&c, &v), ERR_OK);
    assert_int_equal(cur_expect_zero_rest(&c), ERR_OK);
    cur_init(&c, bad, sizeof(bad));
    assert_int_equal(cur_u8(&c, &v), ERR_OK);
    assert_int_equal(cur_expect_zero_rest(&c), ERR_MALFORMED);
}

static void test_buf_limit_at_max_and_max_plus_one(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 16);
    uint8_t z[16] = {0};
    assert_int_equal(buf_append(&b, z, 16), ERR_OK);
    assert_int_equal(buf_u8(&b, 1), ERR_BUF_LIMIT);
    assert_int_equal(b.len, 16);
    buf_consume(&b, 10);
    assert_int_equal(b.len, 6);
    assert_int_equal(buf_u32le(&b, 0x01020304), ERR_OK);
    assert_int_equal(b.data[6], 4);
    assert_int_equal(b.data[9], 1);
    buf_free(&b);
    buf_free(&b); /* idempotent */
    buf_free(NULL);
}

static void test_buf_rejects_overflowing_request(void **state) {
    (void)state;
    buf b;
    buf_init(&b, SIZE_MAX);
    assert_int_equal(buf_u8(&b, 1), ERR_OK);
    assert_int_equal(buf_reserve(&b, SIZE_MAX), ERR_BUF_LIMIT);
    buf_free(&b);
}

static void test_crc32_check_value(void **state) {
    (void)state;
    assert_int_equal(crc32_ieee("123456789", 9), 0xcbf43926u);
    /* TL: the CRC32 of a schema line is its constructor id (tcp.ping) */
    const char *s = "tcp.ping id:long = tcp.Packet";
    assert_int_equal(crc32_ieee(s, strlen(s)), 0xbbe9627cu);
}

static void test_err_table(void **state) {
    (void)state;
    assert_string_equal(err_name(ERR_TRUNCATED), "TRUNCATED");
    assert_int_equal(err_category(ERR_DEBUG_TD), ERRCAT_ATTEST);
    assert_int_equal(err_category(ERR_FRAME_TOO_LARGE), ERRCAT_LIMIT);
    assert_string_equal(err_str((err_t)9999), "unknown error");
    err_t e = err_fail(ERR_MALFORMED, "field %d", 3);
    assert_int_equal(e, ERR_MALFORMED);
    assert_string_equal(err_describe(e), "malformed input: field 3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_little_and_big_endian),
        cmocka_unit_test(test_failed_read_leaves_cursor_unchanged_at_every_offset),
        cmocka_unit_test(test_sub_cursor_is_bounded),
        cmocka_unit_test(test_zero_padding),
        cmocka_unit_test(test_buf_limit_at_max_and_max_plus_one),
        cmocka_unit_test(test_buf_rejects_overflowing_request),
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_err_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
