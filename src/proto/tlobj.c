#include "tlobj.h"

#include <stdlib.h>
#include <string.h>

size_t tlo_elem_size(const tlo_elem *e) {
    switch (e->kind) {
    case TLO_INT:
    case TLO_FLAGS:
        return sizeof(int32_t);
    case TLO_LONG:
        return sizeof(int64_t);
    case TLO_DOUBLE:
        return sizeof(double);
    case TLO_INT128:
        return 16;
    case TLO_INT256:
        return 32;
    case TLO_BYTES:
        return sizeof(tl_bytes);
    case TLO_BOOL:
        return sizeof(bool);
    case TLO_BARE:
        return e->bare->size;
    case TLO_BOXED:
        return e->boxed->size;
    case TLO_VECTOR:
        break;
    }
    return 0; /* vectors of vectors are not part of the schema subset (tlgen refuses them) */
}

/* Smallest wire encoding of one element: bounds a vector count against the bytes left. */
static size_t elem_min_wire(const tlo_elem *e) {
    switch (e->kind) {
    case TLO_INT:
    case TLO_FLAGS:
    case TLO_BOOL:
    case TLO_BYTES:
    case TLO_BOXED:
    case TLO_VECTOR:
        return 4;
    case TLO_LONG:
    case TLO_DOUBLE:
        return 8;
    case TLO_INT128:
        return 16;
    case TLO_INT256:
        return 32;
    case TLO_BARE:
        return e->bare->min_wire;
    }
    return 4;
}

static void *vec_items(const void *obj, const tlo_field *f) {
    void *p;
    memcpy(&p, (const uint8_t *)obj + f->off, sizeof(p));
    return p;
}

static uint32_t vec_count(const void *obj, const tlo_field *f) {
    uint32_t n;
    memcpy(&n, (const uint8_t *)obj + f->count_off, sizeof(n));
    return n;
}

static bool field_present(const tlo_desc *d, const tlo_field *f, const void *obj) {
    if (f->flags_field < 0) {
        return true;
    }
    uint32_t flags;
    memcpy(&flags, (const uint8_t *)obj + d->fields[f->flags_field].off, sizeof(flags));
    return (flags >> f->flag_bit) & 1u;
}

/* ---- encode ---- */

static err_t enc_elem(buf *b, const tlo_elem *e, const void *v) {
    switch (e->kind) {
    case TLO_INT:
    case TLO_FLAGS: {
        uint32_t x;
        memcpy(&x, v, sizeof(x));
        return tl_write_u32(b, x);
    }
    case TLO_LONG: {
        int64_t x;
        memcpy(&x, v, sizeof(x));
        return tl_write_long(b, x);
    }
    case TLO_DOUBLE: {
        double x;
        memcpy(&x, v, sizeof(x));
        return tl_write_double(b, x);
    }
    case TLO_INT128:
        return tl_write_int128(b, v);
    case TLO_INT256:
        return tl_write_int256(b, v);
    case TLO_BYTES: {
        tl_bytes s;
        memcpy(&s, v, sizeof(s));
        if (s.len > e->max) {
            return err_fail(ERR_TOO_LARGE, "string of %zu bytes, limit %zu", s.len, e->max);
        }
        return tl_write_bytes(b, s.p, s.len);
    }
    case TLO_BOOL: {
        bool x;
        memcpy(&x, v, sizeof(x));
        return tl_write_bool(b, x);
    }
    case TLO_BARE:
        return tlo_encode_bare(b, e->bare, v);
    case TLO_BOXED:
        return tlo_type_encode(b, e->boxed, v);
    case TLO_VECTOR:
        break;
    }
    return err_fail(ERR_INTERNAL, "nested vector");
}

static err_t enc_fields(buf *b, const tlo_desc *d, const void *obj) {
    for (size_t i = 0; i < d->nfields; i++) {
        const tlo_field *f = &d->fields[i];
        if (!field_present(d, f, obj)) {
            continue;
        }
        const uint8_t *v = (const uint8_t *)obj + f->off;
        if (f->t.kind != TLO_VECTOR) {
            TRY(enc_elem(b, &f->t, v));
            continue;
        }
        uint32_t n = vec_count(obj, f);
        if (n > f->t.max) {
            return err_fail(ERR_TOO_MANY, "%s.%s: %u items, limit %zu", d->name, f->name, n,
                            f->t.max);
        }
        const uint8_t *items = vec_items(obj, f);
        size_t sz = tlo_elem_size(&f->item);
        TRY(tl_write_vector_count(b, n));
        for (uint32_t k = 0; k < n; k++) {
            TRY(enc_elem(b, &f->item, items + (size_t)k * sz));
        }
    }
    return ERR_OK;
}

