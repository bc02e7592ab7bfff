/* TON HTTP API v2 client (toncenter-compatible; ../shared/reference/contracts.md §C.1-C.2) over
 * libcurl. The same code talks to localton and to public endpoints: only the base URL and the
 * API key differ.
 *
 * Requests are blocking; run them on a worker thread, one ton_api per thread. Rate limits
 * (HTTP 429) and transient server or network failures (502/503/504, connect errors, timeouts)
 * are retried with exponential backoff; an API-level refusal (ok:false with 4xx/500) is not.
 */
#ifndef COCOON_TON_API_H
#define COCOON_TON_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "base/err.h"
#include "cell.h"
#include "wallet.h"

/* Largest response body accepted (getTransactions with 100 BOCs fits easily). */
#define TON_API_MAX_RESPONSE (16u << 20)
#define TON_API_MAX_TXS 100
#define TON_API_MAX_STACK 64

typedef struct {
    const char *base_url; /* up to and including "/api/v2", no trailing slash needed */
    const char *api_key;  /* optional: sent as X-API-Key */
    unsigned timeout_ms;  /* per attempt; 0 = 15000 */
    unsigned max_retries; /* retries after the first attempt; 0 = none */
    unsigned backoff_ms;  /* first retry delay, doubled each time; 0 = 500 */
} ton_api_config;

typedef struct ton_api ton_api;

MUST_CHECK err_t ton_api_new(const ton_api_config *cfg, ton_api **out);
void ton_api_free(ton_api *api); /* NULL-safe */
/* Last API error text ("" if none), for messages to the operator. */
const char *ton_api_last_error(const ton_api *api);
/* HTTP status of the last response (0 if none arrived). */
long ton_api_last_status(const ton_api *api);

typedef struct {
    uint64_t lt;
    uint8_t hash[32];
} ton_tx_id;

typedef enum {
    TON_ACCOUNT_UNINIT,
    TON_ACCOUNT_ACTIVE,
    TON_ACCOUNT_FROZEN,
} ton_account_state;

typedef struct {
    uint64_t balance; /* nanotons */
    ton_account_state state;
    ton_cell *code; /* owned; NULL unless active */
    ton_cell *data; /* owned; NULL unless active */
    ton_tx_id last_tx;
    uint32_t sync_utime;
} ton_account;

MUST_CHECK err_t ton_api_get_account(ton_api *api, const ton_addr *a, ton_account *out);
void ton_account_clear(ton_account *a);
const char *ton_account_state_name(ton_account_state s);

MUST_CHECK err_t ton_api_masterchain_seqno(ton_api *api, uint32_t *seqno);

/* ---- get-methods ---- */

typedef enum {
    TON_STACK_NULL,
    TON_STACK_NUM, /* up to 257-bit signed */
    TON_STACK_CELL,
    TON_STACK_SLICE,
    TON_STACK_TUPLE, /* also lists */
} ton_stack_type;

typedef struct ton_stack_item {
    ton_stack_type type;
    bool neg;                     /* NUM: sign */
    uint8_t num[33];              /* NUM: magnitude, big-endian */
    ton_cell *cell;               /* CELL/SLICE: owned */
    struct ton_stack_item *items; /* TUPLE: owned */
    size_t nitems;
} ton_stack_item;

typedef struct {
    ton_stack_item *items;
    size_t n;
    int32_t exit_code;
    uint64_t gas_used;
} ton_stack;

void ton_stack_num_u64(ton_stack_item *it, uint64_t v);
/* ERR_TOO_LARGE unless the item is a non-negative NUM below 2^64 (ERR_MALFORMED if not NUM). */
MUST_CHECK err_t ton_stack_get_u64(const ton_stack_item *it, uint64_t *v);
void ton_stack_clear(ton_stack *s);
void ton_stack_item_clear(ton_stack_item *it);

/* Runs method (name) with args; *out receives the result stack and exit code (a non-zero exit
 * code is a successful call: the caller decides). */
MUST_CHECK err_t ton_api_run_get_method(ton_api *api, const ton_addr *a, const char *method,
                                        const ton_stack_item *args, size_t nargs, ton_stack *out);

/* ---- sending ---- */

/* sendBocReturnHash: *hash = the message hash, *hash_norm = TEP-467 normalized hash (computed
 * locally when the server does not return it). ERR_CHAIN_REJECTED if the chain refused it. */
