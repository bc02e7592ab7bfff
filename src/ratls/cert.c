#include "cert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "attest/quote.h"
#include "attest/verify.h"
#include "base/file.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "crypto/rand.h"

static atomic_uint_fast64_t quotes_verified;

uint64_t ratls_quotes_verified(void) {
    return atomic_load(&quotes_verified);
}

void ratls_identity_init(ratls_identity *id) {
    memset(id, 0, sizeof(*id));
    buf_init(&id->cert_der, RATLS_CERT_MAX);
}

void ratls_identity_cleanup(ratls_identity *id) {
    if (!id) {
        return;
    }
    ed25519_wipe(&id->key);
    buf_free(&id->cert_der);
}

static int add_conf_ext(X509 *x, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static int add_raw_ext(X509 *x, const char *oid, const uint8_t *data, size_t len) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = obj && os && ASN1_OCTET_STRING_set(os, data, (int)len) == 1 &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os)) != NULL &&
             X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok;
}

static EVP_PKEY *pkey_of(const ed25519_key *k) {
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, ED25519_SEED_LEN);
}

err_t ratls_cert_build(const ed25519_key *key, const uint8_t *qbytes, size_t quote_len,
                       const uint8_t *claims, size_t claims_len, int64_t not_before,
                       int64_t not_after, buf *der_out) {
    err_t e = err_fail(ERR_CRYPTO, "building the certificate failed");
    EVP_PKEY *pk = pkey_of(key);
    X509 *x = X509_new();
    uint8_t sbytes[16];
    rand_bytes(sbytes, sizeof(sbytes));
    sbytes[0] &= 0x7f; /* positive INTEGER */
    sbytes[0] |= 0x01; /* of full length */
    BIGNUM *serial = BN_bin2bn(sbytes, sizeof(sbytes), NULL);
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    unsigned char *der = NULL;
    int dlen = 0;
    if (!pk || !x || !serial || X509_set_version(x, X509_VERSION_3) != 1 ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"COCOON", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) || X509_set_pubkey(x, pk) != 1 ||
        !add_conf_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_conf_ext(x, NID_key_usage, "critical,digitalSignature") ||
        !add_conf_ext(x, NID_ext_key_usage, "critical,serverAuth,clientAuth") ||
        !add_conf_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
        !add_conf_ext(x, NID_subject_key_identifier, "hash") ||
        (qbytes && !add_raw_ext(x, RATLS_OID_QUOTE, qbytes, quote_len)) ||
        (claims && !add_raw_ext(x, RATLS_OID_CLAIMS, claims, claims_len)) ||
        X509_sign(x, pk, NULL) <= 0 || (dlen = i2d_X509(x, &der)) <= 0) {
        goto out;
    }
    e = buf_append(der_out, der, (size_t)dlen);
out:
    OPENSSL_free(der);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pk);
    return e;
}

err_t ratls_identity_create(ratls_identity *id, attest_provider *prov, int64_t now,
                            uint32_t valid_secs, const ratls_claim *claims, size_t nclaims) {
    if (valid_secs == 0 || valid_secs > RATLS_MAX_VALIDITY) {
        return err_fail(ERR_CERT_VALIDITY, "validity must be 1 s .. 24 h, got %u s", valid_secs);
    }
    err_t e = ERR_OK;
    buf qb;
    buf claims_buf;
    buf_init(&qb, RATLS_QUOTE_MAX);
    buf_init(&claims_buf, RATLS_CLAIMS_MAX);
    buf_reset(&id->cert_der);
    memset(id->image_hash, 0, sizeof(id->image_hash));
    id->has_quote = 0;
    if ((e = ed25519_generate(&id->key)) != ERR_OK) {
        goto out;
    }
    if (prov && attest_provider_has_quotes(prov)) {
        uint8_t rd[64];
        sha512(id->key.pub, 32, rd);
        if ((e = attest_provider_quote(prov, rd, &qb)) != ERR_OK) {
            goto out;
        }
        quote q;
        if (qb.len > RATLS_QUOTE_MAX) {
            e = err_fail(ERR_TOO_LARGE, "quote of %zu bytes", qb.len);
            goto out;
        }
        if ((e = quote_parse(qb.data, qb.len, &q)) != ERR_OK) {
            goto out;
        }
        quote_image_hash(&q, id->image_hash);
        id->has_quote = 1;
    }
    if ((e = ratls_claims_encode(id->key.pub, claims, nclaims, &claims_buf)) != ERR_OK) {
        goto out;
    }
    e = ratls_cert_build(&id->key, id->has_quote ? qb.data : NULL, qb.len, claims_buf.data,
                         claims_buf.len, now, now + valid_secs, &id->cert_der);
    id->not_before = now;
    id->not_after = now + valid_secs;
out:
    if (e != ERR_OK) {
        ed25519_wipe(&id->key);
        buf_reset(&id->cert_der);
    }
    buf_free(&qb);
    buf_free(&claims_buf);
    return e;
}

