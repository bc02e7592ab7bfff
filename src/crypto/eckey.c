#include "eckey.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <string.h>

static size_t coord_len(ecdsa_curve c) {
    return c == ECDSA_P256_SHA256 ? 32 : 48;
}

EVP_PKEY *eckey_from_raw(ecdsa_curve curve, const uint8_t *pub, const uint8_t *priv) {
    size_t cl = coord_len(curve);
    uint8_t point[1 + 96];
    point[0] = 0x04;
    memcpy(point + 1, pub, 2 * cl);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *d = priv ? BN_bin2bn(priv, (int)cl, NULL) : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         curve == ECDSA_P256_SHA256 ? "prime256v1" : "secp384r1",
                                         0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * cl) ||
        (priv && (!d || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))) {
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pk = NULL;
        goto out;
    }
    /* fromdata does not always validate the point; do it explicitly. P-256 and P-384 have
     * cofactor 1: a point on the curve is in the prime-order group, so the quick check
     * (on-curve, not infinity) is complete and skips a scalar multiplication. A key pair must
     * also be consistent (the private scalar gives the public point). */
    EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new(pk, NULL);
    int ok = chk && (priv ? EVP_PKEY_pairwise_check(chk) : EVP_PKEY_public_check_quick(chk)) == 1;
    EVP_PKEY_CTX_free(chk);
    if (!ok) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    ERR_clear_error(); /* failures are reported as NULL; leave no stale queue entries */
    return pk;
}
