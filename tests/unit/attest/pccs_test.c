/* PCCS/PCS client (attest/pccs.h) against a fixture HTTP server on 127.0.0.1 started here. The
 * server answers Intel's v4 endpoints with Intel's headers, from the real collateral of
 * tests/data/tdx (split back into the HTTP responses it came from) or from collateral issued by
 * the fake CA. The client's clock is injected, so expiry is exercised without waiting. */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/fake.h"
#include "attest/pccs.h"

#define T_REAL 1772712000        /* 2026-03-05T12:00:00Z: inside dcapqvl_collateral_2026-02 */
#define T_REAL_EXPIRY 1774003275 /* 2026-03-20T10:41:15Z: its earliest nextUpdate */
#define T_FAKE 1767225600        /* 2026-01-01 */

/* ---- fixture server ---- */

#define MAX_ROUTES 8

typedef struct {
    char path[256]; /* exact request target (path and query) */
    int status;
    char hname[64]; /* "" = no issuer chain header */
    buf hval;       /* header value as sent (URL-encoded) */
    buf body;
    bool no_length; /* no Content-Length: the body ends when the connection closes */
} route;

typedef struct {
    int fd;
    uint16_t port;
    pthread_t th;
    atomic_bool stop;
    atomic_int requests;
    route routes[MAX_ROUTES];
    size_t nroutes;
} server;

static void send_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return; /* the client hung up (e.g. refused an oversize body) */
        }
        b += w;
        n -= (size_t)w;
    }
}

static void serve_one(server *s, int c) {
    char req[8192];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        struct pollfd pf = {.fd = c, .events = POLLIN};
        if (poll(&pf, 1, 2000) <= 0) {
            return;
        }
        ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0) {
            return;
        }
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) {
            break;
        }
    }
    atomic_fetch_add(&s->requests, 1);
    char target[512] = "";
    if (sscanf(req, "GET %511s HTTP/1.1", target) != 1) {
        return;
    }
    const route *rt = NULL;
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strcmp(s->routes[i].path, target) == 0) {
            rt = &s->routes[i];
        }
    }
    char head[1024];
    if (!rt) {
        int k =
            snprintf(head, sizeof(head),
                     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        send_all(c, head, (size_t)k);
        return;
    }
    int k = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\n", rt->status);
    if (!rt->no_length) {
        k += snprintf(head + k, sizeof(head) - (size_t)k, "Content-Length: %zu\r\n", rt->body.len);
    }
    send_all(c, head, (size_t)k);
    if (rt->hname[0]) {
        send_all(c, rt->hname, strlen(rt->hname));
        send_all(c, ": ", 2);
        send_all(c, rt->hval.data, rt->hval.len);
        send_all(c, "\r\n", 2);
    }
    send_all(c, "\r\n", 2);
    send_all(c, rt->body.data, rt->body.len);
}

static void *server_main(void *arg) {
    server *s = arg;
    uint64_t deadline = (uint64_t)time(NULL) + 60; /* stops by itself whatever happens */
    while (!atomic_load(&s->stop) && (uint64_t)time(NULL) < deadline) {
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0) {
            continue;
        }
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        serve_one(s, c);
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

static void server_start(server *s) {
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s->port) {
        a.sin_port = htons(s->port); /* restart on the same port */
    }
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    atomic_store(&s->stop, false);
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_stop(server *s) {
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->fd);
}

static void server_free(server *s) {
    for (size_t i = 0; i < s->nroutes; i++) {
        buf_free(&s->routes[i].hval);
        buf_free(&s->routes[i].body);
    }
    s->nroutes = 0;
}

static route *route_find(server *s, const char *prefix) {
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strncmp(s->routes[i].path, prefix, strlen(prefix)) == 0) {
            return &s->routes[i];
        }
    }
    fail_msg("no route %s", prefix);
    return NULL;
}

static void url_encode(const char *s, buf *out) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            assert_int_equal(buf_u8(out, c), ERR_OK);
        } else {
            char e[4];
            snprintf(e, sizeof(e), "%%%02X", c);
            assert_int_equal(buf_append(out, e, 3), ERR_OK);
        }
    }
}

