#include "err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    err_category_t cat;
    const char *msg;
} ERR_TABLE[] = {
#define ERR_ROW_(n, c, m) {#n, ERRCAT_##c, m},
    ERR_LIST(ERR_ROW_)
#undef ERR_ROW_
};

static _Thread_local char detail_buf[256];
static _Thread_local char describe_buf[512];

static int valid(err_t e) {
    return (int)e >= 0 && e < ERR_COUNT_;
}

const char *err_name(err_t e) {
    return valid(e) ? ERR_TABLE[e].name : "UNKNOWN";
}

const char *err_str(err_t e) {
    return valid(e) ? ERR_TABLE[e].msg : "unknown error";
}

err_category_t err_category(err_t e) {
    return valid(e) ? ERR_TABLE[e].cat : ERRCAT_INTERNAL;
}

const char *err_category_name(err_category_t c) {
    static const char *const names[] = {"ok",     "again", "proto", "limit",  "attest",
                                        "crypto", "io",    "store", "config", "internal"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "internal";
}

err_t err_fail(err_t e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail_buf, sizeof(detail_buf), fmt, ap);
    va_end(ap);
    return e;
}

const char *err_detail(void) {
    return detail_buf;
}

void err_clear_detail(void) {
    detail_buf[0] = '\0';
}

const char *err_describe(err_t e) {
    if (detail_buf[0] != '\0') {
        snprintf(describe_buf, sizeof(describe_buf), "%s: %s", err_str(e), detail_buf);
    } else {
        snprintf(describe_buf, sizeof(describe_buf), "%s", err_str(e));
    }
    return describe_buf;
}
