/* COCOON messages: every declared constructor's id matches the reference table; every one
 * round-trips (decode(encode(x)) == x and encode(decode(b)) == b) over generated samples, fails
 * with ERR_TRUNCATED at every truncation point; exact bytes for hand-computed messages; limits
 * at max and max+1; wrong constructors and Bool values refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/cur.h"
#include "base/err.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/tl.h"
#include "proto/tlobj.h"

/* ---- constructor ids against tests/data/schema/constructor-ids.tsv ---- */

static void test_ids_match_reference_table(void **state) {
    (void)state;
    const char *dir = getenv("COCOON_TESTDATA");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/schema/constructor-ids.tsv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    bool seen[256] = {false};
    assert_true(cm_all_count <= 256);
    size_t rows = 0;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        char name[200];
        unsigned id;
        assert_int_equal(sscanf(line, "%199[^\t]\t0x%x", name, &id), 2);
        rows++;
        for (size_t i = 0; i < cm_all_count; i++) {
            if (strcmp(cm_all[i]->name, name) == 0) {
                if (cm_all[i]->id != id) {
                    fail_msg("%s: ours 0x%08x, reference 0x%08x", name, cm_all[i]->id, id);
                }
                seen[i] = true;
            }
        }
    }
    fclose(f);
    assert_true(rows >= 100);
    for (size_t i = 0; i < cm_all_count; i++) {
        if (!seen[i]) {
            fail_msg("%s is not in the reference table", cm_all[i]->name);
        }
        assert_ptr_equal(cm_find(cm_all[i]->id), cm_all[i]);
    }
    /* the ones the link layer and handshakes cannot live without */
    assert_int_equal(CM_TCP_PING_ID, 0xbbe9627c);
    assert_int_equal(CM_TCP_CONNECT_ID, 0xa57c4261);
    assert_int_equal(CM_WORKER_PARAMS_ID, 0x869c73ed);
    assert_int_equal(CM_CLIENT_WORKER_INSTANCE_V2_ID, 0x3ea93d00);
    assert_int_equal(CM_HTTP_REQUEST_ID, 0x47492de5);
    assert_null(cm_find(0));
}

/* ---- sample generation (walks the same tables, so it covers every declared message) ---- */

static uint64_t rng_state;

static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static uint8_t pool[1024];

static void fill_elem(const tlo_elem *e, void *v, int depth);

static void fill_obj(const tlo_desc *d, void *obj, int depth) {
    memset(obj, 0, d->size);
    for (size_t i = 0; i < d->nfields; i++) {
        const tlo_field *f = &d->fields[i];
        uint8_t *v = (uint8_t *)obj + f->off;
        if (f->t.kind == TLO_FLAGS) {
            /* random subset of the low bits, plus sometimes an undeclared high bit */
            uint32_t flags = rnd() & 3u;
            if (rnd() % 4 == 0) {
                flags |= 1u << 20;
            }
            memcpy(v, &flags, 4);
            continue;
        }
        if (f->t.kind != TLO_VECTOR) {
            fill_elem(&f->t, v, depth);
            continue;
        }
        uint32_t n = depth > 2 ? 0 : rnd() % 4;
        size_t sz = tlo_elem_size(&f->item);
        uint8_t *items = n ? calloc(n, sz) : NULL;
        for (uint32_t k = 0; k < n; k++) {
            fill_elem(&f->item, items + k * sz, depth + 1);
        }
        memcpy(v, &items, sizeof(items));
        memcpy((uint8_t *)obj + f->count_off, &n, 4);
    }
}

