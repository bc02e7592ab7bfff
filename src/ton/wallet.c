#include "wallet.h"

#include <string.h>

#include "boc.h"
#include "msg.h"

/* wallet v5r1 opcodes (wallet-contract-v5: auth_signed_external, action_send_msg). */
#define V5_OP_SIGNED_EXTERNAL 0x7369676eu
#define V5_ACTION_SEND_MSG 0x0ec3c86du

uint32_t ton_wallet_v5r1_id(int32_t global_id, int32_t wc, uint16_t subwallet) {
    uint32_t ctx =
        (1u << 31) | ((uint32_t)(uint8_t)(int8_t)wc << 23) | (0u << 15) | (subwallet & 0x7fffu);
    return (uint32_t)global_id ^ ctx;
}

static err_t finish_wallet(ton_wallet *w, ton_builder *b) {
    err_t e = tb_finish(b, &w->data);
    if (e == ERR_OK) {
        e = ton_state_init_address(w->wc, w->code, w->data, &w->addr);
    }
    if (e != ERR_OK) {
        ton_wallet_free(w);
    }
    return e;
}

err_t ton_wallet_init_v5r1(ton_wallet *w, const ed25519_key *k, int32_t wc, uint32_t wallet_id) {
    memset(w, 0, sizeof(*w));
    w->kind = TON_WALLET_V5R1;
    w->key = *k;
    w->wc = wc;
    w->wallet_id = wallet_id;
    err_t e = ton_boc_parse_text(TON_WALLET_V5R1_CODE_HEX, strlen(TON_WALLET_V5R1_CODE_HEX), NULL,
                                 &w->code);
    if (e != ERR_OK) {
        ton_wallet_free(w);
        return e;
    }
    /* is_signature_allowed:1 seqno:32 wallet_id:32 pubkey:256 extensions:HashmapE 256 */
    ton_builder b;
    tb_init(&b);
    if ((e = tb_bit(&b, true)) || (e = tb_uint(&b, 0, 32)) || (e = tb_uint(&b, wallet_id, 32)) ||
        (e = tb_bytes(&b, k->pub, 32)) || (e = tb_bit(&b, false))) {
        ton_wallet_free(w);
        return e;
    }
    return finish_wallet(w, &b);
}

err_t ton_wallet_init_cocoon(ton_wallet *w, const ed25519_key *k, ton_cell *code,
                             uint32_t subwallet, const ton_addr *owner) {
    memset(w, 0, sizeof(*w));
    w->kind = TON_WALLET_COCOON;
    w->key = *k;
    w->wc = 0;
    w->wallet_id = subwallet;
    w->code = ton_cell_ref(code);
    /* seqno:32 subwallet_id:32 public_key:256 status:32 owner_address:MsgAddress (§A.6) */
    ton_builder b;
    tb_init(&b);
    err_t e;
    if ((e = tb_uint(&b, 0, 32)) || (e = tb_uint(&b, subwallet, 32)) ||
        (e = tb_bytes(&b, k->pub, 32)) || (e = tb_uint(&b, 0, 32)) ||
        (e = owner ? tb_addr(&b, owner) : tb_addr_none(&b))) {
        ton_wallet_free(w);
        return e;
    }
    return finish_wallet(w, &b);
}

err_t ton_wallet_init_v4r2(ton_wallet *w, const ed25519_key *k, ton_cell *code, int32_t wc,
                           uint32_t wallet_id) {
    memset(w, 0, sizeof(*w));
    w->kind = TON_WALLET_V4R2;
    w->key = *k;
    w->wc = wc;
    w->wallet_id = wallet_id;
    w->code = ton_cell_ref(code);
    /* seqno:32 wallet_id:32 pubkey:256 plugins:HashmapE */
    ton_builder b;
    tb_init(&b);
    err_t e;
    if ((e = tb_uint(&b, 0, 32)) || (e = tb_uint(&b, wallet_id, 32)) ||
        (e = tb_bytes(&b, k->pub, 32)) || (e = tb_bit(&b, false))) {
        ton_wallet_free(w);
        return e;
    }
    return finish_wallet(w, &b);
}

void ton_wallet_free(ton_wallet *w) {
    if (!w) {
        return;
    }
    ton_cell_unref(w->code);
    ton_cell_unref(w->data);
    ed25519_wipe(&w->key);
    memset(w, 0, sizeof(*w));
}

