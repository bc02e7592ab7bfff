/* Framing: exact bytes, reassembly at every split point, zero-copy for whole frames, the length
 * range at min/max and one beyond (checked from the header alone), seqno gaps and replays, and
 * the decoder staying failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "proto/frame.h"
#include "proto/limits.h"

static void put_header(uint8_t *p, uint32_t len, uint32_t seqno) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(len >> (8 * i));
        p[4 + i] = (uint8_t)(seqno >> (8 * i));
    }
}

static void test_encoder_writes_len_seqno_payload(void **state) {
    (void)state;
    frame_enc e;
    frame_enc_init(&e, PROTO_FRAME_MAX);
    buf out;
    buf_init(&out, 1024);
    assert_int_equal(frame_enc_write(&e, &out, "abcd", 4), ERR_OK);
    assert_int_equal(frame_enc_write(&e, &out, "efghij", 6), ERR_OK);
    const uint8_t want[] = {4, 0, 0, 0, 0, 0, 0, 0,   'a', 'b', 'c', 'd', 6,
                            0, 0, 0, 1, 0, 0, 0, 'e', 'f', 'g', 'h', 'i', 'j'};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    /* too short: nothing written, seqno not consumed */
    assert_int_equal(frame_enc_write(&e, &out, "abc", 3), ERR_FRAME_TOO_LARGE);
    assert_int_equal(out.len, sizeof(want));
    /* in-place variant continues the numbering */
    size_t mark;
    assert_int_equal(frame_enc_begin(&e, &out, &mark), ERR_OK);
    assert_int_equal(buf_append(&out, "wxyz!", 5), ERR_OK);
    assert_int_equal(frame_enc_end(&e, &out, mark), ERR_OK);
    const uint8_t hdr[] = {5, 0, 0, 0, 2, 0, 0, 0};
    assert_memory_equal(out.data + mark, hdr, 8);
    assert_int_equal(frame_enc_begin(&e, &out, &mark), ERR_OK);
    assert_int_equal(frame_enc_end(&e, &out, mark), ERR_FRAME_TOO_LARGE);
    assert_int_equal(out.len, mark);
    assert_int_equal(e.next_seqno, 3);
    buf_free(&out);
}

static void test_encoder_max(void **state) {
    (void)state;
    frame_enc e;
    frame_enc_init(&e, 16);
    buf out;
    buf_init(&out, 1024);
    uint8_t p[17] = {0};
    assert_int_equal(frame_enc_write(&e, &out, p, 16), ERR_OK);
    assert_int_equal(frame_enc_write(&e, &out, p, 17), ERR_FRAME_TOO_LARGE);
    assert_int_equal(out.len, 24);
    buf_free(&out);
}

/* Three frames, fed with every possible split into two feeds, and byte by byte. */
static void make_stream(buf *out) {
    frame_enc e;
    frame_enc_init(&e, PROTO_FRAME_MAX);
    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)i;
    }
    assert_int_equal(frame_enc_write(&e, out, "ping", 4), ERR_OK);
    assert_int_equal(frame_enc_write(&e, out, big, sizeof(big)), ERR_OK);
    assert_int_equal(frame_enc_write(&e, out, "0123456789", 10), ERR_OK);
}

static void check_frame(const frame *f, uint32_t k) {
    assert_int_equal(f->seqno, k);
    if (k == 0) {
        assert_int_equal(f->len, 4);
        assert_memory_equal(f->payload, "ping", 4);
    } else if (k == 1) {
        assert_int_equal(f->len, 300);
        for (size_t i = 0; i < 300; i++) {
            assert_int_equal(f->payload[i], (uint8_t)i);
        }
    } else {
        assert_int_equal(f->len, 10);
        assert_memory_equal(f->payload, "0123456789", 10);
    }
}

