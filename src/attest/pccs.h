/* PCCS / Intel PCS v4 client: fetches the DCAP collateral of one platform (attestation.md
 * §1.7) over HTTP(S) with libcurl and keeps it in an on-disk cache until its nextUpdate.
 *
 * Endpoints (Intel PCS API v4, which PCCS mirrors):
 *   GET <base>/sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
 *       body: PCK CA CRL; header SGX-PCK-CRL-Issuer-Chain (URL-encoded PEM)
 *   GET <base>/sgx/certification/v4/rootcacrl            (PCCS: hex of the DER)
 *       or Intel's fixed DER URL when <base> is Intel's PCS, which has no such endpoint
 *   GET <base>/{tdx|sgx}/certification/v4/tcb?fmspc=HEX
 *       body: {"tcbInfo":{...},"signature":"..."}; header TCB-Info-Issuer-Chain
 *       (SGX-TCB-Info-Issuer-Chain on older servers)
 *   GET <base>/{tdx|sgx}/certification/v4/qe/identity
 *       body: {"enclaveIdentity":{...},"signature":"..."}; header
 *       SGX-Enclave-Identity-Issuer-Chain
 * The bodies go to collateral_from_parts as received: the signed JSON is never re-serialised.
 *
 * Every collateral handed out (fresh or from the cache) has passed collateral_check against the
 * pinned roots at the client's clock, so a tampered or stale response is refused here and
 * never cached. Cache: one file per (tee, FMSPC, CA) in cache_dir, written atomically, used
 * while now < the set's earliest nextUpdate / notAfter; after that it is fetched again (a
 * stale set is never served). A client is not thread-safe; use one per thread.
 */
#ifndef COCOON_ATTEST_PCCS_H
#define COCOON_ATTEST_PCCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/collateral.h"
#include "attest/quote.h"
#include "base/err.h"

#define PCCS_BODY_MAX COLL_JSON_MAX        /* hard ceiling of one response body */
#define PCCS_HEADER_MAX ((size_t)32 << 10) /* one issuer-chain header, URL-encoded */
#define PCCS_URL_MAX 1024                  /* base URL and root CRL URL */
#define PCCS_CACHE_MAX ((size_t)1 << 20)   /* one cache file */
#define PCCS_TIMEOUT_MS_DEFAULT 10000L

/* Intel serves the root CA CRL at a fixed address (the root certificate's CRL DP). */
#define PCCS_INTEL_PCS_URL "https://api.trustedservices.intel.com"
#define PCCS_INTEL_ROOT_CRL_URL "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

typedef enum { PCCS_TEE_TDX, PCCS_TEE_SGX } pccs_tee;
typedef enum { PCCS_CA_PLATFORM, PCCS_CA_PROCESSOR } pccs_ca;

typedef struct {
    const char *url;          /* base: scheme://host[:port][/prefix]; a trailing
                                 /sgx|tdx/certification/v4[/] is accepted and dropped */
    const char *root_crl_url; /* NULL: see above */
    const char *cache_dir;    /* NULL: no cache; created (0700) if missing */
    const uint8_t (*roots)[64];
    size_t nroots;               /* 0: Intel's root (ATTEST_INTEL_ROOT_PUB) */
    int64_t (*clock)(void *ctx); /* NULL: clock_unix */
    void *clock_ctx;
    long timeout_ms; /* whole request; 0: PCCS_TIMEOUT_MS_DEFAULT */
    size_t max_body; /* 0 or above PCCS_BODY_MAX: PCCS_BODY_MAX */
} pccs_config;

typedef struct pccs_client pccs_client;

/* Copies everything it needs from cfg. ERR_CONFIG for a URL that is not http(s):// or longer
 * than PCCS_URL_MAX; ERR_IO if the cache directory cannot be created. */
MUST_CHECK err_t pccs_new(const pccs_config *cfg, pccs_client **out);
void pccs_free(pccs_client *p);

/* Collateral for one platform, verified by collateral_check at the client's clock.
 * *from_cache (may be NULL) says whether no request was made. Errors: ERR_IO (transport,
 * HTTP status other than 200/404), ERR_NOT_FOUND (404), ERR_TIMEOUT, ERR_TOO_LARGE (body or
 * header over its limit), ERR_COLLATERAL_FORMAT (missing header, malformed body), and every
 * error of collateral_from_parts / collateral_check (ERR_COLLATERAL_SIG for a tampered body,
 * ERR_COLLATERAL_EXPIRED for a stale one). err_detail names the URL or item. */
MUST_CHECK err_t pccs_get(pccs_client *p, pccs_tee tee, const uint8_t fmspc[6], pccs_ca ca,
                          collateral **out, bool *from_cache);

/* What to ask for a quote: TDX or SGX by its TEE type, FMSPC from the PCK leaf's SGX
 * extension, platform/processor from the PCK CA's CN. Pure; nothing is verified here
 * (dcap_verify does that). ERR_QUOTE_VERSION without a PCK chain; ERR_CERT_FORMAT. */
MUST_CHECK err_t pccs_quote_params(const quote *q, pccs_tee *tee, uint8_t fmspc[6], pccs_ca *ca);

/* pccs_quote_params then pccs_get. */
MUST_CHECK err_t pccs_get_for_quote(pccs_client *p, const quote *q, collateral **out,
                                    bool *from_cache);

/* Requests made and cache hits since pccs_new. */
uint64_t pccs_requests(const pccs_client *p);
uint64_t pccs_cache_hits(const pccs_client *p);

#endif
