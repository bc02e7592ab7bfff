#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct gguf {
    const uint8_t *base;
    size_t len;
    void *map;
    size_t map_len;
    uint32_t version;
    uint32_t alignment;
    gguf_kv *kv;
    size_t n_kv;
    gguf_tensor *t;
    size_t n_t;
    size_t data_off;
};

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */

static const struct {
    uint32_t type;
    const char *name;
    uint32_t block;
    uint32_t bytes;
} TYPES[] = {
    /* ggml.c type_traits: blck_size and type_size of each format */
    {GGML_T_F32, "F32", 1, 4},       {GGML_T_F16, "F16", 1, 2},
    {GGML_T_Q4_0, "Q4_0", 32, 18},   {GGML_T_Q4_1, "Q4_1", 32, 20},
    {GGML_T_Q5_0, "Q5_0", 32, 22},   {GGML_T_Q5_1, "Q5_1", 32, 24},
    {GGML_T_Q8_0, "Q8_0", 32, 34},   {GGML_T_Q8_1, "Q8_1", 32, 36},
    {GGML_T_Q2_K, "Q2_K", 256, 84},  {GGML_T_Q3_K, "Q3_K", 256, 110},
    {GGML_T_Q4_K, "Q4_K", 256, 144}, {GGML_T_Q5_K, "Q5_K", 256, 176},
    {GGML_T_Q6_K, "Q6_K", 256, 210}, {GGML_T_Q8_K, "Q8_K", 256, 292},
    {GGML_T_I8, "I8", 1, 1},         {GGML_T_I16, "I16", 1, 2},
    {GGML_T_I32, "I32", 1, 4},       {GGML_T_I64, "I64", 1, 8},
    {GGML_T_F64, "F64", 1, 8},       {GGML_T_BF16, "BF16", 1, 2},
};

bool ggml_type_info(uint32_t type, const char **name, uint32_t *block, uint32_t *block_bytes) {
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
        if (TYPES[i].type == type) {
            if (name) {
                *name = TYPES[i].name;
            }
            if (block) {
                *block = TYPES[i].block;
            }
            if (block_bytes) {
                *block_bytes = TYPES[i].bytes;
            }
            return true;
        }
    }
    return false;
}

uint64_t ggml_row_bytes(uint32_t type, uint64_t n) {
    uint32_t blk = 1;
    uint32_t bytes = 0;
    if (!ggml_type_info(type, NULL, &blk, &bytes)) {
        return 0;
    }
    return n / blk * bytes;
}

/* Size in bytes of a fixed-size metadata scalar; 0 for strings and arrays or unknown types. */
static size_t scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_T_U8:
    case GGUF_T_I8:
    case GGUF_T_BOOL:
        return 1;
    case GGUF_T_U16:
    case GGUF_T_I16:
        return 2;
    case GGUF_T_U32:
    case GGUF_T_I32:
    case GGUF_T_F32:
        return 4;
    case GGUF_T_U64:
    case GGUF_T_I64:
    case GGUF_T_F64:
        return 8;
    default:
        return 0;
    }
}

static err_t read_str(cur *c, uint64_t max, const char *what, gguf_str *out) {
    size_t start = c->pos;
    uint64_t n;
    TRY(cur_u64le(c, &n));
    if (n > max) {
        c->pos = start;
        return err_fail(ERR_TOO_LARGE, "%s of %llu bytes at offset %zu (max %llu)", what,
                        (unsigned long long)n, start, (unsigned long long)max);
    }
    const uint8_t *p;
    err_t e = cur_take(c, (size_t)n, &p);
    if (e != ERR_OK) {
        c->pos = start;
        return err_fail(e, "%s of %llu bytes at offset %zu runs past the end", what,
                        (unsigned long long)n, start);
    }
    out->p = (const char *)p;
    out->len = (size_t)n;
    return ERR_OK;
}

err_t gguf_next_str(cur *c, gguf_str *out) {
    return read_str(c, GGUF_MAX_STRING_LEN, "string", out);
}

bool gguf_str_eq(gguf_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.p, z, n) == 0;
}

