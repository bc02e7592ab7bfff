/* The worker daemon's core: keeps an attested link to each registered proxy, registers its
 * model with the reference handshake (worker.connectToProxy with worker.params, then
 * worker.proxyHandshakeComplete; cocoon-internals.md §1.7), and runs each proxy.runQueryEx it
 * receives against its upstream OpenAI-compatible server, streaming the answer back as
 * proxy.queryAnswerEx (the http.response head), proxy.queryAnswerPartEx (body chunks as they
 * arrive; the last one carries the final info with the tokens used) or proxy.queryAnswerErrorEx
 * (§1.8). A proxy.queryAnswerErrorEx received for a running request id cancels it (our
 * extension; the reference has no cancellation). */
#ifndef COCOON_WORKER_WORKER_H
#define COCOON_WORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/x25519.h"
#include "http/stats.h"
#include "link/link.h"
#include "link/rotor.h"
#include "net/loop.h"
#include "ratls/tls.h"
#include "registry/registry.h"

typedef struct worker worker;

typedef struct {
    ratls_ctx *tls;          /* client context; its policy requires a TD quote */
    const cert_rotor *rotor; /* our certificate: its key signs answer evidence (NULL: none) */
    /* The X25519 key our certificates name (RATLS_CLAIM_EVIDENCE_KEY): answers to clients
     * that send their own key are authenticated with a MAC under the agreed key instead of a
     * signature (http/evidence.h). NULL: always sign. */
    const x25519_key *evidence_kx;
    const registry *reg;       /* proxies to dial; allowed proxy images */
    const char *model;         /* full model id name@commit:verity (its hash is registered) */
    int32_t coefficient;       /* price multiplier ×1000 (1000 = 1.0) */
    int32_t max_active;        /* requests at once (reference default 200) */
    const char *upstream;      /* http://host:port[/v1] or builtin:<model.gguf> */
    unsigned builtin_sessions; /* builtin: requests run in parallel (default 1) */
    unsigned builtin_threads;  /* builtin: threads per session (default 1) */
    int64_t max_tokens;        /* cap enforced on every request */
    const char *owner_address; /* TON address of the operator ("" until payments) */
    bool is_test;
    uint64_t upstream_timeout_ms;
    /* Uplink monitor (reference §6): GET /v1/models on an http upstream this often; a failure
     * disables the worker at every proxy (worker.enabledDisabled) until a check succeeds again.
     * 0: off. Default 2000. */
    uint64_t uplink_check_ms;
    /* Fault injection for tests of the proxy's defences: NULL, or "badframe" (every answer head
     * is a truncated proxy.queryAnswerEx, as a broken or hostile worker could send). */
    const char *fault;
    int pow_max_difficulty;
} worker_config;

void worker_config_init(worker_config *c);
MUST_CHECK err_t worker_new(net_loop *l, const worker_config *cfg, worker **out);
/* Graceful stop: running requests are failed (the proxy hears why), links are closed; the
 * loop must run until worker_stopped() before worker_free. */
void worker_stop(worker *w);
/* After the registry changed in place (registry_replace): links to proxies no longer listed
 * are closed, new proxies are dialed, connected proxies are re-checked against the image
 * list. */
void worker_registry_changed(worker *w);
bool worker_stopped(const worker *w);
void worker_free(worker *w);
/* Proxies with which the handshake has completed. */
size_t worker_ready_proxies(const worker *w);
size_t worker_active(const worker *w);
/* The upstream failed its last uplink check. */
bool worker_uplink_down(const worker *w);
/* Counters and gauges for /stats, /jsonstats, /metrics (an http_stats_fn; arg is the worker). */
size_t worker_metrics(void *arg, http_metric *m, size_t cap);

#endif
