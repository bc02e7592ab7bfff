/* TDX event logs (attestation.md §2.4): the ACPI CCEL table and the TCG PC Client crypto-agile
 * event log it points at, replayed to RTMR0..3 and compared with a quote.
 *
 * Pure functions over bytes. The log borrows from the caller's buffer (event data pointers),
 * which must outlive it. */
#ifndef COCOON_ATTEST_EVENTLOG_H
#define COCOON_ATTEST_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "attest/quote.h"
#include "base/err.h"

#define EVENTLOG_MAX_EVENTS 8192
#define EVENTLOG_MAX_EVENT_DATA ((size_t)1 << 20)
#define EVENTLOG_MAX_ALGS 8

#define EV_NO_ACTION 0x00000003u
#define TPM_ALG_SHA384 0x000cu

typedef struct {
    uint8_t revision;
    uint8_t cc_type; /* 2 = TDX */
    uint8_t cc_subtype;
    uint64_t laml; /* log area minimum length */
    uint64_t lasa; /* log area start address */
} ccel_table;

/* The 56-byte ACPI "CCEL" table: signature, length 56, checksum (all bytes sum to 0 mod 256).
 * ERR_EVENTLOG otherwise. */
MUST_CHECK err_t ccel_table_parse(const uint8_t *p, size_t n, ccel_table *out);

typedef struct {
    uint32_t mr_index; /* CC MR index: 0 MRTD, 1..4 RTMR0..3 */
    uint32_t type;
    uint8_t sha384[48];
    const uint8_t *data;
    size_t data_len;
    size_t offset; /* of the event in the log */
} eventlog_event;

typedef struct {
    size_t nevents; /* TCG_PCR_EVENT2 events after the Spec ID event */
    eventlog_event *events;
    size_t used;         /* bytes of the log area holding events */
    uint8_t rtmr[4][48]; /* replayed */
} eventlog;

/* Parses the crypto-agile log (first a legacy TCG_PCR_EVENT carrying the "Spec ID Event03"
 * with the digest sizes, then TCG_PCR_EVENT2 records, which must each carry a SHA-384
 * digest) up to an all-0xFF or all-zero tail, and replays every event other than EV_NO_ACTION
 * with an RTMR index (1..4): RTMR[idx-1] = SHA-384(RTMR[idx-1] ‖ digest).
 * Errors: ERR_EVENTLOG (detail: offset and field), ERR_TOO_MANY, ERR_TOO_LARGE. */
MUST_CHECK err_t eventlog_parse(const uint8_t *p, size_t n, eventlog *out);
void eventlog_free(eventlog *l);

/* ERR_OK if the replayed RTMR0..3 equal the quote's (TDX quotes only), else ERR_EVENTLOG
 * naming the first register that differs (ERR_NOT_TDX for an SGX quote). */
MUST_CHECK err_t eventlog_check_quote(const eventlog *l, const quote *q);

/* One line per event: index, mr, type, digest, data size; then rtmr0..3. */
void eventlog_print(FILE *f, const eventlog *l);

#endif
