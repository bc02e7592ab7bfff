/* The chain source of the root registry: a root data cell served by a TON API (untrusted) must
 * become a registry or fail cleanly; an accepted registry is self-consistent (proxy addresses
 * are host:port, every listed proxy image is allowed) and moves into another one
 * (registry_replace) without faults. Input: a BOC holding the root's data cell. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "registry/registry.h"
#include "ton/boc.h"
#include "ton/cell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ton_boc_limits lim = {4096, 1};
    ton_cell *root = NULL;
    if (ton_boc_parse(data, size, &lim, &root) != ERR_OK) {
        return 0;
    }
    registry *r = NULL;
    if (registry_from_root_data(root, &r) == ERR_OK) {
        if (registry_proxy_count(r) > REGISTRY_MAX_PROXIES || !registry_checks_hashes(r)) {
            __builtin_trap();
        }
        for (size_t i = 0; i < registry_proxy_count(r); i++) {
            const registry_proxy *p = registry_proxy_at(r, i);
            if (!strchr(p->worker_addr, ':') || !strchr(p->client_addr, ':')) {
                __builtin_trap();
            }
        }
        registry *again = NULL;
        if (registry_from_root_data(root, &again) != ERR_OK || !registry_equal(r, again)) {
            __builtin_trap();
        }
        registry_replace(r, again);
        registry_free(r);
    } else if (r) {
        __builtin_trap();
    }
    ton_cell_unref(root);
    return 0;
}
