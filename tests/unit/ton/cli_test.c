/* `cocoon ton address|boc` as a user runs them: output lines against the @ton/core vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "ton_test_util.h"

/* Runs `cocoon ton ARGS`, returns its stdout (malloc'd) and exit status. */
static char *run(const char *args, int *status) {
    const char *bin = getenv("COCOON_BIN");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s/../../../cocoon ton %s 2>/dev/null", bin ? bin : ".", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 1 << 16);
    size_t n = fread(out, 1, (1 << 16) - 1, p);
    out[n] = 0;
    int st = pclose(p);
    *status = WEXITSTATUS(st);
    return out;
}

static void assert_line(const char *out, const char *key, const char *value) {
    char want[512];
    snprintf(want, sizeof(want), "%s: %s\n", key, value);
    if (!strstr(out, want)) {
        fail_msg("missing line '%s: %s' in:\n%s", key, value, out);
    }
}

static void test_address_forms(void **state) {
    (void)state;
    const char *inputs[] = {tu_vec("wallet_v4r2", "address_raw"),
                            tu_vec("wallet_v4r2", "address_friendly_bounceable"),
                            tu_vec("wallet_v4r2", "address_friendly_nonbounceable")};
    for (size_t i = 0; i < 3; i++) {
        char args[256];
        snprintf(args, sizeof(args), "address %s", inputs[i]);
        int st;
        char *out = run(args, &st);
        assert_int_equal(st, 0);
        assert_line(out, "raw", tu_vec("wallet_v4r2", "address_raw"));
        assert_line(out, "bounceable", tu_vec("wallet_v4r2", "address_friendly_bounceable"));
        assert_line(out, "non_bounceable", tu_vec("wallet_v4r2", "address_friendly_nonbounceable"));
        assert_line(out, "url_safe", i == 0 ? "false" : "true");
        free(out);
    }
    int st;
    char *out = run("address EQAqbua3_0G_7K_jgzhjJceolfT-TONGsY65wUoBUtZinKC2", &st);
    assert_int_equal(st, 1); /* checksum */
    free(out);
}

static void test_boc_tree_and_hash(void **state) {
    (void)state;
    char args[512];
    snprintf(args, sizeof(args), "boc %s", tu_vec("tree", "root_boc_crc"));
    int st;
    char *out = run(args, &st);
    assert_int_equal(st, 0);
    assert_string_equal(out,
                        "x{ABC}\n  x{B_}\n  x{}\ndepth: 1\n"
                        "hash: d4a2802c60771b4cff6885c53b026b0f9f79ee90827a04bb7504b1c7f448367e\n");
    free(out);
    /* truncated BOC: a clean failure */
    out = run("boc b5ee9c7241010301000b000203abc801020001b000002dcbe3", &st);
    assert_int_equal(st, 1);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_boc_tree_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
