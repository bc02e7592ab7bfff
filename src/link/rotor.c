#include "rotor.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

#define ROTOR_MAX_CLAIMS RATLS_CLAIMS_MAX_RECORDS
#define RETRY_MS 5000u

struct cert_rotor {
    net_loop *loop;
    attest_provider *prov;
    uint32_t valid;
    ratls_claim claims[ROTOR_MAX_CLAIMS];
    size_t nclaims;
    ratls_identity id;
    ratls_ctx *ctx[ROTOR_MAX_CTX];
    size_t nctx;
    net_timer *timer;
    uint64_t rotations;
};

static void schedule(cert_rotor *r) {
    /* Rotate with a quarter of the lifetime left, so peers never see an expired certificate
     * even with some clock skew. */
    uint64_t ms = (uint64_t)r->valid * 750u;
    net_timer_arm(r->timer, ms ? ms : 1);
}

static void rotate(void *arg) {
    cert_rotor *r = arg;
    ratls_identity fresh;
    ratls_identity_init(&fresh);
    err_t e = ratls_identity_create(&fresh, r->prov, clock_unix(), r->valid, r->claims, r->nclaims);
    for (size_t i = 0; e == ERR_OK && i < r->nctx; i++) {
        e = ratls_ctx_set_identity(r->ctx[i], &fresh);
    }
    if (e != ERR_OK) {
        LOGE("ratls", "certificate rotation failed (retrying in %u ms): %s", RETRY_MS,
             err_describe(e));
        ratls_identity_cleanup(&fresh);
        net_timer_arm(r->timer, RETRY_MS);
        return;
    }
    ratls_identity_cleanup(&r->id);
    r->id = fresh;
    r->rotations++;
    LOGI("ratls", "certificate rotated (#%llu), valid until %lld", (unsigned long long)r->rotations,
         (long long)r->id.not_after);
    schedule(r);
}

err_t cert_rotor_new(net_loop *l, attest_provider *prov, uint32_t valid_secs,
                     const ratls_claim *claims, size_t nclaims, cert_rotor **out) {
    if (nclaims > ROTOR_MAX_CLAIMS) {
        return err_fail(ERR_TOO_MANY, "%zu claims", nclaims);
    }
    cert_rotor *r = calloc(1, sizeof(*r));
    if (!r) {
        return ERR_NOMEM;
    }
    r->loop = l;
    r->prov = prov;
    r->valid = valid_secs;
    r->nclaims = nclaims;
    if (nclaims) {
        memcpy(r->claims, claims, nclaims * sizeof(*claims));
    }
    ratls_identity_init(&r->id);
    r->timer = net_timer_new(l, rotate, r);
    err_t e = r->timer
                  ? ratls_identity_create(&r->id, prov, clock_unix(), valid_secs, claims, nclaims)
                  : ERR_NOMEM;
    if (e != ERR_OK) {
        cert_rotor_free(r);
        return e;
    }
    schedule(r);
    *out = r;
    return ERR_OK;
}

void cert_rotor_free(cert_rotor *r) {
    if (!r) {
        return;
    }
    net_timer_free(r->timer);
    ratls_identity_cleanup(&r->id);
    free(r);
}

const ratls_identity *cert_rotor_identity(const cert_rotor *r) {
    return &r->id;
}

err_t cert_rotor_attach(cert_rotor *r, ratls_ctx *ctx) {
    if (r->nctx == ROTOR_MAX_CTX) {
        return err_fail(ERR_TOO_MANY, "more than %d contexts", ROTOR_MAX_CTX);
    }
    r->ctx[r->nctx++] = ctx;
    return ERR_OK;
}

uint64_t cert_rotor_count(const cert_rotor *r) {
    return r->rotations;
}
