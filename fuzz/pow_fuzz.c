/* Proof-of-work message harness. Invariants: an accepted challenge or response re-encodes to the
 * bytes it was parsed from; an accepted challenge's difficulty is within 0..max; checking a
 * parsed nonce against a parsed challenge never crashes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cur.h"
#include "proto/limits.h"
#include "proto/pow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cur c;
    cur_init(&c, data, size);
    pow_challenge ch;
    bool have_ch = false;
    if (pow_challenge_parse(&c, POW_MAX_DIFFICULTY_DEFAULT, &ch) == ERR_OK) {
        uint8_t w[POW_CHALLENGE_LEN];
        pow_challenge_encode(&ch, w);
        if (c.pos != POW_CHALLENGE_LEN || memcmp(w, data, POW_CHALLENGE_LEN) != 0 ||
            ch.difficulty < 0 || ch.difficulty > POW_MAX_DIFFICULTY_DEFAULT) {
            abort();
        }
        have_ch = true;
    }
    /* a response right after the challenge (as a server reads a pipelining client), or alone */
    cur r;
    cur_init(&r, data + c.pos, size - c.pos);
    int64_t nonce;
    if (pow_response_parse(&r, &nonce) == ERR_OK) {
        uint8_t w[POW_RESPONSE_LEN];
        pow_response_encode(nonce, w);
        if (memcmp(w, data + c.pos, POW_RESPONSE_LEN) != 0) {
            abort();
        }
        if (have_ch) {
            err_t e = pow_check(&ch, nonce);
            int bits = pow_zero_bits(ch.salt, nonce);
            if ((e == ERR_OK) != (bits >= ch.difficulty)) {
                abort();
            }
        }
    }
    return 0;
}
