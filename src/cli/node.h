/* What the network daemons (proxy, worker, client) share on the command line: the quote
 * provider and rotating RA-TLS certificate, peer policies, JSON config files, the registry,
 * ready files, and a signal-driven graceful stop. */
#ifndef COCOON_CLI_NODE_H
#define COCOON_CLI_NODE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#include "attest/provider.h"
#include "base/err.h"
#include "crypto/x25519.h"
#include "link/rotor.h"
#include "net/loop.h"
#include "ratls/policy.h"
#include "ratls/tls.h"
#include "registry/refresher.h"
#include "registry/registry.h"
#include "registry/source.h"

typedef struct {
    attest_provider_config pc;
    char ca_dir[4096];
    bool ca_given;
    const char *registry_spec; /* --registry: file:PATH | PATH | chain:API_URL#ROOT */
    long refresh_s;            /* --registry-refresh: seconds, 0 = never; -1 = default */
    const char *ready_file;
    const char *role; /* "proxy" | "worker" | "client" (certificate claim) */
} node_opts;

typedef struct {
    net_loop *loop;
    attest_provider *prov;
    cert_rotor *rotor;
    /* Workers: the X25519 key of answer evidence MACs, named in every certificate's claims. */
    x25519_key evidence_kx;
    registry *reg;
    const uint8_t *fake_root; /* pinned for peers when set */
    uint8_t fake_root_buf[64];
    ratls_ctx *ctx[2];
    size_t nctx;
    /* Registry refresh (registry/refresher.h): a thread reads the source every refresh_s
     * seconds; the loop moves a changed registry into reg (registry_replace) and calls
     * on_registry so the role can re-check its peers. */
    registry_source src;
    unsigned refresh_s;
    registry_refresher *refresher; /* NULL when not refreshed */
    void (*on_registry)(void *arg);
    void *on_registry_arg;
} node;

void node_opts_init(node_opts *o, const char *role);

/* The options every daemon takes (handled by node_opt), for the head of its getopt table. */
#define NODE_LONG_OPTIONS                                                                          \
    {"registry", required_argument, NULL, 0}, {"registry-refresh", required_argument, NULL, 0},    \
        {"ready-file", required_argument, NULL, 0}, {"log-format", required_argument, NULL, 0},    \
        {"log-level", required_argument, NULL, 0}, {"provider", required_argument, NULL, 0},       \
        {"fake-ca", required_argument, NULL, 0}, {                                                 \
        "fake-config", required_argument, NULL, 0                                                  \
    }

enum { NODE_OPT_ROLE, NODE_OPT_END, NODE_OPT_EXIT };
/* One step of a daemon's option loop (call with optind = 0 first): common options are consumed
 * here; NODE_OPT_ROLE hands the next role option to the caller (*name, value in optarg);
 * NODE_OPT_END when all are read; NODE_OPT_EXIT with *rc after --help (0) or a usage error
 * (2, reported). The table's --help entry must return 'h'. */
int node_getopt(int argc, char **argv, const struct option *opts, node_opts *no,
                void (*usage)(FILE *), const char **name, int *rc);
/* Common options: --provider, --fake-ca, --fake-config, --registry, --registry-refresh,
 * --ready-file, --log-format text|json, --log-level debug|info|warn|error. Returns 1
 * when the option was one of these (and consumed optarg), 0 when not, -1 on a bad value. */
int node_opt(node_opts *o, const char *name, const char *value);
/* Loop, provider, certificate rotor and registry (read once here; a chain registry is then
 * refreshed every 30 s by default, a file only when --registry-refresh asks). */
MUST_CHECK err_t node_open(node *n, node_opts *o);
/* The peer policy: pinned roots (the fake CA's when used), require_tdx as given. Clean up with
 * ratls_policy_cleanup. */
MUST_CHECK err_t node_policy(const node *n, bool require_tdx, ratls_policy *out);
/* A TLS context in role; require_tdx false gives the `any` policy (proxy client port). */
MUST_CHECK err_t node_ctx(node *n, ratls_role role, bool require_tdx, ratls_ctx **out);
void node_close(node *n);
/* Writes text to the ready file atomically (no-op without one). */
MUST_CHECK err_t node_ready(const node_opts *o, const char *text);
/* Runs the loop; SIGINT/SIGTERM call stop(arg), then the loop runs until stopped(arg) or 5 s
 * pass. tick(arg) (may be NULL) runs every 50 ms. While it runs, INFO/DEBUG log lines are
 * buffered and flushed every 200 ms (WARN/ERROR at once); all is flushed when it returns. */
MUST_CHECK err_t node_run(node *n, void (*stop)(void *), bool (*stopped)(void *),
                          void (*tick)(void *), void *arg);
/* --config FILE: a JSON object whose keys are long option names (without --) and values
 * strings, numbers or booleans (true: the flag alone); they are placed before the command
 * line's own options, which therefore win. The new argv is heap-allocated (never freed: the
 * process keeps it). Returns 0, or 2 on a usage error (printed). */
int node_expand_config(const char *cmd, int *argc, char ***argv);

#endif
