/* Registry refresher over a file source, with a real thread and real files: a rewritten file
 * reaches the registry through poll, an identical re-read changes nothing, a broken file keeps
 * the old registry with one WARN per failure streak (and one INFO when it recovers), stop is
 * prompt with a long period, and the start limits at max and max+1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "registry/refresher.h"
#include "registry/registry.h"
#include "registry/source.h"

/* Long enough for several 1 s periods on a loaded machine under sanitizers. */
#define WAIT_MS 8000
#define LOG_CAP (1u << 20)

typedef struct {
    char dir[64];
    char path[128];
    char logpath[128];
    registry_source src;
    registry *reg;
    int saved_stderr;
} fx;

static const char V1[] = "{\"version\":1,\"proxies\":[{\"worker\":\"127.0.0.1:1\",\"client\":"
                         "\"127.0.0.1:2\"}]}";
static const char V2[] = "{\"version\":2,\"proxies\":[{\"worker\":\"10.0.0.9:7\",\"client\":"
                         "\"10.0.0.9:8\"}],\"price_per_token\":5}";
static const char V3[] = "{\"version\":3,\"proxies\":[{\"worker\":\"10.0.0.3:1\",\"client\":"
                         "\"10.0.0.3:2\"}]}";
static const char BROKEN[] = "{\"version\":4,\"proxies\":[";

