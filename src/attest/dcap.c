#include "dcap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/codec.h"

err_t dcap_verify(const quote *q, const collateral *c, const uint8_t (*roots)[64], size_t nroots,
                  int64_t now, dcap_result *out) {
    memset(out, 0, sizeof(*out));
    int64_t coll_expiry = 0;
    TRY(collateral_check(c, roots, nroots, now, &coll_expiry, NULL));
    size_t ncrls = 0;
    const x509_crl *const *crls = collateral_crls(c, &ncrls);
    int64_t chain_expiry = 0;
    TRY(quote_verify_signatures_crl(q, roots, nroots, crls, ncrls, now, &out->pck, out->root_key_id,
                                    &chain_expiry));
    TRY(tcb_evaluate(q, &out->pck, c, &out->tcb));
    out->expiry = coll_expiry < chain_expiry ? coll_expiry : chain_expiry;
    return ERR_OK;
}

err_t dcap_policy_check(const dcap_policy *p, const dcap_result *r, const collateral *c) {
    uint32_t ok = p->statuses ? p->statuses : 1u << TCB_UP_TO_DATE;
    if (!(ok & (1u << r->tcb.status))) {
        return err_fail(ERR_TCB_STATUS, "TCB status %s is not accepted",
                        tcb_status_name(r->tcb.status));
    }
    if (p->check_advisories) {
        for (size_t i = 0; i < 64; i++) {
            if (!(r->tcb.advisories & ((uint64_t)1 << i))) {
                continue;
            }
            const char *a = collateral_advisory(c, i);
            bool listed = false;
            for (size_t j = 0; a && j < p->nadvisories && !listed; j++) {
                listed = strcmp(p->advisories[j], a) == 0;
            }
            if (!listed) {
                return err_fail(ERR_TCB_STATUS, "advisory %s is not accepted", a ? a : "?");
            }
        }
    }
    return ERR_OK;
}

err_t dcap_policy_parse_statuses(const char *list, dcap_policy *p) {
    p->statuses = 0;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        bool found = false;
        for (int i = 0; i < TCB_STATUS_COUNT_; i++) {
            const char *name = tcb_status_name((tcb_status)i);
            if (strlen(name) == n && strncmp(name, s, n) == 0) {
                p->statuses |= 1u << i;
                found = true;
            }
        }
        if (!found) {
            return err_fail(ERR_CONFIG, "unknown TCB status \"%.*s\"", (int)n, s);
        }
        s += n + (e ? 1 : 0);
    }
    if (p->statuses == 0) {
        return err_fail(ERR_CONFIG, "empty TCB status list");
    }
    return ERR_OK;
}

void dcap_format_time(int64_t t, char out[21]) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

err_t dcap_parse_time(const char *s, int64_t *out) {
    size_t n = strlen(s);
    char tmp[32];
    if (n == 25 && strcmp(s + 19, "+00:00") == 0) {
        memcpy(tmp, s, 19);
        memcpy(tmp + 19, "Z", 2);
        s = tmp;
    }
    if (coll_parse_time(s, out) != ERR_OK) {
        return err_fail(ERR_CONFIG,
                        "bad time \"%s\" (want RFC 3339 UTC, e.g. "
                        "2025-06-20T00:00:00Z)",
                        s);
    }
    return ERR_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

err_t dcap_advisories(const dcap_result *r, const collateral *c, char *out, size_t cap) {
    const char *ids[64];
    size_t n = 0;
    for (size_t i = 0; i < 64; i++) {
        const char *a = collateral_advisory(c, i);
        if ((r->tcb.advisories & ((uint64_t)1 << i)) && a) {
            ids[n++] = a;
        }
    }
    qsort(ids, n, sizeof(ids[0]), cmp_str);
    size_t len = 0;
    if (cap == 0) {
        return err_fail(ERR_TOO_LARGE, "advisory buffer");
    }
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? "," : "", ids[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            return err_fail(ERR_TOO_LARGE, "advisory list longer than %zu", cap);
        }
        len += (size_t)w;
    }
    return ERR_OK;
}

void dcap_result_print(FILE *f, const dcap_result *r, const collateral *c) {
    char h[2 * ATTEST_ROOT_KEY_ID_LEN + 1];
    char t[21];
    fprintf(f, "status: %s\n", tcb_status_name(r->tcb.status));
    fprintf(f, "platform_status: %s\n", tcb_status_name(r->tcb.platform));
    fprintf(f, "qe_status: %s\n", tcb_status_name(r->tcb.qe));
    fprintf(f, "module_status: %s\n", tcb_status_name(r->tcb.module));
    char adv[64 * (COLL_ADVISORY_MAX + 1) + 1];
    if (dcap_advisories(r, c, adv, sizeof(adv)) != ERR_OK) {
        adv[0] = 0;
    }
    fprintf(f, "advisories: %s\n", adv);
    dcap_format_time(r->tcb.tcb_date, t);
    fprintf(f, "tcb_date: %s\n", t);
    hex_encode(r->pck.fmspc, 6, h);
    fprintf(f, "fmspc: %s\n", h);
    hex_encode(r->pck.pceid, 2, h);
    fprintf(f, "pceid: %s\n", h);
    hex_encode(r->root_key_id, ATTEST_ROOT_KEY_ID_LEN, h);
    fprintf(f, "root_key_id: %s\n", h);
    dcap_format_time(r->expiry, t);
    fprintf(f, "collateral_expiry: %s\n", t);
}
