#include "fake.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attest/quote.h"
#include "attest/verify.h"
#include "base/codec.h"
#include "base/file.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/x509.h"

#define DAY 86400
#define YEAR (365 * DAY)
#define PEM_FILE_MAX ((size_t)64 << 10)
#define DIR_PATH_MAX 3800

/* Files of a CA directory. */
enum { F_ROOT_KEY, F_ROOT_CERT, F_CA_KEY, F_CA_CERT, F_PCK_KEY, F_PCK_CERT, F_COUNT };
static const char *const FILES[F_COUNT] = {"root_key.pem",    "root_cert.pem", "pck_ca_key.pem",
                                           "pck_ca_cert.pem", "pck_key.pem",   "pck_cert.pem"};

struct fake_ca {
    p256_key pck_key;
    uint8_t root_pub[64];
    buf chain_pem;    /* PCK leaf ‖ PCK CA ‖ root, PEM, plus Intel's trailing NUL */
    p256_key keys[3]; /* root, PCK CA, PCK: collateral (CRLs, TCB signing) is issued here */
    x509_cert *certs[3];
};

/* ---- the PCK certificate's SGX extension (attestation.md §1.4) ---- */

static err_t der_tlv(buf *b, uint8_t tag, const uint8_t *v, size_t n) {
    TRY(buf_u8(b, tag));
    if (n < 0x80) {
        TRY(buf_u8(b, (uint8_t)n));
    } else if (n < 0x100) {
        TRY(buf_u8(b, 0x81));
        TRY(buf_u8(b, (uint8_t)n));
    } else {
        TRY(buf_u8(b, 0x82));
        TRY(buf_u16be(b, (uint16_t)n));
    }
    return buf_append(b, v, n);
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<arcs>, value TLV } */
static err_t sgx_entry(buf *out, const uint8_t *arcs, size_t narcs, uint8_t tag, const uint8_t *v,
                       size_t n) {
    static const uint8_t prefix[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
    uint8_t oid[sizeof(prefix) + 2];
    memcpy(oid, prefix, sizeof(prefix));
    memcpy(oid + sizeof(prefix), arcs, narcs);
    buf e;
    buf_init(&e, 4096);
    err_t r = der_tlv(&e, 0x06, oid, sizeof(prefix) + narcs);
    if (r == ERR_OK) {
        r = der_tlv(&e, tag, v, n);
    }
    if (r == ERR_OK) {
        r = der_tlv(out, 0x30, e.data, e.len);
    }
    buf_free(&e);
    return r;
}

static err_t build_sgx_ext(buf *out) {
    buf seq;
    buf tcb;
    buf_init(&seq, 4096);
    buf_init(&tcb, 4096);
    static const uint8_t ppid[16] = {0};
    err_t e = sgx_entry(&seq, (const uint8_t[]){1}, 1, 0x04, ppid, 16);
    for (uint8_t i = 1; e == ERR_OK && i <= 16; i++) {
        uint8_t svn = FAKE_PCK_COMP_SVN;
        e = sgx_entry(&tcb, (const uint8_t[]){2, i}, 2, 0x02, &svn, 1);
    }
    if (e == ERR_OK) {
        uint8_t pcesvn = FAKE_PCK_PCESVN;
        e = sgx_entry(&tcb, (const uint8_t[]){2, 17}, 2, 0x02, &pcesvn, 1);
    }
    if (e == ERR_OK) {
        uint8_t cpusvn[16];
        memset(cpusvn, FAKE_PCK_COMP_SVN, sizeof(cpusvn));
        e = sgx_entry(&tcb, (const uint8_t[]){2, 18}, 2, 0x04, cpusvn, 16);
    }
    if (e == ERR_OK) {
        e = sgx_entry(&seq, (const uint8_t[]){2}, 1, 0x30, tcb.data, tcb.len);
    }
    if (e == ERR_OK) {
        static const uint8_t pceid[2] = {0, 0};
        e = sgx_entry(&seq, (const uint8_t[]){3}, 1, 0x04, pceid, 2);
    }
    if (e == ERR_OK) {
        static const uint8_t fmspc[6] = FAKE_FMSPC_BYTES;
        e = sgx_entry(&seq, (const uint8_t[]){4}, 1, 0x04, fmspc, 6);
    }
    if (e == ERR_OK) {
        static const uint8_t type = 0;
        e = sgx_entry(&seq, (const uint8_t[]){5}, 1, 0x0a, &type, 1);
    }
    if (e == ERR_OK) {
        e = der_tlv(out, 0x30, seq.data, seq.len);
    }
    buf_free(&seq);
    buf_free(&tcb);
    return e;
}

static err_t path_join(char *out, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap) {
        return err_fail(ERR_CONFIG, "fake CA path too long: %s", dir);
    }
    return ERR_OK;
}

