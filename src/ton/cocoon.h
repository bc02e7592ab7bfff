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

#endif
