/* CSPRNG (OpenSSL's DRBG, seeded from the OS). Failure is fatal: we never continue with
 * predictable randomness. */
#ifndef COCOON_CRYPTO_RAND_H
#define COCOON_CRYPTO_RAND_H

#include <stddef.h>
#include <stdint.h>

void rand_bytes(void *out, size_t n);
uint64_t rand_u64(void);

#endif
