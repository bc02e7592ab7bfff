/* A request queue in front of a pool of engine sessions, for the worker's built-in upstream:
 * requests are queued FIFO and each session thread takes the next one. Callbacks (the
 * request's on_text, then done) run on the session thread; a libevent user marshals them to
 * its loop. A request is copied on submit, so the caller's buffers may go away.
 *
 * Cancelling a queued request removes it without running it; cancelling a running one stops it
 * after the current token. Either way done is called exactly once, with finish "cancelled". */
#ifndef COCOON_ENGINE_QUEUE_H
#define COCOON_ENGINE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/engine.h"

#define ENGINE_QUEUE_MAX_SESSIONS 64u

typedef struct engine_queue engine_queue;

/* e: the outcome of engine_generate; u: usage (finish is cancelled for a request cancelled
 * before it ran). */
typedef void (*engine_done_cb)(void *user, err_t e, const engine_usage *u);

MUST_CHECK err_t engine_queue_new(engine *e, unsigned n_sessions, const engine_session_opts *o,
                                  uint32_t max_pending, engine_queue **out);
/* Cancels everything, waits for the session threads, and calls the outstanding done
 * callbacks before returning. */
void engine_queue_free(engine_queue *q);
/* ERR_TOO_MANY when max_pending requests are already waiting. */
MUST_CHECK err_t engine_queue_submit(engine_queue *q, const engine_request *r, engine_done_cb done,
                                     void *user, uint64_t *id);
/* False when the id is unknown or already finished. */
bool engine_queue_cancel(engine_queue *q, uint64_t id);
/* Requests waiting (not running). */
uint32_t engine_queue_pending(engine_queue *q);

#endif
