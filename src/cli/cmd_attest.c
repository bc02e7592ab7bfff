/* cocoon attest: RA-TLS certificates and TD quotes.
 *   gen-cert --provider fake|tdx|none --out PREFIX [--valid HOURS] [--fake-ca DIR]
 *            [--fake-config FILE] [--tsm-dir DIR] [--rtmr-dir DIR]
 *   show FILE                      certificate (PEM or DER) or raw quote, as key: value lines
 *   verify --cert FILE [--policy FILE] [--fake-ca DIR] [--allow-debug] [--at UNIX]
 *   verify --quote FILE --collateral FILE|DIR | --pccs URL [--pccs-cache DIR] [--time RFC3339]
 *          [--fake-ca DIR] [--accept LIST]
 *   eventlog --log FILE [--table FILE] [--quote FILE]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/eventlog.h"
#include "attest/fake.h"
#include "attest/pccs.h"
#include "attest/provider.h"
#include "attest/quote.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/file.h"
#include "base/log.h"
#include "commands.h"
#include "ratls/cert.h"
#include "ratls/claims.h"
#include "ratls/policy.h"
#include "util.h"

#define FILE_MAX (1u << 20)

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocoon attest gen-cert --provider fake|tdx|none --out PREFIX [--valid HOURS]\n"
            "                              [--fake-ca DIR] [--fake-config FILE]\n"
            "                              [--tsm-dir DIR] [--rtmr-dir DIR]\n"
            "       cocoon attest show FILE\n"
            "       cocoon attest verify --cert FILE [--policy FILE] [--fake-ca DIR]\n"
            "                            [--allow-debug] [--at UNIX_TIME]\n"
            "       cocoon attest verify --quote FILE --collateral FILE|DIR [--time RFC3339]\n"
            "                            [--fake-ca DIR] [--accept STATUS,...]\n"
            "       cocoon attest verify --quote FILE --pccs URL [--pccs-cache DIR] [...]\n"
            "       cocoon attest verify --quotes-from LIST --collateral FILE|DIR [...]\n"
            "       cocoon attest eventlog --log FILE [--table FILE] [--quote FILE]\n"
            "\n"
            "verify --quote runs the full DCAP check (collateral: dcap-qvl JSON or a directory of\n"
            "Intel's loose files, or fetched from a PCCS / Intel PCS v4 URL and cached until its\n"
            "nextUpdate in --pccs-cache, default $COCOON_HOME/pccs-cache) and accepts only\n"
            "UpToDate unless --accept lists more statuses.\n"
            "Exit 0 accepted, 1 rejected, 2 unreadable input.\n"
            "gen-cert writes PREFIX_cert.pem, PREFIX_key.pem (mode 0600) and, with a quote,\n"
            "PREFIX_image_hash.b64. The fake CA defaults to $COCOON_HOME/fake-ca\n"
            "(~/.cocoon/fake-ca). verify pins the fake CA's root only when --fake-ca is given\n"
            "or the policy names it; otherwise Intel's root.\n");
}

static void mkdir_parents(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0700);
            *p = '/';
        }
    }
}

static int gen_cert(int argc, char **argv) {
    static const struct option opts[] = {{"provider", required_argument, NULL, 'p'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"valid", required_argument, NULL, 'v'},
                                         {"fake-ca", required_argument, NULL, 'c'},
                                         {"fake-config", required_argument, NULL, 'f'},
                                         {"tsm-dir", required_argument, NULL, 't'},
                                         {"rtmr-dir", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    attest_provider_config pc;
    memset(&pc, 0, sizeof(pc));
    const char *provider = NULL;
    const char *out = NULL;
    long hours = 24;
    char ca_dir[4096];
    cli_home_path("fake-ca", ca_dir, sizeof(ca_dir));
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            provider = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            if (!cli_parse_long(optarg, 1, 24, &hours)) {
                fprintf(stderr, "cocoon attest: --valid takes 1..24 hours\n");
                return 2;
            }
            break;
        case 'c':
            snprintf(ca_dir, sizeof(ca_dir), "%s", optarg);
            break;
        case 'f':
            pc.fake_config = optarg;
            break;
        case 't':
            pc.tsm_dir = optarg;
            break;
        case 'r':
            pc.rtmr_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!provider || !out || optind != argc) {
        usage(stderr);
        return 2;
    }
    err_t e = attest_provider_kind_parse(provider, &pc.kind);
    if (e != ERR_OK) {
        return cli_fail("attest", e, "--provider");
    }
    if (pc.kind == ATTEST_PROVIDER_FAKE) {
        mkdir_parents(ca_dir);
        pc.fake_ca_dir = ca_dir;
    }
    attest_provider *prov = NULL;
    if ((e = attest_provider_open(&pc, &prov)) != ERR_OK) {
        return cli_fail("attest", e, "opening the quote provider");
    }
    ratls_identity id;
    ratls_identity_init(&id);
    static const char sw[] = "cocoon " COCOON_VERSION;
    ratls_claim claim = {RATLS_CLAIM_SOFTWARE, (const uint8_t *)sw, sizeof(sw) - 1};
    e = ratls_identity_create(&id, prov, clock_unix(), (uint32_t)hours * 3600u, &claim, 1);
    int rc = 0;
    char cert_path[4096];
    char key_path[4096];
    char hash_path[4096];
    snprintf(cert_path, sizeof(cert_path), "%s_cert.pem", out);
    snprintf(key_path, sizeof(key_path), "%s_key.pem", out);
    snprintf(hash_path, sizeof(hash_path), "%s_image_hash.b64", out);
    if (e != ERR_OK) {
        rc = cli_fail("attest", e, "creating the certificate");
    } else if ((e = ratls_identity_save(&id, cert_path, key_path)) != ERR_OK) {
        rc = cli_fail("attest", e, "writing the certificate");
    } else if (id.has_quote) {
        char b64[64];
        b64_encode(id.image_hash, 32, b64, false);
        size_t n = strlen(b64);
        b64[n++] = '\n';
        if ((e = file_write_atomic(hash_path, b64, n, 0644)) != ERR_OK) {
            rc = cli_fail("attest", e, "writing the image hash");
        }
    }
    if (rc == 0) {
        printf("cert: %s\nkey: %s\n", cert_path, key_path);
        if (id.has_quote) {
            printf("image_hash_file: %s\n", hash_path);
            cli_print_hex(stdout, "image_hash", id.image_hash, 32);
        } else {
            printf("quote: none (provider %s)\n", attest_provider_name(prov));
        }
        printf("not_after: %lld\n", (long long)id.not_after);
    }
    ratls_identity_cleanup(&id);
    attest_provider_free(prov);
    return rc;
}

/* A PEM file starts with its armour (after optional whitespace); a quote merely contains
 * PEM certificates inside its certification data. */
