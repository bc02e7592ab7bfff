/* TON-style TL primitives: writers onto a buf, readers from a cur.
 *
 * Encoding (cocoon-internals.md §1.6, TON's td/tl): integers little-endian; int128/int256 raw
 * bytes; double is the IEEE-754 binary64 bit pattern little-endian; bytes and string are the same
 * wire type: a length byte (< 254) or 0xfe plus a 3-byte LE length, the data, then zero padding to
 * a multiple of 4 of the whole encoding; Bool is boxed (boolTrue/boolFalse); a vector is an int
 * count followed by the items; boxed values start with their 32-bit constructor id.
 *
 * Decoding is strict so that every accepted input has exactly one encoding (the message fuzz
 * harness relies on decode->encode giving back the same bytes): non-zero padding is
 * ERR_BAD_PADDING, the long form for a short length and the 0xff prefix are ERR_MALFORMED.
 * A failed read leaves the cursor where it was.
 */
#ifndef COCOON_PROTO_TL_H
#define COCOON_PROTO_TL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/err.h"

#define TL_BOOL_TRUE 0x997275b5u
#define TL_BOOL_FALSE 0xbc799737u

/* A byte string; from a decoder it borrows the input buffer, for an encoder the caller's data. */
typedef struct {
    const uint8_t *p;
    size_t len;
} tl_bytes;

/* Encoded size of a TL byte string of length n (n <= TL_BYTES_MAX). */
size_t tl_bytes_size(size_t n);
tl_bytes tl_bytes_of(const void *p, size_t n);
/* tl_bytes over a NUL-terminated C string (no NUL stored). */
tl_bytes tl_bytes_str(const char *s);
bool tl_bytes_eq(tl_bytes a, tl_bytes b);
/* ASCII case-insensitive comparison with a C string (HTTP header names in http.header). */
bool tl_bytes_eq_nocase(tl_bytes a, const char *s);

MUST_CHECK err_t tl_write_u32(buf *b, uint32_t v); /* constructor ids, flags */
MUST_CHECK err_t tl_write_int(buf *b, int32_t v);
MUST_CHECK err_t tl_write_long(buf *b, int64_t v);
MUST_CHECK err_t tl_write_double(buf *b, double v);
MUST_CHECK err_t tl_write_int128(buf *b, const uint8_t v[16]);
MUST_CHECK err_t tl_write_int256(buf *b, const uint8_t v[32]);
/* ERR_TOO_LARGE for n > TL_BYTES_MAX. */
MUST_CHECK err_t tl_write_bytes(buf *b, const void *p, size_t n);
MUST_CHECK err_t tl_write_bool(buf *b, bool v);
MUST_CHECK err_t tl_write_vector_count(buf *b, uint32_t n);

MUST_CHECK err_t tl_read_u32(cur *c, uint32_t *out);
MUST_CHECK err_t tl_read_int(cur *c, int32_t *out);
MUST_CHECK err_t tl_read_long(cur *c, int64_t *out);
MUST_CHECK err_t tl_read_double(cur *c, double *out);
MUST_CHECK err_t tl_read_int128(cur *c, uint8_t out[16]);
MUST_CHECK err_t tl_read_int256(cur *c, uint8_t out[32]);
/* Borrows the string from the cursor's buffer. ERR_TOO_LARGE if the declared length exceeds max
 * (checked before the data is touched), ERR_TRUNCATED, ERR_MALFORMED, ERR_BAD_PADDING. */
MUST_CHECK err_t tl_read_bytes(cur *c, size_t max, tl_bytes *out);
/* ERR_BAD_CONSTRUCTOR for anything but boolTrue/boolFalse. */
MUST_CHECK err_t tl_read_bool(cur *c, bool *out);
/* The constructor id a boxed message starts with (0 if it is shorter than 4 bytes), to
 * dispatch on before decoding. */
uint32_t tl_peek_id(const uint8_t *data, size_t n);
/* ERR_BAD_CONSTRUCTOR unless the next 4 bytes are the constructor id `id`. */
MUST_CHECK err_t tl_expect_id(cur *c, uint32_t id);
/* Vector count: ERR_TOO_MANY above max (a negative TL int counts as huge); ERR_TRUNCATED if
 * count * min_item_size exceeds what is left, so a caller may then allocate count items. */
MUST_CHECK err_t tl_read_vector_count(cur *c, uint32_t max, size_t min_item_size, uint32_t *out);

#endif
