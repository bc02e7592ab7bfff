#include "collateral.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/file.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"

struct collateral {
    buf tcb_raw; /* the exact bytes of the tcbInfo value */
    uint8_t tcb_sig[64];
    buf qe_raw; /* the exact bytes of the enclaveIdentity value */
    uint8_t qe_sig[64];
    buf tcb_chain_pem;
    buf qe_chain_pem;
    buf pck_crl_chain_pem;
    x509_chain *tcb_chain;
    x509_chain *qe_chain;
    x509_crl *crls[2]; /* root CA CRL, PCK CA CRL */
    coll_tcb_info tcb;
    coll_qe_identity qe;
    size_t nadv;
    char adv[COLL_MAX_ADVISORIES][COLL_ADVISORY_MAX + 1];

    /* collateral_check memo: verdict for one set of roots inside [memo_nb, memo_na). */
    pthread_mutex_t mu;
    bool memo_ok;
    uint8_t memo_roots[32];
    int64_t memo_nb;
    int64_t memo_na;
    size_t memo_root;
};

static const char *const STATUS_NAMES[TCB_STATUS_COUNT_] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
    "TDRelaunchAdvised",
    "TDRelaunchAdvisedConfigurationNeeded",
};

const char *tcb_status_name(tcb_status s) {
    return (unsigned)s < TCB_STATUS_COUNT_ ? STATUS_NAMES[s] : "?";
}

err_t tcb_status_parse(const char *s, tcb_status *out) {
    /* The relaunch values are verifier results, never collateral statuses. */
    for (int i = 0; i <= TCB_REVOKED; i++) {
        if (strcmp(s, STATUS_NAMES[i]) == 0) {
            *out = (tcb_status)i;
            return ERR_OK;
        }
    }
    return err_fail(ERR_COLLATERAL_FORMAT, "unknown tcbStatus \"%.40s\"", s);
}

/* ---- small parsers ---- */

err_t coll_parse_time(const char *s, int64_t *out) {
    /* Intel: "2025-06-19T10:32:27Z"; PCS sometimes adds fractions ("...27.123Z"). */
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19) {
        return err_fail(ERR_COLLATERAL_FORMAT, "bad date \"%.40s\"", s);
    }
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return err_fail(ERR_COLLATERAL_FORMAT, "bad date fraction \"%.40s\"", s);
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (strcmp(p, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60 || y < 1970) {
        return err_fail(ERR_COLLATERAL_FORMAT, "bad date \"%.40s\" (UTC 'Z' required)", s);
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    *out = (int64_t)timegm(&tm);
    return ERR_OK;
}

/* Skips one JSON value starting at s[i] (valid JSON assumed); returns the index after it. */
static size_t json_skip_value(const char *s, size_t n, size_t i) {
    if (i >= n) {
        return n;
    }
    if (s[i] == '"') {
        for (i++; i < n; i++) {
            if (s[i] == '\\') {
                i++;
            } else if (s[i] == '"') {
                return i + 1;
            }
        }
        return n;
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                i = json_skip_value(s, n, i) - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                depth++;
            } else if (s[i] == '}' || s[i] == ']') {
                if (--depth == 0) {
                    return i + 1;
                }
            }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t') {
        i++;
    }
    return i;
}

static size_t json_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) {
        i++;
    }
    return i;
}

err_t coll_json_member_span(const char *s, size_t n, const char *key, size_t *off, size_t *len) {
    size_t i = json_ws(s, n, 0);
    if (i >= n || s[i] != '{') {
        return err_fail(ERR_COLLATERAL_FORMAT, "not a JSON object");
    }
    i++;
    size_t klen = strlen(key);
    for (;;) {
        i = json_ws(s, n, i);
        if (i >= n || s[i] != '"') {
            break;
        }
        size_t ks = i + 1;
        i = json_skip_value(s, n, i);
        size_t ke = i - 1; /* the closing quote */
        i = json_ws(s, n, i);
        if (i >= n || s[i] != ':') {
            break;
        }
        i = json_ws(s, n, i + 1);
        size_t vs = i;
        i = json_skip_value(s, n, i);
        if (ke >= ks && ke - ks == klen && memcmp(s + ks, key, klen) == 0) {
            *off = vs;
            *len = i - vs;
            return ERR_OK;
        }
        i = json_ws(s, n, i);
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        break;
    }
    return err_fail(ERR_NOT_FOUND, "no member \"%s\"", key);
}

/* ---- jansson field helpers (every error names item and field) ---- */

typedef struct {
    const char *item; /* "tcbInfo", "enclaveIdentity" */
    collateral *c;
} ctx;

static err_t fmt_err(const ctx *x, const char *field, const char *why) {
    return err_fail(ERR_COLLATERAL_FORMAT, "%s.%s: %s", x->item, field, why);
}

