/* OpenAI request rewriting, usage counting and error JSON (see openai.h). */
#include "http/openai.h"

#include <jansson.h>
#include <string.h>

err_t openai_path_kind(const char *path, openai_kind *out) {
    size_t n = strcspn(path, "?#");
    if (n == strlen("/v1/chat/completions") && memcmp(path, "/v1/chat/completions", n) == 0) {
        *out = OPENAI_CHAT;
        return ERR_OK;
    }
    if (n == strlen("/v1/completions") && memcmp(path, "/v1/completions", n) == 0) {
        *out = OPENAI_COMPLETIONS;
        return ERR_OK;
    }
    return err_fail(ERR_NOT_FOUND, "unknown path %.*s", (int)(n > 200 ? 200 : n), path);
}

static err_t load(const uint8_t *body, size_t len, json_t **out) {
    json_error_t je;
    *out = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        return err_fail(ERR_MALFORMED, "invalid JSON body: %s (at byte %d)", je.text, je.position);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return err_fail(ERR_MALFORMED, "the request body must be a JSON object");
    }
    return ERR_OK;
}

static err_t peek(json_t *o, openai_req_info *info) {
    memset(info, 0, sizeof(*info));
    json_t *m = json_object_get(o, "model");
    if (!json_is_string(m) || json_string_length(m) == 0 ||
        json_string_length(m) >= sizeof(info->model)) {
        return err_fail(ERR_MALFORMED, "\"model\" must be a non-empty string (at most %zu bytes)",
                        sizeof(info->model) - 1);
    }
    memcpy(info->model, json_string_value(m), json_string_length(m) + 1);
    info->max_tokens = OPENAI_DEFAULT_MAX_TOKENS;
    bool seen = false; /* both spellings given: the smaller one */
    static const char *const mt[] = {"max_tokens", "max_completion_tokens"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(o, mt[i]);
        if (!v || json_is_null(v)) {
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return err_fail(ERR_MALFORMED, "\"%s\" must be a non-negative integer", mt[i]);
        }
        if (!seen || json_integer_value(v) < info->max_tokens) {
            info->max_tokens = json_integer_value(v);
        }
        seen = true;
    }
    json_t *s = json_object_get(o, "stream");
    if (s && !json_is_null(s) && !json_is_boolean(s)) {
        return err_fail(ERR_MALFORMED, "\"stream\" must be a boolean");
    }
    info->stream = json_is_true(s);
    json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so) && !json_is_object(so)) {
        return err_fail(ERR_MALFORMED, "\"stream_options\" must be an object");
    }
    return ERR_OK;
}

err_t openai_peek_request(const uint8_t *body, size_t len, openai_req_info *info) {
    json_t *o;
    TRY(load(body, len, &o));
    err_t e = peek(o, info);
    json_decref(o);
    return e;
}

/* Reference §2.3 allow-lists (suffix is a string, which the reference checks as a bool). */
static const char *const chat_keys[] = {"messages",
                                        "model",
                                        "frequency_penalty",
                                        "max_completion_tokens",
                                        "max_tokens",
                                        "n",
                                        "parallel_tool_calls",
                                        "prediction",
                                        "presence_penalty",
                                        "reasoning_effort",
                                        "response_format",
                                        "stop",
                                        "stream",
                                        "stream_options",
                                        "temperature",
                                        "top_logprobs",
                                        "top_p",
                                        "verbosity",
                                        "chat_template_kwargs",
                                        "seed",
                                        NULL};
static const char *const completion_keys[] = {"prompt",
                                              "model",
                                              "best_of",
                                              "echo",
                                              "frequency_penalty",
                                              "max_tokens",
                                              "n",
                                              "presence_penalty",
                                              "seed",
                                              "stop",
                                              "stream",
                                              "stream_options",
                                              "suffix",
                                              "temperature",
                                              "top_p",
                                              "skip_special_tokens",
                                              NULL};

