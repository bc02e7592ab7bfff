/* cocoon up: a complete local network on loopback in the foreground.
 *   cocoon up [--upstream URL|builtin:MODEL.gguf] [--model NAME] [--state DIR] [--workers N]
 *             [--chain | --registry-file] [--registry-refresh S]
 *             [--log-format text|json] [--log-level LEVEL]
 * Without --upstream the workers run the built-in engine on the demo model (models/).
 * The registry: by default (and always with --chain) a local TON chain, localton (node
 * localton/server.mjs on 127.0.0.1, state in STATE/localton, a fresh chain each run), whose
 * genesis deploys the COCOON root contract holding the network's parameters (the fake TD's
 * image hash for proxies and workers, the model's hash, the proxy's two addresses, price 0);
 * the daemons read it with --registry chain:URL#ROOT and refresh it. Without node or the npm
 * packages of localton/ and contracts/ (scripts/setup installs them), or with --registry-file,
 * the same registry is a JSON file (STATE/registry.json), as offline tests use.
 * Starts one proxy, N (default 2) workers and one client as child processes of this binary
 * (fake TD provider, a fresh state directory with its own fake CA and registry), waits until
 * the client serves requests (at most 30 s), then prints exactly two lines on stdout:
 *   base_url: http://127.0.0.1:PORT/v1
 *   api_key: KEY
 * and names the log files on stderr (--log-format and --log-level are passed to every daemon).
 * SIGINT/SIGTERM stop every process it started. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attest/provider.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/file.h"
#include "base/log.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "commands.h"
#include "crypto/rand.h"
#include "net/sock.h"
#include "ratls/cert.h"
#include "ton/api.h"
#include "ton/wallet.h"
#include "util.h"

#define UP_MAX_WORKERS 8
#define UP_READY_MS 30000

typedef struct {
    const char *name;
    const char *prog; /* NULL: this binary */
    pid_t pid;
    char log[4200];
    char ready[4200];
    char *argv[28]; /* kept for restarts */
    unsigned deaths;
    uint64_t last_death;
} child;

static volatile sig_atomic_t g_stop;

static void on_sig(int s) {
    (void)s;
    g_stop = 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon up [--upstream http://HOST:PORT[/v1]|builtin:MODEL.gguf]\n"
               "                 [--model NAME] [--state DIR]\n"
               "                 [--workers N] [--chain|--registry-file] [--registry-refresh S]\n"
               "                 [--log-format text|json] [--log-level debug|info|warn|error]\n"
               "Starts a proxy, workers and a client on 127.0.0.1 (fake TD), prints base_url and\n"
               "api_key, and runs until Ctrl-C or SIGTERM. The registry is the root contract on\n"
               "a local TON chain (localton) when node and its packages are installed (--chain\n"
               "requires it), else (or with --registry-file) a JSON file. The log options are\n"
               "passed to every daemon (their logs are STATE/NAME.log).\n");
}

static err_t free_port(uint16_t *port) {
    int fd;
    TRY(net_listen("127.0.0.1", 0, &fd, port));
    close(fd);
    return ERR_OK;
}

