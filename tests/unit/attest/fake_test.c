/* The fake CA and fake TD: persistence, concurrent creation, measurement config, and the
 * security property that matters: a fake quote verifies only against its own root, and any
 * single flipped byte of a signed region is rejected. */
#include "testutil.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/fake.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "crypto/hash.h"

#define NOW 1767225600 /* 2026-01-01 */
#define YEAR (365 * 86400)

static char g_dir[256];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/cocoon_fake_test.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void ca_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static fake_td *make_td(fake_ca *ca, const char *json) {
    fake_td_config cfg;
    if (json) {
        assert_int_equal(fake_td_config_parse(json, strlen(json), &cfg), ERR_OK);
    } else {
        fake_td_config_default(&cfg);
    }
    fake_td *td = NULL;
    assert_int_equal(fake_td_new(ca, &cfg, &td), ERR_OK);
    return td;
}

static void test_ca_created_and_reloaded(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "ca1");
    fake_ca *a = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &a), ERR_OK);
    static const char *keys[] = {"root_key.pem", "pck_ca_key.pem", "pck_key.pem"};
    for (int i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, keys[i]);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    fake_ca *b = NULL;
    assert_int_equal(fake_ca_open(dir, NOW + 86400, &b), ERR_OK);
    assert_memory_equal(fake_ca_root_pub(a), fake_ca_root_pub(b), 64);
    assert_memory_not_equal(fake_ca_root_pub(a), ATTEST_INTEL_ROOT_PUB, 64);
    /* Another directory is another CA. */
    char dir2[512];
    ca_path(dir2, sizeof(dir2), "ca2");
    fake_ca *c = NULL;
    assert_int_equal(fake_ca_open(dir2, NOW, &c), ERR_OK);
    assert_memory_not_equal(fake_ca_root_pub(a), fake_ca_root_pub(c), 64);
    /* Loading a CA after its PCK certificate expired (10 years) fails clearly. */
    fake_ca *d = NULL;
    assert_int_equal(fake_ca_open(dir, NOW + 11LL * YEAR, &d), ERR_CERT_EXPIRED);
    assert_null(d);
    fake_ca_free(a);
    fake_ca_free(b);
    fake_ca_free(c);
}

/* Several processes open the same, not yet existing, CA at once: all must succeed with the
 * same root, and the directory must hold exactly one consistent CA. */
static void test_ca_concurrent_first_use(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "race");
    enum { N = 6 };
    int fds[N][2];
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[i][0]);
            fake_ca *ca = NULL;
            err_t e = fake_ca_open(dir, NOW, &ca);
            uint8_t out[65] = {(uint8_t)e};
            if (e == ERR_OK) {
                memcpy(out + 1, fake_ca_root_pub(ca), 64);
            }
            ssize_t w = write(fds[i][1], out, sizeof(out));
            _exit(w == (ssize_t)sizeof(out) ? 0 : 1);
        }
        close(fds[i][1]);
    }
    uint8_t first[64];
    for (int i = 0; i < N; i++) {
        uint8_t in[65];
        assert_int_equal(read(fds[i][0], in, sizeof(in)), sizeof(in));
        close(fds[i][0]);
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_int_equal(in[0], ERR_OK);
        if (i == 0) {
            memcpy(first, in + 1, 64);
        } else {
            assert_memory_equal(first, in + 1, 64);
        }
    }
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_OK);
    assert_memory_equal(first, fake_ca_root_pub(ca), 64);
    fake_ca_free(ca);
    /* No temporary directories left behind. */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -d '%s'.tmp.* 2>/dev/null)\"", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_ca_corrupt(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "corrupt");
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_OK);
    fake_ca_free(ca);
    char p[600];
    char q[600];
    /* The PCK certificate replaced by the CA's: key and certificate no longer match. */
    snprintf(p, sizeof(p), "%s/pck_ca_cert.pem", dir);
    snprintf(q, sizeof(q), "%s/pck_cert.pem", dir);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_STORE);
    assert_int_equal(unlink(q), 0);
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_STORE);
    assert_null(ca);
}

