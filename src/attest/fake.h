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

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define FAKE_CA_ROOT_CN "COCOON Fake SGX Root CA"
#define FAKE_CA_PCK_CA_CN "COCOON Fake SGX PCK Platform CA"
#define FAKE_CA_PCK_CN "COCOON Fake SGX PCK Certificate"

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
