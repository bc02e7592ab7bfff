#include "policy.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attest/verify.h"
#include "attest/quote.h"
#include "base/codec.h"
#include "crypto/hash.h"

void ratls_policy_init(ratls_policy *p) {
    memset(p, 0, sizeof(*p));
    p->require_tdx = true;
    p->nroots = 1;
    memcpy(p->roots[0], ATTEST_INTEL_ROOT_PUB, 64);
}

void ratls_policy_cleanup(ratls_policy *p) {
    free(p->image_hashes);
    free(p->mrtds);
    free(p->rtmrs);
    memset(p, 0, sizeof(*p));
}

static err_t grow(void **arr, size_t *n, size_t elem, const void *item) {
    if (*n >= RATLS_MAX_LIST) {
        return err_fail(ERR_TOO_MANY, "policy list longer than %d", RATLS_MAX_LIST);
    }
    uint8_t *na = realloc(*arr, (*n + 1) * elem);
    if (!na) {
        return ERR_NOMEM;
    }
    memcpy(na + *n * elem, item, elem);
    *arr = na;
    (*n)++;
    return ERR_OK;
}

err_t ratls_policy_add_root(ratls_policy *p, const uint8_t pub[64]) {
    if (p->nroots >= RATLS_MAX_ROOTS) {
        return err_fail(ERR_TOO_MANY, "more than %d roots", RATLS_MAX_ROOTS);
    }
    memcpy(p->roots[p->nroots++], pub, 64);
    return ERR_OK;
}

err_t ratls_policy_add_image(ratls_policy *p, const uint8_t hash[32]) {
    return grow((void **)&p->image_hashes, &p->nimage, 32, hash);
}

err_t ratls_policy_add_mrtd(ratls_policy *p, const uint8_t mrtd[48]) {
    return grow((void **)&p->mrtds, &p->nmrtd, 48, mrtd);
}

err_t ratls_policy_add_rtmrs(ratls_policy *p, const uint8_t rtmr[4][48]) {
    return grow((void **)&p->rtmrs, &p->nrtmr, 4 * 48, rtmr);
}

err_t ratls_policy_add_collateral(ratls_policy *p, const collateral *c) {
    if (p->ncoll >= RATLS_MAX_COLLATERAL) {
        return err_fail(ERR_TOO_MANY, "more than %d collateral sets", RATLS_MAX_COLLATERAL);
    }
    p->coll[p->ncoll++] = c;
    return ERR_OK;
}

bool ratls_policy_wants_collateral(const ratls_policy *p) {
    return p->ncoll > 0 || p->require_collateral;
}

err_t ratls_policy_check(const ratls_policy *p, const ratls_peer *peer) {
    if (!peer->attested) {
        if (p->require_tdx || p->nimage || p->nmrtd || p->nrtmr) {
            return err_fail(ERR_NO_QUOTE, "policy requires a TDX quote");
        }
        return ERR_OK;
    }
    if ((peer->td_attributes & 1u) && !p->allow_debug) {
        return err_fail(ERR_DEBUG_TD, "TDATTRIBUTES %016llx",
                        (unsigned long long)peer->td_attributes);
    }
    if (p->nmrtd) {
        size_t i = 0;
        while (i < p->nmrtd && memcmp(p->mrtds[i], peer->mrtd, 48) != 0) {
            i++;
        }
        if (i == p->nmrtd) {
            return err_fail(ERR_MRTD_NOT_ALLOWED, "MRTD not among %zu allowed", p->nmrtd);
        }
    }
    if (p->nrtmr) {
        size_t i = 0;
        while (i < p->nrtmr && memcmp(p->rtmrs[i], peer->rtmr, sizeof(peer->rtmr)) != 0) {
            i++;
        }
        if (i == p->nrtmr) {
            return err_fail(ERR_RTMR_NOT_ALLOWED, "RTMR set not among %zu allowed", p->nrtmr);
        }
    }
    if (p->nimage) {
        size_t i = 0;
        while (i < p->nimage && memcmp(p->image_hashes[i], peer->image_hash, 32) != 0) {
            i++;
        }
        if (i == p->nimage) {
            char hex[65];
            hex_encode(peer->image_hash, 32, hex);
            return err_fail(ERR_IMAGE_NOT_ALLOWED, "image hash %s", hex);
        }
    }
    return ERR_OK;
}

