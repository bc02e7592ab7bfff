/* Load generator for bench/net (run.sh starts the targets): the same OpenAI request sent to
 * several HTTP(S) endpoints and, optionally, through libcocoon-client.
 *
 *   net_bench [--requests N] [--warmup N] [--concurrency C] [--seconds S] [--rounds R] [--stream]
 *             [--model M] [--lib REGISTRY FAKE_CA] NAME,URL[,BEARER] ...
 *
 * Latency: one request at a time, the targets interleaved round by round (so drift on a busy
 * machine hits them alike), each over its own kept-alive connection; p50/p99/mean in µs.
 * Throughput: C threads per target (C requests in flight through the library), each with its
 * own kept-alive connection, for S seconds; answers per second. Every answer is checked (status
 * 200, a chat.completion body or a stream ending in [DONE]); failures are counted, not timed.
 * Output: `latency NAME P50 P99 MEAN N ERRORS` and `throughput NAME RPS N ERRORS` lines. */
#include <cocoon/client.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TARGETS 8

typedef struct {
    char name[64];
    char url[512];
    char auth[600];
} target;

static target targets[MAX_TARGETS];
static int ntargets;
static char body[1024];
static int stream;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- HTTP through libcurl ---- */

typedef struct {
    char *p;
    size_t n, cap;
} sink;

static size_t on_write(char *d, size_t sz, size_t nm, void *arg) {
    sink *s = arg;
    size_t n = sz * nm;
    if (s->n + n + 1 > s->cap) {
        size_t cap = (s->n + n + 1) * 2;
        char *np = realloc(s->p, cap);
        if (!np) {
            return 0;
        }
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->n, d, n);
    s->n += n;
    s->p[s->n] = 0;
    return n;
}

typedef struct {
    CURL *h;
    struct curl_slist *hdr;
    sink s;
} conn;

static void conn_open(conn *c, const target *t) {
    memset(c, 0, sizeof(*c));
    c->h = curl_easy_init();
    c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdr = curl_slist_append(c->hdr, "Expect:");
    if (t->auth[0]) {
        c->hdr = curl_slist_append(c->hdr, t->auth);
    }
    curl_easy_setopt(c->h, CURLOPT_URL, t->url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->s);
    curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 30L);
    /* nginx's certificate is self-signed for this run, on 127.0.0.1 only */
    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 0L);
}

static void conn_close(conn *c) {
    curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdr);
    free(c->s.p);
}

static int answer_ok(const char *p, size_t n) {
    if (!p || !n) {
        return 0;
    }
    if (stream) {
        return n >= 14 && memcmp(p + n - 14, "data: [DONE]\n\n", 14) == 0;
    }
    return strstr(p, "\"chat.completion\"") != NULL;
}

/* One request; 1 when answered correctly. */
static int conn_do(conn *c) {
    c->s.n = 0;
    long code = 0;
    if (curl_easy_perform(c->h) != CURLE_OK) {
        return 0;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    return code == 200 && answer_ok(c->s.p, c->s.n);
}

/* ---- libcocoon-client ---- */

static cocoon_client *lib;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok;
    sink s;
} waiter;

static void w_chunk(void *arg, const char *d, size_t n) {
    waiter *w = arg;
    on_write((char *)d, 1, n, &w->s);
}

