/* Root registry from JSON: accepted documents, every rejection with its exact error, the list
 * limits at max and max+1, and the checks the proxy, worker and client rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/codec.h"
#include "crypto/hash.h"
#include "registry/registry.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static void test_full_document(void **state) {
    (void)state;
    static const char j[] =
        "{\"version\":7,\"proxies\":[{\"worker\":\"127.0.0.1:11001\",\"client\":\"127.0.0.1:"
        "11002\"},"
        "{\"worker\":\"10.0.0.1:1\",\"client\":\"10.0.0.1:2\"}],"
        "\"proxy_image_hashes\":[\"" H1 "\"],\"worker_image_hashes\":[\"" H2 "\"],"
        "\"model_hashes\":[],\"models\":[\"Qwen3@abc:def\"],\"price_per_token\":2,"
        "\"worker_fee_per_token\":1}";
    registry *r;
    assert_int_equal(registry_from_json(j, strlen(j), &r), ERR_OK);
    assert_int_equal(registry_version(r), 7);
    assert_int_equal(registry_proxy_count(r), 2);
    assert_string_equal(registry_proxy_at(r, 0)->worker_addr, "127.0.0.1:11001");
    assert_string_equal(registry_proxy_at(r, 1)->client_addr, "10.0.0.1:2");
    assert_null(registry_proxy_at(r, 2));
    uint8_t h1[32], h2[32];
    memset(h1, 0x11, 32);
    memset(h2, 0x22, 32);
    assert_int_equal(registry_check_proxy_image(r, h1), ERR_OK);
    assert_int_equal(registry_check_proxy_image(r, h2), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(registry_check_worker_image(r, h2), ERR_OK);
    assert_int_equal(registry_check_worker_image(r, h1), ERR_IMAGE_NOT_ALLOWED);
    /* The full model id is what is hashed; the base name alone is not registered. */
    assert_int_equal(registry_check_model(r, "Qwen3@abc:def", 13), ERR_OK);
    assert_int_equal(registry_check_model(r, "Qwen3", 5), ERR_NOT_FOUND);
    assert_int_equal(registry_check_model(r, "Qwen3@abc:deg", 13), ERR_NOT_FOUND);
    assert_int_equal(registry_price_per_token(r), 2);
    assert_int_equal(registry_worker_fee_per_token(r), 1);
    assert_true(registry_checks_hashes(r));
    registry_free(r);
}

static void test_model_hashes_are_sha256_of_the_full_id(void **state) {
    (void)state;
    uint8_t h[32];
    sha256("m@c:v", 5, h);
    char hex[65];
    hex_encode(h, 32, hex);
    char j[256];
    snprintf(j, sizeof(j), "{\"model_hashes\":[\"%s\"]}", hex);
    registry *r;
    assert_int_equal(registry_from_json(j, strlen(j), &r), ERR_OK);
    assert_int_equal(registry_check_model(r, "m@c:v", 5), ERR_OK);
    assert_int_equal(registry_check_model(r, "m@c:w", 5), ERR_NOT_FOUND);
    registry_free(r);
}

static void test_checks_off(void **state) {
    (void)state;
    static const char j[] = "{\"check_hashes\":false}";
    registry *r;
    assert_int_equal(registry_from_json(j, strlen(j), &r), ERR_OK);
    uint8_t h[32] = {0};
    assert_int_equal(registry_check_worker_image(r, h), ERR_OK);
    assert_int_equal(registry_check_proxy_image(r, h), ERR_OK);
    assert_int_equal(registry_check_model(r, "x", 1), ERR_OK);
    registry_free(r);
}

static void test_empty_lists_refuse_everyone(void **state) {
    (void)state;
    registry *r;
    assert_int_equal(registry_from_json("{}", 2, &r), ERR_OK);
    uint8_t h[32] = {0};
    assert_int_equal(registry_check_worker_image(r, h), ERR_IMAGE_NOT_ALLOWED);
    assert_int_equal(registry_check_model(r, "x", 1), ERR_NOT_FOUND);
    assert_int_equal(registry_proxy_count(r), 0);
    registry_free(r);
}

