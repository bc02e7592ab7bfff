#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"
#include "engine/model.h"

#define N_VOCAB 4096

typedef struct {
    model *m;
    json_t *ref;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_int_equal(model_load(models_path(DEMO_GGUF), &f->m), ERR_OK);
    f->ref = load_json("reference.json");
    assert_non_null(f->ref);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    model_free(f->m);
    json_decref(f->ref);
    free(f);
    return 0;
}

static size_t ids_of(json_t *arr, int32_t *out, size_t max) {
    size_t n = json_array_size(arr);
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        out[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    }
    return n;
}

static int32_t argmax(const float *v, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i] > v[b]) {
            b = i;
        }
    }
    return (int32_t)b;
}

/* Runs every reference prompt: checks the first-position logits against transformers and
 * returns the 32 greedy tokens in greedy[prompt][32]. */
static void run_reference(fx *f, const kern_ops *k, unsigned threads, int32_t greedy[][32],
                          bool check_logits) {
    json_t *prompts = json_object_get(f->ref, "prompts");
    assert_int_equal(json_array_size(prompts), 5);
    float *lg = malloc(N_VOCAB * sizeof(float));
    model_ctx_opts o = {.n_ctx = 128, .n_threads = threads, .kern = k};
    size_t pi;
    json_t *p;
    json_array_foreach(prompts, pi, p) {
        model_ctx *c;
        assert_int_equal(model_ctx_new(f->m, &o, &c), ERR_OK);
        int32_t in[128];
        size_t n = ids_of(json_object_get(p, "input_ids"), in, 128);
        assert_int_equal(model_eval(c, in, n, lg), ERR_OK);
        if (check_logits) {
            json_t *top = json_object_get(p, "top10_first");
            assert_int_equal(json_array_size(top), 10);
            for (size_t r = 0; r < 10; r++) {
                json_t *e = json_array_get(top, r);
                int id = (int)json_integer_value(json_object_get(e, "id"));
                double want = json_real_value(json_object_get(e, "logit"));
                double got = lg[id];
                if (fabs(got - want) > 1e-3 * fabs(want)) {
                    fail_msg("%s rank %zu id %d: logit %.6f, reference %.6f",
                             json_string_value(json_object_get(p, "name")), r, id, got, want);
                }
                /* the reference's top 10, in the same order */
                int above = 0;
                for (int v = 0; v < N_VOCAB; v++) {
                    above += lg[v] > lg[id];
                }
                assert_int_equal(above, (int)r);
            }
            json_t *all = json_object_get(p, "logits_first");
            double maxdev = 0;
            for (int v = 0; v < N_VOCAB; v++) {
                double d = fabs(lg[v] - json_number_value(json_array_get(all, (size_t)v)));
                maxdev = d > maxdev ? d : maxdev;
            }
            assert_true(maxdev < 1e-3);
        }
        for (int s = 0; s < 32; s++) {
            int32_t t = argmax(lg, N_VOCAB);
            greedy[pi][s] = t;
            assert_int_equal(model_eval(c, &t, 1, lg), ERR_OK);
        }
        model_ctx_free(c);
    }
    free(lg);
}

static void check_greedy_reference(fx *f, int32_t greedy[][32]) {
    json_t *prompts = json_object_get(f->ref, "prompts");
    size_t pi;
    json_t *p;
    json_array_foreach(prompts, pi, p) {
        int32_t want[32];
        assert_int_equal(ids_of(json_object_get(p, "greedy_ids"), want, 32), 32);
        for (int s = 0; s < 32; s++) {
            if (greedy[pi][s] != want[s]) {
                fail_msg("%s step %d: token %d, reference %d",
                         json_string_value(json_object_get(p, "name")), s, greedy[pi][s], want[s]);
            }
        }
    }
}

static void test_matches_transformers_reference(void **state) {
    fx *f = *state;
    int32_t g[5][32];
    run_reference(f, NULL, 1, g, true);
    check_greedy_reference(f, g);
}