static void fill_elem(const tlo_elem *e, void *v, int depth) {
    switch (e->kind) {
    case TLO_INT:
    case TLO_FLAGS: {
        uint32_t x = rnd();
        memcpy(v, &x, 4);
        break;
    }
    case TLO_LONG:
    case TLO_DOUBLE: {
        uint64_t x = (uint64_t)rnd() << 32 | rnd();
        memcpy(v, &x, 8);
        break;
    }
    case TLO_INT128:
    case TLO_INT256:
        for (size_t k = 0; k < tlo_elem_size(e); k++) {
            ((uint8_t *)v)[k] = (uint8_t)rnd();
        }
        break;
    case TLO_BYTES: {
        static const size_t lens[] = {0, 1, 2, 3, 4, 5, 253, 254, 255, 600};
        tl_bytes s = {pool, lens[rnd() % 10]};
        s.p = pool + rnd() % (sizeof(pool) - s.len);
        memcpy(v, &s, sizeof(s));
        break;
    }
    case TLO_BOOL: {
        bool x = rnd() & 1;
        memcpy(v, &x, sizeof(x));
        break;
    }
    case TLO_BARE:
        fill_obj(e->bare, v, depth + 1);
        break;
    case TLO_BOXED: {
        const tlo_desc *c = e->boxed->ctors[rnd() % e->boxed->nctors];
        memset(v, 0, e->boxed->size);
        memcpy(v, &c->id, 4);
        fill_obj(c, (uint8_t *)v + e->boxed->union_off, depth + 1);
        break;
    }
    case TLO_VECTOR:
        break;
    }
}

static void roundtrip_one(const tlo_desc *d, uint32_t seed) {
    rng_state = seed * 7919u + 1;
    void *x = calloc(1, d->size);
    void *y = calloc(1, d->size);
    fill_obj(d, x, 0);
    buf b1;
    buf b2;
    buf_init(&b1, BUF_DEFAULT_MAX);
    buf_init(&b2, BUF_DEFAULT_MAX);
    assert_int_equal(tlo_encode(&b1, d, x), ERR_OK);
    assert_int_equal(b1.len % 4, 0);

    cur c;
    cur_init(&c, b1.data, b1.len);
    err_t e = tlo_decode(&c, d, y);
    if (e != ERR_OK) {
        fail_msg("%s seed %u: %s", d->name, seed, err_describe(e));
    }
    assert_int_equal(cur_expect_end(&c), ERR_OK);
    if (!tlo_eq(d, x, y)) {
        fail_msg("%s seed %u: decode(encode(x)) != x", d->name, seed);
    }
    assert_int_equal(tlo_encode(&b2, d, y), ERR_OK);
    assert_int_equal(b2.len, b1.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    tlo_free(d, y);

    /* Every strict prefix is a truncation, reported as such, with the cursor where it was. */
    for (size_t cut = 0; cut < b1.len; cut++) {
        cur_init(&c, b1.data, cut);
        e = tlo_decode(&c, d, y);
        if (e != ERR_TRUNCATED) {
            fail_msg("%s seed %u cut %zu/%zu: %s", d->name, seed, cut, b1.len, err_name(e));
        }
        assert_int_equal(c.pos, 0);
    }
    /* A trailing byte is left for the caller to reject. */
    assert_int_equal(buf_u8(&b1, 0), ERR_OK);
    cur_init(&c, b1.data, b1.len);
    assert_int_equal(tlo_decode(&c, d, y), ERR_OK);
    assert_int_equal(cur_expect_end(&c), ERR_TRAILING);
    tlo_free(d, y);

    tlo_free(d, x);
    free(x);
    free(y);
    buf_free(&b1);
    buf_free(&b2);
}

static void test_every_constructor_roundtrips(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof(pool); k++) {
        pool[k] = (uint8_t)(k * 31 + 7);
    }
    for (size_t i = 0; i < cm_all_count; i++) {
        for (uint32_t seed = 0; seed < 24; seed++) {
            roundtrip_one(cm_all[i], seed);
        }
    }
}

/* Polymorphic types decode whichever of their constructors arrives. */
static void test_every_boxed_type_roundtrips(void **state) {
    (void)state;
    for (size_t i = 0; i < cm_all_types_count; i++) {
        const tlo_type *t = cm_all_types[i];
        for (uint32_t seed = 0; seed < 16; seed++) {
            rng_state = seed + 99;
            tlo_elem el = {TLO_BOXED, 0, NULL, t};
            void *x = calloc(1, t->size);
            void *y = calloc(1, t->size);
            fill_elem(&el, x, 0);
            buf b;
            buf_init(&b, BUF_DEFAULT_MAX);
            assert_int_equal(tlo_type_encode(&b, t, x), ERR_OK);
            cur c;
            cur_init(&c, b.data, b.len);
            assert_int_equal(tlo_type_decode(&c, t, y), ERR_OK);
            assert_int_equal(cur_expect_end(&c), ERR_OK);
            assert_true(tlo_type_eq(t, x, y));
            tlo_type_free(t, x);
            tlo_type_free(t, y);
            free(x);
            free(y);
            buf_free(&b);
        }
    }
}

