#include "api.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "boc.h"
#include "msg.h"

struct ton_api {
    CURL *curl;
    char *base;
    char *key_header;
    unsigned timeout_ms, max_retries, backoff_ms;
    long status;
    char error[256];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

err_t ton_api_new(const ton_api_config *cfg, ton_api **out) {
    *out = NULL;
    if (!cfg->base_url || strncmp(cfg->base_url, "http", 4) != 0) {
        return err_fail(ERR_CONFIG, "TON API URL must be http(s)://...");
    }
    pthread_once(&curl_once, curl_init_once);
    ton_api *a = calloc(1, sizeof(*a));
    if (!a) {
        return ERR_NOMEM;
    }
    a->curl = curl_easy_init();
    a->base = strdup(cfg->base_url);
    if (cfg->api_key && *cfg->api_key) {
        size_t n = strlen(cfg->api_key) + 16;
        a->key_header = malloc(n);
        if (a->key_header) {
            snprintf(a->key_header, n, "X-API-Key: %s", cfg->api_key);
        }
    }
    if (!a->curl || !a->base || (cfg->api_key && *cfg->api_key && !a->key_header)) {
        ton_api_free(a);
        return ERR_NOMEM;
    }
    size_t bl = strlen(a->base);
    while (bl > 0 && a->base[bl - 1] == '/') {
        a->base[--bl] = 0;
    }
    a->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 15000;
    a->max_retries = cfg->max_retries;
    a->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 500;
    *out = a;
    return ERR_OK;
}

void ton_api_free(ton_api *api) {
    if (!api) {
        return;
    }
    if (api->curl) {
        curl_easy_cleanup(api->curl);
    }
    free(api->base);
    if (api->key_header) {
        mem_wipe(api->key_header, strlen(api->key_header));
    }
    free(api->key_header);
    free(api);
}

const char *ton_api_last_error(const ton_api *api) {
    return api->error;
}

long ton_api_last_status(const ton_api *api) {
    return api->status;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    buf *b = ud;
    size_t len = size * n;
    return buf_append(b, p, len) == ERR_OK ? len : 0;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* One HTTP exchange with retries; on success *result is the envelope's "result" (new ref).
 * local: the method lives under <root>/localton/ instead of the API base. */
static err_t call_at(ton_api *api, bool local, const char *method, const char *query, json_t *post,
                     json_t **result) {
    *result = NULL;
    char *url = NULL;
    char *body = post ? json_dumps(post, JSON_COMPACT) : NULL;
    size_t ul = strlen(api->base) + strlen(method) + (query ? strlen(query) : 0) + 16;
    url = malloc(ul);
    if (!url || (post && !body)) {
        free(url);
        free(body);
        return ERR_NOMEM;
    }
    size_t bl = strlen(api->base);
    if (local && bl >= 7 && strcmp(api->base + bl - 7, "/api/v2") == 0) {
        bl -= 7;
    }
    snprintf(url, ul, "%.*s/%s%s%s%s", (int)bl, api->base, local ? "localton/" : "", method,
             query ? "?" : "", query ? query : "");
    api->error[0] = 0;
    api->status = 0;
    err_t e = ERR_CHAIN_API;
    unsigned delay = api->backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        buf resp;
        buf_init(&resp, TON_API_MAX_RESPONSE);
        struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
        if (post) {
            h = curl_slist_append(h, "Content-Type: application/json");
        }
        if (api->key_header) {
            h = curl_slist_append(h, api->key_header);
        }
        CURL *c = api->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)api->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        if (post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        }
        CURLcode rc = curl_easy_perform(c);
        bool retry = false;
        if (rc != CURLE_OK) {
            snprintf(api->error, sizeof(api->error), "%s", curl_easy_strerror(rc));
            e = rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT
                : rc == CURLE_WRITE_ERROR      ? ERR_TOO_LARGE
                                               : ERR_IO;
            retry = rc != CURLE_WRITE_ERROR;
        } else {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &api->status);
            json_error_t je;
            json_t *j = json_loadb((const char *)resp.data, resp.len, 0, &je);
            json_t *ok = j ? json_object_get(j, "ok") : NULL;
            if (api->status == 200 && json_is_true(ok) && json_object_get(j, "result")) {
                *result = json_incref(json_object_get(j, "result"));
                e = ERR_OK;
            } else {
                const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
                snprintf(api->error, sizeof(api->error), "HTTP %ld: %s", api->status,
                         msg ? msg : "unexpected response");
                retry = api->status == 429 || api->status == 502 || api->status == 503 ||
                        api->status == 504;
                /* toncenter answers 500 when the chain refuses an external */
                e = api->status == 500 && strncmp(method, "sendBoc", 7) == 0 ? ERR_CHAIN_REJECTED
                                                                             : ERR_CHAIN_API;
            }
            json_decref(j);
        }
        curl_slist_free_all(h);
        buf_free(&resp);
        if (e == ERR_OK || !retry || attempt >= api->max_retries) {
            break;
        }
        sleep_ms(delay);
        delay = delay > 30000 ? 60000 : delay * 2;
    }
    free(url);
    free(body);
    if (e != ERR_OK) {
        return err_fail(e, "%s: %s", method, api->error);
    }
    return ERR_OK;
}

