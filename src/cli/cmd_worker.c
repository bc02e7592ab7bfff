/* cocoon worker: the worker daemon (src/worker/worker.h).
 *   --registry FILE|chain:URL#ROOT --model NAME[@COMMIT:VERITY] --upstream http://HOST:PORT[/v1]
 *   [--coefficient N] [--max-active N] [--max-tokens N] [--owner ADDR] [--test]
 *   [--ready-file FILE] [--config FILE.json] [--provider fake|tdx|none] [--fake-ca DIR]
 *   [--fake-config FILE] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "commands.h"
#include "http/stats.h"
#include "node.h"
#include "util.h"
#include "worker/worker.h"

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon worker --registry FILE|chain:URL#ROOT --model NAME[@COMMIT:VERITY]\n"
               "         --upstream http://HOST:PORT[/v1]|builtin:MODEL.gguf [--coefficient N]\n"
               "         [--max-active N] [--builtin-sessions N] [--builtin-threads N]\n"
               "         [--max-tokens N] [--owner ADDR] [--test] [--stats-listen HOST:PORT]\n"
               "         [--ready-file FILE] [--uplink-check-ms MS (0: off; default 2000)]\n"
               "         [--fault badframe (tests: send broken answer heads)]\n"
               "         [--log-format text|json] [--log-level LEVEL]\n"
               "         [--config FILE.json] [--provider fake|tdx|none] [--fake-ca DIR]\n"
               "         [--fake-config FILE]\n"
               "The ready file gets \"ready\" once a proxy has registered the worker.\n");
}

typedef struct {
    worker *w;
    http_stats *st;
    node_opts *no;
    bool announced;
} wstate;

static void on_registry(void *arg) {
    worker_registry_changed(arg);
}

static void stop(void *arg) {
    wstate *s = arg;
    http_stats_free(s->st);
    s->st = NULL;
    worker_stop(s->w);
}

static bool stopped(void *arg) {
    return worker_stopped(((wstate *)arg)->w);
}

static void tick(void *arg) {
    wstate *s = arg;
    if (!s->announced && worker_ready_proxies(s->w) > 0) {
        s->announced = true;
        char t[64];
        snprintf(t, sizeof(t), "ready pid %ld\n", (long)getpid());
        if (node_ready(s->no, t) != ERR_OK) {
            LOGW("worker", "ready file not written: %s", err_describe(ERR_IO));
        }
        printf("ready: registered with %zu proxy(ies)\n", worker_ready_proxies(s->w));
        fflush(stdout);
    }
}

int cmd_worker(int argc, char **argv) {
    if (node_expand_config("worker", &argc, &argv) != 0) {
        return 2;
    }
    static const struct option opts[] = {NODE_LONG_OPTIONS,
                                         {"model", required_argument, NULL, 0},
                                         {"upstream", required_argument, NULL, 0},
                                         {"uplink-check-ms", required_argument, NULL, 0},
                                         {"fault", required_argument, NULL, 0},
                                         {"coefficient", required_argument, NULL, 0},
                                         {"max-active", required_argument, NULL, 0},
                                         {"max-tokens", required_argument, NULL, 0},
                                         {"owner", required_argument, NULL, 0},
                                         {"test", no_argument, NULL, 0},
                                         {"stats-listen", required_argument, NULL, 0},
                                         {"builtin-sessions", required_argument, NULL, 0},
                                         {"builtin-threads", required_argument, NULL, 0},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    node_opts no;
    node_opts_init(&no, "worker");
    const char *stats_listen = NULL;
    worker_config wc;
    worker_config_init(&wc);
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
        if (strcmp(name, "model") == 0) {
            wc.model = optarg;
        } else if (strcmp(name, "upstream") == 0) {
            wc.upstream = optarg;
        } else if (strcmp(name, "owner") == 0) {
            wc.owner_address = optarg;
        } else if (strcmp(name, "stats-listen") == 0) {
            stats_listen = optarg;
        } else if (strcmp(name, "test") == 0) {
            wc.is_test = true;
        } else if (strcmp(name, "coefficient") == 0 && cli_parse_long(optarg, 0, 999999999, &v)) {
            wc.coefficient = (int32_t)v;
        } else if (strcmp(name, "max-active") == 0 && cli_parse_long(optarg, 1, 100000, &v)) {
            wc.max_active = (int32_t)v;
        } else if (strcmp(name, "builtin-sessions") == 0 && cli_parse_long(optarg, 1, 64, &v)) {
            wc.builtin_sessions = (unsigned)v;
        } else if (strcmp(name, "builtin-threads") == 0 && cli_parse_long(optarg, 1, 256, &v)) {
            wc.builtin_threads = (unsigned)v;
        } else if (strcmp(name, "max-tokens") == 0 && cli_parse_long(optarg, 1, 1 << 24, &v)) {
            wc.max_tokens = v;
        } else if (strcmp(name, "fault") == 0 && strcmp(optarg, "badframe") == 0) {
            wc.fault = optarg;
            fprintf(stderr, "cocoon worker: FAULT INJECTION (%s): this worker sends bad frames\n",
                    optarg);
        } else if (strcmp(name, "uplink-check-ms") == 0 && cli_parse_long(optarg, 0, 3600000, &v)) {
            wc.uplink_check_ms = (uint64_t)v;
        } else {
            fprintf(stderr, "cocoon worker: bad --%s\n", name);
            return 2;
        }
    }
    if (optind != argc || !wc.model || !wc.upstream) {
        usage(stderr);
        return 2;
    }
    node n;
    wstate s = {NULL, NULL, &no, false};
    err_t e = node_open(&n, &no);
    if (e == ERR_OK) {
        e = node_ctx(&n, RATLS_CLIENT, true, &wc.tls);
    }
    if (e == ERR_OK) {
        wc.reg = n.reg;
        wc.rotor = n.rotor;
        wc.evidence_kx = &n.evidence_kx;
        e = worker_new(n.loop, &wc, &s.w);
    }
    if (e == ERR_OK && stats_listen) {
        e = http_stats_new(n.loop, stats_listen, "worker", worker_metrics, s.w, &s.st);
        if (e == ERR_OK) {
            printf("stats_port: %u\n", http_stats_port(s.st));
            fflush(stdout);
        }
    }
    if (e == ERR_OK) {
        LOGI("worker", "serving %s from %s", wc.model, wc.upstream);
        n.on_registry = on_registry;
        n.on_registry_arg = s.w;
        e = node_run(&n, stop, stopped, tick, &s);
    }
    http_stats_free(s.st);
    worker_free(s.w);
    node_close(&n);
    return e == ERR_OK ? 0 : cli_fail("worker", e, "worker");
}
