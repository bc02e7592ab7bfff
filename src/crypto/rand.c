#include "rand.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"

#define POOL 4096

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

static _Thread_local uint8_t pool[POOL];
static _Thread_local size_t pool_left; /* unused bytes at the end of pool */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* Only the forking thread exists in the child: dropping its pool is enough. */
static void drop_pool(void) {
    ct_wipe(pool, sizeof(pool));
    pool_left = 0;
}

static void hook_fork(void) {
    pthread_atfork(NULL, NULL, drop_pool);
}

void rand_id(void *out, size_t n) {
    pthread_once(&fork_once, hook_fork);
    uint8_t *o = out;
    while (n > 0) {
        if (pool_left == 0) {
            rand_bytes(pool, POOL);
            pool_left = POOL;
        }
        size_t k = n < pool_left ? n : pool_left;
        uint8_t *src = pool + POOL - pool_left;
        memcpy(o, src, k);
        ct_wipe(src, k);
        pool_left -= k;
        o += k;
        n -= k;
    }
}
