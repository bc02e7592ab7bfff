/* Model-level validation: a file that parses as GGUF but is not a model we can run is refused
 * with the reason, before anything is allocated from its numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/tok.h"

enum { D = 32, FF = 64, V = 8, NH = 2, NKV = 1, HD = 16 };

typedef struct {
    const char *arch;
    const char *skip;     /* tensor left out */
    const char *misshape; /* tensor given a wrong row length */
    uint32_t weight_type; /* type of the 2-D weights */
    uint32_t n_head_kv;
    const char *rope_scaling;
    uint32_t n_layer;
} spec;

static void kv_str(buf *b, const char *k, const char *v) {
    assert_int_equal(gguf_write_str(b, k, strlen(k)), ERR_OK);
    assert_int_equal(buf_u32le(b, GGUF_T_STRING), ERR_OK);
    assert_int_equal(gguf_write_str(b, v, strlen(v)), ERR_OK);
}

static void kv_f32(buf *b, const char *k, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    assert_int_equal(gguf_write_str(b, k, strlen(k)), ERR_OK);
    assert_int_equal(buf_u32le(b, GGUF_T_F32), ERR_OK);
    assert_int_equal(buf_u32le(b, bits), ERR_OK);
}

static void build(const spec *sp, buf *out) {
    buf kvs;
    buf_init(&kvs, 1 << 20);
    const char *a = sp->arch ? sp->arch : "llama";
    char k[96];
    uint32_t n_kv = 0;
    kv_str(&kvs, "general.architecture", a), n_kv++;
#define U32(name, v)                                                                               \
    snprintf(k, sizeof(k), "%s." name, a);                                                         \
    assert_int_equal(gguf_write_kv_u32(&kvs, k, v), ERR_OK);                                       \
    n_kv++;
    U32("embedding_length", D);
    U32("block_count", sp->n_layer ? sp->n_layer : 1);
    U32("feed_forward_length", FF);
    U32("context_length", 64);
    U32("attention.head_count", NH);
    U32("attention.head_count_kv", sp->n_head_kv ? sp->n_head_kv : NKV);
#undef U32
    snprintf(k, sizeof(k), "%s.attention.layer_norm_rms_epsilon", a);
    kv_f32(&kvs, k, 1e-5f), n_kv++;
    if (sp->rope_scaling) {
        snprintf(k, sizeof(k), "%s.rope.scaling.type", a);
        kv_str(&kvs, k, sp->rope_scaling), n_kv++;
    }
    struct {
        const char *name;
        uint64_t c, r; /* r == 0: vector */
    } ts[] = {
        {"token_embd.weight", D, V},
        {"output_norm.weight", D, 0},
        {"blk.0.attn_norm.weight", D, 0},
        {"blk.0.attn_q.weight", D, NH * HD},
        {"blk.0.attn_k.weight", D, NKV * HD},
        {"blk.0.attn_v.weight", D, NKV * HD},
        {"blk.0.attn_output.weight", NH * HD, D},
        {"blk.0.ffn_norm.weight", D, 0},
        {"blk.0.ffn_gate.weight", D, FF},
        {"blk.0.ffn_up.weight", D, FF},
        {"blk.0.ffn_down.weight", FF, D},
    };
    gguf_wtensor wt[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        if (sp->skip && strcmp(sp->skip, ts[i].name) == 0) {
            continue;
        }
        gguf_wtensor *t = &wt[n++];
        t->name = ts[i].name;
        t->n_dims = ts[i].r ? 2 : 1;
        t->ne[0] = ts[i].c;
        t->ne[1] = ts[i].r ? ts[i].r : 1;
        t->ne[2] = t->ne[3] = 1;
        t->type = ts[i].r && sp->weight_type ? sp->weight_type : GGML_T_F32;
        if (sp->misshape && strcmp(sp->misshape, ts[i].name) == 0) {
            t->ne[0] += 32;
        }
    }
    uint64_t offs[16];
    buf_init(out, 1 << 22);
    assert_int_equal(gguf_write_header(out, n_kv, &kvs, wt, n, 32, offs), ERR_OK);
    size_t base = out->len;
    for (size_t i = 0; i < n; i++) {
        uint64_t el = wt[i].ne[0] * wt[i].ne[1];
        assert_int_equal(buf_zeros(out, base + offs[i] - out->len), ERR_OK);
        assert_int_equal(buf_zeros(out, ggml_row_bytes(wt[i].type, el)), ERR_OK);
    }
    buf_free(&kvs);
}

