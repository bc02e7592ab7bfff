#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/quantize.h"
#include "engine/sample.h"

#define N_VOCAB 4096

static char dir[256];

static char *tmp_path(const char *name) {
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/cocoon-quant-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    char *p = malloc(512);
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* Layout: 2-D weights in the new type, norms unchanged, metadata copied with the file type
 * set, tensor data aligned and padded. */
static void check_layout(const char *path, uint32_t type, uint32_t ftype) {
    gguf *src;
    gguf *g;
    assert_int_equal(gguf_open(models_path(DEMO_GGUF), &src), ERR_OK);
    assert_int_equal(gguf_open(path, &g), ERR_OK);
    assert_int_equal(gguf_kv_count(g), gguf_kv_count(src));
    assert_int_equal(gguf_tensor_count(g), gguf_tensor_count(src));
    uint32_t ft;
    assert_int_equal(gguf_get_u32(g, "general.file_type", &ft), ERR_OK);
    assert_int_equal(ft, ftype);
    for (size_t i = 0; i < gguf_kv_count(src); i++) {
        const gguf_kv *a = gguf_kv_at(src, i);
        const gguf_kv *b = gguf_kv_at(g, i);
        assert_int_equal(a->key.len, b->key.len);
        assert_memory_equal(a->key.p, b->key.p, a->key.len);
        if (!gguf_str_eq(a->key, "general.file_type")) {
            assert_int_equal(a->raw_len, b->raw_len);
            assert_memory_equal(a->raw, b->raw, a->raw_len);
        }
    }
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor *a = gguf_tensor_at(src, i);
        const gguf_tensor *b = gguf_tensor_at(g, i);
        assert_int_equal(b->offset % 32, 0);
        assert_memory_equal(a->ne, b->ne, sizeof(a->ne));
        if (a->n_dims == 2) {
            assert_int_equal(b->type, type);
        } else {
            assert_int_equal(b->type, a->type);
            assert_memory_equal(a->data, b->data, a->n_bytes);
        }
    }
    gguf_free(g);
    gguf_free(src);
}

/* First-position logits of the reference prompts stay within the quantization tolerance of
 * the F16 model and pick the same top token. */
static void check_logits(const char *path, double tol) {
    model *f16;
    model *q;
    assert_int_equal(model_load(models_path(DEMO_GGUF), &f16), ERR_OK);
    assert_int_equal(model_load(path, &q), ERR_OK);
    json_t *ref = load_json("reference.json");
    json_t *prompts = json_object_get(ref, "prompts");
    float *a = malloc(N_VOCAB * sizeof(float));
    float *b = malloc(N_VOCAB * sizeof(float));
    size_t pi;
    json_t *p;
    double worst = 0;
    json_array_foreach(prompts, pi, p) {
        json_t *ids = json_object_get(p, "input_ids");
        int32_t in[64];
        size_t n = json_array_size(ids);
        for (size_t i = 0; i < n; i++) {
            in[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        }
        model_ctx *ca;
        model_ctx *cb;
        model_ctx_opts o = {.n_ctx = 64};
        assert_int_equal(model_ctx_new(f16, &o, &ca), ERR_OK);
        assert_int_equal(model_ctx_new(q, &o, &cb), ERR_OK);
        assert_int_equal(model_eval(ca, in, n, a), ERR_OK);
        assert_int_equal(model_eval(cb, in, n, b), ERR_OK);
        assert_int_equal(sample_argmax(a, N_VOCAB), sample_argmax(b, N_VOCAB));
        for (int r = 0; r < 10; r++) {
            /* the F16 model's top 10 */
            int32_t id = -1;
            for (int v = 0; v < N_VOCAB; v++) {
                int above = 0;
                for (int w = 0; w < N_VOCAB && above <= r; w++) {
                    above += a[w] > a[v];
                }
                if (above == r) {
                    id = v;
                    break;
                }
            }
            assert_true(id >= 0);
            double d = fabs(a[id] - b[id]);
            worst = d > worst ? d : worst;
        }
        model_ctx_free(ca);
        model_ctx_free(cb);
    }
    print_message("%s: worst top-10 logit deviation from F16 %.4f (tolerance %.2f)\n", path, worst,
                  tol);
    assert_true(worst < tol);
    json_decref(ref);
    free(a);
    free(b);
    model_free(f16);
    model_free(q);
}

static void test_q8_0(void **state) {
    (void)state;
    char *out = tmp_path("q8.gguf");
    quantize_stats st;
    assert_int_equal(model_quantize(models_path(DEMO_GGUF), out, GGML_T_Q8_0, &st), ERR_OK);
    assert_int_equal(st.n_quantized, 44);
    assert_int_equal(st.n_copied, 13);
    check_layout(out, GGML_T_Q8_0, 7);
    check_logits(out, 0.1);
    unlink(out);
    free(out);
}

static void test_q4_0(void **state) {
    (void)state;
    char *out = tmp_path("q4.gguf");
    quantize_stats st;
    assert_int_equal(model_quantize(models_path(DEMO_GGUF), out, GGML_T_Q4_0, &st), ERR_OK);
    check_layout(out, GGML_T_Q4_0, 2);
    /* 4-bit blocks over 288-wide rows of a tiny model move logits by about one unit */
    check_logits(out, 1.5);
    unlink(out);
    free(out);
}

static void test_errors(void **state) {
    (void)state;
    char *out = tmp_path("bad.gguf");
    quantize_stats st;
    assert_int_equal(model_quantize(models_path(DEMO_GGUF), out, GGML_T_F16, &st), ERR_CONFIG);
    assert_int_equal(model_quantize("/nonexistent.gguf", out, GGML_T_Q8_0, &st), ERR_NOT_FOUND);
    assert_int_equal(
        model_quantize(models_path(DEMO_GGUF), "/nonexistent/dir/x.gguf", GGML_T_Q8_0, &st),
        ERR_IO);
    assert_int_equal(access(out, F_OK), -1);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_q4_0),
        cmocka_unit_test(test_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (dir[0]) {
        rmdir(dir);
    }
    return rc;
}
