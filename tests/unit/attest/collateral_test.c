/* One negative test per check of the DCAP algorithm (attestation.md §1.5–1.10), on fake quotes
 * and collateral re-signed by the fake CA (fake_ca_collateral), plus the loaders' limits. */
#include "testutil.h"

#include <unistd.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/fake.h"

#define NOW 1767225600 /* 2026-01-01 */

static char g_dir[256];
static fake_ca *g_ca;

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/cocoon-coll-XXXXXX");
    if (!mkdtemp(g_dir)) {
        return -1;
    }
    char ca[300];
    snprintf(ca, sizeof(ca), "%s/ca", g_dir);
    return fake_ca_open(ca, NOW - 86400, &g_ca) == ERR_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fake_ca_free(g_ca);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* s with the first occurrence of `from` replaced by `to` (must occur). */
static char *replace(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    if (!p) {
        fail_msg("\"%s\" not found", from);
    }
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t pre = (size_t)(p - s);
    memcpy(out, s, pre);
    strcpy(out + pre, to);
    strcat(out, p + strlen(from));
    return out;
}

static char *default_tcb(void) {
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(fake_tcb_info_json(NOW, &b), ERR_OK);
    assert_int_equal(buf_u8(&b, 0), ERR_OK);
    return (char *)buf_steal(&b, &(size_t){0});
}

static char *default_qe(void) {
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(fake_qe_identity_json(NOW, &b), ERR_OK);
    assert_int_equal(buf_u8(&b, 0), ERR_OK);
    return (char *)buf_steal(&b, &(size_t){0});
}

/* A fake quote (config tweaks via cfg, NULL = defaults) verified against collateral issued with
 * opts at NOW, evaluated at `when`. */
static err_t verify_with(const fake_td_config *cfg, const fake_collateral_opts *opts, int64_t when,
                         dcap_result *r) {
    fake_td_config def;
    fake_td_config_default(&def);
    fake_td *td = NULL;
    assert_int_equal(fake_td_new(g_ca, cfg ? cfg : &def, &td), ERR_OK);
    uint8_t rd[64] = {1};
    buf qb;
    buf_init(&qb, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &qb), ERR_OK);
    quote q;
    assert_int_equal(quote_parse(qb.data, qb.len, &q), ERR_OK);
    buf cj;
    buf_init(&cj, 1 << 20);
    assert_int_equal(fake_ca_collateral(g_ca, NOW, opts, &cj), ERR_OK);
    collateral *c = NULL;
    err_t e = collateral_from_json(cj.data, cj.len, &c);
    if (e == ERR_OK) {
        e = dcap_verify(&q, c, (const uint8_t(*)[64])fake_ca_root_pub(g_ca), 1, when, r);
    }
    collateral_free(c);
    buf_free(&cj);
    buf_free(&qb);
    fake_td_free(td);
    return e;
}

