/* Cells, BOC, addresses: known answers from @ton/core (tests/data/ton) plus malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "crypto/ed25519.h"
#include "ton/addr.h"
#include "ton/boc.h"
#include "ton/cell.h"
#include "ton/msg.h"
#include "ton_test_util.h"

static ton_cell *leaf(const char *hexbits, unsigned bits) {
    size_t n;
    uint8_t *d = tu_hex(hexbits, &n);
    ton_cell *c;
    assert_int_equal(ton_cell_create(false, d, bits, NULL, 0, &c), ERR_OK);
    free(d);
    return c;
}

static void assert_hash(const ton_cell *c, const char *hex) {
    char h[65];
    tu_to_hex(ton_cell_repr_hash(c), 32, h);
    assert_string_equal(h, hex);
}

static void assert_boc(const ton_cell *c, bool idx, bool crc, const char *hex) {
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(ton_boc_serialize(c, idx, crc, &b), ERR_OK);
    char *h = malloc(b.len * 2 + 1);
    tu_to_hex(b.data, b.len, h);
    assert_string_equal(h, hex);
    free(h);
    buf_free(&b);
}

static ton_cell *parse_hex(const char *hex) {
    size_t n;
    uint8_t *d = tu_hex(hex, &n);
    ton_cell *c = NULL;
    assert_int_equal(ton_boc_parse(d, n, NULL, &c), ERR_OK);
    free(d);
    return c;
}

static void test_empty_cell(void **state) {
    (void)state;
    ton_cell *c = leaf("", 0);
    assert_hash(c, tu_vec("empty_cell", "hash"));
    assert_boc(c, false, true, tu_vec("empty_cell", "boc_crc"));
    assert_boc(c, false, false, tu_vec("empty_cell", "boc_nocrc"));
    assert_boc(c, true, true, tu_vec("empty_cell", "boc_idx_crc"));
    const char *forms[] = {tu_vec("empty_cell", "boc_crc"), tu_vec("empty_cell", "boc_nocrc"),
                           tu_vec("empty_cell", "boc_idx_crc")};
    for (size_t i = 0; i < 3; i++) {
        ton_cell *p = parse_hex(forms[i]);
        assert_true(ton_cell_equal(p, c));
        ton_cell_unref(p);
    }
    ton_cell_unref(c);
}

static void test_128_bits_and_signature(void **state) {
    (void)state;
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 0x7e8764ef, 32), ERR_OK);
    assert_int_equal(tb_uint(&b, 1, 64), ERR_OK);
    assert_int_equal(tb_uint(&b, 7, 32), ERR_OK);
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    assert_hash(c, tu_vec("cell_128bits", "hash"));
    assert_boc(c, false, true, tu_vec("cell_128bits", "boc_crc"));

    size_t n;
    uint8_t *seed = tu_hex(tu_vec("ed25519", "seed"), &n);
    ed25519_key k;
    assert_int_equal(ed25519_from_seed(&k, seed), ERR_OK);
    char pub[65];
    tu_to_hex(k.pub, 32, pub);
    assert_string_equal(pub, tu_vec("ed25519", "public_key"));
    uint8_t sig[64];
    assert_int_equal(ed25519_sign(&k, ton_cell_repr_hash(c), 32, sig), ERR_OK);
    char sh[129];
    tu_to_hex(sig, 64, sh);
    assert_string_equal(sh, tu_vec("ed25519", "sig_of_cell_128bits_hash"));
    free(seed);
    ton_cell_unref(c);
}

static ton_cell *tree(void) {
    ton_cell *l = leaf("a0", 3); /* 101 */
    ton_cell *e = leaf("", 0);
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 0xabc, 12), ERR_OK);
    assert_int_equal(tb_ref(&b, l), ERR_OK);
    assert_int_equal(tb_ref(&b, e), ERR_OK);
    ton_cell *r;
    assert_int_equal(tb_finish(&b, &r), ERR_OK);
    ton_cell_unref(l);
    ton_cell_unref(e);
    return r;
}

