/* The HTTP API v2 client against canned responses served from 127.0.0.1 by a tiny in-process
 * server: response shapes from tests/data/ton/toncenter_api_samples.json, rate limiting (429)
 * retried with backoff, API errors not retried, malformed answers refused, the API key sent. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ton/api.h"
#include "ton_test_util.h"

#define MAX_CANNED 8

typedef struct {
    int fd;
    int port;
    int n;
    int served;
    int status[MAX_CANNED];
    char *body[MAX_CANNED];
    char requests[MAX_CANNED][2048];
    pthread_t thread;
} canned;

static void *serve(void *arg) {
    canned *c = arg;
    for (int i = 0; i < c->n; i++) {
        int s = accept(c->fd, NULL, NULL);
        if (s < 0) {
            return NULL;
        }
        char req[8192];
        size_t got = 0;
        /* headers, then Content-Length bytes of body */
        for (;;) {
            ssize_t r = recv(s, req + got, sizeof(req) - 1 - got, 0);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
            req[got] = 0;
            char *end = strstr(req, "\r\n\r\n");
            if (end) {
                char *cl = strcasestr(req, "Content-Length:");
                size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
                if (got >= (size_t)(end + 4 - req) + want) {
                    break;
                }
            }
        }
        size_t cp = got < sizeof(c->requests[i]) - 1 ? got : sizeof(c->requests[i]) - 1;
        memcpy(c->requests[i], req, cp);
        c->requests[i][cp] = 0;
        __atomic_add_fetch(&c->served, 1, __ATOMIC_SEQ_CST); /* before answering: no race */
        char head[256];
        int bl = (int)strlen(c->body[i]);
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                          "%d\r\nConnection: close\r\n\r\n",
                          c->status[i], bl);
        if (send(s, head, (size_t)hl, 0) < 0 || send(s, c->body[i], (size_t)bl, 0) < 0) {
            close(s);
            return NULL;
        }
        close(s);
    }
    return NULL;
}

static void canned_start(canned *c) {
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(c->fd, 8), 0);
    socklen_t sl = sizeof(sa);
    getsockname(c->fd, (struct sockaddr *)&sa, &sl);
    c->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&c->thread, NULL, serve, c), 0);
}

static void canned_stop(canned *c) {
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    pthread_join(c->thread, NULL);
    for (int i = 0; i < c->n; i++) {
        free(c->body[i]);
    }
}

static void add(canned *c, int status, const char *body) {
    c->status[c->n] = status;
    c->body[c->n] = strdup(body);
    c->n++;
}

static char *sample(const char *name) {
    const char *dir = getenv("COCOON_TESTDATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/ton/toncenter_api_samples.json", dir ? dir : "tests/data");
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je);
    assert_non_null(all);
    char *s = json_dumps(json_object_get(all, name), JSON_COMPACT);
    json_decref(all);
    return s;
}

static ton_api *client(canned *c, unsigned retries, const char *key) {
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2", c->port);
    ton_api_config cfg = {.base_url = url,
                          .api_key = key,
                          .timeout_ms = 5000,
                          .max_retries = retries,
                          .backoff_ms = 10};
    ton_api *api;
    assert_int_equal(ton_api_new(&cfg, &api), ERR_OK);
    return api;
}

static void test_account_after_rate_limit(void **state) {
    (void)state;
    canned c = {0};
    add(&c, 429, "{\"ok\":false,\"error\":\"Ratelimit exceed\",\"code\":429}");
    add(&c, 503, "{\"ok\":false,\"error\":\"busy\",\"code\":503}");
    char *s = sample("getAddressInformation");
    add(&c, 200, s);
    free(s);
    canned_start(&c);
    ton_api *api = client(&c, 2, "sekrit");
    ton_addr a;
    assert_int_equal(ton_addr_parse(tu_vec("wallet_v4r2", "address_raw"), &a, NULL), ERR_OK);
    ton_account acc;
    assert_int_equal(ton_api_get_account(api, &a, &acc), ERR_OK);
    assert_int_equal(c.served, 3);
    assert_int_equal(acc.balance, 9893208000ull);
    assert_int_equal(acc.state, TON_ACCOUNT_ACTIVE);
    assert_int_equal(acc.last_tx.lt, 4000000);
    assert_int_equal(acc.sync_utime, 1795560919u);
    char h[65];
    hex_encode(ton_cell_repr_hash(acc.code), 32, h);
    assert_string_equal(h, tu_vec("wallet_v4r2", "code_hash"));
    assert_non_null(strstr(c.requests[2], "GET /api/v2/getAddressInformation?address=0:2a6ee6"));
    assert_non_null(strcasestr(c.requests[2], "X-API-Key: sekrit"));
    ton_account_clear(&acc);
    ton_api_free(api);
    canned_stop(&c);
}

