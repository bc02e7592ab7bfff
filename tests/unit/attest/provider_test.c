/* Quote providers. The tdx provider runs against an ordinary directory whose kernel-side
 * behaviour (files appearing on mkdir, quote + generation bump on the inblob write, files
 * vanishing on rmdir) is emulated by the provider's test hook, quotes coming from a fake TD. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/fake.h"
#include "attest/provider.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "crypto/hash.h"

#define NOW 1767225600 /* 2026-01-01 */

static char g_dir[256];
static fake_ca *g_ca;

typedef struct {
    const char *provider_name;
    unsigned gen_step_races; /* this many requests bump generation by 2 (a concurrent writer) */
    bool empty_outblob;
    unsigned attempts; /* inblob writes seen */
    unsigned mkdirs;
    size_t last_inblob_len;
    fake_td *td;
} tsm_emu;

static void write_text(const char *dir, const char *name, const void *data, size_t n) {
    char p[1400];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static err_t emu_hook(void *arg, attest_tsm_event ev, const char *entry) {
    tsm_emu *em = arg;
    char p[1400];
    switch (ev) {
    case ATTEST_TSM_AFTER_MKDIR:
        em->mkdirs++;
        write_text(entry, "provider", em->provider_name, strlen(em->provider_name));
        write_text(entry, "generation", "0\n", 2);
        write_text(entry, "inblob", "", 0);
        write_text(entry, "outblob", "", 0);
        break;
    case ATTEST_TSM_AFTER_INBLOB: {
        em->attempts++;
        snprintf(p, sizeof(p), "%s/inblob", entry);
        buf in;
        buf_init(&in, 4096);
        assert_int_equal(file_read(p, 4096, &in), ERR_OK);
        em->last_inblob_len = in.len;
        assert_int_equal(in.len, 64); /* the kernel refuses anything else */
        buf q;
        buf_init(&q, QUOTE_MAX_SIZE);
        if (!em->empty_outblob) {
            assert_int_equal(fake_td_quote(em->td, in.data, &q), ERR_OK);
        }
        write_text(entry, "outblob", q.data ? (const void *)q.data : "", q.len);
        bool race = em->gen_step_races > 0;
        if (race) {
            em->gen_step_races--;
        }
        write_text(entry, "generation", race ? "2\n" : "1\n", 2);
        buf_free(&q);
        buf_free(&in);
        break;
    }
    case ATTEST_TSM_BEFORE_RMDIR: {
        static const char *files[] = {"provider", "generation", "inblob", "outblob"};
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof(p), "%s/%s", entry, files[i]);
            unlink(p);
        }
        break;
    }
    }
    return ERR_OK;
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/cocoon_provider_test.XXXXXX");
    if (!mkdtemp(g_dir)) {
        return -1;
    }
    char p[400];
    snprintf(p, sizeof(p), "%s/ca", g_dir);
    char t[400];
    snprintf(t, sizeof(t), "%s/tsm", g_dir);
    char r[400];
    snprintf(r, sizeof(r), "%s/rtmr", g_dir);
    return fake_ca_open(p, NOW, &g_ca) == ERR_OK && mkdir(t, 0700) == 0 && mkdir(r, 0700) == 0 ? 0
                                                                                               : -1;
}

static int teardown(void **state) {
    (void)state;
    fake_ca_free(g_ca);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static attest_provider *open_tdx(tsm_emu *em, unsigned retries) {
    static char tsm[400];
    static char rtmr[400];
    snprintf(tsm, sizeof(tsm), "%s/tsm", g_dir);
    snprintf(rtmr, sizeof(rtmr), "%s/rtmr", g_dir);
    fake_td_config c;
    fake_td_config_default(&c);
    if (!em->td) {
        assert_int_equal(fake_td_new(g_ca, &c, &em->td), ERR_OK);
    }
    attest_provider_config cfg = {
        .kind = ATTEST_PROVIDER_TDX,
        .tsm_dir = tsm,
        .rtmr_dir = rtmr,
        .tsm_retries = retries,
        .tsm_hook = emu_hook,
        .tsm_hook_arg = em,
    };
    attest_provider *p = NULL;
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_OK);
    assert_string_equal(attest_provider_name(p), "tdx");
    assert_true(attest_provider_has_quotes(p));
    assert_null(attest_provider_fake_root(p));
    return p;
}

static void tsm_path(char *out, size_t cap) {
    snprintf(out, cap, "%s/tsm", g_dir);
}