static err_t read_scalar(cur *c, uint32_t t, gguf_kv *kv) {
    switch (t) {
    case GGUF_T_U8: {
        uint8_t v;
        TRY(cur_u8(c, &v));
        kv->v.u = v;
        return ERR_OK;
    }
    case GGUF_T_I8: {
        uint8_t v;
        TRY(cur_u8(c, &v));
        kv->v.i = (int8_t)v;
        return ERR_OK;
    }
    case GGUF_T_BOOL: {
        uint8_t v;
        TRY(cur_u8(c, &v));
        if (v > 1) {
            return err_fail(ERR_MALFORMED, "bool value %u at offset %zu", v, c->pos - 1);
        }
        kv->v.u = v;
        return ERR_OK;
    }
    case GGUF_T_U16: {
        uint16_t v;
        TRY(cur_u16le(c, &v));
        kv->v.u = v;
        return ERR_OK;
    }
    case GGUF_T_I16: {
        uint16_t v;
        TRY(cur_u16le(c, &v));
        kv->v.i = (int16_t)v;
        return ERR_OK;
    }
    case GGUF_T_U32: {
        uint32_t v;
        TRY(cur_u32le(c, &v));
        kv->v.u = v;
        return ERR_OK;
    }
    case GGUF_T_I32: {
        int32_t v;
        TRY(cur_i32le(c, &v));
        kv->v.i = v;
        return ERR_OK;
    }
    case GGUF_T_F32: {
        uint32_t v;
        TRY(cur_u32le(c, &v));
        float f;
        memcpy(&f, &v, 4);
        kv->v.f = f;
        return ERR_OK;
    }
    case GGUF_T_U64:
        return cur_u64le(c, &kv->v.u);
    case GGUF_T_I64:
        return cur_i64le(c, &kv->v.i);
    case GGUF_T_F64: {
        uint64_t v;
        TRY(cur_u64le(c, &v));
        memcpy(&kv->v.f, &v, 8);
        return ERR_OK;
    }
    default:
        return err_fail(ERR_INTERNAL, "not a scalar type %u", t);
    }
}

static err_t read_value(cur *c, gguf_kv *kv) {
    size_t at = c->pos;
    if (kv->type == GGUF_T_STRING) {
        return read_str(c, GGUF_MAX_STRING_LEN, "string value", &kv->str);
    }
    if (scalar_size(kv->type)) {
        return read_scalar(c, kv->type, kv);
    }
    if (kv->type != GGUF_T_ARRAY) {
        return err_fail(ERR_MALFORMED, "unknown metadata value type %u at offset %zu", kv->type,
                        at);
    }
    TRY(cur_u32le(c, &kv->arr_type));
    TRY(cur_u64le(c, &kv->arr_len));
    if (kv->arr_len > GGUF_MAX_ARRAY_LEN) {
        return err_fail(ERR_TOO_MANY, "array of %llu elements at offset %zu (max %u)",
                        (unsigned long long)kv->arr_len, at, GGUF_MAX_ARRAY_LEN);
    }
    size_t start = c->pos;
    kv->arr_data = cur_here(c);
    size_t es = scalar_size(kv->arr_type);
    if (es) {
        /* arr_len <= 2^26 and es <= 8: no overflow */
        size_t n = (size_t)kv->arr_len * es;
        if (n > cur_left(c)) {
            return err_fail(ERR_TRUNCATED,
                            "array of %llu x %zu bytes at offset %zu runs past the end",
                            (unsigned long long)kv->arr_len, es, at);
        }
        if (kv->arr_type == GGUF_T_BOOL) {
            for (size_t i = 0; i < n; i++) {
                if (kv->arr_data[i] > 1) {
                    return err_fail(ERR_MALFORMED, "bool array element %zu is %u", i,
                                    kv->arr_data[i]);
                }
            }
        }
        TRY(cur_skip(c, n));
    } else if (kv->arr_type == GGUF_T_STRING) {
        for (uint64_t i = 0; i < kv->arr_len; i++) {
            gguf_str s;
            TRY(read_str(c, GGUF_MAX_STRING_LEN, "array string", &s));
        }
    } else if (kv->arr_type == GGUF_T_ARRAY) {
        return err_fail(ERR_MALFORMED, "nested array at offset %zu is not supported", at);
    } else {
        return err_fail(ERR_MALFORMED, "unknown array element type %u at offset %zu", kv->arr_type,
                        at);
    }
    kv->arr_bytes = c->pos - start;
    return ERR_OK;
}

