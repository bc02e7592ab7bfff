#include "verify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/x509.h"
#include "base/cur.h"

/* Intel SGX Root CA, CN=Intel SGX Root CA, serial 22650cd6…2706ac, valid 2018-05-21 ..
 * 2049-12-31 (attestation.md §1.6; the key of tests/data/tdx/intel_sgx_root_ca.pem). */
const uint8_t ATTEST_INTEL_ROOT_PUB[64] = {
    0x0b, 0xa9, 0xc4, 0xc0, 0xc0, 0xc8, 0x61, 0x93, 0xa3, 0xfe, 0x23, 0xd6, 0xb0, 0x2c, 0xda, 0x10,
    0xa8, 0xbb, 0xd4, 0xe8, 0x8e, 0x48, 0xb4, 0x45, 0x85, 0x61, 0xa3, 0x6e, 0x70, 0x55, 0x25, 0xf5,
    0x67, 0x91, 0x8e, 0x2e, 0xdc, 0x88, 0xe4, 0x0d, 0x86, 0x0b, 0xd0, 0xcc, 0x4e, 0xe2, 0x6a, 0xac,
    0xc9, 0x88, 0xe5, 0x05, 0xa9, 0x53, 0x55, 0x8c, 0x45, 0x3f, 0x6b, 0x09, 0x04, 0xae, 0x73, 0x94,
};

void attest_root_key_id(const uint8_t root_pub[64], uint8_t out[ATTEST_ROOT_KEY_ID_LEN]) {
    /* DCAP QvE hashes the 65-byte uncompressed point (qve.cpp); X‖Y alone gives another id. */
    uint8_t point[65];
    point[0] = 0x04;
    memcpy(point + 1, root_pub, 64);
    sha384(point, sizeof(point), out);
}

static err_t check_header(const quote *q) {
    if (q->version < 3 || q->version > 5) {
        return err_fail(ERR_QUOTE_VERSION, "quote version %u", (unsigned)q->version);
    }
    /* Intel QVL accepts only ECDSA-256-with-P-256 (type 3, P-384, is defined but refused). */
    if (q->att_key_type != QUOTE_ATT_KEY_ECDSA_P256) {
        return err_fail(ERR_QUOTE_VERSION, "attestation key type %u", (unsigned)q->att_key_type);
    }
    if (memcmp(q->qe_vendor_id, QUOTE_INTEL_QE_VENDOR_ID, 16) != 0) {
        return err_fail(ERR_QUOTE_VERSION, "QE vendor is not Intel");
    }
    uint16_t want_outer = q->version == 3 ? QUOTE_CERT_PCK_CHAIN : QUOTE_CERT_QE_REPORT;
    if (q->cert_data_type != want_outer || !q->has_qe_report) {
        return err_fail(ERR_QUOTE_VERSION, "certification data type %u (need %u)",
                        (unsigned)q->cert_data_type, (unsigned)want_outer);
    }
    /* Types 1..4 (PPID variants) need Intel's online service to obtain the PCK certificate. */
    if (q->pck_cert_type != QUOTE_CERT_PCK_CHAIN) {
        return err_fail(ERR_QUOTE_VERSION, "PCK certification data type %u (need 5)",
                        (unsigned)q->pck_cert_type);
    }
    return ERR_OK;
}

/* Verified PCK chains, remembered.
 *
 * The chain is per platform: every quote a machine makes carries the same bytes, and checking
 * it (two certificate parses, three signatures, CRL lookups) costs several times the rest of
 * the quote. Its verdict is a pure function of the chain bytes, the pinned roots, the CRLs and
 * the time, and it cannot change while `now` stays inside the window [latest notBefore /
 * thisUpdate, earliest notAfter / nextUpdate) of every certificate and CRL involved. So a
 * verified chain is remembered under SHA-256(chain ‖ roots ‖ SHA-256 of each CRL) together with
 * that window, the PCK key and the decoded SGX extension. A new CRL (a revocation) is a new key,
 * so it is never answered from an entry made without it. Failures are never remembered. */
#define CHAIN_MEMO_SLOTS 64

typedef struct {
    int used;
    uint8_t key[32];
    int64_t not_before;
    int64_t not_after;
    uint8_t pck_pub[64];
    size_t root_index;
    bool has_pck;
    attest_pck_info pck;
} chain_memo;

static chain_memo memo[CHAIN_MEMO_SLOTS];
static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool memo_on = true;
static atomic_uint_fast64_t memo_hits;

