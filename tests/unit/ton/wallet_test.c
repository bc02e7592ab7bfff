/* Wallet bodies against the @ton/ton known answers in tests/data/ton (v4r2 and v5r1 transfers
 * signed with the key from seed 32x07), plus limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "ton/boc.h"
#include "ton/msg.h"
#include "ton/wallet.h"
#include "ton_test_util.h"

static ton_cell *parse_hex(const char *hex) {
    ton_cell *c = NULL;
    assert_int_equal(ton_boc_parse_text(hex, strlen(hex), NULL, &c), ERR_OK);
    return c;
}

static void key_from_vector(ed25519_key *k) {
    size_t n;
    uint8_t *seed = tu_hex(tu_vec("ed25519", "seed"), &n);
    assert_int_equal(ed25519_from_seed(k, seed), ERR_OK);
    free(seed);
}

static void assert_same_cell(const ton_cell *a, const ton_cell *b) {
    assert_memory_equal(ton_cell_repr_hash(a), ton_cell_repr_hash(b), 32);
}

static void test_v5r1_code_data_and_transfer(void **state) {
    (void)state;
    ed25519_key k;
    key_from_vector(&k);
    assert_int_equal(ton_wallet_v5r1_id(TON_GLOBAL_ID_MAINNET, 0, 0), 2147483409u);
    assert_int_equal(ton_wallet_v5r1_id(TON_GLOBAL_ID_TESTNET, 0, 0), 2147483645u);
    ton_wallet w;
    assert_int_equal(ton_wallet_init_v5r1(&w, &k, 0, 2147483409u), ERR_OK);
    char h[65];
    hex_encode(ton_cell_repr_hash(w.code), 32, h);
    assert_string_equal(h, tu_vec("wallet_v5r1", "code_hash"));
    ton_cell *data = parse_hex(tu_vec("wallet_v5r1", "data_boc"));
    assert_same_cell(w.data, data);
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&w.addr, raw);
    assert_string_equal(raw, tu_vec("wallet_v5r1", "address_raw"));

    /* Take the vector's fields and its message apart, rebuild the body, compare bytes. */
    ton_cell *body = parse_hex(tu_vec("wallet_v5r1", "transfer_body_boc"));
    ton_slice s;
    ts_init(&s, body);
    uint64_t op, id, valid_until, seqno;
    bool has_list;
    assert_int_equal(ts_uint(&s, 32, &op), ERR_OK);
    assert_int_equal(ts_uint(&s, 32, &id), ERR_OK);
    assert_int_equal(ts_uint(&s, 32, &valid_until), ERR_OK);
    assert_int_equal(ts_uint(&s, 32, &seqno), ERR_OK);
    assert_int_equal(ts_bit(&s, &has_list), ERR_OK);
    assert_true(has_list);
    ton_cell *action = ton_cell_child(body, 0);
    ton_slice as;
    ts_init(&as, action);
    uint64_t tag, mode;
    assert_int_equal(ts_uint(&as, 32, &tag), ERR_OK);
    assert_int_equal(ts_uint(&as, 8, &mode), ERR_OK);
    assert_int_equal(tag, 0x0ec3c86d);
    ton_wallet_action act = {ton_cell_child(action, 1), (uint8_t)mode};
    ton_cell *mine;
    assert_int_equal(ton_wallet_body(&w, (uint32_t)seqno, (uint32_t)valid_until, &act, 1, &mine),
                     ERR_OK);
    assert_same_cell(mine, body);

    ton_wallet_action many[TON_WALLET_V5_MAX_ACTIONS + 1];
    for (size_t i = 0; i < TON_WALLET_V5_MAX_ACTIONS + 1; i++) {
        many[i] = act;
    }
    ton_cell *big;
    assert_int_equal(ton_wallet_body(&w, 1, 1, many, TON_WALLET_V5_MAX_ACTIONS, &big), ERR_OK);
    ton_cell_unref(big);
    assert_int_equal(ton_wallet_body(&w, 1, 1, many, TON_WALLET_V5_MAX_ACTIONS + 1, &big),
                     ERR_TOO_MANY);

    ton_cell_unref(mine);
    ton_cell_unref(body);
    ton_cell_unref(data);
    ton_wallet_free(&w);
    ed25519_wipe(&k);
}

