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
 * {"evidence":"<base64 signature>"}. */
#ifndef COCOON_HTTP_EVIDENCE_H
#define COCOON_HTTP_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/ed25519.h"

#define EVIDENCE_CERT_HEADER "X-Cocoon-Worker-Cert"
#define EVIDENCE_MODEL_HEADER "X-Cocoon-Model"
#define EVIDENCE_MODEL_MAX 255

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
/* {"evidence":"<base64>"} appended to out. */
MUST_CHECK err_t evidence_debug_json(const uint8_t sig[ED25519_SIG_LEN], buf *out);
/* Reads the signature back from worker_debug: ERR_NOT_FOUND when absent, ERR_MALFORMED when
 * present but not a base64 64-byte signature. */
MUST_CHECK err_t evidence_from_debug(const uint8_t *json, size_t len, uint8_t sig[ED25519_SIG_LEN]);

#endif
