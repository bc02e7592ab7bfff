/* Coins, StateInit and messages (TL-B from block.tlb: message$_, int_msg_info$0,
 * ext_in_msg_info$10, _ split_depth:(Maybe (## 5)) special:(Maybe TickTock) code:(Maybe ^Cell)
 * data:(Maybe ^Cell) library:(HashmapE 256 SimpleLib) = StateInit).
 *
 * Inline-versus-ref choices follow @ton/core's storeMessage/storeMessageRelaxed so the cells
 * (and so the hashes that wallets sign) are identical to what the JS tooling builds. */
#ifndef COCOON_TON_MSG_H
#define COCOON_TON_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "base/err.h"
#include "cell.h"

/* VarUInteger n (len:(#< n) value:(uint len*8)): len_bits is 4 for n=16 (Coins), 5 for n=32.
 * The value is big-endian in be[0..n) with no leading zero bytes required. */
MUST_CHECK err_t tb_varuint(ton_builder *b, unsigned len_bits, const uint8_t *be, size_t n);
/* Reads into out (cap bytes), *n = byte length as stored (ERR_TOO_LARGE if over cap).
 * A stored value with a leading zero byte is non-canonical but legal TL-B; it is accepted. */
MUST_CHECK err_t ts_varuint(ton_slice *s, unsigned len_bits, uint8_t *out, size_t cap, size_t *n);
/* Coins as uint64 (every real TON amount fits; ERR_TOO_LARGE otherwise). */
MUST_CHECK err_t tb_coins(ton_builder *b, uint64_t v);
MUST_CHECK err_t ts_coins(ton_slice *s, uint64_t *v);

/* StateInit with code and data only (the form every contract deploy uses). */
MUST_CHECK err_t ton_state_init(ton_cell *code, ton_cell *data, ton_cell **out);
/* Address of the contract: wc:repr_hash(StateInit). */
MUST_CHECK err_t ton_state_init_address(int32_t wc, ton_cell *code, ton_cell *data, ton_addr *out);

typedef enum {
    TON_PLACE_AUTO = 0, /* @ton/core's rule: inline when it fits */
    TON_PLACE_INLINE,
    TON_PLACE_REF,
} ton_place;

/* An internal message as a wallet sends it (MessageRelaxed: src = addr_none, fees, lt and
 * time zero; the validator fills them in). */
typedef struct {
    ton_addr dest;
    uint64_t value;
    bool bounce;
    bool ihr_disabled;    /* @ton/core's default is true */
    ton_cell *state_init; /* optional */
    ton_cell *body;       /* optional: NULL is the empty cell */
    ton_place place;      /* TON_PLACE_REF forces both init and body into refs */
} ton_int_msg;

MUST_CHECK err_t ton_msg_internal(const ton_int_msg *m, ton_cell **out);

/* ext_in_msg_info$10 src:addr_none dest import_fee:0, optional StateInit, body. */
MUST_CHECK err_t ton_msg_external(const ton_addr *dest, ton_cell *state_init, ton_cell *body,
                                  ton_place place, ton_cell **out);

/* TEP-467 normalized hash of an external-in message: the message rebuilt with src addr_none,
 * import_fee 0, no StateInit and the body as a ref. It identifies the resulting transaction's
 * in_msg independently of how the sender packed the message. */
MUST_CHECK err_t ton_msg_normalized_hash(const ton_cell *ext_msg, uint8_t out[TON_HASH_LEN]);

/* Parsed header of a message (internal or external-in), for watching transactions. */
typedef struct {
    bool internal;
    bool bounce, bounced;
    bool has_src;
    ton_addr src;
    bool has_dest;
    ton_addr dest;
    uint64_t value;
    uint64_t created_lt;
    uint32_t created_at;
    bool has_init;       /* a StateInit came with the message (inline or as a ref) */
    ton_cell *init_code; /* borrowed; NULL when absent */
    ton_cell *init_data; /* borrowed; NULL when absent */
    ton_slice body;      /* the body, inline or the ref's contents */
} ton_msg_info;

/* Parses internal and external-in messages (external-out is ERR_MALFORMED). */
MUST_CHECK err_t ton_msg_parse(const ton_cell *msg, ton_msg_info *out);

#endif
