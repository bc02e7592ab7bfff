/* HTTP/1.1 client for an OpenAI-compatible upstream server (vLLM, SGLang, llama.cpp server),
 * on the daemon's loop, with streaming: response headers and body chunks are handed over as
 * they arrive, never buffered whole.
 *
 * Built on libevent's evhttp client rather than libcurl multi: the daemon already runs one
 * libevent loop, evhttp hands out header and body-chunk callbacks natively (chunked and
 * Content-Length bodies alike), and cancelling a call closes its connection, which is how an
 * upstream learns that the request was abandoned. Keep-alive: a pool of connections per
 * upstream, each carrying one request at a time, reused once idle. */
#ifndef COCOON_HTTP_UPSTREAM_H
#define COCOON_HTTP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "net/loop.h"

#define UPSTREAM_MAX_CONNS 256

typedef struct http_upstream http_upstream;
typedef struct http_call http_call;

typedef struct {
    const char *name;
    const char *value;
} http_hdr;

typedef struct {
    /* Status line and headers; hdrs are valid during the call only. */
    void (*on_head)(void *arg, int status, const char *reason, const http_hdr *hdrs, size_t n);
    void (*on_body)(void *arg, const uint8_t *data, size_t n);
    /* Last callback: ERR_OK after the whole body, else ERR_IO / ERR_TIMEOUT / ERR_EOF. The
     * call is gone afterwards. Not called after http_call_cancel. */
    void (*on_done)(void *arg, err_t e);
} http_call_handlers;

/* url: "http://host:port[/prefix]"; a trailing "/v1" in the prefix is dropped, since request
 * paths carry it (/v1/chat/completions). ERR_CONFIG for anything else (https not yet). */
MUST_CHECK err_t http_upstream_new(net_loop *l, const char *url, http_upstream **out);
/* Cancels every call in flight (no callbacks) and closes the connections. */
void http_upstream_free(http_upstream *u);

/* Starts method path with the given headers (Host and Content-Length are set here) and body.
 * timeout_ms bounds each read/write wait. ERR_TOO_MANY when all connections are busy. */
MUST_CHECK err_t http_upstream_call(http_upstream *u, const char *method, const char *path,
                                    const http_hdr *hdrs, size_t nhdrs, const uint8_t *body,
                                    size_t len, uint64_t timeout_ms, const http_call_handlers *h,
                                    void *arg, http_call **out);
/* Abandons the call: its connection is closed (the upstream sees the client go away). */
void http_call_cancel(http_call *c);

/* Calls started / connections opened (for tests and stats). */
uint64_t http_upstream_calls(const http_upstream *u);
uint64_t http_upstream_conns_opened(const http_upstream *u);

#endif
