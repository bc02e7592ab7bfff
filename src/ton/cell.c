#include "cell.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"

struct ton_cell {
    atomic_uint rc;
    uint8_t type; /* ton_cell_type */
    uint8_t exotic;
    uint8_t mask; /* level mask, 3 bits */
    uint8_t nrefs;
    uint16_t bits;
    uint8_t data[TON_CELL_MAX_BYTES];
    ton_cell *refs[TON_CELL_MAX_REFS];
    /* Resolved per level 0..3, so lookups never need the mask. */
    uint8_t hash[4][TON_HASH_LEN];
    uint16_t depth[4];
};

static unsigned popcount3(unsigned m) {
    return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1);
}

static unsigned mask_level(unsigned m) {
    return m & 4 ? 3 : m & 2 ? 2 : m & 1 ? 1 : 0;
}

/* "Significant" levels are 0 and every i with bit i-1 of the mask set (tblkch §5.1). */
static bool mask_significant(unsigned m, unsigned level) {
    return level == 0 || ((m >> (level - 1)) & 1);
}

static unsigned mask_apply(unsigned m, unsigned level) {
    return m & ((1u << level) - 1);
}

static uint8_t get_byte(const uint8_t *d, unsigned bitpos) {
    return d[bitpos / 8];
}

static unsigned get_bit(const uint8_t *d, unsigned bitpos) {
    return (get_byte(d, bitpos) >> (7 - bitpos % 8)) & 1;
}

static uint64_t get_bits_u64(const uint8_t *d, unsigned pos, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = (v << 1) | get_bit(d, pos + i);
    }
    return v;
}

/* d2 = ceil(bits/8) + floor(bits/8) (tvm.pdf §3.1.4). */
static uint8_t d2_of(unsigned bits) {
    return (uint8_t)((bits + 7) / 8 + bits / 8);
}

/* Data padded with the completion tag when bits % 8 != 0. */
static void padded_data(const ton_cell *c, uint8_t *out) {
    unsigned nbytes = (c->bits + 7) / 8;
    memcpy(out, c->data, nbytes);
    if (c->bits % 8) {
        out[nbytes - 1] |= (uint8_t)(0x80 >> (c->bits % 8));
    }
}

/* Exotic layouts (tblkch §5): validates and, for pruned branches, returns the level mask. */
static err_t check_exotic(ton_cell *c, unsigned *mask_out) {
    if (c->bits < 8) {
        return err_fail(ERR_MALFORMED, "exotic cell with %u bits", c->bits);
    }
    unsigned type = c->data[0];
    c->type = (uint8_t)type;
    switch (type) {
    case TON_CELL_PRUNED: {
        if (c->nrefs != 0 || c->bits < 16) {
            return err_fail(ERR_MALFORMED, "pruned branch layout");
        }
        unsigned m = c->data[1];
        if (m == 0 || m > 7) {
            return err_fail(ERR_MALFORMED, "pruned branch level mask %u", m);
        }
        unsigned n = popcount3(m);
        if (c->bits != 16 + n * (256 + 16)) {
            return err_fail(ERR_MALFORMED, "pruned branch with %u bits for mask %u", c->bits, m);
        }
        *mask_out = m;
        return ERR_OK;
    }
    case TON_CELL_LIBRARY:
        if (c->nrefs != 0 || c->bits != 8 + 256) {
            return err_fail(ERR_MALFORMED, "library cell layout");
        }
        *mask_out = 0;
        return ERR_OK;
    case TON_CELL_MERKLE_PROOF:
    case TON_CELL_MERKLE_UPDATE: {
        unsigned n = type == TON_CELL_MERKLE_PROOF ? 1 : 2;
        if (c->nrefs != n || c->bits != 8 + n * (256 + 16)) {
            return err_fail(ERR_MALFORMED, "merkle cell layout");
        }
        unsigned m = 0;
        for (unsigned i = 0; i < n; i++) {
            /* The stored hash and depth must be the child's level-0 ("virtual") values. */
            const uint8_t *h = c->data + 1 + 32 * i;
            unsigned d = (unsigned)get_bits_u64(c->data, 8 + 256 * n + 16 * i, 16);
            if (memcmp(h, c->refs[i]->hash[0], 32) != 0 || d != c->refs[i]->depth[0]) {
                return err_fail(ERR_MALFORMED, "merkle cell hash/depth of child %u mismatch", i);
            }
            m |= c->refs[i]->mask;
        }
        *mask_out = m >> 1;
        return ERR_OK;
    }
    default:
        return err_fail(ERR_MALFORMED, "unknown exotic cell type %u", type);
    }
}

