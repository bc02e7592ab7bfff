#include "cocoon.h"

#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "msg.h"

void cocoon_params_clear(cocoon_params *p) {
    ton_cell_unref(p->proxy_code);
    ton_cell_unref(p->worker_code);
    ton_cell_unref(p->client_code);
    memset(p, 0, sizeof(*p));
}

static err_t u32(ton_slice *s, uint32_t *v) {
    uint64_t x;
    TRY(ts_uint(s, 32, &x));
    *v = (uint32_t)x;
    return ERR_OK;
}

static err_t maybe_ref(ton_slice *s, ton_cell **out) {
    bool present;
    TRY(ts_bit(s, &present));
    *out = NULL;
    if (present) {
        ton_cell *c;
        TRY(ts_ref(s, &c));
        *out = ton_cell_ref(c);
    }
    return ERR_OK;
}

/* Field order per §A.1; (v>=N) marks fields older struct versions lack. */
static err_t params_fields(ton_slice *s, cocoon_params *p) {
    uint64_t v;
    TRY(ts_uint(s, 8, &v));
    if (v > COCOON_PARAMS_VERSION) {
        return err_fail(ERR_MALFORMED, "CocoonParams struct version %llu", (unsigned long long)v);
    }
    p->struct_version = (uint8_t)v;
    TRY(u32(s, &p->params_version));
    TRY(u32(s, &p->unique_id));
    TRY(ts_bit(s, &p->is_test));
    TRY(ts_coins(s, &p->price_per_token));
    TRY(ts_coins(s, &p->worker_fee_per_token));
    p->prompt_mult = p->cached_mult = p->completion_mult = p->reasoning_mult = COCOON_MULT_ONE;
    if (v >= 3) {
        TRY(u32(s, &p->prompt_mult));
    }
    if (v >= 2) {
        TRY(u32(s, &p->cached_mult));
    }
    if (v >= 3) {
        TRY(u32(s, &p->completion_mult));
    }
    if (v >= 2) {
        TRY(u32(s, &p->reasoning_mult));
    }
    TRY(u32(s, &p->proxy_delay_before_close));
    TRY(u32(s, &p->client_delay_before_close));
    if (v >= 1) {
        TRY(ts_coins(s, &p->min_proxy_stake));
        TRY(ts_coins(s, &p->min_client_stake));
    }
    TRY(maybe_ref(s, &p->proxy_code));
    TRY(maybe_ref(s, &p->worker_code));
    TRY(maybe_ref(s, &p->client_code));
    return ts_expect_end(s);
}

err_t cocoon_params_parse(const ton_cell *c, cocoon_params *out) {
    memset(out, 0, sizeof(*out));
    if (ton_cell_is_exotic(c)) {
        return err_fail(ERR_MALFORMED, "CocoonParams in an exotic cell");
    }
    ton_slice s;
    ts_init(&s, c);
    err_t e = params_fields(&s, out);
    if (e != ERR_OK) {
        cocoon_params_clear(out);
    }
    return e;
}

static err_t tb_maybe_ref(ton_builder *b, ton_cell *c) {
    TRY(tb_bit(b, c != NULL));
    return c ? tb_ref(b, c) : ERR_OK;
}

err_t cocoon_params_build(const cocoon_params *p, ton_cell **out) {
    *out = NULL;
    ton_builder b;
    tb_init(&b);
    err_t e;
    if ((e = tb_uint(&b, COCOON_PARAMS_VERSION, 8)) || (e = tb_uint(&b, p->params_version, 32)) ||
        (e = tb_uint(&b, p->unique_id, 32)) || (e = tb_bit(&b, p->is_test)) ||
        (e = tb_coins(&b, p->price_per_token)) || (e = tb_coins(&b, p->worker_fee_per_token)) ||
        (e = tb_uint(&b, p->prompt_mult, 32)) || (e = tb_uint(&b, p->cached_mult, 32)) ||
        (e = tb_uint(&b, p->completion_mult, 32)) || (e = tb_uint(&b, p->reasoning_mult, 32)) ||
        (e = tb_uint(&b, p->proxy_delay_before_close, 32)) ||
        (e = tb_uint(&b, p->client_delay_before_close, 32)) ||
        (e = tb_coins(&b, p->min_proxy_stake)) || (e = tb_coins(&b, p->min_client_stake)) ||
        (e = tb_maybe_ref(&b, p->proxy_code)) || (e = tb_maybe_ref(&b, p->worker_code)) ||
        (e = tb_maybe_ref(&b, p->client_code))) {
        tb_clear(&b);
        return e;
    }
    return tb_finish(&b, out);
}

