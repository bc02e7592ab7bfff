/* One TCP connection of an RA-TLS link, in two phases:
 *  1. raw: exact-size reads and small writes straight on the socket (proof-of-work admission
 *     happens here; reading exactly what is asked means no TLS byte is swallowed);
 *  2. TLS: OpenSSL over memory BIOs, driven by plain libevent events on the same socket. One
 *     recv() per readable event feeds every record it brought; everything written during one
 *     loop pass is encrypted and leaves in one send() at the end of that pass.
 * Callbacks run on the loop thread. After on_error the stream is dead and the owner must
 * free it (it may do so inside the callback, or inside on_data; no callback runs after
 * net_stream_free). */
#ifndef COCOON_NET_STREAM_H
#define COCOON_NET_STREAM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "net/loop.h"

struct evbuffer;
typedef struct net_stream net_stream;

typedef struct {
    void (*on_connected)(net_stream *s, void *arg); /* dialer: TCP connected */
    void (*on_raw)(net_stream *s, void *arg);       /* raw phase: socket readable */
    void (*on_tls_ready)(net_stream *s, void *arg); /* TLS handshake completed */
    void (*on_data)(net_stream *s, void *arg);      /* TLS phase: plaintext in the input */
    void (*on_drained)(net_stream *s, void *arg);   /* TLS phase: all output reached the kernel */
    void (*on_error)(net_stream *s, err_t e, void *arg);
} net_stream_cbs;

/* Takes ownership of fd. connecting: fd has a non-blocking connect in progress. */
net_stream *net_stream_new(net_loop *l, int fd, bool connecting, const net_stream_cbs *cbs,
                           void *arg);
void net_stream_free(net_stream *s);

/* Raw phase. Reads at most `want` bytes: ERR_OK with *got > 0, ERR_AGAIN, ERR_EOF or ERR_IO. */
MUST_CHECK err_t net_stream_raw_read(net_stream *s, void *out, size_t want, size_t *got);
MUST_CHECK err_t net_stream_raw_write(net_stream *s, const void *data, size_t n);

/* Switches to TLS; the stream owns ssl from now on (also on failure). */
MUST_CHECK err_t net_stream_start_tls(net_stream *s, SSL *ssl, bool server);
SSL *net_stream_ssl(net_stream *s);
struct evbuffer *net_stream_input(net_stream *s);
/* Queues plaintext; it is encrypted and sent at the end of this loop pass (no syscall here). */
MUST_CHECK err_t net_stream_write(net_stream *s, const void *data, size_t n);
/* Bytes not yet handed to the kernel: plaintext not yet encrypted plus ciphertext not sent. */
size_t net_stream_pending_output(net_stream *s);
/* Stop reading (backpressure) or resume; on resume, plaintext already buffered is delivered
 * with on_data from the loop (never from inside this call). */
void net_stream_pause(net_stream *s, bool paused);

/* on_error(ERR_TIMEOUT) if not cancelled within ms; 0 cancels. */
void net_stream_deadline(net_stream *s, uint64_t ms);
/* Peer address as text, for logs. */
const char *net_stream_peer(net_stream *s);

#endif
