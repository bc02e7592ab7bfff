/* Verified-certificate cache: SHA-256(certificate DER) -> what the certificate proved.
 * Entries expire at min(insertion + ttl, certificate notAfter); a hit still re-checks the
 * validity window and the policy, so only the parse and the signature work is saved.
 * One cache belongs to one ratls_ctx (its policy's roots made the verdict). Thread-safe. */
#ifndef COCOON_RATLS_CACHE_H
#define COCOON_RATLS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratls/policy.h"

typedef struct ratls_cache ratls_cache;

/* capacity is rounded up to a power of two (at most 1<<20). NULL on allocation failure. */
ratls_cache *ratls_cache_new(size_t capacity, uint32_t ttl_secs);
void ratls_cache_free(ratls_cache *c);
bool ratls_cache_get(ratls_cache *c, const uint8_t key[32], int64_t now, ratls_peer *out);
void ratls_cache_put(ratls_cache *c, const uint8_t key[32], int64_t now, const ratls_peer *peer);
void ratls_cache_stats(ratls_cache *c, uint64_t *hits, uint64_t *misses);

#endif
