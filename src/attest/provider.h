/* Quote providers behind one interface: where this process gets its own TD quote and how it
 * extends its RTMRs.
 *
 *   tdx   Linux configfs-tsm (attestation.md §2.1): mkdir a report entry, check its provider is
 *         "tdx_guest", read generation, write the 64-byte REPORTDATA to inblob, read outblob,
 *         re-read generation (must be exactly +1, else another writer raced us: retried, then
 *         ERR_GENERATION_RACE), rmdir. RTMR extension writes 48 bytes to
 *         <rtmr_dir>/rtmr<N>:sha384 (kernel ≥ 6.16 measurement interface).
 *   fake  fake.h's software TD signed by a local CA (development, tests, CI).
 *   none  development only: no quote at all (ERR_NO_QUOTE); logs a loud warning when opened.
 *
 * A provider serialises its own calls (one mutex), so it may be shared between threads.
 */
#ifndef COCOON_ATTEST_PROVIDER_H
#define COCOON_ATTEST_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define ATTEST_TSM_DEFAULT_DIR "/sys/kernel/config/tsm/report"
#define ATTEST_RTMR_DEFAULT_DIR "/sys/class/misc/tdx_guest/measurements"
#define ATTEST_TSM_DEFAULT_RETRIES 3
#define ATTEST_TSM_MAX_RETRIES 16

typedef enum {
    ATTEST_PROVIDER_NONE,
    ATTEST_PROVIDER_TDX,
    ATTEST_PROVIDER_FAKE,
} attest_provider_kind;

/* "none" | "tdx" | "fake"; ERR_CONFIG otherwise. */
MUST_CHECK err_t attest_provider_kind_parse(const char *s, attest_provider_kind *out);

/* Test seam for the tdx provider: on a real configfs the kernel creates the entry's files on
 * mkdir, produces the quote and bumps generation on the inblob write, and drops the files on
 * rmdir. A test pointing tsm_dir at an ordinary directory emulates those side effects in this
 * hook. NULL in production. A non-OK return aborts the request with that error. */
typedef enum {
    ATTEST_TSM_AFTER_MKDIR,
    ATTEST_TSM_AFTER_INBLOB,
    ATTEST_TSM_BEFORE_RMDIR,
} attest_tsm_event;
typedef err_t (*attest_tsm_hook)(void *arg, attest_tsm_event ev, const char *entry_dir);

typedef struct {
    attest_provider_kind kind;
    /* tdx */
    const char *tsm_dir;  /* NULL: ATTEST_TSM_DEFAULT_DIR */
    const char *rtmr_dir; /* NULL: ATTEST_RTMR_DEFAULT_DIR */
    unsigned tsm_retries; /* attempts after a generation race; 0: default, max 16 */
    attest_tsm_hook tsm_hook;
    void *tsm_hook_arg;
    /* fake */
    const char *fake_ca_dir; /* required for kind fake */
    const char *fake_config; /* JSON measurements (fake.h); NULL: defaults */
    int64_t now;             /* Unix seconds for the fake CA; 0: the wall clock */
} attest_provider_config;

typedef struct attest_provider attest_provider;

/* ERR_CONFIG for a bad config (missing fake_ca_dir, retries > max); errors of fake_ca_open /
 * fake_td_config_load for fake. tdx does not touch the filesystem until the first request. */
MUST_CHECK err_t attest_provider_open(const attest_provider_config *cfg, attest_provider **out);
/* Appends a quote whose REPORTDATA is report_data to quote_out. none: ERR_NO_QUOTE.
 * tdx: ERR_PROVIDER (wrong provider, empty outblob, kernel refusal; detail says which),
 * ERR_GENERATION_RACE, ERR_IO, ERR_TOO_LARGE (outblob > QUOTE_MAX_SIZE). */
MUST_CHECK err_t attest_provider_quote(attest_provider *p, const uint8_t report_data[64],
                                       buf *quote_out);
/* Extends RTMR[idx] (0..3, else ERR_CONFIG) with a SHA-384 digest. none: logged, no effect. */
MUST_CHECK err_t attest_provider_extend_rtmr(attest_provider *p, unsigned idx,
                                             const uint8_t digest[48]);
/* "tdx" | "fake" | "none" */
const char *attest_provider_name(const attest_provider *p);
/* False for none. */
bool attest_provider_has_quotes(const attest_provider *p);
/* The root key a verifier must pin for this provider's quotes: the fake CA's key for fake,
 * NULL otherwise (tdx quotes chain to Intel: pin ATTEST_INTEL_ROOT_PUB). */
const uint8_t *attest_provider_fake_root(const attest_provider *p);
void attest_provider_free(attest_provider *p);

#endif
