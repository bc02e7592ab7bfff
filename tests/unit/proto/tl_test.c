/* TL primitives: exact encodings, strict decoding (padding, canonical lengths), limits at max and
 * max+1, truncation at every offset leaving the cursor unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/err.h"
#include "proto/limits.h"
#include "proto/tl.h"

static void test_integers_are_little_endian(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(tl_write_int(&b, -2), ERR_OK);
    assert_int_equal(tl_write_long(&b, 0x0102030405060708), ERR_OK);
    assert_int_equal(tl_write_u32(&b, 0xbbe9627c), ERR_OK);
    /* 1.5 = 0x3ff8000000000000 */
    assert_int_equal(tl_write_double(&b, 1.5), ERR_OK);
    const uint8_t want[] = {0xfe, 0xff, 0xff, 0xff, 8, 7, 6, 5, 4, 3, 2,    1,
                            0x7c, 0x62, 0xe9, 0xbb, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));

    cur c;
    cur_init(&c, b.data, b.len);
    int32_t i;
    int64_t l;
    uint32_t u;
    double d;
    assert_int_equal(tl_read_int(&c, &i), ERR_OK);
    assert_int_equal(tl_read_long(&c, &l), ERR_OK);
    assert_int_equal(tl_read_u32(&c, &u), ERR_OK);
    assert_int_equal(tl_read_double(&c, &d), ERR_OK);
    assert_int_equal(i, -2);
    assert_true(l == 0x0102030405060708);
    assert_int_equal(u, 0xbbe9627c);
    assert_true(d == 1.5);
    assert_int_equal(cur_expect_end(&c), ERR_OK);
    buf_free(&b);
}

static void test_int128_int256_are_raw_bytes(void **state) {
    (void)state;
    uint8_t v[32];
    for (int k = 0; k < 32; k++) {
        v[k] = (uint8_t)(k + 1);
    }
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(tl_write_int128(&b, v), ERR_OK);
    assert_int_equal(tl_write_int256(&b, v), ERR_OK);
    assert_int_equal(b.len, 48);
    assert_memory_equal(b.data, v, 16);
    assert_memory_equal(b.data + 16, v, 32);
    cur c;
    cur_init(&c, b.data, 47);
    uint8_t a[16];
    uint8_t z[32];
    assert_int_equal(tl_read_int128(&c, a), ERR_OK);
    assert_int_equal(tl_read_int256(&c, z), ERR_TRUNCATED);
    assert_int_equal(c.pos, 16);
    buf_free(&b);
}

/* Encoded size, header and padding for lengths around every boundary of the encoding. */
static void test_bytes_encoding_table(void **state) {
    (void)state;
    static const struct {
        size_t n;
        size_t total;
        size_t head;
    } rows[] = {
        {0, 4, 1},     {1, 4, 1},       {2, 4, 1},         {3, 4, 1},
        {4, 8, 1},     {7, 8, 1},       {8, 12, 1},        {252, 256, 1},
        {253, 256, 1}, {254, 260, 4},   {255, 260, 4},     {256, 260, 4},
        {257, 264, 4}, {1000, 1004, 4}, {65536, 65540, 4}, {TL_BYTES_MAX, TL_BYTES_MAX + 1 + 4, 4},
    };
    uint8_t *data = malloc(TL_BYTES_MAX + 1);
    assert_non_null(data);
    for (size_t k = 0; k < TL_BYTES_MAX + 1; k++) {
        data[k] = (uint8_t)(k * 7 + 1);
    }
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        size_t n = rows[r].n;
        buf b;
        buf_init(&b, BUF_DEFAULT_MAX);
        assert_int_equal(tl_write_bytes(&b, data, n), ERR_OK);
        assert_int_equal(b.len, rows[r].total);
        assert_int_equal(tl_bytes_size(n), rows[r].total);
        if (rows[r].head == 1) {
            assert_int_equal(b.data[0], n);
        } else {
            assert_int_equal(b.data[0], 0xfe);
            assert_int_equal(b.data[1] | b.data[2] << 8 | b.data[3] << 16, n);
        }
        assert_memory_equal(b.data + rows[r].head, data, n);
        for (size_t k = rows[r].head + n; k < b.len; k++) {
            assert_int_equal(b.data[k], 0);
        }
        cur c;
        cur_init(&c, b.data, b.len);
        tl_bytes out;
        assert_int_equal(tl_read_bytes(&c, n, &out), ERR_OK);
        assert_int_equal(out.len, n);
        assert_ptr_equal(out.p, b.data + rows[r].head); /* borrowed, not copied */
        assert_int_equal(cur_expect_end(&c), ERR_OK);
        if (n > 0) {
            /* the limit is checked at max (above) and max-1 */
            cur_init(&c, b.data, b.len);
            assert_int_equal(tl_read_bytes(&c, n - 1, &out), ERR_TOO_LARGE);
            assert_int_equal(c.pos, 0);
        }
        buf_free(&b);
    }
    buf b;
    buf_init(&b, BUF_DEFAULT_MAX);
    assert_int_equal(tl_write_bytes(&b, data, TL_BYTES_MAX + 1), ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    free(data);
}

