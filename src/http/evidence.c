/* Answer evidence (see evidence.h). */
#include "http/evidence.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/codec.h"
#include "crypto/ct.h"
#include "crypto/hash.h"

static const char DOMAIN[] = "cocoon-evidence-v1"; /* followed by its NUL on the wire */

static err_t message(const evidence_claim *c, buf *m) {
    if (c->model_len > EVIDENCE_MODEL_MAX) {
        return err_fail(ERR_TOO_LARGE, "model id of %zu bytes", c->model_len);
    }
    TRY(buf_append(m, DOMAIN, sizeof(DOMAIN)));
    TRY(buf_append(m, c->query_hash, 32));
    TRY(buf_append(m, c->answer_hash, 32));
    TRY(buf_u32le(m, (uint32_t)c->model_len));
    TRY(buf_append(m, c->model, c->model_len));
    const int64_t v[5] = {c->prompt, c->cached, c->completion, c->reasoning, c->total};
    for (size_t i = 0; i < 5; i++) {
        TRY(buf_u64le(m, (uint64_t)v[i]));
    }
    return ERR_OK;
}

err_t evidence_sign(const ed25519_key *k, const evidence_claim *c, uint8_t sig[ED25519_SIG_LEN]) {
    buf m;
    buf_init(&m, 1024);
    err_t e = message(c, &m);
    if (e == ERR_OK) {
        e = ed25519_sign(k, m.data, m.len, sig);
    }
    buf_free(&m);
    return e;
}

err_t evidence_verify(const uint8_t pub[ED25519_PUB_LEN], const evidence_claim *c,
                      const uint8_t sig[ED25519_SIG_LEN]) {
    buf m;
    buf_init(&m, 1024);
    err_t e = message(c, &m);
    if (e == ERR_OK) {
        e = ed25519_verify(pub, m.data, m.len, sig);
    }
    buf_free(&m);
    return e;
}

static const char MAC_SALT[] = "cocoon-evidence-mac-v1";

err_t evidence_mac_key(const x25519_key *mine, const uint8_t peer_kx[X25519_LEN],
                       const uint8_t worker_pub[ED25519_PUB_LEN], bool mine_is_worker,
                       uint8_t key[32]) {
    uint8_t shared[X25519_LEN];
    TRY(x25519_shared(mine, peer_kx, shared));
    uint8_t info[ED25519_PUB_LEN + 2 * X25519_LEN];
    memcpy(info, worker_pub, ED25519_PUB_LEN);
    memcpy(info + ED25519_PUB_LEN, mine_is_worker ? mine->pub : peer_kx, X25519_LEN);
    memcpy(info + ED25519_PUB_LEN + X25519_LEN, mine_is_worker ? peer_kx : mine->pub, X25519_LEN);
    err_t e = hkdf(HASH_SHA256, MAC_SALT, sizeof(MAC_SALT) - 1, shared, sizeof(shared), info,
                   sizeof(info), key, 32);
    ct_wipe(shared, sizeof(shared));
    return e;
}

err_t evidence_mac(const uint8_t key[32], const evidence_claim *c, uint8_t tag[EVIDENCE_MAC_LEN]) {
    buf m;
    buf_init(&m, 1024);
    err_t e = message(c, &m);
    if (e == ERR_OK) {
        e = hmac(HASH_SHA256, key, 32, m.data, m.len, tag);
    }
    buf_free(&m);
    return e;
}

err_t evidence_mac_verify(const uint8_t key[32], const evidence_claim *c,
                          const uint8_t tag[EVIDENCE_MAC_LEN]) {
    uint8_t want[EVIDENCE_MAC_LEN];
    TRY(evidence_mac(key, c, want));
    return ct_eq(want, tag, EVIDENCE_MAC_LEN)
               ? ERR_OK
               : err_fail(ERR_BAD_SIGNATURE, "answer evidence MAC does not verify");
}

static size_t proof_len(evidence_kind k) {
    return k == EVIDENCE_HMAC ? EVIDENCE_MAC_LEN : ED25519_SIG_LEN;
}

static const char *proof_member(evidence_kind k) {
    return k == EVIDENCE_HMAC ? "evidence_mac" : "evidence";
}

err_t evidence_debug_json(const evidence_proof *p, buf *out) {
    char b64[128];
    b64_encode(p->bytes, proof_len(p->kind), b64, false);
    char t[180];
    int n = snprintf(t, sizeof(t), "{\"%s\":\"%s\"}", proof_member(p->kind), b64);
    return buf_append(out, t, (size_t)n);
}

/* The exact text evidence_debug_json writes, read without a JSON parser: {"NAME":"B64"}. */
static bool canonical(const uint8_t *json, size_t len, evidence_kind k, evidence_proof *p) {
    const char *name = proof_member(k);
    size_t nl = strlen(name), want = proof_len(k), bl = b64_encoded_len(want);
    size_t got = 0;
    if (len != nl + bl + 7 || memcmp(json, "{\"", 2) != 0 || memcmp(json + 2, name, nl) != 0 ||
        memcmp(json + 2 + nl, "\":\"", 3) != 0 || memcmp(json + len - 2, "\"}", 2) != 0 ||
        b64_decode((const char *)json + nl + 5, bl, p->bytes, want, &got, false) != ERR_OK ||
        got != want) {
        return false;
    }
    p->kind = k;
    return true;
}

err_t evidence_from_debug(const uint8_t *json, size_t len, evidence_proof *p) {
    memset(p, 0, sizeof(*p));
    if (canonical(json, len, EVIDENCE_HMAC, p) || canonical(json, len, EVIDENCE_SIGNATURE, p)) {
        return ERR_OK;
    }
    memset(p, 0, sizeof(*p));
    json_t *o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *sv = json_object_get(o, "evidence");
    json_t *mv = json_object_get(o, "evidence_mac");
    err_t e;
    size_t got = 0;
    if (!sv && !mv) {
        e = err_fail(ERR_NOT_FOUND, "no evidence in the final info");
    } else if (sv && mv) {
        e = err_fail(ERR_MALFORMED, "both a signature and a MAC in the final info");
    } else {
        p->kind = sv ? EVIDENCE_SIGNATURE : EVIDENCE_HMAC;
        json_t *v = sv ? sv : mv;
        size_t want = proof_len(p->kind);
        if (!json_is_string(v) || json_string_length(v) > 100 ||
            b64_decode(json_string_value(v), json_string_length(v), p->bytes, want, &got, false) !=
                ERR_OK ||
            got != want) {
            e = err_fail(ERR_MALFORMED, "%s is not base64 of %zu bytes", proof_member(p->kind),
                         want);
        } else {
            e = ERR_OK;
        }
    }
    json_decref(o);
    return e;
}