static bool listed(const char *const *keys, const char *k) {
    for (size_t i = 0; keys[i]; i++) {
        if (strcmp(keys[i], k) == 0) {
            return true;
        }
    }
    return false;
}

static err_t check_number(json_t *o, const char *k, double lo, double hi) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        return err_fail(ERR_MALFORMED, "\"%s\" must be a number in [%g, %g]", k, lo, hi);
    }
    return ERR_OK;
}

static err_t rewrite(openai_kind kind, json_t *o, const char *model_base, int64_t cap,
                     openai_req_info *info) {
    const char *const *keys = kind == OPENAI_CHAT ? chat_keys : completion_keys;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!listed(keys, k)) {
            return err_fail(ERR_MALFORMED, "unsupported parameter \"%.64s\"", k);
        }
    }
    TRY(peek(o, info));
    if (kind == OPENAI_CHAT && !json_is_array(json_object_get(o, "messages"))) {
        return err_fail(ERR_MALFORMED, "\"messages\" must be an array");
    }
    if (kind == OPENAI_COMPLETIONS) {
        json_t *p = json_object_get(o, "prompt");
        if (!json_is_string(p) && !json_is_array(p)) {
            return err_fail(ERR_MALFORMED, "\"prompt\" must be a string or an array");
        }
        json_t *sfx = json_object_get(o, "suffix");
        if (sfx && !json_is_null(sfx) && !json_is_string(sfx)) {
            return err_fail(ERR_MALFORMED, "\"suffix\" must be a string");
        }
    }
    TRY(check_number(o, "frequency_penalty", -2, 2));
    TRY(check_number(o, "presence_penalty", -2, 2));
    TRY(check_number(o, "temperature", 0, 2));
    TRY(check_number(o, "top_p", 0, 1));
    json_t *n = json_object_get(o, "n");
    if (n && !json_is_null(n) && (!json_is_integer(n) || json_integer_value(n) < 1)) {
        return err_fail(ERR_MALFORMED, "\"n\" must be an integer >= 1");
    }
    if (strcmp(info->model, model_base) != 0) {
        return err_fail(ERR_NOT_FOUND, "model \"%.64s\" is not served here", info->model);
    }
    json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so)) {
        info->stream = true; /* reference: stream_options without stream means stream */
    }
    if (info->stream) {
        if (json_object_set_new(o, "stream", json_true()) != 0) {
            return ERR_NOMEM;
        }
        if (!so || json_is_null(so)) {
            so = json_object();
            if (!so || json_object_set_new(o, "stream_options", so) != 0) {
                return ERR_NOMEM;
            }
        }
        if (json_object_set_new(so, "include_usage", json_true()) != 0) {
            return ERR_NOMEM;
        }
    }
    if (cap > 0) {
        /* Both spellings are capped: an upstream may honour either. */
        bool given = false;
        int64_t want = info->max_tokens > cap ? cap : info->max_tokens;
        static const char *const caps[] = {"max_tokens", "max_completion_tokens"};
        for (size_t i = 0; i < 2; i++) {
            json_t *mv = json_object_get(o, caps[i]);
            if (mv && !json_is_null(mv)) {
                given = true;
                if (json_object_set_new(o, caps[i], json_integer(want)) != 0) {
                    return ERR_NOMEM;
                }
            }
        }
        if (!given) {
            want = cap;
            if (json_object_set_new(o, "max_tokens", json_integer(want)) != 0) {
                return ERR_NOMEM;
            }
        }
        info->max_tokens = want;
    }
    return ERR_OK;
}

static int dump_cb(const char *p, size_t n, void *arg) {
    return buf_append(arg, p, n) == ERR_OK ? 0 : -1;
}