static void test_tdx_quote(void **state) {
    (void)state;
    tsm_emu em = {.provider_name = "tdx_guest\n"};
    attest_provider *p = open_tdx(&em, 0);
    uint8_t rd[64];
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)i;
    }
    buf out;
    buf_init(&out, QUOTE_MAX_SIZE);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_OK);
    assert_int_equal(em.attempts, 1);
    assert_int_equal(em.last_inblob_len, 64);
    quote q;
    assert_int_equal(quote_parse(out.data, out.len, &q), ERR_OK);
    assert_memory_equal(q.td.report_data, rd, 64);
    assert_int_equal(
        quote_verify_signatures(&q, (const uint8_t(*)[64])fake_ca_root_pub(g_ca), 1, NOW, NULL),
        ERR_OK);
    char t[400];
    tsm_path(t, sizeof(t));
    assert_int_equal(dir_entries(t), 0); /* the report entry was removed */
    /* A second request uses a fresh entry and works the same. */
    buf_reset(&out);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_OK);
    assert_int_equal(em.mkdirs, 2);
    buf_free(&out);
    attest_provider_free(p);
    fake_td_free(em.td);
}

static void test_tdx_wrong_provider(void **state) {
    (void)state;
    tsm_emu em = {.provider_name = "sev_guest\n"};
    attest_provider *p = open_tdx(&em, 0);
    uint8_t rd[64] = {0};
    buf out;
    buf_init(&out, QUOTE_MAX_SIZE);
    err_clear_detail();
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_PROVIDER);
    assert_non_null(strstr(err_detail(), "sev_guest"));
    assert_int_equal(em.attempts, 0); /* nothing written to another TEE's inblob */
    assert_int_equal(out.len, 0);
    char t[400];
    tsm_path(t, sizeof(t));
    assert_int_equal(dir_entries(t), 0);
    buf_free(&out);
    attest_provider_free(p);
    fake_td_free(em.td);
}

/* Generation moving by 2: another writer raced us. Every attempt races → ERR_GENERATION_RACE
 * after 1 + retries attempts, and no quote is handed out. */
static void test_tdx_generation_race(void **state) {
    (void)state;
    tsm_emu em = {.provider_name = "tdx_guest", .gen_step_races = 100};
    attest_provider *p = open_tdx(&em, 2);
    uint8_t rd[64] = {7};
    buf out;
    buf_init(&out, QUOTE_MAX_SIZE);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_GENERATION_RACE);
    assert_int_equal(em.attempts, 3);
    assert_int_equal(out.len, 0);
    char t[400];
    tsm_path(t, sizeof(t));
    assert_int_equal(dir_entries(t), 0);
    attest_provider_free(p);

    /* One race, then a clean attempt: the retry succeeds. */
    em.gen_step_races = 1;
    em.attempts = 0;
    p = open_tdx(&em, 0);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_OK);
    assert_int_equal(em.attempts, 2);
    quote q;
    assert_int_equal(quote_parse(out.data, out.len, &q), ERR_OK);
    assert_memory_equal(q.td.report_data, rd, 64);
    buf_free(&out);
    attest_provider_free(p);
    fake_td_free(em.td);
}

static void test_tdx_failures(void **state) {
    (void)state;
    tsm_emu em = {.provider_name = "tdx_guest", .empty_outblob = true};
    attest_provider *p = open_tdx(&em, 0);
    uint8_t rd[64] = {0};
    buf out;
    buf_init(&out, QUOTE_MAX_SIZE);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_PROVIDER);
    attest_provider_free(p);
    /* No configfs-tsm at all (not a TD, or tsm_report not loaded). */
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/no/such/dir", g_dir);
    attest_provider_config cfg = {.kind = ATTEST_PROVIDER_TDX, .tsm_dir = missing};
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_OK);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_PROVIDER);
    attest_provider_free(p);
    /* Retry bound: at max and max+1. */
    cfg.tsm_retries = ATTEST_TSM_MAX_RETRIES;
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_OK);
    attest_provider_free(p);
    cfg.tsm_retries = ATTEST_TSM_MAX_RETRIES + 1;
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_CONFIG);
    assert_null(p);
    buf_free(&out);
    fake_td_free(em.td);
}

static void test_tdx_rtmr_extend(void **state) {
    (void)state;
    tsm_emu em = {.provider_name = "tdx_guest"};
    attest_provider *p = open_tdx(&em, 0);
    char f[500];
    snprintf(f, sizeof(f), "%s/rtmr/rtmr3:sha384", g_dir);
    FILE *fp = fopen(f, "wb"); /* the sysfs attribute exists before anyone writes it */
    fclose(fp);
    uint8_t d[48];
    sha384("cocoon:tdx_inited", 17, d);
    assert_int_equal(attest_provider_extend_rtmr(p, 3, d), ERR_OK);
    buf b;
    buf_init(&b, 4096);
    assert_int_equal(file_read(f, 4096, &b), ERR_OK);
    assert_int_equal(b.len, 48); /* exactly the digest, raw */
    assert_memory_equal(b.data, d, 48);
    buf_free(&b);
    /* rtmr2 has no attribute here (old kernel): a provider error naming it. */
    err_clear_detail();
    assert_int_equal(attest_provider_extend_rtmr(p, 2, d), ERR_PROVIDER);
    assert_non_null(strstr(err_detail(), "RTMR2"));
    assert_int_equal(attest_provider_extend_rtmr(p, 4, d), ERR_CONFIG);
    attest_provider_free(p);
    fake_td_free(em.td);
}