static route *route_add(server *s, const char *path, const char *hname, const char *chain_pem) {
    assert_true(s->nroutes < MAX_ROUTES);
    route *r = &s->routes[s->nroutes++];
    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->status = 200;
    buf_init(&r->hval, 1 << 20);
    buf_init(&r->body, 1 << 20);
    if (hname) {
        snprintf(r->hname, sizeof(r->hname), "%s", hname);
        url_encode(chain_pem, &r->hval);
    }
    return r;
}

static void append_hex_as_der(buf *b, const char *hex) {
    size_t n = strlen(hex) / 2, got = 0;
    assert_int_equal(buf_reserve(b, n), ERR_OK);
    assert_int_equal(hex_decode(hex, strlen(hex), b->data + b->len, n, &got), ERR_OK);
    b->len += got;
}

static void append_str(buf *b, const char *s) {
    assert_int_equal(buf_append(b, s, strlen(s)), ERR_OK);
}

/* Splits a dcap-qvl collateral JSON back into Intel's responses for fmspc/ca. Root CRL: as
 * PCCS sends it (hex text) at /sgx/certification/v4/rootcacrl. */
static void routes_from_collateral(server *s, const char *json, size_t len, const char *fmspc,
                                   const char *ca) {
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    assert_non_null(j);
#define S(k) json_string_value(json_object_get(j, k))
    char path[256];
    snprintf(path, sizeof(path), "/sgx/certification/v4/pckcrl?ca=%s&encoding=der", ca);
    route *r = route_add(s, path, "SGX-PCK-CRL-Issuer-Chain", S("pck_crl_issuer_chain"));
    append_hex_as_der(&r->body, S("pck_crl"));
    snprintf(path, sizeof(path), "/tdx/certification/v4/tcb?fmspc=%s", fmspc);
    r = route_add(s, path, "TCB-Info-Issuer-Chain", S("tcb_info_issuer_chain"));
    append_str(&r->body, "{\"tcbInfo\":");
    append_str(&r->body, S("tcb_info"));
    append_str(&r->body, ",\"signature\":\"");
    append_str(&r->body, S("tcb_info_signature"));
    append_str(&r->body, "\"}");
    r = route_add(s, "/tdx/certification/v4/qe/identity", "SGX-Enclave-Identity-Issuer-Chain",
                  S("qe_identity_issuer_chain"));
    append_str(&r->body, "{\"enclaveIdentity\":");
    append_str(&r->body, S("qe_identity"));
    append_str(&r->body, ",\"signature\":\"");
    append_str(&r->body, S("qe_identity_signature"));
    append_str(&r->body, "\"}");
    r = route_add(s, "/sgx/certification/v4/rootcacrl", NULL, NULL);
    append_str(&r->body, S("root_ca_crl"));
#undef S
    json_decref(j);
}

/* ---- per-test state ---- */

typedef struct {
    char dir[64];
    char cache[96];
    char url[64];
    server srv;
    int64_t now;
    buf quote_bytes;
    quote q;
    uint8_t fmspc[6];
} fixture;

static int64_t test_clock(void *ctx) {
    return ((fixture *)ctx)->now;
}

static void fixture_dirs(fixture *f) {
    snprintf(f->dir, sizeof(f->dir), "/tmp/cocoon-pccs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
}

/* Real vector: cocoon_quote_v4 + dcapqvl_collateral_2026-02 served as Intel would. */
static fixture *real_fixture(void) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fixture_dirs(f);
    td_read("tdx/cocoon_quote_v4.dat", &f->quote_bytes);
    assert_int_equal(quote_parse(f->quote_bytes.data, f->quote_bytes.len, &f->q), ERR_OK);
    pccs_tee tee;
    pccs_ca ca;
    assert_int_equal(pccs_quote_params(&f->q, &tee, f->fmspc, &ca), ERR_OK);
    assert_int_equal(tee, PCCS_TEE_TDX);
    char hex[13];
    hex_encode(f->fmspc, 6, hex);
    buf cj;
    td_read("tdx/dcapqvl_collateral_2026-02.json", &cj);
    routes_from_collateral(&f->srv, (const char *)cj.data, cj.len, hex,
                           ca == PCCS_CA_PLATFORM ? "platform" : "processor");
    buf_free(&cj);
    server_start(&f->srv);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", f->srv.port);
    f->now = T_REAL;
    return f;
}