static err_t call(ton_api *api, const char *method, const char *query, json_t *post,
                  json_t **result) {
    return call_at(api, false, method, query, post, result);
}

/* ---- JSON field helpers (all untrusted) ---- */

static err_t j_u64(json_t *o, const char *key, uint64_t *out) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return ERR_OK;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 20) {
        return err_fail(ERR_MALFORMED, "field %s is not a number", key);
    }
    uint64_t r = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || r > (UINT64_MAX - 9) / 10) {
            return err_fail(ERR_MALFORMED, "field %s is not a decimal", key);
        }
        r = r * 10 + (uint64_t)(*p - '0');
    }
    *out = r;
    return ERR_OK;
}

/* base64 (standard or url) or hex 32-byte hash */
static err_t j_hash(json_t *o, const char *key, uint8_t out[32]) {
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = 0;
    if (!s) {
        return err_fail(ERR_MALFORMED, "field %s missing", key);
    }
    size_t len = strlen(s);
    if ((len == 44 && b64_decode(s, len, out, 32, &n, false) == ERR_OK && n == 32) ||
        (len == 44 && b64_decode(s, len, out, 32, &n, true) == ERR_OK && n == 32) ||
        (len == 64 && hex_decode(s, len, out, 32, &n) == ERR_OK && n == 32)) {
        return ERR_OK;
    }
    return err_fail(ERR_MALFORMED, "field %s is not a 32-byte hash", key);
}

/* A base64 BOC field; "" gives NULL. */
static err_t j_boc(json_t *o, const char *key, ton_cell **out) {
    *out = NULL;
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) {
        return err_fail(ERR_MALFORMED, "field %s missing", key);
    }
    if (!*s) {
        return ERR_OK;
    }
    return ton_boc_parse_text(s, strlen(s), NULL, out);
}

static err_t j_txid(json_t *o, ton_tx_id *id) {
    if (!json_is_object(o)) {
        return err_fail(ERR_MALFORMED, "transaction id missing");
    }
    TRY(j_u64(o, "lt", &id->lt));
    return j_hash(o, "hash", id->hash);
}

static char *addr_param(const ton_addr *a) {
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(a, raw);
    return strdup(raw);
}

static char *b64_boc(const ton_cell *c) {
    char *s = NULL;
    return ton_boc_to_base64(c, &s) == ERR_OK ? s : NULL;
}

/* ---- accounts ---- */

const char *ton_account_state_name(ton_account_state s) {
    return s == TON_ACCOUNT_ACTIVE   ? "active"
           : s == TON_ACCOUNT_FROZEN ? "frozen"
                                     : "uninitialized";
}

void ton_account_clear(ton_account *a) {
    ton_cell_unref(a->code);
    ton_cell_unref(a->data);
    memset(a, 0, sizeof(*a));
}

