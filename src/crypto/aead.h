/* AES-GCM (128 or 256-bit keys, 12-byte nonces, 16-byte tags). */
#ifndef COCOON_CRYPTO_AEAD_H
#define COCOON_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16

/* out receives n ciphertext bytes followed by the tag (n + AEAD_TAG_LEN). */
MUST_CHECK err_t aead_seal(const uint8_t *key, size_t klen, const uint8_t nonce[AEAD_NONCE_LEN],
                           const void *aad, size_t aadlen, const void *in, size_t n, uint8_t *out);
/* in is ciphertext ‖ tag (n >= AEAD_TAG_LEN); out receives n - AEAD_TAG_LEN bytes.
 * ERR_AEAD_AUTH when the tag does not verify (out is wiped). */
MUST_CHECK err_t aead_open(const uint8_t *key, size_t klen, const uint8_t nonce[AEAD_NONCE_LEN],
                           const void *aad, size_t aadlen, const void *in, size_t n, uint8_t *out);

#endif
