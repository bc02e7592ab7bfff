/* Shared daemon plumbing (see node.h). */
#include "node.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/fake.h"
#include "crypto/ct.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "util.h"

void node_opts_init(node_opts *o, const char *role) {
    memset(o, 0, sizeof(*o));
    o->pc.kind = ATTEST_PROVIDER_FAKE;
    o->role = role;
    o->refresh_s = -1;
    cli_home_path("fake-ca", o->ca_dir, sizeof(o->ca_dir));
}

int node_opt(node_opts *o, const char *name, const char *value) {
    if (strcmp(name, "provider") == 0) {
        return attest_provider_kind_parse(value, &o->pc.kind) == ERR_OK ? 1 : -1;
    }
    if (strcmp(name, "fake-ca") == 0) {
        snprintf(o->ca_dir, sizeof(o->ca_dir), "%s", value);
        o->ca_given = true;
        return 1;
    }
    if (strcmp(name, "fake-config") == 0) {
        o->pc.fake_config = value;
        return 1;
    }
    if (strcmp(name, "registry") == 0) {
        o->registry_spec = value;
        return 1;
    }
    if (strcmp(name, "registry-refresh") == 0) {
        return cli_parse_long(value, 0, 86400, &o->refresh_s) ? 1 : -1;
    }
    if (strcmp(name, "ready-file") == 0) {
        o->ready_file = value;
        return 1;
    }
    if (strcmp(name, "log-format") == 0) {
        int f = log_format_parse(value);
        if (f < 0) {
            return -1;
        }
        log_set_format((log_format_t)f);
        return 1;
    }
    if (strcmp(name, "log-level") == 0) {
        int l = log_level_parse(value);
        if (l < 0) {
            return -1;
        }
        log_set_level((log_level_t)l);
        return 1;
    }
    return 0;
}

int node_getopt(int argc, char **argv, const struct option *opts, node_opts *no,
                void (*usage)(FILE *), const char **name, int *rc) {
    for (;;) {
        int idx = 0;
        int c = getopt_long(argc, argv, "", opts, &idx);
        if (c == -1) {
            return NODE_OPT_END;
        }
        if (c == 'h') {
            usage(stdout);
            *rc = 0;
            return NODE_OPT_EXIT;
        }
        if (c != 0) {
            usage(stderr);
            *rc = 2;
            return NODE_OPT_EXIT;
        }
        *name = opts[idx].name;
        int r = node_opt(no, *name, optarg);
        if (r < 0) {
            fprintf(stderr, "cocoon %s: bad --%s\n", no->role, *name);
            *rc = 2;
            return NODE_OPT_EXIT;
        }
        if (r == 0) {
            return NODE_OPT_ROLE;
        }
    }
}

