/* The C TON client against a real localton (node localton/server.mjs, started here on
 * 127.0.0.1 with a random port; it exits when this process's pipe closes): fund a v5r1 wallet
 * from the faucet, deploy it with a transfer, confirm by watching transactions, read
 * get-methods, list transactions, estimate a fee; then kill -9 localton, restart it on the same
 * state and see identical balances, seqnos and transaction lt/hashes.
 * Skipped when node or localton's node_modules are missing. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

#include "base/codec.h"
#include "ton/api.h"
#include "ton/boc.h"
#include "ton/cocoon.h"
#include "ton/msg.h"

typedef struct {
    pid_t pid;
    int stdin_fd;
    char url[128];
} localton;

static char g_root[1024];
static char g_state[256];

static int start_localton_with(localton *lt, const char *state_dir, const char *genesis,
                               const char *addresses) {
    int out[2];
    int in[2];
    if (pipe(out) != 0 || pipe(in) != 0) {
        return -1;
    }
    char server[1200];
    snprintf(server, sizeof(server), "%s/localton/server.mjs", g_root);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(in[0], 0);
        close(out[0]);
        close(in[1]);
        if (genesis) {
            execlp("node", "node", server, "--port", "0", "--state", state_dir,
                   "--exit-with-parent", "--genesis", genesis, "--addresses", addresses,
                   (char *)NULL);
        } else {
            execlp("node", "node", server, "--port", "0", "--state", state_dir,
                   "--exit-with-parent", (char *)NULL);
        }
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    lt->pid = pid;
    lt->stdin_fd = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[256];
    int ok = -1;
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "http://127.0.0.1:");
        if (p) {
            p[strcspn(p, "\r\n")] = 0;
            snprintf(lt->url, sizeof(lt->url), "%s/api/v2", p);
            ok = 0;
            break;
        }
    }
    /* keep reading end open via the FILE (leaked until exit; the child may still print) */
    return ok;
}

static int start_localton(localton *lt) {
    return start_localton_with(lt, g_state, NULL, NULL);
}

static void kill9(localton *lt) {
    if (lt->pid <= 0) {
        return; /* never signal a process group by mistake */
    }
    kill(lt->pid, SIGKILL);
    waitpid(lt->pid, NULL, 0);
    close(lt->stdin_fd);
}

static int setup(void **state) {
    (void)state;
    const char *td = getenv("COCOON_TESTDATA");
    snprintf(g_root, sizeof(g_root), "%s/../..", td ? td : "tests/data");
    char nm[1200];
    snprintf(nm, sizeof(nm), "%s/localton/node_modules/@ton/sandbox", g_root);
    struct stat st;
    if (system("node --version > /dev/null 2>&1") != 0 || stat(nm, &st) != 0) {
        return 0; /* the test skips */
    }
    snprintf(g_state, sizeof(g_state), "/tmp/cocoon-localton-test-XXXXXX");
    if (!mkdtemp(g_state)) {
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_state[0]) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_state);
        if (system(cmd) != 0) {
            return -1;
        }
    }
    return 0;
}

typedef struct {
    uint64_t balance;
    ton_tx_id last;
    size_t ntx;
    ton_tx_id txs[8];
} account_view;

static void view(ton_api *api, const ton_addr *a, account_view *v) {
    memset(v, 0, sizeof(*v));
    ton_account acc;
    assert_int_equal(ton_api_get_account(api, a, &acc), ERR_OK);
    v->balance = acc.balance;
    v->last = acc.last_tx;
    ton_account_clear(&acc);
    ton_tx txs[8];
    assert_int_equal(ton_api_get_transactions(api, a, NULL, 0, 8, txs, &v->ntx), ERR_OK);
    for (size_t i = 0; i < v->ntx; i++) {
        v->txs[i] = txs[i].id;
        ton_tx_clear(&txs[i]);
    }
}

