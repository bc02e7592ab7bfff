/* Upstream HTTP client over libevent's evhttp (see upstream.h for why evhttp). */
#include "http/upstream.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "base/log.h"

#define UPSTREAM_MAX_HEADERS 128
#define UPSTREAM_HEADER_BYTES (64 * 1024)

typedef struct uconn {
    struct evhttp_connection *evcon;
    http_call *busy;
} uconn;

struct http_upstream {
    net_loop *loop;
    char host[256];
    uint16_t port;
    char prefix[256];
    uconn conns[UPSTREAM_MAX_CONNS];
    size_t nconns;
    uint64_t calls;
    uint64_t opened;
};

struct http_call {
    http_upstream *u;
    uconn *uc;
    struct evhttp_request *req;
    http_call_handlers h;
    void *arg;
    int error; /* an evhttp_request_error seen, or -1 */
};

err_t http_upstream_new(net_loop *l, const char *url, http_upstream **out) {
    *out = NULL;
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    if (!uri) {
        return err_fail(ERR_CONFIG, "upstream URL \"%s\" does not parse", url);
    }
    err_t e = ERR_OK;
    http_upstream *u = calloc(1, sizeof(*u));
    const char *scheme = evhttp_uri_get_scheme(uri);
    const char *host = evhttp_uri_get_host(uri);
    const char *path = evhttp_uri_get_path(uri);
    int port = evhttp_uri_get_port(uri);
    if (!u) {
        e = ERR_NOMEM;
        goto out;
    }
    if (!scheme || strcmp(scheme, "http") != 0 || !host || !*host ||
        strlen(host) >= sizeof(u->host)) {
        e = err_fail(ERR_CONFIG, "upstream URL \"%s\": only http://host[:port][/prefix]", url);
        goto out;
    }
    u->loop = l;
    snprintf(u->host, sizeof(u->host), "%s", host);
    u->port = port > 0 ? (uint16_t)port : 80;
    size_t n = path ? strlen(path) : 0;
    while (n > 0 && path[n - 1] == '/') {
        n--;
    }
    if (n >= 3 && memcmp(path + n - 3, "/v1", 3) == 0) {
        n -= 3;
    }
    if (n >= sizeof(u->prefix)) {
        e = err_fail(ERR_CONFIG, "upstream URL path too long");
        goto out;
    }
    if (n) {
        memcpy(u->prefix, path, n);
    }
    u->prefix[n] = 0;
out:
    evhttp_uri_free(uri);
    if (e != ERR_OK) {
        free(u);
        return e;
    }
    *out = u;
    return ERR_OK;
}

static void call_free(http_call *c) {
    if (c->uc && c->uc->busy == c) {
        c->uc->busy = NULL;
    }
    free(c);
}

void http_call_cancel(http_call *c) {
    if (!c) {
        return;
    }
    if (c->req) {
        /* The request callback does not run after a cancel; the error callback might. */
        evhttp_request_set_error_cb(c->req, NULL);
        evhttp_request_set_chunked_cb(c->req, NULL);
        evhttp_request_set_header_cb(c->req, NULL);
        evhttp_cancel_request(c->req);
    }
    call_free(c);
}

void http_upstream_free(http_upstream *u) {
    if (!u) {
        return;
    }
    for (size_t i = 0; i < u->nconns; i++) {
        if (u->conns[i].busy) {
            http_call_cancel(u->conns[i].busy);
        }
        evhttp_connection_free(u->conns[i].evcon);
    }
    free(u);
}

static int on_header(struct evhttp_request *req, void *arg) {
    http_call *c = arg;
    http_hdr hdrs[UPSTREAM_MAX_HEADERS];
    size_t n = 0;
    struct evkeyvalq *q = evhttp_request_get_input_headers(req);
    for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
        if (n == UPSTREAM_MAX_HEADERS) {
            LOGW("upstream", "more than %d response headers; the rest are dropped",
                 UPSTREAM_MAX_HEADERS);
            break;
        }
        hdrs[n].name = kv->key;
        hdrs[n].value = kv->value;
        n++;
    }
    const char *reason = evhttp_request_get_response_code_line(req);
    c->h.on_head(c->arg, evhttp_request_get_response_code(req), reason ? reason : "", hdrs, n);
    return 0;
}

static void deliver(http_call *c, struct evbuffer *in) {
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
            break;
        }
        c->h.on_body(c->arg, v.iov_base, v.iov_len);
        evbuffer_drain(in, v.iov_len);
    }
}

