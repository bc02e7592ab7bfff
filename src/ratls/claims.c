#include "claims.h"

#include <string.h>

#include "base/cur.h"

err_t ratls_claims_encode(const uint8_t pubkey[32], const ratls_claim *rec, size_t n, buf *out) {
    if (n > RATLS_CLAIMS_MAX_RECORDS) {
        return err_fail(ERR_TOO_MANY, "%zu claim records, at most %d", n, RATLS_CLAIMS_MAX_RECORDS);
    }
    TRY(buf_append(out, pubkey, 32));
    for (size_t i = 0; i < n; i++) {
        if (rec[i].len > RATLS_CLAIM_VALUE_MAX) {
            return err_fail(ERR_TOO_LARGE, "claim %u is %u bytes", rec[i].tag, rec[i].len);
        }
        TRY(buf_u16le(out, rec[i].tag));
        TRY(buf_u32le(out, rec[i].len));
        TRY(buf_append(out, rec[i].value, rec[i].len));
    }
    if (out->len > RATLS_CLAIMS_MAX) {
        return err_fail(ERR_TOO_LARGE, "claims extension is %zu bytes", out->len);
    }
    return ERR_OK;
}

err_t ratls_claims_decode(const uint8_t *data, size_t len, ratls_claims *out) {
    memset(out, 0, sizeof(*out));
    if (len > RATLS_CLAIMS_MAX) {
        return err_fail(ERR_TOO_LARGE, "claims extension is %zu bytes", len);
    }
    cur c;
    cur_init(&c, data, len);
    TRY(cur_copy(&c, out->pubkey, 32));
    while (cur_left(&c) > 0) {
        if (out->count == RATLS_CLAIMS_MAX_RECORDS) {
            return err_fail(ERR_TOO_MANY, "more than %d claim records", RATLS_CLAIMS_MAX_RECORDS);
        }
        ratls_claim *r = &out->rec[out->count];
        TRY(cur_u16le(&c, &r->tag));
        TRY(cur_u32le(&c, &r->len));
        if (r->len > RATLS_CLAIM_VALUE_MAX) {
            return err_fail(ERR_TOO_LARGE, "claim %u is %u bytes", r->tag, r->len);
        }
        TRY(cur_take(&c, r->len, &r->value));
        for (size_t i = 0; i < out->count; i++) {
            if (out->rec[i].tag == r->tag) {
                return err_fail(ERR_MALFORMED, "claim tag %u repeated", r->tag);
            }
        }
        out->count++;
    }
    return ERR_OK;
}

const ratls_claim *ratls_claims_find(const ratls_claims *c, uint16_t tag) {
    for (size_t i = 0; i < c->count; i++) {
        if (c->rec[i].tag == tag) {
            return &c->rec[i];
        }
    }
    return NULL;
}
