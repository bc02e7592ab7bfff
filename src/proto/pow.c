#include "pow.h"

#include <string.h>

#include "crypto/hash.h"
#include "crypto/rand.h"
#include "limits.h"

err_t pow_challenge_make(int difficulty, pow_challenge *out) {
    if (difficulty < 0 || difficulty > POW_DIFFICULTY_LIMIT) {
        return err_fail(ERR_CONFIG, "proof-of-work difficulty %d outside 0..%d", difficulty,
                        POW_DIFFICULTY_LIMIT);
    }
    out->difficulty = difficulty;
    rand_bytes(out->salt, sizeof(out->salt));
    return ERR_OK;
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

void pow_challenge_encode(const pow_challenge *ch, uint8_t out[POW_CHALLENGE_LEN]) {
    put_le32(out, POW_CHALLENGE_MAGIC);
    put_le32(out + 4, (uint32_t)ch->difficulty);
    memcpy(out + 8, ch->salt, POW_SALT_LEN);
}

err_t pow_challenge_parse(cur *c, int max_difficulty, pow_challenge *out) {
    if (cur_left(c) < POW_CHALLENGE_LEN) {
        return ERR_AGAIN;
    }
    cur t = *c;
    uint32_t magic;
    int32_t difficulty;
    TRY(cur_u32le(&t, &magic));
    TRY(cur_i32le(&t, &difficulty));
    if (magic != POW_CHALLENGE_MAGIC) {
        return err_fail(ERR_POW_BAD_MAGIC, "challenge magic 0x%08x", magic);
    }
    if (difficulty < 0 || difficulty > POW_DIFFICULTY_LIMIT) {
        return err_fail(ERR_MALFORMED, "proof-of-work difficulty %d", difficulty);
    }
    if (difficulty > max_difficulty) {
        /* A server asking for more than we are willing to pay is refused outright rather than
         * letting it burn our CPU (reference client max: 28). */
        return err_fail(ERR_POW_TOO_HARD, "difficulty %d above our maximum %d", difficulty,
                        max_difficulty);
    }
    TRY(cur_copy(&t, out->salt, POW_SALT_LEN));
    out->difficulty = difficulty;
    *c = t;
    return ERR_OK;
}

void pow_response_encode(int64_t nonce, uint8_t out[POW_RESPONSE_LEN]) {
    put_le32(out, POW_RESPONSE_MAGIC);
    put_le64(out + 4, (uint64_t)nonce);
}

err_t pow_response_parse(cur *c, int64_t *nonce) {
    if (cur_left(c) < POW_RESPONSE_LEN) {
        return ERR_AGAIN;
    }
    cur t = *c;
    uint32_t magic;
    TRY(cur_u32le(&t, &magic));
    if (magic != POW_RESPONSE_MAGIC) {
        return err_fail(ERR_POW_BAD_MAGIC, "response magic 0x%08x", magic);
    }
    TRY(cur_i64le(&t, nonce));
    *c = t;
    return ERR_OK;
}

int pow_zero_bits(const uint8_t salt[POW_SALT_LEN], int64_t nonce) {
    uint8_t in[POW_SALT_LEN + 8];
    memcpy(in, salt, POW_SALT_LEN);
    put_le64(in + POW_SALT_LEN, (uint64_t)nonce);
    uint8_t h[SHA256_LEN];
    sha256(in, sizeof(in), h);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | h[i];
    }
    return v == 0 ? 64 : __builtin_clzll(v);
}

err_t pow_check(const pow_challenge *ch, int64_t nonce) {
    int bits = pow_zero_bits(ch->salt, nonce);
    if (bits < ch->difficulty) {
        return err_fail(ERR_POW_INVALID, "nonce gives %d zero bits, need %d", bits, ch->difficulty);
    }
    return ERR_OK;
}

void pow_solver_init(pow_solver *s, const pow_challenge *ch) {
    s->ch = *ch;
    s->next = 0;
}

err_t pow_solve_step(pow_solver *s, uint32_t batch, int64_t *nonce) {
    for (uint32_t i = 0; i < batch; i++) {
        int64_t n = (int64_t)s->next++;
        if (pow_zero_bits(s->ch.salt, n) >= s->ch.difficulty) {
            *nonce = n;
            return ERR_OK;
        }
    }
    return ERR_AGAIN;
}
