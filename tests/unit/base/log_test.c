/* Logs as a log pipeline reads them: JSON lines that parse, with request ids as fields and
 * hostile message text (quotes, control bytes) escaped rather than breaking the line. And logs
 * as an operator reads them from a daemon that buffers INFO lines: WARN/ERROR show at once and
 * in order, INFO after a flush, a full buffer or exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/log.h"

/* Runs one log call with stderr redirected, returns what it printed. */
static void capture(char *out, size_t cap, void (*fn)(void)) {
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, cap - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
}

static void emit_json(void) {
    log_set_format(LOG_FORMAT_JSON);
    LOGW("proxy", "req=0123abcd retrying after: \"bad\"\nframe\x01 wreq=ffee");
    log_set_format(LOG_FORMAT_TEXT);
}

static void test_json_line_parses_with_ids(void **state) {
    (void)state;
    char buf[4096];
    capture(buf, sizeof(buf), emit_json);
    assert_non_null(strchr(buf, '\n'));
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1); /* exactly one line */
    json_error_t err;
    json_t *j = json_loads(buf, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "module")), "proxy");
    assert_string_equal(json_string_value(json_object_get(j, "req")), "0123abcd");
    assert_string_equal(json_string_value(json_object_get(j, "wreq")), "ffee");
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "req=0123abcd retrying after: \"bad\"\nframe\x01 wreq=ffee");
    assert_non_null(json_string_value(json_object_get(j, "ts")));
    json_decref(j);
}

static void emit_text(void) {
    LOGI("worker", "plain %d", 7);
}

static void test_text_line_and_parsers(void **state) {
    (void)state;
    char buf[1024];
    capture(buf, sizeof(buf), emit_text);
    assert_non_null(strstr(buf, " INFO  worker: plain 7\n"));
    assert_int_equal(log_format_parse("json"), LOG_FORMAT_JSON);
    assert_int_equal(log_format_parse("text"), LOG_FORMAT_TEXT);
    assert_int_equal(log_format_parse("xml"), -1);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("loud"), -1);
}

/* stderr redirected to a temporary file for a whole test; seen() reads what reached it. */
typedef struct {
    int saved;
    FILE *tmp;
} redirect;

static void redirect_start(redirect *r) {
    fflush(stderr);
    r->saved = dup(2);
    r->tmp = tmpfile();
    assert_non_null(r->tmp);
    assert_true(dup2(fileno(r->tmp), 2) >= 0);
}

