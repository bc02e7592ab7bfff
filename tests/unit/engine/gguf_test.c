#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/file.h"
#include "common.h"
#include "engine/gguf.h"

/* A small valid file: two metadata pairs, an F32 [32, 2] tensor and a Q8_0 [32] tensor, the
 * last one ending exactly at the end of the file. Offsets of interesting fields are recorded
 * so that each test corrupts exactly one thing. */
typedef struct {
    size_t version, n_t, n_kv, key0_len, kv0_type, arr_type, arr_len, t0_name_len, t0_ndims, t0_ne0,
        t0_ne1, t0_type, t0_off, t1_type, t1_off, data_off;
} layout;

typedef struct {
    uint32_t alignment; /* 0: no general.alignment pair */
    const char *t1_name;
} spec;

static void put_str(buf *b, const char *s) {
    assert_int_equal(gguf_write_str(b, s, strlen(s)), ERR_OK);
}

static void build(buf *b, layout *L, const spec *sp) {
    buf_init(b, 1 << 20);
    assert_int_equal(buf_u32le(b, 0x46554747u), ERR_OK);
    L->version = b->len;
    assert_int_equal(buf_u32le(b, 3), ERR_OK);
    L->n_t = b->len;
    assert_int_equal(buf_u64le(b, 2), ERR_OK);
    L->n_kv = b->len;
    assert_int_equal(buf_u64le(b, sp && sp->alignment ? 3 : 2), ERR_OK);
    L->key0_len = b->len;
    put_str(b, "general.architecture");
    L->kv0_type = b->len;
    assert_int_equal(buf_u32le(b, GGUF_T_STRING), ERR_OK);
    put_str(b, "llama");
    put_str(b, "test.arr");
    assert_int_equal(buf_u32le(b, GGUF_T_ARRAY), ERR_OK);
    L->arr_type = b->len;
    assert_int_equal(buf_u32le(b, GGUF_T_U32), ERR_OK);
    L->arr_len = b->len;
    assert_int_equal(buf_u64le(b, 3), ERR_OK);
    for (uint32_t i = 1; i <= 3; i++) {
        assert_int_equal(buf_u32le(b, i), ERR_OK);
    }
    uint32_t align = sp && sp->alignment ? sp->alignment : 32;
    if (sp && sp->alignment) {
        assert_int_equal(gguf_write_kv_u32(b, "general.alignment", sp->alignment), ERR_OK);
    }
    L->t0_name_len = b->len;
    put_str(b, "w");
    L->t0_ndims = b->len;
    assert_int_equal(buf_u32le(b, 2), ERR_OK);
    L->t0_ne0 = b->len;
    assert_int_equal(buf_u64le(b, 32), ERR_OK);
    L->t0_ne1 = b->len;
    assert_int_equal(buf_u64le(b, 2), ERR_OK);
    L->t0_type = b->len;
    assert_int_equal(buf_u32le(b, GGML_T_F32), ERR_OK);
    L->t0_off = b->len;
    assert_int_equal(buf_u64le(b, 0), ERR_OK);
    put_str(b, sp && sp->t1_name ? sp->t1_name : "v");
    assert_int_equal(buf_u32le(b, 1), ERR_OK);
    assert_int_equal(buf_u64le(b, 32), ERR_OK);
    L->t1_type = b->len;
    assert_int_equal(buf_u32le(b, GGML_T_Q8_0), ERR_OK);
    L->t1_off = b->len;
    uint64_t off1 = (256 + align - 1) / align * align;
    assert_int_equal(buf_u64le(b, off1), ERR_OK);
    assert_int_equal(buf_zeros(b, (align - b->len % align) % align), ERR_OK);
    L->data_off = b->len;
    for (int i = 0; i < 64; i++) {
        assert_int_equal(buf_u32le(b, 0x3f800000u), ERR_OK); /* 1.0f */
    }
    assert_int_equal(buf_zeros(b, off1 - 256 + 34), ERR_OK);
}

static void put32(buf *b, size_t at, uint32_t v) {
    buf_put_u32le_at(b, at, v);
}

static void put64(buf *b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        b->data[at + i] = (uint8_t)(v >> (8 * i));
    }
}

static err_t parse(const buf *b) {
    gguf *g = NULL;
    err_t e = gguf_parse(b->data, b->len, &g);
    if (e == ERR_OK) {
        assert_non_null(g);
    } else {
        assert_null(g);
    }
    gguf_free(g);
    return e;
}

