/* Registry refresh: a thread of its own re-reads a registry source (source.h) every few seconds
 * and leaves what it read (a fresh registry, or the error) under a mutex; the thread that owns
 * the registry (a daemon's event loop in cli/node.c, libcocoon-client's loop thread) polls and
 * moves a changed registry in with registry_replace, so a slow TON API never stalls that loop.
 *
 * A failed read keeps the current registry: WARN "registry refresh failed, keeping version N:
 * why" once per failure streak, INFO "registry refresh works again" when a read succeeds
 * again, INFO "registry updated: version A -> B" when the contents change. */
#ifndef COCOON_REGISTRY_REFRESHER_H
#define COCOON_REGISTRY_REFRESHER_H

#include <stdbool.h>

#include "base/err.h"
#include "registry/registry.h"
#include "registry/source.h"

/* Longest TON API key (bytes, the terminating NUL included) a refresher keeps. */
#define REGISTRY_REFRESH_API_KEY_MAX 512
/* Per HTTP attempt of a chain read on the refresh thread (one retry): short, so that a
 * stop waits at most this long for a read in progress. */
#define REGISTRY_REFRESH_TIMEOUT_MS 2000

typedef struct registry_refresher registry_refresher;

/* Starts the thread: it reads src (copied) every every_s seconds, the first read every_s
 * seconds from now. api_key (may be NULL) goes to the TON API as X-API-Key; it is copied and
 * wiped on free. The thread inherits the caller's signal mask. ERR_USAGE for every_s == 0,
 * ERR_TOO_LARGE for a key of REGISTRY_REFRESH_API_KEY_MAX bytes or more, ERR_NOMEM,
 * ERR_INTERNAL when the thread cannot be started; *out is NULL on any error. */
MUST_CHECK err_t registry_refresher_start(const registry_source *src, unsigned every_s,
                                          const char *api_key, registry_refresher **out);

/* On the thread that owns reg: takes what the refresh thread read since the last poll. A new
 * registry that differs from reg (registry_equal) is moved into it (registry_replace) and the
 * result is true: the caller then runs its own reaction (re-checking peers). An equal one is
 * dropped; a failure keeps reg. Log lines carry log_module. rf NULL: false. */
bool registry_refresher_poll(registry_refresher *rf, registry *reg, const char *log_module);

/* Stops the thread and frees everything; NULL is a no-op. A thread waiting for its next read
 * is woken at once; one inside a read finishes it first (a chain read: at most
 * REGISTRY_REFRESH_TIMEOUT_MS per attempt). A read not yet polled is dropped. */
void registry_refresher_free(registry_refresher *rf);

#endif
