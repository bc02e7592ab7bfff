/* DCAP quote parser: arbitrary bytes must parse or fail cleanly. Anything accepted must account
 * for every input byte, keep every borrowed range inside the input, print, hash, and go through
 * signature verification (which parses the embedded PEM/DER chain: hostile X.509) without faults.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/quote.h"
#include "attest/verify.h"

static int inside(const uint8_t *base, size_t size, const uint8_t *p, size_t n) {
    return p >= base && n <= size && (size_t)(p - base) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        if (!devnull) {
            abort();
        }
    }
    quote q;
    if (quote_parse(data, size, &q) != ERR_OK) {
        return 0;
    }
    size_t accounted = q.signed_region.len + 4 + q.sig_data.len + q.trailing;
    if (accounted != size || !inside(data, size, q.sig_data.p, q.sig_data.len) ||
        !inside(data, size, q.quote_sig, 64) || !inside(data, size, q.att_key, 64) ||
        !inside(data, size, q.cert_data.p, q.cert_data.len)) {
        abort();
    }
    if (q.has_qe_report && (!inside(data, size, q.qe_report_raw.p, q.qe_report_raw.len) ||
                            !inside(data, size, q.qe_report_sig, 64) ||
                            !inside(data, size, q.qe_auth_data.p, q.qe_auth_data.len) ||
                            !inside(data, size, q.pck_chain.p, q.pck_chain.len))) {
        abort();
    }
    quote_print(devnull, &q);
    uint8_t ih[32];
    quote_image_hash(&q, ih);
    uint8_t id[48];
    /* 2026-03-01: inside the PCK validity of the cocoon and go-tdx-guest seeds. */
    if (quote_verify_signatures(&q, (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB, 1, 1772323200,
                                id) == ERR_OK) {
        /* Whatever verified must have anchored at the only key pinned. */
        uint8_t want[48];
        attest_root_key_id(ATTEST_INTEL_ROOT_PUB, want);
        if (memcmp(id, want, sizeof(want)) != 0) {
            abort();
        }
    }
    return 0;
}