/* ---- creating a CA ---- */

typedef struct {
    p256_key key[3]; /* root, ca, pck */
    x509_cert *cert[3];
} ca_material;

static void material_free(ca_material *m) {
    for (int i = 0; i < 3; i++) {
        x509_cert_free(m->cert[i]);
        mem_wipe(&m->key[i], sizeof(m->key[i]));
    }
}

static err_t material_generate(ca_material *m, int64_t now) {
    static const char *const cns[3] = {FAKE_CA_ROOT_CN, FAKE_CA_PCK_CA_CN, FAKE_CA_PCK_CN};
    /* Intel's layout: root pathlen 1, PCK CA pathlen 0, PCK leaf end-entity. */
    static const int pathlen[3] = {1, 0, -1};
    const int64_t life[3] = {20 * (int64_t)YEAR, 20 * (int64_t)YEAR, 10 * (int64_t)YEAR};
    buf ext;
    buf_init(&ext, 4096);
    err_t e = build_sgx_ext(&ext);
    for (int i = 0; i < 3 && e == ERR_OK; i++) {
        if ((e = p256_generate(&m->key[i])) != ERR_OK) {
            break;
        }
        x509_issue_params p = {
            .cn = cns[i],
            .org = "COCOON development (not Intel)",
            .subject_pub = m->key[i].pub,
            .issuer = i == 0 ? NULL : m->cert[i - 1],
            .issuer_key = &m->key[i == 0 ? 0 : i - 1],
            .not_before = now - DAY,
            .not_after = now + life[i],
            .ca = i < 2,
            .pathlen = pathlen[i],
            /* Intel's SGX extension on the PCK leaf: FMSPC, PCE-ID and the TCB that the fake
             * collateral's TCB info rates UpToDate. */
            .ext_oid = i == 2 ? "1.2.840.113741.1.13.1" : NULL,
            .ext_der = ext.data,
            .ext_der_len = ext.len,
        };
        e = x509_cert_issue(&p, &m->cert[i]);
    }
    buf_free(&ext);
    return e;
}

static err_t write_file(const char *dir, const char *name, const buf *b, mode_t mode) {
    char path[4096];
    TRY(path_join(path, sizeof(path), dir, name));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return err_fail(ERR_IO, "%s: %s", path, strerror(errno));
    }
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            int en = errno;
            close(fd);
            return err_fail(ERR_IO, "%s: %s", path, strerror(en));
        }
        off += (size_t)w;
    }
    int rc = fsync(fd);
    int en = errno;
    close(fd);
    return rc == 0 ? ERR_OK : err_fail(ERR_IO, "%s: %s", path, strerror(en));
}

static void remove_tree(const char *dir) {
    char path[4096];
    for (int i = 0; i < F_COUNT; i++) {
        if (path_join(path, sizeof(path), dir, FILES[i]) == ERR_OK) {
            unlink(path);
        }
    }
    rmdir(dir);
}

static err_t fsync_dir_of(const char *dir) {
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent) {
        slash[1] = '\0';
    } else if (slash) {
        *slash = '\0';
    } else {
        snprintf(parent, sizeof(parent), ".");
    }
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return err_fail(ERR_IO, "%s: %s", parent, strerror(errno));
    }
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? ERR_OK : err_fail(ERR_IO, "fsync %s", parent);
}

/* Builds the CA in dir.tmp.XXXXXX and renames it to dir. rename(2) of a directory fails with
 * EEXIST/ENOTEMPTY when another process got there first: then theirs is used. */
