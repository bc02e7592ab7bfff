/* Intel DCAP quotes: v3 (SGX), v4 (TDX 1.0 or SGX body), v5 (body descriptor, TD 1.0/1.5/SGX).
 *
 * quote_parse is a pure function over untrusted bytes. It only decodes the layout
 * (../shared/reference/attestation.md §1.1–1.3); it proves nothing about who produced the quote.
 * Signature-level checks live in verify.h, collateral/TCB evaluation in a later module.
 *
 * Borrowing: every pointer in `quote` (signed region, signature data, QE report, PEM chain...)
 * points INTO the buffer passed to quote_parse. The caller must keep that buffer alive and
 * unchanged for as long as the quote is used. Fixed-size fields (measurements) are copied.
 */
#ifndef COCOON_ATTEST_QUOTE_H
#define COCOON_ATTEST_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* The kernel's configfs-tsm outblob is capped at 32 KiB, and cocoon caps the RA-TLS quote
 * extension at 32 KiB (tee/cocoon/tdx.cpp MAX_TDX_QUOTE_EXTENSION_SIZE). */
#define QUOTE_MAX_SIZE 32768u

#define QUOTE_HEADER_SIZE 48u
#define QUOTE_SGX_BODY_SIZE 384u
#define QUOTE_TD10_BODY_SIZE 584u
#define QUOTE_TD15_BODY_SIZE 648u
#define QUOTE_V5_DESCRIPTOR_SIZE 6u

#define QUOTE_TEE_SGX 0x00000000u
#define QUOTE_TEE_TDX 0x00000081u
#define QUOTE_ATT_KEY_ECDSA_P256 2u
#define QUOTE_ATT_KEY_ECDSA_P384 3u

/* Certification data types (Intel DCAP "QE Certification Data"). */
#define QUOTE_CERT_PCK_CHAIN 5u /* concatenated PCK cert chain (PEM) */
#define QUOTE_CERT_QE_REPORT 6u /* QE report certification data (wraps a type 5) */

/* Body types (v5 descriptor; v3/v4 map onto them). */
typedef enum {
    QUOTE_BODY_SGX = 1,
    QUOTE_BODY_TD10 = 2,
    QUOTE_BODY_TD15 = 3,
} quote_body_type;

/* Intel's QE vendor id, 939a7233-f79c-4ca9-940a-0db3957f0607. */
extern const uint8_t QUOTE_INTEL_QE_VENDOR_ID[16];

/* SGX enclave report body (384 bytes): the body of SGX quotes and the layout of the QE report. */
typedef struct {
    uint8_t cpusvn[16];
    uint32_t miscselect;
    uint8_t isvextprodid[16];
    uint8_t attributes[16];
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint8_t configid[64];
    uint16_t isvprodid;
    uint16_t isvsvn;
    uint16_t configsvn;
    uint8_t isvfamilyid[16];
    uint8_t report_data[64];
} quote_sgx_report;

/* TD report body, 584 bytes (TD 1.0) or 648 bytes (TD 1.5: + tee_tcb_svn2, mrservicetd). */
typedef struct {
    uint8_t tee_tcb_svn[16];
    uint8_t mrseam[48];
    uint8_t mrsignerseam[48];
    uint64_t seam_attributes;
    uint64_t td_attributes;
    uint64_t xfam;
    uint8_t mrtd[48];
    uint8_t mrconfigid[48];
    uint8_t mrowner[48];
    uint8_t mrownerconfig[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16]; /* zero unless body_type == QUOTE_BODY_TD15 */
    uint8_t mrservicetd[48];  /* zero unless body_type == QUOTE_BODY_TD15 */
} quote_td_report;

/* A byte range borrowed from the parsed buffer. */
typedef struct {
    const uint8_t *p;
    size_t len;
} quote_bytes;

typedef struct {
    /* Header (§1.1). */
    uint16_t version;
    uint16_t att_key_type;
    uint32_t tee_type;
    uint16_t qe_svn;  /* v3 only; reserved (0) in v4/v5 */
    uint16_t pce_svn; /* v3 only */
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];

    /* Body (§1.2). Exactly one of td / sgx is meaningful, chosen by body_type. */
    quote_body_type body_type;
    uint32_t body_size;
    quote_td_report td;
    quote_sgx_report sgx;

    /* Signed region: bytes [0, signed_len) of the input (header [+ v5 descriptor] + body). */
    quote_bytes signed_region;

    /* Signature data (§1.3). */
    quote_bytes sig_data;     /* the whole sig_data_len bytes */
    const uint8_t *quote_sig; /* 64 bytes r‖s over signed_region */
    const uint8_t *att_key;   /* 64 bytes X‖Y */
    uint16_t cert_data_type;  /* outer type: 6 for v4/v5, 5 for v3 */
    quote_bytes cert_data;    /* the outer certification data */
    /* Present (has_qe_report) for v3 and for v4/v5 with outer type 6. */
    bool has_qe_report;
    quote_bytes qe_report_raw;    /* 384 bytes, as signed by the PCK key */
    quote_sgx_report qe_report;   /* the same, decoded */
    const uint8_t *qe_report_sig; /* 64 bytes r‖s */
    quote_bytes qe_auth_data;
    uint16_t pck_cert_type; /* inner certification data type (5 = PCK chain) */
    quote_bytes pck_chain;  /* its bytes (PEM, including Intel's trailing NUL) */

    size_t trailing; /* bytes after the signature data (tolerated: real quotes carry padding) */
} quote;

/* Parses len bytes. ERR_TOO_LARGE above QUOTE_MAX_SIZE; ERR_QUOTE_VERSION for an unknown
 * version/TEE/body type; ERR_QUOTE_FORMAT for anything truncated or inconsistent (err_detail
 * says where). On failure *q is unspecified. */
MUST_CHECK err_t quote_parse(const uint8_t *data, size_t len, quote *q);

bool quote_is_tdx(const quote *q);
/* TDATTRIBUTES bit 0 (DEBUG): the host can read and write the TD's memory. */
bool quote_td_debug(const quote *q);

/* The reference image hash (cocoon-internals §7.2): TDX = SHA-256(MRTD ‖ MRCONFIGID ‖ MROWNER ‖
 * MROWNERCONFIG ‖ RTMR0..3 ‖ 64 zero bytes); SGX = SHA-256(MRENCLAVE ‖ 64 zero bytes). */
void quote_image_hash(const quote *q, uint8_t out[32]);

/* `key: value` lines, lowercase hex (the `cocoon attest show` output). */
void quote_print(FILE *f, const quote *q);

#endif
