/* The built-in inference engine's public API, for the worker and the CLI.
 *
 *   engine_open(path)            load a GGUF model (mmap), its tokenizer and chat format;
 *                                immutable afterwards, shareable between threads
 *   engine_session_new(e, opts)  a KV cache, scratch buffers and a thread pool; runs one
 *                                request at a time and reuses the cached prefix of the last one
 *   engine_generate(s, req, u)   a chat (messages) or completion (prompt) request; text is
 *                                streamed through req->on_text as it is produced (whole UTF-8
 *                                characters, stop sequences withheld), usage filled at the end
 *   engine_cancel(s)             from any thread: the running request stops after the
 *                                current token with finish reason "cancelled"
 */
#ifndef COCOON_ENGINE_ENGINE_H
#define COCOON_ENGINE_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/chat.h"
#include "engine/kern.h"
#include "engine/model.h"
#include "engine/sample.h"
#include "engine/tok.h"

#define ENGINE_MAX_STOP 8
#define ENGINE_MAX_STOP_LEN 256

typedef struct engine engine;
typedef struct engine_session engine_session;

MUST_CHECK err_t engine_open(const char *path, engine **out);
void engine_free(engine *e);
const model *engine_model(const engine *e);
const tok *engine_tok(const engine *e);
chat_format engine_chat_format(const engine *e);
/* general.name, or "" */
const char *engine_name(const engine *e);

typedef struct {
    uint32_t n_ctx;       /* 0: the model's training context */
    unsigned n_threads;   /* 0: 1 */
    const kern_ops *kern; /* NULL: the best for this CPU */
} engine_session_opts;

MUST_CHECK err_t engine_session_new(engine *e, const engine_session_opts *o, engine_session **out);
void engine_session_free(engine_session *s);
void engine_cancel(engine_session *s);

typedef enum {
    ENGINE_FINISH_STOP,      /* end-of-generation token or a stop sequence */
    ENGINE_FINISH_LENGTH,    /* max_tokens or the context is full */
    ENGINE_FINISH_CANCELLED, /* engine_cancel or the callback asked to stop */
} engine_finish;

const char *engine_finish_name(engine_finish f);

typedef struct {
    uint32_t prompt_tokens;
    uint32_t cached_tokens; /* prompt tokens reused from the previous request's cache */
    uint32_t completion_tokens;
    engine_finish finish;
    double prefill_seconds;
    double decode_seconds;
} engine_usage;

/* Text of the answer as it is produced; return non-zero to cancel. */
typedef int (*engine_text_cb)(void *user, const char *text, size_t len);

typedef struct {
    const chat_msg *messages; /* chat request when non-NULL */
    size_t n_messages;
    const char *prompt; /* completion request: plain text, never parsed for special tokens */
    size_t prompt_len;
    sample_params sampling;
    uint32_t max_tokens; /* 0: until the context is full */
    const char *const *stop;
    size_t n_stop;
    engine_text_cb on_text;
    void *user;
    /* optional: set (from any thread) to stop this request after the current token */
    const atomic_bool *cancel;
} engine_request;

/* ERR_TOO_MANY when the prompt does not leave room for one token in the context;
 * ERR_CONFIG for bad sampling parameters or stop sequences. */
MUST_CHECK err_t engine_generate(engine_session *s, const engine_request *r, engine_usage *u);

/* The prompt tokens a request would be evaluated with (chat template applied). */
MUST_CHECK err_t engine_prompt_tokens(const engine *e, const engine_request *r, tok_vec *out);

#endif
