#include "aead.h"

#include <openssl/evp.h>

#include "ct.h"

static const EVP_CIPHER *cipher_for(size_t klen) {
    return klen == 16 ? EVP_aes_128_gcm() : klen == 32 ? EVP_aes_256_gcm() : NULL;
}

err_t aead_seal(const uint8_t *key, size_t klen, const uint8_t nonce[AEAD_NONCE_LEN],
                const void *aad, size_t aadlen, const void *in, size_t n, uint8_t *out) {
    const EVP_CIPHER *c = cipher_for(klen);
    if (!c) {
        return err_fail(ERR_BAD_KEY, "AES-GCM key must be 16 or 32 bytes, got %zu", klen);
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    int ok = ctx && EVP_EncryptInit_ex(ctx, c, NULL, key, nonce) == 1 &&
             (aadlen == 0 || EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) == 1) &&
             (n == 0 || EVP_EncryptUpdate(ctx, out, &len, in, (int)n) == 1) &&
             EVP_EncryptFinal_ex(ctx, out + n, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN, out + n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? ERR_OK : err_fail(ERR_CRYPTO, "AES-GCM encryption failed");
}

err_t aead_open(const uint8_t *key, size_t klen, const uint8_t nonce[AEAD_NONCE_LEN],
                const void *aad, size_t aadlen, const void *in, size_t n, uint8_t *out) {
    const EVP_CIPHER *c = cipher_for(klen);
    if (!c) {
        return err_fail(ERR_BAD_KEY, "AES-GCM key must be 16 or 32 bytes, got %zu", klen);
    }
    if (n < AEAD_TAG_LEN) {
        return err_fail(ERR_TRUNCATED, "AES-GCM input shorter than its tag");
    }
    size_t m = n - AEAD_TAG_LEN;
    const uint8_t *bin = in;
    uint8_t tag[AEAD_TAG_LEN];
    for (size_t i = 0; i < AEAD_TAG_LEN; i++) {
        tag[i] = bin[m + i];
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    int ok = ctx && EVP_DecryptInit_ex(ctx, c, NULL, key, nonce) == 1 &&
             (aadlen == 0 || EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) == 1) &&
             (m == 0 || EVP_DecryptUpdate(ctx, out, &len, bin, (int)m) == 1) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN, tag) == 1;
    int fin = ok && EVP_DecryptFinal_ex(ctx, out + m, &len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        return err_fail(ERR_CRYPTO, "AES-GCM decryption failed");
    }
    if (!fin) {
        ct_wipe(out, m);
        return ERR_AEAD_AUTH;
    }
    return ERR_OK;
}
