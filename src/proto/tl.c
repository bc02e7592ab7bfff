#include "tl.h"

#include <string.h>
#include <strings.h>

#include "limits.h"

size_t tl_bytes_size(size_t n) {
    size_t head = n < 254 ? 1 : 4;
    return (head + n + 3) & ~(size_t)3;
}

tl_bytes tl_bytes_of(const void *p, size_t n) {
    tl_bytes b = {p, n};
    return b;
}

tl_bytes tl_bytes_str(const char *s) {
    return tl_bytes_of(s, s ? strlen(s) : 0);
}

bool tl_bytes_eq(tl_bytes a, tl_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool tl_bytes_eq_nocase(tl_bytes a, const char *s) {
    return a.len == strlen(s) && (a.len == 0 || strncasecmp((const char *)a.p, s, a.len) == 0);
}

err_t tl_write_u32(buf *b, uint32_t v) {
    return buf_u32le(b, v);
}

err_t tl_write_int(buf *b, int32_t v) {
    return buf_u32le(b, (uint32_t)v);
}

err_t tl_write_long(buf *b, int64_t v) {
    return buf_u64le(b, (uint64_t)v);
}

err_t tl_write_double(buf *b, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return buf_u64le(b, bits);
}

err_t tl_write_int128(buf *b, const uint8_t v[16]) {
    return buf_append(b, v, 16);
}

err_t tl_write_int256(buf *b, const uint8_t v[32]) {
    return buf_append(b, v, 32);
}

err_t tl_write_bytes(buf *b, const void *p, size_t n) {
    if (n > TL_BYTES_MAX) {
        return err_fail(ERR_TOO_LARGE, "TL string of %zu bytes", n);
    }
    size_t total = tl_bytes_size(n);
    TRY(buf_reserve(b, total));
    size_t head;
    if (n < 254) {
        TRY(buf_u8(b, (uint8_t)n));
        head = 1;
    } else {
        TRY(buf_u32le(b, 0xfe | ((uint32_t)n << 8)));
        head = 4;
    }
    TRY(buf_append(b, p, n));
    return buf_zeros(b, total - head - n);
}

err_t tl_write_bool(buf *b, bool v) {
    return buf_u32le(b, v ? TL_BOOL_TRUE : TL_BOOL_FALSE);
}

err_t tl_write_vector_count(buf *b, uint32_t n) {
    return buf_u32le(b, n);
}

err_t tl_read_u32(cur *c, uint32_t *out) {
    return cur_u32le(c, out);
}

err_t tl_read_int(cur *c, int32_t *out) {
    return cur_i32le(c, out);
}

err_t tl_read_long(cur *c, int64_t *out) {
    return cur_i64le(c, out);
}

err_t tl_read_double(cur *c, double *out) {
    uint64_t bits;
    TRY(cur_u64le(c, &bits));
    memcpy(out, &bits, sizeof(bits));
    return ERR_OK;
}

err_t tl_read_int128(cur *c, uint8_t out[16]) {
    return cur_copy(c, out, 16);
}

err_t tl_read_int256(cur *c, uint8_t out[32]) {
    return cur_copy(c, out, 32);
}

static err_t read_bytes(cur *c, size_t max, tl_bytes *out) {
    uint8_t first;
    TRY(cur_u8(c, &first));
    size_t n;
    size_t head;
    if (first < 254) {
        n = first;
        head = 1;
    } else if (first == 254) {
        uint8_t l[3];
        TRY(cur_copy(c, l, 3));
        n = (size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16;
        head = 4;
        /* One value, one encoding: the long form is only for lengths the short form cannot
         * carry, so re-encoding a decoded message yields the same bytes. */
        if (n < 254) {
            return err_fail(ERR_MALFORMED, "TL string length %zu in long form", n);
        }
    } else {
        /* 0xff announces a >16 MiB string in later TON versions; nothing here carries one. */
        return err_fail(ERR_MALFORMED, "TL string prefix 0xff");
    }
    if (n > max) {
        return err_fail(ERR_TOO_LARGE, "TL string of %zu bytes, limit %zu", n, max);
    }
    const uint8_t *p;
    TRY(cur_take(c, n, &p));
    size_t pad = tl_bytes_size(n) - head - n;
    const uint8_t *z;
    TRY(cur_take(c, pad, &z));
    for (size_t i = 0; i < pad; i++) {
        if (z[i] != 0) {
            return err_fail(ERR_BAD_PADDING, "TL string padding byte %zu is 0x%02x", i, z[i]);
        }
    }
    out->p = p;
    out->len = n;
    return ERR_OK;
}

err_t tl_read_bytes(cur *c, size_t max, tl_bytes *out) {
    size_t saved = c->pos;
    err_t e = read_bytes(c, max, out);
    if (e != ERR_OK) {
        c->pos = saved;
    }
    return e;
}

err_t tl_read_bool(cur *c, bool *out) {
    uint32_t id;
    TRY(cur_u32le(c, &id));
    if (id == TL_BOOL_TRUE) {
        *out = true;
    } else if (id == TL_BOOL_FALSE) {
        *out = false;
    } else {
        c->pos -= 4;
        return err_fail(ERR_BAD_CONSTRUCTOR, "Bool constructor 0x%08x", id);
    }
    return ERR_OK;
}

err_t tl_expect_id(cur *c, uint32_t id) {
    uint32_t got;
    TRY(cur_u32le(c, &got));
    if (got != id) {
        c->pos -= 4;
        return err_fail(ERR_BAD_CONSTRUCTOR, "constructor 0x%08x, expected 0x%08x", got, id);
    }
    return ERR_OK;
}

err_t tl_read_vector_count(cur *c, uint32_t max, size_t min_item_size, uint32_t *out) {
    uint32_t n;
    TRY(cur_u32le(c, &n));
    if (n > max) {
        c->pos -= 4;
        return err_fail(ERR_TOO_MANY, "vector of %u items, limit %u", n, max);
    }
    if (min_item_size != 0 && (size_t)n > cur_left(c) / min_item_size) {
        c->pos -= 4;
        return err_fail(ERR_TRUNCATED, "vector of %u items in %zu bytes", n, cur_left(c));
    }
    *out = n;
    return ERR_OK;
}

uint32_t tl_peek_id(const uint8_t *data, size_t n) {
    if (n < 4) {
        return 0;
    }
    return (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
           (uint32_t)data[3] << 24;
}