static void verify_buf(const buf *b, const uint8_t *root, err_t want) {
    quote q;
    assert_int_equal(quote_parse(b->data, b->len, &q), ERR_OK);
    err_t e = quote_verify_signatures(&q, (const uint8_t(*)[64])root, 1, NOW, NULL);
    if (e != want) {
        fail_msg("verify: %s (%s), want %s", err_name(e), err_detail(), err_name(want));
    }
}

static void test_fake_quote_verifies_only_with_its_root(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "q");
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_OK);
    fake_td *td = make_td(ca, NULL);
    uint8_t rd[64];
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(0xa0 + i);
    }
    buf b;
    buf_init(&b, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &b), ERR_OK);

    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    assert_int_equal(q.version, 4);
    assert_true(quote_is_tdx(&q));
    assert_false(quote_td_debug(&q));
    assert_int_equal(q.body_type, QUOTE_BODY_TD10);
    assert_int_equal(q.cert_data_type, 6);
    assert_int_equal(q.pck_cert_type, 5);
    assert_int_equal(q.trailing, 0);
    assert_int_equal(q.qe_auth_data.len, 32);
    assert_memory_equal(q.td.report_data, rd, 64);
    assert_int_equal(q.pck_chain.p[q.pck_chain.len - 1], 0); /* Intel's trailing NUL */
    assert_int_equal(q.td.td_attributes, 0x10000000u);

    uint8_t id[48];
    assert_int_equal(
        quote_verify_signatures(&q, (const uint8_t(*)[64])fake_ca_root_pub(ca), 1, NOW, id),
        ERR_OK);
    uint8_t want[48];
    attest_root_key_id(fake_ca_root_pub(ca), want);
    assert_memory_equal(id, want, 48);
    verify_buf(&b, ATTEST_INTEL_ROOT_PUB, ERR_CHAIN_UNTRUSTED);
    /* Outside the fake PKI's validity. */
    assert_int_equal(quote_verify_signatures(&q, (const uint8_t(*)[64])fake_ca_root_pub(ca), 1,
                                             NOW + 11LL * YEAR, NULL),
                     ERR_CERT_EXPIRED);
    assert_int_equal(quote_verify_signatures(&q, (const uint8_t(*)[64])fake_ca_root_pub(ca), 1,
                                             NOW - 2 * 86400, NULL),
                     ERR_CERT_NOT_YET_VALID);

    /* A second CA's root does not accept the first CA's quotes. */
    char dir2[512];
    ca_path(dir2, sizeof(dir2), "q2");
    fake_ca *other = NULL;
    assert_int_equal(fake_ca_open(dir2, NOW, &other), ERR_OK);
    verify_buf(&b, fake_ca_root_pub(other), ERR_CHAIN_UNTRUSTED);

    /* Printable like a real quote. */
    char *s = NULL;
    size_t sn = 0;
    FILE *f = open_memstream(&s, &sn);
    quote_print(f, &q);
    fclose(f);
    assert_non_null(strstr(s, "version: 4\ntee: tdx\n"));
    assert_non_null(strstr(s, "\nreport_data: a0a1a2a3"));
    assert_non_null(strstr(s, "\ndebug: false\n"));
    free(s);

    fake_ca_free(other);
    buf_free(&b);
    fake_td_free(td);
    fake_ca_free(ca);
}

typedef struct {
    const char *name;
    size_t from, to;
    err_t want; /* ERR_OK here means: any rejection (parse or verify) */
} region;

/* Offsets in a fake quote (the v4 layout of attestation.md §1.3). */
static const region REGIONS[] = {
    {"header", 0, 48, ERR_OK},
    {"TD report body", 48, 632, ERR_QUOTE_SIG},
    {"quote signature", 636, 700, ERR_OK},
    {"attestation key", 700, 764, ERR_QE_BINDING},
    {"QE report", 770, 1154, ERR_QE_REPORT_SIG},
    {"QE report signature", 1154, 1218, ERR_QE_REPORT_SIG},
    {"QE auth data", 1220, 1252, ERR_QE_BINDING},
};

