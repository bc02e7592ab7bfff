/* CSPRNG (OpenSSL's DRBG, seeded from the OS). Failure is fatal: we never continue with
 * predictable randomness. */
#ifndef COCOON_CRYPTO_RAND_H
#define COCOON_CRYPTO_RAND_H

#include <stddef.h>
#include <stdint.h>

void rand_bytes(void *out, size_t n);
/* Random identifiers (request ids): the same CSPRNG output, drawn 4 KiB at a time into a
 * per-thread pool so a request costs a copy rather than a DRBG call with its locks and fork
 * check. Not for keys. The pool is dropped in a forked child (pthread_atfork) so parent and
 * child never hand out the same bytes; used bytes are wiped. */
void rand_id(void *out, size_t n);
uint64_t rand_u64(void);

#endif