static int cmp_str(const void *a, const void *b) {
    const gguf_str *x = *(const gguf_str *const *)a;
    const gguf_str *y = *(const gguf_str *const *)b;
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    return memcmp(x->p, y->p, x->len);
}

/* Rejects duplicate keys or tensor names: a second definition would shadow the first one
 * differently in different readers. `strs` points at the gguf_str field of each element. */
static err_t check_unique(const uint8_t *elems, size_t n, size_t stride, const char *what) {
    if (n < 2) {
        return ERR_OK;
    }
    const gguf_str **v = malloc(n * sizeof(*v));
    if (!v) {
        return err_fail(ERR_NOMEM, "uniqueness check");
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = (const gguf_str *)(const void *)(elems + i * stride);
    }
    qsort(v, n, sizeof(*v), cmp_str);
    err_t e = ERR_OK;
    for (size_t i = 1; i < n; i++) {
        if (cmp_str(&v[i - 1], &v[i]) == 0) {
            e = err_fail(ERR_MALFORMED, "duplicate %s '%.*s'", what, (int)v[i]->len, v[i]->p);
            break;
        }
    }
    free(v);
    return e;
}

static err_t parse_tensor(cur *c, gguf_tensor *t) {
    size_t at = c->pos;
    TRY(read_str(c, GGUF_MAX_NAME_LEN, "tensor name", &t->name));
    if (t->name.len == 0) {
        return err_fail(ERR_MALFORMED, "empty tensor name at offset %zu", at);
    }
    TRY(cur_u32le(c, &t->n_dims));
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS) {
        return err_fail(ERR_MALFORMED, "tensor '%.*s' has %u dimensions (1 to %u allowed)",
                        (int)t->name.len, t->name.p, t->n_dims, GGUF_MAX_DIMS);
    }
    uint64_t n = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
    }
    for (uint32_t d = 0; d < t->n_dims; d++) {
        TRY(cur_u64le(c, &t->ne[d]));
        if (t->ne[d] == 0 || t->ne[d] > GGUF_MAX_ELEMENTS / n) {
            return err_fail(ERR_TOO_LARGE,
                            "tensor '%.*s' dimension %u is %llu (at most 2^40 elements)",
                            (int)t->name.len, t->name.p, d, (unsigned long long)t->ne[d]);
        }
        n *= t->ne[d];
    }
    t->n_elements = n;
    TRY(cur_u32le(c, &t->type));
    uint32_t blk;
    uint32_t bytes;
    const char *tname;
    if (!ggml_type_info(t->type, &tname, &blk, &bytes)) {
        return err_fail(ERR_MALFORMED, "tensor '%.*s' has unknown type %u", (int)t->name.len,
                        t->name.p, t->type);
    }
    if (t->ne[0] % blk != 0) {
        return err_fail(ERR_MALFORMED,
                        "tensor '%.*s' row of %llu is not a multiple of the %s block %u",
                        (int)t->name.len, t->name.p, (unsigned long long)t->ne[0], tname, blk);
    }
    t->n_bytes = n / blk * bytes;
    TRY(cur_u64le(c, &t->offset));
    return ERR_OK;
}

