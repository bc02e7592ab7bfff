/* RA-TLS certificate verification over hostile bytes: DER parsing, the extension walk (quote and
 * claims extensions, unknown critical ones), the claims record parser and the quote inside.
 * Anything accepted must name a key and respect the validity limits it was checked against. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratls/cert.h"
#include "ratls/claims.h"
#include "ratls/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The claims decoder on its own. */
    ratls_claims cl;
    if (ratls_claims_decode(data, size, &cl) == ERR_OK) {
        if (size < 32 || cl.count > RATLS_CLAIMS_MAX_RECORDS) {
            abort();
        }
        for (size_t i = 0; i < cl.count; i++) {
            const ratls_claim *r = &cl.rec[i];
            if (r->value < data || r->len > size || (size_t)(r->value - data) > size - r->len) {
                abort();
            }
        }
    }
    /* Whole certificates under both policies; a fixed time inside most seeds' windows. */
    static const int64_t now = 1795600000;
    ratls_policy any;
    ratls_policy_init(&any);
    any.require_tdx = false;
    ratls_peer peer;
    if (ratls_verify_cert(data, size, &any, now, &peer) == ERR_OK) {
        if (peer.not_after < now || peer.not_before > now + RATLS_CLOCK_SKEW ||
            peer.not_after - peer.not_before > RATLS_MAX_VALIDITY + RATLS_CLOCK_SKEW) {
            abort();
        }
    }
    ratls_policy tdx;
    ratls_policy_init(&tdx);
    if (ratls_verify_cert(data, size, &tdx, now, &peer) == ERR_OK && !peer.attested) {
        abort(); /* a TDX policy never accepts an unattested peer */
    }
    buf q;
    buf_init(&q, RATLS_QUOTE_MAX * 2);
    if (ratls_cert_quote(data, size, &q) == ERR_OK && q.len > size) {
        abort(); /* the extension's bytes come from the input */
    }
    buf_free(&q);
    ratls_policy_cleanup(&any);
    ratls_policy_cleanup(&tdx);
    return 0;
}
