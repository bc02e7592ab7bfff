/* Logging to stderr: one line per event, as text or as JSON (log_set_format). */
#ifndef COCOON_BASE_LOG_H
#define COCOON_BASE_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;
/* text: `time LEVEL module: message`; json: one object per line
 * {"ts","level","module"[,"req"][,"wreq"],"msg"} with request ids lifted into fields. */
typedef enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 on unknown names. */
int log_level_parse(const char *s);
void log_set_format(log_format_t f);
/* "text" | "json"; -1 otherwise. */
int log_format_parse(const char *s);
void log_msg(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOGD(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define LOGI(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define LOGW(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define LOGE(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
