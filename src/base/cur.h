/* Bounds-checked reader: every hostile byte in the project is read through a cur.
 *
 * Rules (see STYLE.md): a failed read returns ERR_TRUNCATED and leaves the cursor unchanged;
 * a length-prefixed block is read as a sub-cursor that must be consumed exactly
 * (cur_expect_end); no code outside this module does pointer arithmetic on wire data.
 */
#ifndef COCOON_BASE_CUR_H
#define COCOON_BASE_CUR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
} cur;

void cur_init(cur *c, const void *data, size_t len);
size_t cur_left(const cur *c);
/* Pointer at the current position (valid for cur_left bytes); for hashing a region. */
const uint8_t *cur_here(const cur *c);

MUST_CHECK err_t cur_u8(cur *c, uint8_t *out);
MUST_CHECK err_t cur_u16le(cur *c, uint16_t *out);
MUST_CHECK err_t cur_u32le(cur *c, uint32_t *out);
MUST_CHECK err_t cur_u64le(cur *c, uint64_t *out);
MUST_CHECK err_t cur_i32le(cur *c, int32_t *out);
MUST_CHECK err_t cur_i64le(cur *c, int64_t *out);
MUST_CHECK err_t cur_u16be(cur *c, uint16_t *out);
MUST_CHECK err_t cur_u32be(cur *c, uint32_t *out);
MUST_CHECK err_t cur_u64be(cur *c, uint64_t *out);
/* Copy n bytes out. */
MUST_CHECK err_t cur_copy(cur *c, void *out, size_t n);
/* Borrow n bytes (pointer into the underlying buffer). */
MUST_CHECK err_t cur_take(cur *c, size_t n, const uint8_t **out);
MUST_CHECK err_t cur_skip(cur *c, size_t n);
/* Split off the next n bytes as an independent cursor. */
MUST_CHECK err_t cur_sub(cur *c, size_t n, cur *out);
/* ERR_TRAILING unless every byte has been consumed. */
MUST_CHECK err_t cur_expect_end(const cur *c);
/* ERR_MALFORMED unless all remaining bytes are zero (tolerated padding). */
MUST_CHECK err_t cur_expect_zero_rest(const cur *c);

#endif
