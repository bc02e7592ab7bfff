#include "unicode.h"

int uni_class(uint32_t cp) {
    size_t lo = 0;
    size_t hi = UNI_RANGES_N;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < UNI_RANGES[mid].lo) {
            hi = mid;
        } else if (cp > UNI_RANGES[mid].hi) {
            lo = mid + 1;
        } else {
            return UNI_RANGES[mid].cls;
        }
    }
    return UNI_OTHER;
}

bool uni_is_space(uint32_t cp) {
    /* PropList.txt, White_Space */
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

size_t uni_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t b = s[0];
    size_t len;
    uint32_t v;
    uint32_t min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if ((b & 0xe0) == 0xc0) {
        len = 2;
        v = b & 0x1f;
        min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        len = 3;
        v = b & 0x0f;
        min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        len = 4;
        v = b & 0x07;
        min = 0x10000;
    } else {
        *cp = UNI_INVALID;
        return 1;
    }
    if (len > n) {
        *cp = UNI_INVALID;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = UNI_INVALID;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    /* RFC 3629: overlong forms, surrogates and values past U+10FFFF are invalid */
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = UNI_INVALID;
        return 1;
    }
    *cp = v;
    return len;
}

size_t uni_encode(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}
