/* Proof-of-work: wire layout, the little-endian zero-bit rule against an independently computed
 * vector, magic/difficulty checks, the client maximum at 28 and 29, and the batched solver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/cur.h"
#include "base/err.h"
#include "proto/limits.h"
#include "proto/pow.h"

/* Vector computed independently with Python 3 (hashlib + struct), not with this code:
 *   salt = bytes(range(16))
 *   bits(n) = clz64(struct.unpack('<Q', sha256(salt + struct.pack('<q', n)).digest()[:8])[0])
 *   smallest n with bits(n) >= 16 is 84956 (hash starts 42 22 12 36 5d cb 00 00: exactly 16);
 *   bits(0) = 1 (hash starts 81 86 38 ad 15 0c 90 42); smallest n with bits >= 8 is 480. */
static const uint8_t SALT[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void test_zero_bits_use_little_endian_rule(void **state) {
    (void)state;
    assert_int_equal(pow_zero_bits(SALT, 0), 1);
    assert_int_equal(pow_zero_bits(SALT, 480), 8);
    /* Read big-endian this hash would have 1 leading zero bit (0x42...); the reference counts
     * from byte 7 down and gets 16. */
    assert_int_equal(pow_zero_bits(SALT, 84956), 16);
    pow_challenge ch = {.difficulty = 16};
    memcpy(ch.salt, SALT, 16);
    assert_int_equal(pow_check(&ch, 84956), ERR_OK);
    assert_int_equal(pow_check(&ch, 84955), ERR_POW_INVALID);
    assert_int_equal(pow_check(&ch, 0), ERR_POW_INVALID);
    ch.difficulty = 17;
    assert_int_equal(pow_check(&ch, 84956), ERR_POW_INVALID);
}

static void test_solver_finds_smallest_nonce_in_batches(void **state) {
    (void)state;
    pow_challenge ch = {.difficulty = 16};
    memcpy(ch.salt, SALT, 16);
    pow_solver s;
    pow_solver_init(&s, &ch);
    int64_t nonce = -1;
    int steps = 0;
    err_t e;
    while ((e = pow_solve_step(&s, 10000, &nonce)) == ERR_AGAIN) {
        steps++;
    }
    assert_int_equal(e, ERR_OK);
    assert_true(nonce == 84956);
    assert_int_equal(steps, 8); /* 8 full batches of 10 000, found in the 9th */
    /* difficulty 0: nonce 0 */
    ch.difficulty = 0;
    pow_solver_init(&s, &ch);
    assert_int_equal(pow_solve_step(&s, 1, &nonce), ERR_OK);
    assert_true(nonce == 0);
}

static void test_challenge_wire_layout_and_roundtrip(void **state) {
    (void)state;
    pow_challenge ch;
    assert_int_equal(pow_challenge_make(20, &ch), ERR_OK);
    uint8_t w[POW_CHALLENGE_LEN];
    pow_challenge_encode(&ch, w);
    const uint8_t head[] = {0x91, 0x12, 0x8e, 0x41, 20, 0, 0, 0};
    assert_memory_equal(w, head, 8);
    assert_memory_equal(w + 8, ch.salt, 16);
    cur c;
    cur_init(&c, w, sizeof(w));
    pow_challenge got;
    assert_int_equal(pow_challenge_parse(&c, POW_MAX_DIFFICULTY_DEFAULT, &got), ERR_OK);
    assert_int_equal(got.difficulty, 20);
    assert_memory_equal(got.salt, ch.salt, 16);
    assert_int_equal(cur_left(&c), 0);
    /* two challenges never share a salt */
    pow_challenge ch2;
    assert_int_equal(pow_challenge_make(20, &ch2), ERR_OK);
    assert_memory_not_equal(ch.salt, ch2.salt, 16);
    assert_int_equal(pow_challenge_make(-1, &ch2), ERR_CONFIG);
    assert_int_equal(pow_challenge_make(65, &ch2), ERR_CONFIG);
    assert_int_equal(pow_challenge_make(64, &ch2), ERR_OK);
}

static void test_challenge_difficulty_limits(void **state) {
    (void)state;
    static const struct {
        int32_t difficulty;
        int max;
        err_t want;
    } rows[] = {
        {28, POW_MAX_DIFFICULTY_DEFAULT, ERR_OK},
        {29, POW_MAX_DIFFICULTY_DEFAULT, ERR_POW_TOO_HARD},
        {0, POW_MAX_DIFFICULTY_DEFAULT, ERR_OK},
        {-1, POW_MAX_DIFFICULTY_DEFAULT, ERR_MALFORMED},
        {64, 64, ERR_OK},
        {65, 64, ERR_MALFORMED},
        {65, 100, ERR_MALFORMED},
        {INT32_MIN, 64, ERR_MALFORMED},
        {30, 30, ERR_OK},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pow_challenge ch = {.difficulty = rows[i].difficulty};
        memcpy(ch.salt, SALT, 16);
        uint8_t w[POW_CHALLENGE_LEN];
        pow_challenge_encode(&ch, w);
        cur c;
        cur_init(&c, w, sizeof(w));
        pow_challenge got;
        assert_int_equal(pow_challenge_parse(&c, rows[i].max, &got), rows[i].want);
        assert_int_equal(c.pos, rows[i].want == ERR_OK ? POW_CHALLENGE_LEN : 0);
    }
}

static void test_wrong_magic_rejected(void **state) {
    (void)state;
    pow_challenge ch = {.difficulty = 5};
    uint8_t w[POW_CHALLENGE_LEN];
    pow_challenge_encode(&ch, w);
    /* the response magic where the challenge magic belongs, and vice versa */
    w[0] = 0x19;
    w[1] = 0x73;
    w[2] = 0x82;
    w[3] = 0x01;
    cur c;
    cur_init(&c, w, sizeof(w));
    pow_challenge got;
    assert_int_equal(pow_challenge_parse(&c, 28, &got), ERR_POW_BAD_MAGIC);
    uint8_t r[POW_RESPONSE_LEN];
    pow_response_encode(7, r);
    r[3] ^= 0x40;
    cur_init(&c, r, sizeof(r));
    int64_t nonce;
    assert_int_equal(pow_response_parse(&c, &nonce), ERR_POW_BAD_MAGIC);
    assert_int_equal(c.pos, 0);
}

static void test_response_wire_layout(void **state) {
    (void)state;
    uint8_t r[POW_RESPONSE_LEN];
    pow_response_encode(84956, r);
    const uint8_t want[] = {0x19, 0x73, 0x82, 0x01, 0xdc, 0x4b, 0x01, 0, 0, 0, 0, 0};
    assert_memory_equal(r, want, sizeof(want));
    cur c;
    cur_init(&c, r, sizeof(r));
    int64_t nonce;
    assert_int_equal(pow_response_parse(&c, &nonce), ERR_OK);
    assert_true(nonce == 84956);
}

static void test_partial_messages_ask_for_more(void **state) {
    (void)state;
    pow_challenge ch = {.difficulty = 3};
    uint8_t w[POW_CHALLENGE_LEN];
    pow_challenge_encode(&ch, w);
    for (size_t n = 0; n < POW_CHALLENGE_LEN; n++) {
        cur c;
        cur_init(&c, w, n);
        pow_challenge got;
        assert_int_equal(pow_challenge_parse(&c, 28, &got), ERR_AGAIN);
        assert_int_equal(c.pos, 0);
    }
    uint8_t r[POW_RESPONSE_LEN];
    pow_response_encode(1, r);
    for (size_t n = 0; n < POW_RESPONSE_LEN; n++) {
        cur c;
        cur_init(&c, r, n);
        int64_t nonce;
        assert_int_equal(pow_response_parse(&c, &nonce), ERR_AGAIN);
    }
}

/* The full exchange as both sides run it, at the router's default server difficulty. */
static void test_exchange_end_to_end(void **state) {
    (void)state;
    pow_challenge server;
    assert_int_equal(pow_challenge_make(12, &server), ERR_OK);
    uint8_t w[POW_CHALLENGE_LEN];
    pow_challenge_encode(&server, w);

    cur c;
    cur_init(&c, w, sizeof(w));
    pow_challenge client;
    assert_int_equal(pow_challenge_parse(&c, POW_MAX_DIFFICULTY_DEFAULT, &client), ERR_OK);
    pow_solver s;
    pow_solver_init(&s, &client);
    int64_t nonce;
    err_t e;
    while ((e = pow_solve_step(&s, POW_SOLVE_BATCH, &nonce)) == ERR_AGAIN) {
    }
    assert_int_equal(e, ERR_OK);
    uint8_t r[POW_RESPONSE_LEN];
    pow_response_encode(nonce, r);

    cur_init(&c, r, sizeof(r));
    int64_t got;
    assert_int_equal(pow_response_parse(&c, &got), ERR_OK);
    assert_int_equal(pow_check(&server, got), ERR_OK);
    /* the same nonce against another salt is (almost surely) no solution: replay is useless */
    pow_challenge other = server;
    other.salt[0] ^= 1;
    if (pow_zero_bits(other.salt, got) < 12) {
        assert_int_equal(pow_check(&other, got), ERR_POW_INVALID);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_bits_use_little_endian_rule),
        cmocka_unit_test(test_solver_finds_smallest_nonce_in_batches),
        cmocka_unit_test(test_challenge_wire_layout_and_roundtrip),
        cmocka_unit_test(test_challenge_difficulty_limits),
        cmocka_unit_test(test_wrong_magic_rejected),
        cmocka_unit_test(test_response_wire_layout),
        cmocka_unit_test(test_partial_messages_ask_for_more),
        cmocka_unit_test(test_exchange_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