static err_t ca_create(const char *dir, int64_t now) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", dir) >= sizeof(tmp)) {
        return err_fail(ERR_CONFIG, "fake CA path too long");
    }
    if (!mkdtemp(tmp)) {
        return err_fail(ERR_IO, "creating %s: %s", tmp, strerror(errno));
    }
    ca_material m;
    memset(&m, 0, sizeof(m));
    buf b;
    buf_init(&b, PEM_FILE_MAX);
    err_t e = material_generate(&m, now);
    for (int i = 0; e == ERR_OK && i < 3; i++) {
        buf_reset(&b);
        if ((e = x509_p256_key_to_pem(&m.key[i], &b)) == ERR_OK) {
            e = write_file(tmp, FILES[2 * i], &b, 0600);
        }
        buf_reset(&b);
        if (e == ERR_OK && (e = x509_cert_to_pem(m.cert[i], &b)) == ERR_OK) {
            e = write_file(tmp, FILES[2 * i + 1], &b, 0644);
        }
    }
    buf_free(&b);
    material_free(&m);
    if (e == ERR_OK && rename(tmp, dir) != 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            e = err_fail(ERR_IO, "rename %s to %s: %s", tmp, dir, strerror(errno));
        }
        remove_tree(tmp); /* lost the race (or failed): the winner's CA is loaded */
        return e;
    }
    if (e != ERR_OK) {
        remove_tree(tmp);
        return e;
    }
    return fsync_dir_of(dir);
}

/* ---- loading a CA ---- */

static err_t read_pem(const char *dir, int which, buf *out) {
    char path[4096];
    TRY(path_join(path, sizeof(path), dir, FILES[which]));
    buf_init(out, PEM_FILE_MAX);
    err_t e = file_read(path, PEM_FILE_MAX, out);
    if (e != ERR_OK) {
        return err_fail(ERR_STORE, "fake CA %s: %s", path, err_describe(e));
    }
    return ERR_OK;
}

static err_t ca_load(const char *dir, int64_t now, fake_ca *ca) {
    p256_key keys[3];
    x509_cert *certs[3] = {NULL, NULL, NULL};
    x509_chain *ch = NULL;
    buf b;
    buf_init(&b, PEM_FILE_MAX);
    err_t e = ERR_OK;
    for (int i = 0; i < 3 && e == ERR_OK; i++) {
        if ((e = read_pem(dir, 2 * i, &b)) == ERR_OK) {
            if (x509_p256_key_from_pem(b.data, b.len, &keys[i]) != ERR_OK) {
                e = err_fail(ERR_STORE, "fake CA %s/%s: not a P-256 key", dir, FILES[2 * i]);
            }
        }
        buf_free(&b);
        if (e == ERR_OK && (e = read_pem(dir, 2 * i + 1, &b)) == ERR_OK) {
            uint8_t pub[64];
            if (x509_cert_from_pem(b.data, b.len, &certs[i]) != ERR_OK ||
                x509_cert_p256_pub(certs[i], pub) != ERR_OK || memcmp(pub, keys[i].pub, 64) != 0) {
                e = err_fail(ERR_STORE, "fake CA %s/%s: not the certificate of %s", dir,
                             FILES[2 * i + 1], FILES[2 * i]);
            }
        }
        buf_free(&b);
    }
    if (e != ERR_OK) {
        goto out;
    }
    buf_init(&ca->chain_pem, 3 * PEM_FILE_MAX);
    for (int i = 2; i >= 0 && e == ERR_OK; i--) {
        e = x509_cert_to_pem(certs[i], &ca->chain_pem);
    }
    if (e == ERR_OK) {
        e = buf_u8(&ca->chain_pem, 0); /* Intel counts a trailing NUL in the chain size */
    }
    if (e != ERR_OK) {
        goto out;
    }
    /* The same check a verifier will make, so a broken or expired CA fails here, loudly. */
    if ((e = x509_chain_parse(ca->chain_pem.data, ca->chain_pem.len, &ch)) == ERR_OK) {
        e = x509_chain_verify_pinned(ch, (const uint8_t(*)[64])keys[0].pub, 1, now, NULL);
    }
    if (e != ERR_OK) {
        e = err_fail(e == ERR_CERT_EXPIRED || e == ERR_CERT_NOT_YET_VALID ? e : ERR_STORE,
                     "fake CA %s does not verify: %s (delete it to start over)", dir, err_detail());
        goto out;
    }
    /* CAs made by earlier versions lack Intel's SGX extension in the PCK certificate, without
     * which no collateral can be matched to the platform: say so here, not at a peer. */
    buf ext;
    buf_init(&ext, 4096);
    attest_pck_info info;
    if (x509_cert_ext_value(certs[2], "1.2.840.113741.1.13.1", &ext) != ERR_OK ||
        attest_pck_info_parse(ext.data, ext.len, &info) != ERR_OK) {
        e = err_fail(ERR_STORE,
                     "fake CA %s predates the SGX PCK extension; delete the directory to recreate it",
                     dir);
    }
    buf_free(&ext);
    if (e != ERR_OK) {
        goto out;
    }
    ca->pck_key = keys[2];
    memcpy(ca->root_pub, keys[0].pub, 64);
    for (int i = 0; i < 3; i++) {
        ca->keys[i] = keys[i];
        ca->certs[i] = certs[i];
        certs[i] = NULL;
    }
out:
    x509_chain_free(ch);
    for (int i = 0; i < 3; i++) {
        x509_cert_free(certs[i]);
    }
    mem_wipe(keys, sizeof(keys));
    return e;
}

