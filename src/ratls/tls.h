/* TLS 1.3 contexts for RA-TLS channels.
 *
 * TLS 1.3 only; TLS_AES_256_GCM_SHA384 and TLS_AES_128_GCM_SHA256 only; Ed25519 signatures;
 * no session tickets or resumption (every connection proves its attestation afresh); mutual
 * authentication (the server requires a client certificate). Certificate checking is
 * ratls_verify_cert, run from OpenSSL's verify hook with this context's policy, clock and
 * cache; its verdict is kept on the SSL object, and no application data may flow until
 * ratls_ssl_verdict() says ERR_OK. */
#ifndef COCOON_RATLS_TLS_H
#define COCOON_RATLS_TLS_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "base/err.h"
#include "ratls/cache.h"
#include "ratls/cert.h"
#include "ratls/policy.h"

typedef enum { RATLS_SERVER, RATLS_CLIENT } ratls_role;

typedef struct ratls_ctx ratls_ctx;
typedef int64_t (*ratls_clock_fn)(void *arg);

/* The policy is copied; the identity's certificate and key are loaded into the context. */
MUST_CHECK err_t ratls_ctx_new(ratls_role role, const ratls_identity *id, const ratls_policy *pol,
                               ratls_ctx **out);
void ratls_ctx_free(ratls_ctx *c);
/* NULL turns caching off. The cache is not owned. */
void ratls_ctx_set_cache(ratls_ctx *c, ratls_cache *cache);
void ratls_ctx_set_clock(ratls_ctx *c, ratls_clock_fn fn, void *arg);
/* Rotation: later connections present the new certificate; live ones keep theirs. */
MUST_CHECK err_t ratls_ctx_set_identity(ratls_ctx *c, const ratls_identity *id);
SSL_CTX *ratls_ctx_ssl_ctx(ratls_ctx *c);
/* The context's own copy of its policy, and its clock. */
const ratls_policy *ratls_ctx_policy(const ratls_ctx *c);
int64_t ratls_ctx_now(const ratls_ctx *c);

/* A new SSL object in the context's role, with the verdict slot attached. */
SSL *ratls_ssl_new(ratls_ctx *c);
/* ERR_OK and *peer once the peer's certificate passed; the verify hook's error if it failed;
 * ERR_PEER_NOT_VERIFIED if no certificate has been checked yet. */
MUST_CHECK err_t ratls_ssl_verdict(SSL *ssl, ratls_peer *peer);
/* Maps a failed SSL_do_handshake/read/write result to our errors: the verdict's error if the
 * certificate was refused, ERR_TLS_VERSION for a peer without TLS 1.3, ERR_AGAIN for
 * WANT_READ/WANT_WRITE, ERR_EOF, else ERR_TLS with OpenSSL's reason as detail. Clears
 * OpenSSL's error queue. */
MUST_CHECK err_t ratls_ssl_error(SSL *ssl, int ret);

#endif
