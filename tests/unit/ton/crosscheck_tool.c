/* ton_crosscheck: the C side of tests/ton/crosscheck.test.mjs.
 *
 * Reads {"cases":[...]} (JSON) on stdin, builds every case with src/ton alone and writes
 * {"results":[...]} on stdout; the node script compares each result with what @ton/core
 * produced for the same case. Cell trees travel as {"b": hex of the bits, "n": bit count,
 * "x": exotic, "r": [children]} so the C side builds cells itself rather than parsing the JS BOC
 * (except in "parse" cases, which test the parser). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/codec.h"
#include "crypto/ed25519.h"
#include "ton/addr.h"
#include "ton/boc.h"
#include "ton/cocoon.h"
#include "ton/cell.h"
#include "ton/dict.h"
#include "ton/msg.h"
#include "ton/wallet.h"

static void die(const char *what, err_t e) {
    fprintf(stderr, "ton_crosscheck: %s: %s\n", what, err_describe(e));
    exit(1);
}

static void check(err_t e, const char *what) {
    if (e != ERR_OK) {
        die(what, e);
    }
}

static size_t from_hex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    check(hex_decode(hex, strlen(hex), out, cap, &n), "hex");
    return n;
}

static json_t *hex_json(const uint8_t *p, size_t n) {
    char *h = malloc(2 * n + 1);
    hex_encode(p, n, h);
    json_t *j = json_string(h);
    free(h);
    return j;
}

static ton_cell *tree_to_cell(json_t *t) {
    uint8_t bits[TON_CELL_MAX_BYTES] = {0};
    from_hex(json_string_value(json_object_get(t, "b")), bits, sizeof(bits));
    unsigned n = (unsigned)json_integer_value(json_object_get(t, "n"));
    json_t *refs = json_object_get(t, "r");
    ton_builder b;
    tb_init(&b);
    check(tb_bits(&b, bits, 0, n), "tree bits");
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r) {
        ton_cell *c = tree_to_cell(r);
        check(tb_ref(&b, c), "tree ref");
        ton_cell_unref(c);
    }
    ton_cell *out;
    if (json_is_true(json_object_get(t, "x"))) {
        check(tb_finish_exotic(&b, &out), "exotic cell");
    } else {
        check(tb_finish(&b, &out), "cell");
    }
    return out;
}

static json_t *cell_to_tree(const ton_cell *c) {
    json_t *refs = json_array();
    for (unsigned i = 0; i < ton_cell_nrefs(c); i++) {
        json_array_append_new(refs, cell_to_tree(ton_cell_child(c, i)));
    }
    return json_pack("{s:o,s:i,s:b,s:o}", "b",
                     hex_json(ton_cell_data(c), (ton_cell_bits(c) + 7) / 8), "n",
                     (int)ton_cell_bits(c), "x", ton_cell_is_exotic(c), "r", refs);
}

static json_t *boc_json(const ton_cell *c, bool idx, bool crc) {
    buf b;
    buf_init(&b, BUF_DEFAULT_MAX);
    check(ton_boc_serialize(c, idx, crc, &b), "serialize");
    json_t *j = hex_json(b.data, b.len);
    buf_free(&b);
    return j;
}

static ton_cell *boc_from_hex(const char *hex) {
    size_t len = strlen(hex) / 2;
    uint8_t *d = malloc(len + 1);
    from_hex(hex, d, len + 1);
    ton_cell *c;
    check(ton_boc_parse(d, len, NULL, &c), "parse");
    free(d);
    return c;
}

static ton_addr addr_of(json_t *j) {
    ton_addr a;
    check(ton_addr_parse(json_string_value(j), &a, NULL), "address");
    return a;
}

static json_t *case_tree(json_t *cs) {
    ton_cell *c = tree_to_cell(json_object_get(cs, "tree"));
    json_t *levels = json_array();
    for (unsigned l = 0; l < 4; l++) {
        json_array_append_new(levels,
                              json_pack("{s:o,s:i}", "hash", hex_json(ton_cell_hash(c, l), 32),
                                        "depth", (int)ton_cell_depth(c, l)));
    }
    json_t *r = json_pack("{s:o,s:o,s:i,s:o}", "boc",
                          boc_json(c, json_is_true(json_object_get(cs, "idx")),
                                   json_is_true(json_object_get(cs, "crc"))),
                          "hash", hex_json(ton_cell_repr_hash(c), 32), "depth",
                          (int)ton_cell_repr_depth(c), "levels", levels);
    ton_cell_unref(c);
    return r;
}

static json_t *case_parse(json_t *cs) {
    ton_cell *c = boc_from_hex(json_string_value(json_object_get(cs, "boc")));
    json_t *r = json_pack("{s:o,s:o}", "tree", cell_to_tree(c), "hash",
                          hex_json(ton_cell_repr_hash(c), 32));
    ton_cell_unref(c);
    return r;
}

static json_t *case_dict(json_t *cs) {
    unsigned kb = (unsigned)json_integer_value(json_object_get(cs, "key_bits"));
    json_t *entries = json_object_get(cs, "entries");
    size_t n = json_array_size(entries);
    ton_dict_item *items = calloc(n ? n : 1, sizeof(*items));
    ton_cell **vals = calloc(n ? n : 1, sizeof(*vals));
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        from_hex(json_string_value(json_object_get(e, "k")), items[i].key, sizeof(items[i].key));
        vals[i] = tree_to_cell(json_object_get(e, "v"));
        ts_init(&items[i].value, vals[i]);
    }
    ton_cell *root;
    check(ton_dict_build(items, n, kb, &root), "dict build");
    /* HashmapE wrapper cell: Maybe ^Hashmap */
    ton_builder b;
    tb_init(&b);
    check(tb_dict(&b, root), "dict store");
    ton_cell *wrap;
    check(tb_finish(&b, &wrap), "dict wrap");
    /* Look every key up in the JS-built dictionary. */
    ton_cell *js = boc_from_hex(json_string_value(json_object_get(cs, "js_boc")));
    ton_slice s;
    ts_init(&s, js);
    ton_cell *jroot;
    check(ts_dict(&s, &jroot), "js dict");
    json_t *found = json_array();
    json_array_foreach(entries, i, e) {
        uint8_t key[TON_CELL_MAX_BYTES] = {0};
        from_hex(json_string_value(json_object_get(e, "k")), key, sizeof(key));
        ton_slice v;
        bool hit;
        check(ton_dict_get(jroot, kb, key, &v, &hit), "dict get");
        if (!hit) {
            json_array_append_new(found, json_null());
            continue;
        }
        uint8_t bits[TON_CELL_MAX_BYTES];
        unsigned nb = ts_bits_left(&v);
        check(ts_bits(&v, nb, bits), "dict value");
        json_array_append_new(found, hex_json(bits, (nb + 7) / 8));
    }
    json_t *r = json_pack("{s:o,s:o}", "boc", boc_json(wrap, false, true), "found", found);
    for (i = 0; i < n; i++) {
        ton_cell_unref(vals[i]);
    }
    free(vals);
    free(items);
    ton_cell_unref(root);
    ton_cell_unref(wrap);
    ton_cell_unref(js);
    return r;
}

