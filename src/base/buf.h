/* Bounded growable byte buffer: the writer side of every format, and the receive buffer of
 * every connection. `max` caps growth so a peer can never make us allocate beyond a limit. */
#ifndef COCOON_BASE_BUF_H
#define COCOON_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} buf;

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

void buf_init(buf *b, size_t max);
/* Frees the storage (wiping it first: buffers often hold plaintext or key material). NULL-safe. */
void buf_free(buf *b);
void buf_reset(buf *b);
MUST_CHECK err_t buf_reserve(buf *b, size_t extra);
MUST_CHECK err_t buf_append(buf *b, const void *data, size_t n);
MUST_CHECK err_t buf_zeros(buf *b, size_t n);
MUST_CHECK err_t buf_u8(buf *b, uint8_t v);
MUST_CHECK err_t buf_u16le(buf *b, uint16_t v);
MUST_CHECK err_t buf_u32le(buf *b, uint32_t v);
MUST_CHECK err_t buf_u64le(buf *b, uint64_t v);
MUST_CHECK err_t buf_u16be(buf *b, uint16_t v);
MUST_CHECK err_t buf_u32be(buf *b, uint32_t v);
MUST_CHECK err_t buf_u64be(buf *b, uint64_t v);
/* Remove n bytes from the front (n <= len). */
void buf_consume(buf *b, size_t n);
/* Overwrite 4 bytes at an earlier offset (for back-patched lengths). */
void buf_put_u32le_at(buf *b, size_t off, uint32_t v);
/* Hand the storage to the caller (who frees it with free()); the buf becomes empty. */
uint8_t *buf_steal(buf *b, size_t *len);

/* Secure wipe that the compiler cannot elide. */
void mem_wipe(void *p, size_t n);

#endif
