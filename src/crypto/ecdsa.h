/* ECDSA over NIST P-256 (SHA-256) and P-384 (SHA-384) with raw encodings, as DCAP quotes use
 * them: public keys X‖Y (no 0x04 prefix), signatures r‖s, each coordinate big-endian. */
#ifndef COCOON_CRYPTO_ECDSA_H
#define COCOON_CRYPTO_ECDSA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define P256_PUB_LEN 64
#define P256_SIG_LEN 64
#define P256_PRIV_LEN 32
#define P384_PUB_LEN 96
#define P384_SIG_LEN 96

typedef enum { ECDSA_P256_SHA256, ECDSA_P384_SHA384 } ecdsa_curve;

/* ERR_OK only when sig is a valid signature of msg (hashed inside) under pub.
 * ERR_BAD_KEY if pub is not a point on the curve, ERR_BAD_SIGNATURE otherwise. */
MUST_CHECK err_t ecdsa_verify(ecdsa_curve curve, const uint8_t *pub, const void *msg, size_t n,
                              const uint8_t *sig);

typedef struct {
    uint8_t priv[P256_PRIV_LEN];
    uint8_t pub[P256_PUB_LEN];
} p256_key;

MUST_CHECK err_t p256_generate(p256_key *k);
MUST_CHECK err_t p256_sign(const p256_key *k, const void *msg, size_t n, uint8_t sig[P256_SIG_LEN]);

#endif