static void fixture_free(fixture *f, bool running) {
    if (running) {
        server_stop(&f->srv);
    }
    server_free(&f->srv);
    buf_free(&f->quote_bytes);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

static pccs_client *client(fixture *f, bool cache) {
    pccs_config cfg = {.url = f->url,
                       .cache_dir = cache ? f->cache : NULL,
                       .clock = test_clock,
                       .clock_ctx = f,
                       .timeout_ms = 5000};
    pccs_client *p = NULL;
    assert_int_equal(pccs_new(&cfg, &p), ERR_OK);
    return p;
}

static size_t count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        return 0;
    }
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* ---- tests ---- */

static void test_real_fetch_verify_and_cache(void **state) {
    (void)state;
    fixture *f = real_fixture();
    pccs_client *p = client(f, true);
    collateral *c = NULL;
    bool cached = true;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_OK);
    assert_false(cached);
    assert_int_equal(pccs_requests(p), 4);
    assert_int_equal(atomic_load(&f->srv.requests), 4);
    /* the fetched set gives the same verdict as the file it was split from */
    dcap_result r;
    assert_int_equal(dcap_verify(&f->q, c, &ATTEST_INTEL_ROOT_PUB, 1, f->now, &r), ERR_OK);
    assert_int_equal(r.tcb.status, TCB_UP_TO_DATE);
    assert_int_equal(r.expiry, T_REAL_EXPIRY);
    collateral_free(c);
    assert_int_equal(count_files(f->cache), 1);

    /* second call: cache, no request */
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_OK);
    assert_true(cached);
    assert_int_equal(pccs_requests(p), 4);
    assert_int_equal(pccs_cache_hits(p), 1);
    collateral_free(c);
    pccs_free(p);

    /* server gone: a new client (new process) answers from the cache until nextUpdate */
    server_stop(&f->srv);
    p = client(f, true);
    f->now = T_REAL_EXPIRY - 1;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_OK);
    assert_true(cached);
    assert_int_equal(dcap_verify(&f->q, c, &ATTEST_INTEL_ROOT_PUB, 1, f->now, &r), ERR_OK);
    collateral_free(c);
    /* at nextUpdate the cached set is stale: never served, and the server is down */
    f->now = T_REAL_EXPIRY;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_IO);
    assert_null(c);
    assert_false(cached);
    pccs_free(p);

    /* server back, still serving the old set: refused as expired, cache left as it was */
    server_start(&f->srv);
    p = client(f, true);
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_COLLATERAL_EXPIRED);
    assert_null(c);
    assert_int_equal(pccs_requests(p), 4);
    /* and before the collateral was issued (issueDate 2026-02-18) */
    f->now = 1767225600;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_COLLATERAL_EXPIRED);
    pccs_free(p);
    fixture_free(f, true);
}

static void test_no_cache_dir(void **state) {
    (void)state;
    fixture *f = real_fixture();
    pccs_client *p = client(f, false);
    collateral *c = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_OK);
        collateral_free(c);
    }
    assert_int_equal(pccs_requests(p), 8);
    assert_int_equal(pccs_cache_hits(p), 0);
    pccs_free(p);
    fixture_free(f, true);
}

static void test_old_tcb_header_name_and_missing_header(void **state) {
    (void)state;
    fixture *f = real_fixture();
    route *tcb = route_find(&f->srv, "/tdx/certification/v4/tcb");
    snprintf(tcb->hname, sizeof(tcb->hname), "SGX-TCB-Info-Issuer-Chain");
    pccs_client *p = client(f, false);
    collateral *c = NULL;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_OK);
    collateral_free(c);
    snprintf(tcb->hname, sizeof(tcb->hname), "X-Other");
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_COLLATERAL_FORMAT);
    assert_non_null(strstr(err_detail(), "TCB-Info-Issuer-Chain"));
    route *qe = route_find(&f->srv, "/tdx/certification/v4/qe/identity");
    snprintf(tcb->hname, sizeof(tcb->hname), "TCB-Info-Issuer-Chain");
    qe->hname[0] = 0;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_COLLATERAL_FORMAT);
    pccs_free(p);
    fixture_free(f, true);
}