static json_t *case_addr(json_t *cs) {
    ton_addr a = addr_of(json_object_get(cs, "addr"));
    char raw[TON_ADDR_RAW_MAX];
    char f[6][TON_ADDR_FRIENDLY_LEN + 1];
    ton_addr_to_raw(&a, raw);
    ton_addr_to_friendly(&a, true, false, true, f[0]);
    ton_addr_to_friendly(&a, false, false, true, f[1]);
    ton_addr_to_friendly(&a, true, true, true, f[2]);
    ton_addr_to_friendly(&a, false, true, true, f[3]);
    ton_addr_to_friendly(&a, true, false, false, f[4]);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "raw", raw, "bounceable", f[0], "non_bounceable",
                     f[1], "test_bounceable", f[2], "test_non_bounceable", f[3], "std_bounceable",
                     f[4]);
}

static ton_cell *opt_tree(json_t *t) {
    return json_is_object(t) ? tree_to_cell(t) : NULL;
}

static json_t *case_internal(json_t *cs) {
    ton_int_msg m = {0};
    m.dest = addr_of(json_object_get(cs, "dest"));
    m.value = strtoull(json_string_value(json_object_get(cs, "value")), NULL, 10);
    m.bounce = json_is_true(json_object_get(cs, "bounce"));
    m.ihr_disabled = true;
    m.body = opt_tree(json_object_get(cs, "body"));
    json_t *init = json_object_get(cs, "init");
    ton_cell *code = NULL;
    ton_cell *data = NULL;
    if (json_is_object(init)) {
        code = tree_to_cell(json_object_get(init, "code"));
        data = tree_to_cell(json_object_get(init, "data"));
        check(ton_state_init(code, data, &m.state_init), "state init");
    }
    ton_cell *msg;
    check(ton_msg_internal(&m, &msg), "internal");
    json_t *r = json_pack("{s:o}", "boc", boc_json(msg, false, true));
    ton_cell_unref(msg);
    ton_cell_unref(m.body);
    ton_cell_unref(m.state_init);
    ton_cell_unref(code);
    ton_cell_unref(data);
    return r;
}

