/* The chain source of the root registry: registry_from_root_data on root data cells built here
 * (every rejection, limits at max and max+1, truncation), source specs, registry_replace, and
 * registry_source_load against a real localton whose genesis deploys roots with the real
 * contract code (a good one, one with a bad proxy description, an account with garbage data).
 * The localton part is skipped, saying why, when node or the npm packages are missing. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

#include "base/codec.h"
#include "crypto/hash.h"
#include "registry/registry.h"
#include "registry/source.h"
#include "ton/cocoon.h"
#include "ton/dict.h"

/* ---- building root data cells ---- */

typedef struct {
    const char *proxies[80];
    size_t nproxies;
    size_t nworker;    /* worker hashes: i-th is sha256 of i as 4 bytes */
    bool worker_value; /* put one bit into each worker hash entry's value */
    uint64_t price;
    uint32_t version;
} root_spec;

static ton_cell *empty_cell(void) {
    ton_builder b;
    tb_init(&b);
    ton_cell *c;
    assert_int_equal(tb_finish(&b, &c), ERR_OK);
    return c;
}

static void nth_hash(size_t i, uint8_t h[32]) {
    uint8_t k[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    sha256(k, 4, h);
}

static ton_cell *hash_set(size_t n, bool with_value, const uint8_t *one) {
    if (n == 0 && !one) {
        return NULL;
    }
    size_t total = n + (one ? 1 : 0);
    ton_dict_item *items = calloc(total, sizeof(*items));
    ton_cell *val;
    ton_builder b;
    tb_init(&b);
    if (with_value) {
        assert_int_equal(tb_bit(&b, true), ERR_OK);
    }
    assert_int_equal(tb_finish(&b, &val), ERR_OK);
    for (size_t i = 0; i < n; i++) {
        nth_hash(i, items[i].key);
        ts_init(&items[i].value, val);
    }
    if (one) {
        memcpy(items[n].key, one, 32);
        ts_init(&items[n].value, val);
    }
    ton_cell *root;
    assert_int_equal(ton_dict_build(items, total, 256, &root), ERR_OK);
    ton_cell_unref(val);
    free(items);
    return root;
}

static ton_cell *proxy_dict(const root_spec *sp) {
    if (sp->nproxies == 0) {
        return NULL;
    }
    ton_dict_item items[80];
    ton_cell *vals[80];
    for (size_t i = 0; i < sp->nproxies; i++) {
        ton_builder b;
        tb_init(&b);
        size_t len = strlen(sp->proxies[i]);
        assert_int_equal(tb_uint(&b, 0, 1), ERR_OK);
        assert_int_equal(tb_uint(&b, len, 7), ERR_OK);
        assert_int_equal(tb_bytes(&b, sp->proxies[i], len), ERR_OK);
        assert_int_equal(tb_finish(&b, &vals[i]), ERR_OK);
        memset(items[i].key, 0, sizeof(items[i].key));
        uint32_t k = (uint32_t)i + 1;
        items[i].key[0] = (uint8_t)(k >> 24);
        items[i].key[1] = (uint8_t)(k >> 16);
        items[i].key[2] = (uint8_t)(k >> 8);
        items[i].key[3] = (uint8_t)k;
        ts_init(&items[i].value, vals[i]);
    }
    ton_cell *root;
    assert_int_equal(ton_dict_build(items, sp->nproxies, 32, &root), ERR_OK);
    for (size_t i = 0; i < sp->nproxies; i++) {
        ton_cell_unref(vals[i]);
    }
    return root;
}

static const uint8_t MODEL_HASH_SEED[] = "fortune-llama-7m";

static ton_cell *build_root(const root_spec *sp) {
    cocoon_params p;
    memset(&p, 0, sizeof(p));
    p.struct_version = COCOON_PARAMS_VERSION;
    p.price_per_token = sp->price;
    p.prompt_mult = p.cached_mult = p.completion_mult = p.reasoning_mult = COCOON_MULT_ONE;
    ton_cell *params;
    assert_int_equal(cocoon_params_build(&p, &params), ERR_OK);
    uint8_t img[32], mh[32];
    memset(img, 0xab, 32);
    sha256(MODEL_HASH_SEED, sizeof(MODEL_HASH_SEED) - 1, mh);
    ton_cell *ph = hash_set(0, false, img);
    ton_cell *px = proxy_dict(sp);
    ton_cell *wh = hash_set(sp->nworker, sp->worker_value, img);
    ton_cell *mhs = hash_set(0, false, mh);
    ton_builder b;
    tb_init(&b);
    ton_cell *inner;
    assert_int_equal(tb_dict(&b, ph), ERR_OK);
    assert_int_equal(tb_dict(&b, px), ERR_OK);
    assert_int_equal(tb_uint(&b, sp->nproxies, 32), ERR_OK);
    assert_int_equal(tb_dict(&b, wh), ERR_OK);
    assert_int_equal(tb_dict(&b, mhs), ERR_OK);
    assert_int_equal(tb_finish(&b, &inner), ERR_OK);
    ton_addr owner = {0, {0}};
    memset(owner.hash, 0x5c, 32);
    ton_cell *root;
    assert_int_equal(tb_addr(&b, &owner), ERR_OK);
    assert_int_equal(tb_uint(&b, sp->version, 32), ERR_OK);
    assert_int_equal(tb_ref(&b, inner), ERR_OK);
    assert_int_equal(tb_ref(&b, params), ERR_OK);
    assert_int_equal(tb_finish(&b, &root), ERR_OK);
    ton_cell_unref(ph);
    ton_cell_unref(px);
    ton_cell_unref(wh);
    ton_cell_unref(mhs);
    ton_cell_unref(inner);
    ton_cell_unref(params);
    return root;
}

static err_t load_spec(const root_spec *sp, registry **out) {
    ton_cell *c = build_root(sp);
    err_t e = registry_from_root_data(c, out);
    ton_cell_unref(c);
    return e;
}

static void test_root_data_good(void **state) {
    (void)state;
    root_spec sp = {.proxies = {"127.0.0.1:11001 127.0.0.1:11002", "10.0.0.7:5000"},
                    .nproxies = 2,
                    .nworker = 3,
                    .price = 7,
                    .version = 42};
    registry *r;
    assert_int_equal(load_spec(&sp, &r), ERR_OK);
    assert_int_equal(registry_version(r), 42);
    assert_int_equal(registry_proxy_count(r), 2);
    assert_string_equal(registry_proxy_at(r, 0)->worker_addr, "127.0.0.1:11001");
    assert_string_equal(registry_proxy_at(r, 0)->client_addr, "127.0.0.1:11002");
    /* one address serves both roles */
    assert_string_equal(registry_proxy_at(r, 1)->worker_addr, "10.0.0.7:5000");
    assert_string_equal(registry_proxy_at(r, 1)->client_addr, "10.0.0.7:5000");
    assert_true(registry_checks_hashes(r));
    assert_int_equal(registry_price_per_token(r), 7);
    uint8_t img[32], other[32];
    memset(img, 0xab, 32);
    memset(other, 0xac, 32);
    assert_int_equal(registry_check_proxy_image(r, img), ERR_OK);
    assert_int_equal(registry_check_worker_image(r, img), ERR_OK);
    uint8_t h2[32];
    nth_hash(2, h2);
    assert_int_equal(registry_check_worker_image(r, h2), ERR_OK);
    assert_int_equal(registry_check_proxy_image(r, h2), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(registry_check_worker_image(r, other), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(registry_check_model(r, "fortune-llama-7m", 16), ERR_OK);
    assert_int_equal(registry_check_model(r, "fortune-llama-7M", 16), ERR_NOT_FOUND);
    registry_free(r);
}

static void test_root_data_rejections(void **state) {
    (void)state;
    static const struct {
        const char *desc;
        err_t want;
    } bad[] = {
        {"127.0.0.1", ERR_MALFORMED},
        {":80", ERR_MALFORMED},
        {"127.0.0.1:0", ERR_MALFORMED},
        {"127.0.0.1:65536", ERR_MALFORMED},
        {"127.0.0.1:123456", ERR_MALFORMED},
        {"127.0.0.1:8x", ERR_MALFORMED},
        {"127.0.0.1:1 ", ERR_MALFORMED},
        {"127.0.0.1:1 127.0.0.1", ERR_MALFORMED},
        {"127.0.0.1:1  127.0.0.1:2", ERR_MALFORMED},
        {"127.0.0.1:65535", ERR_OK},
        {"h:1 h:2", ERR_OK},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root_spec sp = {.proxies = {bad[i].desc}, .nproxies = 1};
        registry *r = (registry *)1;
        err_t e = load_spec(&sp, &r);
        if (e != bad[i].want) {
            fail_msg("\"%s\": %s, want %s", bad[i].desc, err_name(e), err_name(bad[i].want));
        }
        if (e != ERR_OK) {
            assert_null(r);
        }
        registry_free(e == ERR_OK ? r : NULL);
    }
    /* a hash set entry with a value is not the root's layout */
    root_spec sv = {.nworker = 1, .worker_value = true};
    registry *r;
    assert_int_equal(load_spec(&sv, &r), ERR_MALFORMED);
    assert_null(r);
    /* price beyond int64 */
    root_spec sp = {.price = (uint64_t)INT64_MAX + 1};
    assert_int_equal(load_spec(&sp, &r), ERR_TOO_LARGE);
    sp.price = (uint64_t)INT64_MAX;
    assert_int_equal(load_spec(&sp, &r), ERR_OK);
    registry_free(r);
}

static void test_root_data_limits(void **state) {
    (void)state;
    root_spec sp = {0};
    for (size_t i = 0; i < 65; i++) {
        sp.proxies[i] = "127.0.0.1:1";
    }
    registry *r;
    sp.nproxies = REGISTRY_MAX_PROXIES;
    assert_int_equal(load_spec(&sp, &r), ERR_OK);
    assert_int_equal(registry_proxy_count(r), REGISTRY_MAX_PROXIES);
    registry_free(r);
    sp.nproxies = REGISTRY_MAX_PROXIES + 1;
    assert_int_equal(load_spec(&sp, &r), ERR_TOO_MANY);
    /* worker hashes: the genesis-style image plus n more */
    root_spec sh = {.nworker = REGISTRY_MAX_HASHES - 1};
    assert_int_equal(load_spec(&sh, &r), ERR_OK);
    registry_free(r);
    sh.nworker = REGISTRY_MAX_HASHES;
    assert_int_equal(load_spec(&sh, &r), ERR_TOO_MANY);
}

/* The top cell cut at every bit, one bit too many, and an empty cell. */
static void test_root_data_truncated(void **state) {
    (void)state;
    root_spec sp = {.proxies = {"127.0.0.1:1 127.0.0.1:2"}, .nproxies = 1, .nworker = 2};
    ton_cell *c = build_root(&sp);
    ton_slice s;
    ts_init(&s, c);
    unsigned bits = ts_bits_left(&s);
    for (unsigned cut = 0; cut < bits; cut++) {
        ton_builder b;
        tb_init(&b);
        assert_int_equal(tb_bits(&b, ton_cell_data(c), 0, cut), ERR_OK);
        for (unsigned i = 0; i < ton_cell_nrefs(c); i++) {
            assert_int_equal(tb_ref(&b, ton_cell_child(c, i)), ERR_OK);
        }
        ton_cell *t;
        assert_int_equal(tb_finish(&b, &t), ERR_OK);
        registry *r = (registry *)1;
        assert_int_not_equal(registry_from_root_data(t, &r), ERR_OK);
        assert_null(r);
        ton_cell_unref(t);
    }
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_bits(&b, ton_cell_data(c), 0, bits), ERR_OK);
    assert_int_equal(tb_bit(&b, false), ERR_OK);
    for (unsigned i = 0; i < ton_cell_nrefs(c); i++) {
        assert_int_equal(tb_ref(&b, ton_cell_child(c, i)), ERR_OK);
    }
    ton_cell *t;
    assert_int_equal(tb_finish(&b, &t), ERR_OK);
    registry *r;
    assert_int_equal(registry_from_root_data(t, &r), ERR_TRAILING);
    ton_cell_unref(t);
    ton_cell *e = empty_cell();
    assert_int_equal(registry_from_root_data(e, &r), ERR_TRUNCATED);
    ton_cell_unref(e);
    ton_cell_unref(c);
}

static void test_source_parse(void **state) {
    (void)state;
    registry_source s;
    assert_int_equal(registry_source_parse("/etc/reg.json", &s), ERR_OK);
    assert_int_equal(s.kind, REGISTRY_SOURCE_FILE);
    assert_string_equal(s.path, "/etc/reg.json");
    assert_int_equal(registry_source_parse("file:reg.json", &s), ERR_OK);
    assert_int_equal(s.kind, REGISTRY_SOURCE_FILE);
    assert_string_equal(s.path, "reg.json");
    char spec[256];
    snprintf(spec, sizeof(spec), "chain:http://127.0.0.1:8081/api/v2#0:%064d", 0);
    memset(spec + strlen(spec) - 64, 'a', 64);
    assert_int_equal(registry_source_parse(spec, &s), ERR_OK);
    assert_int_equal(s.kind, REGISTRY_SOURCE_CHAIN);
    assert_string_equal(s.api_url, "http://127.0.0.1:8081/api/v2");
    assert_int_equal(s.root.wc, 0);
    assert_int_equal(s.root.hash[31], 0xaa);
    char d[1300];
    registry_source_describe(&s, d, sizeof(d));
    assert_non_null(strstr(d, "0:aaaa"));
    static const char *const bad[] = {"",
                                      "file:",
                                      "chain:http://127.0.0.1:8081/api/v2",
                                      "chain:#0:00",
                                      "chain:ftp://h/api/v2#0:" /* scheme */,
                                      "chain:http://127.0.0.1/api/v2#0:zz",
                                      "chain:http://127.0.0.1/api/v2#"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (registry_source_parse(bad[i], &s) != ERR_USAGE) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
}

static void test_replace(void **state) {
    (void)state;
    root_spec a = {.proxies = {"a:1", "b:2"}, .nproxies = 2, .version = 1};
    root_spec b = {.proxies = {"c:3", "d:4"}, .nproxies = 2, .version = 2, .nworker = 1};
    root_spec c = {.proxies = {"e:5"}, .nproxies = 1, .version = 3, .price = 9};
    registry *r, *f;
    assert_int_equal(load_spec(&a, &r), ERR_OK);
    assert_int_equal(load_spec(&b, &f), ERR_OK);
    assert_false(registry_equal(r, f));
    uint8_t h0[32];
    nth_hash(0, h0);
    assert_int_equal(registry_check_worker_image(r, h0), ERR_IMAGE_NOT_ALLOWED);
    registry_replace(r, f);
    assert_int_equal(registry_version(r), 2);
    assert_string_equal(registry_proxy_at(r, 1)->worker_addr, "d:4");
    assert_int_equal(registry_check_worker_image(r, h0), ERR_OK);
    assert_int_equal(load_spec(&c, &f), ERR_OK);
    registry_replace(r, f); /* the list follows the chain, also when its length changes */
    assert_int_equal(registry_proxy_count(r), 1);
    assert_string_equal(registry_proxy_at(r, 0)->worker_addr, "e:5");
    assert_int_equal(registry_version(r), 3);
    assert_int_equal(registry_price_per_token(r), 9);
    assert_int_equal(registry_check_worker_image(r, h0), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(load_spec(&b, &f), ERR_OK);
    registry *g;
    assert_int_equal(load_spec(&b, &g), ERR_OK);
    assert_true(registry_equal(f, g));
    registry_free(f);
    registry_free(g);
    registry_free(r);
}

/* ---- against localton ---- */

static char g_root[1024];

static int start_localton(const char *state_dir, const char *genesis, const char *addresses,
                          pid_t *pid, int *keep, char url[128]) {
    int out[2], in[2];
    if (pipe(out) != 0 || pipe(in) != 0) {
        return -1;
    }
    char server[1200];
    snprintf(server, sizeof(server), "%s/localton/server.mjs", g_root);
    *pid = fork();
    if (*pid == 0) {
        dup2(out[1], 1);
        dup2(in[0], 0);
        close(out[0]);
        close(in[1]);
        execlp("node", "node", server, "--port", "0", "--state", state_dir, "--exit-with-parent",
               "--genesis", genesis, "--addresses", addresses, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    *keep = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "http://127.0.0.1:");
        if (p) {
            p[strcspn(p, "\r\n")] = 0;
            snprintf(url, 128, "%s/api/v2", p);
            return 0;
        }
    }
    return -1;
}

static const char *skip_reason(void) {
    const char *td = getenv("COCOON_TESTDATA");
    snprintf(g_root, sizeof(g_root), "%s/../..", td ? td : "tests/data");
    char p[1300];
    struct stat st;
    if (system("node --version > /dev/null 2>&1") != 0) {
        return "node is not installed";
    }
    snprintf(p, sizeof(p), "%s/localton/node_modules/@ton/sandbox", g_root);
    if (stat(p, &st) != 0) {
        return "localton/node_modules is missing (npm ci in localton/)";
    }
    snprintf(p, sizeof(p), "%s/contracts/node_modules/@ton/core", g_root);
    if (stat(p, &st) != 0) {
        return "contracts/node_modules is missing (npm ci in contracts/)";
    }
    return NULL;
}

static err_t load_chain(const char *url, const char *addr, registry **out) {
    char spec[512];
    snprintf(spec, sizeof(spec), "chain:%s#%s", url, addr);
    registry_source s;
    assert_int_equal(registry_source_parse(spec, &s), ERR_OK);
    return registry_source_load(&s, NULL, 3000, out);
}

static void test_chain_localton(void **state) {
    (void)state;
    const char *why = skip_reason();
    if (why) {
        fprintf(stderr, "[  SKIPPED ] chain registry against localton: %s\n", why);
        skip();
    }
    char dir[] = "/tmp/cocoon-registry-chain-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char genesis[1200], addresses[1200], state_dir[1200];
    snprintf(genesis, sizeof(genesis), "%s/genesis.mjs", dir);
    snprintf(addresses, sizeof(addresses), "%s/addresses.json", dir);
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    char img[65];
    memset(img, 'a', 64);
    img[64] = 0;
    uint8_t mh[32];
    sha256("demo@c:v", 8, mh);
    char mhex[65];
    hex_encode(mh, 32, mhex);
    /* Roots deployed with the contracts' own code and StateInit builder; one account whose
     * code accepts anything and whose data is garbage. */
    FILE *f = fopen(genesis, "w");
    assert_non_null(f);
    fprintf(
        f,
        "import { createRequire } from 'node:module';\n"
        "const require = createRequire('%s/contracts/lib/cocoon.js');\n"
        "const c = require('./cocoon.js');\n"
        "const lreq = createRequire('%s/localton/server.mjs');\n"
        "const { beginCell, Cell } = lreq('@ton/core');\n"
        "const { Address } = require('@ton/core');\n"
        "const conv = (x) => Cell.fromBoc(x.toBoc())[0];\n"
        "export default async function (chain) {\n"
        "  const codes = await c.loadCodes();\n"
        "  const params = c.defaultParams(codes, { pricePerToken: 5n });\n"
        "  const owner = Address.parse('0:' + '5c'.repeat(32));\n"
        "  const mk = async (o) => { const si = c.rootStateInit(codes, { owner, params, ...o });"
        " return (await chain.deploy({ code: conv(si.code), data: conv(si.data) },"
        " 1000000000n)).toRawString(); };\n"
        "  return {\n"
        "    good: await mk({ proxyHashes: [BigInt('0x%s')], workerHashes: [BigInt('0x%s')],"
        " modelHashes: [BigInt('0x%s')], registeredProxies: ['127.0.0.1:11001 127.0.0.1:11002',"
        " '127.0.0.1:12001'] }),\n"
        "    bad_proxy: await mk({ registeredProxies: ['127.0.0.1:99999'] }),\n"
        "    garbage: (await chain.deploy({ code: beginCell().endCell(), data: beginCell()"
        ".storeUint(0xdead, 16).endCell() }, 1000000000n)).toRawString(),\n"
        "  };\n"
        "}\n",
        g_root, g_root, img, img, mhex);
    fclose(f);
    pid_t pid = -1;
    int keep = -1;
    char url[128];
    assert_int_equal(start_localton(state_dir, genesis, addresses, &pid, &keep, url), 0);
    json_error_t je;
    json_t *j = json_load_file(addresses, 0, &je);
    assert_non_null(j);

    registry *r = NULL;
    assert_int_equal(load_chain(url, json_string_value(json_object_get(j, "good")), &r), ERR_OK);
    assert_int_equal(registry_proxy_count(r), 2);
    assert_string_equal(registry_proxy_at(r, 0)->worker_addr, "127.0.0.1:11001");
    assert_string_equal(registry_proxy_at(r, 0)->client_addr, "127.0.0.1:11002");
    assert_string_equal(registry_proxy_at(r, 1)->client_addr, "127.0.0.1:12001");
    uint8_t h[32];
    memset(h, 0xaa, 32);
    assert_int_equal(registry_check_worker_image(r, h), ERR_OK);
    assert_int_equal(registry_check_proxy_image(r, h), ERR_OK);
    h[0] ^= 1;
    assert_int_equal(registry_check_worker_image(r, h), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(registry_check_model(r, "demo@c:v", 8), ERR_OK);
    assert_int_equal(registry_check_model(r, "demo", 4), ERR_NOT_FOUND);
    assert_int_equal(registry_price_per_token(r), 5);
    registry_free(r);

    /* bad chain data: each refused with its reason, nothing returned */
    r = (registry *)1;
    assert_int_equal(load_chain(url, json_string_value(json_object_get(j, "bad_proxy")), &r),
                     ERR_MALFORMED);
    assert_null(r);
    r = (registry *)1;
    err_t e = load_chain(url, json_string_value(json_object_get(j, "garbage")), &r);
    assert_true(e == ERR_TRUNCATED || e == ERR_MALFORMED);
    assert_null(r);
    /* an address with no contract */
    char none[80];
    snprintf(none, sizeof(none), "0:%064d", 7);
    assert_int_equal(load_chain(url, none, &r), ERR_NOT_FOUND);
    assert_null(r);
    json_decref(j);

    /* the API gone: a transport error, not a registry */
    assert_true(pid > 0);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(keep);
    e = load_chain(url, none, &r);
    assert_true(e == ERR_CHAIN_API || e == ERR_IO || e == ERR_TIMEOUT);
    assert_null(r);
    char cmd[1300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_data_good),   cmocka_unit_test(test_root_data_rejections),
        cmocka_unit_test(test_root_data_limits), cmocka_unit_test(test_root_data_truncated),
        cmocka_unit_test(test_source_parse),     cmocka_unit_test(test_replace),
        cmocka_unit_test(test_chain_localton),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
