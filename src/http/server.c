/* evhttp server helpers (see server.h). */
#include "http/server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "http/openai.h"

err_t http_req_body(struct evhttp_request *req, size_t max, buf *out) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > max) {
        return err_fail(ERR_TOO_LARGE, "request body of %zu bytes (max %zu)", n, max);
    }
    TRY(buf_reserve(out, n));
    if (evbuffer_copyout(in, out->data + out->len, n) != (ev_ssize_t)n) {
        return err_fail(ERR_INTERNAL, "evbuffer_copyout");
    }
    out->len += n;
    return ERR_OK;
}

const char *http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

void http_reply_json(struct evhttp_request *req, int status, const char *json, size_t n) {
    struct evbuffer *b = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (b) {
        evbuffer_add(b, json, n);
    }
    evhttp_send_reply(req, status, http_reason(status), b);
    if (b) {
        evbuffer_free(b);
    }
}

void http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
                      ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf b;
    buf_init(&b, 1 << 16);
    if (openai_error_json(&b, msg, openai_error_type(status), code) != ERR_OK) {
        buf_reset(&b);
    }
    http_reply_json(req, status, (const char *)b.data, b.len);
    buf_free(&b);
}

bool http_hop_header(const char *name) {
    static const char *const hop[] = {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding",  "content-length",
        "te",         "trailer",    "upgrade",          "proxy-authenticate", "proxy-authorization",
        NULL};
    for (size_t i = 0; hop[i]; i++) {
        if (strcasecmp(name, hop[i]) == 0) {
            return true;
        }
    }
    return false;
}
