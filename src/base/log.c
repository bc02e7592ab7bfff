#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static log_level_t g_level = LOG_INFO;
static log_format_t g_format = LOG_FORMAT_TEXT;

void log_set_level(log_level_t level) {
    g_level = level;
}

log_level_t log_get_level(void) {
    return g_level;
}

void log_set_format(log_format_t f) {
    g_format = f;
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

int log_format_parse(const char *s) {
    if (strcmp(s, "text") == 0) {
        return LOG_FORMAT_TEXT;
    }
    if (strcmp(s, "json") == 0) {
        return LOG_FORMAT_JSON;
    }
    return -1;
}

/* Appends s as the body of a JSON string (RFC 8259 §7) to out[*n..cap), truncating cleanly. */
static void json_escape(char *out, size_t cap, size_t *n, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len && *n + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)c;
        } else if (c < 0x20) {
            out[(*n)++] = '\\';
            out[(*n)++] = 'u';
            out[(*n)++] = '0';
            out[(*n)++] = '0';
            out[(*n)++] = hex[c >> 4];
            out[(*n)++] = hex[c & 15];
        } else {
            out[(*n)++] = (char)c;
        }
    }
}

/* `key=value` tokens of the request-id kind ("req=", "wreq=") become fields of their own, so a
 * log pipeline can follow one request across client, proxy and worker. */
static void json_ids(char *out, size_t cap, size_t *n, const char *msg) {
    static const char *const keys[] = {"req=", "wreq="};
    for (size_t k = 0; k < 2; k++) {
        const char *p = msg;
        while ((p = strstr(p, keys[k])) != NULL) {
            if (p != msg && p[-1] != ' ') {
                p++;
                continue;
            }
            const char *v = p + strlen(keys[k]);
            size_t vl = strspn(v, "0123456789abcdef");
            if (vl > 0 && vl <= 64 && *n + vl + 16 < cap) {
                *n += (size_t)snprintf(out + *n, cap - *n, ",\"%.*s\":\"%.*s\"",
                                       (int)(strlen(keys[k]) - 1), keys[k], (int)vl, v);
            }
            break;
        }
    }
}

/* Buffered mode state, guarded by stderr's stdio lock (flockfile), so that a line is never
 * split by another thread's log line or stderr write. */
static char g_buf[LOG_BUFFER_SIZE];
static size_t g_len;
static bool g_buffered;
static bool g_atexit;

/* Under the lock: what is held goes out (one write on the unbuffered stderr). */
static void drain_locked(void) {
    if (g_len > 0) {
        fwrite(g_buf, 1, g_len, stderr);
        g_len = 0;
    }
    fflush(stderr);
}

void log_flush(void) {
    flockfile(stderr);
    drain_locked();
    funlockfile(stderr);
}

void log_set_buffered(bool on) {
    flockfile(stderr);
    if (!on) {
        drain_locked();
    }
    g_buffered = on;
    bool reg = on && !g_atexit;
    g_atexit = g_atexit || on;
    funlockfile(stderr);
    if (reg) {
        atexit(log_flush);
    }
}

/* One finished line (ending in '\n'): INFO/DEBUG into the buffer when buffering, else (and
 * WARN/ERROR always) out now, after whatever was held so the order on stderr is the order of
 * the calls. */
static void emit(log_level_t level, const char *line, size_t n) {
    flockfile(stderr);
    if (g_buffered && level < LOG_WARN && n <= sizeof(g_buf)) {
        if (g_len + n > sizeof(g_buf)) {
            drain_locked();
        }
        memcpy(g_buf + g_len, line, n);
        g_len += n;
    } else {
        drain_locked();
        fwrite(line, 1, n, stderr);
        fflush(stderr);
    }
    funlockfile(stderr);
}

/* The snprintf result clamped to what the buffer holds. */
static size_t clamp(int r, size_t cap) {
    if (r < 0) {
        return 0;
    }
    return (size_t)r < cap ? (size_t)r : cap - 1;
}

void log_msg(log_level_t level, const char *module, const char *fmt, ...) {
    static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (level < g_level || level >= LOG_OFF) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[96];
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    /* Room for the JSON form: every message byte may become a 6-byte escape. */
    char line[7 * 1024];
    size_t n;
    if (g_format == LOG_FORMAT_TEXT) {
        n = clamp(
            snprintf(line, sizeof(line) - 1, "%s %-5s %s: %s", stamp, tags[level], module, msg),
            sizeof(line) - 1);
    } else {
        size_t cap = sizeof(line) - 3; /* the closing "} and the newline */
        n = clamp(snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"", stamp,
                           names[level]),
                  cap);
        json_escape(line, cap, &n, module, strlen(module));
        n += clamp(snprintf(line + n, cap - n, "\""), cap - n);
        json_ids(line, cap, &n, msg);
        n += clamp(snprintf(line + n, cap - n, ",\"msg\":\""), cap - n);
        json_escape(line, cap, &n, msg, strlen(msg));
        line[n++] = '"';
        line[n++] = '}';
    }
    line[n++] = '\n';
    emit(level, line, n);
}