/* A signature-first body (signature:512 then the payload bits and refs), as wallet v4 and the
 * COCOON wallet sign: the signature covers the payload cell's representation hash. */
static json_t *case_external(json_t *cs) {
    uint8_t seed[32];
    from_hex(json_string_value(json_object_get(cs, "seed")), seed, sizeof(seed));
    ed25519_key k;
    check(ed25519_from_seed(&k, seed), "key");
    ton_cell *payload = tree_to_cell(json_object_get(cs, "payload"));
    uint8_t sig[64];
    check(ed25519_sign(&k, ton_cell_repr_hash(payload), 32, sig), "sign");
    ton_builder b;
    tb_init(&b);
    check(tb_bytes(&b, sig, 64), "sig");
    ton_slice ps;
    ts_init(&ps, payload);
    check(tb_slice(&b, &ps), "payload");
    ton_cell *body;
    check(tb_finish(&b, &body), "body");
    ton_addr dest = addr_of(json_object_get(cs, "dest"));
    json_t *init = json_object_get(cs, "init");
    ton_cell *si = NULL;
    ton_cell *code = NULL;
    ton_cell *data = NULL;
    if (json_is_object(init)) {
        code = tree_to_cell(json_object_get(init, "code"));
        data = tree_to_cell(json_object_get(init, "data"));
        check(ton_state_init(code, data, &si), "state init");
    }
    ton_cell *msg;
    check(ton_msg_external(&dest, si, body, TON_PLACE_AUTO, &msg), "external");
    uint8_t norm[32];
    check(ton_msg_normalized_hash(msg, norm), "normalized hash");
    json_t *r = json_pack("{s:o,s:o,s:o}", "boc", boc_json(msg, false, true), "hash",
                          hex_json(ton_cell_repr_hash(msg), 32), "hash_norm", hex_json(norm, 32));
    ton_cell_unref(msg);
    ton_cell_unref(body);
    ton_cell_unref(payload);
    ton_cell_unref(si);
    ton_cell_unref(code);
    ton_cell_unref(data);
    ed25519_wipe(&k);
    return r;
}

static json_t *case_wallet(json_t *cs) {
    uint8_t seed[32];
    from_hex(json_string_value(json_object_get(cs, "seed")), seed, sizeof(seed));
    ed25519_key k;
    check(ed25519_from_seed(&k, seed), "key");
    const char *type = json_string_value(json_object_get(cs, "type"));
    ton_wallet w;
    ton_cell *code = opt_tree(json_object_get(cs, "code"));
    if (strcmp(type, "v5r1") == 0) {
        check(ton_wallet_init_v5r1(&w, &k, 0, ton_wallet_v5r1_id(TON_GLOBAL_ID_MAINNET, 0, 0)),
              "v5r1");
    } else if (strcmp(type, "v4r2") == 0) {
        check(ton_wallet_init_v4r2(&w, &k, code, 0, TON_WALLET_V4_DEFAULT_ID), "v4r2");
    } else {
        ton_addr owner = addr_of(json_object_get(cs, "owner"));
        check(ton_wallet_init_cocoon(&w, &k, code, 0, &owner), "cocoon");
    }
    json_t *msgs = json_object_get(cs, "messages");
    size_t n = json_array_size(msgs);
    ton_wallet_action acts[8];
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        ton_int_msg im = {0};
        im.dest = addr_of(json_object_get(m, "dest"));
        im.value = strtoull(json_string_value(json_object_get(m, "value")), NULL, 10);
        im.bounce = json_is_true(json_object_get(m, "bounce"));
        im.ihr_disabled = true;
        im.body = opt_tree(json_object_get(m, "body"));
        check(ton_msg_internal(&im, &acts[i].msg), "internal");
        acts[i].mode = (uint8_t)json_integer_value(json_object_get(cs, "mode"));
        ton_cell_unref(im.body);
    }
    uint32_t seqno = (uint32_t)json_integer_value(json_object_get(cs, "seqno"));
    ton_cell *msg;
    check(ton_wallet_external(&w, seqno,
                              (uint32_t)json_integer_value(json_object_get(cs, "valid_until")),
                              acts, n, seqno == 0, &msg),
          "wallet external");
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&w.addr, raw);
    json_t *r = json_pack("{s:o,s:o,s:s}", "boc", boc_json(msg, false, true), "hash",
                          hex_json(ton_cell_repr_hash(msg), 32), "address", raw);
    for (i = 0; i < n; i++) {
        ton_cell_unref(acts[i].msg);
    }
    ton_cell_unref(msg);
    ton_cell_unref(code);
    ton_wallet_free(&w);
    ed25519_wipe(&k);
    return r;
}

