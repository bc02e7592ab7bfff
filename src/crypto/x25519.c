#include "x25519.h"

#include <openssl/evp.h>

#include "ct.h"
#include "rand.h"

err_t x25519_generate(x25519_key *k) {
    rand_bytes(k->priv, X25519_LEN);
    EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k->priv, X25519_LEN);
    size_t len = X25519_LEN;
    int ok = p && EVP_PKEY_get_raw_public_key(p, k->pub, &len) == 1 && len == X25519_LEN;
    EVP_PKEY_free(p);
    return ok ? ERR_OK : err_fail(ERR_CRYPTO, "X25519 key generation failed");
}

err_t x25519_shared(const x25519_key *k, const uint8_t peer[X25519_LEN], uint8_t out[X25519_LEN]) {
    EVP_PKEY *mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k->priv, X25519_LEN);
    EVP_PKEY *theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, X25519_LEN);
    EVP_PKEY_CTX *ctx = mine ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
    size_t len = X25519_LEN;
    err_t e = ERR_OK;
    if (!theirs) {
        e = err_fail(ERR_BAD_KEY, "X25519 peer key rejected");
    } else if (!ctx || EVP_PKEY_derive_init(ctx) != 1 ||
               EVP_PKEY_derive_set_peer(ctx, theirs) != 1 || EVP_PKEY_derive(ctx, out, &len) != 1 ||
               len != X25519_LEN) {
        e = err_fail(ERR_BAD_KEY, "X25519 derivation failed (small-order peer key?)");
    } else {
        static const uint8_t zero[X25519_LEN];
        if (ct_eq(out, zero, X25519_LEN)) {
            e = err_fail(ERR_BAD_KEY, "X25519 shared secret is zero");
        }
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(theirs);
    return e;
}
