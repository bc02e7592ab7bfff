/* Root registry from a JSON document (see registry.h for the format). */
#include "registry/registry.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/file.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "registry_impl.h"

err_t registry_list_add(hash_list *l, const uint8_t h[32]) {
    if (l->n >= REGISTRY_MAX_HASHES) {
        return err_fail(ERR_TOO_MANY, "more than %d hashes in one list", REGISTRY_MAX_HASHES);
    }
    void *p = realloc(l->h, (l->n + 1) * sizeof(*l->h));
    if (!p) {
        return ERR_NOMEM;
    }
    l->h = p;
    memcpy(l->h[l->n++], h, 32);
    return ERR_OK;
}

static bool list_has(const hash_list *l, const uint8_t h[32]) {
    for (size_t i = 0; i < l->n; i++) {
        if (memcmp(l->h[i], h, 32) == 0) {
            return true;
        }
    }
    return false;
}

static err_t parse_hashes(json_t *v, const char *key, hash_list *l, bool hash_strings) {
    if (!json_is_array(v)) {
        return err_fail(ERR_CONFIG, "registry: \"%s\" must be an array", key);
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            return err_fail(ERR_CONFIG, "registry: \"%s\"[%zu] must be a string", key, i);
        }
        const char *s = json_string_value(e);
        size_t n = json_string_length(e);
        uint8_t h[32];
        if (hash_strings) {
            if (n == 0) {
                return err_fail(ERR_CONFIG, "registry: \"%s\"[%zu] is empty", key, i);
            }
            sha256(s, n, h);
        } else {
            size_t got = 0;
            if (n != 64 || hex_decode(s, n, h, sizeof(h), &got) != ERR_OK || got != 32) {
                return err_fail(ERR_CONFIG, "registry: \"%s\"[%zu] is not 64 hex digits", key, i);
            }
        }
        TRY(registry_list_add(l, h));
    }
    return ERR_OK;
}

static err_t parse_addr(json_t *v, const char *what, size_t i, char out[REGISTRY_ADDR_MAX]) {
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) == 0 || json_string_length(v) >= REGISTRY_ADDR_MAX ||
        !strchr(s, ':')) {
        return err_fail(ERR_CONFIG, "registry: proxies[%zu].%s must be \"host:port\"", i, what);
    }
    memcpy(out, s, json_string_length(v) + 1);
    return ERR_OK;
}

static err_t parse_proxies(registry *r, json_t *v) {
    if (!json_is_array(v) || json_array_size(v) > REGISTRY_MAX_PROXIES) {
        return err_fail(ERR_CONFIG, "registry: \"proxies\" must be an array of at most %d",
                        REGISTRY_MAX_PROXIES);
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_object(e)) {
            return err_fail(ERR_CONFIG, "registry: proxies[%zu] must be an object", i);
        }
        const char *k;
        json_t *f;
        json_object_foreach(e, k, f) {
            if (strcmp(k, "worker") != 0 && strcmp(k, "client") != 0) {
                return err_fail(ERR_CONFIG, "registry: proxies[%zu]: unknown key \"%s\"", i, k);
            }
        }
        TRY(parse_addr(json_object_get(e, "worker"), "worker", i, r->proxies[i].worker_addr));
        TRY(parse_addr(json_object_get(e, "client"), "client", i, r->proxies[i].client_addr));
        r->nproxies = i + 1;
    }
    return ERR_OK;
}

static err_t parse_int(json_t *v, const char *key, int64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return err_fail(ERR_CONFIG, "registry: \"%s\" must be a non-negative integer", key);
    }
    *out = json_integer_value(v);
    return ERR_OK;
}