/* One byte changed in a signed body: refused, and nothing is cached. */
static void test_tampered_bodies(void **state) {
    (void)state;
    static const struct {
        const char *route;
        const char *from;
        const char *to;
        err_t want;
    } cases[] = {
        {"/tdx/certification/v4/tcb",
         "\"tcbEvaluationDataNumber\":", "\"tcbEvaluationDataNumber\": ", ERR_COLLATERAL_SIG},
        {"/tdx/certification/v4/tcb", "OutOfDate", "UpToDate\0", ERR_COLLATERAL_SIG},
        {"/tdx/certification/v4/qe/identity", "\"isvprodid\":2", "\"isvprodid\":3",
         ERR_COLLATERAL_SIG},
        {"/tdx/certification/v4/tcb", "\"signature\":\"", "\"signature\":\"0",
         ERR_COLLATERAL_FORMAT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture *f = real_fixture();
        route *r = route_find(&f->srv, cases[i].route);
        assert_int_equal(buf_u8(&r->body, 0), ERR_OK);
        char *s = (char *)r->body.data;
        char *at = strstr(s, cases[i].from);
        assert_non_null(at);
        /* replace in place: same length, or one more byte */
        size_t fl = strlen(cases[i].from), tl = strlen(cases[i].to);
        buf nb;
        buf_init(&nb, 1 << 20);
        assert_int_equal(buf_append(&nb, s, (size_t)(at - s)), ERR_OK);
        assert_int_equal(buf_append(&nb, cases[i].to, tl), ERR_OK);
        assert_int_equal(buf_append(&nb, at + fl, strlen(at + fl)), ERR_OK);
        buf_free(&r->body);
        r->body = nb;
        pccs_client *p = client(f, true);
        collateral *c = NULL;
        err_t e = pccs_get_for_quote(p, &f->q, &c, NULL);
        if (e != cases[i].want) {
            fail_msg("case %zu: %s (%s)", i, err_name(e), err_detail());
        }
        assert_null(c);
        assert_int_equal(count_files(f->cache), 0);
        pccs_free(p);
        fixture_free(f, true);
    }
}

static void test_tampered_cache_file_is_refetched(void **state) {
    (void)state;
    fixture *f = real_fixture();
    pccs_client *p = client(f, true);
    collateral *c = NULL;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_OK);
    collateral_free(c);
    char path[256];
    char hex[13];
    hex_encode(f->fmspc, 6, hex);
    snprintf(path, sizeof(path), "%s/tdx-%s-platform.coll", f->cache, hex);
    buf file;
    buf_init(&file, 1 << 20);
    if (file_read(path, 1 << 20, &file) != ERR_OK) {
        snprintf(path, sizeof(path), "%s/tdx-%s-processor.coll", f->cache, hex);
        assert_int_equal(file_read(path, 1 << 20, &file), ERR_OK);
    }
    /* flip a byte inside the cached TCB info (after the 16-byte header and its length) */
    uint8_t *tcb = memmem(file.data, file.len, "\"tcbLevels\"", 11);
    assert_non_null(tcb);
    tcb[2] ^= 1;
    assert_int_equal(file_write_atomic(path, file.data, file.len, 0600), ERR_OK);
    bool cached = true;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_OK);
    assert_false(cached);
    assert_int_equal(pccs_requests(p), 8);
    collateral_free(c);
    /* truncated cache file: likewise */
    assert_int_equal(file_write_atomic(path, file.data, 20, 0600), ERR_OK);
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, &cached), ERR_OK);
    assert_false(cached);
    collateral_free(c);
    buf_free(&file);
    pccs_free(p);
    fixture_free(f, true);
}

static void test_oversize_bodies(void **state) {
    (void)state;
    for (int no_length = 0; no_length < 2; no_length++) {
        fixture *f = real_fixture();
        route *r = route_find(&f->srv, "/tdx/certification/v4/tcb");
        /* exactly the limit: received (then refused as malformed JSON, not as too large) */
        buf_reset(&r->body);
        assert_int_equal(buf_reserve(&r->body, PCCS_BODY_MAX + 1), ERR_OK);
        memset(r->body.data, ' ', PCCS_BODY_MAX + 1);
        r->body.len = PCCS_BODY_MAX;
        r->no_length = no_length;
        pccs_client *p = client(f, true);
        collateral *c = NULL;
        err_t e = pccs_get_for_quote(p, &f->q, &c, NULL);
        assert_int_not_equal(e, ERR_TOO_LARGE);
        assert_int_not_equal(e, ERR_OK);
        /* one byte more */
        r->body.len = PCCS_BODY_MAX + 1;
        assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_TOO_LARGE);
        assert_null(c);
        assert_int_equal(count_files(f->cache), 0);
        pccs_free(p);
        /* a smaller configured cap is honoured */
        pccs_config cfg = {.url = f->url, .clock = test_clock, .clock_ctx = f, .max_body = 1000};
        assert_int_equal(pccs_new(&cfg, &p), ERR_OK);
        route *qe = route_find(&f->srv, "/sgx/certification/v4/pckcrl");
        (void)qe;
        assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_TOO_LARGE); /* PCK CRL 3 KiB */
        pccs_free(p);
        fixture_free(f, true);
    }
}

