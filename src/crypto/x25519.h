/* X25519 (RFC 7748) key agreement over raw 32-byte keys. */
#ifndef COCOON_CRYPTO_X25519_H
#define COCOON_CRYPTO_X25519_H

#include <stdint.h>

#include "base/err.h"

#define X25519_LEN 32

typedef struct {
    uint8_t priv[X25519_LEN];
    uint8_t pub[X25519_LEN];
} x25519_key;

MUST_CHECK err_t x25519_generate(x25519_key *k);
/* Rejects an all-zero shared secret (small-order peer key). */
MUST_CHECK err_t x25519_shared(const x25519_key *k, const uint8_t peer[X25519_LEN],
                               uint8_t out[X25519_LEN]);

#endif