/* Feed data[0..n) completely; returns the number of frames seen so far. */
static uint32_t feed_all(frame_dec *d, const uint8_t *data, size_t n, uint32_t seen) {
    while (n > 0) {
        size_t used;
        frame f;
        err_t e = frame_dec_feed(d, data, n, &used, &f);
        assert_true(used <= n);
        data += used;
        n -= used;
        if (e == ERR_AGAIN) {
            assert_int_equal(n, 0);
            break;
        }
        assert_int_equal(e, ERR_OK);
        check_frame(&f, seen);
        seen++;
    }
    return seen;
}

static void test_decoder_every_split_point(void **state) {
    (void)state;
    buf s;
    buf_init(&s, 4096);
    make_stream(&s);
    for (size_t cut = 0; cut <= s.len; cut++) {
        frame_dec d;
        frame_dec_init(&d, PROTO_FRAME_MAX);
        uint32_t seen = feed_all(&d, s.data, cut, 0);
        seen = feed_all(&d, s.data + cut, s.len - cut, seen);
        assert_int_equal(seen, 3);
        frame_dec_free(&d);
    }
    frame_dec d;
    frame_dec_init(&d, PROTO_FRAME_MAX);
    uint32_t seen = 0;
    for (size_t i = 0; i < s.len; i++) {
        seen = feed_all(&d, s.data + i, 1, seen);
    }
    assert_int_equal(seen, 3);
    frame_dec_free(&d);
    buf_free(&s);
}

static void test_whole_frame_is_not_copied(void **state) {
    (void)state;
    buf s;
    buf_init(&s, 4096);
    make_stream(&s);
    frame_dec d;
    frame_dec_init(&d, PROTO_FRAME_MAX);
    size_t used;
    frame f;
    assert_int_equal(frame_dec_feed(&d, s.data, s.len, &used, &f), ERR_OK);
    assert_int_equal(used, 12);
    assert_ptr_equal(f.payload, s.data + 8);
    assert_int_equal(d.body.cap, 0); /* nothing buffered */
    frame_dec_free(&d);
    buf_free(&s);
}