static err_t parse_root(registry *r, json_t *root) {
    if (!json_is_object(root)) {
        return err_fail(ERR_CONFIG, "registry: top level must be an object");
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "version") == 0) {
            TRY(parse_int(v, k, &r->version));
        } else if (strcmp(k, "proxies") == 0) {
            TRY(parse_proxies(r, v));
        } else if (strcmp(k, "proxy_image_hashes") == 0) {
            TRY(parse_hashes(v, k, &r->proxy_images, false));
        } else if (strcmp(k, "worker_image_hashes") == 0) {
            TRY(parse_hashes(v, k, &r->worker_images, false));
        } else if (strcmp(k, "model_hashes") == 0) {
            TRY(parse_hashes(v, k, &r->models, false));
        } else if (strcmp(k, "models") == 0) {
            TRY(parse_hashes(v, k, &r->models, true));
        } else if (strcmp(k, "check_hashes") == 0) {
            if (!json_is_boolean(v)) {
                return err_fail(ERR_CONFIG, "registry: \"check_hashes\" must be a boolean");
            }
            r->check = json_is_true(v);
        } else if (strcmp(k, "price_per_token") == 0) {
            TRY(parse_int(v, k, &r->price));
        } else if (strcmp(k, "worker_fee_per_token") == 0) {
            TRY(parse_int(v, k, &r->worker_fee));
        } else {
            return err_fail(ERR_CONFIG, "registry: unknown key \"%s\"", k);
        }
    }
    return ERR_OK;
}

registry *registry_alloc(void) {
    registry *r = calloc(1, sizeof(*r));
    if (r) {
        r->check = true;
    }
    return r;
}

err_t registry_from_json(const char *json, size_t len, registry **out) {
    *out = NULL;
    if (len > REGISTRY_JSON_MAX) {
        return err_fail(ERR_TOO_LARGE, "registry: %zu bytes (max %u)", len, REGISTRY_JSON_MAX);
    }
    registry *r = registry_alloc();
    if (!r) {
        return ERR_NOMEM;
    }
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    err_t e;
    if (!root) {
        e = err_fail(ERR_CONFIG, "registry: JSON line %d: %s", je.line, je.text);
        goto out;
    }
    e = parse_root(r, root);
out:
    json_decref(root);
    if (e != ERR_OK) {
        registry_free(r);
        return e;
    }
    *out = r;
    return ERR_OK;
}

err_t registry_from_file(const char *path, registry **out) {
    *out = NULL;
    buf b;
    buf_init(&b, REGISTRY_JSON_MAX);
    err_t e = file_read(path, REGISTRY_JSON_MAX, &b);
    if (e == ERR_OK) {
        e = registry_from_json((const char *)b.data, b.len, out);
    }
    buf_free(&b);
    return e;
}

void registry_replace(registry *r, registry *fresh) {
    /* The roles key their links by address and follow the list (client/worker
     * *_registry_changed), so it moves like everything else. */
    memcpy(r->proxies, fresh->proxies, sizeof(r->proxies));
    r->nproxies = fresh->nproxies;
    hash_list t;
#define SWAP_LIST(f) (t = r->f, r->f = fresh->f, fresh->f = t)
    SWAP_LIST(proxy_images);
    SWAP_LIST(worker_images);
    SWAP_LIST(models);
#undef SWAP_LIST
    r->version = fresh->version;
    r->check = fresh->check;
    r->price = fresh->price;
    r->worker_fee = fresh->worker_fee;
    registry_free(fresh);
}

bool registry_equal(const registry *a, const registry *b) {
    const hash_list *la[3] = {&a->proxy_images, &a->worker_images, &a->models};
    const hash_list *lb[3] = {&b->proxy_images, &b->worker_images, &b->models};
    for (size_t i = 0; i < 3; i++) {
        if (la[i]->n != lb[i]->n ||
            (la[i]->n && memcmp(la[i]->h, lb[i]->h, la[i]->n * sizeof(*la[i]->h)) != 0)) {
            return false;
        }
    }
    return a->version == b->version && a->nproxies == b->nproxies &&
           memcmp(a->proxies, b->proxies, a->nproxies * sizeof(a->proxies[0])) == 0 &&
           a->check == b->check && a->price == b->price && a->worker_fee == b->worker_fee;
}