err_t fake_ca_open(const char *dir, int64_t now, fake_ca **out) {
    *out = NULL;
    if (strlen(dir) > DIR_PATH_MAX) {
        return err_fail(ERR_CONFIG, "fake CA path too long");
    }
    char probe[4096];
    TRY(path_join(probe, sizeof(probe), dir, FILES[F_ROOT_CERT]));
    struct stat st;
    if (stat(probe, &st) != 0) {
        if (errno != ENOENT) {
            return err_fail(ERR_IO, "%s: %s", probe, strerror(errno));
        }
        TRY(ca_create(dir, now));
    }
    fake_ca *ca = calloc(1, sizeof(*ca));
    if (!ca) {
        return err_fail(ERR_NOMEM, "fake_ca");
    }
    err_t e = ca_load(dir, now, ca);
    if (e != ERR_OK) {
        fake_ca_free(ca);
        return e;
    }
    *out = ca;
    return ERR_OK;
}

const uint8_t *fake_ca_root_pub(const fake_ca *ca) {
    return ca->root_pub;
}

void fake_ca_free(fake_ca *ca) {
    if (ca) {
        buf_free(&ca->chain_pem);
        mem_wipe(&ca->pck_key, sizeof(ca->pck_key));
        mem_wipe(ca->keys, sizeof(ca->keys));
        for (int i = 0; i < 3; i++) {
            x509_cert_free(ca->certs[i]);
        }
        free(ca);
    }
}

/* ---- measurement config ---- */

void fake_td_config_default(fake_td_config *c) {
    memset(c, 0, sizeof(*c));
    c->td_attributes = 0x10000000u; /* SEPT_VE_DISABLE */
    c->xfam = 0x00000000000602e7u;
}

typedef struct {
    const char *key;
    size_t off;
    size_t len;
    bool u64;
} cfg_field;

#define FIELD(k, n)                                                                                \
    { #k, offsetof(fake_td_config, k), n, false }
static const cfg_field CFG_FIELDS[] = {
    FIELD(tee_tcb_svn, 16),
    FIELD(mrseam, 48),
    FIELD(mrsignerseam, 48),
    {"td_attributes", offsetof(fake_td_config, td_attributes), 8, true},
    {"xfam", offsetof(fake_td_config, xfam), 8, true},
    FIELD(mrtd, 48),
    FIELD(mrconfigid, 48),
    FIELD(mrowner, 48),
    FIELD(mrownerconfig, 48),
    {"rtmr0", offsetof(fake_td_config, rtmr[0]), 48, false},
    {"rtmr1", offsetof(fake_td_config, rtmr[1]), 48, false},
    {"rtmr2", offsetof(fake_td_config, rtmr[2]), 48, false},
    {"rtmr3", offsetof(fake_td_config, rtmr[3]), 48, false},
};
#undef FIELD

err_t fake_td_config_parse(const char *json, size_t len, fake_td_config *c) {
    fake_td_config_default(c);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return err_fail(ERR_CONFIG, "fake TD config: line %d: %s", jerr.line, jerr.text);
    }
    err_t e = ERR_OK;
    if (!json_is_object(root)) {
        e = err_fail(ERR_CONFIG, "fake TD config: expected a JSON object");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        const cfg_field *f = NULL;
        for (size_t i = 0; i < sizeof(CFG_FIELDS) / sizeof(CFG_FIELDS[0]); i++) {
            if (strcmp(key, CFG_FIELDS[i].key) == 0) {
                f = &CFG_FIELDS[i];
            }
        }
        if (!f) {
            e = err_fail(ERR_CONFIG, "fake TD config: unknown key \"%s\"", key);
            goto out;
        }
        if (!json_is_string(val)) {
            e = err_fail(ERR_CONFIG, "fake TD config: %s must be a hex string", key);
            goto out;
        }
        const char *s = json_string_value(val);
        size_t sl = json_string_length(val);
        uint8_t tmp[48];
        size_t n = 0;
        if (sl != 2 * f->len || hex_decode(s, sl, tmp, sizeof(tmp), &n) != ERR_OK || n != f->len) {
            e = err_fail(ERR_CONFIG, "fake TD config: %s must be %zu hex digits (got %zu chars)",
                         key, 2 * f->len, sl);
            goto out;
        }
        uint8_t *dst = (uint8_t *)c + f->off;
        if (f->u64) {
            uint64_t v = 0;
            for (int i = 7; i >= 0; i--) {
                v = (v << 8) | tmp[i]; /* raw little-endian bytes, as printed */
            }
            memcpy(dst, &v, sizeof(v));
        } else {
            memcpy(dst, tmp, f->len);
        }
    }
out:
    json_decref(root);
    return e;
}

