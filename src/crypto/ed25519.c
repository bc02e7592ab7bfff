#include "ed25519.h"

#include <openssl/evp.h>

#include "ct.h"
#include "rand.h"

err_t ed25519_from_seed(ed25519_key *k, const uint8_t seed[ED25519_SEED_LEN]) {
    EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, ED25519_SEED_LEN);
    if (!p) {
        return err_fail(ERR_BAD_KEY, "Ed25519 seed rejected");
    }
    size_t len = ED25519_PUB_LEN;
    int ok = EVP_PKEY_get_raw_public_key(p, k->pub, &len);
    EVP_PKEY_free(p);
    if (!ok || len != ED25519_PUB_LEN) {
        return err_fail(ERR_CRYPTO, "Ed25519 public key derivation failed");
    }
    for (size_t i = 0; i < ED25519_SEED_LEN; i++) {
        k->seed[i] = seed[i];
    }
    return ERR_OK;
}

err_t ed25519_generate(ed25519_key *k) {
    uint8_t seed[ED25519_SEED_LEN];
    rand_bytes(seed, sizeof(seed));
    err_t e = ed25519_from_seed(k, seed);
    ct_wipe(seed, sizeof(seed));
    return e;
}

err_t ed25519_sign(const ed25519_key *k, const void *msg, size_t n, uint8_t sig[ED25519_SIG_LEN]) {
    EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, ED25519_SEED_LEN);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    err_t e = ERR_OK;
    size_t slen = ED25519_SIG_LEN;
    if (!p || !md || EVP_DigestSignInit(md, NULL, NULL, NULL, p) != 1 ||
        EVP_DigestSign(md, sig, &slen, msg, n) != 1 || slen != ED25519_SIG_LEN) {
        e = err_fail(ERR_CRYPTO, "Ed25519 signing failed");
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(p);
    return e;
}

err_t ed25519_verify(const uint8_t pub[ED25519_PUB_LEN], const void *msg, size_t n,
                     const uint8_t sig[ED25519_SIG_LEN]) {
    EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, ED25519_PUB_LEN);
    if (!p) {
        return err_fail(ERR_BAD_KEY, "Ed25519 public key rejected");
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    err_t e = ERR_BAD_SIGNATURE;
    if (md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, p) == 1 &&
        EVP_DigestVerify(md, sig, ED25519_SIG_LEN, msg, n) == 1) {
        e = ERR_OK;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(p);
    return e;
}

void ed25519_wipe(ed25519_key *k) {
    ct_wipe(k, sizeof(*k));
}
