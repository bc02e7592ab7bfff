#include "hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdlib.h>

struct hash_ctx {
    EVP_MD_CTX *md;
};

static const char *md_name(hash_alg alg);

/* Digests fetched once: EVP_sha256() and friends are fetched again on every use in OpenSSL 3
 * (provider lookup under a lock), which showed as the larger part of hashing a request. */
static EVP_MD *g_md[3];
static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_hmac_key; /* per thread: an HMAC context per digest, keyed per call */

static void free_thread_hmac(void *p) {
    EVP_MAC_CTX **c = p;
    for (int i = 0; i < 3; i++) {
        EVP_MAC_CTX_free(c[i]);
    }
    free(c);
}

static void fetch_once(void) {
    for (int i = 0; i < 3; i++) {
        g_md[i] = EVP_MD_fetch(NULL, md_name((hash_alg)i), NULL);
    }
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (pthread_key_create(&g_hmac_key, free_thread_hmac) != 0) {
        abort();
    }
}

static int alg_index(hash_alg alg) {
    return alg == HASH_SHA384 ? 1 : alg == HASH_SHA512 ? 2 : 0;
}

static const EVP_MD *md_of(hash_alg alg) {
    pthread_once(&g_once, fetch_once);
    const EVP_MD *md = g_md[alg_index(alg)];
    if (md) {
        return md;
    }
    return alg == HASH_SHA384 ? EVP_sha384() : alg == HASH_SHA512 ? EVP_sha512() : EVP_sha256();
}

static const char *md_name(hash_alg alg) {
    switch (alg) {
    case HASH_SHA256:
        return "SHA256";
    case HASH_SHA384:
        return "SHA384";
    case HASH_SHA512:
        return "SHA512";
    }
    return "SHA256";
}

size_t hash_len(hash_alg alg) {
    return alg == HASH_SHA256 ? 32 : alg == HASH_SHA384 ? 48 : 64;
}

static void oneshot(hash_alg alg, const void *data, size_t n, uint8_t *out) {
    unsigned int len = 0;
    /* EVP_Digest only fails on allocation failure; treat that as fatal. */
    if (!EVP_Digest(data, n, out, &len, md_of(alg), NULL)) {
        abort();
    }
}

void sha256(const void *data, size_t n, uint8_t out[SHA256_LEN]) {
    oneshot(HASH_SHA256, data, n, out);
}

void sha384(const void *data, size_t n, uint8_t out[SHA384_LEN]) {
    oneshot(HASH_SHA384, data, n, out);
}

void sha512(const void *data, size_t n, uint8_t out[SHA512_LEN]) {
    oneshot(HASH_SHA512, data, n, out);
}

hash_ctx *hash_new(hash_alg alg) {
    hash_ctx *h = malloc(sizeof(*h));
    if (!h) {
        abort();
    }
    h->md = EVP_MD_CTX_new();
    if (!h->md || !EVP_DigestInit_ex(h->md, md_of(alg), NULL)) {
        abort();
    }
    return h;
}

void hash_update(hash_ctx *h, const void *data, size_t n) {
    if (n && !EVP_DigestUpdate(h->md, data, n)) {
        abort();
    }
}

void hash_final_free(hash_ctx *h, uint8_t *out) {
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(h->md, out, &len)) {
        abort();
    }
    hash_free(h);
}

void hash_free(hash_ctx *h) {
    if (!h) {
        return;
    }
    EVP_MD_CTX_free(h->md);
    free(h);
}

/* This thread's HMAC context for alg with its digest set, made once; each call re-keys it
 * (EVP_MAC_init with the key and no parameters keeps the digest, so nothing is fetched). */
static EVP_MAC_CTX *thread_hmac(hash_alg alg) {
    pthread_once(&g_once, fetch_once);
    if (!g_hmac) {
        return NULL;
    }
    EVP_MAC_CTX **c = pthread_getspecific(g_hmac_key);
    if (!c) {
        c = calloc(3, sizeof(*c));
        if (!c || pthread_setspecific(g_hmac_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    int i = alg_index(alg);
    if (!c[i]) {
        EVP_MAC_CTX *x = EVP_MAC_CTX_new(g_hmac);
        OSSL_PARAM p[2] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md_name(alg), 0),
            OSSL_PARAM_construct_end()};
        if (!x || !EVP_MAC_CTX_set_params(x, p)) {
            EVP_MAC_CTX_free(x);
            return NULL;
        }
        c[i] = x;
    }
    return c[i];
}

err_t hmac(hash_alg alg, const void *key, size_t klen, const void *data, size_t n, uint8_t *out) {
    /* EVP_MAC_init with a NULL key would keep the previous call's key: never here. */
    EVP_MAC_CTX *c = key && klen > 0 ? thread_hmac(alg) : NULL;
    size_t len = 0;
    if (c && EVP_MAC_init(c, key, klen, NULL) && EVP_MAC_update(c, data, n) &&
        EVP_MAC_final(c, out, &len, hash_len(alg))) {
        return ERR_OK;
    }
    unsigned int l2 = 0; /* the context could not be made: the one-shot path */
    if (!HMAC(md_of(alg), key, (int)klen, data, n, out, &l2)) {
        return err_fail(ERR_CRYPTO, "HMAC failed");
    }
    return ERR_OK;
}

err_t hkdf(hash_alg alg, const void *salt, size_t slen, const void *ikm, size_t ilen,
           const void *info, size_t infolen, uint8_t *out, size_t outlen) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!ctx) {
        return err_fail(ERR_CRYPTO, "HKDF unavailable");
    }
    OSSL_PARAM params[5];
    int i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(alg), 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ilen);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, slen);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    params[i] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, outlen, params);
    EVP_KDF_CTX_free(ctx);
    return ok ? ERR_OK : err_fail(ERR_CRYPTO, "HKDF derive failed");
}