static err_t write_pem(const char *path, int is_key, const ratls_identity *id) {
    BIO *b = BIO_new(BIO_s_mem());
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    err_t e = err_fail(ERR_CRYPTO, "PEM encoding failed");
    if (!b) {
        return e;
    }
    if (is_key) {
        pk = pkey_of(&id->key);
        if (!pk || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) {
            goto out;
        }
    } else {
        const unsigned char *p = id->cert_der.data;
        x = d2i_X509(NULL, &p, (long)id->cert_der.len);
        if (!x || PEM_write_bio_X509(b, x) != 1) {
            goto out;
        }
    }
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    e = file_write_atomic(path, data, (size_t)n, is_key ? 0600 : 0644);
out:
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
    return e;
}

err_t ratls_identity_save(const ratls_identity *id, const char *cert_path, const char *key_path) {
    TRY(write_pem(key_path, 1, id));
    return write_pem(cert_path, 0, id);
}

static int64_t asn1_time_unix(const ASN1_TIME *t) {
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        return INT64_MIN;
    }
    return (int64_t)timegm(&tm);
}

err_t ratls_cert_pem_to_der(const uint8_t *pem, size_t len, buf *der) {
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x) {
        return err_fail(ERR_CERT_FORMAT, "no PEM certificate found");
    }
    unsigned char *d = NULL;
    int n = i2d_X509(x, &d);
    X509_free(x);
    if (n <= 0) {
        return err_fail(ERR_CERT_FORMAT, "certificate does not re-encode");
    }
    err_t e = buf_append(der, d, (size_t)n);
    OPENSSL_free(d);
    return e;
}

err_t ratls_identity_load(ratls_identity *id, const char *cert_path, const char *key_path) {
    buf pem;
    buf_init(&pem, RATLS_CERT_MAX * 2);
    err_t e = file_read(cert_path, RATLS_CERT_MAX * 2, &pem);
    buf_reset(&id->cert_der);
    if (e == ERR_OK) {
        e = ratls_cert_pem_to_der(pem.data, pem.len, &id->cert_der);
    }
    buf_reset(&pem);
    if (e == ERR_OK) {
        e = file_read(key_path, 16384, &pem);
    }
    EVP_PKEY *pk = NULL;
    if (e == ERR_OK) {
        BIO *b = BIO_new_mem_buf(pem.data, (int)pem.len);
        pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        uint8_t seed[32];
        size_t slen = sizeof(seed);
        if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
            EVP_PKEY_get_raw_private_key(pk, seed, &slen) != 1 || slen != 32) {
            e = err_fail(ERR_BAD_KEY, "%s: not an Ed25519 private key", key_path);
        } else {
            e = ed25519_from_seed(&id->key, seed);
        }
        ct_wipe(seed, sizeof(seed));
    }
    EVP_PKEY_free(pk);
    buf_free(&pem);
    if (e != ERR_OK) {
        return e;
    }
    /* The key must match the certificate, and the certificate must be well formed. */
    const unsigned char *p = id->cert_der.data;
    X509 *x = d2i_X509(NULL, &p, (long)id->cert_der.len);
    uint8_t pub[32];
    size_t plen = sizeof(pub);
    EVP_PKEY *cpk = x ? X509_get0_pubkey(x) : NULL;
    if (!cpk || EVP_PKEY_get_id(cpk) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(cpk, pub, &plen) != 1 || memcmp(pub, id->key.pub, 32) != 0) {
        X509_free(x);
        return err_fail(ERR_BAD_KEY, "%s does not belong to %s", key_path, cert_path);
    }
    id->not_before = asn1_time_unix(X509_get0_notBefore(x));
    id->not_after = asn1_time_unix(X509_get0_notAfter(x));
    X509_free(x);
    buf qb;
    buf_init(&qb, RATLS_QUOTE_MAX);
    e = ratls_cert_quote(id->cert_der.data, id->cert_der.len, &qb);
    id->has_quote = 0;
    memset(id->image_hash, 0, 32);
    if (e == ERR_OK && qb.len > 0) {
        quote q;
        e = quote_parse(qb.data, qb.len, &q);
        if (e == ERR_OK) {
            quote_image_hash(&q, id->image_hash);
            id->has_quote = 1;
        }
    }
    buf_free(&qb);
    return e;
}