static void put(const fx *f, const char *json) {
    assert_int_equal(file_write_atomic(f->path, json, strlen(json), 0644), ERR_OK);
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* stderr (fd 2) goes to a file while a test runs, so that its log lines can be counted;
 * restore_log puts it back and copies what was caught (cmocka's failure messages included). */
static void capture_log(fx *f) {
    fflush(stderr);
    f->saved_stderr = dup(2);
    assert_true(f->saved_stderr >= 0);
    int fd = open(f->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
}

static void restore_log(fx *f) {
    if (f->saved_stderr < 0) {
        return;
    }
    fflush(stderr);
    dup2(f->saved_stderr, 2);
    close(f->saved_stderr);
    f->saved_stderr = -1;
    buf b;
    buf_init(&b, LOG_CAP);
    if (file_read(f->logpath, LOG_CAP, &b) == ERR_OK) {
        fwrite(b.data, 1, b.len, stderr);
    }
    buf_free(&b);
}

/* How many log lines so far contain needle. */
static int log_count(const fx *f, const char *needle) {
    fflush(stderr);
    buf b;
    buf_init(&b, LOG_CAP + 1);
    assert_int_equal(file_read(f->logpath, LOG_CAP, &b), ERR_OK);
    assert_int_equal(buf_append(&b, "", 1), ERR_OK);
    int n = 0;
    for (const char *p = (const char *)b.data; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    buf_free(&b);
    return n;
}

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cocoon-refresher-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/registry.json", f->dir);
    snprintf(f->logpath, sizeof(f->logpath), "%s/log", f->dir);
    f->saved_stderr = -1;
    put(f, V1);
    char spec[160];
    snprintf(spec, sizeof(spec), "file:%s", f->path);
    assert_int_equal(registry_source_parse(spec, &f->src), ERR_OK);
    assert_int_equal(registry_source_load(&f->src, NULL, 0, &f->reg), ERR_OK);
    assert_int_equal(registry_version(f->reg), 1);
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    restore_log(f);
    registry_free(f->reg);
    unlink(f->path);
    unlink(f->logpath);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Log captured, a refresher every second. */
static registry_refresher *start_logged(fx *f) {
    capture_log(f);
    registry_refresher *rf = NULL;
    assert_int_equal(registry_refresher_start(&f->src, 1, NULL, &rf), ERR_OK);
    assert_non_null(rf);
    return rf;
}

/* Polls every 20 ms until poll reports a change or WAIT_MS pass; true on a change. */
static bool poll_until_changed(registry_refresher *rf, registry *reg) {
    uint64_t end = clock_mono_ms() + WAIT_MS;
    while (clock_mono_ms() < end) {
        if (registry_refresher_poll(rf, reg, "test")) {
            return true;
        }
        sleep_ms(20);
    }
    return false;
}

/* Polls, each poll reporting no change, until at least want log lines contain needle or WAIT_MS
 * pass. */
static void poll_until_logged(const fx *f, registry_refresher *rf, const char *needle, int want) {
    uint64_t end = clock_mono_ms() + WAIT_MS;
    while (log_count(f, needle) < want && clock_mono_ms() < end) {
        assert_false(registry_refresher_poll(rf, f->reg, "test"));
        sleep_ms(20);
    }
}

/* Polls for ms milliseconds; fails the test if any poll reports a change. */
static void poll_no_change(registry_refresher *rf, registry *reg, unsigned ms) {
    uint64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end) {
        assert_false(registry_refresher_poll(rf, reg, "test"));
        sleep_ms(20);
    }
}

static void test_rewritten_file_is_adopted(void **state) {
    fx *f = *state;
    registry_refresher *rf = start_logged(f);
    /* Nothing read yet: the first read is one period away. */
    assert_false(registry_refresher_poll(rf, f->reg, "test"));
    put(f, V2);
    assert_true(poll_until_changed(rf, f->reg));
    assert_int_equal(registry_version(f->reg), 2);
    assert_int_equal(registry_proxy_count(f->reg), 1);
    assert_string_equal(registry_proxy_at(f->reg, 0)->worker_addr, "10.0.0.9:7");
    assert_string_equal(registry_proxy_at(f->reg, 0)->client_addr, "10.0.0.9:8");
    assert_int_equal(registry_price_per_token(f->reg), 5);
    /* Later reads of the same file are equal: no change reported, reg stays as it is. */
    poll_no_change(rf, f->reg, 2500);
    assert_int_equal(registry_version(f->reg), 2);
    registry_refresher_free(rf);
    assert_int_equal(log_count(f, "test: registry updated: version 1 -> 2"), 1);
    assert_int_equal(log_count(f, "registry updated"), 1);
    assert_int_equal(log_count(f, "registry refresh failed"), 0);
    restore_log(f);
}

static void test_broken_file_keeps_the_registry(void **state) {
    fx *f = *state;
    registry_refresher *rf = start_logged(f);
    put(f, BROKEN);
    poll_until_logged(f, rf, "registry refresh failed", 1);
    assert_int_equal(log_count(f, "test: registry refresh failed, keeping version 1: "), 1);
    /* At least two more failed reads: still one WARN, still version 1. */
    poll_no_change(rf, f->reg, 2500);
    assert_int_equal(log_count(f, "registry refresh failed"), 1);
    assert_int_equal(registry_version(f->reg), 1);
    assert_string_equal(registry_proxy_at(f->reg, 0)->worker_addr, "127.0.0.1:1");
    /* A missing file is a failure too, within the same streak. */
    assert_int_equal(unlink(f->path), 0);
    poll_no_change(rf, f->reg, 2500);
    assert_int_equal(log_count(f, "registry refresh failed"), 1);
    /* Recovery: logged once, and the new registry is adopted. */
    put(f, V3);
    assert_true(poll_until_changed(rf, f->reg));
    assert_int_equal(registry_version(f->reg), 3);
    assert_string_equal(registry_proxy_at(f->reg, 0)->worker_addr, "10.0.0.3:1");
    assert_int_equal(log_count(f, "test: registry refresh works again"), 1);
    assert_int_equal(log_count(f, "test: registry updated: version 1 -> 3"), 1);
    /* A new streak is reported again. */
    put(f, BROKEN);
    poll_until_logged(f, rf, "registry refresh failed", 2);
    assert_int_equal(log_count(f, "test: registry refresh failed, keeping version 3: "), 1);
    registry_refresher_free(rf);
    assert_int_equal(registry_version(f->reg), 3);
    restore_log(f);
}

static void test_recovery_to_the_same_registry(void **state) {
    fx *f = *state;
    registry_refresher *rf = start_logged(f);
    put(f, BROKEN);
    poll_until_logged(f, rf, "registry refresh failed", 1);
    assert_int_equal(log_count(f, "registry refresh failed"), 1);
    /* The file comes back as it was: the streak ends, but nothing changed. */
    put(f, V1);
    poll_until_logged(f, rf, "registry refresh works again", 1);
    assert_int_equal(log_count(f, "test: registry refresh works again"), 1);
    assert_int_equal(log_count(f, "registry updated"), 0);
    assert_int_equal(registry_version(f->reg), 1);
    registry_refresher_free(rf);
    restore_log(f);
}

static void test_stop_is_prompt(void **state) {
    fx *f = *state;
    registry_refresher *rf = NULL;
    assert_int_equal(registry_refresher_start(&f->src, 86400, "key", &rf), ERR_OK);
    sleep_ms(100); /* the thread is waiting for its first read */
    alarm(10);     /* a stop that never wakes the thread kills the test instead of hanging it */
    uint64_t t0 = clock_mono_ms();
    registry_refresher_free(rf);
    uint64_t took = clock_mono_ms() - t0;
    assert_true(took < 1000);
    /* Freed before the thread even waits. */
    assert_int_equal(registry_refresher_start(&f->src, 86400, NULL, &rf), ERR_OK);
    t0 = clock_mono_ms();
    registry_refresher_free(rf);
    assert_true(clock_mono_ms() - t0 < 1000);
    alarm(0);
    registry_refresher_free(NULL);
}

static void test_start_limits(void **state) {
    fx *f = *state;
    registry_refresher *rf = (registry_refresher *)&rf;
    assert_int_equal(registry_refresher_start(&f->src, 0, NULL, &rf), ERR_USAGE);
    assert_null(rf);
    char key[REGISTRY_REFRESH_API_KEY_MAX + 1];
    memset(key, 'k', sizeof(key));
    key[REGISTRY_REFRESH_API_KEY_MAX - 1] = 0; /* the longest key kept */
    assert_int_equal(registry_refresher_start(&f->src, 1, key, &rf), ERR_OK);
    assert_non_null(rf);
    registry_refresher_free(rf);
    key[REGISTRY_REFRESH_API_KEY_MAX - 1] = 'k';
    key[REGISTRY_REFRESH_API_KEY_MAX] = 0; /* one byte more */
    rf = (registry_refresher *)&rf;
    assert_int_equal(registry_refresher_start(&f->src, 1, key, &rf), ERR_TOO_LARGE);
    assert_null(rf);
    /* No refresher: nothing to adopt. */
    assert_false(registry_refresher_poll(NULL, f->reg, "test"));
    assert_int_equal(registry_version(f->reg), 1);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(test_rewritten_file_is_adopted),
        TEST(test_broken_file_keeps_the_registry),
        TEST(test_recovery_to_the_same_registry),
        TEST(test_stop_is_prompt),
        TEST(test_start_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
