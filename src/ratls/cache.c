#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PROBES 8

typedef struct {
    bool used;
    uint8_t key[32];
    int64_t expires;
    ratls_peer peer;
} entry;

struct ratls_cache {
    pthread_mutex_t mu;
    size_t mask;
    uint32_t ttl;
    uint64_t hits;
    uint64_t misses;
    entry *slots;
};

ratls_cache *ratls_cache_new(size_t capacity, uint32_t ttl_secs) {
    size_t n = 16;
    while (n < capacity && n < ((size_t)1 << 20)) {
        n <<= 1;
    }
    ratls_cache *c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->slots = calloc(n, sizeof(entry));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->mask = n - 1;
    c->ttl = ttl_secs;
    return c;
}

void ratls_cache_free(ratls_cache *c) {
    if (!c) {
        return;
    }
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c);
}

static size_t home(const ratls_cache *c, const uint8_t key[32]) {
    size_t h;
    memcpy(&h, key, sizeof(h)); /* the key is a SHA-256: its bytes are uniform */
    return h & c->mask;
}

bool ratls_cache_get(ratls_cache *c, const uint8_t key[32], int64_t now, ratls_peer *out) {
    bool found = false;
    pthread_mutex_lock(&c->mu);
    size_t h = home(c, key);
    for (size_t i = 0; i < PROBES; i++) {
        entry *e = &c->slots[(h + i) & c->mask];
        if (e->used && memcmp(e->key, key, 32) == 0) {
            if (e->expires > now) {
                *out = e->peer;
                found = true;
            } else {
                e->used = false;
            }
            break;
        }
    }
    if (found) {
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

void ratls_cache_put(ratls_cache *c, const uint8_t key[32], int64_t now, const ratls_peer *peer) {
    int64_t exp = now + (int64_t)c->ttl;
    if (peer->not_after < exp) {
        exp = peer->not_after;
    }
    if (exp <= now) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    size_t h = home(c, key);
    entry *victim = NULL;
    for (size_t i = 0; i < PROBES; i++) {
        entry *e = &c->slots[(h + i) & c->mask];
        if (!e->used || e->expires <= now || memcmp(e->key, key, 32) == 0) {
            victim = e;
            break;
        }
        if (!victim || e->expires < victim->expires) {
            victim = e;
        }
    }
    victim->used = true;
    memcpy(victim->key, key, 32);
    victim->expires = exp;
    victim->peer = *peer;
    pthread_mutex_unlock(&c->mu);
}

void ratls_cache_stats(ratls_cache *c, uint64_t *hits, uint64_t *misses) {
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}