err_t ton_api_get_account(ton_api *api, const ton_addr *a, ton_account *out) {
    memset(out, 0, sizeof(*out));
    char *raw = addr_param(a);
    if (!raw) {
        return ERR_NOMEM;
    }
    char q[128];
    snprintf(q, sizeof(q), "address=%s", raw);
    free(raw);
    json_t *r;
    TRY(call(api, "getAddressInformation", q, NULL, &r));
    err_t e = j_u64(r, "balance", &out->balance);
    const char *st = json_string_value(json_object_get(r, "state"));
    if (e == ERR_OK && !st) {
        e = err_fail(ERR_MALFORMED, "account state missing");
    }
    if (e == ERR_OK) {
        out->state = strcmp(st, "active") == 0   ? TON_ACCOUNT_ACTIVE
                     : strcmp(st, "frozen") == 0 ? TON_ACCOUNT_FROZEN
                                                 : TON_ACCOUNT_UNINIT;
        e = j_txid(json_object_get(r, "last_transaction_id"), &out->last_tx);
    }
    if (e == ERR_OK) {
        e = j_boc(r, "code", &out->code);
    }
    if (e == ERR_OK) {
        e = j_boc(r, "data", &out->data);
    }
    uint64_t su = 0;
    if (e == ERR_OK && j_u64(r, "sync_utime", &su) == ERR_OK) {
        out->sync_utime = (uint32_t)su;
    }
    json_decref(r);
    if (e != ERR_OK) {
        ton_account_clear(out);
    }
    return e;
}

err_t ton_api_masterchain_seqno(ton_api *api, uint32_t *seqno) {
    json_t *r;
    TRY(call(api, "getMasterchainInfo", NULL, NULL, &r));
    uint64_t s;
    err_t e = j_u64(json_object_get(r, "last"), "seqno", &s);
    if (e == ERR_OK) {
        *seqno = (uint32_t)s;
    }
    json_decref(r);
    return e;
}

/* ---- stacks ---- */

void ton_stack_num_u64(ton_stack_item *it, uint64_t v) {
    memset(it, 0, sizeof(*it));
    it->type = TON_STACK_NUM;
    for (int i = 0; i < 8; i++) {
        it->num[32 - i] = (uint8_t)(v >> (8 * i));
    }
}

err_t ton_stack_get_u64(const ton_stack_item *it, uint64_t *v) {
    if (it->type != TON_STACK_NUM) {
        return err_fail(ERR_MALFORMED, "stack item is not a number");
    }
    for (int i = 0; i < 25; i++) {
        if (it->num[i]) {
            return err_fail(ERR_TOO_LARGE, "number above 2^64");
        }
    }
    uint64_t r = 0;
    for (int i = 25; i < 33; i++) {
        r = (r << 8) | it->num[i];
    }
    if (it->neg && r != 0) {
        return err_fail(ERR_TOO_LARGE, "negative number");
    }
    *v = r;
    return ERR_OK;
}

void ton_stack_item_clear(ton_stack_item *it) {
    ton_cell_unref(it->cell);
    for (size_t i = 0; i < it->nitems; i++) {
        ton_stack_item_clear(&it->items[i]);
    }
    free(it->items);
    memset(it, 0, sizeof(*it));
}

void ton_stack_clear(ton_stack *s) {
    for (size_t i = 0; i < s->n; i++) {
        ton_stack_item_clear(&s->items[i]);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* "0x..", "-0x..", or decimal text into sign + 33-byte magnitude. */
static err_t parse_num(const char *s, ton_stack_item *it) {
    it->type = TON_STACK_NUM;
    it->neg = *s == '-';
    if (it->neg) {
        s++;
    }
    memset(it->num, 0, sizeof(it->num));
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        size_t len = strlen(s);
        if (len == 0 || len > 66) {
            return err_fail(ERR_MALFORMED, "hex number of %zu digits", len);
        }
        for (size_t i = 0; i < len; i++) {
            char ch = s[len - 1 - i];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) {
                return err_fail(ERR_MALFORMED, "bad hex digit");
            }
            it->num[32 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
        }
        return ERR_OK;
    }
    if (!*s || strlen(s) > 80) {
        return err_fail(ERR_MALFORMED, "bad number");
    }
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            return err_fail(ERR_MALFORMED, "bad decimal digit");
        }
        unsigned carry = (unsigned)(*p - '0');
        for (int i = 32; i >= 0; i--) {
            unsigned v = it->num[i] * 10u + carry;
            it->num[i] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry) {
            return err_fail(ERR_TOO_LARGE, "number too large");
        }
    }
    return ERR_OK;
}