static err_t compute_hashes(ton_cell *c) {
    unsigned m = c->mask;
    bool pruned = c->type == TON_CELL_PRUNED;
    bool merkle = c->type == TON_CELL_MERKLE_PROOF || c->type == TON_CELL_MERKLE_UPDATE;
    unsigned total = popcount3(m) + 1;
    unsigned count = pruned ? 1 : total;
    unsigned offset = total - count;
    uint8_t hashes[4][32];
    uint16_t depths[4];
    unsigned level = mask_level(m);
    for (unsigned li = 0, hi = 0; li <= level; li++) {
        if (!mask_significant(m, li)) {
            continue;
        }
        if (hi < offset) {
            hi++;
            continue;
        }
        unsigned child_level = merkle ? li + 1 : li;
        if (child_level > 3) {
            child_level = 3;
        }
        uint8_t buf[2 + TON_CELL_MAX_BYTES + 4 * (2 + 32)];
        size_t n = 0;
        buf[n++] = (uint8_t)(c->nrefs + 8 * c->exotic + 32 * mask_apply(m, li));
        buf[n++] = d2_of(c->bits);
        if (hi == offset) {
            padded_data(c, buf + n);
            n += (c->bits + 7) / 8;
        } else {
            memcpy(buf + n, hashes[hi - offset - 1], 32);
            n += 32;
        }
        unsigned depth = 0;
        for (unsigned r = 0; r < c->nrefs; r++) {
            unsigned d = c->refs[r]->depth[child_level];
            buf[n++] = (uint8_t)(d >> 8);
            buf[n++] = (uint8_t)d;
            if (d > depth) {
                depth = d;
            }
        }
        if (c->nrefs > 0) {
            depth++;
        }
        if (depth > TON_CELL_MAX_DEPTH) {
            return err_fail(ERR_TOO_LARGE, "cell depth %u over %d", depth, TON_CELL_MAX_DEPTH);
        }
        for (unsigned r = 0; r < c->nrefs; r++) {
            memcpy(buf + n, c->refs[r]->hash[child_level], 32);
            n += 32;
        }
        sha256(buf, n, hashes[hi - offset]);
        depths[hi - offset] = (uint16_t)depth;
        hi++;
    }
    unsigned own = popcount3(m);
    for (unsigned i = 0; i < 4; i++) {
        unsigned idx = popcount3(mask_apply(m, i));
        if (pruned && idx != own) {
            /* Hidden levels: the hashes and depths the pruned branch stores. */
            unsigned stored = popcount3(m);
            memcpy(c->hash[i], c->data + 2 + 32 * idx, 32);
            c->depth[i] = (uint16_t)get_bits_u64(c->data, 16 + 256 * stored + 16 * idx, 16);
        } else {
            unsigned k = pruned ? 0 : idx;
            memcpy(c->hash[i], hashes[k], 32);
            c->depth[i] = depths[k];
        }
    }
    return ERR_OK;
}

err_t ton_cell_create(bool exotic, const uint8_t *data, unsigned bits, ton_cell *const *refs,
                      unsigned nrefs, ton_cell **out) {
    *out = NULL;
    if (bits > TON_CELL_MAX_BITS || nrefs > TON_CELL_MAX_REFS) {
        return err_fail(ERR_TOO_LARGE, "cell with %u bits, %u refs", bits, nrefs);
    }
    ton_cell *c = calloc(1, sizeof(*c));
    if (!c) {
        return ERR_NOMEM;
    }
    atomic_init(&c->rc, 1);
    c->bits = (uint16_t)bits;
    c->exotic = exotic;
    c->nrefs = (uint8_t)nrefs;
    if (bits) {
        memcpy(c->data, data, (bits + 7) / 8);
    }
    if (bits % 8) {
        c->data[bits / 8] &= (uint8_t)(0xff00 >> (bits % 8));
    }
    for (unsigned i = 0; i < nrefs; i++) {
        c->refs[i] = ton_cell_ref(refs[i]);
    }
    err_t e = ERR_OK;
    unsigned m = 0;
    if (exotic) {
        e = check_exotic(c, &m);
    } else {
        c->type = TON_CELL_ORDINARY;
        for (unsigned i = 0; i < nrefs; i++) {
            m |= c->refs[i]->mask;
        }
    }
    if (e == ERR_OK) {
        c->mask = (uint8_t)m;
        e = compute_hashes(c);
    }
    if (e != ERR_OK) {
        ton_cell_unref(c);
        return e;
    }
    *out = c;
    return ERR_OK;
}

ton_cell *ton_cell_ref(ton_cell *c) {
    if (c) {
        atomic_fetch_add_explicit(&c->rc, 1, memory_order_relaxed);
    }
    return c;
}

