#include "buf.h"

#include <stdlib.h>
#include <string.h>

void mem_wipe(void *p, size_t n) {
    if (p && n) {
        explicit_bzero(p, n);
    }
}

void buf_init(buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(buf *b) {
    if (!b) {
        return;
    }
    mem_wipe(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(buf *b) {
    b->len = 0;
}

err_t buf_reserve(buf *b, size_t extra) {
    if (extra > b->max || b->len > b->max - extra) {
        return err_fail(ERR_BUF_LIMIT, "need %zu bytes, limit %zu", b->len + extra, b->max);
    }
    size_t want = b->len + extra;
    if (want <= b->cap) {
        return ERR_OK;
    }
    /* 256 first: most messages then fit without growing */
    size_t ncap = b->cap ? b->cap : (b->max < 256 ? b->max : 256);
    while (ncap < want) {
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    }
    /* Grow by copy rather than realloc so the old storage can be wiped. */
    uint8_t *n = malloc(ncap);
    if (!n) {
        return ERR_NOMEM;
    }
    if (b->len) {
        memcpy(n, b->data, b->len);
    }
    mem_wipe(b->data, b->cap);
    free(b->data);
    b->data = n;
    b->cap = ncap;
    return ERR_OK;
}

err_t buf_append(buf *b, const void *data, size_t n) {
    if (n == 0) {
        return ERR_OK;
    }
    TRY(buf_reserve(b, n));
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return ERR_OK;
}

err_t buf_zeros(buf *b, size_t n) {
    TRY(buf_reserve(b, n));
    memset(b->data + b->len, 0, n);
    b->len += n;
    return ERR_OK;
}

static err_t put_le(buf *b, uint64_t v, size_t n) {
    uint8_t t[8];
    for (size_t i = 0; i < n; i++) {
        t[i] = (uint8_t)(v >> (8 * i));
    }
    return buf_append(b, t, n);
}

static err_t put_be(buf *b, uint64_t v, size_t n) {
    uint8_t t[8];
    for (size_t i = 0; i < n; i++) {
        t[n - 1 - i] = (uint8_t)(v >> (8 * i));
    }
    return buf_append(b, t, n);
}

err_t buf_u8(buf *b, uint8_t v) {
    return buf_append(b, &v, 1);
}
err_t buf_u16le(buf *b, uint16_t v) {
    return put_le(b, v, 2);
}
err_t buf_u32le(buf *b, uint32_t v) {
    return put_le(b, v, 4);
}
err_t buf_u64le(buf *b, uint64_t v) {
    return put_le(b, v, 8);
}
err_t buf_u16be(buf *b, uint16_t v) {
    return put_be(b, v, 2);
}
err_t buf_u32be(buf *b, uint32_t v) {
    return put_be(b, v, 4);
}
err_t buf_u64be(buf *b, uint64_t v) {
    return put_be(b, v, 8);
}

void buf_consume(buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_put_u32le_at(buf *b, size_t off, uint32_t v) {
    if (off > b->len || b->len - off < 4) {
        return;
    }
    for (int i = 0; i < 4; i++) {
        b->data[off + (size_t)i] = (uint8_t)(v >> (8 * i));
    }
}

uint8_t *buf_steal(buf *b, size_t *len) {
    uint8_t *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