static void w_done(void *arg, int status, const char *error, const cocoon_usage *u) {
    waiter *w = arg;
    (void)u;
    pthread_mutex_lock(&w->mu);
    w->ok = !error && status == 200 && answer_ok(w->s.p, w->s.n);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static const cocoon_callbacks wcb = {NULL, w_chunk, w_done};

static int lib_do(waiter *w) {
    w->done = 0;
    w->s.n = 0;
    if (!cocoon_client_submit(lib, "/v1/chat/completions", body, strlen(body), &wcb, w)) {
        return 0;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return w->ok;
}

/* ---- latency ---- */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_latency(const char *name, double *v, int n, int errors) {
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sum += v[i];
    }
    double p50 = n ? v[n / 2] : 0, p99 = n ? v[(int)((double)n * 0.99)] : 0;
    printf("latency %s %.1f %.1f %.1f %d %d\n", name, p50, p99, n ? sum / n : 0, n, errors);
}

static void latency(int warmup, int requests) {
    int nt = ntargets + (lib ? 1 : 0);
    conn cs[MAX_TARGETS];
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};
    double *v[MAX_TARGETS + 1];
    int n[MAX_TARGETS + 1] = {0}, err[MAX_TARGETS + 1] = {0};
    for (int t = 0; t < ntargets; t++) {
        conn_open(&cs[t], &targets[t]);
    }
    for (int t = 0; t < nt; t++) {
        v[t] = calloc((size_t)requests, sizeof(double));
    }
    for (int i = 0; i < warmup + requests; i++) {
        for (int t = 0; t < nt; t++) {
            double t0 = now_us();
            int ok = t < ntargets ? conn_do(&cs[t]) : lib_do(&w);
            double dt = now_us() - t0;
            if (i < warmup) {
                continue;
            }
            if (ok) {
                v[t][n[t]++] = dt;
            } else {
                err[t]++;
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        report_latency(t < ntargets ? targets[t].name : "cocoon-lib", v[t], n[t], err[t]);
        free(v[t]);
        if (t < ntargets) {
            conn_close(&cs[t]);
        }
    }
    free(w.s.p);
}

/* ---- throughput ---- */

typedef struct {
    const target *t;
    double end;
    long ok, err;
    pthread_barrier_t *bar;
} worker_arg;

static void *http_worker(void *arg) {
    worker_arg *a = arg;
    conn c;
    conn_open(&c, a->t);
    (void)conn_do(&c); /* connect (and TLS) before the clock starts */
    pthread_barrier_wait(a->bar);
    while (now_us() < a->end) {
        if (conn_do(&c)) {
            a->ok++;
        } else {
            a->err++;
        }
    }
    conn_close(&c);
    return NULL;
}

static void throughput_http(const target *t, int conc, double secs) {
    pthread_t th[256];
    worker_arg a[256];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)conc + 1);
    double end = 0;
    for (int i = 0; i < conc; i++) {
        a[i] = (worker_arg){t, 0, 0, 0, &bar};
        pthread_create(&th[i], NULL, http_worker, &a[i]);
    }
    /* every connection is up: start the clock for all at once */
    end = now_us() + secs * 1e6;
    for (int i = 0; i < conc; i++) {
        a[i].end = end;
    }
    double t0 = now_us();
    pthread_barrier_wait(&bar);
    long ok = 0, err = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].ok;
        err += a[i].err;
    }
    double dt = (now_us() - t0) / 1e6;
    pthread_barrier_destroy(&bar);
    printf("throughput %s %.0f %ld %ld\n", t->name, (double)ok / dt, ok, err);
}

/* Through the library: conc requests in flight; each completion submits the next. */
typedef struct {
    atomic_long ok, err, inflight;
    double end;
    sink s[256];
} lib_load;

typedef struct {
    lib_load *L;
    int slot;
} lib_slot;

static void l_chunk(void *arg, const char *d, size_t n) {
    lib_slot *s = arg;
    on_write((char *)d, 1, n, &s->L->s[s->slot]);
}

static void l_done(void *arg, int status, const char *error, const cocoon_usage *u);
static const cocoon_callbacks lcb = {NULL, l_chunk, l_done};

static void l_next(lib_slot *s) {
    s->L->s[s->slot].n = 0;
    if (now_us() >= s->L->end ||
        !cocoon_client_submit(lib, "/v1/chat/completions", body, strlen(body), &lcb, s)) {
        atomic_fetch_sub(&s->L->inflight, 1);
    }
}

