/* A daemon's statistics over HTTP, three ways (reference §8 has /stats and /jsonstats):
 *   GET /stats      human-readable "name value" lines
 *   GET /jsonstats  one JSON object {name: value}
 *   GET /metrics    Prometheus text exposition format 0.0.4 (# HELP, # TYPE, samples)
 * The role fills a metric table on each request; nothing is cached. */
#ifndef COCOON_HTTP_STATS_H
#define COCOON_HTTP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "net/loop.h"

#define HTTP_STATS_MAX 64

typedef struct {
    const char *name; /* [a-z_]+, prefixed with cocoon_<role>_ in /metrics */
    const char *help;
    bool counter; /* else gauge */
    double value;
} http_metric;

/* Fills up to cap metrics, returns how many. */
typedef size_t (*http_stats_fn)(void *arg, http_metric *out, size_t cap);

struct evhttp_request;
typedef struct http_stats http_stats;

/* The three renderings, appended to out (role: "proxy", "worker", "client"). */
MUST_CHECK err_t http_stats_render(const char *role, const http_metric *m, size_t n, int kind,
                                   buf *out);
enum { HTTP_STATS_TEXT, HTTP_STATS_JSON, HTTP_STATS_PROMETHEUS };

/* Answers req if its path is /stats, /jsonstats or /metrics (true), else false. */
bool http_stats_serve(struct evhttp_request *req, const char *role, http_stats_fn fn, void *arg);

/* A listener serving only those three paths (proxy and worker; the client serves them on its
 * API port). listen: host:port (port 0 picks one). */
MUST_CHECK err_t http_stats_new(net_loop *l, const char *listen, const char *role, http_stats_fn fn,
                                void *arg, http_stats **out);
uint16_t http_stats_port(const http_stats *s);
void http_stats_free(http_stats *s);

#endif