void cocoon_root_clear(cocoon_root *r) {
    ton_cell_unref(r->proxy_hashes);
    ton_cell_unref(r->worker_hashes);
    ton_cell_unref(r->model_hashes);
    free(r->proxies);
    cocoon_params_clear(&r->params);
    memset(r, 0, sizeof(*r));
}

typedef struct {
    cocoon_root *r;
    size_t cap;
} proxy_ctx;

/* ProxyDesc = type:uint1 (0 = text) len:uint7 bytes:len*8 (§A.2); other types are skipped, as
 * the reference node does. */
static err_t on_proxy(void *ctx, const uint8_t *key, unsigned key_bits, ton_slice *v) {
    (void)key_bits;
    proxy_ctx *pc = ctx;
    cocoon_root *r = pc->r;
    bool type;
    uint64_t len;
    TRY(ts_bit(v, &type));
    TRY(ts_uint(v, 7, &len));
    if (type) {
        return ERR_OK;
    }
    if (r->nproxies >= COCOON_ROOT_MAX_PROXIES) {
        return err_fail(ERR_TOO_MANY, "more than %d registered proxies", COCOON_ROOT_MAX_PROXIES);
    }
    if (r->nproxies == pc->cap) {
        size_t nc = pc->cap ? pc->cap * 2 : 16;
        cocoon_proxy_desc *p = realloc(r->proxies, nc * sizeof(*p));
        if (!p) {
            return ERR_NOMEM;
        }
        r->proxies = p;
        pc->cap = nc;
    }
    cocoon_proxy_desc *d = &r->proxies[r->nproxies];
    TRY(ts_bytes(v, (size_t)len, (uint8_t *)d->text));
    TRY(ts_expect_end(v));
    for (size_t i = 0; i < len; i++) {
        if (d->text[i] < 0x20 || d->text[i] > 0x7e) {
            return err_fail(ERR_MALFORMED, "proxy description is not printable ASCII");
        }
    }
    d->text[len] = 0;
    d->seqno = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
    r->nproxies++;
    return ERR_OK;
}

static err_t root_fields(const ton_cell *data, cocoon_root *r) {
    ton_slice s;
    ts_init(&s, data);
    TRY(ts_addr(&s, &r->owner, &r->has_owner));
    TRY(u32(&s, &r->version));
    ton_cell *inner;
    ton_cell *params;
    TRY(ts_ref(&s, &inner));
    TRY(ts_ref(&s, &params));
    TRY(ts_expect_end(&s));
    TRY(cocoon_params_parse(params, &r->params));
    ton_slice d;
    ts_init(&d, inner);
    ton_cell *proxy_hashes, *proxies, *worker_hashes, *model_hashes;
    TRY(ts_dict(&d, &proxy_hashes));
    TRY(ts_dict(&d, &proxies));
    TRY(u32(&d, &r->last_proxy_seqno));
    TRY(ts_dict(&d, &worker_hashes));
    TRY(ts_dict(&d, &model_hashes));
    TRY(ts_expect_end(&d));
    r->proxy_hashes = ton_cell_ref(proxy_hashes);
    r->worker_hashes = ton_cell_ref(worker_hashes);
    r->model_hashes = ton_cell_ref(model_hashes);
    proxy_ctx pc = {r, 0};
    return ton_dict_foreach(proxies, 32, on_proxy, &pc);
}