static err_t get_int(const ctx *x, json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out) {
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) {
        return fmt_err(x, k, "missing or not an integer");
    }
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi) {
        return fmt_err(x, k, "out of range");
    }
    *out = (int64_t)i;
    return ERR_OK;
}

static err_t get_str(const ctx *x, json_t *o, const char *k, const char **out) {
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v)) {
        return fmt_err(x, k, "missing or not a string");
    }
    *out = json_string_value(v);
    return ERR_OK;
}

static err_t get_hex(const ctx *x, json_t *o, const char *k, uint8_t *out, size_t n) {
    const char *s = NULL;
    TRY(get_str(x, o, k, &s));
    size_t got = 0;
    if (strlen(s) != 2 * n || hex_decode(s, 2 * n, out, n, &got) != ERR_OK || got != n) {
        return fmt_err(x, k, "wrong hex size");
    }
    return ERR_OK;
}

static err_t get_time(const ctx *x, json_t *o, const char *k, int64_t *out) {
    const char *s = NULL;
    TRY(get_str(x, o, k, &s));
    if (coll_parse_time(s, out) != ERR_OK) {
        return fmt_err(x, k, "not an RFC 3339 UTC time");
    }
    return ERR_OK;
}

static err_t intern_advisory(const ctx *x, const char *s, uint64_t *mask) {
    collateral *c = x->c;
    size_t n = strlen(s);
    if (n == 0 || n > COLL_ADVISORY_MAX) {
        return fmt_err(x, "advisoryIDs", "advisory id length");
    }
    for (size_t i = 0; i < c->nadv; i++) {
        if (strcmp(c->adv[i], s) == 0) {
            *mask |= (uint64_t)1 << i;
            return ERR_OK;
        }
    }
    if (c->nadv == COLL_MAX_ADVISORIES) {
        return err_fail(ERR_TOO_MANY, "more than %d advisory ids", COLL_MAX_ADVISORIES);
    }
    memcpy(c->adv[c->nadv], s, n + 1);
    *mask |= (uint64_t)1 << c->nadv;
    c->nadv++;
    return ERR_OK;
}

/* tcbDate, tcbStatus, advisoryIDs of a level object. */
static err_t level_common(const ctx *x, json_t *lv, tcb_status *st, int64_t *date, uint64_t *adv) {
    const char *s = NULL;
    TRY(get_str(x, lv, "tcbStatus", &s));
    TRY(tcb_status_parse(s, st));
    TRY(get_time(x, lv, "tcbDate", date));
    *adv = 0;
    json_t *a = json_object_get(lv, "advisoryIDs");
    if (a) {
        if (!json_is_array(a) || json_array_size(a) > COLL_MAX_ADVISORIES) {
            return fmt_err(x, "advisoryIDs", "not an array of at most 64 strings");
        }
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            if (!json_is_string(v)) {
                return fmt_err(x, "advisoryIDs", "not a string");
            }
            TRY(intern_advisory(x, json_string_value(v), adv));
        }
    }
    return ERR_OK;
}

static int cmp_isv_desc(const void *a, const void *b) {
    const coll_isv_level *x = a;
    const coll_isv_level *y = b;
    return (int)y->isvsvn - (int)x->isvsvn;
}

static err_t parse_isv_levels(const ctx *x, json_t *arr, coll_isv_level *out, size_t *n) {
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        return fmt_err(x, "tcbLevels", "missing or empty");
    }
    if (json_array_size(arr) > COLL_MAX_LEVELS) {
        return err_fail(ERR_TOO_MANY, "%s: more than %d TCB levels", x->item, COLL_MAX_LEVELS);
    }
    size_t i;
    json_t *lv;
    json_array_foreach(arr, i, lv) {
        json_t *tcb = json_object_get(lv, "tcb");
        int64_t svn = 0;
        if (!json_is_object(tcb)) {
            return fmt_err(x, "tcbLevels.tcb", "missing");
        }
        TRY(get_int(x, tcb, "isvsvn", 0, 65535, &svn));
        out[i].isvsvn = (uint16_t)svn;
        TRY(level_common(x, lv, &out[i].status, &out[i].date, &out[i].adv));
    }
    *n = json_array_size(arr);
    /* QVL walks levels newest first (descending isvsvn), whatever order the JSON has. */
    qsort(out, *n, sizeof(*out), cmp_isv_desc);
    return ERR_OK;
}

