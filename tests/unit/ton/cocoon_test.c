/* CocoonParams across struct versions 0..3 (§A.1) and the root registry's limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ton/cocoon.h"
#include "ton/dict.h"
#include "base/buf.h"
#include "ton/boc.h"
#include "ton/msg.h"
#include "ton_test_util.h"

/* A params cell of struct version v with every field it has set to a recognizable value. */
static ton_cell *params_v(unsigned v, bool extra_bit) {
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, v, 8), ERR_OK);
    assert_int_equal(tb_uint(&b, 11, 32), ERR_OK);
    assert_int_equal(tb_uint(&b, 22, 32), ERR_OK);
    assert_int_equal(tb_bit(&b, true), ERR_OK);
    assert_int_equal(tb_coins(&b, 33), ERR_OK);
    assert_int_equal(tb_coins(&b, 44), ERR_OK);
    if (v >= 3) {
        assert_int_equal(tb_uint(&b, 5000, 32), ERR_OK);
    }
    if (v >= 2) {
        assert_int_equal(tb_uint(&b, 6000, 32), ERR_OK);
    }
    if (v >= 3) {
        assert_int_equal(tb_uint(&b, 7000, 32), ERR_OK);
    }
    if (v >= 2) {
        assert_int_equal(tb_uint(&b, 8000, 32), ERR_OK);
    }
    assert_int_equal(tb_uint(&b, 3600, 32), ERR_OK);
    assert_int_equal(tb_uint(&b, 7200, 32), ERR_OK);
    if (v >= 1) {
        assert_int_equal(tb_coins(&b, 55), ERR_OK);
        assert_int_equal(tb_coins(&b, 66), ERR_OK);
    }
    assert_int_equal(tb_uint(&b, 0, 3), ERR_OK); /* no codes */
    if (extra_bit) {
        assert_int_equal(tb_bit(&b, false), ERR_OK);
    }
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    return c;
}

static void test_params_versions(void **state) {
    (void)state;
    for (unsigned v = 0; v <= 3; v++) {
        ton_cell *c = params_v(v, false);
        cocoon_params p;
        assert_int_equal(cocoon_params_parse(c, &p), ERR_OK);
        assert_int_equal(p.struct_version, v);
        assert_int_equal(p.params_version, 11);
        assert_int_equal(p.unique_id, 22);
        assert_true(p.is_test);
        assert_int_equal(p.price_per_token, 33);
        assert_int_equal(p.worker_fee_per_token, 44);
        assert_int_equal(p.prompt_mult, v >= 3 ? 5000 : COCOON_MULT_ONE);
        assert_int_equal(p.cached_mult, v >= 2 ? 6000 : COCOON_MULT_ONE);
        assert_int_equal(p.completion_mult, v >= 3 ? 7000 : COCOON_MULT_ONE);
        assert_int_equal(p.reasoning_mult, v >= 2 ? 8000 : COCOON_MULT_ONE);
        assert_int_equal(p.proxy_delay_before_close, 3600);
        assert_int_equal(p.client_delay_before_close, 7200);
        assert_int_equal(p.min_proxy_stake, v >= 1 ? 55 : 0);
        assert_int_equal(p.min_client_stake, v >= 1 ? 66 : 0);
        if (v == 3) {
            ton_cell *again;
            assert_int_equal(cocoon_params_build(&p, &again), ERR_OK);
            assert_memory_equal(ton_cell_repr_hash(again), ton_cell_repr_hash(c), 32);
            ton_cell_unref(again);
        }
        cocoon_params_clear(&p);
        ton_cell_unref(c);
        /* a leftover bit is refused, like the contracts' end_parse */
        c = params_v(v, true);
        assert_int_equal(cocoon_params_parse(c, &p), ERR_TRAILING);
        ton_cell_unref(c);
    }
    ton_cell *c = params_v(3, false);
    /* version 4 is unknown */
    ton_builder b;
    tb_init(&b);
    ton_slice s;
    ts_init(&s, c);
    assert_int_equal(ts_skip(&s, 8), ERR_OK);
    assert_int_equal(tb_uint(&b, 4, 8), ERR_OK);
    assert_int_equal(tb_slice(&b, &s), ERR_OK);
    ton_cell *v4;
    assert_int_equal(tb_finish(&b, &v4), ERR_OK);
    cocoon_params p;
    assert_int_equal(cocoon_params_parse(v4, &p), ERR_MALFORMED);
    ton_cell_unref(v4);
    ton_cell_unref(c);
}

