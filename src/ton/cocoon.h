/* TL-B of the COCOON contracts that the daemons read and write (../shared/reference/contracts.md
 * §A.1-A.2; the same layouts as contracts/lib/cocoon.js): the CocoonParams cell and the root
 * contract's registry (owner, version, proxy/worker/model hash sets, registered proxies). */
#ifndef COCOON_TON_COCOON_H
#define COCOON_TON_COCOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "base/err.h"
#include "cell.h"
#include "crypto/ed25519.h"

/* Opcodes (§A.1-A.6; identical in the reference FunC, C++ Opcodes.hpp and contracts/). */
#define COCOON_OP_EXCESSES 0x2565934cu
#define COCOON_OP_PAYOUT 0xc59a7cd3u
#define COCOON_OP_DO_NOT_PROCESS 0x9a1247c0u
#define COCOON_OP_WORKER_PROXY_REQUEST 0x4d725d2cu
#define COCOON_OP_WORKER_PROXY_PAYOUT_REQUEST 0x08e7d036u
#define COCOON_OP_CLIENT_PROXY_REQUEST 0x65448ff4u
#define COCOON_OP_CLIENT_PROXY_TOP_UP 0x5cfc6b87u
#define COCOON_OP_CLIENT_PROXY_REGISTER 0xa35cb580u
#define COCOON_OP_CLIENT_PROXY_REFUND_GRANTED 0xc68ebc7bu
#define COCOON_OP_CLIENT_PROXY_REFUND_FORCE 0xf4c354c9u
#define COCOON_OP_EXT_PROXY_PAYOUT_REQUEST 0x7610e6ebu
#define COCOON_OP_EXT_PROXY_INCREASE_STAKE 0x9713f187u
#define COCOON_OP_EXT_PROXY_CLOSE_REQUEST_SIGNED 0x636a4391u
#define COCOON_OP_EXT_PROXY_CLOSE_COMPLETE_REQUEST_SIGNED 0xe511abc7u
#define COCOON_OP_OWNER_PROXY_CLOSE 0xb51d5a01u
#define COCOON_OP_PROXY_SAVE_STATE 0x53109c0fu
#define COCOON_OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED 0xa040ad28u
#define COCOON_OP_EXT_WORKER_LAST_PAYOUT_REQUEST_SIGNED 0xf5f26a36u
#define COCOON_OP_OWNER_WORKER_REGISTER 0x26ed7f65u
#define COCOON_OP_EXT_CLIENT_TOP_UP 0xf172e6c2u
#define COCOON_OP_OWNER_CLIENT_CHANGE_SECRET_HASH_AND_TOP_UP 0x8473b408u
#define COCOON_OP_OWNER_CLIENT_REGISTER 0xc45f9f3bu
#define COCOON_OP_OWNER_CLIENT_CHANGE_SECRET_HASH 0xa9357034u
#define COCOON_OP_OWNER_CLIENT_INCREASE_STAKE 0x6a1f6a60u
#define COCOON_OP_OWNER_CLIENT_WITHDRAW 0xda068e78u
#define COCOON_OP_OWNER_CLIENT_REQUEST_REFUND 0xfafa6cc1u
#define COCOON_OP_EXT_CLIENT_CHARGE_SIGNED 0xbb63ff93u
#define COCOON_OP_EXT_CLIENT_GRANT_REFUND_SIGNED 0xefd711e1u
#define COCOON_OP_OWNER_WALLET_SEND_MESSAGE 0x9c69f376u

#define COCOON_PARAMS_VERSION 3
/* Multipliers are fixed point with this scale (10000 = 1.0). */
#define COCOON_MULT_ONE 10000u
/* Registered proxies read from a root; more is ERR_TOO_MANY. */
#define COCOON_ROOT_MAX_PROXIES 4096
#define COCOON_PROXY_DESC_MAX 127

typedef struct {
    uint8_t struct_version;
    uint32_t params_version;
    uint32_t unique_id;
    bool is_test;
    uint64_t price_per_token;
    uint64_t worker_fee_per_token;
    uint32_t prompt_mult, cached_mult, completion_mult, reasoning_mult;
    uint32_t proxy_delay_before_close;
    uint32_t client_delay_before_close;
    uint64_t min_proxy_stake;
    uint64_t min_client_stake;
    ton_cell *proxy_code; /* owned; NULL when absent */
    ton_cell *worker_code;
    ton_cell *client_code;
} cocoon_params;

/* Struct versions 0..3 (fields a version lacks take the reference defaults: multipliers 1.0,
 * stakes 0); the cell must be consumed exactly. ERR_MALFORMED for an unknown version. */
MUST_CHECK err_t cocoon_params_parse(const ton_cell *c, cocoon_params *out);
/* Always writes struct version 3. */
MUST_CHECK err_t cocoon_params_build(const cocoon_params *p, ton_cell **out);
void cocoon_params_clear(cocoon_params *p);

typedef struct {
    uint32_t seqno;
    char text[COCOON_PROXY_DESC_MAX + 1]; /* "ip:port" or "ip:port_workers ip:port_clients" */
} cocoon_proxy_desc;

typedef struct {
    bool has_owner;
    ton_addr owner;
    uint32_t version;
    ton_cell *proxy_hashes; /* HashmapE 256 () roots, owned; NULL when empty */
    ton_cell *worker_hashes;
    ton_cell *model_hashes;
    cocoon_proxy_desc *proxies; /* ascending seqno; text (type 0) descriptions only */
    size_t nproxies;
    uint32_t last_proxy_seqno;
    cocoon_params params;
} cocoon_root;

/* The root contract's data cell (§A.2). Descriptions must be printable ASCII. */
MUST_CHECK err_t cocoon_root_parse(const ton_cell *data, cocoon_root *out);
void cocoon_root_clear(cocoon_root *r);
/* Membership in one of the root's hash sets (e.g. r->worker_hashes). */
MUST_CHECK err_t cocoon_hash_set_has(const ton_cell *set, const uint8_t hash[32], bool *yes);

/* ---- signed messages (§A.8) ---- */

/* Payload op:32 query_id:64 [tokens:64] expected_my_address, for the signed ops:
 *  - client charge / grant refund and worker payout / last payout carry tokens (has_tokens);
 *  - proxy close / close complete carry none. */
MUST_CHECK err_t cocoon_signed_payload(uint32_t op, uint64_t query_id, bool has_tokens,
                                       uint64_t tokens, const ton_addr *expected_my_address,
                                       ton_cell **out);
/* Wrapper op:32 query_id:64 send_excesses_to:MsgAddress signature:512 ^payload, where op and
 * query_id are copied from the payload and the Ed25519 signature covers the payload's
 * representation hash. send_excesses_to NULL = addr_none. */
MUST_CHECK err_t cocoon_signed_wrap(const ed25519_key *key, const ton_cell *payload,
                                    const ton_addr *send_excesses_to, ton_cell **out);
/* What the contracts check before acting: the signature over the payload hash with pub, the
 * wrapper's op/query_id equal to the payload's (else ERR_MALFORMED, their 1005), no leftovers.
 * *payload is borrowed from the wrapper. */
MUST_CHECK err_t cocoon_signed_verify(const uint8_t pub[32], const ton_cell *wrapper,
                                      ton_cell **payload);

/* The body the proxy's wallet sends to its own contract to anchor its database state (ignored
 * by the contract): do_not_process:32 query_id:64 proxy_save_state:32 seqno:int32 hash:256. */
MUST_CHECK err_t cocoon_proxy_save_state_body(uint64_t query_id, int32_t seqno,
                                              const uint8_t unique_hash[32], ton_cell **out);

#endif