static err_t parse_module(const ctx *x, json_t *m, bool with_levels, coll_tdx_module *out) {
    if (!json_is_object(m)) {
        return fmt_err(x, "tdxModule", "not an object");
    }
    TRY(get_hex(x, m, "mrsigner", out->mrsigner, 48));
    TRY(get_hex(x, m, "attributes", out->attributes, 8));
    TRY(get_hex(x, m, "attributesMask", out->attributes_mask, 8));
    if (with_levels) {
        const char *id = NULL;
        TRY(get_str(x, m, "id", &id));
        size_t n = strlen(id);
        if (n == 0 || n >= sizeof(out->id)) {
            return fmt_err(x, "tdxModuleIdentities.id", "length");
        }
        for (size_t i = 0; i <= n; i++) {
            out->id[i] = (char)(id[i] >= 'a' && id[i] <= 'z' ? id[i] - 32 : id[i]);
        }
        TRY(parse_isv_levels(x, json_object_get(m, "tcbLevels"), out->levels, &out->nlevels));
    }
    return ERR_OK;
}

static err_t parse_components(const ctx *x, json_t *tcb, const char *k, uint16_t out[16]) {
    json_t *arr = json_object_get(tcb, k);
    if (!json_is_array(arr) || json_array_size(arr) != 16) {
        return fmt_err(x, k, "not an array of 16 components");
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        int64_t svn = 0;
        if (!json_is_object(v)) {
            return fmt_err(x, k, "component is not an object");
        }
        TRY(get_int(x, v, "svn", 0, 65535, &svn));
        out[i] = (uint16_t)svn;
    }
    return ERR_OK;
}

static int cmp_u16v(const uint16_t *a, const uint16_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return 0;
}

/* QVL keeps TCB levels in a set ordered by (SGX components, PCESVN, TDX components), highest
 * first (AttestationParsers TcbLevel::operator>), and walks them in that order. */
static int cmp_level_desc(const void *a, const void *b) {
    const coll_tcb_level *x = a;
    const coll_tcb_level *y = b;
    int c = cmp_u16v(y->sgx, x->sgx, 16);
    if (c == 0) {
        c = (int)y->pcesvn - (int)x->pcesvn;
    }
    if (c == 0) {
        c = cmp_u16v(y->tdx, x->tdx, 16);
    }
    return c;
}

static err_t parse_tcb_info(collateral *c) {
    ctx x = {.item = "tcbInfo", .c = c};
    coll_tcb_info *t = &c->tcb;
    json_error_t jerr;
    json_t *o =
        json_loadb((const char *)c->tcb_raw.data, c->tcb_raw.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return err_fail(ERR_COLLATERAL_FORMAT, "tcbInfo: not a JSON object");
    }
    const char *id = NULL;
    int64_t v = 0;
    err_t e = get_str(&x, o, "id", &id);
    if (e == ERR_OK && (strcmp(id, "TDX") != 0 && strcmp(id, "SGX") != 0)) {
        e = fmt_err(&x, "id", "neither TDX nor SGX");
    }
    if (e == ERR_OK) {
        snprintf(t->id, sizeof(t->id), "%s", id);
        e = get_int(&x, o, "version", 0, 1000, &v);
    }
    /* v3 is the only layout with component arrays (v2 spelled sgxtcbcomp01svn...). */
    if (e == ERR_OK && v != 3) {
        e = fmt_err(&x, "version", "only version 3 is supported");
    }
    t->version = (int)v;
    if (e == ERR_OK) {
        e = get_time(&x, o, "issueDate", &t->issue_date);
    }
    if (e == ERR_OK) {
        e = get_time(&x, o, "nextUpdate", &t->next_update);
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "fmspc", t->fmspc, 6);
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "pceId", t->pceid, 2);
    }
    if (e == ERR_OK && (e = get_int(&x, o, "tcbType", 0, 0, &v)) == ERR_OK) {
        t->tcb_type = 0;
        e = get_int(&x, o, "tcbEvaluationDataNumber", 0, UINT32_MAX, &v);
        t->eval_number = (uint32_t)v;
    }
    bool tdx = e == ERR_OK && strcmp(t->id, "TDX") == 0;
    json_t *m = json_object_get(o, "tdxModule");
    if (e == ERR_OK && m) {
        t->has_module = true;
        e = parse_module(&x, m, false, &t->module);
    }
    json_t *mids = json_object_get(o, "tdxModuleIdentities");
    if (e == ERR_OK && mids) {
        if (!json_is_array(mids)) {
            e = fmt_err(&x, "tdxModuleIdentities", "not an array");
        } else if (json_array_size(mids) > COLL_MAX_MODULE_IDS) {
            e = err_fail(ERR_TOO_MANY, "tcbInfo: more than %d TDX module identities",
                         COLL_MAX_MODULE_IDS);
        } else {
            size_t i;
            json_t *mi;
            json_array_foreach(mids, i, mi) {
                if (e == ERR_OK) {
                    e = parse_module(&x, mi, true, &t->module_ids[i]);
                }
            }
            t->nmodule_ids = json_array_size(mids);
        }
    }
    json_t *levels = json_object_get(o, "tcbLevels");
    if (e == ERR_OK && (!json_is_array(levels) || json_array_size(levels) == 0)) {
        e = fmt_err(&x, "tcbLevels", "missing or empty");
    }
    if (e == ERR_OK && json_array_size(levels) > COLL_MAX_LEVELS) {
        e = err_fail(ERR_TOO_MANY, "tcbInfo: more than %d TCB levels", COLL_MAX_LEVELS);
    }
    size_t i;
    json_t *lv;
    json_array_foreach(levels, i, lv) {
        if (e != ERR_OK) {
            break;
        }
        coll_tcb_level *L = &t->levels[i];
        json_t *tcb = json_object_get(lv, "tcb");
        if (!json_is_object(tcb)) {
            e = fmt_err(&x, "tcbLevels.tcb", "missing");
            break;
        }
        if ((e = parse_components(&x, tcb, "sgxtcbcomponents", L->sgx)) != ERR_OK ||
            (e = get_int(&x, tcb, "pcesvn", 0, 65535, &v)) != ERR_OK) {
            break;
        }
        L->pcesvn = (uint16_t)v;
        if (tdx && (e = parse_components(&x, tcb, "tdxtcbcomponents", L->tdx)) != ERR_OK) {
            break;
        }
        e = level_common(&x, lv, &L->status, &L->date, &L->adv);
    }
    if (e == ERR_OK) {
        t->nlevels = json_array_size(levels);
        qsort(t->levels, t->nlevels, sizeof(t->levels[0]), cmp_level_desc);
    }
    json_decref(o);
    return e;
}

