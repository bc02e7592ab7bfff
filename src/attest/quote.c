#include "quote.h"

#include <string.h>

#include "base/codec.h"
#include "base/cur.h"
#include "crypto/hash.h"

const uint8_t QUOTE_INTEL_QE_VENDOR_ID[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                              0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* Every read of the hostile quote goes through the cursor; a short read becomes a format
 * error naming the field, so `attest show` on a random file says what is missing. */
#define RD(expr, what)                                                                             \
    do {                                                                                           \
        if ((expr) != ERR_OK) {                                                                    \
            return err_fail(ERR_QUOTE_FORMAT, "truncated at %s (%zu bytes left)", what,            \
                            cur_left(c));                                                          \
        }                                                                                          \
    } while (0)

/* SGX report body layout: attestation.md §1.2 (DCAP sgx_report_body_t). */
static err_t parse_sgx_report(cur *c, quote_sgx_report *r) {
    RD(cur_copy(c, r->cpusvn, 16), "cpusvn");
    RD(cur_u32le(c, &r->miscselect), "miscselect");
    RD(cur_skip(c, 12), "reserved1");
    RD(cur_copy(c, r->isvextprodid, 16), "isvextprodid");
    RD(cur_copy(c, r->attributes, 16), "attributes");
    RD(cur_copy(c, r->mrenclave, 32), "mrenclave");
    RD(cur_skip(c, 32), "reserved2");
    RD(cur_copy(c, r->mrsigner, 32), "mrsigner");
    RD(cur_skip(c, 32), "reserved3");
    RD(cur_copy(c, r->configid, 64), "configid");
    RD(cur_u16le(c, &r->isvprodid), "isvprodid");
    RD(cur_u16le(c, &r->isvsvn), "isvsvn");
    RD(cur_u16le(c, &r->configsvn), "configsvn");
    RD(cur_skip(c, 42), "reserved4");
    RD(cur_copy(c, r->isvfamilyid, 16), "isvfamilyid");
    RD(cur_copy(c, r->report_data, 64), "report_data");
    return ERR_OK;
}

/* TD report body: attestation.md §1.2 (DCAP sgx_report2_body_t / _v1_5_t). */
static err_t parse_td_report(cur *c, bool td15, quote_td_report *r) {
    RD(cur_copy(c, r->tee_tcb_svn, 16), "tee_tcb_svn");
    RD(cur_copy(c, r->mrseam, 48), "mrseam");
    RD(cur_copy(c, r->mrsignerseam, 48), "mrsignerseam");
    RD(cur_u64le(c, &r->seam_attributes), "seam_attributes");
    RD(cur_u64le(c, &r->td_attributes), "td_attributes");
    RD(cur_u64le(c, &r->xfam), "xfam");
    RD(cur_copy(c, r->mrtd, 48), "mrtd");
    RD(cur_copy(c, r->mrconfigid, 48), "mrconfigid");
    RD(cur_copy(c, r->mrowner, 48), "mrowner");
    RD(cur_copy(c, r->mrownerconfig, 48), "mrownerconfig");
    for (int i = 0; i < 4; i++) {
        RD(cur_copy(c, r->rtmr[i], 48), "rtmr");
    }
    RD(cur_copy(c, r->report_data, 64), "report_data");
    if (td15) {
        RD(cur_copy(c, r->tee_tcb_svn2, 16), "tee_tcb_svn2");
        RD(cur_copy(c, r->mrservicetd, 48), "mrservicetd");
    }
    return ERR_OK;
}

static err_t take_bytes(cur *c, size_t n, quote_bytes *out) {
    const uint8_t *p;
    TRY(cur_take(c, n, &p));
    out->p = p;
    out->len = n;
    return ERR_OK;
}

/* QE report, its signature, QE auth data and the inner certification data: the payload of
 * type-6 certification data in v4/v5, and the tail of the v3 signature data (§1.3). */
static err_t parse_qe_part(cur *c, quote *q) {
    const uint8_t *raw;
    RD(cur_take(c, QUOTE_SGX_BODY_SIZE, &raw), "qe_report");
    q->qe_report_raw.p = raw;
    q->qe_report_raw.len = QUOTE_SGX_BODY_SIZE;
    cur rc;
    cur_init(&rc, raw, QUOTE_SGX_BODY_SIZE);
    TRY(parse_sgx_report(&rc, &q->qe_report));
    RD(cur_take(c, 64, &q->qe_report_sig), "qe_report_sig");
    uint16_t n;
    RD(cur_u16le(c, &n), "qe_auth_data_size");
    RD(take_bytes(c, n, &q->qe_auth_data), "qe_auth_data");
    RD(cur_u16le(c, &q->pck_cert_type), "pck_cert_type");
    uint32_t cl;
    RD(cur_u32le(c, &cl), "pck_cert_size");
    RD(take_bytes(c, cl, &q->pck_chain), "pck_cert_data");
    if (cur_left(c) != 0) {
        return err_fail(ERR_QUOTE_FORMAT, "%zu unexpected bytes after the certification data",
                        cur_left(c));
    }
    q->has_qe_report = true;
    return ERR_OK;
}

static err_t parse_sig_data(cur *c, quote *q) {
    RD(cur_take(c, 64, &q->quote_sig), "quote_signature");
    RD(cur_take(c, 64, &q->att_key), "attestation_key");
    if (q->version == 3) {
        /* v3: the QE part follows directly; no type-6 wrapper. */
        TRY(parse_qe_part(c, q));
        q->cert_data_type = q->pck_cert_type;
        q->cert_data = q->pck_chain;
        return ERR_OK;
    }
    RD(cur_u16le(c, &q->cert_data_type), "cert_data_type");
    uint32_t size;
    RD(cur_u32le(c, &size), "cert_data_size");
    RD(take_bytes(c, size, &q->cert_data), "cert_data");
    if (cur_left(c) != 0) {
        return err_fail(ERR_QUOTE_FORMAT, "%zu unexpected bytes after the certification data",
                        cur_left(c));
    }
    if (q->cert_data_type != QUOTE_CERT_QE_REPORT) {
        /* Not decodable offline; quote_verify_signatures refuses it (Intel accepts only 6). */
        return ERR_OK;
    }
    cur inner;
    cur_init(&inner, q->cert_data.p, q->cert_data.len);
    return parse_qe_part(&inner, q);
}

err_t quote_parse(const uint8_t *data, size_t len, quote *q) {
    memset(q, 0, sizeof(*q));
    if (len > QUOTE_MAX_SIZE) {
        return err_fail(ERR_TOO_LARGE, "quote of %zu bytes exceeds %u", len, QUOTE_MAX_SIZE);
    }
    cur cc;
    cur *c = &cc;
    cur_init(c, data, len);

    /* Header, §1.1. */
    RD(cur_u16le(c, &q->version), "version");
    RD(cur_u16le(c, &q->att_key_type), "att_key_type");
    RD(cur_u32le(c, &q->tee_type), "tee_type");
    RD(cur_u16le(c, &q->qe_svn), "qe_svn");
    RD(cur_u16le(c, &q->pce_svn), "pce_svn");
    RD(cur_copy(c, q->qe_vendor_id, 16), "qe_vendor_id");
    RD(cur_copy(c, q->user_data, 20), "user_data");
    if (q->tee_type != QUOTE_TEE_SGX && q->tee_type != QUOTE_TEE_TDX) {
        return err_fail(ERR_QUOTE_VERSION, "unknown tee_type 0x%08x", (unsigned)q->tee_type);
    }

    /* Body, §1.2. */
    switch (q->version) {
    case 3:
        if (q->tee_type != QUOTE_TEE_SGX) {
            return err_fail(ERR_QUOTE_VERSION, "v3 quote with tee_type 0x%08x",
                            (unsigned)q->tee_type);
        }
        q->body_type = QUOTE_BODY_SGX;
        q->body_size = QUOTE_SGX_BODY_SIZE;
        break;
    case 4:
        q->body_type = q->tee_type == QUOTE_TEE_TDX ? QUOTE_BODY_TD10 : QUOTE_BODY_SGX;
        q->body_size = q->body_type == QUOTE_BODY_TD10 ? QUOTE_TD10_BODY_SIZE : QUOTE_SGX_BODY_SIZE;
        break;
    case 5: {
        uint16_t bt;
        RD(cur_u16le(c, &bt), "body_type");
        RD(cur_u32le(c, &q->body_size), "body_size");
        /* Intel QVL (Quote.cpp) rejects a size that does not match the type. */
        static const uint32_t sizes[4] = {0, QUOTE_SGX_BODY_SIZE, QUOTE_TD10_BODY_SIZE,
                                          QUOTE_TD15_BODY_SIZE};
        if (bt < 1 || bt > 3) {
            return err_fail(ERR_QUOTE_VERSION, "unknown v5 body type %u", (unsigned)bt);
        }
        if (q->body_size != sizes[bt]) {
            return err_fail(ERR_QUOTE_FORMAT, "v5 body type %u with size %u (expected %u)",
                            (unsigned)bt, (unsigned)q->body_size, (unsigned)sizes[bt]);
        }
        q->body_type = (quote_body_type)bt;
        if ((q->body_type == QUOTE_BODY_SGX) != (q->tee_type == QUOTE_TEE_SGX)) {
            return err_fail(ERR_QUOTE_VERSION, "v5 body type %u does not match tee_type 0x%08x",
                            (unsigned)bt, (unsigned)q->tee_type);
        }
        break;
    }
    default:
        return err_fail(ERR_QUOTE_VERSION, "unsupported quote version %u", (unsigned)q->version);
    }
    cur body;
    RD(cur_sub(c, q->body_size, &body), "body");
    TRY(q->body_type == QUOTE_BODY_SGX
            ? parse_sgx_report(&body, &q->sgx)
            : parse_td_report(&body, q->body_type == QUOTE_BODY_TD15, &q->td));
    q->signed_region.p = data;
    q->signed_region.len = c->pos;

    /* Signature data, §1.3. Trailing bytes after it are tolerated as Intel QVL does (it only
     * requires sig_data_len <= remaining): real quotes carry zero padding. */
    uint32_t sl;
    RD(cur_u32le(c, &sl), "sig_data_len");
    cur sig;
    RD(cur_sub(c, sl, &sig), "signature data");
    q->sig_data.p = sig.p;
    q->sig_data.len = sl;
    TRY(parse_sig_data(&sig, q));
    q->trailing = cur_left(c);
    return ERR_OK;
}

bool quote_is_tdx(const quote *q) {
    return q->tee_type == QUOTE_TEE_TDX && q->body_type != QUOTE_BODY_SGX;
}

bool quote_td_debug(const quote *q) {
    return quote_is_tdx(q) && (q->td.td_attributes & 1u) != 0;
}

void quote_image_hash(const quote *q, uint8_t out[32]) {
    static const uint8_t zero[64];
    hash_ctx *h = hash_new(HASH_SHA256);
    if (quote_is_tdx(q)) {
        hash_update(h, q->td.mrtd, 48);
        hash_update(h, q->td.mrconfigid, 48);
        hash_update(h, q->td.mrowner, 48);
        hash_update(h, q->td.mrownerconfig, 48);
        for (int i = 0; i < 4; i++) {
            hash_update(h, q->td.rtmr[i], 48);
        }
    } else {
        hash_update(h, q->sgx.mrenclave, 32);
    }
    /* The reference serialises its attestation data with REPORTDATA zeroed. */
    hash_update(h, zero, sizeof(zero));
    hash_final_free(h, out);
}

static void print_hex(FILE *f, const char *key, const uint8_t *p, size_t n) {
    char s[2 * 64 + 1];
    hex_encode(p, n, s);
    fprintf(f, "%s: %s\n", key, s);
}

/* u64 attributes are printed as their 8 raw little-endian bytes, as they appear in the quote
 * and in Intel's tooling (e.g. TDATTRIBUTES 0000001000000000 = SEPT_VE_DISABLE). */
static void print_u64le(FILE *f, const char *key, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    print_hex(f, key, b, 8);
}

void quote_print(FILE *f, const quote *q) {
    fprintf(f, "version: %u\n", (unsigned)q->version);
    fprintf(f, "tee: %s\n", quote_is_tdx(q) ? "tdx" : "sgx");
    fprintf(f, "att_key_type: %u\n", (unsigned)q->att_key_type);
    fprintf(f, "body_type: %u\n", (unsigned)q->body_type);
    if (quote_is_tdx(q)) {
        const quote_td_report *t = &q->td;
        print_hex(f, "tee_tcb_svn", t->tee_tcb_svn, 16);
        print_hex(f, "mrseam", t->mrseam, 48);
        print_hex(f, "mrsignerseam", t->mrsignerseam, 48);
        print_u64le(f, "seam_attributes", t->seam_attributes);
        print_u64le(f, "td_attributes", t->td_attributes);
        fprintf(f, "debug: %s\n", quote_td_debug(q) ? "true" : "false");
        print_u64le(f, "xfam", t->xfam);
        print_hex(f, "mrtd", t->mrtd, 48);
        print_hex(f, "mrconfigid", t->mrconfigid, 48);
        print_hex(f, "mrowner", t->mrowner, 48);
        print_hex(f, "mrownerconfig", t->mrownerconfig, 48);
        static const char *const names[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
        for (int i = 0; i < 4; i++) {
            print_hex(f, names[i], t->rtmr[i], 48);
        }
        print_hex(f, "report_data", t->report_data, 64);
        if (q->body_type == QUOTE_BODY_TD15) {
            print_hex(f, "tee_tcb_svn2", t->tee_tcb_svn2, 16);
            print_hex(f, "mrservicetd", t->mrservicetd, 48);
        }
    } else {
        const quote_sgx_report *s = &q->sgx;
        print_hex(f, "cpusvn", s->cpusvn, 16);
        fprintf(f, "miscselect: %08x\n", (unsigned)s->miscselect);
        print_hex(f, "attributes", s->attributes, 16);
        print_hex(f, "mrenclave", s->mrenclave, 32);
        print_hex(f, "mrsigner", s->mrsigner, 32);
        fprintf(f, "isvprodid: %u\n", (unsigned)s->isvprodid);
        fprintf(f, "isvsvn: %u\n", (unsigned)s->isvsvn);
        print_hex(f, "report_data", s->report_data, 64);
    }
    uint8_t ih[32];
    quote_image_hash(q, ih);
    print_hex(f, "image_hash", ih, 32);
    print_hex(f, "qe_vendor_id", q->qe_vendor_id, 16);
    fprintf(f, "cert_data_type: %u\n", (unsigned)q->cert_data_type);
    if (q->has_qe_report) {
        fprintf(f, "pck_cert_type: %u\n", (unsigned)q->pck_cert_type);
        fprintf(f, "pck_chain_len: %zu\n", q->pck_chain.len);
    }
    fprintf(f, "trailing_bytes: %zu\n", q->trailing);
}
