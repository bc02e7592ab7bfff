#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level_t g_level = LOG_INFO;

void log_set_level(log_level_t level) {
    g_level = level;
}

log_level_t log_get_level(void) {
    return g_level;
}

int log_level_parse(const char *s) {
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void log_msg(log_level_t level, const char *module, const char *fmt, ...) {
    static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < g_level || level >= LOG_OFF) {
        return;
    }
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, tags[level], module);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line)) {
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    }
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
