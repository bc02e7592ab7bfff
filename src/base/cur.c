#include "cur.h"

#include <string.h>

void cur_init(cur *c, const void *data, size_t len) {
    c->p = data;
    c->len = data ? len : 0;
    c->pos = 0;
}

size_t cur_left(const cur *c) {
    return c->len - c->pos;
}

const uint8_t *cur_here(const cur *c) {
    return c->p + c->pos;
}

static err_t need(const cur *c, size_t n) {
    if (n > cur_left(c)) {
        return err_fail(ERR_TRUNCATED, "need %zu bytes at offset %zu, have %zu", n, c->pos,
                        cur_left(c));
    }
    return ERR_OK;
}

err_t cur_take(cur *c, size_t n, const uint8_t **out) {
    TRY(need(c, n));
    *out = c->p + c->pos;
    c->pos += n;
    return ERR_OK;
}

err_t cur_copy(cur *c, void *out, size_t n) {
    const uint8_t *p;
    TRY(cur_take(c, n, &p));
    if (n) {
        memcpy(out, p, n);
    }
    return ERR_OK;
}

err_t cur_skip(cur *c, size_t n) {
    const uint8_t *p;
    return cur_take(c, n, &p);
}

err_t cur_sub(cur *c, size_t n, cur *out) {
    const uint8_t *p;
    TRY(cur_take(c, n, &p));
    cur_init(out, p, n);
    return ERR_OK;
}

err_t cur_u8(cur *c, uint8_t *out) {
    return cur_copy(c, out, 1);
}

static uint64_t load_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint64_t load_be(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

#define CUR_INT_(fn, type, n, load)                                                                \
    err_t fn(cur *c, type *out) {                                                                  \
        const uint8_t *p;                                                                          \
        TRY(cur_take(c, n, &p));                                                                   \
        *out = (type)load(p, n);                                                                   \
        return ERR_OK;                                                                             \
    }

CUR_INT_(cur_u16le, uint16_t, 2, load_le)
CUR_INT_(cur_u32le, uint32_t, 4, load_le)
CUR_INT_(cur_u64le, uint64_t, 8, load_le)
CUR_INT_(cur_i32le, int32_t, 4, load_le)
CUR_INT_(cur_i64le, int64_t, 8, load_le)
CUR_INT_(cur_u16be, uint16_t, 2, load_be)
CUR_INT_(cur_u32be, uint32_t, 4, load_be)
CUR_INT_(cur_u64be, uint64_t, 8, load_be)

err_t cur_expect_end(const cur *c) {
    if (cur_left(c) != 0) {
        return err_fail(ERR_TRAILING, "%zu unexpected bytes at offset %zu", cur_left(c), c->pos);
    }
    return ERR_OK;
}

err_t cur_expect_zero_rest(const cur *c) {
    for (size_t i = c->pos; i < c->len; i++) {
        if (c->p[i] != 0) {
            return err_fail(ERR_MALFORMED, "non-zero padding byte at offset %zu", i);
        }
    }
    return ERR_OK;
}