static void on_chunk(struct evhttp_request *req, void *arg) {
    deliver(arg, evhttp_request_get_input_buffer(req));
}

static void on_error(enum evhttp_request_error err, void *arg) {
    http_call *c = arg;
    c->error = (int)err;
}

static void on_done(struct evhttp_request *req, void *arg) {
    http_call *c = arg;
    c->req = NULL;
    err_t e = ERR_OK;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        e = c->error == EVREQ_HTTP_TIMEOUT ? err_fail(ERR_TIMEOUT, "upstream timed out")
            : c->error == EVREQ_HTTP_EOF
                ? err_fail(ERR_EOF, "upstream closed the connection")
                : err_fail(ERR_IO, "upstream request failed (%d)", c->error);
    } else {
        deliver(c, evhttp_request_get_input_buffer(req));
    }
    if (c->uc) {
        c->uc->busy = NULL;
    }
    c->h.on_done(c->arg, e);
    free(c);
}

static uconn *pick_conn(http_upstream *u) {
    for (size_t i = 0; i < u->nconns; i++) {
        if (!u->conns[i].busy) {
            return &u->conns[i];
        }
    }
    if (u->nconns == UPSTREAM_MAX_CONNS) {
        return NULL;
    }
    struct evhttp_connection *ev =
        evhttp_connection_base_new(net_loop_base(u->loop), NULL, u->host, u->port);
    if (!ev) {
        return NULL;
    }
    evhttp_connection_set_max_headers_size(ev, UPSTREAM_HEADER_BYTES);
    u->opened++;
    uconn *uc = &u->conns[u->nconns++];
    uc->evcon = ev;
    uc->busy = NULL;
    return uc;
}

err_t http_upstream_call(http_upstream *u, const char *method, const char *path,
                         const http_hdr *hdrs, size_t nhdrs, const uint8_t *body, size_t len,
                         uint64_t timeout_ms, const http_call_handlers *h, void *arg,
                         http_call **out) {
    *out = NULL;
    enum evhttp_cmd_type cmd;
    if (strcmp(method, "POST") == 0) {
        cmd = EVHTTP_REQ_POST;
    } else if (strcmp(method, "GET") == 0) {
        cmd = EVHTTP_REQ_GET;
    } else {
        return err_fail(ERR_MALFORMED, "method %.16s not forwarded", method);
    }
    char uri[1024];
    if ((size_t)snprintf(uri, sizeof(uri), "%s%s", u->prefix, path) >= sizeof(uri)) {
        return err_fail(ERR_TOO_LARGE, "upstream path too long");
    }
    uconn *uc = pick_conn(u);
    if (!uc) {
        return err_fail(ERR_TOO_MANY, "all %d upstream connections are busy", UPSTREAM_MAX_CONNS);
    }
    http_call *c = calloc(1, sizeof(*c));
    if (!c) {
        return ERR_NOMEM;
    }
    c->u = u;
    c->h = *h;
    c->arg = arg;
    c->error = -1;
    struct evhttp_request *req = evhttp_request_new(on_done, c);
    if (!req) {
        free(c);
        return ERR_NOMEM;
    }
    evhttp_request_set_header_cb(req, on_header);
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_request_set_error_cb(req, on_error);
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof(hostport), "%s:%u", u->host, u->port);
    int bad = evhttp_add_header(oh, "Host", hostport);
    for (size_t i = 0; i < nhdrs && !bad; i++) {
        bad = evhttp_add_header(oh, hdrs[i].name, hdrs[i].value);
    }
    if (cmd == EVHTTP_REQ_POST) {
        char cl[32];
        snprintf(cl, sizeof(cl), "%zu", len);
        bad = bad || evhttp_add_header(oh, "Content-Length", cl) ||
              evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    }
    if (bad) {
        evhttp_request_free(req);
        free(c);
        return err_fail(ERR_MALFORMED, "header not acceptable to the upstream request");
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(uc->evcon, &tv);
    if (evhttp_make_request(uc->evcon, req, cmd, uri) != 0) {
        /* evhttp frees the request on failure */
        free(c);
        return err_fail(ERR_IO, "could not start the upstream request");
    }
    c->uc = uc;
    c->req = req;
    uc->busy = c;
    u->calls++;
    *out = c;
    return ERR_OK;
}

uint64_t http_upstream_calls(const http_upstream *u) {
    return u->calls;
}

uint64_t http_upstream_conns_opened(const http_upstream *u) {
    return u->opened;
}