static void test_oversize_header(void **state) {
    (void)state;
    fixture *f = real_fixture();
    route *r = route_find(&f->srv, "/tdx/certification/v4/qe/identity");
    buf_reset(&r->hval);
    assert_int_equal(buf_reserve(&r->hval, PCCS_HEADER_MAX + 1), ERR_OK);
    memset(r->hval.data, 'A', PCCS_HEADER_MAX + 1);
    r->hval.len = PCCS_HEADER_MAX + 1;
    pccs_client *p = client(f, false);
    collateral *c = NULL;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_TOO_LARGE);
    /* at the limit it is read (and then is not a certificate chain) */
    r->hval.len = PCCS_HEADER_MAX;
    err_t e = pccs_get_for_quote(p, &f->q, &c, NULL);
    assert_int_not_equal(e, ERR_TOO_LARGE);
    assert_int_not_equal(e, ERR_OK);
    pccs_free(p);
    fixture_free(f, true);
}

static void test_http_errors(void **state) {
    (void)state;
    fixture *f = real_fixture();
    pccs_client *p = client(f, false);
    collateral *c = NULL;
    route *r = route_find(&f->srv, "/tdx/certification/v4/qe/identity");
    r->status = 500;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_IO);
    assert_non_null(strstr(err_detail(), "HTTP 500"));
    r->status = 200;
    /* unknown FMSPC: the server's 404 */
    uint8_t other[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(pccs_get(p, PCCS_TEE_TDX, other, PCCS_CA_PLATFORM, &c, NULL), ERR_NOT_FOUND);
    /* SGX endpoints are not served here */
    assert_int_equal(pccs_get(p, PCCS_TEE_SGX, f->fmspc, PCCS_CA_PLATFORM, &c, NULL),
                     ERR_NOT_FOUND);
    pccs_free(p);
    server_stop(&f->srv);
    p = client(f, false);
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_IO); /* connection refused */
    pccs_free(p);
    fixture_free(f, false);
}

static void test_config(void **state) {
    (void)state;
    pccs_client *p = NULL;
    static const char *const bad[] = {"ftp://x", "127.0.0.1:8081", "", "http://a b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pccs_config cfg = {.url = bad[i]};
        assert_int_equal(pccs_new(&cfg, &p), ERR_CONFIG);
        assert_null(p);
    }
    char longu[PCCS_URL_MAX + 2];
    memset(longu, 'a', sizeof(longu) - 1);
    longu[sizeof(longu) - 1] = 0;
    memcpy(longu, "http://", 7);
    pccs_config cfg = {.url = longu};
    assert_int_equal(pccs_new(&cfg, &p), ERR_CONFIG);
    longu[PCCS_URL_MAX] = 0; /* at the limit */
    assert_int_equal(pccs_new(&cfg, &p), ERR_OK);
    pccs_free(p);
}

/* The URL forms people paste all reach the same endpoints. */
static void test_url_forms(void **state) {
    (void)state;
    fixture *f = real_fixture();
    static const char *const suffix[] = {"/", "/sgx/certification/v4", "/tdx/certification/v4/"};
    for (size_t i = 0; i < 3; i++) {
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->srv.port, suffix[i]);
        pccs_config cfg = {.url = url, .clock = test_clock, .clock_ctx = f};
        pccs_client *p = NULL;
        assert_int_equal(pccs_new(&cfg, &p), ERR_OK);
        collateral *c = NULL;
        assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_OK);
        collateral_free(c);
        pccs_free(p);
    }
    fixture_free(f, true);
}

/* Fake CA collateral, root CRL served as DER at Intel's-style fixed URL: accepted against the
 * fake root, refused against Intel's. */