err_t node_open(node *n, node_opts *o) {
    memset(n, 0, sizeof(*n));
    if (!o->registry_spec) {
        return err_fail(ERR_USAGE, "--registry FILE|chain:API_URL#ROOT is required");
    }
    TRY(registry_source_parse(o->registry_spec, &n->src));
    TRY(registry_source_load(&n->src, getenv("COCOON_TON_API_KEY"), 0, &n->reg));
    char what[1200];
    registry_source_describe(&n->src, what, sizeof(what));
    LOGI("node", "registry from %s: version %lld, %zu proxies", what,
         (long long)registry_version(n->reg), registry_proxy_count(n->reg));
    n->refresh_s = o->refresh_s >= 0                      ? (unsigned)o->refresh_s
                   : n->src.kind == REGISTRY_SOURCE_CHAIN ? 30
                                                          : 0;
    if (n->refresh_s) {
        TRY(registry_refresher_start(&n->src, n->refresh_s, getenv("COCOON_TON_API_KEY"),
                                     &n->refresher));
    }
    n->loop = net_loop_new();
    if (!n->loop) {
        return ERR_NOMEM;
    }
    if (o->pc.kind == ATTEST_PROVIDER_FAKE) {
        mkdir(o->ca_dir, 0700);
        o->pc.fake_ca_dir = o->ca_dir;
    }
    TRY(attest_provider_open(&o->pc, &n->prov));
    const uint8_t *root = attest_provider_fake_root(n->prov);
    if (root) {
        memcpy(n->fake_root_buf, root, 64);
        n->fake_root = n->fake_root_buf;
    } else if (o->ca_given) {
        fake_ca *ca = NULL;
        TRY(fake_ca_open(o->ca_dir, clock_unix(), &ca));
        memcpy(n->fake_root_buf, fake_ca_root_pub(ca), 64);
        n->fake_root = n->fake_root_buf;
        fake_ca_free(ca);
    }
    static char sw[] = "cocoon " COCOON_VERSION;
    static ratls_claim claims[3];
    size_t nclaims = 0;
    claims[nclaims++] = (ratls_claim){RATLS_CLAIM_SOFTWARE, (const uint8_t *)sw, sizeof(sw) - 1};
    claims[nclaims++] =
        (ratls_claim){RATLS_CLAIM_ROLE, (const uint8_t *)o->role, (uint32_t)strlen(o->role)};
    if (strcmp(o->role, "worker") == 0) {
        TRY(x25519_generate(&n->evidence_kx));
        claims[nclaims++] = (ratls_claim){RATLS_CLAIM_EVIDENCE_KEY, n->evidence_kx.pub, X25519_LEN};
    }
    return cert_rotor_new(n->loop, n->prov, 24u * 3600u, claims, nclaims, &n->rotor);
}

err_t node_policy(const node *n, bool require_tdx, ratls_policy *out) {
    ratls_policy_init(out);
    if (n->fake_root) {
        out->nroots = 0;
        TRY(ratls_policy_add_root(out, n->fake_root));
    }
    out->require_tdx = require_tdx;
    return ERR_OK;
}

err_t node_ctx(node *n, ratls_role role, bool require_tdx, ratls_ctx **out) {
    *out = NULL;
    if (n->nctx == 2) {
        return err_fail(ERR_INTERNAL, "two TLS contexts per node");
    }
    ratls_policy pol;
    err_t e = node_policy(n, require_tdx, &pol);
    if (e == ERR_OK) {
        e = ratls_ctx_new(role, cert_rotor_identity(n->rotor), &pol, out);
    }
    ratls_policy_cleanup(&pol);
    TRY(e);
    n->ctx[n->nctx++] = *out;
    return cert_rotor_attach(n->rotor, *out);
}

void node_close(node *n) {
    registry_refresher_free(n->refresher);
    for (size_t i = 0; i < n->nctx; i++) {
        ratls_ctx_free(n->ctx[i]);
    }
    cert_rotor_free(n->rotor);
    attest_provider_free(n->prov);
    registry_free(n->reg);
    net_loop_free(n->loop);
    ct_wipe(&n->evidence_kx, sizeof(n->evidence_kx));
    memset(n, 0, sizeof(*n));
}

err_t node_ready(const node_opts *o, const char *text) {
    if (!o->ready_file) {
        return ERR_OK;
    }
    return file_write_atomic(o->ready_file, text, strlen(text), 0644);
}

typedef struct {
    node *n;
    void (*stop)(void *);
    bool (*stopped)(void *);
    void (*tick)(void *);
    void *arg;
    net_timer *t;
    net_timer *flush;
    bool stopping;
    uint64_t deadline;
} runner;

/* INFO lines are buffered while the loop runs (base/log.h): this bounds how late they show,
 * and what a crash loses, to NODE_LOG_FLUSH_MS. */
#define NODE_LOG_FLUSH_MS 200

static void on_flush(void *arg) {
    runner *r = arg;
    log_flush();
    net_timer_arm(r->flush, NODE_LOG_FLUSH_MS);
}

static void on_tick(void *arg) {
    runner *r = arg;
    if (r->stopping) {
        if (r->stopped(r->arg) || clock_mono_ms() > r->deadline) {
            net_loop_stop(r->n->loop);
            return;
        }
    } else {
        /* A changed registry shows in the log at once, not at the next flush. */
        if (registry_refresher_poll(r->n->refresher, r->n->reg, "node")) {
            log_flush();
            if (r->n->on_registry) {
                r->n->on_registry(r->n->on_registry_arg);
            }
        }
        if (r->tick) {
            r->tick(r->arg);
        }
    }
    net_timer_arm(r->t, r->stopping ? 10 : 50);
}

