#include "dict.h"

#include <stdlib.h>
#include <string.h>

static unsigned bit_length(unsigned m) {
    unsigned n = 0;
    while (m >> n) {
        n++;
    }
    return n;
}

static unsigned key_bit(const uint8_t *key, unsigned i) {
    return (key[i / 8] >> (7 - i % 8)) & 1;
}

static void set_bit(uint8_t *key, unsigned i, unsigned v) {
    if (v) {
        key[i / 8] |= (uint8_t)(0x80 >> (i % 8));
    } else {
        key[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
    }
}

/* HmLabel ~n m (tvm.pdf §3.3.4): writes the label bits into key[pos..], returns the length. */
static err_t read_label(ton_slice *s, unsigned m, uint8_t *key, unsigned pos, unsigned *len) {
    bool b0;
    TRY(ts_bit(s, &b0));
    unsigned n = 0;
    if (!b0) { /* hml_short$0 len:(Unary ~n) s:(n * Bit) */
        for (;;) {
            bool one;
            TRY(ts_bit(s, &one));
            if (!one) {
                break;
            }
            if (++n > m) {
                return err_fail(ERR_MALFORMED, "dictionary label longer than the key");
            }
        }
        for (unsigned i = 0; i < n; i++) {
            bool v;
            TRY(ts_bit(s, &v));
            set_bit(key, pos + i, v);
        }
    } else {
        bool b1;
        uint64_t l;
        TRY(ts_bit(s, &b1));
        if (!b1) { /* hml_long$10 n:(#<= m) s:(n * Bit) */
            TRY(ts_uint(s, bit_length(m), &l));
            if (l > m) {
                return err_fail(ERR_MALFORMED, "dictionary label longer than the key");
            }
            n = (unsigned)l;
            for (unsigned i = 0; i < n; i++) {
                bool v;
                TRY(ts_bit(s, &v));
                set_bit(key, pos + i, v);
            }
        } else { /* hml_same$11 v:Bit n:(#<= m) */
            bool v;
            TRY(ts_bit(s, &v));
            TRY(ts_uint(s, bit_length(m), &l));
            if (l > m) {
                return err_fail(ERR_MALFORMED, "dictionary label longer than the key");
            }
            n = (unsigned)l;
            for (unsigned i = 0; i < n; i++) {
                set_bit(key, pos + i, v);
            }
        }
    }
    *len = n;
    return ERR_OK;
}

static err_t fork_refs(ton_slice *s, ton_cell **l, ton_cell **r) {
    if (ts_bits_left(s) != 0 || ts_refs_left(s) != 2) {
        return err_fail(ERR_MALFORMED, "dictionary fork must hold exactly two refs");
    }
    TRY(ts_ref(s, l));
    return ts_ref(s, r);
}

err_t ton_dict_get(const ton_cell *root, unsigned key_bits, const uint8_t *key, ton_slice *value,
                   bool *found) {
    *found = false;
    if (key_bits > TON_DICT_MAX_KEY_BITS) {
        return err_fail(ERR_TOO_LARGE, "dictionary key of %u bits", key_bits);
    }
    uint8_t label[(TON_DICT_MAX_KEY_BITS + 7) / 8] = {0};
    unsigned pos = 0;
    unsigned m = key_bits;
    const ton_cell *c = root;
    while (c) {
        if (ton_cell_is_exotic(c)) {
            return err_fail(ERR_MALFORMED, "exotic cell inside a dictionary");
        }
        ton_slice s;
        ts_init(&s, c);
        unsigned l;
        TRY(read_label(&s, m, label, pos, &l));
        for (unsigned i = 0; i < l; i++) {
            if (key_bit(label, pos + i) != key_bit(key, pos + i)) {
                return ERR_OK;
            }
        }
        pos += l;
        m -= l;
        if (m == 0) {
            *value = s;
            *found = true;
            return ERR_OK;
        }
        ton_cell *left;
        ton_cell *right;
        TRY(fork_refs(&s, &left, &right));
        c = key_bit(key, pos) ? right : left;
        pos++;
        m--;
    }
    return ERR_OK;
}

static err_t walk(const ton_cell *c, unsigned key_bits, uint8_t *key, unsigned pos,
                  ton_dict_visit_fn fn, void *ctx) {
    if (ton_cell_is_exotic(c)) {
        return err_fail(ERR_MALFORMED, "exotic cell inside a dictionary");
    }
    ton_slice s;
    ts_init(&s, c);
    unsigned l;
    TRY(read_label(&s, key_bits - pos, key, pos, &l));
    pos += l;
    if (pos == key_bits) {
        return fn(ctx, key, key_bits, &s);
    }
    ton_cell *left;
    ton_cell *right;
    TRY(fork_refs(&s, &left, &right));
    set_bit(key, pos, 0);
    TRY(walk(left, key_bits, key, pos + 1, fn, ctx));
    set_bit(key, pos, 1);
    return walk(right, key_bits, key, pos + 1, fn, ctx);
}

err_t ton_dict_foreach(const ton_cell *root, unsigned key_bits, ton_dict_visit_fn fn, void *ctx) {
    if (key_bits > TON_DICT_MAX_KEY_BITS) {
        return err_fail(ERR_TOO_LARGE, "dictionary key of %u bits", key_bits);
    }
    if (!root) {
        return ERR_OK;
    }
    uint8_t key[(TON_DICT_MAX_KEY_BITS + 7) / 8] = {0};
    return walk(root, key_bits, key, 0, fn, ctx);
}

/* ---- writer ---- */

static int cmp_items(const void *a, const void *b, void *ctx) {
    return memcmp(((const ton_dict_item *)a)->key, ((const ton_dict_item *)b)->key,
                  *(const unsigned *)ctx);
}

/* Label choice as @ton/core's detectLabelType: short, unless long is strictly shorter, unless
 * same (all bits equal) is strictly shorter still. */
static err_t write_label(ton_builder *b, const uint8_t *key, unsigned pos, unsigned len,
                         unsigned m) {
    unsigned lb = bit_length(m);
    unsigned short_len = 2 + 2 * len;
    unsigned long_len = 2 + lb + len;
    unsigned same_len = 3 + lb;
    bool same = true;
    for (unsigned i = 1; i < len; i++) {
        if (key_bit(key, pos + i) != key_bit(key, pos)) {
            same = false;
            break;
        }
    }
    unsigned best = short_len;
    int kind = 0;
    if (long_len < best) {
        best = long_len;
        kind = 1;
    }
    if (same && same_len < best) {
        kind = 2;
    }
    if (kind == 0) {
        TRY(tb_bit(b, false));
        for (unsigned i = 0; i < len; i++) {
            TRY(tb_bit(b, true));
        }
        TRY(tb_bit(b, false));
        return tb_bits(b, key, pos, len);
    }
    if (kind == 1) {
        TRY(tb_uint(b, 2, 2));
        TRY(tb_uint(b, len, lb));
        return tb_bits(b, key, pos, len);
    }
    TRY(tb_uint(b, 3, 2));
    TRY(tb_bit(b, len ? key_bit(key, pos) : 0));
    return tb_uint(b, len, lb);
}

static err_t build_edge(ton_dict_item *items, size_t lo, size_t hi, unsigned pos, unsigned m,
                        ton_cell **out) {
    const uint8_t *first = items[lo].key;
    const uint8_t *last = items[hi - 1].key;
    unsigned l = 0;
    while (l < m && key_bit(first, pos + l) == key_bit(last, pos + l)) {
        l++;
    }
    ton_builder b;
    tb_init(&b);
    err_t e = write_label(&b, first, pos, l, m);
    if (e != ERR_OK) {
        goto out;
    }
    if (hi - lo == 1) {
        e = tb_slice(&b, &items[lo].value);
    } else {
        unsigned split_bit = pos + l;
        size_t mid = lo;
        while (mid < hi && !key_bit(items[mid].key, split_bit)) {
            mid++;
        }
        ton_cell *left = NULL;
        ton_cell *right = NULL;
        e = build_edge(items, lo, mid, split_bit + 1, m - l - 1, &left);
        if (e == ERR_OK) {
            e = build_edge(items, mid, hi, split_bit + 1, m - l - 1, &right);
        }
        if (e == ERR_OK) {
            e = tb_ref(&b, left);
        }
        if (e == ERR_OK) {
            e = tb_ref(&b, right);
        }
        ton_cell_unref(left);
        ton_cell_unref(right);
    }
    if (e == ERR_OK) {
        return tb_finish(&b, out);
    }
out:
    tb_clear(&b);
    return e;
}

err_t ton_dict_build(ton_dict_item *items, size_t n, unsigned key_bits, ton_cell **root) {
    *root = NULL;
    if (key_bits > TON_DICT_MAX_KEY_BITS) {
        return err_fail(ERR_TOO_LARGE, "dictionary key of %u bits", key_bits);
    }
    if (n == 0) {
        return ERR_OK;
    }
    unsigned key_bytes = (key_bits + 7) / 8;
    for (size_t i = 0; i < n; i++) {
        /* Bits past key_bits must not influence the order. */
        if (key_bits % 8) {
            items[i].key[key_bytes - 1] &= (uint8_t)(0xff00 >> (key_bits % 8));
        }
    }
    qsort_r(items, n, sizeof(*items), cmp_items, &key_bytes);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(items[i - 1].key, items[i].key, key_bytes) == 0) {
            return err_fail(ERR_MALFORMED, "duplicate dictionary key");
        }
    }
    return build_edge(items, 0, n, 0, key_bits, root);
}

err_t ts_dict(ton_slice *s, ton_cell **root) {
    ton_slice t = *s;
    bool present;
    TRY(ts_bit(&t, &present));
    *root = NULL;
    if (present) {
        TRY(ts_ref(&t, root));
    }
    *s = t;
    return ERR_OK;
}

err_t tb_dict(ton_builder *b, ton_cell *root) {
    if (!root) {
        return tb_bit(b, false);
    }
    if (b->nrefs >= TON_CELL_MAX_REFS) {
        return err_fail(ERR_TOO_LARGE, "builder has 4 refs");
    }
    TRY(tb_bit(b, true));
    return tb_ref(b, root);
}