static void test_fake_provider(void **state) {
    (void)state;
    char ca[400];
    snprintf(ca, sizeof(ca), "%s/ca", g_dir);
    char cfgp[400];
    snprintf(cfgp, sizeof(cfgp), "%s/td.json", g_dir);
    const char *json = "{\"rtmr1\": \"111111111111111111111111111111111111111111111111"
                       "111111111111111111111111111111111111111111111111\"}";
    write_text(g_dir, "td.json", json, strlen(json));
    attest_provider_config cfg = {
        .kind = ATTEST_PROVIDER_FAKE, .fake_ca_dir = ca, .fake_config = cfgp, .now = NOW};
    attest_provider *p = NULL;
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_OK);
    assert_string_equal(attest_provider_name(p), "fake");
    assert_memory_equal(attest_provider_fake_root(p), fake_ca_root_pub(g_ca), 64);
    uint8_t d[48];
    memset(d, 0x5a, sizeof(d));
    assert_int_equal(attest_provider_extend_rtmr(p, 3, d), ERR_OK);
    uint8_t rd[64] = {9};
    buf out;
    buf_init(&out, QUOTE_MAX_SIZE);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_OK);
    quote q;
    assert_int_equal(quote_parse(out.data, out.len, &q), ERR_OK);
    assert_int_equal(q.td.rtmr[1][0], 0x11);
    uint8_t in[96] = {0};
    memcpy(in + 48, d, 48);
    uint8_t want[48];
    sha384(in, sizeof(in), want);
    assert_memory_equal(q.td.rtmr[3], want, 48);
    assert_int_equal(quote_verify_signatures(&q, (const uint8_t(*)[64])attest_provider_fake_root(p),
                                             1, NOW, NULL),
                     ERR_OK);
    assert_int_equal(
        quote_verify_signatures(&q, (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB, 1, NOW, NULL),
        ERR_CHAIN_UNTRUSTED);
    buf_free(&out);
    attest_provider_free(p);
    /* Bad configurations. */
    cfg.fake_ca_dir = NULL;
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_CONFIG);
    cfg.fake_ca_dir = ca;
    write_text(g_dir, "td.json", "{\"rtmr9\": \"00\"}", 15);
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_CONFIG);
    assert_null(p);
}

static void test_none_provider(void **state) {
    (void)state;
    attest_provider_config cfg = {.kind = ATTEST_PROVIDER_NONE};
    attest_provider *p = NULL;
    assert_int_equal(attest_provider_open(&cfg, &p), ERR_OK);
    assert_string_equal(attest_provider_name(p), "none");
    assert_false(attest_provider_has_quotes(p));
    uint8_t rd[64] = {0};
    buf out;
    buf_init(&out, QUOTE_MAX_SIZE);
    assert_int_equal(attest_provider_quote(p, rd, &out), ERR_NO_QUOTE);
    assert_int_equal(out.len, 0);
    uint8_t d[48] = {0};
    assert_int_equal(attest_provider_extend_rtmr(p, 3, d), ERR_OK);
    assert_int_equal(attest_provider_extend_rtmr(p, 4, d), ERR_CONFIG);
    attest_provider_free(p);
    buf_free(&out);
}

static void test_kind_parse(void **state) {
    (void)state;
    attest_provider_kind k;
    assert_int_equal(attest_provider_kind_parse("tdx", &k), ERR_OK);
    assert_int_equal(k, ATTEST_PROVIDER_TDX);
    assert_int_equal(attest_provider_kind_parse("fake", &k), ERR_OK);
    assert_int_equal(k, ATTEST_PROVIDER_FAKE);
    assert_int_equal(attest_provider_kind_parse("none", &k), ERR_OK);
    assert_int_equal(k, ATTEST_PROVIDER_NONE);
    assert_int_equal(attest_provider_kind_parse("sgx", &k), ERR_CONFIG);
    assert_int_equal(attest_provider_kind_parse("", &k), ERR_CONFIG);
    assert_int_equal(attest_provider_kind_parse("TDX", &k), ERR_CONFIG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tdx_quote),           cmocka_unit_test(test_tdx_wrong_provider),
        cmocka_unit_test(test_tdx_generation_race), cmocka_unit_test(test_tdx_failures),
        cmocka_unit_test(test_tdx_rtmr_extend),     cmocka_unit_test(test_fake_provider),
        cmocka_unit_test(test_none_provider),       cmocka_unit_test(test_kind_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