static void test_wallet_against_localton(void **state) {
    (void)state;
    if (!g_state[0]) {
        skip();
    }
    localton lt;
    assert_int_equal(start_localton(&lt), 0);
    ton_api_config cfg = {.base_url = lt.url, .timeout_ms = 10000, .max_retries = 2};
    ton_api *api;
    assert_int_equal(ton_api_new(&cfg, &api), ERR_OK);

    uint8_t seed[32];
    memset(seed, 0x21, sizeof(seed));
    ed25519_key k;
    assert_int_equal(ed25519_from_seed(&k, seed), ERR_OK);
    ton_wallet w;
    assert_int_equal(
        ton_wallet_init_v5r1(&w, &k, 0, ton_wallet_v5r1_id(TON_GLOBAL_ID_MAINNET, 0, 0)), ERR_OK);

    uint32_t seqno;
    bool deployed;
    assert_int_equal(ton_api_wallet_seqno(api, &w, &seqno, &deployed), ERR_OK);
    assert_false(deployed);
    assert_int_equal(seqno, 0);

    assert_int_equal(ton_api_local_faucet(api, &w.addr, 5000000000ull), ERR_OK);
    ton_account acc;
    assert_int_equal(ton_api_get_account(api, &w.addr, &acc), ERR_OK);
    assert_int_equal(acc.balance, 5000000000ull);
    assert_int_equal(acc.state, TON_ACCOUNT_UNINIT);
    ton_account_clear(&acc);

    /* deploy + transfer 1 TON in one external */
    ton_addr dest = {0, {0}};
    memset(dest.hash, 0x33, 32);
    ton_int_msg im = {.dest = dest, .value = 1000000000ull, .bounce = false, .ihr_disabled = true};
    ton_wallet_action act = {NULL, TON_SEND_PAY_FEES_SEPARATELY};
    assert_int_equal(ton_msg_internal(&im, &act.msg), ERR_OK);
    ton_sent sent;
    assert_int_equal(ton_api_wallet_send(api, &w, &act, 1, (uint32_t)time(NULL), 600, &sent),
                     ERR_OK);
    assert_int_equal(sent.seqno, 0);
    bool found;
    ton_tx_id txid;
    assert_int_equal(ton_api_find_sent(api, &w, &sent, &found, &txid), ERR_OK);
    assert_true(found);
    assert_true(txid.lt > sent.after_lt);

    /* the same signed body again is refused by the wallet (seqno already used) */
    assert_int_equal(ton_api_wallet_seqno(api, &w, &seqno, &deployed), ERR_OK);
    assert_true(deployed);
    assert_int_equal(seqno, 1);
    ton_cell *replay;
    assert_int_equal(ton_wallet_external(&w, 0, sent.valid_until, &act, 1, false, &replay), ERR_OK);
    uint8_t h[32], hn[32];
    assert_int_equal(ton_api_send(api, replay, h, hn), ERR_CHAIN_REJECTED);
    ton_cell_unref(replay);

    /* get-method with a result we can check: the wallet's public key */
    ton_stack st;
    assert_int_equal(ton_api_run_get_method(api, &w.addr, "get_public_key", NULL, 0, &st), ERR_OK);
    assert_int_equal(st.exit_code, 0);
    assert_int_equal(st.n, 1);
    assert_int_equal(st.items[0].type, TON_STACK_NUM);
    assert_memory_equal(st.items[0].num + 1, k.pub, 32);
    ton_stack_clear(&st);
    assert_int_equal(ton_api_run_get_method(api, &w.addr, "no_such_method", NULL, 0, &st), ERR_OK);
    assert_int_not_equal(st.exit_code, 0);
    ton_stack_clear(&st);

    /* a second transfer, sent and confirmed by the blocking helper */
    ton_transfer_opts topts = {.ttl = 600, .poll_ms = 50, .resend_ms = 200};
    assert_int_equal(ton_api_wallet_transfer(api, &w, &act, 1, &topts, &sent, &txid), ERR_OK);
    assert_int_equal(sent.seqno, 1);
    assert_true(txid.lt > sent.after_lt);

    /* paging: starting at a given (lt, hash) is inclusive */
    ton_tx page[4];
    size_t np;
    assert_int_equal(ton_api_get_transactions(api, &w.addr, NULL, 0, 4, page, &np), ERR_OK);
    assert_int_equal(np, 3);
    ton_tx_id second = page[1].id;
    assert_true(page[0].in_external && page[1].in_external && !page[2].in_external);
    assert_true(page[2].in_has_src); /* the faucet credit */
    for (size_t i = 0; i < np; i++) {
        ton_tx_clear(&page[i]);
    }
    assert_int_equal(ton_api_get_transactions(api, &w.addr, &second, 0, 4, page, &np), ERR_OK);
    assert_int_equal(np, 2);
    assert_int_equal(page[0].id.lt, second.lt);
    assert_memory_equal(page[0].id.hash, second.hash, 32);
    for (size_t i = 0; i < np; i++) {
        ton_tx_clear(&page[i]);
    }
    /* to_lt stops the walk */
    assert_int_equal(ton_api_get_transactions(api, &w.addr, NULL, second.lt, 4, page, &np), ERR_OK);
    assert_int_equal(np, 1);
    ton_tx_clear(&page[0]);

    ton_fees fees;
    ton_cell *body;
    assert_int_equal(ton_wallet_body(&w, 2, (uint32_t)time(NULL) + 600, &act, 1, &body), ERR_OK);
    assert_int_equal(ton_api_estimate_fee(api, &w.addr, body, NULL, NULL, &fees), ERR_OK);
    assert_true(fees.gas_fee > 0);
    ton_cell_unref(body);

    account_view before_w, before_d;
    view(api, &w.addr, &before_w);
    view(api, &dest, &before_d);
    assert_int_equal(before_w.ntx, 3); /* faucet, deploy+transfer, transfer */
    assert_true(before_d.balance > 1900000000ull);

    uint64_t now;
    assert_int_equal(ton_api_local_advance_time(api, 86400, &now), ERR_OK);
    assert_true(now >= (uint64_t)time(NULL) + 86400 - 5);

    /* kill -9 and restart on the same state */
    kill9(&lt);
    ton_api_free(api);
    assert_int_equal(start_localton(&lt), 0);
    cfg.base_url = lt.url;
    assert_int_equal(ton_api_new(&cfg, &api), ERR_OK);
    account_view after_w, after_d;
    view(api, &w.addr, &after_w);
    view(api, &dest, &after_d);
    assert_memory_equal(&after_w, &before_w, sizeof(after_w));
    assert_memory_equal(&after_d, &before_d, sizeof(after_d));
    assert_int_equal(ton_api_wallet_seqno(api, &w, &seqno, &deployed), ERR_OK);
    assert_int_equal(seqno, 2);
    uint32_t mc;
    assert_int_equal(ton_api_masterchain_seqno(api, &mc), ERR_OK);
    assert_true(mc >= 5); /* genesis, faucet, two sends, time move */

    /* the CLI reads the same account */
    const char *bin = getenv("COCOON_BIN");
    char raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&w.addr, raw);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s/../../../cocoon ton account %s --api %s", bin ? bin : ".", raw,
             lt.url);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = {0};
    size_t got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    char want[128];
    snprintf(want, sizeof(want), "balance: %llu\n", (unsigned long long)after_w.balance);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "state: active\n"));
    assert_non_null(strstr(out, "seqno: 2\n"));

    ton_cell_unref(act.msg);
    ton_wallet_free(&w);
    ed25519_wipe(&k);
    ton_api_free(api);
    kill9(&lt);
}