static int looks_like_pem(const buf *b) {
    static const char tag[] = "-----BEGIN CERTIFICATE-----";
    size_t i = 0;
    while (i < b->len &&
           (b->data[i] == ' ' || b->data[i] == '\n' || b->data[i] == '\r' || b->data[i] == '\t')) {
        i++;
    }
    return b->len - i >= sizeof(tag) - 1 && memcmp(b->data + i, tag, sizeof(tag) - 1) == 0;
}

/* A certificate file (PEM, or DER that parses as one) into DER; ERR_NOT_FOUND if it is neither. */
static err_t as_cert_der(const buf *file, buf *der) {
    if (looks_like_pem(file)) {
        return ratls_cert_pem_to_der(file->data, file->len, der);
    }
    buf q;
    buf_init(&q, RATLS_QUOTE_MAX);
    err_t e = ratls_cert_quote(file->data, file->len, &q);
    buf_free(&q);
    if (e != ERR_OK) {
        return ERR_NOT_FOUND;
    }
    return buf_append(der, file->data, file->len);
}

static void print_time(const char *key, int64_t t) {
    struct tm tm;
    time_t tt = (time_t)t;
    char s[64] = "?";
    if (gmtime_r(&tt, &tm)) {
        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    printf("%s: %s\n", key, s);
}

static int show(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        usage(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    buf file;
    buf der;
    buf q;
    buf_init(&file, FILE_MAX);
    buf_init(&der, RATLS_CERT_MAX);
    buf_init(&q, FILE_MAX);
    int rc = 0;
    err_t e = file_read(argv[1], FILE_MAX, &file);
    if (e != ERR_OK) {
        rc = cli_fail("attest", e, argv[1]);
        goto out;
    }
    e = as_cert_der(&file, &der);
    if (e == ERR_OK) {
        ratls_policy any;
        ratls_policy_init(&any);
        any.require_tdx = false;
        any.nroots = 0;
        ratls_peer peer;
        /* Only for the fields: signatures are checked by `verify`. */
        err_t ve = ratls_verify_cert(der.data, der.len, &any, clock_unix(), &peer);
        ratls_policy_cleanup(&any);
        printf("kind: ratls-certificate\n");
        cli_print_hex(stdout, "public_key", peer.pubkey, 32);
        print_time("not_before", peer.not_before);
        print_time("not_after", peer.not_after);
        if ((e = ratls_cert_quote(der.data, der.len, &q)) != ERR_OK) {
            rc = cli_fail("attest", e, argv[1]);
            goto out;
        }
        printf("quote: %s\n", q.len ? "present" : "absent");
        (void)ve;
        if (q.len == 0) {
            goto out;
        }
    } else if (e == ERR_NOT_FOUND) {
        if ((e = buf_append(&q, file.data, file.len)) != ERR_OK) {
            rc = cli_fail("attest", e, argv[1]);
            goto out;
        }
    } else {
        rc = cli_fail("attest", e, argv[1]);
        goto out;
    }
    quote qq;
    e = quote_parse(q.data, q.len, &qq);
    if (e != ERR_OK) {
        rc = cli_fail("attest", e, "not a certificate or a TD/SGX quote");
        goto out;
    }
    quote_print(stdout, &qq);
out:
    buf_free(&file);
    buf_free(&der);
    buf_free(&q);
    return rc;
}

static void print_meas(const quote *q) {
    uint8_t h[32];
    quote_image_hash(q, h);
    cli_print_hex(stdout, "image_hash", h, 32);
    if (quote_is_tdx(q)) {
        cli_print_hex(stdout, "mrtd", q->td.mrtd, 48);
        static const char *const names[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
        for (int i = 0; i < 4; i++) {
            cli_print_hex(stdout, names[i], q->td.rtmr[i], 48);
        }
        printf("debug: %s\n", quote_td_debug(q) ? "true" : "false");
        cli_print_hex(stdout, "report_data", q->td.report_data, 64);
    } else {
        cli_print_hex(stdout, "mrenclave", q->sgx.mrenclave, 32);
        cli_print_hex(stdout, "mrsigner", q->sgx.mrsigner, 32);
        cli_print_hex(stdout, "report_data", q->sgx.report_data, 64);
    }
}

static int64_t fixed_clock(void *ctx) {
    return *(const int64_t *)ctx;
}

/* verify --quote: the full DCAP evaluation (attest/dcap.h). */

/* The root quotes are checked against: Intel's, or the fake CA's in fake_dir (which then stays
 * open in *ca for the caller to free). */
static err_t pinned_root(const char *fake_dir, int64_t now, fake_ca **ca, const uint8_t **root) {
    *root = ATTEST_INTEL_ROOT_PUB;
    if (!fake_dir) {
        return ERR_OK;
    }
    TRY(fake_ca_open(fake_dir, now, ca));
    *root = fake_ca_root_pub(*ca);
    return ERR_OK;
}

static int verify_quote(const char *quote_file, const char *coll_file, const char *pccs_url,
                        const char *pccs_cache, const char *time_s, const char *fake_dir,
                        const char *accept) {
    if (!coll_file == !pccs_url) {
        fprintf(stderr,
                "cocoon attest: verify --quote needs --collateral FILE|DIR or --pccs URL\n");
        return 2;
    }
    buf qb;
    buf_init(&qb, FILE_MAX);
    collateral *c = NULL;
    fake_ca *ca = NULL;
    int rc = 0;
    int64_t now = clock_unix();
    dcap_policy pol = DCAP_POLICY_DEFAULT;
    quote q;
    err_t e = ERR_OK;
    if ((time_s && (e = dcap_parse_time(time_s, &now)) != ERR_OK) ||
        (accept && (e = dcap_policy_parse_statuses(accept, &pol)) != ERR_OK)) {
        rc = cli_fail("attest", e, time_s && e != ERR_OK ? "--time" : "--accept");
        rc = 2;
        goto out;
    }
    if ((e = file_read(quote_file, FILE_MAX, &qb)) != ERR_OK ||
        (e = quote_parse(qb.data, qb.len, &q)) != ERR_OK) {
        cli_fail("attest", e, quote_file);
        rc = 2;
        goto out;
    }
    const uint8_t *root = NULL;
    if ((e = pinned_root(fake_dir, now, &ca, &root)) != ERR_OK) {
        cli_fail("attest", e, fake_dir);
        rc = 2;
        goto out;
    }
    if (coll_file && (e = collateral_load(coll_file, &c)) != ERR_OK) {
        cli_fail("attest", e, coll_file);
        rc = 2;
        goto out;
    }
    if (pccs_url) {
        /* The PCCS client checks what it fetches against the same pinned root at the same
         * time, so a refused download is reported as a rejection with its reason. */
        char cache[4096];
        if (!pccs_cache) {
            cli_home_path("pccs-cache", cache, sizeof(cache));
            mkdir_parents(cache);
            pccs_cache = cache;
        }
        int64_t at = now;
        pccs_config pc = {.url = pccs_url,
                          .cache_dir = pccs_cache,
                          .roots = (const uint8_t(*)[64])root,
                          .nroots = 1,
                          .clock = fixed_clock,
                          .clock_ctx = &at};
        pccs_client *pcl = NULL;
        bool cached = false;
        if ((e = pccs_new(&pc, &pcl)) != ERR_OK) {
            cli_fail("attest", e, "--pccs");
            rc = 2;
            goto out;
        }
        e = pccs_get_for_quote(pcl, &q, &c, &cached);
        pccs_free(pcl);
        if (e != ERR_OK) {
            if (err_category(e) == ERRCAT_IO || e == ERR_NOT_FOUND || e == ERR_TOO_LARGE) {
                cli_fail("attest", e, pccs_url);
                rc = 2;
            } else {
                printf("verdict: rejected\nerror: %s\nreason: collateral from %s: %s\n",
                       err_name(e), pccs_url, err_detail()[0] ? err_detail() : err_describe(e));
                rc = 1;
            }
            goto out;
        }
        printf("collateral_source: %s\n", cached ? "cache" : "pccs");
    }
    dcap_result r;
    err_clear_detail();
    e = dcap_verify(&q, c, (const uint8_t(*)[64])root, 1, now, &r);
    if (e == ERR_OK) {
        dcap_result_print(stdout, &r, c);
        e = dcap_policy_check(&pol, &r, c);
    }
    if (e != ERR_OK) {
        printf("verdict: rejected\nerror: %s\nreason: %s\n", err_name(e), err_describe(e));
        rc = 1;
    } else {
        printf("verdict: ok\n");
    }
    print_meas(&q);
out:
    fake_ca_free(ca);
    collateral_free(c);
    buf_free(&qb);
    return rc;
}

/* verify --quotes-from LIST --collateral F: the same evaluation as verify --quote for every quote
 * file named in LIST (one path a line), one collateral, one process: a line per quote,
 * "PATH<TAB>ok<TAB>STATUS", "PATH<TAB>rejected<TAB>ERROR" or "PATH<TAB>unreadable<TAB>ERROR".
 * For differential tests and batch audits; exit 2 only if LIST or the collateral is unreadable. */
static int verify_batch(const char *list_file, const char *coll_file, const char *time_s,
                        const char *fake_dir, const char *accept) {
    buf list;
    buf qb;
    buf_init(&list, (size_t)16 << 20);
    buf_init(&qb, FILE_MAX);
    collateral *c = NULL;
    fake_ca *ca = NULL;
    int rc = 0;
    int64_t now = clock_unix();
    dcap_policy pol = DCAP_POLICY_DEFAULT;
    err_t e = ERR_OK;
    if (!coll_file) {
        fprintf(stderr, "cocoon attest: verify --quotes-from needs --collateral FILE|DIR\n");
        rc = 2;
        goto out;
    }
    if ((time_s && (e = dcap_parse_time(time_s, &now)) != ERR_OK) ||
        (accept && (e = dcap_policy_parse_statuses(accept, &pol)) != ERR_OK)) {
        cli_fail("attest", e, time_s && e != ERR_OK ? "--time" : "--accept");
        rc = 2;
        goto out;
    }
    if ((e = file_read(list_file, list.max, &list)) != ERR_OK || (e = buf_u8(&list, 0)) != ERR_OK) {
        cli_fail("attest", e, list_file);
        rc = 2;
        goto out;
    }
    if ((e = collateral_load(coll_file, &c)) != ERR_OK) {
        cli_fail("attest", e, coll_file);
        rc = 2;
        goto out;
    }
    const uint8_t *root = NULL;
    if ((e = pinned_root(fake_dir, now, &ca, &root)) != ERR_OK) {
        cli_fail("attest", e, fake_dir);
        rc = 2;
        goto out;
    }
    for (char *line = (char *)list.data, *next; *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next) {
            *next++ = '\0';
        }
        if (!*line) {
            continue;
        }
        quote q;
        buf_reset(&qb);
        if ((e = file_read(line, FILE_MAX, &qb)) != ERR_OK ||
            (e = quote_parse(qb.data, qb.len, &q)) != ERR_OK) {
            printf("%s\tunreadable\t%s\n", line, err_name(e));
            continue;
        }
        dcap_result r;
        e = dcap_verify(&q, c, (const uint8_t(*)[64])root, 1, now, &r);
        if (e == ERR_OK) {
            e = dcap_policy_check(&pol, &r, c);
        }
        if (e == ERR_OK) {
            printf("%s\tok\t%s\n", line, tcb_status_name(r.tcb.status));
        } else {
            printf("%s\trejected\t%s\n", line, err_name(e));
        }
    }
out:
    fake_ca_free(ca);
    collateral_free(c);
    buf_free(&qb);
    buf_free(&list);
    return rc;
}

static int eventlog_cmd(int argc, char **argv) {
    static const struct option opts[] = {{"log", required_argument, NULL, 'l'},
                                         {"table", required_argument, NULL, 't'},
                                         {"quote", required_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *log_f = NULL;
    const char *table_f = NULL;
    const char *quote_f = NULL;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            log_f = optarg;
            break;
        case 't':
            table_f = optarg;
            break;
        case 'q':
            quote_f = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!log_f || optind != argc) {
        usage(stderr);
        return 2;
    }
    buf lb;
    buf tb;
    buf qb;
    buf_init(&lb, 16u << 20);
    buf_init(&tb, 4096);
    buf_init(&qb, FILE_MAX);
    eventlog l = {0};
    int rc = 0;
    err_t e;
    if (table_f) {
        ccel_table ct;
        if ((e = file_read(table_f, 4096, &tb)) != ERR_OK ||
            (e = ccel_table_parse(tb.data, tb.len, &ct)) != ERR_OK) {
            cli_fail("attest", e, table_f);
            rc = 2;
            goto out;
        }
        printf("ccel: cc_type=%u laml=%llu lasa=0x%llx\n", (unsigned)ct.cc_type,
               (unsigned long long)ct.laml, (unsigned long long)ct.lasa);
    }
    if ((e = file_read(log_f, 16u << 20, &lb)) != ERR_OK ||
        (e = eventlog_parse(lb.data, lb.len, &l)) != ERR_OK) {
        cli_fail("attest", e, log_f);
        rc = 2;
        goto out;
    }
    eventlog_print(stdout, &l);
    if (quote_f) {
        quote q;
        if ((e = file_read(quote_f, FILE_MAX, &qb)) != ERR_OK ||
            (e = quote_parse(qb.data, qb.len, &q)) != ERR_OK) {
            cli_fail("attest", e, quote_f);
            rc = 2;
            goto out;
        }
        err_clear_detail();
        e = eventlog_check_quote(&l, &q);
        if (e == ERR_OK) {
            printf("verdict: ok\n");
        } else {
            printf("verdict: mismatch\nreason: %s\n", err_describe(e));
            rc = 1;
        }
    }
out:
    eventlog_free(&l);
    buf_free(&lb);
    buf_free(&tb);
    buf_free(&qb);
    return rc;
}

static int verify(int argc, char **argv) {
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'},        {"policy", required_argument, NULL, 'p'},
        {"fake-ca", required_argument, NULL, 'f'},     {"allow-debug", no_argument, NULL, 'd'},
        {"at", required_argument, NULL, 'a'},          {"help", no_argument, NULL, 'h'},
        {"quote", required_argument, NULL, 'q'},       {"collateral", required_argument, NULL, 'C'},
        {"time", required_argument, NULL, 't'},        {"accept", required_argument, NULL, 'A'},
        {"pccs", required_argument, NULL, 'P'},        {"pccs-cache", required_argument, NULL, 'K'},
        {"quotes-from", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
    const char *quote_file = NULL;
    const char *coll_file = NULL;
    const char *pccs_url = NULL;
    const char *pccs_cache = NULL;
    const char *quotes_from = NULL;
    const char *time_s = NULL;
    const char *accept = NULL;
    const char *cert = NULL;
    const char *policy = NULL;
    const char *fake_dir = NULL;
    int allow_debug = 0;
    long at = 0;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            cert = optarg;
            break;
        case 'p':
            policy = optarg;
            break;
        case 'f':
            fake_dir = optarg;
            break;
        case 'd':
            allow_debug = 1;
            break;
        case 'a':
            if (!cli_parse_long(optarg, 1, 253402300799L, &at)) {
                fprintf(stderr, "cocoon attest: --at takes a Unix time\n");
                return 2;
            }
            break;
        case 'q':
            quote_file = optarg;
            break;
        case 'C':
            coll_file = optarg;
            break;
        case 't':
            time_s = optarg;
            break;
        case 'A':
            accept = optarg;
            break;
        case 'P':
            pccs_url = optarg;
            break;
        case 'K':
            pccs_cache = optarg;
            break;
        case 'L':
            quotes_from = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (quotes_from && !quote_file && !pccs_url && !cert && optind == argc && !policy &&
        !allow_debug && !at) {
        return verify_batch(quotes_from, coll_file, time_s, fake_dir, accept);
    }
    if (quote_file && !quotes_from && !cert && optind == argc && !policy && !allow_debug && !at) {
        return verify_quote(quote_file, coll_file, pccs_url, pccs_cache, time_s, fake_dir, accept);
    }
    if (!cert || optind != argc || quote_file || quotes_from || coll_file || pccs_url ||
        pccs_cache || time_s || accept) {
        usage(stderr);
        return 2;
    }
    ratls_policy pol;
    ratls_policy_init(&pol);
    buf file;
    buf der;
    buf_init(&file, FILE_MAX);
    buf_init(&der, RATLS_CERT_MAX);
    fake_ca *ca = NULL;
    int rc = 0;
    int64_t now = at ? at : clock_unix();
    err_t e = ERR_OK;
    if (policy) {
        if ((e = file_read(policy, FILE_MAX, &file)) != ERR_OK ||
            (e = ratls_policy_from_json(&pol, (const char *)file.data, file.len)) != ERR_OK) {
            rc = cli_fail("attest", e, policy);
            goto out;
        }
        buf_reset(&file);
    }
    if (allow_debug) {
        pol.allow_debug = true;
    }
    if (fake_dir) {
        if ((e = fake_ca_open(fake_dir, now, &ca)) != ERR_OK ||
            (e = ratls_policy_add_root(&pol, fake_ca_root_pub(ca))) != ERR_OK) {
            rc = cli_fail("attest", e, fake_dir);
            goto out;
        }
    }
    if ((e = file_read(cert, FILE_MAX, &file)) != ERR_OK) {
        rc = cli_fail("attest", e, cert);
        goto out;
    }
    if ((e = as_cert_der(&file, &der)) != ERR_OK) {
        rc = cli_fail("attest", e == ERR_NOT_FOUND ? ERR_CERT_FORMAT : e, cert);
        goto out;
    }
    ratls_peer peer;
    err_clear_detail();
    e = ratls_verify_cert(der.data, der.len, &pol, now, &peer);
    if (e != ERR_OK) {
        printf("verdict: rejected\nerror: %s\nreason: %s\n", err_name(e), err_describe(e));
        rc = 1;
        goto out;
    }
    printf("verdict: ok\nattested: %s\n", peer.attested ? "true" : "false");
    cli_print_hex(stdout, "public_key", peer.pubkey, 32);
    print_time("not_after", peer.not_after);
    if (peer.attested) {
        cli_print_hex(stdout, "image_hash", peer.image_hash, 32);
        cli_print_hex(stdout, "mrtd", peer.mrtd, 48);
        cli_print_hex(stdout, "root_key_id", peer.root_key_id, 48);
    }
out:
    fake_ca_free(ca);
    buf_free(&file);
    buf_free(&der);
    ratls_policy_cleanup(&pol);
    return rc;
}

int cmd_attest(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "gen-cert") == 0) {
        return gen_cert(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "show") == 0) {
        return show(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "verify") == 0) {
        return verify(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "eventlog") == 0) {
        return eventlog_cmd(argc - 1, argv + 1);
    }
    fprintf(stderr, "cocoon attest: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
