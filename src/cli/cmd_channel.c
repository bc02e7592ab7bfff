/* cocoon channel: the attested channel on its own, between two processes.
 *   listen  [--listen HOST:PORT] [--port-file FILE] [--once] [--difficulty N]  + common
 *   connect HOST:PORT [--message TEXT] [--max-difficulty N] [--timeout SEC]  + common
 * common: [--provider fake|tdx|none] [--fake-ca DIR] [--fake-config FILE] [--policy FILE]
 *         [--valid HOURS] [--any]
 * Both ends make a fresh RA-TLS certificate from the provider (rotated before expiry), verify
 * the other end, and print what they verified as key: value lines. The listener answers each
 * query with "echo: <query>". */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/collateral.h"
#include "attest/fake.h"
#include "attest/provider.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "commands.h"
#include "link/link.h"
#include "link/rotor.h"
#include "net/loop.h"
#include "net/pool.h"
#include "net/sock.h"
#include "ratls/policy.h"
#include "ratls/tls.h"
#include "util.h"

typedef struct {
    attest_provider_config pc;
    char ca_dir[4096];
    int ca_given;
    const char *policy_file;
    long hours;
    int any;
    /* listen */
    const char *listen;
    const char *port_file;
    int once;
    long difficulty;
    /* connect */
    const char *target;
    const char *message;
    long max_difficulty;
    long timeout;
} chan_opts;

typedef struct {
    chan_opts *o;
    net_loop *loop;
    attest_provider *prov;
    cert_rotor *rotor;
    ratls_policy pol;
    ratls_ctx *ctx;
    link_server *srv;
    link_conn *conn;
    net_pool *pool;
    collateral *coll;
    net_timer *deadline;
    int rc;
    int served;
} chan;

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon channel listen [--listen HOST:PORT] [--port-file FILE] [--once]\n"
               "                             [--difficulty N] [common options]\n"
               "       cocoon channel connect HOST:PORT [--message TEXT] [--max-difficulty N]\n"
               "                             [--timeout SEC] [common options]\n"
               "common: --provider fake|tdx|none (default fake), --fake-ca DIR,\n"
               "        --fake-config FILE, --policy FILE (peer policy JSON), --valid HOURS,\n"
               "        --any (accept peers without a quote, as the proxy's client port does)\n"
               "With the fake provider, or --fake-ca, the peer policy pins the fake CA's root.\n");
}

