#include "boc.h"

#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/cur.h"

/* ---- CRC-32C ---- */

static uint32_t crc32c_table[256];
static int crc32c_ready;

static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        crc32c_table[i] = c;
    }
    __atomic_store_n(&crc32c_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ton_crc32c(const void *data, size_t n) {
    if (!__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE)) {
        crc32c_init(); /* idempotent: racing threads write identical tables */
    }
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c = crc32c_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    }
    return c ^ 0xffffffffu;
}

/* ---- writer ---- */

typedef struct {
    const ton_cell **cells; /* unique cells, discovery order */
    size_t n, cap;
    uint32_t *slots; /* open addressing: index+1, 0 = empty */
    size_t nslots;
    const ton_cell **order; /* final order */
    size_t norder;
    uint8_t *visited;
} boc_writer;

static size_t slot_of(const uint8_t *hash, size_t nslots) {
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return (size_t)(h & (nslots - 1));
}

static err_t table_grow(boc_writer *w) {
    size_t ns = w->nslots ? w->nslots * 2 : 64;
    uint32_t *s = calloc(ns, sizeof(*s));
    if (!s) {
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < w->n; i++) {
        size_t k = slot_of(ton_cell_repr_hash(w->cells[i]), ns);
        while (s[k]) {
            k = (k + 1) & (ns - 1);
        }
        s[k] = (uint32_t)(i + 1);
    }
    free(w->slots);
    w->slots = s;
    w->nslots = ns;
    return ERR_OK;
}

/* Index of the cell with this representation hash, or -1. */
static long table_find(const boc_writer *w, const ton_cell *c) {
    if (!w->nslots) {
        return -1;
    }
    const uint8_t *h = ton_cell_repr_hash(c);
    size_t k = slot_of(h, w->nslots);
    while (w->slots[k]) {
        size_t i = w->slots[k] - 1;
        if (memcmp(ton_cell_repr_hash(w->cells[i]), h, TON_HASH_LEN) == 0) {
            return (long)i;
        }
        k = (k + 1) & (w->nslots - 1);
    }
    return -1;
}

static err_t table_add(boc_writer *w, const ton_cell *c) {
    if (w->n >= UINT32_MAX - 1) {
        return err_fail(ERR_TOO_MANY, "too many cells");
    }
    if ((w->n + 1) * 2 > w->nslots) {
        TRY(table_grow(w));
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        const ton_cell **p = realloc(w->cells, nc * sizeof(*p));
        if (!p) {
            return ERR_NOMEM;
        }
        w->cells = p;
        w->cap = nc;
    }
    w->cells[w->n] = c;
    size_t k = slot_of(ton_cell_repr_hash(c), w->nslots);
    while (w->slots[k]) {
        k = (k + 1) & (w->nslots - 1);
    }
    w->slots[k] = (uint32_t)(w->n + 1);
    w->n++;
    return ERR_OK;
}

/* Breadth-first discovery, deduplicated by hash, in the order @ton/core's topologicalSort
 * sees cells (so that the final order, and hence the bytes, match). */
static err_t collect(boc_writer *w, const ton_cell *root) {
    TRY(table_add(w, root));
    for (size_t i = 0; i < w->n; i++) {
        const ton_cell *c = w->cells[i];
        for (unsigned r = 0; r < ton_cell_nrefs(c); r++) {
            const ton_cell *ch = ton_cell_child(c, r);
            if (table_find(w, ch) < 0) {
                TRY(table_add(w, ch));
            }
        }
    }
    return ERR_OK;
}

/* Post-order DFS visiting children last-to-first; the reversed post-order puts parents before
 * children. Depth is bounded by TON_CELL_MAX_DEPTH. */
static void visit(boc_writer *w, size_t i) {
    if (w->visited[i]) {
        return;
    }
    w->visited[i] = 1;
    const ton_cell *c = w->cells[i];
    for (unsigned r = ton_cell_nrefs(c); r-- > 0;) {
        visit(w, (size_t)table_find(w, ton_cell_child(c, r)));
    }
    w->order[w->norder++] = c;
}

