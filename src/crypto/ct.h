/* Constant-time comparison and secure wiping of secrets. */
#ifndef COCOON_CRYPTO_CT_H
#define COCOON_CRYPTO_CT_H

#include <stdbool.h>
#include <stddef.h>

/* True when the n bytes are equal; time depends on n only. */
bool ct_eq(const void *a, const void *b, size_t n);
void ct_wipe(void *p, size_t n);

#endif
