/* A software TD and the CA that stands in for Intel's, for development and tests.
 *
 * fake_td emits quotes in the exact TDX v4 binary layout (attestation.md §1.1–1.3): header with
 * Intel's QE vendor id, TD report 1.0 body, ECDSA-P256 quote signature by a fresh attestation
 * key, a QE report whose REPORTDATA binds that key and the QE auth data, the QE report signed by
 * a PCK leaf key, and certification data type 6 wrapping type 5 with a PEM chain
 * "COCOON Fake SGX PCK Certificate" → "COCOON Fake SGX PCK Platform CA" → "COCOON Fake SGX Root
 * CA" (with Intel's trailing NUL counted). Such quotes go through quote_parse and
 * quote_verify_signatures unchanged; they verify only when fake_ca_root_pub() is pinned.
 *
 * The CA lives in a directory (root/ca/pck key and certificate PEM files, keys mode 0600),
 * created on first use and reloaded afterwards. Creation builds the directory under a temporary
 * name and renames it into place, so concurrent first users never see a partial CA: one
 * wins, the others load the winner's.
 */
#ifndef COCOON_ATTEST_FAKE_H
#define COCOON_ATTEST_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define FAKE_CA_ROOT_CN "COCOON Fake SGX Root CA"
#define FAKE_CA_PCK_CA_CN "COCOON Fake SGX PCK Platform CA"
#define FAKE_CA_PCK_CN "COCOON Fake SGX PCK Certificate"
#define FAKE_CA_TCB_SIGNING_CN "COCOON Fake SGX TCB Signing"

/* What the fake PCK certificate's SGX extension says (attestation.md §1.4): FMSPC c0c0a0000000,
 * PCE-ID 0000, every SGX TCB component SVN 2, PCESVN 13. */
#define FAKE_FMSPC_HEX "C0C0A0000000"
#define FAKE_FMSPC_BYTES                                                                           \
    { 0xc0, 0xc0, 0xa0, 0x00, 0x00, 0x00 }
#define FAKE_PCK_COMP_SVN 2
#define FAKE_PCK_PCESVN 13

typedef struct fake_ca fake_ca;

/* Opens (creating if absent) the CA in `dir`; `now` (Unix seconds) sets the validity of newly
 * created certificates (from now-1 day; root and CA 20 years, PCK 10 years) and is the time at
 * which a loaded CA must still be valid. Errors: ERR_STORE (unreadable/inconsistent directory),
 * ERR_IO, ERR_CERT_EXPIRED. */
MUST_CHECK err_t fake_ca_open(const char *dir, int64_t now, fake_ca **out);
/* X‖Y of the fake root: the key to pin instead of ATTEST_INTEL_ROOT_PUB. */
const uint8_t *fake_ca_root_pub(const fake_ca *ca);
void fake_ca_free(fake_ca *ca);

/* Measurements of the fake TD (binary, as in the quote body). */
typedef struct {
    uint8_t tee_tcb_svn[16];
    uint8_t mrseam[48];
    uint8_t mrsignerseam[48];
    uint64_t td_attributes;
    uint64_t xfam;
    uint8_t mrtd[48];
    uint8_t mrconfigid[48];
    uint8_t mrowner[48];
    uint8_t mrownerconfig[48];
    uint8_t rtmr[4][48];
} fake_td_config;

/* All zero except td_attributes = SEPT_VE_DISABLE (0x10000000) and xfam = 0x602e7, the
 * values of a production cocoon TD. */
void fake_td_config_default(fake_td_config *c);
/* JSON object, every key optional, values hex strings of the exact field size with the same
 * spelling `cocoon attest show` prints (td_attributes/xfam: 8 raw little-endian bytes):
 *   {"mrtd": "<96 hex>", "rtmr0": "<96 hex>", "td_attributes": "0000001000000000", ...}
 * Keys: tee_tcb_svn mrseam mrsignerseam td_attributes xfam mrtd mrconfigid mrowner
 * mrownerconfig rtmr0 rtmr1 rtmr2 rtmr3. Unknown keys, duplicates, non-strings and wrong
 * lengths are ERR_CONFIG with the key named in err_detail. Starts from the defaults. */
MUST_CHECK err_t fake_td_config_parse(const char *json, size_t len, fake_td_config *c);
/* The same from a file (at most 64 KiB). */
MUST_CHECK err_t fake_td_config_load(const char *path, fake_td_config *c);

/* ---- collateral for fake quotes ----
 *
 * The fake CA also issues what Intel's PCS would serve (attestation.md §1.7), so fake quotes go
 * through the same full evaluation (dcap.h): a TCB Signing certificate issued by the fake root,
 * TCB info / QE identity signed by it over their raw bytes, a root CA CRL and a PCK CA CRL.
 * The result is dcap-qvl's collateral JSON (collateral_from_json reads it). */
typedef struct {
    const char *tcb_info;    /* raw tcbInfo JSON to sign; NULL: fake_tcb_info_json's */
    const char *qe_identity; /* raw enclaveIdentity JSON; NULL: fake_qe_identity_json's */
    bool revoke_pck;         /* list the PCK certificate in the PCK CA CRL */
    bool revoke_pck_ca;      /* list the PCK CA in the root CA CRL */
    bool revoke_tcb_signer;  /* list the TCB Signing certificate in the root CA CRL */
    int64_t crl_this_update; /* 0: now - 1 hour */
    int64_t crl_next_update; /* 0: now + 30 days */
} fake_collateral_opts;

/* The default TCB info for fake quotes: issueDate now-1h, nextUpdate now+30d, FMSPC/PCE-ID of
 * the fake PCK certificate, level 0 (SGX comps 2, PCESVN 13, TDX comps 0) UpToDate, level 1
 * (1, 5, 0) OutOfDate with advisory INTEL-SA-00000, tdxModule with a zero MRSIGNER and
 * identities TDX_01..TDX_03 (isvsvn 0 UpToDate). Appended to out. */
MUST_CHECK err_t fake_tcb_info_json(int64_t now, buf *out);
/* The default TD_QE identity matching fake_td's QE report (ISVSVN 4 UpToDate). */
MUST_CHECK err_t fake_qe_identity_json(int64_t now, buf *out);
/* Issues a collateral set at `now` (opts may be NULL) and appends its JSON to out. */
MUST_CHECK err_t fake_ca_collateral(const fake_ca *ca, int64_t now,
                                    const fake_collateral_opts *opts, buf *out);

typedef struct fake_td fake_td;

/* A fake TD with a fresh attestation key certified by the CA's PCK key. Not thread-safe. */
MUST_CHECK err_t fake_td_new(const fake_ca *ca, const fake_td_config *cfg, fake_td **out);
/* Appends one quote (v4, TD 1.0 body) carrying report_data to out. */
MUST_CHECK err_t fake_td_quote(fake_td *td, const uint8_t report_data[64], buf *out);
/* RTMR[idx] = SHA-384(RTMR[idx] ‖ digest), idx 0..3; ERR_CONFIG for another index. */
MUST_CHECK err_t fake_td_extend_rtmr(fake_td *td, unsigned idx, const uint8_t digest[48]);
/* Current RTMR[idx] value (idx 0..3). */
void fake_td_rtmr(const fake_td *td, unsigned idx, uint8_t out[48]);
void fake_td_free(fake_td *td);

#endif
