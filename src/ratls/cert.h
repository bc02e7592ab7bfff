/* RA-TLS certificates: self-signed Ed25519 X.509 carrying a TD quote.
 *
 * Layout (compatible with the reference, cocoon-internals.md §7.3 and attestation.md §1.11):
 * X.509 v3, 128-bit random serial, validity at most 24 h, critical basicConstraints CA:FALSE,
 * critical keyUsage digitalSignature, critical EKU serverAuth+clientAuth, SAN localhost;
 * critical extension 1.3.6.1.4.1.12345.1 = the raw quote (absent for a client outside any TD);
 * critical extension 1.3.6.1.4.1.12345.2 = user claims (claims.h).
 * The quote's REPORTDATA is SHA-512 of the 32-byte raw public key of the certificate, exactly as
 * the reference computes it, so a quote cannot be moved to another key. */
#ifndef COCOON_RATLS_CERT_H
#define COCOON_RATLS_CERT_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/provider.h"
#include "base/buf.h"
#include "base/err.h"
#include "crypto/ed25519.h"
#include "ratls/claims.h"
#include "ratls/policy.h"

#define RATLS_OID_QUOTE "1.3.6.1.4.1.12345.1"
#define RATLS_OID_CLAIMS "1.3.6.1.4.1.12345.2"
#define RATLS_QUOTE_MAX 32768          /* as the reference caps the quote extension */
#define RATLS_MAX_VALIDITY (24 * 3600) /* seconds */
#define RATLS_CLOCK_SKEW 60            /* seconds a peer clock may run ahead of ours */
#define RATLS_CERT_MAX (RATLS_QUOTE_MAX + RATLS_CLAIMS_MAX + 4096)

/* A certificate and its private key, PEM-encoded, as written to PREFIX_cert.pem/_key.pem. */
typedef struct {
    ed25519_key key;
    buf cert_der;
    int64_t not_before;
    int64_t not_after;
    uint8_t image_hash[32]; /* of the embedded quote; zero without one */
    int has_quote;
} ratls_identity;

void ratls_identity_init(ratls_identity *id);
void ratls_identity_cleanup(ratls_identity *id);

/* Fresh key; asks the provider for a quote over SHA-512(pubkey) (no quote when the provider is
 * NULL or of kind `none`), then builds and self-signs the certificate valid from now for
 * valid_secs (1..24 h). Extra claim records are appended after the key. */
MUST_CHECK err_t ratls_identity_create(ratls_identity *id, attest_provider *prov, int64_t now,
                                       uint32_t valid_secs, const ratls_claim *claims,
                                       size_t nclaims);
MUST_CHECK err_t ratls_identity_save(const ratls_identity *id, const char *cert_path,
                                     const char *key_path);
MUST_CHECK err_t ratls_identity_load(ratls_identity *id, const char *cert_path,
                                     const char *key_path);

/* Builds and self-signs a certificate with exactly these contents (quote and claims may be
 * NULL to leave the extension out). ratls_identity_create uses it; tests use it to build
 * hostile certificates (a quote moved to another key, a lifetime of a year, ...). */
MUST_CHECK err_t ratls_cert_build(const ed25519_key *key, const uint8_t *qbytes, size_t quote_len,
                                  const uint8_t *claims, size_t claims_len, int64_t not_before,
                                  int64_t not_after, buf *der_out);

/* The whole certificate check, as a pure function of the DER bytes, the policy and the time:
 * self-signed Ed25519 only, validity window (with RATLS_CLOCK_SKEW), no unknown critical
 * extension, quote parsed and its signatures verified up to a pinned root, REPORTDATA bound to
 * this certificate's key, then ratls_policy_check. On success *peer describes the holder. */
MUST_CHECK err_t ratls_verify_cert(const uint8_t *der, size_t len, const ratls_policy *pol,
                                   int64_t now, ratls_peer *peer);

/* The same over a certificate OpenSSL has already parsed, for the TLS verify hook only: it
 * does not verify the certificate's self-signature. In TLS 1.3 the peer's CertificateVerify is
 * a signature with the certificate's key over the transcript, which contains these exact
 * certificate bytes (RFC 8446 §4.4.3), and the handshake fails unless it verifies; so the
 * key holder has signed every byte of the certificate either way, and checking the
 * self-signature again would only cost an Ed25519 verification per handshake. The verdict is
 * trusted only once the handshake has completed. Everything else is checked as above. */
MUST_CHECK err_t ratls_verify_x509(X509 *x, const ratls_policy *pol, int64_t now, ratls_peer *peer);

/* Count of quotes whose signatures were verified by this process (for benchmarks). */
uint64_t ratls_quotes_verified(void);

/* PEM helpers for the CLI: certificate PEM file to DER. */
MUST_CHECK err_t ratls_cert_pem_to_der(const uint8_t *pem, size_t len, buf *der);
/* The raw quote extension of a DER certificate (borrowed into *quote, or NULL if absent). */
MUST_CHECK err_t ratls_cert_quote(const uint8_t *der, size_t len, buf *quote);

#endif