static void test_flip_every_signed_byte(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "flip");
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_OK);
    fake_td *td = make_td(ca, NULL);
    uint8_t rd[64] = {1, 2, 3};
    buf b;
    buf_init(&b, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &b), ERR_OK);
    const uint8_t(*root)[64] = (const uint8_t(*)[64])fake_ca_root_pub(ca);
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    assert_int_equal(quote_verify_signatures(&q, root, 1, NOW, NULL), ERR_OK);
    /* The regions really are where the table says. */
    assert_ptr_equal(q.att_key, b.data + 700);
    assert_ptr_equal(q.qe_report_raw.p, b.data + 770);
    assert_ptr_equal(q.qe_auth_data.p, b.data + 1220);
    size_t flips = 0;
    for (size_t r = 0; r < sizeof(REGIONS) / sizeof(REGIONS[0]); r++) {
        for (size_t i = REGIONS[r].from; i < REGIONS[r].to; i++) {
            for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit */
                b.data[i] ^= (uint8_t)(1u << bit);
                err_t e = quote_parse(b.data, b.len, &q);
                if (e == ERR_OK) {
                    e = quote_verify_signatures(&q, root, 1, NOW, NULL);
                }
                if (e == ERR_OK || (REGIONS[r].want != ERR_OK && e != REGIONS[r].want)) {
                    fail_msg("%s byte %zu bit %d: %s (%s)", REGIONS[r].name, i, bit, err_name(e),
                             err_detail());
                }
                b.data[i] ^= (uint8_t)(1u << bit);
                flips++;
            }
        }
    }
    assert_int_equal(flips, 2 * (48 + 584 + 64 + 64 + 384 + 64 + 32));
    buf_free(&b);
    fake_td_free(td);
    fake_ca_free(ca);
}

static const char MRTD_HEX[] = "7357a10d2e8d4fa0a8e2b5b1c1e4d2f6a9b3c5d7e9f1a3b5"
                               "c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f90011";

static void test_config_values_in_quote(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "cfg");
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_OK);
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"mrtd\": \"%s\", \"rtmr2\": \"%s\", \"td_attributes\": \"0100001000000000\","
             " \"xfam\": \"e718060000000000\", \"tee_tcb_svn\": "
             "\"07010300000000000000000000000000\", \"mrowner\": \"%s\"}",
             MRTD_HEX, MRTD_HEX, MRTD_HEX);
    fake_td *td = make_td(ca, json);
    uint8_t rd[64] = {0};
    buf b;
    buf_init(&b, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &b), ERR_OK);
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    assert_hex_eq(q.td.mrtd, 48, MRTD_HEX);
    assert_hex_eq(q.td.rtmr[2], 48, MRTD_HEX);
    assert_hex_eq(q.td.mrowner, 48, MRTD_HEX);
    assert_hex_eq(q.td.tee_tcb_svn, 16, "07010300000000000000000000000000");
    assert_int_equal(q.td.td_attributes, 0x10000001u);
    assert_true(quote_td_debug(&q));
    assert_int_equal(q.td.xfam, 0x618e7u);
    /* The image hash is the reference formula over the configured registers. */
    uint8_t pre[448] = {0};
    memcpy(pre, q.td.mrtd, 48);
    memcpy(pre + 96, q.td.mrowner, 48);
    memcpy(pre + 192 + 96, q.td.rtmr[2], 48);
    uint8_t want[32];
    sha256(pre, sizeof(pre), want);
    uint8_t ih[32];
    quote_image_hash(&q, ih);
    assert_memory_equal(ih, want, 32);
    assert_int_equal(
        quote_verify_signatures(&q, (const uint8_t(*)[64])fake_ca_root_pub(ca), 1, NOW, NULL),
        ERR_OK);
    buf_free(&b);
    fake_td_free(td);
    fake_ca_free(ca);
}

