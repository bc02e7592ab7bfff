/* The built-in upstream (`builtin:<model.gguf>`): the engine's request queue behind the same
 * callbacks as an HTTP upstream, answering in the exact OpenAI/vLLM shapes a remote server would
 * (../shared/reference/openai-sse.md): a chat.completion / text_completion JSON document, or an
 * SSE stream of chunks (role chunk, content chunks, finish chunk, usage chunk when
 * stream_options.include_usage, `data: [DONE]`). The engine runs on its own session threads;
 * text crosses to the daemon's loop through a mutex-protected event list and one libevent
 * event, so every callback runs on the loop thread. */
#ifndef COCOON_WORKER_BUILTIN_H
#define COCOON_WORKER_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/openai.h"
#include "http/upstream.h"
#include "net/loop.h"

typedef struct builtin builtin;
typedef struct builtin_call builtin_call;

/* Loads the GGUF model; sessions run requests in parallel (each with threads threads). */
MUST_CHECK err_t builtin_new(net_loop *l, const char *gguf_path, unsigned sessions,
                             unsigned threads, builtin **out);
/* Cancels everything (no callbacks) and joins the engine threads. */
void builtin_free(builtin *b);
/* Runs a request body already validated and rewritten by openai_rewrite_request. The
 * handlers get a head (200, or 400 with a vLLM error JSON for a prompt the engine refuses),
 * body bytes, then on_done. ERR_TOO_MANY when the queue is full. */
MUST_CHECK err_t builtin_call_start(builtin *b, openai_kind kind, const uint8_t *body, size_t len,
                                    const http_call_handlers *h, void *arg, builtin_call **out);
/* Stops the request (no further callbacks). */
void builtin_call_cancel(builtin_call *c);

#endif