typedef struct {
    const uint8_t *quote;
    size_t quote_len;
    const uint8_t *claims;
    size_t claims_len;
} cert_exts;

/* Walks the extensions: ours are recorded, standard ones allowed, any other critical one is
 * refused (an extension we do not understand could change the meaning of the certificate). */
static ASN1_OBJECT *oid_quote;
static ASN1_OBJECT *oid_claims;
static pthread_once_t oid_once = PTHREAD_ONCE_INIT;

static void oid_init(void) {
    oid_quote = OBJ_txt2obj(RATLS_OID_QUOTE, 1);
    oid_claims = OBJ_txt2obj(RATLS_OID_CLAIMS, 1);
}

static err_t scan_extensions(X509 *x, cert_exts *ce) {
    memset(ce, 0, sizeof(*ce));
    pthread_once(&oid_once, oid_init);
    const ASN1_OBJECT *oq = oid_quote;
    const ASN1_OBJECT *oc = oid_claims;
    err_t e = ERR_OK;
    if (!oq || !oc) {
        return err_fail(ERR_INTERNAL, "OID registration failed");
    }
    int n = X509_get_ext_count(x);
    for (int i = 0; i < n && e == ERR_OK; i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
        const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
        int crit = X509_EXTENSION_get_critical(ext);
        if (OBJ_cmp(obj, oq) == 0 || OBJ_cmp(obj, oc) == 0) {
            int is_q = OBJ_cmp(obj, oq) == 0;
            const uint8_t **slot = is_q ? &ce->quote : &ce->claims;
            size_t *slen = is_q ? &ce->quote_len : &ce->claims_len;
            if (*slot) {
                e = err_fail(ERR_CERT_FORMAT, "duplicate RA-TLS extension");
            } else if (!crit) {
                e = err_fail(ERR_CERT_FORMAT, "RA-TLS extension not marked critical");
            } else {
                *slot = ASN1_STRING_get0_data(data);
                *slen = (size_t)ASN1_STRING_length(data);
            }
            continue;
        }
        int nid = OBJ_obj2nid(obj);
        if (crit && nid != NID_basic_constraints && nid != NID_key_usage &&
            nid != NID_ext_key_usage && nid != NID_subject_alt_name) {
            char txt[96];
            OBJ_obj2txt(txt, sizeof(txt), obj, 1);
            e = err_fail(ERR_UNKNOWN_CRIT_EXT, "critical extension %s", txt);
        }
    }
    if (e == ERR_OK && (X509_get_extension_flags(x) & EXFLAG_CA)) {
        e = err_fail(ERR_CERT_FORMAT, "RA-TLS certificate claims to be a CA");
    }
    return e;
}

err_t ratls_cert_quote(const uint8_t *der, size_t len, buf *quote_out) {
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) {
        X509_free(x);
        return err_fail(ERR_CERT_FORMAT, "not a DER certificate");
    }
    cert_exts ce;
    err_t e = scan_extensions(x, &ce);
    if (e == ERR_OK && ce.quote) {
        e = buf_append(quote_out, ce.quote, ce.quote_len);
    }
    X509_free(x);
    return e;
}

static err_t verify_quote(const cert_exts *ce, const uint8_t pub[32], const ratls_policy *pol,
                          int64_t now, ratls_peer *peer) {
    if (ce->quote_len > RATLS_QUOTE_MAX) {
        return err_fail(ERR_TOO_LARGE, "quote extension of %zu bytes", ce->quote_len);
    }
    quote q;
    TRY(quote_parse(ce->quote, ce->quote_len, &q));
    if (!quote_is_tdx(&q)) {
        return err_fail(ERR_NOT_TDX, "quote tee_type %#x", q.tee_type);
    }
    TRY(quote_verify_signatures(&q, (const uint8_t(*)[64])pol->roots, pol->nroots, now,
                                peer->root_key_id));
    atomic_fetch_add(&quotes_verified, 1);
    uint8_t rd[64];
    sha512(pub, 32, rd);
    if (!ct_eq(rd, q.td.report_data, 64)) {
        return err_fail(ERR_REPORTDATA_MISMATCH, "REPORTDATA != SHA-512(certificate key)");
    }
    peer->attested = true;
    quote_image_hash(&q, peer->image_hash);
    memcpy(peer->mrtd, q.td.mrtd, 48);
    memcpy(peer->rtmr, q.td.rtmr, sizeof(peer->rtmr));
    peer->td_attributes = q.td.td_attributes;
    return ERR_OK;
}

