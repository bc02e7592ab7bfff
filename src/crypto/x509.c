#include "x509.h"

#include "eckey.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "hash.h"
#include "rand.h"

#define X509_BUNDLE_MAX ((size_t)64 << 10)

struct x509_cert {
    X509 *x;
};

struct x509_chain {
    size_t n;
    x509_cert certs[X509_CHAIN_MAX_CERTS];
};

/* OpenSSL's error queue is per thread; never leave stale entries for the next caller. */
static err_t ossl_fail(err_t e, const char *what) {
    unsigned long code = ERR_peek_last_error();
    char reason[160] = "";
    if (code != 0) {
        ERR_error_string_n(code, reason, sizeof(reason));
    }
    ERR_clear_error();
    return err_fail(e, "%s%s%s", what, code ? ": " : "", reason);
}

/* EVP_PKEY for P-256 from raw X‖Y (and optionally the 32-byte private scalar). */
static EVP_PKEY *p256_pkey(const uint8_t pub[64], const uint8_t *priv) {
    return eckey_from_raw(ECDSA_P256_SHA256, pub, priv);
}

static err_t pkey_p256_pub(EVP_PKEY *pk, uint8_t out[64]) {
    char group[32];
    uint8_t point[65];
    size_t glen = 0;
    size_t plen = 0;
    if (!pk || !EVP_PKEY_is_a(pk, "EC") ||
        EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1 ||
        strcmp(group, "prime256v1") != 0 ||
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &plen) !=
            1 ||
        plen != 65 || point[0] != 0x04) {
        ERR_clear_error();
        return err_fail(ERR_BAD_KEY, "not an uncompressed P-256 public key");
    }
    memcpy(out, point + 1, 64);
    return ERR_OK;
}

static err_t bio_to_buf(BIO *b, buf *out) {
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n < 0) {
        return err_fail(ERR_CRYPTO, "BIO has no data");
    }
    return buf_append(out, p, (size_t)n);
}

/* ---- single certificates ---- */

static err_t cert_wrap(X509 *x, x509_cert **out) {
    x509_cert *c = calloc(1, sizeof(*c));
    if (!c) {
        X509_free(x);
        return err_fail(ERR_NOMEM, "x509_cert");
    }
    c->x = x;
    *out = c;
    return ERR_OK;
}

