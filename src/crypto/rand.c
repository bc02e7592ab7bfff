#include "rand.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void rand_bytes(void *out, size_t n) {
    if (n > 0 && RAND_bytes(out, (int)n) != 1) {
        fprintf(stderr, "fatal: CSPRNG failure\n");
        abort();
    }
}

uint64_t rand_u64(void) {
    uint64_t v;
    rand_bytes(&v, sizeof(v));
    return v;
}