static void test_tree(void **state) {
    (void)state;
    ton_cell *r = tree();
    assert_hash(ton_cell_child(r, 0), tu_vec("tree", "leaf_3bits_101_hash"));
    assert_hash(r, tu_vec("tree", "root_12bits_abc_2refs_hash"));
    assert_int_equal(ton_cell_repr_depth(r), 1);
    assert_boc(r, false, true, tu_vec("tree", "root_boc_crc"));
    ton_cell *p = parse_hex(tu_vec("tree", "root_boc_crc"));
    assert_true(ton_cell_equal(p, r));
    ton_cell_unref(p);
    ton_cell_unref(r);
}

static void test_state_init_address(void **state) {
    (void)state;
    ton_cell *code = parse_hex(tu_vec("cell_128bits", "boc_crc"));
    ton_cell *data = leaf("", 0);
    ton_cell *si;
    assert_int_equal(ton_state_init(code, data, &si), ERR_OK);
    assert_boc(si, false, true, tu_vec("state_init", "boc"));
    assert_hash(si, tu_vec("state_init", "hash_is_account_id"));
    ton_addr a;
    assert_int_equal(ton_state_init_address(0, code, data, &a), ERR_OK);
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&a, raw);
    assert_string_equal(raw, tu_vec("state_init", "address"));
    ton_cell_unref(si);
    ton_cell_unref(code);
    ton_cell_unref(data);
}

/* Every multi-cell BOC from @ton/core re-serializes to the same bytes. */
static void test_roundtrip_vectors(void **state) {
    (void)state;
    const char *v[][2] = {
        {"wallet_v4r2", "data_boc"},
        {"wallet_v4r2", "transfer_body_boc"},
        {"wallet_v4r2", "external_with_init_boc"},
        {"wallet_v5r1", "data_boc"},
        {"wallet_v5r1", "transfer_body_boc"},
        {"cocoon_charge", "wrapped_boc"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *hex = tu_vec(v[i][0], v[i][1]);
        ton_cell *c = parse_hex(hex);
        assert_boc(c, false, true, hex);
        ton_cell_unref(c);
    }
    ton_cell *ext = parse_hex(tu_vec("wallet_v4r2", "external_with_init_boc"));
    assert_hash(ext, tu_vec("wallet_v4r2", "external_hash"));
    ton_msg_info mi;
    assert_int_equal(ton_msg_parse(ext, &mi), ERR_OK);
    assert_false(mi.internal);
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&mi.dest, raw);
    assert_string_equal(raw, tu_vec("wallet_v4r2", "address_raw"));
    assert_true(mi.has_init);
    assert_hash(mi.init_code, tu_vec("wallet_v4r2", "code_hash"));
    ton_addr a;
    assert_int_equal(ton_state_init_address(0, mi.init_code, mi.init_data, &a), ERR_OK);
    assert_true(ton_addr_equal(&a, &mi.dest));
    ton_cell_unref(ext);
}

static void test_addresses(void **state) {
    (void)state;
    ton_addr a;
    ton_addr_flags f;
    assert_int_equal(ton_addr_parse(tu_vec("wallet_v4r2", "address_raw"), &a, &f), ERR_OK);
    assert_false(f.friendly);
    char out[TON_ADDR_FRIENDLY_LEN + 1];
    ton_addr_to_friendly(&a, true, false, true, out);
    assert_string_equal(out, tu_vec("wallet_v4r2", "address_friendly_bounceable"));
    ton_addr_to_friendly(&a, false, false, true, out);
    assert_string_equal(out, tu_vec("wallet_v4r2", "address_friendly_nonbounceable"));
    ton_addr b;
    assert_int_equal(ton_addr_parse(out, &b, &f), ERR_OK);
    assert_true(f.friendly && !f.bounceable && !f.testnet && f.url_safe);
    assert_true(ton_addr_equal(&a, &b));
    ton_addr_to_friendly(&a, true, true, false, out);
    assert_int_equal(ton_addr_parse(out, &b, &f), ERR_OK);
    assert_true(f.bounceable && f.testnet);
    assert_memory_equal(out, "kQ", 2);

    /* A flipped character breaks the CRC; a bad tag is malformed; bad raw forms are rejected. */
    char bad[TON_ADDR_FRIENDLY_LEN + 1];
    strcpy(bad, tu_vec("wallet_v4r2", "address_friendly_bounceable"));
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    assert_int_equal(ton_addr_parse(bad, &b, NULL), ERR_BAD_ENCODING);
    const char *raw_bad[] = {
        "0:2a6ee6b7ff41bfecafe383386325c7a895f4fe4ce346b18eb9c14a0152d6629",
        "128:2a6ee6b7ff41bfecafe383386325c7a895f4fe4ce346b18eb9c14a0152d6629c",
        ":2a6ee6b7ff41bfecafe383386325c7a895f4fe4ce346b18eb9c14a0152d6629c",
        "0:2a6ee6b7ff41bfecafe383386325c7a895f4fe4ce346b18eb9c14a0152d6629g",
        "EQAqbua3_0G_7K_jgzhjJceolfT-TONGsY65wUoBUtZinKC",
        "",
    };
    for (size_t i = 0; i < sizeof(raw_bad) / sizeof(raw_bad[0]); i++) {
        err_t e = ton_addr_parse(raw_bad[i], &b, NULL);
        assert_true(e == ERR_BAD_ENCODING || e == ERR_MALFORMED);
    }
    assert_int_equal(ton_addr_parse(raw_bad[1], &b, NULL), ERR_MALFORMED);
    assert_int_equal(
        ton_addr_parse("-1:2A6EE6B7FF41BFECAFE383386325C7A895F4FE4CE346B18EB9C14A0152D6629C", &b,
                       NULL),
        ERR_OK);
    assert_int_equal(b.wc, -1);
}

