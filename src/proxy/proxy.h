/* The proxy daemon's core: two attested listeners (workers: the `tdx` policy; clients: the
 * `any` policy, cocoon-internals.md §1.2), the reference handshakes (§1.7), a registry of ready
 * workers per model, and the request relay (§1.8): client.runQueryEx → a chosen worker's
 * proxy.runQueryEx → proxy.queryAnswerEx / PartEx / ErrorEx re-wrapped as client.queryAnswer*Ex,
 * part by part, never buffering an answer.
 *
 * Beyond the reference (§1.9, §12): a worker that fails before the first byte of its answer
 * (error, link lost) gets the request retried on another worker; a client that goes away (link
 * lost, or client.queryAnswerErrorEx sent for its request id) or a request past its timeout
 * cancels the worker's run (proxy.queryAnswerErrorEx sent to the worker); every error reaches
 * the client as client.queryAnswerErrorEx, with an HTTP status as its code. */
#ifndef COCOON_PROXY_PROXY_H
#define COCOON_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/stats.h"
#include "link/link.h"
#include "net/loop.h"
#include "ratls/tls.h"
#include "registry/registry.h"

typedef struct proxy proxy;

typedef struct {
    const registry *reg;       /* worker images, model hashes */
    ratls_ctx *worker_tls;     /* server context, policy requires a TD quote */
    ratls_ctx *client_tls;     /* server context, `any` policy */
    const char *worker_listen; /* host:port (port 0 picks one) */
    const char *client_listen;
    const uint8_t *public_key; /* 32 bytes, sent in proxy.params */
    const char *owner_address;
    bool is_test;
    int pow_difficulty;
    int max_attempts; /* workers tried per request before giving up (default 3) */
    /* An idle worker not picked for this long gets the next request, so a slow or failing
     * worker that recovered is measured again (default 10000; 0 = never). */
    uint64_t explore_ms;
    int32_t max_client_active; /* concurrent requests per client link (default 256) */
    double max_timeout;        /* seconds; longer client timeouts are cut (default 600) */
    /* Fault injection for tests of the client's end-to-end checks: NULL (normal), "usage"
     * (report one completion token more than the worker said), "body" (flip a byte of an
     * answer part) or "cert" (name the worker's certificate by id to a client that never got
     * it in full). It makes this proxy lie as a malicious one could. */
    const char *fault;
} proxy_config;

void proxy_config_init(proxy_config *c);
MUST_CHECK err_t proxy_new(net_loop *l, const proxy_config *cfg, proxy **out);
/* Fails requests in flight (clients get an error) and closes every link. */
void proxy_free(proxy *p);
uint16_t proxy_worker_port(const proxy *p);
uint16_t proxy_client_port(const proxy *p);
size_t proxy_ready_workers(const proxy *p);
/* After the registry changed (a refresh): closes the links of workers whose image or model is
 * no longer allowed (their requests are retried elsewhere or failed). Returns how many. */
size_t proxy_registry_changed(proxy *p);
size_t proxy_active_requests(const proxy *p);
/* Counters and gauges for /stats, /jsonstats, /metrics (an http_stats_fn; arg is the proxy). */
size_t proxy_metrics(void *arg, http_metric *m, size_t cap);

#endif
