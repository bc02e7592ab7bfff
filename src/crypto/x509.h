/* X.509 for attestation: parsing certificate bundles (PEM or concatenated DER), verifying a
 * chain up to a root pinned by its P-256 PUBLIC KEY (never by name), issuing P-256 certificates
 * (the fake CA that stands in for Intel's), and PEM import/export of P-256 private keys.
 *
 * Certificates here are the ECDSA P-256 ones of Intel's SGX PKI; keys cross this API in the raw
 * X‖Y form of ecdsa.h. RA-TLS's Ed25519 self-signed certificates are not handled here.
 */
#ifndef COCOON_CRYPTO_X509_H
#define COCOON_CRYPTO_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ecdsa.h"

/* A bundle never needs more: Intel's PCK chain has 3 certificates. */
#define X509_CHAIN_MAX_CERTS 8
/* Longest subject CN we report (RFC 5280 ub-common-name is 64). */
#define X509_CN_MAX 64

typedef struct x509_cert x509_cert;
typedef struct x509_chain x509_chain;

/* One certificate from PEM (exactly one CERTIFICATE block). ERR_CERT_FORMAT otherwise. */
MUST_CHECK err_t x509_cert_from_pem(const void *pem, size_t len, x509_cert **out);
MUST_CHECK err_t x509_cert_to_pem(const x509_cert *c, buf *out);
/* The subject public key as raw X‖Y; ERR_BAD_KEY unless it is an uncompressed P-256 key. */
MUST_CHECK err_t x509_cert_p256_pub(const x509_cert *c, uint8_t out[P256_PUB_LEN]);
/* The subject commonName, NUL-terminated ("" if absent). ERR_CERT_FORMAT if longer than
 * X509_CN_MAX or not valid UTF-8 text without NULs. */
MUST_CHECK err_t x509_cert_subject_cn(const x509_cert *c, char out[X509_CN_MAX + 1]);
/* notBefore / notAfter in Unix seconds. */
MUST_CHECK err_t x509_cert_validity(const x509_cert *c, int64_t *not_before, int64_t *not_after);
void x509_cert_free(x509_cert *c);

/* Parses a bundle: PEM CERTIFICATE blocks (Intel's quote format; a trailing NUL and
 * whitespace are allowed after the last one) or concatenated DER certificates (as in Intel's
 * QVL sample data). ERR_CERT_FORMAT for anything else, ERR_TOO_MANY past X509_CHAIN_MAX_CERTS,
 * ERR_TOO_LARGE past 64 KiB. */
MUST_CHECK err_t x509_chain_parse(const void *data, size_t len, x509_chain **out);
size_t x509_chain_count(const x509_chain *ch);
/* Certificate i in bundle order (borrowed; valid until x509_chain_free). */
const x509_cert *x509_chain_get(const x509_chain *ch, size_t i);
/* The end-entity: the only certificate that is not self-issued and issued none of the others
 * (by name); a bundle of one is its own end-entity. NULL when there is no unique such one. */
const x509_cert *x509_chain_leaf(const x509_chain *ch);

/* Verifies leaf → intermediates → root where the root is a self-signed certificate in the
 * bundle whose public key equals one of roots[0..nroots) (X‖Y). Signatures, validity at `now`
 * (Unix seconds) for every certificate, CA flags and path length are checked (OpenSSL
 * X509_verify_cert, X509_STRICT). No CRLs yet (collateral: a later module).
 * Errors: ERR_CERT_FORMAT (no unique leaf), ERR_CHAIN_UNTRUSTED (no pinned root, bad
 * signature, broken path), ERR_CERT_EXPIRED, ERR_CERT_NOT_YET_VALID. On success *root_index
 * says which pinned key anchored the chain. */
MUST_CHECK err_t x509_chain_verify_pinned(const x509_chain *ch, const uint8_t (*roots)[64],
                                          size_t nroots, int64_t now, size_t *root_index);
void x509_chain_free(x509_chain *ch);

/* ---- certificate revocation lists (DCAP collateral: Intel root CA CRL, PCK CA CRL) ---- */

typedef struct x509_crl x509_crl;