static err_t parse_typed_entry(json_t *e, ton_stack_item *it, int depth);

static err_t parse_elements(json_t *arr, ton_stack_item *it, int depth) {
    it->type = TON_STACK_TUPLE;
    size_t n = json_array_size(arr);
    if (n > 255 || depth > 8) {
        return err_fail(ERR_TOO_LARGE, "tuple too large or deep");
    }
    if (n == 0) {
        it->type = TON_STACK_NULL; /* TonClient maps empty tuples/lists to null */
        return ERR_OK;
    }
    it->items = calloc(n, sizeof(*it->items));
    if (!it->items) {
        return ERR_NOMEM;
    }
    it->nitems = n;
    for (size_t i = 0; i < n; i++) {
        TRY(parse_typed_entry(json_array_get(arr, i), &it->items[i], depth + 1));
    }
    return ERR_OK;
}

/* tonlib typed entries inside tuples: tvm.stackEntryNumber{number{number(decimal)}}, ... */
static err_t parse_typed_entry(json_t *e, ton_stack_item *it, int depth) {
    const char *t = json_string_value(json_object_get(e, "@type"));
    if (!t) {
        return err_fail(ERR_MALFORMED, "stack entry without @type");
    }
    if (strcmp(t, "tvm.stackEntryNumber") == 0) {
        const char *s = json_string_value(json_object_get(json_object_get(e, "number"), "number"));
        return s ? parse_num(s, it) : err_fail(ERR_MALFORMED, "number entry");
    }
    if (strcmp(t, "tvm.stackEntryCell") == 0 || strcmp(t, "tvm.stackEntrySlice") == 0) {
        bool cell = strcmp(t, "tvm.stackEntryCell") == 0;
        it->type = cell ? TON_STACK_CELL : TON_STACK_SLICE;
        return j_boc(json_object_get(e, cell ? "cell" : "slice"), "bytes", &it->cell);
    }
    if (strcmp(t, "tvm.stackEntryTuple") == 0 || strcmp(t, "tvm.stackEntryList") == 0) {
        bool tuple = strcmp(t, "tvm.stackEntryTuple") == 0;
        return parse_elements(
            json_object_get(json_object_get(e, tuple ? "tuple" : "list"), "elements"), it, depth);
    }
    return err_fail(ERR_MALFORMED, "unknown stack entry %s", t);
}

/* Top-level entries: ["num","0x.."], ["cell",{"bytes":..}], ["tuple"|"list",{elements}], ["null"]
 */
static err_t parse_entry(json_t *e, ton_stack_item *it) {
    const char *t = json_string_value(json_array_get(e, 0));
    json_t *v = json_array_get(e, 1);
    if (!t) {
        return err_fail(ERR_MALFORMED, "stack entry");
    }
    if (strcmp(t, "num") == 0) {
        const char *s = json_string_value(v);
        return s ? parse_num(s, it) : err_fail(ERR_MALFORMED, "num entry");
    }
    if (strcmp(t, "cell") == 0 || strcmp(t, "slice") == 0) {
        it->type = t[0] == 'c' ? TON_STACK_CELL : TON_STACK_SLICE;
        return j_boc(v, "bytes", &it->cell);
    }
    if (strcmp(t, "tuple") == 0 || strcmp(t, "list") == 0) {
        return parse_elements(json_object_get(v, "elements"), it, 0);
    }
    if (strcmp(t, "null") == 0) {
        it->type = TON_STACK_NULL;
        return ERR_OK;
    }
    return err_fail(ERR_MALFORMED, "unknown stack entry %s", t);
}

