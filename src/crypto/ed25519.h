/* Ed25519 (RFC 8032) over raw 32-byte keys: identity keys of certificates, TON wallets,
 * signed payments. */
#ifndef COCOON_CRYPTO_ED25519_H
#define COCOON_CRYPTO_ED25519_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define ED25519_SEED_LEN 32
#define ED25519_PUB_LEN 32
#define ED25519_SIG_LEN 64

typedef struct {
    uint8_t seed[ED25519_SEED_LEN]; /* the private key */
    uint8_t pub[ED25519_PUB_LEN];
} ed25519_key;

MUST_CHECK err_t ed25519_generate(ed25519_key *k);
MUST_CHECK err_t ed25519_from_seed(ed25519_key *k, const uint8_t seed[ED25519_SEED_LEN]);
MUST_CHECK err_t ed25519_sign(const ed25519_key *k, const void *msg, size_t n,
                              uint8_t sig[ED25519_SIG_LEN]);
/* ERR_OK only for a valid signature; ERR_BAD_SIGNATURE or ERR_BAD_KEY otherwise. */
MUST_CHECK err_t ed25519_verify(const uint8_t pub[ED25519_PUB_LEN], const void *msg, size_t n,
                                const uint8_t sig[ED25519_SIG_LEN]);
void ed25519_wipe(ed25519_key *k);

#endif