static X509 *pem_one(const uint8_t *p, size_t n) {
    BIO *b = BIO_new_mem_buf(p, (int)n);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

static const char PEM_BEGIN[] = "-----BEGIN CERTIFICATE-----";
static const char PEM_END[] = "-----END CERTIFICATE-----";

static bool is_space_or_nul(uint8_t ch) {
    return ch == 0 || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static size_t find(const uint8_t *p, size_t n, size_t from, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = from; i + m <= n; i++) {
        if (memcmp(p + i, needle, m) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Splits PEM text into CERTIFICATE blocks; only whitespace (and Intel's trailing NUL) may
 * appear between and after them, so nothing unverified hides in the bundle. */
static err_t parse_pem_bundle(const uint8_t *p, size_t n, x509_chain *ch) {
    size_t i = 0;
    for (;;) {
        while (i < n && is_space_or_nul(p[i])) {
            i++;
        }
        if (i == n) {
            break;
        }
        if (find(p, n, i, PEM_BEGIN) != i) {
            return err_fail(ERR_CERT_FORMAT, "unexpected bytes at %zu in the PEM bundle", i);
        }
        size_t e = find(p, n, i, PEM_END);
        if (e == SIZE_MAX) {
            return err_fail(ERR_CERT_FORMAT, "unterminated PEM certificate at %zu", i);
        }
        e += strlen(PEM_END);
        if (ch->n == X509_CHAIN_MAX_CERTS) {
            return err_fail(ERR_TOO_MANY, "more than %d certificates", X509_CHAIN_MAX_CERTS);
        }
        X509 *x = pem_one(p + i, e - i);
        if (!x) {
            return ossl_fail(ERR_CERT_FORMAT, "bad PEM certificate");
        }
        ch->certs[ch->n++].x = x;
        i = e;
    }
    return ERR_OK;
}

static err_t parse_der_bundle(const uint8_t *p, size_t n, x509_chain *ch) {
    const unsigned char *q = p;
    const unsigned char *end = p + n;
    while (q < end) {
        if (ch->n == X509_CHAIN_MAX_CERTS) {
            return err_fail(ERR_TOO_MANY, "more than %d certificates", X509_CHAIN_MAX_CERTS);
        }
        X509 *x = d2i_X509(NULL, &q, (long)(end - q));
        if (!x) {
            return ossl_fail(ERR_CERT_FORMAT, "bad DER certificate");
        }
        ch->certs[ch->n++].x = x;
    }
    return ERR_OK;
}

err_t x509_cert_from_pem(const void *pem, size_t len, x509_cert **out) {
    x509_chain *ch = NULL;
    TRY(x509_chain_parse(pem, len, &ch));
    if (ch->n != 1) {
        size_t n = ch->n;
        x509_chain_free(ch);
        return err_fail(ERR_CERT_FORMAT, "expected one certificate, found %zu", n);
    }
    X509 *x = ch->certs[0].x;
    ch->certs[0].x = NULL;
    ch->n = 0;
    x509_chain_free(ch);
    return cert_wrap(x, out);
}

err_t x509_cert_to_pem(const x509_cert *c, buf *out) {
    BIO *b = BIO_new(BIO_s_mem());
    err_t e = ERR_OK;
    if (!b || PEM_write_bio_X509(b, c->x) != 1) {
        e = ossl_fail(ERR_CRYPTO, "PEM encoding failed");
    } else {
        e = bio_to_buf(b, out);
    }
    BIO_free(b);
    return e;
}

err_t x509_cert_p256_pub(const x509_cert *c, uint8_t out[P256_PUB_LEN]) {
    return pkey_p256_pub(X509_get0_pubkey(c->x), out);
}

err_t x509_cert_subject_cn(const x509_cert *c, char out[X509_CN_MAX + 1]) {
    out[0] = '\0';
    const X509_NAME *nm = X509_get_subject_name(c->x);
    int idx = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
    if (idx < 0) {
        return ERR_OK;
    }
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx));
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, s);
    if (n < 0) {
        return ossl_fail(ERR_CERT_FORMAT, "subject CN is not text");
    }
    err_t e = ERR_OK;
    if ((size_t)n > X509_CN_MAX || memchr(u, 0, (size_t)n) != NULL) {
        e = err_fail(ERR_CERT_FORMAT, "subject CN too long or contains NUL");
    } else {
        memcpy(out, u, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(u);
    return e;
}

err_t x509_cert_validity(const x509_cert *c, int64_t *not_before, int64_t *not_after) {
    struct tm tb;
    struct tm ta;
    if (ASN1_TIME_to_tm(X509_get0_notBefore(c->x), &tb) != 1 ||
        ASN1_TIME_to_tm(X509_get0_notAfter(c->x), &ta) != 1) {
        return ossl_fail(ERR_CERT_FORMAT, "bad validity time");
    }
    *not_before = (int64_t)timegm(&tb);
    *not_after = (int64_t)timegm(&ta);
    return ERR_OK;
}

void x509_cert_free(x509_cert *c) {
    if (c) {
        X509_free(c->x);
        free(c);
    }
}

/* ---- bundles and chain verification ---- */

err_t x509_chain_parse(const void *data, size_t len, x509_chain **out) {
    *out = NULL;
    if (len > X509_BUNDLE_MAX) {
        return err_fail(ERR_TOO_LARGE, "certificate bundle of %zu bytes", len);
    }
    const uint8_t *p = data;
    x509_chain *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        return err_fail(ERR_NOMEM, "x509_chain");
    }
    /* Intel's quotes carry PEM (DCAP type 5 "PCK cert chain"); Intel's QVL sample data carries
     * the same certificates as concatenated DER. A DER certificate starts with SEQUENCE. */
    err_t e = len > 0 && p[0] == 0x30 ? parse_der_bundle(p, len, ch) : parse_pem_bundle(p, len, ch);
    if (e == ERR_OK && ch->n == 0) {
        e = err_fail(ERR_CERT_FORMAT, "no certificate in the bundle");
    }
    if (e != ERR_OK) {
        x509_chain_free(ch);
        return e;
    }
    *out = ch;
    return ERR_OK;
}

size_t x509_chain_count(const x509_chain *ch) {
    return ch->n;
}

const x509_cert *x509_chain_get(const x509_chain *ch, size_t i) {
    return i < ch->n ? &ch->certs[i] : NULL;
}

const x509_cert *x509_chain_leaf(const x509_chain *ch) {
    if (ch->n == 1) {
        return &ch->certs[0];
    }
    const x509_cert *leaf = NULL;
    for (size_t i = 0; i < ch->n; i++) {
        /* a self-issued certificate (a root) is never the end-entity of a longer bundle */
        bool issues = X509_NAME_cmp(X509_get_issuer_name(ch->certs[i].x),
                                    X509_get_subject_name(ch->certs[i].x)) == 0;
        for (size_t j = 0; j < ch->n && !issues; j++) {
            issues = j != i && X509_NAME_cmp(X509_get_issuer_name(ch->certs[j].x),
                                             X509_get_subject_name(ch->certs[i].x)) == 0;
        }
        if (!issues) {
            if (leaf) {
                return NULL;
            }
            leaf = &ch->certs[i];
        }
    }
    return leaf;
}

static long pinned_index(const x509_cert *c, const uint8_t (*roots)[64], size_t nroots) {
    uint8_t pub[64];
    if (pkey_p256_pub(X509_get0_pubkey(c->x), pub) != ERR_OK) {
        err_clear_detail();
        return -1;
    }
    for (size_t r = 0; r < nroots; r++) {
        if (memcmp(pub, roots[r], 64) == 0) {
            return (long)r;
        }
    }
    return -1;
}

struct x509_crl {
    X509_CRL *c;
    uint8_t fp[32];
};

static err_t verify_pinned(const x509_chain *ch, const uint8_t (*roots)[64], size_t nroots,
                           const x509_crl *const *crls, size_t ncrls, int64_t now,
                           size_t *root_index) {
    const x509_cert *leaf = x509_chain_leaf(ch);
    if (!leaf) {
        return err_fail(ERR_CERT_FORMAT, "bundle has no unique end-entity certificate");
    }
    err_t e = ERR_OK;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509_CRL) *crl_stack = NULL;
    if (!store || !untrusted || !ctx) {
        e = ossl_fail(ERR_NOMEM, "X509 store");
        goto out;
    }
    /* Trust anchors are certificates from the bundle that carry a pinned KEY and are validly
     * self-signed by it: trusting a root by subject name would let anyone mint an "Intel SGX
     * Root CA" (Intel's own QVL sample data does; attestation.md §1.5 step 2). */
    size_t anchors = 0;
    for (size_t i = 0; i < ch->n; i++) {
        X509 *x = ch->certs[i].x;
        long r = pinned_index(&ch->certs[i], roots, nroots);
        if (r >= 0 && X509_check_issued(x, x) == X509_V_OK &&
            X509_verify(x, X509_get0_pubkey(x)) == 1) {
            if (X509_STORE_add_cert(store, x) != 1) {
                e = ossl_fail(ERR_NOMEM, "X509_STORE_add_cert");
                goto out;
            }
            anchors++;
        } else if (!sk_X509_push(untrusted, x)) {
            e = ossl_fail(ERR_NOMEM, "sk_X509_push");
            goto out;
        }
    }
    ERR_clear_error();
    if (anchors == 0) {
        e = err_fail(ERR_CHAIN_UNTRUSTED, "no self-signed certificate with a pinned root key");
        goto out;
    }
    if (X509_STORE_CTX_init(ctx, store, leaf->x, untrusted) != 1) {
        e = ossl_fail(ERR_CRYPTO, "X509_STORE_CTX_init");
        goto out;
    }
    unsigned long flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_CHECK_SS_SIGNATURE;
    if (crls) {
        /* attestation.md §1.7: PCK (or TCB signing) cert against its CA's CRL, the CA and the
         * root itself against the root CA CRL. CRL_CHECK_ALL covers the whole path. */
        STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
        for (size_t i = 0; sk && i < ncrls; i++) {
            if (!sk_X509_CRL_push(sk, crls[i]->c)) {
                sk_X509_CRL_free(sk);
                sk = NULL;
            }
        }
        if (!sk) {
            e = ossl_fail(ERR_NOMEM, "CRL stack");
            goto out;
        }
        X509_STORE_CTX_set0_crls(ctx, sk);
        crl_stack = sk;
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)now);
    X509_VERIFY_PARAM_set_flags(param, flags);
    X509_VERIFY_PARAM_set_depth(param, X509_CHAIN_MAX_CERTS);
    if (X509_verify_cert(ctx) != 1) {
        int v = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        const char *msg = X509_verify_cert_error_string(v);
        ERR_clear_error();
        if (v == X509_V_ERR_CERT_REVOKED) {
            e = err_fail(ERR_CERT_REVOKED, "certificate at depth %d: %s", depth, msg);
        } else if (v == X509_V_ERR_CRL_HAS_EXPIRED || v == X509_V_ERR_CRL_NOT_YET_VALID) {
            e = err_fail(ERR_COLLATERAL_EXPIRED, "CRL for depth %d: %s", depth, msg);
        } else if (v == X509_V_ERR_UNABLE_TO_GET_CRL || v == X509_V_ERR_CRL_SIGNATURE_FAILURE ||
                   v == X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER ||
                   v == X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE ||
                   v == X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD ||
                   v == X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD ||
                   v == X509_V_ERR_KEYUSAGE_NO_CRL_SIGN || v == X509_V_ERR_DIFFERENT_CRL_SCOPE ||
                   v == X509_V_ERR_CRL_PATH_VALIDATION_ERROR) {
            e = err_fail(ERR_CRL_INVALID, "CRL for depth %d: %s", depth, msg);
        } else if (v == X509_V_ERR_CERT_HAS_EXPIRED) {
            e = err_fail(ERR_CERT_EXPIRED, "certificate at depth %d: %s", depth, msg);
        } else if (v == X509_V_ERR_CERT_NOT_YET_VALID) {
            e = err_fail(ERR_CERT_NOT_YET_VALID, "certificate at depth %d: %s", depth, msg);
        } else {
            e = err_fail(ERR_CHAIN_UNTRUSTED, "certificate at depth %d: %s", depth, msg);
        }
        goto out;
    }
    /* Defence in depth: the anchor OpenSSL chose must carry a pinned key. */
    STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
    int nb = built ? sk_X509_num(built) : 0;
    x509_cert top = {.x = nb > 0 ? sk_X509_value(built, nb - 1) : NULL};
    long r = top.x ? pinned_index(&top, roots, nroots) : -1;
    if (r < 0) {
        e = err_fail(ERR_CHAIN_UNTRUSTED, "verified chain does not end at a pinned root");
        goto out;
    }
    if (root_index) {
        *root_index = (size_t)r;
    }
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_CRL_free(crl_stack); /* the CRLs themselves belong to the caller */
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return e;
}

err_t x509_chain_verify_pinned(const x509_chain *ch, const uint8_t (*roots)[64], size_t nroots,
                               int64_t now, size_t *root_index) {
    return verify_pinned(ch, roots, nroots, NULL, 0, now, root_index);
}

err_t x509_chain_verify_pinned_crl(const x509_chain *ch, const uint8_t (*roots)[64], size_t nroots,
                                   const x509_crl *const *crls, size_t ncrls, int64_t now,
                                   size_t *root_index) {
    static const x509_crl *const none[1] = {NULL};
    return verify_pinned(ch, roots, nroots, ncrls ? crls : none, ncrls, now, root_index);
}

/* ---- CRLs ---- */

#define X509_CRL_MAX ((size_t)1 << 20)

static err_t crl_wrap(X509_CRL *c, x509_crl **out) {
    x509_crl *r = calloc(1, sizeof(*r));
    unsigned char *der = NULL;
    int n = r ? i2d_X509_CRL(c, &der) : -1;
    if (!r || n <= 0) {
        free(r);
        X509_CRL_free(c);
        OPENSSL_free(der);
        return ossl_fail(ERR_NOMEM, "x509_crl");
    }
    r->c = c;
    sha256(der, (size_t)n, r->fp);
    OPENSSL_free(der);
    *out = r;
    return ERR_OK;
}

err_t x509_crl_parse(const void *data, size_t len, x509_crl **out) {
    *out = NULL;
    if (len > X509_CRL_MAX) {
        return err_fail(ERR_TOO_LARGE, "CRL of %zu bytes", len);
    }
    const uint8_t *p = data;
    X509_CRL *c = NULL;
    if (len > 0 && p[0] == 0x30) {
        const unsigned char *q = p;
        c = d2i_X509_CRL(NULL, &q, (long)len);
        if (c && q != p + len) {
            X509_CRL_free(c);
            ERR_clear_error();
            return err_fail(ERR_CRL_INVALID, "%zu bytes after the DER CRL", (size_t)(p + len - q));
        }
    } else if (len > 0) {
        BIO *b = BIO_new_mem_buf(p, (int)len);
        c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    if (!c) {
        return ossl_fail(ERR_CRL_INVALID, "not a CRL");
    }
    return crl_wrap(c, out);
}

static err_t asn1_time_unix(const ASN1_TIME *t, int64_t *out) {
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return err_fail(ERR_CRL_INVALID, "bad or missing CRL time");
    }
    *out = (int64_t)timegm(&tm);
    return ERR_OK;
}

err_t x509_crl_times(const x509_crl *c, int64_t *this_update, int64_t *next_update) {
    TRY(asn1_time_unix(X509_CRL_get0_lastUpdate(c->c), this_update));
    return asn1_time_unix(X509_CRL_get0_nextUpdate(c->c), next_update);
}

void x509_crl_fingerprint(const x509_crl *c, uint8_t out[32]) {
    memcpy(out, c->fp, 32);
}

err_t x509_crl_to_der(const x509_crl *c, buf *out) {
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(c->c, &der);
    if (n <= 0) {
        return ossl_fail(ERR_CRYPTO, "CRL encoding");
    }
    err_t e = buf_append(out, der, (size_t)n);
    OPENSSL_free(der);
    return e;
}

void x509_crl_free(x509_crl *c) {
    if (c) {
        X509_CRL_free(c->c);
        free(c);
    }
}

err_t x509_cert_ext_value(const x509_cert *c, const char *oid, buf *out) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj) {
        return ossl_fail(ERR_INTERNAL, "bad OID text");
    }
    int idx = X509_get_ext_by_OBJ(c->x, obj, -1);
    int again = idx >= 0 ? X509_get_ext_by_OBJ(c->x, obj, idx) : -1;
    ASN1_OBJECT_free(obj);
    if (idx < 0) {
        return err_fail(ERR_NOT_FOUND, "no extension %s", oid);
    }
    if (again >= 0) {
        return err_fail(ERR_CERT_FORMAT, "extension %s appears twice", oid);
    }
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(c->x, idx));
    return buf_append(out, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
}