static json_t *code_hash_json(const ton_cell *c) {
    return c ? hex_json(ton_cell_repr_hash(c), 32) : json_null();
}

static json_t *case_cocoon_root(json_t *cs) {
    ton_cell *data = boc_from_hex(json_string_value(json_object_get(cs, "boc")));
    cocoon_root r;
    check(cocoon_root_parse(data, &r), "cocoon root");
    char owner[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&r.owner, owner);
    json_t *proxies = json_array();
    for (size_t i = 0; i < r.nproxies; i++) {
        json_array_append_new(proxies,
                              json_pack("[i,s]", (int)r.proxies[i].seqno, r.proxies[i].text));
    }
    json_t *has = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(cs, "queries"), i, q) {
        uint8_t h[32];
        from_hex(json_string_value(q), h, sizeof(h));
        bool a, b, c;
        check(cocoon_hash_set_has(r.proxy_hashes, h, &a), "has");
        check(cocoon_hash_set_has(r.worker_hashes, h, &b), "has");
        check(cocoon_hash_set_has(r.model_hashes, h, &c), "has");
        json_array_append_new(has, json_boolean(a || b || c));
    }
    ton_cell *rebuilt;
    check(cocoon_params_build(&r.params, &rebuilt), "params build");
    const cocoon_params *p = &r.params;
    char num[4][24];
    snprintf(num[0], 24, "%llu", (unsigned long long)p->price_per_token);
    snprintf(num[1], 24, "%llu", (unsigned long long)p->worker_fee_per_token);
    snprintf(num[2], 24, "%llu", (unsigned long long)p->min_proxy_stake);
    snprintf(num[3], 24, "%llu", (unsigned long long)p->min_client_stake);
    json_t *params = json_pack(
        "{s:I,s:I,s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s}", "params_version",
        (json_int_t)p->params_version, "unique_id", (json_int_t)p->unique_id, "is_test", p->is_test,
        "price_per_token", num[0], "worker_fee_per_token", num[1], "prompt_mult",
        (json_int_t)p->prompt_mult, "cached_mult", (json_int_t)p->cached_mult, "completion_mult",
        (json_int_t)p->completion_mult, "reasoning_mult", (json_int_t)p->reasoning_mult,
        "proxy_delay_before_close", (json_int_t)p->proxy_delay_before_close,
        "client_delay_before_close", (json_int_t)p->client_delay_before_close, "min_proxy_stake",
        num[2], "min_client_stake", num[3]);
    json_t *codes = json_pack("[o,o,o]", code_hash_json(p->proxy_code),
                              code_hash_json(p->worker_code), code_hash_json(p->client_code));
    json_t *res = json_pack("{s:o,s:s,s:I,s:I,s:o,s:o,s:o,s:o}", "params", params, "owner", owner,
                            "version", (json_int_t)r.version, "last_proxy_seqno",
                            (json_int_t)r.last_proxy_seqno, "proxies", proxies, "params_boc",
                            boc_json(rebuilt, false, true), "codes", codes, "has", has);
    ton_cell_unref(rebuilt);
    cocoon_root_clear(&r);
    ton_cell_unref(data);
    return res;
}

int main(void) {
    json_error_t je;
    json_t *in = json_loadf(stdin, 0, &je);
    if (!in) {
        fprintf(stderr, "ton_crosscheck: bad input: %s\n", je.text);
        return 1;
    }
    json_t *results = json_array();
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(in, "cases"), i, cs) {
        const char *kind = json_string_value(json_object_get(cs, "kind"));
        json_t *r;
        if (strcmp(kind, "tree") == 0) {
            r = case_tree(cs);
        } else if (strcmp(kind, "parse") == 0) {
            r = case_parse(cs);
        } else if (strcmp(kind, "dict") == 0) {
            r = case_dict(cs);
        } else if (strcmp(kind, "addr") == 0) {
            r = case_addr(cs);
        } else if (strcmp(kind, "internal") == 0) {
            r = case_internal(cs);
        } else if (strcmp(kind, "external") == 0) {
            r = case_external(cs);
        } else if (strcmp(kind, "cocoon_root") == 0) {
            r = case_cocoon_root(cs);
        } else if (strcmp(kind, "wallet") == 0) {
            r = case_wallet(cs);
        } else {
            fprintf(stderr, "ton_crosscheck: unknown case kind %s\n", kind);
            return 1;
        }
        json_array_append_new(results, r);
    }
    json_t *out = json_pack("{s:o}", "results", results);
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(out);
    json_decref(in);
    return 0;
}