void attest_chain_memo_enable(bool on) {
    atomic_store(&memo_on, on);
}

uint64_t attest_chain_memo_hits(void) {
    return atomic_load(&memo_hits);
}

static void memo_key(const quote *q, const uint8_t (*roots)[64], size_t nroots,
                     const x509_crl *const *crls, size_t ncrls, uint8_t key[32]) {
    hash_ctx *h = hash_new(HASH_SHA256);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) {
        len[i] = (uint8_t)((uint64_t)q->pck_chain.len >> (8 * i));
    }
    hash_update(h, len, sizeof(len));
    hash_update(h, q->pck_chain.p, q->pck_chain.len);
    for (int i = 0; i < 8; i++) {
        len[i] = (uint8_t)((uint64_t)nroots >> (8 * i));
    }
    hash_update(h, len, sizeof(len));
    hash_update(h, roots, nroots * 64);
    for (size_t i = 0; i < ncrls; i++) {
        uint8_t fp[32];
        x509_crl_fingerprint(crls[i], fp);
        hash_update(h, fp, sizeof(fp));
    }
    hash_final_free(h, key);
}

typedef struct {
    uint8_t pck_pub[64];
    size_t root_index;
    int64_t not_after;
    attest_pck_info pck;
} chain_verdict;

static int memo_get(const uint8_t key[32], int64_t now, bool want_pck, chain_verdict *v) {
    int hit = 0;
    pthread_mutex_lock(&memo_mu);
    chain_memo *m = &memo[key[0] % CHAIN_MEMO_SLOTS];
    if (m->used && memcmp(m->key, key, 32) == 0 && m->not_before <= now && now < m->not_after &&
        (!want_pck || m->has_pck)) {
        memcpy(v->pck_pub, m->pck_pub, 64);
        v->root_index = m->root_index;
        v->not_after = m->not_after;
        v->pck = m->pck;
        hit = 1;
    }
    pthread_mutex_unlock(&memo_mu);
    if (hit) {
        atomic_fetch_add(&memo_hits, 1);
    }
    return hit;
}

/* The window in which the verdict holds: every certificate's and CRL's validity. */
static err_t verdict_window(const x509_chain *ch, const x509_crl *const *crls, size_t ncrls,
                            int64_t *nb_out, int64_t *na_out) {
    int64_t nb = INT64_MIN;
    int64_t na = INT64_MAX;
    for (size_t i = 0; i < x509_chain_count(ch); i++) {
        int64_t b;
        int64_t a;
        TRY(x509_cert_validity(x509_chain_get(ch, i), &b, &a));
        nb = b > nb ? b : nb;
        na = a < na ? a : na;
    }
    for (size_t i = 0; i < ncrls; i++) {
        int64_t b;
        int64_t a;
        TRY(x509_crl_times(crls[i], &b, &a));
        nb = b > nb ? b : nb;
        na = a < na ? a : na;
    }
    *nb_out = nb;
    *na_out = na;
    return ERR_OK;
}

static void memo_put(const uint8_t key[32], int64_t nb, int64_t na, const chain_verdict *v,
                     bool has_pck) {
    pthread_mutex_lock(&memo_mu);
    chain_memo *m = &memo[key[0] % CHAIN_MEMO_SLOTS];
    m->used = 1;
    memcpy(m->key, key, 32);
    m->not_before = nb;
    m->not_after = na;
    memcpy(m->pck_pub, v->pck_pub, 64);
    m->root_index = v->root_index;
    m->has_pck = has_pck;
    m->pck = v->pck;
    pthread_mutex_unlock(&memo_mu);
}