static void test_fake_ca(void **state) {
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fixture_dirs(f);
    char cadir[128];
    snprintf(cadir, sizeof(cadir), "%s/ca", f->dir);
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(cadir, T_FAKE - 86400, &ca), ERR_OK);
    fake_td_config def;
    fake_td_config_default(&def);
    fake_td *td = NULL;
    assert_int_equal(fake_td_new(ca, &def, &td), ERR_OK);
    uint8_t rd[64] = {7};
    buf_init(&f->quote_bytes, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &f->quote_bytes), ERR_OK);
    assert_int_equal(quote_parse(f->quote_bytes.data, f->quote_bytes.len, &f->q), ERR_OK);
    buf cj;
    buf_init(&cj, 1 << 20);
    assert_int_equal(fake_ca_collateral(ca, T_FAKE, NULL, &cj), ERR_OK);
    routes_from_collateral(&f->srv, (const char *)cj.data, cj.len, "c0c0a0000000", "platform");
    route *rc = route_find(&f->srv, "/sgx/certification/v4/rootcacrl");
    assert_non_null(rc);
    if (!rc) {
        return; /* for the compiler: assert_non_null does not return on failure */
    }
    snprintf(rc->path, sizeof(rc->path), "/IntelSGXRootCA.der");
    buf hex;
    buf_init(&hex, 1 << 20);
    assert_int_equal(buf_append(&hex, rc->body.data, rc->body.len), ERR_OK);
    assert_int_equal(buf_u8(&hex, 0), ERR_OK);
    buf_reset(&rc->body);
    append_hex_as_der(&rc->body, (const char *)hex.data);
    buf_free(&hex);
    server_start(&f->srv);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", f->srv.port);
    char crl_url[128];
    snprintf(crl_url, sizeof(crl_url), "%s/IntelSGXRootCA.der", f->url);
    f->now = T_FAKE;
    pccs_config cfg = {.url = f->url,
                       .root_crl_url = crl_url,
                       .cache_dir = f->cache,
                       .roots = (const uint8_t(*)[64])fake_ca_root_pub(ca),
                       .nroots = 1,
                       .clock = test_clock,
                       .clock_ctx = f};
    pccs_client *p = NULL;
    assert_int_equal(pccs_new(&cfg, &p), ERR_OK);
    collateral *c = NULL;
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_OK);
    dcap_result r;
    assert_int_equal(
        dcap_verify(&f->q, c, (const uint8_t(*)[64])fake_ca_root_pub(ca), 1, f->now, &r), ERR_OK);
    assert_int_equal(r.tcb.status, TCB_UP_TO_DATE);
    collateral_free(c);
    pccs_free(p);
    /* the same server against Intel's pinned root: the TCB signing chain is not Intel's */
    cfg.roots = NULL;
    cfg.nroots = 0;
    cfg.cache_dir = NULL;
    assert_int_equal(pccs_new(&cfg, &p), ERR_OK);
    assert_int_equal(pccs_get_for_quote(p, &f->q, &c, NULL), ERR_CHAIN_UNTRUSTED);
    pccs_free(p);
    buf_free(&cj);
    fake_td_free(td);
    fake_ca_free(ca);
    fixture_free(f, true);
}

static void test_quote_params(void **state) {
    (void)state;
    buf b;
    td_read("tdx/dcapqvl_sgx_quote_v3.dat", &b);
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    pccs_tee tee;
    uint8_t fmspc[6];
    pccs_ca ca;
    assert_int_equal(pccs_quote_params(&q, &tee, fmspc, &ca), ERR_OK);
    assert_int_equal(tee, PCCS_TEE_SGX);
    /* FMSPC as the collateral of that quote names it */
    buf cj;
    td_read("tdx/dcapqvl_sgx_quote_collateral.json", &cj);
    collateral *c = NULL;
    assert_int_equal(collateral_from_json(cj.data, cj.len, &c), ERR_OK);
    assert_memory_equal(fmspc, collateral_tcb_info(c)->fmspc, 6);
    collateral_free(c);
    buf_free(&cj);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_fetch_verify_and_cache),
        cmocka_unit_test(test_no_cache_dir),
        cmocka_unit_test(test_old_tcb_header_name_and_missing_header),
        cmocka_unit_test(test_tampered_bodies),
        cmocka_unit_test(test_tampered_cache_file_is_refetched),
        cmocka_unit_test(test_oversize_bodies),
        cmocka_unit_test(test_oversize_header),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_url_forms),
        cmocka_unit_test(test_fake_ca),
        cmocka_unit_test(test_quote_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