static void test_builder_and_slice_limits(void **state) {
    (void)state;
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_zeros(&b, 1023), ERR_OK);
    assert_int_equal(tb_bit(&b, true), ERR_TOO_LARGE);
    assert_int_equal(b.bits, 1023);
    ton_cell *e = leaf("", 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tb_ref(&b, e), ERR_OK);
    }
    assert_int_equal(tb_ref(&b, e), ERR_TOO_LARGE);
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    assert_int_equal(ton_cell_bits(c), 1023);

    tb_init(&b);
    assert_int_equal(tb_uint(&b, 8, 3), ERR_MALFORMED);
    assert_int_equal(tb_int(&b, -129, 8), ERR_MALFORMED);
    assert_int_equal(tb_int(&b, -128, 8), ERR_OK);
    assert_int_equal(tb_int(&b, -1, 64), ERR_OK);
    assert_int_equal(tb_coins(&b, 0), ERR_OK);
    assert_int_equal(tb_coins(&b, 1000000000), ERR_OK);
    ton_cell *d;
    assert_int_equal(tb_finish(&b, &d), ERR_OK);
    ton_slice s;
    ts_init(&s, d);
    int64_t v;
    uint64_t u;
    assert_int_equal(ts_int(&s, 8, &v), ERR_OK);
    assert_int_equal(v, -128);
    assert_int_equal(ts_int(&s, 64, &v), ERR_OK);
    assert_int_equal(v, -1);
    assert_int_equal(ts_coins(&s, &u), ERR_OK);
    assert_int_equal(u, 0);
    assert_int_equal(ts_coins(&s, &u), ERR_OK);
    assert_int_equal(u, 1000000000);
    assert_int_equal(ts_expect_end(&s), ERR_OK);
    /* underflow leaves the slice unchanged */
    assert_int_equal(ts_uint(&s, 1, &u), ERR_TRUNCATED);
    ton_cell *r;
    assert_int_equal(ts_ref(&s, &r), ERR_TRUNCATED);
    assert_int_equal(ts_bits_left(&s), 0);
    ton_cell_unref(d);
    ton_cell_unref(c);
    ton_cell_unref(e);
}

static void test_depth_limit(void **state) {
    (void)state;
    ton_cell *c = leaf("", 0);
    for (int i = 0; i < TON_CELL_MAX_DEPTH; i++) {
        ton_cell *n;
        assert_int_equal(ton_cell_create(false, NULL, 0, &c, 1, &n), ERR_OK);
        ton_cell_unref(c);
        c = n;
    }
    assert_int_equal(ton_cell_repr_depth(c), TON_CELL_MAX_DEPTH);
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(ton_boc_serialize(c, true, true, &b), ERR_OK);
    ton_cell *p;
    assert_int_equal(ton_boc_parse(b.data, b.len, NULL, &p), ERR_OK);
    assert_true(ton_cell_equal(p, c));
    ton_cell_unref(p);
    ton_cell *over;
    assert_int_equal(ton_cell_create(false, NULL, 0, &c, 1, &over), ERR_TOO_LARGE);
    ton_cell_unref(c);
    buf_free(&b);
}

