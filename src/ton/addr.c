#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"

#define TAG_BOUNCEABLE 0x11
#define TAG_NON_BOUNCEABLE 0x51
#define TAG_TESTNET 0x80

uint16_t ton_crc16(const uint8_t *data, size_t n) {
    uint16_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c ^= (uint16_t)(data[i] << 8);
        for (int k = 0; k < 8; k++) {
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        }
    }
    return c;
}

static err_t parse_raw(const char *text, const char *colon, ton_addr *out) {
    const char *p = text;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p == colon || colon - p > 3) {
        return err_fail(ERR_BAD_ENCODING, "raw address workchain");
    }
    long wc = 0;
    for (; p < colon; p++) {
        if (*p < '0' || *p > '9') {
            return err_fail(ERR_BAD_ENCODING, "raw address workchain");
        }
        wc = wc * 10 + (*p - '0');
    }
    wc = neg ? -wc : wc;
    if (wc < -128 || wc > 127) {
        return err_fail(ERR_MALFORMED, "workchain %ld out of range", wc);
    }
    const char *hex = colon + 1;
    size_t n;
    if (strlen(hex) != 64 || hex_decode(hex, 64, out->hash, 32, &n) != ERR_OK || n != 32) {
        return err_fail(ERR_BAD_ENCODING, "raw address hash must be 64 hex digits");
    }
    out->wc = (int32_t)wc;
    return ERR_OK;
}

err_t ton_addr_parse(const char *text, ton_addr *out, ton_addr_flags *flags) {
    ton_addr a;
    ton_addr_flags f = {0};
    const char *colon = strchr(text, ':');
    if (colon) {
        TRY(parse_raw(text, colon, &a));
    } else {
        if (strlen(text) != TON_ADDR_FRIENDLY_LEN) {
            return err_fail(ERR_BAD_ENCODING, "address must be raw or 48 characters");
        }
        f.url_safe = strpbrk(text, "-_") != NULL;
        if (f.url_safe && strpbrk(text, "+/")) {
            return err_fail(ERR_BAD_ENCODING, "mixed base64 alphabets");
        }
        uint8_t b[36];
        size_t n = 0;
        if (b64_decode(text, TON_ADDR_FRIENDLY_LEN, b, sizeof(b), &n, f.url_safe) != ERR_OK ||
            n != 36) {
            return err_fail(ERR_BAD_ENCODING, "address is not valid base64");
        }
        uint16_t crc = (uint16_t)(b[34] << 8 | b[35]);
        if (ton_crc16(b, 34) != crc) {
            return err_fail(ERR_BAD_ENCODING, "address checksum mismatch");
        }
        uint8_t tag = b[0];
        f.testnet = tag & TAG_TESTNET;
        tag &= (uint8_t)~TAG_TESTNET;
        if (tag != TAG_BOUNCEABLE && tag != TAG_NON_BOUNCEABLE) {
            return err_fail(ERR_MALFORMED, "unknown address tag 0x%02x", b[0]);
        }
        f.bounceable = tag == TAG_BOUNCEABLE;
        f.friendly = true;
        a.wc = (int8_t)b[1];
        memcpy(a.hash, b + 2, 32);
    }
    *out = a;
    if (flags) {
        *flags = f;
    }
    return ERR_OK;
}

void ton_addr_to_raw(const ton_addr *a, char out[TON_ADDR_RAW_MAX]) {
    char hex[65];
    hex_encode(a->hash, 32, hex);
    snprintf(out, TON_ADDR_RAW_MAX, "%d:%s", (int)a->wc, hex);
}

void ton_addr_to_friendly(const ton_addr *a, bool bounceable, bool testnet, bool url_safe,
                          char out[TON_ADDR_FRIENDLY_LEN + 1]) {
    uint8_t b[36];
    b[0] =
        (uint8_t)((bounceable ? TAG_BOUNCEABLE : TAG_NON_BOUNCEABLE) | (testnet ? TAG_TESTNET : 0));
    b[1] = (uint8_t)(int8_t)a->wc;
    memcpy(b + 2, a->hash, 32);
    uint16_t crc = ton_crc16(b, 34);
    b[34] = (uint8_t)(crc >> 8);
    b[35] = (uint8_t)crc;
    b64_encode(b, sizeof(b), out, url_safe);
}

bool ton_addr_equal(const ton_addr *a, const ton_addr *b) {
    return a->wc == b->wc && memcmp(a->hash, b->hash, 32) == 0;
}

err_t tb_addr(ton_builder *b, const ton_addr *a) {
    if (a->wc < -128 || a->wc > 127) {
        return err_fail(ERR_MALFORMED, "workchain %d does not fit addr_std", (int)a->wc);
    }
    if (tb_bits_left(b) < 267) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    TRY(tb_uint(b, 2, 2)); /* addr_std$10 */
    TRY(tb_bit(b, false)); /* anycast: nothing */
    TRY(tb_int(b, a->wc, 8));
    return tb_bytes(b, a->hash, 32);
}

err_t tb_addr_none(ton_builder *b) {
    return tb_uint(b, 0, 2);
}

err_t ts_addr(ton_slice *s, ton_addr *out, bool *present) {
    ton_slice t = *s;
    uint64_t tag;
    TRY(ts_uint(&t, 2, &tag));
    if (tag == 0) {
        *present = false;
        *s = t;
        return ERR_OK;
    }
    if (tag != 2) {
        return err_fail(ERR_MALFORMED, "MsgAddress tag %llu not supported",
                        (unsigned long long)tag);
    }
    bool anycast;
    TRY(ts_bit(&t, &anycast));
    if (anycast) {
        return err_fail(ERR_MALFORMED, "anycast addresses are not supported");
    }
    int64_t wc;
    TRY(ts_int(&t, 8, &wc));
    TRY(ts_bytes(&t, 32, out->hash));
    out->wc = (int32_t)wc;
    *present = true;
    *s = t;
    return ERR_OK;
}