static void test_bytes_rejects_nonzero_padding_at_each_position(void **state) {
    (void)state;
    /* "a" short form: 01 'a' 00 00 */
    for (int k = 2; k < 4; k++) {
        uint8_t enc[4] = {1, 'a', 0, 0};
        enc[k] = 0x80;
        cur c;
        cur_init(&c, enc, sizeof(enc));
        tl_bytes out;
        assert_int_equal(tl_read_bytes(&c, 16, &out), ERR_BAD_PADDING);
        assert_int_equal(c.pos, 0);
    }
    /* 255-byte string in long form: fe ff 00 00 + 255 bytes + 1 pad byte */
    uint8_t enc[260] = {0xfe, 0xff, 0x00, 0x00};
    enc[259] = 1;
    cur c;
    cur_init(&c, enc, sizeof(enc));
    tl_bytes out;
    assert_int_equal(tl_read_bytes(&c, 1000, &out), ERR_BAD_PADDING);
    enc[259] = 0;
    assert_int_equal(tl_read_bytes(&c, 1000, &out), ERR_OK);
    assert_int_equal(out.len, 255);
}

static void test_bytes_rejects_non_canonical_and_reserved_prefixes(void **state) {
    (void)state;
    /* length 5 in long form: representable in the short form, so refused */
    const uint8_t long5[] = {0xfe, 5, 0, 0, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
    /* length 253 in long form: the largest short length */
    uint8_t long253[260] = {0xfe, 253, 0, 0};
    const uint8_t ff[] = {0xff, 0, 0, 0, 0, 0, 0, 0};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {{long5, sizeof(long5)}, {long253, 4 + 253 + 3}, {ff, sizeof(ff)}};
    for (size_t k = 0; k < 3; k++) {
        cur c;
        cur_init(&c, bad[k].p, bad[k].n);
        tl_bytes out;
        assert_int_equal(tl_read_bytes(&c, TL_BYTES_MAX, &out), ERR_MALFORMED);
        assert_int_equal(c.pos, 0);
    }
}

static void test_bytes_truncated_at_every_offset(void **state) {
    (void)state;
    uint8_t data[300];
    memset(data, 0x5a, sizeof(data));
    for (size_t n = 0; n < sizeof(data); n += 37) {
        buf b;
        buf_init(&b, 4096);
        assert_int_equal(tl_write_bytes(&b, data, n), ERR_OK);
        for (size_t cut = 0; cut < b.len; cut++) {
            cur c;
            cur_init(&c, b.data, cut);
            tl_bytes out = {NULL, 77};
            assert_int_equal(tl_read_bytes(&c, sizeof(data), &out), ERR_TRUNCATED);
            assert_int_equal(c.pos, 0);
            assert_int_equal(out.len, 77);
        }
        buf_free(&b);
    }
}

static void test_bool_is_boxed_and_strict(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 64);
    assert_int_equal(tl_write_bool(&b, true), ERR_OK);
    assert_int_equal(tl_write_bool(&b, false), ERR_OK);
    const uint8_t want[] = {0xb5, 0x75, 0x72, 0x99, 0x37, 0x97, 0x79, 0xbc};
    assert_memory_equal(b.data, want, 8);
    cur c;
    cur_init(&c, b.data, b.len);
    bool t;
    bool f;
    assert_int_equal(tl_read_bool(&c, &t), ERR_OK);
    assert_int_equal(tl_read_bool(&c, &f), ERR_OK);
    assert_true(t);
    assert_false(f);
    const uint8_t one[] = {1, 0, 0, 0};
    cur_init(&c, one, 4);
    assert_int_equal(tl_read_bool(&c, &t), ERR_BAD_CONSTRUCTOR);
    assert_int_equal(c.pos, 0);
    buf_free(&b);
}