/* The COCOON wallet layout (contracts.md §A.6) against the real contract compiled by
 * contracts/ (contracts/build/wallet.json; skipped when it has not been built): deploy with the
 * first external, send, seqno and public-key get-methods, an expired body refused. */
static void test_cocoon_wallet_against_localton(void **state) {
    (void)state;
    char path[1300];
    snprintf(path, sizeof(path), "%s/contracts/build/wallet.json", g_root);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!g_state[0] || !j) {
        json_decref(j);
        skip();
    }
    const char *b64 = json_string_value(json_object_get(j, "codeBoc64"));
    assert_non_null(b64);
    ton_cell *code;
    assert_int_equal(ton_boc_parse_text(b64, strlen(b64), NULL, &code), ERR_OK);
    json_decref(j);

    localton lt;
    assert_int_equal(start_localton(&lt), 0);
    ton_api_config cfg = {.base_url = lt.url, .timeout_ms = 10000};
    ton_api *api;
    assert_int_equal(ton_api_new(&cfg, &api), ERR_OK);
    uint8_t seed[32];
    memset(seed, 0x44, sizeof(seed));
    ed25519_key k;
    assert_int_equal(ed25519_from_seed(&k, seed), ERR_OK);
    ton_addr owner = {0, {0}};
    memset(owner.hash, 0x0e, 32);
    ton_wallet w;
    assert_int_equal(ton_wallet_init_cocoon(&w, &k, code, 0, &owner), ERR_OK);
    /* the wallet refuses to send below 2 TON (error 1035): fund it well above */
    assert_int_equal(ton_api_local_faucet(api, &w.addr, 5000000000ull), ERR_OK);
    ton_addr dest = {0, {0}};
    memset(dest.hash, 0x66, 32);
    ton_int_msg im = {.dest = dest, .value = 700000000ull, .bounce = false, .ihr_disabled = true};
    ton_wallet_action act = {NULL, 0};
    assert_int_equal(ton_msg_internal(&im, &act.msg), ERR_OK);
    ton_sent sent;
    /* chain time (this state's clock was moved forward by the previous test) */
    ton_account acc;
    assert_int_equal(ton_api_get_account(api, &w.addr, &acc), ERR_OK);
    uint32_t now = acc.sync_utime;
    assert_true(now >= (uint32_t)time(NULL) + 86400 - 5);
    ton_account_clear(&acc);
    err_t e = ton_api_wallet_send(api, &w, &act, 1, now, 3600, &sent);
    if (e != ERR_OK) {
        fail_msg("send: %s (%s)", err_describe(e), ton_api_last_error(api));
    }
    bool found;
    ton_tx_id txid;
    assert_int_equal(ton_api_find_sent(api, &w, &sent, &found, &txid), ERR_OK);
    assert_true(found);
    uint32_t seqno;
    bool deployed;
    assert_int_equal(ton_api_wallet_seqno(api, &w, &seqno, &deployed), ERR_OK);
    assert_true(deployed);
    assert_int_equal(seqno, 1);
    assert_int_equal(ton_api_get_account(api, &dest, &acc), ERR_OK);
    assert_true(acc.balance > 690000000ull && acc.balance <= 700000000ull);
    ton_account_clear(&acc);
    ton_stack st;
    assert_int_equal(ton_api_run_get_method(api, &w.addr, "get_public_key", NULL, 0, &st), ERR_OK);
    assert_int_equal(st.exit_code, 0);
    assert_memory_equal(st.items[0].num + 1, k.pub, 32);
    ton_stack_clear(&st);
    /* an expired body is refused (valid_until <= now: error 1030) */
    ton_cell *old;
    assert_int_equal(ton_wallet_external(&w, 1, now - 10, &act, 1, false, &old), ERR_OK);
    uint8_t h[32], hn[32];
    assert_int_equal(ton_api_send(api, old, h, hn), ERR_CHAIN_REJECTED);
    ton_cell_unref(old);

    ton_cell_unref(act.msg);
    ton_cell_unref(code);
    ton_wallet_free(&w);
    ed25519_wipe(&k);
    ton_api_free(api);
    kill9(&lt);
}

