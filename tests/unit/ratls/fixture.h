/* Shared fixture of the RA-TLS tests: a fake CA in a temporary directory, a fake TD, and helpers
 * that build certificates with chosen contents (including hostile ones). */
#ifndef COCOON_TEST_RATLS_FIXTURE_H
#define COCOON_TEST_RATLS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/fake.h"
#include "attest/quote.h"
#include "base/buf.h"
#include "base/clock.h"
#include "crypto/hash.h"
#include "ratls/cert.h"
#include "ratls/policy.h"

typedef struct {
    char dir[64];
    fake_ca *ca;
    fake_td *td;
    int64_t now;
} fixture;

static inline void fixture_rmrf(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", dir);
    }
}

static inline int fixture_open(fixture *f, uint64_t td_attributes) {
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cocoon-ratls-XXXXXX");
    if (!mkdtemp(f->dir)) {
        return -1;
    }
    f->now = clock_unix();
    char ca_dir[96];
    snprintf(ca_dir, sizeof(ca_dir), "%s/ca", f->dir);
    if (fake_ca_open(ca_dir, f->now, &f->ca) != ERR_OK) {
        return -1;
    }
    fake_td_config cfg;
    fake_td_config_default(&cfg);
    cfg.td_attributes = td_attributes;
    memset(cfg.mrtd, 0x11, 48);
    memset(cfg.rtmr[0], 0x22, 48);
    return fake_td_new(f->ca, &cfg, &f->td) == ERR_OK ? 0 : -1;
}

static inline void fixture_close(fixture *f) {
    fake_td_free(f->td);
    fake_ca_free(f->ca);
    fixture_rmrf(f->dir);
}

/* A policy that pins the fixture's fake root. */
static inline void fixture_policy(const fixture *f, ratls_policy *p) {
    ratls_policy_init(p);
    p->nroots = 0;
    if (ratls_policy_add_root(p, fake_ca_root_pub(f->ca)) != ERR_OK) {
        abort();
    }
}

/* Certificate for `key` carrying a quote whose REPORTDATA is SHA-512(quote_key->pub)
 * (pass the same key for an honest certificate). */
static inline err_t fixture_cert(fixture *f, const ed25519_key *key, const ed25519_key *quote_key,
                                 int64_t nb, int64_t na, buf *der) {
    uint8_t rd[64];
    sha512(quote_key->pub, 32, rd);
    buf q;
    buf_init(&q, 65536);
    err_t e = fake_td_quote(f->td, rd, &q);
    if (e == ERR_OK) {
        e = ratls_cert_build(key, q.data, q.len, key->pub, 32, nb, na, der);
    }
    buf_free(&q);
    return e;
}

/* A certificate with an honest quote for a fresh key, valid for an hour from f->now. */
static inline err_t fixture_identity(fixture *f, ratls_identity *id) {
    ratls_identity_init(id);
    err_t e = ed25519_generate(&id->key);
    return e != ERR_OK ? e
                       : fixture_cert(f, &id->key, &id->key, f->now, f->now + 3600, &id->cert_der);
}

/* The group fixture of a test program: one fake CA and TD for all its tests. */
static fixture F;

static inline int fixture_group_setup(void **state) {
    (void)state;
    return fixture_open(&F, 0x10000000);
}

static inline int fixture_group_teardown(void **state) {
    (void)state;
    fixture_close(&F);
    return 0;
}

#endif