static json_t *encode_arg(const ton_stack_item *it) {
    if (it->type == TON_STACK_NUM) {
        char hex[2 + 66 + 2] = {0};
        size_t k = 0;
        if (it->neg) {
            hex[k++] = '-';
        }
        hex[k++] = '0';
        hex[k++] = 'x';
        char full[67];
        hex_encode(it->num, 33, full);
        const char *p = full;
        while (*p == '0' && p[1]) {
            p++;
        }
        snprintf(hex + k, sizeof(hex) - k, "%s", p);
        return json_pack("[s,s]", "num", hex);
    }
    if (it->type == TON_STACK_CELL || it->type == TON_STACK_SLICE) {
        char *b = b64_boc(it->cell);
        json_t *j =
            b ? json_pack("[s,s]", it->type == TON_STACK_CELL ? "tvm.Cell" : "tvm.Slice", b) : NULL;
        free(b);
        return j;
    }
    return NULL;
}

err_t ton_api_run_get_method(ton_api *api, const ton_addr *a, const char *method,
                             const ton_stack_item *args, size_t nargs, ton_stack *out) {
    memset(out, 0, sizeof(*out));
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(a, raw);
    json_t *stack = json_array();
    for (size_t i = 0; i < nargs; i++) {
        json_t *e = encode_arg(&args[i]);
        if (!e) {
            json_decref(stack);
            return err_fail(ERR_MALFORMED, "unsupported get-method argument %zu", i);
        }
        json_array_append_new(stack, e);
    }
    json_t *req = json_pack("{s:s,s:s,s:o}", "address", raw, "method", method, "stack", stack);
    json_t *r;
    err_t e = call(api, "runGetMethod", NULL, req, &r);
    json_decref(req);
    if (e != ERR_OK) {
        return e;
    }
    json_t *st = json_object_get(r, "stack");
    json_t *ec = json_object_get(r, "exit_code");
    size_t n = json_array_size(st);
    if (!json_is_integer(ec) || !json_is_array(st) || n > TON_API_MAX_STACK) {
        e = err_fail(ERR_MALFORMED, "runGetMethod result");
        goto out;
    }
    out->exit_code = (int32_t)json_integer_value(ec);
    (void)j_u64(r, "gas_used", &out->gas_used);
    out->items = calloc(n ? n : 1, sizeof(*out->items));
    if (!out->items) {
        e = ERR_NOMEM;
        goto out;
    }
    out->n = n;
    for (size_t i = 0; i < n && e == ERR_OK; i++) {
        e = parse_entry(json_array_get(st, i), &out->items[i]);
    }
out:
    json_decref(r);
    if (e != ERR_OK) {
        ton_stack_clear(out);
    }
    return e;
}

/* ---- sending and transactions ---- */

err_t ton_api_send(ton_api *api, const ton_cell *ext_msg, uint8_t hash[32], uint8_t hash_norm[32]) {
    char *b = b64_boc(ext_msg);
    if (!b) {
        return ERR_NOMEM;
    }
    json_t *req = json_pack("{s:s}", "boc", b);
    free(b);
    json_t *r;
    err_t e = call(api, "sendBocReturnHash", NULL, req, &r);
    json_decref(req);
    if (e != ERR_OK) {
        return e;
    }
    memcpy(hash, ton_cell_repr_hash(ext_msg), 32);
    uint8_t got[32];
    if (j_hash(r, "hash", got) == ERR_OK && memcmp(got, hash, 32) != 0) {
        e = err_fail(ERR_MALFORMED, "server reports another message hash");
    }
    if (e == ERR_OK &&
        (json_object_get(r, "hash_norm") == NULL || j_hash(r, "hash_norm", hash_norm) != ERR_OK)) {
        e = ton_msg_normalized_hash(ext_msg, hash_norm);
    }
    json_decref(r);
    return e;
}

void ton_tx_clear(ton_tx *t) {
    ton_cell_unref(t->in_body);
    memset(t, 0, sizeof(*t));
}

