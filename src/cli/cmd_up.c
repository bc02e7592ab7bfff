/* cocoon up: a complete local network on loopback in the foreground.
 *   cocoon up [--upstream URL|builtin:MODEL.gguf] [--model NAME] [--state DIR] [--workers N]
 * Without --upstream the workers run the built-in engine on the demo model (models/).
 * Starts one proxy, N (default 2) workers and one client as child processes of this binary
 * (fake TD provider, a fresh state directory with its own fake CA and registry), waits until
 * the client serves requests (at most 30 s), then prints exactly two lines on stdout:
 *   base_url: http://127.0.0.1:PORT/v1
 *   api_key: KEY
 * and names the log files on stderr. SIGINT/SIGTERM stop every process it started. */
#include <errno.h>
#include <fcntl.h>
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
#include "commands.h"
#include "crypto/rand.h"
#include "net/sock.h"
#include "ratls/cert.h"
#include "util.h"

#define UP_MAX_WORKERS 8
#define UP_READY_MS 30000

typedef struct {
    const char *name;
    pid_t pid;
    char log[4200];
    char ready[4200];
    char *argv[16]; /* kept for restarts */
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
               "                 [--workers N]\n"
               "Starts a proxy, workers and a client on 127.0.0.1 (fake TD), prints base_url and\n"
               "api_key, and runs until Ctrl-C or SIGTERM.\n");
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
    execv(self, args);
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

int cmd_up(int argc, char **argv) {
    static const struct option opts[] = {
        {"upstream", required_argument, NULL, 'u'}, {"model", required_argument, NULL, 'm'},
        {"state", required_argument, NULL, 's'},    {"workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
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

    child ch[UP_MAX_WORKERS + 2];
    memset(ch, 0, sizeof(ch));
    size_t nch = 0;
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
                     reg,
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
        char *a[] = {self,
                     "worker",
                     "--registry",
                     reg,
                     "--fake-ca",
                     ca,
                     "--model",
                     (char *)model,
                     "--upstream",
                     (char *)upstream,
                     "--ready-file",
                     w->ready,
                     NULL};
        memcpy(w->argv, a, sizeof(a));
        w->pid = spawn(self, w, w->argv);
        nch++;
    }
    child *cli = &ch[nch];
    cli->name = "client";
    snprintf(cli->log, sizeof(cli->log), "%s/client.log", dir);
    snprintf(cli->ready, sizeof(cli->ready), "%s/client.ready", dir);
    unlink(cli->ready);
    {
        char *a[] = {self, "client",       "--registry", reg, "--fake-ca", ca, "--api-key-file",
                     keyf, "--ready-file", cli->ready,   NULL};
        memcpy(cli->argv, a, sizeof(a));
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
    uint64_t deadline = clock_mono_ms() + UP_READY_MS;
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