/* ---- exact bytes, computed by hand from the encoding rules ---- */

static void expect_hex(const buf *b, const char *hex) {
    char got[4096];
    assert_true(b->len * 2 < sizeof(got));
    for (size_t i = 0; i < b->len; i++) {
        snprintf(got + 2 * i, 3, "%02x", b->data[i]);
    }
    assert_string_equal(got, hex);
}

static void test_exact_bytes(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 4096);

    cm_tcp_ping ping = {.id = 0x0102030405060708};
    assert_int_equal(cm_tcp_ping_encode(&b, &ping), ERR_OK);
    expect_hex(&b, "7c62e9bb0807060504030201");
    buf_reset(&b);

    cm_tcp_query_error qe = {.id = -1, .code = 652, .message = tl_bytes_str("timeout")};
    assert_int_equal(cm_tcp_query_error_encode(&b, &qe), ERR_OK);
    expect_hex(&b, "02f6d24c"
                   "ffffffffffffffff"
                   "8c020000"
                   "0774696d656f7574");
    buf_reset(&b);

    cm_http_header h = {tl_bytes_str("Host"), tl_bytes_str("x")};
    cm_http_request req = {.method = tl_bytes_str("GET"),
                           .url = tl_bytes_str("/v1/models"),
                           .http_version = tl_bytes_str("HTTP/1.1"),
                           .headers = &h,
                           .headers_count = 1,
                           .payload = tl_bytes_str("")};
    assert_int_equal(cm_http_request_encode(&b, &req), ERR_OK);
    expect_hex(&b, "e52d4947"
                   "03474554"
                   "0a2f76312f6d6f64656c7300"
                   "08485454502f312e31000000"
                   "01000000"
                   "04486f737400000001780000"
                   "00000000");
    cur c;
    cur_init(&c, b.data, b.len);
    cm_http_request back;
    assert_int_equal(cm_http_request_decode(&c, &back), ERR_OK);
    assert_int_equal(back.headers_count, 1);
    assert_int_equal(back.headers[0].name.len, 4);
    assert_memory_equal(back.headers[0].name.p, "Host", 4);
    cm_http_request_free(&back);
    assert_null(back.headers);
    buf_reset(&b);

    /* flags.0 clear: is_test/proxy_cnt/max_active_requests absent; flags.1 set: proto range */
    cm_worker_params wp = {.flags = 2,
                           .worker_owner_address = tl_bytes_str("o"),
                           .model = tl_bytes_str("m"),
                           .coefficient = 1000,
                           .is_test = true,
                           .proxy_cnt = 9,
                           .min_proto_version = 1,
                           .max_proto_version = 2};
    assert_int_equal(cm_worker_params_encode(&b, &wp), ERR_OK);
    expect_hex(&b, "ed739c86"
                   "02000000"
                   "016f0000"
                   "016d0000"
                   "e8030000"
                   "01000000"
                   "02000000");
    buf_reset(&b);

    /* boxed field: signedPaymentEmpty inside a paymentStatus */
    cm_worker_payment_status ps = {.db_tokens = 1, .max_tokens = 2};
    ps.signed_payment.id = CM_PROXY_SIGNED_PAYMENT_EMPTY_ID;
    assert_int_equal(cm_worker_payment_status_encode(&b, &ps), ERR_OK);
    expect_hex(&b, "01d78ba8"
                   "64ce47b3"
                   "0100000000000000"
                   "0200000000000000");
    buf_free(&b);
}

/* client.queryAnswerEx carries final_info only under flags.0, and final_info's own flags decide
 * its optional strings and timings. */