err_t openai_rewrite_request(openai_kind kind, const uint8_t *body, size_t len,
                             const char *model_base, int64_t max_tokens_cap, buf *out,
                             openai_req_info *info) {
    json_t *o;
    TRY(load(body, len, &o));
    err_t e = rewrite(kind, o, model_base, max_tokens_cap, info);
    if (e == ERR_OK && json_dump_callback(o, dump_cb, out, JSON_COMPACT | JSON_PRESERVE_ORDER)) {
        e = err_fail(ERR_TOO_LARGE, "rewritten request too large");
    }
    json_decref(o);
    return e;
}

/* ---- usage ---- */

void openai_usage_init(openai_usage_counter *c, bool sse) {
    memset(c, 0, sizeof(*c));
    c->sse = sse;
    buf_init(&c->pending, sse ? OPENAI_LINE_MAX : OPENAI_ANSWER_MAX);
}

void openai_usage_free(openai_usage_counter *c) {
    buf_free(&c->pending);
}

static void take(json_t *o, const char *k, int64_t *dst) {
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) > *dst) {
        *dst = json_integer_value(v);
    }
}

static void usage_of(openai_usage_counter *c, json_t *u) {
    if (!json_is_object(u)) {
        return;
    }
    c->seen = true;
    take(u, "prompt_tokens", &c->u.prompt);
    take(u, "completion_tokens", &c->u.completion);
    take(u, "total_tokens", &c->u.total);
    take(u, "reasoning_tokens", &c->u.reasoning);
    take(json_object_get(u, "prompt_tokens_details"), "cached_tokens", &c->u.cached);
    take(json_object_get(u, "completion_tokens_details"), "reasoning_tokens", &c->u.reasoning);
}

static void usage_from(openai_usage_counter *c, json_t *doc) {
    usage_of(c, json_object_get(doc, "usage"));
}

static bool json_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Where the value of the last top-level "usage" member starts, by one pass that follows
 * strings (with escapes) and nesting without building anything: a whole answer is parsed
 * only for its few usage bytes. false sends the caller to the full parse: not one balanced
 * object, no such member, or a top-level key written with escapes (it could spell "usage"). */
static bool top_usage_at(const char *p, size_t n, size_t *at) {
    size_t i = 0;
    while (i < n && json_ws(p[i])) {
        i++;
    }
    if (i == n || p[i] != '{') {
        return false;
    }
    int depth = 0;
    bool key_next = false, found = false;
    while (i < n) {
        char ch = p[i];
        if (ch == '"') {
            size_t s0 = ++i;
            bool escaped = false;
            while (i < n && p[i] != '"') {
                if (p[i] == '\\') {
                    escaped = true;
                    i++;
                }
                i++;
            }
            if (i >= n) {
                return false;
            }
            size_t s1 = i++;
            if (depth == 1 && key_next) {
                if (escaped) {
                    return false;
                }
                size_t j = i;
                while (j < n && json_ws(p[j])) {
                    j++;
                }
                if (j < n && p[j] == ':' && s1 - s0 == 5 && memcmp(p + s0, "usage", 5) == 0) {
                    j++;
                    while (j < n && json_ws(p[j])) {
                        j++;
                    }
                    *at = j;
                    found = true;
                }
                key_next = false;
            }
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
            key_next = ch == '{' && depth == 1;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0) {
                i++;
                while (i < n && json_ws(p[i])) {
                    i++;
                }
                return found && i == n;
            }
        } else if (ch == ',' && depth == 1) {
            key_next = true;
        }
        i++;
    }
    return false;
}

static void parse_doc(openai_usage_counter *c, const char *p, size_t n);

static void parse_doc_full(openai_usage_counter *c, const char *p, size_t n) {
    json_t *doc = json_loadb(p, n, 0, NULL);
    if (doc) {
        usage_from(c, doc);
        json_decref(doc);
    }
}

bool openai_usage_of_json(const uint8_t *doc, size_t n, bool full, openai_usage *out) {
    openai_usage_counter c;
    memset(&c, 0, sizeof(c));
    if (full) {
        parse_doc_full(&c, (const char *)doc, n);
    } else {
        parse_doc(&c, (const char *)doc, n);
    }
    *out = c.u;
    return c.seen;
}

