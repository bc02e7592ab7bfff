#include "msg.h"

#include "dict.h"

#include <string.h>

err_t tb_varuint(ton_builder *b, unsigned len_bits, const uint8_t *be, size_t n) {
    while (n > 0 && be[0] == 0) {
        be++;
        n--;
    }
    if (len_bits == 0 || len_bits > 8 || n >= ((size_t)1 << len_bits)) {
        return err_fail(ERR_MALFORMED, "VarUInteger value of %zu bytes", n);
    }
    if (tb_bits_left(b) < len_bits + n * 8) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    TRY(tb_uint(b, n, len_bits));
    return tb_bytes(b, be, n);
}

err_t ts_varuint(ton_slice *s, unsigned len_bits, uint8_t *out, size_t cap, size_t *n) {
    if (len_bits == 0 || len_bits > 8) {
        return err_fail(ERR_MALFORMED, "VarUInteger length width %u", len_bits);
    }
    ton_slice t = *s;
    uint64_t len;
    TRY(ts_uint(&t, len_bits, &len));
    if (len > cap) {
        return err_fail(ERR_TOO_LARGE, "VarUInteger of %llu bytes", (unsigned long long)len);
    }
    TRY(ts_bytes(&t, (size_t)len, out));
    *n = (size_t)len;
    *s = t;
    return ERR_OK;
}

err_t tb_coins(ton_builder *b, uint64_t v) {
    uint8_t be[8];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return tb_varuint(b, 4, be, 8);
}

err_t ts_coins(ton_slice *s, uint64_t *v) {
    ton_slice t = *s;
    uint8_t be[15];
    size_t n = 0;
    TRY(ts_varuint(&t, 4, be, sizeof(be), &n));
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r >> 56) {
            return err_fail(ERR_TOO_LARGE, "coin amount above 2^64");
        }
        r = (r << 8) | be[i];
    }
    *v = r;
    *s = t;
    return ERR_OK;
}

static err_t state_init_builder(ton_builder *b, ton_cell *code, ton_cell *data) {
    TRY(tb_bit(b, false)); /* split_depth */
    TRY(tb_bit(b, false)); /* special */
    TRY(tb_bit(b, code != NULL));
    if (code) {
        TRY(tb_ref(b, code));
    }
    TRY(tb_bit(b, data != NULL));
    if (data) {
        TRY(tb_ref(b, data));
    }
    return tb_bit(b, false); /* library: empty */
}

err_t ton_state_init(ton_cell *code, ton_cell *data, ton_cell **out) {
    ton_builder b;
    tb_init(&b);
    err_t e = state_init_builder(&b, code, data);
    if (e != ERR_OK) {
        tb_clear(&b);
        *out = NULL;
        return e;
    }
    return tb_finish(&b, out);
}

err_t ton_state_init_address(int32_t wc, ton_cell *code, ton_cell *data, ton_addr *out) {
    ton_cell *si;
    TRY(ton_state_init(code, data, &si));
    out->wc = wc;
    memcpy(out->hash, ton_cell_repr_hash(si), 32);
    ton_cell_unref(si);
    return ERR_OK;
}

/* init:(Maybe (Either StateInit ^StateInit)) body:(Either X ^X), placed as @ton/core does.
 * MessageRelaxed (storeMessageRelaxed): init inline when its bits fit after two flag bits; body
 * inline when its bits fit after one flag bit, its refs fit and it is not exotic.
 * Message (storeMessage): init inline only when init and body bits both fit; body inline when
 * its bits and refs fit. */
static err_t store_init_body(ton_builder *b, ton_cell *init, ton_cell *body, ton_place place,
                             bool relaxed) {
    unsigned body_bits = body ? ton_cell_bits(body) : 0;
    if (init) {
        TRY(tb_bit(b, true));
        unsigned need = 2 + ton_cell_bits(init) + (relaxed ? 0 : body_bits);
        bool ref = place == TON_PLACE_REF || (place == TON_PLACE_AUTO && tb_bits_left(b) < need);
        TRY(tb_bit(b, ref));
        if (ref) {
            TRY(tb_ref(b, init));
        } else {
            ton_slice s;
            ts_init(&s, init);
            TRY(tb_slice(b, &s));
        }
    } else {
        TRY(tb_bit(b, false));
    }
    if (!body) {
        if (place == TON_PLACE_REF) {
            return err_fail(ERR_MALFORMED, "a body ref needs a body");
        }
        return tb_bit(b, false);
    }
    bool ref = place == TON_PLACE_REF ||
               (place == TON_PLACE_AUTO && (tb_bits_left(b) < 1 + ton_cell_bits(body) ||
                                            b->nrefs + ton_cell_nrefs(body) > TON_CELL_MAX_REFS ||
                                            (relaxed && ton_cell_is_exotic(body))));
    TRY(tb_bit(b, ref));
    if (ref) {
        return tb_ref(b, body);
    }
    ton_slice s;
    ts_init(&s, body);
    return tb_slice(b, &s);
}

static err_t build_internal(ton_builder *b, const ton_int_msg *m) {
    TRY(tb_bit(b, false)); /* int_msg_info$0 */
    TRY(tb_bit(b, m->ihr_disabled));
    TRY(tb_bit(b, m->bounce));
    TRY(tb_bit(b, false)); /* bounced */
    TRY(tb_addr_none(b));  /* src: filled in by the validator */
    TRY(tb_addr(b, &m->dest));
    TRY(tb_coins(b, m->value));
    TRY(tb_bit(b, false));  /* no extra currencies */
    TRY(tb_coins(b, 0));    /* ihr_fee */
    TRY(tb_coins(b, 0));    /* fwd_fee */
    TRY(tb_uint(b, 0, 64)); /* created_lt */
    TRY(tb_uint(b, 0, 32)); /* created_at */
    return store_init_body(b, m->state_init, m->body, m->place, true);
}

