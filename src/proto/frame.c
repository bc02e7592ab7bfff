#include "frame.h"

#include <string.h>

#include "limits.h"

void frame_enc_init(frame_enc *e, size_t max) {
    e->next_seqno = 0;
    e->max = max;
}

static err_t check_len(size_t n, size_t max) {
    if (n < PROTO_FRAME_MIN || n > max) {
        return err_fail(ERR_FRAME_TOO_LARGE, "frame payload of %zu bytes, allowed %u..%zu", n,
                        PROTO_FRAME_MIN, max);
    }
    return ERR_OK;
}

err_t frame_enc_write(frame_enc *e, buf *out, const void *payload, size_t n) {
    TRY(check_len(n, e->max));
    TRY(buf_reserve(out, FRAME_HEADER_LEN + n));
    TRY(buf_u32le(out, (uint32_t)n));
    TRY(buf_u32le(out, e->next_seqno));
    TRY(buf_append(out, payload, n));
    e->next_seqno++;
    return ERR_OK;
}

err_t frame_enc_begin(frame_enc *e, buf *out, size_t *mark) {
    (void)e;
    *mark = out->len;
    return buf_zeros(out, FRAME_HEADER_LEN);
}

err_t frame_enc_end(frame_enc *e, buf *out, size_t mark) {
    size_t n = out->len - mark - FRAME_HEADER_LEN;
    err_t err = check_len(n, e->max);
    if (err != ERR_OK) {
        out->len = mark;
        return err;
    }
    buf_put_u32le_at(out, mark, (uint32_t)n);
    buf_put_u32le_at(out, mark + 4, e->next_seqno);
    e->next_seqno++;
    return ERR_OK;
}

void frame_dec_init(frame_dec *d, size_t max) {
    memset(d, 0, sizeof(*d));
    d->max = max;
    d->failed = ERR_OK;
    buf_init(&d->body, max);
}

void frame_dec_free(frame_dec *d) {
    buf_free(&d->body);
}

void frame_dec_set_max(frame_dec *d, size_t max) {
    d->max = max;
    d->body.max = max;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static err_t fail(frame_dec *d, err_t e) {
    d->failed = e;
    return e;
}

static err_t validate_header(frame_dec *d) {
    size_t len = le32(d->hdr);
    uint32_t seqno = le32(d->hdr + 4);
    if (len < PROTO_FRAME_MIN || len > d->max) {
        return fail(d,
                    err_fail(ERR_FRAME_TOO_LARGE, "frame %u declares %zu payload bytes (%u..%zu)",
                             seqno, len, PROTO_FRAME_MIN, d->max));
    }
    if (seqno != d->next_seqno) {
        return fail(d,
                    err_fail(ERR_BAD_SEQNO, "frame seqno %u, expected %u", seqno, d->next_seqno));
    }
    d->body_len = len;
    return ERR_OK;
}

static void complete(frame_dec *d, const uint8_t *payload, frame *out) {
    out->payload = payload;
    out->len = d->body_len;
    out->seqno = d->next_seqno;
    d->next_seqno++;
    d->hdr_len = 0;
    d->body_len = 0;
}

err_t frame_dec_feed(frame_dec *d, const uint8_t *data, size_t n, size_t *used, frame *out) {
    *used = 0;
    if (d->failed != ERR_OK) {
        return d->failed;
    }
    /* The previous call may have returned a frame from the internal buffer. */
    if (d->hdr_len == 0) {
        buf_reset(&d->body);
    }
    size_t pos = 0;
    if (d->hdr_len < FRAME_HEADER_LEN) {
        size_t take = FRAME_HEADER_LEN - d->hdr_len;
        if (take > n) {
            take = n;
        }
        memcpy(d->hdr + d->hdr_len, data, take);
        d->hdr_len += take;
        pos += take;
        if (d->hdr_len < FRAME_HEADER_LEN) {
            *used = pos;
            return ERR_AGAIN;
        }
        err_t e = validate_header(d);
        if (e != ERR_OK) {
            *used = pos;
            return e;
        }
    }
    size_t have = d->body.len;
    size_t want = d->body_len - have;
    size_t left = n - pos;
    if (have == 0 && left >= want) {
        /* Whole body in this input: hand it out in place. */
        complete(d, data + pos, out);
        *used = pos + want;
        return ERR_OK;
    }
    size_t take = left < want ? left : want;
    err_t e = buf_append(&d->body, data + pos, take);
    if (e != ERR_OK) {
        *used = pos;
        return fail(d, e);
    }
    pos += take;
    *used = pos;
    if (d->body.len < d->body_len) {
        return ERR_AGAIN;
    }
    complete(d, d->body.data, out);
    return ERR_OK;
}