static unsigned bytes_for(uint64_t v) {
    unsigned bits = 1;
    while (bits < 64 && (v >> bits)) {
        bits++;
    }
    return (bits + 7) / 8;
}

static err_t put_be(buf *out, uint64_t v, unsigned n) {
    for (unsigned i = n; i-- > 0;) {
        TRY(buf_u8(out, (uint8_t)(v >> (8 * i))));
    }
    return ERR_OK;
}

err_t ton_boc_serialize(const ton_cell *root, bool with_index, bool with_crc32c, buf *out) {
    boc_writer w = {0};
    size_t start = out->len;
    uint32_t *pos = NULL;
    err_t e = collect(&w, root);
    if (e != ERR_OK) {
        goto out;
    }
    w.order = calloc(w.n, sizeof(*w.order));
    w.visited = calloc(w.n, 1);
    pos = calloc(w.n, sizeof(*pos));
    if (!w.order || !w.visited || !pos) {
        e = ERR_NOMEM;
        goto out;
    }
    visit(&w, 0);
    /* pos[i]: final position of discovery index i */
    for (size_t k = 0; k < w.norder; k++) {
        pos[table_find(&w, w.order[w.norder - 1 - k])] = (uint32_t)k;
    }
    size_t ncells = w.norder;
    unsigned size_bytes = bytes_for(ncells);
    uint64_t total = 0;
    for (size_t k = 0; k < ncells; k++) {
        const ton_cell *c = w.order[ncells - 1 - k];
        total += 2 + (ton_cell_bits(c) + 7) / 8 + (uint64_t)ton_cell_nrefs(c) * size_bytes;
    }
    unsigned off_bytes = bytes_for(total);
    uint8_t flags = (uint8_t)((with_index ? 0x80 : 0) | (with_crc32c ? 0x40 : 0) | size_bytes);
    if ((e = buf_u32be(out, TON_BOC_MAGIC)) || (e = buf_u8(out, flags)) ||
        (e = buf_u8(out, (uint8_t)off_bytes)) || (e = put_be(out, ncells, size_bytes)) ||
        (e = put_be(out, 1, size_bytes)) || (e = put_be(out, 0, size_bytes)) ||
        (e = put_be(out, total, off_bytes)) || (e = put_be(out, 0, size_bytes))) {
        goto out;
    }
    if (with_index) {
        uint64_t end = 0;
        for (size_t k = 0; k < ncells; k++) {
            const ton_cell *c = w.order[ncells - 1 - k];
            end += 2 + (ton_cell_bits(c) + 7) / 8 + (uint64_t)ton_cell_nrefs(c) * size_bytes;
            if ((e = put_be(out, end, off_bytes))) {
                goto out;
            }
        }
    }
    for (size_t k = 0; k < ncells; k++) {
        const ton_cell *c = w.order[ncells - 1 - k];
        unsigned bits = ton_cell_bits(c);
        uint8_t d[2 + TON_CELL_MAX_BYTES];
        d[0] =
            (uint8_t)(ton_cell_nrefs(c) + 8 * ton_cell_is_exotic(c) + 32 * ton_cell_level_mask(c));
        d[1] = (uint8_t)((bits + 7) / 8 + bits / 8);
        memcpy(d + 2, ton_cell_data(c), (bits + 7) / 8);
        if (bits % 8) {
            d[2 + bits / 8] |= (uint8_t)(0x80 >> (bits % 8));
        }
        if ((e = buf_append(out, d, 2 + (bits + 7) / 8))) {
            goto out;
        }
        for (unsigned r = 0; r < ton_cell_nrefs(c); r++) {
            long ci = table_find(&w, ton_cell_child(c, r));
            if ((e = put_be(out, pos[ci], size_bytes))) {
                goto out;
            }
        }
    }
    if (with_crc32c) {
        e = buf_u32le(out, ton_crc32c(out->data + start, out->len - start));
    }
out:
    if (e != ERR_OK) {
        out->len = start;
    }
    free(pos);
    free(w.cells);
    free(w.slots);
    free(w.order);
    free(w.visited);
    return e;
}