/* A root with one registered proxy whose description is the two bytes `desc`. */
static err_t parse_root_with(uint16_t desc, cocoon_root *r) {
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 0, 1), ERR_OK);
    assert_int_equal(tb_uint(&b, 2, 7), ERR_OK);
    assert_int_equal(tb_uint(&b, desc, 16), ERR_OK);
    ton_cell *val;
    assert_int_equal(tb_finish(&b, &val), ERR_OK);
    ton_dict_item it = {{0, 0, 0, 1}, {0}};
    ts_init(&it.value, val);
    ton_cell *proxies;
    assert_int_equal(ton_dict_build(&it, 1, 32, &proxies), ERR_OK);
    tb_init(&b);
    assert_int_equal(tb_dict(&b, NULL), ERR_OK);
    assert_int_equal(tb_dict(&b, proxies), ERR_OK);
    assert_int_equal(tb_uint(&b, 1, 32), ERR_OK);
    assert_int_equal(tb_dict(&b, NULL), ERR_OK);
    assert_int_equal(tb_dict(&b, NULL), ERR_OK);
    ton_cell *inner;
    assert_int_equal(tb_finish(&b, &inner), ERR_OK);
    ton_cell *params = params_v(3, false);
    tb_init(&b);
    assert_int_equal(tb_addr_none(&b), ERR_OK);
    assert_int_equal(tb_uint(&b, 1, 32), ERR_OK);
    assert_int_equal(tb_ref(&b, inner), ERR_OK);
    assert_int_equal(tb_ref(&b, params), ERR_OK);
    ton_cell *root;
    assert_int_equal(tb_finish(&b, &root), ERR_OK);
    err_t e = cocoon_root_parse(root, r);
    ton_cell_unref(root);
    ton_cell_unref(params);
    ton_cell_unref(inner);
    ton_cell_unref(proxies);
    ton_cell_unref(val);
    return e;
}

static void test_root_proxy_descriptions(void **state) {
    (void)state;
    cocoon_root r;
    assert_int_equal(parse_root_with(0x4142, &r), ERR_OK);
    assert_false(r.has_owner);
    assert_int_equal(r.nproxies, 1);
    assert_int_equal(r.proxies[0].seqno, 1);
    assert_string_equal(r.proxies[0].text, "AB");
    assert_int_equal(r.last_proxy_seqno, 1);
    assert_null(r.worker_hashes);
    cocoon_root_clear(&r);
    /* a non-printable byte is refused */
    assert_int_equal(parse_root_with(0x4101, &r), ERR_MALFORMED);
}

/* The signed charge from the known-answer vectors (@ton/core + @ton/crypto, key from seed 32x07),
 * rebuilt field by field: same payload hash, same signature, same wrapper BOC. */