static pid_t spawn(const char *self, child *ch, char *const args[]) {
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    int fd = open(ch->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int nul = open("/dev/null", O_RDONLY);
    if (fd < 0 || nul < 0) {
        _exit(127);
    }
    dup2(nul, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* If cocoon up itself dies (even by SIGKILL), its network goes with it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (ch->prog) {
        execvp(ch->prog, args);
    } else {
        execv(self, args);
    }
    _exit(127);
}

static bool file_has(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* The image hash of the fake TD our children will run as, for the registry. */
static err_t fake_image_hash(const char *ca_dir, uint8_t out[32]) {
    attest_provider_config pc = {0};
    pc.kind = ATTEST_PROVIDER_FAKE;
    pc.fake_ca_dir = ca_dir;
    attest_provider *p = NULL;
    TRY(attest_provider_open(&pc, &p));
    ratls_identity id;
    ratls_identity_init(&id);
    err_t e = ratls_identity_create(&id, p, clock_unix(), 3600, NULL, 0);
    if (e == ERR_OK) {
        memcpy(out, id.image_hash, 32);
    }
    ratls_identity_cleanup(&id);
    attest_provider_free(p);
    return e;
}

/* Appends `flag value` to a daemon's argv (nothing when value is NULL). */
static void add_opt(char **argv, size_t cap, const char *flag, const char *value) {
    if (!value) {
        return;
    }
    size_t i = 0;
    while (argv[i]) {
        i++;
    }
    if (i + 3 > cap) {
        return; /* cannot happen: argv's size covers every option cmd_up adds */
    }
    argv[i] = (char *)flag;
    argv[i + 1] = (char *)value;
    argv[i + 2] = NULL;
}

/* What every daemon gets besides its own options. */
typedef struct {
    const char *refresh, *log_format, *log_level;
} common_opts;

static void add_common(child *ch, const common_opts *co) {
    size_t cap = sizeof(ch->argv) / sizeof(ch->argv[0]);
    add_opt(ch->argv, cap, "--registry-refresh", co->refresh);
    add_opt(ch->argv, cap, "--log-format", co->log_format);
    add_opt(ch->argv, cap, "--log-level", co->log_level);
}

static void stop_all(child *ch, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (ch[i].pid > 0) {
            kill(ch[i].pid, SIGTERM);
        }
    }
    uint64_t deadline = clock_mono_ms() + 8000;
    for (size_t i = 0; i < n; i++) {
        while (ch[i].pid > 0) {
            int st;
            pid_t r = waitpid(ch[i].pid, &st, WNOHANG);
            if (r == ch[i].pid || (r < 0 && errno != EINTR)) {
                ch[i].pid = 0;
                break;
            }
            if (clock_mono_ms() > deadline) {
                kill(ch[i].pid, SIGKILL);
                waitpid(ch[i].pid, &st, 0);
                ch[i].pid = 0;
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

/* dir/rel, or exe_dir/../rel: the source tree beside the build directory. */
static bool find_tree_file(const char *rel, char out[4096]) {
    char cand[8300];
    snprintf(cand, sizeof(cand), "%s", rel);
    if (access(cand, R_OK) != 0) {
        char exe[4096];
        ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[el > 0 ? el : 0] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
        }
        snprintf(cand, sizeof(cand), "%s/../%s", exe, rel);
    }
    return access(cand, R_OK) == 0 && realpath(cand, out) != NULL;
}

typedef struct {
    char server[4096];  /* localton/server.mjs */
    char genesis[4200]; /* localton/genesis/cocoon-root.mjs */
} localton_paths;

/* What the chain needs: node, localton/ with its packages, contracts/ with its packages. NULL
 * when all is there, else what is missing. */
static const char *localton_missing(localton_paths *lp) {
    const char *env = getenv("COCOON_LOCALTON");
    if (env && *env) {
        if (!realpath(env, lp->server)) {
            return "COCOON_LOCALTON (localton/server.mjs)";
        }
    } else if (!find_tree_file("localton/server.mjs", lp->server)) {
        return "localton/server.mjs";
    }
    char base[4096];
    snprintf(base, sizeof(base), "%s", lp->server);
    char *slash = strrchr(base, '/');
    if (slash) {
        *slash = 0;
    }
    char p[8300];
    snprintf(lp->genesis, sizeof(lp->genesis), "%s/genesis/cocoon-root.mjs", base);
    snprintf(p, sizeof(p), "%s/node_modules/@ton/sandbox", base);
    if (access(p, R_OK) != 0) {
        return "localton/node_modules (npm ci in localton/)";
    }
    snprintf(p, sizeof(p), "%s/../contracts/node_modules/@ton/core", base);
    if (access(p, R_OK) != 0 || access(lp->genesis, R_OK) != 0) {
        return "contracts/node_modules (npm ci in contracts/)";
    }
    if (system("node --version >/dev/null 2>&1") != 0) {
        return "node (Node.js 20 or newer)";
    }
    return NULL;
}

/* The root's owner when the environment names none: a fresh v5r1 wallet whose key is kept in
 * the state directory (owner.key, hex seed), so the operator can manage the local root. */
static err_t make_owner(const char *dir, char raw[TON_ADDR_RAW_MAX]) {
    ed25519_key k;
    TRY(ed25519_generate(&k));
    ton_wallet w;
    memset(&w, 0, sizeof(w));
    err_t e = ton_wallet_init_v5r1(&w, &k, 0, ton_wallet_v5r1_id(TON_GLOBAL_ID_MAINNET, 0, 0));
    if (e == ERR_OK) {
        ton_addr_to_raw(&w.addr, raw);
        char path[4200], hex[2 * ED25519_SEED_LEN + 2];
        snprintf(path, sizeof(path), "%s/owner.key", dir);
        hex_encode(k.seed, ED25519_SEED_LEN, hex);
        strcat(hex, "\n");
        e = file_write_atomic(path, hex, strlen(hex), 0600);
        mem_wipe(hex, sizeof(hex));
    }
    ton_wallet_free(&w);
    ed25519_wipe(&k);
    return e;
}

/* Waits for localton's addresses file and its API; reads the root address. */
static err_t localton_wait(child *lt, const char *api, uint64_t deadline, char root[256]) {
    for (;;) {
        int st;
        if (waitpid(lt->pid, &st, WNOHANG) == lt->pid) {
            lt->pid = 0;
            return err_fail(ERR_IO, "localton exited; see %s", lt->log);
        }
        if (file_has(lt->ready)) {
            json_error_t je;
            json_t *j = json_load_file(lt->ready, 0, &je);
            const char *r = json_string_value(json_object_get(j, "root"));
            bool have = r && strlen(r) < 256;
            if (have) {
                snprintf(root, 256, "%s", r);
            }
            json_decref(j);
            ton_api_config cfg = {.base_url = api, .timeout_ms = 1000};
            ton_api *a = NULL;
            uint32_t seqno;
            if (have && ton_api_new(&cfg, &a) == ERR_OK &&
                ton_api_masterchain_seqno(a, &seqno) == ERR_OK) {
                ton_api_free(a);
                return ERR_OK;
            }
            ton_api_free(a);
        }
        if (g_stop || clock_mono_ms() > deadline) {
            return err_fail(g_stop ? ERR_IO : ERR_TIMEOUT, "localton %s; see %s",
                            g_stop ? "interrupted" : "not ready within 30 s", lt->log);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int cmd_up(int argc, char **argv) {
    static const struct option opts[] = {{"upstream", required_argument, NULL, 'u'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"state", required_argument, NULL, 's'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"chain", no_argument, NULL, 'c'},
                                         {"registry-file", no_argument, NULL, 'f'},
                                         {"registry-refresh", required_argument, NULL, 'r'},
                                         {"log-format", required_argument, NULL, 'F'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int chain = -1; /* -1: when available */
    common_opts co = {NULL, NULL, NULL};
    long refresh_v;
    const char *upstream = NULL, *model = "fortune-llama-7m", *state = NULL;
    long nworkers = 2;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            upstream = optarg;
            break;
        case 'm':
            model = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'w':
            if (!cli_parse_long(optarg, 1, UP_MAX_WORKERS, &nworkers)) {
                fprintf(stderr, "cocoon up: --workers takes 1..%d\n", UP_MAX_WORKERS);
                return 2;
            }
            break;
        case 'c':
            chain = 1;
            break;
        case 'f':
            chain = 0;
            break;
        case 'r':
            if (!cli_parse_long(optarg, 0, 86400, &refresh_v)) {
                fprintf(stderr, "cocoon up: --registry-refresh takes 0..86400 seconds\n");
                return 2;
            }
            co.refresh = optarg;
            break;
        case 'F':
            if (log_format_parse(optarg) < 0) {
                fprintf(stderr, "cocoon up: --log-format takes text or json\n");
                return 2;
            }
            co.log_format = optarg;
            break;
        case 'L':
            if (log_level_parse(optarg) < 0) {
                fprintf(stderr, "cocoon up: --log-level takes debug, info, warn, error or off\n");
                return 2;
            }
            co.log_level = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    localton_paths lp;
    if (chain != 0) {
        const char *missing = localton_missing(&lp);
        if (missing && chain == 1) {
            fprintf(stderr, "cocoon up: --chain needs %s\n", missing);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "cocoon up: no local chain (missing %s); the registry is a JSON file\n",
                    missing);
        }
        chain = missing ? 0 : 1;
    }
    /* Default upstream: the built-in engine on the demo model (models/ beside the source tree,
     * found from the working directory or from the binary's build directory). */
    static char builtin_up[4200];
    if (!upstream) {
        static const char *const tries[] = {"models/fortune-llama-7m-f16.gguf",
                                            "../models/fortune-llama-7m-f16.gguf", NULL};
        char exe[4096];
        ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[el > 0 ? el : 0] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
        }
        char found[4096] = "";
        for (size_t i = 0; tries[i] && !found[0]; i++) {
            char cand[8300];
            snprintf(cand, sizeof(cand), "%s", tries[i]);
            if (access(cand, R_OK) != 0) {
                snprintf(cand, sizeof(cand), "%s/%s", exe, tries[i]);
            }
            if (access(cand, R_OK) == 0 && !realpath(cand, found)) {
                found[0] = 0;
            }
        }
        if (!found[0]) {
            fprintf(stderr, "cocoon up: no --upstream given and the demo model "
                            "models/fortune-llama-7m-f16.gguf was not found\n");
            return 2;
        }
        snprintf(builtin_up, sizeof(builtin_up), "builtin:%s", found);
        upstream = builtin_up;
    }
    char dir[4096];
    if (state) {
        snprintf(dir, sizeof(dir), "%s", state);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            return cli_fail("up", err_fail(ERR_IO, "mkdir: %s", strerror(errno)), dir);
        }
    } else {
        snprintf(dir, sizeof(dir), "/tmp/cocoon-up-XXXXXX");
        if (!mkdtemp(dir)) {
            return cli_fail("up", err_fail(ERR_IO, "mkdtemp: %s", strerror(errno)), dir);
        }
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        return cli_fail("up", ERR_IO, "/proc/self/exe");
    }
    self[sl] = 0;
    char ca[4200], reg[4200], keyf[4200];
    snprintf(ca, sizeof(ca), "%s/fake-ca", dir);
    snprintf(reg, sizeof(reg), "%s/registry.json", dir);
    snprintf(keyf, sizeof(keyf), "%s/api_key", dir);
    mkdir(ca, 0700);
    uint8_t img[32];
    uint16_t wport, cport;
    err_t e = fake_image_hash(ca, img);
    if (e == ERR_OK) {
        e = free_port(&wport);
    }
    if (e == ERR_OK) {
        e = free_port(&cport);
    }
    if (e != ERR_OK) {
        return cli_fail("up", e, "setup");
    }
    char imghex[65];
    hex_encode(img, 32, imghex);
    char regjson[2048];
    int rn = snprintf(regjson, sizeof(regjson),
                      "{\"proxies\":[{\"worker\":\"127.0.0.1:%u\",\"client\":\"127.0.0.1:%u\"}],\n"
                      " \"proxy_image_hashes\":[\"%s\"],\n \"worker_image_hashes\":[\"%s\"],\n"
                      " \"models\":[\"%s\"],\n \"price_per_token\":0}\n",
                      wport, cport, imghex, imghex, model);
    uint8_t kb[24];
    rand_bytes(kb, sizeof(kb));
    char key[64] = "sk-cocoon-";
    hex_encode(kb, sizeof(kb), key + strlen(key));
    if (rn <= 0 || (size_t)rn >= sizeof(regjson) ||
        (e = file_write_atomic(reg, regjson, (size_t)rn, 0644)) != ERR_OK ||
        (e = file_write_atomic(keyf, key, strlen(key), 0600)) != ERR_OK) {
        return cli_fail("up", e == ERR_OK ? ERR_INTERNAL : e, "state files");
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGPIPE, SIG_IGN);

    child ch[UP_MAX_WORKERS + 3];
    memset(ch, 0, sizeof(ch));
    size_t nch = 0;
    uint64_t deadline = clock_mono_ms() + UP_READY_MS;
    /* The registry the daemons read: the JSON file, or the root contract on localton. */
    char regspec[4400];
    snprintf(regspec, sizeof(regspec), "file:%s", reg);
    static char lt_state[4200], lt_port_s[16], lt_api[64];
    if (chain == 1) {
        child *lt = &ch[nch++];
        lt->name = "localton";
        lt->prog = "node";
        snprintf(lt->log, sizeof(lt->log), "%s/localton.log", dir);
        snprintf(lt_state, sizeof(lt_state), "%s/localton", dir);
        snprintf(lt->ready, sizeof(lt->ready), "%s/localton/addresses.json", dir);
        /* A fresh chain each run: the root must name this run's proxy ports. */
        char chain_json[4300];
        snprintf(chain_json, sizeof(chain_json), "%s/chain.json", lt_state);
        mkdir(lt_state, 0700);
        unlink(chain_json);
        unlink(lt->ready);
        uint16_t lport;
        char owner[TON_ADDR_RAW_MAX];
        const char *env_owner = getenv("COCOON_ROOT_OWNER");
        if ((e = free_port(&lport)) != ERR_OK ||
            (!(env_owner && *env_owner) && (e = make_owner(dir, owner)) != ERR_OK)) {
            return cli_fail("up", e, "localton setup");
        }
        if (!(env_owner && *env_owner)) {
            setenv("COCOON_ROOT_OWNER", owner, 1);
        }
        uint8_t mh[32];
        sha256(model, strlen(model), mh);
        char mhex[65];
        hex_encode(mh, 32, mhex);
        char rj[1024];
        snprintf(rj, sizeof(rj),
                 "{\"proxyHashes\":[\"%s\"],\"workerHashes\":[\"%s\"],\"modelHashes\":[\"%s\"],"
                 "\"registeredProxies\":[\"127.0.0.1:%u 127.0.0.1:%u\"]}",
                 imghex, imghex, mhex, wport, cport);
        setenv("COCOON_ROOT_REGISTRY", rj, 1);
        snprintf(lt_port_s, sizeof(lt_port_s), "%u", lport);
        snprintf(lt_api, sizeof(lt_api), "http://127.0.0.1:%u/api/v2", lport);
        char *a[] = {"node",      lp.server,  "--port",      lt_port_s, "--state", lt_state,
                     "--genesis", lp.genesis, "--addresses", lt->ready, NULL};
        memcpy(lt->argv, a, sizeof(a));
        lt->pid = spawn(self, lt, lt->argv);
        char root[256];
        if (lt->pid < 0) {
            return cli_fail("up", err_fail(ERR_IO, "fork: %s", strerror(errno)), "localton");
        }
        if ((e = localton_wait(lt, lt_api, deadline, root)) != ERR_OK) {
            stop_all(ch, nch);
            return cli_fail("up", e, "localton");
        }
        snprintf(regspec, sizeof(regspec), "chain:%s#%s", lt_api, root);
        fprintf(stderr, "cocoon up: registry: root %s on localton %s\n", root, lt_api);
    }
    char wl[64], cl[64];
    snprintf(wl, sizeof(wl), "127.0.0.1:%u", wport);
    snprintf(cl, sizeof(cl), "127.0.0.1:%u", cport);
    /* proxy */
    ch[nch].name = "proxy";
    snprintf(ch[nch].log, sizeof(ch[nch].log), "%s/proxy.log", dir);
    snprintf(ch[nch].ready, sizeof(ch[nch].ready), "%s/proxy.ready", dir);
    unlink(ch[nch].ready);
    {
        char *a[] = {self,
                     "proxy",
                     "--registry",
                     regspec,
                     "--fake-ca",
                     ca,
                     "--worker-listen",
                     wl,
                     "--client-listen",
                     cl,
                     "--difficulty",
                     "8",
                     "--ready-file",
                     ch[nch].ready,
                     NULL};
        memcpy(ch[nch].argv, a, sizeof(a));
        add_common(&ch[nch], &co);
        ch[nch].pid = spawn(self, &ch[nch], ch[nch].argv);
    }
    nch++;
    static const char *const wnames[] = {"worker1", "worker2", "worker3", "worker4",
                                         "worker5", "worker6", "worker7", "worker8"};
    for (long i = 0; i < nworkers; i++) {
        child *w = &ch[nch];
        w->name = wnames[i];
        snprintf(w->log, sizeof(w->log), "%s/%s.log", dir, w->name);
        snprintf(w->ready, sizeof(w->ready), "%s/%s.ready", dir, w->name);
        unlink(w->ready);
        char *a[] = {
            self,      "worker",      "--registry", regspec,          "--fake-ca",    ca,
            "--model", (char *)model, "--upstream", (char *)upstream, "--ready-file", w->ready,
            NULL};
        memcpy(w->argv, a, sizeof(a));
        add_common(w, &co);
        w->pid = spawn(self, w, w->argv);
        nch++;
    }
    child *cli = &ch[nch];
    cli->name = "client";
    snprintf(cli->log, sizeof(cli->log), "%s/client.log", dir);
    snprintf(cli->ready, sizeof(cli->ready), "%s/client.ready", dir);
    unlink(cli->ready);
    {
        char *a[] = {self, "client",       "--registry", regspec, "--fake-ca", ca, "--api-key-file",
                     keyf, "--ready-file", cli->ready,   NULL};
        memcpy(cli->argv, a, sizeof(a));
        add_common(cli, &co);
        cli->pid = spawn(self, cli, cli->argv);
    }
    nch++;
    for (size_t i = 0; i < nch; i++) {
        if (ch[i].pid < 0) {
            stop_all(ch, nch);
            return cli_fail("up", err_fail(ERR_IO, "fork: %s", strerror(errno)), ch[i].name);
        }
    }
    /* Ready when every child has written its ready file. */
    for (;;) {
        size_t ready = 0;
        for (size_t i = 0; i < nch; i++) {
            ready += file_has(ch[i].ready);
            int st;
            if (waitpid(ch[i].pid, &st, WNOHANG) == ch[i].pid) {
                ch[i].pid = 0;
                fprintf(stderr, "cocoon up: %s exited early; see %s\n", ch[i].name, ch[i].log);
                stop_all(ch, nch);
                return 1;
            }
        }
        if (ready == nch) {
            break;
        }
        if (g_stop || clock_mono_ms() > deadline) {
            fprintf(stderr, "cocoon up: %s\n", g_stop ? "interrupted" : "not ready within 30 s");
            stop_all(ch, nch);
            return 1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    buf pb;
    buf_init(&pb, 64);
    long port = 0;
    if (file_read(cli->ready, 63, &pb) == ERR_OK && buf_u8(&pb, 0) == ERR_OK) {
        char *nl = strchr((char *)pb.data, '\n');
        if (nl) {
            *nl = 0;
        }
        if (!cli_parse_long((char *)pb.data, 1, 65535, &port)) {
            port = 0;
        }
    }
    buf_free(&pb);
    if (!port) {
        fprintf(stderr, "cocoon up: the client did not report its port\n");
        stop_all(ch, nch);
        return 1;
    }
    for (size_t i = 0; i < nch; i++) {
        fprintf(stderr, "cocoon up: %s log: %s\n", ch[i].name, ch[i].log);
    }
    fprintf(stderr, "cocoon up: state: %s (Ctrl-C stops the network)\n", dir);
    printf("base_url: http://127.0.0.1:%ld/v1\napi_key: %s\n", port, key);
    fflush(stdout);
    /* A child that dies is started again (a local network heals like the real one: the proxy
     * retries in-flight requests elsewhere meanwhile); one that keeps dying stops everything. */
    int rc = 0;
    while (!g_stop) {
        for (size_t i = 0; i < nch; i++) {
            int st;
            if (ch[i].pid > 0 && waitpid(ch[i].pid, &st, WNOHANG) == ch[i].pid) {
                uint64_t now = clock_mono_ms();
                ch[i].deaths = now - ch[i].last_death < 10000 ? ch[i].deaths + 1 : 1;
                ch[i].last_death = now;
                if (ch[i].deaths > 3) {
                    fprintf(stderr, "cocoon up: %s keeps exiting; see %s\n", ch[i].name, ch[i].log);
                    ch[i].pid = 0;
                    rc = 1;
                    g_stop = 1;
                    break;
                }
                fprintf(stderr, "cocoon up: %s exited (%s %d); restarting it\n", ch[i].name,
                        WIFSIGNALED(st) ? "signal" : "status",
                        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                unlink(ch[i].ready);
                ch[i].pid = spawn(self, &ch[i], ch[i].argv);
            }
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    stop_all(ch, nch);
    fprintf(stderr, "cocoon up: stopped\n");
    return rc;
}
