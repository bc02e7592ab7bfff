/* The client daemon's core: an OpenAI-compatible HTTP API (bound to 127.0.0.1 by default) in
 * front of attested links to the registered proxies (cocoon-internals.md §5).
 *
 *   POST /v1/chat/completions, POST /v1/completions   → client.runQueryEx (an http.request
 *        inside) to a ready proxy; client.queryAnswerEx gives the status and headers,
 *        client.queryAnswerPartEx the body chunks, relayed to the app as they arrive (SSE stays
 *        SSE); client.queryAnswerErrorEx becomes an OpenAI error JSON (or, once a stream has
 *        started, a `data: {"error":…}` event).
 *   GET /v1/models       → client.getWorkerTypesV2 on a proxy, in OpenAI's list shape
 *   GET /stats, /jsonstats, /metrics → request and token counters (http/stats.h)
 * An app that disconnects cancels its request (client.queryAnswerErrorEx sent to the proxy
 * for that request id: our extension). With an API key set, every API call needs
 * `Authorization: Bearer KEY` (401 otherwise); without one, only a loopback bind is allowed. */
#ifndef COCOON_CLIENT_CLIENT_H
#define COCOON_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/stats.h"
#include "net/loop.h"
#include "ratls/policy.h"
#include "ratls/tls.h"
#include "registry/registry.h"

typedef struct client client;
/* One request in flight (inference or model list); owned by the client. */
typedef struct creq client_req;

typedef struct {
    ratls_ctx *tls;          /* client context; its policy requires the proxy's TD quote */
    const registry *reg;     /* proxies (client addresses), allowed proxy images */
    const char *http_listen; /* host:port, default 127.0.0.1:0; NULL: no HTTP API (library) */
    const char *api_key;     /* NULL or "": no authentication (loopback binds only) */
    const char *owner_address;
    bool is_test;
    int pow_max_difficulty;
    double timeout;          /* seconds per request (reference default 120) */
    int32_t max_coefficient; /* reference default 4000 */
    /* End-to-end evidence (http/evidence.h): answers must come with a worker certificate that
     * verifies under this policy (image and model in the registry) and a valid signature over
     * query, answer, model and usage. NULL: not checked. */
    const ratls_policy *worker_policy;
    bool require_evidence;
    /* Ask workers for Ed25519 signatures (transferable proof) instead of MACs under a key
     * agreed with this client (the default: ~100 us less per answer; http/evidence.h). */
    bool evidence_signatures;
    /* client.updatePaymentStatus interval while connected; 0 = random 10–20 s (reference). */
    uint64_t payment_poll_ms;
} client_config;

void client_config_init(client_config *c);

/* An answer header as the app sees it (hop-by-hop headers and the worker certificate removed,
 * X-Cocoon-Worker-Image / X-Cocoon-Evidence added once the evidence verified). */
typedef struct {
    const char *name;
    const char *value;
} client_header;

/* Usage the worker reported in the final info (known false when the answer had none). */
typedef struct {
    bool known;
    int64_t prompt, cached, completion, reasoning, total;
} client_usage;

/* Where an answer goes. Called on the loop thread. Exactly one of on_end / on_error ends a
 * request (never both, never twice), and nothing is called after client_req_cancel. */
typedef struct {
    /* Status and headers; body: the first answer bytes; final: the whole answer is in this head
     * (on_end follows at once). sse: Content-Type text/event-stream. */
    void (*on_head)(void *arg, int status, const client_header *h, size_t nh, bool sse,
                    const uint8_t *body, size_t n, bool final);
    void (*on_data)(void *arg, const uint8_t *p, size_t n);
    /* The answer is complete and (when required) its evidence verified. */
    void (*on_end)(void *arg, const client_usage *u);
    /* status: an HTTP status; after_head: on_head was already called. */
    void (*on_error)(void *arg, int status, const char *msg, bool after_head);
} client_sink;

/* Sends POST path (/v1/chat/completions or /v1/completions) with a JSON body to a ready proxy
 * (one whose TD quote and image verified and whose handshake completed). accept: the Accept
 * header or NULL. On failure nothing was sent, no callback will come and *status says why in
 * HTTP terms (400 bad body, 404 unknown path, 503 no proxy ready, 500 otherwise). */
MUST_CHECK err_t client_submit(client *cl, const char *path, const uint8_t *body, size_t n,
                               const char *accept, const client_sink *sink, void *arg,
                               client_req **out, int *status);
/* The app gives up on r: it is cancelled at the proxy and worker (499) and freed; no callback
 * follows. */
void client_req_cancel(client_req *r);
MUST_CHECK err_t client_new(net_loop *l, const client_config *cfg, client **out);
/* Fails open requests (503), stops the HTTP API and closes the links; run the loop until
 * client_stopped() before client_free. */
void client_stop(client *c);
/* After the registry changed in place (registry_replace): links to proxies no longer listed
 * are closed, new proxies are dialed, connected proxies are re-checked against the image
 * list. */
void client_registry_changed(client *c);
bool client_stopped(const client *c);
void client_free(client *c);
uint16_t client_http_port(const client *c);
size_t client_ready_proxies(const client *c);
/* Counters and gauges for /stats, /jsonstats, /metrics (an http_stats_fn; arg is the client). */
size_t client_metrics(void *arg, http_metric *m, size_t cap);

#endif
