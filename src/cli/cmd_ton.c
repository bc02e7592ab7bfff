/* cocoon ton: TON addresses, BOCs and accounts.
 *   address ADDR                      raw or user-friendly in, every form out (key: value)
 *   boc BASE64|HEX|FILE               the cell tree, then "hash: <root representation hash>"
 *   account ADDR [--api URL] [--api-key KEY]
 *                                     balance, state, last transaction (TON HTTP API v2)
 *   fund ADDR NANOTONS [--api URL]    localton faucet (local chains only)
 * The API URL defaults to $COCOON_TON_API, else http://127.0.0.1:8081/api/v2 (localton).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/file.h"
#include "commands.h"
#include "ton/addr.h"
#include "ton/api.h"
#include "ton/boc.h"
#include "ton/cell.h"
#include "util.h"

#define BOC_FILE_MAX (16u << 20)
#define TREE_MAX_LINES 20000

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon ton address ADDR\n"
               "       cocoon ton boc BASE64|HEX|FILE\n"
               "       cocoon ton account ADDR [--api URL] [--api-key KEY]\n"
               "       cocoon ton fund ADDR NANOTONS [--api URL]   (localton only)\n"
               "\n"
               "The API URL defaults to $COCOON_TON_API, else http://127.0.0.1:8081/api/v2.\n");
}

static int cmd_address(int argc, char **argv) {
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    ton_addr a;
    ton_addr_flags f;
    err_t e = ton_addr_parse(argv[1], &a, &f);
    if (e != ERR_OK) {
        return cli_fail("ton address", e, "cannot parse address");
    }
    char raw[TON_ADDR_RAW_MAX];
    char s[TON_ADDR_FRIENDLY_LEN + 1];
    ton_addr_to_raw(&a, raw);
    printf("raw: %s\n", raw);
    ton_addr_to_friendly(&a, true, false, true, s);
    printf("bounceable: %s\n", s);
    ton_addr_to_friendly(&a, false, false, true, s);
    printf("non_bounceable: %s\n", s);
    ton_addr_to_friendly(&a, true, true, true, s);
    printf("test_bounceable: %s\n", s);
    ton_addr_to_friendly(&a, false, true, true, s);
    printf("test_non_bounceable: %s\n", s);
    /* whether the input used the URL-safe alphabet (the forms above always do) */
    printf("url_safe: %s\n", f.friendly && f.url_safe ? "true" : "false");
    printf("input: %s%s%s\n", f.friendly ? "friendly" : "raw",
           f.friendly ? (f.bounceable ? " bounceable" : " non_bounceable") : "",
           f.friendly && f.testnet ? " testnet" : "");
    return 0;
}

/* Fift-style data: hex nibbles; a partial last nibble gets the completion tag and "_". */
static void print_bits(const ton_cell *c) {
    unsigned bits = ton_cell_bits(c);
    const uint8_t *d = ton_cell_data(c);
    unsigned full = bits / 4;
    static const char hx[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < full; i++) {
        putchar(hx[(d[i / 2] >> (i % 2 ? 0 : 4)) & 15]);
    }
    unsigned rem = bits % 4;
    if (rem) {
        unsigned nib = (d[full / 2] >> (full % 2 ? 0 : 4)) & 15;
        nib &= (0xf0u >> rem) & 15;
        nib |= 8u >> rem;
        putchar(hx[nib]);
        putchar('_');
    }
}

static void print_tree(const ton_cell *c, unsigned depth, unsigned *lines) {
    if (++*lines > TREE_MAX_LINES) {
        if (*lines == TREE_MAX_LINES + 1) {
            printf("... (tree truncated after %d lines)\n", TREE_MAX_LINES);
        }
        return;
    }
    printf("%*s", (int)(depth * 2), "");
    static const char *kinds[] = {"", "pruned ", "library ", "merkle_proof ", "merkle_update "};
    unsigned k = ton_cell_kind(c);
    printf("%sx{", ton_cell_is_exotic(c) && k < 5 ? kinds[k] : "");
    print_bits(c);
    printf("}");
    if (ton_cell_level(c)) {
        printf(" level=%u", ton_cell_level(c));
    }
    printf("\n");
    for (unsigned i = 0; i < ton_cell_nrefs(c); i++) {
        print_tree(ton_cell_child(c, i), depth + 1, lines);
    }
}

static int cmd_boc(int argc, char **argv) {
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    const char *arg = argv[1];
    ton_cell *root = NULL;
    err_t e;
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        buf fb;
        buf_init(&fb, BOC_FILE_MAX);
        e = file_read(arg, BOC_FILE_MAX, &fb);
        if (e != ERR_OK) {
            buf_free(&fb);
            return cli_fail("ton boc", e, "cannot read file");
        }
        uint8_t *data = fb.data;
        size_t len = fb.len;
        if (len >= 4 && (data[0] == 0xb5 || data[0] == 0x68 || data[0] == 0xac)) {
            e = ton_boc_parse(data, len, NULL, &root);
        } else {
            while (len > 0 &&
                   (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ')) {
                len--;
            }
            e = ton_boc_parse_text((const char *)data, len, NULL, &root);
        }
        buf_free(&fb);
    } else {
        e = ton_boc_parse_text(arg, strlen(arg), NULL, &root);
    }
    if (e != ERR_OK) {
        return cli_fail("ton boc", e, "cannot parse BOC");
    }
    unsigned lines = 0;
    print_tree(root, 0, &lines);
    char h[65];
    hex_encode(ton_cell_repr_hash(root), 32, h);
    printf("depth: %u\n", (unsigned)ton_cell_repr_depth(root));
    printf("hash: %s\n", h);
    ton_cell_unref(root);
    return 0;
}

