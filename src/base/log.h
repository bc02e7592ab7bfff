/* Logging to stderr: one line per event, as text or as JSON (log_set_format).
 *
 * Buffering (log_set_buffered): a daemon logs a couple of INFO lines per request, and a write(2)
 * per line is visible in its latency. Buffered, INFO and DEBUG lines collect in a 64 KiB buffer
 * that goes out in one write when log_flush is called (the daemons do so every 200 ms), when it
 * is full, before any WARN or ERROR line (which itself goes out at once, so order is kept) and
 * at exit. A crash therefore loses at most the INFO/DEBUG lines of the last flush interval.
 * Unbuffered (the default) every line is written as it is logged. Lines from several threads
 * never interleave: the buffer is guarded by stderr's own stdio lock (flockfile). */
#ifndef COCOON_BASE_LOG_H
#define COCOON_BASE_LOG_H

#include <stdbool.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;
/* text: `time LEVEL module: message`; json: one object per line
 * {"ts","level","module"[,"req"][,"wreq"],"msg"} with request ids lifted into fields. */
typedef enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format_t;

/* Size of the buffer for INFO/DEBUG lines in buffered mode. */
#define LOG_BUFFER_SIZE 65536

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 on unknown names. */
int log_level_parse(const char *s);
void log_set_format(log_format_t f);
/* "text" | "json"; -1 otherwise. */
int log_format_parse(const char *s);
/* Turns buffering of INFO/DEBUG lines on or off (off flushes first). The first time it is
 * turned on, log_flush is registered with atexit. Whoever turns it on must call log_flush
 * periodically. */
void log_set_buffered(bool on);
/* Writes out buffered lines now (no-op when none are held). Thread-safe. */
void log_flush(void);
void log_msg(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOGD(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define LOGI(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define LOGW(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define LOGE(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
