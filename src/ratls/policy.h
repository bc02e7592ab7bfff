/* Who we accept on the other end of an RA-TLS channel.
 *
 * A policy is evaluated against what a verified certificate proved (ratls_peer). Quote
 * signatures are checked against the pinned roots (public keys, never names); the lists
 * below narrow what an accepted TD may be. An empty list means "any". */
#ifndef COCOON_RATLS_POLICY_H
#define COCOON_RATLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "base/err.h"

#define RATLS_MAX_LIST 256
#define RATLS_MAX_ROOTS 8
#define RATLS_MAX_COLLATERAL 8

typedef struct {
    /* true: the peer must present a TDX quote (the `tdx` policy). false: a plain self-signed
     * Ed25519 certificate is accepted (the `any` policy of the proxy's client port); a quote
     * that is present is still fully checked. */
    bool require_tdx;
    /* The reference accepts TDs with ATTRIBUTES.DEBUG; we do not, unless told so. */
    bool allow_debug;
    /* Pinned attestation roots as raw P-256 public keys X‖Y (Intel's, or a fake CA's). */
    size_t nroots;
    uint8_t roots[RATLS_MAX_ROOTS][64];
    size_t nimage;
    uint8_t (*image_hashes)[32];
    size_t nmrtd;
    uint8_t (*mrtds)[48];
    size_t nrtmr;
    uint8_t (*rtmrs)[4][48];
    /* Longest certificate lifetime accepted (seconds); 0 means the default of 24 h. */
    uint32_t max_validity;
    /* Collateral for the full DCAP evaluation of attested peers (TCB level, QE identity,
     * CRLs), one set per platform family (FMSPC); borrowed, must outlive the policy's users.
     * With require_collateral, an attested peer is accepted only once a set covering its
     * platform evaluates to a status `dcap` accepts (default: UpToDate only). */
    size_t ncoll;
    const collateral *coll[RATLS_MAX_COLLATERAL];
    bool require_collateral;
    dcap_policy dcap;
} ratls_policy;

/* What a verified certificate proved about its holder. */
typedef struct {
    uint8_t pubkey[32];
    bool attested; /* carried a quote that verified */
    int64_t not_before;
    int64_t not_after;
    uint8_t image_hash[32];
    uint8_t mrtd[48];
    uint8_t rtmr[4][48];
    uint8_t root_key_id[48];
    uint64_t td_attributes;
    /* Set by ratls_verify_collateral: Intel's TCB status of the peer's platform and the time
     * until which that verdict holds (0 when no collateral was evaluated). */
    int tcb_status;
    int64_t tcb_expiry;
    /* The RATLS_CLAIM_EVIDENCE_KEY record, when the certificate carries one. */
    bool has_evidence_key;
    uint8_t evidence_key[32];
} ratls_peer;

/* The full DCAP evaluation of an attested peer's quote (the part that needs collateral, and
 * may need fetching it: run it off the loop thread). ERR_OK when the policy has no collateral
 * and does not require it. Otherwise tries each collateral set until one covers the
 * platform, then applies p->dcap. Errors: those of dcap_verify / dcap_policy_check, and
 * ERR_COLLATERAL_MISMATCH when no set covers the platform. Verdicts are remembered per quote
 * until their expiry. */
MUST_CHECK err_t ratls_verify_collateral(const ratls_policy *p, const uint8_t *qdata, size_t len,
                                         int64_t now, ratls_peer *peer);
/* Does this policy want ratls_verify_collateral run for attested peers? */
bool ratls_policy_wants_collateral(const ratls_policy *p);

/* require_tdx, Intel root pinned, nothing else allowed-listed. */
void ratls_policy_init(ratls_policy *p);
void ratls_policy_cleanup(ratls_policy *p);
MUST_CHECK err_t ratls_policy_add_root(ratls_policy *p, const uint8_t pub[64]);
MUST_CHECK err_t ratls_policy_add_image(ratls_policy *p, const uint8_t hash[32]);
MUST_CHECK err_t ratls_policy_add_mrtd(ratls_policy *p, const uint8_t mrtd[48]);
MUST_CHECK err_t ratls_policy_add_rtmrs(ratls_policy *p, const uint8_t rtmr[4][48]);
MUST_CHECK err_t ratls_policy_add_collateral(ratls_policy *p, const collateral *c);
/* JSON object: {"require_tdx": bool, "allow_debug": bool, "image_hashes": [hex|base64],
 * "mrtd": [hex], "rtmrs": [[hex,hex,hex,hex]], "roots": ["intel" | hex X‖Y], "max_validity_hours":
 * n}. Unknown keys and malformed values are errors (ERR_CONFIG with a detail). When "roots" is
 * given it replaces the default Intel root. */
MUST_CHECK err_t ratls_policy_from_json(ratls_policy *p, const char *json, size_t len);

/* Checks a verified peer against the lists (not the signatures: those were checked when the
 * peer was built). Distinct errors: ERR_NO_QUOTE, ERR_DEBUG_TD, ERR_MRTD_NOT_ALLOWED,
 * ERR_RTMR_NOT_ALLOWED, ERR_IMAGE_NOT_ALLOWED. */
MUST_CHECK err_t ratls_policy_check(const ratls_policy *p, const ratls_peer *peer);

#endif
