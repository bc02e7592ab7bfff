/* cocoon proxy: the proxy daemon (src/proxy/proxy.h).
 *   --registry FILE|chain:URL#ROOT --worker-listen H:P --client-listen H:P [--difficulty N]
 * [--max-attempts N] [--explore-ms MS]
 *   [--ready-file FILE] [--config FILE.json] [--provider fake|tdx|none] [--fake-ca DIR]
 *   [--fake-config FILE] [--test]
 * Workers must present a TD quote (image hash in the registry); clients need not. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "commands.h"
#include "http/stats.h"
#include "node.h"
#include "proxy/proxy.h"
#include "util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon proxy --registry FILE|chain:URL#ROOT [--worker-listen HOST:PORT]\n"
               "         [--client-listen HOST:PORT] [--difficulty N] [--max-attempts N]\n"
               "         [--explore-ms MS (re-measure an idle worker unpicked this long)]\n"
               "         [--max-client-active N] [--stats-listen HOST:PORT] [--ready-file FILE]\n"
               "         [--log-format text|json] [--log-level LEVEL]\n"
               "         [--config FILE.json] [--fault usage|body|cert (tests: alter answers)]\n"
               "         [--provider fake|tdx|none] [--fake-ca DIR] [--fake-config FILE] [--test]\n"
               "The ready file gets \"WORKER_PORT CLIENT_PORT\" once both ports listen.\n");
}

typedef struct {
    proxy *p;
    http_stats *st;
} pstate;

static void stop(void *arg) {
    pstate *s = arg;
    http_stats_free(s->st);
    s->st = NULL;
    proxy_free(s->p);
    s->p = NULL;
}

static bool stopped(void *arg) {
    (void)arg;
    return true;
}

/* A registry refresh: workers whose image or model was removed are disconnected. */
static void on_registry(void *arg) {
    proxy_registry_changed(arg);
}

int cmd_proxy(int argc, char **argv) {
    if (node_expand_config("proxy", &argc, &argv) != 0) {
        return 2;
    }
    static const struct option opts[] = {NODE_LONG_OPTIONS,
                                         {"worker-listen", required_argument, NULL, 0},
                                         {"client-listen", required_argument, NULL, 0},
                                         {"difficulty", required_argument, NULL, 0},
                                         {"max-attempts", required_argument, NULL, 0},
                                         {"explore-ms", required_argument, NULL, 0},
                                         {"max-client-active", required_argument, NULL, 0},
                                         {"test", no_argument, NULL, 0},
                                         {"stats-listen", required_argument, NULL, 0},
                                         {"fault", required_argument, NULL, 0},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    node_opts no;
    node_opts_init(&no, "proxy");
    const char *stats_listen = NULL;
    proxy_config pc;
    proxy_config_init(&pc);
    long v;
    const char *name = NULL;
    int rc = 0;
    optind = 0;
    for (;;) {
        int k = node_getopt(argc, argv, opts, &no, usage, &name, &rc);
        if (k == NODE_OPT_END) {
            break;
        }
        if (k == NODE_OPT_EXIT) {
            return rc;
        }
        if (strcmp(name, "worker-listen") == 0) {
            pc.worker_listen = optarg;
        } else if (strcmp(name, "client-listen") == 0) {
            pc.client_listen = optarg;
        } else if (strcmp(name, "fault") == 0 &&
                   (strcmp(optarg, "usage") == 0 || strcmp(optarg, "body") == 0 ||
                    strcmp(optarg, "cert") == 0)) {
            pc.fault = optarg;
            fprintf(stderr, "cocoon proxy: FAULT INJECTION (%s): this proxy alters answers\n",
                    optarg);
        } else if (strcmp(name, "stats-listen") == 0) {
            stats_listen = optarg;
        } else if (strcmp(name, "test") == 0) {
            pc.is_test = true;
        } else if (strcmp(name, "difficulty") == 0 && cli_parse_long(optarg, 0, 32, &v)) {
            pc.pow_difficulty = (int)v;
        } else if (strcmp(name, "explore-ms") == 0 && cli_parse_long(optarg, 0, 86400000, &v)) {
            pc.explore_ms = (uint64_t)v;
        } else if (strcmp(name, "max-attempts") == 0 && cli_parse_long(optarg, 1, 8, &v)) {
            pc.max_attempts = (int)v;
        } else if (strcmp(name, "max-client-active") == 0 &&
                   cli_parse_long(optarg, 1, 100000, &v)) {
            pc.max_client_active = (int32_t)v;
        } else {
            fprintf(stderr, "cocoon proxy: bad --%s\n", name);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    node n;
    pstate st = {NULL, NULL};
    err_t e = node_open(&n, &no);
    if (e == ERR_OK) {
        e = node_ctx(&n, RATLS_SERVER, true, &pc.worker_tls);
    }
    if (e == ERR_OK) {
        e = node_ctx(&n, RATLS_SERVER, false, &pc.client_tls);
    }
    if (e == ERR_OK) {
        pc.reg = n.reg;
        pc.public_key = cert_rotor_identity(n.rotor)->key.pub;
        e = proxy_new(n.loop, &pc, &st.p);
    }
    if (e == ERR_OK && stats_listen) {
        e = http_stats_new(n.loop, stats_listen, "proxy", proxy_metrics, st.p, &st.st);
        if (e == ERR_OK) {
            printf("stats_port: %u\n", http_stats_port(st.st));
        }
    }
    proxy *p = st.p;
    if (e == ERR_OK) {
        char ready[64];
        snprintf(ready, sizeof(ready), "%u %u\n", proxy_worker_port(p), proxy_client_port(p));
        printf("worker_port: %u\nclient_port: %u\n", proxy_worker_port(p), proxy_client_port(p));
        fflush(stdout);
        LOGI("proxy", "listening: workers on port %u, clients on port %u", proxy_worker_port(p),
             proxy_client_port(p));
        e = node_ready(&no, ready);
    }
    if (e == ERR_OK) {
        n.on_registry = on_registry;
        n.on_registry_arg = p;
        e = node_run(&n, stop, stopped, NULL, &st);
    }
    http_stats_free(st.st);
    proxy_free(st.p);
    node_close(&n);
    return e == ERR_OK ? 0 : cli_fail("proxy", e, "proxy");
}