static void test_signed_charge_vector(void **state) {
    (void)state;
    const char *hex = tu_vec("cocoon_charge", "wrapped_boc");
    ton_cell *vec;
    assert_int_equal(ton_boc_parse_text(hex, strlen(hex), NULL, &vec), ERR_OK);
    ton_slice s;
    ts_init(&s, vec);
    uint64_t op, qid, tokens;
    ton_addr excess, expected;
    bool present;
    assert_int_equal(ts_uint(&s, 32, &op), ERR_OK);
    assert_int_equal(ts_uint(&s, 64, &qid), ERR_OK);
    assert_int_equal(ts_addr(&s, &excess, &present), ERR_OK);
    assert_true(present);
    ton_slice ps;
    ts_init(&ps, ton_cell_child(vec, 0));
    assert_int_equal(ts_skip(&ps, 96), ERR_OK);
    assert_int_equal(ts_uint(&ps, 64, &tokens), ERR_OK);
    assert_int_equal(ts_addr(&ps, &expected, &present), ERR_OK);
    assert_int_equal(op, COCOON_OP_EXT_CLIENT_CHARGE_SIGNED);

    size_t n;
    uint8_t *seed = tu_hex(tu_vec("ed25519", "seed"), &n);
    ed25519_key k;
    assert_int_equal(ed25519_from_seed(&k, seed), ERR_OK);
    free(seed);
    ton_cell *payload, *wrap;
    assert_int_equal(cocoon_signed_payload((uint32_t)op, qid, true, tokens, &expected, &payload),
                     ERR_OK);
    char h[129];
    hex_encode(ton_cell_repr_hash(payload), 32, h);
    assert_string_equal(h, tu_vec("cocoon_charge", "payload_hash"));
    assert_int_equal(cocoon_signed_wrap(&k, payload, &excess, &wrap), ERR_OK);
    assert_memory_equal(ton_cell_repr_hash(wrap), ton_cell_repr_hash(vec), 32);
    ton_slice ws;
    ts_init(&ws, wrap);
    uint8_t sig[64];
    assert_int_equal(ts_skip(&ws, 96 + 267), ERR_OK);
    assert_int_equal(ts_bytes(&ws, 64, sig), ERR_OK);
    hex_encode(sig, 64, h);
    assert_string_equal(h, tu_vec("cocoon_charge", "signature"));

    /* verification: good, wrong key, tampered payload, op mismatch */
    ton_cell *got;
    assert_int_equal(cocoon_signed_verify(k.pub, vec, &got), ERR_OK);
    assert_memory_equal(ton_cell_repr_hash(got), ton_cell_repr_hash(payload), 32);
    uint8_t other[32];
    memcpy(other, k.pub, 32);
    other[0] ^= 1;
    assert_int_not_equal(cocoon_signed_verify(other, vec, &got), ERR_OK);
    ton_cell *p2, *w2;
    assert_int_equal(cocoon_signed_payload((uint32_t)op, qid, true, tokens + 1, &expected, &p2),
                     ERR_OK);
    ton_builder b;
    tb_init(&b); /* the original signature over a different payload */
    assert_int_equal(tb_uint(&b, op, 32), ERR_OK);
    assert_int_equal(tb_uint(&b, qid, 64), ERR_OK);
    assert_int_equal(tb_addr(&b, &excess), ERR_OK);
    uint8_t vsig[64];
    ts_init(&ws, vec);
    assert_int_equal(ts_skip(&ws, 96 + 267), ERR_OK);
    assert_int_equal(ts_bytes(&ws, 64, vsig), ERR_OK);
    assert_int_equal(tb_bytes(&b, vsig, 64), ERR_OK);
    assert_int_equal(tb_ref(&b, p2), ERR_OK);
    assert_int_equal(tb_finish(&b, &w2), ERR_OK);
    assert_int_equal(cocoon_signed_verify(k.pub, w2, &got), ERR_BAD_SIGNATURE);
    ton_cell_unref(w2);
    /* a validly signed payload under a wrapper with another query_id */
    tb_init(&b);
    assert_int_equal(tb_uint(&b, op, 32), ERR_OK);
    assert_int_equal(tb_uint(&b, qid + 1, 64), ERR_OK);
    assert_int_equal(tb_addr_none(&b), ERR_OK);
    assert_int_equal(tb_bytes(&b, vsig, 64), ERR_OK);
    assert_int_equal(tb_ref(&b, payload), ERR_OK);
    assert_int_equal(tb_finish(&b, &w2), ERR_OK);
    assert_int_equal(cocoon_signed_verify(k.pub, w2, &got), ERR_MALFORMED);
    ton_cell_unref(w2);
    ton_cell_unref(p2);
    ton_cell_unref(wrap);
    ton_cell_unref(payload);
    ton_cell_unref(vec);
    ed25519_wipe(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_versions),
        cmocka_unit_test(test_root_proxy_descriptions),
        cmocka_unit_test(test_signed_charge_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
