/* Root registry from the root contract's data cell (../shared/reference/contracts.md §A.2,
 * parsed by ton/cocoon.h) and, through the TON HTTP API v2, from the chain (source.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/source.h"

#include <stdint.h>
#include "registry_impl.h"
#include "ton/api.h"
#include "ton/cocoon.h"
#include "ton/dict.h"

/* HashmapE 256 () (§A.2): every key is a hash, every value empty. */
static err_t on_hash(void *ctx, const uint8_t *key, unsigned key_bits, ton_slice *value) {
    (void)key_bits;
    if (ts_bits_left(value) != 0 || ts_refs_left(value) != 0) {
        return err_fail(ERR_MALFORMED, "root registry: a hash set entry carries a value");
    }
    return registry_list_add(ctx, key);
}

static bool valid_port(const char *p, size_t n) {
    if (n == 0 || n > 5) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* One "host:port" of a description (§A.2: IPv4 in the reference; any host name here). */
static err_t desc_addr(const char *s, size_t n, char out[REGISTRY_ADDR_MAX]) {
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':') {
            colon = s + i;
        }
    }
    if (!colon || colon == s || memchr(s, ' ', n) ||
        !valid_port(colon + 1, n - (size_t)(colon + 1 - s)) || n >= REGISTRY_ADDR_MAX) {
        return err_fail(ERR_MALFORMED, "root registry: proxy address \"%.*s\" is not host:port",
                        (int)n, s);
    }
    memcpy(out, s, n);
    out[n] = 0;
    return ERR_OK;
}

static err_t add_proxy(registry *r, const cocoon_proxy_desc *d) {
    if (r->nproxies >= REGISTRY_MAX_PROXIES) {
        return err_fail(ERR_TOO_MANY, "root registry: more than %d registered proxies",
                        REGISTRY_MAX_PROXIES);
    }
    registry_proxy *p = &r->proxies[r->nproxies];
    const char *t = d->text;
    const char *sp = strchr(t, ' ');
    if (sp) {
        /* "ip:port_for_workers ip:port_for_clients": one space, two addresses */
        TRY(desc_addr(t, (size_t)(sp - t), p->worker_addr));
        TRY(desc_addr(sp + 1, strlen(sp + 1), p->client_addr));
    } else {
        TRY(desc_addr(t, strlen(t), p->worker_addr));
        memcpy(p->client_addr, p->worker_addr, sizeof(p->client_addr));
    }
    r->nproxies++;
    return ERR_OK;
}

static err_t fill(registry *r, const cocoon_root *root) {
    r->version = root->version;
    r->check = true;
    if (root->params.price_per_token > INT64_MAX || root->params.worker_fee_per_token > INT64_MAX) {
        return err_fail(ERR_TOO_LARGE, "root registry: price above 2^63-1 nanotons");
    }
    r->price = (int64_t)root->params.price_per_token;
    r->worker_fee = (int64_t)root->params.worker_fee_per_token;
    for (size_t i = 0; i < root->nproxies; i++) {
        TRY(add_proxy(r, &root->proxies[i]));
    }
    TRY(ton_dict_foreach(root->proxy_hashes, 256, on_hash, &r->proxy_images));
    TRY(ton_dict_foreach(root->worker_hashes, 256, on_hash, &r->worker_images));
    return ton_dict_foreach(root->model_hashes, 256, on_hash, &r->models);
}

err_t registry_from_root_data(const ton_cell *data, registry **out) {
    *out = NULL;
    cocoon_root root;
    TRY(cocoon_root_parse(data, &root));
    registry *r = registry_alloc();
    err_t e = r ? fill(r, &root) : ERR_NOMEM;
    cocoon_root_clear(&root);
    if (e != ERR_OK) {
        registry_free(r);
        return e;
    }
    *out = r;
    return ERR_OK;
}

err_t registry_source_parse(const char *spec, registry_source *out) {
    memset(out, 0, sizeof(*out));
    if (strncmp(spec, "chain:", 6) == 0) {
        const char *url = spec + 6;
        const char *hash = strrchr(url, '#');
        if (!hash || hash == url || (size_t)(hash - url) >= sizeof(out->api_url)) {
            return err_fail(ERR_USAGE, "registry: expected chain:API_URL#ROOT_ADDRESS");
        }
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            return err_fail(ERR_USAGE, "registry: the TON API URL must be http:// or https://");
        }
        memcpy(out->api_url, url, (size_t)(hash - url));
        err_t e = ton_addr_parse(hash + 1, &out->root, NULL);
        if (e != ERR_OK) {
            return err_fail(ERR_USAGE, "registry: bad root address \"%s\"", hash + 1);
        }
        out->kind = REGISTRY_SOURCE_CHAIN;
        return ERR_OK;
    }
    const char *path = strncmp(spec, "file:", 5) == 0 ? spec + 5 : spec;
    if (!*path || strlen(path) >= sizeof(out->path)) {
        return err_fail(ERR_USAGE, "registry: bad file path");
    }
    snprintf(out->path, sizeof(out->path), "%s", path);
    out->kind = REGISTRY_SOURCE_FILE;
    return ERR_OK;
}

void registry_source_describe(const registry_source *src, char *out, size_t cap) {
    if (src->kind == REGISTRY_SOURCE_FILE) {
        snprintf(out, cap, "file %s", src->path);
        return;
    }
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&src->root, raw);
    snprintf(out, cap, "root %s at %s", raw, src->api_url);
}

static err_t load_chain(const registry_source *src, const char *api_key, unsigned timeout_ms,
                        registry **out) {
    ton_api_config cfg = {.base_url = src->api_url,
                          .api_key = api_key,
                          .timeout_ms = timeout_ms ? timeout_ms : 5000,
                          .max_retries = 1,
                          .backoff_ms = 250};
    ton_api *api = NULL;
    TRY(ton_api_new(&cfg, &api));
    ton_account acc;
    memset(&acc, 0, sizeof(acc));
    err_t e = ton_api_get_account(api, &src->root, &acc);
    if (e != ERR_OK) {
        e = err_fail(e, "registry: reading the root at %s: %s", src->api_url,
                     ton_api_last_error(api));
    } else if (acc.state != TON_ACCOUNT_ACTIVE || !acc.data) {
        e = err_fail(ERR_NOT_FOUND, "registry: the root account is %s, not active",
                     ton_account_state_name(acc.state));
    } else {
        e = registry_from_root_data(acc.data, out);
    }
    ton_account_clear(&acc);
    ton_api_free(api);
    return e;
}

err_t registry_source_load(const registry_source *src, const char *api_key, unsigned timeout_ms,
                           registry **out) {
    *out = NULL;
    if (src->kind == REGISTRY_SOURCE_FILE) {
        return registry_from_file(src->path, out);
    }
    return load_chain(src, api_key, timeout_ms, out);
}