err_t tlo_encode_bare(buf *b, const tlo_desc *d, const void *obj) {
    size_t saved = b->len;
    err_t e = enc_fields(b, d, obj);
    if (e != ERR_OK) {
        b->len = saved;
    }
    return e;
}

err_t tlo_encode(buf *b, const tlo_desc *d, const void *obj) {
    size_t saved = b->len;
    err_t e = tl_write_u32(b, d->id);
    if (e == ERR_OK) {
        e = enc_fields(b, d, obj);
    }
    if (e != ERR_OK) {
        b->len = saved;
    }
    return e;
}

/* ---- decode ---- */

static err_t dec_elem(cur *c, const tlo_elem *e, void *v) {
    switch (e->kind) {
    case TLO_INT:
    case TLO_FLAGS: {
        uint32_t x;
        TRY(tl_read_u32(c, &x));
        memcpy(v, &x, sizeof(x));
        return ERR_OK;
    }
    case TLO_LONG: {
        int64_t x;
        TRY(tl_read_long(c, &x));
        memcpy(v, &x, sizeof(x));
        return ERR_OK;
    }
    case TLO_DOUBLE: {
        double x;
        TRY(tl_read_double(c, &x));
        memcpy(v, &x, sizeof(x));
        return ERR_OK;
    }
    case TLO_INT128:
        return tl_read_int128(c, v);
    case TLO_INT256:
        return tl_read_int256(c, v);
    case TLO_BYTES: {
        tl_bytes s;
        TRY(tl_read_bytes(c, e->max, &s));
        memcpy(v, &s, sizeof(s));
        return ERR_OK;
    }
    case TLO_BOOL: {
        bool x;
        TRY(tl_read_bool(c, &x));
        memcpy(v, &x, sizeof(x));
        return ERR_OK;
    }
    case TLO_BARE:
        return tlo_decode_bare(c, e->bare, v);
    case TLO_BOXED:
        return tlo_type_decode(c, e->boxed, v);
    case TLO_VECTOR:
        break;
    }
    return err_fail(ERR_INTERNAL, "nested vector");
}

static err_t dec_fields(cur *c, const tlo_desc *d, void *obj) {
    for (size_t i = 0; i < d->nfields; i++) {
        const tlo_field *f = &d->fields[i];
        if (!field_present(d, f, obj)) {
            continue;
        }
        uint8_t *v = (uint8_t *)obj + f->off;
        if (f->t.kind != TLO_VECTOR) {
            TRY(dec_elem(c, &f->t, v));
            continue;
        }
        uint32_t n;
        /* The count is checked against the limit and against the bytes left (each item takes
         * at least elem_min_wire bytes) before anything is allocated. */
        TRY(tl_read_vector_count(c, (uint32_t)f->t.max, elem_min_wire(&f->item), &n));
        if (n == 0) {
            continue;
        }
        size_t sz = tlo_elem_size(&f->item);
        uint8_t *items = calloc(n, sz);
        if (!items) {
            return err_fail(ERR_NOMEM, "%s.%s: %u items", d->name, f->name, n);
        }
        /* Store first so that tlo_free releases a partially decoded vector. */
        memcpy(v, &items, sizeof(items));
        memcpy((uint8_t *)obj + f->count_off, &n, sizeof(n));
        for (uint32_t k = 0; k < n; k++) {
            err_t e = dec_elem(c, &f->item, items + (size_t)k * sz);
            if (e != ERR_OK) {
                /* Only items [0, k) are complete; make the rest invisible to tlo_free. */
                memcpy((uint8_t *)obj + f->count_off, &k, sizeof(k));
                return e;
            }
        }
    }
    return ERR_OK;
}

err_t tlo_decode_bare(cur *c, const tlo_desc *d, void *obj) {
    size_t saved = c->pos;
    memset(obj, 0, d->size);
    err_t e = dec_fields(c, d, obj);
    if (e != ERR_OK) {
        tlo_free(d, obj);
        c->pos = saved;
    }
    return e;
}

err_t tlo_decode(cur *c, const tlo_desc *d, void *obj) {
    memset(obj, 0, d->size);
    TRY(tl_expect_id(c, d->id));
    err_t e = tlo_decode_bare(c, d, obj);
    if (e != ERR_OK) {
        c->pos -= 4;
    }
    return e;
}

/* ---- free / eq ---- */

static void free_elem(const tlo_elem *e, void *v) {
    if (e->kind == TLO_BARE) {
        tlo_free(e->bare, v);
    } else if (e->kind == TLO_BOXED) {
        tlo_type_free(e->boxed, v);
    }
}

static bool elem_owns_memory(const tlo_elem *e) {
    return e->kind == TLO_BARE || e->kind == TLO_BOXED;
}