static err_t check_chain(const quote *q, const uint8_t (*roots)[64], size_t nroots,
                         const x509_crl *const *crls, size_t ncrls, int64_t now, bool want_pck,
                         chain_verdict *v) {
    uint8_t key[32];
    bool use_memo = atomic_load(&memo_on);
    if (use_memo) {
        memo_key(q, roots, nroots, crls, ncrls, key);
        if (memo_get(key, now, want_pck, v)) {
            return ERR_OK;
        }
    }
    x509_chain *ch = NULL;
    buf ext;
    buf_init(&ext, 4096);
    TRY(x509_chain_parse(q->pck_chain.p, q->pck_chain.len, &ch));
    err_t e =
        ncrls ? x509_chain_verify_pinned_crl(ch, roots, nroots, crls, ncrls, now, &v->root_index)
              : x509_chain_verify_pinned(ch, roots, nroots, now, &v->root_index);
    if (e != ERR_OK) {
        goto out;
    }
    const x509_cert *leaf = x509_chain_leaf(ch);
    char cn[X509_CN_MAX + 1];
    if ((e = x509_cert_subject_cn(leaf, cn)) != ERR_OK) {
        goto out;
    }
    /* QVL PckCertVerifier: the leaf must be a PCK certificate, not some other Intel-issued
     * end-entity (e.g. the TCB signing certificate chains to the same root). */
    if (strstr(cn, "SGX PCK Certificate") == NULL) {
        e = err_fail(ERR_CHAIN_UNTRUSTED, "leaf CN \"%s\" is not an SGX PCK Certificate", cn);
        goto out;
    }
    if ((e = x509_cert_p256_pub(leaf, v->pck_pub)) != ERR_OK) {
        e = err_fail(ERR_CHAIN_UNTRUSTED, "PCK key is not P-256");
        goto out;
    }
    if (want_pck) {
        if ((e = x509_cert_ext_value(leaf, ATTEST_SGX_EXT_OID, &ext)) != ERR_OK) {
            e = err_fail(ERR_CERT_FORMAT, "PCK certificate: %s", err_describe(e));
            goto out;
        }
        if ((e = attest_pck_info_parse(ext.data, ext.len, &v->pck)) != ERR_OK) {
            goto out;
        }
    }
    int64_t nb;
    if ((e = verdict_window(ch, crls, ncrls, &nb, &v->not_after)) != ERR_OK) {
        goto out;
    }
    if (use_memo) {
        memo_put(key, nb, v->not_after, v, want_pck);
    }
out:
    buf_free(&ext);
    x509_chain_free(ch);
    return e;
}

/* Everything after the chain (§1.5 steps 3, 4, 6), on the PCK key the chain vouched for. */
static err_t check_quote(const quote *q, const uint8_t pck_pub[64]) {
    if (ecdsa_verify(ECDSA_P256_SHA256, pck_pub, q->qe_report_raw.p, q->qe_report_raw.len,
                     q->qe_report_sig) != ERR_OK) {
        return err_fail(ERR_QE_REPORT_SIG, "QE report signature does not verify with the PCK key");
    }

    /* The QE vouches for the attestation key by putting its hash into its own (PCK-signed)
     * report: REPORTDATA[0:32] = SHA-256(att_key ‖ qe_auth_data); Intel checks only 32 bytes. */
    uint8_t h[32];
    hash_ctx *hc = hash_new(HASH_SHA256);
    hash_update(hc, q->att_key, 64);
    hash_update(hc, q->qe_auth_data.p, q->qe_auth_data.len);
    hash_final_free(hc, h);
    if (!ct_eq(h, q->qe_report.report_data, 32)) {
        return err_fail(ERR_QE_BINDING, "QE report does not bind the attestation key");
    }

    err_t e = ecdsa_verify(ECDSA_P256_SHA256, q->att_key, q->signed_region.p, q->signed_region.len,
                           q->quote_sig);
    if (e != ERR_OK) {
        return err_fail(ERR_QUOTE_SIG, "quote signature does not verify (%s)", err_name(e));
    }
    return ERR_OK;
}

err_t quote_verify_signatures_crl(const quote *q, const uint8_t (*roots)[64], size_t nroots,
                                  const x509_crl *const *crls, size_t ncrls, int64_t now,
                                  attest_pck_info *pck, uint8_t root_key_id_out[48],
                                  int64_t *valid_until) {
    TRY(check_header(q));
    chain_verdict v;
    memset(&v, 0, sizeof(v));
    TRY(check_chain(q, roots, nroots, crls, ncrls, now, pck != NULL, &v));
    TRY(check_quote(q, v.pck_pub));
    if (pck) {
        *pck = v.pck;
    }
    if (root_key_id_out) {
        attest_root_key_id(roots[v.root_index], root_key_id_out);
    }
    if (valid_until) {
        *valid_until = v.not_after;
    }
    return ERR_OK;
}

err_t quote_verify_signatures(const quote *q, const uint8_t (*roots)[64], size_t nroots,
                              int64_t now, uint8_t root_key_id_out[48]) {
    return quote_verify_signatures_crl(q, roots, nroots, NULL, 0, now, NULL, root_key_id_out, NULL);
}