static void test_v4r2_external_with_init(void **state) {
    (void)state;
    ed25519_key k;
    key_from_vector(&k);
    ton_cell *ext = parse_hex(tu_vec("wallet_v4r2", "external_with_init_boc"));
    ton_msg_info mi;
    assert_int_equal(ton_msg_parse(ext, &mi), ERR_OK);
    ton_wallet w;
    assert_int_equal(ton_wallet_init_v4r2(&w, &k, mi.init_code, 0, TON_WALLET_V4_DEFAULT_ID),
                     ERR_OK);
    ton_cell *data = parse_hex(tu_vec("wallet_v4r2", "data_boc"));
    assert_same_cell(w.data, data);
    /* body: signature:512 wallet_id:32 valid_until:32 seqno:32 op:8 mode:8 + ^msg */
    ton_slice b = mi.body;
    uint64_t id, valid_until, seqno, op, mode;
    assert_int_equal(ts_skip(&b, 512), ERR_OK);
    assert_int_equal(ts_uint(&b, 32, &id), ERR_OK);
    assert_int_equal(ts_uint(&b, 32, &valid_until), ERR_OK);
    assert_int_equal(ts_uint(&b, 32, &seqno), ERR_OK);
    assert_int_equal(ts_uint(&b, 8, &op), ERR_OK);
    assert_int_equal(ts_uint(&b, 8, &mode), ERR_OK);
    ton_cell *inner;
    assert_int_equal(ts_ref(&b, &inner), ERR_OK);
    ton_wallet_action act = {inner, (uint8_t)mode};
    ton_cell *mine;
    assert_int_equal(
        ton_wallet_external(&w, (uint32_t)seqno, (uint32_t)valid_until, &act, 1, true, &mine),
        ERR_OK);
    assert_same_cell(mine, ext);
    char h[65];
    hex_encode(ton_cell_repr_hash(mine), 32, h);
    assert_string_equal(h, tu_vec("wallet_v4r2", "external_hash"));

    ton_wallet_action five[5] = {act, act, act, act, act};
    ton_cell *x;
    assert_int_equal(ton_wallet_body(&w, 0, 0, five, 5, &x), ERR_TOO_MANY);
    assert_int_equal(ton_wallet_body(&w, 0, 0, five, 4, &x), ERR_OK);
    ton_cell_unref(x);
    ton_cell_unref(mine);
    ton_cell_unref(data);
    ton_cell_unref(ext);
    ton_wallet_free(&w);
    ed25519_wipe(&k);
}

/* The COCOON wallet signs the cell after the signature: verify with the public key. */
static void test_cocoon_body_verifies(void **state) {
    (void)state;
    ed25519_key k;
    key_from_vector(&k);
    ton_cell *code = parse_hex(tu_vec("cell_128bits", "boc_crc"));
    ton_addr owner = {0, {1}};
    ton_wallet w;
    assert_int_equal(ton_wallet_init_cocoon(&w, &k, code, 0, &owner), ERR_OK);
    ton_int_msg im = {.dest = owner, .value = 5, .bounce = true, .ihr_disabled = true};
    ton_wallet_action act = {NULL, 3};
    assert_int_equal(ton_msg_internal(&im, &act.msg), ERR_OK);
    ton_cell *body;
    assert_int_equal(ton_wallet_body(&w, 7, 1800000000, &act, 1, &body), ERR_OK);
    ton_slice s;
    ts_init(&s, body);
    uint8_t sig[64];
    assert_int_equal(ts_bytes(&s, 64, sig), ERR_OK);
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_slice(&b, &s), ERR_OK);
    ton_cell *signed_part;
    assert_int_equal(tb_finish(&b, &signed_part), ERR_OK);
    assert_int_equal(ed25519_verify(k.pub, ton_cell_repr_hash(signed_part), 32, sig), ERR_OK);
    sig[0] ^= 1;
    assert_int_equal(ed25519_verify(k.pub, ton_cell_repr_hash(signed_part), 32, sig),
                     ERR_BAD_SIGNATURE);
    uint64_t sub, vu, seqno, mode;
    assert_int_equal(ts_uint(&s, 32, &sub), ERR_OK);
    assert_int_equal(ts_uint(&s, 32, &vu), ERR_OK);
    assert_int_equal(ts_uint(&s, 32, &seqno), ERR_OK);
    assert_int_equal(ts_uint(&s, 8, &mode), ERR_OK);
    assert_int_equal(sub, 0);
    assert_int_equal(vu, 1800000000);
    assert_int_equal(seqno, 7);
    assert_int_equal(mode, 3);
    ton_cell_unref(signed_part);
    ton_cell_unref(body);
    ton_cell_unref(act.msg);
    ton_cell_unref(code);
    ton_wallet_free(&w);
    ed25519_wipe(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5r1_code_data_and_transfer),
        cmocka_unit_test(test_v4r2_external_with_init),
        cmocka_unit_test(test_cocoon_body_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