/* Hex, or (for 32-byte values) base64 as written to *_image_hash.b64. */
static err_t decode_fixed(json_t *v, const char *what, uint8_t *out, size_t want) {
    const char *s = json_string_value(v);
    if (!s) {
        return err_fail(ERR_CONFIG, "%s: expected a string", what);
    }
    size_t len = strlen(s);
    size_t n = 0;
    if (len == 2 * want && hex_decode(s, len, out, want, &n) == ERR_OK && n == want) {
        return ERR_OK;
    }
    if (b64_decode(s, len, out, want, &n, false) == ERR_OK && n == want) {
        return ERR_OK;
    }
    return err_fail(ERR_CONFIG, "%s: expected %zu bytes as hex or base64", what, want);
}

static err_t parse_policy(ratls_policy *p, json_t *root) {
    if (!json_is_object(root)) {
        return err_fail(ERR_CONFIG, "policy: expected a JSON object");
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        size_t i;
        json_t *it;
        if (strcmp(key, "require_tdx") == 0 || strcmp(key, "allow_debug") == 0 ||
            strcmp(key, "require_collateral") == 0) {
            if (!json_is_boolean(v)) {
                return err_fail(ERR_CONFIG, "policy.%s: expected true or false", key);
            }
            bool *slot = strcmp(key, "require_tdx") == 0   ? &p->require_tdx
                         : strcmp(key, "allow_debug") == 0 ? &p->allow_debug
                                                           : &p->require_collateral;
            *slot = json_is_true(v);
        } else if (strcmp(key, "accept_tcb") == 0) {
            if (!json_is_string(v)) {
                return err_fail(ERR_CONFIG, "policy.accept_tcb: expected \"UpToDate,...\"");
            }
            TRY(dcap_policy_parse_statuses(json_string_value(v), &p->dcap));
        } else if (strcmp(key, "max_validity_hours") == 0) {
            json_int_t h = json_integer_value(v);
            if (!json_is_integer(v) || h < 1 || h > 24) {
                return err_fail(ERR_CONFIG, "policy.max_validity_hours: expected 1..24");
            }
            p->max_validity = (uint32_t)h * 3600u;
        } else if (strcmp(key, "roots") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0) {
                return err_fail(ERR_CONFIG, "policy.roots: expected a non-empty array");
            }
            p->nroots = 0;
            json_array_foreach(v, i, it) {
                uint8_t pub[64];
                if (json_is_string(it) && strcmp(json_string_value(it), "intel") == 0) {
                    memcpy(pub, ATTEST_INTEL_ROOT_PUB, 64);
                } else {
                    TRY(decode_fixed(it, "policy.roots[]", pub, 64));
                }
                TRY(ratls_policy_add_root(p, pub));
            }
        } else if (strcmp(key, "image_hashes") == 0 || strcmp(key, "mrtd") == 0) {
            bool img = key[0] == 'i';
            if (!json_is_array(v)) {
                return err_fail(ERR_CONFIG, "policy.%s: expected an array", key);
            }
            json_array_foreach(v, i, it) {
                uint8_t val[48];
                TRY(decode_fixed(it, key, val, img ? 32 : 48));
                TRY(img ? ratls_policy_add_image(p, val) : ratls_policy_add_mrtd(p, val));
            }
        } else if (strcmp(key, "rtmrs") == 0) {
            if (!json_is_array(v)) {
                return err_fail(ERR_CONFIG, "policy.rtmrs: expected an array of 4-element arrays");
            }
            json_array_foreach(v, i, it) {
                uint8_t set[4][48];
                if (!json_is_array(it) || json_array_size(it) != 4) {
                    return err_fail(ERR_CONFIG, "policy.rtmrs[%zu]: expected 4 hex strings", i);
                }
                for (size_t k = 0; k < 4; k++) {
                    TRY(decode_fixed(json_array_get(it, k), "policy.rtmrs[][]", set[k], 48));
                }
                TRY(ratls_policy_add_rtmrs(p, set));
            }
        } else {
            return err_fail(ERR_CONFIG, "policy: unknown key \"%s\"", key);
        }
    }
    return ERR_OK;
}

