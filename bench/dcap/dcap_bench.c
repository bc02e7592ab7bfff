/* DCAP quote verification cost (attest/dcap.h), per quote, on the real vectors of tests/data/tdx
 * and on fresh fake-TD quotes:
 *
 *   warm  collateral loaded and checked once, PCK chain of the platform already verified (the
 *         chain memo): what a verifier pays for a new quote from a known platform. Each
 *         iteration parses the quote bytes and runs dcap_verify + dcap_policy_check.
 *   cold  nothing remembered: collateral parsed from its JSON and checked, chain memo off.
 *   p256x2  two P-256 verifications of the quote's own signature, alone: the floor of the warm
 *         path (which must verify the quote signature and the QE report signature).
 *
 *   dcap_bench [SECONDS [warm|cold]]   (default 2 s per measurement, both modes;
 *                                       COCOON_TESTDATA overrides the data directory)
 *
 * Machine-readable lines for bench/dcap/run.sh: "result <name> <warm|cold> <ms per quote>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/fake.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "crypto/ecdsa.h"

#define MAX_QUOTES 64

typedef struct {
    const char *name;
    const char *quote;
    const char *coll;
    int64_t at; /* inside the collateral's window */
} vector;

static const vector VECTORS[] = {
    {"dcapqvl_tdx_quote_v4", "dcapqvl_tdx_quote_v4.dat", "dcapqvl_tdx_quote_collateral.json",
     1751328000 /* 2025-07-01 */},
    {"cocoon_quote_v4", "cocoon_quote_v4.dat", "dcapqvl_collateral_2026-02.json",
     1772712000 /* 2026-03-05T12:00:00Z */},
    {"gotdx_quote_v5", "gotdx_quote_v5.dat", "dcapqvl_collateral_2026-02.json", 1772712000},
};

static void die(const char *what, err_t e) {
    fprintf(stderr, "dcap_bench: %s: %s (%s)\n", what, err_describe(e), err_detail());
    exit(1);
}

static void read_data(const char *dir, const char *name, buf *b) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/tdx/%s", dir, name);
    buf_init(b, (size_t)1 << 20);
    err_t e = file_read(path, (size_t)1 << 20, b);
    if (e != ERR_OK) {
        die(path, e);
    }
}

/* One verification of quote bytes against c (NULL: load from json first). */
static void verify_once(const buf *qb, collateral *c, const buf *json, const uint8_t (*root)[64],
                        int64_t now) {
    quote q;
    collateral *own = NULL;
    err_t e = quote_parse(qb->data, qb->len, &q);
    if (e != ERR_OK) {
        die("quote_parse", e);
    }
    if (!c) {
        if ((e = collateral_from_json(json->data, json->len, &own)) != ERR_OK) {
            die("collateral_from_json", e);
        }
        c = own;
    }
    dcap_result r;
    dcap_policy p = DCAP_POLICY_DEFAULT;
    if ((e = dcap_verify(&q, c, root, 1, now, &r)) != ERR_OK ||
        (e = dcap_policy_check(&p, &r, c)) != ERR_OK) {
        die("dcap_verify", e);
    }
    collateral_free(own);
}

/* ms per quote over `seconds`, cycling through quotes[0..n). */
static double measure(const buf *quotes, size_t n, collateral *c, const buf *json,
                      const uint8_t (*root)[64], int64_t now, double seconds, bool memo,
                      uint64_t *iters) {
    attest_chain_memo_enable(memo);
    if (c) {
        verify_once(&quotes[0], c, json, root, now); /* warms the collateral check and memo */
    }
    uint64_t t0 = clock_mono_ns();
    uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
    uint64_t k = 0;
    uint64_t t = t0;
    do {
        for (int j = 0; j < 16; j++, k++) {
            verify_once(&quotes[k % n], c, json, root, now);
        }
        t = clock_mono_ns();
    } while (t < deadline);
    attest_chain_memo_enable(true);
    *iters = k;
    return (double)(t - t0) / 1e6 / (double)k;
}

/* ms per pair of P-256 verifications of the quote signature (the warm path's floor). */
static double measure_floor(const buf *qb, double seconds, uint64_t *iters) {
    quote q;
    err_t e = quote_parse(qb->data, qb->len, &q);
    if (e != ERR_OK) {
        die("quote_parse", e);
    }
    uint64_t t0 = clock_mono_ns();
    uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
    uint64_t k = 0;
    uint64_t t = t0;
    do {
        for (int j = 0; j < 16; j++, k++) {
            for (int twice = 0; twice < 2; twice++) {
                if ((e = ecdsa_verify(ECDSA_P256_SHA256, q.att_key, q.signed_region.p,
                                      q.signed_region.len, q.quote_sig)) != ERR_OK) {
                    die("ecdsa_verify", e);
                }
            }
        }
        t = clock_mono_ns();
    } while (t < deadline);
    *iters = k;
    return (double)(t - t0) / 1e6 / (double)k;
}