err_t ton_boc_to_base64(const ton_cell *root, char **out) {
    buf b;
    buf_init(&b, BUF_DEFAULT_MAX);
    *out = NULL;
    err_t e = ton_boc_serialize(root, false, true, &b);
    if (e == ERR_OK) {
        char *s = malloc(b64_encoded_len(b.len) + 1);
        if (!s) {
            e = ERR_NOMEM;
        } else {
            b64_encode(b.data, b.len, s, false);
            *out = s;
        }
    }
    buf_free(&b);
    return e;
}

/* ---- reader ---- */

typedef struct {
    const uint8_t *data;
    uint16_t bits;
    uint8_t nrefs;
    uint8_t exotic;
    uint8_t mask;
    uint32_t refs[TON_CELL_MAX_REFS];
} raw_cell;

static err_t read_be(cur *c, unsigned n, uint64_t *out) {
    const uint8_t *p;
    TRY(cur_take(c, n, &p));
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    *out = v;
    return ERR_OK;
}

static unsigned popcount3(unsigned m) {
    return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1);
}

/* One cell record (tvm.pdf §3.1.4-3.1.5, boc.cpp CellSerializationInfo). */
static err_t read_cell(cur *c, uint32_t idx, uint32_t ncells, unsigned size_bytes, raw_cell *rc) {
    uint8_t d1;
    uint8_t d2;
    TRY(cur_u8(c, &d1));
    TRY(cur_u8(c, &d2));
    rc->nrefs = d1 & 7;
    rc->exotic = (d1 >> 3) & 1;
    rc->mask = d1 >> 5;
    if (rc->nrefs > TON_CELL_MAX_REFS) {
        /* 7 with the exotic bit marks an absent cell, which we never accept. */
        return err_fail(ERR_MALFORMED, "cell %u: %u refs", idx, rc->nrefs);
    }
    if (d1 & 16) {
        /* with_hashes: cached hashes and depths precede the data; we always recompute. */
        TRY(cur_skip(c, (size_t)(popcount3(rc->mask) + 1) * (TON_HASH_LEN + 2)));
    }
    size_t nbytes = (d2 + 1u) / 2;
    const uint8_t *data;
    TRY(cur_take(c, nbytes, &data));
    unsigned bits = (unsigned)nbytes * 8;
    if (d2 & 1) {
        uint8_t last = data[nbytes - 1];
        if (last == 0) {
            return err_fail(ERR_MALFORMED, "cell %u: missing completion tag", idx);
        }
        unsigned tz = 0;
        while (!((last >> tz) & 1)) {
            tz++;
        }
        bits -= tz + 1;
        if (bits % 8 == 0) {
            return err_fail(ERR_MALFORMED, "cell %u: non-canonical padding", idx);
        }
    }
    rc->data = data;
    rc->bits = (uint16_t)bits;
    for (unsigned r = 0; r < rc->nrefs; r++) {
        uint64_t ref;
        TRY(read_be(c, size_bytes, &ref));
        /* Cells are stored parents first (boc.cpp: "not topologically sorted" otherwise),
         * which also rules out cycles. */
        if (ref <= idx || ref >= ncells) {
            return err_fail(ERR_MALFORMED, "cell %u: reference %llu out of order", idx,
                            (unsigned long long)ref);
        }
        rc->refs[r] = (uint32_t)ref;
    }
    return ERR_OK;
}

