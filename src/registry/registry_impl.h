/* The registry's representation, shared by its two sources (registry.c: JSON and the common
 * accessors; chain.c: the root contract). Private to src/registry/. */
#ifndef COCOON_REGISTRY_IMPL_H
#define COCOON_REGISTRY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

typedef struct {
    size_t n;
    uint8_t (*h)[32];
} hash_list;

struct registry {
    int64_t version;
    size_t nproxies;
    registry_proxy proxies[REGISTRY_MAX_PROXIES];
    hash_list proxy_images;
    hash_list worker_images;
    hash_list models;
    bool check;
    int64_t price;
    int64_t worker_fee;
};

/* calloc'd, checks on; NULL when out of memory. */
registry *registry_alloc(void);
/* ERR_TOO_MANY beyond REGISTRY_MAX_HASHES. */
MUST_CHECK err_t registry_list_add(hash_list *l, const uint8_t h[32]);

#endif
