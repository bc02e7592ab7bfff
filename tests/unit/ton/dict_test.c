/* HashmapE: build, look up, iterate in order; malformed trees refused with the exact error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ton/dict.h"
#include "ton/msg.h"

static ton_cell *value_cell(uint32_t v) {
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, v, 32), ERR_OK);
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    return c;
}

typedef struct {
    uint32_t keys[64];
    size_t n;
} seen;

static err_t collect(void *ctx, const uint8_t *key, unsigned key_bits, ton_slice *value) {
    seen *s = ctx;
    assert_int_equal(key_bits, 32);
    uint64_t v;
    TRY(ts_uint(value, 32, &v));
    uint32_t k = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
    assert_int_equal(v, k * 3u);
    s->keys[s->n++] = k;
    return ERR_OK;
}

static void test_build_get_iterate(void **state) {
    (void)state;
    static const uint32_t keys[] = {7, 0, 0xffffffff, 1, 0x80000000, 6, 1000};
    size_t n = sizeof(keys) / sizeof(keys[0]);
    ton_dict_item items[8];
    ton_cell *vals[8];
    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < n; i++) {
        items[i].key[0] = (uint8_t)(keys[i] >> 24);
        items[i].key[1] = (uint8_t)(keys[i] >> 16);
        items[i].key[2] = (uint8_t)(keys[i] >> 8);
        items[i].key[3] = (uint8_t)keys[i];
        vals[i] = value_cell(keys[i] * 3u);
        ts_init(&items[i].value, vals[i]);
    }
    ton_cell *root;
    assert_int_equal(ton_dict_build(items, n, 32, &root), ERR_OK);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[4] = {(uint8_t)(keys[i] >> 24), (uint8_t)(keys[i] >> 16), (uint8_t)(keys[i] >> 8),
                        (uint8_t)keys[i]};
        ton_slice v;
        bool found;
        assert_int_equal(ton_dict_get(root, 32, k, &v, &found), ERR_OK);
        assert_true(found);
        uint64_t x;
        assert_int_equal(ts_uint(&v, 32, &x), ERR_OK);
        assert_int_equal(x, keys[i] * 3u);
    }
    uint8_t missing[4] = {0, 0, 0, 2};
    ton_slice v;
    bool found = true;
    assert_int_equal(ton_dict_get(root, 32, missing, &v, &found), ERR_OK);
    assert_false(found);
    assert_int_equal(ton_dict_get(NULL, 32, missing, &v, &found), ERR_OK);
    assert_false(found);
    seen s = {0};
    assert_int_equal(ton_dict_foreach(root, 32, collect, &s), ERR_OK);
    assert_int_equal(s.n, n);
    for (size_t i = 1; i < s.n; i++) {
        assert_true(s.keys[i - 1] < s.keys[i]);
    }
    /* duplicates are refused; an empty dictionary is NULL */
    items[1] = items[0];
    ton_cell *dup;
    assert_int_equal(ton_dict_build(items, n, 32, &dup), ERR_MALFORMED);
    assert_int_equal(ton_dict_build(items, 0, 32, &dup), ERR_OK);
    assert_null(dup);
    assert_int_equal(ton_dict_build(items, 1, TON_DICT_MAX_KEY_BITS + 1, &dup), ERR_TOO_LARGE);
    for (size_t i = 0; i < n; i++) {
        ton_cell_unref(vals[i]);
    }
    ton_cell_unref(root);
}

static ton_cell *raw_cell(uint64_t bits, unsigned n, ton_cell *r0, ton_cell *r1) {
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, bits, n), ERR_OK);
    if (r0) {
        assert_int_equal(tb_ref(&b, r0), ERR_OK);
    }
    if (r1) {
        assert_int_equal(tb_ref(&b, r1), ERR_OK);
    }
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    return c;
}

static void test_malformed_trees(void **state) {
    (void)state;
    uint8_t key[1] = {0x80};
    ton_slice v;
    bool found;
    /* 8-bit keys. hml_short with a unary length of 9 > 8 */
    ton_cell *c = raw_cell(0x1ff << 1, 11, NULL, NULL); /* 0 111111111 0 */
    assert_int_equal(ton_dict_get(c, 8, key, &v, &found), ERR_MALFORMED);
    ton_cell_unref(c);
    /* hml_long with len 9 > 8 (4 length bits) */
    c = raw_cell(0x2 << 4 | 9, 6, NULL, NULL);
    assert_int_equal(ton_dict_get(c, 8, key, &v, &found), ERR_MALFORMED);
    ton_cell_unref(c);
    /* a fork (label 0 bits, m=8) without two refs */
    c = raw_cell(0, 2, NULL, NULL); /* hml_short len 0 */
    assert_int_equal(ton_dict_get(c, 8, key, &v, &found), ERR_MALFORMED);
    ton_cell_unref(c);
    /* a truncated label */
    c = raw_cell(0x2, 2, NULL, NULL); /* hml_long, no length bits */
    assert_int_equal(ton_dict_get(c, 8, key, &v, &found), ERR_TRUNCATED);
    ton_cell_unref(c);
}

static void test_varuint_limits(void **state) {
    (void)state;
    ton_builder b;
    tb_init(&b);
    uint8_t big[16];
    memset(big, 0xff, sizeof(big));
    assert_int_equal(tb_varuint(&b, 4, big, 15), ERR_OK); /* 15 bytes: the Coins maximum */
    assert_int_equal(tb_varuint(&b, 4, big, 16), ERR_MALFORMED);
    assert_int_equal(tb_coins(&b, UINT64_MAX), ERR_OK);
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    ton_slice s;
    ts_init(&s, c);
    uint64_t v;
    assert_int_equal(ts_coins(&s, &v), ERR_TOO_LARGE);    /* 2^120-1 does not fit uint64 */
    assert_int_equal(ts_bits_left(&s), ton_cell_bits(c)); /* unchanged */
    uint8_t out[15];
    size_t n;
    assert_int_equal(ts_varuint(&s, 4, out, sizeof(out), &n), ERR_OK);
    assert_int_equal(n, 15);
    assert_int_equal(ts_coins(&s, &v), ERR_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(ts_expect_end(&s), ERR_OK);
    ton_cell_unref(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_get_iterate),
        cmocka_unit_test(test_malformed_trees),
        cmocka_unit_test(test_varuint_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