err_t x509_cert_to_der(const x509_cert *c, buf *out) {
    unsigned char *der = NULL;
    int n = i2d_X509(c->x, &der);
    if (n <= 0) {
        return ossl_fail(ERR_CRYPTO, "certificate encoding");
    }
    err_t e = buf_append(out, der, (size_t)n);
    OPENSSL_free(der);
    return e;
}

err_t x509_crl_issue(const x509_crl_issue_params *p, x509_crl **out) {
    *out = NULL;
    err_t e = ERR_OK;
    EVP_PKEY *iss = p256_pkey(p->issuer_key->pub, p->issuer_key->priv);
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)p->this_update);
    ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)p->next_update);
    if (!iss) {
        e = err_fail(ERR_BAD_KEY, "invalid CRL issuer key");
        goto out;
    }
    if (!c || !tu || !nu || X509_CRL_set_version(c, 1) != 1 ||
        X509_CRL_set_issuer_name(c, X509_get_subject_name(p->issuer->x)) != 1 ||
        X509_CRL_set1_lastUpdate(c, tu) != 1 || X509_CRL_set1_nextUpdate(c, nu) != 1) {
        e = ossl_fail(ERR_CRYPTO, "building a CRL");
        goto out;
    }
    for (size_t i = 0; i < p->nrevoked; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        if (!r || X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(p->revoked[i]->x)) != 1 ||
            X509_REVOKED_set_revocationDate(r, tu) != 1 || X509_CRL_add0_revoked(c, r) != 1) {
            X509_REVOKED_free(r);
            e = ossl_fail(ERR_CRYPTO, "revoked entry");
            goto out;
        }
    }
    if (X509_CRL_sort(c) != 1 || X509_CRL_sign(c, iss, EVP_sha256()) <= 0) {
        e = ossl_fail(ERR_CRYPTO, "signing a CRL");
        goto out;
    }
    e = crl_wrap(c, out);
    c = NULL;