static void report(const char *name, const char *mode, double ms, uint64_t iters) {
    printf("%-22s %-6s %9.4f ms/quote  (%8.0f quotes/s, %llu runs)\n", name, mode, ms, 1e3 / ms,
           (unsigned long long)iters);
    printf("result %s %s %.6f\n", name, mode, ms);
}

static const char *g_only; /* "warm", "cold" or NULL for both (profiling one path) */

static void bench_pair(const char *name, const buf *quotes, size_t n, const buf *json,
                       const uint8_t (*root)[64], int64_t now, double seconds) {
    collateral *c = NULL;
    err_t e = collateral_from_json(json->data, json->len, &c);
    if (e != ERR_OK) {
        die("collateral_from_json", e);
    }
    uint64_t it;
    if (!g_only || strcmp(g_only, "warm") == 0) {
        double warm = measure(quotes, n, c, json, root, now, seconds, true, &it);
        report(name, "warm", warm, it);
    }
    if (!g_only) {
        double floor_ms = measure_floor(&quotes[0], seconds / 2, &it);
        report(name, "p256x2", floor_ms, it);
    }
    if (!g_only || strcmp(g_only, "cold") == 0) {
        double cold = measure(quotes, n, NULL, json, root, now, seconds, false, &it);
        report(name, "cold", cold, it);
    }
    collateral_free(c);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    g_only = argc > 2 ? argv[2] : NULL;
    if (seconds <= 0 || seconds > 600 || argc > 3 ||
        (g_only && strcmp(g_only, "warm") != 0 && strcmp(g_only, "cold") != 0)) {
        fprintf(stderr, "usage: dcap_bench [SECONDS [warm|cold]]\n");
        return 2;
    }
    const char *dir = getenv("COCOON_TESTDATA");
    if (!dir) {
        dir = COCOON_TESTDATA_DIR;
    }
    printf("dcap_bench: %.1f s per measurement; warm = collateral checked and PCK chain "
           "memoised, cold = nothing remembered\n",
           seconds);
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        buf qb;
        buf json;
        read_data(dir, VECTORS[i].quote, &qb);
        read_data(dir, VECTORS[i].coll, &json);
        bench_pair(VECTORS[i].name, &qb, 1, &json, &ATTEST_INTEL_ROOT_PUB, VECTORS[i].at, seconds);
        buf_free(&qb);
        buf_free(&json);
    }

    /* Fresh quotes from one fake platform: every quote is new (its own REPORTDATA and
     * signature), the platform's chain is known. */
    char tmpl[] = "/tmp/cocoon-dcap-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        return 1;
    }
    char cadir[sizeof(tmpl) + 8];
    snprintf(cadir, sizeof(cadir), "%s/ca", tmpl);
    int64_t now = clock_unix();
    fake_ca *ca = NULL;
    fake_td *td = NULL;
    fake_td_config cfg;
    fake_td_config_default(&cfg);
    err_t e;
    if ((e = fake_ca_open(cadir, now, &ca)) != ERR_OK ||
        (e = fake_td_new(ca, &cfg, &td)) != ERR_OK) {
        die("fake CA", e);
    }
    static buf quotes[MAX_QUOTES];
    for (size_t i = 0; i < MAX_QUOTES; i++) {
        uint8_t rd[64] = {0};
        memcpy(rd, &i, sizeof(i));
        buf_init(&quotes[i], QUOTE_MAX_SIZE);
        if ((e = fake_td_quote(td, rd, &quotes[i])) != ERR_OK) {
            die("fake_td_quote", e);
        }
    }
    buf json;
    buf_init(&json, (size_t)1 << 20);
    if ((e = fake_ca_collateral(ca, now, NULL, &json)) != ERR_OK) {
        die("fake_ca_collateral", e);
    }
    bench_pair("fake_td_new_quotes", quotes, MAX_QUOTES, &json,
               (const uint8_t(*)[64])fake_ca_root_pub(ca), now, seconds);
    for (size_t i = 0; i < MAX_QUOTES; i++) {
        buf_free(&quotes[i]);
    }
    buf_free(&json);
    fake_td_free(td);
    fake_ca_free(ca);
    char cmd[sizeof(tmpl) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
    return system(cmd) == 0 ? 0 : 1;
}
