/* Every size and count limit of the COCOON wire protocol, in one place.
 *
 * A declared length or count read from the wire is compared against one of these before it
 * sizes anything. Values follow the reference (cocoon-internals.md §1.10) where it has one and
 * are chosen here where it does not (the reference has no per-field limits; only the frame cap
 * bounds them). Unauthenticated peers (before attestation) should get PROTO_FRAME_MAX_UNAUTH.
 */
#ifndef COCOON_PROTO_LIMITS_H
#define COCOON_PROTO_LIMITS_H

/* Frame payload bounds (§1.5: 4 <= payload_len <= 2^24). */
#define PROTO_FRAME_MIN 4u
#define PROTO_FRAME_MAX ((size_t)1 << 24)
/* Suggested cap for a peer whose attestation has not been verified yet: the handshake messages
 * are a few hundred bytes. */
#define PROTO_FRAME_MAX_UNAUTH ((size_t)1 << 16)

/* The longest TL byte string the encoding can express (3-byte length). */
#define TL_BYTES_MAX (((size_t)1 << 24) - 1)

/* Per-field limits applied by the message decoders (proto/msg.h). */
#define PROTO_MAX_BYTES PROTO_FRAME_MAX          /* opaque payloads: http bodies, nested TL */
#define PROTO_MAX_STRING ((size_t)64 << 10)      /* names, addresses, urls, error texts */
#define PROTO_MAX_DEBUG_STRING ((size_t)1 << 20) /* debug JSON in queryFinalInfo */
#define PROTO_MAX_HTTP_FIELD ((size_t)16 << 10)  /* one http.header name or value */
#define PROTO_MAX_HTTP_HEADERS 256u              /* headers per http.request/response */
#define PROTO_MAX_VECTOR 4096u                   /* any other vector */

/* Link layer (§1.5). */
#define PROTO_PING_IDLE_MS 10000u      /* dialer sends tcp.ping after this long idle */
#define PROTO_DIALER_TIMEOUT_MS 20000u /* dialer gives up after this long without a frame */
#define PROTO_ACCEPTOR_TIMEOUT_MS 60000u
#define PROTO_MAX_OUTSTANDING_QUERIES 4096u

/* Proof of work (§1.3). */
#define POW_MAX_DIFFICULTY_DEFAULT 28
#define POW_DIFFICULTY_LIMIT 64

#endif