/* v4r2 and COCOON: signature:512 then the signed cell's bits and refs (§C.4, §A.6). */
static err_t body_signature_first(const ton_wallet *w, uint32_t seqno, uint32_t valid_until,
                                  const ton_wallet_action *acts, size_t n, ton_cell **out) {
    size_t max =
        w->kind == TON_WALLET_V4R2 ? TON_WALLET_V4_MAX_ACTIONS : TON_WALLET_COCOON_MAX_ACTIONS;
    if (n > max) {
        return err_fail(ERR_TOO_MANY, "%zu actions (wallet takes %zu)", n, max);
    }
    ton_builder b;
    tb_init(&b);
    ton_cell *unsigned_cell = NULL;
    err_t e;
    if ((e = tb_uint(&b, w->wallet_id, 32)) || (e = tb_uint(&b, valid_until, 32)) ||
        (e = tb_uint(&b, seqno, 32))) {
        goto out;
    }
    if (w->kind == TON_WALLET_V4R2 && (e = tb_uint(&b, 0, 8))) { /* op 0: simple send */
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = tb_uint(&b, acts[i].mode, 8)) || (e = tb_ref(&b, acts[i].msg))) {
            goto out;
        }
    }
    if ((e = tb_finish(&b, &unsigned_cell))) {
        goto out;
    }
    uint8_t sig[ED25519_SIG_LEN];
    if ((e = ed25519_sign(&w->key, ton_cell_repr_hash(unsigned_cell), TON_HASH_LEN, sig))) {
        goto out;
    }
    ton_slice s;
    ts_init(&s, unsigned_cell);
    if ((e = tb_bytes(&b, sig, sizeof(sig))) || (e = tb_slice(&b, &s))) {
        goto out;
    }
    e = tb_finish(&b, out);
out:
    tb_clear(&b);
    ton_cell_unref(unsigned_cell);
    return e;
}

/* OutList (c5): each action cell = ^previous, action_send_msg#0ec3c86d mode:8, ^message; the
 * first action's previous is the empty cell; the head is the last action. */
static err_t out_list(const ton_wallet_action *acts, size_t n, ton_cell **out) {
    ton_builder b;
    tb_init(&b);
    ton_cell *list;
    TRY(tb_finish(&b, &list));
    for (size_t i = 0; i < n; i++) {
        ton_cell *next;
        err_t e;
        if ((e = tb_ref(&b, list)) || (e = tb_uint(&b, V5_ACTION_SEND_MSG, 32)) ||
            (e = tb_uint(&b, acts[i].mode | TON_SEND_IGNORE_ERRORS, 8)) ||
            (e = tb_ref(&b, acts[i].msg)) || (e = tb_finish(&b, &next))) {
            tb_clear(&b);
            ton_cell_unref(list);
            return e;
        }
        ton_cell_unref(list);
        list = next;
    }
    *out = list;
    return ERR_OK;
}

/* v5r1: op "sign" wallet_id valid_until seqno out_list:(Maybe ^OutList) has_other_actions:0,
 * then signature:512 last (§C.4). */
static err_t body_v5r1(const ton_wallet *w, uint32_t seqno, uint32_t valid_until,
                       const ton_wallet_action *acts, size_t n, ton_cell **out) {
    if (n > TON_WALLET_V5_MAX_ACTIONS) {
        return err_fail(ERR_TOO_MANY, "%zu actions (v5r1 takes 255)", n);
    }
    ton_cell *list = NULL;
    ton_cell *unsigned_cell = NULL;
    ton_builder b;
    tb_init(&b);
    err_t e = ERR_OK;
    if (n > 0 && (e = out_list(acts, n, &list))) {
        goto out;
    }
    if ((e = tb_uint(&b, V5_OP_SIGNED_EXTERNAL, 32)) || (e = tb_uint(&b, w->wallet_id, 32)) ||
        (e = tb_uint(&b, valid_until, 32)) || (e = tb_uint(&b, seqno, 32)) ||
        (e = tb_bit(&b, list != NULL)) || (list && (e = tb_ref(&b, list))) ||
        (e = tb_bit(&b, false))) {
        goto out;
    }
    ton_builder copy = b;
    for (unsigned i = 0; i < copy.nrefs; i++) {
        ton_cell_ref(copy.refs[i]);
    }
    if ((e = tb_finish(&copy, &unsigned_cell))) {
        goto out;
    }
    uint8_t sig[ED25519_SIG_LEN];
    if ((e = ed25519_sign(&w->key, ton_cell_repr_hash(unsigned_cell), TON_HASH_LEN, sig)) ||
        (e = tb_bytes(&b, sig, sizeof(sig)))) {
        goto out;
    }
    e = tb_finish(&b, out);
out:
    tb_clear(&b);
    ton_cell_unref(list);
    ton_cell_unref(unsigned_cell);
    return e;
}

err_t ton_wallet_body(const ton_wallet *w, uint32_t seqno, uint32_t valid_until,
                      const ton_wallet_action *acts, size_t n, ton_cell **body) {
    *body = NULL;
    if (w->kind == TON_WALLET_V5R1) {
        return body_v5r1(w, seqno, valid_until, acts, n, body);
    }
    return body_signature_first(w, seqno, valid_until, acts, n, body);
}

err_t ton_wallet_external(const ton_wallet *w, uint32_t seqno, uint32_t valid_until,
                          const ton_wallet_action *acts, size_t n, bool with_init, ton_cell **msg) {
    *msg = NULL;
    ton_cell *body = NULL;
    ton_cell *si = NULL;
    err_t e = ton_wallet_body(w, seqno, valid_until, acts, n, &body);
    if (e == ERR_OK && with_init) {
        e = ton_state_init(w->code, w->data, &si);
    }
    if (e == ERR_OK) {
        e = ton_msg_external(&w->addr, si, body, TON_PLACE_AUTO, msg);
    }
    ton_cell_unref(body);
    ton_cell_unref(si);
    return e;
}
