/* OpenAI shapes: the worker's request rewrite (allow-list, model, stream usage forced,
 * max_tokens cap), the client's peek, usage read from vLLM-format answers (SSE split at every
 * offset, JSON), and the error JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http/openai.h"

static err_t rw(openai_kind k, const char *body, int64_t cap, buf *out, openai_req_info *info) {
    buf_reset(out);
    return openai_rewrite_request(k, (const uint8_t *)body, strlen(body), "M", cap, out, info);
}

static void test_rewrite_forces_usage_and_caps_tokens(void **state) {
    (void)state;
    buf out;
    buf_init(&out, 1 << 20);
    openai_req_info info;
    assert_int_equal(
        rw(OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"stream\":true}", 100, &out, &info),
        ERR_OK);
    assert_true(info.stream);
    assert_int_equal(info.max_tokens, 100);
    assert_int_equal(out.len,
                     strlen("{\"model\":\"M\",\"messages\":[],\"stream\":true,"
                            "\"stream_options\":{\"include_usage\":true},\"max_tokens\":100}"));
    assert_memory_equal(out.data,
                        "{\"model\":\"M\",\"messages\":[],\"stream\":true,"
                        "\"stream_options\":{\"include_usage\":true},\"max_tokens\":100}",
                        out.len);
    /* include_usage false is overridden; stream_options alone means stream (reference §2.3). */
    assert_int_equal(
        rw(OPENAI_CHAT,
           "{\"model\":\"M\",\"messages\":[],\"stream_options\":{\"include_usage\":false},"
           "\"max_tokens\":5}",
           100, &out, &info),
        ERR_OK);
    assert_true(info.stream);
    assert_int_equal(info.max_tokens, 5);
    assert_non_null(memmem(out.data, out.len, "\"include_usage\":true", 20));
    assert_non_null(memmem(out.data, out.len, "\"stream\":true", 13));
    /* A request above the cap is clamped, at the cap kept, max_completion_tokens honoured. */
    assert_int_equal(
        rw(OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"max_tokens\":101}", 100, &out, &info),
        ERR_OK);
    assert_int_equal(info.max_tokens, 100);
    assert_int_equal(
        rw(OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"max_tokens\":100}", 100, &out, &info),
        ERR_OK);
    assert_int_equal(info.max_tokens, 100);
    assert_int_equal(rw(OPENAI_CHAT,
                        "{\"model\":\"M\",\"messages\":[],\"max_completion_tokens\":1000}", 100,
                        &out, &info),
                     ERR_OK);
    assert_non_null(memmem(out.data, out.len, "\"max_completion_tokens\":100", 27));
    /* Both spellings: both capped, to the smaller request. */
    assert_int_equal(rw(OPENAI_CHAT,
                        "{\"model\":\"M\",\"messages\":[],\"max_tokens\":7,"
                        "\"max_completion_tokens\":1000}",
                        100, &out, &info),
                     ERR_OK);
    assert_int_equal(info.max_tokens, 7);
    assert_non_null(memmem(out.data, out.len, "\"max_completion_tokens\":7", 25));
    assert_non_null(memmem(out.data, out.len, "\"max_tokens\":7", 14));
    assert_int_equal(rw(OPENAI_CHAT,
                        "{\"model\":\"M\",\"messages\":[],\"max_tokens\":1000,"
                        "\"max_completion_tokens\":500}",
                        100, &out, &info),
                     ERR_OK);
    assert_non_null(memmem(out.data, out.len, "\"max_completion_tokens\":100", 27));
    assert_non_null(memmem(out.data, out.len, "\"max_tokens\":100", 16));
    /* Non-streaming stays non-streaming. */
    assert_int_equal(rw(OPENAI_COMPLETIONS, "{\"model\":\"M\",\"prompt\":\"x\"}", 7, &out, &info),
                     ERR_OK);
    assert_false(info.stream);
    assert_null(memmem(out.data, out.len, "stream", 6));
    buf_free(&out);
}

static void test_rewrite_rejections(void **state) {
    (void)state;
    static const struct {
        openai_kind kind;
        const char *body;
        err_t want;
    } cases[] = {
        {OPENAI_CHAT, "{", ERR_MALFORMED},
        {OPENAI_CHAT, "[]", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"model\":\"M\",\"messages\":[]}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"messages\":[]}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"\",\"messages\":[]}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\"}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"tools\":[]}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"logit_bias\":{}}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"max_tokens\":-1}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"max_tokens\":1.5}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"stream\":1}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"stream_options\":1}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"temperature\":2.01}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"frequency_penalty\":-2.5}",
         ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"n\":0}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"N\",\"messages\":[]}", ERR_NOT_FOUND},
        {OPENAI_COMPLETIONS, "{\"model\":\"M\"}", ERR_MALFORMED},
        {OPENAI_COMPLETIONS, "{\"model\":\"M\",\"prompt\":\"x\",\"suffix\":true}", ERR_MALFORMED},
        {OPENAI_COMPLETIONS, "{\"model\":\"M\",\"prompt\":\"x\",\"messages\":[]}", ERR_MALFORMED},
        {OPENAI_CHAT, "{\"model\":\"M\",\"messages\":[],\"temperature\":2}", ERR_OK},
        {OPENAI_COMPLETIONS, "{\"model\":\"M\",\"prompt\":[\"x\"],\"suffix\":\"s\"}", ERR_OK},
    };
    buf out;
    buf_init(&out, 1 << 20);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        openai_req_info info;
        err_t e = rw(cases[i].kind, cases[i].body, 10, &out, &info);
        if (e != cases[i].want) {
            fail_msg("case %zu (%s): got %s", i, cases[i].body, err_name(e));
        }
    }
    buf_free(&out);
}

