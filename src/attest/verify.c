#include "verify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/x509.h"

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
 * it (two certificate parses, three signatures) costs several times the rest of the quote. Its
 * verdict is a pure function of the chain bytes, the pinned roots and the time; with no CRLs in
 * this check, it cannot change while `now` stays inside the chain's common validity window
 * [latest notBefore, earliest notAfter). So a verified chain is remembered under
 * SHA-256(chain ‖ roots) together with that window and the PCK key. Failures are never
 * remembered. When CRLs join the check (collateral), they must join the key. */
#define CHAIN_MEMO_SLOTS 64

typedef struct {
    int used;
    uint8_t key[32];
    int64_t not_before;
    int64_t not_after;
    uint8_t pck_pub[64];
    size_t root_index;
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

static void memo_key(const quote *q, const uint8_t (*roots)[64], size_t nroots, uint8_t key[32]) {
    hash_ctx *h = hash_new(HASH_SHA256);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) {
        len[i] = (uint8_t)((uint64_t)q->pck_chain.len >> (8 * i));
    }
    hash_update(h, len, sizeof(len));
    hash_update(h, q->pck_chain.p, q->pck_chain.len);
    hash_update(h, roots, nroots * 64);
    hash_final_free(h, key);
}

static int memo_get(const uint8_t key[32], int64_t now, uint8_t pck_pub[64], size_t *root_index) {
    int hit = 0;
    pthread_mutex_lock(&memo_mu);
    chain_memo *m = &memo[key[0] % CHAIN_MEMO_SLOTS];
    if (m->used && memcmp(m->key, key, 32) == 0 && m->not_before <= now && now < m->not_after) {
        memcpy(pck_pub, m->pck_pub, 64);
        *root_index = m->root_index;
        hit = 1;
    }
    pthread_mutex_unlock(&memo_mu);
    if (hit) {
        atomic_fetch_add(&memo_hits, 1);
    }
    return hit;
}

static void memo_put(const uint8_t key[32], const x509_chain *ch, const uint8_t pck_pub[64],
                     size_t root_index) {
    int64_t nb = INT64_MIN;
    int64_t na = INT64_MAX;
    for (size_t i = 0; i < x509_chain_count(ch); i++) {
        int64_t b;
        int64_t a;
        if (x509_cert_validity(x509_chain_get(ch, i), &b, &a) != ERR_OK) {
            return;
        }
        nb = b > nb ? b : nb;
        na = a < na ? a : na;
    }
    pthread_mutex_lock(&memo_mu);
    chain_memo *m = &memo[key[0] % CHAIN_MEMO_SLOTS];
    m->used = 1;
    memcpy(m->key, key, 32);
    m->not_before = nb;
    m->not_after = na;
    memcpy(m->pck_pub, pck_pub, 64);
    m->root_index = root_index;
    pthread_mutex_unlock(&memo_mu);
}

static err_t check_chain(const quote *q, const uint8_t (*roots)[64], size_t nroots, int64_t now,
                         uint8_t pck_pub[64], size_t *root_index) {
    uint8_t key[32];
    bool use_memo = atomic_load(&memo_on);
    if (use_memo) {
        memo_key(q, roots, nroots, key);
        if (memo_get(key, now, pck_pub, root_index)) {
            return ERR_OK;
        }
    }
    x509_chain *ch = NULL;
    TRY(x509_chain_parse(q->pck_chain.p, q->pck_chain.len, &ch));
    err_t e = x509_chain_verify_pinned(ch, roots, nroots, now, root_index);
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
    if ((e = x509_cert_p256_pub(leaf, pck_pub)) != ERR_OK) {
        e = err_fail(ERR_CHAIN_UNTRUSTED, "PCK key is not P-256");
        goto out;
    }
    if (use_memo) {
        memo_put(key, ch, pck_pub, *root_index);
    }
out:
    x509_chain_free(ch);
    return e;
}

err_t quote_verify_signatures(const quote *q, const uint8_t (*roots)[64], size_t nroots,
                              int64_t now, uint8_t root_key_id_out[48]) {
    TRY(check_header(q));

    uint8_t pck_pub[64];
    size_t root_index = 0;
    TRY(check_chain(q, roots, nroots, now, pck_pub, &root_index));

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
    if (root_key_id_out) {
        attest_root_key_id(roots[root_index], root_key_id_out);
    }
    return ERR_OK;
}
