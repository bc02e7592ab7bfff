/* The SGX extension of Intel PCK certificates (attestation.md §1.4): a DER SEQUENCE of
 * SEQUENCE { OID, value }, read through cur.h like every other hostile byte. */
#include <string.h>

#include "attest/verify.h"
#include "base/cur.h"

enum {
    DER_BOOLEAN = 0x01,
    DER_INTEGER = 0x02,
    DER_OCTETS = 0x04,
    DER_OID = 0x06,
    DER_ENUM = 0x0a,
    DER_SEQ = 0x30
};

/* 1.2.840.113741.1.13.1 */
static const uint8_t SGX_OID[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

static err_t bad(const char *what) {
    return err_fail(ERR_CERT_FORMAT, "PCK SGX extension: %s", what);
}

/* One TLV with the expected tag; DER lengths (definite, minimal, at most 2 length bytes). */
static err_t der_tlv(cur *c, uint8_t want, cur *val) {
    cur save = *c;
    uint8_t tag;
    uint8_t l0;
    if (cur_u8(c, &tag) != ERR_OK || cur_u8(c, &l0) != ERR_OK || tag != want) {
        *c = save;
        return bad("unexpected tag or truncation");
    }
    size_t len = l0;
    if (l0 == 0x81 || l0 == 0x82) {
        size_t nb = l0 & 0x7f;
        len = 0;
        for (size_t i = 0; i < nb; i++) {
            uint8_t b;
            if (cur_u8(c, &b) != ERR_OK || (i == 0 && b == 0)) {
                *c = save;
                return bad("bad length");
            }
            len = (len << 8) | b;
        }
        if (len < 0x80) {
            *c = save;
            return bad("non-minimal length");
        }
    } else if (l0 & 0x80) {
        *c = save;
        return bad("unsupported length form");
    }
    if (cur_sub(c, len, val) != ERR_OK) {
        *c = save;
        return bad("truncated value");
    }
    return ERR_OK;
}

/* A non-negative DER INTEGER up to 65535. */
static err_t der_uint16(cur *c, uint8_t tag, uint16_t *out) {
    cur v;
    TRY(der_tlv(c, tag, &v));
    size_t n = cur_left(&v);
    const uint8_t *p;
    if (n == 0 || n > 3 || cur_take(&v, n, &p) != ERR_OK || (p[0] & 0x80) ||
        (n > 1 && p[0] == 0 && !(p[1] & 0x80))) {
        return bad("integer out of range or not minimal");
    }
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = (x << 8) | p[i];
    }
    if (x > 0xffff) {
        return bad("integer out of range");
    }
    *out = (uint16_t)x;
    return ERR_OK;
}

static err_t der_octets(cur *c, uint8_t *out, size_t n) {
    cur v;
    TRY(der_tlv(c, DER_OCTETS, &v));
    if (cur_left(&v) != n) {
        return bad("octet string of the wrong size");
    }
    return cur_copy(&v, out, n);
}

/* Reads the OID of an entry; returns its arcs after the SGX prefix (e.g. {2, 17}). */
static err_t entry_oid(cur *c, uint8_t arcs[2], size_t *narcs) {
    cur v;
    TRY(der_tlv(c, DER_OID, &v));
    size_t n = cur_left(&v);
    const uint8_t *p;
    if (n <= sizeof(SGX_OID) || n > sizeof(SGX_OID) + 2 || cur_take(&v, n, &p) != ERR_OK ||
        memcmp(p, SGX_OID, sizeof(SGX_OID)) != 0) {
        return bad("entry OID outside 1.2.840.113741.1.13.1");
    }
    *narcs = n - sizeof(SGX_OID);
    for (size_t i = 0; i < *narcs; i++) {
        if (p[sizeof(SGX_OID) + i] & 0x80) {
            return bad("entry OID arc too large");
        }
        arcs[i] = p[sizeof(SGX_OID) + i];
    }
    return ERR_OK;
}

static err_t parse_tcb(cur *seq, attest_pck_info *out) {
    uint32_t seen = 0;
    while (cur_left(seq) > 0) {
        cur e;
        uint8_t arcs[2];
        size_t na;
        TRY(der_tlv(seq, DER_SEQ, &e));
        TRY(entry_oid(&e, arcs, &na));
        if (na != 2 || arcs[0] != 2 || arcs[1] < 1 || arcs[1] > 18) {
            return bad("unknown TCB entry");
        }
        if (seen & (1u << arcs[1])) {
            return bad("duplicate TCB entry");
        }
        seen |= 1u << arcs[1];
        if (arcs[1] <= 16) {
            TRY(der_uint16(&e, DER_INTEGER, &out->comp[arcs[1] - 1]));
        } else if (arcs[1] == 17) {
            TRY(der_uint16(&e, DER_INTEGER, &out->pcesvn));
        } else {
            TRY(der_octets(&e, out->cpusvn, 16));
        }
        if (cur_expect_end(&e) != ERR_OK) {
            return bad("bytes after a TCB entry");
        }
    }
    if (seen != 0x7fffeu) {
        return bad("TCB entries missing");
    }
    return ERR_OK;
}

err_t attest_pck_info_parse(const uint8_t *der, size_t len, attest_pck_info *out) {
    memset(out, 0, sizeof(*out));
    out->sgx_type = -1;
    cur c;
    cur_init(&c, der, len);
    cur top;
    TRY(der_tlv(&c, DER_SEQ, &top));
    if (cur_expect_end(&c) != ERR_OK) {
        return bad("bytes after the extension");
    }
    uint32_t seen = 0;
    while (cur_left(&top) > 0) {
        cur e;
        uint8_t arcs[2];
        size_t na;
        TRY(der_tlv(&top, DER_SEQ, &e));
        TRY(entry_oid(&e, arcs, &na));
        if (na != 1) {
            return bad("nested OID at the top level");
        }
        uint8_t id = arcs[0];
        if (id < 32 && (seen & (1u << id))) {
            return bad("duplicate entry");
        }
        seen |= id < 32 ? 1u << id : 0;
        cur v;
        uint8_t ppid[16];
        uint16_t t;
        switch (id) {
        case 1:
            TRY(der_octets(&e, ppid, sizeof(ppid)));
            break;
        case 2:
            TRY(der_tlv(&e, DER_SEQ, &v));
            TRY(parse_tcb(&v, out));
            break;
        case 3:
            TRY(der_octets(&e, out->pceid, 2));
            break;
        case 4:
            TRY(der_octets(&e, out->fmspc, 6));
            break;
        case 5:
            TRY(der_uint16(&e, DER_ENUM, &t));
            if (t > 2) {
                return bad("unknown SGX type");
            }
            out->sgx_type = t;
            break;
        default: /* PlatformInstanceID, Configuration and later additions: not evaluated */
            if (cur_skip(&e, cur_left(&e)) != ERR_OK) {
                return bad("entry");
            }
            break;
        }
        if (cur_expect_end(&e) != ERR_OK) {
            return bad("bytes after an entry value");
        }
    }
    if ((seen & 0x1e) != 0x1e) {
        return bad("PPID, TCB, PCE-ID or FMSPC missing");
    }
    return ERR_OK;
}
