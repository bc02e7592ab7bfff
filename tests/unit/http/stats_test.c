/* The three renderings of a metric table, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "http/stats.h"

static const http_metric M[] = {
    {"requests_total", "requests received", true, 20},
    {"workers_ready", "ready workers", false, 2},
    {"broken", "a NaN is reported as 0", false, NAN},
};

static void check(int kind, const char *want) {
    buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(http_stats_render("proxy", M, 3, kind, &b), ERR_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

static void test_text(void **state) {
    (void)state;
    check(HTTP_STATS_TEXT, "requests_total               20\n"
                           "workers_ready                2\n"
                           "broken                       0\n");
}

static void test_json(void **state) {
    (void)state;
    check(HTTP_STATS_JSON, "{\"requests_total\":20,\"workers_ready\":2,\"broken\":0}");
}

static void test_prometheus(void **state) {
    (void)state;
    check(HTTP_STATS_PROMETHEUS, "# HELP cocoon_proxy_requests_total requests received\n"
                                 "# TYPE cocoon_proxy_requests_total counter\n"
                                 "cocoon_proxy_requests_total 20\n"
                                 "# HELP cocoon_proxy_workers_ready ready workers\n"
                                 "# TYPE cocoon_proxy_workers_ready gauge\n"
                                 "cocoon_proxy_workers_ready 2\n"
                                 "# HELP cocoon_proxy_broken a NaN is reported as 0\n"
                                 "# TYPE cocoon_proxy_broken gauge\n"
                                 "cocoon_proxy_broken 0\n");
}

static void test_limit(void **state) {
    (void)state;
    /* The output buffer's limit is respected (an error, not an overflow). */
    buf b;
    buf_init(&b, 40);
    assert_int_equal(http_stats_render("proxy", M, 3, HTTP_STATS_PROMETHEUS, &b), ERR_BUF_LIMIT);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_prometheus),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