static void test_retries_are_bounded_and_errors_not_retried(void **state) {
    (void)state;
    canned c = {0};
    add(&c, 429, "{\"ok\":false,\"error\":\"Ratelimit exceed\",\"code\":429}");
    add(&c, 429, "{\"ok\":false,\"error\":\"Ratelimit exceed\",\"code\":429}");
    add(&c, 416, "{\"ok\":false,\"error\":\"Incorrect address\",\"code\":416}");
    canned_start(&c);
    ton_api *api = client(&c, 1, NULL);
    ton_addr a = {0, {0}};
    ton_account acc;
    assert_int_equal(ton_api_get_account(api, &a, &acc), ERR_CHAIN_API);
    assert_int_equal(c.served, 2); /* first try + one retry */
    assert_int_equal(ton_api_last_status(api), 429);
    /* a 4xx answer is final */
    assert_int_equal(ton_api_get_account(api, &a, &acc), ERR_CHAIN_API);
    assert_int_equal(c.served, 3);
    assert_non_null(strstr(ton_api_last_error(api), "Incorrect address"));
    ton_api_free(api);
    canned_stop(&c);
}

static void test_get_method_and_transactions_samples(void **state) {
    (void)state;
    canned c = {0};
    char *s1 = sample("runGetMethod_get_public_key");
    char *s2 = sample("getTransactions");
    add(&c, 200, s1);
    add(&c, 200, s2);
    add(&c, 200, "{\"ok\":true,\"result\":{\"stack\":[[\"num\",\"0xzz\"]],\"exit_code\":0}}");
    add(&c, 200, "{\"ok\":true,\"result\":{\"stack\":[],\"exit_code\":\"0\"}}");
    free(s1);
    free(s2);
    canned_start(&c);
    ton_api *api = client(&c, 0, NULL);
    ton_addr a;
    assert_int_equal(ton_addr_parse(tu_vec("wallet_v4r2", "address_raw"), &a, NULL), ERR_OK);
    ton_stack st;
    ton_stack_item args[3];
    memset(args, 0, sizeof(args));
    ton_stack_num_u64(&args[0], 0x7b);
    ton_stack_num_u64(&args[1], 5);
    args[1].neg = true;
    ton_builder b;
    tb_init(&b);
    assert_int_equal(tb_finish(&b, &args[2].cell), ERR_OK);
    args[2].type = TON_STACK_CELL;
    err_t e = ton_api_run_get_method(api, &a, "get_public_key", args, 3, &st);
    if (e != ERR_OK) {
        fail_msg("%s", err_describe(e));
    }
    assert_non_null(strstr(c.requests[0], "\"stack\":[[\"num\",\"0x7b\"],[\"num\",\"-0x5\"],"
                                          "[\"tvm.Cell\",\"te6cckEBAQEAAgAAAEysuc0=\"]]"));
    ton_stack_item_clear(&args[2]);
    assert_int_equal(st.exit_code, 0);
    assert_int_equal(st.n, 1);
    char h[67];
    hex_encode(st.items[0].num, 33, h);
    assert_string_equal(h + 2, tu_vec("ed25519", "public_key"));
    uint64_t v;
    assert_int_equal(ton_stack_get_u64(&st.items[0], &v), ERR_TOO_LARGE);
    ton_stack_clear(&st);

    ton_tx txs[4];
    size_t n;
    assert_int_equal(ton_api_get_transactions(api, &a, NULL, 0, 4, txs, &n), ERR_OK);
    assert_true(n >= 1);
    assert_int_equal(txs[0].id.lt, 4000000);
    assert_true(txs[0].has_in_msg);
    assert_true(txs[0].in_external);
    assert_int_equal(txs[0].fee, 6079994);
    for (size_t i = 0; i < n; i++) {
        ton_tx_clear(&txs[i]);
    }
    /* malformed answers are refused, not half-parsed */
    assert_int_equal(ton_api_run_get_method(api, &a, "seqno", NULL, 0, &st), ERR_MALFORMED);
    assert_int_equal(ton_api_run_get_method(api, &a, "seqno", NULL, 0, &st), ERR_MALFORMED);
    ton_api_free(api);
    canned_stop(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_after_rate_limit),
        cmocka_unit_test(test_retries_are_bounded_and_errors_not_retried),
        cmocka_unit_test(test_get_method_and_transactions_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
