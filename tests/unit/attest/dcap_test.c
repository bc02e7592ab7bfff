/* Full DCAP verification of the real vectors (tests/data/tdx/SOURCE.md: statuses and validity
 * windows as published by dcap-qvl and an independent port of Intel's QVL logic). */
#include "testutil.h"

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/quote.h"
#include "attest/verify.h"

typedef struct {
    const char *quote;
    const char *collateral;
    const char *inside; /* a time inside the window */
    const char *from;   /* first valid second */
    const char *until;  /* first invalid second */
    err_t want;
    tcb_status status;
    const char *advisories;
} vector;

static const vector VECTORS[] = {
    {"tdx/dcapqvl_tdx_quote_v4.dat", "tdx/dcapqvl_tdx_quote_collateral.json",
     "2025-07-01T00:00:00Z", "2025-06-19T10:32:27Z", "2025-07-19T10:00:35Z", ERR_OK, TCB_UP_TO_DATE,
     ""},
    {"tdx/cocoon_quote_v4.dat", "tdx/dcapqvl_collateral_2026-02.json", "2026-03-05T00:00:00Z",
     "2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z", ERR_OK, TCB_UP_TO_DATE, ""},
    {"tdx/gotdx_quote_v5.dat", "tdx/dcapqvl_collateral_2026-02.json", "2026-03-05T00:00:00Z",
     "2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z", ERR_OK, TCB_UP_TO_DATE, ""},
    {"tdx/dcapqvl_sgx_quote_v3.dat", "tdx/dcapqvl_sgx_quote_collateral.json",
     "2025-07-01T00:00:00Z", "2025-06-19T10:56:11Z", "2025-07-19T10:01:18Z", ERR_OK,
     TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, "INTEL-SA-00289,INTEL-SA-00615"},
    {"tdx/dcapqvl_tdx_quote_outdated.dat", "tdx/dcapqvl_collateral_2026-02.json",
     "2026-03-05T00:00:00Z", "2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z", ERR_TCB_NOT_SUPPORTED,
     0, NULL},
};

static int64_t at(const char *s) {
    int64_t t = 0;
    assert_int_equal(dcap_parse_time(s, &t), ERR_OK);
    return t;
}

static collateral *load_coll(const char *rel) {
    buf b;
    td_read(rel, &b);
    collateral *c = NULL;
    err_t e = collateral_from_json(b.data, b.len, &c);
    if (e != ERR_OK) {
        fail_msg("%s: %s", rel, err_describe(e));
    }
    buf_free(&b);
    return c;
}

static err_t run(const vector *v, int64_t now, dcap_result *r, collateral **cout) {
    buf qb;
    td_read(v->quote, &qb);
    quote q;
    assert_int_equal(quote_parse(qb.data, qb.len, &q), ERR_OK);
    collateral *c = load_coll(v->collateral);
    err_t e = dcap_verify(&q, c, (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB, 1, now, r);
    buf_free(&qb);
    if (cout) {
        *cout = c;
    } else {
        collateral_free(c);
    }
    return e;
}

static void advisories_str(const dcap_result *r, const collateral *c, char *out, size_t cap) {
    assert_int_equal(dcap_advisories(r, c, out, cap), ERR_OK);
}

static void test_vectors_inside_window(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        const vector *v = &VECTORS[i];
        dcap_result r;
        collateral *c = NULL;
        err_t e = run(v, at(v->inside), &r, &c);
        if (e != v->want) {
            fail_msg("%s: got %s, want %s", v->quote, err_describe(e), err_name(v->want));
        }
        if (e == ERR_OK) {
            assert_string_equal(tcb_status_name(r.tcb.status), tcb_status_name(v->status));
            char adv[256];
            advisories_str(&r, c, adv, sizeof(adv));
            assert_string_equal(adv, v->advisories);
            assert_hex_eq(r.root_key_id, 48,
                          "46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5"
                          "dcf58eef31463613de1570d516200993");
            /* expiry is the end of the published window */
            assert_int_equal(r.expiry, at(v->until));
        }
        collateral_free(c);
    }
}

