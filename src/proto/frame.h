/* COCOON stream framing, sans-I/O (cocoon-internals.md §1.5).
 *
 * Frame = u32 LE payload_len ‖ i32 LE seqno ‖ payload (a boxed TL tcp.Packet). The length does
 * not count the seqno; 4 <= payload_len <= max (reference max 2^24). Each direction numbers its
 * frames from 0 and a receiver closes the connection unless each seqno is exactly the previous
 * one plus 1 (this is what makes a replayed or dropped frame inside the stream detectable).
 *
 * The decoder validates a header as soon as its 8 bytes have arrived, before any byte of the
 * body is buffered, so an oversize or out-of-order frame costs nothing. After any error it stays
 * failed and returns the same error. A frame that arrives whole in one feed is returned without
 * copying; a frame split across feeds is assembled in an internal buffer of at most 8 + max.
 */
#ifndef COCOON_PROTO_FRAME_H
#define COCOON_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define FRAME_HEADER_LEN 8

typedef struct {
    uint32_t next_seqno;
    size_t max;
} frame_enc;

/* max: largest payload we send (PROTO_FRAME_MAX unless the peer is known to accept less). */
void frame_enc_init(frame_enc *e, size_t max);
/* Append one frame carrying payload[0..n) to out. ERR_FRAME_TOO_LARGE outside [4, max]; on any
 * failure out is unchanged and the seqno is not consumed. */
MUST_CHECK err_t frame_enc_write(frame_enc *e, buf *out, const void *payload, size_t n);
/* Zero-copy variant: frame_enc_begin reserves the header at *mark, the caller appends the
 * payload to out (e.g. with a msg encoder), frame_enc_end fills in the header. If end fails,
 * out is truncated back to *mark. */
MUST_CHECK err_t frame_enc_begin(frame_enc *e, buf *out, size_t *mark);
MUST_CHECK err_t frame_enc_end(frame_enc *e, buf *out, size_t mark);

typedef struct {
    const uint8_t *payload; /* valid until the next frame_dec_feed or frame_dec_free */
    size_t len;
    uint32_t seqno;
} frame;

typedef struct {
    size_t max;
    uint32_t next_seqno;
    err_t failed; /* sticky; ERR_OK while healthy */
    uint8_t hdr[FRAME_HEADER_LEN];
    size_t hdr_len;  /* header bytes of the current frame collected so far */
    size_t body_len; /* validated payload length of the current frame (when hdr_len == 8) */
    buf body;        /* body bytes of a frame split across feeds */
} frame_dec;

/* max: largest payload accepted (PROTO_FRAME_MAX, or PROTO_FRAME_MAX_UNAUTH before the peer is
 * attested); must be >= PROTO_FRAME_MIN. */
void frame_dec_init(frame_dec *d, size_t max);
void frame_dec_free(frame_dec *d);
/* Change the accepted maximum (e.g. raise it once the peer is attested); affects headers that
 * have not been validated yet. */
void frame_dec_set_max(frame_dec *d, size_t max);
/* Consume bytes from data[0..n) up to the end of the next frame. Returns ERR_OK with *out set
 * when a frame completed, ERR_AGAIN when all n bytes were consumed without completing one, or
 * the (sticky) error: ERR_FRAME_TOO_LARGE, ERR_BAD_SEQNO, ERR_NOMEM. *used is always set to
 * the bytes consumed. Call again with the rest of the input after a frame. */
MUST_CHECK err_t frame_dec_feed(frame_dec *d, const uint8_t *data, size_t n, size_t *used,
                                frame *out);

#endif