/* Everything written to fd 2 so far (without flushing anything). */
static size_t seen(redirect *r, char *out, size_t cap) {
    ssize_t n = pread(fileno(r->tmp), out, cap - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    return (size_t)n;
}

static void redirect_end(redirect *r) {
    log_set_buffered(false);
    assert_true(dup2(r->saved, 2) >= 0);
    close(r->saved);
    fclose(r->tmp);
}

static void test_buffered_warn_at_once_info_on_flush(void **state) {
    (void)state;
    static char buf[4 * LOG_BUFFER_SIZE];
    redirect r;
    redirect_start(&r);
    log_set_buffered(true);
    LOGI("proxy", "request one");
    LOGD("proxy", "below the level: never printed");
    assert_int_equal(seen(&r, buf, sizeof(buf)), 0); /* held */
    LOGW("proxy", "something is off");
    /* The WARN line is out at once, after the INFO line logged before it. */
    seen(&r, buf, sizeof(buf));
    char *info = strstr(buf, " INFO  proxy: request one\n");
    char *warn = strstr(buf, " WARN  proxy: something is off\n");
    assert_non_null(info);
    assert_non_null(warn);
    assert_true(info < warn);
    assert_null(strstr(buf, "never printed"));
    LOGI("proxy", "request two");
    LOGI("proxy", "request three");
    seen(&r, buf, sizeof(buf));
    assert_null(strstr(buf, "request two"));
    log_flush();
    seen(&r, buf, sizeof(buf));
    char *two = strstr(buf, "request two\n");
    char *three = strstr(buf, "request three\n");
    assert_non_null(two);
    assert_non_null(three);
    assert_true(warn < two && two < three);
    size_t before = strlen(buf);
    log_flush(); /* nothing held: nothing written */
    assert_int_equal(seen(&r, buf, sizeof(buf)), before);
    LOGE("proxy", "fatal-ish");
    seen(&r, buf, sizeof(buf));
    assert_non_null(strstr(buf, " ERROR proxy: fatal-ish\n"));
    redirect_end(&r);
}

static void test_buffer_full_goes_out_and_unbuffered_is_immediate(void **state) {
    (void)state;
    static char buf[4 * LOG_BUFFER_SIZE];
    redirect r;
    redirect_start(&r);
    log_set_buffered(true);
    /* Lines of ~1 KiB: the buffer holds LOG_BUFFER_SIZE bytes; the line that does not fit sends
     * out every whole line before it (no line is ever split). */
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t lines = 0, written = 0;
    while ((written = seen(&r, buf, sizeof(buf))) == 0) {
        LOGI("worker", "%zu %s", lines++, big);
        assert_true(lines < 2 * LOG_BUFFER_SIZE / sizeof(big));
    }
    assert_true(written <= LOG_BUFFER_SIZE);
    assert_true(written > LOG_BUFFER_SIZE - 2 * sizeof(big));
    assert_int_equal(buf[written - 1], '\n');
    assert_non_null(strstr(buf, " INFO  worker: 0 xxx"));
    char last[32];
    snprintf(last, sizeof(last), "worker: %zu x", lines - 1);
    assert_null(strstr(buf, last)); /* the line that did not fit is held */
    /* Turning buffering off flushes; afterwards INFO lines are written at once. */
    log_set_buffered(false);
    seen(&r, buf, sizeof(buf));
    assert_non_null(strstr(buf, last));
    LOGI("worker", "unbuffered now");
    seen(&r, buf, sizeof(buf));
    assert_non_null(strstr(buf, "worker: unbuffered now\n"));
    redirect_end(&r);
}

/* A process that exits normally flushes held lines (atexit); one that dies does not, which is
 * the loss docs/operations.md states (at most one flush interval). */
static void test_exit_flushes_crash_loses(void **state) {
    (void)state;
    for (int crash = 0; crash < 2; crash++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(stderr);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            dup2(p[1], 2);
            log_set_buffered(true);
            LOGI("client", "held until exit");
            if (crash) {
                _exit(3);
            }
            exit(0);
        }
        close(p[1]);
        char out[512];
        size_t n = 0;
        ssize_t k;
        while ((k = read(p[0], out + n, sizeof(out) - 1 - n)) > 0) {
            n += (size_t)k;
        }
        out[n] = '\0';
        close(p[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        if (crash) {
            assert_int_equal(n, 0);
        } else {
            assert_non_null(strstr(out, " INFO  client: held until exit\n"));
        }
    }
}

static void emit_hostile_max(void) {
    char m[1100];
    memset(m, '\x01', sizeof(m) - 1); /* each byte becomes a 6-byte escape */
    m[sizeof(m) - 1] = '\0';
    log_set_format(LOG_FORMAT_JSON);
    LOGW("proxy", "%s", m);
    log_set_format(LOG_FORMAT_TEXT);
}

/* The longest message (1023 bytes after formatting) of escapes still gives one whole line. */
static void test_json_longest_message_stays_one_line(void **state) {
    (void)state;
    static char buf[16384];
    capture(buf, sizeof(buf), emit_hostile_max);
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
    json_error_t err;
    json_t *j = json_loads(buf, 0, &err);
    assert_non_null(j);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "msg"))), 1023);
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_parses_with_ids),
        cmocka_unit_test(test_text_line_and_parsers),
        cmocka_unit_test(test_buffered_warn_at_once_info_on_flush),
        cmocka_unit_test(test_buffer_full_goes_out_and_unbuffered_is_immediate),
        cmocka_unit_test(test_exit_flushes_crash_loses),
        cmocka_unit_test(test_json_longest_message_stays_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
