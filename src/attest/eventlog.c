#include "eventlog.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/cur.h"
#include "crypto/ct.h"
#include "crypto/hash.h"

err_t ccel_table_parse(const uint8_t *p, size_t n, ccel_table *out) {
    /* ACPI header (36) + cc_type, cc_subtype, reserved u16, LAML u64, LASA u64 (§2.4). */
    if (n != 56) {
        return err_fail(ERR_EVENTLOG, "CCEL table is %zu bytes, not 56", n);
    }
    cur c;
    cur_init(&c, p, n);
    const uint8_t *sig;
    uint32_t len;
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum = (uint8_t)(sum + p[i]);
    }
    if (cur_take(&c, 4, &sig) != ERR_OK || memcmp(sig, "CCEL", 4) != 0) {
        return err_fail(ERR_EVENTLOG, "not a CCEL table (signature)");
    }
    if (cur_u32le(&c, &len) != ERR_OK || len != 56) {
        return err_fail(ERR_EVENTLOG, "CCEL length field %u", (unsigned)len);
    }
    if (sum != 0) {
        return err_fail(ERR_EVENTLOG, "CCEL checksum does not sum to zero");
    }
    uint16_t reserved;
    if (cur_u8(&c, &out->revision) != ERR_OK || cur_skip(&c, 27) != ERR_OK ||
        cur_u8(&c, &out->cc_type) != ERR_OK || cur_u8(&c, &out->cc_subtype) != ERR_OK ||
        cur_u16le(&c, &reserved) != ERR_OK || cur_u64le(&c, &out->laml) != ERR_OK ||
        cur_u64le(&c, &out->lasa) != ERR_OK) {
        return err_fail(ERR_EVENTLOG, "CCEL table truncated");
    }
    return cur_expect_end(&c) == ERR_OK ? ERR_OK : err_fail(ERR_EVENTLOG, "CCEL trailing bytes");
}

typedef struct {
    uint16_t alg;
    uint16_t size;
} alg_size;

static err_t bad(size_t off, const char *what) {
    return err_fail(ERR_EVENTLOG, "event log at %zu: %s", off, what);
}

