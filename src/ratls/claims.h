/* User claims carried in the critical certificate extension 1.3.6.1.4.1.12345.2.
 *
 * Wire format (ours, a superset of the reference): the 32-byte raw Ed25519 public key of the
 * certificate, optionally followed by records {u16 LE tag, u32 LE length, value}. The
 * reference puts exactly the 32-byte key there and ignores the extension when verifying, so
 * reference verifiers accept our certificates either way; the records are covered by the
 * certificate's own signature, which is what binds them (REPORTDATA binds only the key). */
#ifndef COCOON_RATLS_CLAIMS_H
#define COCOON_RATLS_CLAIMS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define RATLS_CLAIMS_MAX 16384
#define RATLS_CLAIM_VALUE_MAX 8192
#define RATLS_CLAIMS_MAX_RECORDS 16

typedef enum {
    RATLS_CLAIM_SOFTWARE = 1, /* UTF-8 software name and version */
    RATLS_CLAIM_GPU = 2,      /* GPU attestation evidence (opaque, verified by its own layer) */
    RATLS_CLAIM_ROLE = 3,     /* "proxy" | "worker" | "client" */
    /* 32-byte X25519 public key for answer evidence MACs (http/evidence.h): a client agrees a
     * key with it and the worker authenticates each answer under that key. */
    RATLS_CLAIM_EVIDENCE_KEY = 4,
} ratls_claim_tag;

typedef struct {
    uint16_t tag;
    const uint8_t *value; /* borrowed from the extension bytes */
    uint32_t len;
} ratls_claim;

typedef struct {
    uint8_t pubkey[32];
    size_t count;
    ratls_claim rec[RATLS_CLAIMS_MAX_RECORDS];
} ratls_claims;

MUST_CHECK err_t ratls_claims_encode(const uint8_t pubkey[32], const ratls_claim *rec, size_t n,
                                     buf *out);
/* Strict: unknown tags are kept (forward compatibility), but each length is bounded, tags
 * may not repeat, and trailing bytes are an error. */
MUST_CHECK err_t ratls_claims_decode(const uint8_t *data, size_t len, ratls_claims *out);
/* The record with this tag, or NULL. */
const ratls_claim *ratls_claims_find(const ratls_claims *c, uint16_t tag);

#endif
