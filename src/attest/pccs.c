/* PCCS / PCS v4 client with an on-disk cache (pccs.h). */
#include "attest/pccs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "attest/verify.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/cur.h"
#include "base/file.h"
#include "crypto/x509.h"

/* Cache file: magic, i64le expiry, then the seven parts as u32le length + bytes. */
static const uint8_t CACHE_MAGIC[8] = {'C', 'P', 'C', 'C', 'S', '1', 0, 0};
enum {
    PART_TCB,
    PART_TCB_CHAIN,
    PART_QE,
    PART_QE_CHAIN,
    PART_ROOT_CRL,
    PART_PCK_CRL,
    PART_PCK_CRL_CHAIN,
    PART_COUNT
};

struct pccs_client {
    char url[PCCS_URL_MAX + 1];
    char root_crl_url[PCCS_URL_MAX + 64]; /* base + "/sgx/certification/v4/rootcacrl" */
    char *cache_dir;
    uint8_t (*roots)[64];
    size_t nroots;
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    long timeout_ms;
    size_t max_body;
    uint64_t requests;
    uint64_t hits;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool has_prefix(const char *s, const char *p) {
    return strncmp(s, p, strlen(p)) == 0;
}

static bool strip_suffix(char *s, const char *suf) {
    size_t n = strlen(s);
    size_t m = strlen(suf);
    if (n >= m && strcmp(s + n - m, suf) == 0) {
        s[n - m] = '\0';
        return true;
    }
    return false;
}

static err_t check_url(const char *u, const char *what) {
    if (!u || !(has_prefix(u, "http://") || has_prefix(u, "https://"))) {
        return err_fail(ERR_CONFIG, "%s must start with http:// or https://", what);
    }
    if (strlen(u) > PCCS_URL_MAX) {
        return err_fail(ERR_CONFIG, "%s longer than %d characters", what, PCCS_URL_MAX);
    }
    for (const char *c = u; *c; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            return err_fail(ERR_CONFIG, "%s contains a space or a control character", what);
        }
    }
    return ERR_OK;
}

