/* Proof-of-work admission before TLS, byte-compatible with the reference router
 * (cocoon-internals.md §1.3).
 *
 *   server -> client, 24 bytes: u32 LE 0x418e1291, i32 LE difficulty, 16-byte random salt
 *   client -> server, 12 bytes: u32 LE 0x01827319, i64 LE nonce
 *   valid iff clz64(LE64(SHA-256(salt ‖ nonce_le64)[0..8))) >= difficulty
 *
 * The leading zeros are counted on the first 8 hash bytes read as a LITTLE-endian integer, i.e.
 * from the top bit of byte 7 downwards; this is the reference's rule and peers must agree on it.
 * It makes each inbound connection cost the dialer about 2^difficulty hashes before the server
 * spends a TLS handshake and a quote verification.
 */
#ifndef COCOON_PROTO_POW_H
#define COCOON_PROTO_POW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cur.h"
#include "base/err.h"

#define POW_CHALLENGE_MAGIC 0x418e1291u
#define POW_RESPONSE_MAGIC 0x01827319u
#define POW_CHALLENGE_LEN 24
#define POW_RESPONSE_LEN 12
#define POW_SALT_LEN 16
/* Nonces tried per pow_solve_step call by default (the reference yields every 100 000). */
#define POW_SOLVE_BATCH 100000u

typedef struct {
    int32_t difficulty;
    uint8_t salt[POW_SALT_LEN];
} pow_challenge;

/* Server side: a fresh challenge with a random salt. ERR_CONFIG unless 0 <= difficulty <= 64. */
MUST_CHECK err_t pow_challenge_make(int difficulty, pow_challenge *out);
void pow_challenge_encode(const pow_challenge *ch, uint8_t out[POW_CHALLENGE_LEN]);
/* Client side: consumes 24 bytes. ERR_AGAIN (cursor unchanged) if fewer are available,
 * ERR_POW_BAD_MAGIC, ERR_MALFORMED for a difficulty outside 0..64, ERR_POW_TOO_HARD above
 * max_difficulty (POW_MAX_DIFFICULTY_DEFAULT = 28 for clients). */
MUST_CHECK err_t pow_challenge_parse(cur *c, int max_difficulty, pow_challenge *out);

void pow_response_encode(int64_t nonce, uint8_t out[POW_RESPONSE_LEN]);
/* Server side: consumes 12 bytes; ERR_AGAIN if fewer, ERR_POW_BAD_MAGIC. */
MUST_CHECK err_t pow_response_parse(cur *c, int64_t *nonce);

/* The reference's leading-zero count for (salt, nonce): 0..64. */
int pow_zero_bits(const uint8_t salt[POW_SALT_LEN], int64_t nonce);
/* ERR_OK if the nonce meets the challenge, else ERR_POW_INVALID. */
MUST_CHECK err_t pow_check(const pow_challenge *ch, int64_t nonce);

/* Incremental solver for an event loop: each step tries at most `batch` nonces (counting up
 * from 0, as the reference does) and returns ERR_OK with *nonce set, or ERR_AGAIN to be called
 * again later. */
typedef struct {
    pow_challenge ch;
    uint64_t next;
} pow_solver;

void pow_solver_init(pow_solver *s, const pow_challenge *ch);
MUST_CHECK err_t pow_solve_step(pow_solver *s, uint32_t batch, int64_t *nonce);

#endif
