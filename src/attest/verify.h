/* Signature-level verification of DCAP quotes: every check of attestation.md §1.5 that needs no
 * collateral (steps 1, 2 without CRLs, 3, 4 and 6). Real and fake quotes take the same path;
 * only the pinned root keys differ.
 *
 * Not done here (collateral, a later module that runs after this one succeeds): CRLs, QE
 * identity (step 5), TCB evaluation (step 7). Policy (REPORTDATA binding, allow-lists, DEBUG)
 * belongs to the caller.
 */
#ifndef COCOON_ATTEST_VERIFY_H
#define COCOON_ATTEST_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/quote.h"
#include "base/err.h"

#define ATTEST_ROOT_KEY_ID_LEN 48

/* X‖Y of the Intel SGX Root CA key (attestation.md §1.6). */
extern const uint8_t ATTEST_INTEL_ROOT_PUB[64];

/* DCAP's root_key_id (= cocoon's "collateral root hash"): SHA-384(0x04 ‖ X ‖ Y).
 * For Intel's root: 46e403bd…200993. */
void attest_root_key_id(const uint8_t root_pub[64], uint8_t out[ATTEST_ROOT_KEY_ID_LEN]);

/* Verifies, in Intel QVL order:
 *  1. version 3 (SGX) / 4 / 5, ECDSA-P256 attestation key, Intel QE vendor id, certification
 *     data type 6 wrapping type 5 (v4/v5) or type 5 (v3)              → ERR_QUOTE_VERSION
 *  2. the PCK chain from the quote: leaf CN contains "SGX PCK Certificate", leaf → CA → a
 *     self-signed root whose public key is one of roots[0..nroots), all signatures, all
 *     validity periods at `now` (Unix seconds)      → ERR_CERT_FORMAT, ERR_CHAIN_UNTRUSTED,
 *                                                     ERR_CERT_EXPIRED, ERR_CERT_NOT_YET_VALID
 *  3. QE report signature by the PCK leaf key                           → ERR_QE_REPORT_SIG
 *  4. QE_REPORT.REPORTDATA[0:32] == SHA-256(att_key ‖ qe_auth_data)     → ERR_QE_BINDING
 *  5. quote signature over the signed region by the attestation key     → ERR_QUOTE_SIG
 * On success writes the matched root's key id to root_key_id_out (may be NULL). */
MUST_CHECK err_t quote_verify_signatures(const quote *q, const uint8_t (*roots)[64], size_t nroots,
                                         int64_t now, uint8_t root_key_id_out[48]);

/* What the PCK leaf certificate's SGX extension (OID 1.2.840.113741.1.13.1) says about the
 * platform (attestation.md §1.4): the inputs of TCB evaluation. */
#define ATTEST_SGX_EXT_OID "1.2.840.113741.1.13.1"

typedef struct {
    uint8_t fmspc[6];
    uint8_t pceid[2];
    uint8_t cpusvn[16];
    uint16_t comp[16]; /* SGX TCB component SVNs 01..16 */
    uint16_t pcesvn;
    int sgx_type; /* 0 Standard, 1 Scalable, 2 Scalable with integrity; -1 absent */
} attest_pck_info;

/* Decodes the extension value (DER SEQUENCE of {OID, value}). PPID, TCB (all 18 entries),
 * PCE-ID and FMSPC are required exactly once; unknown entries are skipped.
 * ERR_CERT_FORMAT otherwise. Pure function of the bytes. */
MUST_CHECK err_t attest_pck_info_parse(const uint8_t *der, size_t len, attest_pck_info *out);

struct x509_crl;

/* quote_verify_signatures with revocation (DCAP collateral, attestation.md §1.5 step 2, §1.7):
 * the PCK chain must also pass x509_chain_verify_pinned_crl against crls[0..ncrls) (Intel's
 * root CA CRL and the PCK CA CRL) → extra errors ERR_CERT_REVOKED, ERR_CRL_INVALID,
 * ERR_COLLATERAL_EXPIRED. Also decodes the PCK leaf's SGX extension into *pck (may be NULL).
 * ncrls == 0 means "no revocation check" and behaves exactly like quote_verify_signatures.
 * *valid_until (may be NULL) receives the end of the window in which the chain verdict holds:
 * min(certificate notAfter, CRL nextUpdate). */
MUST_CHECK err_t quote_verify_signatures_crl(const quote *q, const uint8_t (*roots)[64],
                                             size_t nroots, const struct x509_crl *const *crls,
                                             size_t ncrls, int64_t now, attest_pck_info *pck,
                                             uint8_t root_key_id_out[48], int64_t *valid_until);

/* Verified PCK chains are remembered within their validity window (see verify.c); on by
 * default. Turning it off makes every call verify the chain (benchmarks, tests). */
void attest_chain_memo_enable(bool on);
uint64_t attest_chain_memo_hits(void);

#endif
