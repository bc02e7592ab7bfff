/* Wallets the daemons sign for (../shared/reference/contracts.md §A.6 and §C.4):
 *  - wallet v5r1 (ton-blockchain/wallet-contract-v5): signature last, c5 OutList of actions;
 *  - the COCOON wallet (cocoon_wallet.fc): signature first, subwallet/valid_until/seqno, then
 *    (mode, ^message) pairs;
 *  - wallet v4r2: like the COCOON wallet plus an op byte (kept for known-answer vectors and for
 *    operators' existing wallets).
 * Every wallet signs the representation hash of the unsigned body cell with Ed25519.
 * Byte-for-byte agreement with @ton/ton's createTransfer is checked by tests/ton. */
#ifndef COCOON_TON_WALLET_H
#define COCOON_TON_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "base/err.h"
#include "cell.h"
#include "crypto/ed25519.h"

typedef enum {
    TON_WALLET_V4R2,
    TON_WALLET_V5R1,
    TON_WALLET_COCOON,
} ton_wallet_kind;

/* wallet v4 default wallet_id: 698983191 + workchain. */
#define TON_WALLET_V4_DEFAULT_ID 698983191u
#define TON_WALLET_V4_MAX_ACTIONS 4
#define TON_WALLET_COCOON_MAX_ACTIONS 4
#define TON_WALLET_V5_MAX_ACTIONS 255
/* Network global ids for the v5r1 wallet_id. */
#define TON_GLOBAL_ID_MAINNET (-239)
#define TON_GLOBAL_ID_TESTNET (-3)

/* v5r1 send modes on externals must include IGNORE_ERRORS (+2) or the wallet exits 137. */
#define TON_SEND_PAY_FEES_SEPARATELY 1
#define TON_SEND_IGNORE_ERRORS 2

extern const char TON_WALLET_V5R1_CODE_HEX[];

typedef struct {
    ton_wallet_kind kind;
    ed25519_key key;
    int32_t wc;
    uint32_t wallet_id; /* v4: wallet_id; v5r1: wallet_id; COCOON: subwallet_id */
    ton_cell *code;     /* owned */
    ton_cell *data;     /* owned: the initial data (seqno 0) */
    ton_addr addr;      /* wc:hash(StateInit(code, data)) */
} ton_wallet;

/* v5r1 wallet_id = global_id XOR context, context = 1:1 wc:int8 version:uint8(0) subwallet:15. */
uint32_t ton_wallet_v5r1_id(int32_t global_id, int32_t wc, uint16_t subwallet);

MUST_CHECK err_t ton_wallet_init_v5r1(ton_wallet *w, const ed25519_key *k, int32_t wc,
                                      uint32_t wallet_id);
/* code: the COCOON wallet code (contracts/ build output). owner may be NULL (addr_none). */
MUST_CHECK err_t ton_wallet_init_cocoon(ton_wallet *w, const ed25519_key *k, ton_cell *code,
                                        uint32_t subwallet, const ton_addr *owner);
MUST_CHECK err_t ton_wallet_init_v4r2(ton_wallet *w, const ed25519_key *k, ton_cell *code,
                                      int32_t wc, uint32_t wallet_id);
void ton_wallet_free(ton_wallet *w); /* wipes the key; NULL-safe */

typedef struct {
    ton_cell *msg; /* MessageRelaxed (see ton_msg_internal) */
    uint8_t mode;
} ton_wallet_action;

/* The signed body. v5r1 ORs TON_SEND_IGNORE_ERRORS into every mode (as @ton/ton does).
 * ERR_TOO_MANY above the wallet's action limit. */
MUST_CHECK err_t ton_wallet_body(const ton_wallet *w, uint32_t seqno, uint32_t valid_until,
                                 const ton_wallet_action *acts, size_t n, ton_cell **body);
/* The external-in message carrying the body (and the StateInit when with_init, i.e. for the
 * first send at seqno 0). */
MUST_CHECK err_t ton_wallet_external(const ton_wallet *w, uint32_t seqno, uint32_t valid_until,
                                     const ton_wallet_action *acts, size_t n, bool with_init,
                                     ton_cell **msg);

#endif