static err_t parse_qe_identity(collateral *c) {
    ctx x = {.item = "enclaveIdentity", .c = c};
    coll_qe_identity *q = &c->qe;
    json_error_t jerr;
    json_t *o =
        json_loadb((const char *)c->qe_raw.data, c->qe_raw.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return err_fail(ERR_COLLATERAL_FORMAT, "enclaveIdentity: not a JSON object");
    }
    const char *id = NULL;
    int64_t v = 0;
    err_t e = get_str(&x, o, "id", &id);
    if (e == ERR_OK && strcmp(id, "TD_QE") != 0 && strcmp(id, "QE") != 0 &&
        strcmp(id, "QVE") != 0) {
        e = fmt_err(&x, "id", "not TD_QE, QE or QVE");
    }
    if (e == ERR_OK) {
        snprintf(q->id, sizeof(q->id), "%s", id);
        e = get_int(&x, o, "version", 0, 1000, &v);
    }
    if (e == ERR_OK && v != 2) {
        e = fmt_err(&x, "version", "only version 2 is supported");
    }
    q->version = (int)v;
    if (e == ERR_OK) {
        e = get_time(&x, o, "issueDate", &q->issue_date);
    }
    if (e == ERR_OK) {
        e = get_time(&x, o, "nextUpdate", &q->next_update);
    }
    if (e == ERR_OK &&
        (e = get_int(&x, o, "tcbEvaluationDataNumber", 0, UINT32_MAX, &v)) == ERR_OK) {
        q->eval_number = (uint32_t)v;
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "miscselect", q->miscselect, 4);
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "miscselectMask", q->miscselect_mask, 4);
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "attributes", q->attributes, 16);
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "attributesMask", q->attributes_mask, 16);
    }
    if (e == ERR_OK) {
        e = get_hex(&x, o, "mrsigner", q->mrsigner, 32);
    }
    if (e == ERR_OK && (e = get_int(&x, o, "isvprodid", 0, 65535, &v)) == ERR_OK) {
        q->isvprodid = (uint16_t)v;
    }
    if (e == ERR_OK) {
        e = parse_isv_levels(&x, json_object_get(o, "tcbLevels"), q->levels, &q->nlevels);
    }
    json_decref(o);
    return e;
}

/* ---- assembling ---- */

