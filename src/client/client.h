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

typedef struct {
    ratls_ctx *tls;          /* client context; its policy requires the proxy's TD quote */
    const registry *reg;     /* proxies (client addresses), allowed proxy images */
    const char *http_listen; /* host:port, default 127.0.0.1:0 */
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
} client_config;

void client_config_init(client_config *c);
MUST_CHECK err_t client_new(net_loop *l, const client_config *cfg, client **out);
/* Fails open requests (503), stops the HTTP API and closes the links; run the loop until
 * client_stopped() before client_free. */
void client_stop(client *c);
bool client_stopped(const client *c);
void client_free(client *c);
uint16_t client_http_port(const client *c);
size_t client_ready_proxies(const client *c);
/* Counters and gauges for /stats, /jsonstats, /metrics (an http_stats_fn; arg is the client). */
size_t client_metrics(void *arg, http_metric *m, size_t cap);

#endif