MUST_CHECK err_t ton_api_send(ton_api *api, const ton_cell *ext_msg, uint8_t hash[32],
                              uint8_t hash_norm[32]);

typedef struct {
    ton_tx_id id;
    uint32_t utime;
    uint64_t fee;
    bool has_in_msg;
    bool in_external; /* external-in (no source) */
    bool in_has_src;
    ton_addr in_src;
    uint64_t in_value;
    ton_cell *in_body; /* owned: the in_msg body (empty cell if none) */
    bool in_has_hash;
    uint8_t in_hash[32]; /* message hash, when the server reports it */
    size_t n_out;
} ton_tx;

void ton_tx_clear(ton_tx *t);

/* Up to `limit` (<= TON_API_MAX_TXS) transactions, newest first, starting at `from` inclusive
 * (NULL: the account's last one) and stopping at lt <= to_lt. *n receives the count. */
MUST_CHECK err_t ton_api_get_transactions(ton_api *api, const ton_addr *a, const ton_tx_id *from,
                                          uint64_t to_lt, size_t limit, ton_tx *out, size_t *n);

typedef struct {
    uint64_t in_fwd_fee, storage_fee, gas_fee, fwd_fee;
} ton_fees;

MUST_CHECK err_t ton_api_estimate_fee(ton_api *api, const ton_addr *a, const ton_cell *body,
                                      const ton_cell *init_code, const ton_cell *init_data,
                                      ton_fees *out);

/* ---- wallets over the API ---- */

/* Current seqno: the `seqno` get-method of an active wallet, 0 for an undeployed one. */
MUST_CHECK err_t ton_api_wallet_seqno(ton_api *api, const ton_wallet *w, uint32_t *seqno,
                                      bool *deployed);

typedef struct {
    uint32_t seqno;
    uint32_t valid_until;
    uint8_t body_hash[32]; /* representation hash of the signed body: identifies the tx */
    uint8_t msg_hash[32];
    uint8_t msg_hash_norm[32];
    uint64_t after_lt; /* the wallet's last lt before sending */
} ton_sent;

/* Reads the seqno, signs (valid_until = now + ttl; StateInit included while undeployed) and
 * sends. `now` is the caller's clock (unix seconds). */
MUST_CHECK err_t ton_api_wallet_send(ton_api *api, const ton_wallet *w,
                                     const ton_wallet_action *acts, size_t n, uint32_t now,
                                     uint32_t ttl, ton_sent *out);

/* Confirmation by watching transactions: walks the wallet's transactions newer than
 * sent->after_lt looking for the external whose in_msg body hash equals sent->body_hash.
 * *found is false if it has not appeared yet (poll again; resend the same body until
 * valid_until passes). */
MUST_CHECK err_t ton_api_find_sent(ton_api *api, const ton_wallet *w, const ton_sent *sent,
                                   bool *found, ton_tx_id *tx);

typedef struct {
    uint32_t ttl;       /* valid_until = chain time + ttl; 0 = 3600 (the reference node's) */
    unsigned poll_ms;   /* 0 = 1000 */
    unsigned resend_ms; /* 0 = 30000 (the reference node resends every 30 s) */
} ton_transfer_opts;

/* Send and confirm: signs once (valid_until from the chain's clock, sync_utime, so a skewed
 * local clock cannot expire bodies early), sends, polls the wallet's transactions and resends
 * the same message every resend_ms until it appears (ERR_OK, *tx set). ERR_TIMEOUT once the
 * chain time passes valid_until without it; ERR_CHAIN_REJECTED if the seqno was consumed by
 * another message. Blocking: run it on a worker thread. */
MUST_CHECK err_t ton_api_wallet_transfer(ton_api *api, const ton_wallet *w,
                                         const ton_wallet_action *acts, size_t n,
                                         const ton_transfer_opts *opts, ton_sent *sent,
                                         ton_tx_id *tx);

/* localton only (POST <root>/localton/faucet, where <root> is base_url minus "/api/v2"):
 * credits `amount` nanotons to a from the local faucet. Public endpoints answer 404. */
MUST_CHECK err_t ton_api_local_faucet(ton_api *api, const ton_addr *a, uint64_t amount);
/* localton only: moves the chain clock forward; *now receives the new chain time. */
MUST_CHECK err_t ton_api_local_advance_time(ton_api *api, uint32_t seconds, uint64_t *now);

#endif
