/* Hashes, MACs and key derivation (OpenSSL 3 EVP underneath). */
#ifndef COCOON_CRYPTO_HASH_H
#define COCOON_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SHA256_LEN 32
#define SHA384_LEN 48
#define SHA512_LEN 64

typedef enum { HASH_SHA256, HASH_SHA384, HASH_SHA512 } hash_alg;

size_t hash_len(hash_alg alg);
void sha256(const void *data, size_t n, uint8_t out[SHA256_LEN]);
void sha384(const void *data, size_t n, uint8_t out[SHA384_LEN]);
void sha512(const void *data, size_t n, uint8_t out[SHA512_LEN]);

/* Incremental hashing. */
typedef struct hash_ctx hash_ctx;
hash_ctx *hash_new(hash_alg alg);
void hash_update(hash_ctx *h, const void *data, size_t n);
/* Writes hash_len(alg) bytes and frees the context. */
void hash_final_free(hash_ctx *h, uint8_t *out);
void hash_free(hash_ctx *h);

MUST_CHECK err_t hmac(hash_alg alg, const void *key, size_t klen, const void *data, size_t n,
                      uint8_t *out);
/* RFC 5869 HKDF extract-and-expand. */
MUST_CHECK err_t hkdf(hash_alg alg, const void *salt, size_t slen, const void *ikm, size_t ilen,
                      const void *info, size_t infolen, uint8_t *out, size_t outlen);

#endif
