/* OpenAI API shapes, as pure functions over bytes: request validation and rewriting (what a
 * worker lets through to its upstream), token usage read from answers (JSON or SSE), and the
 * error JSON. Shapes: ../shared/reference/openai-sse.md; the reference's rules and their bugs:
 * cocoon-internals.md §2.1, §2.3. */
#ifndef COCOON_HTTP_OPENAI_H
#define COCOON_HTTP_OPENAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define OPENAI_BODY_MAX ((size_t)8 << 20)    /* largest request body we accept */
#define OPENAI_LINE_MAX ((size_t)1 << 20)    /* longest SSE line we parse for usage */
#define OPENAI_ANSWER_MAX ((size_t)16 << 20) /* non-streaming answer kept to read its usage */
#define OPENAI_DEFAULT_MAX_TOKENS 1000       /* as the reference client */

typedef enum { OPENAI_CHAT, OPENAI_COMPLETIONS } openai_kind;

/* "/v1/chat/completions" or "/v1/completions" (query string ignored); ERR_NOT_FOUND else. */
MUST_CHECK err_t openai_path_kind(const char *path, openai_kind *out);

typedef struct {
    bool stream;
    int64_t max_tokens; /* after enforcement */
    char model[256];    /* the "model" value */
} openai_req_info;

/* Peeks at a request body: valid JSON object (no duplicate keys), "model" a non-empty string
 * (≤ 255 bytes), max_tokens / max_completion_tokens non-negative integers (default
 * OPENAI_DEFAULT_MAX_TOKENS), stream a boolean. ERR_MALFORMED with a detail otherwise. */
MUST_CHECK err_t openai_peek_request(const uint8_t *body, size_t len, openai_req_info *info);

/* The worker's rewrite (reference §2.3, minus its bugs): strict allow-list of keys for the
 * kind (ERR_MALFORMED naming the first unknown key); model must equal model_base
 * (ERR_NOT_FOUND); stream_options without stream means stream; a stream always gets
 * stream_options.include_usage = true so usage can be counted; max_tokens (or
 * max_completion_tokens) is set to min(requested, cap), or cap when absent (cap > 0).
 * The rewritten body is appended to out. */
MUST_CHECK err_t openai_rewrite_request(openai_kind kind, const uint8_t *body, size_t len,
                                        const char *model_base, int64_t max_tokens_cap, buf *out,
                                        openai_req_info *info);

typedef struct {
    int64_t prompt;
    int64_t cached;
    int64_t completion;
    int64_t reasoning;
    int64_t total;
} openai_usage;

/* Reads usage from an answer as it streams: SSE (`data: {...}` events, the usage chunk) or a
 * single JSON document (kept up to OPENAI_ANSWER_MAX). Each counter keeps the largest value
 * seen (reference §2.1); values must be non-negative integers. Never changes the bytes. */
typedef struct {
    bool sse;
    bool overflow;  /* a line or the document was longer than we keep: usage may be missing */
    bool seen;      /* a usage object was found */
    bool skip_line; /* inside an SSE line longer than OPENAI_LINE_MAX */
    buf pending;
    openai_usage u;
} openai_usage_counter;

void openai_usage_init(openai_usage_counter *c, bool sse);
void openai_usage_feed(openai_usage_counter *c, const uint8_t *data, size_t n);
/* Parses what is left and returns the totals (total = prompt + completion when the answer
 * gave no larger total). */
void openai_usage_finish(openai_usage_counter *c, openai_usage *out);
/* Usage of one whole JSON answer: the top-level "usage" member located by a scan and only it
 * parsed (full = false, what the counter does), or the whole document parsed (full = true, the
 * reference the tests and the fuzz harness compare with). true when a usage object was seen. */
bool openai_usage_of_json(const uint8_t *doc, size_t n, bool full, openai_usage *out);
void openai_usage_free(openai_usage_counter *c);

/* Appends {"error":{"message":…,"type":…,"param":null,"code":…}} (code null when NULL). */
MUST_CHECK err_t openai_error_json(buf *out, const char *message, const char *type,
                                   const char *code);
/* The OpenAI error type for an HTTP status: 400 invalid_request_error, 401
 * authentication_error, 404 not_found_error, 413 invalid_request_error, 429 rate_limit_error,
 * 5xx server_error / api_error. */
const char *openai_error_type(int status);

#endif