static void test_config_errors(void **state) {
    (void)state;
    char h96[97];
    char h94[95];
    char h98[99];
    memset(h96, 'a', 96);
    h96[96] = 0;
    memset(h94, 'a', 94);
    h94[94] = 0;
    memset(h98, 'a', 98);
    h98[98] = 0;
    char ok[256];
    char short_[256];
    char long_[256];
    char nonhex[256];
    snprintf(ok, sizeof(ok), "{\"rtmr3\": \"%s\"}", h96);
    snprintf(short_, sizeof(short_), "{\"rtmr3\": \"%s\"}", h94);
    snprintf(long_, sizeof(long_), "{\"rtmr3\": \"%s\"}", h98);
    snprintf(nonhex, sizeof(nonhex), "{\"rtmr3\": \"%.95sg\"}", h96);
    static const char *const bad_fixed[] = {
        "{\"mrtdd\": \"00\"}",                                              /* unknown key */
        "{\"report_data\": \"00\"}",                                        /* not configurable */
        "{\"xfam\": 5}",                                                    /* not a string */
        "{\"xfam\": \"e7020600000000\"}",                                   /* 7 bytes */
        "{\"xfam\": \"e702060000000000\", \"xfam\": \"e702060000000000\"}", /* duplicate */
        "[]",
        "{",
        "",
    };
    fake_td_config c;
    assert_int_equal(fake_td_config_parse(ok, strlen(ok), &c), ERR_OK);
    assert_int_equal(c.rtmr[3][47], 0xaa);
    assert_int_equal(fake_td_config_parse("{}", 2, &c), ERR_OK);
    assert_int_equal(c.xfam, 0x602e7u);
    const char *bad[] = {short_, long_, nonhex};
    for (size_t i = 0; i < 3; i++) {
        err_clear_detail();
        assert_int_equal(fake_td_config_parse(bad[i], strlen(bad[i]), &c), ERR_CONFIG);
        assert_non_null(strstr(err_detail(), "rtmr3"));
    }
    for (size_t i = 0; i < sizeof(bad_fixed) / sizeof(bad_fixed[0]); i++) {
        err_t e = fake_td_config_parse(bad_fixed[i], strlen(bad_fixed[i]), &c);
        if (e != ERR_CONFIG) {
            fail_msg("config %s: %s", bad_fixed[i], err_name(e));
        }
    }
    err_clear_detail();
    assert_int_equal(fake_td_config_parse(bad_fixed[0], strlen(bad_fixed[0]), &c), ERR_CONFIG);
    assert_non_null(strstr(err_detail(), "mrtdd"));
    /* From a file; a missing file is a configuration error. */
    char p[600];
    ca_path(p, sizeof(p), "td.json");
    FILE *f = fopen(p, "w");
    fputs(ok, f);
    fclose(f);
    assert_int_equal(fake_td_config_load(p, &c), ERR_OK);
    assert_int_equal(c.rtmr[3][0], 0xaa);
    ca_path(p, sizeof(p), "missing.json");
    assert_int_equal(fake_td_config_load(p, &c), ERR_CONFIG);
}

static void test_rtmr_extend(void **state) {
    (void)state;
    char dir[512];
    ca_path(dir, sizeof(dir), "rtmr");
    fake_ca *ca = NULL;
    assert_int_equal(fake_ca_open(dir, NOW, &ca), ERR_OK);
    fake_td *td = make_td(ca, NULL);
    uint8_t d1[48];
    sha384("cocoon:tdx_inited", 17, d1);
    assert_int_equal(fake_td_extend_rtmr(td, 3, d1), ERR_OK);
    /* RTMR3 = SHA-384(0^48 ‖ d1) */
    uint8_t in[96] = {0};
    memcpy(in + 48, d1, 48);
    uint8_t want[48];
    sha384(in, 96, want);
    uint8_t rd[64] = {0};
    buf b;
    buf_init(&b, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &b), ERR_OK);
    quote q;
    assert_int_equal(quote_parse(b.data, b.len, &q), ERR_OK);
    assert_memory_equal(q.td.rtmr[3], want, 48);
    /* Extending again chains from the new value. */
    assert_int_equal(fake_td_extend_rtmr(td, 3, d1), ERR_OK);
    memcpy(in, want, 48);
    sha384(in, 96, want);
    uint8_t cur_val[48];
    fake_td_rtmr(td, 3, cur_val);
    assert_memory_equal(cur_val, want, 48);
    assert_int_equal(fake_td_extend_rtmr(td, 4, d1), ERR_CONFIG);
    buf_free(&b);
    fake_td_free(td);
    fake_ca_free(ca);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_created_and_reloaded),
        cmocka_unit_test(test_ca_concurrent_first_use),
        cmocka_unit_test(test_ca_corrupt),
        cmocka_unit_test(test_fake_quote_verifies_only_with_its_root),
        cmocka_unit_test(test_flip_every_signed_byte),
        cmocka_unit_test(test_config_values_in_quote),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_rtmr_extend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
