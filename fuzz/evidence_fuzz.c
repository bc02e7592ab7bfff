/* Answer evidence as the client reads it from a final info's worker_debug (bytes a worker wrote
 * and a proxy relayed: hostile). Properties: no crash, no leak; an accepted proof is one of the
 * two kinds and survives a round trip through evidence_debug_json unchanged; a MAC never
 * verifies under a key it was not made with. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "http/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    evidence_proof p;
    if (evidence_from_debug(data, size, &p) != ERR_OK) {
        return 0;
    }
    if (p.kind != EVIDENCE_SIGNATURE && p.kind != EVIDENCE_HMAC) {
        __builtin_trap();
    }
    buf b;
    buf_init(&b, 1024);
    evidence_proof q;
    if (evidence_debug_json(&p, &b) != ERR_OK || evidence_from_debug(b.data, b.len, &q) != ERR_OK ||
        q.kind != p.kind || memcmp(q.bytes, p.bytes, sizeof(p.bytes)) != 0) {
        __builtin_trap();
    }
    buf_free(&b);
    if (p.kind == EVIDENCE_HMAC) {
        static const uint8_t key[32] = {1};
        evidence_claim c;
        memset(&c, 0, sizeof(c));
        c.model = "m";
        c.model_len = 1;
        uint8_t tag[EVIDENCE_MAC_LEN];
        if (evidence_mac(key, &c, tag) != ERR_OK) {
            __builtin_trap();
        }
        if (memcmp(tag, p.bytes, EVIDENCE_MAC_LEN) != 0 &&
            evidence_mac_verify(key, &c, p.bytes) == ERR_OK) {
            __builtin_trap();
        }
    }
    return 0;
}