static collateral *coll_new(void) {
    collateral *c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    buf_init(&c->tcb_raw, COLL_JSON_MAX);
    buf_init(&c->qe_raw, COLL_JSON_MAX);
    buf_init(&c->tcb_chain_pem, COLL_JSON_MAX);
    buf_init(&c->qe_chain_pem, COLL_JSON_MAX);
    buf_init(&c->pck_crl_chain_pem, COLL_JSON_MAX);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void collateral_free(collateral *c) {
    if (!c) {
        return;
    }
    buf_free(&c->tcb_raw);
    buf_free(&c->qe_raw);
    buf_free(&c->tcb_chain_pem);
    buf_free(&c->qe_chain_pem);
    buf_free(&c->pck_crl_chain_pem);
    x509_chain_free(c->tcb_chain);
    x509_chain_free(c->qe_chain);
    x509_crl_free(c->crls[0]);
    x509_crl_free(c->crls[1]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* A CRL as DER, PEM or a hex string of the DER (PCCS rootcacrl, dcap-qvl JSON). */
static err_t load_crl(const char *what, const uint8_t *p, size_t n, x509_crl **out) {
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == 0)) {
        n--;
    }
    if (n >= 2 && (p[0] == '3' && p[1] == '0')) {
        if (n / 2 > ((size_t)1 << 20)) {
            return err_fail(ERR_TOO_LARGE, "%s: hex CRL too large", what);
        }
        uint8_t *der = malloc(n / 2 + 1);
        size_t got = 0;
        if (!der) {
            return err_fail(ERR_NOMEM, "CRL");
        }
        err_t e = hex_decode((const char *)p, n, der, n / 2 + 1, &got);
        if (e == ERR_OK) {
            e = x509_crl_parse(der, got, out);
        } else {
            e = err_fail(ERR_CRL_INVALID, "%s: bad hex", what);
        }
        free(der);
        return e == ERR_OK ? ERR_OK : err_fail(e, "%s: %s", what, err_detail());
    }
    err_t e = x509_crl_parse(p, n, out);
    return e == ERR_OK ? ERR_OK : err_fail(e, "%s: %s", what, err_detail());
}

/* {"tcbInfo":{...},"signature":"<hex>"}: keeps the raw value bytes and the signature. */
static err_t split_signed(const char *what, const char *member, const uint8_t *p, size_t n,
                          buf *raw, uint8_t sig[64]) {
    if (n > COLL_JSON_MAX) {
        return err_fail(ERR_TOO_LARGE, "%s: %zu bytes", what, n);
    }
    json_error_t jerr;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    err_t e = ERR_OK;
    if (!o || !json_is_object(o) || !json_is_object(json_object_get(o, member))) {
        e = err_fail(ERR_COLLATERAL_FORMAT, "%s: not a JSON object with \"%s\"", what, member);
        goto out;
    }
    json_t *s = json_object_get(o, "signature");
    size_t got = 0;
    if (!json_is_string(s) || json_string_length(s) != 128 ||
        hex_decode(json_string_value(s), 128, sig, 64, &got) != ERR_OK) {
        e = err_fail(ERR_COLLATERAL_FORMAT, "%s: signature is not 128 hex digits", what);
        goto out;
    }
    size_t off;
    size_t len;
    if ((e = coll_json_member_span((const char *)p, n, member, &off, &len)) != ERR_OK) {
        e = err_fail(ERR_COLLATERAL_FORMAT, "%s: %s", what, err_detail());
        goto out;
    }
    e = buf_append(raw, p + off, len);
out:
    json_decref(o);
    return e;
}

static err_t load_chain(const char *what, const void *p, size_t n, buf *pem, x509_chain **out) {
    err_t e = x509_chain_parse(p, n, out);
    if (e != ERR_OK) {
        return err_fail(e, "%s: %s", what, err_detail());
    }
    return buf_append(pem, p, n);
}

static err_t finish(collateral *c) {
    TRY(parse_tcb_info(c));
    return parse_qe_identity(c);
}

err_t collateral_from_parts(const collateral_parts *p, collateral **out) {
    *out = NULL;
    collateral *c = coll_new();
    if (!c) {
        return err_fail(ERR_NOMEM, "collateral");
    }
    err_t e =
        split_signed("TCB info", "tcbInfo", p->tcb_info, p->tcb_info_len, &c->tcb_raw, c->tcb_sig);
    if (e == ERR_OK) {
        e = split_signed("QE identity", "enclaveIdentity", p->qe_identity, p->qe_identity_len,
                         &c->qe_raw, c->qe_sig);
    }
    if (e == ERR_OK) {
        e = load_chain("TCB info issuer chain", p->tcb_chain, p->tcb_chain_len, &c->tcb_chain_pem,
                       &c->tcb_chain);
    }
    if (e == ERR_OK) {
        e = load_chain("QE identity issuer chain", p->qe_chain, p->qe_chain_len, &c->qe_chain_pem,
                       &c->qe_chain);
    }
    if (e == ERR_OK) {
        e = load_crl("root CA CRL", p->root_crl, p->root_crl_len, &c->crls[0]);
    }
    if (e == ERR_OK) {
        e = load_crl("PCK CRL", p->pck_crl, p->pck_crl_len, &c->crls[1]);
    }
    if (e == ERR_OK && p->pck_crl_chain_len > 0) {
        e = buf_append(&c->pck_crl_chain_pem, p->pck_crl_chain, p->pck_crl_chain_len);
    }
    if (e == ERR_OK) {
        e = finish(c);
    }
    if (e != ERR_OK) {
        collateral_free(c);
        return e;
    }
    *out = c;
    return ERR_OK;
}

static err_t json_field(json_t *o, const char *k, const char **s, size_t *n) {
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v)) {
        return err_fail(ERR_COLLATERAL_FORMAT, "collateral JSON: \"%s\" missing or not a string",
                        k);
    }
    *s = json_string_value(v);
    *n = json_string_length(v);
    return ERR_OK;
}