void tlo_free(const tlo_desc *d, void *obj) {
    if (!obj) {
        return;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        const tlo_field *f = &d->fields[i];
        uint8_t *v = (uint8_t *)obj + f->off;
        if (f->t.kind != TLO_VECTOR) {
            free_elem(&f->t, v);
            continue;
        }
        uint8_t *items = vec_items(obj, f);
        uint32_t n = vec_count(obj, f);
        if (items && elem_owns_memory(&f->item)) {
            size_t sz = tlo_elem_size(&f->item);
            for (uint32_t k = 0; k < n; k++) {
                free_elem(&f->item, items + (size_t)k * sz);
            }
        }
        free(items);
        memset(v, 0, sizeof(void *));
        memset((uint8_t *)obj + f->count_off, 0, sizeof(uint32_t));
    }
}

static bool elem_eq(const tlo_elem *e, const void *a, const void *b) {
    switch (e->kind) {
    case TLO_BYTES: {
        tl_bytes x;
        tl_bytes y;
        memcpy(&x, a, sizeof(x));
        memcpy(&y, b, sizeof(y));
        return tl_bytes_eq(x, y);
    }
    case TLO_BOOL: {
        bool x;
        bool y;
        memcpy(&x, a, sizeof(x));
        memcpy(&y, b, sizeof(y));
        return x == y;
    }
    case TLO_BARE:
        return tlo_eq(e->bare, a, b);
    case TLO_BOXED:
        return tlo_type_eq(e->boxed, a, b);
    case TLO_VECTOR:
        return false;
    default:
        /* Integers and doubles compare bitwise: a NaN round-trips to the same bits. */
        return memcmp(a, b, tlo_elem_size(e)) == 0;
    }
}

bool tlo_eq(const tlo_desc *d, const void *a, const void *b) {
    for (size_t i = 0; i < d->nfields; i++) {
        const tlo_field *f = &d->fields[i];
        bool pa = field_present(d, f, a);
        if (pa != field_present(d, f, b)) {
            return false;
        }
        if (!pa) {
            continue;
        }
        const uint8_t *va = (const uint8_t *)a + f->off;
        const uint8_t *vb = (const uint8_t *)b + f->off;
        if (f->t.kind != TLO_VECTOR) {
            if (!elem_eq(&f->t, va, vb)) {
                return false;
            }
            continue;
        }
        uint32_t n = vec_count(a, f);
        if (n != vec_count(b, f)) {
            return false;
        }
        const uint8_t *ia = vec_items(a, f);
        const uint8_t *ib = vec_items(b, f);
        size_t sz = tlo_elem_size(&f->item);
        for (uint32_t k = 0; k < n; k++) {
            if (!elem_eq(&f->item, ia + (size_t)k * sz, ib + (size_t)k * sz)) {
                return false;
            }
        }
    }
    return true;
}

/* ---- polymorphic types ---- */

const tlo_desc *tlo_type_ctor(const tlo_type *t, uint32_t id) {
    for (size_t i = 0; i < t->nctors; i++) {
        if (t->ctors[i]->id == id) {
            return t->ctors[i];
        }
    }
    return NULL;
}

static uint32_t type_id(const void *obj) {
    uint32_t id;
    memcpy(&id, obj, sizeof(id));
    return id;
}

err_t tlo_type_encode(buf *b, const tlo_type *t, const void *obj) {
    const tlo_desc *d = tlo_type_ctor(t, type_id(obj));
    if (!d) {
        return err_fail(ERR_BAD_CONSTRUCTOR, "0x%08x is not a %s", type_id(obj), t->name);
    }
    return tlo_encode(b, d, (const uint8_t *)obj + t->union_off);
}

err_t tlo_type_decode(cur *c, const tlo_type *t, void *obj) {
    memset(obj, 0, t->size);
    uint32_t id;
    TRY(tl_read_u32(c, &id));
    c->pos -= 4;
    const tlo_desc *d = tlo_type_ctor(t, id);
    if (!d) {
        return err_fail(ERR_BAD_CONSTRUCTOR, "0x%08x is not a %s", id, t->name);
    }
    TRY(tlo_decode(c, d, (uint8_t *)obj + t->union_off));
    memcpy(obj, &id, sizeof(id));
    return ERR_OK;
}

void tlo_type_free(const tlo_type *t, void *obj) {
    if (!obj) {
        return;
    }
    const tlo_desc *d = tlo_type_ctor(t, type_id(obj));
    if (d) {
        tlo_free(d, (uint8_t *)obj + t->union_off);
    }
}

bool tlo_type_eq(const tlo_type *t, const void *a, const void *b) {
    if (type_id(a) != type_id(b)) {
        return false;
    }
    const tlo_desc *d = tlo_type_ctor(t, type_id(a));
    return d && tlo_eq(d, (const uint8_t *)a + t->union_off, (const uint8_t *)b + t->union_off);
}
