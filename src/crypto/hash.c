#include "hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>

struct hash_ctx {
    EVP_MD_CTX *md;
};

static const EVP_MD *md_of(hash_alg alg) {
    switch (alg) {
    case HASH_SHA256:
        return EVP_sha256();
    case HASH_SHA384:
        return EVP_sha384();
    case HASH_SHA512:
        return EVP_sha512();
    }
    return EVP_sha256();
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

err_t hmac(hash_alg alg, const void *key, size_t klen, const void *data, size_t n, uint8_t *out) {
    unsigned int len = 0;
    if (!HMAC(md_of(alg), key, (int)klen, data, n, out, &len)) {
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
