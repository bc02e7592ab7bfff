/* End-to-end evidence of an answer: the worker signs, with the key of its attested RA-TLS
 * certificate, what it was asked, what it answered, with which model and how many tokens; the
 * client checks the certificate (quote, policy, registry) and the signature itself, so it
 * verifies the whole path and not only the proxy it talks to.
 *
 * Signed message (Ed25519 over these bytes):
 *   "cocoon-evidence-v1" 0x00 ‖ SHA-256(http.request TL bytes of the query) ‖
 *   SHA-256(answer body bytes, all parts in order) ‖ u32 LE model length ‖ model (full id) ‖
 *   i64 LE prompt, cached, completion, reasoning, total (the tokensUsed sent in the final info)
 * Carried as: the certificate (base64 DER) and model in the answer head's headers
 * X-Cocoon-Worker-Cert and X-Cocoon-Model; the signature in the final info's worker_debug as
 * {"evidence":"<base64 signature>"}. A certificate goes in full once per link: the worker sends
 * X-Cocoon-Worker-Cert on the first answer head of a proxy link (and after each rotation), then
 * X-Cocoon-Worker-Cert-Id = hex SHA-256 of that header value; the proxy keeps each worker
 * link's latest certificate and, towards each client link, sends a certificate in full the
 * first time and by id afterwards, remembering the last EVIDENCE_LINK_CERTS ids per client link
 * (oldest forgotten first). The client keeps the same window per link, filled in the same
 * order, so an id always names a certificate it has seen on that link; an id it does not know
 * fails the answer.
 *
 * MAC form (the default between our client and worker: an Ed25519 signature costs ~30 us to
 * make and ~75 us to check on the machines we measure, an HMAC about 1 us). The worker's
 * certificate carries an X25519 key in its claims (RATLS_CLAIM_EVIDENCE_KEY), bound like every
 * claim by the certificate's signature and through it to the quote. A client that sends its own
 * X25519 public key in the request header X-Cocoon-Evidence-Key gets the answer authenticated
 * with HMAC-SHA256 over the same message, under
 *   K = HKDF-SHA256(salt "cocoon-evidence-mac-v1", ikm X25519(shared),
 *                   info worker Ed25519 key ‖ worker X25519 key ‖ client X25519 key),
 * carried as {"evidence_mac":"<base64 tag>"}. Only the worker TD and the client can compute K
 * (the proxy sees both public keys, neither private key), so a valid tag proves to that client
 * exactly what a signature proves; unlike a signature it convinces nobody else. The request
 * header is part of the query hash, and the client also sends a fresh X-Cocoon-Request-Id, so
 * no answer can be replayed for another request. */
#ifndef COCOON_HTTP_EVIDENCE_H
#define COCOON_HTTP_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/ed25519.h"
#include "crypto/x25519.h"

#define EVIDENCE_CERT_HEADER "X-Cocoon-Worker-Cert"
#define EVIDENCE_MODEL_HEADER "X-Cocoon-Model"
#define EVIDENCE_CERT_ID_HEADER "X-Cocoon-Worker-Cert-Id"
#define EVIDENCE_KEY_HEADER "X-Cocoon-Evidence-Key"
#define EVIDENCE_RID_HEADER "X-Cocoon-Request-Id"
#define EVIDENCE_MODEL_MAX 255
#define EVIDENCE_LINK_CERTS 64
#define EVIDENCE_MAC_LEN 32

typedef struct {
    uint8_t query_hash[32];
    uint8_t answer_hash[32];
    const char *model;
    size_t model_len;
    int64_t prompt, cached, completion, reasoning, total;
} evidence_claim;

MUST_CHECK err_t evidence_sign(const ed25519_key *k, const evidence_claim *c,
                               uint8_t sig[ED25519_SIG_LEN]);
/* ERR_OK, or ERR_BAD_SIGNATURE (any field altered), ERR_TOO_LARGE (model too long). */
MUST_CHECK err_t evidence_verify(const uint8_t pub[ED25519_PUB_LEN], const evidence_claim *c,
                                 const uint8_t sig[ED25519_SIG_LEN]);

/* K for the MAC form (see above), from either side: the worker passes its X25519 key and the
 * client's public key, the client its key and the worker's public key. ERR_BAD_KEY for a
 * small-order peer key. */
MUST_CHECK err_t evidence_mac_key(const x25519_key *mine, const uint8_t peer_kx[X25519_LEN],
                                  const uint8_t worker_pub[ED25519_PUB_LEN], bool mine_is_worker,
                                  uint8_t key[32]);
MUST_CHECK err_t evidence_mac(const uint8_t key[32], const evidence_claim *c,
                              uint8_t tag[EVIDENCE_MAC_LEN]);
/* ERR_OK, or ERR_BAD_SIGNATURE (constant-time comparison), ERR_TOO_LARGE. */
MUST_CHECK err_t evidence_mac_verify(const uint8_t key[32], const evidence_claim *c,
                                     const uint8_t tag[EVIDENCE_MAC_LEN]);

typedef enum { EVIDENCE_SIGNATURE = 1, EVIDENCE_HMAC = 2 } evidence_kind;
typedef struct {
    evidence_kind kind;
    uint8_t bytes[ED25519_SIG_LEN]; /* the signature, or the tag in the first 32 bytes */
} evidence_proof;

/* {"evidence":"<base64>"} or {"evidence_mac":"<base64>"} appended to out. */
MUST_CHECK err_t evidence_debug_json(const evidence_proof *p, buf *out);
/* Reads the proof back from worker_debug: ERR_NOT_FOUND when absent, ERR_MALFORMED when not a
 * JSON object with exactly one of the two members holding base64 of the right length. */
MUST_CHECK err_t evidence_from_debug(const uint8_t *json, size_t len, evidence_proof *p);

#endif