/* The legacy first event and its TCG_EfiSpecIDEvent (TCG PC Client PFP §10.4.5.1). */
static err_t parse_spec_id(cur *c, alg_size *algs, size_t *nalgs) {
    uint32_t idx;
    uint32_t type;
    uint32_t size;
    cur ev;
    if (cur_u32le(c, &idx) != ERR_OK || cur_u32le(c, &type) != ERR_OK ||
        cur_skip(c, 20) != ERR_OK || cur_u32le(c, &size) != ERR_OK ||
        cur_sub(c, size, &ev) != ERR_OK) {
        return bad(0, "truncated first event");
    }
    if (type != EV_NO_ACTION) {
        return bad(0, "first event is not EV_NO_ACTION");
    }
    const uint8_t *sig;
    uint32_t n;
    uint8_t minor, major, errata, uintn;
    uint32_t platform;
    if (cur_take(&ev, 16, &sig) != ERR_OK || memcmp(sig, "Spec ID Event03\0", 16) != 0) {
        return bad(32, "no \"Spec ID Event03\" signature");
    }
    if (cur_u32le(&ev, &platform) != ERR_OK || cur_u8(&ev, &minor) != ERR_OK ||
        cur_u8(&ev, &major) != ERR_OK || cur_u8(&ev, &errata) != ERR_OK ||
        cur_u8(&ev, &uintn) != ERR_OK || cur_u32le(&ev, &n) != ERR_OK) {
        return bad(32, "truncated Spec ID event");
    }
    if (n == 0 || n > EVENTLOG_MAX_ALGS) {
        return bad(32, "number of digest algorithms");
    }
    bool sha384 = false;
    for (uint32_t i = 0; i < n; i++) {
        if (cur_u16le(&ev, &algs[i].alg) != ERR_OK || cur_u16le(&ev, &algs[i].size) != ERR_OK) {
            return bad(32, "truncated algorithm list");
        }
        if (algs[i].size == 0 || algs[i].size > 64) {
            return bad(32, "digest size");
        }
        if (algs[i].alg == TPM_ALG_SHA384) {
            if (algs[i].size != 48) {
                return bad(32, "SHA-384 digest size is not 48");
            }
            sha384 = true;
        }
    }
    uint8_t vsize;
    if (cur_u8(&ev, &vsize) != ERR_OK || cur_skip(&ev, vsize) != ERR_OK ||
        cur_expect_end(&ev) != ERR_OK) {
        return bad(32, "vendor info");
    }
    if (!sha384) {
        return bad(32, "log has no SHA-384 bank");
    }
    (void)idx;
    *nalgs = n;
    return ERR_OK;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

err_t eventlog_parse(const uint8_t *p, size_t n, eventlog *out) {
    memset(out, 0, sizeof(*out));
    alg_size algs[EVENTLOG_MAX_ALGS];
    size_t nalgs = 0;
    cur c;
    cur_init(&c, p, n);
    TRY(parse_spec_id(&c, algs, &nalgs));
    size_t cap = 64;
    out->events = calloc(cap, sizeof(*out->events));
    if (!out->events) {
        return err_fail(ERR_NOMEM, "events");
    }
    err_t e = ERR_OK;
    while (cur_left(&c) > 0) {
        size_t off = c.pos;
        const uint8_t *rest = cur_here(&c);
        /* Unused log area: 0xFF (erased) or zeros (§2.4). */
        if (all_bytes(rest, cur_left(&c), 0xff) || all_bytes(rest, cur_left(&c), 0x00) ||
            (cur_left(&c) >= 4 && all_bytes(rest, 4, 0xff))) {
            break;
        }
        eventlog_event ev = {.offset = off};
        uint32_t count;
        bool have = false;
        if (cur_u32le(&c, &ev.mr_index) != ERR_OK || cur_u32le(&c, &ev.type) != ERR_OK ||
            cur_u32le(&c, &count) != ERR_OK) {
            e = bad(off, "truncated event header");
            goto fail;
        }
        if (count == 0 || count > nalgs) {
            e = bad(off, "digest count");
            goto fail;
        }
        for (uint32_t i = 0; i < count; i++) {
            uint16_t alg;
            size_t sz = 0;
            if (cur_u16le(&c, &alg) != ERR_OK) {
                e = bad(off, "truncated digest");
                goto fail;
            }
            for (size_t k = 0; k < nalgs; k++) {
                sz = algs[k].alg == alg ? algs[k].size : sz;
            }
            if (sz == 0) {
                e = bad(off, "digest algorithm not in the Spec ID event");
                goto fail;
            }
            if (alg == TPM_ALG_SHA384) {
                if (have || cur_copy(&c, ev.sha384, 48) != ERR_OK) {
                    e = bad(off, "duplicate or truncated SHA-384 digest");
                    goto fail;
                }
                have = true;
            } else if (cur_skip(&c, sz) != ERR_OK) {
                e = bad(off, "truncated digest");
                goto fail;
            }
        }
        uint32_t dlen;
        if (!have) {
            e = bad(off, "event without a SHA-384 digest");
            goto fail;
        }
        if (cur_u32le(&c, &dlen) != ERR_OK) {
            e = bad(off, "truncated event size");
            goto fail;
        }
        if (dlen > EVENTLOG_MAX_EVENT_DATA) {
            e = err_fail(ERR_TOO_LARGE, "event at %zu carries %u bytes", off, (unsigned)dlen);
            goto fail;
        }
        if (cur_take(&c, dlen, &ev.data) != ERR_OK) {
            e = bad(off, "truncated event data");
            goto fail;
        }
        ev.data_len = dlen;
        if (out->nevents == EVENTLOG_MAX_EVENTS) {
            e = err_fail(ERR_TOO_MANY, "more than %d events", EVENTLOG_MAX_EVENTS);
            goto fail;
        }
        if (out->nevents == cap) {
            cap *= 2;
            eventlog_event *ne = realloc(out->events, cap * sizeof(*ne));
            if (!ne) {
                e = err_fail(ERR_NOMEM, "events");
                goto fail;
            }
            out->events = ne;
        }
        out->events[out->nevents++] = ev;
        /* UEFI 2.10 §38.4.1: CC MR index 1..4 = RTMR0..3; EV_NO_ACTION is never extended. */
        if (ev.type != EV_NO_ACTION && ev.mr_index >= 1 && ev.mr_index <= 4) {
            uint8_t in[96];
            memcpy(in, out->rtmr[ev.mr_index - 1], 48);
            memcpy(in + 48, ev.sha384, 48);
            sha384(in, sizeof(in), out->rtmr[ev.mr_index - 1]);
        } else if (ev.type != EV_NO_ACTION && ev.mr_index > 4) {
            e = bad(off, "MR index beyond RTMR3");
            goto fail;
        }
    }
    out->used = c.pos;
    return ERR_OK;
fail:
    eventlog_free(out);
    return e;
}

void eventlog_free(eventlog *l) {
    free(l->events);
    l->events = NULL;
    l->nevents = 0;
}

err_t eventlog_check_quote(const eventlog *l, const quote *q) {
    if (!quote_is_tdx(q)) {
        return err_fail(ERR_NOT_TDX, "event logs replay TDX RTMRs");
    }
    for (int i = 0; i < 4; i++) {
        if (!ct_eq(l->rtmr[i], q->td.rtmr[i], 48)) {
            return err_fail(ERR_EVENTLOG, "replayed RTMR%d differs from the quote's", i);
        }
    }
    return ERR_OK;
}

void eventlog_print(FILE *f, const eventlog *l) {
    char h[97];
    for (size_t i = 0; i < l->nevents; i++) {
        const eventlog_event *e = &l->events[i];
        hex_encode(e->sha384, 48, h);
        fprintf(f, "event %zu: mr=%u type=0x%08x size=%zu sha384=%s\n", i, (unsigned)e->mr_index,
                (unsigned)e->type, e->data_len, h);
    }
    for (int i = 0; i < 4; i++) {
        hex_encode(l->rtmr[i], 48, h);
        fprintf(f, "rtmr%d: %s\n", i, h);
    }
}
