#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "engine/sample.h"

static void test_greedy_is_argmax_lowest_id_on_ties(void **state) {
    (void)state;
    float lg[5] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
    sampler *s;
    sample_params p = {.temperature = 0.0f, .top_p = 1.0f};
    assert_int_equal(sampler_new(&p, 5, &s), ERR_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(sampler_next(s, lg), 1);
    }
    sampler_free(s);
}

static void draw(const sample_params *p, const float *lg, size_t n, int32_t *out, size_t k) {
    sampler *s;
    assert_int_equal(sampler_new(p, (uint32_t)n, &s), ERR_OK);
    for (size_t i = 0; i < k; i++) {
        out[i] = sampler_next(s, lg);
    }
    sampler_free(s);
}

static void test_seed_reproducible(void **state) {
    (void)state;
    float lg[16];
    for (int i = 0; i < 16; i++) {
        lg[i] = (float)(i % 5) * 0.3f;
    }
    sample_params p = {.temperature = 1.0f, .top_p = 1.0f, .seed = 42};
    int32_t a[200];
    int32_t b[200];
    int32_t c[200];
    draw(&p, lg, 16, a, 200);
    draw(&p, lg, 16, b, 200);
    p.seed = 43;
    draw(&p, lg, 16, c, 200);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
}

/* With temperature 1 the draws follow softmax(logits). */
static void test_frequencies_follow_softmax(void **state) {
    (void)state;
    float lg[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    sample_params p = {.temperature = 1.0f, .top_p = 1.0f, .seed = 7};
    enum { N = 20000 };
    static int32_t d[N];
    draw(&p, lg, 3, d, N);
    int cnt[3] = {0};
    for (int i = 0; i < N; i++) {
        cnt[d[i]]++;
    }
    assert_true(fabs(cnt[0] / (double)N - 0.5) < 0.02);
    assert_true(fabs(cnt[1] / (double)N - 0.3) < 0.02);
    assert_true(fabs(cnt[2] / (double)N - 0.2) < 0.02);
}

static void only_ids(const sample_params *p, const float *lg, size_t n, unsigned allowed_mask) {
    int32_t d[2000];
    draw(p, lg, n, d, 2000);
    unsigned seen = 0;
    for (int i = 0; i < 2000; i++) {
        seen |= 1u << d[i];
    }
    assert_int_equal(seen, allowed_mask);
}

static void test_filters(void **state) {
    (void)state;
    /* probabilities 0.5, 0.3, 0.15, 0.05 */
    float lg[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    sample_params p = {.temperature = 1.0f, .top_p = 1.0f, .seed = 1};
    only_ids(&p, lg, 4, 0xf);
    p.top_k = 1;
    only_ids(&p, lg, 4, 0x1);
    p.top_k = 2;
    only_ids(&p, lg, 4, 0x3);
    p.top_k = 0;
    p.top_p = 0.5f; /* the first token alone reaches 0.5 */
    only_ids(&p, lg, 4, 0x1);
    p.top_p = 0.79f;
    only_ids(&p, lg, 4, 0x3);
    p.top_p = 0.81f;
    only_ids(&p, lg, 4, 0x7);
    p.top_p = 1.0f;
    p.min_p = 0.25f; /* keeps p >= 0.125 */
    only_ids(&p, lg, 4, 0x7);
    p.min_p = 0.61f; /* keeps p >= 0.305 */
    only_ids(&p, lg, 4, 0x1);
}

static void test_bad_parameters(void **state) {
    (void)state;
    sample_params bad[] = {
        {.temperature = -1.0f, .top_p = 1.0f},
        {.temperature = NAN, .top_p = 1.0f},
        {.temperature = 1.0f, .top_p = 0.0f},
        {.temperature = 1.0f, .top_p = 1.01f},
        {.temperature = 1.0f, .top_p = 1.0f, .min_p = 1.5f},
        {.temperature = 1.0f, .top_p = NAN},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sampler *s = (sampler *)1;
        assert_int_equal(sampler_new(&bad[i], 4, &s), ERR_CONFIG);
        assert_null(s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax_lowest_id_on_ties),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_frequencies_follow_softmax),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