static void test_peek_and_paths(void **state) {
    (void)state;
    openai_req_info info;
    static const char b[] = "{\"model\":\"qwen\",\"max_completion_tokens\":9,\"extra\":1}";
    assert_int_equal(openai_peek_request((const uint8_t *)b, strlen(b), &info), ERR_OK);
    assert_string_equal(info.model, "qwen");
    assert_int_equal(info.max_tokens, 9);
    static const char d[] = "{\"model\":\"q\"}";
    assert_int_equal(openai_peek_request((const uint8_t *)d, strlen(d), &info), ERR_OK);
    assert_int_equal(info.max_tokens, OPENAI_DEFAULT_MAX_TOKENS);
    /* model length: 255 accepted, 256 refused */
    char m[300];
    int n = snprintf(m, sizeof(m), "{\"model\":\"%0255d\"}", 0);
    assert_int_equal(openai_peek_request((const uint8_t *)m, (size_t)n, &info), ERR_OK);
    n = snprintf(m, sizeof(m), "{\"model\":\"%0256d\"}", 0);
    assert_int_equal(openai_peek_request((const uint8_t *)m, (size_t)n, &info), ERR_MALFORMED);
    openai_kind k;
    assert_int_equal(openai_path_kind("/v1/chat/completions", &k), ERR_OK);
    assert_int_equal(k, OPENAI_CHAT);
    assert_int_equal(openai_path_kind("/v1/completions?x=1", &k), ERR_OK);
    assert_int_equal(k, OPENAI_COMPLETIONS);
    assert_int_equal(openai_path_kind("/v1/embeddings", &k), ERR_NOT_FOUND);
    assert_int_equal(openai_path_kind("/v1/chat/completionsX", &k), ERR_NOT_FOUND);
}

/* A vLLM stream with the usage chunk (openai-sse.md). */
static const char SSE[] =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\"}}]}\n\n"
    "data: "
    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n"
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"total_tokens\":26,"
    "\"completion_tokens\":14,\"prompt_tokens_details\":{\"cached_tokens\":4},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}\n\n"
    "data: [DONE]\n\n";

static void test_usage_sse_split_everywhere(void **state) {
    (void)state;
    size_t n = strlen(SSE);
    for (size_t cut = 0; cut <= n; cut++) {
        openai_usage_counter c;
        openai_usage_init(&c, true);
        openai_usage_feed(&c, (const uint8_t *)SSE, cut);
        openai_usage_feed(&c, (const uint8_t *)SSE + cut, n - cut);
        openai_usage u;
        openai_usage_finish(&c, &u);
        assert_true(c.seen);
        assert_int_equal(u.prompt, 12);
        assert_int_equal(u.cached, 4);
        assert_int_equal(u.completion, 14);
        assert_int_equal(u.reasoning, 3);
        assert_int_equal(u.total, 26);
        openai_usage_free(&c);
    }
    /* Byte by byte. */
    openai_usage_counter c;
    openai_usage_init(&c, true);
    for (size_t i = 0; i < n; i++) {
        openai_usage_feed(&c, (const uint8_t *)SSE + i, 1);
    }
    openai_usage u;
    openai_usage_finish(&c, &u);
    assert_int_equal(u.total, 26);
    openai_usage_free(&c);
}

/* The parse is skipped for events that cannot hold a usage member; one whose key is spelled
 * with \u escapes (valid JSON) still counts. */
static void test_usage_sse_escaped_key(void **state) {
    (void)state;
    static const char e[] =
        "data: {\"choices\":[],\"\\u0075sage\":{\"prompt_tokens\":7,\"completion_tokens\":5,"
        "\"total_tokens\":12}}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
    openai_usage_counter c;
    openai_usage_init(&c, true);
    openai_usage_feed(&c, (const uint8_t *)e, strlen(e));
    openai_usage u;
    openai_usage_finish(&c, &u);
    assert_true(c.seen);
    assert_int_equal(u.prompt, 7);
    assert_int_equal(u.completion, 5);
    assert_int_equal(u.total, 12);
    openai_usage_free(&c);
}

