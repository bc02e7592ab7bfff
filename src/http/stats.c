/* Statistics over HTTP (see stats.h). */
#include "http/stats.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/server.h"
#include "net/sock.h"

struct http_stats {
    struct evhttp *http;
    uint16_t port;
    const char *role;
    http_stats_fn fn;
    void *arg;
};

static err_t addf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static err_t addf(buf *b, const char *fmt, ...) {
    char t[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof(t), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(t)) {
        return err_fail(ERR_TOO_LARGE, "stats line too long");
    }
    return buf_append(b, t, (size_t)n);
}

err_t http_stats_render(const char *role, const http_metric *m, size_t n, int kind, buf *out) {
    if (kind == HTTP_STATS_JSON) {
        TRY(buf_append(out, "{", 1));
    }
    for (size_t i = 0; i < n; i++) {
        double v = isfinite(m[i].value) ? m[i].value : 0;
        switch (kind) {
        case HTTP_STATS_TEXT:
            TRY(addf(out, "%-28s %.17g\n", m[i].name, v));
            break;
        case HTTP_STATS_JSON:
            TRY(addf(out, "%s\"%s\":%.17g", i ? "," : "", m[i].name, v));
            break;
        default:
            /* Prometheus text format: HELP and TYPE lines, then the sample. */
            TRY(addf(out, "# HELP cocoon_%s_%s %s\n# TYPE cocoon_%s_%s %s\ncocoon_%s_%s %.17g\n",
                     role, m[i].name, m[i].help, role, m[i].name,
                     m[i].counter ? "counter" : "gauge", role, m[i].name, v));
        }
    }
    if (kind == HTTP_STATS_JSON) {
        TRY(buf_append(out, "}", 1));
    }
    return ERR_OK;
}

bool http_stats_serve(struct evhttp_request *req, const char *role, http_stats_fn fn, void *arg) {
    const char *uri = evhttp_request_get_uri(req);
    size_t pl = strcspn(uri, "?#");
    int kind;
    const char *ctype;
    if (pl == 6 && memcmp(uri, "/stats", 6) == 0) {
        kind = HTTP_STATS_TEXT;
        ctype = "text/plain; charset=utf-8";
    } else if (pl == 10 && memcmp(uri, "/jsonstats", 10) == 0) {
        kind = HTTP_STATS_JSON;
        ctype = "application/json";
    } else if (pl == 8 && memcmp(uri, "/metrics", 8) == 0) {
        kind = HTTP_STATS_PROMETHEUS;
        ctype = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        return false;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        http_reply_error(req, 405, NULL, "use GET");
        return true;
    }
    http_metric m[HTTP_STATS_MAX];
    size_t n = fn(arg, m, HTTP_STATS_MAX);
    buf b;
    buf_init(&b, 1 << 20);
    if (http_stats_render(role, m, n, kind, &b) != ERR_OK) {
        buf_free(&b);
        http_reply_error(req, 500, NULL, "stats too large");
        return true;
    }
    struct evbuffer *eb = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    if (eb) {
        evbuffer_add(eb, b.data, b.len);
    }
    evhttp_send_reply(req, 200, "OK", eb);
    if (eb) {
        evbuffer_free(eb);
    }
    buf_free(&b);
    return true;
}

static void on_req(struct evhttp_request *req, void *arg) {
    http_stats *s = arg;
    if (!http_stats_serve(req, s->role, s->fn, s->arg)) {
        http_reply_error(req, 404, NULL, "only /stats, /jsonstats and /metrics here");
    }
}

err_t http_stats_new(net_loop *l, const char *listen, const char *role, http_stats_fn fn, void *arg,
                     http_stats **out) {
    *out = NULL;
    char host[256];
    uint16_t port;
    TRY(net_parse_hostport(listen, host, sizeof(host), &port, 1));
    http_stats *s = calloc(1, sizeof(*s));
    if (!s) {
        return ERR_NOMEM;
    }
    s->role = role;
    s->fn = fn;
    s->arg = arg;
    s->http = evhttp_new(net_loop_base(l));
    struct evhttp_bound_socket *bs =
        s->http ? evhttp_bind_socket_with_handle(s->http, host, port) : NULL;
    if (!bs) {
        http_stats_free(s);
        return err_fail(ERR_IO, "stats: cannot listen on %s", listen);
    }
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET);
    evhttp_set_max_body_size(s->http, 0);
    evhttp_set_gencb(s->http, on_req, s);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    }
    *out = s;
    return ERR_OK;
}

uint16_t http_stats_port(const http_stats *s) {
    return s->port;
}

void http_stats_free(http_stats *s) {
    if (!s) {
        return;
    }
    if (s->http) {
        evhttp_free(s->http);
    }
    free(s);
}