static void test_nested_flags(void **state) {
    (void)state;
    uint8_t rid[32] = {1};
    cm_client_query_answer_ex a = {.answer = tl_bytes_str("data"), .flags = 0};
    memcpy(a.request_id, rid, 32);
    a.final_info.flags = 3; /* ignored while a.flags bit 0 is clear */
    buf b;
    buf_init(&b, 4096);
    assert_int_equal(cm_client_query_answer_ex_encode(&b, &a), ERR_OK);
    assert_int_equal(b.len, 4 + 32 + 8 + 4);
    buf_reset(&b);
    a.flags = 1;
    a.final_info.flags = 2;
    a.final_info.proxy_start_time = 1.25;
    assert_int_equal(cm_client_query_answer_ex_encode(&b, &a), ERR_OK);
    /* + final_info: flags 4 + tokensUsed 40 + four doubles 32 (no debug strings) */
    assert_int_equal(b.len, 4 + 32 + 8 + 4 + 4 + 40 + 32);
    cur c;
    cur_init(&c, b.data, b.len);
    cm_client_query_answer_ex d;
    assert_int_equal(cm_client_query_answer_ex_decode(&c, &d), ERR_OK);
    assert_true(d.final_info.proxy_start_time == 1.25);
    assert_int_equal(d.final_info.worker_debug.len, 0);
    cm_client_query_answer_ex_free(&d);
    buf_free(&b);
}

/* ---- limits ---- */

static void encode_request_with_headers(buf *b, uint32_t n) {
    cm_http_header *h = calloc(n, sizeof(*h));
    for (uint32_t i = 0; i < n; i++) {
        h[i].name = tl_bytes_str("a");
        h[i].value = tl_bytes_str("b");
    }
    /* hand-written so that the count can exceed what our own encoder would send */
    assert_int_equal(tl_write_u32(b, CM_HTTP_REQUEST_ID), ERR_OK);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(tl_write_bytes(b, "x", 1), ERR_OK);
    }
    assert_int_equal(tl_write_vector_count(b, n), ERR_OK);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(tlo_encode_bare(b, &cm_http_header_desc, &h[i]), ERR_OK);
    }
    assert_int_equal(tl_write_bytes(b, "", 0), ERR_OK);
    cm_http_request r = {.headers = h, .headers_count = n};
    buf other;
    buf_init(&other, BUF_DEFAULT_MAX);
    assert_int_equal(cm_http_request_encode(&other, &r),
                     n <= PROTO_MAX_HTTP_HEADERS ? ERR_OK : ERR_TOO_MANY);
    buf_free(&other);
    free(h);
}

static void test_vector_limit_at_max_and_beyond(void **state) {
    (void)state;
    for (uint32_t n = PROTO_MAX_HTTP_HEADERS; n <= PROTO_MAX_HTTP_HEADERS + 1; n++) {
        buf b;
        buf_init(&b, BUF_DEFAULT_MAX);
        encode_request_with_headers(&b, n);
        cur c;
        cur_init(&c, b.data, b.len);
        cm_http_request r;
        assert_int_equal(cm_http_request_decode(&c, &r),
                         n == PROTO_MAX_HTTP_HEADERS ? ERR_OK : ERR_TOO_MANY);
        if (n == PROTO_MAX_HTTP_HEADERS) {
            assert_int_equal(r.headers_count, n);
        } else {
            assert_null(r.headers);
            assert_int_equal(c.pos, 0);
        }
        cm_http_request_free(&r);
        buf_free(&b);
    }
    /* a count that fits the limit but not the remaining bytes is refused before allocating */
    const uint8_t lie[] = {0x67, 0xdc, 0xf0, 0x0c, 0x00, 0x10, 0x00, 0x00};
    cur c;
    cur_init(&c, lie, sizeof(lie));
    cm_client_worker_types_v2 wt;
    assert_int_equal(cm_client_worker_types_v2_decode(&c, &wt), ERR_TRUNCATED);
    assert_null(wt.types);
}

static void test_string_limit_at_max_and_beyond(void **state) {
    (void)state;
    uint8_t *text = calloc(1, PROTO_MAX_STRING + 1);
    for (size_t n = PROTO_MAX_STRING; n <= PROTO_MAX_STRING + 1; n++) {
        buf b;
        buf_init(&b, BUF_DEFAULT_MAX);
        assert_int_equal(tl_write_u32(&b, CM_TCP_QUERY_ERROR_ID), ERR_OK);
        assert_int_equal(tl_write_long(&b, 5), ERR_OK);
        assert_int_equal(tl_write_int(&b, 500), ERR_OK);
        assert_int_equal(tl_write_bytes(&b, text, n), ERR_OK);
        cur c;
        cur_init(&c, b.data, b.len);
        cm_tcp_query_error q;
        err_t want = n == PROTO_MAX_STRING ? ERR_OK : ERR_TOO_LARGE;
        assert_int_equal(cm_tcp_query_error_decode(&c, &q), want);
        cm_tcp_query_error q2 = {.id = 5, .code = 500, .message = tl_bytes_of(text, n)};
        buf e;
        buf_init(&e, BUF_DEFAULT_MAX);
        assert_int_equal(cm_tcp_query_error_encode(&e, &q2), want);
        buf_free(&e);
        buf_free(&b);
    }
    free(text);
}