/* localton's cocoon-root genesis deploys the root contract (contracts/scripts/stateinit.js);
 * the C side reads the registry back through the API and parses it with ton/cocoon.h.
 * Skipped when contracts/node_modules is missing. */
static void test_root_genesis_read_from_c(void **state) {
    (void)state;
    char path[1300];
    snprintf(path, sizeof(path), "%s/contracts/node_modules/@ton/core", g_root);
    struct stat st;
    if (!g_state[0] || stat(path, &st) != 0) {
        skip();
    }
    /* a fresh state directory: the genesis runs only on an empty chain */
    char state_dir[300];
    snprintf(state_dir, sizeof(state_dir), "%s/root", g_state);
    char genesis[1300], addresses[400];
    snprintf(genesis, sizeof(genesis), "%s/localton/genesis/cocoon-root.mjs", g_root);
    snprintf(addresses, sizeof(addresses), "%s/addresses.json", g_state);
    ton_addr owner = {0, {0}};
    memset(owner.hash, 0x5c, 32);
    char owner_raw[TON_ADDR_RAW_MAX];
    ton_addr_to_raw(&owner, owner_raw);
    setenv("COCOON_ROOT_OWNER", owner_raw, 1);
    localton lt;
    assert_int_equal(start_localton_with(&lt, state_dir, genesis, addresses), 0);

    json_error_t je;
    json_t *j = json_load_file(addresses, 0, &je);
    assert_non_null(j);
    ton_addr root;
    assert_int_equal(ton_addr_parse(json_string_value(json_object_get(j, "root")), &root, NULL),
                     ERR_OK);
    ton_api_config cfg = {.base_url = lt.url, .timeout_ms = 10000};
    ton_api *api;
    assert_int_equal(ton_api_new(&cfg, &api), ERR_OK);
    ton_account acc;
    assert_int_equal(ton_api_get_account(api, &root, &acc), ERR_OK);
    assert_int_equal(acc.state, TON_ACCOUNT_ACTIVE);
    /* the address is the hash of the StateInit we were served */
    ton_addr derived;
    assert_int_equal(ton_state_init_address(0, acc.code, acc.data, &derived), ERR_OK);
    assert_true(ton_addr_equal(&derived, &root));
    cocoon_root r;
    assert_int_equal(cocoon_root_parse(acc.data, &r), ERR_OK);
    assert_true(r.has_owner);
    assert_true(ton_addr_equal(&r.owner, &owner));
    assert_int_equal(r.nproxies, 0);
    assert_int_equal(r.params.struct_version, COCOON_PARAMS_VERSION);
    char h[65];
    hex_encode(ton_cell_repr_hash(r.params.worker_code), 32, h);
    json_t *hashes = json_object_get(j, "code_hashes");
    assert_string_equal(h, json_string_value(json_object_get(hashes, "worker")));
    hex_encode(ton_cell_repr_hash(acc.code), 32, h);
    assert_string_equal(h, json_string_value(json_object_get(hashes, "root")));
    /* the root's own view through a get-method agrees */
    ton_stack stk;
    assert_int_equal(ton_api_run_get_method(api, &root, "get_cocoon_data", NULL, 0, &stk), ERR_OK);
    assert_int_equal(stk.exit_code, 0);
    uint64_t v;
    assert_int_equal(ton_stack_get_u64(&stk.items[0], &v), ERR_OK);
    assert_int_equal(v, r.version);
    assert_int_equal(ton_stack_get_u64(&stk.items[2], &v), ERR_OK);
    assert_int_equal(v, r.params.params_version);
    ton_stack_clear(&stk);
    cocoon_root_clear(&r);
    ton_account_clear(&acc);
    json_decref(j);
    ton_api_free(api);
    kill9(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wallet_against_localton),
        cmocka_unit_test(test_cocoon_wallet_against_localton),
        cmocka_unit_test(test_root_genesis_read_from_c),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
