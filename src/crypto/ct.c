#include "ct.h"

#include <openssl/crypto.h>

bool ct_eq(const void *a, const void *b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}

void ct_wipe(void *p, size_t n) {
    if (p && n) {
        OPENSSL_cleanse(p, n);
    }
}
