/* Keeps a daemon's RA-TLS certificate fresh: a new key, quote and certificate are made when a
 * quarter of the current one's lifetime is left, and installed in every registered context.
 * Links already established keep the certificate they were set up with (TLS sessions hold
 * their own copy); only new handshakes present the new one. */
#ifndef COCOON_LINK_ROTOR_H
#define COCOON_LINK_ROTOR_H

#include <stddef.h>
#include <stdint.h>

#include "attest/provider.h"
#include "base/err.h"
#include "net/loop.h"
#include "ratls/cert.h"
#include "ratls/tls.h"

#define ROTOR_MAX_CTX 4

typedef struct cert_rotor cert_rotor;

/* Makes the first identity now. The provider and the claim values are borrowed and must outlive
 * the rotor (NULL or `none` provider: no quote). */
MUST_CHECK err_t cert_rotor_new(net_loop *l, attest_provider *prov, uint32_t valid_secs,
                                const ratls_claim *claims, size_t nclaims, cert_rotor **out);
void cert_rotor_free(cert_rotor *r);
/* The identity in force (valid until the next rotation). */
const ratls_identity *cert_rotor_identity(const cert_rotor *r);
/* Contexts to update on rotation (at most ROTOR_MAX_CTX). */
MUST_CHECK err_t cert_rotor_attach(cert_rotor *r, ratls_ctx *ctx);
/* Rotations done so far. */
uint64_t cert_rotor_count(const cert_rotor *r);

#endif
