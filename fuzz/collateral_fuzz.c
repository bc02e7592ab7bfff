/* Collateral JSON loader (dcap-qvl layout), the raw-span scanner it relies on for signed JSON,
 * and the CCEL event log parser: arbitrary bytes load or fail cleanly; anything loaded must
 * round-trip through its JSON form to the same signed bytes and go through collateral_check
 * (hostile X.509 chains and CRLs) without faults. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "attest/eventlog.h"
#include "attest/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t off = 0;
    size_t len = 0;
    if (coll_json_member_span((const char *)data, size, "tcbInfo", &off, &len) == ERR_OK &&
        (off > size || len > size - off)) {
        abort();
    }
    eventlog l;
    if (eventlog_parse(data, size, &l) == ERR_OK) {
        if (l.used > size) {
            abort();
        }
        eventlog_free(&l);
    }
    collateral *c = NULL;
    if (collateral_from_json(data, size, &c) != ERR_OK) {
        return 0;
    }
    buf out;
    buf_init(&out, (size_t)1 << 21);
    if (collateral_to_json(c, &out) == ERR_OK) {
        collateral *c2 = NULL;
        if (collateral_from_json(out.data, out.len, &c2) != ERR_OK) {
            abort(); /* our own output must load again */
        }
        collateral_free(c2);
    }
    buf_free(&out);
    const coll_tcb_info *t = collateral_tcb_info(c);
    int64_t now = t->issue_date + 1;
    err_t e = collateral_check(c, (const uint8_t(*)[64])ATTEST_INTEL_ROOT_PUB, 1, now, NULL, NULL);
    if (e == ERR_OK && (now < t->issue_date || now >= t->next_update)) {
        abort(); /* accepted outside its own window */
    }
    collateral_free(c);
    return 0;
}