static void parse_doc(openai_usage_counter *c, const char *p, size_t n) {
    size_t at = 0;
    if (top_usage_at(p, n, &at)) {
        json_t *u = json_loadb(p + at, n - at, JSON_DISABLE_EOF_CHECK, NULL);
        if (u) {
            usage_of(c, u);
            json_decref(u);
            return;
        }
    }
    parse_doc_full(c, p, n);
}

/* One SSE line: only `data:` fields carry JSON (the event-stream format, WHATWG HTML §9.2). */
static void sse_line(openai_usage_counter *c, const char *p, size_t n) {
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    if (n < 5 || memcmp(p, "data:", 5) != 0) {
        return;
    }
    p += 5;
    n -= 5;
    if (n > 0 && *p == ' ') {
        p++;
        n--;
    }
    if (n == 0 || (n == 6 && memcmp(p, "[DONE]", 6) == 0) || *p != '{') {
        return;
    }
    /* Only an event with a "usage" member counts, and a stream has one usage event among many
     * content chunks: skip the parse when the text cannot hold that key. It can only if
     * "usage" appears literally or a \u escape could spell it. */
    if (!memmem(p, n, "usage", 5) && !memmem(p, n, "\\u", 2)) {
        return;
    }
    parse_doc(c, p, n);
}

void openai_usage_feed(openai_usage_counter *c, const uint8_t *data, size_t n) {
    if (!c->sse) {
        if (!c->overflow && buf_append(&c->pending, data, n) != ERR_OK) {
            c->overflow = true;
            buf_reset(&c->pending);
        }
        return;
    }
    while (n > 0) {
        const uint8_t *nl = memchr(data, '\n', n);
        size_t take_n = nl ? (size_t)(nl - data) : n;
        if (!c->skip_line && buf_append(&c->pending, data, take_n) != ERR_OK) {
            c->overflow = true; /* drop the rest of this line */
            c->skip_line = true;
            buf_reset(&c->pending);
        }
        if (!nl) {
            return;
        }
        if (!c->skip_line) {
            sse_line(c, (const char *)c->pending.data, c->pending.len);
        }
        c->skip_line = false;
        buf_reset(&c->pending);
        data += take_n + 1;
        n -= take_n + 1;
    }
}

void openai_usage_finish(openai_usage_counter *c, openai_usage *out) {
    if (c->pending.len > 0) {
        if (c->sse && !c->skip_line) {
            sse_line(c, (const char *)c->pending.data, c->pending.len);
        } else if (!c->overflow) {
            parse_doc(c, (const char *)c->pending.data, c->pending.len);
        }
        buf_reset(&c->pending);
    }
    *out = c->u;
    if (out->cached > out->prompt) {
        out->cached = out->prompt;
    }
    if (out->reasoning > out->completion) {
        out->reasoning = out->completion;
    }
    if (out->total < out->prompt + out->completion) {
        out->total = out->prompt + out->completion;
    }
}

/* ---- errors ---- */

err_t openai_error_json(buf *out, const char *message, const char *type, const char *code) {
    json_t *o = json_pack("{s:{s:s,s:s,s:n,s:o}}", "error", "message", message, "type", type,
                          "param", "code", code ? json_string(code) : json_null());
    if (!o) {
        return ERR_NOMEM;
    }
    err_t e = ERR_OK;
    if (json_dump_callback(o, dump_cb, out, JSON_COMPACT | JSON_PRESERVE_ORDER)) {
        e = err_fail(ERR_TOO_LARGE, "error JSON too large");
    }
    json_decref(o);
    return e;
}

const char *openai_error_type(int status) {
    switch (status) {
    case 400:
    case 413:
    case 422:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "server_error" : "api_error";
    }
}