static int open_api(const char *url, const char *key, ton_api **api) {
    if (!url) {
        url = getenv("COCOON_TON_API");
    }
    if (!url || !*url) {
        url = "http://127.0.0.1:8081/api/v2";
    }
    ton_api_config cfg = {.base_url = url, .api_key = key, .max_retries = 3};
    err_t e = ton_api_new(&cfg, api);
    return e == ERR_OK ? 0 : cli_fail("ton", e, "cannot set up the API client");
}

static int parse_api_opts(int argc, char **argv, const char **url, const char **key) {
    static const struct option opts[] = {
        {"api", required_argument, NULL, 'a'},
        {"api-key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a') {
            *url = optarg;
        } else if (c == 'k') {
            *key = optarg;
        } else {
            return -1;
        }
    }
    return optind;
}

static int cmd_account(int argc, char **argv) {
    const char *url = NULL;
    const char *key = getenv("COCOON_TON_API_KEY");
    int first = parse_api_opts(argc, argv, &url, &key);
    if (first < 0 || argc - first != 1) {
        usage(stderr);
        return 2;
    }
    ton_addr a;
    err_t e = ton_addr_parse(argv[first], &a, NULL);
    if (e != ERR_OK) {
        return cli_fail("ton account", e, "cannot parse address");
    }
    ton_api *api;
    if (open_api(url, key, &api)) {
        return 1;
    }
    ton_account acc;
    e = ton_api_get_account(api, &a, &acc);
    if (e != ERR_OK) {
        ton_api_free(api);
        return cli_fail("ton account", e, "getAddressInformation failed");
    }
    char raw[TON_ADDR_RAW_MAX];
    char s[TON_ADDR_FRIENDLY_LEN + 1];
    char h[65];
    ton_addr_to_raw(&a, raw);
    ton_addr_to_friendly(&a, true, false, true, s);
    printf("address: %s\n", raw);
    printf("bounceable: %s\n", s);
    printf("state: %s\n", ton_account_state_name(acc.state));
    printf("balance: %" PRIu64 "\n", acc.balance);
    printf("balance_ton: %" PRIu64 ".%09" PRIu64 "\n", acc.balance / 1000000000u,
           acc.balance % 1000000000u);
    printf("last_tx_lt: %" PRIu64 "\n", acc.last_tx.lt);
    hex_encode(acc.last_tx.hash, 32, h);
    printf("last_tx_hash: %s\n", h);
    if (acc.code) {
        hex_encode(ton_cell_repr_hash(acc.code), 32, h);
        printf("code_hash: %s\n", h);
    }
    if (acc.data) {
        hex_encode(ton_cell_repr_hash(acc.data), 32, h);
        printf("data_hash: %s\n", h);
    }
    if (acc.state == TON_ACCOUNT_ACTIVE) {
        ton_stack st;
        uint64_t seqno;
        if (ton_api_run_get_method(api, &a, "seqno", NULL, 0, &st) == ERR_OK) {
            if (st.exit_code == 0 && st.n == 1 && ton_stack_get_u64(&st.items[0], &seqno) == 0) {
                printf("seqno: %" PRIu64 "\n", seqno);
            }
            ton_stack_clear(&st);
        }
    }
    ton_account_clear(&acc);
    ton_api_free(api);
    return 0;
}

static int cmd_fund(int argc, char **argv) {
    const char *url = NULL;
    const char *key = NULL;
    int first = parse_api_opts(argc, argv, &url, &key);
    if (first < 0 || argc - first != 2) {
        usage(stderr);
        return 2;
    }
    ton_addr a;
    err_t e = ton_addr_parse(argv[first], &a, NULL);
    if (e != ERR_OK) {
        return cli_fail("ton fund", e, "cannot parse address");
    }
    char *end = NULL;
    unsigned long long amount = strtoull(argv[first + 1], &end, 10);
    if (!end || *end || amount == 0 || argv[first + 1][0] == '-') {
        fprintf(stderr, "cocoon ton fund: NANOTONS must be a positive integer\n");
        return 2;
    }
    ton_api *api;
    if (open_api(url, key, &api)) {
        return 1;
    }
    e = ton_api_local_faucet(api, &a, amount);
    ton_api_free(api);
    if (e != ERR_OK) {
        return cli_fail("ton fund", e, "faucet failed (is this localton?)");
    }
    printf("funded: %llu\n", amount);
    return 0;
}

int cmd_ton(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "address") == 0) {
        return cmd_address(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "boc") == 0) {
        return cmd_boc(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "account") == 0) {
        return cmd_account(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "fund") == 0) {
        return cmd_fund(argc - 1, argv + 1);
    }
    fprintf(stderr, "cocoon ton: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
