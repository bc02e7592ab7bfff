/* Logs as a log pipeline reads them: JSON lines that parse, with request ids as fields and
 * hostile message text (quotes, control bytes) escaped rather than breaking the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_parses_with_ids),
        cmocka_unit_test(test_text_line_and_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