static void test_valid_file(void **state) {
    (void)state;
    buf b;
    layout L;
    build(&b, &L, NULL);
    gguf *g;
    assert_int_equal(gguf_parse(b.data, b.len, &g), ERR_OK);
    assert_int_equal(gguf_version(g), 3);
    assert_int_equal(gguf_alignment(g), 32);
    assert_int_equal(gguf_kv_count(g), 2);
    assert_int_equal(gguf_tensor_count(g), 2);
    assert_int_equal(gguf_data_offset(g), L.data_off);
    const gguf_tensor *w = gguf_find_tensor(g, "w");
    assert_non_null(w);
    assert_int_equal(w->n_bytes, 256);
    assert_int_equal(w->n_elements, 64);
    assert_ptr_equal(w->data, b.data + L.data_off);
    const gguf_tensor *v = gguf_find_tensor(g, "v");
    assert_int_equal(v->n_bytes, 34);
    gguf_str s;
    assert_int_equal(gguf_get_str(g, "general.architecture", &s), ERR_OK);
    assert_true(gguf_str_eq(s, "llama"));
    uint32_t u;
    assert_int_equal(gguf_get_u32(g, "general.architecture", &u), ERR_MALFORMED);
    assert_int_equal(gguf_get_u32(g, "missing", &u), ERR_NOT_FOUND);
    const gguf_kv *arr;
    assert_int_equal(gguf_get_arr(g, "test.arr", GGUF_T_U32, &arr), ERR_OK);
    assert_int_equal(arr->arr_len, 3);
    assert_int_equal(gguf_get_arr(g, "test.arr", GGUF_T_I32, &arr), ERR_MALFORMED);
    gguf_free(g);
    buf_free(&b);
}

/* Version 2 has the same layout as 3 and is accepted (llama.cpp reads both). */
static void test_version_2(void **state) {
    (void)state;
    buf b;
    layout L;
    build(&b, &L, NULL);
    put32(&b, L.version, 2);
    gguf *g;
    assert_int_equal(gguf_parse(b.data, b.len, &g), ERR_OK);
    assert_int_equal(gguf_version(g), 2);
    gguf_free(g);
    buf_free(&b);
}

/* Every proper prefix of the file is rejected (the last tensor ends at the last byte). */
static void test_truncation_at_every_offset(void **state) {
    (void)state;
    buf b;
    layout L;
    build(&b, &L, NULL);
    for (size_t n = 0; n < b.len; n++) {
        gguf *g = (gguf *)1;
        err_t e = gguf_parse(b.data, n, &g);
        if (e == ERR_OK) {
            fail_msg("prefix of %zu bytes accepted", n);
        }
        assert_int_equal(err_category(e), ERRCAT_PROTO);
        assert_null(g);
    }
    buf_free(&b);
}

