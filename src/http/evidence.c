/* Answer evidence (see evidence.h). */
#include "http/evidence.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/codec.h"

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

err_t evidence_debug_json(const uint8_t sig[ED25519_SIG_LEN], buf *out) {
    char b64[128];
    b64_encode(sig, ED25519_SIG_LEN, b64, false);
    char t[160];
    int n = snprintf(t, sizeof(t), "{\"evidence\":\"%s\"}", b64);
    return buf_append(out, t, (size_t)n);
}

err_t evidence_from_debug(const uint8_t *json, size_t len, uint8_t sig[ED25519_SIG_LEN]) {
    json_t *o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(o, "evidence");
    err_t e;
    size_t got = 0;
    if (!v) {
        e = err_fail(ERR_NOT_FOUND, "no evidence in the final info");
    } else if (!json_is_string(v) || json_string_length(v) > 100 ||
               b64_decode(json_string_value(v), json_string_length(v), sig, ED25519_SIG_LEN, &got,
                          false) != ERR_OK ||
               got != ED25519_SIG_LEN) {
        e = err_fail(ERR_MALFORMED, "evidence is not a base64 Ed25519 signature");
    } else {
        e = ERR_OK;
    }
    json_decref(o);
    return e;
}