static void test_expect_id(void **state) {
    (void)state;
    const uint8_t ping[] = {0x7c, 0x62, 0xe9, 0xbb};
    cur c;
    cur_init(&c, ping, 4);
    assert_int_equal(tl_expect_id(&c, 0x0bd4302c), ERR_BAD_CONSTRUCTOR);
    assert_int_equal(c.pos, 0);
    assert_int_equal(tl_expect_id(&c, 0xbbe9627c), ERR_OK);
    assert_int_equal(tl_expect_id(&c, 0xbbe9627c), ERR_TRUNCATED);
}

static void test_vector_count_limits(void **state) {
    (void)state;
    uint8_t enc[4 + 40] = {0};
    cur c;
    uint32_t n = 0;
    /* at max and max+1 */
    enc[0] = 10;
    cur_init(&c, enc, sizeof(enc));
    assert_int_equal(tl_read_vector_count(&c, 10, 4, &n), ERR_OK);
    assert_int_equal(n, 10);
    cur_init(&c, enc, sizeof(enc));
    assert_int_equal(tl_read_vector_count(&c, 9, 4, &n), ERR_TOO_MANY);
    assert_int_equal(c.pos, 0);
    /* the count must fit in the bytes left before anyone allocates for it */
    cur_init(&c, enc, sizeof(enc) - 1);
    assert_int_equal(tl_read_vector_count(&c, 100, 4, &n), ERR_TRUNCATED);
    assert_int_equal(c.pos, 0);
    /* a negative TL int is a huge count */
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff};
    cur_init(&c, neg, 4);
    assert_int_equal(tl_read_vector_count(&c, PROTO_MAX_VECTOR, 0, &n), ERR_TOO_MANY);
    buf b;
    buf_init(&b, 64);
    assert_int_equal(tl_write_vector_count(&b, 3), ERR_OK);
    assert_int_equal(b.data[0], 3);
    buf_free(&b);
}

static void test_write_failure_keeps_buffer(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 8); /* room for the header of a 300-byte string, not its body */
    uint8_t data[300] = {0};
    assert_int_equal(tl_write_bytes(&b, data, sizeof(data)), ERR_BUF_LIMIT);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_peek_id(void **state) {
    (void)state;
    const uint8_t ping[] = {0x7c, 0x62, 0xe9, 0xbb, 1, 2};
    assert_int_equal(tl_peek_id(ping, sizeof(ping)), 0xbbe9627cu);
    assert_int_equal(tl_peek_id(ping, 3), 0);
    assert_int_equal(tl_peek_id(NULL, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peek_id),
        cmocka_unit_test(test_integers_are_little_endian),
        cmocka_unit_test(test_int128_int256_are_raw_bytes),
        cmocka_unit_test(test_bytes_encoding_table),
        cmocka_unit_test(test_bytes_rejects_nonzero_padding_at_each_position),
        cmocka_unit_test(test_bytes_rejects_non_canonical_and_reserved_prefixes),
        cmocka_unit_test(test_bytes_truncated_at_every_offset),
        cmocka_unit_test(test_bool_is_boxed_and_strict),
        cmocka_unit_test(test_expect_id),
        cmocka_unit_test(test_vector_count_limits),
        cmocka_unit_test(test_write_failure_keeps_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