static void test_fake_quote_up_to_date(void **state) {
    (void)state;
    dcap_result r;
    assert_int_equal(verify_with(NULL, NULL, NOW, &r), ERR_OK);
    assert_int_equal(r.tcb.status, TCB_UP_TO_DATE);
    assert_int_equal(r.tcb.advisories, 0);
    assert_int_equal(r.expiry, NOW - 3600 + 30 * 86400);
    dcap_policy p = DCAP_POLICY_DEFAULT;
    buf cj;
    buf_init(&cj, 1 << 20);
    assert_int_equal(fake_ca_collateral(g_ca, NOW, NULL, &cj), ERR_OK);
    collateral *c = NULL;
    assert_int_equal(collateral_from_json(cj.data, cj.len, &c), ERR_OK);
    assert_int_equal(dcap_policy_check(&p, &r, c), ERR_OK);
    /* the same collateral against Intel's root: the TCB signing chain is not Intel's */
    assert_int_equal(
        collateral_check(c, (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB, 1, NOW, NULL, NULL),
        ERR_CHAIN_UNTRUSTED);
    /* and it round-trips through its JSON form with the signed bytes untouched */
    buf again;
    buf_init(&again, 1 << 20);
    assert_int_equal(collateral_to_json(c, &again), ERR_OK);
    collateral *c2 = NULL;
    assert_int_equal(collateral_from_json(again.data, again.len, &c2), ERR_OK);
    assert_int_equal(
        collateral_check(c2, (const uint8_t(*)[64])fake_ca_root_pub(g_ca), 1, NOW, NULL, NULL),
        ERR_OK);
    collateral_free(c2);
    collateral_free(c);
    buf_free(&again);
    buf_free(&cj);
}

static void test_collateral_validity_window(void **state) {
    (void)state;
    dcap_result r;
    assert_int_equal(verify_with(NULL, NULL, NOW - 3600, &r), ERR_OK);
    assert_int_equal(verify_with(NULL, NULL, NOW - 3601, &r), ERR_COLLATERAL_EXPIRED);
    assert_int_equal(verify_with(NULL, NULL, NOW - 3600 + 30 * 86400 - 1, &r), ERR_OK);
    assert_int_equal(verify_with(NULL, NULL, NOW - 3600 + 30 * 86400, &r), ERR_COLLATERAL_EXPIRED);
    /* a CRL past its nextUpdate while TCB info is still fresh */
    fake_collateral_opts o = {.crl_this_update = NOW - 7200, .crl_next_update = NOW - 1};
    assert_int_equal(verify_with(NULL, &o, NOW, &r), ERR_COLLATERAL_EXPIRED);
    o = (fake_collateral_opts){.crl_this_update = NOW + 10, .crl_next_update = NOW + 86400};
    assert_int_equal(verify_with(NULL, &o, NOW, &r), ERR_COLLATERAL_EXPIRED);
}

static void test_revocations(void **state) {
    (void)state;
    dcap_result r;
    /* first an accepted verification, so the chain memo holds this chain... */
    assert_int_equal(verify_with(NULL, NULL, NOW, &r), ERR_OK);
    /* ...which must not answer for a CRL that revokes it */
    fake_collateral_opts o = {.revoke_pck = true};
    assert_int_equal(verify_with(NULL, &o, NOW, &r), ERR_CERT_REVOKED);
    o = (fake_collateral_opts){.revoke_pck_ca = true};
    assert_int_equal(verify_with(NULL, &o, NOW, &r), ERR_CERT_REVOKED);
    o = (fake_collateral_opts){.revoke_tcb_signer = true};
    assert_int_equal(verify_with(NULL, &o, NOW, &r), ERR_CERT_REVOKED);
}

typedef struct {
    const char *what;
    int item; /* 0 tcb info, 1 QE identity */
    const char *from;
    const char *to;
    err_t want;
    tcb_status status; /* when want == ERR_OK */
} edit;

#define SGX2 "{\"svn\":2},{\"svn\":2},{\"svn\":2},{\"svn\":2}"
#define SGX3 "{\"svn\":3},{\"svn\":2},{\"svn\":2},{\"svn\":2}"

static const edit EDITS[] = {
    {"tcb id", 0, "\"id\":\"TDX\"", "\"id\":\"SGX\"", ERR_COLLATERAL_MISMATCH, 0},
    {"fmspc", 0, "\"fmspc\":\"C0C0A0000000\"", "\"fmspc\":\"C0C0A0000001\"",
     ERR_COLLATERAL_MISMATCH, 0},
    {"pceId", 0, "\"pceId\":\"0000\"", "\"pceId\":\"0100\"", ERR_COLLATERAL_MISMATCH, 0},
    {"tcb version", 0, "\"version\":3", "\"version\":2", ERR_COLLATERAL_FORMAT, 0},
    {"module mrsigner", 0, "\"tdxModule\":{\"mrsigner\":\"0", "\"tdxModule\":{\"mrsigner\":\"1",
     ERR_TDX_MODULE, 0},
    {"module attributes", 0,
     "\"tdxModule\":{\"mrsigner\":\""
     "000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000\",\"attributes\":\"00",
     "\"tdxModule\":{\"mrsigner\":\""
     "000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000\",\"attributes\":\"01",
     ERR_TDX_MODULE, 0},
    {"sgx level", 0, "\"sgxtcbcomponents\":[" SGX2, "\"sgxtcbcomponents\":[" SGX3, ERR_OK,
     TCB_OUT_OF_DATE},
    {"pcesvn level", 0, "\"pcesvn\":13", "\"pcesvn\":14", ERR_OK, TCB_OUT_OF_DATE},
    {"tdx level", 0, "\"tdxtcbcomponents\":[{\"svn\":0}", "\"tdxtcbcomponents\":[{\"svn\":1}",
     ERR_OK, TCB_OUT_OF_DATE},
    {"platform status", 0, "\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"sgx",
     "\"tcbStatus\":\"SWHardeningNeeded\"},{\"tcb\":{\"sgx", ERR_OK, TCB_SW_HARDENING_NEEDED},
    {"revoked level", 0, "\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"sgx",
     "\"tcbStatus\":\"Revoked\"},{\"tcb\":{\"sgx", ERR_OK, TCB_REVOKED},
    {"unknown status", 0, "\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"sgx",
     "\"tcbStatus\":\"Fine\"},{\"tcb\":{\"sgx", ERR_COLLATERAL_FORMAT, 0},
    {"qe id", 1, "\"id\":\"TD_QE\"", "\"id\":\"QE\"", ERR_COLLATERAL_MISMATCH, 0},
    {"qe mrsigner", 1, "\"mrsigner\":\"", "\"mrsigner\":\"00", ERR_COLLATERAL_FORMAT, 0},
    {"qe isvprodid", 1, "\"isvprodid\":2", "\"isvprodid\":1", ERR_QE_IDENTITY, 0},
    {"qe miscselect", 1, "\"miscselect\":\"00000000\"", "\"miscselect\":\"00000001\"",
     ERR_QE_IDENTITY, 0},
    {"qe attributes", 1, "\"attributes\":\"11", "\"attributes\":\"13", ERR_QE_IDENTITY, 0},
    {"qe isvsvn", 1, "\"isvsvn\":4}", "\"isvsvn\":5}", ERR_OK, TCB_OUT_OF_DATE},
    {"qe below all", 1,
     "\"isvsvn\":4},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":"
     "\"UpToDate\"},{\"tcb\":{\"isvsvn\":1}",
     "\"isvsvn\":6},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":"
     "\"UpToDate\"},{\"tcb\":{\"isvsvn\":5}",
     ERR_QE_IDENTITY, 0},
    {"qe revoked", 1, "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"Revoked\"", ERR_OK,
     TCB_REVOKED},
};

static void test_each_check(void **state) {
    (void)state;
    char *tcb = default_tcb();
    char *qe = default_qe();
    for (size_t i = 0; i < sizeof(EDITS) / sizeof(EDITS[0]); i++) {
        const edit *d = &EDITS[i];
        char *t = d->item == 0 ? replace(tcb, d->from, d->to) : strdup(tcb);
        char *q = d->item == 1 ? replace(qe, d->from, d->to) : strdup(qe);
        fake_collateral_opts o = {.tcb_info = t, .qe_identity = q};
        dcap_result r;
        err_t e = verify_with(NULL, &o, NOW, &r);
        if (e != d->want || (e == ERR_OK && r.tcb.status != d->status)) {
            fail_msg("%s: got %s / %s", d->what, err_describe(e),
                     e == ERR_OK ? tcb_status_name(r.tcb.status) : "-");
        }
        free(t);
        free(q);
    }
    free(tcb);
    free(qe);
}

static void test_module_identity_by_version(void **state) {
    (void)state;
    fake_td_config cfg;
    fake_td_config_default(&cfg);
    dcap_result r;
    cfg.tee_tcb_svn[1] = 3; /* TDX_03, isvsvn 0 UpToDate */
    assert_int_equal(verify_with(&cfg, NULL, NOW, &r), ERR_OK);
    assert_int_equal(r.tcb.status, TCB_UP_TO_DATE);
    cfg.tee_tcb_svn[1] = 9; /* no TDX_09 */
    assert_int_equal(verify_with(&cfg, NULL, NOW, &r), ERR_TDX_MODULE);
    cfg.tee_tcb_svn[1] = 0;
    cfg.mrsignerseam[0] = 1;
    assert_int_equal(verify_with(&cfg, NULL, NOW, &r), ERR_TDX_MODULE);
    /* module level out of date: TDX_01 requires isvsvn 5 */
    char *tcb = default_tcb();
    char *t = replace(tcb, "\"id\":\"TDX_01\",\"mrsigner\"", "\"id\":\"tdx_01\",\"mrsigner\"");
    char *t2 = replace(t,
                       "{\"isvsvn\":0},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":"
                       "\"UpToDate\"}]}",
                       "{\"isvsvn\":5},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":"
                       "\"UpToDate\"},{\"tcb\":{\"isvsvn\":2},\"tcbDate\":\"2024-01-01T00:00:00Z\","
                       "\"tcbStatus\":\"OutOfDate\"}]}");
    fake_collateral_opts o = {.tcb_info = t2};
    fake_td_config_default(&cfg);
    cfg.tee_tcb_svn[1] = 1;
    cfg.tee_tcb_svn[0] = 3;
    assert_int_equal(verify_with(&cfg, &o, NOW, &r), ERR_OK);
    assert_int_equal(r.tcb.status, TCB_OUT_OF_DATE);
    assert_int_equal(r.tcb.module, TCB_OUT_OF_DATE);
    cfg.tee_tcb_svn[0] = 5;
    assert_int_equal(verify_with(&cfg, &o, NOW, &r), ERR_OK);
    assert_int_equal(r.tcb.status, TCB_UP_TO_DATE);
    cfg.tee_tcb_svn[0] = 1;
    assert_int_equal(verify_with(&cfg, &o, NOW, &r), ERR_TCB_NOT_SUPPORTED);
    free(t2);
    free(t);
    free(tcb);
}

/* Every byte of the signed TCB info / QE identity, flipped after signing: the signature (or the
 * JSON itself) must fail. */
static void test_every_signed_byte(void **state) {
    (void)state;
    buf cj;
    buf_init(&cj, 1 << 20);
    assert_int_equal(fake_ca_collateral(g_ca, NOW, NULL, &cj), ERR_OK);
    collateral *c = NULL;
    assert_int_equal(collateral_from_json(cj.data, cj.len, &c), ERR_OK);
    const char *keys[] = {"tcb_info", "qe_identity", "tcb_info_signature", "qe_identity_signature"};
    const uint8_t(*root)[64] = (const uint8_t(*)[64])fake_ca_root_pub(g_ca);
    for (size_t k = 0; k < 4; k++) {
        /* locate the string value in the document and flip each byte of it in place */
        char pat[64];
        snprintf(pat, sizeof(pat), "\"%s\": \"", keys[k]);
        char *doc = malloc(cj.len + 1);
        memcpy(doc, cj.data, cj.len);
        doc[cj.len] = 0;
        char *v = strstr(doc, pat);
        assert_non_null(v);
        v += strlen(pat);
        size_t tested = 0;
        for (char *p = v; *p != '"' || p[-1] == '\\'; p++) {
            char orig = *p;
            if (orig == '\\') {
                p++; /* keep escapes valid JSON */
                continue;
            }
            /* a printable replacement that keeps the JSON string valid */
            bool hexd = (orig >= '0' && orig <= '9') || (orig >= 'a' && orig <= 'f') ||
                        (orig >= 'A' && orig <= 'F');
            *p = hexd ? (orig == '0' ? '1' : '0') : (orig == 'A' ? 'B' : 'A');
            if (*p == orig) {
                continue;
            }
            collateral *m = NULL;
            err_t e = collateral_from_json(doc, cj.len, &m);
            if (e == ERR_OK) {
                e = collateral_check(m, root, 1, NOW, NULL, NULL);
            }
            if (e == ERR_OK) {
                fail_msg("%s: byte %zu changed and still accepted", keys[k], (size_t)(p - v));
            }
            collateral_free(m);
            *p = orig;
            tested++;
        }
        assert_true(tested >= 128);
        free(doc);
    }
    collateral_free(c);
    buf_free(&cj);
}

static void test_loader_limits(void **state) {
    (void)state;
    collateral *c = NULL;
    assert_int_equal(collateral_from_json("[]", 2, &c), ERR_COLLATERAL_FORMAT);
    assert_int_equal(collateral_from_json("{}", 2, &c), ERR_COLLATERAL_FORMAT);
    assert_int_equal(collateral_from_json("{", 1, &c), ERR_COLLATERAL_FORMAT);
    char *big = calloc(1, COLL_JSON_MAX + 1);
    memset(big, ' ', COLL_JSON_MAX + 1);
    assert_int_equal(collateral_from_json(big, COLL_JSON_MAX + 1, &c), ERR_TOO_LARGE);
    free(big);
    /* too many levels: COLL_MAX_LEVELS accepted, one more refused */
    char *tcb = default_tcb();
    const char *lv0 = strstr(tcb, "\"tcbLevels\":[{\"tcb\":{\"sgx");
    assert_non_null(lv0);
    lv0 += strlen("\"tcbLevels\":[");
    const char *lv1 = strstr(lv0, "},{\"tcb\":{\"sgx");
    assert_non_null(lv1);
    size_t lvlen = (size_t)(lv1 - lv0) + 1;
    for (size_t n = COLL_MAX_LEVELS; n <= COLL_MAX_LEVELS + 1; n++) {
        buf t;
        buf_init(&t, 1 << 20);
        assert_int_equal(buf_append(&t, tcb, (size_t)(lv0 - tcb)), ERR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(buf_append(&t, i ? "," : "", i ? 1 : 0), ERR_OK);
            assert_int_equal(buf_append(&t, lv0, lvlen), ERR_OK);
        }
        assert_int_equal(buf_append(&t, "]}", 3), ERR_OK);
        fake_collateral_opts o = {.tcb_info = (const char *)t.data};
        dcap_result r;
        err_t e = verify_with(NULL, &o, NOW, &r);
        assert_int_equal(e, n == COLL_MAX_LEVELS ? ERR_OK : ERR_TOO_MANY);
        buf_free(&t);
    }
    free(tcb);
}

static void test_raw_span(void **state) {
    (void)state;
    const char *s =
        " {\"a\\\"\":1, \"sig\":\"x}\", \"tcbInfo\" : {\"k\":\"}\\\"{\",\"n\":[1,{}]} }";
    size_t off = 0;
    size_t len = 0;
    assert_int_equal(coll_json_member_span(s, strlen(s), "tcbInfo", &off, &len), ERR_OK);
    assert_int_equal(len, strlen("{\"k\":\"}\\\"{\",\"n\":[1,{}]}"));
    assert_memory_equal(s + off, "{\"k\":\"}\\\"{\",\"n\":[1,{}]}", len);
    assert_int_equal(coll_json_member_span(s, strlen(s), "k", &off, &len), ERR_NOT_FOUND);
    assert_int_equal(coll_json_member_span("[1]", 3, "k", &off, &len), ERR_COLLATERAL_FORMAT);
    int64_t t = 0;
    assert_int_equal(coll_parse_time("2025-06-19T10:32:27Z", &t), ERR_OK);
    assert_int_equal(t, 1750329147);
    assert_int_equal(coll_parse_time("2025-06-19T10:32:27.5Z", &t), ERR_OK);
    assert_int_equal(coll_parse_time("2025-06-19T10:32:27", &t), ERR_COLLATERAL_FORMAT);
    assert_int_equal(coll_parse_time("2025-06-19T10:32:27+01:00", &t), ERR_COLLATERAL_FORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_quote_up_to_date),
        cmocka_unit_test(test_collateral_validity_window),
        cmocka_unit_test(test_revocations),
        cmocka_unit_test(test_each_check),
        cmocka_unit_test(test_module_identity_by_version),
        cmocka_unit_test(test_every_signed_byte),
        cmocka_unit_test(test_loader_limits),
        cmocka_unit_test(test_raw_span),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