err_t fake_td_config_load(const char *path, fake_td_config *c) {
    buf b;
    buf_init(&b, PEM_FILE_MAX);
    err_t e = file_read(path, PEM_FILE_MAX, &b);
    if (e == ERR_OK) {
        e = fake_td_config_parse((const char *)b.data, b.len, c);
    } else {
        e = err_fail(e == ERR_NOT_FOUND ? ERR_CONFIG : e, "fake TD config %s: %s", path,
                     err_detail());
    }
    buf_free(&b);
    return e;
}

/* ---- the fake TD ---- */

struct fake_td {
    fake_td_config cfg;
    p256_key att_key;
    uint8_t qe_id[16];
    uint8_t qe_report[QUOTE_SGX_BODY_SIZE];
    uint8_t qe_report_sig[64];
    uint8_t qe_auth[32];
    buf chain_pem;
};

/* The TD-QE's report (SGX report body layout, attestation.md §1.2). Identity values are made up
 * and say so: they must never match Intel's TD-QE identity (MRSIGNER dc9e2a7c…). */
static void build_qe_report(fake_td *td) {
    uint8_t *r = td->qe_report;
    memset(r, 0, QUOTE_SGX_BODY_SIZE);
    memset(r + 0, 0x0f, 16); /* CPUSVN */
    r[48] = 0x11;            /* ATTRIBUTES.flags = INIT | MODE64BIT */
    r[56] = 0xe7;            /* ATTRIBUTES.xfrm */
    sha256("COCOON fake TD-QE MRENCLAVE", 27, r + 64);
    sha256("COCOON fake TD-QE MRSIGNER", 26, r + 128);
    r[256] = 2; /* ISVPRODID: the TD-QE's product id */
    r[258] = 4; /* ISVSVN */
    /* REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes (§1.5 step 4). */
    hash_ctx *h = hash_new(HASH_SHA256);
    hash_update(h, td->att_key.pub, 64);
    hash_update(h, td->qe_auth, sizeof(td->qe_auth));
    hash_final_free(h, r + 320);
}

err_t fake_td_new(const fake_ca *ca, const fake_td_config *cfg, fake_td **out) {
    *out = NULL;
    fake_td *td = calloc(1, sizeof(*td));
    if (!td) {
        return err_fail(ERR_NOMEM, "fake_td");
    }
    td->cfg = *cfg;
    buf_init(&td->chain_pem, ca->chain_pem.len);
    err_t e = buf_append(&td->chain_pem, ca->chain_pem.data, ca->chain_pem.len);
    if (e == ERR_OK) {
        e = p256_generate(&td->att_key);
    }
    if (e == ERR_OK) {
        for (size_t i = 0; i < sizeof(td->qe_auth); i++) {
            td->qe_auth[i] = (uint8_t)i; /* as in Intel's quotes: 00 01 .. 1f */
        }
        uint8_t h[32];
        sha256(ca->pck_key.pub, 64, h);
        memcpy(td->qe_id, h, 16);
        build_qe_report(td);
        e = p256_sign(&ca->pck_key, td->qe_report, sizeof(td->qe_report), td->qe_report_sig);
    }
    if (e != ERR_OK) {
        fake_td_free(td);
        return e;
    }
    *out = td;
    return ERR_OK;
}

static err_t put_td_body(buf *b, const fake_td_config *c, const uint8_t report_data[64]) {
    TRY(buf_append(b, c->tee_tcb_svn, 16));
    TRY(buf_append(b, c->mrseam, 48));
    TRY(buf_append(b, c->mrsignerseam, 48));
    TRY(buf_u64le(b, 0)); /* SEAMATTRIBUTES: must be zero (Intel QVL) */
    TRY(buf_u64le(b, c->td_attributes));
    TRY(buf_u64le(b, c->xfam));
    TRY(buf_append(b, c->mrtd, 48));
    TRY(buf_append(b, c->mrconfigid, 48));
    TRY(buf_append(b, c->mrowner, 48));
    TRY(buf_append(b, c->mrownerconfig, 48));
    for (int i = 0; i < 4; i++) {
        TRY(buf_append(b, c->rtmr[i], 48));
    }
    return buf_append(b, report_data, 64);
}