out:
    X509_CRL_free(c);
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    EVP_PKEY_free(iss);
    return e;
}

void x509_chain_free(x509_chain *ch) {
    if (ch) {
        for (size_t i = 0; i < ch->n; i++) {
            X509_free(ch->certs[i].x);
        }
        free(ch);
    }
}

/* ---- issuing ---- */

static err_t add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext) {
        return ossl_fail(ERR_CRYPTO, "building an X.509 extension");
    }
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? ERR_OK : ossl_fail(ERR_CRYPTO, "X509_add_ext");
}

static err_t add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t n) {
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    err_t e = ERR_OK;
    if (!obj || !os || n > INT32_MAX || ASN1_OCTET_STRING_set(os, der, (int)n) != 1 ||
        !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) || X509_add_ext(x, ext, -1) != 1) {
        e = ossl_fail(ERR_CRYPTO, "adding a raw X.509 extension");
    }
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return e;
}

static err_t set_name(X509_NAME *nm, const char *cn, const char *org) {
    if (X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) !=
            1 ||
        (org && X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)org, -1,
                                           -1, 0) != 1)) {
        return ossl_fail(ERR_CRYPTO, "building a name");
    }
    return ERR_OK;
}

err_t x509_cert_issue(const x509_issue_params *p, x509_cert **out) {
    *out = NULL;
    if (!p->issuer && memcmp(p->issuer_key->pub, p->subject_pub, 64) != 0) {
        return err_fail(ERR_BAD_KEY, "self-signed certificate: issuer key is not the subject key");
    }
    err_t e = ERR_OK;
    EVP_PKEY *sub = p256_pkey(p->subject_pub, NULL);
    EVP_PKEY *iss = p256_pkey(p->issuer_key->pub, p->issuer_key->priv);
    X509 *x = X509_new();
    BIGNUM *serial = NULL;
    if (!sub || !iss) {
        e = err_fail(ERR_BAD_KEY, "invalid P-256 key for a certificate");
        goto out;
    }
    uint8_t sb[16];
    rand_bytes(sb, sizeof(sb));
    sb[0] = (uint8_t)((sb[0] & 0x7f) | 0x01); /* positive, 16 significant bytes */
    serial = BN_bin2bn(sb, sizeof(sb), NULL);
    if (!x || !serial || X509_set_version(x, X509_VERSION_3) != 1 ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)p->not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)p->not_after) ||
        X509_set_pubkey(x, sub) != 1) {
        e = ossl_fail(ERR_CRYPTO, "building a certificate");
        goto out;
    }
    if ((e = set_name(X509_get_subject_name(x), p->cn, p->org)) != ERR_OK) {
        goto out;
    }
    if (X509_set_issuer_name(x, p->issuer ? X509_get_subject_name(p->issuer->x)
                                          : X509_get_subject_name(x)) != 1) {
        e = ossl_fail(ERR_CRYPTO, "issuer name");
        goto out;
    }
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, p->issuer ? p->issuer->x : x, x, NULL, NULL, 0);
    char bc[64];
    if (p->ca && p->pathlen >= 0) {
        snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", p->pathlen);
    } else {
        snprintf(bc, sizeof(bc), "critical,%s", p->ca ? "CA:TRUE" : "CA:FALSE");
    }
    if ((e = add_ext(x, &v3, NID_basic_constraints, bc)) != ERR_OK ||
        (e = add_ext(x, &v3, NID_key_usage,
                     p->ca ? "critical,keyCertSign,cRLSign"
                           : "critical,digitalSignature,nonRepudiation")) != ERR_OK ||
        (e = add_ext(x, &v3, NID_subject_key_identifier, "hash")) != ERR_OK ||
        (e = add_ext(x, &v3, NID_authority_key_identifier, "keyid:always")) != ERR_OK) {
        goto out;
    }
    if (p->ext_oid && (e = add_raw_ext(x, p->ext_oid, p->ext_der, p->ext_der_len)) != ERR_OK) {
        goto out;
    }
    if (X509_sign(x, iss, EVP_sha256()) <= 0) {
        e = ossl_fail(ERR_CRYPTO, "signing a certificate");
        goto out;
    }
    e = cert_wrap(x, out);
    x = NULL;