static err_t verify_parsed(X509 *x, const ratls_policy *pol, int64_t now, ratls_peer *peer,
                           bool check_self_signature);

err_t ratls_verify_cert(const uint8_t *der, size_t len, const ratls_policy *pol, int64_t now,
                        ratls_peer *peer) {
    memset(peer, 0, sizeof(*peer));
    if (len > RATLS_CERT_MAX) {
        return err_fail(ERR_TOO_LARGE, "certificate of %zu bytes", len);
    }
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) {
        X509_free(x);
        return err_fail(ERR_CERT_FORMAT, "not a single DER certificate");
    }
    err_t e = verify_parsed(x, pol, now, peer, true);
    X509_free(x);
    return e;
}

err_t ratls_verify_x509(X509 *x, const ratls_policy *pol, int64_t now, ratls_peer *peer) {
    return verify_parsed(x, pol, now, peer, false);
}

static err_t verify_parsed(X509 *x, const ratls_policy *pol, int64_t now, ratls_peer *peer,
                           bool check_self_signature) {
    memset(peer, 0, sizeof(*peer));
    err_t e = ERR_OK;
    EVP_PKEY *pk = X509_get0_pubkey(x);
    size_t plen = 32;
    cert_exts ce;
    if (X509_get_version(x) != X509_VERSION_3) {
        e = err_fail(ERR_CERT_FORMAT, "not an X.509 v3 certificate");
    } else if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
               EVP_PKEY_get_raw_public_key(pk, peer->pubkey, &plen) != 1 || plen != 32) {
        e = err_fail(ERR_CERT_KEY_TYPE, "certificate key is %s",
                     pk ? OBJ_nid2sn(EVP_PKEY_get_id(pk)) : "missing");
    } else if (X509_get_signature_nid(x) != NID_ED25519 ||
               X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0 ||
               (check_self_signature && X509_verify(x, pk) != 1)) {
        e = err_fail(ERR_NOT_SELF_SIGNED, "certificate is not self-signed with its Ed25519 key");
    }
    if (e != ERR_OK) {
        goto out;
    }
    peer->not_before = asn1_time_unix(X509_get0_notBefore(x));
    peer->not_after = asn1_time_unix(X509_get0_notAfter(x));
    uint32_t maxv = pol->max_validity ? pol->max_validity : RATLS_MAX_VALIDITY;
    if (peer->not_before == INT64_MIN || peer->not_after == INT64_MIN) {
        e = err_fail(ERR_CERT_FORMAT, "unreadable validity times");
    } else if (peer->not_before > now + RATLS_CLOCK_SKEW) {
        e = err_fail(ERR_CERT_NOT_YET_VALID, "valid from %lld, now %lld",
                     (long long)peer->not_before, (long long)now);
    } else if (peer->not_after < now) {
        e = err_fail(ERR_CERT_EXPIRED, "expired at %lld, now %lld", (long long)peer->not_after,
                     (long long)now);
    } else if (peer->not_after - peer->not_before > (int64_t)maxv + RATLS_CLOCK_SKEW) {
        e = err_fail(ERR_CERT_VALIDITY, "valid for %lld s, at most %u",
                     (long long)(peer->not_after - peer->not_before), maxv);
    }
    if (e != ERR_OK || (e = scan_extensions(x, &ce)) != ERR_OK) {
        goto out;
    }
    if (ce.claims) {
        ratls_claims cl;
        if ((e = ratls_claims_decode(ce.claims, ce.claims_len, &cl)) != ERR_OK) {
            goto out;
        }
        if (memcmp(cl.pubkey, peer->pubkey, 32) != 0) {
            e = err_fail(ERR_CERT_FORMAT, "claims name another key than the certificate's");
            goto out;
        }
        const ratls_claim *ek = ratls_claims_find(&cl, RATLS_CLAIM_EVIDENCE_KEY);
        if (ek) {
            if (ek->len != 32) {
                e = err_fail(ERR_CERT_FORMAT, "evidence key claim of %u bytes, not 32", ek->len);
                goto out;
            }
            memcpy(peer->evidence_key, ek->value, 32);
            peer->has_evidence_key = true;
        }
    }
    if (ce.quote && (e = verify_quote(&ce, peer->pubkey, pol, now, peer)) != ERR_OK) {
        goto out;
    }
    e = ratls_policy_check(pol, peer);
out:
    return e;
}
