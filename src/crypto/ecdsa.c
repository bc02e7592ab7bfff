#include "ecdsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <string.h>

#include "ct.h"
#include "eckey.h"

static size_t coord_len(ecdsa_curve c) {
    return c == ECDSA_P256_SHA256 ? 32 : 48;
}

/* Public keys seen recently, already imported and checked. Importing a raw point through
 * OpenSSL 3's provider interface costs about as much as the verification itself, and the keys a
 * verifier meets repeat: a platform's PCK key and its QE's attestation key sign every quote of
 * that machine. Entries are reference-counted EVP_PKEYs (safe to share between threads for
 * verification). */
#define KEY_CACHE_SLOTS 32

typedef struct {
    ecdsa_curve curve;
    uint8_t pub[P384_PUB_LEN];
    EVP_PKEY *pk;
} key_slot;

static key_slot key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t key_slot_of(ecdsa_curve curve, const uint8_t *pub) {
    size_t h = (size_t)curve;
    for (size_t i = 0; i < 8; i++) {
        h = h * 131 + pub[i];
    }
    return h % KEY_CACHE_SLOTS;
}

static EVP_PKEY *pkey_lookup(ecdsa_curve curve, const uint8_t *pub) {
    size_t len = 2 * coord_len(curve);
    key_slot *s = &key_cache[key_slot_of(curve, pub)];
    EVP_PKEY *pk = NULL;
    pthread_mutex_lock(&key_mu);
    if (s->pk && s->curve == curve && memcmp(s->pub, pub, len) == 0 && EVP_PKEY_up_ref(s->pk)) {
        pk = s->pk;
    }
    pthread_mutex_unlock(&key_mu);
    if (pk) {
        return pk;
    }
    pk = eckey_from_raw(curve, pub, NULL);
    if (!pk) {
        return NULL;
    }
    pthread_mutex_lock(&key_mu);
    if (EVP_PKEY_up_ref(pk)) {
        EVP_PKEY_free(s->pk);
        s->curve = curve;
        memcpy(s->pub, pub, len);
        s->pk = pk;
    }
    pthread_mutex_unlock(&key_mu);
    return pk;
}

err_t ecdsa_verify(ecdsa_curve curve, const uint8_t *pub, const void *msg, size_t n,
                   const uint8_t *sig) {
    size_t cl = coord_len(curve);
    EVP_PKEY *pk = pkey_lookup(curve, pub);
    if (!pk) {
        return err_fail(ERR_BAD_KEY, "ECDSA public key is not a valid curve point");
    }
    err_t e = ERR_BAD_SIGNATURE;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)cl, NULL);
    BIGNUM *sv = BN_bin2bn(sig + cl, (int)cl, NULL);
    unsigned char *der = NULL;
    int derlen = 0;
    if (s && r && sv && ECDSA_SIG_set0(s, r, sv) == 1) {
        r = sv = NULL; /* owned by s now */
        derlen = i2d_ECDSA_SIG(s, &der);
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (derlen > 0 && md &&
        EVP_DigestVerifyInit(md, NULL, curve == ECDSA_P256_SHA256 ? EVP_sha256() : EVP_sha384(),
                             NULL, pk) == 1 &&
        EVP_DigestVerify(md, der, (size_t)derlen, msg, n) == 1) {
        e = ERR_OK;
    }
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    EVP_PKEY_free(pk);
    return e;
}

err_t p256_generate(p256_key *k) {
    EVP_PKEY *pk = EVP_EC_gen("prime256v1");
    if (!pk) {
        return err_fail(ERR_CRYPTO, "P-256 key generation failed");
    }
    BIGNUM *d = NULL;
    uint8_t point[65];
    size_t plen = 0;
    err_t e = ERR_OK;
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
        BN_bn2binpad(d, k->priv, P256_PRIV_LEN) != P256_PRIV_LEN ||
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &plen) !=
            1 ||
        plen != 65) {
        e = err_fail(ERR_CRYPTO, "P-256 key export failed");
    } else {
        memcpy(k->pub, point + 1, 64);
    }
    BN_clear_free(d);
    EVP_PKEY_free(pk);
    return e;
}

err_t p256_sign(const p256_key *k, const void *msg, size_t n, uint8_t sig[P256_SIG_LEN]) {
    EVP_PKEY *pk = eckey_from_raw(ECDSA_P256_SHA256, k->pub, k->priv);
    if (!pk) {
        return err_fail(ERR_BAD_KEY, "P-256 private key rejected");
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t dlen = sizeof(der);
    err_t e = err_fail(ERR_CRYPTO, "P-256 signing failed");
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
        EVP_DigestSign(md, der, &dlen, msg, n) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
        if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) == 32) {
            e = ERR_OK;
        }
        ECDSA_SIG_free(s);
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    return e;
}