static err_t load(const spec *sp, buf *b) {
    build(sp, b);
    gguf *g;
    err_t e = gguf_parse(b->data, b->len, &g);
    if (e != ERR_OK) {
        return e;
    }
    model *m = NULL;
    e = model_from_gguf(g, &m);
    if (e == ERR_OK) {
        model_free(m);
    } else {
        gguf_free(g);
    }
    return e;
}

static void test_valid_tiny_model(void **state) {
    (void)state;
    buf b;
    spec sp = {0};
    assert_int_equal(load(&sp, &b), ERR_OK);
    buf_free(&b);
    uint32_t types[] = {GGML_T_F16, GGML_T_BF16, GGML_T_Q8_0, GGML_T_Q4_0};
    for (size_t i = 0; i < 4; i++) {
        sp.weight_type = types[i];
        assert_int_equal(load(&sp, &b), ERR_OK);
        buf_free(&b);
    }
}

static void test_refused_with_reason(void **state) {
    (void)state;
    struct {
        spec sp;
        err_t want;
        const char *detail;
    } cases[] = {
        {{.arch = "gpt2"}, ERR_MALFORMED, "architecture 'gpt2' is not supported"},
        {{.skip = "blk.0.ffn_down.weight"}, ERR_NOT_FOUND, "blk.0.ffn_down.weight' is missing"},
        {{.skip = "output_norm.weight"}, ERR_NOT_FOUND, "output_norm.weight' is missing"},
        {{.misshape = "blk.0.attn_k.weight"}, ERR_MALFORMED, "shape [64, 16]"},
        {{.weight_type = GGML_T_Q4_1},
         ERR_MALFORMED,
         "type Q4_1, which the engine does not support"},
        {{.weight_type = GGML_T_Q5_0}, ERR_MALFORMED, "type Q5_0"},
        {{.n_head_kv = 3}, ERR_MALFORMED, "head_count_kv = 3 outside [1, 2]"},
        {{.rope_scaling = "yarn"}, ERR_MALFORMED, "RoPE scaling 'yarn' is not supported"},
        {{.n_layer = MODEL_MAX_LAYERS + 1}, ERR_MALFORMED, "block_count = 1025"},
        {{.n_layer = 2}, ERR_NOT_FOUND, "blk.1.attn_q.weight' is missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf b;
        err_t e = load(&cases[i].sp, &b);
        if (e != cases[i].want || !strstr(err_detail(), cases[i].detail)) {
            fail_msg("case %zu: %s '%s', want %s '%s'", i, err_name(e), err_detail(),
                     err_name(cases[i].want), cases[i].detail);
        }
        buf_free(&b);
    }
}

/* A model file without tokenizer metadata loads as a model but not as a tokenizer. */
static void test_no_tokenizer(void **state) {
    (void)state;
    buf b;
    spec sp = {0};
    build(&sp, &b);
    gguf *g;
    assert_int_equal(gguf_parse(b.data, b.len, &g), ERR_OK);
    tok *t = (tok *)1;
    assert_int_equal(tok_from_gguf(g, &t), ERR_NOT_FOUND);
    assert_null(t);
    gguf_free(g);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_tiny_model),
        cmocka_unit_test(test_refused_with_reason),
        cmocka_unit_test(test_no_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