static void on_signal(void *arg) {
    runner *r = arg;
    if (r->stopping) {
        return;
    }
    LOGI("node", "signal received, stopping");
    log_flush();
    r->stopping = true;
    r->deadline = clock_mono_ms() + 5000;
    r->stop(r->arg);
    net_timer_arm(r->t, 0);
}

err_t node_run(node *n, void (*stop)(void *), bool (*stopped)(void *), void (*tick)(void *),
               void *arg) {
    runner r = {n, stop, stopped, tick, arg, NULL, NULL, false, 0};
    r.t = net_timer_new(n->loop, on_tick, &r);
    r.flush = net_timer_new(n->loop, on_flush, &r);
    if (!r.t || !r.flush) {
        net_timer_free(r.t);
        net_timer_free(r.flush);
        return ERR_NOMEM;
    }
    err_t e = net_loop_on_signal(n->loop, SIGINT, on_signal, &r);
    if (e == ERR_OK) {
        e = net_loop_on_signal(n->loop, SIGTERM, on_signal, &r);
    }
    if (e == ERR_OK) {
        signal(SIGPIPE, SIG_IGN);
        log_set_buffered(true);
        net_timer_arm(r.t, 0);
        net_timer_arm(r.flush, NODE_LOG_FLUSH_MS);
        e = net_loop_run(n->loop);
        log_set_buffered(false); /* flushes: the shutdown's lines are out before we return */
    }
    net_timer_free(r.flush);
    net_timer_free(r.t);
    return e;
}

/* Kept reachable for the life of the process. */
static char **g_config_argv;

int node_expand_config(const char *cmd, int *argc, char ***argv) {
    const char *path = NULL;
    for (int i = 1; i + 1 < *argc; i++) {
        if (strcmp((*argv)[i], "--config") == 0) {
            path = (*argv)[i + 1];
        }
    }
    if (!path) {
        return 0;
    }
    json_error_t je;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        fprintf(stderr, "cocoon %s: %s: %s\n", cmd, path, o ? "not a JSON object" : je.text);
        json_decref(o);
        return 2;
    }
    size_t cap = (size_t)*argc + 2 * json_object_size(o) + 1;
    char **nv = calloc(cap, sizeof(char *));
    int nc = 0;
    if (!nv) {
        json_decref(o);
        return 2;
    }
    nv[nc++] = (*argv)[0];
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char *flag = malloc(strlen(k) + 3);
        char *val = NULL;
        if (!flag) {
            json_decref(o);
            return 2;
        }
        sprintf(flag, "--%s", k);
        if (json_is_string(v)) {
            val = strdup(json_string_value(v));
        } else if (json_is_integer(v)) {
            val = malloc(32);
            if (val) {
                snprintf(val, 32, "%lld", (long long)json_integer_value(v));
            }
        } else if (json_is_real(v)) {
            val = malloc(64);
            if (val) {
                snprintf(val, 64, "%g", json_real_value(v));
            }
        } else if (json_is_true(v)) {
            nv[nc++] = flag;
            continue;
        } else if (json_is_false(v)) {
            free(flag);
            continue;
        } else {
            fprintf(stderr, "cocoon %s: %s: \"%s\" must be a string, number or boolean\n", cmd,
                    path, k);
            free(flag);
            json_decref(o);
            return 2;
        }
        nv[nc++] = flag;
        nv[nc++] = val;
    }
    json_decref(o);
    for (int i = 1; i < *argc; i++) {
        if (strcmp((*argv)[i], "--config") == 0) {
            i++;
            continue;
        }
        nv[nc++] = (*argv)[i];
    }
    nv[nc] = NULL;
    g_config_argv = nv;
    *argc = nc;
    *argv = nv;
    return 0;
}