static void test_truncation_at_every_offset(void **state) {
    (void)state;
    const char *hexes[] = {tu_vec("tree", "root_boc_crc"), tu_vec("empty_cell", "boc_idx_crc"),
                           tu_vec("empty_cell", "boc_nocrc")};
    for (size_t h = 0; h < 3; h++) {
        size_t n;
        uint8_t *d = tu_hex(hexes[h], &n);
        for (size_t i = 0; i < n; i++) {
            ton_cell *c = (ton_cell *)1;
            assert_int_equal(ton_boc_parse(d, i, NULL, &c), ERR_TRUNCATED);
            assert_null(c);
        }
        /* One trailing byte is refused too. */
        uint8_t *t = malloc(n + 1);
        memcpy(t, d, n);
        t[n] = 0;
        ton_cell *c;
        assert_int_equal(ton_boc_parse(t, n + 1, NULL, &c), ERR_MALFORMED);
        free(t);
        free(d);
    }
}

static void test_every_byte_flip_is_caught_by_crc(void **state) {
    (void)state;
    size_t n;
    uint8_t *d = tu_hex(tu_vec("wallet_v4r2", "transfer_body_boc"), &n);
    for (size_t i = 0; i < n; i++) {
        d[i] ^= 0x01;
        ton_cell *c;
        err_t e = ton_boc_parse(d, n, NULL, &c);
        assert_int_not_equal(e, ERR_OK);
        d[i] ^= 0x01;
    }
    free(d);
}

/* Hand-made malformed BOCs (no CRC, so each check is reached on its own). */
static void test_malformed_bocs(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        err_t want;
    } cases[] = {
        {"b5ee9c73010101010002000000", ERR_MALFORMED},       /* magic */
        {"b5ee9c72090101010002000000", ERR_MALFORMED},       /* flags bits */
        {"b5ee9c72050101010002000000", ERR_MALFORMED},       /* size_bytes 5 */
        {"b5ee9c72000101010002000000", ERR_MALFORMED},       /* size_bytes 0 */
        {"b5ee9c72010001010002000000", ERR_MALFORMED},       /* off_bytes 0 */
        {"b5ee9c72210101010002000000", ERR_MALFORMED},       /* cache bits, no index */
        {"b5ee9c72010100010002000000", ERR_MALFORMED},       /* zero roots */
        {"b5ee9c72010101010102000000", ERR_MALFORMED},       /* absent cells */
        {"b5ee9c72010101010002010000", ERR_MALFORMED},       /* root index 1 of 1 */
        {"b5ee9c72010101010002000500", ERR_MALFORMED},       /* 5 refs */
        {"b5ee9c7201010101000300000000", ERR_TRAILING},      /* bytes after the cells */
        {"b5ee9c7201010101000300010000", ERR_MALFORMED},     /* odd d2, last byte 0 */
        {"b5ee9c7201010101000300010080", ERR_MALFORMED},     /* non-canonical padding */
        {"b5ee9c72010102010005000100000000", ERR_MALFORMED}, /* ref to itself */
        {"b5ee9c7201010101000200080000", ERR_MALFORMED},     /* exotic, 0 bits */
        {"b5ee9c72010101010003002002ff", ERR_MALFORMED},     /* level mask 1 on ordinary */
        {"b5ee9c7281010101000200010000", ERR_MALFORMED},     /* index entry 1, cell ends at 2 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n;
        uint8_t *d = tu_hex(cases[i].hex, &n);
        ton_cell *c;
        err_t e = ton_boc_parse(d, n, NULL, &c);
        if (e != cases[i].want) {
            fail_msg("case %zu (%s): got %s", i, cases[i].hex, err_name(e));
        }
        free(d);
    }
}

static void test_cell_count_limit(void **state) {
    (void)state;
    size_t n;
    uint8_t *d = tu_hex(tu_vec("tree", "root_boc_crc"), &n); /* 3 cells */
    ton_boc_limits lim = {3, 1};
    ton_cell *c;
    assert_int_equal(ton_boc_parse(d, n, &lim, &c), ERR_OK);
    ton_cell_unref(c);
    lim.max_cells = 2;
    assert_int_equal(ton_boc_parse(d, n, &lim, &c), ERR_TOO_MANY);
    free(d);
}

