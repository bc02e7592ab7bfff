#include "codec.h"

#include <string.h>

static const char HEX[] = "0123456789abcdef";

void hex_encode(const uint8_t *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[in[i] >> 4];
        out[2 * i + 1] = HEX[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

err_t hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len) {
    if (n % 2) {
        return err_fail(ERR_BAD_ENCODING, "hex string has odd length %zu", n);
    }
    if (n / 2 > cap) {
        return err_fail(ERR_TOO_LARGE, "hex value of %zu bytes exceeds %zu", n / 2, cap);
    }
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(in[i]);
        int lo = hexval(in[i + 1]);
        if (hi < 0 || lo < 0) {
            return err_fail(ERR_BAD_ENCODING, "non-hex character at position %zu", i);
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n / 2;
    return ERR_OK;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encoded_len(size_t n) {
    return (n + 2) / 3 * 4;
}

void b64_encode(const uint8_t *in, size_t n, char *out, bool url) {
    const char *a = url ? B64URL : B64;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int b64val(char c, bool url) {
    const char *a = url ? B64URL : B64;
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

err_t b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len, bool url) {
    size_t pad = 0;
    while (pad < 2 && n > pad && in[n - 1 - pad] == '=') {
        pad++;
    }
    size_t body = n - pad;
    if (!url && n % 4 != 0) {
        return err_fail(ERR_BAD_ENCODING, "base64 length %zu is not a multiple of 4", n);
    }
    if (pad && n % 4 != 0) {
        return err_fail(ERR_BAD_ENCODING, "base64 padding in a partial quantum");
    }
    if (body % 4 == 1) {
        return err_fail(ERR_BAD_ENCODING, "base64 length %zu is impossible", n);
    }
    size_t olen = body / 4 * 3 + (body % 4 ? body % 4 - 1 : 0);
    if (olen > cap) {
        return err_fail(ERR_TOO_LARGE, "base64 value of %zu bytes exceeds %zu", olen, cap);
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < body; i++) {
        int v = b64val(in[i], url);
        if (v < 0) {
            return err_fail(ERR_BAD_ENCODING, "invalid base64 character at position %zu", i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        return err_fail(ERR_BAD_ENCODING, "non-canonical base64 (unused bits set)");
    }
    *out_len = o;
    return ERR_OK;
}