static int parse(int argc, char **argv, int listening, chan_opts *o) {
    static const struct option opts[] = {{"provider", required_argument, NULL, 'p'},
                                         {"fake-ca", required_argument, NULL, 'c'},
                                         {"fake-config", required_argument, NULL, 'f'},
                                         {"policy", required_argument, NULL, 'P'},
                                         {"valid", required_argument, NULL, 'v'},
                                         {"any", no_argument, NULL, 'a'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"port-file", required_argument, NULL, 'F'},
                                         {"once", no_argument, NULL, '1'},
                                         {"difficulty", required_argument, NULL, 'd'},
                                         {"message", required_argument, NULL, 'm'},
                                         {"max-difficulty", required_argument, NULL, 'D'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->pc.kind = ATTEST_PROVIDER_FAKE;
    o->hours = 24;
    o->listen = "127.0.0.1:0";
    o->difficulty = 20;
    o->max_difficulty = 28;
    o->timeout = 30;
    o->message = "hello over RA-TLS";
    cli_home_path("fake-ca", o->ca_dir, sizeof(o->ca_dir));
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (attest_provider_kind_parse(optarg, &o->pc.kind) != ERR_OK) {
                fprintf(stderr, "cocoon channel: --provider is fake, tdx or none\n");
                return 2;
            }
            break;
        case 'c':
            snprintf(o->ca_dir, sizeof(o->ca_dir), "%s", optarg);
            o->ca_given = 1;
            break;
        case 'f':
            o->pc.fake_config = optarg;
            break;
        case 'P':
            o->policy_file = optarg;
            break;
        case 'v':
            if (!cli_parse_long(optarg, 1, 24, &o->hours)) {
                fprintf(stderr, "cocoon channel: --valid takes 1..24 hours\n");
                return 2;
            }
            break;
        case 'a':
            o->any = 1;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'F':
            o->port_file = optarg;
            break;
        case '1':
            o->once = 1;
            break;
        case 'd':
            if (!cli_parse_long(optarg, 0, 64, &o->difficulty)) {
                fprintf(stderr, "cocoon channel: --difficulty takes 0..64\n");
                return 2;
            }
            break;
        case 'm':
            o->message = optarg;
            break;
        case 'D':
            if (!cli_parse_long(optarg, 0, 64, &o->max_difficulty)) {
                fprintf(stderr, "cocoon channel: --max-difficulty takes 0..64\n");
                return 2;
            }
            break;
        case 't':
            if (!cli_parse_long(optarg, 1, 3600, &o->timeout)) {
                fprintf(stderr, "cocoon channel: --timeout takes 1..3600 seconds\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (listening ? optind != argc : optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!listening) {
        o->target = argv[optind];
    }
    return 0;
}

/* Provider, certificate (with rotation), peer policy and TLS context. */
static err_t chan_setup(chan *ch, ratls_role role) {
    chan_opts *o = ch->o;
    ratls_policy_init(&ch->pol);
    ch->loop = net_loop_new();
    if (!ch->loop) {
        return ERR_NOMEM;
    }
    if (o->pc.kind == ATTEST_PROVIDER_FAKE) {
        mkdir(o->ca_dir, 0700);
        o->pc.fake_ca_dir = o->ca_dir;
    }
    TRY(attest_provider_open(&o->pc, &ch->prov));
    if (o->policy_file) {
        buf b;
        buf_init(&b, 1 << 20);
        err_t e = file_read(o->policy_file, 1 << 20, &b);
        if (e == ERR_OK) {
            e = ratls_policy_from_json(&ch->pol, (const char *)b.data, b.len);
        }
        buf_free(&b);
        TRY(e);
    }
    /* Peers are checked against the fake CA when we use it ourselves or were told to. */
    const uint8_t *fake_root = attest_provider_fake_root(ch->prov);
    fake_ca *ca = NULL;
    if (!fake_root && o->ca_given) {
        TRY(fake_ca_open(o->ca_dir, clock_unix(), &ca));
        fake_root = fake_ca_root_pub(ca);
    }
    err_t e = ERR_OK;
    if (fake_root && !o->policy_file) {
        ch->pol.nroots = 0;
        e = ratls_policy_add_root(&ch->pol, fake_root);
        /* Fake quotes get the full evaluation too: collateral issued by the same fake CA. */
        if (e == ERR_OK && !ca) {
            e = fake_ca_open(o->ca_dir, clock_unix(), &ca);
        }
        buf json;
        buf_init(&json, 1 << 20);
        if (e == ERR_OK && (e = fake_ca_collateral(ca, clock_unix(), NULL, &json)) == ERR_OK &&
            (e = collateral_from_json(json.data, json.len, &ch->coll)) == ERR_OK) {
            e = ratls_policy_add_collateral(&ch->pol, ch->coll);
            ch->pol.require_collateral = true;
        }
        buf_free(&json);
    }
    fake_ca_free(ca);
    TRY(e);
    ch->pool = net_pool_new(ch->loop, 1);
    if (!ch->pool) {
        return ERR_NOMEM;
    }
    if (o->any) {
        ch->pol.require_tdx = false;
    }
    static const char sw[] = "cocoon " COCOON_VERSION;
    static const ratls_claim claim = {RATLS_CLAIM_SOFTWARE, (const uint8_t *)sw, sizeof(sw) - 1};
    TRY(cert_rotor_new(ch->loop, ch->prov, (uint32_t)o->hours * 3600u, &claim, 1, &ch->rotor));
    TRY(ratls_ctx_new(role, cert_rotor_identity(ch->rotor), &ch->pol, &ch->ctx));
    return cert_rotor_attach(ch->rotor, ch->ctx);
}

static void chan_cleanup(chan *ch) {
    link_server_free(ch->srv);
    net_timer_free(ch->deadline);
    net_pool_free(ch->pool);
    ratls_ctx_free(ch->ctx);
    collateral_free(ch->coll);
    cert_rotor_free(ch->rotor);
    attest_provider_free(ch->prov);
    ratls_policy_cleanup(&ch->pol);
    net_loop_free(ch->loop);
}

static void print_peer(const char *who, link_conn *c, const ratls_peer *p) {
    printf("%s: %s\n", who, link_peer_addr(c));
    cli_print_hex(stdout, "peer_public_key", p->pubkey, 32);
    printf("peer_attested: %s\n", p->attested ? "true" : "false");
    if (p->attested) {
        printf("peer_tcb_status: %s\n",
               p->tcb_expiry ? tcb_status_name((tcb_status)p->tcb_status) : "not evaluated");
        cli_print_hex(stdout, "peer_image_hash", p->image_hash, 32);
        cli_print_hex(stdout, "peer_mrtd", p->mrtd, 48);
        cli_print_hex(stdout, "peer_root_key_id", p->root_key_id, 48);
    }
    fflush(stdout);
}

static void on_signal(void *arg) {
    chan *ch = arg;
    LOGI("channel", "signal received, stopping");
    net_loop_stop(ch->loop);
}

/* ---- listen ---- */

static void l_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    (void)arg;
    print_peer("accepted", c, peer);
}

static void l_query(link_conn *c, uint64_t qid, const uint8_t *data, size_t n, void *arg) {
    (void)arg;
    buf b;
    buf_init(&b, 1 << 20);
    err_t e = buf_append(&b, "echo: ", 6);
    if (e == ERR_OK) {
        e = buf_append(&b, data, n);
    }
    if (e == ERR_OK) {
        e = link_answer(c, qid, b.data, b.len);
    } else {
        e = link_answer_error(c, qid, 500, "echo too long");
    }
    if (e != ERR_OK) {
        LOGW("channel", "answer failed: %s", err_describe(e));
    }
    buf_free(&b);
}

static void l_close(link_conn *c, err_t why, void *arg) {
    chan *ch = arg;
    printf("closed: %s %s\n", link_peer_addr(c), why == ERR_OK ? "ok" : err_name(why));
    if (why != ERR_OK && why != ERR_EOF) {
        LOGW("channel", "link from %s ended: %s", link_peer_addr(c), err_describe(why));
    }
    fflush(stdout);
    ch->served++;
    if (ch->o->once) {
        net_loop_stop(ch->loop);
    }
}

static int do_listen(chan_opts *o) {
    chan ch;
    memset(&ch, 0, sizeof(ch));
    ch.o = o;
    char host[256];
    uint16_t port;
    err_t e = net_parse_hostport(o->listen, host, sizeof(host), &port, 1);
    if (e == ERR_OK) {
        e = chan_setup(&ch, RATLS_SERVER);
    }
    if (e != ERR_OK) {
        chan_cleanup(&ch);
        return cli_fail("channel", e, "setup");
    }
    link_config cfg;
    link_config_init(&cfg, ch.ctx);
    cfg.pow_difficulty = (int)o->difficulty;
    cfg.pool = ch.pool;
    static const link_handlers h = {l_ready, NULL, l_query, l_close};
    if ((e = link_listen(ch.loop, host, port, &cfg, &h, &ch, &ch.srv)) != ERR_OK ||
        (e = net_loop_on_signal(ch.loop, SIGINT, on_signal, &ch)) != ERR_OK ||
        (e = net_loop_on_signal(ch.loop, SIGTERM, on_signal, &ch)) != ERR_OK) {
        chan_cleanup(&ch);
        return cli_fail("channel", e, o->listen);
    }
    const ratls_identity *id = cert_rotor_identity(ch.rotor);
    printf("listening: %s:%u\n", host, link_server_port(ch.srv));
    cli_print_hex(stdout, "public_key", id->key.pub, 32);
    if (id->has_quote) {
        cli_print_hex(stdout, "image_hash", id->image_hash, 32);
    }
    fflush(stdout);
    if (o->port_file) {
        char p[16];
        int n = snprintf(p, sizeof(p), "%u\n", link_server_port(ch.srv));
        if ((e = file_write_atomic(o->port_file, p, (size_t)n, 0644)) != ERR_OK) {
            chan_cleanup(&ch);
            return cli_fail("channel", e, o->port_file);
        }
    }
    e = net_loop_run(ch.loop);
    chan_cleanup(&ch);
    return e == ERR_OK ? 0 : cli_fail("channel", e, "event loop");
}

/* ---- connect ---- */

static void c_answer(err_t e, int32_t code, const uint8_t *data, size_t n, void *arg) {
    (void)code;
    chan *ch = arg;
    if (e != ERR_OK) {
        fprintf(stderr, "cocoon channel: query failed: %s\n", err_describe(e));
        ch->rc = 1;
    } else {
        printf("answer: %.*s\n", (int)n, (const char *)data);
        ch->rc = 0;
    }
    fflush(stdout);
    link_close(ch->conn);
}

static void c_ready(link_conn *c, const ratls_peer *peer, void *arg) {
    chan *ch = arg;
    print_peer("connected", c, peer);
    const char *m = ch->o->message;
    err_t e = link_query(c, (const uint8_t *)m, strlen(m), (uint64_t)ch->o->timeout * 1000u,
                         c_answer, ch);
    if (e != ERR_OK) {
        fprintf(stderr, "cocoon channel: query: %s\n", err_describe(e));
        link_close(c);
    }
}

static void c_close(link_conn *c, err_t why, void *arg) {
    (void)c;
    chan *ch = arg;
    if (why != ERR_OK) {
        fprintf(stderr, "cocoon channel: link closed: %s\n", err_describe(why));
        ch->rc = 1;
    }
    net_loop_stop(ch->loop);
}

static void c_deadline(void *arg) {
    chan *ch = arg;
    fprintf(stderr, "cocoon channel: no answer within %ld s\n", ch->o->timeout);
    ch->rc = 1;
    net_loop_stop(ch->loop);
}

static int do_connect(chan_opts *o) {
    chan ch;
    memset(&ch, 0, sizeof(ch));
    ch.o = o;
    ch.rc = 1;
    char host[256];
    uint16_t port;
    err_t e = net_parse_hostport(o->target, host, sizeof(host), &port, 0);
    if (e == ERR_OK) {
        e = chan_setup(&ch, RATLS_CLIENT);
    }
    if (e != ERR_OK) {
        chan_cleanup(&ch);
        return cli_fail("channel", e, "setup");
    }
    link_config cfg;
    link_config_init(&cfg, ch.ctx);
    cfg.pow_max_difficulty = (int)o->max_difficulty;
    cfg.pool = ch.pool;
    static const link_handlers h = {c_ready, NULL, NULL, c_close};
    ch.deadline = net_timer_new(ch.loop, c_deadline, &ch);
    if (!ch.deadline || (e = link_dial(ch.loop, host, port, &cfg, &h, &ch, &ch.conn)) != ERR_OK) {
        chan_cleanup(&ch);
        return cli_fail("channel", e, o->target);
    }
    net_timer_arm(ch.deadline, (uint64_t)o->timeout * 1000u);
    e = net_loop_run(ch.loop);
    int rc = ch.rc;
    chan_cleanup(&ch);
    return e == ERR_OK ? rc : cli_fail("channel", e, "event loop");
}

int cmd_channel(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    int listening = strcmp(argv[1], "listen") == 0;
    if (!listening && strcmp(argv[1], "connect") != 0) {
        int help = strcmp(argv[1], "--help") == 0;
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    chan_opts o;
    int rc = parse(argc - 1, argv + 1, listening, &o);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    return listening ? do_listen(&o) : do_connect(&o);
}