/* A whole answer's usage is found by a scan and only that member parsed: nested and string
 * look-alikes are not taken, the last duplicate wins as in the full parse, and an escaped key
 * sends the scan back to the full parse. Each case agrees with the full parse. */
static void test_usage_scan_agrees_with_full_parse(void **state) {
    (void)state;
    static const struct {
        const char *doc;
        int64_t total;
    } cases[] = {
        {"{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}", 3},
        {"{\"choices\":[{\"usage\":{\"total_tokens\":99}}],\"usage\":{\"total_tokens\":4}}", 4},
        {"{\"text\":\"\\\"usage\\\":{\\\"total_tokens\\\":77}\",\"usage\":{\"total_tokens\":5}}",
         5},
        {"{\"usage\":{\"total_tokens\":6},\"usage\":{\"total_tokens\":7}}", 7},
        {"{\"\\u0075sage\":{\"total_tokens\":8}}", 8},
        {"{\"x\":\"usage\",\"usage\" : {\"total_tokens\":9} }", 9},
        {"{\"usage\":null}", 0},
        {"{\"choices\":[]}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        openai_usage fast, full;
        size_t n = strlen(cases[i].doc);
        bool sf = openai_usage_of_json((const uint8_t *)cases[i].doc, n, false, &fast);
        bool sl = openai_usage_of_json((const uint8_t *)cases[i].doc, n, true, &full);
        if (sf != sl || fast.total != full.total || fast.total != cases[i].total) {
            fail_msg("case %zu: scan %d/%lld, full %d/%lld, want %lld", i, sf,
                     (long long)fast.total, sl, (long long)full.total, (long long)cases[i].total);
        }
    }
}

static void test_usage_json_and_hostile_values(void **state) {
    (void)state;
    static const char j[] = "{\"object\":\"chat.completion\",\"usage\":{\"prompt_tokens\":12,"
                            "\"total_tokens\":26,\"completion_tokens\":14,"
                            "\"prompt_tokens_details\":null}}";
    openai_usage_counter c;
    openai_usage_init(&c, false);
    openai_usage_feed(&c, (const uint8_t *)j, 10);
    openai_usage_feed(&c, (const uint8_t *)j + 10, strlen(j) - 10);
    openai_usage u;
    openai_usage_finish(&c, &u);
    assert_int_equal(u.prompt, 12);
    assert_int_equal(u.completion, 14);
    assert_int_equal(u.total, 26);
    openai_usage_free(&c);
    /* Negative, fractional and string counts are ignored; cached cannot exceed prompt. */
    static const char h[] =
        "data: {\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":2.5,"
        "\"total_tokens\":\"9\",\"prompt_tokens_details\":{\"cached_tokens\":7}}}\n";
    openai_usage_init(&c, true);
    openai_usage_feed(&c, (const uint8_t *)h, strlen(h));
    openai_usage_finish(&c, &u);
    assert_int_equal(u.prompt, 0);
    assert_int_equal(u.completion, 0);
    assert_int_equal(u.cached, 0);
    assert_int_equal(u.total, 0);
    openai_usage_free(&c);
    /* A line longer than the limit is dropped without breaking the next ones. */
    openai_usage_init(&c, true);
    static const char pre[] = "data: {\"x\":\"";
    openai_usage_feed(&c, (const uint8_t *)pre, strlen(pre));
    static uint8_t big[OPENAI_LINE_MAX];
    memset(big, 'a', sizeof(big));
    openai_usage_feed(&c, big, sizeof(big));
    static const char post[] =
        "\"}\n\ndata: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n";
    openai_usage_feed(&c, (const uint8_t *)post, strlen(post));
    openai_usage_finish(&c, &u);
    assert_true(c.overflow);
    assert_int_equal(u.total, 3);
    openai_usage_free(&c);
}

static void test_error_json(void **state) {
    (void)state;
    buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(openai_error_json(&b, "bad \"x\"", "invalid_request_error", NULL), ERR_OK);
    static const char want[] = "{\"error\":{\"message\":\"bad \\\"x\\\"\",\"type\":"
                               "\"invalid_request_error\",\"param\":null,\"code\":null}}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
    assert_string_equal(openai_error_type(401), "authentication_error");
    assert_string_equal(openai_error_type(404), "not_found_error");
    assert_string_equal(openai_error_type(413), "invalid_request_error");
    assert_string_equal(openai_error_type(502), "server_error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite_forces_usage_and_caps_tokens),
        cmocka_unit_test(test_rewrite_rejections),
        cmocka_unit_test(test_peek_and_paths),
        cmocka_unit_test(test_usage_sse_split_everywhere),
        cmocka_unit_test(test_usage_sse_escaped_key),
        cmocka_unit_test(test_usage_scan_agrees_with_full_parse),
        cmocka_unit_test(test_usage_json_and_hostile_values),
        cmocka_unit_test(test_error_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