static err_t parse(gguf *g) {
    cur c;
    cur_init(&c, g->base, g->len);
    uint32_t magic;
    TRY(cur_u32le(&c, &magic));
    if (magic != GGUF_MAGIC) {
        return err_fail(ERR_MALFORMED, "not a GGUF file (magic %08x)", magic);
    }
    TRY(cur_u32le(&c, &g->version));
    /* Version 1 used 32-bit counts; 2 and 3 share this layout (3 only adds big-endian files,
     * which announce themselves with a byte-swapped version and are rejected here). */
    if (g->version == 0x02000000u || g->version == 0x03000000u) {
        return err_fail(ERR_MALFORMED, "big-endian GGUF files are not supported");
    }
    if (g->version != 2 && g->version != 3) {
        return err_fail(ERR_MALFORMED, "unsupported GGUF version %u (2 or 3 expected)", g->version);
    }
    uint64_t n_t;
    uint64_t n_kv;
    TRY(cur_u64le(&c, &n_t));
    TRY(cur_u64le(&c, &n_kv));
    if (n_t > GGUF_MAX_TENSORS) {
        return err_fail(ERR_TOO_MANY, "%llu tensors (max %u)", (unsigned long long)n_t,
                        GGUF_MAX_TENSORS);
    }
    if (n_kv > GGUF_MAX_KV) {
        return err_fail(ERR_TOO_MANY, "%llu metadata pairs (max %u)", (unsigned long long)n_kv,
                        GGUF_MAX_KV);
    }
    /* Each pair takes at least 13 bytes and each tensor info 29: a count the file cannot
     * hold never sizes an allocation. */
    if (n_kv * 13 + n_t * 29 > cur_left(&c)) {
        return err_fail(ERR_TRUNCATED, "%llu pairs and %llu tensors cannot fit in %zu bytes",
                        (unsigned long long)n_kv, (unsigned long long)n_t, cur_left(&c));
    }
    g->kv = calloc(n_kv ? n_kv : 1, sizeof(*g->kv));
    g->t = calloc(n_t ? n_t : 1, sizeof(*g->t));
    if (!g->kv || !g->t) {
        return err_fail(ERR_NOMEM, "gguf tables");
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        size_t start = c.pos;
        kv->raw = cur_here(&c);
        TRY(read_str(&c, GGUF_MAX_KEY_LEN, "key", &kv->key));
        if (kv->key.len == 0) {
            return err_fail(ERR_MALFORMED, "empty key at offset %zu", start);
        }
        TRY(cur_u32le(&c, &kv->type));
        err_t e = read_value(&c, kv);
        if (e != ERR_OK) {
            char detail[200];
            snprintf(detail, sizeof(detail), "%s", err_detail());
            return err_fail(e, "key '%.*s': %s", (int)(kv->key.len > 80 ? 80 : kv->key.len),
                            kv->key.p, detail);
        }
        kv->raw_len = c.pos - start;
        g->n_kv++;
        if (gguf_str_eq(kv->key, "general.alignment")) {
            /* gguf.md: general.alignment is a uint32, a non-zero power of two */
            if (kv->type != GGUF_T_U32 || kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)) != 0 ||
                kv->v.u > GGUF_MAX_ALIGNMENT) {
                return err_fail(ERR_MALFORMED, "general.alignment must be a power-of-two u32 <= %u",
                                GGUF_MAX_ALIGNMENT);
            }
            g->alignment = (uint32_t)kv->v.u;
        }
    }
    TRY(check_unique((const uint8_t *)g->kv, g->n_kv, sizeof(gguf_kv), "key"));
    for (uint64_t i = 0; i < n_t; i++) {
        TRY(parse_tensor(&c, &g->t[i]));
        g->n_t++;
    }
    TRY(check_unique((const uint8_t *)g->t, g->n_t, sizeof(gguf_tensor), "tensor"));
    size_t pos = c.pos;
    size_t pad = (g->alignment - pos % g->alignment) % g->alignment;
    if (pad > g->len - pos) {
        if (g->n_t > 0) {
            return err_fail(ERR_TRUNCATED, "data section at offset %zu is past the end (%zu)",
                            pos + pad, g->len);
        }
        pad = g->len - pos;
    }
    g->data_off = pos + pad;
    cur data;
    cur_init(&data, g->base + g->data_off, g->len - g->data_off);
    uint64_t end = 0;
    for (size_t i = 0; i < g->n_t; i++) {
        gguf_tensor *t = &g->t[i];
        if (t->offset % g->alignment != 0) {
            return err_fail(ERR_MALFORMED, "tensor '%.*s' offset %llu is not aligned to %u",
                            (int)t->name.len, t->name.p, (unsigned long long)t->offset,
                            g->alignment);
        }
        /* ggml lays tensors out in info order; overlapping tensors would alias weights. */
        if (t->offset < end) {
            return err_fail(ERR_MALFORMED, "tensor '%.*s' offset %llu overlaps the previous tensor",
                            (int)t->name.len, t->name.p, (unsigned long long)t->offset);
        }
        cur tc = data;
        const uint8_t *p;
        if (t->offset > cur_left(&tc) || cur_skip(&tc, (size_t)t->offset) != ERR_OK ||
            t->n_bytes > cur_left(&tc) || cur_take(&tc, (size_t)t->n_bytes, &p) != ERR_OK) {
            return err_fail(ERR_TRUNCATED,
                            "tensor '%.*s' data [%llu, +%llu) is outside the %zu-byte data section",
                            (int)t->name.len, t->name.p, (unsigned long long)t->offset,
                            (unsigned long long)t->n_bytes, g->len - g->data_off);
        }
        t->data = p;
        end = t->offset + t->n_bytes;
    }
    return ERR_OK;
}