/* One CRL, DER or PEM ("X509 CRL"), at most 1 MiB (Intel's PCK CRLs are a few KiB).
 * ERR_CRL_INVALID if it does not decode, ERR_TOO_LARGE above the limit. */
MUST_CHECK err_t x509_crl_parse(const void *data, size_t len, x509_crl **out);
/* thisUpdate / nextUpdate in Unix seconds; ERR_CRL_INVALID when nextUpdate is absent (Intel's
 * CRLs always carry it and DCAP treats it as the CRL's expiry). */
MUST_CHECK err_t x509_crl_times(const x509_crl *c, int64_t *this_update, int64_t *next_update);
/* SHA-256 of the CRL's DER encoding (identifies it in caches). */
void x509_crl_fingerprint(const x509_crl *c, uint8_t out[32]);
/* The DER encoding, appended to out. */
MUST_CHECK err_t x509_crl_to_der(const x509_crl *c, buf *out);
void x509_crl_free(x509_crl *c);

/* x509_chain_verify_pinned plus revocation: every certificate of the path (the pinned root
 * included, as Intel QVL does) must be covered by a CRL from crls[] issued and signed by its
 * issuer, valid at `now`, that does not list it (X509_V_FLAG_CRL_CHECK_ALL).
 * Extra errors: ERR_CERT_REVOKED, ERR_CRL_INVALID (no CRL for a certificate, bad CRL
 * signature), ERR_COLLATERAL_EXPIRED (a CRL past its nextUpdate or before its thisUpdate). */
MUST_CHECK err_t x509_chain_verify_pinned_crl(const x509_chain *ch, const uint8_t (*roots)[64],
                                              size_t nroots, const x509_crl *const *crls,
                                              size_t ncrls, int64_t now, size_t *root_index);

/* The raw value (contents of the extnValue OCTET STRING) of the extension with the dotted
 * OID `oid`, appended to out. ERR_NOT_FOUND if absent, ERR_CERT_FORMAT if present twice. */
MUST_CHECK err_t x509_cert_ext_value(const x509_cert *c, const char *oid, buf *out);
/* The DER encoding of a certificate, appended to out. */
MUST_CHECK err_t x509_cert_to_der(const x509_cert *c, buf *out);

/* Issues a CRL signed by issuer_key (whose certificate is `issuer`) listing the serial numbers
 * of revoked[0..nrevoked) (fake CA collateral and tests). */
typedef struct {
    const x509_cert *issuer;
    const p256_key *issuer_key;
    int64_t this_update;
    int64_t next_update;
    const x509_cert *const *revoked;
    size_t nrevoked;
} x509_crl_issue_params;

MUST_CHECK err_t x509_crl_issue(const x509_crl_issue_params *p, x509_crl **out);

/* Issuing certificates (fake CA). Serial: 16 random bytes. Extensions: basicConstraints
 * (critical), keyUsage (critical: keyCertSign+cRLSign for a CA, digitalSignature+
 * nonRepudiation otherwise), subjectKeyIdentifier, authorityKeyIdentifier, and an optional
 * extra non-critical extension given as OID text + DER value. */
typedef struct {
    const char *cn;
    const char *org;            /* may be NULL */
    const uint8_t *subject_pub; /* 64 bytes X‖Y */
    const x509_cert *issuer;    /* NULL: self-signed by issuer_key (must match subject_pub) */
    const p256_key *issuer_key;
    int64_t not_before;
    int64_t not_after;
    bool ca;
    int pathlen;         /* < 0: no pathLenConstraint */
    const char *ext_oid; /* NULL: none */
    const uint8_t *ext_der;
    size_t ext_der_len;
} x509_issue_params;

MUST_CHECK err_t x509_cert_issue(const x509_issue_params *p, x509_cert **out);

/* PKCS#8 PEM ("PRIVATE KEY") of a P-256 key; the caller wipes/frees the buffer. */
MUST_CHECK err_t x509_p256_key_to_pem(const p256_key *k, buf *out);
/* ERR_BAD_KEY unless pem holds exactly a P-256 private key. */
MUST_CHECK err_t x509_p256_key_from_pem(const void *pem, size_t len, p256_key *k);

#endif