static err_t build_quote(fake_td *td, const uint8_t report_data[64], buf *q) {
    /* Header, §1.1. */
    TRY(buf_u16le(q, 4));
    TRY(buf_u16le(q, QUOTE_ATT_KEY_ECDSA_P256));
    TRY(buf_u32le(q, QUOTE_TEE_TDX));
    TRY(buf_u16le(q, 0));
    TRY(buf_u16le(q, 0));
    TRY(buf_append(q, QUOTE_INTEL_QE_VENDOR_ID, 16));
    TRY(buf_append(q, td->qe_id, 16));
    TRY(buf_zeros(q, 4));
    TRY(put_td_body(q, &td->cfg, report_data));
    if (q->len != QUOTE_HEADER_SIZE + QUOTE_TD10_BODY_SIZE) {
        return err_fail(ERR_INTERNAL, "fake quote signed region is %zu bytes", q->len);
    }
    uint8_t sig[64];
    TRY(p256_sign(&td->att_key, q->data, q->len, sig));

    /* Signature data, §1.3: type 6 wrapping type 5. */
    size_t chain = td->chain_pem.len;
    size_t cert6 = QUOTE_SGX_BODY_SIZE + 64 + 2 + sizeof(td->qe_auth) + 2 + 4 + chain;
    size_t sig_len = 64 + 64 + 2 + 4 + cert6;
    TRY(buf_u32le(q, (uint32_t)sig_len));
    TRY(buf_append(q, sig, 64));
    TRY(buf_append(q, td->att_key.pub, 64));
    TRY(buf_u16le(q, QUOTE_CERT_QE_REPORT));
    TRY(buf_u32le(q, (uint32_t)cert6));
    TRY(buf_append(q, td->qe_report, sizeof(td->qe_report)));
    TRY(buf_append(q, td->qe_report_sig, 64));
    TRY(buf_u16le(q, (uint16_t)sizeof(td->qe_auth)));
    TRY(buf_append(q, td->qe_auth, sizeof(td->qe_auth)));
    TRY(buf_u16le(q, QUOTE_CERT_PCK_CHAIN));
    TRY(buf_u32le(q, (uint32_t)chain));
    return buf_append(q, td->chain_pem.data, chain);
}

err_t fake_td_quote(fake_td *td, const uint8_t report_data[64], buf *out) {
    buf q;
    buf_init(&q, QUOTE_MAX_SIZE);
    err_t e = build_quote(td, report_data, &q);
    if (e == ERR_OK) {
        e = buf_append(out, q.data, q.len);
    }
    buf_free(&q);
    return e;
}

err_t fake_td_extend_rtmr(fake_td *td, unsigned idx, const uint8_t digest[48]) {
    if (idx > 3) {
        return err_fail(ERR_CONFIG, "RTMR index %u (0..3)", idx);
    }
    /* TDG.MR.RTMR.EXTEND: RTMR = SHA-384(RTMR ‖ extend data). */
    uint8_t in[96];
    memcpy(in, td->cfg.rtmr[idx], 48);
    memcpy(in + 48, digest, 48);
    sha384(in, sizeof(in), td->cfg.rtmr[idx]);
    return ERR_OK;
}

void fake_td_rtmr(const fake_td *td, unsigned idx, uint8_t out[48]) {
    memcpy(out, td->cfg.rtmr[idx & 3], 48);
}

void fake_td_free(fake_td *td) {
    if (td) {
        buf_free(&td->chain_pem);
        mem_wipe(&td->att_key, sizeof(td->att_key));
        free(td);
    }
}

/* ---- collateral ---- */

#define COLL_LIFE (30 * (int64_t)DAY)

static void fmt_time(int64_t t, char out[21]) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static err_t append_str(buf *b, const char *s) {
    return buf_append(b, s, strlen(s));
}

static err_t components(buf *b, const char *key, int svn) {
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "\"%s\":[", key);
    TRY(append_str(b, tmp));
    for (int i = 0; i < 16; i++) {
        snprintf(tmp, sizeof(tmp), "%s{\"svn\":%d}", i ? "," : "", svn);
        TRY(append_str(b, tmp));
    }
    return append_str(b, "]");
}

