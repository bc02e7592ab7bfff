/* The root registry: what the network trusts, read through one interface whatever its source.
 *
 * It holds what the reference reads from the root contract (cocoon-internals.md §1.2, §1.7,
 * §4.3): the registered proxies (a worker address and a client address each), the image hashes
 * allowed for proxies and for workers, the model hashes (SHA-256 of the full model id
 * `name@commit:verity`, exactly the bytes the worker advertises) and the prices. Sources:
 *   file   a JSON document (offline networks, tests, `cocoon up`), registry_from_json
 *   chain  the root contract's data cell (§A.2, read raw as the reference node does),
 *          registry_from_root_data; fetching it over the TON HTTP API is registry/source.h
 * A registry is read on one thread; a refresh builds a new one and moves it in with
 * registry_replace on the thread that reads it. */
#ifndef COCOON_REGISTRY_REGISTRY_H
#define COCOON_REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ton/cell.h"

#define REGISTRY_MAX_PROXIES 64
#define REGISTRY_MAX_HASHES 1024
#define REGISTRY_ADDR_MAX 272 /* host (≤ 255) ':' port */
#define REGISTRY_JSON_MAX (1u << 20)

typedef struct {
    char worker_addr[REGISTRY_ADDR_MAX]; /* host:port where workers connect (tdx policy) */
    char client_addr[REGISTRY_ADDR_MAX]; /* host:port where clients connect (any policy) */
} registry_proxy;

typedef struct registry registry;

/* JSON object (unknown keys are errors, ERR_CONFIG with a detail naming the key):
 *   "version": n                          registry (root params) version, default 0
 *   "proxies": [{"worker": "h:p", "client": "h:p"}]      1..64 entries
 *   "proxy_image_hashes":  [hex32]        allowed proxy images
 *   "worker_image_hashes": [hex32]        allowed worker images
 *   "model_hashes": [hex32]               SHA-256 of full model ids
 *   "models": ["name@commit:verity"]      the same, hashed while loading
 *   "check_hashes": bool                  default true; false turns the three checks off
 *   "price_per_token", "worker_fee_per_token": n   nanoTON per token, default 0
 * At most 1024 hashes per list. */
MUST_CHECK err_t registry_from_json(const char *json, size_t len, registry **out);
MUST_CHECK err_t registry_from_file(const char *path, registry **out);
/* The root contract's data (owner version ^data ^params, §A.2) as a registry: registered
 * proxies ("ip:port" serves both roles, "ipW:portW ipC:portC" one each; 1..64, anything else
 * ERR_TOO_MANY / ERR_MALFORMED), the proxy/worker/model hash sets (empty values, at most 1024
 * each), version = the root's version, prices from the params (ERR_TOO_LARGE above INT64_MAX).
 * Hash checks are always on. Any malformed cell is an error and nothing is returned. */
MUST_CHECK err_t registry_from_root_data(const ton_cell *data, registry **out);
void registry_free(registry *r);
/* Moves fresh's contents into r and frees fresh: proxy list, hash lists, prices, version and
 * checks. */
void registry_replace(registry *r, registry *fresh);
/* Same contents (proxies, lists in order, version, checks, prices). */
bool registry_equal(const registry *a, const registry *b);

int64_t registry_version(const registry *r);
size_t registry_proxy_count(const registry *r);
const registry_proxy *registry_proxy_at(const registry *r, size_t i);
bool registry_checks_hashes(const registry *r);
/* ERR_OK or ERR_IMAGE_NOT_ALLOWED (always ERR_OK when checks are off). */
MUST_CHECK err_t registry_check_proxy_image(const registry *r, const uint8_t hash[32]);
MUST_CHECK err_t registry_check_worker_image(const registry *r, const uint8_t hash[32]);
/* The full model id's SHA-256 must be listed: ERR_OK or ERR_NOT_FOUND. */
MUST_CHECK err_t registry_check_model(const registry *r, const char *full_model_id, size_t len);

/* Following the proxy list with a fixed array of link slots (client and worker roles). The
 * role answers for slot i: its proxy address when in use (NULL when free), whether a link
 * object still exists (a closing one too), and the proxy's image hash once it is attested (NULL
 * before); it closes a slot's link (retire: the proxy left the list, the slot becomes free;
 * else the link only, its image is no longer allowed) and makes a free slot follow a proxy. */
typedef struct {
    const char *(*addr)(void *role, size_t i, bool *linked, const uint8_t **image);
    void (*drop)(void *role, size_t i, bool retire);
    void (*take)(void *role, size_t i, const char *addr);
} registry_slot_ops;
/* Retires slots whose proxy left the list, drops attested proxies whose image is no longer
 * allowed, and gives each newly listed proxy a free slot whose old link is gone (logged under
 * `module` when none is). worker_side: match worker addresses, else client addresses. */
void registry_follow(const registry *r, bool worker_side, size_t nslots,
                     const registry_slot_ops *ops, void *role, const char *module);
int64_t registry_price_per_token(const registry *r);
int64_t registry_worker_fee_per_token(const registry *r);

/* The model name clients ask for: the full id up to the first '@' (reference §6). */
size_t registry_model_base_len(const char *full_model_id, size_t len);

#endif
