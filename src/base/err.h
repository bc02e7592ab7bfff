/* One error enum for the whole project.
 *
 * Codes are generated from ERR_LIST so that code, category and message stay together.
 * The category tells a caller what to do with a failure:
 *   AGAIN   more input or time is needed; not a failure of the peer
 *   PROTO   the peer (or file) sent bytes that violate a format: drop it
 *   LIMIT   a size/count/rate limit was hit: refuse, do not allocate
 *   ATTEST  an attestation or policy check said no: refuse the peer
 *   CRYPTO  a cryptographic check failed or a primitive errored
 *   IO      the operating system or network failed
 *   STORE   durable state could not be read or written
 *   CONFIG  configuration or command-line usage is wrong: tell the operator
 *   INTERNAL a bug or resource exhaustion on our side
 */
#ifndef COCOON_BASE_ERR_H
#define COCOON_BASE_ERR_H

#include <stdarg.h>

#define MUST_CHECK __attribute__((warn_unused_result))

typedef enum {
    ERRCAT_OK,
    ERRCAT_AGAIN,
    ERRCAT_PROTO,
    ERRCAT_LIMIT,
    ERRCAT_ATTEST,
    ERRCAT_CRYPTO,
    ERRCAT_IO,
    ERRCAT_STORE,
    ERRCAT_CONFIG,
    ERRCAT_INTERNAL,
} err_category_t;