err_t ton_boc_parse_multi(const uint8_t *data, size_t len, const ton_boc_limits *limits,
                          ton_cell **roots, size_t max, size_t *nroots) {
    ton_boc_limits def = {TON_BOC_DEFAULT_MAX_CELLS, TON_BOC_DEFAULT_MAX_ROOTS};
    const ton_boc_limits *lim = limits ? limits : &def;
    raw_cell *raw = NULL;
    ton_cell **built = NULL;
    uint32_t *root_idx = NULL;
    uint64_t ncells = 0;
    *nroots = 0;
    err_t e = ERR_OK;
    cur c;
    cur_init(&c, data, len);
    uint32_t magic;
    uint8_t b;
    uint8_t off_bytes;
    TRY(cur_u32be(&c, &magic));
    TRY(cur_u8(&c, &b));
    bool has_idx;
    bool has_crc;
    bool has_cache = false;
    unsigned size_bytes;
    if (magic == TON_BOC_MAGIC) {
        has_idx = b & 0x80;
        has_crc = b & 0x40;
        has_cache = b & 0x20;
        if (b & 0x18) {
            return err_fail(ERR_MALFORMED, "BOC flags %u must be zero", (b >> 3) & 3);
        }
        size_bytes = b & 7;
        if (has_cache && !has_idx) {
            return err_fail(ERR_MALFORMED, "BOC cache bits without an index");
        }
    } else if (magic == TON_BOC_MAGIC_IDX || magic == TON_BOC_MAGIC_IDX_CRC) {
        has_idx = true;
        has_crc = magic == TON_BOC_MAGIC_IDX_CRC;
        size_bytes = b;
    } else {
        return err_fail(ERR_MALFORMED, "BOC magic %08x", magic);
    }
    if (size_bytes < 1 || size_bytes > 4) {
        return err_fail(ERR_MALFORMED, "BOC size_bytes %u", size_bytes);
    }
    TRY(cur_u8(&c, &off_bytes));
    if (off_bytes < 1 || off_bytes > 8) {
        return err_fail(ERR_MALFORMED, "BOC off_bytes %u", off_bytes);
    }
    uint64_t nroot;
    uint64_t absent;
    uint64_t total;
    TRY(read_be(&c, size_bytes, &ncells));
    TRY(read_be(&c, size_bytes, &nroot));
    TRY(read_be(&c, size_bytes, &absent));
    TRY(read_be(&c, off_bytes, &total));
    if (ncells < 1 || nroot < 1 || nroot > ncells) {
        return err_fail(ERR_MALFORMED, "BOC with %llu cells, %llu roots",
                        (unsigned long long)ncells, (unsigned long long)nroot);
    }
    if (absent != 0) {
        return err_fail(ERR_MALFORMED, "BOC with absent cells");
    }
    if (ncells > lim->max_cells) {
        return err_fail(ERR_TOO_MANY, "BOC with %llu cells (max %u)", (unsigned long long)ncells,
                        lim->max_cells);
    }
    if (nroot > lim->max_roots || nroot > max) {
        return err_fail(ERR_TOO_MANY, "BOC with %llu roots", (unsigned long long)nroot);
    }
    if (magic != TON_BOC_MAGIC && nroot != 1) {
        return err_fail(ERR_MALFORMED, "legacy BOC with %llu roots", (unsigned long long)nroot);
    }
    /* Every cell takes at least 2 bytes: bound the declared sizes by the input before
     * allocating anything. */
    if (total > cur_left(&c)) {
        return err_fail(ERR_TRUNCATED, "BOC declares %llu bytes of cells",
                        (unsigned long long)total);
    }
    uint64_t need = (has_idx ? ncells * off_bytes : 0) + total + (has_crc ? 4 : 0) +
                    (magic == TON_BOC_MAGIC ? nroot * size_bytes : 0);
    if (total < ncells * 2 || need != cur_left(&c)) {
        return err_fail(need > cur_left(&c) ? ERR_TRUNCATED : ERR_MALFORMED,
                        "BOC sizes do not match its length");
    }
    if (has_crc) {
        uint32_t want = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 |
                        (uint32_t)data[len - 2] << 16 | (uint32_t)data[len - 1] << 24;
        if (ton_crc32c(data, len - 4) != want) {
            return err_fail(ERR_MALFORMED, "BOC CRC32C mismatch");
        }
    }
    raw = calloc(ncells, sizeof(*raw));
    built = calloc(ncells, sizeof(*built));
    root_idx = calloc(nroot, sizeof(*root_idx));
    if (!raw || !built || !root_idx) {
        e = ERR_NOMEM;
        goto out;
    }
    for (uint64_t i = 0; i < nroot; i++) {
        uint64_t r = 0;
        if (magic == TON_BOC_MAGIC && (e = read_be(&c, size_bytes, &r))) {
            goto out;
        }
        if (r >= ncells) {
            e = err_fail(ERR_MALFORMED, "BOC root index %llu", (unsigned long long)r);
            goto out;
        }
        root_idx[i] = (uint32_t)r;
    }
    cur idx;
    cur_init(&idx, NULL, 0);
    if (has_idx && (e = cur_sub(&c, ncells * off_bytes, &idx))) {
        goto out;
    }
    cur cells;
    if ((e = cur_sub(&c, total, &cells))) {
        goto out;
    }
    for (uint32_t i = 0; i < ncells; i++) {
        if ((e = read_cell(&cells, i, (uint32_t)ncells, size_bytes, &raw[i]))) {
            goto out;
        }
        if (has_idx) {
            uint64_t end;
            if ((e = read_be(&idx, off_bytes, &end))) {
                goto out;
            }
            if (has_cache) {
                end >>= 1;
            }
            if (end != cells.pos) {
                e = err_fail(ERR_MALFORMED, "BOC index entry %u is %llu, cell ends at %zu", i,
                             (unsigned long long)end, cells.pos);
                goto out;
            }
        }
    }
    if ((e = cur_expect_end(&cells))) {
        goto out;
    }
    for (uint32_t i = (uint32_t)ncells; i-- > 0;) {
        raw_cell *rc = &raw[i];
        ton_cell *refs[TON_CELL_MAX_REFS];
        for (unsigned r = 0; r < rc->nrefs; r++) {
            refs[r] = built[rc->refs[r]];
        }
        if ((e = ton_cell_create(rc->exotic, rc->data, rc->bits, refs, rc->nrefs, &built[i]))) {
            goto out;
        }
        if (ton_cell_level_mask(built[i]) != rc->mask) {
            e = err_fail(ERR_MALFORMED, "cell %u: level mask %u, computed %u", i, rc->mask,
                         ton_cell_level_mask(built[i]));
            goto out;
        }
    }
    for (uint64_t i = 0; i < nroot; i++) {
        roots[i] = ton_cell_ref(built[root_idx[i]]);
    }
    *nroots = (size_t)nroot;
out:
    if (built) {
        for (uint64_t i = 0; i < ncells; i++) {
            ton_cell_unref(built[i]);
        }
    }
    free(built);
    free(raw);
    free(root_idx);
    return e;
}

err_t ton_boc_parse(const uint8_t *data, size_t len, const ton_boc_limits *limits,
                    ton_cell **root) {
    size_t n;
    *root = NULL;
    return ton_boc_parse_multi(data, len, limits, root, 1, &n);
}

err_t ton_boc_parse_text(const char *text, size_t len, const ton_boc_limits *limits,
                         ton_cell **root) {
    *root = NULL;
    size_t cap = len; /* decoded is never longer than the text */
    uint8_t *bytes = malloc(cap ? cap : 1);
    if (!bytes) {
        return ERR_NOMEM;
    }
    size_t n = 0;
    err_t e = hex_decode(text, len, bytes, cap, &n);
    if (e != ERR_OK) {
        e = b64_decode(text, len, bytes, cap, &n, false);
    }
    if (e != ERR_OK) {
        e = b64_decode(text, len, bytes, cap, &n, true);
    }
    if (e == ERR_OK) {
        e = ton_boc_parse(bytes, n, limits, root);
    } else {
        e = err_fail(ERR_BAD_ENCODING, "BOC text is neither hex nor base64");
    }
    free(bytes);
    return e;
}
