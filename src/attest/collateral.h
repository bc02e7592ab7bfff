/* DCAP collateral: what a verifier needs besides the quote to say whether the platform is up to
 * date (attestation.md §1.7): TCB Info and QE Identity (signed JSON), their issuer chain (TCB
 * Signing cert → root), the root CA CRL and the PCK CA CRL.
 *
 * Signed JSON is kept as the exact bytes received: the signatures cover the raw value of
 * `tcbInfo` / `enclaveIdentity` from its `{` to its matching `}` and the value is never
 * re-serialised (attestation.md §1.7, pitfall 2). Parsed fields are decoded from those bytes.
 *
 * Loaders are pure functions of bytes (the directory loader only reads files); checking the
 * collateral against pinned roots at a time is collateral_check. A collateral object is
 * immutable after loading and may be shared between threads (its check memo is locked).
 */
#ifndef COCOON_ATTEST_COLLATERAL_H
#define COCOON_ATTEST_COLLATERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/x509.h"

/* Limits (checked before allocation). Intel's largest TDX TCB Info has ~20 levels. */
#define COLL_JSON_MAX ((size_t)256 << 10) /* a collateral JSON document or HTTP body */
#define COLL_MAX_LEVELS 128               /* tcbLevels per list */
#define COLL_MAX_MODULE_IDS 16            /* tdxModuleIdentities */
#define COLL_MAX_ADVISORIES 64            /* distinct advisory ids in one collateral set */
#define COLL_ADVISORY_MAX 32              /* characters of one advisory id ("INTEL-SA-00615") */

/* Intel's TCB statuses (TCB Info / QE Identity "tcbStatus"), plus the two TD relaunch results
 * of DCAP (sgx_ql_qv_result_t 0xA009/0xA00A). */
typedef enum {
    TCB_UP_TO_DATE,
    TCB_SW_HARDENING_NEEDED,
    TCB_CONFIGURATION_NEEDED,
    TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    TCB_OUT_OF_DATE,
    TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    TCB_REVOKED,
    TCB_TD_RELAUNCH_ADVISED,
    TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
    TCB_STATUS_COUNT_
} tcb_status;

/* Intel's spelling ("UpToDate", "OutOfDateConfigurationNeeded", ...). */
const char *tcb_status_name(tcb_status s);
/* Exact (case-sensitive) match of Intel's spelling; ERR_COLLATERAL_FORMAT otherwise. */
MUST_CHECK err_t tcb_status_parse(const char *s, tcb_status *out);

/* One platform TCB level of TCB Info (v3). */
typedef struct {
    uint16_t sgx[16];
    uint16_t pcesvn;
    uint16_t tdx[16]; /* zero for SGX TCB Info */
    tcb_status status;
    int64_t date; /* tcbDate, Unix seconds */
    uint64_t adv; /* advisory ids: bit i = collateral_advisory(c, i) */
} coll_tcb_level;

/* One level of a QE identity or a TDX module identity (isvsvn only). */
typedef struct {
    uint16_t isvsvn;
    tcb_status status;
    int64_t date;
    uint64_t adv;
} coll_isv_level;

typedef struct {
    char id[16]; /* "TDX_03" (upper-cased); "" for tcbInfo.tdxModule */
    uint8_t mrsigner[48];
    uint8_t attributes[8];
    uint8_t attributes_mask[8];
    size_t nlevels;
    coll_isv_level levels[COLL_MAX_LEVELS]; /* sorted by isvsvn, descending */
} coll_tdx_module;

typedef struct {
    char id[8]; /* "TDX" or "SGX" */
    int version;
    int64_t issue_date;
    int64_t next_update;
    uint8_t fmspc[6];
    uint8_t pceid[2];
    int tcb_type;
    uint32_t eval_number;
    bool has_module;
    coll_tdx_module module; /* tdxModule */
    size_t nmodule_ids;
    coll_tdx_module module_ids[COLL_MAX_MODULE_IDS];
    size_t nlevels;
    coll_tcb_level levels[COLL_MAX_LEVELS]; /* sorted as Intel's QVL sorts them, best first */
} coll_tcb_info;

typedef struct {
    char id[8]; /* "TD_QE" or "QE" */
    int version;
    int64_t issue_date;
    int64_t next_update;
    uint32_t eval_number;
    uint8_t miscselect[4]; /* as the hex reads, i.e. the big-endian spelling of the u32 */
    uint8_t miscselect_mask[4];
    uint8_t attributes[16];
    uint8_t attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    size_t nlevels;
    coll_isv_level levels[COLL_MAX_LEVELS]; /* sorted by isvsvn, descending */
} coll_qe_identity;

typedef struct collateral collateral;