/* A Merkle proof of the tree with its first child pruned: the proof's virtual (level-0) hash is
 * the original root hash, and a pruned branch reports the hidden hash at level 0. */
static void test_merkle_proof_and_pruned_branch(void **state) {
    (void)state;
    ton_cell *r = tree();
    ton_cell *hidden = ton_cell_child(r, 0);
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 1, 8), ERR_OK); /* pruned */
    assert_int_equal(tb_uint(&b, 1, 8), ERR_OK); /* level mask 1 */
    assert_int_equal(tb_bytes(&b, ton_cell_repr_hash(hidden), 32), ERR_OK);
    assert_int_equal(tb_uint(&b, ton_cell_repr_depth(hidden), 16), ERR_OK);
    ton_cell *pruned;
    assert_int_equal(tb_finish_exotic(&b, &pruned), ERR_OK);
    assert_int_equal(ton_cell_kind(pruned), TON_CELL_PRUNED);
    assert_int_equal(ton_cell_level(pruned), 1);
    assert_memory_equal(ton_cell_hash(pruned, 0), ton_cell_repr_hash(hidden), 32);

    tb_init(&b);
    assert_int_equal(tb_uint(&b, 0xabc, 12), ERR_OK);
    assert_int_equal(tb_ref(&b, pruned), ERR_OK);
    assert_int_equal(tb_ref(&b, ton_cell_child(r, 1)), ERR_OK);
    ton_cell *partial;
    assert_int_equal(tb_finish(&b, &partial), ERR_OK);
    assert_int_equal(ton_cell_level_mask(partial), 1);
    assert_memory_equal(ton_cell_hash(partial, 0), ton_cell_repr_hash(r), 32);

    tb_init(&b);
    assert_int_equal(tb_uint(&b, 3, 8), ERR_OK);
    assert_int_equal(tb_bytes(&b, ton_cell_hash(partial, 0), 32), ERR_OK);
    assert_int_equal(tb_uint(&b, ton_cell_depth(partial, 0), 16), ERR_OK);
    assert_int_equal(tb_ref(&b, partial), ERR_OK);
    ton_cell *proof;
    assert_int_equal(tb_finish_exotic(&b, &proof), ERR_OK);
    assert_int_equal(ton_cell_level(proof), 0);

    /* Round trip through a BOC keeps exotic flags and levels. */
    buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(ton_boc_serialize(proof, false, true, &out), ERR_OK);
    ton_cell *p;
    assert_int_equal(ton_boc_parse(out.data, out.len, NULL, &p), ERR_OK);
    assert_true(ton_cell_equal(p, proof));
    ton_cell_unref(p);
    buf_free(&out);

    /* A proof whose stored hash is not its child's level-0 hash is refused. */
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 3, 8), ERR_OK);
    assert_int_equal(tb_bytes(&b, ton_cell_hash(partial, 1), 32), ERR_OK);
    assert_int_equal(tb_uint(&b, ton_cell_depth(partial, 0), 16), ERR_OK);
    assert_int_equal(tb_ref(&b, partial), ERR_OK);
    ton_cell *bad;
    assert_int_equal(tb_finish_exotic(&b, &bad), ERR_MALFORMED);
    /* Wrong pruned length and unknown exotic type. */
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 0x0101, 16), ERR_OK);
    assert_int_equal(tb_finish_exotic(&b, &bad), ERR_MALFORMED);
    tb_init(&b);
    assert_int_equal(tb_uint(&b, 9, 8), ERR_OK);
    assert_int_equal(tb_finish_exotic(&b, &bad), ERR_MALFORMED);

    ton_cell_unref(proof);
    ton_cell_unref(partial);
    ton_cell_unref(pruned);
    ton_cell_unref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_cell),
        cmocka_unit_test(test_128_bits_and_signature),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_state_init_address),
        cmocka_unit_test(test_roundtrip_vectors),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_builder_and_slice_limits),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_every_byte_flip_is_caught_by_crc),
        cmocka_unit_test(test_malformed_bocs),
        cmocka_unit_test(test_cell_count_limit),
        cmocka_unit_test(test_merkle_proof_and_pruned_branch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