static err_t parse_tx(json_t *j, ton_tx *t) {
    memset(t, 0, sizeof(*t));
    TRY(j_txid(json_object_get(j, "transaction_id"), &t->id));
    uint64_t v = 0;
    if (j_u64(j, "utime", &v) == ERR_OK) {
        t->utime = (uint32_t)v;
    }
    (void)j_u64(j, "fee", &t->fee);
    t->n_out = json_array_size(json_object_get(j, "out_msgs"));
    json_t *in = json_object_get(j, "in_msg");
    if (!json_is_object(in)) {
        return ERR_OK;
    }
    t->has_in_msg = true;
    const char *src = json_string_value(json_object_get(in, "source"));
    t->in_external = !src || !*src;
    if (!t->in_external) {
        TRY(ton_addr_parse(src, &t->in_src, NULL));
        t->in_has_src = true;
    }
    (void)j_u64(in, "value", &t->in_value);
    t->in_has_hash = j_hash(in, "hash", t->in_hash) == ERR_OK;
    json_t *md = json_object_get(in, "msg_data");
    const char *body = json_string_value(json_object_get(md, "body"));
    if (body && *body) {
        TRY(ton_boc_parse_text(body, strlen(body), NULL, &t->in_body));
    } else {
        ton_builder b;
        tb_init(&b);
        TRY(tb_finish(&b, &t->in_body));
    }
    return ERR_OK;
}

err_t ton_api_get_transactions(ton_api *api, const ton_addr *a, const ton_tx_id *from,
                               uint64_t to_lt, size_t limit, ton_tx *out, size_t *n) {
    *n = 0;
    if (limit == 0 || limit > TON_API_MAX_TXS) {
        return err_fail(ERR_TOO_MANY, "limit %zu (1..%d)", limit, TON_API_MAX_TXS);
    }
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(a, raw);
    char q[512];
    int k = snprintf(q, sizeof(q), "address=%s&limit=%zu&to_lt=%" PRIu64 "&archival=true", raw,
                     limit, to_lt);
    if (from) {
        char h[65];
        hex_encode(from->hash, 32, h);
        snprintf(q + k, sizeof(q) - (size_t)k, "&lt=%" PRIu64 "&hash=%s", from->lt, h);
    }
    json_t *r;
    TRY(call(api, "getTransactions", q, NULL, &r));
    err_t e = ERR_OK;
    if (!json_is_array(r) || json_array_size(r) > limit) {
        e = err_fail(ERR_MALFORMED, "getTransactions result");
    }
    for (size_t i = 0; e == ERR_OK && i < json_array_size(r); i++) {
        e = parse_tx(json_array_get(r, i), &out[i]);
        if (e == ERR_OK) {
            (*n)++;
        } else {
            ton_tx_clear(&out[i]);
        }
    }
    json_decref(r);
    if (e != ERR_OK) {
        for (size_t i = 0; i < *n; i++) {
            ton_tx_clear(&out[i]);
        }
        *n = 0;
    }
    return e;
}

err_t ton_api_estimate_fee(ton_api *api, const ton_addr *a, const ton_cell *body,
                           const ton_cell *init_code, const ton_cell *init_data, ton_fees *out) {
    memset(out, 0, sizeof(*out));
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(a, raw);
    char *b = b64_boc(body);
    char *ic = init_code ? b64_boc(init_code) : strdup("");
    char *id = init_data ? b64_boc(init_data) : strdup("");
    err_t e = ERR_NOMEM;
    json_t *r = NULL;
    if (b && ic && id) {
        json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:b}", "address", raw, "body", b, "init_code", ic,
                                "init_data", id, "ignore_chksig", 1);
        e = call(api, "estimateFee", NULL, req, &r);
        json_decref(req);
    }
    free(b);
    free(ic);
    free(id);
    if (e != ERR_OK) {
        return e;
    }
    json_t *sf = json_object_get(r, "source_fees");
    if ((e = j_u64(sf, "in_fwd_fee", &out->in_fwd_fee)) == ERR_OK &&
        (e = j_u64(sf, "storage_fee", &out->storage_fee)) == ERR_OK &&
        (e = j_u64(sf, "gas_fee", &out->gas_fee)) == ERR_OK) {
        e = j_u64(sf, "fwd_fee", &out->fwd_fee);
    }
    json_decref(r);
    return e;
}