/* Raw pieces as Intel's services deliver them. Certificate chains are PEM (or DER bundles);
 * CRLs are DER, PEM or a hex string of the DER (PCCS's rootcacrl). tcb_info / qe_identity are
 * the whole HTTP bodies {"tcbInfo":{...},"signature":"<hex>"} / {"enclaveIdentity":...}.
 * pck_crl_chain may be empty (it is informational: the PCK CRL is checked against the PCK CA
 * of the quote's own chain). */
typedef struct {
    const void *tcb_info;
    size_t tcb_info_len;
    const void *tcb_chain;
    size_t tcb_chain_len;
    const void *qe_identity;
    size_t qe_identity_len;
    const void *qe_chain;
    size_t qe_chain_len;
    const void *root_crl;
    size_t root_crl_len;
    const void *pck_crl;
    size_t pck_crl_len;
    const void *pck_crl_chain;
    size_t pck_crl_chain_len;
} collateral_parts;

/* From raw pieces (above). Errors: ERR_COLLATERAL_FORMAT (naming the item and field),
 * ERR_CERT_FORMAT, ERR_CRL_INVALID, ERR_TOO_LARGE, ERR_TOO_MANY. */
MUST_CHECK err_t collateral_from_parts(const collateral_parts *p, collateral **out);
/* From dcap-qvl's QuoteCollateralV3 JSON: pck_crl_issuer_chain, root_ca_crl (hex DER),
 * pck_crl (hex DER), tcb_info_issuer_chain, tcb_info (the raw signed JSON as a string),
 * tcb_info_signature (hex r‖s), qe_identity_issuer_chain, qe_identity, qe_identity_signature.
 * Unknown keys are ignored (newer dcap-qvl versions add some), the nine are required. */
MUST_CHECK err_t collateral_from_json(const void *json, size_t len, collateral **out);
/* Intel's loose files (QVL sample data layout): tcbInfo.json, qeIdentity.json,
 * tcbSignChain.pem, rootCaCrl.der, intermediateCaCrl.der, optional pckSignChain.pem. */
MUST_CHECK err_t collateral_load_dir(const char *dir, collateral **out);
/* A directory (loose files) or a dcap-qvl JSON file. ERR_NOT_FOUND / ERR_IO if unreadable. */
MUST_CHECK err_t collateral_load(const char *path, collateral **out);
/* Writes the dcap-qvl JSON form (the raw signed strings untouched) to out. */
MUST_CHECK err_t collateral_to_json(const collateral *c, buf *out);
void collateral_free(collateral *c);

const coll_tcb_info *collateral_tcb_info(const collateral *c);
const coll_qe_identity *collateral_qe_identity(const collateral *c);
/* Advisory id number i (see coll_tcb_level.adv); NULL past the end. */
const char *collateral_advisory(const collateral *c, size_t i);
/* Root CA CRL and PCK CA CRL, in that order (for quote_verify_signatures_crl). */
const x509_crl *const *collateral_crls(const collateral *c, size_t *n);

/* Checks the collateral itself at `now` (attestation.md §1.7, §1.10):
 *  - the TCB Info and QE Identity issuer chains lead to a pinned root (by key), with the root
 *    CA CRL (revoked TCB Signing cert → ERR_CERT_REVOKED), leaf CN contains "TCB Signing";
 *  - the TCB Info / QE Identity signatures over the raw bytes  → ERR_COLLATERAL_SIG;
 *  - issueDate <= now < nextUpdate for both, thisUpdate <= now < nextUpdate for both CRLs
 *                                                                → ERR_COLLATERAL_EXPIRED.
 * On success *expiry (may be NULL) = the earliest nextUpdate / notAfter among them and
 * *root_index the pinned key used. The verdict is remembered per roots inside its window. */
MUST_CHECK err_t collateral_check(const collateral *c, const uint8_t (*roots)[64], size_t nroots,
                                  int64_t now, int64_t *expiry, size_t *root_index);

/* RFC 3339 UTC "2025-06-19T10:32:27Z" (fraction allowed and dropped) → Unix seconds.
 * ERR_CONFIG-free: returns ERR_COLLATERAL_FORMAT for anything else. */
MUST_CHECK err_t coll_parse_time(const char *s, int64_t *out);

/* Locates the value of top-level member `key` of the JSON object in s[0..n) and returns its
 * exact byte range (for signed JSON). The text must be valid JSON (checked by the caller).
 * ERR_NOT_FOUND if absent, ERR_COLLATERAL_FORMAT if the text is not an object. */
MUST_CHECK err_t coll_json_member_span(const char *s, size_t n, const char *key, size_t *off,
                                       size_t *len);

#endif
