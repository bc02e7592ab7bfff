/* RA-TLS benchmark: full mutual TLS 1.3 handshakes per second per core with fake-TD quotes
 * verified on both sides every time (no cache), against plain mutual TLS 1.3 with the same
 * Ed25519 certificates minus the quote (the baseline, same run); and the cost of parsing and
 * verifying one fake quote. Both ends run in this one thread over memory BIOs, so the figure is
 * the CPU cost of a complete handshake (client + server) on one core.
 *
 *   ratls_bench [SECONDS]     (default 3 per measurement)
 */
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attest/fake.h"
#include "attest/provider.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "base/clock.h"
#include "crypto/hash.h"
#include "ratls/cert.h"
#include "ratls/tls.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, err_t e) {
    fprintf(stderr, "ratls_bench: %s: %s\n", what, err_describe(e));
    exit(1);
}

static int handshake(ratls_ctx *s, ratls_ctx *c) {
    SSL *ss = ratls_ssl_new(s);
    SSL *cs = ratls_ssl_new(c);
    BIO *b1;
    BIO *b2;
    BIO_new_bio_pair(&b1, 0, &b2, 0);
    SSL_set_bio(ss, b1, b1);
    SSL_set_bio(cs, b2, b2);
    int sd = 0;
    int cd = 0;
    for (int i = 0; i < 20 && !(sd && cd); i++) {
        if (!cd) {
            int r = SSL_do_handshake(cs);
            if (r == 1) {
                cd = 1;
            } else if (ratls_ssl_error(cs, r) != ERR_AGAIN) {
                break;
            }
        }
        if (!sd) {
            int r = SSL_do_handshake(ss);
            if (r == 1) {
                sd = 1;
            } else if (ratls_ssl_error(ss, r) != ERR_AGAIN) {
                break;
            }
        }
    }
    int ok =
        sd && cd && ratls_ssl_verdict(ss, NULL) == ERR_OK && ratls_ssl_verdict(cs, NULL) == ERR_OK;
    SSL_free(ss);
    SSL_free(cs);
    return ok;
}

typedef struct {
    double per_core;
    uint64_t n;
    uint64_t quotes;
} hs_result;

