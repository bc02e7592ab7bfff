#include "util.h"

#include <errno.h>
#include <stdlib.h>

#include "base/codec.h"

int cli_fail(const char *cmd, err_t e, const char *what) {
    fprintf(stderr, "cocoon %s: %s: %s\n", cmd, what, err_describe(e));
    return 1;
}

int cli_parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi) {
        return 0;
    }
    *out = v;
    return 1;
}

void cli_home_path(const char *sub, char *out, size_t cap) {
    const char *home = getenv("COCOON_HOME");
    if (home && home[0]) {
        snprintf(out, cap, "%s/%s", home, sub);
        return;
    }
    const char *h = getenv("HOME");
    snprintf(out, cap, "%s/.cocoon/%s", h && h[0] ? h : ".", sub);
}

void cli_print_hex(FILE *f, const char *key, const uint8_t *d, size_t n) {
    char hex[2 * 128 + 1];
    if (n > 128) {
        n = 128;
    }
    hex_encode(d, n, hex);
    fprintf(f, "%s: %s\n", key, hex);
}