static const char ZERO96[] = "0000000000000000000000000000000000000000000000000000000000000000"
                             "00000000000000000000000000000000";

err_t fake_tcb_info_json(int64_t now, buf *out) {
    char issue[21];
    char next[21];
    char tmp[512];
    fmt_time(now - 3600, issue);
    fmt_time(now - 3600 + COLL_LIFE, next);
    snprintf(tmp, sizeof(tmp),
             "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
             "\"fmspc\":\"%s\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,"
             "\"tdxModule\":{\"mrsigner\":\"%s\",\"attributes\":\"0000000000000000\","
             "\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},\"tdxModuleIdentities\":[",
             issue, next, FAKE_FMSPC_HEX, ZERO96);
    TRY(append_str(out, tmp));
    for (int i = 1; i <= 3; i++) {
        snprintf(tmp, sizeof(tmp),
                 "%s{\"id\":\"TDX_%02d\",\"mrsigner\":\"%s\",\"attributes\":\"0000000000000000\","
                 "\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":[{\"tcb\":{\"isvsvn\":0},"
                 "\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}]}",
                 i > 1 ? "," : "", i, ZERO96);
        TRY(append_str(out, tmp));
    }
    TRY(append_str(out, "],\"tcbLevels\":[{\"tcb\":{"));
    TRY(components(out, "sgxtcbcomponents", FAKE_PCK_COMP_SVN));
    snprintf(tmp, sizeof(tmp), ",\"pcesvn\":%d,", FAKE_PCK_PCESVN);
    TRY(append_str(out, tmp));
    TRY(components(out, "tdxtcbcomponents", 0));
    TRY(append_str(out, "},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
                        "{\"tcb\":{"));
    TRY(components(out, "sgxtcbcomponents", 1));
    TRY(append_str(out, ",\"pcesvn\":5,"));
    TRY(components(out, "tdxtcbcomponents", 0));
    return append_str(out, "},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\","
                           "\"advisoryIDs\":[\"INTEL-SA-00000\"]}]}");
}

err_t fake_qe_identity_json(int64_t now, buf *out) {
    char issue[21];
    char next[21];
    uint8_t mrsigner[32];
    char hex[65];
    char tmp[1024];
    fmt_time(now - 3600, issue);
    fmt_time(now - 3600 + COLL_LIFE, next);
    sha256("COCOON fake TD-QE MRSIGNER", 26, mrsigner); /* as build_qe_report */
    hex_encode(mrsigner, 32, hex);
    snprintf(tmp, sizeof(tmp),
             "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
             "\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":"
             "\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":"
             "\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\",\"isvprodid\":2,"
             "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2025-01-01T00:00:00Z\","
             "\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"isvsvn\":1},\"tcbDate\":"
             "\"2023-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\"}]}",
             issue, next, hex);
    return append_str(out, tmp);
}

static err_t json_set_hex(json_t *o, const char *k, const uint8_t *d, size_t n) {
    char *h = malloc(2 * n + 1);
    if (!h) {
        return err_fail(ERR_NOMEM, "hex");
    }
    hex_encode(d, n, h);
    int rc = json_object_set_new(o, k, json_string(h));
    free(h);
    return rc == 0 ? ERR_OK : err_fail(ERR_NOMEM, "json");
}

static err_t json_set_buf(json_t *o, const char *k, const buf *b) {
    json_t *s = json_stringn((const char *)b->data, b->len);
    return s && json_object_set_new(o, k, s) == 0 ? ERR_OK : err_fail(ERR_INTERNAL, "json %s", k);
}

static err_t crl_hex(json_t *o, const char *k, const x509_crl_issue_params *p) {
    x509_crl *crl = NULL;
    buf der;
    buf_init(&der, (size_t)1 << 20);
    err_t e = x509_crl_issue(p, &crl);
    if (e == ERR_OK) {
        e = x509_crl_to_der(crl, &der);
    }
    if (e == ERR_OK) {
        e = json_set_hex(o, k, der.data, der.len);
    }
    x509_crl_free(crl);
    buf_free(&der);
    return e;
}

err_t fake_ca_collateral(const fake_ca *ca, int64_t now, const fake_collateral_opts *opts,
                         buf *out) {
    static const fake_collateral_opts none = {0};
    const fake_collateral_opts *o = opts ? opts : &none;
    p256_key signer;
    x509_cert *signer_cert = NULL;
    buf tcb;
    buf qe;
    buf pem;
    buf_init(&tcb, (size_t)256 << 10);
    buf_init(&qe, (size_t)256 << 10);
    buf_init(&pem, (size_t)64 << 10);
    json_t *j = json_object();
    char *text = NULL;
    err_t e = j ? p256_generate(&signer) : err_fail(ERR_NOMEM, "json");
    if (e == ERR_OK) {
        x509_issue_params p = {
            .cn = FAKE_CA_TCB_SIGNING_CN,
            .org = "COCOON development (not Intel)",
            .subject_pub = signer.pub,
            .issuer = ca->certs[0],
            .issuer_key = &ca->keys[0],
            .not_before = now - DAY,
            .not_after = now + 7 * (int64_t)YEAR,
            .ca = false,
            .pathlen = -1,
        };
        e = x509_cert_issue(&p, &signer_cert);
    }
    /* TCB info and QE identity: signatures over the exact bytes, as Intel signs them. */
    if (e == ERR_OK) {
        e = o->tcb_info ? append_str(&tcb, o->tcb_info) : fake_tcb_info_json(now, &tcb);
    }
    if (e == ERR_OK) {
        e = o->qe_identity ? append_str(&qe, o->qe_identity) : fake_qe_identity_json(now, &qe);
    }
    uint8_t sig[64];
    if (e == ERR_OK && (e = json_set_buf(j, "tcb_info", &tcb)) == ERR_OK &&
        (e = p256_sign(&signer, tcb.data, tcb.len, sig)) == ERR_OK) {
        e = json_set_hex(j, "tcb_info_signature", sig, 64);
    }
    if (e == ERR_OK && (e = json_set_buf(j, "qe_identity", &qe)) == ERR_OK &&
        (e = p256_sign(&signer, qe.data, qe.len, sig)) == ERR_OK) {
        e = json_set_hex(j, "qe_identity_signature", sig, 64);
    }
    if (e == ERR_OK && (e = x509_cert_to_pem(signer_cert, &pem)) == ERR_OK &&
        (e = x509_cert_to_pem(ca->certs[0], &pem)) == ERR_OK &&
        (e = json_set_buf(j, "tcb_info_issuer_chain", &pem)) == ERR_OK) {
        e = json_set_buf(j, "qe_identity_issuer_chain", &pem);
    }
    buf_reset(&pem);
    if (e == ERR_OK && (e = x509_cert_to_pem(ca->certs[1], &pem)) == ERR_OK &&
        (e = x509_cert_to_pem(ca->certs[0], &pem)) == ERR_OK) {
        e = json_set_buf(j, "pck_crl_issuer_chain", &pem);
    }
    int64_t tu = o->crl_this_update ? o->crl_this_update : now - 3600;
    int64_t nu = o->crl_next_update ? o->crl_next_update : now - 3600 + COLL_LIFE;
    const x509_cert *root_revoked[2];
    size_t nroot_revoked = 0;
    if (o->revoke_pck_ca) {
        root_revoked[nroot_revoked++] = ca->certs[1];
    }
    if (o->revoke_tcb_signer) {
        root_revoked[nroot_revoked++] = signer_cert;
    }
    if (e == ERR_OK) {
        x509_crl_issue_params p = {.issuer = ca->certs[0],
                                   .issuer_key = &ca->keys[0],
                                   .this_update = tu,
                                   .next_update = nu,
                                   .revoked = root_revoked,
                                   .nrevoked = nroot_revoked};
        e = crl_hex(j, "root_ca_crl", &p);
    }
    if (e == ERR_OK) {
        const x509_cert *pck[1] = {ca->certs[2]};
        x509_crl_issue_params p = {.issuer = ca->certs[1],
                                   .issuer_key = &ca->keys[1],
                                   .this_update = tu,
                                   .next_update = nu,
                                   .revoked = pck,
                                   .nrevoked = o->revoke_pck ? 1 : 0};
        e = crl_hex(j, "pck_crl", &p);
    }
    if (e == ERR_OK && !(text = json_dumps(j, JSON_INDENT(2)))) {
        e = err_fail(ERR_NOMEM, "json");
    }
    if (e == ERR_OK) {
        e = append_str(out, text);
    }
    free(text);
    json_decref(j);
    x509_cert_free(signer_cert);
    mem_wipe(&signer, sizeof(signer));
    buf_free(&tcb);
    buf_free(&qe);
    buf_free(&pem);
    return e;
}