err_t pccs_new(const pccs_config *cfg, pccs_client **out) {
    *out = NULL;
    err_t e = check_url(cfg->url, "PCCS URL");
    if (e != ERR_OK) {
        return e;
    }
    if (cfg->root_crl_url && (e = check_url(cfg->root_crl_url, "root CA CRL URL")) != ERR_OK) {
        return e;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        return err_fail(ERR_INTERNAL, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    }
    pccs_client *p = calloc(1, sizeof(*p));
    if (!p) {
        return ERR_NOMEM;
    }
    snprintf(p->url, sizeof(p->url), "%s", cfg->url);
    /* Accept the forms people paste (dcap-qvl does the same normalisation). */
    strip_suffix(p->url, "/");
    if (!strip_suffix(p->url, "/sgx/certification/v4")) {
        strip_suffix(p->url, "/tdx/certification/v4");
    }
    if (cfg->root_crl_url) {
        snprintf(p->root_crl_url, sizeof(p->root_crl_url), "%s", cfg->root_crl_url);
    } else if (has_prefix(p->url, PCCS_INTEL_PCS_URL)) {
        /* Intel's PCS has no rootcacrl endpoint; the CRL lives at the root's CRL DP. */
        snprintf(p->root_crl_url, sizeof(p->root_crl_url), "%s", PCCS_INTEL_ROOT_CRL_URL);
    } else if (snprintf(p->root_crl_url, sizeof(p->root_crl_url),
                        "%s/sgx/certification/v4/rootcacrl",
                        p->url) >= (int)sizeof(p->root_crl_url)) {
        e = err_fail(ERR_CONFIG, "PCCS URL too long");
        goto out;
    }
    size_t nroots = cfg->nroots ? cfg->nroots : 1;
    p->roots = calloc(nroots, 64);
    if (!p->roots) {
        e = ERR_NOMEM;
        goto out;
    }
    if (cfg->nroots) {
        memcpy(p->roots, cfg->roots, nroots * 64);
    } else {
        memcpy(p->roots[0], ATTEST_INTEL_ROOT_PUB, 64);
    }
    p->nroots = nroots;
    p->clock = cfg->clock;
    p->clock_ctx = cfg->clock_ctx;
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : PCCS_TIMEOUT_MS_DEFAULT;
    p->max_body = cfg->max_body && cfg->max_body < PCCS_BODY_MAX ? cfg->max_body : PCCS_BODY_MAX;
    if (cfg->cache_dir) {
        if (!(p->cache_dir = strdup(cfg->cache_dir))) {
            e = ERR_NOMEM;
            goto out;
        }
        if (mkdir(p->cache_dir, 0700) != 0 && errno != EEXIST) {
            e = err_fail(ERR_IO, "cannot create cache directory %s: %s", p->cache_dir,
                         strerror(errno));
            goto out;
        }
    }
    *out = p;
    p = NULL;
out:
    pccs_free(p);
    return e;
}

void pccs_free(pccs_client *p) {
    if (!p) {
        return;
    }
    free(p->roots);
    free(p->cache_dir);
    free(p);
}

uint64_t pccs_requests(const pccs_client *p) {
    return p->requests;
}

uint64_t pccs_cache_hits(const pccs_client *p) {
    return p->hits;
}

static int64_t now_of(const pccs_client *p) {
    return p->clock ? p->clock(p->clock_ctx) : clock_unix();
}

/* ---- HTTP ---- */

typedef struct {
    buf body;
    const char *const *want; /* header names to capture, first present wins */
    size_t nwant;
    size_t got_rank; /* index in want of the captured header; nwant = none */
    buf header;
    bool header_too_large;
    bool body_too_large;
} http_resp;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    http_resp *r = ud;
    size_t n = size * nmemb;
    if (n > r->body.max - r->body.len) {
        r->body_too_large = true;
        return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    if (buf_append(&r->body, ptr, n) != ERR_OK) {
        return 0;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud) {
    http_resp *r = ud;
    size_t n = size * nmemb;
    const char *colon = memchr(ptr, ':', n);
    if (!colon) {
        return n;
    }
    size_t name_len = (size_t)(colon - ptr);
    for (size_t i = 0; i < r->nwant && i < r->got_rank; i++) {
        if (strlen(r->want[i]) != name_len || strncasecmp(ptr, r->want[i], name_len) != 0) {
            continue;
        }
        const char *v = colon + 1;
        const char *end = ptr + n;
        while (v < end && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
            end--;
        }
        buf_reset(&r->header);
        if ((size_t)(end - v) > PCCS_HEADER_MAX) {
            r->header_too_large = true;
            return n;
        }
        if (buf_append(&r->header, v, (size_t)(end - v)) != ERR_OK) {
            return 0;
        }
        r->got_rank = i;
        break;
    }
    return n;
}

/* GET url into r->body (at most max bytes); only 200 is success. */
static err_t http_get(pccs_client *p, const char *url, http_resp *r) {
    err_t e = ERR_OK;
    CURL *h = curl_easy_init();
    if (!h) {
        return err_fail(ERR_NOMEM, "curl_easy_init");
    }
    p->requests++;
    char ebuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->body.max);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cocoon-pccs/1");
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (r->body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        e = err_fail(ERR_TOO_LARGE, "%s: response body over %zu bytes", url, r->body.max);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        e = err_fail(ERR_TIMEOUT, "%s: no answer within %ld ms", url, p->timeout_ms);
    } else if (rc != CURLE_OK) {
        e = err_fail(ERR_IO, "%s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
    } else if (status == 404) {
        e = err_fail(ERR_NOT_FOUND, "%s: HTTP 404", url);
    } else if (status != 200) {
        e = err_fail(ERR_IO, "%s: HTTP %ld", url, status);
    } else if (r->header_too_large) {
        e = err_fail(ERR_TOO_LARGE, "%s: issuer chain header over %zu bytes", url, PCCS_HEADER_MAX);
    } else if (r->nwant && r->got_rank == r->nwant) {
        e = err_fail(ERR_COLLATERAL_FORMAT, "%s: no %s header", url, r->want[0]);
    }
    curl_easy_cleanup(h);
    return e;
}

/* RFC 3986 percent-decoding in place (Intel encodes the PEM chain with %XX; '+' is kept). */
static err_t url_decode(buf *b) {
    size_t w = 0;
    for (size_t i = 0; i < b->len; i++) {
        uint8_t c = b->data[i];
        if (c == '%') {
            uint8_t v;
            size_t got = 0;
            if (b->len - i < 3) {
                return err_fail(ERR_COLLATERAL_FORMAT, "issuer chain: truncated %%-escape");
            }
            if (hex_decode((const char *)b->data + i + 1, 2, &v, 1, &got) != ERR_OK) {
                return err_fail(ERR_COLLATERAL_FORMAT, "issuer chain: bad %%-escape");
            }
            c = v;
            i += 2;
        }
        b->data[w++] = c;
    }
    b->len = w;
    return ERR_OK;
}

static void resp_init(http_resp *r, size_t max, const char *const *want, size_t nwant) {
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, max);
    buf_init(&r->header, PCCS_HEADER_MAX);
    r->want = want;
    r->nwant = nwant;
    r->got_rank = nwant;
}

static void resp_free(http_resp *r) {
    buf_free(&r->body);
    buf_free(&r->header);
}

/* ---- cache ---- */

static void cache_path(const pccs_client *p, pccs_tee tee, const uint8_t fmspc[6], pccs_ca ca,
                       char *out, size_t cap) {
    char hex[13];
    hex_encode(fmspc, 6, hex);
    snprintf(out, cap, "%s/%s-%s-%s.coll", p->cache_dir, tee == PCCS_TEE_TDX ? "tdx" : "sgx", hex,
             ca == PCCS_CA_PLATFORM ? "platform" : "processor");
}

static err_t cache_encode(const buf parts[PART_COUNT], int64_t expiry, buf *out) {
    TRY(buf_append(out, CACHE_MAGIC, sizeof(CACHE_MAGIC)));
    TRY(buf_u64le(out, (uint64_t)expiry));
    for (size_t i = 0; i < PART_COUNT; i++) {
        TRY(buf_u32le(out, (uint32_t)parts[i].len));
        TRY(buf_append(out, parts[i].data, parts[i].len));
    }
    return ERR_OK;
}

/* Cache file → parts (pointing into data). */
static err_t cache_decode(const uint8_t *data, size_t len, int64_t *expiry,
                          const uint8_t *ptr[PART_COUNT], size_t plen[PART_COUNT]) {
    cur c;
    cur_init(&c, data, len);
    const uint8_t *magic;
    uint64_t exp;
    TRY(cur_take(&c, sizeof(CACHE_MAGIC), &magic));
    if (memcmp(magic, CACHE_MAGIC, sizeof(CACHE_MAGIC)) != 0) {
        return err_fail(ERR_MALFORMED, "cache file magic");
    }
    TRY(cur_u64le(&c, &exp));
    *expiry = (int64_t)exp;
    for (size_t i = 0; i < PART_COUNT; i++) {
        uint32_t n;
        TRY(cur_u32le(&c, &n));
        TRY(cur_take(&c, n, &ptr[i]));
        plen[i] = n;
    }
    return cur_expect_end(&c);
}

static collateral_parts parts_of(const uint8_t *const ptr[PART_COUNT],
                                 const size_t plen[PART_COUNT]) {
    collateral_parts cp = {
        .tcb_info = ptr[PART_TCB],
        .tcb_info_len = plen[PART_TCB],
        .tcb_chain = ptr[PART_TCB_CHAIN],
        .tcb_chain_len = plen[PART_TCB_CHAIN],
        .qe_identity = ptr[PART_QE],
        .qe_identity_len = plen[PART_QE],
        .qe_chain = ptr[PART_QE_CHAIN],
        .qe_chain_len = plen[PART_QE_CHAIN],
        .root_crl = ptr[PART_ROOT_CRL],
        .root_crl_len = plen[PART_ROOT_CRL],
        .pck_crl = ptr[PART_PCK_CRL],
        .pck_crl_len = plen[PART_PCK_CRL],
        .pck_crl_chain = ptr[PART_PCK_CRL_CHAIN],
        .pck_crl_chain_len = plen[PART_PCK_CRL_CHAIN],
    };
    return cp;
}

/* A usable cached set, or ERR_NOT_FOUND (absent, stale, unreadable, or no longer checking
 * out: all mean "fetch again"). */
static err_t cache_load(pccs_client *p, const char *path, int64_t now, collateral **out) {
    buf f;
    buf_init(&f, PCCS_CACHE_MAX);
    collateral *c = NULL;
    err_t e = file_read(path, PCCS_CACHE_MAX, &f);
    if (e != ERR_OK) {
        goto miss;
    }
    int64_t expiry = 0;
    const uint8_t *ptr[PART_COUNT];
    size_t plen[PART_COUNT];
    if (cache_decode(f.data, f.len, &expiry, ptr, plen) != ERR_OK || now >= expiry) {
        goto miss;
    }
    collateral_parts cp = parts_of(ptr, plen);
    if (collateral_from_parts(&cp, &c) != ERR_OK ||
        collateral_check(c, (const uint8_t(*)[64])p->roots, p->nroots, now, NULL, NULL) != ERR_OK) {
        goto miss;
    }
    buf_free(&f);
    p->hits++;
    *out = c;
    return ERR_OK;
miss:
    collateral_free(c);
    buf_free(&f);
    return ERR_NOT_FOUND;
}

/* ---- fetching ---- */

static const char *const H_PCK_CRL[] = {"SGX-PCK-CRL-Issuer-Chain"};
static const char *const H_TCB[] = {"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"};
static const char *const H_QE[] = {"SGX-Enclave-Identity-Issuer-Chain"};

/* One GET: body → parts[body_idx], decoded header → parts[chain_idx] (if any). */
static err_t fetch_part(pccs_client *p, const char *url, const char *const *want, size_t nwant,
                        buf parts[PART_COUNT], size_t body_idx, size_t chain_idx) {
    http_resp r;
    resp_init(&r, p->max_body, want, nwant);
    err_t e = http_get(p, url, &r);
    if (e == ERR_OK && nwant) {
        e = url_decode(&r.header);
    }
    if (e == ERR_OK) {
        buf_free(&parts[body_idx]);
        parts[body_idx] = r.body;
        buf_init(&r.body, 0);
        if (nwant) {
            buf_free(&parts[chain_idx]);
            parts[chain_idx] = r.header;
            buf_init(&r.header, 0);
        }
    }
    resp_free(&r);
    return e;
}

static err_t fetch_all(pccs_client *p, pccs_tee tee, const uint8_t fmspc[6], pccs_ca ca,
                       buf parts[PART_COUNT]) {
    const char *t = tee == PCCS_TEE_TDX ? "tdx" : "sgx";
    char hex[13];
    hex_encode(fmspc, 6, hex);
    char url[PCCS_URL_MAX + 128];
    snprintf(url, sizeof(url), "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", p->url,
             ca == PCCS_CA_PLATFORM ? "platform" : "processor");
    TRY(fetch_part(p, url, H_PCK_CRL, 1, parts, PART_PCK_CRL, PART_PCK_CRL_CHAIN));
    snprintf(url, sizeof(url), "%s/%s/certification/v4/tcb?fmspc=%s", p->url, t, hex);
    TRY(fetch_part(p, url, H_TCB, 2, parts, PART_TCB, PART_TCB_CHAIN));
    snprintf(url, sizeof(url), "%s/%s/certification/v4/qe/identity", p->url, t);
    TRY(fetch_part(p, url, H_QE, 1, parts, PART_QE, PART_QE_CHAIN));
    TRY(fetch_part(p, p->root_crl_url, NULL, 0, parts, PART_ROOT_CRL, PART_ROOT_CRL));
    return ERR_OK;
}

err_t pccs_get(pccs_client *p, pccs_tee tee, const uint8_t fmspc[6], pccs_ca ca, collateral **out,
               bool *from_cache) {
    *out = NULL;
    if (from_cache) {
        *from_cache = false;
    }
    int64_t now = now_of(p);
    char path[4096];
    if (p->cache_dir) {
        cache_path(p, tee, fmspc, ca, path, sizeof(path));
        if (cache_load(p, path, now, out) == ERR_OK) {
            if (from_cache) {
                *from_cache = true;
            }
            return ERR_OK;
        }
    }
    buf parts[PART_COUNT];
    for (size_t i = 0; i < PART_COUNT; i++) {
        buf_init(&parts[i], PCCS_BODY_MAX);
    }
    buf file;
    buf_init(&file, PCCS_CACHE_MAX);
    collateral *c = NULL;
    int64_t expiry = 0;
    err_t e = fetch_all(p, tee, fmspc, ca, parts);
    if (e != ERR_OK) {
        goto out;
    }
    const uint8_t *ptr[PART_COUNT];
    size_t plen[PART_COUNT];
    for (size_t i = 0; i < PART_COUNT; i++) {
        ptr[i] = parts[i].data;
        plen[i] = parts[i].len;
    }
    collateral_parts cp = parts_of(ptr, plen);
    if ((e = collateral_from_parts(&cp, &c)) != ERR_OK ||
        (e = collateral_check(c, (const uint8_t(*)[64])p->roots, p->nroots, now, &expiry, NULL)) !=
            ERR_OK) {
        goto out;
    }
    if (p->cache_dir) {
        /* A cache that cannot be written costs a refetch next time, not this answer. */
        if (cache_encode(parts, expiry, &file) == ERR_OK) {
            err_t we = file_write_atomic(path, file.data, file.len, 0600);
            (void)we;
        }
    }
    *out = c;
    c = NULL;
out:
    collateral_free(c);
    buf_free(&file);
    for (size_t i = 0; i < PART_COUNT; i++) {
        buf_free(&parts[i]);
    }
    return e;
}

err_t pccs_quote_params(const quote *q, pccs_tee *tee, uint8_t fmspc[6], pccs_ca *ca) {
    if (!q->has_qe_report || q->pck_cert_type != QUOTE_CERT_PCK_CHAIN) {
        return err_fail(ERR_QUOTE_VERSION, "quote carries no PCK certificate chain");
    }
    x509_chain *ch = NULL;
    buf ext;
    buf_init(&ext, 4096);
    attest_pck_info pck;
    char cn[X509_CN_MAX + 1];
    err_t e = x509_chain_parse(q->pck_chain.p, q->pck_chain.len, &ch);
    if (e != ERR_OK) {
        goto out;
    }
    if (x509_chain_count(ch) < 2) {
        e = err_fail(ERR_CERT_FORMAT, "PCK chain has no CA certificate");
        goto out;
    }
    if ((e = x509_cert_ext_value(x509_chain_leaf(ch), ATTEST_SGX_EXT_OID, &ext)) != ERR_OK) {
        e = err_fail(ERR_CERT_FORMAT, "PCK certificate: no SGX extension");
        goto out;
    }
    if ((e = attest_pck_info_parse(ext.data, ext.len, &pck)) != ERR_OK ||
        (e = x509_cert_subject_cn(x509_chain_get(ch, 1), cn)) != ERR_OK) {
        goto out;
    }
    /* Intel's PCK CAs: "Intel SGX PCK Platform CA" / "Intel SGX PCK Processor CA". */
    if (strstr(cn, "Platform")) {
        *ca = PCCS_CA_PLATFORM;
    } else if (strstr(cn, "Processor")) {
        *ca = PCCS_CA_PROCESSOR;
    } else {
        e = err_fail(ERR_CERT_FORMAT, "PCK CA \"%s\" is neither Platform nor Processor", cn);
        goto out;
    }
    memcpy(fmspc, pck.fmspc, 6);
    *tee = q->tee_type == QUOTE_TEE_TDX ? PCCS_TEE_TDX : PCCS_TEE_SGX;
out:
    buf_free(&ext);
    x509_chain_free(ch);
    return e;
}

err_t pccs_get_for_quote(pccs_client *p, const quote *q, collateral **out, bool *from_cache) {
    pccs_tee tee = PCCS_TEE_TDX;
    uint8_t fmspc[6];
    pccs_ca ca = PCCS_CA_PLATFORM;
    *out = NULL;
    TRY(pccs_quote_params(q, &tee, fmspc, &ca));
    return pccs_get(p, tee, fmspc, ca, out, from_cache);
}