void registry_free(registry *r) {
    if (!r) {
        return;
    }
    free(r->proxy_images.h);
    free(r->worker_images.h);
    free(r->models.h);
    free(r);
}

int64_t registry_version(const registry *r) {
    return r->version;
}

size_t registry_proxy_count(const registry *r) {
    return r->nproxies;
}

const registry_proxy *registry_proxy_at(const registry *r, size_t i) {
    return i < r->nproxies ? &r->proxies[i] : NULL;
}

bool registry_checks_hashes(const registry *r) {
    return r->check;
}

err_t registry_check_proxy_image(const registry *r, const uint8_t hash[32]) {
    if (!r->check || list_has(&r->proxy_images, hash)) {
        return ERR_OK;
    }
    return err_fail(ERR_IMAGE_NOT_ALLOWED, "proxy image is not in the root registry");
}

err_t registry_check_worker_image(const registry *r, const uint8_t hash[32]) {
    if (!r->check || list_has(&r->worker_images, hash)) {
        return ERR_OK;
    }
    return err_fail(ERR_IMAGE_NOT_ALLOWED, "worker image is not in the root registry");
}

err_t registry_check_model(const registry *r, const char *full_model_id, size_t len) {
    if (!r->check) {
        return ERR_OK;
    }
    /* Reference §1.7: sha256(model) ∈ root.model_hashes, over the full advertised string. */
    uint8_t h[32];
    sha256(full_model_id, len, h);
    if (list_has(&r->models, h)) {
        return ERR_OK;
    }
    return err_fail(ERR_NOT_FOUND, "model %.*s is not in the root registry", (int)len,
                    full_model_id);
}

int64_t registry_price_per_token(const registry *r) {
    return r->price;
}

int64_t registry_worker_fee_per_token(const registry *r) {
    return r->worker_fee;
}

size_t registry_model_base_len(const char *full_model_id, size_t len) {
    const char *at = memchr(full_model_id, '@', len);
    return at ? (size_t)(at - full_model_id) : len;
}

static const char *proxy_addr(const registry *r, size_t p, bool worker_side) {
    return worker_side ? r->proxies[p].worker_addr : r->proxies[p].client_addr;
}

static bool lists(const registry *r, const char *addr, bool worker_side) {
    for (size_t p = 0; p < r->nproxies; p++) {
        if (strcmp(proxy_addr(r, p, worker_side), addr) == 0) {
            return true;
        }
    }
    return false;
}

void registry_follow(const registry *r, bool worker_side, size_t nslots,
                     const registry_slot_ops *ops, void *role, const char *module) {
    for (size_t i = 0; i < nslots; i++) {
        bool linked;
        const uint8_t *image;
        const char *addr = ops->addr(role, i, &linked, &image);
        if (!addr) {
            continue;
        }
        if (!lists(r, addr, worker_side)) {
            LOGI(module, "proxy %s left the registry: closing its link", addr);
            ops->drop(role, i, true);
        } else if (image && registry_check_proxy_image(r, image) != ERR_OK) {
            LOGW(module, "proxy %s: its image is no longer allowed: closing", addr);
            ops->drop(role, i, false);
        }
    }
    for (size_t p = 0; p < r->nproxies; p++) {
        const char *want = proxy_addr(r, p, worker_side);
        bool have = false;
        size_t slot = nslots;
        for (size_t i = 0; i < nslots && !have; i++) {
            bool linked;
            const uint8_t *image;
            const char *addr = ops->addr(role, i, &linked, &image);
            have = addr && strcmp(addr, want) == 0;
            if (!addr && !linked && slot == nslots) {
                slot = i;
            }
        }
        if (have) {
            continue;
        }
        if (slot == nslots) {
            LOGW(module, "no free link for proxy %s (closing links still pending)", want);
            continue;
        }
        ops->take(role, slot, want);
    }
}