static void l_done(void *arg, int status, const char *error, const cocoon_usage *u) {
    lib_slot *s = arg;
    (void)u;
    sink *k = &s->L->s[s->slot];
    if (!error && status == 200 && answer_ok(k->p, k->n)) {
        atomic_fetch_add(&s->L->ok, 1);
    } else {
        atomic_fetch_add(&s->L->err, 1);
    }
    l_next(s);
}

static void throughput_lib(int conc, double secs) {
    static lib_load L;
    static lib_slot slots[256];
    memset(&L, 0, sizeof(L));
    double t0 = now_us();
    L.end = t0 + secs * 1e6;
    atomic_store(&L.inflight, conc);
    for (int i = 0; i < conc; i++) {
        slots[i] = (lib_slot){&L, i};
        l_next(&slots[i]);
    }
    while (atomic_load(&L.inflight) > 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    double dt = (now_us() - t0) / 1e6;
    printf("throughput cocoon-lib %.0f %ld %ld\n", (double)atomic_load(&L.ok) / dt,
           atomic_load(&L.ok), atomic_load(&L.err));
    for (int i = 0; i < conc; i++) {
        free(L.s[i].p);
    }
}

int main(int argc, char **argv) {
    int requests = 2000, warmup = 200, conc = 32, rounds = 1;
    double secs = 5;
    const char *model = "bench-model", *reg = NULL, *ca = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
            requests = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) {
            warmup = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc) {
            conc = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            secs = atof(argv[++i]);
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--stream") == 0) {
            stream = 1;
        } else if (strcmp(argv[i], "--lib") == 0 && i + 2 < argc) {
            reg = argv[++i];
            ca = argv[++i];
        } else if (argv[i][0] != '-' && ntargets < MAX_TARGETS) {
            target *t = &targets[ntargets++];
            char spec[1200];
            snprintf(spec, sizeof(spec), "%s", argv[i]);
            char *url = strchr(spec, ',');
            if (!url) {
                fprintf(stderr, "net_bench: target NAME,URL[,BEARER]\n");
                return 2;
            }
            *url++ = 0;
            char *key = strchr(url, ',');
            if (key) {
                *key++ = 0;
                snprintf(t->auth, sizeof(t->auth), "Authorization: Bearer %.500s", key);
            }
            snprintf(t->name, sizeof(t->name), "%.63s", spec);
            snprintf(t->url, sizeof(t->url), "%.511s", url);
        } else {
            fprintf(stderr, "net_bench: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (requests < 1 || conc < 1 || conc > 256 || secs <= 0 || rounds < 1 || rounds > 20) {
        fprintf(stderr,
                "net_bench: requests >= 1, concurrency 1..256, seconds > 0, rounds 1..20\n");
        return 2;
    }
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Say four "
             "words.\"}],\"max_tokens\":16%s}",
             model, stream ? ",\"stream\":true" : "");
    curl_global_init(CURL_GLOBAL_ALL);
    if (reg) {
        cocoon_client_config cfg;
        cocoon_client_config_init(&cfg);
        cfg.registry_file = reg;
        cfg.fake_ca_dir = ca;
        char err[512];
        if (cocoon_client_new(&cfg, &lib, err, sizeof(err)) != 0 ||
            !cocoon_client_wait_ready(lib, 30000)) {
            fprintf(stderr, "net_bench: libcocoon-client: %s\n", lib ? "no proxy ready" : err);
            return 1;
        }
    }
    latency(warmup, requests);
    fflush(stdout);
    /* Rounds alternate the targets, so a burst of load elsewhere on the machine hits one
     * round of each rather than all of one target; the script takes each target's median. */
    for (int r = 0; r < rounds; r++) {
        for (int t = 0; t < ntargets; t++) {
            throughput_http(&targets[t], conc, secs);
            fflush(stdout);
        }
        if (lib) {
            throughput_lib(conc, secs);
            fflush(stdout);
        }
    }
    if (lib) {
        cocoon_client_free(lib);
    }
    curl_global_cleanup();
    return 0;
}
