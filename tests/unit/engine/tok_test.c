#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "common.h"
#include "engine/gguf.h"
#include "engine/tok.h"
#include "engine/unicode.h"

typedef struct {
    gguf *g;
    tok *t;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_int_equal(gguf_open(models_path(DEMO_GGUF), &f->g), ERR_OK);
    assert_int_equal(tok_from_gguf(f->g, &f->t), ERR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    tok_free(f->t);
    gguf_free(f->g);
    free(f);
    return 0;
}

/* All 30 strings of the shared vectors give exactly the HF tokenizer's ids, and decoding the
 * ids gives back the text. */
static void test_hf_vectors_exact(void **state) {
    fx *f = *state;
    json_t *j = load_json("tokenizer-vectors.json");
    assert_non_null(j);
    json_t *vs = json_object_get(j, "vectors");
    assert_true(json_array_size(vs) >= 30);
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v) {
        const char *text = json_string_value(json_object_get(v, "text"));
        size_t tlen = json_string_length(json_object_get(v, "text"));
        bool special = json_is_true(json_object_get(v, "contains_special"));
        json_t *ids = json_object_get(v, "ids");
        tok_vec out = {0};
        assert_int_equal(tok_encode(f->t, text, tlen, special, &out), ERR_OK);
        if (out.n != json_array_size(ids)) {
            fail_msg("vector %zu '%s': %zu ids, expected %zu", i, text, out.n,
                     json_array_size(ids));
        }
        char dec[4096];
        size_t dl = 0;
        for (size_t k = 0; k < out.n; k++) {
            assert_int_equal(out.ids[k], json_integer_value(json_array_get(ids, k)));
            size_t pl;
            const char *p = tok_piece(f->t, out.ids[k], &pl);
            assert_true(dl + pl < sizeof(dec));
            memcpy(dec + dl, p, pl);
            dl += pl;
        }
        assert_int_equal(dl, tlen);
        assert_memory_equal(dec, text, tlen);
        tok_vec_free(&out);
    }
    json_decref(j);
}

/* Without parse_special, special-token text is ordinary text: a user cannot forge a turn. */
static void test_special_text_not_parsed_by_default(void **state) {
    fx *f = *state;
    const char *s = "<|im_start|>user";
    tok_vec a = {0};
    tok_vec b = {0};
    assert_int_equal(tok_encode(f->t, s, strlen(s), true, &a), ERR_OK);
    assert_int_equal(tok_encode(f->t, s, strlen(s), false, &b), ERR_OK);
    assert_int_equal(a.ids[0], 1);
    for (size_t i = 0; i < b.n; i++) {
        assert_false(tok_is_control(f->t, b.ids[i]));
    }
    assert_true(b.n > a.n);
    tok_vec_free(&a);
    tok_vec_free(&b);
}

static void test_special_ids_and_eog(void **state) {
    fx *f = *state;
    assert_int_equal(tok_n_vocab(f->t), 4096);
    assert_int_equal(tok_bos(f->t), 0);
    assert_int_equal(tok_eos(f->t), 2);
    assert_false(tok_add_bos(f->t));
    assert_true(tok_is_eog(f->t, 2));
    assert_true(tok_is_eog(f->t, 0)); /* <|endoftext|> also ends generation */
    assert_false(tok_is_eog(f->t, 1));
    assert_false(tok_is_eog(f->t, 4096));
    assert_int_equal(tok_find(f->t, "<|im_end|>", 10), 2);
}

/* Invalid UTF-8 still tokenizes, byte for byte, and round-trips. */
static void test_invalid_utf8_round_trips(void **state) {
    fx *f = *state;
    const char s[] = "a\xff\xc3 b\xe2\x82";
    tok_vec out = {0};
    assert_int_equal(tok_encode(f->t, s, sizeof(s) - 1, false, &out), ERR_OK);
    char dec[64];
    size_t dl = 0;
    for (size_t k = 0; k < out.n; k++) {
        size_t pl;
        const char *p = tok_piece(f->t, out.ids[k], &pl);
        memcpy(dec + dl, p, pl);
        dl += pl;
    }
    assert_int_equal(dl, sizeof(s) - 1);
    assert_memory_equal(dec, s, dl);
    tok_vec_free(&out);
}

static void test_text_limit(void **state) {
    fx *f = *state;
    tok_vec out = {0};
    assert_int_equal(tok_encode(f->t, "", TOK_MAX_TEXT + 1, false, &out), ERR_TOO_LARGE);
    assert_int_equal(out.n, 0);
}

/* A long run without any split point costs O(n log n), not O(n^2). */
static void test_long_piece(void **state) {
    fx *f = *state;
    size_t n = 200000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) {
        s[i] = (char)('a' + (i * 7) % 26);
    }
    tok_vec out = {0};
    assert_int_equal(tok_encode(f->t, s, n, false, &out), ERR_OK);
    assert_true(out.n > 1000 && out.n < n);
    tok_vec_free(&out);
    free(s);
}

