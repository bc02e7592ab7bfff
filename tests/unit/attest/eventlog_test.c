/* CCEL table + crypto-agile event log replay (attestation.md §2.4) against go-tdx-guest's
 * cos-113 vector (tests/data/tdx/SOURCE.md). */
#include "testutil.h"

#include "attest/eventlog.h"
#include "attest/quote.h"

static void test_ccel_replay_matches_quote(void **state) {
    (void)state;
    buf t, d, qb;
    td_read("tdx/ccel_table.dat", &t);
    td_read("tdx/ccel_data.dat", &d);
    td_read("tdx/cos-113-tdx-quote.dat", &qb);
    ccel_table ct;
    assert_int_equal(ccel_table_parse(t.data, t.len, &ct), ERR_OK);
    assert_int_equal(ct.cc_type, 2);
    assert_int_equal(ct.laml, d.len);
    eventlog l;
    assert_int_equal(eventlog_parse(d.data, d.len, &l), ERR_OK);
    size_t per[5] = {0};
    for (size_t i = 0; i < l.nevents; i++) {
        if (l.events[i].type != EV_NO_ACTION && l.events[i].mr_index <= 4) {
            per[l.events[i].mr_index]++;
        }
    }
    /* §2.4: 16/7/20 extends into RTMR0/1/2 */
    assert_int_equal(per[1], 16);
    assert_int_equal(per[2], 7);
    assert_int_equal(per[3], 20);
    quote q;
    assert_int_equal(quote_parse(qb.data, qb.len, &q), ERR_OK);
    assert_int_equal(eventlog_check_quote(&l, &q), ERR_OK);
    /* a changed digest of any extended event breaks the replay */
    for (size_t i = 0; i < l.nevents; i++) {
        if (l.events[i].type == EV_NO_ACTION) {
            continue;
        }
        /* the SHA-384 digest bytes inside the event header */
        uint8_t *dig = memmem(d.data + l.events[i].offset, 64 + 12, l.events[i].sha384, 48);
        assert_non_null(dig);
        dig[7] ^= 0x01;
        eventlog l2;
        assert_int_equal(eventlog_parse(d.data, d.len, &l2), ERR_OK);
        assert_int_equal(eventlog_check_quote(&l2, &q), ERR_EVENTLOG);
        eventlog_free(&l2);
        dig[7] ^= 0x01;
    }
    eventlog_free(&l);
    buf_free(&t);
    buf_free(&d);
    buf_free(&qb);
}

static void test_ccel_table_rejects(void **state) {
    (void)state;
    buf t;
    td_read("tdx/ccel_table.dat", &t);
    ccel_table ct;
    for (size_t i = 0; i < t.len; i++) {
        assert_int_equal(ccel_table_parse(t.data, i, &ct), ERR_EVENTLOG);
        t.data[i] ^= 0x01; /* checksum or signature */
        assert_int_equal(ccel_table_parse(t.data, t.len, &ct), ERR_EVENTLOG);
        t.data[i] ^= 0x01;
    }
    buf_free(&t);
}

static void test_truncation_never_crashes(void **state) {
    (void)state;
    buf d;
    td_read("tdx/ccel_data.dat", &d);
    eventlog l;
    assert_int_equal(eventlog_parse(d.data, d.len, &l), ERR_OK);
    size_t used = l.used;
    eventlog_free(&l);
    /* cut inside the used part: every cut either fails or yields a shorter log */
    for (size_t n = 0; n < used; n += 7) {
        err_t e = eventlog_parse(d.data, n, &l);
        if (e == ERR_OK) {
            eventlog_free(&l);
        } else {
            assert_int_equal(e, ERR_EVENTLOG);
        }
    }
    /* not a log at all */
    buf q;
    td_read("tdx/cocoon_quote_v4.dat", &q);
    assert_int_equal(eventlog_parse(q.data, q.len, &l), ERR_EVENTLOG);
    buf_free(&q);
    buf_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ccel_replay_matches_quote),
        cmocka_unit_test(test_ccel_table_rejects),
        cmocka_unit_test(test_truncation_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