out:
    X509_free(x);
    BN_free(serial);
    EVP_PKEY_free(sub);
    EVP_PKEY_free(iss);
    return e;
}

/* ---- private keys ---- */

err_t x509_p256_key_to_pem(const p256_key *k, buf *out) {
    EVP_PKEY *pk = p256_pkey(k->pub, k->priv);
    if (!pk) {
        return err_fail(ERR_BAD_KEY, "invalid P-256 key pair");
    }
    BIO *b = BIO_new(BIO_s_mem());
    err_t e = ERR_OK;
    if (!b || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) {
        e = ossl_fail(ERR_CRYPTO, "PEM encoding of a private key");
    } else {
        e = bio_to_buf(b, out);
    }
    BIO_free_all(b); /* mem BIO frees (not wipes) its storage: keys are short-lived here */
    EVP_PKEY_free(pk);
    return e;
}

err_t x509_p256_key_from_pem(const void *pem, size_t len, p256_key *k) {
    if (len > INT32_MAX) {
        return err_fail(ERR_TOO_LARGE, "key file");
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIGNUM *d = NULL;
    err_t e = ERR_OK;
    if (!pk) {
        e = ossl_fail(ERR_BAD_KEY, "no private key in PEM");
        goto out;
    }
    if ((e = pkey_p256_pub(pk, k->pub)) != ERR_OK) {
        goto out;
    }
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
        BN_bn2binpad(d, k->priv, P256_PRIV_LEN) != P256_PRIV_LEN) {
        e = ossl_fail(ERR_BAD_KEY, "P-256 private scalar");
        goto out;
    }
out:
    BN_clear_free(d);
    EVP_PKEY_free(pk);
    BIO_free(b);
    return e;
}