err_t ton_msg_internal(const ton_int_msg *m, ton_cell **out) {
    ton_builder b;
    tb_init(&b);
    *out = NULL;
    err_t e = build_internal(&b, m);
    if (e != ERR_OK) {
        tb_clear(&b);
        return e;
    }
    return tb_finish(&b, out);
}

static err_t build_external(ton_builder *b, const ton_addr *dest, ton_cell *init, ton_cell *body,
                            ton_place place) {
    TRY(tb_uint(b, 2, 2)); /* ext_in_msg_info$10 */
    TRY(tb_addr_none(b));  /* src:MsgAddressExt */
    TRY(tb_addr(b, dest));
    TRY(tb_coins(b, 0)); /* import_fee */
    return store_init_body(b, init, body, place, false);
}

err_t ton_msg_external(const ton_addr *dest, ton_cell *state_init, ton_cell *body, ton_place place,
                       ton_cell **out) {
    ton_builder b;
    tb_init(&b);
    *out = NULL;
    err_t e = build_external(&b, dest, state_init, body, place);
    if (e != ERR_OK) {
        tb_clear(&b);
        return e;
    }
    return tb_finish(&b, out);
}

/* StateInit fields (TL-B in the header comment); code and data are borrowed. */
static err_t read_state_init(ton_slice *s, ton_cell **code, ton_cell **data) {
    bool f;
    ton_cell *lib;
    TRY(ts_bit(s, &f));
    if (f) {
        TRY(ts_skip(s, 5));
    }
    TRY(ts_bit(s, &f));
    if (f) {
        TRY(ts_skip(s, 2));
    }
    TRY(ts_bit(s, &f));
    if (f) {
        TRY(ts_ref(s, code));
    }
    TRY(ts_bit(s, &f));
    if (f) {
        TRY(ts_ref(s, data));
    }
    return ts_dict(s, &lib);
}

err_t ton_msg_parse(const ton_cell *msg, ton_msg_info *out) {
    ton_slice s;
    ts_init(&s, msg);
    memset(out, 0, sizeof(*out));
    bool b;
    TRY(ts_bit(&s, &b));
    if (!b) {
        out->internal = true;
        bool ihr;
        TRY(ts_bit(&s, &ihr));
        TRY(ts_bit(&s, &out->bounce));
        TRY(ts_bit(&s, &out->bounced));
        TRY(ts_addr(&s, &out->src, &out->has_src));
        TRY(ts_addr(&s, &out->dest, &out->has_dest));
        TRY(ts_coins(&s, &out->value));
        ton_cell *extra;
        TRY(ts_dict(&s, &extra));
        uint64_t fee;
        TRY(ts_coins(&s, &fee));
        TRY(ts_coins(&s, &fee));
        TRY(ts_uint(&s, 64, &out->created_lt));
        uint64_t at;
        TRY(ts_uint(&s, 32, &at));
        out->created_at = (uint32_t)at;
    } else {
        TRY(ts_bit(&s, &b));
        if (b) {
            return err_fail(ERR_MALFORMED, "external-out message");
        }
        uint64_t tag;
        TRY(ts_uint(&s, 2, &tag));
        if (tag == 1) { /* addr_extern$01 len:(## 9) external_address:(bits len) */
            uint64_t len;
            TRY(ts_uint(&s, 9, &len));
            TRY(ts_skip(&s, (unsigned)len));
        } else if (tag != 0) {
            return err_fail(ERR_MALFORMED, "external message source tag %llu",
                            (unsigned long long)tag);
        }
        TRY(ts_addr(&s, &out->dest, &out->has_dest));
        if (!out->has_dest) {
            return err_fail(ERR_MALFORMED, "external message without destination");
        }
        uint64_t fee;
        TRY(ts_coins(&s, &fee));
    }
    TRY(ts_bit(&s, &b));
    if (b) {
        bool ref;
        out->has_init = true;
        TRY(ts_bit(&s, &ref));
        if (ref) {
            ton_cell *si;
            TRY(ts_ref(&s, &si));
            ton_slice t;
            ts_init(&t, si);
            TRY(read_state_init(&t, &out->init_code, &out->init_data));
            TRY(ts_expect_end(&t));
        } else {
            TRY(read_state_init(&s, &out->init_code, &out->init_data));
        }
    }
    TRY(ts_bit(&s, &b));
    if (b) {
        ton_cell *body;
        TRY(ts_ref(&s, &body));
        TRY(ts_expect_end(&s));
        ts_init(&out->body, body);
    } else {
        out->body = s;
    }
    return ERR_OK;
}

err_t ton_msg_normalized_hash(const ton_cell *ext_msg, uint8_t out[TON_HASH_LEN]) {
    ton_msg_info info;
    TRY(ton_msg_parse(ext_msg, &info));
    if (info.internal) {
        return err_fail(ERR_MALFORMED, "normalized hash is defined for external messages");
    }
    ton_builder bb;
    tb_init(&bb);
    ton_cell *body = NULL;
    ton_cell *norm = NULL;
    err_t e = tb_slice(&bb, &info.body);
    if (e == ERR_OK) {
        e = tb_finish(&bb, &body);
    } else {
        tb_clear(&bb);
    }
    if (e == ERR_OK) {
        e = ton_msg_external(&info.dest, NULL, body, TON_PLACE_REF, &norm);
    }
    if (e == ERR_OK) {
        memcpy(out, ton_cell_repr_hash(norm), TON_HASH_LEN);
    }
    ton_cell_unref(body);
    ton_cell_unref(norm);
    return e;
}
