/* Full DCAP-equivalent quote verification (attestation.md §1.5–1.10): signatures, PCK chain
 * pinned by key with CRLs, collateral (issuer chains, signatures over raw bytes, validity at
 * `now`), QE identity, TDX module identity, TCB level → Intel's status; then a policy that
 * says which statuses (and advisories) are acceptable. Same path for real and fake quotes;
 * only the pinned roots differ. */
#ifndef COCOON_ATTEST_DCAP_H
#define COCOON_ATTEST_DCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "attest/collateral.h"
#include "attest/quote.h"
#include "attest/tcb.h"
#include "attest/verify.h"

typedef struct {
    tcb_result tcb;
    attest_pck_info pck;
    uint8_t root_key_id[ATTEST_ROOT_KEY_ID_LEN];
    /* Earliest expiry of everything the verdict rests on (certificates, CRLs, TCB info, QE
     * identity): a cached verdict must not outlive it (Intel's earliest_expiration_date). */
    int64_t expiry;
} dcap_result;

/* In order: collateral_check (collateral errors), quote_verify_signatures_crl with the
 * collateral's CRLs (quote, chain, revocation errors), tcb_evaluate (identity/TCB errors).
 * ERR_OK means Intel would return a *status*; whether it is acceptable is dcap_policy's call. */
MUST_CHECK err_t dcap_verify(const quote *q, const collateral *c, const uint8_t (*roots)[64],
                             size_t nroots, int64_t now, dcap_result *out);

typedef struct {
    uint32_t statuses;     /* bit (1u << tcb_status) per accepted status; 0 = UpToDate only */
    bool check_advisories; /* when true every advisory of the result must be listed below */
    const char *const *advisories;
    size_t nadvisories;
} dcap_policy;

/* Cocoon's rule (attestation.md §1.9 "acceptance rule"): UpToDate only, advisories ignored. */
#define DCAP_POLICY_DEFAULT ((dcap_policy){0})

/* ERR_OK when the policy accepts r; ERR_TCB_STATUS naming the status or advisory otherwise. */
MUST_CHECK err_t dcap_policy_check(const dcap_policy *p, const dcap_result *r, const collateral *c);
/* Comma-separated Intel status names ("UpToDate,SWHardeningNeeded") into p->statuses. */
MUST_CHECK err_t dcap_policy_parse_statuses(const char *list, dcap_policy *p);

/* The result's advisory ids, sorted, comma-separated ("" if none). ERR_TOO_LARGE if cap is
 * too small. */
MUST_CHECK err_t dcap_advisories(const dcap_result *r, const collateral *c, char *out, size_t cap);

/* `key: value` lines: status, platform_status, qe_status, module_status, advisories, tcb_date,
 * fmspc, pceid, root_key_id, collateral_expiry (RFC 3339). */
void dcap_result_print(FILE *f, const dcap_result *r, const collateral *c);
/* Unix seconds → "2025-06-19T10:32:27Z" (out holds 21 bytes). */
void dcap_format_time(int64_t t, char out[21]);
/* RFC 3339 ("2025-06-19T10:32:27Z", also "+00:00") → Unix seconds; ERR_CONFIG otherwise. */
MUST_CHECK err_t dcap_parse_time(const char *s, int64_t *out);

#endif
