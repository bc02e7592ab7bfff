/* cocoon client: the client daemon (src/client/client.h).
 *   --registry FILE|chain:URL#ROOT [--listen HOST:PORT] [--api-key-file FILE] [--timeout SEC]
 *   [--max-coefficient N] [--owner ADDR] [--test] [--ready-file FILE] [--config FILE.json]
 *   [--provider fake|tdx|none] [--fake-ca DIR] [--fake-config FILE] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "client/client.h"
#include "commands.h"
#include "node.h"
#include "util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon client --registry FILE|chain:URL#ROOT [--listen HOST:PORT] "
               "[--api-key-file FILE]\n"
               "         [--timeout SEC] [--max-coefficient N] [--owner ADDR] [--test]\n"
               "         [--no-evidence] [--evidence-signatures] [--payment-poll-ms MS]\n"
               "         [--ready-file FILE] [--config FILE.json] [--provider fake|tdx|none]\n"
               "         [--log-format text|json] [--log-level LEVEL]\n"
               "         [--fake-ca DIR] [--fake-config FILE]\n"
               "Serves the OpenAI API on HTTP (default 127.0.0.1, any free port). The ready file\n"
               "gets the HTTP port once a proxy connection is ready.\n");
}

typedef struct {
    client *c;
    node_opts *no;
    bool announced;
} cstate;

static void on_registry(void *arg) {
    client_registry_changed(arg);
}

static void stop(void *arg) {
    client_stop(((cstate *)arg)->c);
}

static bool stopped(void *arg) {
    return client_stopped(((cstate *)arg)->c);
}

static void tick(void *arg) {
    cstate *s = arg;
    if (!s->announced && client_ready_proxies(s->c) > 0) {
        s->announced = true;
        char t[32];
        snprintf(t, sizeof(t), "%u\n", client_http_port(s->c));
        if (node_ready(s->no, t) != ERR_OK) {
            LOGW("client", "ready file not written");
        }
        printf("ready: http://127.0.0.1:%u/v1\n", client_http_port(s->c));
        fflush(stdout);
    }
}

int cmd_client(int argc, char **argv) {
    if (node_expand_config("client", &argc, &argv) != 0) {
        return 2;
    }
    static const struct option opts[] = {NODE_LONG_OPTIONS,
                                         {"listen", required_argument, NULL, 0},
                                         {"api-key-file", required_argument, NULL, 0},
                                         {"timeout", required_argument, NULL, 0},
                                         {"max-coefficient", required_argument, NULL, 0},
                                         {"owner", required_argument, NULL, 0},
                                         {"test", no_argument, NULL, 0},
                                         {"no-evidence", no_argument, NULL, 0},
                                         {"evidence-signatures", no_argument, NULL, 0},
                                         {"payment-poll-ms", required_argument, NULL, 0},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    node_opts no;
    node_opts_init(&no, "client");
    client_config cc;
    client_config_init(&cc);
    const char *key_file = NULL;
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
        if (strcmp(name, "listen") == 0) {
            cc.http_listen = optarg;
        } else if (strcmp(name, "api-key-file") == 0) {
            key_file = optarg;
        } else if (strcmp(name, "owner") == 0) {
            cc.owner_address = optarg;
        } else if (strcmp(name, "no-evidence") == 0) {
            cc.require_evidence = false;
        } else if (strcmp(name, "evidence-signatures") == 0) {
            cc.evidence_signatures = true;
        } else if (strcmp(name, "payment-poll-ms") == 0 &&
                   cli_parse_long(optarg, 100, 3600000, &v)) {
            cc.payment_poll_ms = (uint64_t)v;
        } else if (strcmp(name, "test") == 0) {
            cc.is_test = true;
        } else if (strcmp(name, "timeout") == 0 && cli_parse_long(optarg, 1, 3600, &v)) {
            cc.timeout = (double)v;
        } else if (strcmp(name, "max-coefficient") == 0 &&
                   cli_parse_long(optarg, 0, 999999999, &v)) {
            cc.max_coefficient = (int32_t)v;
        } else {
            fprintf(stderr, "cocoon client: bad --%s\n", name);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    char key[256] = "";
    if (key_file) {
        buf b;
        buf_init(&b, sizeof(key) - 1);
        err_t ke = file_read(key_file, sizeof(key) - 1, &b);
        if (ke == ERR_OK) {
            size_t n = b.len;
            while (n > 0 &&
                   (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' ')) {
                n--;
            }
            memcpy(key, b.data, n);
            key[n] = 0;
        }
        buf_free(&b);
        if (ke != ERR_OK || !key[0]) {
            return cli_fail("client", ke != ERR_OK ? ke : ERR_CONFIG, key_file);
        }
        cc.api_key = key;
    }
    node n;
    cstate s = {NULL, &no, false};
    ratls_policy wpol;
    ratls_policy_init(&wpol);
    err_t e = node_open(&n, &no);
    if (e == ERR_OK) {
        e = node_ctx(&n, RATLS_CLIENT, true, &cc.tls);
    }
    if (e == ERR_OK) {
        ratls_policy_cleanup(&wpol);
        e = node_policy(&n, true, &wpol);
        cc.worker_policy = &wpol;
    }
    if (e == ERR_OK) {
        cc.reg = n.reg;
        e = client_new(n.loop, &cc, &s.c);
    }
    if (e == ERR_OK) {
        LOGI("client", "OpenAI API on http://127.0.0.1:%u/v1", client_http_port(s.c));
        n.on_registry = on_registry;
        n.on_registry_arg = s.c;
        e = node_run(&n, stop, stopped, tick, &s);
    }
    client_free(s.c);
    mem_wipe(key, sizeof(key));
    ratls_policy_cleanup(&wpol);
    node_close(&n);
    return e == ERR_OK ? 0 : cli_fail("client", e, "client");
}
