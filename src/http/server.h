/* Helpers for the OpenAI-compatible HTTP API served with libevent's evhttp: bounded body
 * reading, OpenAI-style JSON error replies, header filtering. */
#ifndef COCOON_HTTP_SERVER_H
#define COCOON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

struct evhttp_request;

/* Copies the request body into out: ERR_TOO_LARGE when it is longer than max. */
MUST_CHECK err_t http_req_body(struct evhttp_request *req, size_t max, buf *out);
/* Replies status with the OpenAI error JSON (type from openai_error_type; code may be NULL). */
void http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
/* Replies status with a JSON body. */
void http_reply_json(struct evhttp_request *req, int status, const char *json, size_t n);
/* Standard reason phrase ("OK", "Bad Request", ...). */
const char *http_reason(int status);
/* Hop-by-hop and framing headers that a relay must not copy (RFC 9110 §7.6.1; plus
 * Content-Length and Transfer-Encoding, which the sender recomputes). Case-insensitive. */
bool http_hop_header(const char *name);

#endif