/* ---- wallets ---- */

err_t ton_api_wallet_seqno(ton_api *api, const ton_wallet *w, uint32_t *seqno, bool *deployed) {
    ton_account acc;
    TRY(ton_api_get_account(api, &w->addr, &acc));
    bool active = acc.state == TON_ACCOUNT_ACTIVE;
    ton_account_clear(&acc);
    *deployed = active;
    if (!active) {
        *seqno = 0;
        return ERR_OK;
    }
    ton_stack st;
    TRY(ton_api_run_get_method(api, &w->addr, "seqno", NULL, 0, &st));
    err_t e = ERR_OK;
    uint64_t v = 0;
    if (st.exit_code != 0 || st.n < 1) {
        e = err_fail(ERR_CHAIN_API, "seqno get-method exit code %d", (int)st.exit_code);
    } else {
        e = ton_stack_get_u64(&st.items[0], &v);
    }
    if (e == ERR_OK && v > UINT32_MAX) {
        e = err_fail(ERR_MALFORMED, "seqno out of range");
    }
    ton_stack_clear(&st);
    if (e == ERR_OK) {
        *seqno = (uint32_t)v;
    }
    return e;
}

/* Builds the external for the wallet's current seqno; *msg is the signed message. */
static err_t prepare_send(ton_api *api, const ton_wallet *w, const ton_wallet_action *acts,
                          size_t n, uint32_t now, uint32_t ttl, ton_sent *out, ton_cell **msg) {
    memset(out, 0, sizeof(*out));
    *msg = NULL;
    ton_account acc;
    TRY(ton_api_get_account(api, &w->addr, &acc));
    out->after_lt = acc.last_tx.lt;
    bool deployed = acc.state == TON_ACCOUNT_ACTIVE;
    ton_account_clear(&acc);
    bool d2;
    TRY(ton_api_wallet_seqno(api, w, &out->seqno, &d2));
    out->valid_until = now + ttl;
    ton_cell *body = NULL;
    ton_cell *si = NULL;
    err_t e = ton_wallet_body(w, out->seqno, out->valid_until, acts, n, &body);
    if (e == ERR_OK && !deployed) {
        e = ton_state_init(w->code, w->data, &si);
    }
    if (e == ERR_OK) {
        e = ton_msg_external(&w->addr, si, body, TON_PLACE_AUTO, msg);
    }
    if (e == ERR_OK) {
        memcpy(out->body_hash, ton_cell_repr_hash(body), 32);
    }
    ton_cell_unref(body);
    ton_cell_unref(si);
    return e;
}

err_t ton_api_wallet_send(ton_api *api, const ton_wallet *w, const ton_wallet_action *acts,
                          size_t n, uint32_t now, uint32_t ttl, ton_sent *out) {
    ton_cell *msg;
    TRY(prepare_send(api, w, acts, n, now, ttl, out, &msg));
    err_t e = ton_api_send(api, msg, out->msg_hash, out->msg_hash_norm);
    ton_cell_unref(msg);
    return e;
}