void gguf_free(gguf *g) {
    if (!g) {
        return;
    }
    if (g->map) {
        munmap(g->map, g->map_len);
    }
    free(g->kv);
    free(g->t);
    free(g);
}

err_t gguf_parse(const void *data, size_t len, gguf **out) {
    *out = NULL;
    gguf *g = calloc(1, sizeof(*g));
    if (!g) {
        return err_fail(ERR_NOMEM, "gguf");
    }
    g->base = data;
    g->len = data ? len : 0;
    err_t e = parse(g);
    if (e != ERR_OK) {
        gguf_free(g);
        return e;
    }
    *out = g;
    return ERR_OK;
}

err_t gguf_open(const char *path, gguf **out) {
    *out = NULL;
    err_t e = ERR_OK;
    void *map = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_fail(errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        e = err_fail(ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    len = (size_t)st.st_size;
    if (len == 0) {
        e = err_fail(ERR_TRUNCATED, "%s: empty file", path);
        goto out;
    }
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        map = NULL;
        e = err_fail(ERR_IO, "%s: mmap: %s", path, strerror(errno));
        goto out;
    }
    gguf *g;
    e = gguf_parse(map, len, &g);
    if (e != ERR_OK) {
        char detail[256];
        snprintf(detail, sizeof(detail), "%s", err_detail());
        e = err_fail(e, "%s: %s", path, detail);
        goto out;
    }
    g->map = map;
    g->map_len = len;
    map = NULL;
    *out = g;
out:
    if (map) {
        munmap(map, len);
    }
    close(fd);
    return e;
}

uint32_t gguf_version(const gguf *g) {
    return g->version;
}
uint32_t gguf_alignment(const gguf *g) {
    return g->alignment;
}
size_t gguf_kv_count(const gguf *g) {
    return g->n_kv;
}
const gguf_kv *gguf_kv_at(const gguf *g, size_t i) {
    return i < g->n_kv ? &g->kv[i] : NULL;
}
size_t gguf_tensor_count(const gguf *g) {
    return g->n_t;
}
const gguf_tensor *gguf_tensor_at(const gguf *g, size_t i) {
    return i < g->n_t ? &g->t[i] : NULL;
}
size_t gguf_data_offset(const gguf *g) {
    return g->data_off;
}

const gguf_kv *gguf_find(const gguf *g, const char *key) {
    for (size_t i = 0; i < g->n_kv; i++) {
        if (gguf_str_eq(g->kv[i].key, key)) {
            return &g->kv[i];
        }
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name) {
    for (size_t i = 0; i < g->n_t; i++) {
        if (gguf_str_eq(g->t[i].name, name)) {
            return &g->t[i];
        }
    }
    return NULL;
}

static err_t find(const gguf *g, const char *key, const gguf_kv **out) {
    *out = gguf_find(g, key);
    if (!*out) {
        return err_fail(ERR_NOT_FOUND, "metadata key '%s' is missing", key);
    }
    return ERR_OK;
}

err_t gguf_get_u32(const gguf *g, const char *key, uint32_t *out) {
    const gguf_kv *kv;
    TRY(find(g, key, &kv));
    switch (kv->type) {
    case GGUF_T_U8:
    case GGUF_T_U16:
    case GGUF_T_U32:
    case GGUF_T_U64:
        if (kv->v.u > UINT32_MAX) {
            break;
        }
        *out = (uint32_t)kv->v.u;
        return ERR_OK;
    case GGUF_T_I8:
    case GGUF_T_I16:
    case GGUF_T_I32:
    case GGUF_T_I64:
        if (kv->v.i < 0 || kv->v.i > (int64_t)UINT32_MAX) {
            break;
        }
        *out = (uint32_t)kv->v.i;
        return ERR_OK;
    default:
        break;
    }
    return err_fail(ERR_MALFORMED, "metadata key '%s' is not an unsigned 32-bit integer", key);
}

err_t gguf_get_f32(const gguf *g, const char *key, float *out) {
    const gguf_kv *kv;
    TRY(find(g, key, &kv));
    if (kv->type != GGUF_T_F32 && kv->type != GGUF_T_F64) {
        return err_fail(ERR_MALFORMED, "metadata key '%s' is not a float", key);
    }
    *out = (float)kv->v.f;
    return ERR_OK;
}

err_t gguf_get_bool(const gguf *g, const char *key, bool *out) {
    const gguf_kv *kv;
    TRY(find(g, key, &kv));
    if (kv->type != GGUF_T_BOOL) {
        return err_fail(ERR_MALFORMED, "metadata key '%s' is not a bool", key);
    }
    *out = kv->v.u != 0;
    return ERR_OK;
}

err_t gguf_get_str(const gguf *g, const char *key, gguf_str *out) {
    const gguf_kv *kv;
    TRY(find(g, key, &kv));
    if (kv->type != GGUF_T_STRING) {
        return err_fail(ERR_MALFORMED, "metadata key '%s' is not a string", key);
    }
    *out = kv->str;
    return ERR_OK;
}

err_t gguf_get_arr(const gguf *g, const char *key, uint32_t arr_type, const gguf_kv **out) {
    const gguf_kv *kv;
    TRY(find(g, key, &kv));
    if (kv->type != GGUF_T_ARRAY || kv->arr_type != arr_type) {
        return err_fail(ERR_MALFORMED, "metadata key '%s' is not an array of type %u", key,
                        arr_type);
    }
    *out = kv;
    return ERR_OK;
}

err_t gguf_write_str(buf *b, const char *s, size_t len) {
    TRY(buf_u64le(b, len));
    return buf_append(b, s, len);
}

err_t gguf_write_kv_u32(buf *b, const char *key, uint32_t v) {
    TRY(gguf_write_str(b, key, strlen(key)));
    TRY(buf_u32le(b, GGUF_T_U32));
    return buf_u32le(b, v);
}

err_t gguf_write_header(buf *b, uint64_t n_kv, const buf *kvs, const gguf_wtensor *ts,
                        size_t n_tensors, uint32_t alignment, uint64_t *tensor_offsets) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        return err_fail(ERR_INTERNAL, "alignment %u", alignment);
    }
    TRY(buf_u32le(b, GGUF_MAGIC));
    TRY(buf_u32le(b, 3));
    TRY(buf_u64le(b, n_tensors));
    TRY(buf_u64le(b, n_kv));
    TRY(buf_append(b, kvs->data, kvs->len));
    uint64_t off = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        const gguf_wtensor *t = &ts[i];
        TRY(gguf_write_str(b, t->name, strlen(t->name)));
        TRY(buf_u32le(b, t->n_dims));
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            TRY(buf_u64le(b, t->ne[d]));
            n *= t->ne[d];
        }
        TRY(buf_u32le(b, t->type));
        TRY(buf_u64le(b, off));
        tensor_offsets[i] = off;
        uint64_t bytes = ggml_row_bytes(t->type, n);
        off += bytes;
        off = (off + alignment - 1) / alignment * alignment;
    }
    size_t pad = (alignment - b->len % alignment) % alignment;
    return buf_zeros(b, pad);
}
