/* Helpers shared by the TON unit tests: known-answer vectors from tests/data/ton. */
#ifndef COCOON_TESTS_TON_UTIL_H
#define COCOON_TESTS_TON_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"

static inline json_t *tu_vectors(void) {
    static json_t *v;
    if (!v) {
        const char *dir = getenv("COCOON_TESTDATA");
        char path[1024];
        snprintf(path, sizeof(path), "%s/ton/ton_core_vectors.json", dir ? dir : "tests/data");
        json_error_t je;
        v = json_load_file(path, 0, &je);
        if (!v) {
            fprintf(stderr, "cannot load %s: %s\n", path, je.text);
            abort();
        }
    }
    return v;
}

/* vectors[a][b] as a string */
static inline const char *tu_vec(const char *a, const char *b) {
    const char *s = json_string_value(json_object_get(json_object_get(tu_vectors(), a), b));
    if (!s) {
        fprintf(stderr, "missing vector %s.%s\n", a, b);
        abort();
    }
    return s;
}

/* Hex (spaces ignored) to bytes; returns a malloc'd buffer. */
static inline uint8_t *tu_hex(const char *hex, size_t *n) {
    size_t len = strlen(hex);
    char *clean = malloc(len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (hex[i] != ' ') {
            clean[k++] = hex[i];
        }
    }
    uint8_t *out = malloc(k / 2 + 1);
    if (hex_decode(clean, k, out, k / 2 + 1, n) != ERR_OK) {
        abort();
    }
    free(clean);
    return out;
}

static inline void tu_to_hex(const uint8_t *p, size_t n, char *out) {
    hex_encode(p, n, out);
}

#endif