/* The length is judged from the 8 header bytes alone: no body byte is needed or buffered. */
static void test_length_limits_from_header(void **state) {
    (void)state;
    static const struct {
        size_t max;
        uint32_t len;
        err_t want;
    } rows[] = {
        {PROTO_FRAME_MAX, PROTO_FRAME_MAX, ERR_AGAIN},
        {PROTO_FRAME_MAX, PROTO_FRAME_MAX + 1, ERR_FRAME_TOO_LARGE},
        {PROTO_FRAME_MAX_UNAUTH, PROTO_FRAME_MAX_UNAUTH, ERR_AGAIN},
        {PROTO_FRAME_MAX_UNAUTH, PROTO_FRAME_MAX_UNAUTH + 1, ERR_FRAME_TOO_LARGE},
        {PROTO_FRAME_MAX, 4, ERR_AGAIN},
        {PROTO_FRAME_MAX, 3, ERR_FRAME_TOO_LARGE},
        {PROTO_FRAME_MAX, 0, ERR_FRAME_TOO_LARGE},
        {PROTO_FRAME_MAX, UINT32_MAX, ERR_FRAME_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        frame_dec d;
        frame_dec_init(&d, rows[i].max);
        uint8_t h[FRAME_HEADER_LEN];
        put_header(h, rows[i].len, 0);
        size_t used;
        frame f;
        assert_int_equal(frame_dec_feed(&d, h, sizeof(h), &used, &f), rows[i].want);
        assert_int_equal(used, 8);
        assert_int_equal(d.body.cap, 0);
        frame_dec_free(&d);
    }
}

static void test_set_max_applies_to_next_header(void **state) {
    (void)state;
    frame_dec d;
    frame_dec_init(&d, PROTO_FRAME_MAX_UNAUTH);
    uint8_t h[FRAME_HEADER_LEN];
    put_header(h, PROTO_FRAME_MAX_UNAUTH + 1, 0);
    frame_dec_set_max(&d, PROTO_FRAME_MAX);
    size_t used;
    frame f;
    assert_int_equal(frame_dec_feed(&d, h, sizeof(h), &used, &f), ERR_AGAIN);
    frame_dec_free(&d);
}

static void test_seqno_must_grow_by_one_and_failure_sticks(void **state) {
    (void)state;
    static const uint32_t second[] = {2, 0, 5, UINT32_MAX};
    for (size_t i = 0; i < sizeof(second) / sizeof(second[0]); i++) {
        uint8_t s[24];
        put_header(s, 4, 0);
        memcpy(s + 8, "aaaa", 4);
        put_header(s + 12, 4, second[i]);
        memcpy(s + 20, "bbbb", 4);
        frame_dec d;
        frame_dec_init(&d, PROTO_FRAME_MAX);
        size_t used;
        frame f;
        assert_int_equal(frame_dec_feed(&d, s, sizeof(s), &used, &f), ERR_OK);
        assert_int_equal(frame_dec_feed(&d, s + 12, 12, &used, &f), ERR_BAD_SEQNO);
        /* a correct frame afterwards does not revive the decoder */
        uint8_t ok[12];
        put_header(ok, 4, 1);
        memcpy(ok + 8, "cccc", 4);
        assert_int_equal(frame_dec_feed(&d, ok, sizeof(ok), &used, &f), ERR_BAD_SEQNO);
        assert_int_equal(used, 0);
        frame_dec_free(&d);
    }
    /* the first frame must be seqno 0 */
    uint8_t s[12];
    put_header(s, 4, 1);
    frame_dec d;
    frame_dec_init(&d, PROTO_FRAME_MAX);
    size_t used;
    frame f;
    assert_int_equal(frame_dec_feed(&d, s, sizeof(s), &used, &f), ERR_BAD_SEQNO);
    frame_dec_free(&d);
}

static void test_oversize_failure_sticks(void **state) {
    (void)state;
    frame_dec d;
    frame_dec_init(&d, 64);
    uint8_t h[8];
    put_header(h, 65, 0);
    size_t used;
    frame f;
    assert_int_equal(frame_dec_feed(&d, h, 8, &used, &f), ERR_FRAME_TOO_LARGE);
    put_header(h, 8, 0);
    assert_int_equal(frame_dec_feed(&d, h, 8, &used, &f), ERR_FRAME_TOO_LARGE);
    frame_dec_free(&d);
}

/* A large frame arriving in pieces is assembled in a buffer sized by its validated length. */
static void test_max_frame_reassembled(void **state) {
    (void)state;
    size_t max = PROTO_FRAME_MAX;
    buf s;
    buf_init(&s, max + 64);
    frame_enc e;
    frame_enc_init(&e, max);
    size_t mark;
    assert_int_equal(frame_enc_begin(&e, &s, &mark), ERR_OK);
    assert_int_equal(buf_zeros(&s, max), ERR_OK);
    s.data[8 + max - 1] = 0x77;
    assert_int_equal(frame_enc_end(&e, &s, mark), ERR_OK);
    frame_dec d;
    frame_dec_init(&d, max);
    size_t off = 0;
    frame f;
    err_t r = ERR_AGAIN;
    while (off < s.len) {
        size_t chunk = s.len - off < 65536 ? s.len - off : 65536;
        size_t used;
        r = frame_dec_feed(&d, s.data + off, chunk, &used, &f);
        off += used;
        if (r != ERR_AGAIN) {
            break;
        }
    }
    assert_int_equal(r, ERR_OK);
    assert_int_equal(off, s.len);
    assert_int_equal(f.len, max);
    assert_int_equal(f.payload[max - 1], 0x77);
    frame_dec_free(&d);
    buf_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_writes_len_seqno_payload),
        cmocka_unit_test(test_encoder_max),
        cmocka_unit_test(test_decoder_every_split_point),
        cmocka_unit_test(test_whole_frame_is_not_copied),
        cmocka_unit_test(test_length_limits_from_header),
        cmocka_unit_test(test_set_max_applies_to_next_header),
        cmocka_unit_test(test_seqno_must_grow_by_one_and_failure_sticks),
        cmocka_unit_test(test_oversize_failure_sticks),
        cmocka_unit_test(test_max_frame_reassembled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