void ton_cell_unref(ton_cell *c) {
    /* Iterative over the first child to keep stack use bounded on long chains. */
    while (c) {
        if (atomic_fetch_sub_explicit(&c->rc, 1, memory_order_acq_rel) != 1) {
            return;
        }
        ton_cell *next = c->nrefs ? c->refs[0] : NULL;
        for (unsigned i = 1; i < c->nrefs; i++) {
            ton_cell_unref(c->refs[i]);
        }
        free(c);
        c = next;
    }
}

ton_cell_type ton_cell_kind(const ton_cell *c) {
    return (ton_cell_type)c->type;
}

bool ton_cell_is_exotic(const ton_cell *c) {
    return c->exotic;
}

unsigned ton_cell_bits(const ton_cell *c) {
    return c->bits;
}

const uint8_t *ton_cell_data(const ton_cell *c) {
    return c->data;
}

unsigned ton_cell_nrefs(const ton_cell *c) {
    return c->nrefs;
}

ton_cell *ton_cell_child(const ton_cell *c, unsigned i) {
    return i < c->nrefs ? c->refs[i] : NULL;
}

unsigned ton_cell_level_mask(const ton_cell *c) {
    return c->mask;
}

unsigned ton_cell_level(const ton_cell *c) {
    return mask_level(c->mask);
}

const uint8_t *ton_cell_hash(const ton_cell *c, unsigned level) {
    return c->hash[level > 3 ? 3 : level];
}

uint16_t ton_cell_depth(const ton_cell *c, unsigned level) {
    return c->depth[level > 3 ? 3 : level];
}

const uint8_t *ton_cell_repr_hash(const ton_cell *c) {
    return c->hash[3];
}

uint16_t ton_cell_repr_depth(const ton_cell *c) {
    return c->depth[3];
}

bool ton_cell_equal(const ton_cell *a, const ton_cell *b) {
    return a == b || memcmp(a->hash[3], b->hash[3], 32) == 0;
}

/* ---- builder ---- */

void tb_init(ton_builder *b) {
    memset(b, 0, sizeof(*b));
}

void tb_clear(ton_builder *b) {
    for (unsigned i = 0; i < b->nrefs; i++) {
        ton_cell_unref(b->refs[i]);
    }
    tb_init(b);
}

unsigned tb_bits_left(const ton_builder *b) {
    return TON_CELL_MAX_BITS - b->bits;
}

static void put_bit(ton_builder *b, unsigned v) {
    if (v) {
        b->data[b->bits / 8] |= (uint8_t)(0x80 >> (b->bits % 8));
    }
    b->bits++;
}

err_t tb_bit(ton_builder *b, bool v) {
    if (tb_bits_left(b) < 1) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    put_bit(b, v);
    return ERR_OK;
}

err_t tb_uint(ton_builder *b, uint64_t v, unsigned n) {
    if (n > 64 || (n < 64 && (v >> n) != 0)) {
        return err_fail(ERR_MALFORMED, "value does not fit in %u bits", n);
    }
    if (tb_bits_left(b) < n) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    for (unsigned i = n; i-- > 0;) {
        put_bit(b, (unsigned)((v >> i) & 1));
    }
    return ERR_OK;
}

err_t tb_int(ton_builder *b, int64_t v, unsigned n) {
    if (n == 0 || n > 64) {
        return err_fail(ERR_MALFORMED, "signed width %u", n);
    }
    if (n < 64) {
        int64_t lo = -((int64_t)1 << (n - 1));
        int64_t hi = ((int64_t)1 << (n - 1)) - 1;
        if (v < lo || v > hi) {
            return err_fail(ERR_MALFORMED, "value does not fit in int%u", n);
        }
    }
    uint64_t u = (uint64_t)v;
    if (n < 64) {
        u &= ((uint64_t)1 << n) - 1;
    }
    return tb_uint(b, u, n);
}

err_t tb_zeros(ton_builder *b, unsigned n) {
    if (tb_bits_left(b) < n) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    b->bits += n;
    return ERR_OK;
}

err_t tb_bits(ton_builder *b, const uint8_t *src, unsigned off, unsigned n) {
    if (tb_bits_left(b) < n) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    for (unsigned i = 0; i < n; i++) {
        put_bit(b, get_bit(src, off + i));
    }
    return ERR_OK;
}

err_t tb_bytes(ton_builder *b, const void *src, size_t n) {
    if (n > TON_CELL_MAX_BYTES || tb_bits_left(b) < n * 8) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    return tb_bits(b, src, 0, (unsigned)(n * 8));
}

err_t tb_ref(ton_builder *b, ton_cell *c) {
    if (b->nrefs >= TON_CELL_MAX_REFS) {
        return err_fail(ERR_TOO_LARGE, "builder has 4 refs");
    }
    b->refs[b->nrefs++] = ton_cell_ref(c);
    return ERR_OK;
}