/* ---- wrong constructors ---- */

static void test_wrong_constructor_and_bool(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 1024);
    cm_tcp_pong pong = {.id = 3};
    assert_int_equal(cm_tcp_pong_encode(&b, &pong), ERR_OK);
    cur c;
    cur_init(&c, b.data, b.len);
    cm_tcp_ping ping;
    assert_int_equal(cm_tcp_ping_decode(&c, &ping), ERR_BAD_CONSTRUCTOR);
    assert_int_equal(c.pos, 0);
    /* the tcp.Packet union takes it */
    cmt_tcp_packet pkt;
    assert_int_equal(cmt_tcp_packet_decode(&c, &pkt), ERR_OK);
    assert_int_equal(pkt.id, CM_TCP_PONG_ID);
    assert_true(pkt.u.pong.id == 3);
    /* an id from another type is not a tcp.Packet */
    buf_reset(&b);
    cm_worker_new_coefficient nc = {.new_coefficient = 5};
    assert_int_equal(cm_worker_new_coefficient_encode(&b, &nc), ERR_OK);
    cur_init(&c, b.data, b.len);
    assert_int_equal(cmt_tcp_packet_decode(&c, &pkt), ERR_BAD_CONSTRUCTOR);
    /* a Bool field holding something else */
    buf_reset(&b);
    cm_worker_proxy_handshake_complete hc = {.is_disabled = true};
    assert_int_equal(cm_worker_proxy_handshake_complete_encode(&b, &hc), ERR_OK);
    b.data[4] ^= 1;
    cur_init(&c, b.data, b.len);
    assert_int_equal(cm_worker_proxy_handshake_complete_decode(&c, &hc), ERR_BAD_CONSTRUCTOR);
    /* the encoder refuses a union whose id is not one of its constructors */
    buf_reset(&b);
    cm_client_payment_status cps = {0};
    cps.signed_payment.id = CM_TCP_PING_ID;
    assert_int_equal(cm_client_payment_status_encode(&b, &cps), ERR_BAD_CONSTRUCTOR);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* A nested vector failing half-way frees what was decoded (ASan checks the leak). */
static void test_partial_nested_vector_is_freed(void **state) {
    (void)state;
    cm_client_worker_instance_v2 inst[2] = {{0}, {0}};
    cm_client_worker_type_v2 types[2] = {
        {.name = tl_bytes_str("a"), .workers = inst, .workers_count = 2},
        {.name = tl_bytes_str("b"), .workers = inst, .workers_count = 2},
    };
    cm_client_worker_types_v2 all = {.types = types, .types_count = 2};
    buf b;
    buf_init(&b, 4096);
    assert_int_equal(cm_client_worker_types_v2_encode(&b, &all), ERR_OK);
    /* corrupt the second type's name padding */
    size_t second = 4 + 4 + (4 + 4 + 2 * 16);
    b.data[second + 2] = 1;
    cur c;
    cur_init(&c, b.data, b.len);
    cm_client_worker_types_v2 d;
    assert_int_equal(cm_client_worker_types_v2_decode(&c, &d), ERR_BAD_PADDING);
    assert_null(d.types);
    assert_int_equal(d.types_count, 0);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_match_reference_table),
        cmocka_unit_test(test_every_constructor_roundtrips),
        cmocka_unit_test(test_every_boxed_type_roundtrips),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_nested_flags),
        cmocka_unit_test(test_vector_limit_at_max_and_beyond),
        cmocka_unit_test(test_string_limit_at_max_and_beyond),
        cmocka_unit_test(test_wrong_constructor_and_bool),
        cmocka_unit_test(test_partial_nested_vector_is_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