err_t ton_api_wallet_transfer(ton_api *api, const ton_wallet *w, const ton_wallet_action *acts,
                              size_t n, const ton_transfer_opts *opts, ton_sent *sent,
                              ton_tx_id *tx) {
    uint32_t ttl = opts && opts->ttl ? opts->ttl : 3600;
    unsigned poll = opts && opts->poll_ms ? opts->poll_ms : 1000;
    unsigned resend = opts && opts->resend_ms ? opts->resend_ms : 30000;
    ton_account acc;
    TRY(ton_api_get_account(api, &w->addr, &acc));
    uint32_t now = acc.sync_utime ? acc.sync_utime : (uint32_t)clock_unix();
    ton_account_clear(&acc);
    ton_cell *msg;
    TRY(prepare_send(api, w, acts, n, now, ttl, sent, &msg));
    err_t e = ton_api_send(api, msg, sent->msg_hash, sent->msg_hash_norm);
    uint64_t last_send = clock_mono_ms();
    while (e == ERR_OK) {
        bool found;
        if ((e = ton_api_find_sent(api, w, sent, &found, tx)) != ERR_OK || found) {
            break;
        }
        /* Not there yet: has the seqno moved on (another message used it) or the body
         * expired on the chain clock? Check once more before giving up. */
        uint32_t seqno;
        bool deployed;
        if ((e = ton_api_get_account(api, &w->addr, &acc)) != ERR_OK) {
            break;
        }
        uint32_t chain_now = acc.sync_utime;
        ton_account_clear(&acc);
        if ((e = ton_api_wallet_seqno(api, w, &seqno, &deployed)) != ERR_OK) {
            break;
        }
        if (seqno > sent->seqno || chain_now > sent->valid_until) {
            if ((e = ton_api_find_sent(api, w, sent, &found, tx)) == ERR_OK && !found) {
                e = seqno > sent->seqno
                        ? err_fail(ERR_CHAIN_REJECTED, "seqno %u used by another message",
                                   (unsigned)sent->seqno)
                        : err_fail(ERR_TIMEOUT, "not included before valid_until");
            }
            break;
        }
        if (clock_mono_ms() - last_send >= resend) {
            uint8_t h[32], hn[32];
            err_t se = ton_api_send(api, msg, h, hn);
            if (se != ERR_OK && se != ERR_CHAIN_REJECTED) {
                e = se; /* a rejection may just mean it was applied meanwhile: keep polling */
            }
            last_send = clock_mono_ms();
        }
        sleep_ms(poll);
    }
    ton_cell_unref(msg);
    return e;
}

err_t ton_api_find_sent(ton_api *api, const ton_wallet *w, const ton_sent *sent, bool *found,
                        ton_tx_id *tx) {
    *found = false;
    ton_tx *txs = calloc(TON_API_MAX_TXS, sizeof(*txs));
    if (!txs) {
        return ERR_NOMEM;
    }
    ton_tx_id cursor;
    const ton_tx_id *from = NULL;
    err_t e = ERR_OK;
    /* Walk back from the newest transaction to after_lt, page by page (§C.2 paging: pass the
     * last (lt, hash) again and skip it). */
    for (int page = 0; page < 100 && !*found; page++) {
        size_t n = 0;
        e = ton_api_get_transactions(api, &w->addr, from, sent->after_lt, TON_API_MAX_TXS, txs, &n);
        if (e != ERR_OK) {
            break;
        }
        size_t start = from ? 1 : 0;
        for (size_t i = start; i < n && !*found; i++) {
            if (txs[i].in_external && txs[i].in_body &&
                memcmp(ton_cell_repr_hash(txs[i].in_body), sent->body_hash, 32) == 0) {
                *found = true;
                *tx = txs[i].id;
            }
        }
        bool more = n == TON_API_MAX_TXS;
        if (n > 0) {
            cursor = txs[n - 1].id;
            from = &cursor;
        }
        for (size_t i = 0; i < n; i++) {
            ton_tx_clear(&txs[i]);
        }
        if (!more) {
            break;
        }
    }
    free(txs);
    return e;
}

err_t ton_api_local_faucet(ton_api *api, const ton_addr *a, uint64_t amount) {
    char raw[TON_ADDR_RAW_MAX];
    char amt[24];
    ton_addr_to_raw(a, raw);
    snprintf(amt, sizeof(amt), "%" PRIu64, amount);
    json_t *req = json_pack("{s:s,s:s}", "address", raw, "amount", amt);
    json_t *r;
    err_t e = call_at(api, true, "faucet", NULL, req, &r);
    json_decref(req);
    json_decref(r);
    return e;
}

err_t ton_api_local_advance_time(ton_api *api, uint32_t seconds, uint64_t *now) {
    json_t *req = json_pack("{s:I}", "seconds", (json_int_t)seconds);
    json_t *r;
    err_t e = call_at(api, true, "advanceTime", NULL, req, &r);
    json_decref(req);
    if (e == ERR_OK) {
        e = j_u64(r, "now", now);
        json_decref(r);
    }
    return e;
}