static void put_str(buf *b, const char *s) {
    assert_int_equal(gguf_write_str(b, s, strlen(s)), ERR_OK);
}

static void put_strs(buf *b, const char *key, const char *const *v, size_t n) {
    put_str(b, key);
    assert_int_equal(buf_u32le(b, GGUF_T_ARRAY), ERR_OK);
    assert_int_equal(buf_u32le(b, GGUF_T_STRING), ERR_OK);
    assert_int_equal(buf_u64le(b, n), ERR_OK);
    for (size_t i = 0; i < n; i++) {
        put_str(b, v[i]);
    }
}

static void put_i32s(buf *b, const char *key, const int32_t *v, size_t n) {
    put_str(b, key);
    assert_int_equal(buf_u32le(b, GGUF_T_ARRAY), ERR_OK);
    assert_int_equal(buf_u32le(b, GGUF_T_I32), ERR_OK);
    assert_int_equal(buf_u64le(b, n), ERR_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(buf_u32le(b, (uint32_t)v[i]), ERR_OK);
    }
}

/* A vocabulary where plain text could merge (GPT-2 BPE) or combine (SentencePiece) into a
 * control token: without special parsing the text stays plain tokens. */
static void test_text_never_merges_into_control(void **state) {
    (void)state;
    for (int spm = 0; spm < 2; spm++) {
        buf b;
        buf_init(&b, 1 << 16);
        assert_int_equal(buf_u32le(&b, 0x46554747u), ERR_OK);
        assert_int_equal(buf_u32le(&b, 3), ERR_OK);
        assert_int_equal(buf_u64le(&b, 0), ERR_OK);
        assert_int_equal(buf_u64le(&b, 4), ERR_OK);
        put_str(&b, "tokenizer.ggml.model");
        assert_int_equal(buf_u32le(&b, GGUF_T_STRING), ERR_OK);
        put_str(&b, spm ? "llama" : "gpt2");
        const char *toks[] = {"a", "b", "ab", "<unk>"};
        int32_t types[] = {1, 1, TOK_T_CONTROL, TOK_T_UNKNOWN};
        put_strs(&b, "tokenizer.ggml.tokens", toks, 4);
        put_i32s(&b, "tokenizer.ggml.token_type", types, 4);
        if (spm) {
            assert_int_equal(gguf_write_kv_u32(&b, "tokenizer.ggml.unknown_token_id", 3), ERR_OK);
        } else {
            const char *merges[] = {"a b"};
            put_strs(&b, "tokenizer.ggml.merges", merges, 1);
        }
        gguf *g;
        assert_int_equal(gguf_parse(b.data, b.len, &g), ERR_OK);
        tok *t;
        assert_int_equal(tok_from_gguf(g, &t), ERR_OK);
        tok_vec v = {0};
        assert_int_equal(tok_encode(t, "ab", 2, false, &v), ERR_OK);
        for (size_t i = 0; i < v.n; i++) {
            assert_int_not_equal(v.ids[i], 2);
        }
        assert_true(v.n >= 2);
        tok_vec_free(&v);
        assert_int_equal(tok_encode(t, "ab", 2, true, &v), ERR_OK);
        assert_int_equal(v.n, 1);
        assert_int_equal(v.ids[0], 2);
        tok_vec_free(&v);
        tok_free(t);
        gguf_free(g);
        buf_free(&b);
    }
}

static void test_unicode_classes(void **state) {
    (void)state;
    static const struct {
        uint32_t cp;
        int cls;
        bool space;
    } cases[] = {
        {'a', UNI_LETTER, false},    {'Z', UNI_LETTER, false},    {'5', UNI_NUMBER, false},
        {' ', UNI_OTHER, true},      {'\t', UNI_OTHER, true},     {0xa0, UNI_OTHER, true},
        {0x3000, UNI_OTHER, true},   {0x0416, UNI_LETTER, false}, {0x65e5, UNI_LETTER, false},
        {0x00bd, UNI_NUMBER, false}, {0x1f600, UNI_OTHER, false}, {'!', UNI_OTHER, false},
        {0x200b, UNI_OTHER, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(uni_class(cases[i].cp), cases[i].cls);
        assert_int_equal(uni_is_space(cases[i].cp), cases[i].space);
    }
    uint32_t cp;
    assert_int_equal(uni_decode((const uint8_t *)"\xc0\x80", 2, &cp), 1); /* overlong */
    assert_int_equal(cp, UNI_INVALID);
    assert_int_equal(uni_decode((const uint8_t *)"\xed\xa0\x80", 3, &cp), 1); /* surrogate */
    assert_int_equal(cp, UNI_INVALID);
    assert_int_equal(uni_decode((const uint8_t *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1f600);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hf_vectors_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_text_not_parsed_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_ids_and_eog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_piece, setup, teardown),
        cmocka_unit_test(test_text_never_merges_into_control),
        cmocka_unit_test(test_unicode_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