err_t collateral_from_json(const void *json, size_t len, collateral **out) {
    *out = NULL;
    if (len > COLL_JSON_MAX) {
        return err_fail(ERR_TOO_LARGE, "collateral JSON of %zu bytes", len);
    }
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return err_fail(ERR_COLLATERAL_FORMAT, "collateral JSON: line %d: %s", jerr.line,
                        o ? "not an object" : jerr.text);
    }
    collateral *c = coll_new();
    const char *s = NULL;
    size_t n = 0;
    err_t e = c ? ERR_OK : err_fail(ERR_NOMEM, "collateral");
    /* The signed strings are used exactly as they decode from the JSON string: that is the
     * byte string Intel signed (dcap-qvl stores the raw body text in it). */
    if (e == ERR_OK && (e = json_field(o, "tcb_info", &s, &n)) == ERR_OK) {
        e = buf_append(&c->tcb_raw, s, n);
    }
    if (e == ERR_OK && (e = json_field(o, "qe_identity", &s, &n)) == ERR_OK) {
        e = buf_append(&c->qe_raw, s, n);
    }
    size_t got = 0;
    if (e == ERR_OK && (e = json_field(o, "tcb_info_signature", &s, &n)) == ERR_OK &&
        (n != 128 || hex_decode(s, n, c->tcb_sig, 64, &got) != ERR_OK)) {
        e = err_fail(ERR_COLLATERAL_FORMAT, "tcb_info_signature is not 128 hex digits");
    }
    if (e == ERR_OK && (e = json_field(o, "qe_identity_signature", &s, &n)) == ERR_OK &&
        (n != 128 || hex_decode(s, n, c->qe_sig, 64, &got) != ERR_OK)) {
        e = err_fail(ERR_COLLATERAL_FORMAT, "qe_identity_signature is not 128 hex digits");
    }
    if (e == ERR_OK && (e = json_field(o, "tcb_info_issuer_chain", &s, &n)) == ERR_OK) {
        e = load_chain("tcb_info_issuer_chain", s, n, &c->tcb_chain_pem, &c->tcb_chain);
    }
    if (e == ERR_OK && (e = json_field(o, "qe_identity_issuer_chain", &s, &n)) == ERR_OK) {
        e = load_chain("qe_identity_issuer_chain", s, n, &c->qe_chain_pem, &c->qe_chain);
    }
    if (e == ERR_OK && (e = json_field(o, "root_ca_crl", &s, &n)) == ERR_OK) {
        e = load_crl("root_ca_crl", (const uint8_t *)s, n, &c->crls[0]);
    }
    if (e == ERR_OK && (e = json_field(o, "pck_crl", &s, &n)) == ERR_OK) {
        e = load_crl("pck_crl", (const uint8_t *)s, n, &c->crls[1]);
    }
    if (e == ERR_OK && (e = json_field(o, "pck_crl_issuer_chain", &s, &n)) == ERR_OK) {
        e = buf_append(&c->pck_crl_chain_pem, s, n);
    }
    if (e == ERR_OK) {
        e = finish(c);
    }
    json_decref(o);
    if (e != ERR_OK) {
        collateral_free(c);
        return e;
    }
    *out = c;
    return ERR_OK;
}

static err_t read_in(const char *dir, const char *name, bool optional, buf *b) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        return err_fail(ERR_CONFIG, "path too long");
    }
    buf_init(b, COLL_JSON_MAX);
    err_t e = file_read(path, COLL_JSON_MAX, b);
    if (e == ERR_NOT_FOUND && optional) {
        return ERR_OK;
    }
    return e == ERR_OK ? ERR_OK : err_fail(e, "%s: %s", path, err_detail());
}

err_t collateral_load_dir(const char *dir, collateral **out) {
    *out = NULL;
    enum { TCB, QE, CHAIN, ROOT, PCK, PCKCHAIN, N };
    static const char *const names[N] = {"tcbInfo.json",          "qeIdentity.json",
                                         "tcbSignChain.pem",      "rootCaCrl.der",
                                         "intermediateCaCrl.der", "pckSignChain.pem"};
    buf b[N];
    memset(b, 0, sizeof(b));
    err_t e = ERR_OK;
    for (int i = 0; i < N && e == ERR_OK; i++) {
        e = read_in(dir, names[i], i == PCKCHAIN, &b[i]);
    }
    if (e == ERR_OK) {
        collateral_parts p = {
            .tcb_info = b[TCB].data,
            .tcb_info_len = b[TCB].len,
            .tcb_chain = b[CHAIN].data,
            .tcb_chain_len = b[CHAIN].len,
            .qe_identity = b[QE].data,
            .qe_identity_len = b[QE].len,
            .qe_chain = b[CHAIN].data,
            .qe_chain_len = b[CHAIN].len,
            .root_crl = b[ROOT].data,
            .root_crl_len = b[ROOT].len,
            .pck_crl = b[PCK].data,
            .pck_crl_len = b[PCK].len,
            .pck_crl_chain = b[PCKCHAIN].data,
            .pck_crl_chain_len = b[PCKCHAIN].len,
        };
        e = collateral_from_parts(&p, out);
    }
    for (int i = 0; i < N; i++) {
        buf_free(&b[i]);
    }
    return e;
}

