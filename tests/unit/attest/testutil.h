/* Shared helpers for the attest tests: test data files (COCOON_TESTDATA) and hex. */
#ifndef COCOON_TESTS_ATTEST_TESTUTIL_H
#define COCOON_TESTS_ATTEST_TESTUTIL_H

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
#include "base/file.h"

/* Reads tests/data/<rel> into b (initialised here; the caller frees it). */
static inline void td_read(const char *rel, buf *b) {
    const char *dir = getenv("COCOON_TESTDATA");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    buf_init(b, 1 << 20);
    err_t e = file_read(path, 1 << 20, b);
    if (e != ERR_OK) {
        fail_msg("cannot read %s: %s", path, err_describe(e));
    }
}

static inline void unhex_n(const char *s, uint8_t *out, size_t want) {
    size_t n = 0;
    assert_int_equal(hex_decode(s, strlen(s), out, want, &n), ERR_OK);
    assert_int_equal(n, want);
}

static inline void assert_hex_eq(const uint8_t *d, size_t n, const char *expect) {
    char s[2 * 128 + 1];
    assert_true(n <= 128);
    hex_encode(d, n, s);
    assert_string_equal(s, expect);
}

#endif