static hs_result measure(ratls_ctx *s, ratls_ctx *c, double secs) {
    hs_result r = {0, 0, 0};
    uint64_t q0 = ratls_quotes_verified();
    double t0 = cpu_seconds();
    double t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 16; i++) {
            if (!handshake(s, c)) {
                fprintf(stderr, "ratls_bench: a handshake failed\n");
                exit(1);
            }
            r.n++;
        }
        t = cpu_seconds();
    }
    r.per_core = (double)r.n / (t - t0);
    r.quotes = ratls_quotes_verified() - q0;
    return r;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 3.0;
    if (secs <= 0) {
        secs = 3.0;
    }
    char dir[] = "/tmp/cocoon-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char ca_dir[64];
    snprintf(ca_dir, sizeof(ca_dir), "%s/ca", dir);
    attest_provider_config pc;
    memset(&pc, 0, sizeof(pc));
    pc.kind = ATTEST_PROVIDER_FAKE;
    pc.fake_ca_dir = ca_dir;
    attest_provider *prov;
    err_t e = attest_provider_open(&pc, &prov);
    if (e != ERR_OK) {
        die("fake provider", e);
    }
    int64_t now = clock_unix();
    ratls_identity sid;
    ratls_identity cid;
    ratls_identity sid0;
    ratls_identity cid0;
    ratls_identity_init(&sid);
    ratls_identity_init(&cid);
    ratls_identity_init(&sid0);
    ratls_identity_init(&cid0);
    if ((e = ratls_identity_create(&sid, prov, now, 3600, NULL, 0)) != ERR_OK ||
        (e = ratls_identity_create(&cid, prov, now, 3600, NULL, 0)) != ERR_OK ||
        (e = ratls_identity_create(&sid0, NULL, now, 3600, NULL, 0)) != ERR_OK ||
        (e = ratls_identity_create(&cid0, NULL, now, 3600, NULL, 0)) != ERR_OK) {
        die("identities", e);
    }
    ratls_policy tdx;
    ratls_policy_init(&tdx);
    tdx.nroots = 0;
    if ((e = ratls_policy_add_root(&tdx, attest_provider_fake_root(prov))) != ERR_OK) {
        die("policy", e);
    }
    ratls_policy plain;
    ratls_policy_init(&plain);
    plain.require_tdx = false;
    ratls_ctx *s;
    ratls_ctx *c;
    ratls_ctx *s0;
    ratls_ctx *c0;
    if ((e = ratls_ctx_new(RATLS_SERVER, &sid, &tdx, &s)) != ERR_OK ||
        (e = ratls_ctx_new(RATLS_CLIENT, &cid, &tdx, &c)) != ERR_OK ||
        (e = ratls_ctx_new(RATLS_SERVER, &sid0, &plain, &s0)) != ERR_OK ||
        (e = ratls_ctx_new(RATLS_CLIENT, &cid0, &plain, &c0)) != ERR_OK) {
        die("contexts", e);
    }

    printf("# RA-TLS handshakes, both ends in one thread (cache off), %.1f s CPU each\n", secs);
    hs_result base = measure(s0, c0, secs);
    printf("plain_mutual_tls13_handshakes_per_core_s: %.0f\n", base.per_core);
    hs_result ra = measure(s, c, secs);
    printf("ratls_handshakes_per_core_s: %.0f\n", ra.per_core);
    printf("ratls_handshakes: %llu\n", (unsigned long long)ra.n);
    printf("ratls_quotes_verified: %llu (%.2f per handshake)\n", (unsigned long long)ra.quotes,
           ra.n ? (double)ra.quotes / (double)ra.n : 0.0);
    printf("ratls_vs_plain_ratio: %.2f\n", ra.per_core / base.per_core);
    /* The same with every quote's PCK chain verified from scratch (no chain memo). */
    attest_chain_memo_enable(false);
    hs_result cold = measure(s, c, secs);
    attest_chain_memo_enable(true);
    printf("ratls_handshakes_per_core_s_chain_memo_off: %.0f\n", cold.per_core);

    /* One fake quote: parse + signature verification (PCK chain, QE report, quote). */
    uint8_t rd[64];
    sha512("bench", 5, rd);
    buf q;
    buf_init(&q, QUOTE_MAX_SIZE);
    if ((e = attest_provider_quote(prov, rd, &q)) != ERR_OK) {
        die("quote", e);
    }
    const uint8_t(*roots)[64] = (const uint8_t(*)[64])attest_provider_fake_root(prov);
    for (int memo_on = 1; memo_on >= 0; memo_on--) {
        attest_chain_memo_enable(memo_on);
        uint64_t n = 0;
        double t0 = cpu_seconds();
        double t = t0;
        while (t - t0 < secs) {
            for (int i = 0; i < 32; i++) {
                quote qq;
                uint8_t id[48];
                if (quote_parse(q.data, q.len, &qq) != ERR_OK ||
                    quote_verify_signatures(&qq, roots, 1, now, id) != ERR_OK) {
                    fprintf(stderr, "ratls_bench: quote verification failed\n");
                    return 1;
                }
                n++;
            }
            t = cpu_seconds();
        }
        printf("fake_quote_parse_verify_us%s: %.1f (%llu quotes of %zu bytes)\n",
               memo_on ? "" : "_chain_memo_off", (t - t0) * 1e6 / (double)n, (unsigned long long)n,
               q.len);
    }
    attest_chain_memo_enable(true);
    buf_free(&q);
    ratls_ctx_free(s);
    ratls_ctx_free(c);
    ratls_ctx_free(s0);
    ratls_ctx_free(c0);
    ratls_policy_cleanup(&tdx);
    ratls_policy_cleanup(&plain);
    ratls_identity_cleanup(&sid);
    ratls_identity_cleanup(&cid);
    ratls_identity_cleanup(&sid0);
    ratls_identity_cleanup(&cid0);
    attest_provider_free(prov);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