err_t ratls_policy_from_json(ratls_policy *p, const char *text, size_t len) {
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return err_fail(ERR_CONFIG, "policy: %s at line %d", jerr.text, jerr.line);
    }
    err_t e = parse_policy(p, root);
    json_decref(root);
    return e;
}

/* Full-evaluation verdicts remembered by SHA-256(quote ‖ collateral set pointers ‖ dcap
 * policy) until their expiry; failures are not remembered. */
#define TCB_MEMO_SLOTS 128

typedef struct {
    bool used;
    uint8_t key[32];
    int64_t expiry;
    int status;
} tcb_memo;

static tcb_memo tcb_memos[TCB_MEMO_SLOTS];
static pthread_mutex_t tcb_mu = PTHREAD_MUTEX_INITIALIZER;

static void tcb_key(const ratls_policy *p, const uint8_t *q, size_t len, uint8_t key[32]) {
    hash_ctx *h = hash_new(HASH_SHA256);
    hash_update(h, q, len);
    hash_update(h, p->coll, p->ncoll * sizeof(p->coll[0]));
    hash_update(h, &p->dcap.statuses, sizeof(p->dcap.statuses));
    hash_update(h, p->roots, p->nroots * 64);
    hash_final_free(h, key);
}

err_t ratls_verify_collateral(const ratls_policy *p, const uint8_t *qdata, size_t len, int64_t now,
                              ratls_peer *peer) {
    if (!ratls_policy_wants_collateral(p)) {
        return ERR_OK;
    }
    if (p->ncoll == 0) {
        return err_fail(ERR_COLLATERAL_MISMATCH, "policy requires collateral but has none");
    }
    uint8_t key[32];
    tcb_key(p, qdata, len, key);
    tcb_memo *m = &tcb_memos[key[0] % TCB_MEMO_SLOTS];
    pthread_mutex_lock(&tcb_mu);
    bool hit = m->used && memcmp(m->key, key, 32) == 0 && now < m->expiry;
    if (hit) {
        peer->tcb_status = m->status;
        peer->tcb_expiry = m->expiry;
    }
    pthread_mutex_unlock(&tcb_mu);
    if (hit) {
        return ERR_OK;
    }
    quote q;
    TRY(quote_parse(qdata, len, &q));
    dcap_result r;
    err_t e = ERR_COLLATERAL_MISMATCH;
    size_t i = 0;
    for (; i < p->ncoll; i++) {
        e = dcap_verify(&q, p->coll[i], (const uint8_t(*)[64])p->roots, p->nroots, now, &r);
        if (e != ERR_COLLATERAL_MISMATCH) {
            break;
        }
    }
    if (e == ERR_COLLATERAL_MISMATCH) {
        return err_fail(e, "no collateral set covers the peer's platform");
    }
    TRY(e);
    TRY(dcap_policy_check(&p->dcap, &r, p->coll[i]));
    peer->tcb_status = (int)r.tcb.status;
    peer->tcb_expiry = r.expiry;
    pthread_mutex_lock(&tcb_mu);
    m->used = true;
    memcpy(m->key, key, 32);
    m->expiry = r.expiry;
    m->status = peer->tcb_status;
    pthread_mutex_unlock(&tcb_mu);
    return ERR_OK;
}