/* Portable and AVX2 kernels, at 1 and 2 threads, all give the reference greedy tokens (and
 * therefore identical ones). */
static void test_kernels_and_threads_agree(void **state) {
    fx *f = *state;
    const kern_ops *ks[2] = {kern_portable(), kern_avx2()};
    for (int ki = 0; ki < 2; ki++) {
        if (!ks[ki]) {
            print_message("AVX2/FMA not available on this CPU: portable kernels only\n");
            continue;
        }
        for (unsigned th = 1; th <= 2; th++) {
            int32_t g[5][32];
            run_reference(f, ks[ki], th, g, true);
            check_greedy_reference(f, g);
        }
    }
}

/* Truncating the cache and re-running the rest as a smaller batch reproduces the logits
 * exactly (batch results do not depend on the batch split); token-by-token evaluation, which
 * uses the fused single-row kernels, gives near-equal logits. */
static void test_batch_vs_incremental_and_truncate(void **state) {
    fx *f = *state;
    int32_t in[8] = {412, 1286, 297, 874, 312, 271, 3937, 16};
    float a[N_VOCAB];
    float b[N_VOCAB];
    float c2[N_VOCAB];
    model_ctx *c;
    model_ctx_opts o = {.n_ctx = 16};
    assert_int_equal(model_ctx_new(f->m, &o, &c), ERR_OK);
    assert_int_equal(model_eval(c, in, 8, a), ERR_OK);
    assert_int_equal(model_ctx_n_past(c), 8);
    model_ctx_truncate(c, 5);
    assert_int_equal(model_eval(c, in + 5, 3, c2), ERR_OK);
    assert_memory_equal(a, c2, sizeof(a));
    model_ctx_truncate(c, 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(model_eval(c, &in[i], 1, b), ERR_OK);
    }
    for (int v = 0; v < N_VOCAB; v++) {
        assert_true(fabsf(a[v] - b[v]) < 1e-4f);
    }
    assert_int_equal(argmax(a, N_VOCAB), argmax(b, N_VOCAB));
    model_ctx_free(c);
}

static void test_rejects_bad_tokens_and_overflow(void **state) {
    fx *f = *state;
    model_ctx *c;
    model_ctx_opts o = {.n_ctx = 4};
    assert_int_equal(model_ctx_new(f->m, &o, &c), ERR_OK);
    int32_t bad[2] = {5, 4096};
    assert_int_equal(model_eval(c, bad, 2, NULL), ERR_MALFORMED);
    int32_t neg = -1;
    assert_int_equal(model_eval(c, &neg, 1, NULL), ERR_MALFORMED);
    assert_int_equal(model_ctx_n_past(c), 0);
    int32_t ok[5] = {1, 2, 3, 4, 5};
    assert_int_equal(model_eval(c, ok, 5, NULL), ERR_TOO_MANY); /* context max + 1 */
    assert_int_equal(model_eval(c, ok, 4, NULL), ERR_OK);       /* exactly the context */
    assert_int_equal(model_eval(c, ok, 1, NULL), ERR_TOO_MANY);
    model_ctx_free(c);
    o.n_threads = 65;
    assert_int_equal(model_ctx_new(f->m, &o, &c), ERR_CONFIG);
}

static void test_hparams(void **state) {
    fx *f = *state;
    const model_hparams *hp = model_params(f->m);
    assert_int_equal(hp->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(hp->n_vocab, 4096);
    assert_int_equal(hp->n_embd, 288);
    assert_int_equal(hp->n_layer, 6);
    assert_int_equal(hp->n_head, 6);
    assert_int_equal(hp->n_head_kv, 2);
    assert_int_equal(hp->head_dim, 48);
    assert_int_equal(hp->n_ff, 768);
    assert_int_equal(hp->n_ctx_train, 512);
    assert_false(hp->rope_neox);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hparams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matches_transformers_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernels_and_threads_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_vs_incremental_and_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_tokens_and_overflow, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