err_t collateral_load(const char *path, collateral **out) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return collateral_load_dir(path, out);
    }
    buf b;
    buf_init(&b, COLL_JSON_MAX);
    err_t e = file_read(path, COLL_JSON_MAX, &b);
    if (e == ERR_OK) {
        e = collateral_from_json(b.data, b.len, out);
    } else {
        e = err_fail(e, "%s: %s", path, err_detail());
    }
    buf_free(&b);
    return e;
}

static err_t put_hex_crl(json_t *o, const char *k, const x509_crl *crl) {
    buf der;
    buf_init(&der, (size_t)1 << 20);
    err_t e = x509_crl_to_der(crl, &der);
    char *h = e == ERR_OK ? malloc(2 * der.len + 1) : NULL;
    if (e == ERR_OK && !h) {
        e = err_fail(ERR_NOMEM, "hex");
    }
    if (e == ERR_OK) {
        hex_encode(der.data, der.len, h);
        if (json_object_set_new(o, k, json_string(h)) != 0) {
            e = err_fail(ERR_NOMEM, "json");
        }
    }
    free(h);
    buf_free(&der);
    return e;
}

static err_t put_str(json_t *o, const char *k, const buf *b) {
    json_t *s = json_stringn((const char *)b->data, b->len);
    if (!s || json_object_set_new(o, k, s) != 0) {
        return err_fail(ERR_COLLATERAL_FORMAT, "%s is not UTF-8", k);
    }
    return ERR_OK;
}

static err_t put_sig(json_t *o, const char *k, const uint8_t sig[64]) {
    char h[129];
    hex_encode(sig, 64, h);
    return json_object_set_new(o, k, json_string(h)) == 0 ? ERR_OK : err_fail(ERR_NOMEM, "json");
}

err_t collateral_to_json(const collateral *c, buf *out) {
    json_t *o = json_object();
    err_t e = o ? ERR_OK : err_fail(ERR_NOMEM, "json");
    if (e == ERR_OK) {
        e = put_str(o, "pck_crl_issuer_chain", &c->pck_crl_chain_pem);
    }
    if (e == ERR_OK) {
        e = put_hex_crl(o, "root_ca_crl", c->crls[0]);
    }
    if (e == ERR_OK) {
        e = put_hex_crl(o, "pck_crl", c->crls[1]);
    }
    if (e == ERR_OK) {
        e = put_str(o, "tcb_info_issuer_chain", &c->tcb_chain_pem);
    }
    if (e == ERR_OK) {
        e = put_str(o, "tcb_info", &c->tcb_raw);
    }
    if (e == ERR_OK) {
        e = put_sig(o, "tcb_info_signature", c->tcb_sig);
    }
    if (e == ERR_OK) {
        e = put_str(o, "qe_identity_issuer_chain", &c->qe_chain_pem);
    }
    if (e == ERR_OK) {
        e = put_str(o, "qe_identity", &c->qe_raw);
    }
    if (e == ERR_OK) {
        e = put_sig(o, "qe_identity_signature", c->qe_sig);
    }
    char *s = e == ERR_OK ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (e == ERR_OK && !s) {
        e = err_fail(ERR_NOMEM, "json");
    }
    if (e == ERR_OK) {
        e = buf_append(out, s, strlen(s));
    }
    free(s);
    json_decref(o);
    return e;
}

const coll_tcb_info *collateral_tcb_info(const collateral *c) {
    return &c->tcb;
}

const coll_qe_identity *collateral_qe_identity(const collateral *c) {
    return &c->qe;
}

const char *collateral_advisory(const collateral *c, size_t i) {
    return i < c->nadv ? c->adv[i] : NULL;
}

const x509_crl *const *collateral_crls(const collateral *c, size_t *n) {
    *n = 2;
    return (const x509_crl *const *)c->crls;
}

/* ---- checking ---- */

/* One signing chain (TCB Info or QE Identity): pinned root, root CA CRL, "TCB Signing" leaf;
 * then the signature over the raw bytes with the leaf key. */