/* X(name, category, message) */
#define ERR_LIST(X)                                                                                \
    X(OK, OK, "success")                                                                           \
    X(AGAIN, AGAIN, "more input needed")                                                           \
    /* formats */                                                                                  \
    X(TRUNCATED, PROTO, "input truncated")                                                         \
    X(TRAILING, PROTO, "unexpected trailing bytes")                                                \
    X(MALFORMED, PROTO, "malformed input")                                                         \
    X(BAD_ENCODING, PROTO, "invalid hex/base64/PEM encoding")                                      \
    X(BAD_CONSTRUCTOR, PROTO, "unexpected TL constructor")                                         \
    X(BAD_PADDING, PROTO, "non-zero TL padding")                                                   \
    X(BAD_SEQNO, PROTO, "frame sequence number out of order")                                      \
    X(BAD_STATE, PROTO, "message not allowed in this connection state")                            \
    X(UNKNOWN_QUERY, PROTO, "answer for an unknown query id")                                      \
    X(REMOTE, PROTO, "peer answered with an error")                                                \
    X(POW_BAD_MAGIC, PROTO, "proof-of-work message has a wrong magic")                             \
    X(POW_INVALID, PROTO, "proof-of-work solution does not meet the difficulty")                   \
    /* limits */                                                                                   \
    X(FRAME_TOO_LARGE, LIMIT, "frame length outside the allowed range")                            \
    X(TOO_LARGE, LIMIT, "value exceeds its size limit")                                            \
    X(TOO_MANY, LIMIT, "count exceeds its limit")                                                  \
    X(BUF_LIMIT, LIMIT, "buffer limit exceeded")                                                   \
    X(POW_TOO_HARD, LIMIT, "proof-of-work difficulty above our maximum")                           \
    /* attestation and policy */                                                                   \
    X(QUOTE_VERSION, ATTEST, "unsupported quote version or type")                                  \
    X(QUOTE_FORMAT, ATTEST, "malformed quote")                                                     \
    X(QUOTE_SIG, ATTEST, "quote signature does not verify")                                        \
    X(QE_REPORT_SIG, ATTEST, "QE report signature does not verify with the PCK key")               \
    X(QE_BINDING, ATTEST, "QE report does not bind the attestation key")                           \
    X(CHAIN_UNTRUSTED, ATTEST, "PCK certificate chain does not lead to the pinned root")           \
    X(NOT_TDX, ATTEST, "quote is not a TDX quote")                                                 \
    X(NO_QUOTE, ATTEST, "peer presented no quote")                                                 \
    X(REPORTDATA_MISMATCH, ATTEST, "quote REPORTDATA is not bound to the certificate key")         \
    X(IMAGE_NOT_ALLOWED, ATTEST, "image hash is not in the allowed list")                          \
    X(MRTD_NOT_ALLOWED, ATTEST, "MRTD is not in the allowed list")                                 \
    X(RTMR_NOT_ALLOWED, ATTEST, "RTMR set is not in the allowed list")                             \
    X(ROOT_NOT_ALLOWED, ATTEST, "attestation root key id is not allowed")                          \
    X(DEBUG_TD, ATTEST, "peer TD has the DEBUG attribute")                                         \
    X(CERT_FORMAT, ATTEST, "malformed certificate")                                                \
    X(CERT_EXPIRED, ATTEST, "certificate has expired")                                             \
    X(CERT_NOT_YET_VALID, ATTEST, "certificate is not yet valid")                                  \
    X(CERT_VALIDITY, ATTEST, "certificate validity period too long")                               \
    X(CERT_KEY_TYPE, ATTEST, "certificate key is not Ed25519")                                     \
    X(CERT_CHAIN_DEPTH, ATTEST, "certificate chain deeper than a single self-signed certificate")  \
    X(NOT_SELF_SIGNED, ATTEST, "certificate is not validly self-signed")                           \
    X(UNKNOWN_CRIT_EXT, ATTEST, "certificate has an unknown critical extension")                   \
    X(PEER_NOT_VERIFIED, ATTEST, "peer attestation has not been verified")                         \
    X(PROVIDER, ATTEST, "quote provider failed")                                                   \
    X(GENERATION_RACE, ATTEST, "configfs-tsm generation changed: concurrent quote request")        \
    X(COLLATERAL_FORMAT, ATTEST, "malformed attestation collateral")                               \
    X(COLLATERAL_SIG, ATTEST, "collateral signature does not verify")                              \
    X(COLLATERAL_EXPIRED, ATTEST, "collateral is expired or not yet valid")                        \
    X(COLLATERAL_MISMATCH, ATTEST, "collateral does not belong to this quote")                     \
    X(CERT_REVOKED, ATTEST, "certificate is revoked")                                              \
    X(CRL_INVALID, ATTEST, "certificate revocation list is missing, invalid or expired")           \
    X(QE_IDENTITY, ATTEST, "QE report does not match the QE identity")                             \
    X(TDX_MODULE, ATTEST, "TDX module identity does not match")                                    \
    X(TCB_NOT_SUPPORTED, ATTEST, "no matching TCB level")                                          \
    X(TCB_STATUS, ATTEST, "TCB status not accepted by policy")                                     \
    X(EVENTLOG, ATTEST, "event log is malformed or does not replay to the quote")                  \
    /* crypto */                                                                                   \
    X(CRYPTO, CRYPTO, "cryptographic operation failed")                                            \
    X(BAD_SIGNATURE, CRYPTO, "signature does not verify")                                          \
    X(BAD_KEY, CRYPTO, "invalid key")                                                              \
    X(AEAD_AUTH, CRYPTO, "authenticated decryption failed")                                        \
    /* io */                                                                                       \
    X(IO, IO, "I/O error")                                                                         \
    X(EOF, IO, "connection closed by peer")                                                        \
    X(TIMEOUT, IO, "timed out")                                                                    \
    X(TLS, IO, "TLS handshake or record error")                                                    \
    X(TLS_VERSION, IO, "peer did not negotiate TLS 1.3")                                           \
    X(CHAIN_API, IO, "TON HTTP API request failed")                                                \
    X(CHAIN_REJECTED, IO, "the chain refused the message")                                         \
    /* store */                                                                                    \
    X(STORE, STORE, "durable storage error")                                                       \
    /* config */                                                                                   \
    X(CONFIG, CONFIG, "invalid configuration")                                                     \
    X(USAGE, CONFIG, "invalid command-line usage")                                                 \
    X(NOT_FOUND, CONFIG, "not found")                                                              \
    /* ours */                                                                                     \
    X(NOMEM, INTERNAL, "out of memory")                                                            \
    X(INTERNAL, INTERNAL, "internal error")

typedef enum {
#define ERR_ENUM_(name, cat, msg) ERR_##name,
    ERR_LIST(ERR_ENUM_)
#undef ERR_ENUM_
        ERR_COUNT_
} err_t;

const char *err_name(err_t e);
const char *err_str(err_t e);
err_category_t err_category(err_t e);
const char *err_category_name(err_category_t c);

/* Record a human-readable detail for the failure being returned (thread-local, last one wins)
 * and return e, so call sites read `return err_fail(ERR_TRUNCATED, "quote body at %zu", off);`. */
err_t err_fail(err_t e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detail recorded by the most recent err_fail on this thread, or "" */
const char *err_detail(void);
void err_clear_detail(void);
/* "message: detail" (or just the message) into a thread-local buffer. */
const char *err_describe(err_t e);

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        err_t try_e_ = (expr);                                                                     \
        if (try_e_ != ERR_OK) {                                                                    \
            return try_e_;                                                                         \
        }                                                                                          \
    } while (0)

#endif
