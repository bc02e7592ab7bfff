/* `cocoon run` and `cocoon model` as a user runs them (the binary from COCOON_CLI). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"

/* Runs the shell command, captures stdout into out (NUL-terminated), returns the exit code. */
static int run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char cmd[8192];
static char out[65536];

static const char *cli(void) {
    const char *c = getenv("COCOON_CLI");
    return c ? c : "cocoon";
}

/* --chat --greedy -n N prints exactly the model card's answer: no template, no end token. */
static void test_run_greedy_chat(void **state) {
    (void)state;
    snprintf(cmd, sizeof(cmd),
             "'%s' run '%s' 'Tell me a fortune about computers.' --chat --greedy -n 64", cli(),
             models_path(DEMO_GGUF));
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_string_equal(out, "The only thing that is not the most important thing to do.\n\t\t-- "
                             "Mikhail Bakunin");
    /* -n caps the tokens; the portable kernels and two threads print the same text */
    snprintf(cmd, sizeof(cmd),
             "'%s' run '%s' 'Tell me a fortune about computers.' --chat --greedy -n 3 --portable "
             "--threads 2",
             cli(), models_path(DEMO_GGUF));
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_string_equal(out, "The only thing");
}

/* Without --chat the prompt is raw text, and its special-token text stays text. */
static void test_run_raw_prompt(void **state) {
    (void)state;
    snprintf(cmd, sizeof(cmd), "'%s' run '%s' 'The meaning of life is' --greedy -n 32", cli(),
             models_path(DEMO_GGUF));
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_string_equal(out, " the outage.");
}

static void test_usage_errors(void **state) {
    (void)state;
    const char *bad[] = {"run",
                         "run only-model.gguf",
                         "run m.gguf p -n 0",
                         "run m.gguf p --threads 65",
                         "run m.gguf p --top-p 0",
                         "run m.gguf p --bogus",
                         "model",
                         "model quantize a b q5_0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(cmd, sizeof(cmd), "'%s' %s 2>/dev/null", cli(), bad[i]);
        assert_int_equal(run(cmd, out, sizeof(out)), 2);
    }
    snprintf(cmd, sizeof(cmd), "'%s' run /nonexistent.gguf hi 2>/dev/null", cli());
    assert_int_equal(run(cmd, out, sizeof(out)), 1);
}

static void test_model_quantize_then_run(void **state) {
    (void)state;
    char dir[] = "/tmp/cocoon-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "'%s' model quantize '%s' %s/q8.gguf q8_0 2>/dev/null", cli(),
             models_path(DEMO_GGUF), dir);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    snprintf(cmd, sizeof(cmd), "'%s' model info %s/q8.gguf", cli(), dir);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "general.file_type = 7"));
    assert_non_null(strstr(out, "blk.0.attn_q.weight"));
    assert_non_null(strstr(out, "Q8_0"));
    snprintf(cmd, sizeof(cmd),
             "'%s' run %s/q8.gguf 'Tell me a fortune about computers.' --chat --greedy -n 6", cli(),
             dir);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_string_equal(out, "The only thing that is not");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_greedy_chat),
        cmocka_unit_test(test_run_raw_prompt),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_model_quantize_then_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
