#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

struct ratls_ctx {
    SSL_CTX *ssl;
    ratls_role role;
    ratls_policy policy;
    ratls_cache *cache;
    ratls_clock_fn clock;
    void *clock_arg;
};

typedef struct {
    err_t err;
    int checked;
    ratls_peer peer;
} verdict;

static int verdict_idx = -1;
static pthread_once_t verdict_once = PTHREAD_ONCE_INIT;

static void verdict_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp) {
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void verdict_init_idx(void) {
    verdict_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, verdict_free);
}

static int64_t default_clock(void *arg) {
    (void)arg;
    return clock_unix();
}

static int verify_hook(X509_STORE_CTX *sctx, void *arg) {
    ratls_ctx *c = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    verdict *v = ssl ? SSL_get_ex_data(ssl, verdict_idx) : NULL;
    if (!v) {
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    v->checked = 1;
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(sctx);
    X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
    int64_t now = c->clock(c->clock_arg);
    if (chain && sk_X509_num(chain) > 1) {
        v->err = err_fail(ERR_CERT_CHAIN_DEPTH, "peer sent %d certificates", sk_X509_num(chain));
    } else if (!leaf) {
        v->err = err_fail(ERR_CERT_FORMAT, "no peer certificate");
    } else if (!c->cache) {
        v->err = ratls_verify_x509(leaf, &c->policy, now, &v->peer);
    } else {
        /* The cache key is the certificate's hash (OpenSSL computed it when parsing). */
        uint8_t key[32];
        unsigned int klen = 0;
        if (X509_digest(leaf, EVP_sha256(), key, &klen) != 1 || klen != 32) {
            v->err = err_fail(ERR_CRYPTO, "cannot hash the peer certificate");
        } else if (ratls_cache_get(c->cache, key, now, &v->peer)) {
            /* Signatures were checked when cached; time and policy are re-checked now. */
            if (v->peer.not_after < now) {
                v->err = err_fail(ERR_CERT_EXPIRED, "cached certificate expired");
            } else {
                v->err = ratls_policy_check(&c->policy, &v->peer);
            }
        } else {
            v->err = ratls_verify_x509(leaf, &c->policy, now, &v->peer);
            if (v->err == ERR_OK) {
                ratls_cache_put(c->cache, key, now, &v->peer);
            }
        }
    }
    if (v->err != ERR_OK) {
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

static err_t load_identity(SSL_CTX *ssl, const ratls_identity *id) {
    const unsigned char *p = id->cert_der.data;
    X509 *x = d2i_X509(NULL, &p, (long)id->cert_der.len);
    EVP_PKEY *pk =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, id->key.seed, ED25519_SEED_LEN);
    int ok = x && pk && SSL_CTX_use_certificate(ssl, x) == 1 &&
             SSL_CTX_use_PrivateKey(ssl, pk) == 1 && SSL_CTX_check_private_key(ssl) == 1;
    X509_free(x);
    EVP_PKEY_free(pk);
    if (!ok) {
        ERR_clear_error();
        return err_fail(ERR_BAD_KEY, "certificate and key do not load");
    }
    return ERR_OK;
}

static err_t copy_policy(ratls_policy *dst, const ratls_policy *src) {
    *dst = *src;
    dst->image_hashes = NULL; /* the lists are deep-copied; collateral stays borrowed */
    dst->mrtds = NULL;
    dst->rtmrs = NULL;
    dst->nimage = dst->nmrtd = dst->nrtmr = 0;
    for (size_t i = 0; i < src->nimage; i++) {
        TRY(ratls_policy_add_image(dst, src->image_hashes[i]));
    }
    for (size_t i = 0; i < src->nmrtd; i++) {
        TRY(ratls_policy_add_mrtd(dst, src->mrtds[i]));
    }
    for (size_t i = 0; i < src->nrtmr; i++) {
        TRY(ratls_policy_add_rtmrs(dst, (const uint8_t(*)[48])src->rtmrs[i]));
    }
    return ERR_OK;
}

err_t ratls_ctx_new(ratls_role role, const ratls_identity *id, const ratls_policy *pol,
                    ratls_ctx **out) {
    pthread_once(&verdict_once, verdict_init_idx);
    if (verdict_idx < 0) {
        return err_fail(ERR_INTERNAL, "no SSL ex_data index");
    }
    ratls_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        return ERR_NOMEM;
    }
    c->role = role;
    c->clock = default_clock;
    err_t e = copy_policy(&c->policy, pol);
    if (e != ERR_OK) {
        ratls_ctx_free(c);
        return e;
    }
    c->ssl = SSL_CTX_new(role == RATLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (!c->ssl || SSL_CTX_set_min_proto_version(c->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(c->ssl, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256") != 1 ||
        SSL_CTX_set1_sigalgs_list(c->ssl, "ed25519") != 1 ||
        SSL_CTX_set1_groups_list(c->ssl, "X25519:P-256") != 1 ||
        SSL_CTX_set_num_tickets(c->ssl, 0) != 1) {
        ERR_clear_error();
        ratls_ctx_free(c);
        return err_fail(ERR_TLS, "TLS context setup failed");
    }
    /* IGNORE_UNEXPECTED_EOF: a peer that closes without close_notify has simply closed; our
     * frames carry their own lengths, so truncation of a message is still detected. */
    SSL_CTX_set_options(c->ssl, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(
        c->ssl, SSL_VERIFY_PEER | (role == RATLS_SERVER ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        NULL);
    SSL_CTX_set_cert_verify_callback(c->ssl, verify_hook, c);
    if ((e = load_identity(c->ssl, id)) != ERR_OK) {
        ratls_ctx_free(c);
        return e;
    }
    *out = c;
    return ERR_OK;
}

void ratls_ctx_free(ratls_ctx *c) {
    if (!c) {
        return;
    }
    SSL_CTX_free(c->ssl);
    ratls_policy_cleanup(&c->policy);
    free(c);
}

void ratls_ctx_set_cache(ratls_ctx *c, ratls_cache *cache) {
    c->cache = cache;
}

void ratls_ctx_set_clock(ratls_ctx *c, ratls_clock_fn fn, void *arg) {
    c->clock = fn ? fn : default_clock;
    c->clock_arg = arg;
}

err_t ratls_ctx_set_identity(ratls_ctx *c, const ratls_identity *id) {
    return load_identity(c->ssl, id);
}

SSL_CTX *ratls_ctx_ssl_ctx(ratls_ctx *c) {
    return c->ssl;
}

const ratls_policy *ratls_ctx_policy(const ratls_ctx *c) {
    return &c->policy;
}

int64_t ratls_ctx_now(const ratls_ctx *c) {
    return c->clock(c->clock_arg);
}

SSL *ratls_ssl_new(ratls_ctx *c) {
    SSL *ssl = SSL_new(c->ssl);
    verdict *v = calloc(1, sizeof(*v));
    if (!ssl || !v || SSL_set_ex_data(ssl, verdict_idx, v) != 1) {
        free(v);
        SSL_free(ssl);
        return NULL;
    }
    v->err = ERR_PEER_NOT_VERIFIED;
    if (c->role == RATLS_SERVER) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
    }
    return ssl;
}

err_t ratls_ssl_verdict(SSL *ssl, ratls_peer *peer) {
    verdict *v = SSL_get_ex_data(ssl, verdict_idx);
    if (!v || !v->checked) {
        return ERR_PEER_NOT_VERIFIED;
    }
    if (v->err == ERR_OK && peer) {
        *peer = v->peer;
    }
    return v->err;
}

err_t ratls_ssl_error(SSL *ssl, int ret) {
    int se = SSL_get_error(ssl, ret);
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
        return ERR_AGAIN;
    }
    verdict *v = SSL_get_ex_data(ssl, verdict_idx);
    if (v && v->checked && v->err != ERR_OK) {
        ERR_clear_error();
        return v->err;
    }
    if (se == SSL_ERROR_ZERO_RETURN) {
        return ERR_EOF;
    }
    unsigned long code = ERR_peek_error();
    int reason = ERR_GET_REASON(code);
    char msg[160] = "";
    if (code) {
        ERR_error_string_n(code, msg, sizeof(msg));
    }
    ERR_clear_error();
    if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
        reason == SSL_R_WRONG_VERSION_NUMBER) {
        return err_fail(ERR_TLS_VERSION, "%s", msg);
    }
    if (se == SSL_ERROR_SYSCALL && !code) {
        return err_fail(ERR_EOF, "connection closed during TLS");
    }
    return err_fail(ERR_TLS, "%s", msg[0] ? msg : "TLS failure");
}