static void test_vectors_window_edges(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        const vector *v = &VECTORS[i];
        dcap_result r;
        assert_int_equal(run(v, at(v->from), &r, NULL), v->want);
        assert_int_equal(run(v, at(v->until) - 1, &r, NULL), v->want);
        assert_int_equal(run(v, at(v->from) - 1, &r, NULL), ERR_COLLATERAL_EXPIRED);
        assert_int_equal(run(v, at(v->until), &r, NULL), ERR_COLLATERAL_EXPIRED);
        assert_int_equal(run(v, at(v->until) + 86400 * 365, &r, NULL), ERR_COLLATERAL_EXPIRED);
    }
}

static void test_default_policy(void **state) {
    (void)state;
    dcap_policy p = DCAP_POLICY_DEFAULT;
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        const vector *v = &VECTORS[i];
        dcap_result r;
        collateral *c = NULL;
        if (run(v, at(v->inside), &r, &c) == ERR_OK) {
            err_t want = v->status == TCB_UP_TO_DATE ? ERR_OK : ERR_TCB_STATUS;
            assert_int_equal(dcap_policy_check(&p, &r, c), want);
        }
        collateral_free(c);
    }
    /* the SGX vector passes when its status and both advisories are allowed, not otherwise */
    const vector *sgx = &VECTORS[3];
    dcap_result r;
    collateral *c = NULL;
    assert_int_equal(run(sgx, at(sgx->inside), &r, &c), ERR_OK);
    assert_int_equal(dcap_policy_parse_statuses("UpToDate,ConfigurationAndSWHardeningNeeded", &p),
                     ERR_OK);
    assert_int_equal(dcap_policy_check(&p, &r, c), ERR_OK);
    p.check_advisories = true;
    const char *one[] = {"INTEL-SA-00289"};
    p.advisories = one;
    p.nadvisories = 1;
    assert_int_equal(dcap_policy_check(&p, &r, c), ERR_TCB_STATUS);
    const char *two[] = {"INTEL-SA-00615", "INTEL-SA-00289"};
    p.advisories = two;
    p.nadvisories = 2;
    assert_int_equal(dcap_policy_check(&p, &r, c), ERR_OK);
    assert_int_equal(dcap_policy_parse_statuses("UpToDate,Bogus", &p), ERR_CONFIG);
    collateral_free(c);
}

static void test_intel_fake_root_rejected(void **state) {
    (void)state;
    const char *dir = getenv("COCOON_TESTDATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tdx/intel-fake-root", dir);
    collateral *c = NULL;
    assert_int_equal(collateral_load(path, &c), ERR_OK);
    buf qb;
    td_read("tdx/intel-fake-root/quote.dat", &qb);
    quote q;
    assert_int_equal(quote_parse(qb.data, qb.len, &q), ERR_OK);
    dcap_result r;
    assert_int_equal(dcap_verify(&q, c, (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB, 1,
                                 at("2030-01-01T00:00:00Z"), &r),
                     ERR_CHAIN_UNTRUSTED);
    buf_free(&qb);
    collateral_free(c);
}

static void test_real_collateral_is_tdx_or_sgx_only(void **state) {
    (void)state;
    /* the TDX collateral's PCK CRL is the Platform CA's: the SGX quote's Processor-CA chain
     * has no CRL there */
    vector v = VECTORS[3];
    v.collateral = VECTORS[0].collateral;
    dcap_result r;
    assert_int_equal(run(&v, at(VECTORS[0].inside), &r, NULL), ERR_CRL_INVALID);
    /* the B0C06F000000 quote against the 90C06F000000 collateral */
    v = VECTORS[0];
    v.collateral = VECTORS[1].collateral;
    assert_int_equal(run(&v, at(VECTORS[1].inside), &r, NULL), ERR_COLLATERAL_MISMATCH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_inside_window),
        cmocka_unit_test(test_vectors_window_edges),
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_intel_fake_root_rejected),
        cmocka_unit_test(test_real_collateral_is_tdx_or_sgx_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