static void test_rejections(void **state) {
    (void)state;
    static const struct {
        const char *json;
        err_t want;
    } cases[] = {
        {"", ERR_CONFIG},
        {"[]", ERR_CONFIG},
        {"{\"version\":1,\"version\":2}", ERR_CONFIG},
        {"{\"unknown\":1}", ERR_CONFIG},
        {"{\"version\":-1}", ERR_CONFIG},
        {"{\"version\":\"1\"}", ERR_CONFIG},
        {"{\"proxies\":{}}", ERR_CONFIG},
        {"{\"proxies\":[1]}", ERR_CONFIG},
        {"{\"proxies\":[{\"worker\":\"a:1\"}]}", ERR_CONFIG},
        {"{\"proxies\":[{\"worker\":\"a:1\",\"client\":\"nocolon\"}]}", ERR_CONFIG},
        {"{\"proxies\":[{\"worker\":\"a:1\",\"client\":\"b:2\",\"x\":1}]}", ERR_CONFIG},
        {"{\"worker_image_hashes\":\"" H1 "\"}", ERR_CONFIG},
        {"{\"worker_image_hashes\":[\"" H1 "1\"]}", ERR_CONFIG},
        {"{\"worker_image_hashes\":["
         "\"zz11111111111111111111111111111111111111111111111111111111111111\"]}",
         ERR_CONFIG},
        {"{\"proxy_image_hashes\":[1]}", ERR_CONFIG},
        {"{\"models\":[\"\"]}", ERR_CONFIG},
        {"{\"check_hashes\":1}", ERR_CONFIG},
        {"{\"price_per_token\":1.5}", ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        registry *r = (registry *)1;
        err_t e = registry_from_json(cases[i].json, strlen(cases[i].json), &r);
        if (e != cases[i].want) {
            fail_msg("case %zu (%s): got %s", i, cases[i].json, err_name(e));
        }
        assert_null(r);
    }
}

static char *hash_doc(size_t n) {
    size_t cap = 64 + n * 67;
    char *j = malloc(cap);
    assert_non_null(j);
    size_t o = (size_t)sprintf(j, "{\"worker_image_hashes\":[");
    for (size_t i = 0; i < n; i++) {
        o += (size_t)sprintf(j + o, "%s\"%064zx\"", i ? "," : "", i);
    }
    sprintf(j + o, "]}");
    return j;
}

static void test_hash_list_limit(void **state) {
    (void)state;
    char *j = hash_doc(REGISTRY_MAX_HASHES);
    registry *r;
    assert_int_equal(registry_from_json(j, strlen(j), &r), ERR_OK);
    uint8_t h[32] = {0};
    h[31] = (uint8_t)((REGISTRY_MAX_HASHES - 1) & 0xff);
    h[30] = (uint8_t)((REGISTRY_MAX_HASHES - 1) >> 8);
    assert_int_equal(registry_check_worker_image(r, h), ERR_OK);
    registry_free(r);
    free(j);
    j = hash_doc(REGISTRY_MAX_HASHES + 1);
    assert_int_equal(registry_from_json(j, strlen(j), &r), ERR_TOO_MANY);
    free(j);
}

static void test_proxy_limit_and_size(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 1 << 20);
    for (int n = REGISTRY_MAX_PROXIES; n <= REGISTRY_MAX_PROXIES + 1; n++) {
        buf_reset(&b);
        assert_int_equal(buf_append(&b, "{\"proxies\":[", 12), ERR_OK);
        for (int i = 0; i < n; i++) {
            char e[80];
            int k = snprintf(e, sizeof(e), "%s{\"worker\":\"h:%d\",\"client\":\"h:%d\"}",
                             i ? "," : "", i, i);
            assert_int_equal(buf_append(&b, e, (size_t)k), ERR_OK);
        }
        assert_int_equal(buf_append(&b, "]}", 2), ERR_OK);
        registry *r;
        err_t e = registry_from_json((const char *)b.data, b.len, &r);
        assert_int_equal(e, n == REGISTRY_MAX_PROXIES ? ERR_OK : ERR_CONFIG);
        if (e == ERR_OK) {
            assert_int_equal(registry_proxy_count(r), REGISTRY_MAX_PROXIES);
            registry_free(r);
        }
    }
    buf_free(&b);
    /* The document size limit is checked before parsing. */
    registry *r;
    assert_int_equal(registry_from_json("{}", REGISTRY_JSON_MAX + 1, &r), ERR_TOO_LARGE);
}

static void test_model_base(void **state) {
    (void)state;
    assert_int_equal(registry_model_base_len("Qwen@c:v", 8), 4);
    assert_int_equal(registry_model_base_len("plain", 5), 5);
    assert_int_equal(registry_model_base_len("@x", 2), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_document),
        cmocka_unit_test(test_model_hashes_are_sha256_of_the_full_id),
        cmocka_unit_test(test_checks_off),
        cmocka_unit_test(test_empty_lists_refuse_everyone),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_hash_list_limit),
        cmocka_unit_test(test_proxy_limit_and_size),
        cmocka_unit_test(test_model_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