static err_t finish(ton_builder *b, bool exotic, ton_cell **out) {
    err_t e = ton_cell_create(exotic, b->data, b->bits, b->refs, b->nrefs, out);
    tb_clear(b);
    return e;
}

err_t tb_finish(ton_builder *b, ton_cell **out) {
    return finish(b, false, out);
}

err_t tb_finish_exotic(ton_builder *b, ton_cell **out) {
    return finish(b, true, out);
}

/* ---- slice ---- */

void ts_init(ton_slice *s, const ton_cell *c) {
    s->cell = c;
    s->bit_pos = 0;
    s->bit_end = c->bits;
    s->ref_pos = 0;
    s->ref_end = c->nrefs;
}

unsigned ts_bits_left(const ton_slice *s) {
    return s->bit_end - s->bit_pos;
}

unsigned ts_refs_left(const ton_slice *s) {
    return s->ref_end - s->ref_pos;
}

static err_t underflow(unsigned want, unsigned have) {
    return err_fail(ERR_TRUNCATED, "cell underflow: need %u bits, %u left", want, have);
}

err_t ts_peek_uint(const ton_slice *s, unsigned n, uint64_t *out) {
    if (n > 64) {
        return err_fail(ERR_MALFORMED, "width %u over 64", n);
    }
    if (ts_bits_left(s) < n) {
        return underflow(n, ts_bits_left(s));
    }
    *out = get_bits_u64(s->cell->data, s->bit_pos, n);
    return ERR_OK;
}

err_t ts_uint(ton_slice *s, unsigned n, uint64_t *out) {
    TRY(ts_peek_uint(s, n, out));
    s->bit_pos += n;
    return ERR_OK;
}

err_t ts_bit(ton_slice *s, bool *out) {
    uint64_t v = 0;
    TRY(ts_uint(s, 1, &v));
    *out = v != 0;
    return ERR_OK;
}

err_t ts_int(ton_slice *s, unsigned n, int64_t *out) {
    if (n == 0) {
        return err_fail(ERR_MALFORMED, "signed width 0");
    }
    uint64_t v = 0;
    TRY(ts_uint(s, n, &v));
    if (n < 64 && (v >> (n - 1)) & 1) {
        v |= ~(((uint64_t)1 << n) - 1);
    }
    *out = (int64_t)v;
    return ERR_OK;
}

err_t ts_skip(ton_slice *s, unsigned n) {
    if (ts_bits_left(s) < n) {
        return underflow(n, ts_bits_left(s));
    }
    s->bit_pos += n;
    return ERR_OK;
}

err_t ts_bits(ton_slice *s, unsigned n, uint8_t *out) {
    if (ts_bits_left(s) < n) {
        return underflow(n, ts_bits_left(s));
    }
    memset(out, 0, (n + 7) / 8);
    for (unsigned i = 0; i < n; i++) {
        if (get_bit(s->cell->data, s->bit_pos + i)) {
            out[i / 8] |= (uint8_t)(0x80 >> (i % 8));
        }
    }
    s->bit_pos += n;
    return ERR_OK;
}

err_t ts_bytes(ton_slice *s, size_t n, uint8_t *out) {
    if (n > TON_CELL_MAX_BYTES) {
        return underflow(TON_CELL_MAX_BITS + 1, ts_bits_left(s));
    }
    return ts_bits(s, (unsigned)(n * 8), out);
}

err_t ts_ref(ton_slice *s, ton_cell **out) {
    if (ts_refs_left(s) < 1) {
        return err_fail(ERR_TRUNCATED, "cell underflow: no references left");
    }
    *out = s->cell->refs[s->ref_pos++];
    return ERR_OK;
}

err_t tb_slice(ton_builder *b, const ton_slice *s) {
    if (tb_bits_left(b) < ts_bits_left(s) || b->nrefs + ts_refs_left(s) > TON_CELL_MAX_REFS) {
        return err_fail(ERR_TOO_LARGE, "builder overflow");
    }
    TRY(tb_bits(b, s->cell->data, s->bit_pos, ts_bits_left(s)));
    for (unsigned i = s->ref_pos; i < s->ref_end; i++) {
        TRY(tb_ref(b, s->cell->refs[i]));
    }
    return ERR_OK;
}

err_t ts_expect_end(const ton_slice *s) {
    if (ts_bits_left(s) || ts_refs_left(s)) {
        return err_fail(ERR_TRAILING, "%u bits and %u refs left", ts_bits_left(s), ts_refs_left(s));
    }
    return ERR_OK;
}