err_t cocoon_root_parse(const ton_cell *data, cocoon_root *out) {
    memset(out, 0, sizeof(*out));
    err_t e = root_fields(data, out);
    if (e != ERR_OK) {
        cocoon_root_clear(out);
    }
    return e;
}

err_t cocoon_hash_set_has(const ton_cell *set, const uint8_t hash[32], bool *yes) {
    ton_slice v;
    TRY(ton_dict_get(set, 256, hash, &v, yes));
    if (*yes) {
        TRY(ts_expect_end(&v)); /* values are empty */
    }
    return ERR_OK;
}

err_t cocoon_signed_payload(uint32_t op, uint64_t query_id, bool has_tokens, uint64_t tokens,
                            const ton_addr *expected_my_address, ton_cell **out) {
    *out = NULL;
    ton_builder b;
    tb_init(&b);
    err_t e;
    if ((e = tb_uint(&b, op, 32)) || (e = tb_uint(&b, query_id, 64)) ||
        (has_tokens && (e = tb_uint(&b, tokens, 64))) || (e = tb_addr(&b, expected_my_address))) {
        tb_clear(&b);
        return e;
    }
    return tb_finish(&b, out);
}

err_t cocoon_signed_wrap(const ed25519_key *key, const ton_cell *payload,
                         const ton_addr *send_excesses_to, ton_cell **out) {
    *out = NULL;
    ton_slice s;
    ts_init(&s, payload);
    uint64_t op, qid;
    TRY(ts_uint(&s, 32, &op));
    TRY(ts_uint(&s, 64, &qid));
    uint8_t sig[ED25519_SIG_LEN];
    TRY(ed25519_sign(key, ton_cell_repr_hash(payload), TON_HASH_LEN, sig));
    ton_builder b;
    tb_init(&b);
    err_t e;
    if ((e = tb_uint(&b, op, 32)) || (e = tb_uint(&b, qid, 64)) ||
        (e = send_excesses_to ? tb_addr(&b, send_excesses_to) : tb_addr_none(&b)) ||
        (e = tb_bytes(&b, sig, sizeof(sig))) || (e = tb_ref(&b, (ton_cell *)payload))) {
        tb_clear(&b);
        return e;
    }
    return tb_finish(&b, out);
}

err_t cocoon_signed_verify(const uint8_t pub[32], const ton_cell *wrapper, ton_cell **payload) {
    *payload = NULL;
    ton_slice s;
    ts_init(&s, wrapper);
    uint64_t op, qid, pop, pqid;
    ton_addr excess;
    bool has_excess;
    uint8_t sig[ED25519_SIG_LEN];
    ton_cell *p;
    TRY(ts_uint(&s, 32, &op));
    TRY(ts_uint(&s, 64, &qid));
    TRY(ts_addr(&s, &excess, &has_excess));
    TRY(ts_bytes(&s, sizeof(sig), sig));
    TRY(ts_ref(&s, &p));
    TRY(ts_expect_end(&s));
    TRY(ed25519_verify(pub, ton_cell_repr_hash(p), TON_HASH_LEN, sig));
    ton_slice ps;
    ts_init(&ps, p);
    TRY(ts_uint(&ps, 32, &pop));
    TRY(ts_uint(&ps, 64, &pqid));
    if (pop != op || pqid != qid) {
        return err_fail(ERR_MALFORMED, "signed payload op/query_id differ from the wrapper's");
    }
    *payload = p;
    return ERR_OK;
}

err_t cocoon_proxy_save_state_body(uint64_t query_id, int32_t seqno, const uint8_t unique_hash[32],
                                   ton_cell **out) {
    *out = NULL;
    ton_builder b;
    tb_init(&b);
    err_t e;
    if ((e = tb_uint(&b, COCOON_OP_DO_NOT_PROCESS, 32)) || (e = tb_uint(&b, query_id, 64)) ||
        (e = tb_uint(&b, COCOON_OP_PROXY_SAVE_STATE, 32)) || (e = tb_int(&b, seqno, 32)) ||
        (e = tb_bytes(&b, unique_hash, 32))) {
        tb_clear(&b);
        return e;
    }
    return tb_finish(&b, out);
}
