/* Crypto-internal: EVP_PKEY from raw EC keys (X‖Y, optional private scalar), checked. Shared by
 * ecdsa.c and x509.c; other layers use the raw-byte APIs of ecdsa.h and x509.h. */
#ifndef COCOON_CRYPTO_ECKEY_H
#define COCOON_CRYPTO_ECKEY_H

#include <openssl/evp.h>
#include <stdint.h>

#include "crypto/ecdsa.h"

/* NULL unless pub is a valid point of the curve (and, with priv, the pair is consistent). */
EVP_PKEY *eckey_from_raw(ecdsa_curve curve, const uint8_t *pub, const uint8_t *priv);

#endif
