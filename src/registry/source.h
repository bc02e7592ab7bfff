/* Where a daemon reads its root registry from, named on the command line:
 *   file:PATH                 a JSON document (registry.h); a bare PATH means the same
 *   chain:API_URL#ROOT        the root contract ROOT (raw "0:hex" or friendly) read through the
 *                             TON HTTP API v2 at API_URL (toncenter-compatible, e.g. localton's
 *                             http://127.0.0.1:8081/api/v2): getAddressInformation, then the
 *                             raw data cell parsed as the reference node does (§A.2)
 * Loading is blocking (libcurl for the chain); daemons run it on a refresh thread. */
#ifndef COCOON_REGISTRY_SOURCE_H
#define COCOON_REGISTRY_SOURCE_H

#include <stddef.h>

#include "base/err.h"
#include "registry/registry.h"
#include "ton/addr.h"

typedef enum {
    REGISTRY_SOURCE_FILE,
    REGISTRY_SOURCE_CHAIN,
} registry_source_kind;

typedef struct {
    registry_source_kind kind;
    char path[4096];    /* FILE */
    char api_url[1024]; /* CHAIN */
    ton_addr root;      /* CHAIN */
} registry_source;

/* ERR_USAGE (with a detail) for a malformed spec. */
MUST_CHECK err_t registry_source_parse(const char *spec, registry_source *out);
/* "file PATH" or "root 0:… at URL", for logs. */
void registry_source_describe(const registry_source *src, char *out, size_t cap);
/* One read of the source. api_key (may be NULL) goes to the TON API as X-API-Key; timeout_ms
 * per HTTP attempt (0 = 5000; one retry). Chain errors: ERR_CHAIN_API/ERR_TIMEOUT/ERR_IO from
 * the API, ERR_NOT_FOUND when the root is not an active account, and the parse errors of
 * registry_from_root_data. *out is untouched-NULL on any error. */
MUST_CHECK err_t registry_source_load(const registry_source *src, const char *api_key,
                                      unsigned timeout_ms, registry **out);

#endif