static void test_header_and_metadata_errors(void **state) {
    (void)state;
    struct {
        const char *what;
        int width;
        size_t off_idx;
        uint64_t value;
        err_t want;
    } cases[] = {
        {"bad magic", 4, 0, 0x46554746u, ERR_MALFORMED},
        {"version 1", 4, 1, 1, ERR_MALFORMED},
        {"version 4", 4, 1, 4, ERR_MALFORMED},
        {"big-endian version 3", 4, 1, 0x03000000u, ERR_MALFORMED},
        {"tensor count max+1", 8, 2, GGUF_MAX_TENSORS + 1, ERR_TOO_MANY},
        {"tensor count at max", 8, 2, GGUF_MAX_TENSORS, ERR_TRUNCATED},
        {"kv count max+1", 8, 3, GGUF_MAX_KV + 1, ERR_TOO_MANY},
        {"kv count at max", 8, 3, GGUF_MAX_KV, ERR_TRUNCATED},
        {"key length max+1", 8, 4, GGUF_MAX_KEY_LEN + 1, ERR_TOO_LARGE},
        {"key length past end", 8, 4, GGUF_MAX_KEY_LEN, ERR_TRUNCATED},
        {"empty key", 8, 4, 0, ERR_MALFORMED},
        {"unknown value type", 4, 5, 13, ERR_MALFORMED},
        {"nested array", 4, 6, GGUF_T_ARRAY, ERR_MALFORMED},
        {"unknown array type", 4, 6, 99, ERR_MALFORMED},
        {"array length max+1", 8, 7, GGUF_MAX_ARRAY_LEN + 1, ERR_TOO_MANY},
        {"array past end", 8, 7, 1000, ERR_TRUNCATED},
        {"name length 64", 8, 8, 64, ERR_TOO_LARGE},
        {"0 dims", 4, 9, 0, ERR_MALFORMED},
        {"5 dims", 4, 9, 5, ERR_MALFORMED},
        {"zero dimension", 8, 10, 0, ERR_TOO_LARGE},
        {"absurd dimension", 8, 11, (uint64_t)1 << 40, ERR_TOO_LARGE},
        {"dimension 2^63", 8, 11, (uint64_t)1 << 63, ERR_TOO_LARGE},
        {"unknown type", 4, 12, 4, ERR_MALFORMED},
        {"type past table", 4, 12, 1000, ERR_MALFORMED},
        {"misaligned offset", 8, 13, 4, ERR_MALFORMED},
        {"offset past data", 8, 13, 4096, ERR_TRUNCATED},
        {"offset 2^64-32", 8, 13, UINT64_MAX - 31, ERR_TRUNCATED},
        {"row not whole blocks", 4, 14, GGML_T_Q4_0, ERR_OK},
        {"overlap", 8, 15, 0, ERR_MALFORMED},
        {"tensor past end", 8, 15, 288, ERR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf b;
        layout L;
        build(&b, &L, NULL);
        size_t offs[] = {0,          L.version, L.n_t,         L.n_kv,     L.key0_len, L.kv0_type,
                         L.arr_type, L.arr_len, L.t0_name_len, L.t0_ndims, L.t0_ne0,   L.t0_ne1,
                         L.t0_type,  L.t0_off,  L.t1_type,     L.t1_off};
        size_t at = offs[cases[i].off_idx];
        if (cases[i].width == 4) {
            put32(&b, at, (uint32_t)cases[i].value);
        } else {
            put64(&b, at, cases[i].value);
        }
        err_t e = parse(&b);
        if (e != cases[i].want) {
            fail_msg("%s: got %s (%s), want %s", cases[i].what, err_name(e), err_detail(),
                     err_name(cases[i].want));
        }
        buf_free(&b);
    }
}

/* Q4_0 over a 32-element row is valid (18 bytes fit in the 34 reserved); a row that is not a
 * whole number of blocks is not. */
static void test_block_multiple(void **state) {
    (void)state;
    buf b;
    layout L;
    build(&b, &L, NULL);
    put64(&b, L.t0_ne0, 48);
    put32(&b, L.t0_type, GGML_T_Q8_0);
    assert_int_equal(parse(&b), ERR_MALFORMED);
    buf_free(&b);
}

static void test_duplicates(void **state) {
    (void)state;
    buf b;
    layout L;
    spec sp = {.t1_name = "w"};
    build(&b, &L, &sp);
    assert_int_equal(parse(&b), ERR_MALFORMED);
    buf_free(&b);
    /* rename the array key to the first key */
    build(&b, &L, NULL);
    size_t k2 = L.kv0_type + 4 + 8 + 5; /* after "llama" */
    put64(&b, k2, 8);
    memcpy(b.data + k2 + 8, "general.", 8); /* "test.arr" -> "general." : distinct */
    assert_int_equal(parse(&b), ERR_OK);
    buf_free(&b);
}

static void test_alignment(void **state) {
    (void)state;
    buf b;
    layout L;
    spec sp = {.alignment = 64};
    build(&b, &L, &sp);
    gguf *g;
    assert_int_equal(gguf_parse(b.data, b.len, &g), ERR_OK);
    assert_int_equal(gguf_alignment(g), 64);
    assert_int_equal(gguf_data_offset(g) % 64, 0);
    gguf_free(g);
    buf_free(&b);
    uint32_t bad[] = {3, 48, GGUF_MAX_ALIGNMENT * 2};
    for (size_t i = 0; i < 3; i++) {
        sp.alignment = bad[i];
        build(&b, &L, &sp);
        assert_int_equal(parse(&b), ERR_MALFORMED);
        buf_free(&b);
    }
}

static void test_bool_values(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(buf_u32le(&b, 0x46554747u), ERR_OK);
    assert_int_equal(buf_u32le(&b, 3), ERR_OK);
    assert_int_equal(buf_u64le(&b, 0), ERR_OK);
    assert_int_equal(buf_u64le(&b, 1), ERR_OK);
    put_str(&b, "flag");
    assert_int_equal(buf_u32le(&b, GGUF_T_BOOL), ERR_OK);
    assert_int_equal(buf_u8(&b, 1), ERR_OK);
    gguf *g;
    assert_int_equal(gguf_parse(b.data, b.len, &g), ERR_OK);
    bool f = false;
    assert_int_equal(gguf_get_bool(g, "flag", &f), ERR_OK);
    assert_true(f);
    gguf_free(g);
    b.data[b.len - 1] = 2;
    assert_int_equal(parse(&b), ERR_MALFORMED);
    buf_free(&b);
}

static void test_demo_model_layout(void **state) {
    (void)state;
    gguf *g;
    assert_int_equal(gguf_open(models_path(DEMO_GGUF), &g), ERR_OK);
    assert_int_equal(gguf_version(g), 3);
    assert_int_equal(gguf_kv_count(g), 29);
    assert_int_equal(gguf_tensor_count(g), 57);
    assert_int_equal(gguf_data_offset(g), 129760);
    const gguf_tensor *t = gguf_find_tensor(g, "output.weight");
    assert_non_null(t);
    assert_int_equal(t->type, GGML_T_F16);
    assert_int_equal(t->ne[0], 288);
    assert_int_equal(t->ne[1], 4096);
    gguf_free(g);
    assert_int_equal(gguf_open("/nonexistent/x.gguf", &g), ERR_NOT_FOUND);
}

/* Truncating the real file anywhere in its metadata or its data is rejected. */
static void test_demo_model_truncated(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 32 << 20);
    assert_int_equal(file_read(models_path(DEMO_GGUF), 32 << 20, &b), ERR_OK);
    size_t cuts[] = {0, 3, 4, 8, 23, 24, 100, 1000, 50000, 129759, 129760, 200000, b.len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        gguf *g;
        assert_int_not_equal(gguf_parse(b.data, cuts[i], &g), ERR_OK);
    }
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file),
        cmocka_unit_test(test_version_2),
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_header_and_metadata_errors),
        cmocka_unit_test(test_block_multiple),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_bool_values),
        cmocka_unit_test(test_demo_model_layout),
        cmocka_unit_test(test_demo_model_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
