/* libcocoon-client: send OpenAI-style requests into the COCOON network from a C program, without
 * running the client daemon or speaking HTTP.
 *
 * A cocoon_client owns one thread running its own event loop. It dials every proxy the registry
 * names, verifies each proxy's RA-TLS certificate (TD quote to a pinned root, image hash in the
 * registry) and completes the client handshake before any request goes to it; each answer's
 * end-to-end evidence (the worker's attested certificate, its signature over query, answer,
 * model and usage) is checked before the answer is reported complete.
 *
 * Threads: every function here may be called from any thread (cocoon_client_free not from a
 * callback). Callbacks run on the library's thread, one at a time; they must not block for long
 * (the loop serves every request) and may call cocoon_client_submit / cocoon_client_cancel.
 * The library's thread blocks every signal, so signals keep going to the application's threads
 * and a closed socket never raises SIGPIPE in the application.
 *
 * Link: libcocoon-client.a plus OpenSSL 3 (ssl, crypto), libevent 2.1 (core, extra, openssl,
 * pthreads), jansson, libcurl and pthreads. Only the cocoon_* names below are exported. */
#ifndef COCOON_CLIENT_PUBLIC_H
#define COCOON_CLIENT_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cocoon_client cocoon_client;

typedef struct {
    /* The root registry: exactly one of registry and registry_file is required.
     * registry_file: a JSON registry file (docs/network.md); kept for compatibility, it means
     * the same as registry = "file:PATH". */
    const char *registry_file;
    /* Test networks only: pin this fake CA's root key instead of Intel's (the directory
     * `cocoon up` makes under its state directory). NULL: real TDX quotes only. */
    const char *fake_ca_dir;
    const char *owner_address; /* NULL: "" */
    int is_test;               /* must match the proxies' is_test */
    double timeout_s;          /* per request; default 120 */
    int require_evidence;      /* default 1; 0 accepts answers without worker evidence */
    const char *log_level;     /* stderr logging: "debug|info|warn|error|off"; NULL: "warn" */
    /* The root registry named as the daemons' --registry takes it (docs/operations.md):
     *   "file:PATH" (or a bare PATH)  a JSON registry file
     *   "chain:API_URL#ROOT"          the COCOON root contract ROOT read through the TON HTTP
     *                                 API v2 at API_URL (e.g.
     * "chain:https://toncenter.com/api/v2#EQ…") cocoon_client_new reads it once (blocking: an HTTP
     * request for a chain). */
    const char *registry;
    /* Seconds between re-reads of the registry, on a thread of the library's own (never the
     * application's): -1 (what cocoon_client_config_init sets): 30 for a chain, never for a
     * file, as the client daemon does; 0: never; at most 86400. A registry that changed
     * replaces the current one in place, as in the client daemon (links to proxies that left
     * the list close, new proxies are dialed); a failed read keeps the current one (logged
     * once, at WARN). */
    int registry_refresh_s;
    /* X-API-Key for the TON HTTP API of a chain registry; NULL: the environment's
     * COCOON_TON_API_KEY, if any. */
    const char *ton_api_key;
    /* 0 (default): answers are authenticated by the worker with an HMAC under a key agreed
     * with this client (X25519 with the key its attested certificate names); 1: ask for an
     * Ed25519 signature per answer instead, a proof third parties can check too, at about
     * 0.1 ms more per answer (docs/network.md, End-to-end evidence). */
    int evidence_signatures;
} cocoon_client_config;

typedef struct {
    int known; /* 0: the worker reported no usage */
    int64_t prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens, total_tokens;
} cocoon_usage;

typedef struct {
    /* Optional. Status and Content-Type of the answer (text/event-stream for a stream). */
    void (*on_head)(void *arg, int status, const char *content_type);
    /* Optional. Answer bytes as they arrive: an SSE stream byte for byte, or a JSON body in
     * pieces. For an SSE stream the final `data: [DONE]` arrives only after the evidence
     * verified. */
    void (*on_chunk)(void *arg, const char *data, size_t len);
    /* Required. Called exactly once per accepted request, last. error NULL: the answer is
     * complete (and verified); usage is what the worker reported and signed. error set: status
     * is an HTTP status (400 bad request, 404 unknown model, 499 cancelled, 502 network or
     * evidence failure, 503 no proxy ready or shutting down, 504 timeout), the answer must be
     * treated as incomplete, usage is NULL. */
    void (*on_done)(void *arg, int status, const char *error, const cocoon_usage *usage);
} cocoon_callbacks;

void cocoon_client_config_init(cocoon_client_config *cfg);

/* Loads the registry, makes the client's RA-TLS certificate and starts the thread, which starts
 * dialing (and, when the registry is refreshed, the thread that re-reads it). Returns 0, or -1
 * with a message in err (err may be NULL): a missing, ambiguous (both registry and
 * registry_file) or malformed registry source, an unreadable registry, a bad log_level or
 * registry_refresh_s, ... */
int cocoon_client_new(const cocoon_client_config *cfg, cocoon_client **out, char *err,
                      size_t errlen);

/* Waits until at least one proxy is attested and its handshake done: 1, or 0 after timeout_ms. */
int cocoon_client_wait_ready(cocoon_client *c, int timeout_ms);

/* Proxies ready now. */
int cocoon_client_ready_proxies(cocoon_client *c);

/* Sends POST path ("/v1/chat/completions" or "/v1/completions") with a JSON body (an OpenAI
 * request with a "model"; "stream": true for SSE). The body is copied. Returns a request id > 0
 * (every callback for it follows, on_done last), or 0 when the client is stopping or out of
 * memory (no callback). A request that cannot be sent (bad body, no proxy ready) is still
 * answered through on_done. */
uint64_t cocoon_client_submit(cocoon_client *c, const char *path, const char *json, size_t len,
                              const cocoon_callbacks *cb, void *arg);

/* Cancels a request: the proxy and the worker are told (the upstream stops generating) and
 * on_done follows with status 499, unless the request had already ended (then nothing). */
void cocoon_client_cancel(cocoon_client *c, uint64_t id);

/* Fails requests still open (on_done with 503), closes the links, stops the threads, frees.
 * May wait for a registry read in progress (a few seconds at most for a slow chain API). */
void cocoon_client_free(cocoon_client *c);

#ifdef __cplusplus
}
#endif

#endif