static err_t check_signed(const char *what, const x509_chain *ch, const buf *raw,
                          const uint8_t sig[64], const x509_crl *root_crl,
                          const uint8_t (*roots)[64], size_t nroots, int64_t now,
                          size_t *root_index, int64_t *nb, int64_t *na) {
    const x509_crl *const crls[1] = {root_crl};
    err_t e = x509_chain_verify_pinned_crl(ch, roots, nroots, crls, 1, now, root_index);
    if (e != ERR_OK) {
        return err_fail(e, "%s issuer chain: %s", what, err_detail());
    }
    const x509_cert *leaf = x509_chain_leaf(ch);
    char cn[X509_CN_MAX + 1];
    uint8_t pub[64];
    TRY(x509_cert_subject_cn(leaf, cn));
    /* QVL: TCB Info / QE Identity are signed by the "Intel SGX TCB Signing" certificate. */
    if (strstr(cn, "TCB Signing") == NULL) {
        return err_fail(ERR_CHAIN_UNTRUSTED, "%s signer \"%s\" is not a TCB Signing cert", what,
                        cn);
    }
    TRY(x509_cert_p256_pub(leaf, pub));
    if (ecdsa_verify(ECDSA_P256_SHA256, pub, raw->data, raw->len, sig) != ERR_OK) {
        return err_fail(ERR_COLLATERAL_SIG, "%s signature does not verify", what);
    }
    for (size_t i = 0; i < x509_chain_count(ch); i++) {
        int64_t b;
        int64_t a;
        TRY(x509_cert_validity(x509_chain_get(ch, i), &b, &a));
        *nb = b > *nb ? b : *nb;
        *na = a < *na ? a : *na;
    }
    return ERR_OK;
}

static err_t check_window(const char *what, int64_t from, int64_t until, int64_t now, int64_t *nb,
                          int64_t *na) {
    if (now < from) {
        return err_fail(ERR_COLLATERAL_EXPIRED, "%s is not valid yet (issued %lld, now %lld)", what,
                        (long long)from, (long long)now);
    }
    if (now >= until) {
        return err_fail(ERR_COLLATERAL_EXPIRED, "%s expired (nextUpdate %lld, now %lld)", what,
                        (long long)until, (long long)now);
    }
    *nb = from > *nb ? from : *nb;
    *na = until < *na ? until : *na;
    return ERR_OK;
}

err_t collateral_check(const collateral *cc, const uint8_t (*roots)[64], size_t nroots, int64_t now,
                       int64_t *expiry, size_t *root_index) {
    collateral *c = (collateral *)cc; /* only the memo is written, under its lock */
    uint8_t rh[32];
    sha256(roots, nroots * 64, rh);
    pthread_mutex_lock(&c->mu);
    bool hit =
        c->memo_ok && memcmp(c->memo_roots, rh, 32) == 0 && c->memo_nb <= now && now < c->memo_na;
    int64_t na = c->memo_na;
    size_t ri = c->memo_root;
    pthread_mutex_unlock(&c->mu);
    if (hit) {
        if (expiry) {
            *expiry = na;
        }
        if (root_index) {
            *root_index = ri;
        }
        return ERR_OK;
    }
    int64_t nb = INT64_MIN;
    na = INT64_MAX;
    size_t r1 = 0;
    size_t r2 = 0;
    /* §1.10: TCB Info and QE Identity are valid from issueDate to nextUpdate (dcap-qvl also
     * refuses an issueDate in the future); CRLs from thisUpdate to nextUpdate. */
    TRY(check_window("TCB info", c->tcb.issue_date, c->tcb.next_update, now, &nb, &na));
    TRY(check_window("QE identity", c->qe.issue_date, c->qe.next_update, now, &nb, &na));
    for (int i = 0; i < 2; i++) {
        int64_t tu;
        int64_t nu;
        TRY(x509_crl_times(c->crls[i], &tu, &nu));
        TRY(check_window(i == 0 ? "root CA CRL" : "PCK CRL", tu, nu, now, &nb, &na));
    }
    TRY(check_signed("TCB info", c->tcb_chain, &c->tcb_raw, c->tcb_sig, c->crls[0], roots, nroots,
                     now, &r1, &nb, &na));
    TRY(check_signed("QE identity", c->qe_chain, &c->qe_raw, c->qe_sig, c->crls[0], roots, nroots,
                     now, &r2, &nb, &na));
    if (r1 != r2) {
        return err_fail(ERR_CHAIN_UNTRUSTED, "TCB info and QE identity chain to different roots");
    }
    pthread_mutex_lock(&c->mu);
    c->memo_ok = true;
    memcpy(c->memo_roots, rh, 32);
    c->memo_nb = nb;
    c->memo_na = na;
    c->memo_root = r1;
    pthread_mutex_unlock(&c->mu);
    if (expiry) {
        *expiry = na;
    }
    if (root_index) {
        *root_index = r1;
    }
    return ERR_OK;
}
